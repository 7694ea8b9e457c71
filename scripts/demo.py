#!/usr/bin/env python3
"""make demo: boot the default tiered VM and show hballoon at work.

The guest sees a fast and a slow NUMA node, each backed on the host by its
own shared file in /dev/shm, so the host side of a resize is visible as the
file's allocated blocks. The demo fills slow memory in the guest, then
shrinks and regrows each tier through hballoonctl, printing what the guest
and the host see after each step.
"""

import os
import subprocess
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
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
            print("== powering off")
    except VMError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
