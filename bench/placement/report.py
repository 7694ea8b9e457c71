"""CSV files, gnuplot plots and summary.md for the placement bench."""

import csv
import os
import platform
import shutil
import statistics
import subprocess

METRICS = [  # (key, column title, format)
    ("oracle", "oracle hit", "{:.3f}"),
    ("share", "share of oracle, steady", "{:.2f}"),
    ("share_30s", "share 30 s after move", "{:.2f}"),
    ("t90_start", "t to 90% from start (s)", "{:.0f}"),
    ("t90_move", "t to 90% after move (s)", "{:.0f}"),
    ("pages_moved", "pages moved", "{:.0f}"),
    ("moved_steady", "pages moved/min, steady", "{:.0f}"),
    ("moved_per_hot", "moved / hot pages changed", "{:.2f}"),
    ("detect_permille", "detection CPU (‰)", "{:.1f}"),
    ("throughput", "ops/s vs none", "{:.2f}"),
    ("modelled_ns", "modelled ns/access", "{:.0f}"),
]
# mm_cost() figures runs.csv keeps (results.json has them all).
MM_CSV = ("evicted", "allocstall_normal", "allocstall_movable", "numa_miss", "compact_stall",
          "thp_fault_alloc", "thp_fault_fallback", "thp_split_page")


def mm_cost(r):
    """The non-zero counters of a run's `mm_cost` (run: MM_COST_KEYS), with
    reclaim that was not demotion as `evicted` (demotions are pages moved)."""
    c = dict(r.get("mm_cost") or {})
    if not c:
        return {}
    steal = c.pop("pgsteal_kswapd", 0) + c.pop("pgsteal_direct", 0)
    demoted = c.pop("pgdemote_kswapd", 0) + c.pop("pgdemote_direct", 0)
    out = {"evicted": steal - demoted}
    out.update(c)
    return {k: v for k, v in out.items() if v}


def per_run_lines(results, title, pick):
    """A titled list of `pick(run)` per finished run; nothing if all empty."""
    done = [(r, pick(r)) for r in results if not r.get("skipped") and not r.get("error")]
    if not any(m for _, m in done):
        return []
    return ["", title, ""] + [f"- {r['workload']} / {r['system']} rep {r['rep']}: "
                              + ", ".join(f"{k} {v}" for k, v in m.items())
                              for r, m in done if m]


def machine():
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                   if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"host": platform.node(), "kernel": platform.release(), "cpu": cpu,
            "cpus": os.cpu_count(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def scalars(results):
    """One flat row per run, with the figures the summary reports."""
    base = {(r["workload"], r["rep"]): r for r in results if r["system"] == "none"}
    rows = []
    for r in results:
        row = {k: r.get(k) for k in ("workload", "system", "rep", "seed", "accel", "commit",
                                     "verify", "pages_moved", "detect_permille", "ops_s",
                                     "modelled_ns", "hot_bytes", "share_30s", "skipped",
                                     "error")}
        row["oracle"] = (r.get("oracle") or [None])[0]
        row["share"] = (r.get("share") or [None])[0]
        row["steady_hit"] = (r.get("steady") or [None])[0]
        row["moved_steady"] = (r.get("moved_steady") or [None])[0]
        t90 = r.get("t90") or []
        row["t90_start"] = t90[0] if t90 else None
        row["t90_move"] = t90[1] if len(t90) > 1 else None
        row["share_after_move"] = r["share"][1] if len(r.get("share") or []) > 1 else None
        if r.get("hot_bytes") and r.get("pages_moved") is not None:
            changed = r["hot_bytes"] // 4096 * (1 + len(r.get("moves_at", [])))
            row["moved_per_hot"] = r["pages_moved"] / changed
        else:
            row["moved_per_hot"] = None
        mm = mm_cost(r)
        for k in MM_CSV:
            row[k] = mm.get(k, 0) if r.get("mm_cost") else None
        b = base.get((r["workload"], r["rep"]))
        row["throughput"] = (r["ops_s"] / b["ops_s"] if r.get("ops_s") and b
                             and b.get("ops_s") else None)
        rows.append(row)
    return rows


def write_csv(path, rows, keys=None):
    keys = keys or list(rows[0]) if rows else []
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})


def timeline(results):
    """(workload, system, rep, t since ready, hit, oracle of the phase, share)."""
    out = []
    for r in results:
        series, oracles = r.get("series"), r.get("oracle") or []
        if not series:
            continue
        bounds = r.get("moves_at", [])
        for t, hit, _ in series:
            phase = sum(1 for m in bounds if t > m)
            o = oracles[phase] if phase < len(oracles) else None
            out.append({"workload": r["workload"], "system": r["system"], "rep": r["rep"],
                        "t": round(t - r["t_ready"], 2), "hit": round(hit, 4),
                        "oracle": round(o, 4) if o else None,
                        "share": round(hit / o, 4) if o else None})
    return out


def cell(values, fmt):
    vals = [v for v in values if v is not None]
    if not vals:
        return "–"
    med = fmt.format(statistics.median(vals))
    if len(vals) == 1:
        return med
    return f"{med} ({fmt.format(min(vals))}–{fmt.format(max(vals))})"


def gnuplot(script):
    if not shutil.which("gnuplot"):
        return False
    return subprocess.run(["gnuplot"], input=script, text=True,
                          capture_output=True).returncode == 0


def plots(outdir, results, tl):
    """PNG plots; returns the file names made."""
    made = []
    systems = sorted({r["system"] for r in results if r.get("series")},
                     key=lambda s: (s != "none", s))
    for wl in sorted({r["workload"] for r in results}):
        runs = [r for r in results if r["workload"] == wl and r["rep"] == 0 and r.get("series")]
        if not runs:
            continue
        dat = os.path.join(outdir, f"hit-{wl}.dat")
        with open(dat, "w") as f:
            for s in systems:
                f.write(f'"{s}"\n')
                for row in tl:
                    if row["workload"] == wl and row["system"] == s and row["rep"] == 0:
                        f.write(f"{row['t']} {row['hit']} {row['oracle'] or 'NaN'}\n")
                f.write("\n\n")
        present = [s for s in systems if any(r["system"] == s for r in runs)]
        moves = next((r["moves_at"] for r in runs if r.get("moves_at")), [])
        ready = next(r["t_ready"] for r in runs if r.get("moves_at") is not None)
        arrows = "".join(f"set arrow from {m - ready:.1f},0 to {m - ready:.1f},1 nohead dt 2\n"
                         for m in moves)
        lines = ", ".join(f"'{dat}' index {i} using 1:2 with lines lw 2 title '{s}'"
                          for i, s in enumerate(systems) if s in present)
        png = f"hit-{wl}.png"
        ok = gnuplot(f"""set terminal pngcairo size 900,500 noenhanced
set output '{os.path.join(outdir, png)}'
set title 'fast-node hit ratio (access meter), {wl}, repetition 1'
set xlabel 'seconds since the workload started'
set ylabel 'share of accesses served by the fast node'
set yrange [0:1.05]
set key bottom right
{arrows}plot {lines}, '{dat}' index 0 using 1:3 with lines dt 3 lc rgb 'black' title 'oracle'
""")
        if ok:
            made.append(png)
    # Reaction after a move: share of oracle against seconds since the move.
    moved = [r for r in results if r.get("moves_at") and r.get("series") and r["rep"] == 0]
    if moved:
        dat = os.path.join(outdir, "reaction.dat")
        idx = []
        with open(dat, "w") as f:
            for r in moved:
                m, o = r["moves_at"][0], (r.get("oracle") or [None, None])[1]
                if not o:
                    continue
                idx.append(f"{r['workload']} {r['system']}")
                for t, hit, _ in r["series"]:
                    if t >= m - 5:
                        f.write(f"{t - m:.2f} {hit / o:.4f}\n")
                f.write("\n\n")
        lines = ", ".join(f"'{dat}' index {i} using 1:2 with lines lw 2 title '{n}'"
                          for i, n in enumerate(idx))
        if lines and gnuplot(f"""set terminal pngcairo size 900,500 noenhanced
set output '{os.path.join(outdir, 'reaction.png')}'
set title 'after the hot set moves: hit ratio as a share of the oracle'
set xlabel 'seconds since the move'
set ylabel 'share of the oracle'
set yrange [0:1.1]
set arrow from graph 0, first 0.9 to graph 1, first 0.9 nohead dt 2
set key bottom right
plot {lines}
"""):
            made.append("reaction.png")
    # Detection cost by stage (hplace) and by system.
    rows = []
    for r in results:
        c = r.get("cost") or {}
        wall = (r.get("t_end", 0) - r.get("t_ready", 0)) or None
        if not wall:
            continue
        st = {k: c.get(k, 0) / (wall * 1e9) * 1000 for k in
              ("hplace_sample_ns", "hplace_classify_ns", "hplace_migrate_ns", "kdamond_ns")}
        if any(st.values()):
            rows.append((f"{r['system']}/{r['workload']}", st))
    if rows:
        dat = os.path.join(outdir, "cost.dat")
        with open(dat, "w") as f:
            f.write("run sample classify migrate kdamond\n")
            for name, st in rows:
                f.write(f"{name} {st['hplace_sample_ns']:.3f} {st['hplace_classify_ns']:.3f} "
                        f"{st['hplace_migrate_ns']:.3f} {st['kdamond_ns']:.3f}\n")
        if gnuplot(f"""set terminal pngcairo size 1000,500 noenhanced
set output '{os.path.join(outdir, 'cost.png')}'
set title 'CPU by stage, permille of one CPU over the measured phase'
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.7
set xtics rotate by -30
set key top left autotitle columnhead
plot '{dat}' using 2:xtic(1), '' using 3, '' using 4, '' using 5
"""):
            made.append("cost.png")
    return made


def write(outdir, meta, results):
    rows = scalars(results)
    keys = ["workload", "system", "rep", "seed", "accel", "commit", "verify", "oracle",
            "steady_hit", "share", "share_after_move", "share_30s", "t90_start", "t90_move",
            "pages_moved", "moved_steady", "hot_bytes", "moved_per_hot", "detect_permille", "ops_s",
            "throughput", "modelled_ns", *MM_CSV, "skipped", "error"]
    if rows:
        write_csv(os.path.join(outdir, "runs.csv"), rows, keys)
    tl = timeline(results)
    if tl:
        write_csv(os.path.join(outdir, "timeline.csv"), tl)
    made = plots(outdir, results, tl)
    accel = sorted({r.get("accel") for r in results if r.get("accel")})
    L = [f"# htier placement bench — {'smoke' if meta['smoke'] else 'QUICK' if meta['quick'] else 'full'} run",
         "",
         f"- commit `{meta['commit']}`; accelerator: {', '.join(accel) or 'none booted'}"
         + (" (TCG: emulation speeds; hit ratios are exact, timings are not host timings)"
            if "tcg" in accel else ""),
         f"- machine: {meta['machine']['cpus']} CPUs, {meta['machine']['mem_gib']} GiB, "
         f"{meta['machine']['cpu']}, host kernel {meta['machine']['kernel']}",
         f"- command: `{meta['command']}`; {meta['reps']} repetition(s), measured phase "
         f"{meta['duration_s']} s, scale {meta['scale']}, meter sample 1/{meta['sample']}"
         + ("" if meta["meter"] else " — **meter absent (KVM or not built): no hit ratios**"),
         f"- wall time {meta['wall_s'] / 60:.1f} min",
         "- oracle: the no-tiering run's per-page access counts (second half of each "
         "phase), the hottest pages that fit the fast node, cross-validated across "
         "alternate 2 s epochs; every share is the system's meter hit ratio over the "
         f"last {meta['settle_s']} s of a phase divided by that oracle",
         f"- DAMOS: {meta['damos']['quota']}; sampling {meta['damos']['sample_us']} µs, "
         f"aggregation {meta['damos']['aggr_us']} µs, regions "
         f"{meta['damos']['min_regions']}–{meta['damos']['max_regions']}",
         "- pages moved: pgmigrate_success + 2 × hplace_exchange over the measured phase",
         "- modelled ns/access: the meter's per-node counts weighted by the VM's HMAT "
         "latencies (80 ns fast, 250 ns slow) — **modelled**, not measured: under TCG "
         "memory speed does not depend on the node",
         "", "Cells: median (min–max) over repetitions.", ""]
    L.append("| workload | system | " + " | ".join(t for _, t, _ in METRICS) + " | verify |")
    L.append("|" + "---|" * (len(METRICS) + 3))
    order = {n: i for i, n in enumerate(meta["systems"])}
    groups = {}
    for r in rows:
        groups.setdefault((r["workload"], r["system"]), []).append(r)
    for (wl, sysname), rs in sorted(groups.items(),
                                    key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        skipped = next((r["skipped"] for r in rs if r.get("skipped")), None)
        if skipped:
            L.append(f"| {wl} | {sysname} | skipped: {skipped} |" + " |" * len(METRICS))
            continue
        err = next((r["error"] for r in rs if r.get("error")), None)
        cells = [cell([r.get(k) for r in rs], fmt) for k, _, fmt in METRICS]
        ver = "error" if err else ",".join(sorted({str(r.get("verify")) for r in rs}))
        L.append(f"| {wl} | {sysname} | " + " | ".join(cells) + f" | {ver} |")
    L += per_run_lines(results, "hplace's pages moved over the measured phase, by reason "
                       "(`stats/moves`; exchange in pairs):",
                       lambda r: {k[len("moves_"):]: v for k, v in (r.get("cost") or {}).items()
                                  if k.startswith("moves_") and v})
    L += per_run_lines(results, "Reclaim, compaction and huge pages from the workloads' start "
                       "to the end of the measured phase (`/proc/vmstat` deltas, the non-zero "
                       "ones; `evicted`: reclaimed and not demoted; `numa_miss`: allocations "
                       "that fell back from their node; no line: all 0):", mm_cost)
    L += ["", "Workloads:", ""]
    for n, w in meta["workloads"].items():
        L.append(f"- `{n}`: {w['desc']}; measured phase {w['duration_s']} s (seed of "
                 "repetition 1 shown): " + "; ".join(f"`{c}`" for c in w["commands"]))
    L += ["", "Systems:", ""]
    L += [f"- `{n}`: {d}" for n, d in meta["systems"].items()]
    errs = [r for r in rows if r.get("error")]
    if errs:
        L += ["", "Errors:", ""]
        L += [f"- {r['workload']} / {r['system']} rep {r['rep']}: "
              f"{r['error'].splitlines()[0][:300]}" for r in errs]
    if made:
        L += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in made)]
    extra = os.path.join(outdir, "hballoon-resize.txt")
    if os.path.exists(extra):
        L += ["", "## Resize", "", "```", open(extra).read().rstrip(), "```"]
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write("\n".join(L) + "\n")
