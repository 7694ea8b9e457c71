#!/usr/bin/env bash
# Build build/initramfs-selftests.cpio.gz: build/initramfs.cpio.gz followed by
# a second newc archive with Linux's own mm selftests
# (tools/testing/selftests/mm of the prepared tree in build/src/linux, built
# statically, unchanged) in /opt/selftests/mm, and bash (bash-static) for
# their runner, run_vmtests.sh. Linux unpacks concatenated initramfs archives
# in order, so the result is the test initramfs plus these.
#
# The UAPI headers come from the same tree (make headers into
# build/obj/selftests-mm/kobj), so the tests are built against the kernel
# they run on. Callers hold build/.kernel.lock (the tree is shared with the
# kernel builds). tests/selftests-mm.py runs them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/src/linux
obj=$top/build/obj/selftests-mm
base=$top/build/initramfs.cpio.gz
out=$top/build/initramfs-selftests.cpio.gz
stage=$top/build/initramfs-selftests.d
die() { echo "build-selftests-mm: error: $*" >&2; exit 1; }

[ -f "$base" ] || die "$base is missing (make initramfs)"
[ -x /bin/bash-static ] || die "/bin/bash-static is missing (make deps: bash-static)"
[ -f /usr/lib/x86_64-linux-gnu/libnuma.a ] || die "static libnuma is missing (make deps: libnuma-dev)"
[ -f /usr/lib/x86_64-linux-gnu/liburing.a ] || die "static liburing is missing (make deps: liburing-dev)"
[ -f /usr/lib/x86_64-linux-gnu/libcap.a ] || die "static libcap is missing (make deps: libcap-dev)"

"$top/scripts/prepare-tree.sh" linux /usr/src/linux-source-6.12.tar.xz 1 \
	"$top/guest-mm/patches/series" "$top/guest-mm" "$top/hballoon"

mkdir -p "$obj/kobj" "$obj/bin"
echo "  HDRS    selftests-mm ($(make -s -C "$tree" kernelversion))"
make -s -C "$tree" O="$obj/kobj" headers >"$obj/headers.log" 2>&1 ||
	die "make headers failed:
$(tail -20 "$obj/headers.log")"

# The selftests' own Makefile, as upstream runs it; -static so the binaries
# need nothing from the initramfs. Its check_config.sh writes local_config.*
# into the source directory (git-ignored upstream).
echo "  MAKE    selftests/mm"
# check_config.sh caches what it found in the source directory, and
# prepare-tree.sh keeps untracked files: probe afresh every time.
rm -f "$tree/tools/testing/selftests/mm/local_config."{h,mk}
make -C "$tree/tools/testing/selftests/mm" -j"$(nproc)" OUTPUT="$obj/bin" \
	KHDR_INCLUDES="-isystem $obj/kobj/usr/include" LDFLAGS=-static \
	>"$obj/build.log" 2>&1 ||
	die "building tools/testing/selftests/mm failed:
$(grep -E -m20 'error' "$obj/build.log" || tail -20 "$obj/build.log")"

# Without io_uring, gup_longterm and cow skip their long-term pin cases
# silently; refuse to build that.
grep -q LOCAL_CONFIG_HAVE_LIBURING "$tree/tools/testing/selftests/mm/local_config.h" ||
	die "selftests/mm built without liburing (check_config.sh did not find it)"

echo "  GEN     $(basename "$out")"
rm -rf "$stage"
dst=$stage/opt/selftests/mm
mkdir -p "$dst" "$stage/bin" "$stage/etc"
# Every program the Makefile built, and the scripts and settings
# run_vmtests.sh calls (TEST_PROGS and TEST_FILES upstream).
cp -p "$obj"/bin/* "$dst/"
src=$tree/tools/testing/selftests/mm
cp -p "$src"/*.sh "$src/settings" "$dst/"
# run_vmtests.sh needs bash; busybox has none.
cp /bin/bash-static "$stage/bin/bash"
# What the runner's scripts call and busybox lacks (charge_reserved_hugetlb.sh
# and hugetlb_reparenting_test.sh clean up with "pgrep -f" and "killall
# --wait", without which the first one hangs; va_high_addr_switch.sh reads
# the kernel config with "gzip -dcfq", which busybox cannot do on plain
# text), and kmod (below): Debian's procps, psmisc, gzip and kmod programs,
# in /usr/bin (ahead of busybox's /bin in PATH), with the shared libraries
# they load.
for prog in /usr/bin/pgrep /usr/bin/pkill /usr/bin/killall /bin/gzip /bin/kmod; do
	[ -x "$prog" ] || die "$prog is missing (make deps: procps psmisc gzip kmod)"
	install -D -m 755 "$prog" "$stage/usr/bin/${prog##*/}"
	for lib in $(ldd "$prog" | grep -oE '/[^ ]+'); do
		[ -e "$stage$lib" ] || install -D -m 755 "$lib" "$stage$lib"
	done
done
# The debug kernel's configuration where scripts look for it
# (va_high_addr_switch.sh reads PGTABLE_LEVELS from /boot/config-RELEASE;
# without it the test fails before it starts).
dbg=$top/build/obj/linux-debug
[ -f "$dbg/.config" ] || die "$dbg/.config is missing (make kernel-debug)"
release=$(make -s -C "$tree" O="$dbg" kernelrelease)
install -D -m 644 "$dbg/.config" "$stage/boot/config-$release"
# The debug kernel's test module (test_hmm) and depmod's index, with kmod's
# modprobe and modinfo: busybox's modinfo exits 0 for a module that does
# not exist, and test_vmalloc.sh would then "pass" without its module.
# (the kernel's depmod.sh only warns when it cannot run depmod)
[ -f "$dbg/modules/lib/modules/$release/modules.dep" ] ||
	die "$dbg/modules/lib/modules/$release/modules.dep is missing (make kernel-debug installs the modules; depmod: make deps)"
mkdir -p "$stage/lib/modules"
cp -a "$dbg/modules/lib/modules/$release" "$stage/lib/modules/"
rm -f "$stage/lib/modules/$release/build" "$stage/lib/modules/$release/source"
for tool in modprobe modinfo; do
	ln -s kmod "$stage/usr/bin/$tool"
done
# on-fault-limit runs as nobody through sudo, which the guest lacks: a
# small one (tests/guest/selftests-sudo) on busybox su.
install -m 755 "$top/tests/guest/selftests-sudo" "$stage/bin/sudo"
# Tests that look up a user.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"

extra=$obj/extra.cpio.gz
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -6 >"$extra"
cat "$base" "$extra" >"$out.tmp"
mv "$out.tmp" "$out"
