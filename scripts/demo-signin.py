#!/usr/bin/python3
"""The quickstart's demo device (never for production): signs in through the real SAML flow with
curl and keeps the session cookie in a cookie jar, then prints the page it fetched.

usage: demo-signin.py URL CA_FILE COOKIE_JAR GATEWAY_PORT
  URL          the page to open, e.g. https://wiki.demo.internal:8443/
  CA_FILE      the CA of the gateway's certificate for the domain
  COOKIE_JAR   curl cookie jar (created; reused by later curl -b calls)
  GATEWAY_PORT the gateway's port (the domain is resolved to 127.0.0.1 on it)

The steps a phone's browser takes: the page without a session redirects to /_wl/login, which
redirects to the IdP with a signed AuthnRequest; the IdP's page posts the signed Response to the
ACS on the gateway, which sets the session cookie (one-time ticket per associated domain) and
returns to the page. Exit 0 with the page on stdout, or 1 with what went wrong on stderr.
"""
import html
import re
import subprocess
import sys
import urllib.parse

url, ca, jar, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
host = urllib.parse.urlsplit(url).hostname
UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A) AppleWebKit/537.36 (KHTML, like "
      "Gecko) Chrome/120.0 Mobile Safari/537.36")


def curl(target, data=None):
    argv = ["curl", "-sS", "-L", "--max-redirs", "30", "--max-time", "30", "--cacert", ca,
            "--resolve", "%s:%s:127.0.0.1" % (host, port), "-b", jar, "-c", jar,
            "-H", "Accept: text/html", "-A", UA, "-o", "-", "-w", "\n%{http_code} %{url_effective}"]
    for k, v in data or []:
        argv += ["--data-urlencode", "%s=%s" % (k, v)]
    p = subprocess.run(argv + [target], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit("demo-signin: curl %s: %s" % (target, p.stderr.strip()))
    body, _, tail = p.stdout.rpartition("\n")
    status, _, effective = tail.partition(" ")
    return int(status), effective, body


open(jar, "a").close()
status, where, body = curl(url)
if status == 200 and urllib.parse.urlsplit(where).hostname == host:
    print(body)  # the jar already holds a valid session
    sys.exit(0)
form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', body, re.S)
if status != 200 or not form:
    sys.exit("demo-signin: expected the IdP's sign-in page, got HTTP %d at %s:\n%s" %
             (status, where, body[:500]))
fields = [(html.unescape(k), html.unescape(v)) for k, v in
          re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))]
sys.stderr.write("demo-signin: the IdP signed the user in; posting its Response to %s\n" %
                 html.unescape(form.group(1)))
status, where, body = curl(html.unescape(form.group(1)), fields)
if status != 200 or urllib.parse.urlsplit(where).hostname != host:
    sys.exit("demo-signin: after the ACS, HTTP %d at %s:\n%s" % (status, where, body[:500]))
print(body)
