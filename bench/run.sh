#!/usr/bin/env bash
# The benchmark in one command: the gateway side by side with nginx and HAProxy.
#   bench/run.sh [--quick] [--json FILE] [--markdown FILE] [other bench.py options]
# Installs what it needs from Debian (wrk, h2load from nghttp2-client, nginx, haproxy,
# redis-server, boto3), builds a Release tree in build-bench/ (override: BENCH_BUILD_DIR), then
# runs bench/bench.py. Needs root: the bench domain is added to /etc/hosts for the run (wrk takes
# the TLS server name from the URL) and removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD=${BENCH_BUILD_DIR:-$SRC/build-bench}

PKGS=(wrk nghttp2-client nginx-light haproxy redis-server redis-tools openssl curl python3
      python3-boto3 cmake build-essential pkg-config libssl-dev libuv1-dev libnghttp2-dev
      libjansson-dev libhiredis-dev libpcre2-dev libxml2-dev libxmlsec1-dev zlib1g-dev
      libcmocka-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  # -O2 turns on GCC's flow-based warnings (format-truncation, stringop-overread, ...) that the
  # -O0 sanitizer builds never see; keep them visible but not fatal for the benchmark build.
  NOERR="-Wno-error=format-truncation -Wno-error=stringop-truncation -Wno-error=stringop-overread"
  NOERR="$NOERR -Wno-error=stringop-overflow -Wno-error=array-bounds -Wno-error=maybe-uninitialized"
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$NOERR" >/dev/null
  # The gateway may not build yet while it is being written: measure the peers anyway.
  cmake --build "$BUILD" -j"$(nproc)" --target worklink-control >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target worklink-gateway >/dev/null 2>&1 ||
    echo "bench/run.sh: worklink-gateway does not build; the run measures nginx and HAProxy only" >&2
fi

if [ "$(id -u)" -ne 0 ]; then
  exec sudo /usr/bin/python3 "$SRC/bench/bench.py" --build-dir "$BUILD" "$@"
fi
exec /usr/bin/python3 "$SRC/bench/bench.py" --build-dir "$BUILD" "$@"
