"""The build-boot-test loop itself: the tiered VM, the harness protocol, and
the failure paths (boot timeout, QEMU dying, guest panic, command timeout)."""

import os
import re
import signal
import threading
import time

from htiervm import VM, BootTimeout, CommandTimeout, VMExited, MiB, Node


def test_default_vm_has_two_tiers():
    with VM(name="tiers") as vm:
        tiers = vm.memory_tiers()
        tier_of = {n: t for t, nodes in tiers.items() for n in nodes}
        assert 0 in tier_of and 1 in tier_of, f"nodes missing from memory tiers: {tiers}"
        # A higher memory_tier id is a slower tier (larger abstract distance).
        assert tier_of[1] > tier_of[0], f"node 1 not in a lower tier than node 0: {tiers}"
        for node, size in ((0, 512 * MiB), (1, 1536 * MiB)):
            total = vm.node_meminfo(node)["MemTotal"]
            # The kernel reserves some memory (memmap, firmware); node 0 the most.
            assert 0.85 * size <= total <= size, f"node {node} MemTotal {total} vs {size}"
        assert vm.sh("cat /sys/devices/system/node/node1/cpulist").strip() == ""
        assert vm.sh("cat /sys/devices/system/node/node0/cpulist").strip() == "0-1"


def test_command_protocol_round_trips():
    with VM(name="proto", nodes=[Node(256 * MiB, cpus=True)]) as vm:
        assert vm.run("exit 3") == (3, "")
        assert vm.run("echo a; echo b >&2; false") == (1, "a\nb")
        tricky = "it's \"quoted\" $HOME `x` \\ ; | & * ~ é"
        assert vm.sh("printf '%s' " + "'" + tricky.replace("'", "'\\''") + "'") == tricky
        # Large outputs arrive whole and in order.
        out = vm.sh("seq 1 20000")
        assert out.split("\n") == [str(i) for i in range(1, 20001)]
        # No trailing newline and an empty output both survive.
        assert vm.sh("printf x") == "x"
        assert vm.sh("true") == ""
        # Commands run in sequence; state on the guest filesystem persists.
        vm.sh("echo kept > /tmp/f")
        assert vm.sh("cat /tmp/f") == "kept"


def boot_must_fail(exc, **vm_args):
    """Boot a VM that must not come up; return the error's text."""
    vm = VM(nodes=[Node(256 * MiB, cpus=True)], **vm_args)
    try:
        vm.boot()
    except exc as e:
        return str(e)
    finally:
        vm.close()
    raise AssertionError(f"{vm_args['name']}: booted, but {exc.__name__} was expected")


def test_boot_timeout_reports_serial_tail():
    t0 = time.monotonic()
    msg = boot_must_fail(BootTimeout, name="boot-timeout", append="htier.noagent",
                         boot_timeout=20)
    assert "not ready within 20s" in msg, msg
    assert "serial log tail" in msg and re.search(r"\[\s*\d+\.\d+\]", msg), msg
    assert time.monotonic() - t0 < 60


def test_qemu_error_is_reported():
    msg = boot_must_fail(VMExited, name="bad-qemu", devices=["no-such-device-htier"],
                         boot_timeout=60)
    assert "no-such-device-htier" in msg, msg  # QEMU's own stderr


def test_guest_panic_is_reported():
    msg = boot_must_fail(VMExited, name="panic", boot_timeout=120,
                         append="rdinit=/no-such-init init=/no-such-init")
    assert "Kernel panic" in msg, msg


def test_command_timeout():
    with VM(name="cmd-timeout", nodes=[Node(256 * MiB, cpus=True)]) as vm:
        t0 = time.monotonic()
        try:
            vm.run("sleep 60", timeout=3)
            raise AssertionError("sleep 60 finished within 3s")
        except CommandTimeout as e:
            assert "sleep 60" in str(e)
        assert time.monotonic() - t0 < 10


def test_failed_boot_in_with_leaves_no_qemu():
    vm = VM(name="no-leak", nodes=[Node(256 * MiB, cpus=True)], append="htier.noagent",
            boot_timeout=5)
    try:
        with vm:
            raise AssertionError("booted although the agent was off")
    except BootTimeout:
        pass
    assert vm.proc.poll() is not None, f"QEMU pid {vm.proc.pid} still running"


def test_qemu_crash_during_boot_gets_one_more_boot():
    """QEMU killed by a signal before the guest is up (a TCG crash) gets one
    more boot, keeping the crashed boot's logs; a second crash fails."""
    def segv_soon(vm, seen):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            p = vm.proc
            if p is not None and p.pid not in seen:
                seen.add(p.pid)
                os.kill(p.pid, signal.SIGSEGV)
                return
            time.sleep(0.05)

    vm = VM(name="boot-crash", nodes=[Node(256 * MiB, cpus=True)], accel="tcg")
    seen = set()
    vm.start()
    segv_soon(vm, seen)
    with vm:
        assert vm.sh("echo up") == "up"
        assert os.path.exists(vm.stderr_log + ".crashed")
        assert len(seen) == 1 and vm.proc.pid not in seen

    vm = VM(name="boot-crash-twice", nodes=[Node(256 * MiB, cpus=True)], accel="tcg")
    seen = set()
    vm.start()
    segv_soon(vm, seen)
    killer = threading.Thread(target=lambda: [time.sleep(0.5), segv_soon(vm, seen)])
    killer.start()
    try:
        with vm:
            raise AssertionError("booted although QEMU was killed twice")
    except VMExited as e:
        assert "second boot" in str(e), e
    finally:
        killer.join()
    assert len(seen) == 2, seen
