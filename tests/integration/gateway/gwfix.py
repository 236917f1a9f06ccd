"""Fixture for gateway integration tests: Redis written the way control writes it
(docs/redis-schema.md), certificates made by openssl, a real origin, the gateway, curl."""
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid

import redis

import wl_testlib as t

HERE = os.path.dirname(os.path.abspath(__file__))
F = "fleet1"
ACCOUNT = "123456789012"


def seal_binary():
    p = os.path.join(t.BUILD_DIR, "tests", "gw_test_seal")
    if not os.path.exists(p):
        raise FileNotFoundError(p)
    return p


class Env:
    # Give the fleet the loopback company network (tests/lib: LOOPBACK_NETWORK) and the gateway
    # its inventory; without one the gateway reaches no origin (fail closed, issue 6).
    default_network = True

    def __init__(self):
        self.d = t.tmpdir("wlgw-")
        self.redis_proc, self.redis_url = t.start_redis()
        self.r = redis.Redis.from_url(self.redis_url, decode_responses=True)
        self.key_file = t.write_key_file(self.d)
        self.ca = t.make_ca(self.d, "Device Tunnel CA")
        self.r.hset("wl:{%s}:fleet" % F, mapping={
            "name": F, "arn": "arn:aws:worklink::%s:fleet/%s" % (ACCOUNT, F),
            "account": ACCOUNT, "status": "ACTIVE", "display_name": "Test fleet",
            "created": int(time.time() * 1000)})
        if self.default_network:
            self.r.hset("wl:{%s}:fleet" % F, mapping=t.LOOPBACK_FLEET_NETWORK)
        self.r.zadd("wl:fleets", {F: 0})
        self.r.set("wl:{%s}:version" % F, 1)
        self.gw = None
        self.origins = []

    # ---- control-plane writes ----
    def publish(self, kind, op, ident):
        v = self.r.incr("wl:{%s}:version" % F)
        self.r.publish("wl:{%s}:events" % F, json.dumps(
            {"version": v, "kind": kind, "op": op, "id": ident}))
        return v

    def import_cert(self, domain, ec=True):
        crt, key = t.make_cert(self.d, self.ca, domain, ec=ec)
        cid = str(uuid.uuid4())
        arn = "arn:aws:acm:us-east-1:%s:certificate/%s" % (ACCOUNT, cid)
        with open(key, "rb") as f:
            sealed = subprocess.run([seal_binary(), self.key_file, arn], input=f.read(),
                                    capture_output=True, check=True).stdout.decode()
        with open(crt) as f:
            pem = f.read()
        self.r.hset("wl:acm:cert:" + cid, mapping={
            "arn": arn, "account": ACCOUNT, "certificate": pem, "chain": "", "key": sealed,
            "domain": domain, "sans": json.dumps([domain]),
            "key_algorithm": "EC_prime256v1" if ec else "RSA_2048"})
        self.r.zadd("wl:acm:certs", {cid: 0})
        return arn

    def add_domain(self, domain, status="ACTIVE", ec=True, publish=True):
        arn = self.import_cert(domain, ec=ec)
        self.r.hset("wl:{%s}:domain:%s" % (F, domain), mapping={
            "domain_name": domain, "display_name": domain, "status": status, "acm_arn": arn,
            "created": int(time.time() * 1000)})
        self.r.zadd("wl:{%s}:domains" % F, {domain: 0})
        if publish:
            self.publish("domain", "create", domain)

    def set_domain_status(self, domain, status):
        self.r.hset("wl:{%s}:domain:%s" % (F, domain), "status", status)
        return self.publish("domain", "revoke" if status == "INACTIVE" else "restore", domain)

    def new_session(self, user="alice", device=None, ttl_ms=3600_000, idle_ms=600_000,
                    device_status="ACTIVE", last_seen=None):
        token = secrets.token_urlsafe(32)
        sid = hashlib.sha256(token.encode()).hexdigest()
        device = device or "dev-" + secrets.token_hex(4)
        now = int(time.time() * 1000)
        self.r.hset("wl:{%s}:device:%s" % (F, device), mapping={
            "id": device, "status": device_status, "username": user, "manufacturer": "Test",
            "model": "Phone", "os": "iOS", "os_version": "17", "first_accessed": now,
            "last_accessed": now})
        self.r.zadd("wl:{%s}:devices" % F, {device: 0})
        self.r.sadd("wl:{%s}:user:%s:devices" % (F, user), device)
        self.r.hset("wl:{%s}:session:%s" % (F, sid), mapping={
            "username": user, "device_id": device, "created": now, "expires": now + ttl_ms,
            "idle_timeout_ms": idle_ms, "last_seen": last_seen if last_seen else now})
        self.r.sadd("wl:{%s}:user:%s:sessions" % (F, user), sid)
        return token, sid, device

    # ---- processes ----
    def start_origin(self, tls_cert=None):
        port = t.free_port()
        argv = ["/usr/bin/python3", os.path.join(HERE, "origin.py"), str(port)]
        if tls_cert:
            argv += list(tls_cert)
        p = t.start(argv)
        self.origins.append(p)
        return port, p

    def start_gateway(self, extra=(), workers=2, asan=""):
        self.port = t.free_port()
        self.admin_port = t.free_port()
        argv = [t.binary("worklink-gateway"), "--fleet", F, "--listen",
                "127.0.0.1:%d" % self.port, "--admin-listen", "127.0.0.1:%d" % self.admin_port,
                "--redis", self.redis_url, "--key-file", self.key_file,
                "--workers", str(workers)] + list(extra)
        if self.default_network and "--network" not in extra:
            argv += ["--network", t.write_loopback_network(self.d)]
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), asan) if x)
        self.gw = t.start(argv, env=env)
        return self.gw

    def curl(self, domain, path, token=None, bearer=False, html=False, http2=False,
             extra=(), host_header=None, cert=None, timeout=20, out=None):
        """Returns (status, body, curl_exit, stderr, http_version)."""
        url = "https://%s:%d%s" % (domain, self.port, path)
        argv = ["curl", "-sS", "--max-time", str(timeout), "--cacert", self.ca[0], "--resolve",
                "%s:%d:127.0.0.1" % (domain, self.port), "-o", out or "-",
                "-w", "\n%{http_code} %{http_version} %{size_download}"]
        argv.append("--http2" if http2 else "--http1.1")
        if token and bearer:
            argv += ["-H", "Authorization: Bearer " + token]
        elif token:
            argv += ["-H", "Cookie: __Host-wl_session=" + token]
        if html:
            argv += ["-H", "Accept: text/html"]
        if host_header:
            argv += ["-H", "Host: " + host_header]
        if cert:
            argv += ["--cert", cert[0], "--key", cert[1]]
        argv += list(extra)
        argv.append(url)
        p = subprocess.run(argv, capture_output=True, timeout=timeout + 10)
        text = p.stdout.decode(errors="replace")
        body, _, tail = text.rpartition("\n")
        m = re.match(r"(\d+) (\S+)", tail)
        status = int(m.group(1)) if m else 0
        ver = m.group(2) if m else ""
        self.last_size = int(tail.split()[-1]) if m else -1
        return status, body, p.returncode, p.stderr.decode(errors="replace"), ver

    def admin(self, path):
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.admin_port, path),
                                        timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        _, text = self.admin("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class DeviceCA:
    """A device CA run with `openssl ca`, so it can issue expired certificates, revoke, and
    publish a CRL."""

    CNF = """[ca]
default_ca = d
[d]
dir = %(dir)s
database = %(dir)s/index.txt
serial = %(dir)s/serial
new_certs_dir = %(dir)s
certificate = %(dir)s/ca.crt
private_key = %(dir)s/ca.key
default_md = sha256
policy = p
default_crl_days = 30
unique_subject = no
[p]
commonName = supplied
[ext]
extendedKeyUsage = clientAuth
"""

    def __init__(self, parent):
        self.dir = os.path.join(parent, "devca")
        os.makedirs(self.dir)
        t.openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                  os.path.join(self.dir, "ca.key"))
        t.openssl("req", "-x509", "-new", "-key", os.path.join(self.dir, "ca.key"), "-out",
                  os.path.join(self.dir, "ca.crt"), "-days", "30", "-subj", "/CN=Device CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        self.cnf = os.path.join(self.dir, "ca.cnf")
        with open(self.cnf, "w") as f:
            f.write(self.CNF % {"dir": self.dir})

    def issue(self, cn, expired=False):
        key = os.path.join(self.dir, cn + ".key")
        csr = os.path.join(self.dir, cn + ".csr")
        crt = os.path.join(self.dir, cn + ".crt")
        t.openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
        t.openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn)
        dates = ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] if expired \
            else ["-days", "10"]
        t.openssl("ca", "-batch", "-config", self.cnf, "-in", csr, "-out", crt, "-extensions",
                  "ext", *dates)
        return crt, key

    def revoke(self, crt):
        t.openssl("ca", "-config", self.cnf, "-revoke", crt[0])

    def pem_with_crl(self):
        crl = os.path.join(self.dir, "crl.pem")
        t.openssl("ca", "-config", self.cnf, "-gencrl", "-out", crl)
        with open(os.path.join(self.dir, "ca.crt")) as f, open(crl) as g:
            return f.read() + g.read()
