"""Shared helpers for integration tests (run with /usr/bin/python3).

Every process a test starts is tracked by PID and stopped by cleanup(), which runs at exit even
when the test fails. Servers listen on 127.0.0.1 on ports picked here.
"""
import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

_procs = []
_dirs = []
BUILD_DIR = os.environ.get("WL_BUILD_DIR", os.getcwd())


def free_port():
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tmpdir(prefix="wltest-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _dirs.append(d)
    return d


def binary(name):
    """Path of a built program (worklink-control, worklink-gateway) in the build tree."""
    for sub in ("control", "gateway", "."):
        p = os.path.join(BUILD_DIR, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name + " not built under " + BUILD_DIR)


def start(argv, ready="ready", timeout=15, env=None, stderr_path=None):
    """Starts argv; waits until a stdout line equals `ready` (None: don't wait).
    Returns the Popen. stderr goes to stderr_path (or a temp file) for debugging."""
    if stderr_path is None:
        stderr_path = os.path.join(tmpdir("wllog-"), os.path.basename(argv[0]) + ".log")
    errf = open(stderr_path, "wb")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf, env=env)
    p.stderr_path = stderr_path
    _procs.append(p)
    if ready is None:
        return p
    deadline = time.time() + timeout
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.1)
        if r:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if ready.encode() in buf.split(b"\n")[:-1] or buf.strip() == ready.encode():
                return p
        if p.poll() is not None:
            break
    with open(stderr_path, "rb") as f:
        err = f.read().decode(errors="replace")[-4000:]
    raise RuntimeError("%s did not print %r (exit %s): %s" % (argv[0], ready, p.poll(), err))


def stop(p, sig=signal.SIGTERM, timeout=10):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def start_redis(extra=()):
    """A private redis-server on 127.0.0.1:<free port>, no persistence. Returns (proc, url)."""
    port = free_port()
    d = tmpdir("wlredis-")
    p = start(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
               "--appendonly", "no", "--dir", d] + list(extra), ready=None)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return p, "redis://127.0.0.1:%d" % port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def redis_cmd(url, *args):
    """Runs one command with redis-cli against url; returns stdout text."""
    hostport = url[len("redis://"):].split("/")[0]
    host, port = hostport.rsplit(":", 1)
    out = subprocess.run(["redis-cli", "-h", host, "-p", port, "--no-raw"] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=10)
    return out.stdout


# The company network most tests give their fleet: one VPC, one subnet whose source address is
# 127.0.0.1, one security group allowing TCP to all of 127.0.0.0/8. The gateway fails closed
# without a network (issue 6), so a test that wants to reach origins must give it one.
LOOPBACK_NETWORK = {
    "vpcs": [{"id": "vpc-100bac0f"}],
    "subnets": [{"id": "subnet-100bac0f", "vpc": "vpc-100bac0f", "cidr": "127.0.0.0/8",
                 "source_address": "127.0.0.1"}],
    "security_groups": [{"id": "sg-100bac0f", "vpc": "vpc-100bac0f", "egress": [
        {"protocol": "tcp", "from_port": 1, "to_port": 65535, "cidr": "127.0.0.0/8"}]}],
}
# The fleet hash fields that select it, as control's UpdateCompanyNetworkConfiguration stores them.
LOOPBACK_FLEET_NETWORK = {"vpc_id": "vpc-100bac0f", "subnet_ids": '["subnet-100bac0f"]',
                          "security_group_ids": '["sg-100bac0f"]'}


def write_loopback_network(d):
    """Writes LOOPBACK_NETWORK as an inventory file in d; returns its path (for --network)."""
    path = os.path.join(d, "network-loopback.json")
    with open(path, "w") as f:
        json.dump(LOOPBACK_NETWORK, f)
    return path


def stand_in_gateways(url, interval=0.5):
    """For tests of control without a gateway process: beats, the way worklink-gateway does
    (docs/redis-schema.md, wl:{F}:gateways), for every fleet that is CREATING or ACTIVE, so that
    control's reconciler turns new fleets ACTIVE; like a real gateway it stops beating for a
    fleet once it is DELETING. Runs in a daemon thread until the test exits."""
    import threading
    import redis
    r = redis.Redis.from_url(url, decode_responses=True)

    def run():
        while True:
            try:
                now = int(time.time() * 1000)
                for f in r.zrange("wl:fleets", 0, -1):
                    if r.hget("wl:{%s}:fleet" % f, "status") in ("CREATING", "ACTIVE"):
                        r.zadd("wl:{%s}:gateways" % f, {"test-stand-in": now})
            except Exception:
                pass
            time.sleep(interval)
    threading.Thread(target=run, daemon=True).start()


def write_key_file(d):
    path = os.path.join(d, "master.key")
    with open(path, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)
    return path


def openssl(*args, cwd=None):
    subprocess.run(["openssl"] + list(args), check=True, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name="Test CA", ec=True):
    """A self-signed CA in d. Returns (cert_path, key_path)."""
    key = os.path.join(d, name.replace(" ", "_") + ".key")
    crt = os.path.join(d, name.replace(" ", "_") + ".crt")
    if ec:
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    else:
        openssl("genrsa", "-out", key, "2048")
    openssl("req", "-x509", "-new", "-key", key, "-out", crt, "-days", "30", "-subj", "/CN=" + name,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def make_cert(d, ca, cn, sans=(), ec=True, days=30, client=False, not_before=None):
    """A leaf certificate for cn (and DNS sans) signed by ca=(crt,key). Returns (crt, key)."""
    base = os.path.join(d, cn.replace("*", "star").replace(" ", "_"))
    key, csr, crt, ext = base + ".key", base + ".csr", base + ".crt", base + ".ext"
    if ec:
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    else:
        openssl("genrsa", "-out", key, "2048")
    openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn)
    with open(ext, "w") as f:
        names = list(sans) or ([cn] if not client else [])
        if names:
            f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n")
        f.write("extendedKeyUsage=" + ("clientAuth" if client else "serverAuth") + "\n")
    args = ["x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
            "-out", crt, "-days", str(days), "-extfile", ext]
    if not_before:
        args = ["x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
                "-out", crt, "-not_before", not_before, "-days", str(days), "-extfile", ext]
    openssl(*args)
    return crt, key


def write_credentials(d, principals):
    """principals: list of (name, access_key, secret, account, policy). Returns the path."""
    path = os.path.join(d, "credentials")
    with open(path, "w") as f:
        for name, ak, sk, acct, pol in principals:
            f.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    "account_id = %s\npolicy = %s\n\n" % (name, ak, sk, acct, pol))
    return path


def cleanup():
    for p in reversed(_procs):
        try:
            stop(p, timeout=5)
        except Exception:
            pass
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(cleanup)
for _s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_s, lambda *a: sys.exit(1))


class Checker:
    """Counts failed expectations; exit(1) at the end if any failed."""

    def __init__(self):
        self.failures = 0
        self.checks = 0

    def ok(self, cond, what):
        self.checks += 1
        if not cond:
            self.failures += 1
            print("FAIL: " + what, flush=True)
        return cond

    def eq(self, got, want, what):
        return self.ok(got == want, "%s: got %r, want %r" % (what, got, want))

    def done(self):
        print("%d checks, %d failures" % (self.checks, self.failures), flush=True)
        sys.exit(1 if self.failures else 0)
