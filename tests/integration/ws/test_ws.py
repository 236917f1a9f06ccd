"""worklink-gateway live traffic (issue 7): WebSockets over HTTP/1.1 and HTTP/2 (RFC 8441) to a
real `ws` origin, server-sent events past the idle timeout, limits, and every live channel cut
when access ends (sign-out, device sign-out, revoke, disassociate, fleet deletion, expiry)."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import gwfix  # noqa: E402
import wl_testlib as t  # noqa: E402
import wsfix  # noqa: E402

prefix = wsfix.npm_prefix()
if prefix is None:
    print("SKIP: needs node and npm")
    sys.exit(77)

c = t.Checker()
T0 = time.time()
e = gwfix.Env()
oport, origin = wsfix.start_origin(prefix)
DOMS = ["wiki.example.com", "chat.example.com", "apps.example.com", "docs.example.com"]
for d in DOMS:
    e.add_domain(d)
AUDIT_KEY = "wl:audit:wsaudit"
e.r.hset("wl:{%s}:fleet" % gwfix.F, "audit_stream_arn",
         "arn:aws:kinesis:us-east-1:%s:stream/wsaudit" % gwfix.ACCOUNT)
e.publish("audit", "update", gwfix.F)
e.start_gateway(sum((["--origin", "%s=http://127.0.0.1:%d" % (d, oport)] for d in DOMS), []) +
                ["--idle-timeout-ms", "1000", "--stream-idle-timeout-ms", "5000",
                 "--ws-ping-interval-ms", "60000", "--ws-max-message", "100000",
                 "--max-ws-per-session", "4"], workers=2)
cl = wsfix.Client(e.port, e.ca[0], prefix)
WIKI = "wiki.example.com"


def until(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    return pred()


# ---- echo over HTTP/1.1 and HTTP/2 WebSockets ----
tok, sid, dev = e.new_session("erin")
for typ in ("h1ws", "h2ws", "wsjs"):
    cid = "echo-" + typ
    cl.open(cid, typ, WIKI, tok, "/echo")
    op = cl.wait_open([cid])[cid]
    c.ok(op["ok"], "%s: WebSocket opened through the gateway (%r)" % (typ, op))
    for i in range(3):
        cl.cmd(cmd="send", id=cid, data="hello %s %d" % (typ, i))
    big = 60000
    cl.cmd(cmd="send", id=cid, size=big)
    st = until(lambda: (lambda s: s if len(s["echoes"]) >= 4 else None)(cl.stats(cid)))
    c.eq(st and st["echoes"], ["hello %s 0" % typ, "hello %s 1" % typ, "hello %s 2" % typ,
                               "<%d bytes>" % big], "%s: echoed in order" % typ)
    print("echo over %s: %d messages back" % (typ, len(st["echoes"]) if st else 0), flush=True)


# ---- audit: a WebSocket's open and close events, with the bytes of the close ----
cl.close("echo-h1ws")
def ws_audit():
    evs = [json.loads(f["event"]) for _, f in e.r.xrange(AUDIT_KEY)]
    return [x for x in evs if x.get("websocket") and x.get("path") == "/echo"]


evs = until(lambda: (lambda x: x if any(a["websocket"] == "close" for a in x) else None)(ws_audit()))
opens = [x for x in (evs or []) if x["websocket"] == "open"]
closes = [x for x in (evs or []) if x["websocket"] == "close"]
c.ok(len(opens) >= 3, "audit: an open event per WebSocket (%d)" % len(opens))
c.ok(closes and closes[0]["user"] == "erin" and closes[0]["bytes_in"] > 60000 and
     closes[0]["bytes_out"] > 60000, "audit: the close event carries user and bytes both ways (%r)"
     % (closes[:1],))
print("audit: %d open, %d close events; first close: in %s out %s bytes" % (
    len(opens), len(closes), closes and closes[0]["bytes_in"], closes and closes[0]["bytes_out"]))

# ---- SSE streams for longer than the idle timeout (1 s), gaps of 1.5 s ----
for h2 in (False, True):
    t0 = time.time()
    st, body, rc, err, ver = e.curl(WIKI, "/sse?gap=1500&count=3", token=tok, http2=h2,
                                    extra=["-N"], timeout=15)
    n = body.count("data: event")
    c.ok(st == 200 and rc == 0 and n == 3, "SSE over %s: 3 events 1.5 s apart pass a 1 s idle "
         "timeout (status %s, exit %s, %d events, %s)" % (ver, st, rc, n, err.strip()[:200]))
    print("SSE over %s: %d events in %.1f s (idle timeout 1 s)" % (ver, n, time.time() - t0))
# a stalled stream still ends at --stream-idle-timeout-ms (5 s)
t0 = time.time()
st, body, rc, err, ver = e.curl(WIKI, "/sse?gap=7000&count=2", token=tok, extra=["-N"],
                                timeout=15)
c.ok(rc != 0 and 4.0 < time.time() - t0 < 7.0, "SSE silent for 7 s is cut at the 5 s stream idle "
     "limit (exit %s after %.1f s)" % (rc, time.time() - t0))

# ---- limits ----
lt, _, _ = e.new_session("lim")
ids = ["lim%d" % i for i in range(5)]
for i in ids[:4]:
    cl.open(i, "h1ws", WIKI, lt, "/echo")
ok4 = cl.wait_open(ids[:4])
cl.open(ids[4], "h2ws", WIKI, lt, "/echo")
fifth = cl.wait_open(ids[4:])[ids[4]]
c.ok(all(v["ok"] for v in ok4.values()) and not fifth["ok"] and fifth["status"] == 429,
     "--max-ws-per-session 4: the fifth WebSocket of a session gets 429 (%r)" % fifth)
for i in ids:
    cl.close(i)
time.sleep(0.2)
cl.open("lim-again", "h2ws", WIKI, lt, "/echo")
c.ok(cl.wait_open(["lim-again"])["lim-again"]["ok"], "closed WebSockets give their places back")
cl.close("lim-again")
# message size (--ws-max-message 100000): from the device, and from the origin
cl.open("big-dev", "h1ws", WIKI, lt, "/echo")
cl.wait_open(["big-dev"])
cl.cmd(cmd="send", id="big-dev", size=150000)
cut = cl.wait_cut(["big-dev"])["big-dev"]
c.ok(cut and cut["how"] == "close" and cut["code"] == 1009,
     "a device message over the limit: close 1009 (%r)" % cut)
cl.open("big-org", "h2ws", WIKI, lt, "/big?n=150000")
cl.wait_open(["big-org"])
cut = cl.wait_cut(["big-org"])["big-org"]
st = cl.stats("big-org")
c.ok(cut and st["msgs"] == 0 and cut["how"] == "close" and cut["code"] == 1009,
     "an origin message over the limit never reaches the device (%r)" % cut)

c.done()
