"""The workloads the placement bench runs, as guest command lines.

Each workload is one or more guest processes (bench/workloads/*.c, or real
programs copied into the bench initramfs) that print the same lines:
`event=ready`, `t=<s> ops_s=<n>` once a second, `event=move n=<k> t=<s>`,
`event=end t=<s>` when the measured phase is over (times in seconds since
ready, on the workload's clock), and `verify=ok` at the end. The *primary*
process's phase is what is measured; others (a cold tenant, a server) start
before it. `scale` multiplies every footprint, for real hosts; sizes at
scale 1 fit the default test VM (fast node 512 MiB, slow node 1536 MiB).
"""

from dataclasses import dataclass, field


@dataclass
class Proc:
    cmd: str
    wait_ready: bool = True   # wait for its event=ready before the next one
    primary: bool = False


@dataclass
class Workload:
    name: str
    desc: str
    procs: list
    duration: int
    moves: list = field(default_factory=list)
    bench_initrd: bool = False   # needs build/initramfs-bench.cpio.gz
    setup: str = ""              # guest shell run before the processes


def mib(x, scale):
    return max(16, int(x * scale))


# QUICK: workloads whose setup dominates a short run get a smaller
# footprint and a shorter measured phase (no hot-set move to wait for).
QUICK_SCALE = {"pagerank": 0.5, "kv": 0.25, "linear": 0.25}
QUICK_DURATION = 40


def two_tenants(d, seed, scale):
    """two-tenant's processes: a mostly cold tenant first-touched on the fast
    node (it outlives the run), then the primary, a hot tenant on the slow
    one."""
    return [Proc(f"gups-hot -m {mib(400, scale)} -n 0 -p 0 -q 2000 -d {d + 600} "
                 f"-s {seed + 1}"),
            Proc(f"gups-hot -m {mib(512, scale)} -r 4 -H {mib(128, scale)} -p 95 -n 1 "
                 f"-d {d} -s {seed}", primary=True)]


def make(name, duration, seed, scale=1.0, quick=False):
    """The workload `name`, running `duration` seconds, shape from `seed`.

    quick: the QUICK run's cut-down form of the slow-to-set-up ones."""
    if quick and name in QUICK_SCALE:
        scale *= QUICK_SCALE[name]
        duration = min(duration, QUICK_DURATION)
    d = duration
    base, thp = name.removesuffix("-thp"), " -T" if name.endswith("-thp") else ""
    if base == "gups-hot":
        move = d // 2
        return Workload(
            name, "scattered hot regions (shape drawn from the seed), first touch on "
            "the slow node, hot set moves midway",
            [Proc(f"gups-hot -m {mib(1024, scale)} -n 1 -d {d} -M {move} -s {seed} "
                  f"-F {seed}{thp}", primary=True)], d, moves=[move])
    if name == "two-tenant":
        return Workload(
            name, "a mostly cold tenant fills the fast node first, then a hot tenant "
            "starts on the slow node", two_tenants(d, seed, scale), d)
    if base == "churn":
        # With -T, whole 2 MiB pages: the kernel aligns only such mappings.
        size = mib(48, scale) // 2 * 2 if thp else mib(48, scale)
        cold, hot = two_tenants(d, seed, scale)
        return Workload(
            name, "two-tenant's tenants, settled, next to a third that maps, writes and "
            f"frees {size} MiB every 2 s{' (MADV_HUGEPAGE)' if thp else ''}",
            [cold, Proc(f"churn -m {size} -i 2000 -h 1000 -d {d + 600} -s {seed + 2}{thp}"),
             hot], d)
    if name == "pagerank":
        return Workload(
            name, "PageRank over a synthetic power-law graph, built on the slow node",
            [Proc(f"pagerank -n 1 -d {d} -s {seed} -S {scale}", primary=True)], d)
    if name == "kv":
        return Workload(
            name, "redis-server with a Zipfian (theta 0.99) GET/SET mix from our client",
            [Proc("redis-server --port 0 --unixsocket /tmp/redis.sock --save '' "
                  "--appendonly no", wait_ready=False),
             Proc(f"kvclient -x /tmp/redis.sock -d {d} -s {seed} -S {scale}", primary=True)],
            d, bench_initrd=True)
    if name == "linear":
        return Workload(
            name, "liblinear training (liblinear-train) on a synthetic sparse data set",
            [Proc(f"linear-run -d {d} -s {seed} -S {scale}", primary=True)], d,
            bench_initrd=True)
    raise ValueError(f"unknown workload {name!r}")


def describe(wl):
    """What the summary says of a workload: what it is and how it was run."""
    return {"desc": wl.desc, "duration_s": wl.duration,
            "commands": [p.cmd for p in wl.procs]}


QUICK = ["gups-hot", "two-tenant", "pagerank", "kv", "linear"]
FULL = ["gups-hot", "gups-hot-thp", "two-tenant", "churn", "churn-thp", "pagerank", "kv",
        "linear"]
