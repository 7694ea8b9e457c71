#!/usr/bin/env python3
"""Run the kernel's KUnit suites inside the test VM and report each case.

Boots the default tiered VM with kunit.enable=1 (the guest config keeps KUnit
built in but off by default), waits for the agent (KUnit runs before init),
and turns the KTAP output in the serial log into one TAP line per test case:
`ok N - suite.case`. Kernel warnings logged while the suites ran fail the run.
Every suite our sources define (guest-mm/, hballoon/) must report: a suite
that did not run (a Kconfig symbol lost, a built-in KUnit disabled, a boot
that never reached it) fails by name instead of passing silently.
"""

import fnmatch
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from htiervm import VM, VMError  # noqa: E402

RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+) (\S+)(?:\s*#\s*(.*))?$")
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = re.compile(r"struct kunit_suite\s+\w+\s*=\s*\{[^}]*?\.name\s*=\s*\"([^\"]+)\"", re.S)


def defined_suites(dirs=("guest-mm", "hballoon")):
    """The KUnit suites our sources define, by name."""
    names = set()
    for d in dirs:
        for root, _, files in os.walk(os.path.join(TOP, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    with open(os.path.join(root, f), errors="replace") as fh:
                        names.update(SUITE.findall(fh.read()))
    return names


def parse_ktap(lines):
    """[(suite, case, ok, directive)] from KTAP lines (printk prefix stripped).

    A "# Subtest: X" header opens X one level deeper; results at that depth
    are X's cases; the result one level up closes X (a parameterised case
    closes into its suite as one case; a top-level suite that reported no case,
    e.g. because its init failed, becomes a case of its own).
    """
    cases, stack = [], []  # stack of (indent of the subtest's lines, name)
    for raw in lines:
        line = re.sub(r"^\[\s*\d+\.\d+\]\s?", "", raw)
        m = re.match(r"^(\s*)# Subtest: (\S+)", line)
        if m:
            stack.append((len(m.group(1)), m.group(2)))
            continue
        m = RESULT.match(line)
        if not m or not stack:
            continue
        indent, ok, name = len(m.group(1)), m.group(2) == "ok", m.group(4)
        directive = m.group(5) or ""
        if indent < stack[-1][0]:
            closed = stack.pop()[1]
            if stack:
                cases.append((stack[-1][1], name, ok, directive))
            elif not any(c[0] == closed for c in cases):
                cases.append((closed, "(suite)", ok, directive))
        elif indent == stack[-1][0]:
            cases.append((stack[-1][1], name, ok, directive))
    return cases


def failure_diagnostics(log, case):
    """The lines case @case logged since the previous result line: the
    failed expectation, its values and file:line, printed with the case's
    "not ok" (the TAP line alone does not say what failed)."""
    for i, line in enumerate(log):
        if re.search(rf"\bnot ok \d+ {re.escape(case)}\b", line):
            lines = []
            for prev in reversed(log[max(0, i - 40):i]):
                if re.search(r"\b(ok|not ok) \d+ ", prev):
                    break
                lines.append(re.sub(r"^\[[^]]*\]\s*", "", prev).strip())
            return [t for t in reversed(lines) if t]
    return []


def main():
    glob = os.environ.get("HTIER_KUNIT_GLOB", "")
    append = "kunit.enable=1" + (f" kunit.filter_glob={glob}" if glob else "")
    try:
        with VM(name="kunit", append=append) as vm:
            log = vm.sh("dmesg", timeout=60).splitlines()
            problems = vm.dmesg_problems()
    except VMError as e:
        print("1..1\nnot ok 1 - kunit boot # " + str(e).splitlines()[0])
        for line in str(e).splitlines():
            print("#   " + line)
        return 1
    cases = parse_ktap(log)
    # kunit.filter_glob is "suite[.case]": the suites it selects must run.
    wanted = sorted(n for n in defined_suites()
                    if not glob or fnmatch.fnmatchcase(n, glob.split(".")[0]))
    ran = {c[0] for c in cases}
    results = []  # (ok, name, note)
    for suite, case, ok, directive in cases:
        skip = directive.upper().startswith("SKIP")
        results.append((ok or skip, f"{suite}.{case}", directive))
    if not wanted:
        results.append((False, "KUnit suites selected",
                        f"none of our suites matches HTIER_KUNIT_GLOB={glob!r}"))
    for name in wanted:
        if name not in ran:
            results.append((False, name, "the suite did not run (no KTAP result for it "
                            "in the guest's log)"))
    results.append((not problems, "no kernel warnings while KUnit ran",
                    problems[0] if problems else ""))
    print(f"1..{len(results)}")
    for i, (ok, name, note) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}" + (f" # {note}" if note else ""))
    for p in problems[:20]:
        print("#   " + p)
    for ok, name, _ in results:
        if not ok and "." in name:
            for line in failure_diagnostics(log, name.split(".", 1)[1]):
                print("#   " + line)
    failed = sum(1 for ok, _, _ in results if not ok)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
