"""Scale-out and failover (issue 9): HAProxy (TCP mode, PROXY v2, /readyz health checks) as the
VIP in front of three gateway processes of one fleet; Redis master + two replicas watched by
three Sentinels; control and gateways reach Redis only through sentinel:// URLs, and control
WAITs for a replica after every write (--redis-wait-replicas 1).

Three clients bound to 127.0.0.2/.3/.4 send requests through the VIP the whole time (a new TLS
connection each, as bob). The test SIGKILLs one gateway, then the Redis master, and reports:
  - failed requests outside the failover windows (must be 0) and how long each window was
    (from the kill to the end of the last failed request it caused);
  - that a change control acknowledged just before the master died survived the failover;
  - that sessions stayed valid (bob's, written before the failover, on every gateway after it);
  - that a sign-out (SignOutUser through control, after the failover) is enforced by every
    surviving gateway, and how fast;
  - that the client addresses in the audit stream and in X-Forwarded-For are the clients' real
    ones, not HAProxy's."""
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

import redis
import redis.sentinel

import deployfix as D
import wl_testlib as t

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WL_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..", "..")))
F = "acme"
DOMAIN = "wiki.acme.test"
MASTER = "wlmaster"
CLIENTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
AUDIT = "arn:aws:kinesis:us-east-1:%s:stream/AmazonWorkLink-acme" % D.ACCOUNT
GW_WINDOW_MAX = 5.0      # a SIGKILLed gateway: only requests in flight on it may fail
REDIS_WINDOW_MAX = 20.0  # Sentinel notices (1 s), elects, promotes; gateways reconnect

c = t.Checker()
d = t.tmpdir("wlfailover-")
if os.environ.get("WL_KEEP_LOGS"):  # debugging: keep the processes' logs (runs before cleanup)
    import atexit
    import shutil
    atexit.register(lambda: shutil.copytree(d, os.environ["WL_KEEP_LOGS"], dirs_exist_ok=True,
                                           ignore=shutil.ignore_patterns("*.sock")))


def log(*a):
    print("[%6.2f]" % (time.time() - T0), *a, flush=True)


T0 = time.time()

# ---------------------------------------------------------------- Redis + Sentinel


def redis_server(port, extra=()):
    p = t.start(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                 "--appendonly", "yes", "--appendfsync", "everysec", "--dir",
                 t.tmpdir("wlredis-")] + list(extra), ready=None,
                stderr_path=os.path.join(d, "redis-%d.log" % port))
    return p


def wait_ping(port, timeout=10):
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
    return D.wait(lambda: r.ping(), True, timeout=timeout)


mport, rports = D.quiet_port(), [D.quiet_port(), D.quiet_port()]
master = redis_server(mport)
c.ok(wait_ping(mport), "redis master up")
replicas = [redis_server(p, ["--replicaof", "127.0.0.1", str(mport)]) for p in rports]
for p in rports:
    c.ok(wait_ping(p), "replica %d up" % p)
sports = [D.quiet_port() for _ in range(3)]
sentinels = []
for p in sports:
    conf = os.path.join(d, "sentinel-%d.conf" % p)
    with open(conf, "w") as f:
        f.write("bind 127.0.0.1\nport %d\ndir %s\n"
                "sentinel monitor %s 127.0.0.1 %d 2\n"
                "sentinel down-after-milliseconds %s 1000\n"
                "sentinel failover-timeout %s 10000\n"
                "sentinel parallel-syncs %s 1\n" % (p, d, MASTER, mport, MASTER, MASTER, MASTER))
    sentinels.append(t.start(["redis-server", conf, "--sentinel"], ready=None,
                             stderr_path=os.path.join(d, "sentinel-%d.log" % p)))
for p in sports:
    c.ok(wait_ping(p), "sentinel %d up" % p)
sentinel = redis.sentinel.Sentinel([("127.0.0.1", p) for p in sports], socket_timeout=0.5)
mr = redis.Redis(host="127.0.0.1", port=mport, decode_responses=True)
c.eq(D.wait(lambda: sum(1 for k, v in mr.info("replication").items()
                        if k.startswith("slave") and v.get("state") == "online"), 2, timeout=20),
     2, "both replicas in sync")
D.wait(lambda: len(sentinel.discover_slaves(MASTER)) == 2, True, timeout=15)
c.eq(len(sentinel.discover_slaves(MASTER)), 2, "sentinels see both replicas")
SURL = "sentinel://" + ",".join("127.0.0.1:%d" % p for p in sports) + "/" + MASTER


def rmaster():
    return sentinel.master_for(MASTER, socket_timeout=1, decode_responses=True)


# ---------------------------------------------------------------- control, fleet, gateways

key_file = t.write_key_file(d)
network = D.write_network(d)
ctl = D.Control(d, SURL, key_file, network,
                ["--fleet-create-delay-ms", "100", "--domain-associate-delay-ms", "100",
                 "--redis-wait-replicas", "1", "--redis-wait-ms", "1000"])
ca = t.make_ca(d, "Acme Device Tunnel CA")
leaf = t.make_cert(d, ca, DOMAIN)
ctl.wl.create_fleet(FleetName=F, DisplayName="Acme")
farn = D.fleet_arn(F)
cert = ctl.acm.import_certificate(Certificate=open(leaf[0], "rb").read(),
                                  PrivateKey=open(leaf[1], "rb").read(),
                                  CertificateChain=open(ca[0], "rb").read())["CertificateArn"]
ctl.wl.associate_domain(FleetArn=farn, DomainName=DOMAIN, AcmCertificateArn=cert)
ctl.wl.update_company_network_configuration(
    FleetArn=farn, VpcId=D.NETWORK["vpcs"][0]["id"],
    SubnetIds=[D.NETWORK["subnets"][0]["id"]],
    SecurityGroupIds=[D.NETWORK["security_groups"][0]["id"]])
ctl.wl.update_audit_stream_configuration(FleetArn=farn, AuditStreamArn=AUDIT)

oport = D.quiet_port()
origin = t.start(["/usr/bin/python3", os.path.join(SRC, "tests", "integration", "gateway",
                                                   "origin.py"), str(oport)])
gws = []
for i in range(3):
    port, admin = D.quiet_port(), D.quiet_port()
    argv = D.gateway_argv(F, SURL, key_file, network, port, admin,
                          ["--proxy-protocol", "--origin", "%s=http://127.0.0.1:%d" %
                           (DOMAIN, oport), "--session-cache-ms", "1000"])
    p = t.start(argv, timeout=30, stderr_path=os.path.join(d, "gw%d.log" % (i + 1)))
    gws.append({"name": "gw%d" % (i + 1), "proc": p, "port": port, "admin": admin})
c.eq(D.wait(lambda: ctl.status(F), "ACTIVE", timeout=15), "ACTIVE", "fleet ACTIVE")
c.eq(D.wait(lambda: ctl.wl.describe_domain(FleetArn=farn, DomainName=DOMAIN)["DomainStatus"],
            "ACTIVE", timeout=15), "ACTIVE", "domain ACTIVE")
c.eq(D.wait(lambda: rmaster().zcard("wl:{%s}:gateways" % F), 3, timeout=10), 3,
     "three gateways registered")

rm = rmaster()
bob = D.new_session(rm, F, "bob", "dev-bob")
alice = D.new_session(rm, F, "alice", "dev-alice")
c.ok(rm.wait(2, 1000) == 2, "sessions replicated")

# ---------------------------------------------------------------- HAProxy

vip = D.quiet_port()
hcfg = os.path.join(d, "haproxy.cfg")
stats_sock = os.path.join(d, "haproxy.sock")
with open(hcfg, "w") as f:
    f.write("""global
    maxconn 2000
    stats socket %s mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
frontend vip
    bind 127.0.0.1:%d
    default_backend gateways
backend gateways
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2 send-proxy-v2
""" % (stats_sock, vip))
    for g in gws:
        f.write("    server %s 127.0.0.1:%d check port %d\n" % (g["name"], g["port"], g["admin"]))
c.ok(subprocess.run(["haproxy", "-c", "-f", hcfg], capture_output=True).returncode == 0,
     "haproxy configuration valid")
haproxy = t.start(["haproxy", "-db", "-f", hcfg], ready=None,
                  stderr_path=os.path.join(d, "haproxy.log"))


def haproxy_states():
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(stats_sock)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
    except OSError:
        return {}
    lines = data.decode().splitlines()
    if not lines:
        return {}
    head = lines[0].lstrip("# ").split(",")
    out = {}
    for ln in lines[1:]:
        row = dict(zip(head, ln.split(",")))
        if row.get("pxname") == "gateways" and row.get("svname", "").startswith("gw"):
            out[row["svname"]] = row.get("status")
    return out


c.eq(D.wait(lambda: sorted(haproxy_states().values()), ["UP", "UP", "UP"], timeout=15),
     ["UP", "UP", "UP"], "haproxy sees three gateways UP (/readyz)")

# ---------------------------------------------------------------- the device client


def proxy_v2(src, sport, dport):
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", 12) +
            socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, dport))


TLS = ssl.create_default_context(cafile=ca[0])


sent = [0]  # requests sent to a gateway (each one is an audit event)


def get(port, token, src="127.0.0.1", proxy=False, path="/hello", timeout=5):
    """One request on a new TLS connection; returns (status, body) or raises."""
    sent[0] += 1
    s = socket.create_connection(("127.0.0.1", port), timeout, source_address=(src, 0))
    try:
        if proxy:  # straight to a gateway: speak for HAProxy
            s.sendall(proxy_v2(src, s.getsockname()[1], port))
        ss = TLS.wrap_socket(s, server_hostname=DOMAIN)
        ss.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                    "Connection: close\r\n\r\n" % (path, DOMAIN, token)).encode())
        data = b""
        while True:
            b = ss.recv(65536)
            if not b:
                break
            data += b
        ss.close()
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


results = []  # (start, end, src, ok, detail)
stop = threading.Event()


def client(src):
    while not stop.is_set():
        t1 = time.time()
        try:
            status, body = get(vip, bob, src)
            ok, detail = status == 200 and b"hello from origin" in body, "HTTP %d" % status
        except Exception as e:
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        results.append((t1, time.time(), src, ok, detail))
        time.sleep(0.03)


threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in CLIENTS]
for th in threads:
    th.start()
time.sleep(4)
log("baseline: %d requests" % len(results))

# ---------------------------------------------------------------- SIGKILL one gateway

victim = gws[1]
t_gw = time.time()
victim["proc"].send_signal(signal.SIGKILL)
victim["proc"].wait()
log("SIGKILLed %s" % victim["name"])
got = D.wait(lambda: haproxy_states().get(victim["name"], "").startswith("DOWN"), True,
             timeout=5)
c.ok(got is True, "haproxy marks %s DOWN" % victim["name"])
log("haproxy: %s" % haproxy_states())
time.sleep(5)
survivors = [g for g in gws if g is not victim]

# ---------------------------------------------------------------- SIGKILL the Redis master

# a change acknowledged right before the master dies must survive the failover (WAIT 1)
ctl.wl.update_fleet_metadata(FleetArn=farn, DisplayName="acked-before-failover")
t_redis = time.time()
master.send_signal(signal.SIGKILL)
master.wait()
log("SIGKILLed the Redis master (port %d)" % mport)
new = D.wait(lambda: sentinel.discover_master(MASTER)[1] != mport, True, timeout=20)
t_promoted = time.time()
c.ok(new is True, "Sentinel promoted a replica")
log("promoted %s after %.2f s" % (sentinel.discover_master(MASTER), t_promoted - t_redis))
# control rides the failover: its next calls go to the new master (a call may fail meanwhile)
meta = D.wait(lambda: ctl.wl.describe_fleet_metadata(FleetArn=farn), True, timeout=20)
c.eq(meta.get("DisplayName") if isinstance(meta, dict) else meta, "acked-before-failover",
     "an acknowledged write survived the failover")


def recovered():
    recent = [r for r in results if r[0] > time.time() - 2]
    return len(recent) > 10 and all(r[3] for r in recent)


c.ok(D.wait(recovered, True, timeout=REDIS_WINDOW_MAX) is True, "traffic recovered")
log("traffic recovered %.2f s after the master died" % (time.time() - t_redis))

# ---------------------------------------------------------------- sign-out after the failover

for g in survivors:
    st, _ = get(g["port"], alice, CLIENTS[0], proxy=True)
    c.eq(st, 200, "%s: alice signed in before the sign-out" % g["name"])


def sign_out():
    ctl.wl.sign_out_user(FleetArn=farn, Username="alice")
    return True


c.ok(D.wait(sign_out, True, timeout=10) is True, "SignOutUser acknowledged by control")
t_so = time.time()
for g in survivors:
    st = D.wait(lambda: get(g["port"], alice, CLIENTS[0], proxy=True)[0], 401, timeout=5,
                step=0.01)
    c.eq(st, 401, "%s enforces alice's sign-out" % g["name"])
    log("%s: sign-out enforced %.0f ms after control acknowledged it" %
        (g["name"], (time.time() - t_so) * 1000))
    st, body = get(g["port"], bob, CLIENTS[1], proxy=True)
    c.eq(st, 200, "%s: bob's session (from before the failover) still valid" % g["name"])

time.sleep(3)
stop.set()
for th in threads:
    th.join(10)

# ---------------------------------------------------------------- the verdict on traffic

windows = {"gateway": [t_gw, t_redis, GW_WINDOW_MAX],
           "redis": [t_redis, 1e18, REDIS_WINDOW_MAX]}
outside, inside = [], {"gateway": [], "redis": []}
for r in results:
    if r[3]:
        continue
    for name, (start, end, limit) in windows.items():
        # in flight at the kill or started after it, within the window's bound
        if start <= r[1] and r[0] < end and r[1] - start <= limit:
            inside[name].append(r)
            break
    else:
        outside.append(r)
total = len(results)
log("requests: %d, failed: %d (gateway window %d, redis window %d, outside %d)" %
    (total, total - sum(1 for r in results if r[3]), len(inside["gateway"]),
     len(inside["redis"]), len(outside)))
for name, (start, _, _) in windows.items():
    fails = inside[name]
    span = max(r[1] for r in fails) - start if fails else 0.0
    log("%s failover window: %.2f s, %d failed requests%s" % (
        name, span, len(fails), (": " + "; ".join(sorted({r[4] for r in fails}))[:300])
        if fails else ""))
for r in outside[:10]:
    log("failed outside the windows at +%.2f: %s %s" % (r[0] - T0, r[2], r[4]))
c.eq(len(outside), 0, "no request failed outside the failover windows")
c.ok(total > 200, "continuous traffic (%d requests)" % total)
after = [r for r in results if r[0] > t_redis + REDIS_WINDOW_MAX or r[0] > t_so]
c.ok(after and all(r[3] for r in after), "every request after the windows succeeded")

# ---------------------------------------------------------------- real client addresses

st, body = get(vip, bob, CLIENTS[2], path="/headers")
xff = json.loads(body) if st == 200 else {}
xff = xff.get("X-Forwarded-For", xff.get("x-forwarded-for", ""))
c.ok(xff.split(",")[-1].strip() == CLIENTS[2], "origin sees X-Forwarded-For %r" % xff)
# at least once: every request's event arrives (failed connects that never reached a gateway
# have none, so count the requests HAProxy forwarded: the gateways' access logs)
served = 0
for g in gws:
    served += sum(1 for ln in open(g["proc"].stderr_path, errors="replace")
                  if '"type":"access"' in ln)
rm = rmaster()
n = D.wait(lambda: rm.xlen("wl:audit:AmazonWorkLink-acme") >= served, True, timeout=15)
c.ok(n is True, "every request served is in the audit stream (%d of %d)" %
     (rm.xlen("wl:audit:AmazonWorkLink-acme"), served))
events = [json.loads(e[1]["event"]) for e in rm.xrange("wl:audit:AmazonWorkLink-acme", "-", "+")]
clients = {e.get("client") for e in events}
log("audit: %d events, clients %s" % (len(events), sorted(x for x in clients if x)))
c.ok(len(events) > total / 2, "audit events written (%d)" % len(events))
c.ok(set(CLIENTS) <= clients, "every client's real address is in the audit stream")
c.ok(clients <= set(CLIENTS), "no other address (not HAProxy's 127.0.0.1)")
c.eq(rmaster().zcount("wl:{%s}:gateways" % F, int(time.time() * 1000) - 5000, "+inf"), 2,
     "two gateways beat (the killed one went stale)")

if c.failures:  # what the processes said about Redis
    for name in ["gw1", "gw3", "control"]:
        lines = [ln for ln in open(os.path.join(d, name + ".log"), errors="replace")
                 if "redis" in ln.lower() or "sentinel" in ln.lower()]
        print("---- %s.log (redis lines)\n%s" % (name, "".join(lines[-25:])), flush=True)
sys.exit(c.done())
