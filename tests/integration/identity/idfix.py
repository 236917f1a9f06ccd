"""Fixture for the sign-in tests: Redis, worklink-control (configured only through the real AWS
CLI, /usr/bin/aws), a test origin, worklink-gateway, and Debian's python3-pysaml2 as the IdP.
curl is the device: one cookie jar, --resolve for every domain to the gateway."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

import wl_testlib as t

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WL_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..", "..")))
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "saml"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "gateway"))
import pysaml2_idp as P  # noqa: E402

ACCOUNT = "123456789012"
F = "corp"
FLEET_ARN = "arn:aws:worklink::%s:fleet/%s" % (ACCOUNT, F)
SSO = "sso.example.test"      # the login hub: the ACS lives on this associated domain
WIKI = "wiki.example.test"
MAIL = "mail.example.test"
IDPDOM = "login.example.test"  # a website authorization provider domain


class Env:
    def __init__(self, c):
        self.c = c
        self.d = t.tmpdir("wlid-")
        self.redis_proc, self.redis_url = t.start_redis()
        import redis
        self.r = redis.Redis.from_url(self.redis_url, decode_responses=True)
        self.key_file = t.write_key_file(self.d)
        creds = t.write_credentials(self.d, [("admin", "AKIDADMIN00000000001", "adminsecret",
                                              ACCOUNT, "full")])
        self.port = t.free_port()
        self.admin_port = t.free_port()
        cport = t.free_port()
        self.network = t.write_loopback_network(self.d)
        self.control = t.start([t.binary("worklink-control"), "--listen", "127.0.0.1:%d" % cport,
                                "--redis", self.redis_url, "--credentials", creds,
                                "--network", self.network,
                                "--key-file", self.key_file, "--rate-limit", "0",
                                "--fleet-create-delay-ms", "200",
                                "--domain-associate-delay-ms", "200",
                                "--gateway-url-base",
                                "https://%s:%d/_wl/%%s" % (SSO, self.port)])
        self.endpoint = "http://127.0.0.1:%d" % cport
        aws_creds = os.path.join(self.d, "aws-credentials")
        with open(aws_creds, "w") as f:
            f.write("[default]\naws_access_key_id = AKIDADMIN00000000001\n"
                    "aws_secret_access_key = adminsecret\n")
        aws_config = os.path.join(self.d, "aws-config")
        with open(aws_config, "w") as f:
            f.write("[default]\nregion = us-east-1\n")
        self.env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=aws_creds,
                        AWS_CONFIG_FILE=aws_config, AWS_PAGER="",
                        AWS_EC2_METADATA_DISABLED="true")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            self.env.pop(k, None)
        self.ca = t.make_ca(self.d, "Identity Test CA")
        self.jar = os.path.join(self.d, "cookies.txt")
        self.gw = None

    # ---- admin API through the AWS CLI ----
    def aws(self, *args):
        p = subprocess.run(["/usr/bin/aws"] + list(args) + ["--endpoint-url", self.endpoint,
                                                           "--output", "json"],
                           capture_output=True, text=True, env=self.env, timeout=60)
        out = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
        return p.returncode == 0, out, p.stderr

    def ok(self, what, *args):
        good, out, err = self.aws(*args)
        self.c.ok(good, "%s: %s" % (what, err.strip()))
        return out or {}

    def wl(self, what, op, *args):
        return self.ok(what, "worklink", op, "--fleet-arn", FLEET_ARN, *args)

    def poll(self, fn, want, timeout=20):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = fn()
            if got == want:
                break
            time.sleep(0.1)
        return got

    def setup_fleet(self, domains):
        self.ok("create-fleet", "worklink", "create-fleet", "--fleet-name", F,
                "--display-name", "Corp")
        # CREATING until its gateway (started later) beats: configure it meanwhile
        self.poll(lambda: (self.aws("worklink", "describe-fleet-metadata", "--fleet-arn",
                                    FLEET_ARN)[1] or {}).get("FleetStatus") in
                  ("CREATING", "ACTIVE"), True)
        net = t.LOOPBACK_NETWORK
        self.wl("update-company-network-configuration", "update-company-network-configuration",
                "--vpc-id", net["vpcs"][0]["id"], "--subnet-ids", net["subnets"][0]["id"],
                "--security-group-ids", net["security_groups"][0]["id"])
        leaf = t.make_cert(self.d, self.ca, "example.test", sans=["*.example.test"])
        arn = self.ok("import-certificate", "acm", "import-certificate", "--certificate",
                      "fileb://" + leaf[0], "--private-key", "fileb://" + leaf[1],
                      "--certificate-chain", "fileb://" + self.ca[0]).get("CertificateArn")
        for dom in domains:
            self.wl("associate-domain " + dom, "associate-domain", "--domain-name", dom,
                    "--acm-certificate-arn", arn)
        for dom in domains:
            got = self.poll(lambda: (self.aws("worklink", "describe-domain", "--fleet-arn",
                                              FLEET_ARN, "--domain-name", dom)[1] or {})
                            .get("DomainStatus"), "ACTIVE")
            self.c.eq(got, "ACTIVE", "domain %s ACTIVE" % dom)

    def setup_idp(self):
        """SP metadata first (as an administrator downloads it), then the IdP's metadata."""
        self.wl("update-identity-provider-configuration (SP metadata)",
                "update-identity-provider-configuration", "--identity-provider-type", "SAML")
        out = self.wl("describe-identity-provider-configuration",
                      "describe-identity-provider-configuration")
        self.sp_md = out.get("ServiceProviderSamlMetadata", "")
        self.sp_entity = re.search(r'entityID="([^"]+)"', self.sp_md).group(1)
        self.acs = re.search(r'AssertionConsumerService[^>]*Location="([^"]+)"',
                             self.sp_md).group(1)
        key, crt = os.path.join(self.d, "idp.key"), os.path.join(self.d, "idp.crt")
        t.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                  "-days", "30", "-subj", "/CN=idp.example.test")
        self.idp = P.IdP(self.d, self.sp_md, key, crt)
        self.wl("update-identity-provider-configuration (IdP metadata)",
                "update-identity-provider-configuration", "--identity-provider-type", "SAML",
                "--identity-provider-saml-metadata", self.idp.metadata())
        m = re.search(r"<ds:X509Certificate>([^<]+)<", self.sp_md) or \
            re.search(r"X509Certificate>([^<]+)<", self.sp_md)
        self.sp_cert = "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % \
            m.group(1).strip()

    def start_origin(self):
        port = t.free_port()
        self.origin = t.start(["/usr/bin/python3", os.path.join(SRC, "tests", "integration",
                                                               "gateway", "origin.py"), str(port)])
        return port

    def start_gateway(self, origin_port, domains, workers=2):
        argv = [t.binary("worklink-gateway"), "--fleet", F, "--listen", "127.0.0.1:%d" % self.port,
                "--admin-listen", "127.0.0.1:%d" % self.admin_port, "--redis", self.redis_url,
                "--key-file", self.key_file, "--workers", str(workers),
                "--network", self.network]
        for dom in domains:
            argv += ["--origin", "%s=http://127.0.0.1:%d" % (dom, origin_port)]
        self.domains = domains
        self.gw = t.start(argv)

    def gw_log(self, needle="sign-in"):
        """The gateway's log lines containing needle (printed when a check fails)."""
        with open(self.gw.stderr_path, errors="replace") as f:
            return "".join(line for line in f if needle in line)

    # ---- the device ----
    def curl(self, url, follow=False, data=None, headers=(), jar=True, method=None, http2=False,
             cert=None):
        """Returns (status, headers dict (lowercase, last value), body, effective url)."""
        hdr_file = os.path.join(self.d, "hdrs.txt")
        argv = ["curl", "-sS", "--max-time", "20", "--cacert", self.ca[0], "-D", hdr_file,
                "-o", "-", "-w", "\n%{http_code} %{url_effective}",
                "--http2" if http2 else "--http1.1"]
        if cert:
            argv += ["--cert", cert[0], "--key", cert[1]]
        for dom in self.domains:
            argv += ["--resolve", "%s:%d:127.0.0.1" % (dom, self.port)]
        if jar:
            argv += ["-b", self.jar, "-c", self.jar]
        if follow:
            argv += ["-L", "--max-redirs", "30"]
        for h in headers:
            argv += ["-H", h]
        if data is not None:
            for k, v in data:
                argv += ["--data-urlencode", "%s=%s" % (k, v)]
        if method:
            argv += ["-X", method]
        argv.append(url)
        p = subprocess.run(argv, capture_output=True, timeout=40)
        text = p.stdout.decode(errors="replace")
        body, _, tail = text.rpartition("\n")
        parts = tail.split(" ", 1)
        status = int(parts[0]) if parts[0].isdigit() else 0
        hdrs = {}
        with open(hdr_file) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        return status, hdrs, body, parts[1] if len(parts) > 1 else ""

    def url(self, dom, path):
        return "https://%s:%d%s" % (dom, self.port, path)

    def idp_login(self, redirect_url, user="alice@example.com", **kw):
        """The IdP's part: parse our AuthnRequest, sign the user in, return the form fields."""
        req, msg = self.idp.parse_redirect(redirect_url, self.sp_cert)
        xml = self.idp.response(req.id, self.acs, self.sp_entity, user=user, **kw)
        return req, [("SAMLResponse", P.b64(xml)), ("RelayState", msg.get("RelayState", ""))]

    def sessions(self):
        return sorted(k for k in self.r.scan_iter("wl:{%s}:session:*" % F))


def b64d(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_jwt(token, jwks):
    """Verifies an ES256 JWS compact token against a JWKS with python3-cryptography; returns
    the claims or None."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    try:
        h64, p64, s64 = token.split(".")
        header = json.loads(b64d(h64))
        if header.get("alg") != "ES256":
            return None
        jwk = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")][0]
        pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64d(jwk["x"]), "big"),
                                            int.from_bytes(b64d(jwk["y"]), "big"),
                                            ec.SECP256R1()).public_key()
        sig = b64d(s64)
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                   int.from_bytes(sig[32:], "big"))
        pub.verify(der, (h64 + "." + p64).encode(), ec.ECDSA(hashes.SHA256()))
        return json.loads(b64d(p64))
    except (InvalidSignature, ValueError, IndexError, KeyError):
        return None


def qs(url):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}
