"""The benchmark harness: the gateway side by side with nginx and HAProxy (see bench/README.md).

Run by bench/run.sh (which installs the tools and builds a Release tree), or directly:
  /usr/bin/python3 bench/bench.py --build-dir build-bench [--quick] [--json F] [--markdown F]

Starts (and stops, by PID, also on failure or Ctrl-C): a fixed origin (nginx, plain HTTP on
loopback, 1 KiB / 64 KiB / 1 MiB files and an HTML page), nginx and HAProxy as TLS-terminating
reverse proxies, and -- when build/gateway/worklink-gateway exists -- Redis, worklink-control
(fleet, ECDSA P-256 certificate imported through its ACM API, domain associated until ACTIVE,
session written into Redis the way the login flow does) and worklink-gateway. All three proxies
use the same ECDSA P-256 certificate and the same number of workers/threads. Each scenario runs
against every target in alternation (A B C A B C ...) for several rounds; medians are printed
as a table with the ratios gateway/nginx and gateway/haproxy and the direct-to-origin ceiling.

Needs root for one thing: wrk takes the TLS server name (SNI) from the URL host, so the bench
domain is added to /etc/hosts (127.0.0.1) for the run and removed again at exit.
"""
import argparse
import hashlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import wl_testlib as t  # noqa: E402

DOMAIN = "bench.worklink.test"
FLEET = "bench"
ACCOUNT = "123456789012"
AK, SK = "AKIDBENCH00000000001", "benchsecret"
PY = "/usr/bin/python3"
CLIENTS = os.path.join(HERE, "clients.py")
LUA = os.path.join(HERE, "report.lua")
HOSTS_MARK = "# worklink-bench"
TICK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc accounting

def _children():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                ppid = int(s[s.rindex(")") + 2:].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError):
                pass
    return kids


def tree(pid):
    """pid and all its descendants (nginx master + workers)."""
    kids = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pids):
    tot = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
            fl = s[s.rindex(")") + 2:].split()
            tot += int(fl[11]) + int(fl[12])  # utime, stime
        except (OSError, ValueError):
            pass
    return tot / TICK


def rss_kib(pids):
    tot = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for ln in f:
                    if ln.startswith("VmRSS:"):
                        tot += int(ln.split()[1])
        except (OSError, ValueError):
            pass
    return tot


# ---------------------------------------------------------------- fixtures

def write_fixtures(d):
    www = os.path.join(d, "www")
    os.makedirs(www)
    for name, size in (("1k", 1024), ("64k", 65536), ("1m", 1 << 20)):
        with open(os.path.join(www, name), "wb") as f:
            f.write(os.urandom(size))
    # An HTML page of about 256 KiB with what the render stage rewrites: links to the associated
    # domain and to outside hosts, scripts, styles, forms, comments and entities.
    parts = ["<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Bench page</title>"
             "<link rel=\"stylesheet\" href=\"https://%s/s.css\">"
             "<script src=\"https://cdn.example.com/app.js\"></script>"
             "<style>body{font-family:sans-serif} .x{color:#333}</style></head><body>\n" % DOMAIN]
    i = 0
    while sum(len(p) for p in parts) < 256 * 1024:
        parts.append(
            "<div class=\"row\" id=\"r%d\"><h2>Section %d &amp; more</h2>"
            "<p>Lorem ipsum dolor sit amet, <a href=\"https://%s/page/%d?x=1&amp;y=2\">inside</a>"
            " and <a href='http://outside.example.org/%d'>outside</a>, <img src=\"/img/%d.png\" "
            "alt=\"image %d\"> <!-- comment %d --> consectetur adipiscing elit.</p>"
            "<form action=\"https://%s/post\" method=\"post\"><input name=\"q%d\" value=\"v\">"
            "</form><script>var a%d = \"<b>\" + %d;</script></div>\n"
            % (i, i, DOMAIN, i, i, i, i, i, DOMAIN, i, i, i))
        i += 1
    parts.append("</body></html>\n")
    html = "".join(parts).encode()
    with open(os.path.join(www, "page.html"), "wb") as f:
        f.write(html)
    import gzip
    with open(os.path.join(www, "page.html.gz"), "wb") as f:
        f.write(gzip.compress(html, 6))
    return www


NGINX_COMMON = """user root;
pid {d}/{name}.pid;
error_log {d}/{name}-error.log warn;
worker_rlimit_nofile 200000;
events {{ worker_connections 60000; }}
"""
NGINX_TEMP = """  client_body_temp_path {d}/{name}-tmp/body;
  proxy_temp_path {d}/{name}-tmp/proxy;
  fastcgi_temp_path {d}/{name}-tmp/fastcgi;
  uwsgi_temp_path {d}/{name}-tmp/uwsgi;
  scgi_temp_path {d}/{name}-tmp/scgi;
"""


def nginx_start(d, name, conf):
    os.makedirs(os.path.join(d, name + "-tmp"), exist_ok=True)
    path = os.path.join(d, name + ".conf")
    with open(path, "w") as f:
        f.write(conf)
    p = t.start(["nginx", "-p", d, "-c", path, "-e", os.path.join(d, name + "-error.log"),
                 "-g", "daemon off;"], ready=None,
                stderr_path=os.path.join(d, name + ".stderr"))
    return p


def wait_port(port, proc, timeout=15):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            err = open(proc.stderr_path, errors="replace").read()[-1500:]
            raise RuntimeError("process exited (%s) before listening on %d: %s"
                               % (proc.poll(), port, err))
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def start_origin(d, www):
    port, h2c = t.free_port(), t.free_port()
    conf = NGINX_COMMON.format(d=d, name="origin").replace("user root;", "user root;\n"
                                                           "worker_processes 1;")
    conf += """http {{
  access_log off;
{temp}  keepalive_requests 100000000;
  keepalive_timeout 600s;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  open_file_cache max=100;
  open_file_cache_valid 600s;
  types {{ text/html html; }}
  default_type application/octet-stream;
  gzip_static on;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    listen 127.0.0.1:{h2c} http2 backlog=4096;
    root {www};
  }}
}}
""".format(temp=NGINX_TEMP.format(d=d, name="origin"), port=port, h2c=h2c, www=www)
    p = nginx_start(d, "origin", conf)
    wait_port(port, p)
    return p, port, h2c


def start_nginx_proxy(d, crt, key, origin_port, workers):
    port = t.free_port()
    conf = NGINX_COMMON.format(d=d, name="nginx") + "worker_processes %d;\n" % workers
    conf += """http {{
  access_log off;
{temp}  keepalive_requests 100000000;
  keepalive_timeout 600s;
  tcp_nodelay on;
  upstream origin {{
    server 127.0.0.1:{origin};
    keepalive 256;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
  }}
  ssl_certificate {crt};
  ssl_certificate_key {key};
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_tickets on;
  ssl_session_cache shared:SSL:20m;
  ssl_session_timeout 1h;
  server {{
    listen 127.0.0.1:{port} ssl http2 backlog=4096;
    server_name {domain};
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffer_size 64k;
      proxy_buffers 32 64k;
      proxy_busy_buffers_size 128k;
      proxy_max_temp_file_size 0;
    }}
  }}
}}
""".format(temp=NGINX_TEMP.format(d=d, name="nginx"), origin=origin_port, crt=crt, key=key,
           port=port, domain=DOMAIN)
    p = nginx_start(d, "nginx", conf)
    wait_port(port, p)
    return p, port


def fd_limit():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def haproxy_maxconn():
    """HAProxy reserves two descriptors per connection (client + server side) and refuses to
    start when RLIMIT_NOFILE cannot hold them."""
    return min(60000, (fd_limit() - 300) // 2)


def start_haproxy(d, crt, key, origin_port, workers):
    port = t.free_port()
    pem = os.path.join(d, "haproxy.pem")
    with open(pem, "w") as f:
        f.write(open(crt).read() + open(key).read())
    conf = """global
  nbthread {w}
  maxconn {maxconn}
  ssl-default-bind-options ssl-min-ver TLSv1.2
  tune.ssl.cachesize 100000
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 600s
  timeout server 600s
  timeout http-request 600s
  timeout http-keep-alive 600s
frontend fe
  bind 127.0.0.1:{port} ssl crt {pem} alpn h2,http/1.1
  default_backend be
backend be
  http-reuse always
  server origin 127.0.0.1:{origin}
""".format(w=workers, port=port, pem=pem, origin=origin_port, maxconn=haproxy_maxconn())
    path = os.path.join(d, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(conf)
    p = t.start(["haproxy", "-db", "-f", path], ready=None,
                stderr_path=os.path.join(d, "haproxy.stderr"))
    wait_port(port, p)
    return p, port


# ---------------------------------------------------------------- control + gateway

NETWORK = {"vpcs": [{"id": "vpc-0000000b"}],
           "subnets": [{"id": "subnet-0000000b", "vpc": "vpc-0000000b", "cidr": "127.0.0.0/8",
                        "source_address": "127.0.0.1"}],
           "security_groups": [{"id": "sg-0000000b", "vpc": "vpc-0000000b", "egress": [
               {"protocol": "tcp", "from_port": 1, "to_port": 65535, "cidr": "127.0.0.0/8"}]}]}


def write_network(d):
    """A network inventory (deploy/network.md) whose one subnet and security group reach the
    loopback origin, so the gateway runs with its egress policy on, as in production."""
    path = os.path.join(d, "network.json")
    with open(path, "w") as f:
        json.dump(NETWORK, f)
    return path


class Control:
    def __init__(self, d, build, redis_url, key_file, network=None):
        import boto3
        import botocore.config
        creds = t.write_credentials(d, [("bench", AK, SK, ACCOUNT, "full")])
        self.port = t.free_port()
        self.proc = t.start([os.path.join(build, "control", "worklink-control"), "--listen",
                             "127.0.0.1:%d" % self.port, "--redis", redis_url, "--credentials",
                             creds, "--key-file", key_file, "--rate-limit", "0",
                             "--fleet-create-delay-ms", "100", "--domain-associate-delay-ms",
                             "100"] + (["--network", network] if network else []),
                            stderr_path=os.path.join(d, "control.log"))
        kw = dict(endpoint_url="http://127.0.0.1:%d" % self.port, region_name="us-east-1",
                  aws_access_key_id=AK, aws_secret_access_key=SK,
                  config=botocore.config.Config(retries={"max_attempts": 1}))
        self.wl = boto3.client("worklink", **kw)
        self.acm = boto3.client("acm", **kw)

    def wait(self, fn, want, timeout=20):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = fn()
            if got == want:
                return
            time.sleep(0.1)
        raise RuntimeError("waited for %s, still %s" % (want, got))


def gateway_help(binary):
    try:
        # detect_leaks=0: a sanitizer build's leak report at exit would lose the buffered text
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        return subprocess.run([binary, "--help"], capture_output=True, text=True,
                              timeout=10, env=env).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def gateway_origin_args(helptext, origin_port):
    """The options that point the bench domain at the origin and tune the gateway like its
    peers (no access log, long keep-alive, room for the idle connections), as far as its --help
    lists them."""
    args = []
    if "--origin" in helptext:
        args += ["--origin", "%s=http://127.0.0.1:%d" % (DOMAIN, origin_port)]
    elif "--resolve" in helptext:
        args += ["--resolve", "%s:127.0.0.1" % DOMAIN]
    # --keepalive-timeout-ms: the HTTP/1.1 wait between requests (75 s by default), raised like
    # nginx's and HAProxy's keep-alive timeouts (600 s) for the idle-connection scenario.
    for opt, val in (("--idle-timeout-ms", "600000"), ("--keepalive-timeout-ms", "600000"),
                     ("--max-conns", "60000"), ("--no-access-log", None)):
        if opt in helptext:
            args += [opt] + ([val] if val else [])
    return args


class Gateway:
    """Redis + worklink-control + worklink-gateway with a fleet, an ACTIVE domain and a session."""

    def __init__(self, d, build, crt, key, origin_port, workers):
        self.binary = os.path.join(build, "gateway", "worklink-gateway")
        self.redis_proc, self.redis_url = t.start_redis()
        key_file = t.write_key_file(d)
        helptext = gateway_help(self.binary)
        network = write_network(d) if "--network" in helptext else None
        self.ctl = Control(d, build, self.redis_url, key_file, network)
        fleet = self.ctl.wl.create_fleet(FleetName=FLEET, DisplayName="bench")
        self.fleet_arn = fleet["FleetArn"]
        # CREATING until the gateway (started below) beats in wl:{F}:gateways
        self.ctl.wait(lambda: self.ctl.wl.describe_fleet_metadata(
            FleetArn=self.fleet_arn)["FleetStatus"] in ("CREATING", "ACTIVE"), True)
        if network:
            self.ctl.wl.update_company_network_configuration(
                FleetArn=self.fleet_arn, VpcId="vpc-0000000b", SubnetIds=["subnet-0000000b"],
                SecurityGroupIds=["sg-0000000b"])
        cert = self.ctl.acm.import_certificate(Certificate=open(crt, "rb").read(),
                                               PrivateKey=open(key, "rb").read())
        self.ctl.wl.associate_domain(FleetArn=self.fleet_arn, DomainName=DOMAIN,
                                     AcmCertificateArn=cert["CertificateArn"],
                                     DisplayName="bench")
        self.domain_status = lambda: self.ctl.wl.describe_domain(
            FleetArn=self.fleet_arn, DomainName=DOMAIN)["DomainStatus"]
        self.ctl.wait(self.domain_status, "ACTIVE")
        self.token = self.new_session("bench-user", "bench-device")
        self.port, self.admin = t.free_port(), t.free_port()
        argv = [self.binary, "--fleet", FLEET, "--listen", "127.0.0.1:%d" % self.port,
                "--admin-listen", "127.0.0.1:%d" % self.admin, "--redis", self.redis_url,
                "--key-file", key_file, "--workers", str(workers)]
        argv += gateway_origin_args(helptext, origin_port)
        if network:
            argv += ["--network", network]
        self.argv = argv
        log("gateway:", " ".join(argv))
        self.proc = t.start(argv, timeout=30, stderr_path=os.path.join(d, "gateway.log"))

    def redis(self, *args):
        return t.redis_cmd(self.redis_url, *args)

    def new_session(self, user, device):
        """Writes a session the way the login flow does (docs/redis-schema.md); returns its
        token."""
        token = secrets.token_urlsafe(32)
        sid = hashlib.sha256(token.encode()).hexdigest()
        now = int(time.time() * 1000)
        exp = now + 24 * 3600 * 1000
        P = "wl:{%s}:" % FLEET
        self.redis("HSET", P + "device:" + device, "id", device, "status", "ACTIVE",
                   "manufacturer", "bench", "model", "bench", "os", "linux", "os_version", "1",
                   "patch_level", "1", "username", user, "first_accessed", now,
                   "last_accessed", now)
        self.redis("ZADD", P + "devices", 0, device)
        self.redis("SADD", P + "user:%s:devices" % user, device)
        self.redis("HSET", P + "session:" + sid, "username", user, "device_id", device,
                   "created", now, "expires", exp, "idle_timeout_ms", 24 * 3600 * 1000,
                   "last_seen", now)
        self.redis("PEXPIREAT", P + "session:" + sid, exp)
        self.redis("SADD", P + "user:%s:sessions" % user, sid)
        return token


# ---------------------------------------------------------------- targets and runners

class Target:
    def __init__(self, name, proc, port, tls=True, h2port=None, extra=()):
        self.name, self.proc, self.port, self.tls = name, proc, port, tls
        self.h2port = h2port if h2port else port
        self.extra = list(extra)  # processes whose CPU counts too (the gateway's Redis)

    def pids(self):
        return tree(self.proc.pid) + [p.pid for p in self.extra]

    def url(self, path):
        if self.tls:
            return "https://%s:%d%s" % (DOMAIN, self.port, path)
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def client_args(self):
        return ["--port", str(self.port)] + ([] if self.tls else ["--plain"])


class Bench:
    def __init__(self, a, env):
        self.a, self.env = a, env

    def measure(self, target, fn):
        """Runs fn() while reading the target's CPU time; returns fn's dict plus cpu_s."""
        pids = target.pids()
        c0 = cpu_seconds(pids)
        r = fn()
        r["cpu_s"] = cpu_seconds(pids) - c0
        return r

    def wrk(self, target, path, headers="", conns=50, duration=None, probe=True):
        duration = duration or self.a.duration
        env = dict(self.env, BENCH_HEADERS=headers)
        pr = None
        if probe:
            pr = subprocess.Popen([PY, CLIENTS, "probe", "--path", "/1k", "--rate", "50",
                                   "--duration", str(max(1, duration - 1))]
                                  + target.client_args(), stdout=subprocess.PIPE, env=env,
                                  text=True)

        def run():
            out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
                                  "-s", LUA, target.url(path)], capture_output=True, text=True,
                                 env=env, timeout=duration + 60)
            js = [ln[5:] for ln in out.stdout.splitlines() if ln.startswith("JSON ")]
            if not js:
                raise RuntimeError("wrk gave no result: %s %s" % (out.stdout, out.stderr))
            return json.loads(js[-1])

        r = self.measure(target, run)
        secs = r["duration_us"] / 1e6
        res = {"rps": r["requests"] / secs, "mbps": r["bytes"] / secs / 1e6,
               "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
               "p999_ms": r["p999_us"] / 1000, "requests": r["requests"],
               "errors": r["errors_connect"] + r["errors_read"] + r["errors_write"]
               + r["errors_status"] + r["errors_timeout"], "cpu_s": r["cpu_s"]}
        res["per_cpu_s"] = r["requests"] / r["cpu_s"] if r["cpu_s"] > 0 else None
        if pr:
            out, _ = pr.communicate(timeout=duration + 30)
            try:
                pj = json.loads(out.strip().splitlines()[-1])
                res["probe_p99_ms"] = pj["p99_ms"]
                res["errors"] += pj["errors"]
            except (ValueError, IndexError):
                res["probe_p99_ms"] = None
        return res

    def h2load(self, target, path):
        dur = self.a.duration
        hdr = ["-H", "Authorization: Bearer %s" % self.env["BENCH_TOKEN"]] \
            if self.env.get("BENCH_TOKEN") else []
        if target.tls:
            argv = ["h2load", "-t1", "-c50", "-m10", "-D", str(dur), "--connect-to",
                    "127.0.0.1:%d" % target.port] + hdr + [target.url(path)]
        else:
            argv = ["h2load", "-t1", "-c50", "-m10", "-D", str(dur)] + hdr + \
                ["http://127.0.0.1:%d%s" % (target.h2port, path)]

        def run():
            out = subprocess.run(argv, capture_output=True, text=True, timeout=dur + 60)
            o = out.stdout
            m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", o)
            m2 = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, "
                           r"(\d+) failed, (\d+) errored", o)
            m3 = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", o)
            m4 = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", o)
            if not (m and m2):
                raise RuntimeError("h2load gave no result: %s %s" % (o[-2000:], out.stderr))
            done = int(m3.group(1)) if m3 else 0
            # "failed" also counts the requests still in flight when -D ends: not an error.
            bad = int(m3.group(3)) + int(m3.group(4)) if m3 else 0
            return {"rps": float(m.group(2)), "requests": done,
                    "errors": int(m2.group(4)) + bad, "mean": m4.group(3) if m4 else None}

        r = self.measure(target, run)
        r["per_cpu_s"] = r["requests"] / r["cpu_s"] if r["cpu_s"] > 0 else None
        r["mean_ms"] = _ms(r.pop("mean"))
        return r

    def handshakes(self, target, resume):
        dur = self.a.duration
        argv = [PY, CLIENTS, "hs", "--duration", str(dur), "--procs", "2"] + \
            target.client_args() + (["--resume"] if resume else [])

        def run():
            out = subprocess.run(argv, capture_output=True, text=True, env=self.env,
                                 timeout=dur + 60)
            return json.loads(out.stdout.strip().splitlines()[-1])

        r = self.measure(target, run)
        ok = r["conns"] - r["errors"]
        res = {"cps": r["conns"] / r["seconds"], "requests": ok, "errors": r["errors"],
               "reused_pct": 100.0 * r["reused"] / r["conns"] if r["conns"] else 0,
               "cpu_s": r["cpu_s"]}
        res["per_cpu_s"] = r["conns"] / r["cpu_s"] if r["cpu_s"] > 0 else None
        if resume and r["conns"] and res["reused_pct"] < 50:
            res["note"] = "only %.0f%% of connections resumed" % res["reused_pct"]
        return res

    def idle(self, target):
        """N idle keep-alive TLS connections (one request each), then the 1 KiB wrk load beside
        them. Reports memory growth per idle connection and the p99 of the active load."""
        n = self.a.idle_conns
        self.wrk(target, "/1k", duration=1, probe=False)  # warm the buffers/pools
        pids = target.pids()
        rss0 = rss_kib(pids)
        # Python's TLS handshakes are slow: two opener processes, half the connections each.
        k = 2
        ps = [subprocess.Popen([PY, CLIENTS, "idle", "--conns", str(n // k + (i < n % k))]
                               + target.client_args(), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env=self.env, text=True)
              for i in range(k)]
        opened = errs = alive = 0
        try:
            for p in ps:
                line = p.stdout.readline().split()
                opened += int(line[1])
                errs += int(line[2])
            time.sleep(0.5)
            rss1 = rss_kib(pids)
            load = self.wrk(target, "/1k")
            for p in ps:
                p.stdin.write("count\n")
                p.stdin.flush()
                alive += int(p.stdout.readline().split()[1])
        finally:
            for p in ps:
                try:
                    p.stdin.write("quit\n")
                    p.stdin.close()
                except OSError:
                    pass
            for p in ps:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        return {"opened": opened, "open_errors": errs, "alive_after_load": alive,
                "kib_per_idle": (rss1 - rss0) / opened if opened else None,
                "rps": load["rps"], "per_cpu_s": load["per_cpu_s"], "p99_ms": load["p99_ms"],
                "p999_ms": load["p999_ms"], "probe_p99_ms": load.get("probe_p99_ms"),
                "errors": load["errors"] + errs + (opened - alive), "requests": load["requests"]}


def _ms(s):
    if not s:
        return None
    m = re.match(r"([\d.]+)(us|ms|s)$", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]


# ---------------------------------------------------------------- revoke

def propagation_trials(gw, bench, target, trials, workers, what):
    """what = "revoke": RevokeDomainAccess through control while wrk loads the gateway (answers
    become 403); what = "signout": SignOutUser of a user of its own (its session's answers stop
    being 200). A probe with 4 connections per worker records when each first sees the change.
    Returns per-trial times in ms from the start of the API call (so they include the API's
    own latency) to the first and to the last probe connection's changed answer."""
    out = []
    for i in range(trials):
        dur = max(3, int(bench.a.duration))
        probe_env = dict(bench.env)
        user = "probe-user-%d" % i
        if what == "signout":
            probe_env["BENCH_TOKEN"] = gw.new_session(user, "probe-device-%d" % i)
        wrk = subprocess.Popen(["wrk", "-t1", "-c20", "-d%ds" % (dur + 4), "-s", LUA,
                                target.url("/1k")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=bench.env)
        pr = subprocess.Popen([PY, CLIENTS, "revoke", "--conns", str(4 * workers),
                               "--timeout", "5"] + target.client_args(),
                              stdout=subprocess.PIPE, env=probe_env, text=True)
        res = {}
        try:
            line = pr.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError("%s probe: %s" % (what, line))
            time.sleep(1)
            t0 = time.time()
            if what == "revoke":
                gw.ctl.wl.revoke_domain_access(FleetArn=gw.fleet_arn, DomainName=DOMAIN)
            else:
                gw.ctl.wl.sign_out_user(FleetArn=gw.fleet_arn, Username=user)
            res = json.loads(pr.stdout.readline())
            pr.wait(timeout=30)
        finally:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
            wrk.terminate()
            wrk.wait()
            if what == "revoke":
                # never let a failing cleanup call replace the exception in flight (SystemExit)
                try:
                    gw.ctl.wl.restore_domain_access(FleetArn=gw.fleet_arn, DomainName=DOMAIN)
                except Exception as e:  # noqa: BLE001
                    log("RestoreDomainAccess failed: %s" % e)
        first = (res["first"] - t0) * 1000 if res.get("first") else None
        last = (res["all"] - t0) * 1000 if res.get("all") else None
        codes = sorted(set(str(x) for x in res.get("status", []) if x))
        out.append({"first_ms": first, "all_ms": last, "status": codes})
        log("%s trial %d: first changed answer (%s) after %s ms, every connection after %s ms"
            % (what, i + 1, "/".join(codes), _fmt(first), _fmt(last)))
        # wait until the domain serves again
        deadline = time.time() + 10
        while time.time() < deadline:
            st = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                 "-H", "Authorization: Bearer " + bench.env["BENCH_TOKEN"],
                                 target.url("/1k")], capture_output=True, text=True).stdout
            if st == "200":
                break
            time.sleep(0.1)
    return out


def propagation(gw, bench, target, a, what, failures):
    try:
        trials = propagation_trials(gw, bench, target, a.revoke_trials, a.workers, what)
    except Exception as e:  # noqa: BLE001
        failures.append("%s: %s" % (what, e))
        return {"error": str(e)[:500]}
    alls = [x["all_ms"] for x in trials]
    firsts = [x["first_ms"] for x in trials if x["first_ms"] is not None]
    if None in alls:
        failures.append("%s: some probe connection never saw the change" % what)
    want = "403" if what == "revoke" else None
    for x in trials:
        if want and x["status"] != [want]:
            failures.append("%s: answers %s instead of %s" % (what, x["status"], want))
    return {"trials": trials, "first_median_ms": statistics.median(firsts) if firsts else None,
            "all_max_ms": max(alls) if alls and None not in alls else None,
            "all_median_ms": statistics.median(alls) if alls and None not in alls else None}


# ---------------------------------------------------------------- audit on

AUDIT_ARN = "arn:aws:kinesis:us-east-1:%s:stream/AmazonWorkLink-bench" % ACCOUNT
AUDIT_KEY = "wl:audit:AmazonWorkLink-bench"  # docs/redis-schema.md: wl:audit:<stream-name>


def audit_phase(gw, bench, target, results, only, a, notes, failures):
    """Turns the fleet's audit stream on, checks that the gateway appends events to it, runs the
    1 KiB HTTP/1.1 and HTTP/2 scenarios again (column gateway+audit), turns it off."""
    if only and not ({"h1_1k", "h2_1k"} & only):
        return
    gw.ctl.wl.update_audit_stream_configuration(FleetArn=gw.fleet_arn, AuditStreamArn=AUDIT_ARN)
    try:
        time.sleep(0.5)
        for _ in range(5):
            subprocess.run(["curl", "-sk", "-o", "/dev/null", "-H", "Authorization: Bearer "
                            + bench.env["BENCH_TOKEN"], target.url("/1k")], timeout=10)
        time.sleep(1)
        n = re.sub(r"\D", "", gw.redis("XLEN", AUDIT_KEY))  # "(integer) 5"
        if not n or int(n) == 0:
            notes.append("audit on: the gateway wrote no event to the stream %s (audit not "
                         "implemented yet?): not measured" % AUDIT_KEY)
            return
        for rnd in range(a.rounds):
            for key, fn in (("h1_1k", lambda: bench.wrk(target, "/1k")),
                            ("h2_1k", lambda: bench.h2load(target, "/1k"))):
                if only and key not in only:
                    continue
                try:
                    r = fn()
                except Exception as e:  # noqa: BLE001
                    r = {"error": str(e)[:500], "errors": 1, "requests": 0}
                results["scenarios"].setdefault(key, {}).setdefault("gateway+audit",
                                                                    []).append(r)
                log("%s round %d gateway+audit: %s" % (key, rnd + 1, json.dumps(r)))
                if r.get("error") or not r.get("requests") or r.get("errors"):
                    failures.append("%s/gateway+audit: %s" % (key, r.get("error") or "errors"))
        n2 = re.sub(r"\D", "", gw.redis("XLEN", AUDIT_KEY))
        notes.append("audit on: %s events in the stream after the audit rounds" % n2)
    finally:
        try:
            gw.ctl.wl.update_audit_stream_configuration(FleetArn=gw.fleet_arn)
        except Exception as e:  # noqa: BLE001 -- keep the exception in flight
            log("turning audit off failed: %s" % e)


# ---------------------------------------------------------------- report

SCENARIOS = [
    # key, title, kind, arg, headline metric
    ("h1_1k", "HTTP/1.1 keep-alive 1 KiB (wrk -t1 -c50)", "wrk", "/1k"),
    ("h1_64k", "HTTP/1.1 keep-alive 64 KiB (wrk -t1 -c50)", "wrk", "/64k"),
    ("h1_1m", "HTTP/1.1 keep-alive 1 MiB (wrk -t1 -c50)", "wrk", "/1m"),
    ("h2_1k", "HTTP/2 1 KiB (h2load -t1 -c50 -m10)", "h2", "/1k"),
    ("tls_full", "New TLS connections, full handshake (2 python clients, 1 req each)", "hs", False),
    ("tls_resumed", "New TLS connections, resumed (ticket)", "hs", True),
    ("html", "HTML page 256 KiB (render stage on the gateway)", "wrk", "/page.html"),
    ("html_gzip", "HTML page, gzip from the origin (re-compression)", "wrk_gz", "/page.html"),
]


def _fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        return ("%%.%df" % nd) % v
    return str(v)


def median_of(rounds, key):
    vals = [r[key] for r in rounds if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def ratio(a, b):
    return a / b if (a is not None and b) else None


METRICS = {
    "wrk": [("rps", "req/s"), ("per_cpu_s", "req per proxy CPU-s"), ("p50_ms", "p50 ms"),
            ("p99_ms", "p99 ms"), ("p999_ms", "p99.9 ms"), ("probe_p99_ms", "probe p99 ms")],
    "h2": [("rps", "req/s"), ("per_cpu_s", "req per proxy CPU-s"), ("mean_ms", "mean ms")],
    "hs": [("cps", "conn/s"), ("per_cpu_s", "handshakes per proxy CPU-s"),
           ("reused_pct", "% resumed")],
    "idle": [("opened", "idle conns open"), ("kib_per_idle", "KiB RSS per idle conn"),
             ("alive_after_load", "still open after load"), ("rps", "req/s beside them"),
             ("per_cpu_s", "req per proxy CPU-s"), ("p99_ms", "p99 ms"),
             ("p999_ms", "p99.9 ms"), ("probe_p99_ms", "probe p99 ms")],
}
METRICS["wrk_gz"] = [("rps", "req/s"), ("mbps", "MB/s"), ("per_cpu_s", "req per proxy CPU-s"),
                     ("p99_ms", "p99 ms")]
METRICS["wrk_html"] = METRICS["wrk_gz"]
LOWER_BETTER = {"p50_ms", "p99_ms", "p999_ms", "probe_p99_ms", "mean_ms", "kib_per_idle"}


def build_table(results, names):
    """rows: (scenario title, metric label, {target: median}, ratio gw/nginx, ratio gw/haproxy)"""
    rows = []
    for key, title, kind in results["order"]:
        per = results["scenarios"].get(key, {})
        mk = "wrk_html" if key == "html" else kind
        for m, label in METRICS[mk]:
            vals = {n: median_of(per.get(n, []), m) for n in names}
            g = vals.get("gateway")
            rows.append((title, label, vals, ratio(g, vals.get("nginx")),
                         ratio(g, vals.get("haproxy"))))
    return rows


def render_text(rows, names):
    w = [max(len(r[0]) for r in rows) if rows else 10, 26] + [11] * (len(names) + 2)
    hdr = ["scenario", "metric"] + names + ["gw/nginx", "gw/haproxy"]
    lines = ["  ".join(h.ljust(w[i]) for i, h in enumerate(hdr))]
    last = None
    for title, label, vals, r1, r2 in rows:
        cells = [title if title != last else "", label] + [_fmt(vals.get(n)) for n in names] + \
            [_fmt(r1, 2), _fmt(r2, 2)]
        last = title
        lines.append("  ".join(c.ljust(w[i]) for i, c in enumerate(cells)))
    return "\n".join(lines)


def propagation_text(prop):
    out = []
    for what, title in (("revoke", "RevokeDomainAccess -> 403"),
                        ("signout", "SignOutUser -> session refused")):
        r = (prop or {}).get(what)
        if not r:
            continue
        if r.get("error"):
            out.append("%s under load: failed: %s" % (title, r["error"]))
            continue
        out.append("%s under load, %d trials, ms from the API call's start: first probe "
                   "connection median %s; every probe connection (4 per worker) median %s, "
                   "max %s" % (title, len(r["trials"]), _fmt(r["first_median_ms"]),
                               _fmt(r["all_median_ms"]), _fmt(r["all_max_ms"])))
    return out


def targets_table(r):
    """The targets of issue 8, judged from one run's medians: Markdown table lines (empty when
    the gateway or a peer was not measured)."""
    res = r["results"]
    try:
        def med(sc, tg, m):
            v = [x.get(m) for x in res.get(sc, {}).get(tg, []) if x.get(m) is not None]
            return statistics.median(v) if v else None
        lines = []
        for sc, title in (("h1_1k", "HTTP/1.1 1 KiB"), ("h1_64k", "HTTP/1.1 64 KiB"), ("h1_1m", "HTTP/1.1 1 MiB"), ("h2_1k", "HTTP/2 1 KiB")):
            n, h, g = (med(sc, t, "per_cpu_s") for t in ("nginx", "haproxy", "gateway"))
            best = max(n, h)
            line = "| %s: req per CPU-s >= best peer | %.0f vs %.0f (%s) | %.2f | %s |" % (title, g, best, "nginx" if n >= h else "HAProxy", g / best, "met" if g >= best else "missed by %.0f %%" % (100 * (1 - g / best)))
            lines.append(line)
            if sc != "h2_1k":
                n, h, g = (med(sc, t, "p99_ms") for t in ("nginx", "haproxy", "gateway"))
                best = min(n, h)
                lines.append("| %s: p99 <= best peer | %.1f ms vs %.1f ms | %.2f | %s |" % (title, g, best, g / best, "met" if g <= best else "missed (%.2fx)" % (g / best)))
            else:
                n, h, g = (med(sc, t, "mean_ms") for t in ("nginx", "haproxy", "gateway"))
                best = min(n, h)
                lines.append("| %s: mean latency (h2load has no p99) <= best peer | %.1f ms vs %.1f ms | %.2f | %s |" % (title, g, best, g / best, "met" if g <= best else "missed (%.2fx)" % (g / best)))
        for sc, title in (("tls_full", "full TLS handshakes"), ("tls_resumed", "resumed TLS handshakes")):
            n, h, g = (med(sc, t, "per_cpu_s") for t in ("nginx", "haproxy", "gateway"))
            best = max(n, h)
            lines.append("| %s per CPU-s >= 0.95 x best | %.0f vs %.0f | %.2f | %s |" % (title, g, best, g / best, "met" if g >= 0.95 * best else "missed by %.0f %%" % (100 * (0.95 - g / best) / 0.95)))
        n, h, g = (med("idle", t, "kib_per_idle") for t in ("nginx", "haproxy", "gateway"))
        best = min(n, h)
        lines.append("| memory per idle TLS connection <= best | %.1f KiB vs %.1f KiB | %.2f | %s |" % (g, best, g / best, "met" if g <= best else "missed by %.1f KiB" % (g - best)))
        al = [x for x in res.get("idle", {}).get("gateway", [{}])]
        lines.append("| idle connections kept through the load | %s of %s | | %s |" % (al[0].get("alive_after_load"), al[0].get("opened"), "met" if al[0].get("alive_after_load") == al[0].get("opened") else "missed"))
        for w in ("revoke", "signout"):
            p = (r.get("revoke") or {}).get(w) or {}
            if p.get("all_max_ms") is not None:
                lines.append("| %s enforced on every worker within 100 ms (p99 = max of %d trials) | %.1f ms | | %s |" % ("Revoke" if w == "revoke" else "Sign-out", len(p["trials"]), p["all_max_ms"], "met" if p["all_max_ms"] <= 100 else "missed"))
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError):
        return []
    return ["| target | gateway vs best peer (medians) | ratio | verdict |",
            "|---|---|---:|---|"] + lines


def render_markdown(rows, names, meta):
    m = meta["machine"]
    out = ["Run %s; %s; %d round(s) x %d s per measurement; %d workers/threads per proxy."
           % (m["date"], "--quick" if meta["quick"] else "full run", meta["rounds"],
              meta["duration_s"], meta["workers"]),
           "", "Machine: `nproc` = %d, %s, kernel %s; %s; %s; %s. Load average (1 min) at "
           "the start %.1f, at the end %.1f (anything above ~1.5 means other work shared the "
           "CPUs)." % (m["nproc"], m["mem"], m["kernel"], m["nginx"], m["haproxy"],
                       m["openssl"], m["loadavg_start"], m.get("loadavg_end", -1)),
           "", "```", "\n".join(m["lscpu"]), "```", ""]
    out += ["| scenario | metric | " + " | ".join(names) + " | gw/nginx | gw/haproxy |",
           "|---|---|" + "---:|" * (len(names) + 2)]
    last = None
    for title, label, vals, r1, r2 in rows:
        out.append("| %s | %s | %s | %s | %s |" % (
            title if title != last else "", label,
            " | ".join(_fmt(vals.get(n)) for n in names), _fmt(r1, 2), _fmt(r2, 2)))
        last = title
    out.append("")
    for n in meta.get("notes", []):
        out.append("- " + n)
    return "\n".join(out) + "\n"


def render_check(gw, direct, env, d):
    """Says whether the gateway really rewrote the HTML page (else the html rows measure a
    pass-through)."""
    outs = []
    for tg, name in ((gw, "gw.html"), (direct, "origin.html")):
        path = os.path.join(d, name)
        subprocess.run(["curl", "-sk", "-o", path, "-H", "Authorization: Bearer "
                        + env.get("BENCH_TOKEN", "x"), tg.url("/page.html")], timeout=30)
        outs.append(open(path, "rb").read() if os.path.exists(path) else b"")
    if outs[0] == outs[1]:
        return ("render stage: the gateway returned the HTML page byte for byte as the origin "
                "sent it (pass-through): the html rows measure no rewriting")
    return ("render stage: the gateway rewrote the HTML page (%d bytes in, %d out)"
            % (len(outs[1]), len(outs[0])))


# ---------------------------------------------------------------- main

class Hosts:
    """Adds `127.0.0.1 DOMAIN` to /etc/hosts for the run (wrk takes SNI from the URL host).

    Each run adds its own line, tagged with its PID, and removes only that line at exit: runs
    that overlap (two benches, or a bench beside CI's bench_quick) never take the name away
    from each other. Lines of runs that were killed (their PID is gone) are removed too."""

    def __init__(self):
        self.tag = "%s %d" % (HOSTS_MARK, os.getpid())
        self._rewrite(lambda ln: not self._stale(ln))
        with open("/etc/hosts") as f:
            txt = f.read()
        with open("/etc/hosts", "a") as f:
            f.write("%s127.0.0.1 %s %s\n" % ("" if txt.endswith("\n") or not txt else "\n",
                                             DOMAIN, self.tag))
        self.added = True

    @staticmethod
    def _stale(ln):
        m = re.search(r"%s (\d+)\s*$" % re.escape(HOSTS_MARK), ln)
        if not m:
            return HOSTS_MARK in ln  # an untagged line of an older harness
        return not os.path.exists("/proc/%s" % m.group(1))

    @staticmethod
    def _rewrite(keep):
        with open("/etc/hosts") as f:
            lines = f.readlines()
        kept = [ln for ln in lines if keep(ln)]
        if kept != lines:
            with open("/etc/hosts", "w") as f:
                f.writelines(kept)

    def remove(self):
        if not self.added:
            return
        self._rewrite(lambda ln: not ln.rstrip().endswith(self.tag))
        self.added = False


def _signals(hosts):
    """SIGINT/SIGTERM: the first unwinds (SystemExit: finally blocks, then wl_testlib stops
    every process by PID at exit); a second one cleans up at once and exits."""
    seen = []

    def on_signal(signum, frame):
        if seen:
            hosts.remove()
            t.cleanup()
            os._exit(128 + signum)
        seen.append(signum)
        log("signal %d: stopping everything started" % signum)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
    mem = open("/proc/meminfo").readline().strip()
    return {"nproc": os.cpu_count(), "lscpu": lscpu, "loadavg_start": os.getloadavg()[0], "mem": mem, "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "nginx": subprocess.run(["nginx", "-v"], capture_output=True,
                                    text=True).stderr.strip(),
            "haproxy": subprocess.run(["haproxy", "-v"], capture_output=True,
                                      text=True).stdout.splitlines()[0],
            "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                      text=True).stdout.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.environ.get("WL_BUILD_DIR",
                                                          os.path.join(SRC, "build-bench")))
    ap.add_argument("--quick", action="store_true", help="one short round: CI smoke test")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4, help="seconds per measurement")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--idle-conns", type=int, default=10000)
    ap.add_argument("--revoke-trials", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated scenario keys")
    ap.add_argument("--no-gateway", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.duration, a.idle_conns, a.revoke_trials = 1, 2, 300, 1
    if os.geteuid() != 0:
        sys.exit("bench.py: needs root (it adds %s to /etc/hosts for wrk's SNI)" % DOMAIN)
    for tool in ("wrk", "h2load", "nginx", "haproxy", "redis-server", "redis-cli", "openssl",
                 "curl"):
        if not shutil.which(tool):
            sys.exit("bench.py: %s not found (bench/run.sh installs it)" % tool)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200000, 200000))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cap = haproxy_maxconn() - 200
    if a.idle_conns > cap:
        log("idle connections: %d instead of %d (RLIMIT_NOFILE hard limit %d; HAProxy needs two "
            "descriptors per connection)" % (cap, a.idle_conns, fd_limit()))
        a.idle_conns = cap
    hosts = Hosts()
    _signals(hosts)
    try:
        return run(a)
    finally:
        hosts.remove()


def run(a):
    d = t.tmpdir("wlbench-")
    os.chmod(d, 0o755)
    notes = []
    meta = {"machine": machine(), "quick": a.quick, "rounds": a.rounds, "duration_s": a.duration,
            "workers": a.workers, "notes": notes}
    ca = t.make_ca(d, "Bench CA")
    crt, key = t.make_cert(d, ca, DOMAIN)
    www = write_fixtures(d)
    env = dict(os.environ)
    origin, oport, oh2c = start_origin(d, www)
    log("origin on", oport, "(h2c", oh2c, ")")
    targets = [Target("direct", origin, oport, tls=False, h2port=oh2c)]
    np_, nport = start_nginx_proxy(d, crt, key, oport, a.workers)
    targets.append(Target("nginx", np_, nport))
    hp, hport = start_haproxy(d, crt, key, oport, a.workers)
    targets.append(Target("haproxy", hp, hport))
    log("nginx on", nport, "haproxy on", hport, "workers", a.workers)
    gw = None
    gwbin = os.path.join(a.build_dir, "gateway", "worklink-gateway")
    if a.no_gateway:
        notes.append("gateway: skipped (--no-gateway)")
    elif not os.path.exists(gwbin):
        notes.append("gateway: not measured, %s does not exist" % gwbin)
    else:
        try:
            gw = Gateway(d, a.build_dir, crt, key, oport, a.workers)
            env["BENCH_TOKEN"] = gw.token
            targets.append(Target("gateway", gw.proc, gw.port, extra=[gw.redis_proc]))
            log("gateway on", gw.port)
        except Exception as e:  # noqa: BLE001 -- report and carry on with the peers
            notes.append("gateway: failed to start: %s" % str(e).splitlines()[0][:300])
            log("gateway failed to start:", e)
            gw = None
    if a.quick and gw is None and not a.no_gateway and os.path.exists(gwbin):
        log("FAIL: the gateway exists but did not start")
        return 1
    names = [tg.name for tg in targets]
    bench = Bench(a, env)
    # smoke: every target answers 200 on /1k
    for tg in targets:
        st = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                             "Authorization: Bearer " + env.get("BENCH_TOKEN", "x"),
                             tg.url("/1k")], capture_output=True, text=True).stdout
        if st != "200":
            log("FAIL: %s answers %s on /1k" % (tg.name, st))
            errlog = getattr(tg.proc, "stderr_path", None)
            if errlog and os.path.exists(errlog):
                log("%s log (tail):\n%s" % (tg.name, open(errlog, errors="replace").read()[-2000:]))
            if tg.name == "gateway":
                notes.append("gateway: answers %s on /1k (see %s)" % (st, os.path.join(
                    d, "gateway.log")))
                if a.quick:
                    return 1
                targets.remove(tg)
            else:
                return 1
    gwt = [tg for tg in targets if tg.name == "gateway"]
    if gwt:
        notes.append(render_check(gwt[0], targets[0], env, d))
    only = set(x for x in a.only.split(",") if x)
    results = {"meta": meta, "order": [], "scenarios": {}}
    failures = []
    for key, title, kind, arg in SCENARIOS:
        if only and key not in only:
            continue
        results["order"].append((key, title, kind))
        per = results["scenarios"].setdefault(key, {})
        for rnd in range(a.rounds):
            for tg in targets:
                if kind == "hs" and not tg.tls:
                    continue
                if kind == "wrk_gz" and tg.name == "direct":
                    continue
                try:
                    if kind == "wrk":
                        r = bench.wrk(tg, arg)
                    elif kind == "wrk_gz":
                        r = bench.wrk(tg, arg, headers="Accept-Encoding: gzip")
                    elif kind == "h2":
                        r = bench.h2load(tg, arg)
                    else:
                        r = bench.handshakes(tg, arg)
                except Exception as e:  # noqa: BLE001 -- recorded as a failure of the scenario
                    r = {"error": str(e)[:500], "errors": 1, "requests": 0}
                per.setdefault(tg.name, []).append(r)
                log("%s round %d %s: %s" % (key, rnd + 1, tg.name, json.dumps(
                    {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()})))
                if r.get("error") or not r.get("requests") or r.get("errors"):
                    failures.append("%s/%s: %s" % (key, tg.name, r.get("error") or
                                                   "%s errors, %s ok" % (r.get("errors"),
                                                                         r.get("requests"))))
    if not only or "idle" in only:
        key = "idle"
        title = "%d idle TLS connections + 1 KiB load" % a.idle_conns
        results["order"].append((key, title, "idle"))
        per = results["scenarios"].setdefault(key, {})
        for tg in targets:
            if not tg.tls:
                continue
            try:
                r = bench.idle(tg)
            except Exception as e:  # noqa: BLE001
                r = {"error": str(e)[:500], "errors": 1, "requests": 0}
            per.setdefault(tg.name, []).append(r)
            log("idle %s: %s" % (tg.name, json.dumps(r)))
            if r.get("error") or r.get("errors"):
                failures.append("idle/%s: %s" % (tg.name, r.get("error") or
                                                 "%s errors" % r.get("errors")))
    revoke = {}
    if gw is not None and gwt and (not only or "revoke" in only):
        revoke["revoke"] = propagation(gw, bench, gwt[0], a, "revoke", failures)
        revoke["signout"] = propagation(gw, bench, gwt[0], a, "signout", failures)
    elif gw is None:
        notes.append("revoke propagation: needs the gateway; not measured")
    results["revoke"] = revoke
    if gw is not None and "gateway" in [tg.name for tg in targets]:
        audit_phase(gw, bench, [tg for tg in targets if tg.name == "gateway"][0], results,
                    only, a, notes, failures)
        if results["scenarios"].get("h1_1k", {}).get("gateway+audit"):
            names.append("gateway+audit")
    meta["machine"]["loadavg_end"] = os.getloadavg()[0]
    rows = build_table(results, names)
    print()
    print(render_text(rows, names))
    prop_lines = propagation_text(revoke)
    for ln in prop_lines:
        print(ln)
    for n in notes:
        print("note:", n)
    report = {"meta": meta, "results": results["scenarios"], "revoke": revoke,
              "table": [{"scenario": r[0], "metric": r[1], "values": r[2],
                         "gw_over_nginx": r[3], "gw_over_haproxy": r[4]} for r in rows],
              "failures": failures}
    tt = targets_table(report) if "gateway" in names else []
    if tt:
        print()
        print("\n".join(tt))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    if a.markdown:
        md = render_markdown(rows, names, meta)
        if prop_lines:
            md += "\n" + "\n".join("- " + ln for ln in prop_lines) + "\n"
        if tt:
            md += "\nTargets of issue 8 in this run:\n\n" + "\n".join(tt) + "\n"
        with open(a.markdown, "w") as f:
            f.write(md)
    if failures:
        print("\nFAILURES:")
        for f_ in failures:
            print("  " + f_)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
