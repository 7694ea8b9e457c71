#!/usr/bin/env bash
# Build build/initramfs-bench.cpio.gz: build/initramfs.cpio.gz followed by a
# second newc archive with the host's dynamically linked bench programs
# (redis-server, liblinear-train, liblinear-predict), every shared library
# `ldd` lists for them (dynamic loader included) at the same paths, and the
# few files they read at run time. Linux unpacks concatenated initramfs
# archives in order, so the result is the test initramfs plus these.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
base=$top/build/initramfs.cpio.gz
out=$top/build/initramfs-bench.cpio.gz
stage=$top/build/initramfs-bench.d
progs=(/usr/bin/redis-server /usr/bin/liblinear-train /usr/bin/liblinear-predict)
die() { echo "build-bench-initramfs: error: $*" >&2; exit 1; }

[ -f "$base" ] || die "$base is missing (make initramfs)"
for p in "${progs[@]}"; do
	[ -x "$p" ] || die "$p is missing (make deps: redis-server, liblinear-tools)"
done

echo "  GEN     $(basename "$out")"
rm -rf "$stage"
mkdir -p "$stage"

# Copy a file to the same path in the stage, following symlinks (Debian's
# libblas.so.3 is an alternatives link; /lib is /usr/lib).
put() {
	mkdir -p "$stage$(dirname "$1")"
	cp -L "$1" "$stage$1"
}

libs=()
for p in "${progs[@]}"; do
	put "$p"
	# "name => /path (addr)", "/path (addr)" for the loader, no path for the vDSO.
	while read -r lib; do
		libs+=("$lib")
	done < <(ldd "$p" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
done
for lib in $(printf '%s\n' "${libs[@]}" | LC_ALL=C sort -u); do
	[ -f "$lib" ] || die "$lib (from ldd) is missing"
	put "$lib"
done
[ -f "$stage/lib64/ld-linux-x86-64.so.2" ] || die "no dynamic loader among the libraries"

# Run-time files: user and group names for programs that look them up.
mkdir -p "$stage/etc"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\n' > "$stage/etc/group"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -6 > "$out.tmp"
cat "$base" "$out.tmp" > "$out.tmp2"
rm -f "$out.tmp"
mv "$out.tmp2" "$out"
