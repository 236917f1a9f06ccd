"""The README's quickstart, end to end (issue 9): scripts/quickstart.sh on a clean state (an empty
demo folder, this build through WL_BUILD_DIR so nothing is rebuilt) starts Redis, control, the
demo IdP, the demo internal site (private CA) and the fleet's gateway, configures everything
through the admin API, signs a demo device in through the SAML flow and prints the page it
fetched through the gateway. Checked: the page (greeting the signed-in user, links kept inside
the tunnel), the device in ListDevices, the website CA, then Ctrl-C stops every process it
started; a second run on the same state works too and stops the same way."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import deployfix as D
import wl_testlib as t

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WL_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..", "..")))
MARK = "Press Ctrl-C to stop everything this script started."

c = t.Checker()
demo = os.path.join(t.tmpdir("wlquick-"), "demo")  # does not exist yet: a clean state


ports = {k: D.quiet_port() for k in ("WL_CONTROL_PORT", "WL_GATEWAY_PORT",
                                     "WL_GATEWAY_ADMIN_PORT", "WL_ORIGIN_PORT", "WL_IDP_PORT",
                                     "WL_REDIS_PORT")}
env = dict(os.environ, WL_DEMO_DIR=demo, WL_BUILD_DIR=t.BUILD_DIR,
           **{k: str(v) for k, v in ports.items()})
for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "WL_REDIS_URL"):
    env.pop(k, None)


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours is gone too
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def run(n):
    out_path = os.path.join(os.path.dirname(demo), "run%d.out" % n)
    out = open(out_path, "w")
    p = subprocess.Popen(["bash", os.path.join(SRC, "scripts", "quickstart.sh")], env=env,
                         stdout=out, stderr=subprocess.STDOUT, cwd=SRC)
    t0 = time.time()
    text = ""
    while time.time() - t0 < 240 and p.poll() is None:
        text = open(out_path, errors="replace").read()
        if MARK in text:
            break
        time.sleep(0.5)
    print("run %d: %s after %.1f s" % (n, "up" if MARK in text else "NOT up", time.time() - t0),
          flush=True)
    if not c.ok(MARK in text, "run %d: the quickstart came up" % n):
        print(text[-3000:])
        for name in ("gateway", "control", "idp", "origin", "signin"):
            path = os.path.join(demo, name + ".log")
            if os.path.exists(path):
                print("---- %s.log\n%s" % (name, open(path, errors="replace").read()[-1500:]))
    return p, text


def check_page(n, text):
    page = text.split("---- the page, as the gateway delivered it", 1)[-1]
    page = page.split("---- end of page ----", 1)[0]
    c.ok("<h1>Internal wiki</h1>" in page, "run %d: the wiki page was fetched" % n)
    c.ok("Hello, demo-user@demo.internal" in page,
         "run %d: the origin saw the signed-in user (identity token)" % n)
    c.ok("https://wiki.demo.internal:%d/page" % ports["WL_GATEWAY_PORT"] in page,
         "run %d: the page's link stays inside the tunnel" % n)


def stop(n, p):
    path = os.path.join(demo, "pids")
    pids = [int(x) for x in open(path).read().split()] if os.path.exists(path) else []
    c.eq(len(pids), 5, "run %d: five processes started (redis, control, idp, origin, gateway)" % n)
    p.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        rc = p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    c.ok(rc is not None, "run %d: Ctrl-C ends the quickstart (exit %s)" % (n, rc))
    left = [x for x in pids if alive(x)]
    c.eq(left, [], "run %d: every process it started is gone" % n)
    for x in left:
        os.kill(x, signal.SIGKILL)
    open_ports = [v for v in ports.values() if listening(v)]
    c.eq(open_ports, [], "run %d: nothing listens on its ports any more" % n)


def aws(*args):
    e = dict(env, AWS_SHARED_CREDENTIALS_FILE=os.path.join(demo, "aws-credentials"),
             AWS_CONFIG_FILE=os.path.join(demo, "aws-config"), AWS_PAGER="")
    r = subprocess.run(["/usr/bin/aws"] + list(args) + ["--endpoint-url",
                                                         "http://127.0.0.1:%d" %
                                                         ports["WL_CONTROL_PORT"]],
                       capture_output=True, text=True, env=e, timeout=60)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}


FLEET_ARN = "arn:aws:worklink::123456789012:fleet/demo"

# ---- first run, clean state ----
p, text = run(1)
if MARK in text:
    check_page(1, text)
    devs = aws("worklink", "list-devices", "--fleet-arn", FLEET_ARN).get("Devices", [])
    c.eq(len(devs), 1, "run 1: the demo device is registered")
    if devs:
        d = aws("worklink", "describe-device", "--fleet-arn", FLEET_ARN, "--device-id",
                devs[0]["DeviceId"])
        c.eq((d.get("Username"), d.get("Status")), ("demo-user@demo.internal", "ACTIVE"),
             "run 1: the device belongs to the signed-in user")
    cas = aws("worklink", "list-website-certificate-authorities", "--fleet-arn", FLEET_ARN)
    c.eq(len(cas.get("WebsiteCertificateAuthorities", [])), 1, "run 1: website CA associated")
    c.eq(aws("worklink", "describe-fleet-metadata", "--fleet-arn", FLEET_ARN).get("FleetStatus"),
         "ACTIVE", "run 1: fleet ACTIVE")
stop(1, p)

# ---- second run on the same state ----
p, text = run(2)
if MARK in text:
    check_page(2, text)
    c.ok("fleet demo exists" in text and "is associated" in text,
         "run 2: reuses the fleet, domain and website CA")
    cas = aws("worklink", "list-website-certificate-authorities", "--fleet-arn", FLEET_ARN)
    c.eq(len(cas.get("WebsiteCertificateAuthorities", [])), 1, "run 2: still one website CA")
stop(2, p)

sys.exit(c.done())
