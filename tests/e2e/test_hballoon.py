"""hballoon end to end: the guest driver against the QEMU device in the
default tiered VM (node 0 fast 512 MiB with the CPUs, node 1 slow 1536 MiB).

Each resize goes through QMP hballoon-set, then the test waits until
query-hballoon reports actual == target and checks the guest's side: the
node's MemTotal, nr_hballoon_pages, the hballoon vmstat counters, and that
nothing was killed or warned about."""

import os
import random
import time

import pytap
from hballoontest import hb_nodes, wait_settled
from htiervm import VM, MiB, default_nodes

DEVICE = "virtio-hballoon-pci,id=hb0"
PAGE = 4096


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
    # Fold the per-CPU deltas first: the node files show only the totals.
    out = vm.sh("echo 1 > /proc/sys/vm/stat_refresh; "
                f"cat /sys/devices/system/node/node{node}/vmstat")
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
    """512 MiB out of node 1 and back, in ranges (VIRTIO_HBALLOON_F_RANGES,
    which our driver and device both offer)."""
    _shrink_and_grow_node1(DEVICE, "hb-node1")


def test_shrink_and_grow_node1_pfns():
    """The same with a device that does not offer ranges (as QEMU before
    them): the driver falls back to lists of PFNs."""
    _shrink_and_grow_node1(DEVICE + ",ranges=off", "hb-node1-pfns")


def _traced_buffers(trace, inflate):
    """Inflate (or deflate) buffers the device traced: their entry counts."""
    return [int(l.split("num_pfns ")[1].split()[0]) for l in open(trace).read().splitlines()
            if f"inflate {int(inflate)} " in l]


def _shrink_and_grow_node1(device, name):
    trace = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"{name}-{os.getpid()}.trace")
    with VM(name=name, devices=[device],
            qemu_args=["-trace", f"virtio_hballoon_buffer,file={trace}"]) as vm:
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
        # The device saw exactly those frames, each valid, and discarded
        # every inflated one (anonymous RAM).
        n = hb_nodes(vm)[1]
        assert n["inflated"] == n["deflated"] == n["discarded"] == 512 * MiB // PAGE, n
        assert n["invalid"] == 0, n
        assert vm.qmp("query-hballoon")["bad-buffers"] == 0
        assert_clean(vm)
    inflate, deflate = _traced_buffers(trace, True), _traced_buffers(trace, False)
    os.unlink(trace)
    print(f"# buffers: inflate {len(inflate)} ({sum(inflate)} entries), "
          f"deflate {len(deflate)} ({sum(deflate)} entries)")
    if "ranges=off" in device:
        # 4,095 frames a buffer
        assert len(inflate) == len(deflate) == -(-512 * MiB // PAGE // 4095)
    else:
        # Whole 2 MiB blocks, up to 4 GiB a buffer (a buffer per 50 ms
        # work slice at most); deflate up to 256 MiB a buffer.
        assert len(inflate) <= 4 and sum(inflate) <= 4 * 256, inflate
        assert len(deflate) <= 4 and sum(deflate) <= 4 * 256, deflate


def _buddy_pages(vm, node, min_order):
    """Free pages of `node` in blocks of at least 2^min_order pages."""
    total = 0
    for line in vm.sh("cat /proc/buddyinfo").splitlines():
        f = line.replace(",", " ").split()
        if f[:2] == ["Node", str(node)]:
            total += sum(int(c) << o for o, c in enumerate(f[4:]) if o >= min_order)
    return total


def _hold_every_other_page(vm):
    """Start memfill holding every other page of node 1's free memory (but
    96 MiB), its pid in /tmp/frag.pid; return once it has filled."""
    hold = vm.node_meminfo(1)["MemFree"] // MiB - 96
    vm.sh(f"memfill -n 1 -m {hold} -f > /tmp/frag.out 2>&1 & echo $! > /tmp/frag.pid")
    deadline = time.monotonic() + 120
    while "filled" not in vm.sh("cat /tmp/frag.out"):
        assert time.monotonic() < deadline, vm.sh("cat /tmp/frag.out")
        time.sleep(1)


def test_fragmented_node_shrinks_exactly():
    """Inflate takes whole 2 MiB blocks while the node has them free and
    falls back to single pages as it fragments, exact to the page and
    without compaction: half of node 1's pages, every other one, stay in
    use, and an odd-sized shrink larger than its free 2 MiB blocks lands
    exactly, reported to the host in runs."""
    trace = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"hb-frag-{os.getpid()}.trace")
    with VM(name="hb-frag", devices=[DEVICE],
            qemu_args=["-trace", f"virtio_hballoon_buffer,file={trace}"]) as vm:
        ram = hb_nodes(vm)[1]["ram"]
        # kcompactd's proactive compaction would migrate balloon pages on
        # a node this fragmented while the test counts deflates (each
        # move is an inflate and a deflate for the device): off, so the
        # counts are the driver's alone.
        vm.sh("echo 0 > /proc/sys/vm/compaction_proactiveness")
        _hold_every_other_page(vm)
        blocks = _buddy_pages(vm, 1, 9)
        want = vm.node_meminfo(1)["MemFree"] // PAGE // 2 | 1     # odd
        assert blocks < want, f"node 1 not fragmented: {blocks} pages in 2 MiB blocks"
        stat0 = vm.vmstat()

        vm.qmp("hballoon-set", node=1, size=ram - want * PAGE)
        n, secs = wait_settled(vm, 1)
        # Deflates the device may see during a shrink, and no others:
        # memfill is bound to node 1 (MPOL_BIND), so one of its faults can
        # run out of node 1 while the balloon grows, and the OOM notifier
        # then hands pages back (deflate-on-oom), which the driver takes
        # again after its hold-off; and a balloon page migration (none is
        # expected with proactive compaction off) is an inflate of the new
        # page and a deflate of the old one.
        assert n["actual"] == ram - want * PAGE and n["inflated"] - n["deflated"] == want, n
        stat1 = vm.vmstat()
        oom = stat1.get("hballoon_oom_deflate", 0) - stat0.get("hballoon_oom_deflate", 0)
        moved = stat1.get("balloon_migrate", 0) - stat0.get("balloon_migrate", 0)
        assert n["deflated"] == oom + moved, (n, oom, moved)
        if oom or moved:
            print(f"# during the shrink: {oom} pages handed back on OOM, "
                  f"{moved} balloon pages migrated by compaction")
        assert (stat1["hballoon_inflate"] - stat0["hballoon_inflate"]) - \
            (stat1["hballoon_deflate"] - stat0["hballoon_deflate"]) == want
        for k in ("compact_stall", "compact_daemon_wake"):
            assert stat1.get(k, 0) == stat0.get(k, 0), f"{k}: {stat0.get(k)} -> {stat1.get(k)}"

        vm.qmp("hballoon-set", node=1, size=ram)
        n, _ = wait_settled(vm, 1)
        assert n["actual"] == ram and n["deflated"] == n["inflated"] and n["invalid"] == 0, n
        assert "filled" in vm.sh("cat /tmp/frag.out")      # still holding
        assert_clean(vm)
    # Runs per inflate buffer, as the device traced them (the VM's only
    # inflate; the trace is complete once QEMU has exited).
    runs = _traced_buffers(trace, True)
    print(f"# {want} pages ({blocks} free in 2 MiB blocks) in {secs:.1f}s: "
          f"{len(runs)} buffers, {sum(runs)} runs")
    # Whole blocks first (fewer runs than pages), single pages after.
    assert want // 512 < sum(runs) < want, runs
    os.unlink(trace)


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
        # The smallest target there is (0 is refused: the whole node).
        vm.qmp("hballoon-set", node=1, size=4096)
        n = wait_stable(vm, 1)
        # The guest gave what it could and stopped short of the target.
        assert n["actual"] > n["target"] == 4096, n
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


HUGE = "/sys/kernel/mm/hugepages/hugepages-2048kB/"


def _host_huge(name):
    return int(open(HUGE + name).read())


def test_huge_page_node_returns_host_pages():
    """A tier on 2 MiB host pages (memfd, hugetlb): the guest inflates in
    2 MiB blocks and reports them as ranges, so the host gets whole huge
    pages back, within 1% of the request, and they come back when the node
    grows and the guest writes to them."""
    need = 128                      # node 1: 256 MiB of 2 MiB pages
    old = _host_huge("nr_hugepages")
    if _host_huge("free_hugepages") < need:
        try:
            with open(HUGE + "nr_hugepages", "w") as f:
                f.write(str(old + need - _host_huge("free_hugepages")))
        except OSError as e:
            raise pytap.Skip(f"cannot reserve {need} huge pages: {e}")
        if _host_huge("free_hugepages") < need:
            _restore_huge(old)
            raise pytap.Skip(f"host has no {need} free 2 MiB huge pages")
    try:
        nodes = default_nodes(slow=need * 2 * MiB)
        nodes[1].backend = "hugetlb"
        nodes[1].prealloc = True
        with VM(name="hb-huge", nodes=nodes, devices=[DEVICE]) as vm:
            ram = hb_nodes(vm)[1]["ram"]
            assert not hb_nodes(vm)[1]["discard-inhibited"], hb_nodes(vm)[1]
            # Preallocated: whichever blocks the balloon takes, the host has
            # a huge page behind each of them.  (Touching the node from the
            # guest instead cannot reach every free block without an OOM
            # kill when the node is full.)
            free0 = _host_huge("free_hugepages")
            vm.qmp("hballoon-set", node=1, size=ram - 128 * MiB)
            n, _ = wait_settled(vm, 1)
            assert n["inflated"] == 128 * MiB // PAGE, n
            assert n["discarded"] >= 0.99 * n["inflated"], n
            returned = _host_huge("free_hugepages") - free0
            print(f"# 128 MiB out of a hugetlb node: {n['discarded']} of {n['inflated']} "
                  f"pages discarded, {returned} huge pages back in the host's pool")
            assert returned >= 0.99 * 64, returned
            vm.qmp("hballoon-set", node=1, size=ram)
            wait_settled(vm, 1)
            vm.sh("memfill -n 1 -m 200")    # the node's memory works again
            assert_clean(vm)
    finally:
        _restore_huge(old)


def _restore_huge(n):
    try:
        with open(HUGE + "nr_hugepages", "w") as f:
            f.write(str(n))
    except OSError:
        pass


DRIVER = "/sys/bus/virtio/drivers/virtio_hballoon"


def test_removal_waits_for_pages_compaction_holds():
    """Unbinding the driver (the remove path of a device unplug) while
    compaction is isolating balloon pages to migrate them: remove must wait
    until every page is back on its list before it frees the per-node state
    those pages point to, give the whole node back to the guest, and a new
    bind must find the device and inflate again."""
    take = 160 * MiB
    with VM(name="hb-remove", devices=[DEVICE]) as vm:
        total0 = vm.node_meminfo(1)["MemTotal"]
        ram = hb_nodes(vm)[1]["ram"]
        # Balloon pages scattered over the node: inflate while every other
        # page is held, then let the holder go.  Compaction then has
        # single balloon pages between free ones to move.  The holder
        # leaves 96 MiB free, which the inflate takes first as whole
        # blocks: remove gives those back too.
        _hold_every_other_page(vm)
        vm.qmp("hballoon-set", node=1, size=ram - take)
        wait_settled(vm, 1)
        vm.sh("kill $(cat /tmp/frag.pid); while kill -0 $(cat /tmp/frag.pid) 2>/dev/null;"
              " do sleep 0.2; done")
        dev = vm.sh(f"ls {DRIVER} | grep '^virtio'").strip()
        mig0 = vm.vmstat()["balloon_migrate"]
        vm.sh("(while :; do echo 1 > /sys/devices/system/node/node1/compact; done)"
              " > /dev/null 2>&1 & echo $! > /tmp/compact.pid")
        # Remove once compaction is moving balloon pages, so some are
        # isolated (off the balloon's list) when remove runs.
        deadline = time.monotonic() + 60
        while vm.vmstat()["balloon_migrate"] - mig0 < 64:
            assert time.monotonic() < deadline, "compaction migrated no balloon pages"
            time.sleep(0.1)
        vm.sh(f"echo {dev} > {DRIVER}/unbind", timeout=300)
        migrated = vm.vmstat()["balloon_migrate"] - mig0
        vm.sh("kill $(cat /tmp/compact.pid)")
        print(f"# {migrated} balloon pages migrated by compaction before remove returned")
        assert vm.node_meminfo(1)["MemTotal"] == total0
        left = {n: node_vmstat(vm, n, "nr_hballoon_pages") for n in (0, 1)}
        assert left == {0: 0, 1: 0}, (left, vm.sh("dmesg | tail -20"))
        assert_clean(vm)
        # The device was reset; a new driver instance inflates to the target.
        vm.sh(f"echo {dev} > {DRIVER}/bind")
        n, _ = wait_settled(vm, 1)
        assert n["actual"] == ram - take, n
        drop = total0 - vm.node_meminfo(1)["MemTotal"]
        assert abs(drop - take) <= 0.01 * take, drop
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


def fill_node(vm, node, mib):
    """memfill @mib MiB on @node; a failure (an OOM kill) carries the
    kernel's report of where node @node's memory was."""
    rc, out = vm.run(f"memfill -n {node} -m {mib}", timeout=600)
    if rc:
        report = vm.sh("dmesg | grep -A40 'invoked oom-killer' | "
                       f"grep -E 'invoked|Mem-Info|free_pcp|Node {node} ' || dmesg | tail -20")
        raise AssertionError(f"memfill -n {node} -m {mib} exited {rc}: {out}\n{report}")


def test_host_memory_returned():
    """Inflated pages really leave the host: node 1 is a shared file in
    /dev/shm whose blocks the guest touched first; inflating 512 MiB must drop
    the file's allocated blocks by at least 90% of that."""
    nodes = default_nodes()
    nodes[1].backend = "file"
    with VM(name="hb-host", nodes=nodes, devices=[DEVICE]) as vm:
        path = vm.backend_path(1)
        ram = hb_nodes(vm)[1]["ram"]
        # Back (nearly) all of node 1 on the host, then free it in the guest.
        fill_node(vm, 1, 1400)
        before = os.stat(path).st_blocks * 512
        assert before >= 1400 * MiB, f"host backs only {before / MiB:.0f} MiB of node 1"
        vm.qmp("hballoon-set", node=1, size=ram - 512 * MiB)
        wait_settled(vm, 1)
        after = os.stat(path).st_blocks * 512
        freed = before - after
        assert freed >= 0.9 * 512 * MiB, \
            f"host freed {freed / MiB:.0f} MiB of node 1 for a 512 MiB inflate"
        print(f"# host blocks of node 1: {before / MiB:.0f} -> {after / MiB:.0f} MiB")
        # Deflating gives the memory back to the guest, which can use it
        # all at once: the driver hands blocks to the buddy allocator, not
        # to a per-CPU list an order-0 allocation would OOM in front of.
        vm.qmp("hballoon-set", node=1, size=ram)
        wait_settled(vm, 1)
        fill_node(vm, 1, 1400)
        assert_clean(vm)


def test_stress_random_rounds():
    """50 random inflate/deflate rounds on both nodes while the guest churns
    page cache; afterwards every page is back and the log is clean."""
    rounds = 500 if pytap.FULL else 50
    rng = random.Random(0x48424c)
    with VM(name="hb-stress", devices=[DEVICE]) as vm:
        ram = {n: e["ram"] for n, e in hb_nodes(vm).items()}
        boot_total = {n: vm.node_meminfo(n)["MemTotal"] for n in ram}
        # Bounded churn: 200 MiB of tmpfs written and removed in a loop.
        vm.sh("(while :; do dd if=/dev/zero of=/tmp/churn bs=1M count=200 2>/dev/null;"
              " rm -f /tmp/churn; done) >/dev/null 2>&1 & echo $! > /tmp/churn.pid")
        floor = {0: ram[0] - 256 * MiB, 1: ram[1] - 1024 * MiB}
        t0 = time.monotonic()
        for _ in range(rounds):
            node = rng.choice((0, 1))
            pages = rng.randrange(floor[node] // PAGE, ram[node] // PAGE + 1)
            vm.qmp("hballoon-set", node=node, size=pages * PAGE)
            wait_settled(vm, node, timeout=120)
        secs = time.monotonic() - t0
        for node in ram:
            vm.qmp("hballoon-set", node=node, size=ram[node])
            wait_settled(vm, node)
        vm.sh("kill $(cat /tmp/churn.pid); rm -f /tmp/churn")
        for node in ram:
            assert vm.node_meminfo(node)["MemTotal"] == boot_total[node], node
            assert node_vmstat(vm, node, "nr_hballoon_pages") == 0
        stat = vm.vmstat()
        assert stat["hballoon_inflate"] == stat["hballoon_deflate"] > 0, stat
        # The stock counters agree, whole blocks and split ones included.
        assert stat["balloon_inflate"] == stat["balloon_deflate"] > 0, stat
        assert_clean(vm)
        print(f"# {rounds} rounds in {secs:.0f}s")


def _migrate(src, dst, uri, on_active=None, poll=None):
    """Migrate src to dst; once the migration is active, call on_active();
    until it completes, every 0.1 s, record (status, poll()) and return
    that list."""
    dst.boot()  # QEMU waits for the incoming migration
    src.qmp("migrate", uri=uri)
    deadline = time.monotonic() + 300
    seen, active = [], False
    while (st := src.qmp("query-migrate").get("status")) != "completed":
        assert st not in ("failed", "cancelled"), src.qmp("query-migrate")
        assert time.monotonic() < deadline, "migration did not complete in 300s"
        if st == "active" and on_active and not active:
            on_active()
            active = True
        elif active and poll:
            seen.append((st, poll()))
        time.sleep(0.1 if on_active or poll else 0.2)
    return seen


def test_live_migration_mid_resize():
    """Migrate while the guest inflates node 1 in ranges (the resize asked
    for just before the migration starts; by hand, the 1,200 MiB arrived in
    one range buffer while the migration was active, its discards racing
    the RAM pass): every page is counted once, and the destination finishes
    the resize exactly and can undo it, with the memory usable again."""
    with VM(name="hb-midmig-src", devices=[DEVICE]) as src:
        ram = hb_nodes(src)[1]["ram"]
        uri = "unix:" + os.path.join(src.workdir, "migrate.sock")
        dst = VM(name="hb-midmig-dst", devices=[DEVICE], incoming=uri)
        try:
            # The resize is asked for once the migration is under way, and
            # the RAM pass is slowed down, so that pages go into the
            # balloon (and are discarded) while RAM is being sent: the test
            # checks that happened rather than hoping for it.
            src.qmp("migrate-set-parameters", **{"max-bandwidth": 32 * MiB})
            during = _migrate(
                src, dst, uri,
                on_active=lambda: src.qmp("hballoon-set", node=1, size=ram - 1200 * MiB),
                poll=lambda: hb_nodes(src)[1]["actual"])
            moved = [a for st, a in during if st == "active" and a < ram]
            print(f"# {len(moved)} of {len(during)} polls saw the balloon growing while "
                  f"RAM was sent; source at completion: {during[-1] if during else None}")
            assert moved, f"no inflate while the migration was active: {during[:20]}"
            n, _ = wait_settled(dst, 1)
            assert n["actual"] == ram - 1200 * MiB, n
            # Every page the guest holds in the balloon was counted once.
            assert n["inflated"] - n["deflated"] == 1200 * MiB // PAGE, n
            assert n["invalid"] == 0 and dst.qmp("query-hballoon")["bad-buffers"] == 0, n
            assert node_vmstat(dst, 1, "nr_hballoon_pages") == 1200 * MiB // PAGE
            dst.qmp("hballoon-set", node=1, size=ram)
            n, _ = wait_settled(dst, 1)
            assert n["inflated"] == n["deflated"], n
            dst.sh("memfill -n 1 -m 1200")
            assert_clean(dst)
        finally:
            src.kill()
            dst.close()


def test_live_migration_keeps_sizes():
    """Migrate a VM with a partly inflated balloon to a second QEMU over a
    unix socket: the destination keeps every node's target and actual size,
    the guest keeps its smaller nodes, and resizing goes on there."""
    with VM(name="hb-mig-src", devices=[DEVICE]) as src:
        ram = {n: e["ram"] for n, e in hb_nodes(src).items()}
        src.qmp("hballoon-set", node=1, size=ram[1] - 512 * MiB)
        src.qmp("hballoon-set", node=0, size=ram[0] - 64 * MiB)
        for node in ram:
            wait_settled(src, node)
        before = hb_nodes(src)
        total = {n: src.node_meminfo(n)["MemTotal"] for n in ram}
        uri = "unix:" + os.path.join(src.workdir, "migrate.sock")
        dst = VM(name="hb-mig-dst", devices=[DEVICE], incoming=uri)
        try:
            _migrate(src, dst, uri)
            after = hb_nodes(dst)
            for node in ram:
                for key in ("ram", "target", "actual"):
                    assert after[node][key] == before[node][key], (node, key, before, after)
            # The guest now runs on the destination, with the same sizes.
            assert {n: dst.node_meminfo(n)["MemTotal"] for n in ram} == total
            dst.qmp("hballoon-set", node=1, size=ram[1])
            wait_settled(dst, 1)
            assert dst.node_meminfo(1)["MemTotal"] == total[1] + 512 * MiB
            assert_clean(dst)
        finally:
            src.kill()  # paused after migration: nothing to power off
            dst.close()
