"""Page exchange (CONFIG_PAGE_EXCHANGE) in the default tiered VM: the
debugfs-driven selftest (cross-process, COW, shmem, mlock, GUP reference,
THP, batch) and the integrity stress (checksummed private, shared and forked
pages rewritten and verified while pairs are exchanged continuously)."""

import os
import re

import pytap
from htiervm import VM

EXCHANGE = "/sys/kernel/debug/page_exchange/exchange"
# Exchanges the stress must reach: make check / make check-full.
STRESS_N = int(os.environ.get("HTIER_EXCHANGE_N", "100000"))
STRESS_FULL_N = 1000000


def _vm(name):
    # hplace and NUMA balancing would move the test pages on their own.
    return VM(name=name, append="hplace=off numa_balancing=disable")


def _require_exchange(vm):
    rc, _ = vm.run(f"test -w {EXCHANGE}")
    if rc != 0:
        raise pytap.Skip("kernel built without CONFIG_PAGE_EXCHANGE")


def _tap_failures(out):
    return [l for l in out.splitlines() if l.startswith("not ok")]


def _stress(n, seconds, timeout):
    with _vm("exchange-stress") as vm:
        _require_exchange(vm)
        vm.sh("echo 0 > /proc/sys/kernel/numa_balancing 2>/dev/null; true")
        rc, out = vm.run(f"exchange_stress -n {n} -t {seconds}", timeout=timeout)
        print("\n".join("# " + l for l in out.splitlines()))
        assert rc == 0 and not _tap_failures(out), out
        m = re.search(r"ok 1 - (\d+) exchanges", out)
        assert m and int(m.group(1)) >= n, out
        problems = vm.dmesg_problems()
        assert not problems, "dmesg: " + "\n".join(problems)


def test_exchange_selftest():
    with _vm("exchange-selftest") as vm:
        _require_exchange(vm)
        rc, out = vm.run("exchange_selftest", timeout=300)
        print("\n".join("# " + l for l in out.splitlines()))
        assert rc == 0 and not _tap_failures(out), out
        assert re.search(r"^1\.\.\d+$", out, re.M), out
        problems = vm.dmesg_problems()
        assert not problems, "dmesg: " + "\n".join(problems)


def test_exchange_stress():
    _stress(STRESS_N, seconds=1500, timeout=1700)


@pytap.full
def test_exchange_stress_full():
    _stress(STRESS_FULL_N, seconds=14400, timeout=15000)
