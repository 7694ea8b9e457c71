"""hplace part 1 in the VM: sampler selection under TCG, the accessed-bit
sampler finding a hot region, the CPU budget measured from the engine
thread's schedstat, injection, sysfs error handling and coexistence, and a
calibration of how fast accessed bits come back under TCG.

Every test sets numa_balancing=0 and demotion_enabled=0 explicitly."""

import re
import time

import pytap
from hplacetest import D, H, note, prepare
from hotset import start as start_hotset
from htiervm import VM

WINDOW = 60 if pytap.FULL else 30


def stat(vm, name):
    return vm.sh(f"cat {H}/stats/{name}").strip()


def wait_tracked(vm, pid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(rf"^{pid} ", vm.sh(f"cat {D}/ranges"), re.M):
            return
        time.sleep(1)
    raise AssertionError(f"pid {pid} never tracked: {vm.sh(f'cat {D}/ranges | head')}")


def watch(vm, hs):
    vm.sh(f"echo {hs['pid']} {hs['hot_start']:#x} {hs['hot_end']:#x} > {D}/watch")


def read_watch(vm):
    out = vm.sh(f"cat {D}/watch")
    m = re.match(r"in (\d+) out (\d+) checked_in (\d+) checked_out (\d+)", out)
    assert m, out
    return [int(x) for x in m.groups()]


def hplaced_pid(vm):
    out = vm.sh("for p in /proc/[0-9]*; do "
                "[ \"$(cat $p/comm 2>/dev/null)\" = hplaced ] && echo ${p#/proc/}; "
                "done; true")
    assert out.strip(), "no hplaced thread"
    return int(out.split()[0])


def measure_cost(vm, tid, seconds):
    """Engine CPU over a window, independently of the engine's own
    counters: the thread's schedstat (ns on CPU) plus the reported
    interrupt-handler time, over guest wall time."""
    cmd = (f"cat /proc/{tid}/schedstat {H}/stats/handler_ns /proc/uptime; "
           f"sleep {seconds}; "
           f"cat /proc/{tid}/schedstat {H}/stats/handler_ns /proc/uptime")
    out = vm.sh(cmd, timeout=seconds + 120).split("\n")
    rt0, h0, up0 = int(out[0].split()[0]), int(out[1]), float(out[2].split()[0])
    rt1, h1, up1 = int(out[3].split()[0]), int(out[4]), float(out[5].split()[0])
    wall = (up1 - up0) * 1e9
    return (rt1 - rt0 + h1 - h0) / wall * 1000.0, (up1 - up0)


def test_tcg_uses_abit_and_says_why_not_pebs():
    with VM(name="hplace-sampler") as vm:
        prepare(vm)
        sampler = vm.sh(f"cat {H}/sampler")
        why = stat(vm, "pebs_unavailable")
        dmesg = vm.sh("dmesg")
        note(f"sampler: {sampler!r}; pebs_unavailable: {why!r}")
        if vm.accel != "tcg":
            raise pytap.Skip(f"runs under {vm.accel}; the PEBS answer depends on the host")
        assert sampler.startswith("pebs [abit]"), sampler
        assert why != "-" and "perf error" in why, why
        assert "PEBS sampler unavailable" in dmesg, dmesg[-2000:]
        # Asking for PEBS explicitly fails and changes nothing.
        rc, out = vm.run(f"echo pebs > {H}/sampler")
        assert rc != 0, out
        assert vm.sh(f"cat {H}/sampler").startswith("pebs [abit]")
        vm.sh(f"echo abit > {H}/sampler")
        assert "[abit]" in vm.sh(f"cat {H}/sampler")
        vm.sh(f"echo auto > {H}/sampler")
        assert vm.sh(f"cat {H}/sampler").startswith("pebs [abit] (mode auto)")
        assert not vm.dmesg_problems(), vm.dmesg_problems()


def test_sysfs_invalid_writes_change_nothing():
    with VM(name="hplace-sysfs") as vm:
        prepare(vm)
        before = {f: vm.sh(f"cat {H}/{f}") for f in ("enabled", "sampler", "cpu_budget_permille")}
        assert before["cpu_budget_permille"] == "10", before
        bad = [("cpu_budget_permille", v) for v in ("0", "1001", "abc", "-5", "10x", "''")]
        bad += [("sampler", v) for v in ("fast", "[abit]", "''", "abit,pebs")]
        bad += [("enabled", v) for v in ("2", "maybe", "''")]
        for f, v in bad:
            rc, out = vm.run(f"echo {v} > {H}/{f}")
            assert rc != 0 and "Invalid argument" in out, (f, v, rc, out)
            assert vm.sh(f"cat {H}/{f}") == before[f], (f, v)
        for v in ("1", "1000", "20", "10"):
            vm.sh(f"echo {v} > {H}/cpu_budget_permille")
            assert vm.sh(f"cat {H}/cpu_budget_permille") == v
        rc, out = vm.run(f"echo 1 2 3 > {D}/inject")
        assert rc != 0 and "Invalid argument" in out, out
        rc, out = vm.run(f"echo 'x 0x1000 load' > {D}/inject")
        assert rc != 0 and "Invalid argument" in out, out


def test_coexistence_with_kernel_tiering():
    with VM(name="hplace-coexist") as vm:
        prepare(vm)
        for knob, path in (("numa_balancing", "/proc/sys/kernel/numa_balancing"),
                           ("demotion_enabled", "/sys/kernel/mm/numa/demotion_enabled")):
            # Switched on while hplace runs: hplace pauses and says so.
            vm.sh(f"echo 1 > {path}")
            deadline = time.monotonic() + 20
            while stat(vm, "paused") == "-" and time.monotonic() < deadline:
                time.sleep(0.5)
            paused = stat(vm, "paused")
            assert knob in paused, paused
            assert re.search(rf"paused: .*{knob}", vm.sh("dmesg")), vm.sh("dmesg | tail")
            # Enabling while it is on: -EBUSY and a dmesg line naming it.
            vm.sh(f"echo 0 > {H}/enabled")
            vm.sh("dmesg -c > /dev/null")
            rc, out = vm.run(f"echo 1 > {H}/enabled")
            assert rc != 0 and "busy" in out.lower(), out
            assert re.search(rf"cannot enable: .*{knob}", vm.sh("dmesg")), vm.sh("dmesg")
            assert vm.sh(f"cat {H}/enabled") == "0"
            vm.sh(f"echo 0 > {path}")
            vm.sh(f"echo 1 > {H}/enabled")
            assert vm.sh(f"cat {H}/enabled") == "1"
            assert stat(vm, "paused") == "-"


def test_boot_defaults_and_vmstat_names():
    with VM(name="hplace-boot") as vm:
        # hplace on (the default VM has a slower tier) turns the kernel's
        # own tiering off at boot, although the kernel enables NUMA
        # balancing by default.
        assert vm.sh(f"cat {H}/enabled") == "1"
        assert vm.sh("cat /proc/sys/kernel/numa_balancing") == "0"
        assert vm.sh("cat /sys/kernel/mm/numa/demotion_enabled") == "false"
        vmstat = vm.vmstat()
        for name in ("hplace_sample", "hplace_sample_drop", "hplace_throttle",
                     "hplace_sample_ns", "hplace_classify_ns"):
            assert name in vmstat, name
    with VM(name="hplace-off", append="hplace=off") as vm:
        assert vm.sh(f"cat {H}/enabled") == "0"
        assert vm.sh("cat /proc/sys/kernel/numa_balancing") != "0"


def test_injection_round_trips():
    with VM(name="hplace-inject") as vm:
        prepare(vm, enable=False)
        vm.sh(f"echo 0 > {H}/enabled")  # no epochs: counts stay exact
        hs = start_hotset(vm, "-m 32 -H 4 -t 0")
        pid = hs["pid"]
        addr = hs["hot_start"] + 0x3000
        s0 = vm.vmstat()["hplace_sample"]
        lines = "\\n".join(f"{pid} {addr:#x} {k}" for k in ("load", "store", "any") * 10)
        vm.sh(f"printf '{lines}\\n' > {D}/inject")
        assert vm.vmstat()["hplace_sample"] - s0 == 30
        ranges = vm.sh(f"cat {D}/ranges")
        hit = [r.split() for r in ranges.splitlines()
               if r.split()[0] == str(pid) and int(r.split()[1], 16) <= addr < int(r.split()[2], 16)]
        assert hit, ranges
        # 30 samples, counts in 1/256 units, no epoch ran (engine off).
        assert int(hit[0][4]) == 30 * 256, hit
        rc, out = vm.run(f"echo '999999 {addr:#x} load' > {D}/inject")
        assert rc != 0 and "No such process" in out, out
        vm.sh(f"kill {pid}")


def test_abit_finds_hot_region():
    with VM(name="hplace-hot") as vm:
        prepare(vm)
        # Enough budget for a useful scan rate even on a loaded host.
        vm.sh(f"echo 50 > {H}/cpu_budget_permille")
        hs = start_hotset(vm, "-m 1024 -H 64 -t 0")
        wait_tracked(vm, hs["pid"])
        time.sleep(3)
        watch(vm, hs)
        time.sleep(20)
        pin, pout, cin, cout = read_watch(vm)
        share = pin / max(1, pin + pout)
        note(f"positives in hot 64 MiB: {pin}, outside: {pout}, share {share:.3f}; "
             f"checks in {cin}, out {cout}; scan rate {stat(vm, 'scan_rate')} pages/s")
        assert pin > 50, (pin, pout)
        assert share >= 0.8, share
        # The tree has narrowed down on the hot part: every range at least a
        # tenth as dense as the densest lies in it, together they cover it,
        # and they are not much longer than it. (How many ranges the hot
        # part is in depends on the tree's length cap; a range with a
        # sample's residue outside is not dense.)
        lo, hi = hs["base"], hs["base"] + hs["size"]
        hot = [r.split() for r in vm.sh(f"cat {D}/ranges").splitlines()
               if r.split()[0] == str(hs["pid"]) and lo <= int(r.split()[1], 16) < hi]
        top = max((int(r[5]) for r in hot), default=0)
        assert top > 0, hot
        dense = [r for r in hot if int(r[5]) * 10 >= top]
        covered = 0
        for r in dense:
            s, e = int(r[1], 16), int(r[2], 16)
            assert s < hs["hot_end"] and e > hs["hot_start"], (dense, hs)
            covered += min(e, hs["hot_end"]) - max(s, hs["hot_start"])
        assert covered >= 0.9 * (hs["hot_end"] - hs["hot_start"]), (dense, hs)
        span = sum(int(r[2], 16) - int(r[1], 16) for r in dense)
        assert span <= 2 * (hs["hot_end"] - hs["hot_start"]), (dense, hs)
        vm.sh(f"kill {hs['pid']}")


def test_budget_holds_measured_by_schedstat():
    # 5 permille is the tight one: under TCG the fixed cost of a tick
    # (wakeup, TLB flush IPIs, epoch) is close to the whole budget. Once,
    # on a host loaded by a parallel kernel build, it measured 1.33x.
    # CI once measured 0.79x at 5 (10: 0.87x, 20: 0.89x): the scanner
    # batched less often than the controller decided, and windows without
    # a scan held the rate down. With those windows merged (budget.c,
    # userspace test "batched scans"), 0.88x (10: 0.89x, 20: 0.89x).
    # make check measures the tight budget and the default; check-full
    # adds 20 (each window is 38 s of a TCG VM).
    _budget_windows((5, 10, 20) if pytap.FULL else (5, 10))


def _budget_windows(budgets):
    results = []
    with VM(name="hplace-budget") as vm:
        prepare(vm)
        tid = hplaced_pid(vm)
        hs = start_hotset(vm, "-m 1024 -H 64 -t 0")
        wait_tracked(vm, hs["pid"])
        thr0 = vm.vmstat()["hplace_throttle"]
        for permille in budgets:
            vm.sh(f"echo {permille} > {H}/cpu_budget_permille")
            time.sleep(8)  # the controller settles within a few seconds
            used, secs = measure_cost(vm, tid, WINDOW)
            results.append((permille, used, secs, stat(vm, "scan_rate"),
                            stat(vm, "usage_permille")))
        thr = vm.vmstat()["hplace_throttle"] - thr0
        vm.sh(f"kill {hs['pid']}")
    for permille, used, secs, rate, own in results:
        note(f"budget {permille}: measured {used:.2f} permille over {secs:.0f}s "
             f"({used / permille:.2f}x), scan rate {rate} pages/s, engine says {own}")
    note(f"throttles: {thr}")
    for permille, used, _, _, _ in results:
        assert used <= 1.2 * permille, results
    # Overload: 1 GiB of tracked memory is far more than any of these
    # budgets can scan, so the engine should use most of it.  The
    # controller holds 0.85-1.0x of the budget per decision window, but a
    # ceiling controller averages lower when the cost per scan batch is
    # noisy (at 5 permille about one batch a second, each costing 0.5-1.6x
    # the mean here): measured quiet, 30 s windows at 5 permille read
    # 0.80-0.91x (2026-12-05: 0.87x alone, 0.90x beside two host CPU hogs,
    # 0.796x once beside a second TCG VM).  So each window is held to the
    # floor the userspace model of a loaded host guarantees (test_budget.c,
    # "a ceiling on a loaded host too": 70%), and their mean ratio (60 s
    # in all in make check, 180 s in check-full) to 0.8x: a controller
    # that wastes its budget fails both, batch noise neither.
    for permille, used, _, _, _ in results:
        assert used >= 0.7 * permille, results
    pooled = sum(used / permille for permille, used, *_ in results) / len(results)
    note(f"the windows together: {pooled:.2f}x of their budgets on average")
    assert pooled >= 0.8, results


def test_idle_engine_stays_below_budget():
    with VM(name="hplace-idle") as vm:
        prepare(vm)
        tid = hplaced_pid(vm)
        time.sleep(3)
        used, secs = measure_cost(vm, tid, 10)
        note(f"idle engine: {used:.3f} permille over {secs:.0f}s")
        assert used <= 10 * 1.2


def _calibrate(vm, hs, ticks):
    rows = []
    for ms in ticks:
        vm.sh(f"echo {ms} > {D}/abit_tick_ms")
        time.sleep(max(2, 3 * ms / 1000))
        watch(vm, hs)
        time.sleep(max(6, 20 * ms / 1000))
        pin, pout, cin, cout = read_watch(vm)
        real = int(stat(vm, "abit_window_us")) / 1000
        rows.append((ms, pin / max(1, cin), pout / max(1, cout), cin, cout, real))
    vm.sh(f"echo 100 > {D}/abit_tick_ms")
    return rows


def test_calibrate_accessed_bit_return_under_tcg():
    """How soon a page that is being touched reads as accessed again after
    the sampler cleared its bit and flushed: the share of hot-page checks
    that came back young after a window of N ms, and the same for pages
    nobody touches (false positives)."""
    with VM(name="hplace-calib") as vm:
        prepare(vm)
        # A generous budget, so the scan rate is high enough that the
        # tick does not stretch beyond the window asked for.
        vm.sh(f"echo 1000 > {H}/cpu_budget_permille")
        hs = start_hotset(vm, "-m 256 -H 64 -t 0")
        wait_tracked(vm, hs["pid"])
        rows = _calibrate(vm, hs, (8, 20, 100, 500))
        vm.sh(f"kill {hs['pid']}")
    for ms, hot, cold, cin, cout, real in rows:
        note(f"window {ms:4d} ms (last tick {real:.1f} ms): hot pages young "
             f"{hot:.3f} ({cin} checks), untouched pages young {cold:.4f} "
             f"({cout} checks)")
    by = {r[0]: r for r in rows}
    assert by[100][1] >= 0.5, rows    # touched pages come back within 100 ms
    assert by[100][2] <= 0.05, rows   # untouched ones do not
