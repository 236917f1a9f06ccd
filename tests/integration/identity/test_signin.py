"""Sign-in end to end: worklink-control configured with the AWS CLI, Debian's python3-pysaml2 as
the IdP, curl as the device (cookie jar, redirects, the POST to the ACS), the gateway in front of
a real origin. Then the cases only the gateway can show: replayed assertion, unknown
InResponseTo, tampered response, ACS on another host, reused ticket, open-redirect attempt, no
session created by any refusal (checked in Redis), SignOutUser ending access, and the device in
ListDevices / DescribeDevice."""
import calendar
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idfix  # noqa: E402
import wl_testlib as t  # noqa: E402
from idfix import F, IDPDOM, MAIL, SSO, WIKI, qs  # noqa: E402

c = t.Checker()
e = idfix.Env(c)
DOMAINS = [SSO, WIKI, MAIL, IDPDOM]
e.setup_fleet(DOMAINS)
e.setup_idp()
c.ok(e.acs == "https://%s:%d/_wl/%s/saml/acs" % (SSO, e.port, F), "ACS URL " + e.acs)
oport = e.start_origin()
e.start_gateway(oport, DOMAINS)

UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A) AppleWebKit/537.36 (KHTML, like "
      "Gecko) Chrome/120.0 Mobile Safari/537.36")
HTML = ["Accept: text/html", "User-Agent: " + UA]

# ---- 0. company-code discovery (public, rate limited) ----
code = e.ok("describe-fleet-metadata", "worklink", "describe-fleet-metadata", "--fleet-arn",
            idfix.FLEET_ARN).get("CompanyCode", "")
st, h, body, _ = e.curl(e.url(SSO, "/_wl/discovery?code=" + code), jar=False)
dj = json.loads(body) if st == 200 else {}
c.eq((st, dj.get("FleetName"), dj.get("CompanyCode")), (200, F, code), "discovery of the code")
c.eq(dj.get("LoginUrl"), e.url(SSO, "/_wl/login"), "discovery gives the login URL")
c.eq(dj.get("IdentityProviderConfigured"), True, "discovery: IdP configured")
st, h, body, _ = e.curl(e.url(SSO, "/_wl/discovery?code=NOSUCHCODE1"), jar=False)
c.ok(st == 404 and "UnknownCompanyCode" in body and "NOSUCHCODE1" in body,
     "unknown company code: clear 404 (%d %s)" % (st, body[:100]))
st, h, body, _ = e.curl(e.url(SSO, "/_wl/discovery?code=a%27b"), jar=False)
c.eq(st, 400, "malformed company code: 400")
codes = [e.curl(e.url(SSO, "/_wl/discovery?code=" + code), jar=False)[0] for _ in range(24)]
c.ok(429 in codes, "discovery is rate limited: %s" % codes)

# ---- 1. no session: the page sends the device to login ----
st, h, body, _ = e.curl(e.url(WIKI, "/hello?x=1"), headers=HTML)
c.eq(st, 302, "page without a session redirects")
loc = h.get("location", [""])[0]
c.eq(loc, "/_wl/login?return=/hello%3Fx%3D1", "to the login entry point with the page")
st, h, body, _ = e.curl(e.url(WIKI, "/hello"))
c.eq(st, 401, "non-HTML request without a session: 401")

# ---- 2. login: signed AuthnRequest to the IdP ----
st, h, body, _ = e.curl(e.url(WIKI, loc), headers=HTML)
c.eq(st, 302, "login redirects to the IdP")
idp_url = h.get("location", [""])[0]
c.ok(idp_url.startswith("https://idp.example.test/sso?SAMLRequest="), "IdP SSO URL: " + idp_url)
q = qs(idp_url)
c.ok("Signature" in q and "SigAlg" in q, "AuthnRequest signed (Signature, SigAlg)")
relay = q.get("RelayState", "")
c.ok(re.fullmatch(r"[A-Za-z0-9_-]{16,80}", relay) is not None, "RelayState is an opaque key")
c.ok("hello" not in relay and "wiki" not in relay, "RelayState carries no URL")
req, form = e.idp_login(idp_url)  # pysaml2 verifies our signature with the SP certificate
c.ok(e.r.exists("wl:{%s}:authn:%s" % (F, req.id)) == 1, "request id stored in Redis")
c.ok(e.r.pttl("wl:{%s}:authn:%s" % (F, req.id)) > 0, "request id expires")

# ---- 3. the ACS, then the ticket chain sets the cookie on every domain, back to the page ----
before = e.sessions()
c.eq(before, [], "no session before the ACS")
st, h, body, final = e.curl(e.acs, data=form, headers=HTML, follow=True)
if not c.eq((st, body), (200, "hello from origin\n"), "after sign-in the page is served"):
    print(e.gw_log())
c.eq(final, e.url(WIKI, "/hello?x=1"), "back to the page originally asked for")
sess = e.sessions()
c.eq(len(sess), 1, "one session created")
s = e.r.hgetall(sess[0]) if sess else {}
c.eq(s.get("username"), "alice@example.com", "session username = NameID")
c.ok(int(s.get("expires", 0)) > time.time() * 1000, "absolute expiry in the future")
c.ok(0 < e.r.pttl(sess[0]) <= 12 * 3600 * 1000 + 1000, "session key TTL = absolute expiry")
c.ok(int(s.get("idle_timeout_ms", 0)) > 0, "idle timeout set")
with open(e.jar) as f:
    jar = f.read()
toks = re.findall(r"#HttpOnly_([^\t]+)\t\S+\t/\tTRUE\t\d+\t__Host-wl_session\t(\S+)", jar)
c.eq(sorted(d for d, _ in toks), sorted(DOMAINS), "session cookie (Secure, HttpOnly) on every domain")
token = toks[0][1] if toks else ""
c.ok(len(token) >= 43, "token has >= 256 bits")
c.ok(len({tk for _, tk in toks}) == 1, "one session for all domains")
c.eq(sess[0] if sess else "", "wl:{%s}:session:%s" % (F, hashlib.sha256(token.encode()).hexdigest()),
     "session stored under the SHA-256 of the token")
leak = [k for k in e.r.scan_iter("*") if e.r.type(k) == "string" and token in (e.r.get(k) or "")]
c.eq(leak, [], "the token itself is nowhere in Redis")
c.eq(list(e.r.scan_iter("wl:{%s}:ticket:*" % F)), [], "tickets consumed")
c.eq(e.r.exists("wl:{%s}:authn:%s" % (F, req.id)), 0, "request id consumed")
# the other domains work with that one sign-in
st, _, body, _ = e.curl(e.url(MAIL, "/hello"), headers=HTML)
c.eq((st, body), (200, "hello from origin\n"), "second domain served without signing in again")
st, _, body, _ = e.curl(e.url(WIKI, "/hello"), jar=False,
                        headers=["Authorization: Bearer " + token])
c.eq((st, body), (200, "hello from origin\n"), "Authorization: Bearer works")

# ---- 3b. identity to the origin: ES256 JWT checked against the JWKS ----
st, _, body, _ = e.curl(e.url(MAIL, "/headers"), headers=HTML + ["X-WorkLink-Identity: forged"])
oh = json.loads(body) if st == 200 else {}
jwt = oh.get("x-worklink-identity", "")
c.ok(jwt.count(".") == 2 and "forged" not in jwt, "origin gets the gateway's JWT, not the device's")
st, _, body, _ = e.curl(e.url(SSO, "/_wl/.well-known/jwks.json"), jar=False)
jwks = json.loads(body) if st == 200 else {}
c.ok(st == 200 and len(jwks.get("keys", [])) >= 1, "JWKS published without a session")
claims = idfix.verify_jwt(jwt, jwks) if jwt.count(".") == 2 else None
c.ok(claims is not None, "JWT signature verifies with the JWKS key (ES256)")
claims = claims or {}
c.eq((claims.get("sub"), claims.get("aud"), claims.get("fleet")),
     ("alice@example.com", MAIL, F), "JWT names user, domain (aud) and fleet")
c.eq(claims.get("device_id"), s.get("device_id"), "JWT names the device")
c.ok(0 < claims.get("exp", 0) - time.time() <= 300, "JWT expires within minutes")
c.ok(idfix.verify_jwt(jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB"), jwks) is None,
     "a modified JWT does not verify")
# ---- 4. the device ----
dev_id = s.get("device_id", "")
devs = e.wl("list-devices", "list-devices").get("Devices", [])
c.eq([x.get("DeviceId") for x in devs], [dev_id], "ListDevices shows the signed-in device")
dd = e.wl("describe-device", "describe-device", "--device-id", dev_id)
c.eq(dd.get("Status"), "ACTIVE", "device ACTIVE")
c.eq(dd.get("Username"), "alice@example.com", "device Username")
c.eq((dd.get("OperatingSystem"), dd.get("OperatingSystemVersion"), dd.get("Model")),
     ("Android", "14", "Pixel 8"), "device OS / version / model from the User-Agent")
c.ok(dd.get("FirstAccessedTime") and dd.get("LastAccessedTime"), "first/last access times")
c.ok("__Host-wl_device" in jar, "device id cookie set")

# ---- 5. refusals: nothing created ----
n_sess = len(e.sessions())
st, _, body, _ = e.curl(e.acs, data=form, headers=HTML)
c.eq(st, 403, "replayed assertion refused")
c.ok("<h1>Sign-in failed</h1>" in body, "generic error page")
c.ok("replay" not in body.lower(), "details stay in the log")
# unknown InResponseTo: a genuine IdP response to a request we never issued
bogus = "id" + secrets.token_hex(16)
xml = e.idp.response(bogus, e.acs, e.sp_entity)
st, _, _, _ = e.curl(e.acs, data=[("SAMLResponse", idfix.P.b64(xml)), ("RelayState", "")])
c.eq(st, 403, "unknown InResponseTo refused")
# a fresh request, answered by a tampered response (signature breaks)
st, h, _, _ = e.curl(e.url(WIKI, "/_wl/login?return=/x"))
req2, form2 = e.idp_login(h.get("location", [""])[0], user="mallory@example.com")
xml2 = idfix.P.b64(e.idp.response(req2.id, e.acs, e.sp_entity, user="bob@example.com")
                   .replace("bob@example.com", "root@example.com"))
st, _, _, _ = e.curl(e.acs, data=[("SAMLResponse", xml2), form2[1]])
c.eq(st, 403, "tampered (re-written NameID) response refused")
# the genuine response to req2 posted to the same path on another host: not the ACS
st, _, _, _ = e.curl(e.url(WIKI, "/_wl/%s/saml/acs" % F), data=form2)
c.eq(st, 404, "ACS only on the configured host")
# RelayState of another request
st, _, _, _ = e.curl(e.acs, data=[form2[0], ("RelayState", relay)])
c.eq(st, 403, "RelayState that does not belong to the request refused")
c.eq(len(e.sessions()), n_sess, "no session created by any refusal")
c.eq(e.r.scard("wl:{%s}:user:mallory@example.com:sessions" % F), 0, "no session for mallory")
# GET on the ACS, oversized POST
st, _, _, _ = e.curl(e.acs, method="GET")
c.ok(st in (404, 405), "GET on the ACS is not served (%d)" % st)
big = os.path.join(e.d, "big.txt")
with open(big, "w") as f:
    f.write("SAMLResponse=" + "A" * (2 * 1024 * 1024))
p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", e.ca[0],
                    "--resolve", "%s:%d:127.0.0.1" % (SSO, e.port), "--data-binary", "@" + big,
                    e.acs], capture_output=True, text=True, timeout=30)
c.eq(p.stdout, "413", "oversized ACS POST refused with 413")

# ---- 6. open redirect: the return path stays on the domain ----
st, h, _, _ = e.curl(e.url(WIKI, "/_wl/login?return=https://evil.example.net/"), jar=False)
req3, form3 = e.idp_login(h.get("location", [""])[0])
st, h, _, _ = e.curl(e.acs, data=form3, jar=False)
chain = h.get("location", [""])[0]
c.ok(chain.startswith("https://") and "/_wl/ticket?t=" in chain, "ACS answers with a ticket")
hops, url, final_loc = 0, chain, ""
while url and hops < 10:
    hops += 1
    st, h, _, _ = e.curl(url, jar=False)
    nxt = h.get("location", [""])[0]
    if not nxt.startswith("https://"):
        final_loc = nxt
        break
    url = nxt
c.eq(final_loc, "/", "an absolute return URL becomes / (never an open redirect)")
st, _, body, _ = e.curl(chain, jar=False)
c.eq(st, 400, "a ticket works once")

# ---- 6b. SessionNotOnOrAfter caps the session ----
cap = time.gmtime(time.time() + 600)
st, h, _, _ = e.curl(e.url(WIKI, "/_wl/login?return=/"), jar=False)
req6, form6 = e.idp_login(h.get("location", [""])[0], user="dave@example.com",
                          session_not_on_or_after=time.strftime("%Y-%m-%dT%H:%M:%SZ", cap))
st, _, _, _ = e.curl(e.acs, data=form6, jar=False)
dsid = list(e.r.smembers("wl:{%s}:user:dave@example.com:sessions" % F))
dexp = int(e.r.hget("wl:{%s}:session:%s" % (F, dsid[0]), "expires") or 0) if dsid else 0
c.ok(st == 302 and abs(dexp / 1000 - calendar.timegm(cap)) < 2,
     "session expiry capped by SessionNotOnOrAfter (%d)" % dexp)

# ---- 7. website authorization provider domain: reachable without a session ----
st, _, _, _ = e.curl(e.url(IDPDOM, "/hello"), jar=False)
c.eq(st, 401, "ordinary domain needs a session")
e.wl("associate-website-authorization-provider", "associate-website-authorization-provider",
     "--authorization-provider-type", "SAML", "--domain-name", IDPDOM)
st, _, body, _ = e.curl(e.url(IDPDOM, "/hello"), jar=False)
c.eq((st, body), (200, "hello from origin\n"), "authorization provider domain without session")

# ---- 8. sign-out ends access ----
e.wl("sign-out-user", "sign-out-user", "--username", "alice@example.com")
t0 = time.time()
st = e.poll(lambda: e.curl(e.url(WIKI, "/hello"), headers=HTML)[0], 302, timeout=5)
c.eq(st, 302, "after SignOutUser the next request goes to login")
c.ok(time.time() - t0 < 2, "sign-out enforced quickly (%.2f s)" % (time.time() - t0))
st, _, _, _ = e.curl(e.url(MAIL, "/hello"), jar=False, headers=["Authorization: Bearer " + token])
c.eq(st, 401, "bearer token ended too")
dd = e.wl("describe-device after sign-out", "describe-device", "--device-id", dev_id)
c.eq(dd.get("Status"), "SIGNED_OUT", "device SIGNED_OUT")
# signing in again re-activates the same device (device cookie)
n_dev = len(e.wl("list-devices before", "list-devices").get("Devices", []))
st, h, _, _ = e.curl(e.url(WIKI, "/_wl/login?return=/hello"), headers=HTML)
req4, form4 = e.idp_login(h.get("location", [""])[0])
st, _, body, _ = e.curl(e.acs, data=form4, headers=HTML, follow=True)
c.eq((st, body), (200, "hello from origin\n"), "sign in again")
dd = e.wl("describe-device after new sign-in", "describe-device", "--device-id", dev_id)
c.eq(dd.get("Status"), "ACTIVE", "same device ACTIVE again")
c.eq(len(e.wl("list-devices again", "list-devices").get("Devices", [])), n_dev,
     "no new device for the same phone")

c.ok(e.gw.poll() is None, "gateway still running")

# ---- 9. key rotation: a restarted gateway signs with a new key; tokens of the old key still
# verify (its JWK stays published until its grace period ends) ----
old_kid = json.loads(idfix.b64d(jwt.split(".")[0])).get("kid") if jwt else ""
t.stop(e.gw)
e.start_gateway(oport, DOMAINS)
st, _, body, _ = e.curl(e.url(MAIL, "/headers"), headers=HTML)
jwt2 = (json.loads(body) if st == 200 else {}).get("x-worklink-identity", "")
new_kid = json.loads(idfix.b64d(jwt2.split(".")[0])).get("kid") if jwt2 else ""
c.ok(new_kid and new_kid != old_kid, "new signing key after restart")
st, _, body, _ = e.curl(e.url(SSO, "/_wl/.well-known/jwks.json"), jar=False)
jwks2 = json.loads(body) if st == 200 else {}
c.ok(idfix.verify_jwt(jwt2, jwks2) is not None, "new key's token verifies")
c.ok(idfix.verify_jwt(jwt, jwks2) is not None, "token of the previous key still verifies")

# ---- 10. device policy: sign-in over HTTP/2 with a device certificate records its fingerprint
dca = t.make_ca(e.d, "Device CA")
dcert = t.make_cert(e.d, dca, "phone-1", client=True)
with open(dca[0]) as f:
    e.wl("update-device-policy-configuration", "update-device-policy-configuration",
         "--device-ca-certificate", f.read())
os.remove(e.jar)
st = e.poll(lambda: e.curl(e.url(WIKI, "/hello"), headers=HTML)[0], 0, timeout=10)
c.eq(st, 0, "device policy: no certificate, no TLS connection")
st, h, _, _ = e.curl(e.url(WIKI, "/_wl/login?return=/hello"), headers=HTML, http2=True,
                     cert=dcert)
req5, form5 = e.idp_login(h.get("location", [""])[0], user="carol@example.com")
st, _, body, _ = e.curl(e.acs, data=form5, headers=HTML, follow=True, http2=True, cert=dcert)
c.eq((st, body), (200, "hello from origin\n"), "sign-in over HTTP/2 with a device certificate")
der = subprocess.run(["openssl", "x509", "-in", dcert[0], "-outform", "DER"],
                     capture_output=True, check=True).stdout
carol_dev = list(e.r.smembers("wl:{%s}:user:carol@example.com:devices" % F))
fp = e.r.hget("wl:{%s}:device:%s" % (F, carol_dev[0]), "cert_fingerprint") if carol_dev else ""
c.eq(fp, hashlib.sha256(der).hexdigest(), "device certificate fingerprint recorded")

# ---- anonymous sign-in work is rate limited per client (one connection: one worker) ----
url = e.url(WIKI, "/_wl/login?return=/")
p = subprocess.run(["curl", "-sS", "--cacert", e.ca[0], "--cert", dcert[0], "--key", dcert[1],
                    "--resolve", "%s:%d:127.0.0.1" % (WIKI, e.port), "-o", "/dev/null",
                    "-w", "%{http_code}\n"] + [url] * 30, capture_output=True, text=True,
                   timeout=120)
codes = p.stdout.split()
c.ok("302" in codes and "429" in codes, "login rate limited per client: %s" % codes)

# ---- the gateway drains cleanly: exit 0, nothing from the sanitizers ----
rc = t.stop(e.gw)
c.eq(rc, 0, "gateway exit status after SIGTERM")
with open(e.gw.stderr_path, errors="replace") as f:
    log = f.read()
c.ok("Sanitizer" not in log and "runtime error" not in log,
     "no sanitizer report in the gateway log: " + log[log.find("Sanitizer") - 100:][:6000]
     if "Sanitizer" in log else "sanitizer check")
c.done()
