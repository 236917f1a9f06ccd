"""A test origin for the render stage (plain HTTP/1.1). usage: origin_render.py PORT.
Prints "ready". Endpoints:
  /page             HTML with links (associated, foreign, relative), caching headers, ETag,
                    Last-Modified and a Set-Cookie (origin_sid=s3cr3t)
  /setcookie?v=X    sets oc=X (Path=/) and answers a small HTML page
  /echo             the request's Cookie and Accept-Encoding as JSON
  /gz               an HTML page sent with Content-Encoding: gzip
  /bin?n=N          N bytes of seeded random data (application/octet-stream, Content-Length)
  /download         a file with Content-Disposition: attachment
  /huge?n=N         about N bytes of HTML with many links, chunked
"""
import gzip
import json
import random
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = random.Random(1).randbytes(1 << 20)

PAGE = (b"<!DOCTYPE html><html><head><title>Intranet</title>"
        b"<link rel=stylesheet href=\"http://docs.example.com/site.css\"></head><body>"
        b"<a id=a1 href=\"http://docs.example.com/handbook\">handbook</a>"
        b"<a id=a2 href=\"https://evil.example.net/steal?x=1\">evil</a>"
        b"<a id=a3 href=\"/relative/path\">rel</a>"
        b"<img id=i1 src=\"https://app.example.com/logo.png\">"
        b"<p>caf\xc3\xa9 &amp; co</p></body></html>")

HUGE_UNIT = (b"<div class=row><a href=\"https://docs.example.com/doc/%d\">doc</a> "
             b"<a href=\"https://other.example.org/x\">x</a> <p>text text text text "
             b"text text text text text text text text text text</p></div>\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def head(self, ctype, length=None, extra=()):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/page":
            self.head("text/html; charset=utf-8", len(PAGE), [
                ("Cache-Control", "public, max-age=86400"), ("ETag", "\"v1\""),
                ("Last-Modified", "Mon, 02 Nov 2026 10:00:00 GMT"),
                ("Expires", "Tue, 01 Dec 2026 10:00:00 GMT"),
                ("Set-Cookie", "origin_sid=s3cr3t; Path=/; HttpOnly")])
            self.wfile.write(PAGE)
        elif u.path == "/setcookie":
            body = b"<html><body>set</body></html>"
            self.head("text/html", len(body), [
                ("Set-Cookie", "oc=%s; Path=/" % q.get("v", ["1"])[0])])
            self.wfile.write(body)
        elif u.path == "/echo":
            body = json.dumps({"cookie": self.headers.get("Cookie"),
                               "accept_encoding": self.headers.get("Accept-Encoding")}).encode()
            self.head("application/json", len(body))
            self.wfile.write(body)
        elif u.path == "/gz":
            body = gzip.compress(PAGE)
            self.head("text/html; charset=utf-8", len(body), [("Content-Encoding", "gzip"),
                                                              ("Vary", "Accept-Encoding")])
            self.wfile.write(body)
        elif u.path == "/bin":
            n = int(q.get("n", ["0"])[0])
            self.head("application/octet-stream", n, [("ETag", "\"bin\"")])
            while n > 0:
                k = min(n, len(BLOCK))
                self.wfile.write(BLOCK[:k])
                n -= k
        elif u.path == "/download":
            body = b"secret spreadsheet,1,2,3\n"
            self.head("text/csv", len(body),
                      [("Content-Disposition", "attachment; filename=\"report.csv\"")])
            self.wfile.write(body)
        elif u.path == "/huge":
            n = int(q.get("n", ["0"])[0])
            self.head("text/html; charset=utf-8", None, [("Transfer-Encoding", "chunked")])
            out = bytearray(b"<!DOCTYPE html><html><body>\n")
            i = 0
            sent = 0
            while sent < n:
                while len(out) < 65536:
                    out += HUGE_UNIT % i
                    i += 1
                self.wfile.write(b"%x\r\n" % len(out) + bytes(out) + b"\r\n")
                sent += len(out)
                out = bytearray()
            tail = b"</body></html>\n"
            self.wfile.write(b"%x\r\n" % len(tail) + tail + b"\r\n0\r\n\r\n")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
    srv.daemon_threads = True
    print("ready", flush=True)
    srv.serve_forever()
