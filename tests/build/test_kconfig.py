"""The guest configuration's Kconfig dependencies are honest: turning off
what hplace needs (cgroups for the watched-cgroup rule; in-kernel perf
counters for PEBS, which x86 cannot turn off) makes Kconfig refuse hplace
instead of leaving a kernel that does not link; and (make check-full) such
a kernel builds.

Runs Kconfig on the prepared tree (build/src/linux, which make check has
just prepared) in scratch object directories."""

import contextlib
import fcntl
import os
import subprocess
import tempfile

import pytap

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TREE = os.path.join(TOP, "build", "src", "linux")
CONFIG = os.path.join(TOP, "guest-mm", "kernel", "configs", "htier.config")


def configure(obj, *overrides):
    """tinyconfig + htier.config + overrides in obj; returns .config as a dict."""
    if not os.path.isfile(os.path.join(TREE, "Makefile")):
        raise AssertionError(f"{TREE} is not prepared (make kernel)")
    with tree_lock():
        return _configure(obj, overrides)


@contextlib.contextmanager
def tree_lock():
    """The prepared tree is shared with the kernel builds (the Makefile's
    LOCK): hold build/.kernel.lock while reading it."""
    with open(os.path.join(TOP, "build", ".kernel.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _configure(obj, overrides):
    frag = os.path.join(obj, "override.config")
    with open(frag, "w") as f:
        f.write("".join(o + "\n" for o in overrides))
    run = dict(capture_output=True, text=True, timeout=600)
    r = subprocess.run(["make", "-s", "-C", TREE, f"O={obj}", "tinyconfig"], **run)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([os.path.join(TREE, "scripts", "kconfig", "merge_config.sh"), "-m",
                        "-O", obj, os.path.join(obj, ".config"), CONFIG, frag], cwd=obj, **run)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run(["make", "-s", "-C", TREE, f"O={obj}", "olddefconfig"], **run)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = {}
    for line in open(os.path.join(obj, ".config")):
        if line.startswith("CONFIG_"):
            k, _, v = line.strip().partition("=")
            cfg[k] = v
    return cfg


def test_perf_events_forced_page_exchange_selected():
    """HPLACE depends on PERF_EVENTS, but x86 selects PERF_EVENTS itself:
    there is no x86 kernel without it to refuse hplace in (should that
    change, this fails and the refusal gets a test like CGROUPS's). And
    HPLACE brings PAGE_EXCHANGE, which it calls, even when the fragment
    turns it off."""
    with tempfile.TemporaryDirectory() as obj:
        cfg = configure(obj, "# CONFIG_PERF_EVENTS is not set",
                        "# CONFIG_PAGE_EXCHANGE is not set")
        assert cfg.get("CONFIG_PERF_EVENTS") == "y", "x86 no longer forces PERF_EVENTS"
        assert cfg.get("CONFIG_HPLACE") == "y"
        assert cfg.get("CONFIG_PAGE_EXCHANGE") == "y", "HPLACE did not select PAGE_EXCHANGE"


def test_no_cgroups_refuses_hplace():
    with tempfile.TemporaryDirectory() as obj:
        cfg = configure(obj, "# CONFIG_CGROUPS is not set")
        assert "CONFIG_CGROUPS" not in cfg
        assert "CONFIG_HPLACE" not in cfg, "Kconfig kept HPLACE without CGROUPS"
        assert cfg.get("CONFIG_PAGE_EXCHANGE") == "y"


@pytap.full
def test_kernel_without_hplace_builds():
    """What Kconfig leaves when it refuses hplace (page exchange, hballoon
    and the hooks without it) compiles and links."""
    with tempfile.TemporaryDirectory() as obj:
        configure(obj, "# CONFIG_CGROUPS is not set")
        with tree_lock():
            r = subprocess.run(["make", "-s", "-C", TREE, f"O={obj}", f"-j{os.cpu_count()}",
                                "CC=ccache gcc", "bzImage"],
                               capture_output=True, text=True, timeout=3000,
                               env=dict(os.environ, CCACHE_BASEDIR=TOP))
        assert r.returncode == 0, r.stderr[-3000:]
