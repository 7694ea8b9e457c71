"""The tenant's kernel and image (make check-full only; issue 15).

Builds the tenant kernel package (make tenant-kernel: Debian's cloud-amd64
configuration, the newest 6.12.y in the archive; more than an hour cold on
two cores) and the Debian 12 image with it (make image), then boots that
image once in the default tiered VM (UEFI, the image's own GRUB, systemd)
with the hballoon device, and checks what a tenant would: the module loaded
for the device by itself, both tiers, a shrink and grow of each node, hplace
moving a hot set under systemd with Debian's defaults, bpftrace and perf on
hplace's tracepoint, and the cgroup knob on a systemd slice. Last, the same
image boots as a libvirt domain. Every step notes its time."""

import atexit
import glob
import os
import re
import subprocess
import time

import pytap
from hballoontest import wait_settled
from hotset import hot_pages_on, start as start_hotset, stop_and_verify
from hplacetest import D, H, note
from htiervm import BUILD, IMAGE, VM, MiB

TOP = os.path.dirname(BUILD)
DEVICE = "virtio-hballoon-pci,id=hb0"
_built = {}
_vm = []


def _make(target, timeout):
    t0 = time.monotonic()
    r = subprocess.run(["make", "-s", "-C", TOP, target], capture_output=True, text=True,
                       timeout=timeout)
    took = time.monotonic() - t0
    assert r.returncode == 0, f"make {target} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
    note(f"make {target}: {took / 60:.1f} min")
    return r.stdout


def built():
    if not _built:
        raise pytap.Skip("the package and image were not built (see the first test)")
    return _built


def booted():
    """The image, booted once for the tests that follow (closed at exit or
    by the libvirt test). A failed boot fails the test that tried and skips
    the others: no second 600 s boot, no QEMU left behind."""
    built()
    if not _vm:
        vm = VM(name="image", disk=IMAGE, devices=[DEVICE])
        _vm.append(vm)
        try:
            vm.boot()
        except BaseException:
            vm.close()
            raise
        atexit.register(vm.close)
        note(f"image booted (firmware, GRUB, initrd, systemd) in {vm.boot_seconds:.0f} s")
    if _vm[0].proc is None or _vm[0].proc.poll() is not None or _vm[0].boot_seconds is None:
        raise pytap.Skip("the image did not boot (see the first test that booted it)")
    return _vm[0]


@pytap.full
def test_package_and_image_build():
    """make tenant-kernel then make image: the packages, their sizes, the
    6.12.y used, and an image that holds that kernel."""
    out = _make("tenant-kernel", 4 * 3600)
    m = re.search(r"LINUX +Debian linux-source-6.12 (\S+)", out)
    assert m, out
    debs = [d for d in glob.glob(f"{BUILD}/deb/linux-*.deb")]
    image = [d for d in debs if os.path.basename(d).startswith("linux-image-")]
    headers = [d for d in debs if os.path.basename(d).startswith("linux-headers-")]
    assert len(image) == 1 and len(headers) == 1, debs
    for d in debs:
        note(f"{os.path.basename(d)}: {os.path.getsize(d) / MiB:.0f} MiB")
    files = subprocess.run(["dpkg-deb", "-c", image[0]], capture_output=True, text=True,
                           check=True).stdout
    assert re.search(r"/virtio_hballoon\.ko(\.\w+)?$", files, re.M), \
        "virtio_hballoon is not a module of the package"
    _make("image", 3600)
    assert os.path.exists(IMAGE)
    note(f"{os.path.basename(IMAGE)}: {os.path.getsize(IMAGE) / MiB:.0f} MiB "
         f"(6.12.y: {m.group(1)})")
    _built.update(version=m.group(1), release=os.path.basename(image[0]).split("_")[0]
                  .removeprefix("linux-image-"))


@pytap.full
def test_boots_with_module_tiers_and_hplace():
    """systemd reaches multi-user; udev loaded virtio_hballoon for the
    device; numactl and the memory tiers show both tiers; hplace is on and
    NUMA balancing (on in Debian's configuration) was switched off for it."""
    vm = booted()
    assert vm.sh("uname -r") == built()["release"]
    state = vm.run("systemctl is-system-running --wait", timeout=300)[1].strip()
    assert state == "running", f"{state}:\n{vm.sh('systemctl --failed --no-legend')}"
    # "running" does not wait for udev's coldplug events; settle does.
    vm.sh("udevadm settle --timeout=120", timeout=180)
    assert vm.run("grep -q '^virtio_hballoon ' /proc/modules")[0] == 0, vm.sh("lsmod")
    assert vm.sh("ls /sys/bus/virtio/drivers/virtio_hballoon | grep -c virtio") == "1"
    hw = vm.sh("numactl --hardware")
    assert "available: 2 nodes (0-1)" in hw, hw
    tiers = [nodes for _, nodes in sorted(vm.memory_tiers().items())]
    assert tiers == [[0], [1]], vm.memory_tiers()
    assert vm.sh(f"cat {H}/enabled") == "1", vm.sh("dmesg | grep -i hplace")
    assert vm.sh("cat /proc/sys/kernel/numa_balancing") == "0"
    assert "hplace: NUMA balancing switched off" in vm.console_text()


@pytap.full
def test_hballoon_shrinks_and_grows_each_node():
    """128 MiB off each node and back: the node's MemTotal follows exactly
    (the balloon's pages leave the node's managed memory)."""
    vm = booted()
    for node in (0, 1):
        ram = wait_settled(vm, node, timeout=300)[0]["ram"]
        total = vm.node_meminfo(node)["MemTotal"]
        vm.qmp("hballoon-set", node=node, size=ram - 128 * MiB)
        wait_settled(vm, node, timeout=300)
        lost = total - vm.node_meminfo(node)["MemTotal"]
        assert lost == 128 * MiB, (node, lost)
        vm.qmp("hballoon-set", node=node, size=ram)
        wait_settled(vm, node, timeout=300)
        assert vm.node_meminfo(node)["MemTotal"] == total, node
    assert vm.qmp("query-hballoon")["bad-buffers"] == 0


@pytap.full
def test_hplace_moves_hot_set_under_systemd():
    """A 512 MiB working set first-touched on the slow node, its 128 MiB hot
    part reaches the fast node with systemd and journald running beside it."""
    vm = booted()
    promoted = vm.vmstat()["hplace_promote"]
    hs = start_hotset(vm, "-m 512 -H 128 -o 64 -r 500000 -n 1 -t 0")
    hot = (hs["hot_end"] - hs["hot_start"]) // 4096
    note(f"hot set on the fast node at start: {hot_pages_on(vm, hs)}/{hot} pages")
    t0 = time.monotonic()
    while (on_fast := hot_pages_on(vm, hs)) < 0.9 * hot:
        assert time.monotonic() - t0 < 300, \
            f"hot set {on_fast}/{hot} pages on the fast node after 300 s:\n" \
            + vm.sh(f"head -20 {D}/ranges; cat {H}/stats/paused")
        time.sleep(5)
    note(f"hot set on the fast node after {time.monotonic() - t0:.0f} s")
    # It got there by hplace's promotions, not by where it was first touched.
    promoted = vm.vmstat()["hplace_promote"] - promoted
    assert promoted >= 0.8 * hot, (promoted, hot)
    stop_and_verify(vm, hs)


@pytap.full
def test_bpftrace_and_perf_on_hplace_tracepoint():
    """The researcher guide's one-liners print hplace's sample batches."""
    vm = booted()
    hs = start_hotset(vm, "-m 64 -H 16 -r 1000 -t 0", name="bpf")
    out = vm.sh("timeout 120 bpftrace -e 'tracepoint:hplace:hplace_sample_batch "
                "{ printf(\"batch %s nr=%u\\n\", str(args->sampler), args->nr); "
                "if (++@n == 3) { exit(); } }'", timeout=180)
    assert len(re.findall(r"^batch abit nr=\d+$", out, re.M)) == 3, out
    out = vm.sh("perf stat -e hplace:hplace_sample_batch -a -x, sleep 10 2>&1", timeout=120)
    m = re.search(r"^(\d+),,hplace:hplace_sample_batch", out, re.M)
    assert m and int(m[1]) > 0, out
    stop_and_verify(vm, hs)


@pytap.full
def test_cgroup_knob_on_systemd_slice():
    """hplace's cgroup knob names a systemd slice: a service started in it
    is tracked, one outside it is not."""
    vm = booted()
    for unit, slice_ in (("hs-inside", "tenant.slice"), ("hs-outside", "system.slice")):
        vm.sh(f"systemd-run --quiet --unit={unit} --slice={slice_} "
              f"-p StandardOutput=file:/tmp/{unit}.out -p StandardError=inherit "
              "hotset -m 8 -H 1 -r 1000 -t 0")
    pids = {}
    for unit in ("hs-inside", "hs-outside"):
        deadline = time.monotonic() + 60
        while not (pid := int(vm.sh(f"systemctl show -P MainPID {unit}"))):
            assert time.monotonic() < deadline, vm.sh(f"systemctl status {unit}")
            time.sleep(1)
        pids[unit] = pid
    vm.sh(f"echo /tenant.slice > {H}/cgroup")
    deadline = time.monotonic() + 60
    while True:
        tracked = {int(l.split()[0]) for l in vm.sh(f"cat {D}/ranges").splitlines()}
        if pids["hs-inside"] in tracked:
            break
        assert time.monotonic() < deadline, (pids, tracked)
        time.sleep(1)
    assert pids["hs-outside"] not in tracked, (pids, tracked)
    vm.sh(f"echo - > {H}/cgroup")
    for unit, pid in pids.items():
        stop_and_verify(vm, {"pid": pid, "name": unit})
    problems = vm.console_problems()
    assert not problems, problems


@pytap.full
def test_boots_as_libvirt_domain():
    """The same image as a libvirt domain (UEFI chosen by libvirt from the
    firmware descriptors, q35, the device at the operator guide's slot):
    it boots, the module loads for the device, and hballoonctl resizes it."""
    built()
    while _vm:  # one TCG guest at a time on the host
        _vm.pop().close()
    from libvirtd import Libvirtd
    with Libvirtd() as lv:
        lv.define_image("tenant", IMAGE)
        agent = lv.agent("tenant", timeout=900)
        # Until udev's coldplug is done, the module may not be loaded yet.
        agent.sh("udevadm settle --timeout=120", timeout=180)
        assert agent.sh("uname -r") == built()["release"]
        assert agent.sh("grep -c '^virtio_hballoon ' /proc/modules") == "1"
        assert "available: 2 nodes (0-1)" in agent.sh("numactl --hardware")
        rc, out, err = lv.ctl("--domain", "tenant", "set", "1", "512M", timeout=600)
        assert rc == 0 and "reached 512 MiB" in out, (rc, out, err)
        agent.close()
