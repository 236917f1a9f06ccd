"""Helpers of the live-traffic tests: the `ws` package installed from npm into the build dir, the
Node origin (origin.mjs) and the Node device clients (client.mjs) driven over stdin/stdout."""
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

import wl_testlib as t

HERE = os.path.dirname(os.path.abspath(__file__))


def npm_prefix():
    """Installs the `ws` package (package.json beside this file) under the build dir once;
    returns the directory holding node_modules, or None when node/npm are missing."""
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    prefix = os.path.join(t.BUILD_DIR, "ws-npm")
    if not os.path.exists(os.path.join(prefix, "node_modules", "ws", "package.json")):
        os.makedirs(prefix, exist_ok=True)
        shutil.copy(os.path.join(HERE, "package.json"), prefix)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=prefix, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            print("FAIL: npm install ws: " + r.stderr[-2000:])
            sys.exit(1)
    return prefix


def start_origin(prefix):
    port = t.free_port()
    p = t.start(["node", os.path.join(HERE, "origin.mjs"), str(port),
                 os.path.join(prefix, "node_modules", "ws")])
    return port, p


class Client:
    """One Node process holding many device channels (client.mjs)."""

    def __init__(self, gw_port, ca, prefix):
        errp = os.path.join(t.tmpdir("wlnode-"), "client.log")
        self.p = subprocess.Popen(["node", os.path.join(HERE, "client.mjs"), str(gw_port), ca,
                                   os.path.join(prefix, "node_modules", "ws")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(errp, "wb"))
        t._procs.append(self.p)
        self.stderr_path = errp
        self.q = queue.Queue()
        self.cuts = {}
        self.opened = {}
        self.lock = threading.Lock()
        first = self.p.stdout.readline()
        if first.strip() != b"ready":
            raise RuntimeError("client.mjs did not start: %r" % first)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            ev = json.loads(line)
            with self.lock:
                if ev["ev"] == "cut":
                    self.cuts[ev["id"]] = ev
                elif ev["ev"] == "open":
                    self.opened[ev["id"]] = ev
                else:
                    self.q.put(ev)

    def cmd(self, **c):
        self.p.stdin.write((json.dumps(c) + "\n").encode())
        self.p.stdin.flush()

    def open(self, cid, typ, domain, token, path, **kw):
        self.cmd(cmd="open", id=cid, type=typ, domain=domain, token=token, path=path, **kw)

    def wait_open(self, ids, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if all(i in self.opened for i in ids):
                    return {i: self.opened[i] for i in ids}
            time.sleep(0.005)
        with self.lock:
            return {i: self.opened.get(i, {"ok": False, "status": "timeout"}) for i in ids}

    def wait_cut(self, ids, timeout=3):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if all(i in self.cuts for i in ids):
                    return {i: self.cuts[i] for i in ids}
            time.sleep(0.002)
        with self.lock:
            return {i: self.cuts.get(i) for i in ids}

    def stats(self, cid):
        self.cmd(cmd="stats", id=cid)
        while True:
            ev = self.q.get(timeout=10)
            if ev.get("id") == cid:
                return ev

    def close(self, cid):
        self.cmd(cmd="close", id=cid)
