"""A test origin: python http.server (HTTP/1.1, keep-alive), plain or TLS.
usage: origin.py PORT [CERT KEY]. Prints "ready". Endpoints:
  /hello            "hello from origin"
  /headers          the request headers as JSON
  /big?n=BYTES      BYTES of 'x' with Content-Length (streamed)
  /chunked?n=BYTES  BYTES streamed with chunked encoding
  /slow?ms=MS       answers after MS milliseconds
  POST /upload      {"len": n, "sha256": hex} of the body (Content-Length or chunked)
"""
import hashlib
import json
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_body(self, body, ctype="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Set-Cookie", "origin=1; Path=/")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/hello":
            self.send_body(b"hello from origin\n")
        elif u.path == "/headers":
            self.send_body(json.dumps({k.lower(): v for k, v in self.headers.items()}).encode(),
                           "application/json")
        elif u.path == "/big":
            n = int(q.get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * 65536
            while n > 0:
                k = min(n, len(block))
                self.wfile.write(block[:k])
                n -= k
        elif u.path == "/chunked":
            n = int(q.get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"y" * 40000
            while n > 0:
                k = min(n, len(block))
                self.wfile.write(b"%x\r\n" % k + block[:k] + b"\r\n")
                n -= k
            self.wfile.write(b"0\r\n\r\n")
        elif u.path == "/slow":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000.0)
            self.send_body(b"slow answer\n")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_POST(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    d = self.rfile.read(min(left, 65536))
                    h.update(d)
                    n += len(d)
                    left -= len(d)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                d = self.rfile.read(min(left, 65536))
                if not d:
                    break
                h.update(d)
                n += len(d)
                left -= len(d)
        self.send_body(json.dumps({"len": n, "sha256": h.hexdigest()}).encode(), "application/json")


def main():
    port = int(sys.argv[1])
    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    if len(sys.argv) > 3:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


main()
