"""The build steps fail loudly, with the reason: a hook patch that does not
apply (naming the patch and the release it was made for), an overlay file that
would replace an upstream file, not being root, an unreachable archive."""

import os
import shutil
import subprocess
import tarfile
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREPARE = os.path.join(TOP, "scripts", "prepare-tree.sh")
DEPS = os.path.join(TOP, "scripts", "deps.sh")


def make_upstream(tmp):
    """A tiny 'upstream' release tarball: pkg-1.0/{README,src/a.c}."""
    src = os.path.join(tmp, "pkg-1.0")
    os.makedirs(os.path.join(src, "src"))
    with open(os.path.join(src, "README"), "w") as f:
        f.write("upstream readme\n")
    with open(os.path.join(src, "src", "a.c"), "w") as f:
        f.write("int a(void)\n{\n\treturn 1;\n}\n")
    tarball = os.path.join(tmp, "pkg-1.0.tar.xz")
    with tarfile.open(tarball, "w:xz") as t:
        t.add(src, arcname="pkg-1.0")
    return tarball


PATCH = """From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: htier <htier@localhost>
Date: Sun, 22 Nov 2026 00:00:00 +0000
Subject: [PATCH] src: return two

---
 src/a.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/src/a.c b/src/a.c
--- a/src/a.c
+++ b/src/a.c
@@ -1,4 +1,4 @@
 int a(void)
 {
-\treturn {old};
+\treturn 2;
 }
--
2.39.5
"""


def prepare(tmp, name, tarball, series, *overlays):
    env = dict(os.environ, HOME=tmp)
    # prepare-tree.sh puts trees under <its repo>/build/src/NAME: use a
    # throwaway name so the real trees are never touched.
    return subprocess.run([PREPARE, name, tarball, "1", series, *overlays],
                          capture_output=True, text=True, env=env, timeout=120)


def with_tree(fn):
    def run():
        with tempfile.TemporaryDirectory() as tmp:
            name = "selftest-" + os.path.basename(tmp)
            try:
                fn(tmp, name)
            finally:
                subprocess.run(["rm", "-rf", os.path.join(TOP, "build", "src", name)])
    run.__name__ = fn.__name__
    return run


def write_series(tmp, old):
    pdir = os.path.join(tmp, "patches")
    os.makedirs(pdir, exist_ok=True)
    with open(os.path.join(pdir, "0001-src-return-two.patch"), "w") as f:
        f.write(PATCH.replace("{old}", old))
    series = os.path.join(pdir, "series")
    with open(series, "w") as f:
        f.write("# made-for: pkg 1.0\n0001-src-return-two.patch\n")
    return series


@with_tree
def test_patch_that_applies_and_overlay(tmp, name):
    tarball = make_upstream(tmp)
    series = write_series(tmp, "1")
    overlay = os.path.join(tmp, "overlay")
    os.makedirs(os.path.join(overlay, "src"))
    with open(os.path.join(overlay, "src", "b.c"), "w") as f:
        f.write("int b;\n")
    r = prepare(tmp, name, tarball, series, overlay)
    assert r.returncode == 0, r.stderr
    tree = os.path.join(TOP, "build", "src", name)
    assert "return 2;" in open(os.path.join(tree, "src", "a.c")).read()
    assert open(os.path.join(tree, "src", "b.c")).read() == "int b;\n"
    # A second run changes nothing: no file is rewritten.
    before = {p: os.stat(os.path.join(tree, p)).st_mtime_ns for p in ("src/a.c", "src/b.c")}
    r = prepare(tmp, name, tarball, series, overlay)
    assert r.returncode == 0 and "PATCH" not in r.stdout, r.stdout + r.stderr
    after = {p: os.stat(os.path.join(tree, p)).st_mtime_ns for p in before}
    assert before == after


@with_tree
def test_patch_that_does_not_apply_is_named(tmp, name):
    tarball = make_upstream(tmp)
    series = write_series(tmp, "7")  # context that upstream does not have
    r = prepare(tmp, name, tarball, series)
    assert r.returncode != 0
    assert "0001-src-return-two.patch does not apply" in r.stderr, r.stderr
    assert "it was made for: pkg 1.0" in r.stderr, r.stderr


@with_tree
def test_overlay_may_not_replace_upstream_files(tmp, name):
    tarball = make_upstream(tmp)
    series = os.path.join(tmp, "series")
    open(series, "w").write("# empty\n")
    overlay = os.path.join(tmp, "overlay")
    os.makedirs(overlay)
    with open(os.path.join(overlay, "README"), "w") as f:
        f.write("ours\n")
    r = prepare(tmp, name, tarball, series, overlay)
    assert r.returncode != 0
    assert "would replace an upstream file" in r.stderr, r.stderr


def test_deps_refuses_non_root():
    # A copy the unprivileged user can read: the clone may live under a
    # private directory (mode 700, as mktemp -d makes), where bash would
    # fail to open the script itself ("Permission denied") and prove nothing.
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        deps = os.path.join(tmp, "deps.sh")
        shutil.copy(DEPS, deps)
        os.chmod(deps, 0o755)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "bash", deps], capture_output=True, text=True, timeout=60,
                           cwd=tmp)
    assert r.returncode != 0
    assert "must run as root" in r.stderr, r.stderr


def test_deps_reports_unreachable_archive():
    if os.geteuid() != 0:
        raise AssertionError("run as root (CI does)")
    with tempfile.TemporaryDirectory() as tmp:
        lists = os.path.join(tmp, "lists")
        os.makedirs(os.path.join(lists, "partial"))
        with open(os.path.join(tmp, "sources.list"), "w") as f:
            f.write("deb http://127.0.0.1:9/debian bookworm main\n")
        conf = os.path.join(tmp, "apt.conf")
        with open(conf, "w") as f:
            f.write(f'Dir::Etc::sourcelist "{tmp}/sources.list";\n'
                    'Dir::Etc::sourceparts "/nonexistent";\n'
                    f'Dir::State::Lists "{lists}";\n'
                    'Acquire::Retries "0";\n')
        r = subprocess.run([DEPS, "--update"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, APT_CONFIG=conf))
    assert r.returncode != 0
    assert "could not be reached" in r.stderr and "127.0.0.1" in r.stderr, r.stderr
