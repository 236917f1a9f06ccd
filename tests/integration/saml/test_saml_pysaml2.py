"""SAML SP core (gateway/saml, wl_saml) against a real IdP: Debian's python3-pysaml2.

The SP side runs through saml_tool (a thin C driver of the library). Keys and certificates are
made here with openssl. pysaml2 (xmlsec1 backend) signs every response; negative fixtures are
either genuine IdP output checked with other expectations (clock, audience, ACS), or IdP output
modified the way an attacker would (after signing), or modified and then re-signed by the IdP
key (to prove the semantic check, not the signature, refuses them). The caller-side Redis work
(AuthnRequest ids consumed with GETDEL, replay cache with SET NX PX) runs against a real
redis-server, as the gateway will do it.
"""
import base64
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wl_testlib as T  # noqa: E402
import pysaml2_idp as P  # noqa: E402
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256  # noqa: E402

TOOL = os.path.join(T.BUILD_DIR, "tests", "saml_tool")
SP_ENTITY = "https://wl.example.test/fleet1/saml/metadata"
ACS = "https://wl.example.test/fleet1/saml/acs"
FLEET = "fleet1"

c = T.Checker()
d = T.tmpdir("wlsaml-")


def keypair(name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    T.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
              "-days", "30", "-subj", "/CN=" + name)
    return key, crt


def tool(*args):
    out = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise RuntimeError("saml_tool %s failed: %s" % (args[0], out.stderr))
    return json.loads(out.stdout)


def write(name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def now_ms():
    return int(time.time() * 1000)


def verify(xml_or_b64, name, now=None, sp=SP_ENTITY, acs=ACS, metadata=None, unsolicited=False,
           raw=False):
    b = xml_or_b64 if raw else P.b64(xml_or_b64)
    path = write("resp_%s.b64" % name, b)
    args = ["verify", metadata or idp_md_path, sp, acs, now if now is not None else now_ms(),
            path, FLEET]
    if unsolicited:
        args.append("unsolicited")
    return tool(*args)


def expect_refused(xml, name, error, **kw):
    r = verify(xml, name, **kw)
    c.ok(r["rc"] != 0 and r["error"] == error and r["detail"] != "",
         "%s: want error %r, got %r (%s)" % (name, error, r["error"], r["detail"]))
    c.ok("name_id" not in r, name + ": no identity returned on refusal")
    return r


def new_request():
    """The SP's AuthnRequest (HTTP-Redirect), checked by the IdP; the caller stores its id."""
    a = tool("authn", idp_md_path, SP_ENTITY, ACS, sp_key, "rs-1", now_ms())
    req, _ = idp.parse_redirect(a["url"], open(sp_crt).read())
    T.redis_cmd(redis_url, "SET", a["authn_key"], "1", "PX", 600000)
    return req.id


def acs_caller(r):
    """What the gateway does after wl_saml_response_verify succeeded: replay cache first
    (SET NX PX, fail closed), then consume the AuthnRequest id (GETDEL)."""
    if r["rc"] != 0:
        return r["error"]
    got = T.redis_cmd(redis_url, "SET", r["replay_key"], "1", "NX", "PX", r["replay_ttl_ms"])
    if "OK" not in got:
        return "replay"
    if r["in_response_to"] is not None:
        got = T.redis_cmd(redis_url, "GETDEL", r["authn_key"])
        if got.strip() in ("", "(nil)"):
            return "unknown_request"
    return "ok"


# ---------------------------------------------------------------------------------------------
idp_key, idp_crt = keypair("idp")
sp_key, sp_crt = keypair("sp")
att_key, att_crt = keypair("attacker")
redis_proc, redis_url = T.start_redis()

# SP metadata from the library, loaded by the IdP (proves pysaml2 accepts it)
spmd = tool("spmeta", SP_ENTITY, ACS, sp_crt)
c.eq(spmd["rc"], 0, "SP metadata generated")
c.ok('entityID="%s"' % SP_ENTITY in spmd["metadata"] and ACS in spmd["metadata"],
     "SP metadata names entityID and ACS")
idp = P.IdP(d, spmd["metadata"], idp_key, idp_crt)
attacker = P.IdP(d, spmd["metadata"], att_key, att_crt)  # same entity id, other key
other_idp = P.IdP(d, spmd["metadata"], idp_key, idp_crt, entity_id="https://other-idp.test/idp")

# IdP metadata parsing
idp_md = idp.metadata()
idp_md_path = write("idp_md.xml", idp_md)
m = tool("idp", idp_md_path)
c.eq((m["rc"], m["entity_id"], m["sso_url"], m["binding"], m["want_signed"], m["certs"]),
     (0, P.IDP_ENTITY, P.IDP_SSO, "redirect", True, 1), "IdP metadata parsed")


def md_refused(text, name, error, needle):
    r = tool("idp", write("md_%s.xml" % name, text))
    c.ok(r["rc"] != 0 and r["error"] == error and needle in r["detail"],
         "metadata %s: want %s/%r, got %s/%r" % (name, error, needle, r["error"], r["detail"]))


md_refused(idp_md[:len(idp_md) // 2], "truncated", "xml", "not well-formed")
md_refused('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
           + idp_md.split("?>", 1)[-1] if idp_md.startswith("<?xml") else
           '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + idp_md, "dtd", "dtd",
           "DOCTYPE")
md_refused(spmd["metadata"], "sp_only", "metadata", "IDPSSODescriptor")
md_refused(re.sub(r"<(\w+:)?KeyDescriptor.*?</(\w+:)?KeyDescriptor>", "", idp_md, flags=re.S),
           "no_cert", "metadata", "signing certificate")
md_refused(re.sub(r"(<(?:\w+:)?X509Certificate>)[^<]+", r"\1" + base64.b64encode(
    b"this is not a certificate").decode(), idp_md), "not_x509", "certificate", "X.509")
md_refused(re.sub(r"<(\w+:)?SingleSignOnService[^>]*/>", "", idp_md), "no_sso", "metadata",
           "SingleSignOnService")
# rollover: two certificates (the attacker's would be a rollover key here) both accepted
two_certs = re.sub(r"(<(\w+:)?KeyDescriptor)", lambda mm: re.search(
    r"<(\w+:)?KeyDescriptor.*?</(\w+:)?KeyDescriptor>", attacker.metadata(), re.S).group(0)
    + mm.group(1), idp_md, count=1)
two_md_path = write("idp_md_two.xml", two_certs)
c.eq(tool("idp", two_md_path)["certs"], 2, "metadata with two signing certificates")

# AuthnRequest: verified by pysaml2 (redirect signature with the SP cert) and parsed
a = tool("authn", idp_md_path, SP_ENTITY, ACS, sp_key, "rs-1", now_ms())
c.eq(a["rc"], 0, "AuthnRequest built")
c.ok(re.fullmatch(r"id[0-9a-f]{32}", a["request_id"]) is not None, "request id: 128 bits, letter")
req, msg = idp.parse_redirect(a["url"], open(sp_crt).read())
c.eq((req.id, req.assertion_consumer_service_url, req.issuer.text, msg["RelayState"],
      msg["SigAlg"]), (a["request_id"], ACS, SP_ENTITY, "rs-1",
                       "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
     "pysaml2 accepts the signed AuthnRequest")
c.eq(a["authn_key"], "wl:{fleet1}:authn:" + a["request_id"], "authn key")
a2 = tool("authn", idp_md_path, SP_ENTITY, ACS, sp_key, "", now_ms())
c.ok(a2["request_id"] != a["request_id"], "fresh request id each time")
bad = a["url"].replace("rs-1", "rs-2")
try:
    idp.parse_redirect(bad, open(sp_crt).read())
    c.ok(False, "tampered RelayState must break the redirect signature")
except ValueError:
    c.ok(True, "tampered redirect refused by the IdP")
a3 = tool("authn", idp_md_path, SP_ENTITY, ACS, "-", "", now_ms())
c.eq(a3["error"], "argument", "unsigned AuthnRequest refused when the IdP wants signed ones")

# ---------------------------------------------------------------------------------------------
# The good path, and the caller-side one-time checks with Redis
rid = new_request()
good = idp.response(rid, ACS, SP_ENTITY)
r = verify(good, "good")
c.eq((r["rc"], r["name_id"], r["issuer"], r["in_response_to"]),
     (0, "alice@example.com", P.IDP_ENTITY, rid), "good response accepted")
c.eq(r.get("attributes", {}).get("memberOf"), ["staff", "wiki-editors"], "attributes returned")
c.eq(r.get("assertion_id"), P.assertion_id(good), "assertion id returned")
c.ok(r.get("not_on_or_after_ms", 0) > now_ms() and r.get("replay_ttl_ms", 0) > 0,
     "validity end and replay TTL")
c.ok(r.get("replay_key", "").startswith("wl:{fleet1}:replay:"), "replay key")
c.eq(acs_caller(r), "ok", "good response: caller-side checks pass")
c.eq(acs_caller(verify(good, "replayed")), "replay", "replayed assertion refused (SET NX)")
c.ok(int(T.redis_cmd(redis_url, "PTTL", r["replay_key"]).split()[-1]) > 0,
     "replay key expires")

rid = new_request()
form = "RelayState=rs-1&SAMLResponse=" + \
    __import__("urllib.parse").parse.quote(P.b64(idp.response(rid, ACS, SP_ENTITY)), safe="")
r = verify(form, "form", raw=True)
c.eq((r["rc"], r.get("name_id")), (0, "alice@example.com"), "form-encoded POST body accepted")
c.eq(acs_caller(r), "ok", "form: caller-side checks pass")

unknown = idp.response("id" + "0" * 32, ACS, SP_ENTITY)
c.eq(acs_caller(verify(unknown, "unknown_irt")), "unknown_request", "unknown InResponseTo")
unsolicited = idp.response(None, ACS, SP_ENTITY)
expect_refused(unsolicited, "unsolicited", "in_response_to")
c.eq(verify(unsolicited, "unsolicited_ok", unsolicited=True)["rc"], 0,
     "unsolicited accepted when the fleet allows IdP-initiated sign-in")

rid = new_request()
both = idp.response(rid, ACS, SP_ENTITY, sign_response=True, sign_assertion=True)
c.eq(verify(both, "both_signed")["rc"], 0, "Response and Assertion both signed: accepted")
resp_only = idp.response(rid, ACS, SP_ENTITY, sign_response=True, sign_assertion=False)
c.eq(verify(resp_only, "response_signed")["rc"], 0, "only the Response signed: accepted")
c.eq(verify(good, "rollover", metadata=two_md_path)["rc"], 0,
     "accepted with the second of two metadata certificates")
snoa = idp.response(rid, ACS, SP_ENTITY, session_not_on_or_after="2099-01-01T00:00:00Z")
r = verify(snoa, "session_noa")
c.eq(r.get("session_not_on_or_after_ms"), 4070908800000, "SessionNotOnOrAfter returned")

# ---------------------------------------------------------------------------------------------
# Signatures
tampered = good.replace(">alice@example.com<", ">mallory@example.com<", 1)
c.ok(tampered != good, "fixture: NameID tampered")
expect_refused(tampered, "bad_signature", "signature")
expect_refused(idp.response(rid, ACS, SP_ENTITY, sign_assertion=False), "unsigned", "unsigned")
expect_refused(attacker.response(rid, ACS, SP_ENTITY), "other_key", "signature")

# attacker's key in KeyInfo/KeyValue (not covered by SignedInfo): must not be used
from cryptography import x509 as _x509  # noqa: E402
pub = _x509.load_pem_x509_certificate(open(att_crt, "rb").read()).public_key().public_numbers()


def i2b64(n):
    return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()


att_resp = attacker.response(rid, ACS, SP_ENTITY)
keyvalue = re.sub(r"<(\w+):KeyInfo>.*?</\1:KeyInfo>", lambda mm: (
    "<{0}:KeyInfo><{0}:KeyValue><{0}:RSAKeyValue><{0}:Modulus>%s</{0}:Modulus><{0}:Exponent>%s"
    "</{0}:Exponent></{0}:RSAKeyValue></{0}:KeyValue></{0}:KeyInfo>".format(mm.group(1))
    % (i2b64(pub.n), i2b64(pub.e))), att_resp, flags=re.S)
c.ok("RSAKeyValue" in keyvalue, "fixture: KeyValue injected")
expect_refused(keyvalue, "attacker_keyvalue", "signature")
# the same with the genuine IdP cert in KeyInfo but the attacker's signature
idp_b64 = "".join(l for l in open(idp_crt).read().splitlines() if "-----" not in l)
fake_x509 = re.sub(r"(<(\w+:)?X509Certificate>)[^<]+", r"\g<1>" + idp_b64, att_resp)
expect_refused(fake_x509, "attacker_claims_idp_cert", "signature")

expect_refused(idp.response(rid, ACS, SP_ENTITY, sign_alg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1),
               "sha1", "algorithm")
expect_refused(idp.response(rid, ACS, SP_ENTITY, sign_alg=SIG_RSA_SHA256,
                            digest_alg=DIGEST_SHA1), "sha1_digest", "algorithm")
expect_refused(idp.response(rid, ACS, SP_ENTITY, sign_alg=SIG_RSA_SHA1,
                            digest_alg=DIGEST_SHA256), "sha1_sig", "algorithm")
expect_refused(other_idp.response(rid, ACS, SP_ENTITY), "other_issuer", "issuer")

# ---------------------------------------------------------------------------------------------
# XML signature wrapping
aid = P.assertion_id(good)
m_assert = re.search(r"<(\w+):Assertion\b.*?</\1:Assertion>", good, re.S)
signed_assertion = m_assert.group(0)
ns_a = m_assert.group(1)
evil = re.sub(r"<(\w+):Signature\b.*?</\1:Signature>", "", signed_assertion, flags=re.S)
evil = evil.replace(">alice@example.com<", ">admin@example.com<").replace(aid, "id-evil")
ns_p = re.match(r"<\?xml[^>]*>\s*<(\w+):Response", good).group(1)
issuer_end = good.index("</%s:Issuer>" % ns_a) + len("</%s:Issuer>" % ns_a)

xsw_dup = good.replace(signed_assertion, signed_assertion + evil)
expect_refused(xsw_dup, "xsw_duplicated", "assertion_count")
xsw_dup2 = good.replace(signed_assertion, evil + signed_assertion)
expect_refused(xsw_dup2, "xsw_duplicated_first", "assertion_count")
ext = "<%s:Extensions>%s</%s:Extensions>" % (ns_p, signed_assertion, ns_p)
xsw_wrap = (good[:issuer_end] + ext + good[issuer_end:]).replace(signed_assertion, evil, 1)
# the replace above hit the wrapped copy first; rebuild explicitly: evil in place, original wrapped
body = good.replace(signed_assertion, evil)
xsw_wrap = body[:issuer_end] + ext + body[issuer_end:]
c.ok(xsw_wrap.count("Assertion ") >= 2, "fixture: wrapped assertion")
expect_refused(xsw_wrap, "xsw_wrapped_extensions", "assertion_count")
evil_same_id = evil.replace("id-evil", aid)
body = good.replace(signed_assertion, evil_same_id)
expect_refused(body[:issuer_end] + ext + body[issuer_end:], "xsw_same_id", "duplicate_id")
sig = re.search(r"<(\w+):Signature\b.*?</\1:Signature>", signed_assertion, re.S).group(0)
evil_with_sig = evil.replace("</%s:Issuer>" % ns_a, "</%s:Issuer>" % ns_a + sig, 1)
expect_refused(good.replace(signed_assertion, evil_with_sig), "xsw_signature_moved",
               "signature_shape")
obj_sig = sig.replace("</%s:Signature>" % sig[1:sig.index(":")],
                      "<%s:Object>%s</%s:Object></%s:Signature>" % (
                          sig[1:sig.index(":")], signed_assertion, sig[1:sig.index(":")],
                          sig[1:sig.index(":")]))
evil_obj = evil.replace("</%s:Issuer>" % ns_a, "</%s:Issuer>" % ns_a + obj_sig, 1)
expect_refused(good.replace(signed_assertion, evil_obj), "xsw_in_object", "assertion_count")
resp_only_evil = resp_only.replace(">alice@example.com<", ">admin@example.com<", 1)
expect_refused(resp_only_evil, "xsw_response_signed_modified", "signature")

# ---------------------------------------------------------------------------------------------
# Time, audience, destination, recipient
t0 = now_ms()
expect_refused(good, "expired", "expired", now=t0 + 10 * 60 * 1000)
expect_refused(good, "not_yet_valid", "not_yet_valid", now=t0 - 10 * 60 * 1000)
c.eq(verify(good, "skew_ok", now=t0 - 60 * 1000)["rc"], 0, "60 s clock skew tolerated")
expect_refused(good, "wrong_audience_expected", "audience", sp="https://other-sp.test/sp")
expect_refused(good, "wrong_destination_expected", "destination",
               acs="https://other.example.test/saml/acs")


def resigned(xml):
    return idp.sign(xml, "Assertion", P.assertion_id(xml))


aud = resigned(good.replace(">%s<" % SP_ENTITY, ">https://other-sp.test/sp<"))
c.ok("https://other-sp.test/sp" in aud, "fixture: audience changed and re-signed")
expect_refused(aud, "wrong_audience", "audience")
expect_refused(good.replace('Destination="%s"' % ACS, 'Destination="%s/x"' % ACS),
               "wrong_destination", "destination")
expect_refused(re.sub(r' Destination="[^"]*"', "", good, count=1), "no_destination",
               "destination")
rec = resigned(good.replace('Recipient="%s"' % ACS, 'Recipient="https://evil.test/acs"'))
expect_refused(rec, "wrong_recipient", "recipient")
rec2 = resigned(good.replace('Recipient="%s"' % ACS, 'Recipient="%s.evil.test"' % ACS))
expect_refused(rec2, "recipient_superstring", "recipient")
cond = resigned(re.sub(r"(<(\w+):AudienceRestriction>)",
                       r'<\2:Condition xmlns:xs="urn:x" xsi:type="xs:Custom"/>\1', good, 1))
expect_refused(cond, "unknown_condition", "condition")
status = good.replace("urn:oasis:names:tc:SAML:2.0:status:Success",
                      "urn:oasis:names:tc:SAML:2.0:status:Requester")
expect_refused(status, "status_failure", "status")

# ---------------------------------------------------------------------------------------------
# DTDs and entities
decl, rest = good.split("?>", 1)
dtd = decl + '?>\n<!DOCTYPE r [<!ENTITY u "admin@example.com">]>' + rest.replace(
    ">alice@example.com<", ">&u;<", 1)
expect_refused(dtd, "dtd_entity", "dtd")
xxe = decl + '?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + rest
expect_refused(xxe, "xxe", "dtd")
lol = decl + '?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">' \
    ']>' + rest
expect_refused(lol, "entity_expansion", "dtd")
utf16 = ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE r [<!ENTITY u "x">]>'
         + rest).encode("utf-16")
expect_refused(base64.b64encode(utf16).decode(), "dtd_utf16", "dtd", raw=True)

# ---------------------------------------------------------------------------------------------
# Comment inside NameID (CVE-2017-11427 family): the whole text, never the first node
cmt = idp.response(rid, ACS, SP_ENTITY, user="alice@example.com.evil.test")
cmt = cmt.replace(">alice@example.com.evil.test<", ">alice@example.com<!---->.evil.test<", 1)
c.ok("<!---->" in cmt, "fixture: comment in NameID")
r = verify(cmt, "comment_nameid")
c.eq((r["rc"], r.get("name_id")), (0, "alice@example.com.evil.test"),
     "comment in NameID does not truncate it")

# ---------------------------------------------------------------------------------------------
# Garbage
expect_refused("not base64 at all!", "not_base64", "encoding", raw=True)
expect_refused("<x/>", "not_response", "not_response")
expect_refused("A" * (300 * 1024), "too_large", "too_large", raw=True)

print("%d checks, %d failures" % (c.checks, c.failures))
sys.exit(1 if c.failures else 0)
