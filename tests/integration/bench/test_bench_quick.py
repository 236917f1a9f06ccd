"""bench/bench.py --quick against the build under test: every scenario runs against every
target (direct origin, nginx, HAProxy, and the gateway once it is built) without errors, and the
JSON and Markdown reports are written. A smoke test: figures are not judged."""
import json
import os
import subprocess
import sys

import wl_testlib as t

if os.geteuid() != 0:
    print("SKIP: the benchmark needs root (it adds the bench domain to /etc/hosts)")
    sys.exit(77)

c = t.Checker()
d = t.tmpdir()
src = os.environ.get("WL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
js, md = os.path.join(d, "bench.json"), os.path.join(d, "bench.md")
p = subprocess.run(["/usr/bin/python3", os.path.join(src, "bench", "bench.py"), "--quick",
                    "--build-dir", t.BUILD_DIR, "--json", js, "--markdown", md],
                   capture_output=True, text=True, timeout=400)
print(p.stdout[-6000:])
print(p.stderr[-4000:], file=sys.stderr)
c.eq(p.returncode, 0, "bench.py --quick exit status")
c.ok(os.path.exists(js) and os.path.exists(md), "JSON and Markdown reports written")
if os.path.exists(js):
    r = json.load(open(js))
    c.eq(r["failures"], [], "failures")
    want = ["h1_1k", "h1_64k", "h1_1m", "h2_1k", "tls_full", "tls_resumed", "html", "html_gzip",
            "idle"]
    c.eq(sorted(r["results"]), sorted(want), "scenarios run")
    for sc in want:
        for tg in ("nginx", "haproxy"):
            rounds = r["results"].get(sc, {}).get(tg, [])
            c.ok(rounds and all(x.get("requests", 0) > 0 and not x.get("errors")
                                for x in rounds), "%s against %s served requests" % (sc, tg))
    gw_built = os.path.exists(os.path.join(t.BUILD_DIR, "gateway", "worklink-gateway"))
    if gw_built:
        for sc in want:
            rounds = r["results"].get(sc, {}).get("gateway", [])
            c.ok(rounds and all(x.get("requests", 0) > 0 and not x.get("errors")
                                for x in rounds), "%s against the gateway served requests" % sc)
        for what in ("revoke", "signout"):
            c.ok((r.get("revoke") or {}).get(what, {}).get("all_max_ms") is not None,
                 "%s propagation measured on every probe connection" % what)
    tls = r["results"].get("tls_resumed", {}).get("nginx", [{}])[0]
    c.ok(tls.get("reused_pct", 0) > 50, "resumed handshakes really resume (nginx)")
    full = r["results"].get("tls_full", {}).get("nginx", [{}])[0]
    c.eq(full.get("reused_pct"), 0, "full handshakes never resume (nginx)")
with open("/etc/hosts") as f:
    c.ok("worklink-bench" not in f.read(), "/etc/hosts entry removed at exit")
c.done()
