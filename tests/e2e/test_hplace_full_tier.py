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
within SETTLE_S after it. Each seed is a test of its own; make check runs
seed 1 of each (seed 1 of the family draws several scattered regions),
make check-full all of them (70 s each).
"""

import time

from gupshot import hot_set, start as start_gups, stop, wait_verified
from hplacetest import D, note, prepare, residency
from htiervm import VM

FAMILY_SEEDS = (1, 2, 3, 4, 5, 6)    # 1 in make check
TENANT_SEEDS = (1, 2, 3)             # 1 in make check
MOVE_AT = 45      # s after ready: the hot set moves once (7-20 s to 90 % seen)
SETTLE_S = 45     # to 90 % after the move (the bench's target is 30 s)
TENANT_S = 60     # the bound for the hot tenant
COLD_GIVES_MIB = 32  # of its fast pages, at least (the hot set needs more
                     # room than the fast node has free)
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
            moved, moved_at, ranges = hot_set(vm, g)
            share = share_on_fast(vm, g["pid"], ranges)
            t, x = vm.uptime() - t0, exchanged(vm)
            note(f"  t={t:5.1f}s hot on fast {share:6.1%} exchanged {x}")
            if moved and t_move is None:
                # gups-hot's own clock (s after ready), not the poll's.
                t_move, x_move = moved_at, x
            if not moved and share >= 0.9 and before is None:
                before = t
            if moved and share >= 0.9:
                after = t - t_move
                break
            if moved and t - t_move > SETTLE_S:
                break
            assert moved or t < MOVE_AT + 60, f"seed {seed}: the hot set did not move"
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


def tenant_seed(seed):
    """s until the hot tenant's hot set is 90 % on the fast node.

    As the bench's two-tenant workload, but the hot tenant maps 1 GiB, twice
    the fast node: however warm the rest of it is, it cannot all be there,
    so a hot set on the fast node was told apart from the rest (in the
    bench's 512 MiB version, filling the fast node with the whole tenant
    would do)."""
    with VM(name=f"hplace-tenants-{seed}") as vm:
        prepare(vm)
        cold = start_gups(vm, f"-m 400 -n 0 -p 0 -q 2000 -d 600 -s {seed + 1}",
                          name="cold")
        cold_map = [(cold["base"], cold["base"] + cold["size"])]
        cold_fast0 = residency(vm, cold["pid"], cold_map)[0][0]
        hot = start_gups(vm, f"-m 1024 -r 4 -H 128 -p 95 -n 1 -d 600 -s {seed}",
                         name="hot")
        hot_map = [(hot["base"], hot["base"] + hot["size"])]
        t0 = vm.uptime()
        reached = None
        while reached is None and vm.uptime() - t0 < TENANT_S:
            ranges = hot_set(vm, hot)[2]
            share = share_on_fast(vm, hot["pid"], ranges)
            note(f"  t={vm.uptime() - t0:5.1f}s hot tenant's hot set on fast "
                 f"{share:6.1%} exchanged {exchanged(vm)}")
            if share >= 0.9:
                reached = vm.uptime() - t0
            else:
                time.sleep(POLL_S)
        assert reached is not None, \
            f"seed {seed}: hot tenant's hot set {share:.1%} on the fast node " \
            f"after {TENANT_S}s"
        hot_pages = sum(e - s for s, e in ranges) // 4096
        rest = residency(vm, hot["pid"], hot_map)[0][0] - int(share * hot_pages)
        rest_share = rest / (hot["size"] // 4096 - hot_pages)
        cold_fast1 = residency(vm, cold["pid"], cold_map)[0][0]
        note(f"seed {seed}: hot tenant's hot set 90% on the fast node after "
             f"{reached:.0f}s (the rest of it {rest_share:.0%}); the cold "
             f"tenant's pages there {cold_fast0 * 4 // 1024} -> "
             f"{cold_fast1 * 4 // 1024} MiB")
        assert cold_fast0 - cold_fast1 >= COLD_GIVES_MIB * 256, \
            (cold_fast0, cold_fast1)
        for g in (hot, cold):
            stop(vm, g)
            wait_verified(vm, g)
        assert not vm.dmesg_problems(), vm.dmesg_problems()
        return reached


def seed_test(run, seed, in_check, doc):
    """A test function for one seed (check-full only unless `in_check`)."""
    def test():
        run(seed)
    test.__doc__ = doc
    if not in_check:
        test.full = True
    return test


for _s in FAMILY_SEEDS:
    globals()[f"test_gups_family_seed_{_s}_moves_on_a_full_fast_tier"] = seed_test(
        family_seed, _s, _s == 1, f"""gups-hot family seed {_s}: the hot set reaches the fast
        node, moves, and reaches it again with the fast tier full.""")
for _s in TENANT_SEEDS:
    globals()[f"test_hot_tenant_seed_{_s}_displaces_a_cold_one"] = seed_test(
        tenant_seed, _s, _s == 1, f"""Two tenants, seed {_s}: a mostly cold tenant fills the
        fast node, then a hot tenant larger than it starts on the slow node:
        its hot set, and not the rest of it, reaches the fast node within
        TENANT_S, the cold tenant's pages make room, both verify.""")
