#!/usr/bin/python3
"""Thousands of open WebSockets through the gateway (issue 7): memory per connection, echo
latency beside them, and how long one sign-out takes to cut half of them.

    /usr/bin/python3 bench/ws_bench.py [--build-dir build-bench] [--conns 5000] [--workers N]
                                       [--json out.json] [--quick]

Starts its own Redis (written as control writes it, tests/integration/gateway/gwfix.py), the Node
WebSocket origin of the tests (tests/integration/ws/origin.mjs on the `ws` npm package, installed
into <build>/ws-npm), and worklink-gateway from the build dir (`--no-access-log`). An asyncio
client opens --conns WebSockets over HTTP/1.1 (TLS, SNI, a session cookie; 100 users), holds
them, and measures:
  * gateway RSS (VmRSS) before and after: KiB per open WebSocket (device TLS connection + origin
    connection + tunnel state);
  * 200 echo round trips on one more WebSocket beside them (p50/p99);
  * SignOutUser for the users holding half of them (sessions deleted, `user/signout` published):
    ms from the PUBLISH until every one of those saw its close frame (1008), and that the other
    half is still open.
WS_BENCH_USERS=N spreads the WebSockets over N users (default 100); WS_BENCH_PERF=FILE records
the gateway with `perf record -g` during the cut. Every process is started here and stopped by
PID at exit (tests/lib/wl_testlib.py). Exit status 0
when every connection opened, the cut reached every target and nothing else; figures are never
judged."""
import argparse
import asyncio
import base64
import json
import os
import ssl
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--build-dir", default=os.environ.get("WL_BUILD_DIR",
                                                     os.path.join(ROOT, "build-bench")))
ap.add_argument("--conns", type=int, default=5000)
ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
ap.add_argument("--json")
ap.add_argument("--quick", action="store_true", help="300 connections (CI smoke test)")
a = ap.parse_args()
if a.quick:
    a.conns = 300
os.environ["WL_BUILD_DIR"] = os.path.abspath(a.build_dir)
for sub in ("tests/lib", "tests/integration/gateway", "tests/integration/ws"):
    sys.path.insert(0, os.path.join(ROOT, sub))
import gwfix  # noqa: E402
import wl_testlib as t  # noqa: E402
import wsfix  # noqa: E402

USERS = int(os.environ.get("WS_BENCH_USERS", "100"))
DOMAIN = "ws.bench.test"


def log(*x):
    print("[ws_bench]", *x, file=sys.stderr, flush=True)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ms(pid):
    """utime + stime of the whole process (all threads), ms."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class WS:
    """One held WebSocket: the reader records when (and how) the gateway ended it."""

    def __init__(self, user):
        self.user, self.r, self.w, self.end_t, self.code = user, None, None, None, None
        self.buf = b""


def upgrade_req(token, path="/echo"):
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            "Cookie: __Host-wl_session=%s\r\n\r\n" % (path, DOMAIN, key, token)).encode()


def masked(op, payload):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | op, 0x80 | n]) if n < 126 else bytes([0x80 | op, 0xfe, n >> 8, n & 255])
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


async def open_ws(port, ctx, token, ws, sem, errs):
    async with sem:
        try:
            ws.r, ws.w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, server_hostname=DOMAIN), 30)
            ws.w.write(upgrade_req(token))
            head = await asyncio.wait_for(ws.r.readuntil(b"\r\n\r\n"), 30)
            if not head.startswith(b"HTTP/1.1 101"):
                errs.append(head.split(b"\r\n")[0])
                ws.w.close()
                ws.r = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as e:
            errs.append(repr(e))
            ws.r = None


async def hold(ws):
    """Reads until the gateway ends the tunnel; answers pings (the gateway's keep-alive)."""
    while True:
        try:
            d = await ws.r.read(4096)
        except (OSError, ssl.SSLError):
            d = b""
        if not d:
            ws.end_t = ws.end_t or time.time()
            return
        ws.buf += d
        while len(ws.buf) >= 2 and len(ws.buf) >= 2 + (ws.buf[1] & 0x7f):
            op, n = ws.buf[0] & 0x0f, ws.buf[1] & 0x7f
            payload, ws.buf = ws.buf[2:2 + n], ws.buf[2 + n:]
            if op == 8 and ws.end_t is None:
                ws.end_t = time.time()
                ws.code = int.from_bytes(payload[:2], "big") if n >= 2 else 1005
            elif op == 9:
                ws.w.write(masked(10, payload))


async def main():
    prefix = wsfix.npm_prefix()
    if prefix is None:
        print("SKIP: needs node and npm")
        return 77
    e = gwfix.Env()
    oport, origin = wsfix.start_origin(prefix)
    e.add_domain(DOMAIN)
    gw = e.start_gateway(["--origin", "%s=http://127.0.0.1:%d" % (DOMAIN, oport),
                          "--no-access-log", "--max-ws-per-session", str(a.conns),
                          "--max-ws-per-fleet", str(a.conns + 10)], workers=a.workers)
    tokens = [e.new_session("user%d" % i)[0] for i in range(USERS)]
    ctx = ssl.create_default_context(cafile=e.ca[0])
    ctx.set_alpn_protocols(["http/1.1"])
    sem = asyncio.Semaphore(64)
    # warm-up: buffers, pools, the session caches
    warm = [WS(i % USERS) for i in range(50)]
    errs = []
    await asyncio.gather(*[open_ws(e.port, ctx, tokens[w.user], w, sem, errs) for w in warm])
    for w in warm:
        if w.w:
            w.w.close()
    await asyncio.sleep(1.0)
    rss0, fd0 = rss_kib(gw.pid), nfds(gw.pid)
    wss = [WS(i % USERS) for i in range(a.conns)]
    errs = []
    t0 = time.time()
    await asyncio.gather(*[open_ws(e.port, ctx, tokens[w.user], w, sem, errs) for w in wss])
    opened = [w for w in wss if w.r]
    open_s = time.time() - t0
    log("opened %d of %d WebSockets in %.1f s (%d errors%s)" % (
        len(opened), a.conns, open_s, len(errs), ": %s" % errs[0] if errs else ""))
    holders = [asyncio.ensure_future(hold(w)) for w in opened]
    await asyncio.sleep(1.5)
    rss1, fd1 = rss_kib(gw.pid), nfds(gw.pid)
    origin_rss = rss_kib(origin.pid)
    # echo beside them
    probe = WS(0)
    await open_ws(e.port, ctx, tokens[0], probe, sem, errs)
    lat = []
    for i in range(200):
        msg = b"probe %d" % i
        s = time.perf_counter()
        probe.w.write(masked(1, msg))
        got = await asyncio.wait_for(probe.r.readexactly(2 + len(msg)), 10)
        lat.append((time.perf_counter() - s) * 1000)
        if got[2:] != msg:
            errs.append("echo mismatch")
    probe.w.close()
    lat.sort()
    # SignOutUser for the even users: half of the WebSockets
    F = gwfix.F
    targets = [w for w in opened if w.user % 2 == 0]
    others = [w for w in opened if w.user % 2 == 1]
    for u in range(0, USERS, 2):
        for sid in e.r.smembers("wl:{%s}:user:user%d:sessions" % (F, u)):
            e.r.delete("wl:{%s}:session:%s" % (F, sid))
    pipe = e.r.pipeline(transaction=False)
    v = e.r.incr("wl:{%s}:version" % F)
    for u in range(0, USERS, 2):
        pipe.publish("wl:{%s}:events" % F, json.dumps(
            {"version": v, "kind": "user", "op": "signout", "id": "user%d" % u}))
        v += 1
    perf = None
    if os.environ.get("WS_BENCH_PERF"):  # profile the cut: perf record into this file
        import subprocess
        perf = subprocess.Popen(["perf", "record", "-g", "-p", str(gw.pid), "-o",
                                 os.environ["WS_BENCH_PERF"]], stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    cpu0 = cpu_ms(gw.pid)
    tp = time.time()
    pipe.execute()
    e.r.set("wl:{%s}:version" % F, v)
    deadline = time.time() + 10
    while time.time() < deadline and any(w.end_t is None for w in targets):
        await asyncio.sleep(0.001)
    cut_cpu = cpu_ms(gw.pid) - cpu0
    if perf:
        perf.send_signal(2)
        perf.wait(30)
    cut_ms = [(w.end_t - tp) * 1000 for w in targets if w.end_t]
    cut_ms.sort()
    await asyncio.sleep(0.3)
    still = sum(1 for w in others if w.end_t is None)
    # the gateway's side: the log line each worker writes once it cut an instruction's channels
    import datetime
    gw_cut = []
    with open(gw.stderr_path) as f:
        for line in f:
            if "live channels cut" in line:  # one line per instruction and worker, after it
                ts = json.loads(line)["ts"]
                d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc)
                gw_cut.extend([d.timestamp() * 1000 - tp * 1000] * int(
                    json.loads(line)["msg"].rsplit(": ", 1)[1].split()[0]))
    gw_cut.sort()
    codes = {}
    for w in targets:
        codes[w.code] = codes.get(w.code, 0) + 1
    res = {
        "conns": a.conns, "opened": len(opened), "open_errors": len(errs), "open_s": open_s,
        "workers": a.workers,
        "gateway_rss_kib_before": rss0, "gateway_rss_kib_after": rss1,
        "kib_per_ws": (rss1 - rss0) / len(opened) if opened else None,
        "gateway_fds_per_ws": (fd1 - fd0) / len(opened) if opened else None,
        "origin_rss_kib": origin_rss,
        "echo_p50_ms": lat[len(lat) // 2], "echo_p99_ms": lat[int(len(lat) * 0.99)],
        "signout_targets": len(targets), "cut": len(cut_ms),
        "cut_p50_ms": cut_ms[len(cut_ms) // 2] if cut_ms else None,
        "cut_max_ms": cut_ms[-1] if cut_ms else None, "close_codes": codes,
        "gateway_cut_logged": len(gw_cut), "gateway_cut_max_ms": gw_cut[-1] if gw_cut else None,
        "gateway_cut_first_ms": gw_cut[0] if gw_cut else None,
        "gateway_cut_p50_ms": gw_cut[len(gw_cut) // 2] if gw_cut else None,
        "others_still_open": still, "others": len(others),
        "gateway_cpu_ms_for_cut": cut_cpu,
        "gateway_cpu_us_per_cut": cut_cpu * 1000 / len(targets) if targets else None,
    }
    for w in opened:
        w.w.close()
    for h in holders:
        h.cancel()
    print("%d WebSockets through the gateway (%d workers): %.1f KiB RSS and %.2f fds per open "
          "WebSocket (RSS %d -> %d KiB); opened in %.1f s" % (
              res["opened"], a.workers, res["kib_per_ws"] or -1, res["gateway_fds_per_ws"] or -1,
              rss0, rss1, open_s))
    print("echo beside them: p50 %.2f ms, p99 %.2f ms" % (res["echo_p50_ms"], res["echo_p99_ms"]))
    print("SignOutUser for %d users: %d of %d WebSockets cut, p50 %.1f ms, last %.1f ms after the "
          "PUBLISH (close codes %s); %d of %d other WebSockets still open; the gateway's log "
          "shows its last cut %.1f ms after the PUBLISH (the rest is the Python client reading "
          "%d TLS sockets); gateway CPU for the cut %.0f ms (%.0f us per WebSocket)" % (
              USERS // 2, res["cut"], len(targets), res["cut_p50_ms"] or -1,
              res["cut_max_ms"] or -1, codes, still, len(others),
              res["gateway_cut_max_ms"] or -1, len(targets), cut_cpu,
              res["gateway_cpu_us_per_cut"] or -1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    ok = (res["opened"] == a.conns and res["cut"] == len(targets) and still == len(others)
          and not errs)
    return 0 if ok else 1


sys.exit(asyncio.run(main()))
