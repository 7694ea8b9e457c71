"""hplace with a full fast tier, on hot sets of shapes it was not tuned for
(issue 12): the seeded gups-hot family, and a cold tenant that fills the
fast node before a hot one starts.

The default tiered VM (fast node 0, 512 MiB; slow node 1, 1536 MiB), the
accessed-bit sampler under TCG, default knobs. gups-hot -F SEED draws the
shape from the seed: 1-16 hot regions at random places, 64-256 MiB in all,
70-95 % of the accesses, 0-100 % writes; the rest of the accesses are
uniform over the 1 GiB mapping, which is first-touched on the slow node.
hplace fills the fast node (the hot set, then the warmest pages), so once
the hot set moves, whatever it promotes comes by exchange or after a
demotion: the state in which the engine used to stop trading (25 % of the
hot set on the fast node 60 s after the move, or none). Residency of the
hot regions is read with pagenodes; the workloads verify their data at
the end.

The bounds are the mechanism's, looser than the bench targets (the bench,
bench/placement/run, scores the same workloads against Linux tiering and
DAMOS): 90 % of the hot set on the fast node before the move, and again
within SETTLE_S after it. make check runs two seeds of the family and one
of the two-tenant case; make check-full six and three.
"""

import os
import time

from gupshot import hot_set, start as start_gups, stop, wait_verified
from hplacetest import D, note, prepare, residency
from htiervm import VM

FULL = os.environ.get("HTIER_FULL") == "1"
FAMILY_SEEDS = (1, 2, 3, 4, 5, 6) if FULL else (1, 2)
TENANT_SEEDS = (1, 2, 3) if FULL else (1,)
MOVE_AT = 35      # s after ready: the hot set moves once
SETTLE_S = 45     # to 90 % after the move (the bench's target is 30 s)
TENANT_S = 60     # the bound for the hot tenant
POLL_S = 3


def share_on_fast(vm, pid, ranges):
    r = residency(vm, pid, ranges)
    return sum(a for a, _ in r) / max(sum(a + b for a, b in r), 1)


def exchanged(vm):
    return vm.vmstat()["hplace_exchange"]


def family_seed(seed):
    """(s to 90 % after ready, s to 90 % after the move) for one seed."""
    with VM(name=f"hplace-full-{seed}") as vm:
        prepare(vm)
        g = start_gups(vm, f"-m 1024 -n 1 -F {seed} -s {seed} -M {MOVE_AT} "
                           f"-d {MOVE_AT + SETTLE_S + 30}")
        t0 = vm.uptime()
        note(f"seed {seed}: {g['shape']}")
        before = after = t_move = x_move = None
        while True:
            moved, ranges = hot_set(vm, g)
            share = share_on_fast(vm, g["pid"], ranges)
            t = vm.uptime() - t0
            note(f"  t={t:5.1f}s hot on fast {share:6.1%} "
                 f"exchanged {exchanged(vm)}")
            if moved and t_move is None:
                t_move, x_move = t, exchanged(vm)
            if not moved and share >= 0.9 and before is None:
                before = t
            if moved and share >= 0.9:
                after = t - t_move
                break
            if moved and t - t_move > SETTLE_S:
                break
            assert t < MOVE_AT + 60, f"seed {seed}: the hot set did not move"
            time.sleep(POLL_S)
        assert before is not None, \
            f"seed {seed}: hot set never 90% on the fast node before the move"
        assert after is not None, \
            f"seed {seed}: hot set {share:.1%} on the fast node {SETTLE_S}s " \
            f"after the move; ranges:\n{vm.sh(f'head -40 {D}/ranges')}"
        note(f"seed {seed}: 90% {before:.0f}s after ready, {after:.0f}s after "
             f"the move ({exchanged(vm) - x_move} pairs exchanged since)")
        stop(vm, g)
        wait_verified(vm, g)
        assert not vm.dmesg_problems(), vm.dmesg_problems()
        return before, after


def test_scattered_hot_set_moves_on_a_full_fast_tier():
    """Seeds of the gups-hot family: the hot set reaches the fast node,
    moves, and reaches it again with the fast tier full."""
    res = [family_seed(s) for s in FAMILY_SEEDS]
    note("to 90% before/after the move: " +
         ", ".join(f"seed {s} {b:.0f}s/{a:.0f}s"
                   for s, (b, a) in zip(FAMILY_SEEDS, res)))


def tenant_seed(seed):
    """s until the hot tenant's hot set is 90 % on the fast node."""
    with VM(name=f"hplace-tenants-{seed}") as vm:
        prepare(vm)
        # The bench's two-tenant workload: the cold tenant first, on node 0.
        cold = start_gups(vm, f"-m 400 -n 0 -p 0 -q 2000 -d 600 -s {seed + 1}",
                          name="cold")
        whole = [(cold["base"], cold["base"] + cold["size"])]
        cold_fast0 = residency(vm, cold["pid"], whole)[0][0]
        hot = start_gups(vm, f"-m 512 -r 4 -H 128 -p 95 -n 1 -d 600 -s {seed}",
                         name="hot")
        t0 = vm.uptime()
        reached = None
        while reached is None and vm.uptime() - t0 < TENANT_S:
            share = share_on_fast(vm, hot["pid"], hot_set(vm, hot)[1])
            note(f"  t={vm.uptime() - t0:5.1f}s hot tenant's hot set on fast "
                 f"{share:6.1%} exchanged {exchanged(vm)}")
            if share >= 0.9:
                reached = vm.uptime() - t0
            else:
                time.sleep(POLL_S)
        cold_fast1 = residency(vm, cold["pid"], whole)[0][0]
        assert reached is not None, \
            f"seed {seed}: hot tenant's hot set {share:.1%} on the fast node " \
            f"after {TENANT_S}s"
        assert cold_fast1 < cold_fast0, (cold_fast0, cold_fast1)
        note(f"seed {seed}: hot tenant's hot set 90% on the fast node after "
             f"{reached:.0f}s; the cold tenant's pages there "
             f"{cold_fast0 * 4 // 1024} -> {cold_fast1 * 4 // 1024} MiB")
        for g in (hot, cold):
            stop(vm, g)
            wait_verified(vm, g)
        assert not vm.dmesg_problems(), vm.dmesg_problems()
        return reached


def test_hot_tenant_displaces_a_cold_one():
    """A mostly cold tenant fills the fast node, then a hot tenant starts on
    the slow node: its hot set reaches the fast node within TENANT_S, the
    cold tenant's pages make room, and both tenants' data verify."""
    res = [tenant_seed(s) for s in TENANT_SEEDS]
    note("hot tenant to 90%: " +
         ", ".join(f"seed {s} {t:.0f}s" for s, t in zip(TENANT_SEEDS, res)))
