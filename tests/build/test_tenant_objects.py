"""The series follows Debian's 6.12.y: it applies to the newest linux-source-6.12
in the archive, and the files it adds or patches compile without warnings under
Debian's cloud-amd64 configuration plus tenant.config, where hballoon is a
module whose every undefined symbol the kernel exports (`make tenant-objects`,
a few minutes cold; the whole tenant kernel does not fit make check).

Version drift and configuration drift show up here first: a hook patch that
no longer applies fails with its name and both versions, a missing export
with the symbol's name."""

import os
import re
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FETCH = os.path.join(TOP, "scripts", "fetch-linux-source.sh")


def newest_in_archive():
    """The newest linux-source-6.12 apt knows, by dpkg's ordering."""
    out = subprocess.run(["apt-cache", "madison", "linux-source-6.12"],
                         capture_output=True, text=True, check=True).stdout
    best = None
    for line in out.splitlines():
        v = line.split("|")[1].strip()
        if best is None or subprocess.run(["dpkg", "--compare-versions", v, "gt", best]).returncode == 0:
            best = v
    assert best, "apt knows no linux-source-6.12 (make deps)"
    return best


def sources():
    """The .c files of the overlays and of the hook patches (kernel side)."""
    out = set()
    for d in ("guest-mm", "hballoon"):
        ls = subprocess.run(["git", "-C", os.path.join(TOP, d), "ls-files", "*.c"],
                            capture_output=True, text=True, check=True).stdout.split()
        out.update(f for f in ls if not f.startswith("tools/"))
    pdir = os.path.join(TOP, "guest-mm", "patches")
    for name in os.listdir(pdir):
        if name.endswith(".patch"):
            for line in open(os.path.join(pdir, name)):
                m = re.match(r"\+\+\+ b/(\S+\.c)$", line)
                if m and not m.group(1).startswith(("tools/", "scripts/", "samples/")):
                    out.add(m.group(1))
    return sorted(out)


def test_newest_6_12_objects():
    want = newest_in_archive()
    t0 = time.monotonic()
    r = subprocess.run(["make", "-s", "-C", TOP, "tenant-objects"], capture_output=True,
                       text=True, timeout=2400, env={k: v for k, v in os.environ.items()
                                                    if k != "HTIER_LINUX_VERSION"})
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    m = re.search(r"LINUX +Debian linux-source-6.12 (\S+) \(the newest in the archive\)", r.stdout)
    assert m, "the build did not say which 6.12.y it used:\n" + r.stdout
    assert m.group(1) == want, f"built {m.group(1)}, but the newest in the archive is {want}"
    ok = re.search(r"OK +(\S+): .*", r.stdout)
    assert ok, r.stdout
    objs = re.search(r"CC +(\d+) objects \(modules: ([^;]*); not configured: ([^;)]*)", r.stdout)
    assert objs, r.stdout
    # Every file the series adds or patches is compiled, but hplace's KUnit
    # tests (Debian has no KUnit); hballoon is the module.
    assert objs.group(2).split() == ["drivers/virtio/virtio_hballoon.o"], r.stdout
    assert objs.group(3).split() == ["mm/hplace/hplace_kunit.c"], r.stdout
    assert int(objs.group(1)) == len(sources()) - 1, (objs.group(1), sources())
    print(f"# {want}: {objs.group(1)} objects, {took:.0f} s")


def test_unknown_version_refused():
    """A version the archive does not have is refused with apt's reason,
    before anything is unpacked."""
    r = subprocess.run([FETCH, "6.12.0-0~htier-test"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode != 0
    assert "apt-get download linux-source-6.12=6.12.0-0~htier-test failed" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(TOP, "build", "dl", "linux-6.12", "6.12.0-0~htier-test"))
