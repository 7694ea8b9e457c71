"""hballoon end to end: the guest driver against the QEMU device in the
default tiered VM (node 0 fast 512 MiB with the CPUs, node 1 slow 1536 MiB).

Each resize goes through QMP hballoon-set, then the test waits until
query-hballoon reports actual == target and checks the guest's side: the
node's MemTotal, nr_hballoon_pages, the hballoon vmstat counters, and that
nothing was killed or warned about."""

import time

from htiervm import VM, MiB

DEVICE = "virtio-hballoon-pci,id=hb0"
PAGE = 4096


def hb_nodes(vm):
    return {n["node"]: n for n in vm.qmp("query-hballoon")["nodes"]}


def wait_settled(vm, node, timeout=180):
    """Wait until the node's actual size equals its target; return the entry."""
    t0 = time.monotonic()
    while True:
        n = hb_nodes(vm)[node]
        if n["actual"] == n["target"]:
            return n, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"node {node} did not settle in {timeout}s: {n}")
        time.sleep(0.5)


def wait_stable(vm, node, quiet=5, timeout=180):
    """Wait until the node's actual size stops changing for `quiet` seconds."""
    t0 = time.monotonic()
    last, since = None, time.monotonic()
    while time.monotonic() - t0 < timeout:
        n = hb_nodes(vm)[node]
        if n["actual"] != last:
            last, since = n["actual"], time.monotonic()
        elif time.monotonic() - since >= quiet:
            return n
        time.sleep(0.5)
    raise AssertionError(f"node {node} kept changing for {timeout}s")


def node_vmstat(vm, node, key):
    out = vm.sh(f"cat /sys/devices/system/node/node{node}/vmstat")
    return {k: int(v) for k, v in (l.split() for l in out.splitlines())}[key]


def assert_clean(vm):
    problems = vm.dmesg_problems()
    assert not problems, "kernel log: " + "; ".join(problems[:5])
    assert vm.vmstat().get("oom_kill", 0) == 0


# DESIGN.md, tenant / researcher contract: every counter it names.
VM_EVENTS = """hplace_sample hplace_sample_drop hplace_exchange hplace_exchange_fail
    hplace_migrate_fail hplace_throttle hplace_sample_ns hplace_classify_ns
    hplace_migrate_ns hballoon_inflate hballoon_deflate hballoon_oom_deflate""".split()
NODE_STATS = ["hplace_promote", "hplace_demote", "nr_hballoon_pages"]


def test_counters_present():
    with VM(name="hb-counters", devices=[DEVICE]) as vm:
        have = vm.vmstat()
        missing = [n for n in VM_EVENTS + NODE_STATS if n not in have]
        assert not missing, f"/proc/vmstat lacks {missing}"
        for node in (0, 1):
            out = vm.sh(f"cat /sys/devices/system/node/node{node}/vmstat")
            keys = {l.split()[0] for l in out.splitlines()}
            missing = [n for n in NODE_STATS if n not in keys]
            assert not missing, f"node{node}/vmstat lacks {missing}"
        # The driver found both nodes by proximity domain and warned about none.
        log = vm.sh("dmesg | grep virtio_hballoon || true")
        assert "proximity domain 0 is node 0" in log, log
        assert "proximity domain 1 is node 1" in log, log
        assert "ignoring" not in log, log


def test_shrink_and_grow_node1():
    with VM(name="hb-node1", devices=[DEVICE]) as vm:
        nodes = hb_nodes(vm)
        assert set(nodes) == {0, 1}, nodes
        ram = nodes[1]["ram"]
        assert nodes[1]["actual"] == ram and nodes[1]["target"] == ram, nodes[1]
        total0 = {n: vm.node_meminfo(n)["MemTotal"] for n in (0, 1)}
        stat0 = vm.vmstat()

        vm.qmp("hballoon-set", node=1, size=ram - 512 * MiB)
        n, secs = wait_settled(vm, 1)
        assert n["actual"] == ram - 512 * MiB, n
        total1 = {n: vm.node_meminfo(n)["MemTotal"] for n in (0, 1)}
        drop = total0[1] - total1[1]
        assert abs(drop - 512 * MiB) <= 0.01 * 512 * MiB, \
            f"node 1 MemTotal dropped by {drop / MiB:.1f} MiB, not 512"
        assert total1[0] == total0[0], f"node 0 changed: {total0[0]} -> {total1[0]}"
        assert node_vmstat(vm, 1, "nr_hballoon_pages") == 512 * MiB // PAGE
        assert node_vmstat(vm, 0, "nr_hballoon_pages") == 0
        stat1 = vm.vmstat()
        assert stat1["hballoon_inflate"] - stat0["hballoon_inflate"] == 512 * MiB // PAGE
        print(f"# inflate 512 MiB on node 1: {secs:.1f}s")

        vm.qmp("hballoon-set", node=1, size=ram)
        n, secs = wait_settled(vm, 1)
        assert n["actual"] == ram, n
        assert vm.node_meminfo(1)["MemTotal"] == total0[1]
        assert node_vmstat(vm, 1, "nr_hballoon_pages") == 0
        stat2 = vm.vmstat()
        assert stat2["hballoon_deflate"] - stat1["hballoon_deflate"] == 512 * MiB // PAGE
        print(f"# deflate 512 MiB on node 1: {secs:.1f}s")
        assert_clean(vm)


def test_shrink_node0_leaves_node1():
    with VM(name="hb-node0", devices=[DEVICE]) as vm:
        ram0 = hb_nodes(vm)[0]["ram"]
        total1 = vm.node_meminfo(1)["MemTotal"]
        total0 = vm.node_meminfo(0)["MemTotal"]
        vm.qmp("hballoon-set", node=0, size=ram0 - 128 * MiB)
        wait_settled(vm, 0)
        drop = total0 - vm.node_meminfo(0)["MemTotal"]
        assert abs(drop - 128 * MiB) <= 0.01 * 128 * MiB, f"node 0 dropped {drop}"
        assert vm.node_meminfo(1)["MemTotal"] == total1
        assert node_vmstat(vm, 1, "nr_hballoon_pages") == 0
        n1 = hb_nodes(vm)[1]
        assert n1["actual"] == n1["ram"], n1
        assert_clean(vm)


def test_inflate_more_than_guest_can_free():
    with VM(name="hb-short", devices=[DEVICE]) as vm:
        # Pin 1 GiB of unreclaimable memory (tmpfs, no swap) on node 1.
        vm.sh("mkdir -p /mnt/n1 && mount -t tmpfs -o size=1200M,mpol=bind:1 n1 /mnt/n1"
              " && dd if=/dev/zero of=/mnt/n1/pin bs=1M count=1024 2>/dev/null")
        ram = hb_nodes(vm)[1]["ram"]
        vm.qmp("hballoon-set", node=1, size=0)
        n = wait_stable(vm, 1)
        # The guest gave what it could and stopped short of the target.
        assert n["actual"] > n["target"] == 0, n
        assert n["actual"] >= 1024 * MiB, n
        assert n["actual"] < ram - 128 * MiB, f"gave back too little: {n}"
        # The pinned memory is untouched and the guest is responsive.
        assert vm.sh("stat -c %s /mnt/n1/pin").strip() == str(1024 * MiB)
        t0 = time.monotonic()
        assert vm.run("true") == (0, "")
        assert time.monotonic() - t0 < 10
        assert_clean(vm)
        # Once the memory is free, the driver's retries take it (all but
        # what the kernel itself holds on node 1).
        vm.sh("rm /mnt/n1/pin")
        n = wait_stable(vm, 1, quiet=25)
        assert n["actual"] < 128 * MiB, n
        assert_clean(vm)
        vm.qmp("hballoon-set", node=1, size=ram)
        wait_settled(vm, 1)
        assert_clean(vm)


def test_deflate_on_oom():
    with VM(name="hb-oom", devices=[DEVICE + ",deflate-on-oom=on"]) as vm:
        vm.qmp("hballoon-set", node=1, size=256 * MiB)
        wait_settled(vm, 1)
        # Ask for more page cache than is left: the OOM notifier must give
        # balloon pages back instead of killing anything.
        out = vm.sh("mkdir -p /mnt/t && mount -t tmpfs -o size=2G t /mnt/t"
                    " && dd if=/dev/zero of=/mnt/t/f bs=1M count=800 2>&1", timeout=400)
        assert "800+0 records out" in out, out
        stat = vm.vmstat()
        assert stat["hballoon_oom_deflate"] > 0, stat["hballoon_oom_deflate"]
        assert stat["hballoon_deflate"] >= stat["hballoon_oom_deflate"]
        n = hb_nodes(vm)[1]
        assert n["actual"] > n["target"], n
        assert_clean(vm)
