"""FleetStatus follows the fleet's gateway processes (issue 9): CREATING until a gateway of the
fleet beats in wl:{F}:gateways, ACTIVE after; DeleteFleet makes it DELETING, its gateways see
fleet/delete on the change feed, drain, unregister and exit 0, and only then is it DELETED. A
gateway started for an unknown, DELETING or DELETED fleet exits non-zero with a clear reason."""
import os
import signal
import subprocess
import sys
import time

import redis

import deployfix as D
import wl_testlib as t

c = t.Checker()
d = t.tmpdir("wldeploy-")
redis_proc, redis_url = t.start_redis()
r = redis.Redis.from_url(redis_url, decode_responses=True)
key_file = t.write_key_file(d)
network = D.write_network(d)
ctl = D.Control(d, redis_url, key_file, network,
                ["--fleet-create-delay-ms", "100", "--fleet-delete-delay-ms", "4000",
                 "--gateway-ttl-ms", "3000"])
F = "corp"
GW = "wl:{%s}:gateways" % F


def refused_start(fleet, want):
    p = subprocess.run(D.gateway_argv(fleet, redis_url, key_file, network, D.quiet_port(),
                                      D.quiet_port()), capture_output=True, text=True, timeout=30)
    c.ok(p.returncode != 0 and want in p.stderr and "ready" not in p.stdout,
         "gateway for %s fleet refused (%r): exit %d, %s" % (fleet, want, p.returncode,
                                                            p.stderr.strip()[-300:]))


def start_gateway(name):
    port, admin = D.quiet_port(), D.quiet_port()
    return t.start(D.gateway_argv(F, redis_url, key_file, network, port, admin),
                   stderr_path=os.path.join(d, name + ".log"))


# ---- unknown fleet ----
refused_start("nosuch", "fleet nosuch does not exist")

# ---- CREATING until a gateway beats ----
ctl.wl.create_fleet(FleetName=F, DisplayName="Corp")
time.sleep(1.5)
c.eq(ctl.status(F), "CREATING", "no gateway yet: still CREATING after 1.5 s")
t0 = time.time()
gw1 = start_gateway("gw1")
got = D.wait(lambda: ctl.status(F), "ACTIVE", timeout=10)
c.eq(got, "ACTIVE", "ACTIVE once a gateway beats")
print("CREATING -> ACTIVE %.2f s after the gateway started" % (time.time() - t0), flush=True)
members = r.zrange(GW, 0, -1, withscores=True)
c.eq(len(members), 1, "one gateway registered")
c.ok(members and ("/%d/" % gw1.pid) in members[0][0],
     "member names the process (%s)" % (members[:1],))
c.ok(members and abs(members[0][1] / 1000 - time.time()) < 3, "score = last beat (ms)")
before = members[0][1] if members else 0
time.sleep(1.6)
after = r.zscore(GW, members[0][0]) if members else None
c.ok(after is not None and after > before, "heartbeat refreshed (%s -> %s)" % (before, after))

# ---- a second gateway registers, and unregisters on a clean stop ----
gw2 = start_gateway("gw2")
c.eq(D.wait(lambda: r.zcard(GW), 2, timeout=5), 2, "two gateways registered")
c.eq(t.stop(gw2), 0, "SIGTERM: gateway exits 0")
c.eq(r.zcard(GW), 1, "a clean stop removes the member at once")

# ---- DELETING while the gateway drains, DELETED after ----
ctl.wl.delete_fleet(FleetArn=D.fleet_arn(F))
c.eq(ctl.status(F), "DELETING", "DeleteFleet: DELETING")
t0 = time.time()
try:
    rc = gw1.wait(15)
except subprocess.TimeoutExpired:
    rc = None
c.eq(rc, 0, "the fleet's gateway drained and exited 0 by itself after fleet/delete")
print("gateway exited %.2f s after DeleteFleet" % (time.time() - t0), flush=True)
log = open(os.path.join(d, "gw1.log")).read()
c.ok("is DELETING: draining and exiting" in log, "gateway logged why it left")
c.eq(r.zcard(GW), 0, "its member is gone")
c.eq(ctl.status(F), "DELETING", "still DELETING within --fleet-delete-delay-ms")
refused_start(F, "fleet corp is DELETING")
got = D.wait(lambda: ctl.status(F), "DELETED", timeout=10)
c.eq(got, "DELETED", "DELETED once no gateway beats")
refused_start(F, "fleet corp is DELETED")
got = D.wait(lambda: ctl.status(F), "GONE", timeout=10)
c.eq(got, "GONE", "purged later")
refused_start(F, "fleet corp does not exist")

# ---- a gateway SIGKILLed cannot hold deletion: its beat goes stale (--gateway-ttl-ms) ----
ctl.wl.create_fleet(FleetName=F)
gw3 = start_gateway("gw3")
c.eq(D.wait(lambda: ctl.status(F), "ACTIVE", timeout=10), "ACTIVE", "re-created fleet ACTIVE")
gw3.send_signal(signal.SIGKILL)
gw3.wait()
t0 = time.time()
ctl.wl.delete_fleet(FleetArn=D.fleet_arn(F))
got = D.wait(lambda: ctl.status(F), "DELETED", timeout=15)
c.eq(got, "DELETED", "a dead gateway's stale heartbeat does not block deletion")
print("DELETING -> DELETED %.2f s after DeleteFleet with a SIGKILLed gateway" % (time.time() - t0),
      flush=True)

sys.exit(c.done())
