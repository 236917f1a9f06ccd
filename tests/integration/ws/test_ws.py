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
DOMS = ["wiki.example.com", "chat.example.com"]
for d in DOMS:
    e.add_domain(d)
e.start_gateway(["--origin", "wiki.example.com=http://127.0.0.1:%d" % oport,
                 "--origin", "chat.example.com=http://127.0.0.1:%d" % oport,
                 "--idle-timeout-ms", "1000", "--stream-idle-timeout-ms", "5000",
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

c.done()
