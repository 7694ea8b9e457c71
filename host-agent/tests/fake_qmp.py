#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A fake QEMU QMP server with a simulated virtio-hballoon device.

Speaks the QMP handshake and the hballoon contract of shared/DESIGN.md:
  hballoon-set {"node", "size"}, query-hballoon, event HBALLOON_CHANGE.
A "guest" thread moves each node's actual size towards its target at
--rate bytes per --tick-ms and emits HBALLOON_CHANGE, down to a per-node
--floor it cannot go below (to test shortfalls); --hold-ms makes it pause
after each hballoon-set before it moves, as the real driver backs off.

--scenario picks a misbehaviour to test the client's error paths:
  normal          well-behaved
  interleave      before every reply: unrelated events, an HBALLOON_CHANGE
                  and a stale reply with a wrong id
  split           every message is written one byte at a time
  never-greet     accept, then say nothing
  not-qmp         greet like an HMP monitor (plain text)
  bad-greeting    greet with a JSON object that is not a QMP greeting
  close-at-greet  close right after accepting
  close-after-greeting  greet, then close when the client speaks
  caps-error      refuse qmp_capabilities
  never-answer    handshake fine, then never answer a command
  close-on-command  handshake fine, close when a command arrives
  close-mid-reply send half of the reply, then close
  garbage-reply   answer commands with invalid JSON
  no-hballoon     CommandNotFound for the hballoon commands (QEMU without it)
  no-device       "No virtio-hballoon device has been activated" (QEMU with
                  hballoon, VM without the device)
  bad-reply       query-hballoon returns nodes without "actual"
  extras          guest stats, unknown fields, discard inhibited (VM-wide
                  and on node 1)
  node-reason     discard inhibited on node 1 only (private-file backend)
  shutdown        after --emit events, send SHUTDOWN and close
  hangup          after --emit events, close without SHUTDOWN

Serves connections one after another (state persists) until killed.
Every command received is appended as a JSON line to --log if given.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

PAGE = 4096


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if s[-1].upper() in mult:
        return int(s[:-1]) * mult[s[-1].upper()]
    return int(s)


class Device:
    def __init__(self, nodes, floors, rate, extras, hold_ms=0, node_reason=False):
        self.node_reason = node_reason
        self.lock = threading.Lock()
        self.hold_ms = hold_ms
        self.hold_until = 0.0
        self.nodes = {}
        for n, ram in nodes:
            self.nodes[n] = {"ram": ram, "target": ram, "actual": ram}
        self.floors = floors
        self.rate = rate
        self.extras = extras

    def query(self):
        """query-hballoon's reply, shaped like qapi/hballoon.json."""
        with self.lock:
            out = []
            for n in sorted(self.nodes):
                d = self.nodes[n]
                balloon = (d["ram"] - d["actual"]) // PAGE
                # key order as real QEMU sends it (a hash order)
                o = {"actual": d["actual"], "discard-inhibited": False,
                     "deflated": d.get("deflated", 0), "invalid": 0,
                     "inflated": d.get("inflated", 0), "node": n,
                     "ram": d["ram"], "target": d["target"],
                     "discarded": d.get("inflated", 0)}
                if self.extras:
                    o["discard-inhibited"] = n == 1
                    if n == 1:
                        o["reason"] = "private-file"
                    o["future-field"] = "x%d" % n
                    if n == 0:
                        o["stats"] = {"free-memory": 300 << 20,
                                      "total-memory": d["actual"],
                                      "file-memory": 0, "anon-memory": 0,
                                      "balloon-memory": balloon * PAGE,
                                      "inflate-failures": 0, "oom-deflated": 0,
                                      "hot-memory": 700 << 20,
                                      "cold-memory": 100 << 20}
                out.append(o)
            ret = {"nodes": out, "discard-inhibited": False, "reasons": [],
                   "bad-buffers": 0}
            if self.node_reason:
                out[-1]["discard-inhibited"] = True
                out[-1]["reason"] = "private-file"
                ret["discard-inhibited"] = True
                ret["reasons"] = ["private-file"]
            if self.extras:
                ret["discard-inhibited"] = True
                ret["reasons"] = ["ram-discard-disabled", "private-file"]
                ret["bad-buffers"] = 3
                # a field a newer QEMU might add, that is not the state
                ret["discard-inhibitor-count"] = 2
            return ret

    def set(self, args):
        """hballoon-set, with QEMU's error messages."""
        if not isinstance(args, dict):
            return "GenericError", "Invalid parameter type, expected: object"
        if "node" not in args:
            return "GenericError", "Parameter 'node' is missing"
        if "size" not in args:
            return "GenericError", "Parameter 'size' is missing"
        n, size = args["node"], args["size"]
        if not isinstance(n, int) or not isinstance(size, int) or size < 0:
            return "GenericError", "Invalid parameter type"
        if "id" in args and args["id"] != "hb0":
            return "GenericError", "No virtio-hballoon device with id '%s'" % args["id"]
        with self.lock:
            if n not in self.nodes:
                return ("GenericError",
                        "NUMA node %d does not exist or has no RAM managed by "
                        "virtio-hballoon" % n)
            if size == 0:
                return ("GenericError", "size must be greater than 0: a node "
                        "cannot give all of its memory to the balloon")
            if size % PAGE:
                return ("GenericError",
                        "size %d is not a multiple of 4 KiB" % size)
            if size > self.nodes[n]["ram"]:
                return ("GenericError",
                        "size %d is larger than NUMA node %d (%d bytes)"
                        % (size, n, self.nodes[n]["ram"]))
            self.nodes[n]["target"] = size
            self.hold_until = time.monotonic() + self.hold_ms / 1000.0
        return None

    def step(self):
        """Move every node one step; return [(node, actual)] that changed."""
        changed = []
        with self.lock:
            if time.monotonic() < self.hold_until:
                return changed
            for n, d in self.nodes.items():
                floor = self.floors.get(n, 0)
                a, t = d["actual"], d["target"]
                if a > t:
                    na = max(t, a - self.rate, min(a, floor))
                elif a < t:
                    na = min(t, a + self.rate)
                else:
                    continue
                if na != a:
                    key = "inflated" if na < a else "deflated"
                    d[key] = d.get(key, 0) + abs(a - na) // PAGE
                    d["actual"] = na
                    changed.append((n, na))
        return changed


def event(name, data=None):
    now = time.time()
    ev = {"event": name, "timestamp": {"seconds": int(now),
          "microseconds": int((now % 1) * 1e6)}}
    if data is not None:
        ev["data"] = data
    return ev


class Conn:
    def __init__(self, sock, opts):
        self.sock = sock
        self.opts = opts
        self.wlock = threading.Lock()
        self.alive = True

    def send_raw(self, data):
        with self.wlock:
            try:
                if self.opts.scenario == "split":
                    for i in range(len(data)):
                        self.sock.sendall(data[i:i + 1])
                else:
                    self.sock.sendall(data)
            except OSError:
                self.alive = False

    def send(self, obj):
        self.send_raw((json.dumps(obj) + "\r\n").encode())


def serve(conn, dev, opts, log):
    sc = opts.scenario
    sock = conn.sock
    if sc == "close-at-greet":
        return
    if sc == "never-greet":
        while sock.recv(4096):
            pass
        return
    if sc == "not-qmp":
        conn.send_raw(b"QEMU 10.0.2 monitor - type 'help' for more information\r\n(qemu) ")
        while sock.recv(4096):
            pass
        return
    if sc == "bad-greeting":
        conn.send({"hello": "world"})
        while sock.recv(4096):
            pass
        return
    conn.send({"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10},
                                   "package": "fake"}, "capabilities": ["oob"]}})
    dec = json.JSONDecoder()
    buf = ""
    negotiated = False
    emitted = False
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        if sc == "close-after-greeting":
            return
        buf += data.decode()
        while True:
            buf = buf.lstrip()
            if not buf:
                break
            try:
                msg, end = dec.raw_decode(buf)
            except ValueError:
                break
            buf = buf[end:]
            if log:
                with open(log, "a") as f:
                    f.write(json.dumps(msg) + "\n")
            cmd = msg.get("execute")
            mid = msg.get("id")

            def reply(obj):
                if mid is not None:
                    obj["id"] = mid
                if sc == "interleave":
                    conn.send(event("RTC_CHANGE", {"offset": 0}))
                    conn.send(event("HBALLOON_CHANGE", {"node": 0, "actual": 1 << 30}))
                    conn.send({"return": {"stale": True}, "id": 987654})
                    conn.send({"error": {"class": "GenericError",
                                         "desc": "stale error"}, "id": 987655})
                conn.send(obj)

            def error(cls, desc):
                reply({"error": {"class": cls, "desc": desc}})

            if not negotiated:
                if cmd != "qmp_capabilities":
                    error("CommandNotFound",
                          "Expecting capabilities negotiation with 'qmp_capabilities'")
                    continue
                if sc == "caps-error":
                    error("GenericError", "capabilities negotiation refused by test")
                    continue
                negotiated = True
                reply({"return": {}})
                if opts.emit and not emitted:
                    emitted = True
                    threading.Thread(target=emit_events, args=(conn, opts),
                                     daemon=True).start()
                continue
            if sc == "never-answer":
                continue
            if sc == "close-on-command":
                return
            if sc == "close-mid-reply":
                conn.send_raw(b'{"return": {"nodes": [{"node": 0, "ram": ')
                time.sleep(0.05)
                return
            if sc == "garbage-reply":
                conn.send_raw(b"{this is not json}\r\n")
                continue
            if sc == "no-hballoon" and cmd in ("hballoon-set", "query-hballoon"):
                error("CommandNotFound", "The command %s has not been found" % cmd)
                continue
            if sc == "no-device" and cmd in ("hballoon-set", "query-hballoon"):
                error("GenericError", "No virtio-hballoon device has been activated")
                continue
            if cmd == "query-hballoon":
                ret = dev.query()
                if sc == "bad-reply":
                    for n in ret["nodes"]:
                        del n["actual"]
                reply({"return": ret})
            elif cmd == "hballoon-set":
                e = dev.set(msg.get("arguments", {}))
                if e:
                    error(*e)
                else:
                    reply({"return": {}})
            elif cmd == "human-monitor-command":
                reply({"return": "node       ram MiB\r\n   0          2048\r\n"})
            elif cmd == "query-memdev":
                reply({"return": [{"id": "mem1", "size": 2 << 30, "share": True,
                                   "mem-path": "/dev/shm/fake-node1"}]})
            elif cmd == "query-status":
                reply({"return": {"status": "running", "running": True}})
            elif cmd == "query-version":
                reply({"return": {"qemu": {"major": 10, "minor": 0, "micro": 2},
                                  "package": "fake"}})
            else:
                error("CommandNotFound", "The command %s has not been found" % cmd)


def emit_events(conn, opts):
    for i in range(opts.emit):
        time.sleep(opts.emit_interval / 1000.0)
        node = i % 2
        conn.send(event("HBALLOON_CHANGE",
                        {"node": node, "actual": (1 << 30) - i * (1 << 20)}))
        if opts.emit_malformed and i == 0:
            conn.send(event("HBALLOON_CHANGE", {"node": "x"}))
    if opts.scenario in ("shutdown", "hangup"):
        time.sleep(0.05)
        if opts.scenario == "shutdown":
            conn.send(event("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"}))
        time.sleep(0.05)
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def guest(dev, conns, opts):
    while True:
        time.sleep(opts.tick_ms / 1000.0)
        for n, a in dev.step():
            for c in list(conns):
                if c.alive:
                    c.send(event("HBALLOON_CHANGE", {"id": "hb0", "qom-path": "/machine/peripheral/hb0",
                                                     "node": n, "actual": a}))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--scenario", default="normal")
    ap.add_argument("--nodes", default="0:2G,1:2G",
                    help="NODE:RAM,... (RAM with K/M/G)")
    ap.add_argument("--floor", default="",
                    help="NODE:SIZE,...: the guest cannot shrink below SIZE")
    ap.add_argument("--rate", default="64M", help="bytes per tick")
    ap.add_argument("--tick-ms", type=float, default=20)
    ap.add_argument("--hold-ms", type=float, default=0,
                    help="after each hballoon-set, the guest waits this long")
    ap.add_argument("--emit", type=int, default=0,
                    help="send N HBALLOON_CHANGE events after negotiation")
    ap.add_argument("--emit-interval", type=float, default=20, help="ms")
    ap.add_argument("--emit-malformed", action="store_true")
    ap.add_argument("--log")
    opts = ap.parse_args()

    nodes = [(int(n), parse_size(r)) for n, r in
             (x.split(":") for x in opts.nodes.split(",") if x)]
    floors = {int(n): parse_size(r) for n, r in
              (x.split(":") for x in opts.floor.split(",") if x)}
    dev = Device(nodes, floors, parse_size(opts.rate), opts.scenario == "extras",
                 opts.hold_ms, opts.scenario == "node-reason")
    conns = []

    if os.path.exists(opts.socket):
        os.unlink(opts.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(opts.socket + ".tmp")
    srv.listen(4)
    os.rename(opts.socket + ".tmp", opts.socket)   # appears when ready
    threading.Thread(target=guest, args=(dev, conns, opts), daemon=True).start()
    while True:
        s, _ = srv.accept()
        c = Conn(s, opts)
        conns.append(c)
        try:
            serve(c, dev, opts, opts.log)
        except (OSError, UnicodeDecodeError):
            pass
        c.alive = False
        conns.remove(c)
        try:
            s.close()
        except OSError:
            pass


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
