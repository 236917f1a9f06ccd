"""Device audit stream end to end: UpdateAuditStreamConfiguration through the AWS CLI, then one
complete event per device request in the Redis Stream named after the ARN (checked field by
field against what each request was); Redis holding writes (CLIENT PAUSE WRITE) or killed
during traffic loses no event up to the queue bound (--audit-queue), drops beyond it are counted
in /metrics and logged; removing the configuration stops the events."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wl_testlib as t  # noqa: E402

# Redis with an fsync'ed append-only file in a directory we know, so that it can be killed and
# started again on the same port without losing the fleet (a real outage, not a flush).
REDIS_DIR = t.tmpdir("wlredis-aof-")
_orig_start_redis = t.start_redis


def _start_redis(extra=()):
    return _orig_start_redis(["--appendonly", "yes", "--appendfsync", "always", "--dir",
                              REDIS_DIR] + list(extra))


t.start_redis = _start_redis
import netfix  # noqa: E402
from netfix import wait_for  # noqa: E402

c = t.Checker()
e = netfix.Env()
STREAM_ARN = "arn:aws:kinesis:us-east-1:%s:stream/AmazonWorkLink-audit-test" % netfix.ACCOUNT
KEY = "wl:audit:AmazonWorkLink-audit-test"
QUEUE = 50

port, _ = e.start_ep("127.20.0.7")
bad_port, bad_log = e.start_ep("127.30.0.7")
e.add_domain("wiki.example.com")
e.add_domain("secret.example.com")
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000a"])
c.ok(good, "network configured: %s" % err.strip()[-200:])
gw_log = os.path.join(e.d, "gateway.log")
e.start_gateway(["--network", e.inventory, "--audit-queue", str(QUEUE), "--audit-maxlen", "100000",
                 "--session-cache-ms", "120000", "--stale-ms", "120000",
                 "--origin", "wiki.example.com=http://127.20.0.7:%d" % port,
                 "--origin", "secret.example.com=http://127.30.0.7:%d" % bad_port], workers=1)
tok, sid, dev = e.new_session(user="alice")


def events(after="-"):
    out = []
    for _id, fields in e.r.xrange(KEY, min=after):
        if _id == after:
            continue
        out.append((_id, json.loads(fields["event"])))
    return out


def last_id():
    x = e.r.xrevrange(KEY, count=1)
    return x[0][0] if x else "0-0"


st, *_ = e.curl("wiki.example.com", "/before", token=tok)
c.ok(st == 200, "served before the audit stream is configured (%d)" % st)
c.ok(e.r.exists(KEY) == 0, "no audit configured: no events")

# ---- configure through the AWS CLI ----
good, _, err = e.aws("update-audit-stream-configuration", "--fleet-arn", netfix.FLEET_ARN,
                     "--audit-stream-arn", STREAM_ARN)
c.ok(good, "UpdateAuditStreamConfiguration: %s" % err.strip()[-200:])
good, out, _ = e.aws("describe-audit-stream-configuration", "--fleet-arn", netfix.FLEET_ARN)
c.ok(good and out.get("AuditStreamArn") == STREAM_ARN, "Describe returns the ARN: %s" % out)


def probe():
    e.curl("wiki.example.com", "/probe", token=tok)
    return any(ev["path"] == "/probe" for _, ev in events())


c.ok(wait_for(probe, timeout=10, step=0.2), "events appear after the configuration change")

# ---- every request of a run, complete ----
start = last_id()
sent = []  # (path, status, http2, token?)
for i in range(12):
    path = "/page/%d" % i
    h2 = i % 2 == 1
    st, body, *_ = e.curl("wiki.example.com", path + "?ticket=secret%d" % i, token=tok, http2=h2)
    sent.append({"path": path, "status": st, "domain": "wiki.example.com", "user": "alice",
                 "device_id": dev, "protocol": "h2" if h2 else "http/1.1"})
st, body, *_ = e.curl("secret.example.com", "/forbidden", token=tok)
sent.append({"path": "/forbidden", "status": st, "domain": "secret.example.com", "user": "alice",
             "device_id": dev, "protocol": "http/1.1"})
c.ok(st == 502, "forbidden origin: 502 (%d)" % st)
st, body, *_ = e.curl("wiki.example.com", "/anonymous")
sent.append({"path": "/anonymous", "status": st, "domain": "wiki.example.com", "user": None,
             "device_id": None, "protocol": "http/1.1"})
got = wait_for(lambda: len(events(start)) >= len(sent) and events(start), timeout=10)
evs = [ev for _, ev in events(start)]
c.ok(len(evs) == len(sent), "one event per request: %d events for %d requests" % (
    len(evs), len(sent)))
FIELDS = {"time", "fleet", "user", "device_id", "domain", "method", "path", "status", "bytes_in",
          "bytes_out", "latency_ms", "client", "protocol", "request_id", "version"}
now_ms = time.time() * 1000
for want, ev in zip(sent, evs):
    c.ok(FIELDS <= set(ev), "event has every field: missing %s" % (FIELDS - set(ev)))
    for k in ("path", "status", "domain", "user", "device_id", "protocol"):
        c.eq(ev.get(k), want[k], "event %s %s" % (want["path"], k))
    c.eq(ev.get("fleet"), netfix.F, "event fleet")
    c.eq(ev.get("method"), "GET", "event method")
    c.eq(ev.get("client"), "127.0.0.1", "event client address")
    c.ok(abs(ev.get("time", 0) - now_ms) < 120000, "event time is now-ish: %s" % ev.get("time"))
    c.ok(isinstance(ev.get("latency_ms"), (int, float)) and ev["latency_ms"] >= 0,
         "latency recorded")
    c.ok(ev.get("bytes_in", 0) > 0 and ev.get("bytes_out", 0) > 0, "bytes in/out recorded: %s/%s"
         % (ev.get("bytes_in"), ev.get("bytes_out")))
    c.ok("secret" not in json.dumps(ev) or want["path"] == "/forbidden",
         "query strings (login tickets) are never recorded")
c.ok("egress_denied" in evs[-2] and "security groups" in evs[-2]["egress_denied"],
     "the refused origin's event says why: %s" % evs[-2].get("egress_denied"))
c.ok(e.metric("worklink_gateway_audit_events_total") >= len(sent), "written events counted")
c.ok(e.metric("worklink_gateway_audit_dropped_total") == 0, "nothing dropped so far")


def warm():
    """The device path needs no Redis while the session is in the worker's cache: make sure it
    is (any change-feed event empties the caches)."""
    for _ in range(3):
        e.curl("wiki.example.com", "/warm", token=tok)
    time.sleep(0.2)
    e.curl("wiki.example.com", "/warm", token=tok)


def run(prefix, n, need_ok=True):
    """n requests; with need_ok each must be served (else only answered: Redis may be down)."""
    paths = []
    for i in range(n):
        p = "/%s/%d" % (prefix, i)
        st, *_ = e.curl("wiki.example.com", p, token=tok, timeout=10)
        good = st == 200 if need_ok else st > 0
        if not c.ok(good, "%s request %d answered while Redis is away (%d)" % (prefix, i, st)):
            break
        paths.append(p)
    return paths


def delivered(start, paths):
    have = [ev["path"] for _, ev in events(start) if ev["path"] in set(paths)]
    return have


# Redis "hung" for the audit writer: CLIENT PAUSE WRITE holds every write command (XADD) while
# reads go on, so the device path (session cache, cookie jars) keeps serving.
def pause():
    e.r.execute_command("CLIENT", "PAUSE", "60000", "WRITE")


def unpause():
    e.r.execute_command("CLIENT", "UNPAUSE")


# ---- Redis hung below the queue bound: nothing lost ----
warm()
start = last_id()
pause()
try:
    paths = run("stopped", 30)
finally:
    unpause()
ok = wait_for(lambda: len(delivered(start, paths)) == 30, timeout=15)
c.ok(ok, "Redis hung: all 30 events arrive once it answers (%d)" % len(delivered(start, paths)))
c.ok(delivered(start, paths) == paths, "... exactly once, in order")
c.ok(e.metric("worklink_gateway_audit_dropped_total") == 0, "nothing dropped below the bound")

# ---- Redis hung beyond the bound: the overflow is counted and logged ----
warm()
start = last_id()
pause()
try:
    paths = run("overflow", QUEUE + 30)
    dropped = e.metric("worklink_gateway_audit_dropped_total")
finally:
    unpause()
c.eq(dropped, 30.0, "queue bound %d: the 30 events beyond it are counted as dropped" % QUEUE)
ok = wait_for(lambda: len(delivered(start, paths)) == QUEUE, timeout=15)
c.ok(ok and delivered(start, paths) == paths[:QUEUE],
     "the %d queued events all arrive (%d)" % (QUEUE, len(delivered(start, paths))))
with open(e.gw.stderr_path) as f:
    log = f.read()
c.ok("audit: queue full" in log and "dropped" in log, "the drop is logged")

# ---- Redis killed and started again (a real outage): nothing lost ----
start = last_id()
rport = int(e.redis_url.rsplit(":", 1)[1].split("/")[0])
e.redis_proc.kill()
e.redis_proc.wait()
paths = run("outage", 20, need_ok=False)  # pages may need Redis (cookie jars): any answer
c.ok(e.metric("worklink_gateway_audit_queued") == 20, "the outage's events are queued")
e.redis_proc = t.start(["redis-server", "--bind", "127.0.0.1", "--port", str(rport), "--save", "",
                        "--appendonly", "yes", "--appendfsync", "always", "--dir", REDIS_DIR],
                       ready=None)


def redis_up():
    try:
        with socket.create_connection(("127.0.0.1", rport), 0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


c.ok(wait_for(redis_up, timeout=10), "Redis back")
ok = wait_for(lambda: len(delivered(start, paths)) == 20, timeout=20)
c.ok(ok, "Redis outage: all 20 events arrive after the restart (%d)" % len(
    delivered(start, paths)))
c.ok(e.metric("worklink_gateway_audit_errors_total") > 0, "failed writes counted (retried)")
if c.failures:
    with open(e.gw.stderr_path) as f:
        print("".join([x for x in f.readlines() if "audit" in x or "redis" in x.lower()][-20:]))
c.eq(e.metric("worklink_gateway_audit_dropped_total"), 30.0, "no further drops")

# ---- removing the configuration stops the events ----
good, _, err = e.aws("update-audit-stream-configuration", "--fleet-arn", netfix.FLEET_ARN)
c.ok(good, "audit configuration removed: %s" % err.strip()[-200:])
time.sleep(1.0)  # config propagation (change feed)
n0 = e.r.xlen(KEY)
for i in range(5):
    e.curl("wiki.example.com", "/after-removal/%d" % i, token=tok)
time.sleep(0.5)
c.eq(e.r.xlen(KEY), n0, "no events after the audit stream was removed")

sys.exit(c.done())
