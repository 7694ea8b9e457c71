"""What the hplace end-to-end tests share: where hplace's files are, a
guest set up the way they all need it (the kernel's own tiering switched
off explicitly: NUMA balancing and demotion), and where a process's pages
are."""

import re

H = "/sys/kernel/mm/hplace"
D = "/sys/kernel/debug/hplace"


def note(msg):
    """A TAP comment line, shown with the test's result."""
    print(f"# {msg}", flush=True)


def prepare(vm, enable=True):
    """numa_balancing=0, demotion_enabled=0, then hplace on (or off)."""
    vm.sh("echo 0 > /proc/sys/kernel/numa_balancing")
    vm.sh("echo 0 > /sys/kernel/mm/numa/demotion_enabled")
    vm.sh(f"test -d {H} && test -d {D}")
    vm.sh(f"echo {1 if enable else 0} > {H}/enabled")


def residency(vm, pid, ranges):
    """[(pages on node 0, pages on node 1), ...] for [(start, end), ...]
    of process `pid` (tests/guest/pagenodes: move_pages(2) queries)."""
    args = " ".join(f"{s:#x} {e:#x}" for s, e in ranges)
    out = vm.sh(f"pagenodes {pid} {args}", timeout=300)
    res = []
    for line in out.splitlines():
        m = re.search(r"pages=(\d+) node0=(\d+) node1=(\d+)", line)
        assert m, out
        res.append((int(m[2]), int(m[3])))
    assert len(res) == len(ranges), out
    return res
