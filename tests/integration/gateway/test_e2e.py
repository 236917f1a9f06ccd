"""worklink-gateway end to end: real Redis written as control writes it, real TLS with test CAs,
a real origin, curl and nghttp as devices."""
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwfix  # noqa: E402
import wl_testlib as t  # noqa: E402

c = t.Checker()
e = gwfix.Env()
oport, _ = e.start_origin()
e.add_domain("wiki.example.com")                        # ECDSA certificate
e.add_domain("mail.example.com", ec=False)              # RSA certificate
e.add_domain("old.example.com", status="INACTIVE")
e.add_domain("new.example.com", status="ASSOCIATING")
dead_port = t.free_port()
origins = ["--origin", "wiki.example.com=http://127.0.0.1:%d" % oport,
           "--origin", "mail.example.com=http://127.0.0.1:%d" % oport,
           "--origin", "old.example.com=http://127.0.0.1:%d" % oport,
           "--origin", "down.example.com=http://127.0.0.1:%d" % dead_port]
e.add_domain("down.example.com")
e.start_gateway(origins + ["--header-timeout-ms", "1500"])
tok, sid, dev = e.new_session()

# ---- served with a valid session, h1 and h2, cookie and bearer ----
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok)
c.eq((st, body, ver), (200, "hello from origin\n", "1.1"), "h1 with session cookie")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, http2=True)
c.eq((st, body, ver), (200, "hello from origin\n", "2"), "h2 with session cookie")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, bearer=True)
c.eq((st, body), (200, "hello from origin\n"), "bearer token")
st, body, rc, err, ver = e.curl("mail.example.com", "/hello", tok, http2=True)
c.eq((st, body), (200, "hello from origin\n"), "RSA certificate domain over h2")

# SNI picks the domain's certificate
for dom in ("wiki.example.com", "mail.example.com"):
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % e.port,
                          "-servername", dom, "-CAfile", e.ca[0]],
                         input=b"", capture_output=True, timeout=20).stdout.decode()
    c.ok("CN = " + dom in out or "CN=" + dom in out, "SNI %s selects its certificate" % dom)
    c.ok("Verify return code: 0" in out, "certificate of %s verifies" % dom)

# ---- credentials stripped, forwarding headers set ----
st, body, rc, err, ver = e.curl("wiki.example.com", "/headers", tok,
                                extra=["-H", "Cookie: app=1; __Host-wl_session=" + tok,
                                       "-H", "X-Forwarded-For: 6.6.6.6"])
h = json.loads(body) if st == 200 else {}
c.ok(tok not in body, "session token never reaches the origin")
c.eq(h.get("cookie"), "app=1", "other cookies reach the origin")
c.eq(h.get("x-forwarded-for"), "127.0.0.1", "X-Forwarded-For is the device address")
c.eq(h.get("x-forwarded-proto"), "https", "X-Forwarded-Proto")
c.ok("for=127.0.0.1" in h.get("forwarded", ""), "Forwarded header")
st, body, rc, err, ver = e.curl("wiki.example.com", "/headers", tok, bearer=True)
c.ok(st == 200 and "authorization" not in json.loads(body), "Bearer token stripped")

# ---- refusals ----
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello?x=1", html=True)
c.eq(st, 302, "no session, HTML request: redirect to login")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", extra=["-D", "-"], html=True)
c.ok("location: /_wl/login?return=/hello" in body.lower(), "login redirect location")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello")
c.eq(st, 401, "no session, API request: 401")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", "not-a-session")
c.eq(st, 401, "unknown token: 401")
st, body, rc, err, ver = e.curl("wiki.example.com", "/_wl/login?return=/x", html=True)
c.ok(st in (200, 302, 503) and "<html" in body.lower() and "/_wl/login" not in body,
     "login entry point reachable without a session (%d)" % st)
st, body, rc, err, ver = e.curl("old.example.com", "/hello", tok)
c.ok(st == 403 and "revoked" in body, "INACTIVE domain: 403 revoked page (%d)" % st)
st, body, rc, err, ver = e.curl("new.example.com", "/hello", tok)
c.eq(st, 404, "ASSOCIATING domain: 404 page")
st, body, rc, err, ver = e.curl("unknown.example.com", "/hello", tok)
c.ok(rc == 35 and "unrecognized name" in err, "unknown SNI: TLS alert (%d %s)" % (rc, err.strip()))
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, http2=True,
                                host_header="mail.example.com")
c.eq((st, ver), (421, "2"), "h2 :authority of another domain than SNI: 421")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, host_header="evil.example.com")
c.eq(st, 421, "h1 Host not the SNI domain: 421")

# header floods and malformed requests
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok,
                                extra=["-H", "X-Big: " + "a" * 20000])
c.eq(st, 431, "h1 head above 16 KiB: 431")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok, http2=True,
                                extra=["-H", "X-Big: " + "a" * 20000])
c.ok(st != 200, "h2 header list above 16 KiB refused (%d, curl %d)" % (st, rc))
raw = socket.create_connection(("127.0.0.1", e.port), timeout=10)
tls = ssl.create_default_context(cafile=e.ca[0]).wrap_socket(raw, server_hostname="wiki.example.com")
tls.sendall(b"GET /hello HTTP/1.1\r\nHost: wiki.example.com\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
c.ok(tls.recv(100).startswith(b"HTTP/1.1 400"), "Content-Length with Transfer-Encoding: 400")
tls.close()
c.eq(e.curl("wiki.example.com", "/hello", tok)[0], 200, "still serving after bad requests")

# expired, idle, signed-out device
tok_exp, _, _ = e.new_session(ttl_ms=-1000)
c.eq(e.curl("wiki.example.com", "/hello", tok_exp)[0], 401, "expired session")
tok_idle, _, _ = e.new_session(idle_ms=1000, last_seen=int(time.time() * 1000) - 5000)
c.eq(e.curl("wiki.example.com", "/hello", tok_idle)[0], 401, "idle session")
tok_so, _, _ = e.new_session(device_status="SIGNED_OUT")
c.eq(e.curl("wiki.example.com", "/hello", tok_so)[0], 401, "session of a signed-out device")

# ---- origin errors ----
st, body, rc, err, ver = e.curl("down.example.com", "/hello", tok)
c.ok(st == 502 and "cannot be reached" in body, "origin down: 502 page (%d)" % st)
t0 = time.time()
st, body, rc, err, ver = e.curl("wiki.example.com", "/slow?ms=4000", tok)
c.ok(st == 504 and "did not answer" in body, "origin slow: 504 page (%d)" % st)
c.ok(time.time() - t0 < 3.5, "504 after the header timeout")

# ---- sign-out by the device: session ends everywhere, the device is told to clear the site ----
so_tok, so_sid, so_dev = e.new_session(user="carol")
keep_tok, _, _ = e.new_session(user="carol")  # another device of the same user stays signed in
e.r.set("wl:{%s}:jar:%s" % (gwfix.F, so_sid), "WLJAR1\n")
st, body, rc, err, ver = e.curl("wiki.example.com", "/_wl/signout", so_tok, html=True)
c.ok(st == 200 and 'method="post"' in body and e.r.exists("wl:{%s}:session:%s" % (gwfix.F, so_sid)),
     "GET /_wl/signout: a sign-out button, nothing ended yet (%d)" % st)
for proto in ("h2", "h1"):
    st, body, rc, err, ver = e.curl("wiki.example.com", "/_wl/signout", so_tok, html=True,
                                    http2=proto == "h2", extra=["-X", "POST", "-D", "-"])
    low = body.lower()
    c.ok(st == 200 and 'clear-site-data: "cache", "storage"' in low and
         "set-cookie: __host-wl_session=;" in low and "max-age=0" in low and "signed out" in low,
         "POST /_wl/signout (%s): 200, Clear-Site-Data, session cookie expired (%d)" % (proto, st))
c.ok(not e.r.exists("wl:{%s}:session:%s" % (gwfix.F, so_sid)) and
     not e.r.exists("wl:{%s}:jar:%s" % (gwfix.F, so_sid)) and
     not e.r.sismember("wl:{%s}:user:carol:sessions" % gwfix.F, so_sid),
     "sign-out: session, cookie jar and the user's index entry gone from Redis")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", so_tok, html=True, extra=["-D", "-"])
c.ok(st == 302 and 'clear-site-data: "cache", "storage"' in body.lower(),
     "the ended session's next page: login redirect that clears the site (%d)" % st)
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", so_tok, bearer=True)
c.eq(st, 401, "the ended session no longer works as a Bearer token either")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", keep_tok)
c.eq(st, 200, "the user's other session is untouched")
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", html=True, extra=["-D", "-"])
c.ok(st == 302 and "clear-site-data" not in body.lower(),
     "no cookie sent: plain login redirect, nothing to clear")

# ---- PROXY protocol v2 (HAProxy in front): the client address comes from the header ----
import http.client  # noqa: E402
import struct  # noqa: E402

e.start_gateway(origins + ["--proxy-protocol"], workers=1)


def proxied_get(with_header):
    raw = socket.create_connection(("127.0.0.1", e.port), timeout=10)
    if with_header:
        raw.sendall(b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", 12) +
                    socket.inet_aton("203.0.113.7") + socket.inet_aton("127.0.0.1") +
                    struct.pack("!HH", 40000, e.port))
    ctx = ssl.create_default_context(cafile=e.ca[0])
    try:
        s = ctx.wrap_socket(raw, server_hostname="wiki.example.com")
        s.sendall(("GET /headers HTTP/1.1\r\nHost: wiki.example.com\r\n"
                   "Cookie: __Host-wl_session=%s\r\nConnection: close\r\n\r\n" % tok).encode())
        r = http.client.HTTPResponse(s)
        r.begin()
        return r.status, r.read().decode()
    except (ssl.SSLError, OSError) as ex:
        return 0, str(ex)


st, body = proxied_get(True)
c.ok(st == 200 and json.loads(body).get("x-forwarded-for") == "203.0.113.7",
     "PROXY v2 source address forwarded (%d %s)" % (st, body[:100]))
st, body = proxied_get(False)
c.eq(st, 0, "--proxy-protocol: a connection without the header is refused")

# ---- slow clients and connection limits ----
e.start_gateway(origins + ["--client-header-timeout-ms", "1000", "--keepalive-timeout-ms", "2500",
                           "--max-conns", "4"], workers=1)
ctx = ssl.create_default_context(cafile=e.ca[0])
slow = ctx.wrap_socket(socket.create_connection(("127.0.0.1", e.port), timeout=10),
                       server_hostname="wiki.example.com")
slow.sendall(b"GET /hello HTTP/1.1\r\nHost: wiki.example.com\r\nX-Slow: ")
t0 = time.time()
closed = False
try:
    while slow.recv(4096):
        pass
    closed = True  # EOF (after an optional 408 page)
except socket.timeout:
    closed = False
except (ssl.SSLError, OSError):
    closed = True  # reset
waited = time.time() - t0
c.ok(closed and 0.5 < waited < 5, "slowloris: an unfinished head is cut after the header "
     "timeout (%.1f s)" % waited)
# keep-alive: the wait between requests has its own limit, longer than the head's
ka = ctx.wrap_socket(socket.create_connection(("127.0.0.1", e.port), timeout=10),
                     server_hostname="wiki.example.com")
req = ("GET /hello HTTP/1.1\r\nHost: wiki.example.com\r\nCookie: __Host-wl_session=%s\r\n\r\n"
       % tok).encode()


def one_response(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(4096)
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(rest) < n:
        rest += sock.recv(4096)
    return head.split(b" ")[1]


ka.sendall(req)
first = one_response(ka)
time.sleep(1.6)  # beyond the 1 s header timeout, within the 2.5 s keep-alive timeout
ka.sendall(req)
second = one_response(ka)
c.ok(first == b"200" and second == b"200",
     "keep-alive: a second request after 1.6 s idle is served (%s %s)" % (first, second))
t0 = time.time()
try:
    while ka.recv(4096):
        pass
except (ssl.SSLError, OSError):
    pass
waited = time.time() - t0
c.ok(2.0 < waited < 4.5, "keep-alive: an idle connection is closed after "
     "--keepalive-timeout-ms (%.1f s)" % waited)
ka.close()
held = [ctx.wrap_socket(socket.create_connection(("127.0.0.1", e.port), timeout=10),
                        server_hostname="wiki.example.com") for _ in range(4)]
st, body, rc, err, ver = e.curl("wiki.example.com", "/hello", tok)
c.ok(st == 0, "beyond --max-conns new connections are refused (curl %d)" % rc)
for h in held:
    h.close()
time.sleep(0.3)
c.eq(e.curl("wiki.example.com", "/hello", tok)[0], 200, "served again once connections close")

if __name__ == "__main__":
    c.done()
