#!/usr/bin/python3
"""A demo SAML 2.0 identity provider for the quickstart (never for production).

It is the test IdP of tests/integration/saml/pysaml2_idp.py (Debian's python3-pysaml2, signing
with xmlsec1) behind a small HTTP server: GET /sso takes the gateway's signed AuthnRequest
(HTTP-Redirect binding; the signature is verified against the SP certificate of the fleet's SP
metadata), signs the demo user in without asking for a password, and answers a page that posts
the signed Response to the fleet's ACS (HTTP-POST binding), as a real IdP does after its login.

usage: demo-idp.py --dir DIR --port PORT --sp-metadata FILE [--user EMAIL]
Writes DIR/idp-metadata.xml (upload it with update-identity-provider-configuration), keeps its
signing key in DIR (made once with openssl), prints "ready" once it accepts connections.
"""
import argparse
import html
import os
import re
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "saml"))
import pysaml2_idp  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--dir", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--sp-metadata", required=True)
ap.add_argument("--user", default="demo-user@demo.internal")
args = ap.parse_args()

base = "http://127.0.0.1:%d" % args.port
key, crt = os.path.join(args.dir, "idp.key"), os.path.join(args.dir, "idp.crt")
if not os.path.exists(crt):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "3650", "-subj", "/CN=WorkLink demo IdP"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
sp_md = open(args.sp_metadata).read()
sp_entity = re.search(r'entityID="([^"]+)"', sp_md).group(1)
acs = re.search(r'AssertionConsumerService[^>]*Location="([^"]+)"', sp_md).group(1)
sp_cert = re.search(r"X509Certificate>([^<]+)<", sp_md).group(1).strip()
sp_cert = "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % sp_cert

pysaml2_idp.IDP_SSO = base + "/sso"  # where the metadata sends the gateway's AuthnRequests
idp = pysaml2_idp.IdP(args.dir, sp_md, key, crt, entity_id=base + "/idp")
with open(os.path.join(args.dir, "idp-metadata.xml"), "w") as f:
    f.write(idp.metadata())


class H(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        sys.stderr.write("demo-idp: " + (fmt % a) + "\n")

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path != "/sso":
            return self.answer(404, "<h1>Not found</h1>")
        try:
            req, msg = idp.parse_redirect(base + self.path, sp_cert)
        except Exception as e:  # unsigned, tampered, not an AuthnRequest...
            return self.answer(400, "<h1>Bad sign-in request</h1><p>%s</p>" % html.escape(str(e)))
        xml = idp.response(req.id, acs, sp_entity, user=args.user)
        fields = [("SAMLResponse", pysaml2_idp.b64(xml)), ("RelayState", msg.get("RelayState", ""))]
        inputs = "".join('<input type="hidden" name="%s" value="%s">' % (k, html.escape(v))
                         for k, v in fields)
        self.answer(200, "<!doctype html><title>Demo IdP</title>"
                    "<p>Demo IdP: signed in as <b>%s</b> (no password: demo only).</p>"
                    '<form method="post" action="%s">%s<button>Continue</button></form>'
                    "<script>document.forms[0].submit()</script>"
                    % (html.escape(args.user), html.escape(acs), inputs))


srv = ThreadingHTTPServer(("127.0.0.1", args.port), H)
print("ready", flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
