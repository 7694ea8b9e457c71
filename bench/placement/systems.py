"""The placement systems the bench compares, each set up in a fresh VM.

Every system boots the same kernel in the same tiered VM; they differ only
in the boot parameter and what is switched on afterwards:
  none     nothing moves pages (hplace=off, NUMA balancing and demotion off)
  linux    Linux tiering: numa_balancing=2 + demotion_enabled
  damos    DAMOS as DAMON documents tiering: two paddr kdamonds, migrate_hot
           from the slow node, migrate_cold from the fast one
  hplace   hplace with the accessed-bit sampler
  hplace-pebs  hplace with PEBS, where the host provides it
"""

H = "/sys/kernel/mm/hplace"
DAMON = "/sys/kernel/mm/damon/admin/kdamonds"

# DAMOS parameters, stated in the report. Monitoring as DAMON's defaults
# (5 ms sampling, 100 ms aggregation); schemes as DAMON's tiering example
# (damo's tiered-memory script): promote regions accessed in >= 5% of the
# samples, demote regions with no access, each at most 200 MiB per second,
# applied every second; the cold scheme leaves young pages alone.
DAMOS_QUOTA_BYTES = 200 << 20
DAMOS = {
    "sample_us": 5000, "aggr_us": 100000, "update_us": 1000000,
    "min_regions": 10, "max_regions": 1000,
    "quota": f"{DAMOS_QUOTA_BYTES >> 20} MiB per 1 s per scheme, no time quota",
}


def _w(vm, path, value):
    vm.sh(f"echo {value} > {path}")


def _base(vm):
    _w(vm, "/proc/sys/kernel/numa_balancing", 0)
    _w(vm, "/sys/kernel/mm/numa/demotion_enabled", 0)


class System:
    name = ""
    append = "hplace=off"
    label = ""

    def skip_before_boot(self, accel):
        """Why this system cannot run under `accel` at all, or None."""
        return None

    def skip_reason(self, vm):
        """Why this system cannot run in this VM, or None."""
        return None

    def setup(self, vm, layout):
        _base(vm)

    def cost(self, vm, vmstat):
        """Cumulative counters: {name: nanoseconds or count}; detection
        cost, and for hplace its pages moved by reason (moves_<reason>).

        vmstat is /proc/vmstat as the caller just read it (vm.vmstat());
        the caller uses it too, so read it, never change it."""
        return {}


class NoTiering(System):
    name, label = "none", "no tiering"


class LinuxTiering(System):
    name, label = "linux", "Linux tiering (numa_balancing=2 + demotion)"

    def setup(self, vm, layout):
        _w(vm, "/proc/sys/kernel/numa_balancing", 2)
        _w(vm, "/sys/kernel/mm/numa/demotion_enabled", 1)

    def cost(self, vm, vmstat):
        # The hint-fault cost lands on the faulting task: only its count is
        # measurable from outside.
        return {"numa_hint_faults": vmstat.get("numa_hint_faults", 0),
                "numa_pte_updates": vmstat.get("numa_pte_updates", 0)}


class Damos(System):
    name, label = "damos", "DAMOS (migrate_hot + migrate_cold, paddr)"

    def setup(self, vm, layout):
        _base(vm)
        fast, slow = layout["fast"], layout["slow"]
        _w(vm, f"{DAMON}/nr_kdamonds", 2)
        for k, (ranges, action, nid) in enumerate(((slow, "migrate_hot", fast["node"]),
                                                   (fast, "migrate_cold", slow["node"]))):
            ctx = f"{DAMON}/{k}/contexts/0"
            _w(vm, f"{DAMON}/{k}/contexts/nr_contexts", 1)
            _w(vm, f"{ctx}/operations", "paddr")
            iv = f"{ctx}/monitoring_attrs/intervals"
            for f in ("sample_us", "aggr_us", "update_us"):
                _w(vm, f"{iv}/{f}", DAMOS[f])
            nr = f"{ctx}/monitoring_attrs/nr_regions"
            _w(vm, f"{nr}/min", DAMOS["min_regions"])
            _w(vm, f"{nr}/max", DAMOS["max_regions"])
            _w(vm, f"{ctx}/targets/nr_targets", 1)
            regs = f"{ctx}/targets/0/regions"
            _w(vm, f"{regs}/nr_regions", len(ranges["ranges"]))
            for i, (s, e) in enumerate(ranges["ranges"]):
                _w(vm, f"{regs}/{i}/start", s)
                _w(vm, f"{regs}/{i}/end", e)
            _w(vm, f"{ctx}/schemes/nr_schemes", 1)
            s = f"{ctx}/schemes/0"
            _w(vm, f"{s}/action", action)
            _w(vm, f"{s}/target_nid", nid)
            _w(vm, f"{s}/apply_interval_us", 1000000)
            # sysfs defaults every range to [0, 0]: set them all.
            max_acc = DAMOS["aggr_us"] // DAMOS["sample_us"]
            acc = (max(1, max_acc // 20), max_acc) if action == "migrate_hot" else (0, 0)
            pat = f"{s}/access_pattern"
            for f, (lo, hi) in (("sz", (4096, 1 << 40)), ("nr_accesses", acc),
                                ("age", (0, 1 << 31))):
                _w(vm, f"{pat}/{f}/min", lo)
                _w(vm, f"{pat}/{f}/max", hi)
            _w(vm, f"{s}/quotas/ms", 0)
            _w(vm, f"{s}/quotas/bytes", DAMOS_QUOTA_BYTES)
            _w(vm, f"{s}/quotas/reset_interval_ms", 1000)
            if action == "migrate_cold":
                _w(vm, f"{s}/filters/nr_filters", 1)
                _w(vm, f"{s}/filters/0/type", "young")
                _w(vm, f"{s}/filters/0/matching", "Y")
        for k in range(2):
            _w(vm, f"{DAMON}/{k}/state", "on")

    def cost(self, vm, vmstat):
        pids = vm.sh(f"cat {DAMON}/0/pid {DAMON}/1/pid").split()
        ns = sum(int(vm.sh(f"cat /proc/{p}/schedstat").split()[0]) for p in pids if int(p) > 0)
        return {"kdamond_ns": ns}


class Hplace(System):
    name, label, sampler = "hplace", "hplace, accessed-bit sampler", "abit"
    append = "hplace=on"

    def skip_reason(self, vm):
        rc, out = vm.run(f"echo {self.sampler} > {H}/sampler")
        if rc != 0:
            why = vm.sh(f"cat {H}/stats/pebs_unavailable 2>/dev/null || true")
            return f"sampler {self.sampler} refused ({why or out.strip()})"
        return None

    def setup(self, vm, layout):
        _base(vm)
        _w(vm, f"{H}/enabled", 1)
        _w(vm, f"{H}/sampler", self.sampler)

    def cost(self, vm, vmstat):
        c = {k: vmstat.get(k, 0)
             for k in ("hplace_sample_ns", "hplace_classify_ns", "hplace_migrate_ns")}
        # Pages moved by reason (stats/moves; exchange: pairs), to tell
        # what made up "pages moved".
        for line in vm.sh(f"cat {H}/stats/moves").splitlines():
            why, n = line.split()
            c[f"moves_{why}"] = int(n)
        return c


class HplacePebs(Hplace):
    name, label, sampler = "hplace-pebs", "hplace, PEBS sampler", "pebs"

    def skip_before_boot(self, accel):
        # TCG emulates no PMU; under KVM the guest itself says (skip_reason).
        if accel != "kvm":
            return f"PEBS needs a vPMU: this VM runs under {accel.upper()}, which has none"
        return None


ALL = [NoTiering(), LinuxTiering(), Damos(), Hplace(), HplacePebs()]
BY_NAME = {s.name: s for s in ALL}


def detection_permille(system, c0, c1, wall_s):
    """Detection CPU in permille of one CPU over the window, or None."""
    if system.name.startswith("hplace"):
        ns = sum(c1[k] - c0[k] for k in ("hplace_sample_ns", "hplace_classify_ns"))
    elif system.name == "damos":
        ns = c1["kdamond_ns"] - c0["kdamond_ns"]
    else:
        return None
    return ns / (wall_s * 1e9) * 1000.0
