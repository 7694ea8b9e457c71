"""What the hplace end-to-end tests share: where hplace's files are, and a
guest set up the way they all need it (the kernel's own tiering switched
off explicitly: NUMA balancing and demotion)."""

H = "/sys/kernel/mm/hplace"
D = "/sys/kernel/debug/hplace"


def note(msg):
    """A TAP comment line, shown with the test's result."""
    print(f"# {msg}", flush=True)


def prepare(vm, enable=True):
    """numa_balancing=0, demotion_enabled=0, then hplace on (or off)."""
    vm.sh("echo 0 > /proc/sys/kernel/numa_balancing")
    vm.sh("echo 0 > /sys/kernel/mm/numa/demotion_enabled")
    vm.sh(f"test -d {H} && test -d {D}")
    vm.sh(f"echo {1 if enable else 0} > {H}/enabled")
