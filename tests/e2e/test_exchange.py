"""Page exchange (CONFIG_PAGE_EXCHANGE) in the default tiered VM: the
debugfs-driven selftest (cross-process, COW, shmem, mlock, GUP reference,
THP, batch), the page-state test (exchange keeps what migration keeps) and
the integrity stress (checksummed private, shared and forked pages rewritten
and verified while pairs are exchanged continuously). The
stress boots the DEBUG_VM + lockdep kernel (make kernel-debug), so VM_BUG_ON,
lock-ordering and sleeping-in-atomic reports fail it too."""

import os
import re

import pytap
from htiervm import KERNEL, KERNEL_DEBUG, VM

EXCHANGE = "/sys/kernel/debug/page_exchange/exchange"
# Exchanges the stress must reach: make check / make check-full (the
# soak). 100,000 took make check 133 s of a KASAN guest; half of it keeps
# every page kind and path in the mix, the soak the long tail.
STRESS_N = int(os.environ.get("HTIER_EXCHANGE_N", "50000"))
STRESS_FULL_N = 1000000


def _vm(name, kernel=KERNEL):
    # hplace and NUMA balancing would move the test pages on their own.
    return VM(name=name, append="hplace=off numa_balancing=disable", kernel=kernel)


def _require_exchange(vm):
    rc, _ = vm.run(f"test -w {EXCHANGE}")
    if rc != 0:
        raise pytap.Skip("kernel built without CONFIG_PAGE_EXCHANGE")


def _debug_locks(vm):
    """lockdep's debug_locks: 1 while it validates, 0 once it turned itself
    off (after its first report, or when one of its tables filled up)."""
    out = vm.sh("cat /proc/lockdep_stats")
    m = re.search(r"^\s*debug_locks:\s+(\d+)\s*$", out, re.M)
    assert m, "no debug_locks in /proc/lockdep_stats:\n" + out
    return int(m.group(1))


def _require_debug_kernel(vm):
    # Never the normal kernel by mistake: the booted kernel must have lockdep
    # (/proc/lockdep_stats) and DEBUG_VM (dump_vma exists only with it).
    rc, _ = vm.run("test -r /proc/lockdep_stats && grep -qw dump_vma /proc/kallsyms")
    assert rc == 0, f"{vm.kernel} lacks lockdep or DEBUG_VM: not a `make kernel-debug` build"
    assert _debug_locks(vm) == 1, \
        "lockdep already off after boot; the console's reports:\n" + \
        ("\n".join(vm.console_problems()) or "none") + "\n" + vm.sh("dmesg | tail -20")


def _tap_failures(out):
    return [l for l in out.splitlines() if l.startswith("not ok")]


def _run_checked(vm, cmd, timeout):
    """Run a TAP tool in the guest. On failure (a hang included) the message
    carries the failing lines, the kernel's reports and the end of the
    output, so the cause shows in make check's log and not only in a kept
    VM's."""
    seen = []
    try:
        rc, out = vm.run(cmd, timeout=timeout, stream=seen.append)
    except Exception as e:  # a hang: CommandTimeout, or the guest died
        rc, out = f"nothing ({type(e).__name__}: {str(e)[:200]})", "\n".join(seen)
    print("\n".join(f"# {cmd.split()[0]}: " + l for l in out.splitlines()))
    failed = _tap_failures(out) + [l for l in out.splitlines() if l.startswith("Bail out")]
    if not re.search(r"^1\.\.[1-9]", out, re.M):
        failed.append("no TAP plan, or a skipped one (the tool died, or could not run)")
    if rc != 0 or failed:
        raise AssertionError(
            f"{cmd} exited {rc}; failed: {failed or 'none reported'}\n"
            + "console: " + ("\n".join(vm.console_problems()) or "clean") + "\n"
            + "output (end):\n" + "\n".join(out.splitlines()[-25:]))
    return out


def _stress(n, seconds, timeout):
    """exchange_state, then exchange_stress, on the debug kernel."""
    with _vm("exchange-stress", kernel=KERNEL_DEBUG) as vm:
        _require_debug_kernel(vm)
        _require_exchange(vm)
        vm.sh("echo 0 > /proc/sys/kernel/numa_balancing 2>/dev/null; true")
        # The state cases once more under KASAN and lockdep, before the stress.
        _run_checked(vm, "exchange_state", 600)
        out = _run_checked(vm, f"exchange_stress -n {n} -t {seconds}", timeout)
        m = re.search(r"ok 1 - (\d+) exchanges", out)
        assert m and int(m.group(1)) >= n, out
        problems = vm.dmesg_problems()
        assert not problems, "dmesg: " + "\n".join(problems)
        assert _debug_locks(vm) == 1, \
            "lockdep turned itself off during the stress:\n" + vm.sh("dmesg | tail -40")


def test_exchange_selftest():
    """exchange_selftest (what exchange does), then exchange_state (what it
    keeps: soft-dirty, uffd-wp, KSM, pins, mlock, hugetlb, MADV_FREE, fork
    advice, writes and unmaps during the move, each compared with
    move_pages(2)) in one boot."""
    with _vm("exchange-selftest") as vm:
        _require_exchange(vm)
        failed = []
        for tool in ("exchange_selftest", "exchange_state"):
            rc, out = vm.run(tool, timeout=300)
            print("\n".join(f"# {tool}: " + l for l in out.splitlines()))
            if rc != 0 or _tap_failures(out) or not re.search(r"^1\.\.\d+$", out, re.M):
                failed.append(f"{tool} (exit {rc}): " +
                              "; ".join(_tap_failures(out) or ["no TAP plan"]))
        problems = vm.dmesg_problems()
        assert not failed, "\n".join(failed) + "\ndmesg: " + ("\n".join(problems) or "clean")
        assert not problems, "dmesg: " + "\n".join(problems)


def test_exchange_stress():
    _stress(STRESS_N, seconds=1500, timeout=1700)


@pytap.full
def test_exchange_stress_full():
    _stress(STRESS_FULL_N, seconds=14400, timeout=15000)
