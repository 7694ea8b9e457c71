#!/usr/bin/env python3
"""make demo: boot the default tiered VM and show what the guest sees."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from htiervm import VM, MiB, VMError  # noqa: E402


def main():
    vm = VM(name="demo")
    print(f"== htier demo: booting the default tiered VM under {vm.accel.upper()}"
          f"{'' if vm.accel == 'kvm' else ' (KVM did not boot a guest here)'}")
    for i, n in enumerate(vm.nodes):
        print(f"   host: node {i}: {n.size // MiB} MiB, "
              f"{'with the vCPUs' if n.cpus else 'CPU-less'}, HMAT {n.latency_ns} ns, "
              f"{n.bandwidth}B/s")
    try:
        with vm:
            print(f"== guest ready after {vm.boot_seconds:.1f}s: {vm.sh('uname -r')}")
            print("== guest memory tiers (/sys/devices/virtual/memory_tiering):")
            for tier, nodes in sorted(vm.memory_tiers().items()):
                print(f"   memory_tier{tier}: nodes {nodes}")
            print("== guest nodes:")
            for node in range(len(vm.nodes)):
                info = vm.node_meminfo(node)
                print(f"   node {node}: MemTotal {info['MemTotal'] // MiB:5d} MiB   "
                      f"MemFree {info['MemFree'] // MiB:5d} MiB")
            print("== powering off")
    except VMError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
