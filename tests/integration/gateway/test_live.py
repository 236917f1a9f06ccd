"""worklink-gateway live changes: revoke and sign-out propagation time through the change feed
(measured over many trials on every worker), website CA trust without restart, device policy
(mTLS) on and off, TLS session resumption, Redis restart mid-traffic."""
import http.client
import os
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwfix  # noqa: E402
import wl_testlib as t  # noqa: E402

c = t.Checker()
e = gwfix.Env()
oport, _ = e.start_origin()
# a TLS origin whose certificate comes from a private website CA
wca = t.make_ca(e.d, "Website CA")
ocrt, okey = t.make_cert(e.d, wca, "app.internal")
tls_oport, _ = e.start_origin((ocrt, okey))
e.add_domain("wiki.example.com")
e.add_domain("intranet.example.com")
e.start_gateway(["--origin", "wiki.example.com=http://127.0.0.1:%d" % oport,
                 "--origin", "intranet.example.com=https://app.internal:%d" % tls_oport,
                 "--resolve", "app.internal:127.0.0.1", "--stale-ms", "3000",
                 "--session-cache-ms", "5000"], workers=2)


class Dev:
    """A keep-alive HTTP/1.1 device connection (real TLS, SNI = domain)."""

    def __init__(self, domain, token):
        self.domain, self.token = domain, token
        ctx = ssl.create_default_context(cafile=e.ca[0])
        ctx.set_alpn_protocols(["http/1.1"])
        raw = socket.create_connection(("127.0.0.1", e.port), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname=domain)

    def get(self, path="/hello"):
        cookie = "Cookie: __Host-wl_session=%s\r\n" % self.token if self.token else ""
        req = "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, self.domain, cookie)
        self.s.sendall(req.encode())
        r = http.client.HTTPResponse(self.s)
        r.begin()
        r.read()
        return r.status


def measure(devs, want, timeout=2.0):
    """Time (ms) from now until every device connection sees status `want`."""
    t0 = time.perf_counter()
    worst = 0.0
    for d in devs:
        while True:
            st = d.get()
            if st == want:
                worst = max(worst, (time.perf_counter() - t0) * 1000)
                break
            if time.perf_counter() - t0 > timeout:
                return None
    return worst


# ---- RevokeDomainAccess / RestoreDomainAccess through the change feed ----
tok, sid, dev = e.new_session()
devs = [Dev("wiki.example.com", tok) for _ in range(6)]  # spread over the workers
c.ok(all(d.get() == 200 for d in devs), "baseline: served on every connection")
# probes without a session answer 401 while the domain is ACTIVE and 403 once it is revoked (the
# domain check comes first), without an origin round trip blurring the measurement
probes = [Dev("wiki.example.com", None) for _ in range(6)]
revoke_ms = []
for trial in range(24):
    # time one connection (rotating over all of them, so both workers are measured), then
    # check that every other connection is refused too
    e.set_domain_status("wiki.example.com", "INACTIVE")
    ms = measure([probes[trial % len(probes)]], 403)
    revoke_ms.append(ms if ms is not None else 1e9)
    c.ok(all(d.get() == 403 for d in devs + probes), "revoked on every connection (trial %d)" % trial)
    e.set_domain_status("wiki.example.com", "ACTIVE")
    c.ok(measure(probes, 401) is not None and all(d.get() == 200 for d in devs),
         "restore takes effect (trial %d)" % trial)
worst = max(revoke_ms)
print("revoke propagation (ms): %s" % " ".join("%.1f" % x for x in revoke_ms))
print("revoke propagation over %d trials: worst %.1f ms, median %.1f ms" % (
    len(revoke_ms), worst, sorted(revoke_ms)[len(revoke_ms) // 2]), flush=True)
# target 100 ms; the bound is generous because CI machines are shared (the figure is printed)
median = sorted(revoke_ms)[len(revoke_ms) // 2]
c.ok(worst < 250 and median < 50, "revoke enforced on every connection: worst %.1f ms, median "
     "%.1f ms" % (worst, median))
extra = [Dev("wiki.example.com", tok) for _ in range(40)]
for d in extra:
    d.s.close()
per_worker = [float(line.split()[-1]) for line in e.admin("/metrics")[1].splitlines()
              if line.startswith("worklink_gateway_accepts_total{")]
print("accepts per worker after 46 connections: %s" % per_worker, flush=True)
c.ok(len(per_worker) == 2 and min(per_worker) >= 8,
     "connections spread over both workers (accept fairness): %s" % per_worker)

# ---- SignOutUser: sessions deleted, devices SIGNED_OUT, event kind user ----
signout_ms = []
for trial in range(20):
    user = "bob%d" % trial
    tk, sd, dv = e.new_session(user=user)
    ds = [Dev("wiki.example.com", tk) for _ in range(4)]
    c.ok(all(d.get() == 200 for d in ds), "bob served before sign-out (trial %d)" % trial)
    pipe = e.r.pipeline(transaction=True)
    pipe.delete("wl:{%s}:session:%s" % (gwfix.F, sd))
    pipe.hset("wl:{%s}:device:%s" % (gwfix.F, dv), "status", "SIGNED_OUT")
    pipe.execute()
    e.publish("user", "signout", user)
    ms = measure([ds[trial % len(ds)]], 401)
    c.ok(all(d.get() == 401 for d in ds), "signed out on every connection (trial %d)" % trial)
    signout_ms.append(ms if ms is not None else 1e9)
    for d in ds:
        d.s.close()
worst_so = max(signout_ms)
print("sign-out propagation over %d trials: worst %.1f ms" % (len(signout_ms), worst_so),
      flush=True)
c.ok(worst_so < 250, "sign-out enforced within the bound (worst %.1f ms)" % worst_so)

# ---- SIGHUP reloads (a change written without a PUBLISH) ----
e.r.hset("wl:{%s}:domain:wiki.example.com" % gwfix.F, "status", "INACTIVE")
time.sleep(0.2)
c.eq(devs[0].get(), 200, "unpublished change not seen yet")
e.gw.send_signal(1)
c.ok(measure(devs, 403) is not None, "SIGHUP reloads the fleet")
e.r.hset("wl:{%s}:domain:wiki.example.com" % gwfix.F, "status", "ACTIVE")
e.gw.send_signal(1)
c.ok(measure(devs, 200) is not None, "SIGHUP again restores")

# ---- DisassociateDomain: the domain leaves the fleet ----
e.r.zrem("wl:{%s}:domains" % gwfix.F, "intranet.example.com")
e.publish("domain", "delete", "intranet.example.com")
time.sleep(0.2)
st, body, rc, err, ver = e.curl("intranet.example.com", "/hello", tok)
c.ok(rc == 35, "disassociated domain: TLS alert for new connections (%d)" % rc)
e.r.zadd("wl:{%s}:domains" % gwfix.F, {"intranet.example.com": 0})
e.publish("domain", "create", "intranet.example.com")
time.sleep(0.2)

# ---- website CA: private-CA origin fails, then works after the CA upload, no restart ----
st, body, rc, err, ver = e.curl("intranet.example.com", "/hello", tok)
c.ok(st == 502 and "not trusted" in body, "origin with an unknown CA: 502 (%d)" % st)
with open(wca[0]) as f:
    e.r.hset("wl:{%s}:ca:ca-1" % gwfix.F, mapping={"id": "ca-1", "certificate": f.read(),
                                                  "display_name": "Website CA"})
e.r.zadd("wl:{%s}:cas" % gwfix.F, {"ca-1": 0})
e.publish("ca", "create", "ca-1")
time.sleep(0.2)
st, body, rc, err, ver = e.curl("intranet.example.com", "/hello", tok)
c.eq((st, body), (200, "hello from origin\n"), "after AssociateWebsiteCertificateAuthority")

# ---- TLS session resumption (tickets shared by all workers) ----
out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % e.port, "-servername",
                      "wiki.example.com", "-CAfile", e.ca[0], "-tls1_2", "-reconnect"],
                     input=b"", capture_output=True, timeout=30).stdout.decode()
c.ok(out.count("Reused, TLSv1.2") >= 5, "TLS 1.2 tickets resume (%d of 5)" %
     out.count("Reused, TLSv1.2"))
sess = os.path.join(e.d, "sess.pem")
HTTP_REQ = b"GET /_wl/login HTTP/1.1\r\nHost: wiki.example.com\r\nConnection: close\r\n\r\n"
subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % e.port, "-servername",
                "wiki.example.com", "-CAfile", e.ca[0], "-tls1_3", "-sess_out", sess, "-ign_eof"],
               input=HTTP_REQ, capture_output=True, timeout=30)
resumed = 0
for _ in range(4):
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % e.port,
                          "-servername", "wiki.example.com", "-CAfile", e.ca[0], "-tls1_3",
                          "-sess_in", sess, "-ign_eof"], input=HTTP_REQ, capture_output=True,
                         timeout=30).stdout.decode()
    resumed += "Reused, TLSv1.3" in out
c.eq(resumed, 4, "TLS 1.3 tickets resume on every worker")

# ---- device policy: client certificate required and verified ----
dca = t.make_ca(e.d, "Device CA")
good = t.make_cert(e.d, dca, "device-1", client=True)
other = t.make_ca(e.d, "Other CA")
bad = t.make_cert(e.d, other, "device-2", client=True)
with open(dca[0]) as f:
    e.r.hset("wl:{%s}:fleet" % gwfix.F, "device_ca", f.read())
e.publish("device_policy", "update", gwfix.F)
time.sleep(0.2)
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok)
c.ok(st == 0 and rc != 0, "device policy: no client certificate refused (curl %d)" % rc)
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, cert=good)
c.eq(st, 200, "device policy: certificate of the device CA accepted")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, cert=bad, http2=True)
c.ok(st == 0 and rc != 0, "device policy: certificate of another CA refused (curl %d)" % rc)
# revoked (CRL in the device CA chain) and expired certificates are refused
dca2 = gwfix.DeviceCA(e.d)
ok2 = dca2.issue("device-ok")
expired = dca2.issue("device-expired", expired=True)
revoked = dca2.issue("device-revoked")
dca2.revoke(revoked)
e.r.hset("wl:{%s}:fleet" % gwfix.F, "device_ca", dca2.pem_with_crl())
e.publish("device_policy", "update", gwfix.F)
time.sleep(0.2)
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, cert=ok2)
c.eq(st, 200, "device policy with a CRL: valid device certificate accepted")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, cert=expired)
c.ok(st == 0 and rc != 0, "device policy: expired certificate refused (curl %d)" % rc)
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, cert=revoked, http2=True)
c.ok(st == 0 and rc != 0, "device policy: revoked certificate refused (curl %d)" % rc)
e.r.hdel("wl:{%s}:fleet" % gwfix.F, "device_ca")
e.publish("device_policy", "delete", gwfix.F)
time.sleep(0.2)
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok)
c.eq(st, 200, "device policy removed: no client certificate needed")

# ---- Redis restart mid-traffic ----
d = Dev("wiki.example.com", tok)
c.eq(d.get(), 200, "before the Redis outage")
redis_dir = e.redis_proc.args[e.redis_proc.args.index("--dir") + 1]
redis_port = e.redis_proc.args[e.redis_proc.args.index("--port") + 1]
e.r.save()
t.stop(e.redis_proc)
time.sleep(0.3)
c.eq(d.get(), 200, "Redis down: cached session still served from the snapshot")
tok2, _, _ = "fresh-token-unknown", None, None
c.eq(e.curl("wiki.example.com", "/hello", tok2)[0], 503, "Redis down: new session lookups 503")
time.sleep(3.5)
c.eq(e.curl("wiki.example.com", "/hello", tok)[0], 503, "Redis down beyond --stale-ms: 503")
c.eq(e.admin("/readyz")[0], 503, "readyz reports the outage")
e.redis_proc = t.start(["redis-server", "--bind", "127.0.0.1", "--port", redis_port, "--save",
                        "", "--appendonly", "no", "--dir", redis_dir], ready=None)
t_restart = time.time()
deadline = time.time() + 30
st = 0
while time.time() < deadline:
    st = e.curl("wiki.example.com", "/hello", tok)[0]
    if st == 200:
        break
    time.sleep(0.2)
if not c.eq(st, 200, "Redis back: the gateway recovers by itself (after %.1f s)" % (
        time.time() - t_restart)):
    with open(e.gw.stderr_path) as f:
        print("".join(l for l in f.readlines() if '"access"' not in l)[-3000:])
c.eq(e.admin("/readyz")[0], 200, "readyz ready again")
c.ok(e.metric("worklink_gateway_config_reloads_total") > 0, "reloads counted in /metrics")

c.done()
