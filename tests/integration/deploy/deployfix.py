"""Fixture for the deployment tests: worklink-control driven through boto3 (the AWS SDK the AWS
CLI is built on), gateways of one fleet, sessions written the way the sign-in flow writes them
(docs/redis-schema.md), and a network inventory whose subnet and security group reach loopback
origins (deploy/network.md: gateways fail closed without one)."""
import hashlib
import os
import random
import secrets
import socket
import time

import wl_testlib as t

ACCOUNT = "123456789012"
AK, SK = "AKIDDEPLOY0000000001", "deploysecret"
NETWORK = t.LOOPBACK_NETWORK


def fleet_arn(fleet):
    return "arn:aws:worklink::%s:fleet/%s" % (ACCOUNT, fleet)


def write_network(d):
    return t.write_loopback_network(d)


_given = set()


def quiet_port():
    """A free port below the kernel's ephemeral range: processes here bind their ports seconds
    after the ports are picked, and meanwhile an outgoing connection of any process on the
    machine may take a port of the ephemeral range (t.free_port's)."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    while True:
        port = random.randrange(max(1024, low - 12000), low)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port


def wait(fn, want=True, timeout=20.0, step=0.05):
    """Polls fn() until it returns want (or anything truthy when want is True); returns the last
    value."""
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        try:
            got = fn()
        except Exception as e:  # a transient error counts as "not yet"
            got = e
        if got == want or (want is True and got and not isinstance(got, Exception)):
            return got
        time.sleep(step)
    return got


class Control:
    """worklink-control on redis_url with boto3 clients `wl` and `acm`."""

    def __init__(self, d, redis_url, key_file, network, extra=(), name="control"):
        import boto3
        import botocore.config
        creds = t.write_credentials(d, [("deploy", AK, SK, ACCOUNT, "full")])
        self.port = quiet_port()
        self.proc = t.start([t.binary("worklink-control"), "--listen",
                             "127.0.0.1:%d" % self.port, "--redis", redis_url, "--credentials",
                             creds, "--key-file", key_file, "--rate-limit", "0",
                             "--network", network] + list(extra),
                            stderr_path=os.path.join(d, name + ".log"))
        kw = dict(endpoint_url="http://127.0.0.1:%d" % self.port, region_name="us-east-1",
                  aws_access_key_id=AK, aws_secret_access_key=SK,
                  config=botocore.config.Config(retries={"total_max_attempts": 1},
                                                connect_timeout=5, read_timeout=15))
        self.wl = boto3.client("worklink", **kw)
        self.acm = boto3.client("acm", **kw)

    def status(self, fleet):
        try:
            return self.wl.describe_fleet_metadata(FleetArn=fleet_arn(fleet))["FleetStatus"]
        except self.wl.exceptions.ResourceNotFoundException:
            return "GONE"


def gateway_argv(fleet, redis_url, key_file, network, port, admin_port, extra=()):
    return [t.binary("worklink-gateway"), "--fleet", fleet, "--listen", "127.0.0.1:%d" % port,
            "--admin-listen", "127.0.0.1:%d" % admin_port, "--redis", redis_url, "--key-file",
            key_file, "--network", network, "--workers", "1"] + list(extra)


def new_session(r, fleet, user, device):
    """Writes a signed-in session as the gateway's ACS does (redis-py client r); returns the
    token."""
    token = secrets.token_urlsafe(32)
    sid = hashlib.sha256(token.encode()).hexdigest()
    now = int(time.time() * 1000)
    exp = now + 8 * 3600 * 1000
    P = "wl:{%s}:" % fleet
    p = r.pipeline(transaction=True)
    p.hset(P + "device:" + device, mapping={
        "id": device, "status": "ACTIVE", "username": user, "manufacturer": "Test",
        "model": "curl", "os": "Linux", "os_version": "1", "patch_level": "1",
        "first_accessed": now, "last_accessed": now})
    p.zadd(P + "devices", {device: 0})
    p.sadd(P + "user:%s:devices" % user, device)
    p.hset(P + "session:" + sid, mapping={
        "username": user, "device_id": device, "created": now, "expires": exp,
        "idle_timeout_ms": 8 * 3600 * 1000, "last_seen": now})
    p.pexpireat(P + "session:" + sid, exp)
    p.sadd(P + "user:%s:sessions" % user, sid)
    p.execute()
    return token
