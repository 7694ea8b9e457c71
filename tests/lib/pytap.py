#!/usr/bin/env python3
"""Run the test_* functions of one Python test module and print TAP lines.

    pytap.py tests/e2e/test_x.py [name-filter]

A test fails by raising (AssertionError or any other exception); it skips by
raising Skip. Functions with the attribute `full = True` only run when
HTIER_FULL=1 (make check-full). Exit status: 0 if nothing failed.
"""

import importlib.util
import inspect
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


# make check-full (HTIER_FULL=1): tests read it for their long forms.
FULL = os.environ.get("HTIER_FULL") == "1"


class Skip(Exception):
    """Raise to skip a test with a reason."""


def full(fn):
    """Mark a test as part of make check-full only."""
    fn.full = True
    return fn


def main():
    path = sys.argv[1]
    pattern = sys.argv[2] if len(sys.argv) > 2 else ""
    spec = importlib.util.spec_from_file_location(
        os.path.splitext(os.path.basename(path))[0], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tests = [(n, f) for n, f in vars(mod).items()
             if n.startswith("test_") and inspect.isfunction(f)
             and f.__module__ == mod.__name__ and pattern in n]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    failed = 0
    print(f"1..{len(tests)}", flush=True)
    for i, (name, fn) in enumerate(tests, 1):
        if getattr(fn, "full", False) and not FULL:
            print(f"ok {i} - {name} # SKIP check-full only", flush=True)
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            print(f"ok {i} - {name} # SKIP {e}", flush=True)
            continue
        except BaseException as e:  # noqa: B902 -- report everything, keep going
            failed += 1
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            print(f"not ok {i} - {name} # {type(e).__name__}: {first}", flush=True)
            for line in traceback.format_exc().splitlines():
                print(f"#   {line}", flush=True)
            if isinstance(e, KeyboardInterrupt):
                break
            continue
        print(f"ok {i} - {name} # {time.monotonic() - t0:.1f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    # Test modules `import pytap`: make that this very module, so that the
    # Skip they raise is the Skip main() catches.
    sys.modules.setdefault("pytap", sys.modules[__name__])
    sys.exit(main())
