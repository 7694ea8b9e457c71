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
import time

import pytap
from libvirtd import Libvirtd

MiB = 1 << 20


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
