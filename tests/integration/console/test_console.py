"""The web console (issue 10) in Debian's Chromium, headless, driven by playwright-core
(drive.mjs) through the admin guide's Getting Started against a real worklink-control and
redis-server; every step is checked through /usr/bin/aws (and Redis where the gateway's side is
seeded). Also: the console's HTTP answers (headers, CSP, ETag, redirect, 404/405) with plain
HTTP. Screenshots go to $WL_BUILD_DIR/console-screenshots/. Exit 77 (skipped) only when
/usr/bin/chromium or npm is not installed."""
import concurrent.futures
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import time

import wl_testlib as t

HERE = os.path.dirname(os.path.abspath(__file__))
if not os.path.exists("/usr/bin/chromium") or not shutil.which("npm") or not shutil.which("node"):
    print("SKIP: needs /usr/bin/chromium, node and npm (apt-get install chromium npm)")
    sys.exit(77)

ACCOUNT = "123456789012"
c = t.Checker()
d = t.tmpdir()

# ---- playwright-core, installed from npm into the build dir (never committed) ----
prefix = os.path.join(t.BUILD_DIR, "console-npm")
os.makedirs(prefix, exist_ok=True)
want = json.load(open(os.path.join(HERE, "package.json")))["dependencies"]["playwright-core"]
pkg = os.path.join(prefix, "node_modules", "playwright-core", "package.json")
if not os.path.exists(pkg) or json.load(open(pkg)).get("version") != want:
    shutil.copy(os.path.join(HERE, "package.json"), os.path.join(prefix, "package.json"))
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=prefix, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print("FAIL: npm install playwright-core: " + r.stderr[-2000:])
        sys.exit(1)

# ---- servers ----
redis_proc, redis_url = t.start_redis()
key_file = t.write_key_file(d)
ADMIN = ("AKIDCONSOLEADMIN0001", "console-admin-secret")
RO = ("AKIDCONSOLEREAD00001", "console-readonly-secret")
creds = t.write_credentials(d, [("admin", ADMIN[0], ADMIN[1], ACCOUNT, "full"),
                                ("auditor", RO[0], RO[1], ACCOUNT, "readonly")])
port = t.free_port()
control = t.start([t.binary("worklink-control"), "--listen", "127.0.0.1:%d" % port,
                   "--redis", redis_url, "--credentials", creds, "--key-file", key_file,
                   "--rate-limit", "0", "--fleet-create-delay-ms", "2500",
                   "--domain-associate-delay-ms", "2500", "--fleet-delete-delay-ms", "3000",
                   "--gateway-url-base", "https://%s.gw.example.test"])
BASE = "http://127.0.0.1:%d" % port

aws_creds = os.path.join(d, "aws-credentials")
with open(aws_creds, "w") as f:
    f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % ADMIN)
aws_config = os.path.join(d, "aws-config")
with open(aws_config, "w") as f:
    f.write("[default]\nregion = us-east-1\n")
ENV = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=aws_creds, AWS_CONFIG_FILE=aws_config,
           AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
    ENV.pop(k, None)


def aws(*args):
    p = subprocess.run(["/usr/bin/aws"] + list(args) + ["--endpoint-url", BASE, "--output", "json"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    c.ok(p.returncode == 0, "aws %s: %s" % (" ".join(args[:2]), p.stderr.strip()[:300]))
    return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else {}


def arn(name):
    return "arn:aws:worklink::%s:fleet/%s" % (ACCOUNT, name)


def wl(op, fleet, *args):
    return aws("worklink", op, "--fleet-arn", arn(fleet), *args)


t.stand_in_gateways(redis_url)  # no gateway process here: fleets turn ACTIVE on its beats


def redis(*args):
    return t.redis_cmd(redis_url, *args)


def wait_for(fn, want, timeout=20):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = fn()
        if got == want:
            break
        time.sleep(0.3)
    return got


def get(path, headers=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


# ---- the console's HTTP answers ----
st, h, body = get("/")
c.eq((st, h.get("location")), (302, "/console/"), "GET / redirects to the console")
st, h, body = get("/console/")
c.eq(st, 200, "GET /console/")
c.eq(h.get("content-type"), "text/html; charset=utf-8", "index Content-Type")
csp = h.get("content-security-policy", "")
for part in ("default-src 'none'", "script-src 'self'", "connect-src 'self'",
             "frame-ancestors 'none'", "base-uri 'none'"):
    c.ok(part in csp, "CSP has %s: %s" % (part, csp))
c.ok("unsafe-inline" not in csp and "unsafe-eval" not in csp, "CSP allows no inline/eval")
c.eq(h.get("x-content-type-options"), "nosniff", "nosniff")
c.eq(h.get("x-frame-options"), "DENY", "X-Frame-Options")
c.eq(h.get("cache-control"), "no-cache", "index revalidated")
c.ok(b'src="/console/app.js"' in body and b"<script>" not in body, "no inline script")
st, h, body = get("/console/app.js")
c.eq((st, h.get("content-type")), (200, "text/javascript; charset=utf-8"), "app.js Content-Type")
with open(os.path.join(t.BUILD_DIR, "..", "console", "app.js") if False else
          os.path.join(os.environ.get("WL_SOURCE_DIR", os.path.join(HERE, "..", "..", "..")),
                       "console", "app.js"), "rb") as f:
    c.ok(body == f.read(), "app.js served as in the source tree")
st2, h2, body2 = get("/console/app.js", {"If-None-Match": h.get("etag", "x")})
c.eq((st2, body2), (304, b""), "If-None-Match -> 304")
c.eq(get("/console/style.css")[1].get("content-type"), "text/css; charset=utf-8", "CSS type")
c.eq(get("/console/nope.js")[0], 404, "unknown console file -> 404")
c.eq(get("/console/../control/main.c")[0], 404, "no path traversal")
st, h, _ = get("/console/app.js", method="POST")
c.eq((st, h.get("allow")), (405, "GET, HEAD"), "POST to a console file -> 405")
st, h, body = get("/console/whoami")
c.eq((st, h.get("x-amzn-errortype")), (403, "MissingAuthenticationTokenException"),
     "unsigned whoami refused like the API")
st, h, body = get("/console/settings.json")
c.eq(json.loads(body).get("Region"), "us-east-1", "settings.json region")
st, h, body = get("/listFleets", method="POST")
c.eq(h.get("x-amzn-errortype"), "MissingAuthenticationTokenException", "the API is unchanged")

# ---- test files: IdP metadata with a signing certificate, certificates ----
ca = t.make_ca(d, "Corp Root CA")
leaf = t.make_cert(d, ca, "example.com", sans=("example.com", "*.example.com"))
device_ca = t.make_ca(d, "Device CA")
idp_crt, _ = t.make_ca(d, "IdP Signing")
with open(idp_crt) as f:
    idp_b64 = "".join(l for l in f.read().splitlines() if "-----" not in l)
IDP = ('<?xml version="1.0" encoding="UTF-8"?>\n'
       '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
       'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.test/saml">\n'
       ' <md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
       'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
       '  <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s'
       '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n'
       '  <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
       'Location="https://idp.example.test/sso"/>\n'
       ' </md:IDPSSODescriptor>\n</md:EntityDescriptor>\n' % idp_b64)
idp_path = os.path.join(d, "idp-metadata.xml")
with open(idp_path, "w") as f:
    f.write(IDP)
AUDIT = "arn:aws:kinesis:us-east-1:%s:stream/AmazonWorkLink-audit" % ACCOUNT
files = {"dir": d, "profile": t.tmpdir("wlchrome-"), "admin": ADMIN, "readonly": RO,
         "idp": idp_path, "leaf": leaf[0], "leafKey": leaf[1], "ca": ca[0],
         "deviceCa": device_ca[0], "auditArn": AUDIT}
ca_pem = open(ca[0]).read()
FLEET = "getting-started"


# ---- what the test checks at each step of the browser run ----
def cp_fleet(_):
    m = wl("describe-fleet-metadata", FLEET)
    c.eq((m.get("FleetStatus"), m.get("DisplayName")), ("ACTIVE", "Getting Started"),
         "aws: fleet ACTIVE with its display name")
    trail = redis("XREVRANGE", "wl:cloudtrail", "+", "-", "COUNT", "200")
    c.ok("CreateFleet" in trail and "Chrome" in trail and "AKIDCONSOLEADMIN0001" in trail,
         "CloudTrail records the console's CreateFleet (browser user agent, admin's key)")


def cp_idp(data):
    out = wl("describe-identity-provider-configuration", FLEET)
    c.eq(out.get("IdentityProviderType"), "SAML", "aws: IdP type")
    c.eq(out.get("IdentityProviderSamlMetadata"), IDP, "aws: IdP metadata is the uploaded file")
    with open(data["sp"]) as f:
        c.eq(f.read(), out.get("ServiceProviderSamlMetadata"), "downloaded SP metadata == aws")


def cp_network(_):
    out = wl("describe-company-network-configuration", FLEET)
    c.eq((out.get("VpcId"), out.get("SubnetIds"), out.get("SecurityGroupIds")),
         ("vpc-0a1b2c3d", ["subnet-0a1b2c3d", "subnet-1a2b3c4d"], ["sg-0a1b2c3d"]),
         "aws: company network")


def cp_domain(data):
    out = wl("describe-domain", FLEET, "--domain-name", "wiki.example.com")
    c.eq((out.get("DomainStatus"), out.get("DisplayName"), out.get("AcmCertificateArn")),
         ("ACTIVE", "Wiki", data["cert"]), "aws: domain associated with the imported cert")
    cert = aws("acm", "describe-certificate", "--certificate-arn", data["cert"]).get("Certificate", {})
    c.eq(cert.get("DomainName"), "example.com", "aws acm: imported certificate")


def cp_ca(data):
    cas = wl("list-website-certificate-authorities", FLEET).get("WebsiteCertificateAuthorities", [])
    c.eq([x.get("DisplayName") for x in cas], ["Corp root"], "aws: one website CA")
    if cas:
        out = wl("describe-website-certificate-authority", FLEET, "--website-ca-id",
                 cas[0]["WebsiteCaId"])
        c.eq(out.get("Certificate", "").strip(), ca_pem.strip(), "aws: CA is the uploaded file")
    with open(data["downloaded"]) as f:
        c.eq(f.read().strip(), ca_pem.strip(), "downloaded CA == uploaded")


def cp_device_policy(_):
    out = wl("describe-device-policy-configuration", FLEET)
    c.eq(out.get("DeviceCaCertificate", "").strip(), open(device_ca[0]).read().strip(),
         "aws: device CA")


def cp_audit(_):
    c.eq(wl("describe-audit-stream-configuration", FLEET).get("AuditStreamArn"), AUDIT,
         "aws: audit stream")


def authps():
    return [(p.get("DomainName"), p.get("AuthorizationProviderType")) for p in
            wl("list-website-authorization-providers", FLEET).get("WebsiteAuthorizationProviders", [])]


def cp_authp(_):
    c.eq(authps(), [("auth.example.com", "SAML")], "aws: authorization provider")


def cp_authp_gone(_):
    c.eq(authps(), [], "aws: authorization provider disassociated")


def cp_invite(data):
    code = wl("describe-fleet-metadata", FLEET).get("CompanyCode")
    c.ok(code and code in data["text"], "copied invite holds aws's company code %s" % code)


def domain_status():
    return wl("describe-domain", FLEET, "--domain-name", "wiki.example.com").get("DomainStatus")


def cp_revoked(_):
    c.eq(domain_status(), "INACTIVE", "aws: domain revoked")


def cp_restored(_):
    c.eq(domain_status(), "ACTIVE", "aws: domain restored")


def cp_seed(_):
    now = int(time.time() * 1000)
    for dev, user, man, model in (("dev-a1", "alice", "Apple", "iPhone15,2"),
                                  ("dev-a2", "alice", "Google", "Pixel 7"),
                                  ("dev-b1", "bob", "Google", "Pixel 8")):
        redis("HSET", "wl:{%s}:device:%s" % (FLEET, dev), "id", dev, "status", "ACTIVE",
              "manufacturer", man, "model", model, "os", "Android" if man == "Google" else "iOS",
              "os_version", "14", "patch_level", "2026-11-01", "username", user,
              "first_accessed", now - 86400000, "last_accessed", now)
        redis("ZADD", "wl:{%s}:devices" % FLEET, 0, dev)
        redis("SADD", "wl:{%s}:user:%s:devices" % (FLEET, user), dev)
        sid = hashlib.sha256(("token-" + dev).encode()).hexdigest()
        redis("HSET", "wl:{%s}:session:%s" % (FLEET, sid), "username", user, "device_id", dev,
              "created", now, "expires", now + 3600000, "idle_timeout_ms", 900000,
              "last_seen", now)
        redis("SADD", "wl:{%s}:user:%s:sessions" % (FLEET, user), sid)


def cp_signed_out(_):
    st = {dv: wl("describe-device", FLEET, "--device-id", dv).get("Status")
          for dv in ("dev-a1", "dev-a2", "dev-b1")}
    c.eq(st, {"dev-a1": "SIGNED_OUT", "dev-a2": "SIGNED_OUT", "dev-b1": "ACTIVE"},
         "aws: alice's devices signed out, bob's not")
    c.eq(redis("SCARD", "wl:{%s}:user:alice:sessions" % FLEET).strip(), "(integer) 0",
         "alice's sessions gone")
    c.eq(redis("SCARD", "wl:{%s}:user:bob:sessions" % FLEET).strip(), "(integer) 1",
         "bob's session kept")


def cp_many(_):
    names = ["fleet-%02d" % i for i in range(1, 11)] + ["ro-fleet"]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda n: aws("worklink", "create-fleet", "--fleet-name", n), names))
    wait_for(lambda: aws("worklink", "describe-fleet-metadata", "--fleet-arn",
                         arn("ro-fleet")).get("FleetStatus"), "ACTIVE")
    cert = aws("acm", "list-certificates").get("CertificateSummaryList", [{}])[0].get("CertificateArn")
    wl("associate-domain", "ro-fleet", "--domain-name", "ro.example.com",
       "--acm-certificate-arn", cert)
    c.eq(wait_for(lambda: wl("describe-domain", "ro-fleet", "--domain-name",
                             "ro.example.com").get("DomainStatus"), "ACTIVE"), "ACTIVE",
         "ro-fleet's domain ACTIVE")


def cp_deleted(_):
    p = subprocess.run(["/usr/bin/aws", "worklink", "describe-fleet-metadata", "--fleet-arn",
                        arn(FLEET), "--endpoint-url", BASE, "--output", "json"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    status = json.loads(p.stdout).get("FleetStatus") if p.returncode == 0 else p.stderr
    c.ok(status in ("DELETING", "DELETED") or "ResourceNotFoundException" in status,
         "aws: fleet deleted (%s)" % status)
    c.eq(redis("EXISTS", "wl:{%s}:domain:wiki.example.com" % FLEET).strip(), "(integer) 0",
         "the fleet's domains are gone")


CHECKS = {"fleet": cp_fleet, "idp": cp_idp, "network": cp_network, "domain": cp_domain,
          "ca": cp_ca, "device-policy": cp_device_policy, "audit": cp_audit,
          "authp": cp_authp, "authp-gone": cp_authp_gone, "invite": cp_invite, "revoked": cp_revoked, "restored": cp_restored,
          "seed-devices": cp_seed, "signed-out": cp_signed_out, "many-fleets": cp_many,
          "deleted": cp_deleted}

shots = os.path.join(t.BUILD_DIR, "console-screenshots")
env = dict(os.environ, WL_BASE=BASE, WL_FILES=json.dumps(files), WL_SHOTS=shots,
           WL_PW_PREFIX=prefix)
drv = subprocess.Popen(["node", os.path.join(HERE, "drive.mjs")], stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, text=True, env=env, bufsize=1)
t._procs.append(drv)
seen = []
result = None
start = time.time()
for line in drv.stdout:
    line = line.rstrip("\n")
    print(line, flush=True)
    if line.startswith("CHECKPOINT "):
        _, name, data = line.split(" ", 2)
        seen.append(name)
        before = c.failures
        try:
            CHECKS[name](json.loads(data))
        except Exception as e:  # a check that raises is a failure, not a hang
            c.ok(False, "checkpoint %s raised %r" % (name, e))
        drv.stdin.write("ok\n" if c.failures == before else "fail see above\n")
        drv.stdin.flush()
    elif line.startswith("DONE "):
        result = line.split()
    elif line.startswith("FAIL: "):
        c.ok(False, "browser: " + line[6:])
rc = drv.wait(timeout=60)
c.eq(seen, list(CHECKS), "every step of the walk-through ran")
c.ok(result is not None and rc == 0, "browser run finished cleanly (exit %s)" % rc)
c.ok(len([f for f in os.listdir(shots) if f.endswith(".png")]) >= 15, "screenshots in " + shots)
print("browser walk-through took %.1f s; screenshots in %s" % (time.time() - start, shots))
c.done()
