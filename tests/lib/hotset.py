"""Host side of tests/guest/hotset: start it in the guest, move its hot
part, stop it and check its data. Shared by the hplace tests and the demo."""

import re
import time

INFO = re.compile(r"pid=(\d+) base=(0x[0-9a-f]+) size=(\d+) "
                  r"hot_start=(0x[0-9a-f]+) hot_end=(0x[0-9a-f]+)")
SHIFTED = re.compile(r"shifted hot_start=(0x[0-9a-f]+) hot_end=(0x[0-9a-f]+)")


def start(vm, args, name="hs", timeout=300):
    """Start `hotset ARGS` in the background; wait for its info line.

    Returns {"pid", "base", "size", "hot_start", "hot_end", "name"}."""
    vm.sh(f"hotset {args} > /tmp/{name}.out 2>&1 &")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = INFO.search(vm.sh(f"cat /tmp/{name}.out"))
        if m:
            return {"pid": int(m[1]), "base": int(m[2], 16), "size": int(m[3]),
                    "hot_start": int(m[4], 16), "hot_end": int(m[5], 16), "name": name}
        time.sleep(1)
    raise AssertionError(f"hotset did not start: {vm.sh(f'cat /tmp/{name}.out')}")


def shift(vm, hs, timeout=60):
    """Move the hot part (SIGUSR1 -> offset -O); updates and returns hs."""
    vm.sh(f"kill -USR1 {hs['pid']}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = SHIFTED.search(vm.sh(f"cat /tmp/{hs['name']}.out"))
        if m:
            hs["hot_start"], hs["hot_end"] = int(m[1], 16), int(m[2], 16)
            return hs
        time.sleep(0.5)
    raise AssertionError("hotset did not shift")


def stop_and_verify(vm, hs, timeout=300):
    """Stop it (SIGTERM); every page must still hold its checksum."""
    vm.sh(f"kill -TERM {hs['pid']}")
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = vm.sh(f"cat /tmp/{hs['name']}.out")
        if "verify=" in out:
            assert "verify=ok" in out, out
            return out.strip().splitlines()[-1]
        time.sleep(1)
    raise AssertionError(f"hotset did not finish: {out}")


def hot_pages_on(vm, hs, node=0):
    """Pages of its hot part on `node` (tests/guest/pagenodes)."""
    out = vm.sh(f"pagenodes {hs['pid']} {hs['hot_start']:#x} {hs['hot_end']:#x}",
                timeout=300)
    m = re.search(rf"node{node}=(\d+)", out)
    assert m, out
    return int(m[1])
