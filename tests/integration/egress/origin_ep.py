"""A plain HTTP/1.1 test origin bound to one address that records every accepted connection.
usage: origin_ep.py ADDR PORT ACCEPT_LOG [keepalive]. Prints "ready". Every accepted TCP connection appends
the peer address to ACCEPT_LOG *before* anything is read, so a refused origin shows an empty
log. Every request answers "peer=<client address>" with Connection: close (no pooling, so each
request shows the source address the gateway bound) unless "keepalive" is given."""
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADDR, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
KEEPALIVE = len(sys.argv) > 4 and sys.argv[4] == "keepalive"


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = ("peer=%s\n" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if not KEEPALIVE:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = not KEEPALIVE


class S(ThreadingHTTPServer):
    daemon_threads = True
    address_family = socket.AF_INET6 if ":" in ADDR else socket.AF_INET

    def verify_request(self, request, client_address):
        with open(LOG, "a") as f:
            f.write(client_address[0] + "\n")
        return True


srv = S((ADDR, PORT), H)
print("ready", flush=True)
srv.serve_forever()
