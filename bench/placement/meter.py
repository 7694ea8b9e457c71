"""Reading the access meter (build/plugins/libhtiermeter.so) and the oracle.

The meter counts one guest memory access in N per NUMA node, per interval
(`out` file), and per guest-physical page per epoch (`hist_ms`, file
`<hist>.epochs`). This module maps nodes to guest-physical ranges the way
the meter does, turns interval counts into a fast-tier hit ratio, and
computes the oracle: the share of accesses the best static placement (the
hottest pages, as many as the fast node holds) would serve from fast memory.
"""

import heapq
import re

PAGE = 4096
GiB = 1 << 30
LINE = re.compile(r"(\w+)=(\d+)")


def below_4g(total):
    """Bytes of RAM q35 maps below 4 GiB (hw/i386/pc_q35.c, QEMU 10.0)."""
    return 0x80000000 if total >= 0xb0000000 else total


def node_ranges(sizes):
    """Guest-physical [start, end) ranges of each node, as the meter maps them.

    RAM offsets run through the nodes in order; offset o sits at o below
    the q35 low-RAM limit and at 4 GiB + (o - limit) above it."""
    low = below_4g(sum(sizes))
    out, off = [], 0
    for size in sizes:
        parts, a, b = [], off, off + size
        if a < low:
            parts.append((a, min(b, low)))
        if b > low:
            parts.append((4 * GiB + max(a, low) - low, 4 * GiB + b - low))
        out.append(parts)
        off = b
    return out


def plugin_arg(path, out, hist, sizes, sample, interval_ms=1000, hist_ms=5000):
    arg = (f"{path},out={out},hist={hist},sample={sample},interval_ms={interval_ms},"
           f"nodes={':'.join(str(s) for s in sizes)}")
    return arg + (f",hist_ms={hist_ms}" if hist_ms else "")


def read_intervals(path):
    """[(t_ms, {node: count}, other)] from the meter's `out` file."""
    rows = []
    with open(path) as f:
        for line in f:
            kv = dict((k, int(v)) for k, v in LINE.findall(line))
            if "t_ms" not in kv:
                continue
            nodes = {int(k[1:]): v for k, v in kv.items() if re.fullmatch(r"n\d+", k)}
            rows.append((kv["t_ms"], nodes, kv.get("other", 0)))
    return rows


def hit_series(rows, fast=(0,)):
    """[(t_s, hit ratio, counted)] per interval: fast-node accesses over all
    RAM accesses (MMIO and ROM left out). Empty intervals are skipped."""
    out = []
    for t_ms, nodes, _ in rows:
        total = sum(nodes.values())
        if total:
            out.append((t_ms / 1000.0, sum(nodes.get(n, 0) for n in fast) / total, total))
    return out


def read_epochs(path):
    """[(t_ms, {pfn: count})] from `<hist>.epochs` (counts of that epoch)."""
    epochs, cur = [], None
    with open(path) as f:
        for line in f:
            if line.startswith("t_ms="):
                cur = {}
                epochs.append((int(line.split("=", 1)[1]), cur))
            elif cur is not None and line.strip():
                pfn, n = line.split()
                cur[int(pfn)] = int(n)
    return epochs


def in_ram(pfn, ranges):
    a = pfn * PAGE
    return any(s <= a < e for parts in ranges for s, e in parts)


def oracle(epochs, t0, t1, fast_pages, ranges):
    """Oracle hit ratio over the epochs that end in (t0, t1] seconds.

    Ranking pages and scoring them on the same noisy sampled counts would
    overstate the oracle (the top pages of a uniform set are the lucky
    ones), so this cross-validates: rank on alternate epochs, score on the
    others, both ways, and average. A page the ranking half never sampled
    is not cold, only unseen: ties and unseen pages are ordered by the
    run's epochs outside the window (still independent of the scored half),
    and pages seen only in the scored half take whatever fast capacity is
    left, as an unranked placement would (all of them if they fit, else an
    even share). Otherwise a workload that fits the fast node but touches
    each page rarely would get an oracle far below 1.

    Returns (ratio, sampled accesses) or (None, 0) with fewer than two
    epochs in the window."""
    sel, prior = [], {}
    for t, h in epochs:
        if t0 * 1000 < t <= t1 * 1000:
            sel.append(h)
        else:
            for pfn, n in h.items():
                prior[pfn] = prior.get(pfn, 0) + n
    if len(sel) < 2:
        return None, 0
    halves = [{}, {}]
    for i, h in enumerate(sel):
        acc = halves[i % 2]
        for pfn, n in h.items():
            if in_ram(pfn, ranges):
                acc[pfn] = acc.get(pfn, 0) + n
    prior = {p: n for p, n in prior.items() if in_ram(p, ranges)}
    scores, total = [], 0
    for rank, score in ((halves[0], halves[1]), (halves[1], halves[0])):
        known = set(rank) | set(prior)
        top = heapq.nlargest(fast_pages, known,
                             key=lambda p: (rank.get(p, 0), prior.get(p, 0)))
        all_n = sum(score.values())
        total += all_n
        if not all_n:
            continue
        hits = sum(score.get(p, 0) for p in top)
        unseen = [n for p, n in score.items() if p not in known]
        left = fast_pages - len(top)
        if unseen and left > 0:
            hits += sum(unseen) * min(1.0, left / len(unseen))
        scores.append(hits / all_n)
    return (sum(scores) / len(scores) if scores else None), total


def mean_hit(series, t0, t1):
    """Access-weighted hit ratio of the intervals in (t0, t1] seconds."""
    fast = total = 0.0
    for t, hit, n in series:
        if t0 < t <= t1:
            fast += hit * n
            total += n
    return fast / total if total else None


def time_to(series, start, level, window=3):
    """Seconds after `start` until the hit ratio, averaged over `window`
    intervals, first reaches `level`; None if it never does."""
    pts = [(t, h) for t, h, _ in series if t > start]
    for i in range(len(pts) - window + 1):
        if sum(h for _, h in pts[i:i + window]) / window >= level:
            return pts[i + window - 1][0] - start
    return None


def modelled_time_ns(rows, latency_ns, sample):
    """Modelled memory time: each sampled access stands for `sample` accesses
    at its node's HMAT latency. Not a measurement: TCG's memory speed does
    not depend on the node."""
    return sum(n * latency_ns[k] * sample for _, nodes, _ in rows for k, n in nodes.items()
               if k < len(latency_ns))
