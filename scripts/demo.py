#!/usr/bin/env python3
"""make demo: boot the default tiered VM and show hballoon + hplace at work.

The guest sees a fast and a slow NUMA node, each backed on the host by its
own shared file in /dev/shm, so the host side of a resize is visible as the
file's allocated blocks. The demo fills slow memory in the guest, then
shrinks and regrows each tier through hballoonctl, printing what the guest
and the host see after each step.

Then the main act: a workload whose 256 MiB hot set (90% of its touches)
sits in 1 GiB first touched on the slow node runs while a live table, one
row a second, shows how much of the hot set hplace has put on the fast
node, its promotions, demotions and exchanges, and the CPU of its two
threads. Midway the host shrinks the fast tier by 128 MiB and grows it
back through hballoonctl; later the hot set moves and hplace follows.
"""

import os
import re
import subprocess
import sys
import time

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import hotset  # noqa: E402
from htiervm import VM, MiB, VMError, default_nodes  # noqa: E402

HBALLOONCTL = os.path.join(TOP, "build", "hballoonctl")


def host_mib(vm, node):
    """MiB the host really has allocated for a node's backing file."""
    return os.stat(vm.backend_path(node)).st_blocks * 512 // MiB


def show(vm, title):
    print(f"== {title}")
    print("   node  guest MemTotal  guest MemFree  host allocated")
    for node in range(len(vm.nodes)):
        info = vm.node_meminfo(node)
        print(f"   {node:4d}  {info['MemTotal'] // MiB:10d} MiB  {info['MemFree'] // MiB:9d} MiB"
              f"  {host_mib(vm, node):10d} MiB")


def hballoonctl(vm, *args):
    cmd = [HBALLOONCTL, "--qmp", vm.qmp_path, *args]
    print("   $ hballoonctl " + " ".join(args))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    for line in (r.stdout + r.stderr).strip().splitlines():
        print("     " + line)
    if r.returncode not in (0, 4):  # 4: the guest could not give it all
        raise VMError(f"hballoonctl {' '.join(args)} exited {r.returncode}")


HOTSET = "-m 1024 -H 256 -o 64 -O 640 -c 100 -r 500000 -n 1 -t 0"
H = "/sys/kernel/mm/hplace"


def thread_pid(vm, comm):
    return vm.sh(f"for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = {comm} ] "
                 "&& echo ${p#/proc/}; done; true").split()[0]


def hplace_act(vm):
    """The live table: hot-set residency while the tiers change."""
    print("== hplace: a 1 GiB workload, 256 MiB of it hot, first touched on the slow node")
    vm.sh("echo 0 > /proc/sys/kernel/numa_balancing; "
          "echo 0 > /sys/kernel/mm/numa/demotion_enabled; "
          f"echo 0 > {H}/enabled; echo abit > {H}/sampler")
    hs = hotset.start(vm, HOTSET)
    pid = hs["pid"]
    vm.sh(f"echo 1 > {H}/enabled")  # the whole working set is on the slow node now
    engine, migrator = thread_pid(vm, "hplaced"), thread_pid(vm, "hplace-migrate")
    print(f"   sampler {vm.sh(f'cat {H}/sampler')}; budget "
          f"{vm.sh(f'cat {H}/cpu_budget_permille')} permille; migrate_mbps "
          f"{vm.sh(f'cat {H}/migrate_mbps')}")
    print("     t  hot on fast  fast free  promoted  demoted  exchanged  "
          "detect CPU  migrate CPU  event")
    fast = vm.nodes[0].size
    events = {70: ("shrink", ["set", "0", f"{(fast - 128 * MiB) // MiB}M"]),
              100: ("grow", ["set", "0", "max"]), 130: ("shift", None)}
    prev = None
    t0 = time.monotonic()
    while time.monotonic() - t0 < 230:
        out = vm.sh(f"pagenodes {pid} {hs['hot_start']:#x} {hs['hot_end']:#x}; "
                    f"cat /proc/{engine}/schedstat /proc/{migrator}/schedstat /proc/uptime "
                    f"{H}/stats/promoted {H}/stats/demoted {H}/stats/exchanged; "
                    "grep MemFree /sys/devices/system/node/node0/meminfo", timeout=120)
        lines = out.splitlines()
        m = re.search(r"pages=(\d+) node0=(\d+)", lines[0])
        share = int(m[2]) / int(m[1])
        cur = [int(lines[1].split()[0]), int(lines[2].split()[0]), float(lines[3].split()[0])]
        free = int(re.search(r"(\d+) kB", lines[7])[1]) // 1024
        cpu = ("", "")
        if prev:
            wall = (cur[2] - prev[2]) * 1e9
            cpu = (f"{(cur[0] - prev[0]) / wall * 1000:.1f}", f"{(cur[1] - prev[1]) / wall * 1000:.1f}")
        prev = cur
        el = time.monotonic() - t0
        event = ""
        for at in sorted(events):
            if el >= at:
                what, args = events.pop(at)
                event = what
                if args:
                    r = subprocess.run([HBALLOONCTL, "--qmp", vm.qmp_path, *args],
                                       capture_output=True, text=True, timeout=300)
                    event += f": hballoonctl {' '.join(args)} -> exit {r.returncode}"
                else:
                    hotset.shift(vm, hs)
                    event += f": the hot set moves to {hs['hot_start']:#x}"
                break
        print(f"   {el:4.0f}s  {share:10.1%}  {free:6d} MiB  {lines[4]:>8}  {lines[5]:>7}  "
              f"{lines[6]:>9}  {cpu[0]:>7} ‰  {cpu[1]:>8} ‰   {event}", flush=True)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0 - el)))
    print("   workload: " + hotset.stop_and_verify(vm, hs))
    print("   " + vm.sh("grep -E 'hplace_(promote|demote|exchange|migrate)' /proc/vmstat "
                        "| tr '\\n' ' '"))
    print("   why pages moved (stats/moves): "
          + vm.sh("tr '\\n' ' ' < /sys/kernel/mm/hplace/stats/moves"))
    print("   passes woken by the fast node's free mark (stats/free_mark_wakeups): "
          + vm.sh("cat /sys/kernel/mm/hplace/stats/free_mark_wakeups"))


def main():
    nodes = default_nodes()
    for n in nodes:
        n.backend = "file"
    vm = VM(name="demo", nodes=nodes, devices=["virtio-hballoon-pci,id=hb0"])
    print(f"== htier demo: booting the default tiered VM under {vm.accel.upper()}"
          f"{'' if vm.accel == 'kvm' else ' (KVM did not boot a guest here)'}")
    for i, n in enumerate(vm.nodes):
        print(f"   host: node {i}: {n.size // MiB} MiB in {vm.backend_path(i)}, "
              f"{'with the vCPUs' if n.cpus else 'CPU-less'}, HMAT {n.latency_ns} ns, "
              f"{n.bandwidth}B/s")
    try:
        with vm:
            print(f"== guest ready after {vm.boot_seconds:.1f}s: Linux {vm.sh('uname -r')}")
            print("== guest memory tiers (/sys/devices/virtual/memory_tiering):")
            for tier, tnodes in sorted(vm.memory_tiers().items()):
                print(f"   memory_tier{tier}: nodes {tnodes}"
                      + ("   <- fast" if 0 in tnodes else "   <- slow" if 1 in tnodes else ""))
            show(vm, "at boot")
            print("== the guest touches 1 GiB of slow memory, then frees it")
            print("   " + vm.sh("memfill -n 1 -m 1024", timeout=300))
            show(vm, "slow memory touched: the host has backed it")
            slow = vm.nodes[1].size
            hballoonctl(vm, "set", "1", f"{(slow - 512 * MiB) // MiB}M")
            show(vm, "slow tier shrunk by 512 MiB: the host got it back")
            fast = vm.nodes[0].size
            hballoonctl(vm, "set", "0", f"{(fast - 128 * MiB) // MiB}M")
            show(vm, "fast tier shrunk by 128 MiB, slow tier unchanged")
            hballoonctl(vm, "set", "1", "max")
            hballoonctl(vm, "set", "0", "max")
            show(vm, "both tiers grown back (host memory returns as the guest uses it)")
            hballoonctl(vm, "status")
            hplace_act(vm)
            print("== powering off")
    except VMError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
