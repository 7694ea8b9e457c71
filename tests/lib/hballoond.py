"""hballoond run by the tests and benchmarks as libvirtd's user, beside a
libvirtd.Libvirtd: start it on a configuration, read its status socket
through `hballoonctl agent status`, stop it."""

import json
import os
import signal
import subprocess
import time


class Daemon:
    def __init__(self, lv, conf, *args):
        self.lv = lv
        self.log = open(os.path.join(lv.dir, "hballoond.log"), "a")
        self.proc = subprocess.Popen([os.path.join(lv.dir, "hballoond"), "--config", conf,
                                      *args], env=lv.env, preexec_fn=lv._as_user,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        # The socket comes up after libvirt's event loop: on a loaded host
        # that takes a moment.
        sock = os.path.join(lv.dir, "run", "hballoond.sock")
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            assert self.proc.poll() is None, f"hballoond exited: {self.tail()}"
            assert time.monotonic() < deadline, f"no status socket: {self.tail()}"
            time.sleep(0.2)

    def ctl(self, *args):
        """hballoonctl ARGS as the test user: (exit code, stdout, stderr)."""
        r = self.lv.run(os.path.join(self.lv.dir, "hballoonctl"), *args)
        return r.returncode, r.stdout, r.stderr

    def status(self):
        rc, out, err = self.ctl("--json", "agent", "status", "--socket",
                                os.path.join(self.lv.dir, "run", "hballoond.sock"))
        assert rc == 0, (rc, out, err, self.tail())
        return json.loads(out)

    def tail(self, n=30):
        with open(os.path.join(self.lv.dir, "hballoond.log"), errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.log.close()
        return self.proc.returncode


def domains(st):
    return {d["name"]: d for d in st["domains"] if d.get("managed")}


def wait_status(d, pred, timeout, why):
    deadline = time.monotonic() + timeout
    while True:
        st = d.status()
        if pred(st):
            return st
        assert time.monotonic() < deadline, f"{why}: {json.dumps(st)[:1500]}\n{d.tail()}"
        time.sleep(2)
