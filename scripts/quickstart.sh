#!/usr/bin/env bash
# Sets up and runs WorkLink on one machine with a demo fleet:
#   1. installs the Debian packages (scripts/deps.sh) and builds (Release) into ./build
#   2. starts a private redis-server (unless WL_REDIS_URL is set) with its data in .worklink-demo/
#   3. starts worklink-control on 127.0.0.1:${WL_CONTROL_PORT:-8080} with a generated master key
#      and admin credentials, and writes .worklink-demo/aws.env for the AWS CLI
#   4. creates the demo fleet "demo" with the AWS CLI: a certificate for wiki.demo.internal
#      imported through the ACM API, the domain associated, a demo internal site, and a
#      worklink-gateway for the fleet on 127.0.0.1:${WL_GATEWAY_PORT:-8443}
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=${WL_DEMO_DIR:-$ROOT/.worklink-demo}
CONTROL_PORT=${WL_CONTROL_PORT:-8080}
GATEWAY_PORT=${WL_GATEWAY_PORT:-8443}
ADMIN_PORT=${WL_GATEWAY_ADMIN_PORT:-9101}
ORIGIN_PORT=${WL_ORIGIN_PORT:-8081}
REDIS_PORT=${WL_REDIS_PORT:-6390}
AWS=/usr/bin/aws
PY=/usr/bin/python3

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target worklink-control worklink-gateway

mkdir -p "$DEMO"
chmod 700 "$DEMO"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# wait_ready FILE: waits until the program writing FILE (its stdout) printed "ready"
wait_ready() {
  for _ in $(seq 1 100); do grep -qx ready "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "not ready: $1" >&2; cat "${1%.out}.log" >&2 || true; exit 1
}

[ -f "$DEMO/master.key" ] || { openssl rand -hex 32 >"$DEMO/master.key"; chmod 600 "$DEMO/master.key"; }
if [ ! -f "$DEMO/credentials" ]; then
  AK="AKIA$(openssl rand -hex 8 | tr a-f A-F)"
  SK="$(openssl rand -base64 30 | tr -d '/+=' | head -c 40)"
  cat >"$DEMO/credentials" <<CREDS
[admin]
aws_access_key_id = $AK
aws_secret_access_key = $SK
account_id = 123456789012
policy = full
CREDS
  chmod 600 "$DEMO/credentials"
fi
AK=$(awk -F' = ' '/aws_access_key_id/{print $2; exit}' "$DEMO/credentials")
SK=$(awk -F' = ' '/aws_secret_access_key/{print $2; exit}' "$DEMO/credentials")
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" >"$DEMO/aws-credentials"
printf '[default]\nregion = us-east-1\noutput = json\n' >"$DEMO/aws-config"
cat >"$DEMO/aws.env" <<ENV
export AWS_SHARED_CREDENTIALS_FILE=$DEMO/aws-credentials
export AWS_CONFIG_FILE=$DEMO/aws-config
export WL_ENDPOINT=http://127.0.0.1:$CONTROL_PORT
ENV
# shellcheck disable=SC1091
source "$DEMO/aws.env"

if [ -z "${WL_REDIS_URL:-}" ]; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DEMO" --appendonly yes \
    --save "" >"$DEMO/redis.log" 2>&1 &
  pids+=($!)
  WL_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

build/control/worklink-control --listen 127.0.0.1:"$CONTROL_PORT" --redis "$WL_REDIS_URL" \
  --credentials "$DEMO/credentials" --key-file "$DEMO/master.key" \
  --gateway-url-base "https://wiki.demo.internal:$GATEWAY_PORT/_wl/%s" \
  >"$DEMO/control.out" 2>"$DEMO/control.log" &
pids+=($!)
wait_ready "$DEMO/control.out"
EP="--endpoint-url $WL_ENDPOINT"
FLEET_ARN=arn:aws:worklink::123456789012:fleet/demo

# demo certificates: a CA, and a certificate for the internal domain
if [ ! -f "$DEMO/wiki.crt" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$DEMO/ca.key"
  openssl req -x509 -new -key "$DEMO/ca.key" -out "$DEMO/ca.crt" -days 365 -subj "/CN=WorkLink demo CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out "$DEMO/wiki.key"
  openssl req -new -key "$DEMO/wiki.key" -out "$DEMO/wiki.csr" -subj "/CN=wiki.demo.internal" 2>/dev/null
  printf 'subjectAltName=DNS:wiki.demo.internal\nextendedKeyUsage=serverAuth\n' >"$DEMO/wiki.ext"
  openssl x509 -req -in "$DEMO/wiki.csr" -CA "$DEMO/ca.crt" -CAkey "$DEMO/ca.key" -CAcreateserial \
    -out "$DEMO/wiki.crt" -days 365 -extfile "$DEMO/wiki.ext" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$DEMO/wiki.key" -out "$DEMO/wiki.pk8"
fi

if ! $AWS worklink describe-fleet-metadata $EP --fleet-arn $FLEET_ARN >/dev/null 2>&1; then
  $AWS worklink create-fleet $EP --fleet-name demo --display-name "WorkLink demo" >/dev/null
  CERT_ARN=$($AWS acm import-certificate $EP --certificate "fileb://$DEMO/wiki.crt" \
    --private-key "fileb://$DEMO/wiki.pk8" --query CertificateArn --output text)
  $AWS worklink associate-domain $EP --fleet-arn $FLEET_ARN --domain-name wiki.demo.internal \
    --acm-certificate-arn "$CERT_ARN" --display-name "Demo wiki"
fi
for _ in $(seq 1 50); do
  st=$($AWS worklink describe-fleet-metadata $EP --fleet-arn $FLEET_ARN --query FleetStatus --output text)
  [ "$st" = ACTIVE ] && break; sleep 0.2
done

# the demo internal site
mkdir -p "$DEMO/site"
echo '<!doctype html><title>Demo wiki</title><h1>Internal wiki</h1><a href="https://wiki.demo.internal/page">a page</a>' >"$DEMO/site/index.html"
$PY -m http.server "$ORIGIN_PORT" --bind 127.0.0.1 --directory "$DEMO/site" >"$DEMO/origin.log" 2>&1 &
pids+=($!)

build/gateway/worklink-gateway --fleet demo --listen 127.0.0.1:"$GATEWAY_PORT" \
  --admin-listen 127.0.0.1:"$ADMIN_PORT" --redis "$WL_REDIS_URL" --key-file "$DEMO/master.key" \
  --origin "wiki.demo.internal=http://127.0.0.1:$ORIGIN_PORT" \
  >"$DEMO/gateway.out" 2>"$DEMO/gateway.log" &
pids+=($!)
wait_ready "$DEMO/gateway.out"

TOKEN=$($PY scripts/demo-session.py "$WL_REDIS_URL" demo demo-user)

cat <<MSG

WorkLink is running (demo fleet "demo"):
  admin API   $WL_ENDPOINT          (source $DEMO/aws.env, then: $AWS worklink list-fleets --endpoint-url \$WL_ENDPOINT)
  gateway     https://wiki.demo.internal:$GATEWAY_PORT
              try: curl --resolve wiki.demo.internal:$GATEWAY_PORT:127.0.0.1 --cacert $DEMO/ca.crt \\
                     -H "Authorization: Bearer $TOKEN" https://wiki.demo.internal:$GATEWAY_PORT/
              (a demo session of user demo-user, made by scripts/demo-session.py; real sessions
               come from SAML sign-in: see "Sign-in" in README.md)
  metrics     http://127.0.0.1:$ADMIN_PORT/metrics
  redis       $WL_REDIS_URL
Logs are in $DEMO/. Press Ctrl-C to stop.
MSG
wait
