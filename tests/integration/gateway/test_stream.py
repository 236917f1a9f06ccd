"""worklink-gateway streaming: a 1 GiB download with flat memory, a slow device (backpressure),
h2 downloads, chunked and Content-Length uploads, chunked origin responses, then SIGTERM drain
with requests in flight."""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwfix  # noqa: E402
import wl_testlib as t  # noqa: E402

GIB = 1 << 30
c = t.Checker()
e = gwfix.Env()
oport, _ = e.start_origin()
e.add_domain("files.example.com")
# small ASan quarantine so RSS shows what the gateway holds, not what ASan keeps for checking
e.start_gateway(["--origin", "files.example.com=http://127.0.0.1:%d" % oport,
                 "--no-access-log"], asan="quarantine_size_mb=4")
tok, _, _ = e.new_session()
pid = e.gw.pid


def download(path, http2=False, extra=()):
    """Runs curl in the background; samples the gateway's RSS meanwhile."""
    samples = []
    result = {}

    def run():
        result["r"] = e.curl("files.example.com", path, tok, http2=http2, out="/dev/null",
                             timeout=300, extra=list(extra))

    th = threading.Thread(target=run)
    th.start()
    while th.is_alive():
        samples.append(gwfix.rss_kb(pid))
        time.sleep(0.1)
    th.join()
    return result["r"], max(samples) if samples else 0


c.eq(e.curl("files.example.com", "/hello", tok)[0], 200, "warm-up")
base = gwfix.rss_kb(pid)
t0 = time.time()
(st, body, rc, err, ver), peak = download("/big?n=%d" % GIB)
secs = time.time() - t0
print("1 GiB over h1: %.1f s (%.0f MB/s), RSS %d -> peak %d KiB" % (
    secs, GIB / secs / 1e6, base, peak), flush=True)
c.eq(st, 200, "1 GiB download status")
c.ok(e.last_size == GIB, "1 GiB download complete (%d)" % e.last_size)
c.ok(peak - base < 64 * 1024, "RSS stays flat during 1 GiB (grew %d KiB)" % (peak - base))

(st, body, rc, err, ver), peak = download("/big?n=%d" % (200 << 20), http2=True)
c.ok(st == 200 and ver == "2" and e.last_size == 200 << 20, "200 MiB over h2 (%s)" % ver)
c.ok(peak - base < 64 * 1024, "RSS flat over h2 (grew %d KiB)" % (peak - base))

# a slow device: 40 MiB at 8 MiB/s; the gateway must not buffer the body
(st, body, rc, err, ver), peak = download("/big?n=%d" % (40 << 20),
                                           extra=["--limit-rate", "8M"])
c.ok(st == 200 and e.last_size == 40 << 20, "slow device download complete")
c.ok(peak - base < 24 * 1024, "slow device: gateway holds < 24 MiB (grew %d KiB)" % (peak - base))

st, body, rc, err, ver = e.curl("files.example.com", "/chunked?n=1000000", tok, http2=True)
c.ok(st == 200 and body == "y" * 1000000, "chunked origin response relayed over h2")
st, body, rc, err, ver = e.curl("files.example.com", "/chunked?n=123457", tok)
c.ok(st == 200 and body == "y" * 123457, "chunked origin response relayed over h1")
st, body, rc, err, ver = e.curl("files.example.com", "/hello", tok, extra=["-I"])
c.ok(st == 200 and "content-length: 18" in body.lower(), "HEAD keeps the origin's length")

# uploads
up = os.path.join(e.d, "upload.bin")
with open(up, "wb") as f:
    f.write(os.urandom(20 << 20))
with open(up, "rb") as f:
    want = hashlib.sha256(f.read()).hexdigest()
for label, http2, extra in (
        ("h1 chunked upload", False, ["-H", "Transfer-Encoding: chunked"]),
        ("h1 Content-Length upload", False, []),
        ("h2 upload", True, [])):
    st, body, rc, err, ver = e.curl("files.example.com", "/upload", tok, http2=http2,
                                    extra=["--data-binary", "@" + up] + extra, timeout=120)
    got = json.loads(body) if st == 200 else {}
    c.ok(st == 200 and got.get("len") == 20 << 20 and got.get("sha256") == want,
         "%s: 20 MiB arrive intact (%d %s)" % (label, st, body[:80]))

# ---- metrics ----
_, m = e.admin("/metrics")
c.ok('worklink_gateway_requests_total{status="200"}' in m, "requests by status in /metrics")
c.ok("worklink_gateway_request_duration_seconds_bucket" in m, "latency histogram in /metrics")
c.eq(e.admin("/healthz")[0], 200, "healthz")

# ---- SIGTERM drain: in-flight requests finish, new connections are refused ----
results = []


def slow(http2):
    results.append(e.curl("files.example.com", "/slow?ms=1500", tok, http2=http2, timeout=30))


ths = [threading.Thread(target=slow, args=(h,)) for h in (False, True, False)]
for th in ths:
    th.start()
time.sleep(0.5)
e.gw.send_signal(15)
time.sleep(0.2)
st, body, rc, err, ver = e.curl("files.example.com", "/hello", tok)
c.ok(st == 0, "draining gateway refuses new connections (curl %d)" % rc)
for th in ths:
    th.join()
c.eq(sorted(r[0] for r in results), [200, 200, 200], "in-flight requests finish during drain")
try:
    code = e.gw.wait(15)
except subprocess.TimeoutExpired:
    code = None
c.eq(code, 0, "gateway exits 0 after draining")
with open(e.gw.stderr_path) as f:
    log = f.read()
c.ok("ERROR: AddressSanitizer" not in log and "LeakSanitizer" not in log, "no sanitizer reports")
c.done()
