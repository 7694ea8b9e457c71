"""The bench's oracle (bench/placement/meter.py) against access streams whose
best static placement is known analytically: it must neither reward the
lucky pages of a uniform set (overfitting sampled counts) nor call a working
set that fits the fast node unplaceable because each page is sampled rarely.
Seeded families, several seeds, no VM: runs in a second."""

import os
import random
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "bench", "placement"))
import meter  # noqa: E402

RANGES = meter.node_ranges([512 << 20, 2048 << 20])
EPOCH_MS = 2000


def stream(seed, pages, hot, hot_share, per_epoch, epochs):
    """Epochs of sampled page counts: `hot` pages (scattered, drawn from the
    seed) get `hot_share` of the accesses, the rest is uniform."""
    rng = random.Random(seed)
    base = rng.randrange(0, 1000)
    all_pages = [base + i for i in range(pages)]
    hot_set = rng.sample(all_pages, hot) if hot else []
    hot_lookup = set(hot_set)
    cold_set = [p for p in all_pages if p not in hot_lookup]
    out = []
    for e in range(epochs):
        h = {}
        for _ in range(per_epoch):
            p = (rng.choice(hot_set) if hot_set and rng.random() < hot_share
                 else rng.choice(cold_set))
            h[p] = h.get(p, 0) + 1
        out.append(((e + 1) * EPOCH_MS, h))
    return out


def truth(pages, hot, hot_share, fast):
    """Best static placement's hit ratio for the distribution itself."""
    if fast >= pages:
        return 1.0
    if hot == 0:
        return fast / pages
    if fast <= hot:
        return hot_share * fast / hot
    return hot_share + (1 - hot_share) * (fast - hot) / (pages - hot)


CASES = [
    # pages, hot, hot share, fast pages, samples per epoch
    (20000, 0, 0.0, 30000, 4000),     # fits, each page sampled rarely
    (20000, 0, 0.0, 5000, 4000),      # uniform, a quarter fits
    (20000, 2000, 0.9, 4000, 4000),   # hot set fits with room to spare
    (20000, 4000, 0.8, 2000, 4000),   # hot set larger than the fast node
    (20000, 1000, 0.95, 20000, 400),  # fits exactly, very sparse sampling
]


def test_oracle_matches_analytic_best_placement():
    for pages, hot, share, fast, per_epoch in CASES:
        want = truth(pages, hot, share, fast)
        for seed in (1, 2, 3):
            ep = stream(seed, pages, hot, share, per_epoch, 20)
            # Window: the second half, as the bench uses it.
            got, n = meter.oracle(ep, 20, 40, fast, RANGES)
            assert n > 0
            assert abs(got - want) <= 0.03, (pages, hot, share, fast, seed, got, want)


def test_oracle_needs_two_epochs():
    ep = stream(1, 100, 0, 0.0, 100, 3)
    assert meter.oracle(ep, 4, 6, 50, RANGES) == (None, 0)


def test_oracle_ignores_pages_outside_ram():
    # A page beyond both nodes (MMIO, ROM) is neither placed nor scored.
    outside = ((512 + 2048) << 20) // meter.PAGE + (4 << 30) // meter.PAGE
    assert not meter.in_ram(outside, RANGES)
    ep = [(2000, {1: 5, outside: 100}), (4000, {1: 5, outside: 100})]
    got, n = meter.oracle(ep, 0, 4, 1, RANGES)
    assert got == 1.0 and n == 10, (got, n)
