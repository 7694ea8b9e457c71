"""hballoonctl --domain against a real libvirt daemon (Debian's libvirtd).

Each test starts its own libvirtd, in session mode as the unprivileged user
htiertest (created when missing) with its own directories and socket, so it
touches nothing of the host's libvirt; defines a two-node domain that runs
our QEMU (TCG) with our kernel and the hballoon device added through
<qemu:commandline> at a pinned PCI address, as the operator guide shows; and
drives it with hballoonctl --domain/--connect, run as the same user. At the
end the domain is destroyed and the daemon stopped."""

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import pytap
from htiervm import BUILD

USER = "htiertest"
LIBVIRTD = "/usr/sbin/libvirtd"
DOMAIN_XML = """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{dir}/bzImage</kernel>
    <initrd>{dir}/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 hplace=off</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model>
    <numa>
      <cell id='0' cpus='0' memory='512' unit='MiB'/>
      <cell id='1' memory='512' unit='MiB'/>
    </numa>
  </cpu>
  <devices>
    <emulator>{dir}/qemu-system-x86_64</emulator>
    <serial type='file'><source path='{dir}/{name}.console'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-device'/>
    <qemu:arg value='{{"driver":"virtio-hballoon-pci","id":"hb0","bus":"pci.0","addr":"0x1f"}}'/>
  </qemu:commandline>
</domain>
"""
MiB = 1 << 20


class Libvirtd:
    """A session libvirtd of USER in a directory of its own."""

    def __init__(self):
        if os.geteuid() != 0:
            raise pytap.Skip("needs root (to run libvirtd as the test user)")
        if not os.access(LIBVIRTD, os.X_OK):
            raise pytap.Skip(f"{LIBVIRTD} missing (make deps installs libvirt-daemon)")
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", USER], check=True)
        self.ent = pwd.getpwnam(USER)
        self.dir = tempfile.mkdtemp(prefix="htier-libvirt-")
        self.uri = f"qemu+unix:///session?socket={self.dir}/run/libvirt/libvirt-sock"
        for d in ("home", "run"):
            os.makedirs(os.path.join(self.dir, d), mode=0o700)
        # The user's own copies: the clone may sit where it cannot read.
        for f in ("bzImage", "initramfs.cpio.gz", "qemu-system-x86_64", "hballoonctl"):
            shutil.copy(os.path.join(BUILD, f), self.dir)
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                os.chown(os.path.join(root, n), self.ent.pw_uid, self.ent.pw_gid)
        os.chown(self.dir, self.ent.pw_uid, self.ent.pw_gid)
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": f"{self.dir}/home",
                    "XDG_RUNTIME_DIR": f"{self.dir}/run",
                    "XDG_CONFIG_HOME": f"{self.dir}/home/.config",
                    "XDG_CACHE_HOME": f"{self.dir}/home/.cache",
                    "XDG_DATA_HOME": f"{self.dir}/home/.local/share"}
        self.proc = None
        self.start()

    def _as_user(self):
        os.setgroups([])
        os.setgid(self.ent.pw_gid)
        os.setuid(self.ent.pw_uid)

    def start(self):
        self.log = open(os.path.join(self.dir, "libvirtd.log"), "a")
        self.proc = subprocess.Popen([LIBVIRTD], env=self.env, preexec_fn=self._as_user,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.dir, "run", "libvirt", "libvirt-sock")
        deadline = time.monotonic() + 60
        while not os.path.exists(sock) or self.run("virsh", "-c", self.uri, "uri").returncode:
            assert self.proc.poll() is None, "libvirtd exited:\n" + self.log_tail()
            assert time.monotonic() < deadline, "libvirtd did not answer in 60 s"
            time.sleep(0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def log_tail(self):
        with open(os.path.join(self.dir, "libvirtd.log"), errors="replace") as f:
            return "".join(f.readlines()[-15:])

    def run(self, *cmd, timeout=200):
        return subprocess.run(list(cmd), env=self.env, preexec_fn=self._as_user,
                              capture_output=True, text=True, timeout=timeout)

    def virsh(self, *args):
        r = self.run("virsh", "-c", self.uri, *args)
        assert r.returncode == 0, f"virsh {' '.join(args)}: {r.stderr}"
        return r.stdout

    def ctl(self, *args, timeout=200):
        """hballoonctl --domain ... through this daemon: (exit code, stdout, stderr)."""
        r = self.run(os.path.join(self.dir, "hballoonctl"), "--connect", self.uri, *args,
                     timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def ctl_bg(self, *args):
        return subprocess.Popen([os.path.join(self.dir, "hballoonctl"), "--connect", self.uri,
                                 *args], env=self.env, preexec_fn=self._as_user,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def define(self, name, start=True):
        xml = os.path.join(self.dir, f"{name}.xml")
        with open(xml, "w") as f:
            f.write(DOMAIN_XML.format(name=name, dir=self.dir))
        os.chown(xml, self.ent.pw_uid, self.ent.pw_gid)
        self.virsh("define", xml)
        if start:
            self.virsh("start", name)

    def close(self):
        for name in self.run("virsh", "-c", self.uri, "list", "--name").stdout.split():
            self.run("virsh", "-c", self.uri, "destroy", name)
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _status(lv, name):
    rc, out, err = lv.ctl("--domain", name, "--json", "status")
    assert rc == 0, (rc, err)
    return {n["node"]: n for n in json.loads(out)["nodes"]}


def _wait_driver(lv, name, timeout=120):
    """Until the guest's driver reports statistics (it is up)."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = _status(lv, name)
        if all(n.get("stats", {}).get("total-memory") for n in nodes.values()):
            return nodes
        assert time.monotonic() < deadline, f"guest driver not up: {nodes}"
        time.sleep(1)


def test_hballoonctl_through_libvirt():
    """status, set and watch through libvirt give what --qmp gives; a wrong
    domain, a stopped one and contradicting options fail with the
    documented exit codes and a clear message."""
    with Libvirtd() as lv:
        lv.define("tier1")
        lv.define("idle", start=False)
        nodes = _wait_driver(lv, "tier1")
        ram = nodes[1]["ram"]
        rc, out, err = lv.ctl("--domain", "tier1", "status")
        assert rc == 0 and "NODE" in out and "discard: active" in out, (rc, out, err)

        rc, out, err = lv.ctl("--domain", "tier1", "set", "1", "256M")
        assert rc == 0 and "reached 256 MiB" in out, (rc, out, err)
        n = _status(lv, "tier1")[1]
        assert n["actual"] == n["target"] == 256 * MiB, n
        assert n["discarded"] == n["inflated"] == (ram - 256 * MiB) // 4096, n

        # Events: QEMU's HBALLOON_CHANGE through libvirt's monitor events.
        watch = lv.ctl_bg("--domain", "tier1", "--json", "watch", "--count", "1",
                          "--timeout", "60")
        time.sleep(2)
        rc, out, err = lv.ctl("--domain", "tier1", "set", "1", "max")
        assert rc == 0, (rc, out, err)
        out, err = watch.communicate(timeout=90)
        assert watch.returncode == 0, (watch.returncode, out, err)
        ev = json.loads(out.splitlines()[0])
        assert ev["event"] == "HBALLOON_CHANGE" and ev["data"]["node"] == 1, ev
        assert ev["data"]["actual"] == ram and ev["data"]["id"] == "hb0", ev

        rc, out, err = lv.ctl("--domain", "tier1", "check")
        assert rc == 0, (rc, out, err)
        assert "ok       node 1: 512 MiB, resizable" in out, out
        assert "ok       domain: the device is at a pinned PCI address" in out, out
        assert "error" not in out and "warning" not in out, out

        rc, out, err = lv.ctl("--domain", "tier1", "exec", "query-hballoon")
        assert rc == 0 and json.loads(out)["nodes"], (rc, out, err)
        rc, out, err = lv.ctl("--domain", "tier1", "set", "1", "1T")
        assert rc == 1 and "larger than NUMA node 1" in err, (rc, out, err)

        rc, out, err = lv.ctl("--domain", "nosuch", "status")
        assert rc == 3 and "domain 'nosuch'" in err and "not found" in err.lower(), (rc, err)
        rc, out, err = lv.ctl("--domain", "idle", "status")
        assert rc == 3 and "domain 'idle' is not running" in err, (rc, err)
        rc, out, err = lv.ctl("--domain", "tier1", "--qmp", "/nonexistent", "status")
        assert rc == 2 and "exclude each other" in err, (rc, err)
        r = lv.run(os.path.join(lv.dir, "hballoonctl"), "--connect", lv.uri, "status")
        assert r.returncode == 2 and "only valid with --domain" in r.stderr, r


def test_watch_ends_when_libvirtd_or_the_domain_goes():
    """A watch through libvirt ends with exit 3 and says why when libvirtd
    goes away, and with QEMU's shutdown when the domain is destroyed;
    after libvirtd restarts, the still-running domain is reachable again."""
    with Libvirtd() as lv:
        lv.define("tier1")
        _wait_driver(lv, "tier1")
        watch = lv.ctl_bg("--domain", "tier1", "watch", "--timeout", "120")
        time.sleep(2)
        lv.stop()
        out, err = watch.communicate(timeout=60)
        assert watch.returncode == 3 and "libvirt closed the connection" in err, \
            (watch.returncode, out, err)

        lv.start()      # reconnects to the domain's running QEMU
        nodes = _status(lv, "tier1")
        assert nodes[1]["actual"] == nodes[1]["ram"], nodes
        rc, out, err = lv.ctl("--domain", "tier1", "set", "1", "384M")
        assert rc == 0, (rc, out, err)

        watch = lv.ctl_bg("--domain", "tier1", "watch", "--timeout", "120")
        time.sleep(2)
        lv.virsh("destroy", "tier1")
        out, err = watch.communicate(timeout=60)
        assert watch.returncode in (0, 3), (watch.returncode, out, err)
        assert "shut down" in out + err or "stopped" in err, (out, err)
