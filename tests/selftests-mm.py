#!/usr/bin/env python3
"""Linux's own mm selftests in the debug guest, with hplace off and on.

    tests/selftests-mm.py [--full] [--modes off,on] [--categories "cow ksm"]
                          [--report FILE]

Boots build/bzImage-debug (DEBUG_VM, lockdep, KASAN; 4 vCPUs, a fast and a
slow NUMA node, 512 MiB of zram swap) with build/initramfs-selftests.cpio.gz
and runs upstream's runner, tools/testing/selftests/mm/run_vmtests.sh,
unchanged:

  off  hplace=off on the command line: the kernel as upstream tests it
       (NUMA balancing and demotion off in both modes, so hplace is the only
       difference);
  on   hplace on, watching the cgroup /mmtests that the tests run in, while a
       background workload in the same cgroup keeps the fast node full and
       its hot set moving: hplace promotes, demotes and exchanges pages the
       whole time (the vmstat counters before and after are reported and
       must have grown).

Each run_vmtests.sh entry (a program with its arguments) gets a verdict:
pass, skip (with the reason the test printed) or fail. The verdicts must
equal tests/selftests-mm.expected, skips included: a new skip fails as a
new failure does. In both modes the subtests' verdicts (kselftest "ok N
name" lines) must agree, and neither boot may log a WARNING, BUG, KASAN
report or lockdep splat.

Bounded (make check): hplace on, the programs that cover what page
exchange must respect (GATE below). --full (make check-full,
make selftests-mm): run_vmtests.sh with every category, both modes.
Prints TAP for tests/run; keeps the runner's output, each boot's console
and the table (report.md) in build/selftests-mm/gate, full or categories
(--logs); --from-logs judges a saved run again without booting.
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from htiervm import BUILD, KERNEL_BUGS, KERNEL_DEBUG, MiB, GiB, VM, default_nodes  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INITRD = os.path.join(BUILD, "initramfs-selftests.cpio.gz")
EXPECTED = os.path.join(TOP, "tests", "selftests-mm.expected")
DIR = "/opt/selftests/mm"
H = "/sys/kernel/mm/hplace"
# Each kind of run keeps its own output (set in main): build/selftests-mm/
# gate, full or categories; the runner's output per mode (run-MODE.log),
# each boot's console (console-MODE.log) and the table (report.md).
LOGS = os.path.join(BUILD, "selftests-mm")

# The gate's selection: the programs that cover the page state (and the
# paths) a page exchange must carry or refuse — migration, copy-on-write,
# MADV_POPULATE, mlock, mremap, soft-dirty, userfaultfd and KSM. Their
# run_vmtests.sh categories take 17 minutes under TCG with KASAN (uffd-stress
# and ksm_tests dominate), so the gate runs these programs, each as
# run_vmtests.sh runs it, with the same huge-page reserve. uffd-unit-tests
# whole took 741 s with hplace on (4 vCPUs on 2 host cores): the gate takes
# its write-protect cases (-f wp: wp-fork*, wp-unpopulated, minor-wp,
# sigbus-wp, events-wp on every memory type), the uffd-wp markers an
# exchange must keep; the whole program runs in the full mode.
GATE = ("migration", "cow", "madv_populate", "mlock2-tests", "mremap_dontunmap",
        "soft-dirty", "uffd-unit-tests -f wp", "ksm_functional_tests")
# The gate's entries run_vmtests.sh itself runs (it runs uffd-unit-tests whole).
RUN_VMTESTS_GATE = tuple(g for g in GATE if " -f " not in g)
# run_vmtests.sh's minimum huge-page reserve (256 MiB of 2 MiB pages)
HUGEPAGES = 128
# The zram swap device's size: more than the tests swap out at once
# (khugepaged's 2 MiB, cow's few pages, the churn's overflow).
SWAP = "512M"

RESULT = re.compile(r"^(not )?ok \d+ (.+?)(?: # (SKIP|exit=\d+).*)?$")
RUNNING = re.compile(r"^# running (.+)$")
# Written by run_mode before it runs an entry once more (see "retry:").
RETRY = re.compile(r"^# retry of (.+) after (\w+): (.*)$")
# A program's own kselftest lines, "# "-prefixed by run_vmtests.sh; a skip
# from ksft_test_result_skip() has no name ("ok 3 # SKIP why").
SUBTEST = re.compile(r"^# (not )?ok (\d+)(?: (.*?))?(?:\s*# (SKIP|TODO|XFAIL)\b ?(.*))?$")
# ksft_print_cnts(), and uffd-unit-tests' own count (it prints no TAP).
TOTALS = re.compile(r"^# (?:# )?Totals: pass:(\d+) fail:(\d+) xfail:\d+ xpass:\d+ skip:(\d+)")
UFFD_TOTALS = re.compile(r"^# Userfaults unit tests: pass=(\d+), skip=(\d+), fail=(\d+)")
SUMMARY = re.compile(r"^# SUMMARY: PASS=(\d+) SKIP=(\d+) FAIL=(\d+)")
# run_vmtests.sh's own "not run" lines (on-fault-limit without sudo).
LEFT_OUT = re.compile(r"^# SKIP \./(\S+)$")
# uffd-unit-tests' own lines: "Testing wp-fork on anon... done"; err() ends
# the program on the line of its case ("... ERROR: why").
UFFD_CASE = re.compile(r"^# Testing (.+?)\.\.\. (done|skipped \[reason: (.*)\]|failed.*|ERROR: .*)$")
# What a passing entry's subtests may do, in its expected reason, clauses
# separated by " | ": "skips: why; why" (the skip reasons they may show),
# "fails: name; name (why)" (subtests, by name, that fail with and without
# hplace for a reason that is not ours, given in parentheses).
# "retry: line; line (why)": the entry is run again, in the same boot and
# mode, when every failure line it printed is one of those (numbers do not
# count): a setup step that the kernel may legitimately leave undone while
# something else holds the page (MADV_PAGEOUT skips a page that migration or
# compaction has isolated), up to RETRIES times. The last run's verdict is
# the entry's, and a case counts as passed once a run passed it and none
# failed it, if what the other runs skipped it for is a retry line
# (merge_runs(), check_entries()); the table says it was retried, how
# often, why.
PASS_CLAUSE = re.compile(r"^(skips|fails|retry): (.*)$")
# Runs after the first (each on one CPU: see run_mode). With hplace on,
# MADV_PAGEOUT can leave one of cow's pages alone: hplace may hold it
# isolated at that moment (cow's pages are in the watched cgroup; a debug
# hook, not kept, saw MADV_PAGEOUT pass by a page hplace had just
# isolated), or the page sits in another CPU's LRU batch; cow then skips
# that case. If the migration unmaps the page between cow's two reads of
# its state (pagemap, then PAGEMAP_SCAN), cow bails out instead ("read
# and ioctl return unmatched results for swap: 0 1", seen in CI; the "0 1"
# cannot be matched, numbers do not count, but "1 0", a migration ending
# between the reads, is as harmless). Of
# 9 runs of cow on CPU 0 with the gate's background, 4 had such a skip,
# each in one case (5 of the 6 seen in a THP case, which is isolated whole
# whatever hplace's batch: 32 pages per call instead of 512 gave 2 of 6
# runs, too few to tell). Each run skips another case, so merge_runs()
# takes a case from a run that passed it; a real failure (any other line)
# is never retried.
RETRIES = 2
# Cases one run of a retried entry may skip for a retry reason: each run
# measured skipped at most one (the cow measurements above); a fault that
# made MADV_PAGEOUT miss pages always would skip many in every run.
RETRY_SKIPS_MAX = 3
FAILURE_LINE = re.compile(r"\bFail\b|^(# )*not ok|ERROR|Bail out")
COUNTERS = ("hplace_promote", "hplace_demote", "hplace_exchange")


def entry_name(name):
    """run_vmtests.sh's name for an entry, with the arguments that depend on
    the guest's free memory replaced: uffd-stress's hugetlb size is half the
    free huge pages at that moment."""
    return re.sub(r"^(uffd-stress hugetlb(?:-private)?) \d+ ", r"\1 MB ", name)


def tap(ok, name, note=""):
    tap.n += 1
    tap.failed += not ok
    print(f"{'' if ok else 'not '}ok {tap.n} - {name}" + (f" # {note}" if note else ""),
          flush=True)


tap.n = tap.failed = 0


def comment(text):
    for line in str(text).splitlines():
        print(f"#   {line}", flush=True)


def reason_key(text):
    """A skip reason as compared: numbers that depend on the moment (free
    huge pages, sizes) do not count."""
    return re.sub(r"\d+", "N", text.strip())


# A subtest key: its ordinal ("N", or "2:N" in a program's second TAP
# segment) and its name; kselftest prints a skipped case's line without the
# name ("ok 50 # SKIP why"), uffd-unit-tests' cases have names only.
SUBTEST_KEY = re.compile(r"^((?:\d+:)?\d+)(?: (.*))?$")


def subtest_key(key):
    """A subtest key as compared across modes: its ordinal ("N" or "2:N",
    which tells repeated names apart) kept, numbers in its name not (some
    names carry a measurement: "Extra pages 140 (0.3%)")."""
    m = SUBTEST_KEY.match(key)
    return f"{m[1]} {reason_key(m[2] or '')}".strip() if m else reason_key(key)


def case_name(key):
    """A subtest key without its ordinal."""
    m = SUBTEST_KEY.match(key)
    return (m[2] or "") if m else key


def case_identity(*runs):
    """For subtest dicts of one entry (runs, or modes): a function giving a
    key's case. A key without a name ("50", a skip line) is the case of the
    one named key with its ordinal in any of @runs, if there is exactly one
    (ksm_functional_tests prints two different "ok 8"); any other key is
    its own case."""
    named = {}
    for subs in runs:
        for k in subs:
            m = SUBTEST_KEY.match(k)
            if m and m[2]:
                named.setdefault(m[1], set()).add(k)

    def case(key):
        m = SUBTEST_KEY.match(key)
        if m and not m[2] and len(named.get(m[1], ())) == 1:
            return next(iter(named[m[1]]))
        return key
    return case


def count_verdicts(subs):
    """{"pass", "fail", "skip"} counts of a subtest dict."""
    return {v: sum(1 for x in subs.values() if x[0] == v) for v in ("pass", "fail", "skip")}


def parse_block(block):
    """One entry's output -> (subtests, totals). Subtests are keyed "N name"
    (names repeat, cow's among them; a script running several TAP programs
    numbers them "2:N name"), each (verdict, reason); totals are
    {"pass", "fail", "skip"}, summed over the programs' own counts, or
    counted from the subtests when a program prints none."""
    subs, totals, seg = {}, None, 1
    for b in block:
        if b.startswith("# TAP version") and subs:
            seg += 1
        s = SUBTEST.match(b)
        if s:
            v = "fail" if s.group(1) else "skip" if s.group(4) == "SKIP" else "pass"
            key = f"{'' if seg == 1 else f'{seg}:'}{s.group(2)} {s.group(3) or ''}".strip()
            subs[key] = (v, (s.group(5) or "").strip())
            continue
        u = UFFD_CASE.match(b)
        if u:
            v = "pass" if u.group(2) == "done" else "skip" if u.group(3) is not None else "fail"
            subs[u.group(1)] = (v, (u.group(3) or "").strip())
            continue
        t = TOTALS.match(b)
        c = (dict(zip(("pass", "fail", "skip"), map(int, t.groups()))) if t else None)
        u = UFFD_TOTALS.match(b)
        if u:
            c = dict(zip(("pass", "skip", "fail"), map(int, u.groups())))
        if c:
            totals = {k: (totals or {}).get(k, 0) + c[k] for k in c}
    if totals is None and subs:
        totals = count_verdicts(subs)
    return subs, totals


# How runs of a retried entry rank a case's verdicts (merge_runs()).
RANK = {"fail": 2, "pass": 1}


def merge_runs(prev, last):
    """A retried entry over its runs so far (@prev, merged already) and its
    last run. Each case fails if any run failed it, else passes if any run
    passed it, else is as the last run that printed it left it: the runs
    stop short in different places (a case skipped for a retry reason is
    untested in that run; a Bail out ends the program), and each case needs
    one clean run, not all of them in one. The verdict and the output are
    the last run's. Each run's own skip reasons are kept ("run_skips") for
    check_entries(), which judges every one of them: a merge must not hide
    a skip the retry clause does not name."""
    case = case_identity(prev["subtests"], last["subtests"])
    merged = {}
    for subs in (prev["subtests"], last["subtests"]):
        for k, v in subs.items():
            c = case(k)
            if c not in merged or RANK.get(v[0], 0) >= RANK.get(merged[c][0], 0):
                merged[c] = v
    totals = None
    if merged:
        totals = count_verdicts(merged)
        # A failure only a program's own Totals line counts stays counted.
        totals["fail"] = max([totals["fail"]] + [(t["totals"] or {}).get("fail", 0)
                                                 for t in (prev, last)])
    return dict(last, subtests=merged, totals=totals,
                run_skips=prev.get("run_skips", [skip_reasons(prev)]) + [skip_reasons(last)])


def skip_reasons(t):
    """The reasons of an entry's skipped subtests, one per subtest."""
    return [r for v, r in t["subtests"].values() if v == "skip"]


def parse_run(out):
    """run_vmtests.sh output -> ({test: entry}, summary or None).

    An entry is {"verdict", "reason", "subtests", "totals"}: its block starts
    at its "# running" banner and ends at its result line; the reason of a
    skip is the last line of the block that says why (kselftest prints
    "SKIP"/"skip" with it)."""
    tests, block = {}, []
    summary = None
    retry = None
    for line in out.splitlines():
        line = line.rstrip("\r")
        m = RETRY.match(line)
        if m:
            retry = m.groups()
            continue
        if RUNNING.match(line):
            block = []
            continue
        m = SUMMARY.match(line)
        if m:
            summary = dict(zip(("pass", "skip", "fail"), map(int, m.groups())))
            continue
        m = LEFT_OUT.match(line)
        if m:
            tests[m.group(1)] = {"verdict": "skip", "subtests": {}, "totals": None, "output": "",
                                 "reason": "left out by run_vmtests.sh (no sudo)"}
            continue
        m = RESULT.match(line)
        if m and not line.startswith("#"):
            name = entry_name(m.group(2).strip())
            verdict = "fail" if m.group(1) else ("skip" if m.group(3) == "SKIP" else "pass")
            reason = ""
            if verdict == "skip":
                said = [re.sub(r"\x1b\[[0-9;]*m", "", b) for b in block
                        if b.strip("# ") and "[SKIP]" not in b
                        and not TOTALS.match(b) and not UFFD_TOTALS.match(b)]
                # What the test said about skipping; else a failed case (a
                # program that exits with its failure count, khugepaged's
                # four swap-out failures, reads as a skip: 4); else its
                # last word.
                why = ([b for b in said if re.search(r"skip", b, re.I)] or
                       [b for b in said if re.search(r"\bFail", b)])
                reason = re.sub(r"^(# )+", "", (why or said or [""])[-1]).strip()
            elif verdict == "fail":
                reason = m.group(3) or ""
            subs, totals = parse_block(block)
            entry = {"verdict": verdict, "reason": reason[:160], "subtests": subs,
                     "totals": totals, "output": "\n".join(block)}
            if retry and retry[0] == name and name in tests:
                # The last run's verdict stands; the first's is kept, since
                # run_vmtests.sh's SUMMARY counted it.
                prev = tests[name]
                entry = merge_runs(prev, entry)
                entry["first_verdict"] = prev.get("first_verdict", retry[1])
                entry["retried"] = prev.get("retried", retry[2])
                entry["retries"] = prev.get("retries", 0) + 1
                tests[name] = entry
                retry, block = None, []
                continue
            # Two entries with one name (a test run twice): keep both.
            key, i = name, 2
            while key in tests:
                key, i = f"{name} ({i})", i + 1
            tests[key] = entry
            block = []
            continue
        block.append(line)
    return tests, summary


def evidence(t, tail=12):
    """What a failed entry said about why, for the log make check keeps:
    its failed subtests and error lines (kselftest's "not ok", uffd's
    "ERROR:", ksft_exit_fail_msg's "Bail out!"), then the last lines."""
    lines = [l for l in t.get("output", "").splitlines() if l.strip("# ")]
    why = [l for l in lines if re.search(r"not ok|ERROR|Bail out|failed|[Ee]rror:", l)][-8:]
    out = [f"why: {l}" for l in why] + [f"tail: {l}" for l in lines[-tail:] if l not in why]
    return "\n".join(out) or "(no output)"


def pass_allowances(reason):
    """A pass's expected reason -> (allowed skip reasons as reason_key()s,
    names of subtests allowed to fail)."""
    skips, fails = set(), set()
    for kind, items in pass_clauses(reason):
        if kind == "skips":
            skips |= {reason_key(x) for x in items}
        elif kind == "fails":
            fails |= set(items)
    return skips, fails


def pass_clauses(reason):
    """A pass's expected reason -> [(kind, items)], kind skips, fails or
    retry; the "(why)" that ends a fails or retry clause dropped."""
    out = []
    # (" | " inside a skip reason, pagemap_ioctl's, is not a separator)
    for clause in re.split(r" \| (?=(?:skips|fails|retry): )", reason):
        m = PASS_CLAUSE.match(clause.strip())
        if not m:
            continue
        body = m.group(2) if m.group(1) == "skips" else re.sub(r"\s*\(.*\)$", "", m.group(2))
        out.append((m.group(1), [x.strip() for x in body.split("; ")]))
    return out


def failure_lines(t):
    """The lines of an entry's output that report a failure, colours off."""
    lines = (re.sub(r"\x1b\[[0-9;]*m", "", l) for l in t.get("output", "").splitlines())
    return [re.sub(r"^(# )+", "", l).strip() for l in lines if FAILURE_LINE.search(l)]


def retry_lines(reason):
    """A pass's expected reason -> the lines its "retry:" clause names, as
    reason_key()s (a line matches if it contains one)."""
    return [reason_key(x) for k, items in pass_clauses(reason) if k == "retry" for x in items]


def is_retry_line(line, allowed):
    return any(a in reason_key(line) for a in allowed)


def retry_reason(t, expected_entry):
    """Why an entry is to be run once more, or None: its expected verdict is
    pass with a "retry:" clause, and either it did not pass and every
    failure line it printed is one the clause names, or it passed and every
    subtest skip reason the "skips:" clause does not allow is one the
    retry clause names (cow skips a case when MADV_PAGEOUT left the page
    alone)."""
    if not expected_entry or expected_entry[0] != "pass":
        return None
    allowed = retry_lines(expected_entry[1])
    if t["verdict"] == "pass":
        skips_ok, may_fail = pass_allowances(expected_entry[1])
        if any(f not in may_fail for f in failed_subtests(t)):
            return None     # a failure is not what the retry is for
        lines = [w for w in sub_skips(t)[1] if reason_key(w) not in skips_ok]
    else:
        lines = failure_lines(t)
    if not allowed or not lines or any(not is_retry_line(l, allowed) for l in lines):
        return None
    return "; ".join(dict.fromkeys(lines))


def program_runner(programs, cpu=None):
    """run_vmtests.sh's run_test() for a list of programs: the same banner,
    "# "-prefixed output and result lines; on CPU @cpu alone if given."""
    runner = f"echo {HUGEPAGES} > /proc/sys/vm/nr_hugepages"
    pin = "" if cpu is None else f"taskset -c {cpu} "
    for n, t in enumerate(programs, 1):
        runner += (f"; echo '# running ./{t}'; {pin}./{t} > /tmp/t.out 2>&1; rc=$?; "
                   "sed 's/^/# /' /tmp/t.out; "
                   f"if [ $rc -eq 0 ]; then echo 'ok {n} {t}'; "
                   f"elif [ $rc -eq 4 ]; then echo 'ok {n} {t} # SKIP'; "
                   f"else echo \"not ok {n} {t} # exit=$rc\"; fi")
    return runner


def failed_subtests(t):
    """An entry's failed subtests, by name (without kselftest's number)."""
    return sorted({case_name(k) for k, (v, _) in t["subtests"].items() if v == "fail"})


def sub_skips(t):
    """An entry's skipped subtests: (count, their distinct reasons)."""
    n = (t["totals"] or {}).get("skip", 0)
    return n, sorted({r or "(no reason)" for r in skip_reasons(t)})


def load_expected(path=EXPECTED):
    """tests/selftests-mm.expected: `verdict test [# reason]` per line;
    verdict `absent` for an entry run_vmtests.sh leaves out here."""
    exp = {}
    for raw in open(path):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        body, _, reason = line.partition(" # ")
        verdict, _, name = body.partition(" ")
        if verdict not in ("pass", "skip", "fail", "absent", "flaky"):
            raise ValueError(f"{path}: bad verdict in {raw!r}")
        if verdict in ("skip", "absent", "flaky", "fail") and not reason.strip():
            raise ValueError(f"{path}: a {verdict} needs its reason: {raw!r}")
        exp[name.strip()] = (verdict, reason.strip())
    return exp


def start_churn(vm):
    """The background load of the `on` mode, in the watched cgroup: an idle
    filler holds the fast node (no room left to promote into), and two
    processes on the slow node take turns at being hot (one runs, the other
    is stopped, swapped every 20 s). Each turn the running one's pages must
    reach the full fast tier, by exchange with the filler's or the stopped
    one's cold pages, and what cooled is demoted when the tests take room."""
    vm.sh("echo 0 > /proc/sys/kernel/numa_balancing")
    vm.sh("echo 0 > /sys/kernel/mm/numa/demotion_enabled")
    vm.sh("mkdir -p /sys/fs/cgroup/mmtests && echo $$ > /sys/fs/cgroup/mmtests/cgroup.procs")
    vm.sh(f"echo /mmtests > {H}/cgroup && echo 1 > {H}/enabled")
    free = vm.node_meminfo(0)["MemFree"] // MiB
    # Each put in the cgroup before it allocates.
    cg = "echo $$ > /sys/fs/cgroup/mmtests/cgroup.procs; exec hotset"
    # 64 MiB left free: with 4 vCPUs the per-CPU free lists hold ~40 MiB
    # that a node-bound allocation cannot use (it was OOM-killed at 24).
    for name, args in (("filler", f"-m {free - 64} -H 1 -n 0 -r 1 -t 0"),
                       ("turn_a", "-m 192 -H 192 -n 1 -t 0"),
                       ("turn_b", "-m 192 -H 192 -n 1 -t 0")):
        vm.sh(f"sh -c '{cg} {args}' > /tmp/{name}.out 2>&1 &")
        deadline = time.monotonic() + 300
        while "pid=" not in vm.sh(f"cat /tmp/{name}.out"):
            assert time.monotonic() < deadline, \
                f"hotset {args} did not start: " + vm.sh(
                    f"cat /tmp/{name}.out; grep -E 'MemFree|MemTotal' "
                    "/sys/devices/system/node/node*/meminfo; ps; dmesg | tail -30")
            time.sleep(1)
    pids = {n: int(re.search(r"pid=(\d+)", vm.sh(f"cat /tmp/{n}.out")).group(1))
            for n in ("filler", "turn_a", "turn_b")}
    vm.sh(f"kill -STOP {pids['turn_b']}; "
          f"sh -c 'a={pids['turn_a']} b={pids['turn_b']}; while :; do sleep 20; "
          "kill -STOP $a; kill -CONT $b; t=$a; a=$b; b=$t; done' "
          "> /dev/null 2>&1 & echo $! > /tmp/turns.pid")
    return pids


def stop_churn(vm, pids):
    """Stop the turns and the three processes; each checks its data on exit.
    Returns the number of them that found every page intact."""
    vm.sh("kill $(cat /tmp/turns.pid)")
    for pid in pids.values():
        vm.sh(f"kill -CONT {pid}; kill {pid}")
    deadline = time.monotonic() + 300
    while True:
        done = vm.sh("cat /tmp/filler.out /tmp/turn_a.out /tmp/turn_b.out")
        if done.count("verify=") == len(pids) or time.monotonic() > deadline:
            return done.count("verify=ok")
        time.sleep(1)


def run_mode(mode, categories, programs, timeout, expected):
    # The default tiered VM's shape, larger: run_vmtests.sh reserves 256 MiB
    # of huge pages and KASAN's shadow takes an eighth.
    nodes = default_nodes(fast=1 * GiB, slow=2 * GiB)
    append = "numa_balancing=disable" + (" hplace=off" if mode == "off" else " hplace=on")
    with VM(nodes=nodes, cpus=4, kernel=KERNEL_DEBUG, initrd=INITRD, append=append,
            name=f"selftests-mm-{mode}", boot_timeout=600) as vm:
        if mode == "off":
            vm.sh("echo 0 > /proc/sys/kernel/numa_balancing")
            vm.sh("echo 0 > /sys/kernel/mm/numa/demotion_enabled")
            if vm.run(f"test ! -d {H} || grep -qx 0 {H}/enabled")[0] != 0:
                raise AssertionError("hplace=off did not leave hplace off")
        else:
            churn = start_churn(vm)
            time.sleep(20)
        # THP "always" (the normal guest kernel's e2e tests run "madvise"):
        # the tests meet huge pages wherever they can.
        vm.sh("echo always > /sys/kernel/mm/transparent_hugepage/enabled")
        # No brk randomization (stack, mmap and vDSO stay randomized): the
        # tests are non-PIE, as upstream builds them on x86-64, and x86-64
        # puts such a binary's heap up to 1 GiB above its data, where
        # uffd-unit-tests and uffd-stress map shmem at a fixed 1 GiB hint;
        # one process in 200 found its heap there ("mmap of memfd failed at
        # 0x40000000"; 10 of 2000 static non-PIE processes on the host).
        vm.sh("echo 1 > /proc/sys/kernel/randomize_va_space")
        # Swap, as tenants have it: a zram device (compressed, in guest
        # memory; the guest has no disk), for the tests that swap pages out
        # (cow, khugepaged) and for swap entries where hplace looks.
        vm.sh(f"echo {SWAP} > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null "
              "&& swapon /dev/zram0 && grep -q zram0 /proc/swaps")
        before = vm.vmstat()
        if programs:
            runner = program_runner(programs)
        else:
            runner = "bash ./run_vmtests.sh" + (f" -t '{categories}'" if categories else "")
        t0 = time.monotonic()
        clock = {"start": t0, "seconds": {}}
        # The runner's whole output, as it arrives: the report's evidence, and
        # what to read when a long run dies half-way.
        os.makedirs(LOGS, exist_ok=True)
        log = open(os.path.join(LOGS, f"run-{mode}.log"), "w")

        def timing(line):
            log.write(line + "\n")
            log.flush()
            # Each entry's time, from its banner to its result line.
            if RUNNING.match(line):
                clock["start"] = time.monotonic()
            m = RESULT.match(line)
            if m and not line.startswith("#"):
                spent = time.monotonic() - clock["start"]
                clock["seconds"].setdefault(entry_name(m.group(2).strip()), []).append(spent)
                # A heartbeat: one line per entry, so a run of hours shows
                # where it is (tests/run prints "#   " lines).
                comment(f"[{mode} {time.monotonic() - t0:.0f}s] {line} ({spent:.0f}s)")
        # The runner in the watched cgroup (mode on), its children with it.
        rc, out = vm.run(f"echo $$ > /sys/fs/cgroup/mmtests/cgroup.procs 2>/dev/null; "
                         f"cd {DIR} && {runner}", timeout=timeout, stream=timing)
        tests, summary = parse_run(out)
        # Entries whose only failures are setup steps the kernel may leave
        # undone (their expected "retry:" clause): again, same boot, up to
        # RETRIES times.
        for attempt in range(RETRIES):
            ran = False
            for name, t in list(tests.items()):
                why = t.get("retries", 0) == attempt and retry_reason(t, expected.get(name))
                if not why:
                    continue
                comment(f"[{mode}] {name}: running it again ({attempt + 1} of at most "
                        f"{RETRIES}), its failures were only: {why}")
                marker = f"# retry of {name} after {t['verdict']}: {why}"
                log.write(marker + "\n")
                # On one CPU: MADV_PAGEOUT drains only its own CPU's LRU
                # batch (lru_add_drain()), so a page the program faulted
                # on another CPU before it was moved is not on the LRU yet
                # and is left alone; the busier hplace keeps the CPUs, the
                # more often the scheduler moves it in between.
                _, again = vm.run(f"echo $$ > /sys/fs/cgroup/mmtests/cgroup.procs 2>/dev/null; "
                                  f"cd {DIR} && {program_runner([name], cpu=0)}",
                                  timeout=timeout, stream=timing)
                out += "\n" + marker + "\n" + again
                ran = True
            if not ran:
                break
            tests, summary = parse_run(out)
        took = time.monotonic() - t0
        log.close()
        after = vm.vmstat()
        moved = {c: after.get(c, 0) - before.get(c, 0) for c in COUNTERS}
        if mode == "on":
            moved["background_intact"] = f"{stop_churn(vm, churn)}/{len(churn)}"
        # The kernel's console on the host, not the guest's ring buffer (128
        # KiB, which hours of tests can wrap): every report since boot.
        console = vm.console_text()
        with open(os.path.join(LOGS, f"console-{mode}.log"), "w") as f:
            f.write(console)
        splat = "\n".join(l for l in console.splitlines() if re.search(KERNEL_BUGS, l))
        # Reported, not failed: a test that lost its process to the OOM
        # killer fails by itself; the report says who was killed.
        oom = [l.strip() for l in console.splitlines() if "Killed process" in l]
        # lockdep turns itself off after its first report, or on overflow
        _, locks = vm.run("grep -s 'debug_locks:' /proc/lockdep_stats")
        if locks.split()[-1:] != ["1"]:
            splat += f"\nlockdep is off at the end of the run ({locks.strip() or 'no lockdep_stats'})"
        for name, t in tests.items():
            spent = clock["seconds"].get(re.sub(r" \(\d+\)$", "", name)) or [0]
            t["seconds"] = sum(spent.pop(0) for _ in range(min(len(spent),
                                                               1 + t.get("retries", 0))))
        return {"tests": tests, "summary": summary, "rc": rc, "seconds": took, "moved": moved,
                "splat": [l for l in splat.splitlines() if l.strip()], "raw": out,
                "oom": oom}


def report(results, expected, path):
    names = []
    for r in results.values():
        names += [n for n in r["tests"] if n not in names]
    modes = list(results)
    lines = ["| test | " + " | ".join(f"hplace {m}" for m in modes) + " | expected | seconds |",
             "|---|" + "---|" * (len(modes) + 2)]
    for n in names:
        cells = []
        for m in modes:
            t = results[m]["tests"].get(n)
            if t is None:
                cells.append("–")
                continue
            cell = t["verdict"] + (f" ({t['reason']})" if t["reason"] else "")
            if t.get("retried"):
                cell += (f" on retry {t.get('retries', 1)} (first {t['first_verdict']}: "
                         f"{t['retried'][:80]}; cases merged over the runs)")
            if t["totals"]:
                c = t["totals"]
                cell += f"; subtests {c['pass']} pass, {c['skip']} skip, {c['fail']} fail"
            cells.append(cell)
        e = expected.get(n, ("(not listed)", ""))
        secs = "/".join(f"{results[m]['tests'][n]['seconds']:.0f}" for m in modes
                        if n in results[m]["tests"])
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {e[0]} | {secs} |")
    for m in modes:
        r = results[m]
        lines.append("")
        lines.append(f"hplace {m}: {len(r['tests'])} tests in {r['seconds']:.0f} s; "
                     + ", ".join(f"{k} {'+' if isinstance(v, int) else ''}{v}" for k, v in r["moved"].items()))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def from_logs(mode):
    """A run's result from its saved output (--from-logs): the verdicts
    again, after a change to this script or to the expected list, without
    booting. Times, counters and kernel reports are not in the log."""
    out = open(os.path.join(LOGS, f"run-{mode}.log"), errors="replace").read()
    tests, summary = parse_run(out)
    for t in tests.values():
        t["seconds"] = 0
    return {"tests": tests, "summary": summary, "rc": None, "seconds": 0,
            "moved": {}, "splat": [], "raw": out, "oom": [], "from_logs": True}


def check_entries(mode, r, expected, programs, categories):
    """Each entry against the expected list: its verdict; for a skip, its
    reason; for a pass, that no subtest failed, that not all of them
    skipped, and that every skipped subtest skipped for a reason the list
    allows ("skips: why; why"). Counts of skips are not compared: how many cases
    meet a missing THP or huge page depends on free memory at the moment."""
    for name, t in r["tests"].items():
        e = expected.get(name)
        got = t["verdict"] + (f" # {t['reason']}" if t["verdict"] == "skip" else "")
        nskip, why = sub_skips(t)
        c = t["totals"] or {}
        if e is None:
            tap(False, f"mm/{name} [{mode}]", f"not in tests/selftests-mm.expected; got {got}"
                + (f"; {nskip} subtests skip: {'; '.join(why)}" if nskip else ""))
            continue
        verdict, reason = e
        allowed, may_fail = pass_allowances(reason) if verdict == "pass" else (set(), set())
        new = [w for w in why if reason_key(w) not in allowed]
        # A retried entry: every run's skips count (a merge keeps one
        # verdict per case) unless the retry clause names them, and no run
        # may skip more cases for a retry reason than a race does (see
        # RETRY_SKIPS_MAX).
        retry_ok = retry_lines(reason) if verdict == "pass" else []
        new += sorted({w for run in t.get("run_skips", []) for w in run
                       if reason_key(w) not in allowed
                       and not is_retry_line(w, retry_ok)} - set(new))
        raced = [sum(1 for w in run if is_retry_line(w, retry_ok))
                 for run in t.get("run_skips", [])]
        failed = failed_subtests(t)
        new_fails = [f for f in failed if f not in may_fail]
        if verdict == "flaky":
            tap(t["verdict"] != "skip", f"mm/{name} [{mode}]",
                f"known flaky ({reason}): {t['verdict']} this time")
        elif verdict != t["verdict"]:
            tap(False, f"mm/{name} [{mode}]", f"expected {verdict}, got {got}")
            comment(evidence(t))
        elif verdict == "fail" and reason_key(reason) not in reason_key(t.get("output", "")):
            tap(False, f"mm/{name} [{mode}]",
                f"failed, but not as expected: {reason!r} is not in its output")
        elif verdict == "skip" and reason_key(reason) not in reason_key(t["reason"]):
            tap(False, f"mm/{name} [{mode}]",
                f"skipped for another reason: expected {reason!r}, got {t['reason']!r}")
        elif verdict == "pass" and c.get("fail") and (new_fails or len(failed) != c["fail"]):
            tap(False, f"mm/{name} [{mode}]", f"exit 0, but {c['fail']} subtests failed"
                + (f": {'; '.join(new_fails)}" if new_fails else
                   f", {len(failed)} of them by name"))
            comment(evidence(t))
        elif verdict == "pass" and (allowed or may_fail) and not c.get("pass"):
            # An entry with allowances has subtests; none seen means the
            # program did not run them (test_hmm.sh exits 0 regardless).
            tap(False, f"mm/{name} [{mode}]", f"exit 0, but no subtest passed ({c or 'no TAP'})")
            comment(evidence(t))
        elif verdict == "pass" and c.get("skip") and not c.get("pass"):
            tap(False, f"mm/{name} [{mode}]", f"exit 0, but every subtest skipped ({c})")
        elif verdict == "pass" and new:
            unresolved = [w for w in new if is_retry_line(w, retry_ok)]
            tap(False, f"mm/{name} [{mode}]",
                f"subtests skipped for a reason not in the expected list: "
                f"{'; '.join(w for w in new if w not in unresolved)}" if len(unresolved) < len(new)
                else f"subtests skipped for a retry reason in every run: {'; '.join(unresolved)}")
        elif max(raced, default=0) > RETRY_SKIPS_MAX:
            tap(False, f"mm/{name} [{mode}]",
                f"its runs skipped {raced} cases for a retry reason: more than "
                f"{RETRY_SKIPS_MAX} in one run is a pattern, not a race")
        else:
            for f in sorted(may_fail - set(failed)):
                comment(f"mm/{name} [{mode}]: {f} passed, though allowed to fail "
                        "(tests/selftests-mm.expected may drop it)")
            tap(True, f"mm/{name} [{mode}]",
                t["reason"] if verdict != "pass" else
                (f"{c.get('pass', 0)} subtests pass, {nskip} skip" if c else "")
                + (f", {len(failed)} fail as expected" if failed else "")
                + (f"; passed on retry {t.get('retries', 1)} (cases merged over the runs, "
                   f"skipped for a retry reason per run: {raced}), first run "
                   f"{t['first_verdict']}: {t['retried']}" if t.get("retried") else ""))
    # What should have run and did not report: the gate's programs; in a
    # run of every category, every entry the expected list does not call
    # absent (run_vmtests.sh drops some silently: `[ -x prog ]` guards).
    should = list(programs)
    if not programs and not categories:
        should = [n for n, (v, _) in expected.items() if v != "absent"
                  and not (n in GATE and n not in RUN_VMTESTS_GATE)]
    for name in should:
        if name not in r["tests"]:
            tap(False, f"mm/{name} [{mode}]", "did not run (no result line)")
    if not programs:
        # run_vmtests.sh's own count and status must agree with the lines:
        # it exits with the status of its last entry that did not pass.
        entries = [t for t in r["tests"].values() if not t["reason"].startswith("left out")]
        first = [t.get("first_verdict", t["verdict"]) for t in entries]
        count = {v: sum(1 for f in first if f == v) for v in ("pass", "skip", "fail")}
        status = 0
        for f in first:
            status = {"pass": status, "skip": 4, "fail": 1}[f]
        ok = r["summary"] == count and r["rc"] in (None, status)
        tap(ok, f"hplace {mode}: run_vmtests.sh's SUMMARY and exit status agree with its entries",
            f"SUMMARY {r['summary']}, entries {count}, exit {r['rc']} (expected {status})")


def compare_modes(off, on, expected):
    """A test that passes with hplace off must not fail with it on (nor the
    other way round): every entry, and every subtest that ran in both
    modes (by number and name, numbers within the name aside). Subtests
    that skipped in one mode only are listed, not failed: a THP or huge
    page that one boot could not get is no verdict on hplace."""
    diff, skipped = [], []
    for name in sorted(set(off) | set(on)):
        if name not in off or name not in on:
            diff.append(f"{name}: ran only with hplace {'on' if name in on else 'off'}")
            continue
        if expected.get(name, ("",))[0] == "flaky":
            continue
        if off[name]["verdict"] != on[name]["verdict"]:
            diff.append(f"{name}: off {off[name]['verdict']}, on {on[name]['verdict']}")
        case = case_identity(off[name]["subtests"], on[name]["subtests"])
        so = {subtest_key(case(k)): v for k, v in off[name]["subtests"].items()}
        sn = {subtest_key(case(k)): v for k, v in on[name]["subtests"].items()}
        e = expected.get(name, ("", ""))
        may_fail = {reason_key(x) for x in pass_allowances(e[1])[1]} if e[0] == "pass" else set()
        for s in list(so) + [x for x in sn if x not in so]:
            vo, vn = so.get(s, ("absent", ""))[0], sn.get(s, ("absent", ""))[0]
            if vo == vn:
                continue
            # An upstream failure the list allows ("fails:") may pass with
            # hplace on (it depends on a THP the full fast node left none
            # of, say); passing off and failing on is a difference.
            if case_name(s) in may_fail and (vo, vn) == ("fail", "pass"):
                skipped.append(f"{name}: {s}: off {vo}, on {vn} (allowed to fail)")
                continue
            if "skip" in (vo, vn) and "fail" not in (vo, vn):
                skipped.append(f"{name}: {s}: off {vo}, on {vn}")
            else:
                diff.append(f"{name}: {s}: off {vo}, on {vn}")
    for line in skipped:
        comment(f"skipped in one mode only: {line}")
    tap(not diff, "every entry and every subtest that ran in both modes has the same "
        "verdict with hplace off and on",
        "; ".join(diff[:5]) + (f" (+{len(diff) - 5} more)" if len(diff) > 5 else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", default=os.environ.get("HTIER_FULL") == "1",
                    help="every category, hplace off and on (default: the gate's selection, on)")
    ap.add_argument("--modes", help="comma-separated: off,on")
    ap.add_argument("--categories", help="run_vmtests.sh -t categories")
    ap.add_argument("--programs", help="programs with their arguments, ';'-separated, run "
                    "as the gate runs its own (default: the gate's); e.g. "
                    "'uffd-unit-tests -f events; cow'")
    ap.add_argument("--logs", help="where the runs' output goes (default: "
                    "build/selftests-mm/gate, full or categories)")
    ap.add_argument("--from-logs", action="store_true",
                    help="judge the runs saved in the logs directory (run-MODE.log) "
                    "again, without booting")
    ap.add_argument("--report", help="the table (default: report.md in the logs directory)")
    args = ap.parse_args()
    modes = (args.modes or ("off,on" if args.full else "on")).split(",")
    # --categories: run_vmtests.sh -t; --full: run_vmtests.sh, every
    # category; otherwise the gate's programs.
    categories = args.categories
    programs = () if (args.full or categories) else GATE
    if args.programs:
        programs = tuple(p.strip() for p in args.programs.split(";") if p.strip())
    global LOGS
    LOGS = args.logs or os.path.join(
        BUILD, "selftests-mm", "gate" if programs else "categories" if categories else "full")
    args.report = args.report or os.path.join(LOGS, "report.md")
    for f in () if args.from_logs else (KERNEL_DEBUG, INITRD):
        if not os.path.exists(f):
            print(f"not ok 1 - selftests-mm # {f} is missing (make kernel-debug selftests-mm-initramfs)")
            return 1
    expected = load_expected()
    # Per mode; two of them, plus boots, fit tests/suites.txt's 18000 s.
    timeout = 2400 if programs else 7200

    results = {}
    for mode in modes:
        try:
            results[mode] = (from_logs(mode) if args.from_logs else
                             run_mode(mode, categories, programs, timeout, expected))
        except Exception as e:  # a boot or a runner that hung: one failure, with why
            # The whole message as comments (tests/run shows those, and only
            # the first line of a TAP note): why, the serial tail, QEMU's
            # stderr.
            why = f"{type(e).__name__}: {e}"
            comment(why)
            tap(False, f"mm selftests, hplace {mode}", why.splitlines()[0][:300])
            return 1
        r = results[mode]
        comment(f"hplace {mode}: {len(r['tests'])} tests in {r['seconds']:.0f} s; "
                + ", ".join(f"{k} {'+' if isinstance(v, int) else ''}{v}" for k, v in r["moved"].items()))
        for line in r["oom"]:
            comment(f"OOM killer, hplace {mode}: {line}")
        tap(len(r["tests"]) > 0, f"hplace {mode}: run_vmtests.sh ran tests",
            "" if r["tests"] else r["raw"][-300:].replace("\n", " | "))
        if not r.get("from_logs"):
            tap(not r["splat"], f"hplace {mode}: no WARNING, BUG, KASAN or lockdep report",
                "; ".join(r["splat"][:3]))
            if mode == "on":
                m = r["moved"]
                tap(all(m[c] > 0 for c in COUNTERS) and m["background_intact"] == "3/3",
                    "hplace on: pages were promoted, demoted and exchanged during the run, "
                    "the background data intact",
                    ", ".join(f"{k} {'+' if isinstance(v, int) else ''}{v}" for k, v in m.items()))
        check_entries(mode, r, expected, programs, categories)
    if len(results) == 2:
        compare_modes(results["off"]["tests"], results["on"]["tests"], expected)
    for line in report(results, expected, args.report):
        comment(line)
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
