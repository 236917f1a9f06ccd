"""The render stage on the gateway's data path (issue 5), through the real gateway with curl over
HTTP/1.1 and HTTP/2: no-store and no validators, origin cookies kept in the session's jar in Redis
(never on the device, sent back to the origin for the same session only), CSP naming only the
fleet's ACTIVE domains, links rewritten, gzip pages rewritten and re-encoded, a large binary body
byte-identical, downloads blocked by the fleet's setting, bounded memory on a huge HTML page."""
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import gwfix  # noqa: E402
import wl_testlib as t  # noqa: E402

APP = "app.example.com"
F = gwfix.F
c = t.Checker()
e = gwfix.Env()
oport = t.free_port()
e.origins.append(t.start(["/usr/bin/python3", os.path.join(HERE, "origin_render.py"),
                          str(oport)]))
e.add_domain(APP)
e.add_domain("docs.example.com")
e.add_domain("old.example.com", status="INACTIVE")
e.start_gateway(["--origin", "%s=http://127.0.0.1:%d" % (APP, oport), "--no-access-log"],
                asan="quarantine_size_mb=4")
tok, sid, _ = e.new_session("alice")
tok2, sid2, _ = e.new_session("bob")
hdir = t.tmpdir("wlrgw-")


def get(path, token=None, http2=False, extra=(), out=None):
    """(status, headers dict name -> [values], body, http_version); token: alice's by default"""
    token = token or tok
    hf = os.path.join(hdir, "h")
    st, body, rc, err, ver = e.curl(APP, path, token, http2=http2, out=out,
                                    extra=["-D", hf] + list(extra), timeout=300)
    hdrs = {}
    with open(hf, encoding="latin-1", newline="") as f:
        for line in f.read().split("\r\n"):
            if ":" in line and not line.startswith("HTTP/"):
                k, v = line.split(":", 1)
                hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    if rc != 0:
        print("curl failed:", err, flush=True)
    return st, hdrs, body, ver


DOCS = "https://docs.example.com:%d" % e.port
for h2 in (False, True):
    p = "h2" if h2 else "h1"
    st, h, body, ver = get("/page", http2=h2)
    c.eq(st, 200, "%s: /page status" % p)
    c.eq(ver, "2" if h2 else "1.1", "%s: protocol" % p)
    c.eq(h.get("cache-control"), ["no-store"], "%s: Cache-Control: no-store only" % p)
    for name in ("etag", "last-modified", "expires", "set-cookie"):
        c.ok(name not in h, "%s: no %s reaches the device (%s)" % (p, name, h.get(name)))
    c.ok("s3cr3t" not in json.dumps(h), "%s: origin cookie value not in any header" % p)
    csp = " ".join(h.get("content-security-policy", []))
    c.ok("connect-src" in csp and "docs.example.com" in csp and APP in csp,
         "%s: CSP names the fleet's ACTIVE domains (%s)" % (p, csp))
    c.ok("old.example.com" not in csp and "evil.example.net" not in csp,
         "%s: CSP names no INACTIVE or foreign domain" % p)
    hosts = set(re.findall(r"(?:https?|wss)://([a-z0-9.-]+)", csp))
    c.ok(hosts <= {APP, "docs.example.com"}, "%s: CSP hosts are only the fleet's: %s" % (p, hosts))
    c.ok(('href="%s/handbook"' % DOCS) in body,
         "%s: link to an associated domain kept in the tunnel" % p)
    c.ok('href="https://evil.example.net' not in body and "/__worklink/blocked?url=" in body,
         "%s: link to a foreign host neutralised" % p)
    c.ok('href="/relative/path"' in body, "%s: relative link unchanged" % p)
    c.ok("caf\u00e9 &amp; co" in body, "%s: text passes unchanged" % p)
    c.ok("content-length" not in h or int(h["content-length"][0]) == len(body.encode()),
         "%s: no stale Content-Length" % p)
    # the blocked-link page is the gateway's own
    st, h, body, ver = get("/__worklink/blocked?url=https%3A%2F%2Fevil.example.net%2F", http2=h2)
    c.ok(st == 403 and "outside" in body, "%s: blocked-link page (%d)" % (p, st))

# ---- the cookie jar ----
st, h, body, _ = get("/echo")
ck = json.loads(body)["cookie"] or ""
c.ok("origin_sid=s3cr3t" in ck, "origin sees its cookie on the next request (%s)" % ck)
c.ok("wl_session" not in ck, "the gateway's session cookie is not sent to the origin")
c.ok(json.loads(body)["accept_encoding"] == "gzip, identity",
     "origin asked for gzip, identity (%s)" % json.loads(body)["accept_encoding"])
st, h, body, _ = get("/echo", token=tok2, http2=True)
ck2 = json.loads(body)["cookie"] or ""
c.ok("s3cr3t" not in ck2, "another session does not get the cookie (%s)" % ck2)
st, h, body, _ = get("/setcookie?v=bob1", token=tok2, http2=True)
c.ok("set-cookie" not in h, "h2: Set-Cookie stripped")
st, h, body, _ = get("/echo", token=tok2)
c.ok("oc=bob1" in (json.loads(body)["cookie"] or ""), "bob's cookie came back over h1")
# every worker knows at once that bob's session now has a jar (session/jar event): new
# connections land on either worker, each must send the cookie
seen = [("oc=bob1" in (json.loads(get("/echo", token=tok2, http2=i % 2 == 1)[2])["cookie"] or ""))
        for i in range(12)]
c.ok(all(seen), "bob's cookie on every later request, whatever the worker (%s)" % seen)
c.eq(e.r.hget("wl:{%s}:session:%s" % (F, sid2), "jar"), "1", "session marked as having a jar")
# a session without a jar costs no Redis GET per request (the jar is only read when it exists)
tok3, sid3, _ = e.new_session("carol")


def gets():
    return int(e.r.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


g0 = gets()
for i in range(5):
    get("/echo", token=tok3)
c.eq(gets() - g0, 0, "no jar GET for a session that never got a cookie")
st, h, body, _ = get("/echo", token=tok)
c.ok("oc=bob1" not in (json.loads(body)["cookie"] or ""), "alice does not get bob's cookie")
jar = e.r.get("wl:{%s}:jar:%s" % (F, sid)) or ""
c.ok(jar.startswith("WLJAR1") and "origin_sid\ts3cr3t" in jar, "jar stored in Redis")
exp = int(e.r.hget("wl:{%s}:session:%s" % (F, sid), "expires"))
pexp = e.r.pexpiretime("wl:{%s}:jar:%s" % (F, sid)) if hasattr(e.r, "pexpiretime") else \
    int(time.time() * 1000) + e.r.pttl("wl:{%s}:jar:%s" % (F, sid))
c.ok(abs(pexp - exp) < 2000, "jar expires with the session (%d vs %d)" % (pexp, exp))
# sign-out deletes session and jar together (control's script); the next request cannot revive it
e.r.delete("wl:{%s}:session:%s" % (F, sid), "wl:{%s}:jar:%s" % (F, sid))
e.publish("user", "signout", "alice")
time.sleep(0.5)
st, h, body, _ = get("/setcookie?v=late")
c.ok(st in (302, 401), "signed-out session refused (%d)" % st)
c.ok(not e.r.exists("wl:{%s}:jar:%s" % (F, sid)), "jar stays gone after sign-out")
tok, sid, _ = e.new_session("alice")

# ---- gzip ----
for h2 in (False, True):
    p = "h2" if h2 else "h1"
    raw = os.path.join(hdir, "gz.raw")
    st, h, _, _ = get("/gz", http2=h2, extra=["-H", "Accept-Encoding: gzip"], out=raw)
    with open(raw, "rb") as f:
        data = f.read()
    c.eq(h.get("content-encoding"), ["gzip"], "%s: gzip page re-encoded for the device" % p)
    try:
        page = gzip.decompress(data).decode()
    except Exception as ex:  # noqa: BLE001
        page = "undecodable: %r" % ex
    c.ok(('href="%s/handbook"' % DOCS) in page and "/__worklink/blocked?url=" in page,
         "%s: gzip page rewritten" % p)
    st, h, body, _ = get("/gz", http2=h2)
    c.ok("content-encoding" not in h and ('href="%s/handbook"' % DOCS) in body,
         "%s: gzip page decoded for a device without gzip" % p)

# ---- non-HTML passes byte-identical ----
def with_rss(fn):
    """Runs fn in a thread while sampling the gateway's RSS; returns (fn's result, base, peak)."""
    pid = e.gw.pid
    base = gwfix.rss_kb(pid)
    samples, res = [], {}
    th = threading.Thread(target=lambda: res.update(r=fn()))
    th.start()
    while th.is_alive():
        samples.append(gwfix.rss_kb(pid))
        time.sleep(0.1)
    th.join()
    return res.get("r"), base, max(samples) if samples else base


N = 1 << 30  # issue 5: a 1 GiB non-HTML body passes with flat memory
blk = random.Random(1).randbytes(1 << 20)
want = hashlib.sha256()
for _ in range(N >> 20):
    want.update(blk)
for h2 in (False, True):
    p = "h2" if h2 else "h1"
    out = os.path.join(hdir, "bin")
    t0 = time.time()
    (st, h, _, _), base, peak = with_rss(lambda: get("/bin?n=%d" % N, http2=h2, out=out))
    secs = time.time() - t0
    got = hashlib.sha256()
    with open(out, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            got.update(b)
    os.unlink(out)
    print("%s: 1 GiB binary in %.1f s (%.0f MB/s), RSS %d -> peak %d KiB" % (
        p, secs, N / secs / 1e6, base, peak), flush=True)
    c.ok(st == 200 and got.hexdigest() == want.hexdigest(), "%s: 1 GiB body byte-identical" % p)
    c.ok(peak - base < 20 * 1024, "%s: RSS flat during the 1 GiB body (grew %d KiB)" % (
        p, peak - base))
    c.eq(h.get("content-length"), [str(N)], "%s: binary keeps its Content-Length" % p)
    c.ok("etag" not in h and h.get("cache-control") == ["no-store"],
         "%s: header policy on the binary too" % p)

# ---- downloads ----
st, h, body, _ = get("/download")
c.ok(st == 200 and "secret spreadsheet" in body, "download allowed by default (%d)" % st)
e.r.hset("wl:{%s}:fleet" % F, "downloads", "block")
e.publish("fleet", "update", F)
deadline = time.time() + 10
while time.time() < deadline:
    st, h, body, _ = get("/download", http2=True)
    if st == 403:
        break
    time.sleep(0.2)
c.ok(st == 403 and "secret" not in body and "Download blocked" in body,
     "h2: download blocked when the fleet says block (%d)" % st)
st, h, body, _ = get("/download")
c.ok(st == 403 and "secret" not in body, "h1: download blocked (%d)" % st)
st, h, body, _ = get("/page")
c.eq(st, 200, "pages still served with downloads blocked")

# ---- memory on a huge HTML page ----
HUGE = 80 << 20
for h2 in (False, True):
    p = "h2" if h2 else "h1"
    t0 = time.time()
    r, base, peak = with_rss(lambda: get("/huge?n=%d" % HUGE, http2=h2, out="/dev/null"))
    secs = time.time() - t0
    print("%s: %d MiB HTML rewritten in %.1f s (%.0f MB/s), RSS %d -> peak %d KiB" % (
        p, HUGE >> 20, secs, HUGE / secs / 1e6, base, peak), flush=True)
    c.ok(r[0] == 200 and e.last_size > HUGE, "%s: huge HTML page complete (%d bytes)" % (
        p, e.last_size))
    c.ok(peak - base < 20 * 1024, "%s: RSS bounded on a huge HTML page (grew %d KiB)" % (
        p, peak - base))

c.ok(e.gw.poll() is None, "gateway still running")
c.done()
