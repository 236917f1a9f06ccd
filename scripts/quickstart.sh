#!/usr/bin/env bash
# WorkLink on one machine, end to end, with nothing set up beforehand but apt:
#   1. installs the Debian packages (scripts/deps.sh) and builds (Release) into ./build, unless
#      WL_BUILD_DIR names an existing build (then neither happens)
#   2. starts a private redis-server (AOF) with its data in .worklink-demo/
#   3. starts worklink-control on 127.0.0.1:${WL_CONTROL_PORT:-8080} with a generated master key,
#      admin credentials and a network inventory, and writes .worklink-demo/aws.env for the CLI
#   4. through the admin API (/usr/bin/aws): the fleet "demo", the certificate of
#      wiki.demo.internal imported through the ACM API, the domain associated, the demo internal
#      CA as a website CA, the company network, an audit stream and the SAML IdP
#   5. starts the demo internal site (HTTPS, certificate from the private demo internal CA), the
#      demo IdP (python3-pysaml2) and the fleet's worklink-gateway on 127.0.0.1:${WL_GATEWAY_PORT:-8443}
#   6. signs a demo device in through the real SAML flow (curl as the phone's browser), fetches
#      the wiki page through the gateway, and prints what to look at next
# A second run reuses what exists (idempotent). Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=${WL_DEMO_DIR:-$ROOT/.worklink-demo}
CONTROL_PORT=${WL_CONTROL_PORT:-8080}
GATEWAY_PORT=${WL_GATEWAY_PORT:-8443}
ADMIN_PORT=${WL_GATEWAY_ADMIN_PORT:-9101}
ORIGIN_PORT=${WL_ORIGIN_PORT:-8081}
IDP_PORT=${WL_IDP_PORT:-8082}
REDIS_PORT=${WL_REDIS_PORT:-6390}
DOMAIN=wiki.demo.internal
FLEET=demo
ACCOUNT=123456789012
FLEET_ARN=arn:aws:worklink::$ACCOUNT:fleet/$FLEET
AUDIT_ARN=arn:aws:kinesis:us-east-1:$ACCOUNT:stream/AmazonWorkLink-demo
AWS=/usr/bin/aws
PY=/usr/bin/python3

say() { printf '\n== %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

if [ -n "${WL_BUILD_DIR:-}" ]; then
  BUILD=$(cd "$WL_BUILD_DIR" && pwd)
else
  say "dependencies and a Release build in ./build"
  scripts/deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target worklink-control worklink-gateway
  BUILD=$ROOT/build
fi
CONTROL=$BUILD/control/worklink-control
GATEWAY=$BUILD/gateway/worklink-gateway
[ -x "$CONTROL" ] && [ -x "$GATEWAY" ] || die "no worklink-control / worklink-gateway under $BUILD"

for p in "$REDIS_PORT" "$CONTROL_PORT" "$GATEWAY_PORT" "$ADMIN_PORT" "$ORIGIN_PORT" "$IDP_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "127.0.0.1:$p is in use (a quickstart still running? stop it with Ctrl-C; or set WL_*_PORT)"
  fi
done

mkdir -p "$DEMO"
chmod 700 "$DEMO"
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -f "$DEMO/pids"
}
trap cleanup EXIT
trap 'echo; echo "quickstart: stopping"; exit 130' INT TERM

# start NAME CMD...: runs CMD in the background (stdout NAME.out, stderr NAME.log), waits for its
# "ready" line
start() {
  local name=$1
  shift
  "$@" >"$DEMO/$name.out" 2>"$DEMO/$name.log" &
  pids+=($!)
  echo "$!" >>"$DEMO/pids"
  for _ in $(seq 1 300); do
    grep -qx ready "$DEMO/$name.out" 2>/dev/null && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$DEMO/$name.log" >&2
  die "$name did not start (log: $DEMO/$name.log)"
}
rm -f "$DEMO/pids"

# ---- secrets, CLI profile, network inventory (made once) ----
[ -f "$DEMO/master.key" ] || { openssl rand -hex 32 >"$DEMO/master.key"; chmod 600 "$DEMO/master.key"; }
if [ ! -f "$DEMO/credentials" ]; then
  AK="AKIA$(openssl rand -hex 8 | tr a-f A-F)"
  SK="$(openssl rand -base64 30 | tr -d '/+=' | head -c 40)"
  printf '[admin]\naws_access_key_id = %s\naws_secret_access_key = %s\naccount_id = %s\npolicy = full\n' \
    "$AK" "$SK" "$ACCOUNT" >"$DEMO/credentials"
  chmod 600 "$DEMO/credentials"
fi
AK=$(awk -F' = ' '/aws_access_key_id/{print $2; exit}' "$DEMO/credentials")
SK=$(awk -F' = ' '/aws_secret_access_key/{print $2; exit}' "$DEMO/credentials")
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" >"$DEMO/aws-credentials"
printf '[default]\nregion = us-east-1\noutput = json\n' >"$DEMO/aws-config"
cat >"$DEMO/aws.env" <<ENV
export AWS_SHARED_CREDENTIALS_FILE=$DEMO/aws-credentials
export AWS_CONFIG_FILE=$DEMO/aws-config
export AWS_PAGER=
export WL_ENDPOINT=http://127.0.0.1:$CONTROL_PORT
ENV
# shellcheck disable=SC1091
source "$DEMO/aws.env"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
# the company network: one subnet on loopback whose security group reaches the demo site
cat >"$DEMO/network.json" <<'NET'
{"vpcs": [{"id": "vpc-0de30000"}],
 "subnets": [{"id": "subnet-0de30000", "vpc": "vpc-0de30000", "cidr": "127.0.0.0/8",
              "source_address": "127.0.0.1"}],
 "security_groups": [{"id": "sg-0de30000", "vpc": "vpc-0de30000", "egress": [
     {"protocol": "tcp", "from_port": 1024, "to_port": 65535, "cidr": "127.0.0.0/8"}]}]}
NET

# ---- certificates (made once): the tunnel's CA + the domain's certificate; the private CA of
# the internal site + its certificate ----
mkcert() { # mkcert CA_NAME CA_SUBJECT LEAF_NAME
  local ca=$1 subj=$2 leaf=$3
  if [ ! -f "$DEMO/$ca.crt" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$DEMO/$ca.key"
    openssl req -x509 -new -key "$DEMO/$ca.key" -out "$DEMO/$ca.crt" -days 365 -subj "/CN=$subj" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  fi
  if [ ! -f "$DEMO/$leaf.crt" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$DEMO/$leaf.ec"
    openssl pkcs8 -topk8 -nocrypt -in "$DEMO/$leaf.ec" -out "$DEMO/$leaf.key"
    openssl req -new -key "$DEMO/$leaf.key" -out "$DEMO/$leaf.csr" -subj "/CN=$DOMAIN" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$DOMAIN" >"$DEMO/$leaf.ext"
    openssl x509 -req -in "$DEMO/$leaf.csr" -CA "$DEMO/$ca.crt" -CAkey "$DEMO/$ca.key" \
      -CAcreateserial -out "$DEMO/$leaf.crt" -days 365 -extfile "$DEMO/$leaf.ext" 2>/dev/null
  fi
}
mkcert tunnel-ca "WorkLink demo tunnel CA" wiki
mkcert internal-ca "Demo internal CA" origin

# ---- Redis and control ----
say "Redis (127.0.0.1:$REDIS_PORT) and worklink-control ($WL_ENDPOINT)"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DEMO" --appendonly yes --save "" \
  >"$DEMO/redis.log" 2>&1 &
pids+=($!)
echo "$!" >>"$DEMO/pids"
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null || die "redis-server did not start"
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
start control "$CONTROL" --listen 127.0.0.1:"$CONTROL_PORT" --redis "$REDIS_URL" \
  --credentials "$DEMO/credentials" --key-file "$DEMO/master.key" --network "$DEMO/network.json" \
  --fleet-create-delay-ms 200 --domain-associate-delay-ms 200 \
  --gateway-url-base "https://$DOMAIN:$GATEWAY_PORT/_wl/%s"
wl() { "$AWS" worklink "$@" --endpoint-url "$WL_ENDPOINT"; }
acm() { "$AWS" acm "$@" --endpoint-url "$WL_ENDPOINT"; }

# ---- the fleet and its configuration, through the admin API ----
say "fleet $FLEET through the admin API"
status=$(wl describe-fleet-metadata --fleet-arn "$FLEET_ARN" --query FleetStatus --output text 2>/dev/null || true)
case "$status" in
  CREATING | ACTIVE) echo "fleet $FLEET exists ($status)" ;;
  DELETING) die "fleet $FLEET is being deleted: wait until it is gone, then run again" ;;
  *)
    wl create-fleet --fleet-name "$FLEET" --display-name "WorkLink demo" --query FleetArn --output text
    ;;
esac
if wl describe-domain --fleet-arn "$FLEET_ARN" --domain-name "$DOMAIN" >/dev/null 2>&1; then
  echo "domain $DOMAIN is associated"
else
  CERT_ARN=$(acm import-certificate --certificate "fileb://$DEMO/wiki.crt" \
    --private-key "fileb://$DEMO/wiki.key" --certificate-chain "fileb://$DEMO/tunnel-ca.crt" \
    --query CertificateArn --output text)
  echo "certificate imported: $CERT_ARN"
  wl associate-domain --fleet-arn "$FLEET_ARN" --domain-name "$DOMAIN" \
    --acm-certificate-arn "$CERT_ARN" --display-name "Demo wiki"
fi
if [ "$(wl list-website-certificate-authorities --fleet-arn "$FLEET_ARN" \
  --query 'length(WebsiteCertificateAuthorities)' --output text)" = 0 ]; then
  wl associate-website-certificate-authority --fleet-arn "$FLEET_ARN" \
    --certificate "file://$DEMO/internal-ca.crt" --display-name "Demo internal CA" \
    --query WebsiteCaId --output text | sed "s/^/website CA associated: /"
else
  echo "website CA is associated"
fi
wl update-company-network-configuration --fleet-arn "$FLEET_ARN" --vpc-id vpc-0de30000 \
  --subnet-ids subnet-0de30000 --security-group-ids sg-0de30000
wl update-audit-stream-configuration --fleet-arn "$FLEET_ARN" --audit-stream-arn "$AUDIT_ARN"
# SAML: the fleet's SP metadata first (kept across runs), then the demo IdP's metadata
wl update-identity-provider-configuration --fleet-arn "$FLEET_ARN" --identity-provider-type SAML
wl describe-identity-provider-configuration --fleet-arn "$FLEET_ARN" \
  --query ServiceProviderSamlMetadata --output text >"$DEMO/sp-metadata.xml"
start idp "$PY" scripts/demo-idp.py --dir "$DEMO" --port "$IDP_PORT" --sp-metadata "$DEMO/sp-metadata.xml"
wl update-identity-provider-configuration --fleet-arn "$FLEET_ARN" --identity-provider-type SAML \
  --identity-provider-saml-metadata "file://$DEMO/idp-metadata.xml"
echo "network, audit stream and IdP configured"

# ---- the internal site and the gateway ----
say "demo internal site (https://$DOMAIN on 127.0.0.1:$ORIGIN_PORT) and worklink-gateway (127.0.0.1:$GATEWAY_PORT)"
start origin "$PY" scripts/demo-origin.py "$ORIGIN_PORT" "$DEMO/origin.crt" "$DEMO/origin.key"
start gateway "$GATEWAY" --fleet "$FLEET" --listen 127.0.0.1:"$GATEWAY_PORT" \
  --admin-listen 127.0.0.1:"$ADMIN_PORT" --redis "$REDIS_URL" --key-file "$DEMO/master.key" \
  --network "$DEMO/network.json" --workers 2 \
  --origin "$DOMAIN=https://$DOMAIN:$ORIGIN_PORT" --resolve "$DOMAIN:127.0.0.1"
for _ in $(seq 1 100); do
  st=$(wl describe-fleet-metadata --fleet-arn "$FLEET_ARN" --query FleetStatus --output text)
  dst=$(wl describe-domain --fleet-arn "$FLEET_ARN" --domain-name "$DOMAIN" --query DomainStatus --output text)
  [ "$st" = ACTIVE ] && [ "$dst" = ACTIVE ] && break
  sleep 0.2
done
[ "$st" = ACTIVE ] || die "fleet $FLEET is $st, not ACTIVE (gateway log: $DEMO/gateway.log)"
echo "fleet $FLEET is ACTIVE (its gateway registered), domain $DOMAIN is $dst"

# ---- a demo device signs in and fetches the page ----
say "a demo device signs in (SAML) and opens https://$DOMAIN:$GATEWAY_PORT/"
"$PY" scripts/demo-signin.py "https://$DOMAIN:$GATEWAY_PORT/" "$DEMO/tunnel-ca.crt" \
  "$DEMO/device.cookies" "$GATEWAY_PORT" >"$DEMO/page.html" 2>"$DEMO/signin.log" ||
  { cat "$DEMO/signin.log" >&2; die "the demo sign-in failed (gateway log: $DEMO/gateway.log)"; }
echo "---- the page, as the gateway delivered it ($DEMO/page.html) ----"
cat "$DEMO/page.html"
echo "---- end of page ----"

cat <<MSG

WorkLink is running: fleet "$FLEET", domain $DOMAIN, signed-in device of demo-user@demo.internal.
What to look at next:
  source $DEMO/aws.env          # then the AWS CLI talks to this control:
    $AWS worklink describe-fleet-metadata --endpoint-url \$WL_ENDPOINT --fleet-arn $FLEET_ARN
    $AWS worklink list-devices --endpoint-url \$WL_ENDPOINT --fleet-arn $FLEET_ARN
    $AWS worklink sign-out-user --endpoint-url \$WL_ENDPOINT --fleet-arn $FLEET_ARN --username demo-user@demo.internal
  the device's view (its session cookie is in the jar; after sign-out it is sent to the IdP again):
    curl --cacert $DEMO/tunnel-ca.crt --resolve $DOMAIN:$GATEWAY_PORT:127.0.0.1 -b $DEMO/device.cookies -H 'Accept: text/html' https://$DOMAIN:$GATEWAY_PORT/page
  the console:       http://127.0.0.1:$CONTROL_PORT/console/  (access key and secret in $DEMO/credentials)
  gateway metrics:   curl http://127.0.0.1:$ADMIN_PORT/metrics
  audit events:      redis-cli -p $REDIS_PORT XRANGE wl:audit:AmazonWorkLink-demo - +
  registered gateways: redis-cli -p $REDIS_PORT ZRANGE wl:{$FLEET}:gateways 0 -1 WITHSCORES
  logs:              $DEMO/*.log
Press Ctrl-C to stop everything this script started.
MSG
wait
