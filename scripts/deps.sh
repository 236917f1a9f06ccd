#!/usr/bin/env bash
# Installs what building, running and testing WorkLink needs on Debian 12 (bookworm).
# One list for the quickstart, the tests and CI.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libssl-dev libuv1-dev libnghttp2-dev libjansson-dev libhiredis-dev libpcre2-dev
  libxml2-dev libxmlsec1-dev xmlsec1 zlib1g-dev libbrotli-dev libcmocka-dev
  redis-server openssl curl nghttp2-client awscli python3 python3-boto3 python3-redis
  python3-cryptography python3-pysaml2 wrk nginx-light haproxy chromium
)
# Node.js + npm for the console's browser test (playwright-core from the npm registry). Some
# machines ship npm inside a nodejs package from elsewhere: install Debian's only when missing.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
