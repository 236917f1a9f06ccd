"""Small load clients of the benchmark that wrk and h2load do not cover (run by /usr/bin/python3).

  clients.py hs      --host H --port P --sni NAME --path /1k [--resume] --duration S --procs N
      new TLS connections, one request each (Connection: close). Without --resume the client
      never offers a session, so every connection is a full handshake whatever the server's
      ticket/cache settings; with --resume each connection offers the session (ticket) of the
      previous one. Prints one JSON line: {"conns", "reused", "errors", "seconds"}.
  clients.py probe   --host H --port P --sni NAME --path /1k --rate R --duration S
      a low-rate latency probe on one keep-alive connection. JSON: {"n", "errors", "p50_ms",
      "p99_ms", "max_ms"}.
  clients.py idle    --host H --port P --sni NAME --path /1k --conns N
      opens N TLS connections, sends one keep-alive request on each, then holds them idle.
      Prints "opened N ERR" once done; then reads commands on stdin: "count" prints
      "alive N", "quit" (or EOF) closes everything.
  clients.py revoke  --host H --port P --sni NAME --path /1k --conns N
      N threads, one keep-alive connection each, request in a tight loop. Prints "ready" when
      every connection got a 200, then records per connection the wall-clock time of the first
      other answer (403 after a revoke, 401 after a sign-out); exits when all saw one (or after
      --timeout) printing JSON {"first", "all", "times", "status"}.

Every request carries `Authorization: Bearer $BENCH_TOKEN` when that is set, like the device
app does. --plain uses TCP instead of TLS (direct-to-origin figures).
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import ssl
import sys
import threading
import time

TOKEN = os.environ.get("BENCH_TOKEN", "")


def request_bytes(sni, path, close):
    h = "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wl-bench\r\n" % (path, sni)
    if TOKEN:
        h += "Authorization: Bearer %s\r\n" % TOKEN
    if close:
        h += "Connection: close\r\n"
    return (h + "\r\n").encode()


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class Conn:
    """One blocking HTTP/1.1 connection (TLS or plain) that reads whole responses."""

    def __init__(self, a, ctx=None, session=None, timeout=10):
        s = socket.create_connection((a.host, a.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not a.plain:
            s = (ctx or client_ctx()).wrap_socket(s, server_hostname=a.sni, session=session)
        self.s = s
        self.buf = b""

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionError("closed by peer")
        self.buf += chunk

    def get(self, req):
        """Sends req, reads one response; returns the status code."""
        self.s.sendall(req)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length, chunked, close = None, False, False
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            k = k.strip().lower()
            v = v.strip().lower()
            if k == b"content-length":
                length = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v:
                chunked = True
            elif k == b"connection" and v == b"close":
                close = True
        if chunked:
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(size_line.split(b";")[0], 16)
                while len(self.buf) < n + 2:
                    self._fill()
                self.buf = self.buf[n + 2:]
                if n == 0:
                    break
        elif length is not None:
            while len(self.buf) < length:
                self._fill()
            self.buf = self.buf[length:]
        else:
            close = True
            try:
                while True:
                    self._fill()
            except (ConnectionError, OSError):
                pass
        self.closed = close
        return status

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def _hs_worker(a, q):
    ctx = client_ctx()
    req = request_bytes(a.sni, a.path, True)
    sess = None
    conns = reused = errors = 0
    end = time.time() + a.duration
    while time.time() < end:
        try:
            c = Conn(a, ctx, session=sess if a.resume else None)
            st = c.get(req)
            if not a.plain and c.s.session_reused:
                reused += 1
            if a.resume and not a.plain:
                sess = c.s.session
            c.close()
            conns += 1
            if st != 200:
                errors += 1
        except (OSError, ValueError, ssl.SSLError):
            errors += 1
            sess = None
    q.put((conns, reused, errors))


def cmd_hs(a):
    q = multiprocessing.Queue()
    t0 = time.time()
    ps = [multiprocessing.Process(target=_hs_worker, args=(a, q)) for _ in range(a.procs)]
    for p in ps:
        p.start()
    tot = [0, 0, 0]
    for _ in ps:
        r = q.get(timeout=a.duration + 60)
        tot = [x + y for x, y in zip(tot, r)]
    for p in ps:
        p.join()
    print(json.dumps({"conns": tot[0], "reused": tot[1], "errors": tot[2],
                      "seconds": time.time() - t0}), flush=True)


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100.0))]


def cmd_probe(a):
    req = request_bytes(a.sni, a.path, False)
    lat, errors = [], 0
    c = None
    end = time.time() + a.duration
    interval = 1.0 / a.rate
    nxt = time.time()
    while time.time() < end:
        try:
            if c is None:
                c = Conn(a)
            t = time.perf_counter()
            st = c.get(req)
            lat.append((time.perf_counter() - t) * 1000.0)
            if st != 200:
                errors += 1
            if c.closed:
                c.close()
                c = None
        except (OSError, ValueError, ssl.SSLError):
            errors += 1
            if c:
                c.close()
            c = None
        nxt += interval
        d = nxt - time.time()
        if d > 0:
            time.sleep(d)
    print(json.dumps({"n": len(lat), "errors": errors, "p50_ms": pct(lat, 50),
                      "p99_ms": pct(lat, 99), "max_ms": max(lat) if lat else None}), flush=True)


async def _idle_open(a, ctx, req, sem, conns, errs):
    async with sem:
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(a.host, a.port, ssl=None if a.plain else ctx,
                                        server_hostname=None if a.plain else a.sni), 30)
            w.write(req)
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
            n = 0
            for ln in head.split(b"\r\n"):
                if ln.lower().startswith(b"content-length:"):
                    n = int(ln.split(b":")[1])
            if n:
                await asyncio.wait_for(r.readexactly(n), 30)
            if not head.startswith(b"HTTP/1.1 200"):
                errs.append(head.split(b"\r\n")[0])
            conns.append((r, w))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError,
                asyncio.LimitOverrunError) as e:
            errs.append(repr(e))


async def _idle_main(a):
    ctx = client_ctx()
    req = request_bytes(a.sni, a.path, False)
    sem = asyncio.Semaphore(a.parallel)
    conns, errs = [], []
    await asyncio.gather(*[_idle_open(a, ctx, req, sem, conns, errs) for _ in range(a.conns)])
    print("opened %d %d" % (len(conns), len(errs)), flush=True)
    if errs:
        print("first error: %s" % errs[0], file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line.strip() == "count":
            await asyncio.sleep(0)
            alive = sum(1 for r, w in conns if not r.at_eof() and not w.is_closing())
            print("alive %d" % alive, flush=True)
        else:
            break
    for r, w in conns:
        w.close()


def cmd_idle(a):
    asyncio.run(_idle_main(a))


def cmd_revoke(a):
    req = request_bytes(a.sni, a.path, False)
    first = [None] * a.conns
    ready = [False] * a.conns
    status = [None] * a.conns
    stop = threading.Event()

    def run(i):
        c = None
        while not stop.is_set() and first[i] is None:
            try:
                if c is None:
                    c = Conn(a, timeout=5)
                st = c.get(req)
                if st == 200:
                    ready[i] = True
                elif ready[i]:
                    first[i] = time.time()
                    status[i] = st
                if c.closed:
                    c.close()
                    c = None
            except (OSError, ValueError, ssl.SSLError):
                if c:
                    c.close()
                c = None
                time.sleep(0.001)
        if c:
            c.close()

    ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(a.conns)]
    for t in ts:
        t.start()
    deadline = time.time() + 15
    while not all(ready) and time.time() < deadline:
        time.sleep(0.01)
    if not all(ready):
        print(json.dumps({"error": "not every probe connection got a 200"}), flush=True)
        stop.set()
        return 1
    print("ready", flush=True)
    deadline = time.time() + a.timeout
    while time.time() < deadline and any(f is None for f in first):
        time.sleep(0.005)
    stop.set()
    got = [f for f in first if f is not None]
    print(json.dumps({"first": min(got) if got else None,
                      "all": max(got) if len(got) == len(first) else None,
                      "times": first, "status": status}), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["hs", "probe", "idle", "revoke"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sni", default="bench.worklink.test")
    ap.add_argument("--path", default="/1k")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--duration", type=float, default=2)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--parallel", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=5)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return {"hs": cmd_hs, "probe": cmd_probe, "idle": cmd_idle, "revoke": cmd_revoke}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main() or 0)
