"""Every error path of the admin API front, as a client sees it: model constraints through the
real AWS CLI (and through botocore with client-side validation off, for the constraints the CLI
would catch itself), authentication failures (unknown key, wrong secret, clock skew, missing
signature, expired presigned URL), the read-only policy, throttling, not-found and
already-exists, unknown operations, HTTP/1.1 smuggling shapes and limits on raw sockets (right
status, connection closed), keep-alive with pipelining, TLS with curl and `aws --ca-bundle`, the
CloudTrail stream (fields, failures recorded, secrets redacted), bad command lines, and SIGTERM."""
import concurrent.futures
import base64
import datetime
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
import redis as redislib

import wl_testlib as t

ACCOUNT = "123456789012"
ADMIN = ("admin", "AKIDADMIN00000000001", "adminsecret", ACCOUNT, "full")
VIEWER = ("viewer", "AKIDVIEWER0000000001", "viewersecret", ACCOUNT, "readonly")
c = t.Checker()
d = t.tmpdir()
redis_proc, redis_url = t.start_redis()
rdb = redislib.Redis.from_url(redis_url, decode_responses=True)
key_file = t.write_key_file(d)
creds = t.write_credentials(d, [ADMIN, VIEWER])
CONTROL = t.binary("worklink-control")


def start_control(*extra, tls=None):
    port = t.free_port()
    argv = [CONTROL, "--listen", "127.0.0.1:%d" % port, "--redis", redis_url, "--credentials",
            creds, "--key-file", key_file, "--rate-limit", "0", "--max-body", "1048576",
            "--fleet-create-delay-ms", "100"] + list(extra)
    if tls:
        argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    return t.start(argv), port


control, port = start_control()
ENDPOINT = "http://127.0.0.1:%d" % port

aws_creds = os.path.join(d, "aws-credentials")
with open(aws_creds, "w") as f:
    f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n" % ADMIN[1:3])
    f.write("[viewer]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n" % VIEWER[1:3])
    f.write("[stranger]\naws_access_key_id = AKIDNOBODY0000000001\n"
            "aws_secret_access_key = whatever\n\n")
    f.write("[badsecret]\naws_access_key_id = %s\naws_secret_access_key = wrong\n\n" % ADMIN[1])
aws_config = os.path.join(d, "aws-config")
with open(aws_config, "w") as f:
    f.write("[default]\nregion = us-east-1\n")
    for p in ("viewer", "stranger", "badsecret"):
        f.write("[profile %s]\nregion = us-east-1\n" % p)
ENV = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=aws_creds, AWS_CONFIG_FILE=aws_config,
           AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1")
for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN",
          "AWS_CA_BUNDLE"):
    ENV.pop(v, None)


def aws(*args, profile=None, endpoint=None, extra=()):
    argv = ["/usr/bin/aws"] + list(args) + ["--endpoint-url", endpoint or ENDPOINT, "--output",
                                            "json"] + list(extra)
    if profile:
        argv += ["--profile", profile]
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=60)
    out = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
    return p.returncode, out, p.stderr


def ok(what, *args, **kw):
    rc, out, err = aws(*args, **kw)
    c.ok(rc == 0, "%s: exit %d: %s" % (what, rc, err.strip()))
    return out or {}


def fails(what, error, message_part, *args, **kw):
    """The CLI prints 'An error occurred (<error>) when calling the <Op> operation: <message>'."""
    rc, out, err = aws(*args, **kw)
    c.ok(rc != 0, "%s: should fail" % what)
    c.ok("An error occurred (%s)" % error in err, "%s: want %s, got %r" % (what, error, err[-400:]))
    if message_part:
        c.ok(message_part in err, "%s: message lacks %r: %r" % (what, message_part, err[-400:]))
    return err


# ---- model constraints through the CLI ------------------------------------------------------
FLEET = "errors-fleet"
ARN = "arn:aws:worklink::%s:fleet/%s" % (ACCOUNT, FLEET)
ok("create fleet", "worklink", "create-fleet", "--fleet-name", FLEET)

fails("pattern", "InvalidRequestException", "FleetName: must match pattern ^[a-z0-9]",
      "worklink", "create-fleet", "--fleet-name", "Bad_Name")
fails("max length", "InvalidRequestException", "FleetName: must have at most 48 characters",
      "worklink", "create-fleet", "--fleet-name", "a" * 49)
fails("display name max length", "InvalidRequestException", "DisplayName: must have at most 100",
      "worklink", "update-fleet-metadata", "--fleet-arn", ARN, "--display-name", "x" * 101)
fails("enum", "InvalidRequestException", "AuthorizationProviderType: must be one of: SAML",
      "worklink", "associate-website-authorization-provider", "--fleet-arn", ARN,
      "--authorization-provider-type", "OIDC")
fails("TagMap > 50", "InvalidRequestException", "Tags: must have at most 50 entries",
      "worklink", "tag-resource", "--resource-arn", ARN, "--tags",
      ",".join("k%d=v" % i for i in range(51)))
fails("aws: tag key", "InvalidRequestException", "tag keys must not start with 'aws:'",
      "worklink", "tag-resource", "--resource-arn", ARN, "--tags", "aws:owner=me")
fails("tag value max", "InvalidRequestException", "must have at most 256 characters",
      "worklink", "tag-resource", "--resource-arn", ARN, "--tags", "k=" + "v" * 257)
fails("vpc pattern", "InvalidRequestException", "VpcId: must match pattern",
      "worklink", "update-company-network-configuration", "--fleet-arn", ARN, "--vpc-id", "vpc-1",
      "--subnet-ids", "subnet-12345678", "--security-group-ids", "sg-12345678")
fails("security groups max 5", "InvalidRequestException",
      "SecurityGroupIds: must have at most 5 items",
      "worklink", "update-company-network-configuration", "--fleet-arn", ARN, "--vpc-id",
      "vpc-12345678", "--subnet-ids", "subnet-12345678", "--security-group-ids",
      *["sg-1234567%d" % i for i in range(6)])
fails("PEM pattern", "InvalidRequestException", "Certificate: must match pattern",
      "worklink", "associate-website-certificate-authority", "--fleet-arn", ARN,
      "--certificate", "hello")
fake_pem = "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % (
    base64.b64encode(b"this is not DER at all, only bytes").decode())
fails("PEM that is not X.509", "InvalidRequestException", None,
      "worklink", "associate-website-certificate-authority", "--fleet-arn", ARN,
      "--certificate", fake_pem)
fails("domain pattern", "InvalidRequestException", "DomainName: must match pattern",
      "worklink", "describe-domain", "--fleet-arn", ARN, "--domain-name", "no..dots")
fails("ACM ARN pattern", "InvalidArnException", "CertificateArn: must match pattern",
      "acm", "describe-certificate", "--certificate-arn", "this-is-not-an-arn-at-all")
rc, _, err = aws("acm", "import-certificate", "--certificate", "fileb://" + creds,
                 "--private-key", "fileb://" + creds)
c.ok(rc != 0 and "An error occurred (" in err, "ACM import of a non-certificate: %r" % err)
fails("not found", "ResourceNotFoundException", None,
      "worklink", "describe-fleet-metadata", "--fleet-arn",
      "arn:aws:worklink::%s:fleet/nope-nope" % ACCOUNT)
fails("already exists", "ResourceAlreadyExistsException", None,
      "worklink", "create-fleet", "--fleet-name", FLEET)

# ---- constraints the CLI checks itself: botocore with parameter validation off ----------------
session = botocore.session.get_session()
loose = session.create_client(
    "worklink", region_name="us-east-1", endpoint_url=ENDPOINT,
    aws_access_key_id=ADMIN[1], aws_secret_access_key=ADMIN[2],
    config=Config(parameter_validation=False, retries={"max_attempts": 0}))


def botocore_error(fn, **kw):
    try:
        fn(**kw)
    except loose.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], \
            e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, None, 200


code, msg, status = botocore_error(loose.list_fleets, MaxResults=0)
c.eq((code, status), ("InvalidRequestException", 400), "MaxResults 0")
c.ok(msg and "MaxResults: must be at least 1" in msg, "MaxResults 0 message: %r" % msg)
code, msg, status = botocore_error(loose.create_fleet)
c.eq((code, status), ("InvalidRequestException", 400), "required FleetName")
c.ok(msg and "FleetName: is required" in msg, "required message: %r" % msg)
code, msg, status = botocore_error(loose.create_fleet, FleetName="")
c.ok(msg and "FleetName: must have at least 1 characters" in msg, "min length: %r" % msg)
code, msg, status = botocore_error(loose.untag_resource, ResourceArn=ARN, TagKeys=[])
c.eq(code, "InvalidRequestException", "empty TagKeys")
code, msg, status = botocore_error(loose.tag_resource, ResourceArn=ARN, Tags={})
c.ok(msg and "Tags: must have at least 1 entries" in msg, "empty TagMap: %r" % msg)
code, msg, status = botocore_error(loose.list_fleets, NextToken="not a token!")
c.eq(code, "InvalidRequestException", "NextToken pattern")

# ---- authentication and authorization -------------------------------------------------------
fails("unknown key", "UnrecognizedClientException", "security token included in the request is "
      "invalid", "worklink", "list-fleets", profile="stranger")
fails("wrong secret", "InvalidSignatureException", "signature we calculated does not match",
      "worklink", "list-fleets", profile="badsecret")
fails("missing signature", "MissingAuthenticationTokenException", None,
      "worklink", "list-fleets", extra=["--no-sign-request"])
fails("read-only principal mutating", "UnauthorizedException", "not authorized",
      "worklink", "create-fleet", "--fleet-name", "viewer-fleet", profile="viewer")
fails("read-only principal tagging", "UnauthorizedException", None,
      "worklink", "tag-resource", "--resource-arn", ARN, "--tags", "a=b", profile="viewer")
out = ok("read-only principal listing", "worklink", "list-fleets", profile="viewer")
c.ok(any(f.get("FleetName") == FLEET for f in out.get("FleetSummaryList", [])),
     "viewer sees the fleet")
ok("read-only principal ListTagsForResource", "worklink", "list-tags-for-resource",
   "--resource-arn", ARN, profile="viewer")
fails("read-only principal on ACM import", "AccessDeniedException", None,
      "acm", "import-certificate", "--certificate", "fileb://" + creds, "--private-key",
      "fileb://" + creds, profile="viewer")
c.eq(rdb.exists("wl:{viewer-fleet}:fleet"), 0, "refused CreateFleet wrote nothing")


def signed(method, path, body=b"", service="worklink", when=None, headers=None, secret=ADMIN[2],
           query=""):
    """A request signed by botocore's SigV4Auth, optionally at another time. Returns raw bytes."""
    url = ENDPOINT + path + ("?" + query if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = botocore.auth.SigV4Auth(Credentials(ADMIN[1], secret), service, "us-east-1")
    if when is not None:
        real = botocore.auth.datetime.datetime

        class Shifted(real):
            @classmethod
            def utcnow(cls):
                return real.utcnow() + when
        botocore.auth.datetime.datetime = Shifted
        try:
            signer.add_auth(req)
        finally:
            botocore.auth.datetime.datetime = real
    else:
        signer.add_auth(req)
    target = path + ("?" + query if query else "")
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, target, port)
    for k, v in req.headers.items():
        head += "%s: %s\r\n" % (k, v if isinstance(v, str) else v.decode())
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def read_response(sock, buf=b""):
    """Reads one HTTP/1.1 response with Content-Length. Returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None, {}, b"", buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def exchange(raw, timeout=10):
    """Sends raw bytes on a new connection; returns (status, headers, body, closed_after)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        status, headers, body, rest = read_response(s)
        closed = False
        try:
            s.settimeout(3)
            closed = rest == b"" and s.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            closed = False
        return status, headers, body, closed


for shift, word in ((datetime.timedelta(minutes=-6), "Signature expired"),
                    (datetime.timedelta(minutes=6), "Signature not yet current")):
    st, h, body, _ = exchange(signed("POST", "/listFleets", b"{}", when=shift))
    c.eq(st, 403, "clock skew %s status" % shift)
    c.eq(h.get("x-amzn-errortype"), "InvalidSignatureException", "clock skew %s type" % shift)
    c.ok(word.encode() in body, "clock skew %s message: %r" % (shift, body))
st, h, body, _ = exchange(signed("POST", "/listFleets", b"{}",
                                 when=datetime.timedelta(minutes=4)))
c.eq(st, 200, "4 minutes of skew is accepted")
st, h, body, _ = exchange(signed("POST", "/listFleets", b"{}", service="acm"))
c.eq((st, h.get("x-amzn-errortype")), (403, "InvalidSignatureException"), "wrong signing name")
raw = signed("POST", "/listFleets", b"{}").replace(b"\r\n\r\n{}", b"\r\n\r\n[]")
st, h, body, _ = exchange(raw)
c.eq((st, h.get("x-amzn-errortype")), (403, "InvalidSignatureException"), "body changed")

# presigned query form (botocore's SigV4QueryAuth)
def presigned(path, expires=60):
    req = AWSRequest(method="GET", url=ENDPOINT + path, data=b"")
    botocore.auth.SigV4QueryAuth(Credentials(ADMIN[1], ADMIN[2]), "worklink", "us-east-1",
                                 expires=expires).add_auth(req)
    return req.url


url = presigned("/tags/" + urllib.request.quote(ARN, safe=""))
with urllib.request.urlopen(url, timeout=10) as r:
    c.eq(r.status, 200, "presigned ListTagsForResource")
    c.ok("Tags" in json.loads(r.read()), "presigned answer has Tags")
try:
    urllib.request.urlopen(url.replace("X-Amz-Expires=60", "X-Amz-Expires=61"), timeout=10)
    c.ok(False, "tampered presigned URL accepted")
except urllib.error.HTTPError as e:
    c.eq((e.code, e.headers.get("x-amzn-ErrorType")), (403, "InvalidSignatureException"),
         "tampered presigned URL")
url = presigned("/tags/" + urllib.request.quote(ARN, safe=""), expires=1)
time.sleep(2.2)
try:
    urllib.request.urlopen(url, timeout=10)
    c.ok(False, "expired presigned URL accepted")
except urllib.error.HTTPError as e:
    c.eq(e.code, 403, "expired presigned URL")
    c.ok(b"expired" in e.read(), "expired presigned URL says so")

# blobs must be base64 (the CLI always encodes them, so send the request by hand)
st, h, body, _ = exchange(signed("POST", "/", b'{"Certificate": "@@@", "PrivateKey": "a2V5"}',
                                 service="acm",
                                 headers={"X-Amz-Target": "CertificateManager.ImportCertificate",
                                          "Content-Type": "application/x-amz-json-1.1"}))
c.eq((st, h.get("x-amzn-errortype")), (400, "InvalidParameterException"), "ACM blob not base64")
c.ok(b"Certificate: must be valid base64" in body, "ACM blob message: %r" % body)

# unknown operation
st, h, body, _ = exchange(signed("POST", "/noSuchOperation", b"{}"))
c.eq((st, h.get("x-amzn-errortype")), (404, "UnknownOperationException"), "unknown path")
st, h, body, _ = exchange(signed("POST", "/", b"{}", service="acm",
                                 headers={"X-Amz-Target": "CertificateManager.RenewCertificate",
                                          "Content-Type": "application/x-amz-json-1.1"}))
c.eq(st, 400, "ACM operation outside the subset")
c.eq(json.loads(body).get("__type"), "UnknownOperationException", "JSON 1.1 error has __type")

# ---- HTTP/1.1 parser: smuggling shapes and limits ---------------------------------------------
smuggling = [
    ("duplicate Content-Length", b"POST /listFleets HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
     b"Content-Length: 2\r\n\r\n{}", 400),
    ("Content-Length with Transfer-Encoding", b"POST /listFleets HTTP/1.1\r\nHost: a\r\n"
     b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding gzip", b"POST /listFleets HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: gzip\r\n\r\n", 501),
    ("space before colon", b"POST /listFleets HTTP/1.1\r\nHost: a\r\nContent-Length : 2\r\n\r\n{}",
     400),
    ("obs-fold", b"POST /listFleets HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
    ("bare LF", b"POST /listFleets HTTP/1.1\nHost: a\n\n", 400),
    ("missing Host", b"POST /listFleets HTTP/1.1\r\n\r\n", 400),
    ("HTTP/2.0 request line", b"POST /listFleets HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("oversized head", b"POST /listFleets HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20000 +
     b"\r\n\r\n", 431),
    ("oversized body", b"POST /listFleets HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n",
     413),
    ("oversized chunked body", b"POST /listFleets HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" + (b"%x\r\n" % 600000 + b"a" * 600000 + b"\r\n") * 2 +
     b"0\r\n\r\n", 413),
]
for what, raw, want in smuggling:
    st, h, body, closed = exchange(raw)
    c.eq(st, want, "%s: status" % what)
    c.ok(closed, "%s: connection closed after the error" % what)

# a valid chunked request is accepted
body = b'{"MaxResults": 5}'
raw = signed("POST", "/listFleets", body).replace(
    b"Content-Length: %d\r\n\r\n" % len(body),
    b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % 5 + body[:5] + b"\r\n" +
    b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\n\r\n")
st, h, out, closed = exchange(raw)
c.eq(st, 200, "chunked request body")

# ---- keep-alive and pipelining --------------------------------------------------------------
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    reqs = [signed("POST", "/listFleets", b"{}"),
            signed("POST", "/describeFleetMetadata",
                   json.dumps({"FleetArn": "arn:aws:worklink::%s:fleet/absent" % ACCOUNT}).encode()),
            signed("POST", "/createFleet", b'{"FleetName": "Nope!"}'),
            signed("POST", "/listFleets", b'{"MaxResults": 1}')]
    s.sendall(b"".join(reqs))  # all four in one write: pipelined
    rest = b""
    got = []
    for _ in reqs:
        st, h, body, rest = read_response(s, rest)
        got.append((st, h.get("x-amzn-errortype")))
    c.eq(got, [(200, None), (404, "ResourceNotFoundException"), (400, "InvalidRequestException"),
               (200, None)], "pipelined answers in request order")
    time.sleep(0.3)
    s.sendall(signed("POST", "/listFleets", b"{}"))
    st, h, body, rest = read_response(s, rest)
    c.eq(st, 200, "same connection kept alive for a later request")
    c.ok(h.get("x-amzn-requestid"), "x-amzn-RequestId header")

# a HEAD answer has no body, so the next answer on the connection starts right after its head
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    s.sendall(b"HEAD /listFleets HTTP/1.1\r\nHost: a\r\n\r\n" +
              signed("POST", "/listFleets", b"{}"))
    buf = b""
    while buf.count(b"\r\n\r\n") < 2:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    first, rest = buf.split(b"\r\n\r\n", 1)
    c.ok(first.startswith(b"HTTP/1.1 404"), "HEAD answered: %r" % first[:40])
    c.ok(rest.startswith(b"HTTP/1.1 200"), "answer after HEAD is framed right: %r" % rest[:40])

# garbage, truncated and mutated requests on many connections do not hurt the server
import random
rng = random.Random(1234)
valid = signed("POST", "/createFleet", b'{"FleetName": "garbage-fleet"}')
for i in range(150):
    kind = i % 3
    if kind == 0:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
    elif kind == 1:
        data = valid[:rng.randrange(1, len(valid))]
    else:
        b = bytearray(valid)
        for _ in range(rng.randrange(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        data = bytes(b)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            while s.recv(65536):
                pass
    except OSError:
        pass
st, h, body, _ = exchange(signed("POST", "/listFleets", b"{}"))
c.eq(st, 200, "server still serves after garbage")
c.eq(rdb.exists("wl:{garbage-fleet}:fleet"), 0, "no mutated request was accepted")

# ---- throttling ------------------------------------------------------------------------------
# through the CLI: 2 calls of burst, then one token every 20 s, so however slow each CLI run is
# (a loaded machine), the 3rd or 4th call finds the bucket empty
slow, slow_port = start_control("--rate-limit", "0.05", "--burst", "2")
slow_ep = "http://127.0.0.1:%d" % slow_port
# four CLI calls at once: a loaded machine makes each CLI start take seconds, so sequential
# calls would see the bucket refill between them
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    results = list(pool.map(lambda _: aws("worklink", "list-fleets", endpoint=slow_ep), range(4)))
throttled = [r for r in results if "An error occurred (TooManyRequestsException)" in r[2]]
c.ok(len(throttled) >= 1, "throttling through the CLI: %r" % [r[2][-200:] for r in results])
c.ok(any(r[0] == 0 for r in results), "calls within the burst succeed")
c.eq(t.stop(slow), 0, "throttled instance exits 0 on SIGTERM")

# in-process client: 1 token per second, burst 2; two processes share the buckets (Redis)
fast_a, fast_a_port = start_control("--rate-limit", "1", "--burst", "2")
fast_b, fast_b_port = start_control("--rate-limit", "1", "--burst", "2")


def viewer_client(p):
    return session.create_client(
        "worklink", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % p,
        aws_access_key_id=VIEWER[1], aws_secret_access_key=VIEWER[2],
        config=Config(retries={"max_attempts": 0}))


def call(cl):
    try:
        cl.list_fleets()
        return 200
    except cl.exceptions.ClientError as e:
        return (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])


ca_, cb_ = viewer_client(fast_a_port), viewer_client(fast_b_port)
call(ca_)  # warm up both clients (connections) before timing matters
call(cb_)
time.sleep(2.2)  # bucket full again
codes = [call(ca_) for _ in range(4)]
other = call(cb_)
c.eq(codes[:2], [200, 200], "burst of 2 allowed")
c.ok((429, "TooManyRequestsException") in codes, "rapid calls get 429: %r" % codes)
c.eq(other, (429, "TooManyRequestsException"), "the other process shares the bucket")
c.ok(rdb.exists("wl:throttle:" + VIEWER[1]) == 1, "bucket kept in wl:throttle:<key>")
c.ok(0 < rdb.pttl("wl:throttle:" + VIEWER[1]) <= 4000, "bucket key expires")
time.sleep(1.3)
c.eq(call(cb_), 200, "bucket refills at the configured rate")
c.eq(t.stop(fast_a), 0, "instance A exits 0")
c.eq(t.stop(fast_b), 0, "instance B exits 0")
c.eq(t.stop(slow), 0, "throttled instance exits 0 on SIGTERM")

# ---- TLS ---------------------------------------------------------------------------------------
ca = t.make_ca(d, "Control CA")
leaf = t.make_cert(d, ca, "localhost", sans=("localhost",))
tls_proc, tls_port = start_control(tls=leaf)
tls_ep = "https://localhost:%d" % tls_port
out = ok("aws over TLS with --ca-bundle", "worklink", "list-fleets", endpoint=tls_ep,
         extra=["--ca-bundle", ca[0]])
c.ok("FleetSummaryList" in out, "TLS list-fleets output")
fails("TLS: errors keep their shape", "InvalidRequestException", "FleetName",
      "worklink", "create-fleet", "--fleet-name", "UPPER", endpoint=tls_ep,
      extra=["--ca-bundle", ca[0]])
p = subprocess.run(["curl", "-sS", "--cacert", ca[0], "-X", "POST", "-d", "{}", "-D", "-",
                    tls_ep + "/listFleets"], capture_output=True, text=True, timeout=30)
c.ok(p.returncode == 0 and "x-amzn-ErrorType: MissingAuthenticationTokenException" in p.stdout,
     "curl over TLS, unsigned: %r %r" % (p.stdout[-300:], p.stderr[-300:]))
p = subprocess.run(["curl", "-sS", "--tls-max", "1.1", "--cacert", ca[0], tls_ep + "/listFleets"],
                   capture_output=True, text=True, timeout=30)
c.ok(p.returncode != 0, "TLS 1.1 refused")
p = subprocess.run(["curl", "-sS", "-X", "POST", tls_ep + "/listFleets"], capture_output=True,
                   text=True, timeout=30)
c.ok(p.returncode != 0, "unknown CA refused by curl")
c.eq(t.stop(tls_proc), 0, "TLS instance exits 0 on SIGTERM")

# ---- CloudTrail -----------------------------------------------------------------------------
ok("ACM import for the trail", "acm", "import-certificate", "--certificate",
   "fileb://" + leaf[0], "--private-key", "fileb://" + leaf[1])
time.sleep(0.2)
events = [json.loads(e[1]["event"]) for e in rdb.xrange("wl:cloudtrail")]
c.ok(len(events) > 20, "events recorded: %d" % len(events))
bad = [e for e in events if e["eventName"] == "CreateFleet" and e.get("errorCode") ==
       "InvalidRequestException"]
c.ok(bad, "failed CreateFleet recorded")
if bad:
    e = bad[0]
    c.eq(e["eventSource"], "worklink.amazonaws.com", "eventSource")
    c.eq(e["userIdentity"]["userName"], "admin", "userIdentity.userName")
    c.eq(e["userIdentity"]["accountId"], ACCOUNT, "userIdentity.accountId")
    c.eq(e["userIdentity"]["accessKeyId"], ADMIN[1], "userIdentity.accessKeyId")
    c.eq(e["sourceIPAddress"], "127.0.0.1", "sourceIPAddress")
    c.ok("aws-cli" in (e.get("userAgent") or ""), "userAgent: %r" % e.get("userAgent"))
    c.eq(e["readOnly"], False, "readOnly of CreateFleet")
    c.eq(e["eventType"], "AwsApiCall", "eventType")
    c.eq(e["awsRegion"], "us-east-1", "awsRegion")
    c.ok(e["requestID"] and e["eventID"] and e["eventTime"].endswith("Z"), "ids and time")
    c.ok(e["requestParameters"].get("FleetName") in ("Bad_Name", "a" * 49, "UPPER", "Nope!"),
         "requestParameters: %r" % e["requestParameters"])
lists = [e for e in events if e["eventName"] == "ListFleets" and not e.get("errorCode")]
c.ok(lists and lists[0]["readOnly"] is True and lists[0]["responseElements"] is None,
     "reads: readOnly true, responseElements null")
creates = [e for e in events if e["eventName"] == "CreateFleet" and not e.get("errorCode")]
c.ok(creates and creates[0]["responseElements"].get("FleetArn") == ARN,
     "writes carry responseElements")
denied = [e for e in events if e.get("errorCode") == "UnauthorizedException"]
c.ok(denied and denied[0]["userIdentity"]["userName"] == "viewer", "denied call recorded")
imports = [e for e in events if e["eventName"] == "ImportCertificate" and not e.get("errorCode")]
c.ok(imports and imports[0]["eventSource"] == "acm.amazonaws.com", "ACM eventSource")
with open(leaf[1], "rb") as f:
    key_b64 = base64.b64encode(f.read()).decode()
trail_text = json.dumps(events)
c.ok(key_b64[:40] not in trail_text and "PRIVATE KEY" not in trail_text,
     "private keys never reach the trail")
if imports:
    c.ok(imports[0]["requestParameters"].get("PrivateKey", "").startswith("redacted:"),
         "PrivateKey redacted: %r" % imports[0]["requestParameters"].get("PrivateKey"))
unknown = [e for e in events if e.get("errorCode") == "UnrecognizedClientException"]
c.ok(unknown and unknown[0]["userIdentity"].get("accessKeyId") == "AKIDNOBODY0000000001",
     "unauthenticated call recorded with the key it named")

# ---- slow clients, idle connections, clients that do not read ----------------------------------
quick, quick_port = start_control("--request-timeout", "1000", "--idle-timeout", "1500")
with socket.create_connection(("127.0.0.1", quick_port), timeout=10) as s:
    s.sendall(b"POST /listFleets HTTP/1.1\r\nHost: a\r\n")  # head never finished
    t0 = time.time()
    st, h, body, rest = read_response(s)
    c.eq(st, 408, "slow request head: 408")
    c.ok(time.time() - t0 < 5, "slow request answered within the request timeout")
    c.eq(s.recv(1), b"", "slow request: connection closed")
with socket.create_connection(("127.0.0.1", quick_port), timeout=10) as s:
    s.sendall(b"POST /listFleets HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n{}")
    st, h, body, rest = read_response(s)
    c.eq(st, 408, "slow request body: 408")
with socket.create_connection(("127.0.0.1", quick_port), timeout=10) as s:
    t0 = time.time()
    c.eq(s.recv(1), b"", "idle connection closed")
    c.ok(1.0 < time.time() - t0 < 6, "after the idle timeout (%.1f s)" % (time.time() - t0))

import threading
N = 3000
one = b"POST /listFleets HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
with socket.create_connection(("127.0.0.1", quick_port), timeout=30) as s:
    sender = threading.Thread(target=lambda: s.sendall(one * N))
    sender.start()
    time.sleep(1.0)  # the client reads nothing for a while: the server must pause, not buffer
    rest = b""
    statuses = []
    for _ in range(N):
        st, h, body, rest = read_response(s, rest)
        if st is None:
            break
        statuses.append(st)
    sender.join(30)
    c.eq(len(statuses), N, "every pipelined request answered after the client starts reading")
    c.ok(all(x == 403 for x in statuses), "all answers are the expected 403")
c.eq(t.stop(quick), 0, "quick instance exits 0")

# ---- bad command lines ---------------------------------------------------------------------
def bad_cli(what, argv, word):
    p = subprocess.run([CONTROL] + argv, capture_output=True, text=True, timeout=20)
    lines = [l for l in p.stderr.strip().split("\n") if l]
    c.ok(p.returncode != 0 and p.stdout == "", "%s: exit %d, stdout %r" % (what, p.returncode,
                                                                       p.stdout))
    c.ok(len(lines) == 1 and word in lines[0], "%s: one-line reason with %r: %r" % (what, word,
                                                                                 p.stderr))


base = ["--listen", "127.0.0.1:%d" % t.free_port(), "--redis", redis_url, "--credentials", creds,
        "--key-file", key_file]
bad_cli("no --redis", base[:2] + base[4:], "--redis")
bad_cli("bad listen", ["--listen", "nowhere"] + base[2:], "--listen")
bad_cli("missing credentials file", base[:4] + ["--credentials", "/nonexistent", "--key-file",
                                                key_file], "--credentials")
bad_cli("bad redis URL", base[:2] + ["--redis", "http://x"] + base[4:], "--redis")
bad_cli("redis unreachable", base[:2] + ["--redis", "redis://127.0.0.1:%d" % t.free_port()] +
        base[4:], "--redis")
bad_cli("tls cert without key", base + ["--tls-cert", leaf[0]], "--tls-key")
bad_cli("unknown option", base + ["--bogus"], "--bogus")
bad_cli("bad rate", base + ["--rate-limit", "fast"], "--rate-limit")
bad_cli("admin port in use", base + ["--admin-listen", "127.0.0.1:%d" % port], "--admin-listen")
bad_cli("api port in use", ["--listen", "127.0.0.1:%d" % port] + base[2:], "--listen")
p = subprocess.run([CONTROL, "--help"], capture_output=True, text=True, timeout=10)
c.ok(p.returncode == 0 and "--listen" in p.stdout and "--redis" in p.stdout, "--help")

# ---- SIGTERM drains ----------------------------------------------------------------------------
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    s.sendall(signed("POST", "/listFleets", b"{}"))
    st, h, body, rest = read_response(s)
    c.eq(st, 200, "idle keep-alive connection before SIGTERM")
    c.eq(t.stop(control), 0, "exit status 0 after SIGTERM")
    s.settimeout(3)
    try:
        c.eq(s.recv(1), b"", "idle connection closed by the drain")
    except (ConnectionResetError, socket.timeout):
        c.ok(False, "idle connection not closed cleanly")
c.done()
