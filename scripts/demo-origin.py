#!/usr/bin/python3
"""The quickstart's demo internal website (never for production): HTTPS with a certificate from
a private CA (the fleet trusts it because the quickstart uploads that CA as a website CA).

usage: demo-origin.py PORT CERT KEY
Serves "/" and "/page" as HTML. The page greets the user named by the gateway's identity token
(X-WorkLink-Identity, a JWT; decoded for display only: an origin that relies on it verifies it
against the JWKS at /_wl/.well-known/jwks.json). Prints "ready" once it accepts connections.
"""
import base64
import html
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def identity(token):
    try:
        p = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    except (IndexError, ValueError):
        return {}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("demo-origin: " + (fmt % a) + "\n")

    def do_GET(self):
        if self.path not in ("/", "/page"):
            body, status = b"<!doctype html><title>Not found</title><h1>Not found</h1>", 404
        else:
            who = identity(self.headers.get("X-WorkLink-Identity", "")).get("sub", "nobody")
            title = "Internal wiki" if self.path == "/" else "A wiki page"
            body = ("<!doctype html><html><head><title>Demo wiki</title></head><body>"
                    "<h1>%s</h1><p>Hello, %s: this page came from the internal site "
                    "through the WorkLink gateway.</p>"
                    '<p><a href="https://wiki.demo.internal/page">another page</a></p>'
                    "</body></html>" % (title, html.escape(who))).encode()
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "wiki_pref=compact; Path=/; HttpOnly")
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
