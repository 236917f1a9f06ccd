"""Fixture for the egress tests: the gateway fixture (tests/integration/gateway/gwfix.py: Redis,
fleet, domains, sessions, gateway, curl) plus worklink-control on the same Redis with a network
inventory, the real AWS CLI, and origins bound to chosen loopback addresses."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import gwfix  # noqa: E402
import wl_testlib as t  # noqa: E402

F = gwfix.F
ACCOUNT = gwfix.ACCOUNT
FLEET_ARN = "arn:aws:worklink::%s:fleet/%s" % (ACCOUNT, F)

# Subnets on 127.x.0.0/16 (all of 127/8 is local on Linux, so each source address can be bound).
# subnet-000000ff's source address is not on this host: binding it fails (failover).
INVENTORY = {
    "vpcs": [{"id": "vpc-0000000a"}, {"id": "vpc-0000000b"}],
    "subnets": [
        {"id": "subnet-0000000a", "vpc": "vpc-0000000a", "cidr": "127.10.0.0/16",
         "source_address": "127.10.0.1"},
        {"id": "subnet-0000000b", "vpc": "vpc-0000000a", "cidr": "127.11.0.0/16",
         "source_address": "127.11.0.1"},
        {"id": "subnet-000000ff", "vpc": "vpc-0000000a", "cidr": "192.0.2.0/24",
         "source_address": "192.0.2.10"},
        {"id": "subnet-0000000c", "vpc": "vpc-0000000b", "cidr": "127.12.0.0/16",
         "source_address": "127.12.0.1"},
        {"id": "subnet-0000006a", "vpc": "vpc-0000000a", "cidr": "::1/128",
         "source_address": "::1"},
    ],
    "security_groups": [
        {"id": "sg-0000000a", "vpc": "vpc-0000000a", "egress": [
            {"protocol": "tcp", "from_port": 1024, "to_port": 65535, "cidr": "127.20.0.0/16"}]},
        {"id": "sg-0000000b", "vpc": "vpc-0000000a", "egress": [
            {"protocol": "all", "cidr": "0.0.0.0/0"}]},
        {"id": "sg-0000000c", "vpc": "vpc-0000000a", "egress": [
            {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr": "169.254.169.254/32"}]},
        {"id": "sg-0000000d", "vpc": "vpc-0000000a", "egress": [
            {"protocol": "udp", "from_port": 0, "to_port": 65535, "cidr": "0.0.0.0/0"}]},
        {"id": "sg-0000000e", "vpc": "vpc-0000000b", "egress": [
            {"protocol": "all", "cidr": "0.0.0.0/0"}]},
        {"id": "sg-0000006a", "vpc": "vpc-0000000a", "egress": [
            {"protocol": "tcp", "from_port": 1024, "to_port": 65535, "cidr": "::1/128"}]},
    ],
}


class Env(gwfix.Env):
    default_network = False  # these tests set the fleet's network through control

    def __init__(self, inventory=INVENTORY):
        super().__init__()
        self.inventory = os.path.join(self.d, "network.json")
        with open(self.inventory, "w") as f:
            json.dump(inventory, f)
        self.start_control()

    def start_control(self):
        creds = t.write_credentials(self.d, [("admin", "AKIDADMIN00000000001", "adminsecret",
                                              ACCOUNT, "full")])
        self.cport = t.free_port()
        self.control = t.start([t.binary("worklink-control"), "--listen",
                                "127.0.0.1:%d" % self.cport, "--redis", self.redis_url,
                                "--credentials", creds, "--key-file", self.key_file,
                                "--rate-limit", "0", "--network", self.inventory])
        aws_creds = os.path.join(self.d, "aws-credentials")
        with open(aws_creds, "w") as f:
            f.write("[default]\naws_access_key_id = AKIDADMIN00000000001\n"
                    "aws_secret_access_key = adminsecret\n")
        aws_config = os.path.join(self.d, "aws-config")
        with open(aws_config, "w") as f:
            f.write("[default]\nregion = us-east-1\n")
        self.aws_env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=aws_creds,
                            AWS_CONFIG_FILE=aws_config, AWS_PAGER="",
                            AWS_EC2_METADATA_DISABLED="true")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            self.aws_env.pop(k, None)

    def aws(self, *args):
        """Runs /usr/bin/aws worklink ...; returns (ok, JSON output or None, stderr)."""
        p = subprocess.run(["/usr/bin/aws", "worklink"] + list(args) +
                           ["--endpoint-url", "http://127.0.0.1:%d" % self.cport,
                            "--output", "json"],
                           capture_output=True, text=True, env=self.aws_env, timeout=60)
        out = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
        return p.returncode == 0, out, p.stderr

    def set_network(self, vpc, subnets, groups):
        args = ["update-company-network-configuration", "--fleet-arn", FLEET_ARN,
                "--vpc-id", vpc, "--subnet-ids"] + list(subnets) + ["--security-group-ids"] + \
            list(groups)
        return self.aws(*args)

    def start_ep(self, addr, keepalive=False):
        """An origin on addr:<free port>; returns (port, accept-log path)."""
        port = t.free_port()
        log = os.path.join(self.d, "accepts-%s-%d.log" % (addr, port))
        open(log, "w").close()
        p = t.start(["/usr/bin/python3", os.path.join(HERE, "origin_ep.py"), addr, str(port),
                     log] + (["keepalive"] if keepalive else []))
        self.origins.append(p)
        return port, log


def accepts(log):
    with open(log) as f:
        return [line.strip() for line in f if line.strip()]


def wait_for(fn, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()
