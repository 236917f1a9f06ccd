#!/usr/bin/python3
"""Creates a signed-in demo session without an IdP, for the quickstart only.

Writes what the SAML login flow writes after a successful sign-in (docs/redis-schema.md): a
device record and a session stored under the SHA-256 of a fresh random token, then prints the
token. Never use this on a real deployment: sessions there come from the IdP.

usage: demo-session.py REDIS_URL FLEET USERNAME [TTL_SECONDS]
"""
import hashlib
import secrets
import sys
import time

import redis

url, fleet, user = sys.argv[1], sys.argv[2], sys.argv[3]
ttl_ms = int(sys.argv[4]) * 1000 if len(sys.argv) > 4 else 8 * 3600 * 1000
r = redis.Redis.from_url(url)
token = secrets.token_urlsafe(32)
sid = hashlib.sha256(token.encode()).hexdigest()
device = "demo-" + secrets.token_hex(6)
now = int(time.time() * 1000)
p = r.pipeline(transaction=True)
p.hset("wl:{%s}:device:%s" % (fleet, device), mapping={
    "id": device, "status": "ACTIVE", "username": user, "manufacturer": "Demo",
    "model": "curl", "os": "Linux", "os_version": "1", "patch_level": "demo",
    "first_accessed": now, "last_accessed": now})
p.zadd("wl:{%s}:devices" % fleet, {device: 0})
p.sadd("wl:{%s}:user:%s:devices" % (fleet, user), device)
key = "wl:{%s}:session:%s" % (fleet, sid)
p.hset(key, mapping={"username": user, "device_id": device, "created": now,
                     "expires": now + ttl_ms, "idle_timeout_ms": 3600 * 1000, "last_seen": now})
p.pexpire(key, ttl_ms)
p.sadd("wl:{%s}:user:%s:sessions" % (fleet, user), sid)
p.execute()
print(token)
