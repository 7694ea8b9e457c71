"""tests/selftests-mm.py's comparison of the two modes, on canned results:
repeated subtest names stay apart by their ordinals, a measurement in a
name is no difference, and an upstream failure the expected list allows
may pass with hplace on but not fail with it on after passing off; and
which entries earn one more run."""

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
