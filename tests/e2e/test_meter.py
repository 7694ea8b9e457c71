"""The access meter (build/plugins/libhtiermeter.so, a TCG plugin): its
per-node counts agree with a workload whose split between node 0 and node 1
is known (bench/workloads/nodesplit.c), QEMU refuses bad plugin arguments
with a clear message, and the out, hist and hist epochs files parse.

The helpers here (meter_args, run_nodesplit, analyse, ...) are shared with
bench/meter-validate, which runs the longer validation and the slowdown."""

import atexit
import collections
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import pytap
from htiervm import BUILD, QEMU, VM, MiB, Node, default_nodes

PLUGIN = os.path.join(BUILD, "plugins", "libhtiermeter.so")
GIB = 1 << 30
# hplace and NUMA balancing must not move the workload's pages.
APPEND = "hplace=off numa_balancing=disable"
# Out lines and hist epochs on the same ticks, so their windows match.
TICK_MS = 500
# Quiet time around the timed phase: at least two whole epochs of it.
GAP_S = 1.5


# ----------------------------------------------------------------- helpers
def require_plugin():
    if not os.path.exists(PLUGIN):
        raise AssertionError(f"{PLUGIN} is missing: run `make qemu`")


def meter_args(workdir, nodes, sample, tick_ms=TICK_MS, extra=""):
    """-plugin arguments metering `nodes` (list of Node) into workdir."""
    sizes = ":".join(str(n.size) for n in nodes)
    workdir = workdir.replace(",", ",,")  # QEMU's option syntax
    arg = (f"{PLUGIN},out={workdir}/out,sample={sample},nodes={sizes},"
           f"interval_ms={tick_ms},hist={workdir}/hist,hist_ms={tick_ms}")
    return ["-plugin", arg + extra]


class Layout:
    """Guest-physical page -> node, as the plugin maps it (q35 rule)."""

    def __init__(self, sizes, below4g=None):
        self.sizes = list(sizes)
        self.ram = sum(sizes)
        if below4g is None:
            below4g = 0x80000000 if self.ram >= 0xb0000000 else self.ram
        self.below4g = min(below4g, self.ram)
        self.ends = []
        end = 0
        for s in sizes:
            end += s
            self.ends.append(end)

    def node(self, pfn):
        """Node index of a guest page, or None (not RAM)."""
        gpa = pfn << 12
        if gpa < self.below4g:
            off = gpa
        elif 4 * GIB <= gpa < 4 * GIB + self.ram - self.below4g:
            off = gpa - 4 * GIB + self.below4g
        else:
            return None
        return next(i for i, e in enumerate(self.ends) if off < e)


def parse_out(path):
    """[{'t_ms':, 'n': [n0, n1, ...], 'other':}] from an out file."""
    rows = []
    with open(path) as f:
        for line in f:
            kv = dict(w.split("=", 1) for w in line.split())
            n = []
            while f"n{len(n)}" in kv:
                n.append(int(kv[f"n{len(n)}"]))
            rows.append({"t_ms": int(kv["t_ms"]), "n": n, "other": int(kv["other"])})
    return rows


def parse_hist(path):
    hist = {}
    with open(path) as f:
        for line in f:
            pfn, count = line.split()
            hist[int(pfn)] = int(count)
    return hist


def iter_epochs(path):
    """(t_ms, [(pfn, count), ...]) per block of a hist .epochs file."""
    t, pages = None, []
    with open(path) as f:
        for line in f:
            if line.startswith("t_ms="):
                if t is not None:
                    yield t, pages
                t, pages = int(line[5:]), []
            else:
                a, b = line.split()
                pages.append((int(a), int(b)))
    if t is not None:
        yield t, pages


def pfn_set(out, name):
    pfns = set()
    for line in out.splitlines():
        if line.startswith(f"pfns_{name} "):
            for r in line.split()[1:]:
                a, b = r.split("-")
                pfns.update(range(int(a), int(b) + 1))
    return pfns


def qemu_cpu_s(vm):
    """CPU seconds QEMU has used so far (all its threads)."""
    with open(f"/proc/{vm.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_nodesplit(vm, p, seconds, pfns=True, timeout=None):
    """Run nodesplit in the guest; returns its figures, the host times (s
    since QEMU started) around its timed phase and QEMU's CPU time in its
    setup and its timed phase. pfns: with the page numbers and quiet gaps
    around the timed phase, for analyse()."""
    marks, cpu = {}, {"start": qemu_cpu_s(vm)}

    def stream(line):
        for key in ("placed", "ready", "go", "ops="):
            if line.startswith(key):
                marks[key] = time.monotonic() - vm._t0
                cpu[key] = qemu_cpu_s(vm)
    cmd = f"nodesplit -p {p} -t {seconds}" + (f" -g {GAP_S} -P" if pfns else "")
    rc, out = vm.run(cmd, timeout=timeout or 120 + 20 * seconds, stream=stream)
    assert rc == 0 and "verify=ok" in out, f"{cmd} failed ({rc}):\n{out[-2000:]}"
    m = re.search(r"placed a_node0=(\d+)/(\d+) b_node1=(\d+)/(\d+) setup_s=([\d.]+)", out)
    assert m, out[-2000:]
    assert m.group(1) == m.group(2) and m.group(3) == m.group(4), \
        f"nodesplit's pages are not all on their nodes: {m.group(0)}"
    ops = re.search(r"^ops=(\d+) ops_a=(\d+)", out, re.M)
    rates = [int(x) for x in re.findall(r"^ops_s=(\d+)", out, re.M)]
    run = {"p": p, "seconds": seconds, "ops": int(ops.group(1)),
           "ops_a": int(ops.group(2)), "setup_s": float(m.group(5)),
           # the first second includes warm-up (TLB, translation)
           "ops_s": int(statistics.median(rates[1:] or rates)) if rates else 0,
           "setup_cpu_s": round(cpu["placed"] - cpu["start"], 2),
           # QEMU's CPU time per op of the timed phase
           "cpu_us_per_op": round((cpu["ops="] - cpu["go"]) * 1e6 / int(ops.group(1)), 4),
           "t_ready": marks["ready"], "t_done": marks["ops="]}
    if pfns:
        moved = re.search(r"^pfns_moved=(\d+)", out, re.M)
        assert moved and moved.group(1) == "0", \
            f"nodesplit's pages changed frames during the run: {out[-500:]}"
        run["A"], run["B"] = pfn_set(out, "a"), pfn_set(out, "b")
        assert len(run["A"]) == int(m.group(2)) and len(run["B"]) == int(m.group(4)), \
            "pagemap gave fewer page numbers than pages"
    return run


def analyse(workdir, layout, runs, sample, tick_ms=TICK_MS):
    """Meter figures over each run's timed phase: the epochs between the
    quiet gaps nodesplit leaves around it (no access to its pages)."""
    out_rows = {r["t_ms"]: r for r in parse_out(f"{workdir}/out")}
    per_run = [[] for _ in runs]
    for t, pages in iter_epochs(f"{workdir}/hist.epochs"):
        for i, run in enumerate(runs):
            # Epochs ending from about "ready" (its host time runs a little
            # ahead of the plugin's clock) to a gap after the phase's end.
            if (run["t_ready"] - 0.25) * 1000 <= t <= (run["t_done"] + GAP_S) * 1000:
                a = collections.Counter()
                b = bg0 = bg1 = bgx = 0
                for pfn, c in pages:
                    if pfn in run["A"]:
                        a[pfn] += c
                    elif pfn in run["B"]:
                        b += c
                    else:
                        node = layout.node(pfn)
                        if node == 0:
                            bg0 += c
                        elif node == 1:
                            bg1 += c
                        else:
                            bgx += c
                per_run[i].append((t, a, b, bg0, bg1, bgx))
    results = []
    for run, epochs in zip(runs, per_run):
        results.append(_phase(run, epochs, out_rows, sample, tick_ms))
    return results


def _phase(run, epochs, out_rows, sample, tick_ms):
    # Skip to the first quiet epoch, take the busy ones up to the next quiet.
    i = 0
    while i < len(epochs) and (sum(epochs[i][1].values()) or epochs[i][2]):
        i += 1
    first = i
    while i < len(epochs) and not (sum(epochs[i][1].values()) or epochs[i][2]):
        i += 1
    block = []
    while i < len(epochs) and (sum(epochs[i][1].values()) or epochs[i][2]):
        block.append(epochs[i])
        i += 1
    if first == len(epochs) or not block or i == len(epochs):
        raise AssertionError(
            f"p={run['p']}: no quiet epochs around the timed phase in "
            f"{len(epochs)} epochs (host too slow for {GAP_S}s gaps?)")
    a_pages = collections.Counter()
    for e in block:
        a_pages.update(e[1])
    a = sum(a_pages.values())
    b = sum(e[2] for e in block)
    bg0, bg1 = sum(e[3] for e in block), sum(e[4] for e in block)
    rows = [out_rows.get(e[0]) for e in block]
    assert all(rows), "out lines and hist epochs are not on the same ticks"
    n0 = sum(r["n"][0] for r in rows)
    n1 = sum(r["n"][1] for r in rows)
    other = sum(r["other"] for r in rows)
    counts = [a_pages.get(pfn, 0) for pfn in run["A"]]
    mean = statistics.fmean(counts)
    secs = len(block) * tick_ms / 1000
    true_share = run["ops_a"] / run["ops"]
    return {
        "p": run["p"], "sample": sample, "window_s": secs,
        "true_share": round(true_share, 4),
        # n0/(n0+n1) as the out file has it: the guest kernel's own
        # accesses (timer ticks, ...) included.
        "raw_share": round(n0 / (n0 + n1), 4),
        # the same without the accesses to pages outside A and B
        "meter_share": round((n0 - bg0) / (n0 + n1 - bg0 - bg1), 4),
        "hist_share": round(a / (a + b), 4),
        # sampled accesses to A and B, times N, over the workload's 2 * ops
        # (sample=1: exactly 1)
        "a_count": a, "b_count": b, "ops": run["ops"], "ops_a": run["ops_a"],
        "scale": round((a + b) * sample / (2 * run["ops"]), 4),
        # out's node counts against the hist's, the same epochs
        "out_vs_hist": round((n0 + n1) / (a + b + bg0 + bg1), 5),
        "background_per_s": int((bg0 + bg1) * sample / secs),
        "other": other,
        # var/mean of A's per-page counts: ~2 when each sampled op counts
        # twice (sample=1), ~1 when sparse; a skew would make it large
        "a_dispersion": round(statistics.pvariance(counts) / mean, 3) if mean else None,
        "a_pages_zero": sum(1 for c in counts if c == 0),
        "a_mean": round(mean, 1),
        "ops_s": run["ops_s"], "setup_s": run["setup_s"],
        "setup_cpu_s": run["setup_cpu_s"], "cpu_us_per_op": run["cpu_us_per_op"],
    }


def check(res, tol=0.02):
    """Problems with one analysed run, as a list of strings."""
    bad = []
    p = res["p"]
    for key in ("meter_share", "hist_share"):
        if abs(res[key] - p) > tol:
            bad.append(f"{key} {res[key]} vs p={p} (more than {tol} off)")
    if res["sample"] == 1:
        if res["a_count"] != 2 * res["ops_a"] or \
                res["b_count"] != 2 * (res["ops"] - res["ops_a"]):
            bad.append(f"sample=1 counts A {res['a_count']} B {res['b_count']}, "
                       f"want exactly {2 * res['ops_a']} and "
                       f"{2 * (res['ops'] - res['ops_a'])}")
    elif abs(res["scale"] - 1) > 0.05:
        bad.append(f"counts x sample / accesses = {res['scale']}, want 1 +- 0.05")
    if abs(res["out_vs_hist"] - 1) > 0.01:
        bad.append(f"out's node counts / hist's = {res['out_vs_hist']}")
    if res["a_mean"] >= 20 and (res["a_dispersion"] > 4 or res["a_pages_zero"]):
        bad.append(f"A's pages not evenly counted: dispersion {res['a_dispersion']}, "
                   f"{res['a_pages_zero']} pages without a count")
    return bad


def metered_vm(workdir, sample, nodes=None, **kw):
    nodes = nodes or default_nodes()
    return VM(name="meter", accel="tcg", append=APPEND, nodes=nodes,
              qemu_args=meter_args(workdir, nodes, sample), **kw)


# ------------------------------------------------------------------- tests
_shared = {}


def _metered_run():
    """One metered VM, one short nodesplit run; shared by two tests."""
    if "res" not in _shared:
        require_plugin()
        workdir = tempfile.mkdtemp(prefix="htier-meter-")
        if not os.environ.get("HTIER_KEEP"):
            atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        _shared["workdir"] = workdir
        nodes = default_nodes()
        with metered_vm(workdir, 1, nodes) as vm:
            # idle first: out lines must keep coming without guest activity
            vm.sh("sleep 2")
            run = run_nodesplit(vm, 0.3, 4)
        _shared["run"] = run
        _shared["res"] = analyse(workdir, Layout([n.size for n in nodes]), [run], 1)[0]
    return _shared["workdir"], _shared["run"], _shared["res"]


def test_meter_agrees_with_known_split():
    _, _, res = _metered_run()
    print(f"# {res}")
    problems = check(res)
    assert not problems, "; ".join(problems)


def test_out_and_hist_formats():
    workdir, run, _ = _metered_run()
    ram = sum(n.size for n in default_nodes())
    lines = open(f"{workdir}/out").read().splitlines()
    assert len(lines) >= 10, lines
    pat = re.compile(r"t_ms=(\d+) n0=(\d+) n1=(\d+) other=(\d+)")
    ts = []
    for line in lines:
        m = pat.fullmatch(line)
        assert m, f"bad out line {line!r}"
        ts.append(int(m.group(1)))
    assert ts == sorted(ts), "t_ms goes backwards"
    # one line per tick, the last (partial) one at exit
    steps = [b - a for a, b in zip(ts, ts[1:-1])]
    assert all(abs(s - TICK_MS) < TICK_MS for s in steps), steps
    hist = {}
    for line in open(f"{workdir}/hist"):
        m = re.fullmatch(r"(\d+) (\d+)\n", line)
        assert m, f"bad hist line {line!r}"
        pfn, count = int(m.group(1)), int(m.group(2))
        # all of this VM's RAM sits below 4 GiB (q35: < 2.75 GiB in total)
        assert pfn < ram >> 12 and count > 0, line
        assert pfn not in hist, f"page {pfn} twice"
        hist[pfn] = count
    assert run["A"] <= hist.keys() and run["B"] <= hist.keys()
    # the epochs add up to the whole-run totals, page by page
    total = collections.Counter()
    blocks = 0
    for _, pages in iter_epochs(f"{workdir}/hist.epochs"):
        blocks += 1
        for pfn, c in pages:
            assert c > 0
            total[pfn] += c
    assert blocks >= len(lines) - 1, (blocks, len(lines))
    assert total == collections.Counter(hist), "epochs do not add up to hist"


def _qemu_with(arg):
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.run(
            [QEMU, "-machine", "q35", "-accel", "tcg", "-display", "none",
             "-nodefaults", "-m", "256M", "-S",
             "-plugin", f"{PLUGIN},{arg.replace('DIR', d)}"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stderr


def test_bad_arguments_stop_qemu_with_a_message():
    require_plugin()
    cases = {
        "out=DIR/o,nodes=512M:1536M,sample=0": "bad sample=0",
        "out=DIR/o,nodes=512M:x": "bad nodes=512M:x",
        "out=DIR/o,nodes=0:1G": "bad nodes=0:1G",
        "out=DIR/o,nodes=1G,interval_ms=0": "bad interval_ms=0",
        "out=DIR/o,nodes=1G,hist=DIR/h,hist_ms=-5": "bad hist_ms=-5",
        "out=DIR/o,nodes=1G,hist_ms=5": "hist_ms= needs hist=",
        "out=DIR/o,nodes=1G,below4g=5G": "bad below4g=5G",
        "out=DIR/o,nodes=1G,colour=red": "unknown option colour=red",
        "out=DIR/o,sample=4": "out= and nodes= are required",
        "out=DIR/nonexistent/o,nodes=1G": "cannot open out file",
        "out=DIR/o,nodes=1G,hist=DIR/nonexistent/h": "cannot open hist file",
    }
    for arg, want in cases.items():
        rc, err = _qemu_with(arg)
        assert rc != 0, f"QEMU started with {arg}"
        assert f"htiermeter: {want}" in err, f"{arg}: stderr lacks {want!r}:\n{err}"
        assert "Could not load plugin" in err, err
    # and a good one starts (-S: paused; the timeout ends it)
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(
            [QEMU, "-machine", "q35", "-accel", "tcg", "-display", "none",
             "-nodefaults", "-m", "256M", "-S",
             "-plugin", f"{PLUGIN},out={d}/o,nodes=256M,interval_ms=100"],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            assert proc.poll() is None, proc.stderr.read()
            # the timer writes lines while the guest is paused
            assert len(open(f"{d}/o").read().splitlines()) >= 5
        finally:
            proc.terminate()
            proc.wait(30)


@pytap.full
def test_meter_above_4g():
    """3 GiB of RAM: q35 puts 2 GiB below 4 GiB and the rest above; node 1
    spans both, and its pages above 4 GiB must still count as node 1."""
    require_plugin()
    nodes = [Node(512 * MiB, cpus=True), Node(2560 * MiB)]
    with tempfile.TemporaryDirectory() as workdir:
        with metered_vm(workdir, 1, nodes) as vm:
            run = run_nodesplit(vm, 0.5, 4)
        res = analyse(workdir, Layout([n.size for n in nodes]), [run], 1)[0]
    print(f"# {res}; B pages above 4 GiB: {sum(1 for p in run['B'] if p >= 1 << 20)}")
    problems = check(res)
    assert not problems, "; ".join(problems)
