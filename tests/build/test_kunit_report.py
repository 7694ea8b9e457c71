"""tests/kunit.py reports what the guest's KTAP log says, and a suite that
never ran fails by name instead of passing silently (the runner is fed a
canned log in place of a booted VM)."""

import importlib.util
import io
import os
import sys
from contextlib import redirect_stdout

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
_spec = importlib.util.spec_from_file_location("kunit_runner", os.path.join(TOP, "tests", "kunit.py"))
kunit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kunit)


def ktap(suites):
    """A guest log in which each suite passes one case."""
    lines = ["[    1.000000] KTAP version 1", f"[    1.000000] 1..{len(suites)}"]
    for i, s in enumerate(suites, 1):
        lines += [f"[    1.000000]     # Subtest: {s}", "[    1.000000]     1..1",
                  "[    1.000000]     ok 1 case_a", f"[    1.000000] ok {i} {s}"]
    return "\n".join(lines) + "\n"


def run(log, glob=""):
    class FakeVM:
        def __init__(self, **kw):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def sh(self, *a, **kw):
            return log

        def dmesg_problems(self):
            return []

    saved, kunit.VM = kunit.VM, FakeVM
    os.environ["HTIER_KUNIT_GLOB"] = glob
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            rc = kunit.main()
    finally:
        kunit.VM = saved
        os.environ.pop("HTIER_KUNIT_GLOB")
    return rc, out.getvalue()


def test_every_suite_of_ours_is_found():
    names = kunit.defined_suites()
    assert {"hplace", "page_exchange", "virtio-hballoon"} <= names, names


def test_all_suites_ran_passes():
    rc, out = run(ktap(sorted(kunit.defined_suites())))
    assert rc == 0 and "not ok" not in out, out


def test_a_missing_suite_fails_by_name():
    suites = sorted(kunit.defined_suites())
    rc, out = run(ktap([s for s in suites if s != "page_exchange"]))
    assert rc == 1, out
    assert "not ok" in out and "- page_exchange # the suite did not run" in out, out


def test_no_ktap_at_all_fails():
    rc, out = run("[    0.000000] Linux version 6.12\n")
    assert rc == 1 and out.count("did not run") == len(kunit.defined_suites()), out


def test_a_glob_requires_only_what_it_selects():
    rc, out = run(ktap(["page_exchange"]), glob="page_exchange.*")
    assert rc == 0, out
    rc, out = run(ktap([]), glob="nosuch")
    assert rc == 1 and "none of our suites matches" in out, out
