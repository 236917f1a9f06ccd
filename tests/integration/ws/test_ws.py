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
GW_ARGS = sum((["--origin", "%s=http://127.0.0.1:%d" % (d, oport)] for d in DOMS), []) + [
    "--idle-timeout-ms", "1000", "--stream-idle-timeout-ms", "5000", "--ws-ping-interval-ms",
    "60000", "--ws-max-message", "100000", "--max-ws-per-session", "4"]
e.start_gateway(GW_ARGS, workers=2)
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

# ---- access ends: every live channel of the right scope is cut, and only those ----
# Each trial opens, for the scope that loses access, an h1 WebSocket and an h2 WebSocket (both
# on /stream: the origin sends "n:<id>" every 5 ms), an SSE response (/sse-forever, h1 or h2 in
# turn) and an upload in progress (h1 or h2 in turn); and, for a neighbour that keeps access
# (another user / device / domain), an h1 WebSocket and an h2 SSE stream.
# Latency: from just before the PUBLISH of the change-feed event (the control-plane writes
# happen before it, as control's scripts write then publish) until the client sees the cut of
# the last of the scope's channels. The client's cut instant is the arrival of the close frame
# (h1 WebSocket), of RST_STREAM (h2), or the end of the connection (h1 SSE/upload).
# "No data after the cut": the h1 WebSocket client reads its raw TLS socket to EOF and counts
# every byte after the close frame; h2 and h1 stream clients count every byte after the cut
# instant; all must be 0. The neighbours must still receive messages after the cut.
TRIALS = int(os.environ.get("WS_TRIALS", "20"))
PUB = {}


PUBLISH_LUA = """local v = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', KEYS[2], cjson.encode({version = v, kind = ARGV[1], op = ARGV[2],
                                             id = ARGV[3]}))
return v"""


def timed_publish(kind, op, ident):
    """gwfix's publish as control does it (INCR and PUBLISH in one script), noting the instant
    just before it (the latency origin)."""
    PUB["t"] = time.time() * 1000
    return e.r.eval(PUBLISH_LUA, 2, "wl:{%s}:version" % gwfix.F, "wl:{%s}:events" % gwfix.F,
                    kind, op, ident)


e.publish = timed_publish
F = gwfix.F
REVOKE, GONE = "apps.example.com", "docs.example.com"
gone_hash = e.r.hgetall("wl:{%s}:domain:%s" % (F, GONE))


def serving(domain, token):
    return until(lambda: e.curl(domain, "/hello", token=token, timeout=5)[0] == 200, 5)


def signout(user):
    for s_ in e.r.smembers("wl:{%s}:user:%s:sessions" % (F, user)):
        e.r.delete("wl:{%s}:session:%s" % (F, s_))
    e.r.delete("wl:{%s}:user:%s:sessions" % (F, user))
    for d in e.r.smembers("wl:{%s}:user:%s:devices" % (F, user)):
        e.r.hset("wl:{%s}:device:%s" % (F, d), "status", "SIGNED_OUT")


def setup(kind, i):
    """(target (domain, token) list, neighbour (domain, token) or None, cut(), restore())"""
    if kind == "SignOutUser":
        ta, _, _ = e.new_session("alice%d" % i)
        tb, _, _ = e.new_session("bob%d" % i)
        return [(WIKI, ta)], (WIKI, tb), lambda: (signout("alice%d" % i), None)[1] or \
            e.publish("user", "signout", "alice%d" % i), None
    if kind == "device sign-out":
        u = "carol%d" % i
        ta, _, da = e.new_session(u)
        tb, _, _ = e.new_session(u)

        def cut():
            e.r.hset("wl:{%s}:device:%s" % (F, da), "status", "SIGNED_OUT")
            return e.publish("device", "signout", da)
        return [(WIKI, ta)], (WIKI, tb), cut, None
    if kind == "RevokeDomainAccess":
        ta, _, _ = e.new_session("dave%d" % i)
        return [(REVOKE, ta)], (WIKI, ta), lambda: e.set_domain_status(REVOKE, "INACTIVE"), \
            lambda: (e.set_domain_status(REVOKE, "ACTIVE"), serving(REVOKE, ta))
    if kind == "DisassociateDomain":
        ta, _, _ = e.new_session("frank%d" % i)

        def cut():
            e.r.delete("wl:{%s}:domain:%s" % (F, GONE))
            e.r.zrem("wl:{%s}:domains" % F, GONE)
            return e.publish("domain", "disassociate", GONE)

        def restore():
            e.r.hset("wl:{%s}:domain:%s" % (F, GONE), mapping=gone_hash)
            e.r.zadd("wl:{%s}:domains" % F, {GONE: 0})
            e.publish("domain", "associate", GONE)
            serving(GONE, ta)
        return [(GONE, ta)], (WIKI, ta), cut, restore
    if kind == "DeleteFleet":
        ta, _, _ = e.new_session("gina%d" % i)

        def cut():
            e.r.hset("wl:{%s}:fleet" % F, "status", "DELETING")
            return e.publish("fleet", "delete", F)

        def restore():
            # a gateway whose fleet is DELETING drains and exits: the fleet comes back and a
            # new gateway process serves it (with a new client process)
            global cl
            c.eq(e.gw.wait(15), 0, "the gateway of a deleted fleet drains and exits")
            e.r.hset("wl:{%s}:fleet" % F, "status", "ACTIVE")
            e.publish("fleet", "update", F)
            old = cl
            e.start_gateway(GW_ARGS, workers=2)
            cl = wsfix.Client(e.port, e.ca[0], prefix)
            old.p.terminate()
            serving(WIKI, ta)
        return [(WIKI, ta), ("chat.example.com", ta)], None, cut, restore
    raise ValueError(kind)


EXPECT = {"h1ws": ("close", 1008), "h2ws": ("rst", 8), "h2sse": ("rst", 8), "h2up": ("rst", 8),
          "h1sse": ("eof", None), "h1up": ("eof", None)}
summary = []
KINDS = ("SignOutUser", "device sign-out", "RevokeDomainAccess", "DisassociateDomain",
         "DeleteFleet")
for kind in [k for k in KINDS if k in os.environ.get("WS_KINDS", ",".join(KINDS)).split(",")]:
    lat, bad, after_bytes, nchan = [], 0, 0, 0
    for i in range(TRIALS):
        targets, neigh, cut, restore = setup(kind, i)
        chans = {}
        for k, (dom, tk) in enumerate(targets):
            for typ, path in (("h1ws", "/stream"), ("h2ws", "/stream"),
                              ("h2sse" if i % 2 else "h1sse", "/sse-forever"),
                              ("h1up" if i % 2 else "h2up", "/upload")):
                chans["%s-%d-t%d-%s" % (kind[:6], i, k, typ)] = (typ, dom, tk, path)
        nb = {}
        if neigh:
            for typ, path in (("h1ws", "/stream"), ("h2sse", "/sse-forever")):
                nb["%s-%d-n-%s" % (kind[:6], i, typ)] = (typ, neigh[0], neigh[1], path)
        for cid, (typ, dom, tk, path) in list(chans.items()) + list(nb.items()):
            cl.open(cid, typ, dom, tk, path)
        opened = cl.wait_open(list(chans) + list(nb))
        if not c.ok(all(v["ok"] for v in opened.values()),
                    "%s trial %d: every channel opened (%r)" % (kind, i, [
                        (k, v) for k, v in opened.items() if not v["ok"]])):
            break
        time.sleep(0.08)  # uploads flowing, streams streaming
        before = {cid: cl.stats(cid)["msgs"] for cid in nb}
        cut()
        t0 = PUB["t"]
        cuts = cl.wait_cut(list(chans), timeout=3)
        missing = [cid for cid, v in cuts.items() if not v]
        c.ok(not missing, "%s trial %d: every channel of the scope cut (%r missing)" % (
            kind, i, missing))
        worst = max((v["t"] for v in cuts.values() if v), default=t0 + 1e9) - t0
        lat.append(worst if not missing else 1e9)
        if worst > 50:
            print("  slow trial %s %d: %s" % (kind, i, ", ".join(
                "%s %.1f ms" % (cid.rsplit("-", 1)[1], v["t"] - t0) for cid, v in cuts.items()
                if v)), flush=True)
        for cid, v in cuts.items():
            if not v:
                continue
            nchan += 1
            after_bytes += v["after"]
            want = EXPECT[chans[cid][0]]
            if (v["how"], v.get("code")) != want:
                bad += 1
                print("  %s: ended by %s %s, want %s %s" % (cid, v["how"], v.get("code"), *want))
        for cid in nb:  # messages keep coming (5 ms apart; up to 1 s on a loaded machine)
            st = until(lambda: (lambda x: x if x["cut"] or x["msgs"] > before[cid] else None)(
                cl.stats(cid)), 1.0) or cl.stats(cid)
            c.ok(not st["cut"] and st["msgs"] > before[cid],
                 "%s trial %d: %s of the neighbour still flows (%d -> %d messages, cut %s)" % (
                     kind, i, cid, before[cid], st["msgs"], st["cut"]))
            cl.close(cid)
        for cid in chans:
            cl.close(cid)
        if restore:
            restore()
    lat_ok = [x for x in lat if x < 1e9]
    lat_ok.sort()
    med = lat_ok[len(lat_ok) // 2] if lat_ok else -1
    worst = max(lat) if lat else 1e9
    line = ("%-20s %2d trials, %3d channels cut: worst %.1f ms, median %.1f ms; "
            "bytes after the cut %d; wrong close kind %d" % (
                kind, len(lat), nchan, worst, med, after_bytes, bad))
    print(line, flush=True)
    summary.append(line)
    c.ok(lat and worst < 100, "%s: worst cut latency %.1f ms < 100 ms" % (kind, worst))
    c.eq(after_bytes, 0, "%s: bytes reaching the device after the cut" % kind)
    c.eq(bad, 0, "%s: channels ended as expected (1008 close, RST_STREAM, connection close)"
         % kind)

print("cut summary (%.0f s so far):" % (time.time() - T0))
for line in summary:
    print("  " + line)

# ---- session expiry: channels end at the session's absolute expiry ----
xt, xsid, _ = e.new_session("xena", ttl_ms=1500)
expires = int(e.r.hget("wl:{%s}:session:%s" % (F, xsid), "expires"))
for typ, path in (("h1ws", "/stream"), ("h2ws", "/stream"), ("h2sse", "/sse-forever"),
                  ("h1sse", "/sse-forever")):
    cl.open("exp-" + typ, typ, WIKI, xt, path)
ids = ["exp-" + x for x in ("h1ws", "h2ws", "h2sse", "h1sse")]
c.ok(all(v["ok"] for v in cl.wait_open(ids).values()), "expiry: channels opened")
cuts = cl.wait_cut(ids, timeout=4)
late = [v["t"] - expires for v in cuts.values() if v]
c.ok(len(late) == 4 and all(-5 < x < 100 for x in late),
     "every channel cut at the session's expiry, within 100 ms (%r ms after it)" % late)
print("session expiry: channels cut %s ms after the expiry" % ", ".join("%.1f" % x for x in late))

# ---- re-validation: a session gone from Redis with only a generic event is still cut ----
rt, rsid, _ = e.new_session("rita")
cl.open("rv", "h1ws", WIKI, rt, "/stream")
cl.wait_open(["rv"])
e.r.delete("wl:{%s}:session:%s" % (F, rsid))
e.publish("user", "update", "someone-else")
cut = cl.wait_cut(["rv"], timeout=2)["rv"]
c.ok(cut and cut["how"] == "close" and cut["code"] == 1008 and cut["t"] - PUB["t"] < 100,
     "a live session found gone on re-validation is cut (%r)" % cut)

# ---- keep-alive toward idle devices: pings, pongs swallowed, dead devices and idle tunnels ----
import urllib.request  # noqa: E402
origin_stats = lambda: json.loads(urllib.request.urlopen(  # noqa: E731
    "http://127.0.0.1:%d/stats" % oport, timeout=5).read())
pongs0 = origin_stats()["pongs"]
e.start_gateway(sum((["--origin", "%s=http://127.0.0.1:%d" % (d, oport)] for d in DOMS), []) +
                ["--ws-ping-interval-ms", "300", "--ws-idle-timeout-ms", "2500"], workers=1)
cl2 = wsfix.Client(e.port, e.ca[0], prefix)
pt, _, _ = e.new_session("paul")
cl2.open("pa1", "h1ws", WIKI, pt, "/echo")
cl2.open("pa2", "h2ws", WIKI, pt, "/echo")
cl2.open("dead", "h1ws", WIKI, pt, "/echo", autopong=False)
tp = time.time()
c.ok(all(v["ok"] for v in cl2.wait_open(["pa1", "pa2", "dead"]).values()), "ping: opened")
dead = cl2.wait_cut(["dead"], timeout=3)["dead"]
c.ok(dead and dead["code"] == 1001 and 0.5 < (dead["t"] / 1000 - tp) < 1.5,
     "a device that does not answer pings is closed (1001) after two intervals (%r, %.2f s)"
     % (dead, dead["t"] / 1000 - tp if dead else -1))
time.sleep(max(0, tp + 1.5 - time.time()))
st1, st2 = cl2.stats("pa1"), cl2.stats("pa2")
c.ok(not st1["cut"] and not st2["cut"] and st1["pings"] >= 2 and st2["pings"] >= 2,
     "devices that answer stay open and are pinged every 300 ms (h1 %d, h2 %d pings)"
     % (st1["pings"], st2["pings"]))
c.eq(origin_stats()["pongs"] - pongs0, 0, "pongs answering the gateway's pings reaching the origin")
cuts = cl2.wait_cut(["pa1", "pa2"], timeout=3)
c.ok(all(v and v["code"] == 1001 for v in cuts.values()) and
     all(2.3 < v["t"] / 1000 - tp < 3.5 for v in cuts.values() if v),
     "a tunnel without data frames for 2.5 s is closed (1001) though pings flow (%r)" % cuts)
print("keep-alive: %d/%d pings answered by h1/h2 devices, none reached the origin; silent "
      "device closed after %.2f s" % (st1["pings"], st2["pings"], dead["t"] / 1000 - tp
                                      if dead else -1))

# ---- SIGTERM drains: tunnels end with 1001 and event streams end, so clients reconnect ----
for typ, path in (("h1ws", "/stream"), ("h2ws", "/stream"), ("h1sse", "/sse-forever"),
                  ("h2sse", "/sse-forever")):
    cl2.open("dr-" + typ, typ, WIKI, pt, path)
ids = ["dr-" + x for x in ("h1ws", "h2ws", "h1sse", "h2sse")]
c.ok(all(v["ok"] for v in cl2.wait_open(ids).values()), "drain: opened")
td = time.time()
e.gw.send_signal(15)
cuts = cl2.wait_cut(ids, timeout=5)
c.ok(all(cuts.values()) and cuts["dr-h1ws"]["code"] == 1001 and cuts["dr-h2ws"]["code"] == 1001,
     "SIGTERM: WebSockets closed with 1001 and streams ended (%r)" % cuts)
c.ok(e.gw.wait(10) == 0 and time.time() - td < 5, "the draining gateway exits at once (%.1f s)"
     % (time.time() - td))
print("wall time %.0f s" % (time.time() - T0))

c.done()
