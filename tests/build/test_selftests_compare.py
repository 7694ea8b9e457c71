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


def cow_run(n, skip=None, bail=None, fail=None, other=None):
    """The runner's lines for one run of cow with @n cases: case @skip
    (an int, or several) skipped for MADV_PAGEOUT, case @other skipped for a
    reason no clause names, case @fail failed, or a Bail out at @bail."""
    out = ["# running ./cow", "# TAP version 13", f"# 1..{n}"]
    skips = set(skip if isinstance(skip, (list, tuple)) else [skip]) - {None}
    for i in range(1, n + 1):
        if i == other:
            out.append(f"# ok {i} # SKIP Something new went wrong")
            continue
        if i == bail:
            # As kselftest prints it: ksft_exit_fail_msg()'s message has no
            # newline, so the plan check's line runs on after it.
            passed = i - 1 - len([x for x in skips | {other} if x and x < i])
            return out + ["# Bail out! read and ioctl return unmatched results for swap: 0 1"
                          f"# Planned tests != run tests ({n} != {i - 1})",
                          f"# # Totals: pass:{passed} fail:0 xfail:0 xpass:0 "
                          f"skip:{i - 1 - passed} error:0",
                          "not ok 1 cow # exit=1"]
        out.append(f"# ok {i} # SKIP MADV_PAGEOUT did not work, is swap enabled?" if i in skips
                   else f"# {'not ok' if i == fail else 'ok'} {i} No leak from parent into child")
    nskip, fails = len(skips) + int(other is not None), int(fail is not None)
    return out + [f"# # Totals: pass:{n - nskip - fails} fail:{fails} xfail:0 xpass:0 "
                  f"skip:{nskip} error:0", "not ok 1 cow # exit=1" if fail else "ok 1 cow"]


def judge_cow(*runs):
    """cow's entry after @runs (the first, then its retries), whether it
    earns another run, and the gate's verdict on it. Each run after the
    first must be one run_mode() would make."""
    expected = smm.load_expected()
    lines = []
    for i, run in enumerate(runs):
        if i:
            tests, _ = smm.parse_run("\n".join(lines))
            why = smm.retry_reason(tests["cow"], expected["cow"])
            assert why and tests["cow"].get("retries", 0) < smm.RETRIES, \
                f"run {i + 1} would not be made ({why})"
            lines.append(f"# retry of cow after {tests['cow']['verdict']}: {why}")
        lines += run
    tests, _ = smm.parse_run("\n".join(lines))
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
    assert "retry reason in every run" in out, out
    t, again, out = judge_cow(cow_run(80, skip=50), cow_run(80, fail=10))
    assert again is None and out.startswith("not ok") and t["subtests"]["10 No leak from "
                                                                     "parent into child"][0] == "fail"
    t, again, out = judge_cow(cow_run(80, fail=10))
    assert again is None and out.startswith("not ok"), out
    t, again, out = judge_cow(cow_run(80, skip=50), cow_run(80, bail=40))
    assert again and "Bail out" in again and out.startswith("not ok"), out
    t, again, out = judge_cow(cow_run(80, skip=50, fail=10))
    assert again is None and out.startswith("not ok"), out


def test_a_merge_forgives_only_retry_skips():
    """A case another run passed still fails the entry if this run skipped
    it for a reason no clause names, whichever run it was; and a run that
    skips many cases for a retry reason is a pattern, not a race."""
    t, again, out = judge_cow(cow_run(80, skip=50), cow_run(80, other=7))
    assert again is None and out.startswith("not ok") and "Something new" in out, out
    t, again, out = judge_cow(cow_run(80, skip=50, other=7))
    assert again is None and out.startswith("not ok") and "Something new" in out, out
    # A Bail out is retried on its failure line alone; the new skip before
    # it must still count after later runs skipped and passed that case.
    t, again, out = judge_cow(cow_run(80, other=7, bail=40), cow_run(80, skip=7), cow_run(80))
    assert out.startswith("not ok") and "Something new" in out, out
    t, again, out = judge_cow(cow_run(80, skip=(5, 15, 25, 35)), cow_run(80))
    assert out.startswith("not ok") and "pattern" in out, out
    t, again, out = judge_cow(cow_run(80, skip=(5, 15, 25)), cow_run(80))
    assert out.startswith("ok") and "[3, 0]" in out, out


def test_a_merge_keeps_cases_that_share_an_ordinal():
    """ksm_functional_tests prints two different "ok 8" (its exec'd child's
    TAP runs into the parent's): merged, both stay, and a failure in an
    earlier run is not outranked by a pass of another case."""
    prev = {"verdict": "pass", "totals": None, "subtests": {
        "8 Pages were unmerged": ("pass", ""), "8 PR_SET_MEMORY_MERGE value is inherited":
        ("pass", ""), "1 A": ("fail", ""), "9": ("skip", "MADV_PAGEOUT did not work")}}
    last = {"verdict": "pass", "totals": None, "subtests": {
        "8 Pages were unmerged": ("pass", ""), "8 PR_SET_MEMORY_MERGE value is inherited":
        ("pass", ""), "1 A": ("pass", ""), "9 case nine": ("pass", "")}}
    m = smm.merge_runs(prev, last)
    assert set(m["subtests"]) == {"8 Pages were unmerged", "1 A", "9 case nine",
                                  "8 PR_SET_MEMORY_MERGE value is inherited"}, m["subtests"]
    assert m["subtests"]["1 A"][0] == "fail" and m["totals"]["fail"] == 1, m
    assert m["run_skips"] == [["MADV_PAGEOUT did not work"], []], m


def test_a_nameless_skip_is_the_case_of_its_ordinal():
    """kselftest prints a skipped case without its name: a case that passes
    off and skips on (a THP one boot could not get) is listed, not failed."""
    ok, out = compare(entry({"50 No leak from parent into child": "pass"}), entry({"50": "skip"}))
    assert ok and "skipped in one mode only" in out and "absent" not in out, out
