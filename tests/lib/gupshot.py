"""Drive bench/workloads/gups-hot in a test VM: start it in the background,
read where its hot regions are now, stop it and wait for its verification.
The output format is the one gups-hot.c documents at its top."""

import re
import time

READY = re.compile(r"^event=ready t=", re.M)
PID = re.compile(r"^pid=(\d+) base=0x([0-9a-f]+) size=(\d+)$", re.M)
REGION = re.compile(r"^hot region=\d+ off=(\d+) len=(\d+)$", re.M)
MOVE = re.compile(r"^event=move n=\d+ t=([\d.]+)$", re.M)
SHAPE = re.compile(r"^shape .*$", re.M)
FAILED = re.compile(r"^(gups-hot:|usage:)", re.M)


def output(vm, g):
    return vm.sh(f"cat /tmp/{g['name']}.out")


def start(vm, args, name="gups", timeout=300):
    """Start `gups-hot ARGS`; wait until it is ready (its mapping touched).

    Returns {"name", "pid", "base", "size", "shape", "regions"}."""
    vm.sh(f"gups-hot {args} > /tmp/{name}.out 2>&1 &")
    deadline = time.monotonic() + timeout
    g = {"name": name}
    while time.monotonic() < deadline:
        out = output(vm, g)
        m = PID.search(out)
        if m and READY.search(out):
            shape = SHAPE.search(out)
            g.update(pid=int(m[1]), base=int(m[2], 16), size=int(m[3]),
                     shape=shape[0] if shape else "",
                     regions=len(REGION.findall(out.split("event=ready")[0])))
            return g
        if "verify=" in out or FAILED.search(out):
            break
        time.sleep(0.5)
    raise AssertionError(f"gups-hot did not get ready: {output(vm, g)}")


def hot_set(vm, g):
    """(moves so far, s after ready of the last move or None, [(start, end),
    ...] of the hot regions now), from one read of the output.  A move is
    printed line by line: one whose region lines are not all out yet is
    not counted."""
    blocks = output(vm, g).split("event=move")
    if len(blocks) > 1 and len(REGION.findall(blocks[-1])) < g["regions"]:
        blocks.pop()
    last = blocks[-1]
    when = MOVE.search("event=move" + last) if len(blocks) > 1 else None
    return len(blocks) - 1, float(when[1]) if when else None, [
        (g["base"] + int(off), g["base"] + int(off) + int(length))
        for off, length in REGION.findall(last)]


def stop(vm, g):
    """End the measured phase now (SIGTERM); it verifies and exits.  A run
    whose phase already ended has nothing to stop."""
    vm.sh(f"kill -TERM {g['pid']} 2>/dev/null || true")


def wait_verified(vm, g, timeout=300):
    """Wait for the end of the run; its data must verify."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = output(vm, g)
        if "verify=" in out:
            assert "verify=ok" in out, out[-2000:]
            return
        time.sleep(1)
    raise AssertionError(f"gups-hot did not finish: {output(vm, g)[-2000:]}")
