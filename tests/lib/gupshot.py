"""Drive bench/workloads/gups-hot in a test VM: start it in the background,
read where its hot regions are now, wait for its end and its verification.
The output format is the one gups-hot.c documents at its top."""

import re
import time

READY = re.compile(r"^event=ready t=", re.M)
PID = re.compile(r"^pid=(\d+) base=0x([0-9a-f]+) size=(\d+)$", re.M)
REGION = re.compile(r"^hot region=\d+ off=(\d+) len=(\d+)$", re.M)
SHAPE = re.compile(r"^shape .*$", re.M)


def output(vm, g):
    return vm.sh(f"cat /tmp/{g['name']}.out")


def start(vm, args, name="gups", timeout=300):
    """Start `gups-hot ARGS`; wait until it is ready (its mapping touched).

    Returns {"name", "pid", "base", "size", "shape"}."""
    vm.sh(f"gups-hot {args} > /tmp/{name}.out 2>&1 &")
    deadline = time.monotonic() + timeout
    g = {"name": name}
    while time.monotonic() < deadline:
        out = output(vm, g)
        m = PID.search(out)
        if m and READY.search(out):
            shape = SHAPE.search(out)
            g.update(pid=int(m[1]), base=int(m[2], 16), size=int(m[3]),
                     shape=shape[0] if shape else "")
            return g
        if "verify=" in out:
            break
        time.sleep(0.5)
    raise AssertionError(f"gups-hot did not get ready: {output(vm, g)}")


def hot_set(vm, g):
    """(moves so far, [(start, end), ...] of the hot regions now), from one
    read of the output, so that the two agree."""
    out = output(vm, g)
    last = out.split("event=move")[-1]
    return out.count("event=move"), [
        (g["base"] + int(off), g["base"] + int(off) + int(length))
        for off, length in REGION.findall(last)]


def stop(vm, g):
    """End the measured phase now (SIGTERM); it verifies and exits."""
    vm.sh(f"kill -TERM {g['pid']}")


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
