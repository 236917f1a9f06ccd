"""worklink-control against every kind of Redis location and through Redis trouble: a unix
socket, a Sentinel deployment (the master is asked from the sentinels), a Redis that goes away
(calls fail with InternalServerErrorException, quickly) and comes back (the pool threads
reconnect by themselves), and a SIGHUP that reloads the credentials file."""
import json
import os
import signal
import socket
import subprocess
import time

import wl_testlib as t

ACCOUNT = "123456789012"
ADMIN = ("admin", "AKIDADMIN00000000001", "adminsecret", ACCOUNT, "full")
NEWCOMER = ("newcomer", "AKIDNEWCOMER00000001", "newsecret", ACCOUNT, "full")
c = t.Checker()
d = t.tmpdir()
key_file = t.write_key_file(d)
creds = t.write_credentials(d, [ADMIN])
CONTROL = t.binary("worklink-control")

aws_creds = os.path.join(d, "aws-credentials")
with open(aws_creds, "w") as f:
    f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n" % ADMIN[1:3])
    f.write("[newcomer]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n" % NEWCOMER[1:3])
aws_config = os.path.join(d, "aws-config")
with open(aws_config, "w") as f:
    f.write("[default]\nregion = us-east-1\n[profile newcomer]\nregion = us-east-1\n")
ENV = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=aws_creds, AWS_CONFIG_FILE=aws_config,
           AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1")
for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
    ENV.pop(v, None)


def start_control(redis_url, extra=()):
    port = t.free_port()
    p = t.start([CONTROL, "--listen", "127.0.0.1:%d" % port, "--redis", redis_url,
                 "--credentials", creds, "--key-file", key_file, "--rate-limit", "0",
                 "--fleet-create-delay-ms", "100"] + list(extra))
    return p, "http://127.0.0.1:%d" % port


def http_get(url):
    import urllib.request
    import urllib.error
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_health(url, want, seconds=5):
    deadline = time.time() + seconds
    st = None
    while time.time() < deadline:
        st, _ = http_get(url)
        if st == want:
            return st
        time.sleep(0.1)
    return st


def aws(endpoint, *args, profile=None):
    argv = ["/usr/bin/aws"] + list(args) + ["--endpoint-url", endpoint, "--output", "json"]
    if profile:
        argv += ["--profile", profile]
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=60)
    out = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
    return p.returncode, out, p.stderr


def wait_redis(port):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def redis_on(port, extra=()):
    p = t.start(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                 "--appendonly", "no", "--dir", t.tmpdir("wlredis-")] + list(extra), ready=None)
    c.ok(wait_redis(port), "redis on port %d" % port)
    return p


# ---- unix socket ------------------------------------------------------------------------------
sock = os.path.join(d, "redis.sock")
unix_redis = t.start(["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm",
                      "700", "--save", "", "--appendonly", "no", "--dir", d], ready=None)
for _ in range(100):
    if os.path.exists(sock):
        break
    time.sleep(0.05)
ctl, ep = start_control("unix://" + sock)
rc, out, err = aws(ep, "worklink", "create-fleet", "--fleet-name", "unix-fleet")
c.eq(rc, 0, "create-fleet over a unix socket Redis: %s" % err)
out = subprocess.run(["redis-cli", "-s", sock, "HGET", "wl:{unix-fleet}:fleet", "name"],
                     capture_output=True, text=True).stdout.strip()
c.eq(out, "unix-fleet", "fleet written through the unix socket")
c.eq(t.stop(ctl), 0, "unix instance exits 0")
t.stop(unix_redis)

# ---- Sentinel -------------------------------------------------------------------------------
master_port = t.free_port()
master = redis_on(master_port)
sentinel_port = t.free_port()
sconf = os.path.join(d, "sentinel.conf")
with open(sconf, "w") as f:
    f.write("bind 127.0.0.1\nport %d\ndir %s\nsentinel monitor wlmaster 127.0.0.1 %d 1\n"
            % (sentinel_port, d, master_port))
sentinel = t.start(["redis-server", sconf, "--sentinel"], ready=None)
c.ok(wait_redis(sentinel_port), "sentinel up")
dead_sentinel = t.free_port()  # listed first: control must move on to the next sentinel
ctl, ep = start_control("sentinel://127.0.0.1:%d,127.0.0.1:%d/wlmaster" %
                        (dead_sentinel, sentinel_port))
rc, out, err = aws(ep, "worklink", "create-fleet", "--fleet-name", "sentinel-fleet")
c.eq(rc, 0, "create-fleet through Sentinel: %s" % err)
got = t.redis_cmd("redis://127.0.0.1:%d" % master_port, "HGET", "wl:{sentinel-fleet}:fleet",
                  "name").strip()
c.eq(got, '"sentinel-fleet"', "fleet written on the master the sentinel named")
c.eq(t.stop(ctl), 0, "sentinel instance exits 0")
bad = subprocess.run([CONTROL, "--listen", "127.0.0.1:%d" % t.free_port(), "--redis",
                      "sentinel://127.0.0.1:%d/nosuchmaster" % sentinel_port, "--credentials",
                      creds, "--key-file", key_file], capture_output=True, text=True, timeout=30)
c.ok(bad.returncode != 0 and "nosuchmaster" in bad.stderr,
     "unknown Sentinel master refused at start: %r" % bad.stderr)
t.stop(sentinel)
t.stop(master)

# ---- Redis goes away and comes back -----------------------------------------------------------
rport = t.free_port()
r1 = redis_on(rport)
admin_port = t.free_port()
ctl, ep = start_control("redis://127.0.0.1:%d" % rport,
                        ["--admin-listen", "127.0.0.1:%d" % admin_port])
health = "http://127.0.0.1:%d/healthz" % admin_port
metrics = "http://127.0.0.1:%d/metrics" % admin_port
rc, out, err = aws(ep, "worklink", "list-fleets")
c.eq(rc, 0, "list-fleets with Redis up: %s" % err)
rc, out, err = aws(ep, "worklink", "create-fleet", "--fleet-name", "Bad_Name")
c.eq(wait_health(health, 200), 200, "/healthz 200 while Redis is up")
st, text = http_get(metrics)
c.eq(st, 200, "/metrics answers")
c.ok('worklink_control_answers_total{class="2xx"} 1' in text, "/metrics counts 2xx: %r" % text)
c.ok('worklink_control_refusals_total{reason="invalid_input"} 1' in text,
     "/metrics counts invalid input")
c.ok("worklink_control_redis_up 1" in text, "/metrics redis_up 1")
c.eq(http_get("http://127.0.0.1:%d/other" % admin_port)[0], 404, "admin: unknown path 404")
t.stop(r1)
c.eq(wait_health(health, 503), 503, "/healthz 503 while Redis is down")
c.ok("worklink_control_redis_up 0" in http_get(metrics)[1], "/metrics redis_up 0")
start = time.time()
rc, out, err = aws(ep, "worklink", "list-fleets")
c.ok(rc != 0 and "An error occurred (InternalServerErrorException)" in err,
     "Redis down: InternalServerErrorException: %r" % err[-300:])
c.ok(time.time() - start < 15, "Redis down: the answer comes quickly")
r2 = redis_on(rport)
ok_again = False
for _ in range(5):  # every pool thread reconnects on its next job
    rc, out, err = aws(ep, "worklink", "create-fleet", "--fleet-name", "after-restart")
    if rc == 0:
        ok_again = True
        break
    time.sleep(0.5)
c.ok(ok_again, "calls work again after Redis is back: %r" % err[-300:])
c.eq(wait_health(health, 200), 200, "/healthz 200 again after Redis is back")
for _ in range(6):
    rc, out, err = aws(ep, "worklink", "list-fleets")
    c.eq(rc, 0, "every pool thread has reconnected: %s" % err[-200:])

# ---- SIGHUP reloads the credentials file ------------------------------------------------------
rc, out, err = aws(ep, "worklink", "list-fleets", profile="newcomer")
c.ok("UnrecognizedClientException" in err, "newcomer unknown before the reload")
t.write_credentials(d, [NEWCOMER])  # admin removed, newcomer added
ctl.send_signal(signal.SIGHUP)
time.sleep(0.5)
rc, out, err = aws(ep, "worklink", "list-fleets", profile="newcomer")
c.eq(rc, 0, "newcomer accepted after SIGHUP: %s" % err[-200:])
rc, out, err = aws(ep, "worklink", "list-fleets")
c.ok("UnrecognizedClientException" in err, "removed principal refused after SIGHUP")
with open(creds, "w") as f:
    f.write("[broken]\npolicy = sometimes\n")
ctl.send_signal(signal.SIGHUP)
time.sleep(0.5)
rc, out, err = aws(ep, "worklink", "list-fleets", profile="newcomer")
c.eq(rc, 0, "a broken credentials file is not loaded; the previous principals stay")
c.eq(t.stop(ctl), 0, "exit 0 after SIGTERM")
c.done()
