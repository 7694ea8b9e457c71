"""tests/selftests-mm.py's comparison of the two modes, on canned results:
repeated subtest names stay apart by their ordinals, a measurement in a
name is no difference, and an upstream failure the expected list allows
may pass with hplace on but not fail with it on after passing off; and
which entries earn one more run, and how the runs of a retried entry
add up."""

import importlib.util
import io
import os
import sys
from contextlib import redirect_stdout

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
_spec = importlib.util.spec_from_file_location("selftests_mm",
                                               os.path.join(TOP, "tests", "selftests-mm.py"))
smm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smm)


def entry(subs, verdict="pass"):
    return {"verdict": verdict, "subtests": {k: (v, "") for k, v in subs.items()}}


def compare(off, on, expected=None):
    """(passed, output) of compare_modes on one entry "t"."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        smm.compare_modes({"t": off}, {"t": on}, expected or {})
    out = buf.getvalue()
    return out.startswith("ok") or "\nok " in out and "not ok" not in out, out


def test_repeated_names_keep_their_ordinals():
    """cow names many subtests alike: a difference in the first of two
    equal names is found, whatever the second one says."""
    off = entry({"1 Basic COW (16 kB)": "pass", "2 Basic COW (16 kB)": "pass"})
    on = entry({"1 Basic COW (16 kB)": "fail", "2 Basic COW (16 kB)": "pass"})
    ok, out = compare(off, on)
    assert not ok and "1 Basic COW (N kB): off pass, on fail" in out, out


def test_measurements_in_names_are_no_difference():
    off = entry({"3 Extra pages 140 (0.3%)": "pass", "2:4 sizes 2048 kB": "pass"})
    on = entry({"3 Extra pages 152 (0.4%)": "pass", "2:4 sizes 4096 kB": "pass"})
    ok, out = compare(off, on)
    assert ok, out


def test_allowed_failure_only_from_fail_to_pass():
    expected = {"t": ("pass", "fails: exclusive (THP tails)")}
    off = entry({"7 exclusive": "fail"})
    on = entry({"7 exclusive": "pass"})
    ok, out = compare(off, on, expected)
    assert ok and "allowed to fail" in out, out
    ok, out = compare(on, off, expected)      # passed off, failed on
    assert not ok and "7 exclusive: off pass, on fail" in out, out


def test_skip_in_one_mode_is_listed_not_failed():
    ok, out = compare(entry({"1 thp": "pass"}), entry({"1 thp": "skip"}))
    assert ok and "skipped in one mode only" in out, out


def test_pass_with_a_retry_skip_runs_once_more():
    """cow passes but skips a case because MADV_PAGEOUT left a page that
    migration held: named by the retry clause, that earns one more run; a
    skip neither clause names, or a skip the skips clause allows, does not."""
    expected = ("pass", "skips: need more free huge pages | "
                "retry: MADV_PAGEOUT did not work (pages held by migration)")

    def cow(*reasons):
        t = {"verdict": "pass", "totals": {"pass": 5, "skip": len(reasons)},
             "subtests": {f"{i} case": ("skip", r) for i, r in enumerate(reasons)}}
        t["subtests"]["9 other"] = ("pass", "")
        return t

    why = smm.retry_reason(cow("MADV_PAGEOUT did not work, is swap enabled?"), expected)
    assert why and "MADV_PAGEOUT did not work" in why, why
    assert smm.retry_reason(cow("need more free huge pages"), expected) is None
    assert smm.retry_reason(cow("MADV_PAGEOUT did not work, is swap enabled?",
                                "something else"), expected) is None
    assert smm.retry_reason(cow(), expected) is None
    failing = cow("MADV_PAGEOUT did not work, is swap enabled?")
    failing["subtests"]["9 other"] = ("fail", "")
    assert smm.retry_reason(failing, expected) is None


def cow_run(n, skip=None, bail=None, fail=None):
    """The runner's lines for one run of cow with @n cases: case @skip
    skipped for MADV_PAGEOUT, case @fail failed, or a Bail out at @bail."""
    out = ["# running ./cow", "# TAP version 13", f"# 1..{n}"]
    for i in range(1, n + 1):
        if i == bail:
            return out + ["# Bail out! read and ioctl return unmatched results for swap: 0 1"
                          "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:0 error:0",
                          "not ok 1 cow # exit=1"]
        out.append(f"# ok {i} # SKIP MADV_PAGEOUT did not work, is swap enabled?" if i == skip
                   else f"# {'not ok' if i == fail else 'ok'} {i} No leak from parent into child")
    skips, fails = int(skip is not None), int(fail is not None)
    return out + [f"# # Totals: pass:{n - skips - fails} fail:{fails} xfail:0 xpass:0 "
                  f"skip:{skips} error:0", "not ok 1 cow # exit=1" if fail else "ok 1 cow"]


def judge_cow(*runs):
    """cow's entry after @runs (the first, then its retries), whether it
    earns another run, and the gate's verdict on it."""
    lines = []
    for i, run in enumerate(runs):
        lines += ([f"# retry of cow after pass: {i}"] if i else []) + run
    tests, _ = smm.parse_run("\n".join(lines))
    expected = smm.load_expected()
    buf = io.StringIO()
    with redirect_stdout(buf):
        smm.check_entries("on", {"tests": tests}, expected, ["cow"], None)
    return tests["cow"], smm.retry_reason(tests["cow"], expected["cow"]), buf.getvalue()


def test_retried_cases_count_once_any_run_passed_them():
    """Each run of cow leaves another case untested (a skip for the retry
    clause, or a Bail out that ends the program): a case passes once a run
    passed it; one that no run passed earns another run or fails the gate;
    a real failure in any run fails it, and the last run's verdict stands."""
    t, again, out = judge_cow(cow_run(80, skip=50), cow_run(80, bail=30), cow_run(80, skip=60))
    assert again is None and out.startswith("ok") and t["totals"]["pass"] == 80, out
    t, again, out = judge_cow(cow_run(80, bail=30), cow_run(80))
    assert again is None and out.startswith("ok"), out
    t, again, out = judge_cow(cow_run(80, skip=50), cow_run(80, skip=50))
    assert again and "MADV_PAGEOUT" in again and out.startswith("not ok"), out
    t, again, out = judge_cow(cow_run(80, skip=50), cow_run(80, fail=10))
    assert again is None and out.startswith("not ok") and t["subtests"]["10 No leak from "
                                                                     "parent into child"][0] == "fail"
    t, again, out = judge_cow(cow_run(80, fail=10), cow_run(80))
    assert t["subtests"]["10 No leak from parent into child"][0] == "fail", t["subtests"]
    t, again, out = judge_cow(cow_run(80, skip=50), cow_run(80, bail=40))
    assert again and "Bail out" in again and out.startswith("not ok"), out
    t, again, out = judge_cow(cow_run(80, skip=50, fail=10))
    assert again is None and out.startswith("not ok"), out
