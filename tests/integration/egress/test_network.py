"""Company network egress end to end: worklink-control with a network inventory (validation through
the AWS CLI), worklink-gateway --network with origins bound to loopback addresses inside and
outside the fleet's security groups. Shows: fail closed without a network, allowed origins reached
from the subnets' source addresses (spread over subnets), forbidden origins, DNS rebinding and
IPv4-mapped IPv6 refused before any packet (origin accept logs stay empty), link-local/metadata
addresses only with a rule naming them, subnet failover, live changes without restart."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netfix  # noqa: E402
from netfix import accepts, wait_for  # noqa: E402
import wl_testlib as t  # noqa: E402

c = t.Checker()
e = netfix.Env()

# ---- control: UpdateCompanyNetworkConfiguration validated against the inventory ----
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a", "subnet-0000dead"], ["sg-0000000a"])
c.ok(not good and "InvalidRequestException" in err and "subnet-0000dead" in err,
     "unknown subnet refused, naming it: %s" % err.strip()[-200:])
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000a", "sg-0000dead"])
c.ok(not good and "InvalidRequestException" in err and "sg-0000dead" in err,
     "unknown security group refused, naming it: %s" % err.strip()[-200:])
good, _, err = e.set_network("vpc-0000dead", ["subnet-0000000a"], ["sg-0000000a"])
c.ok(not good and "InvalidRequestException" in err and "vpc-0000dead" in err,
     "unknown VPC refused, naming it: %s" % err.strip()[-200:])
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a", "subnet-0000000c"], ["sg-0000000a"])
c.ok(not good and "InvalidRequestException" in err and "subnet-0000000c" in err and "vpc-0000000b" in err,
     "subnet of another VPC refused, naming it: %s" % err.strip()[-200:])
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000e"])
c.ok(not good and "InvalidRequestException" in err and "sg-0000000e" in err,
     "security group of another VPC refused: %s" % err.strip()[-200:])
good, _, err = e.aws("update-company-network-configuration", "--fleet-arn", netfix.FLEET_ARN,
                     "--vpc-id", "vpc-0000000a", "--subnet-ids", "[]", "--security-group-ids",
                     "sg-0000000a")
c.ok(not good and "InvalidRequestException" in err, "empty subnet list refused: %s" %
     err.strip()[-200:])
good, _, err = e.aws("update-company-network-configuration", "--fleet-arn", netfix.FLEET_ARN,
                     "--vpc-id", "vpc-0000000a", "--subnet-ids", "subnet-0000000a",
                     "--security-group-ids", "[]")
c.ok(not good and "InvalidRequestException" in err, "empty security group list refused: %s" %
     err.strip()[-200:])
c.ok(e.r.hget("wl:{%s}:fleet" % netfix.F, "vpc_id") is None, "refused calls wrote nothing")

# ---- origins on loopback addresses ----
ok_port, ok_log = e.start_ep("127.20.0.5")       # inside sg-0000000a
bad_port, bad_log = e.start_ep("127.30.0.5")     # outside sg-0000000a
ka_port, ka_log = e.start_ep("127.20.0.9", keepalive=True)  # pooled connections
v6_port, v6_log = e.start_ep("::1")               # IPv6 origin
domains = {
    "wiki.example.com": "http://127.20.0.5:%d" % ok_port,
    "secret.example.com": "http://127.30.0.5:%d" % bad_port,
    "rebind.example.com": "http://rebind.internal:%d" % bad_port,
    "mapped.example.com": "http://mapped-bad.internal:%d" % bad_port,
    "mapped-ok.example.com": "http://mapped-ok.internal:%d" % ok_port,
    "meta.example.com": "http://169.254.169.254:80",
    "pool.example.com": "http://127.20.0.9:%d" % ka_port,
    "v6.example.com": "http://[::1]:%d" % v6_port,
    "dns.example.com": "http://localhost:%d" % bad_port,  # system resolver: 127.0.0.1, ::1
}
argv = ["--network", e.inventory, "--connect-timeout-ms", "1500", "--session-cache-ms", "60000"]
for d, url in domains.items():
    e.add_domain(d)
    argv += ["--origin", "%s=%s" % (d, url)]
# DNS answers: rebind.internal resolves to a forbidden address; mapped names use ::ffff:a.b.c.d
argv += ["--resolve", "rebind.internal:127.30.0.5",
         "--resolve", "mapped-bad.internal:::ffff:127.30.0.5",
         "--resolve", "mapped-ok.internal:::ffff:127.20.0.5"]
e.start_gateway(argv, workers=2)
tok, sid, dev = e.new_session()

# ---- no network configured: fail closed, and the page says why ----
st, body, *_ = e.curl("wiki.example.com", "/x", token=tok)
c.ok(st == 502 and "no company network" in body, "no network: 502 saying why (%d %s)" % (
    st, body[:200]))
c.ok(accepts(ok_log) == [], "no network: the origin saw no connection")

# ---- configure through the AWS CLI; applies without restart ----
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a", "subnet-0000000b"], ["sg-0000000a"])
c.ok(good, "UpdateCompanyNetworkConfiguration: %s" % err.strip()[-200:])
good, out, err = e.aws("describe-company-network-configuration", "--fleet-arn", netfix.FLEET_ARN)
c.ok(good and out.get("VpcId") == "vpc-0000000a" and out.get("SubnetIds") == ["subnet-0000000a", "subnet-0000000b"]
     and out.get("SecurityGroupIds") == ["sg-0000000a"], "Describe returns what was set: %s" % out)

st = wait_for(lambda: e.curl("wiki.example.com", "/x", token=tok)[0] == 200)
c.ok(st, "network change applied without restart: allowed origin reached")
peers = set()
for i in range(8):
    st, body, *_ = e.curl("wiki.example.com", "/p%d" % i, token=tok)
    m = re.search(r"peer=(\S+)", body)
    if st == 200 and m:
        peers.add(m.group(1))
c.ok(peers == {"127.10.0.1", "127.11.0.1"},
     "connections come from the subnets' source addresses, spread over both: %s" % peers)
c.ok(set(accepts(ok_log)) <= {"127.10.0.1", "127.11.0.1"}, "origin saw only subnet sources")

# ---- forbidden origins: refused before any packet ----
st, body, *_ = e.curl("secret.example.com", "/", token=tok)
c.ok(st == 502 and "security groups do not allow" in body,
     "address outside the rules: 502 saying why (%d %s)" % (st, body[:200]))
st, body, *_ = e.curl("rebind.example.com", "/", token=tok)
c.ok(st == 502 and "security groups do not allow" in body,
     "rebinding (name resolving to a forbidden address) refused (%d)" % st)
st, body, *_ = e.curl("mapped.example.com", "/", token=tok)
c.ok(st == 502, "IPv4-mapped IPv6 form of a forbidden address refused (%d)" % st)
st, body, *_ = e.curl("dns.example.com", "/", token=tok)
c.ok(st == 502 and "security groups do not allow" in body,
     "a name whose DNS answers are all forbidden is refused (%d %s)" % (st, body[:120]))
st, body, *_ = e.curl("mapped-ok.example.com", "/", token=tok)
c.ok(st == 200 and "peer=127.1" in body,
     "IPv4-mapped IPv6 form of an allowed address judged and dialled as IPv4 (%d %s)" % (
         st, body[:100]))
c.ok(accepts(bad_log) == [], "forbidden origin accepted no connection at all: %s" %
     accepts(bad_log))
c.ok(e.metric("worklink_gateway_egress_denied_total") >= 3, "denials counted in /metrics")

# ---- link-local / metadata: a catch-all rule does not open them ----
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000a", "sg-0000000b"])
c.ok(good, "network with 0.0.0.0/0: %s" % err.strip()[-200:])
st = wait_for(lambda: e.curl("secret.example.com", "/", token=tok)[0] == 200)
c.ok(st, "live change: 0.0.0.0/0 now reaches the formerly forbidden origin")
c.ok(accepts(bad_log) == ["127.10.0.1"], "... from subnet-0000000a's source only: %s" % accepts(bad_log))
st, body, *_ = e.curl("meta.example.com", "/latest/meta-data/", token=tok)
c.ok(st == 502 and "link-local or cloud metadata" in body,
     "metadata address refused despite 0.0.0.0/0 (%d %s)" % (st, body[:200]))
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000a", "sg-0000000c"])
c.ok(good, "network with a rule naming 169.254.169.254/32: %s" % err.strip()[-200:])


def meta_not_refused():
    st, body, *_ = e.curl("meta.example.com", "/latest/meta-data/", token=tok, timeout=10)
    return st in (502, 504) and "link-local" not in body and "security groups" not in body


c.ok(wait_for(meta_not_refused, timeout=15, step=0.3),
     "with a rule naming it, the metadata address passes the policy (then fails to connect)")
st, body, *_ = e.curl("secret.example.com", "/", token=tok)
c.ok(st == 502, "live change back: 127.30.0.5 refused again (%d)" % st)
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000d"])
st = wait_for(lambda: e.curl("wiki.example.com", "/", token=tok)[0] == 502)
c.ok(good and st, "a UDP-only rule does not allow TCP to the origin")

# ---- IPv6: the source address is taken from a subnet of the origin's address family ----
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000a", "sg-0000006a"])
wait_for(lambda: "address family" in e.curl("v6.example.com", "/", token=tok)[1])
st, body, *_ = e.curl("v6.example.com", "/", token=tok)
c.ok(good and st == 502 and "address family" in body,
     "IPv6 origin without an IPv6 subnet: 502 saying why (%d %s)" % (st, body[:200]))
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a", "subnet-0000006a"],
                             ["sg-0000000a", "sg-0000006a"])
c.ok(good, "network with an IPv6 subnet and rule: %s" % err.strip()[-200:])
c.ok(wait_for(lambda: e.curl("v6.example.com", "/", token=tok)[0] == 200),
     "IPv6 origin reached")
v6_ok = all("peer=::1" in e.curl("v6.example.com", "/%d" % i, token=tok)[1] for i in range(3))
v4_ok = all("peer=127.10.0.1" in e.curl("wiki.example.com", "/%d" % i, token=tok)[1]
            for i in range(3))
c.ok(v6_ok and v4_ok, "each origin sees the subnet source of its own family (v6 %s, v4 %s)" % (
    v6_ok, v4_ok))

# ---- a pooled (keep-alive) origin connection is not reused after the network changes ----
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000a"])
c.ok(wait_for(lambda: e.curl("pool.example.com", "/1", token=tok)[0] == 200), "pooled origin")
sts = [e.curl("pool.example.com", "/%d" % i, token=tok)[0] for i in range(4)]
c.ok(sts == [200] * 4 and len(accepts(ka_log)) <= 2,
     "keep-alive origin connections are reused (%s, %d accepts)" % (sts, len(accepts(ka_log))))
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000c"])
c.ok(wait_for(lambda: e.curl("pool.example.com", "/x", token=tok)[0] == 502, timeout=5),
     "after the change, no request reaches the origin through a pooled connection")

# ---- subnet failover: a subnet whose source address is not on this host ----
good, _, err = e.set_network("vpc-0000000a", ["subnet-000000ff", "subnet-0000000b"], ["sg-0000000a"])
c.ok(good, "network with an unusable subnet first: %s" % err.strip()[-200:])
wait_for(lambda: e.curl("wiki.example.com", "/", token=tok)[0] == 200)
open(ok_log, "w").close()
sts = [e.curl("wiki.example.com", "/f%d" % i, token=tok)[0] for i in range(6)]
c.ok(sts == [200] * 6, "every request served despite the unusable subnet: %s" % sts)
c.ok(set(accepts(ok_log)) == {"127.11.0.1"}, "all connections moved to subnet-0000000b: %s" %
     set(accepts(ok_log)))
good, _, err = e.set_network("vpc-0000000a", ["subnet-000000ff"], ["sg-0000000a"])
st = wait_for(lambda: e.curl("wiki.example.com", "/", token=tok)[0] == 502)
body = e.curl("wiki.example.com", "/", token=tok)[1]
c.ok(st and "every source address failed" in body,
     "only an unusable subnet: 502 saying why (%s)" % body[:200])

# ---- SIGHUP re-reads the inventory file (sg-0000000a narrowed to another range) ----
good, _, err = e.set_network("vpc-0000000a", ["subnet-0000000a"], ["sg-0000000a"])
wait_for(lambda: e.curl("wiki.example.com", "/", token=tok)[0] == 200)
inv = dict(netfix.INVENTORY)
inv["security_groups"] = [dict(g) for g in netfix.INVENTORY["security_groups"]]
inv["security_groups"][0]["egress"] = [{"protocol": "tcp", "from_port": 1024, "to_port": 65535,
                                        "cidr": "127.21.0.0/16"}]
import json  # noqa: E402
with open(e.inventory, "w") as f:
    json.dump(inv, f)
e.gw.send_signal(1)  # SIGHUP
c.ok(wait_for(lambda: e.curl("wiki.example.com", "/", token=tok)[0] == 502),
     "SIGHUP: the edited inventory applies (origin no longer allowed)")

# ---- gateway start-up refuses a bad inventory with a one-line reason ----
bad_inv = os.path.join(e.d, "bad.json")
with open(bad_inv, "w") as f:
    f.write('{"vpcs": [], "subnets": [{"id": "subnet-00000001", "vpc": "vpc-00000009", "cidr": "10.0.0.0/8", '
            '"source_address": "10.0.0.1"}], "security_groups": []}')
import subprocess  # noqa: E402
p = subprocess.run([t.binary("worklink-gateway"), "--fleet", netfix.F, "--listen",
                    "127.0.0.1:1", "--admin-listen", "127.0.0.1:2", "--redis", e.redis_url,
                    "--key-file", e.key_file, "--network", bad_inv],
                   capture_output=True, text=True, timeout=30)
c.ok(p.returncode != 0 and "vpc-00000009" in p.stderr, "bad inventory: exit %d, %s" % (
    p.returncode, p.stderr.strip()[-200:]))

# ---- a gateway without --network reaches nothing either (fail closed), and says why ----
t.stop(e.gw)
accepts_before = len(accepts(ok_log))
argv_nonet = [a for a in argv if a not in ("--network", e.inventory)]
e.start_gateway(argv_nonet, workers=1)
st, body, *_ = e.curl("wiki.example.com", "/x", token=tok)
c.ok(st == 502 and "no company network inventory" in body,
     "no --network: 502 saying why (%d %s)" % (st, body[:200]))
c.ok(len(accepts(ok_log)) == accepts_before, "no --network: the origin saw no connection")
c.ok(e.metric("worklink_gateway_egress_denied_total") >= 1, "no --network: refusal counted")

sys.exit(c.done())
