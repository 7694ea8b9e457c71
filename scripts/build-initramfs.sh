#!/usr/bin/env bash
# Build build/initramfs.cpio.gz: busybox-static, the harness agent (/init) and
# our guest tools (tests/guest/*.c, bench/workloads/*.c, statically linked).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/initramfs.cpio.gz
stage=$top/build/initramfs.d
objdir=$top/build/obj/guest
die() { echo "build-initramfs: error: $*" >&2; exit 1; }

[ -x /bin/busybox ] || die "busybox-static is not installed (make deps)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || [ ! -x /usr/bin/file ] ||
	die "/bin/busybox is not statically linked (install busybox-static)"

echo "  GEN     $(basename "$out")"
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc} "$objdir"
cp /bin/busybox "$stage/bin/busybox"
/bin/busybox --list-full | while read -r applet; do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
install -m 755 "$top/tests/guest/init" "$stage/init"
install -m 755 "$top/tests/guest/htier-agent" "$stage/usr/bin/htier-agent"

# Guest tools: one static binary per source file, rebuilt only when it changed.
CFLAGS=(-std=gnu11 -O2 -g0 -static -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/tests/guest")
for src in "$top"/tests/guest/*.c "$top"/bench/workloads/*.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .c)
	bin=$objdir/$name
	deps=("$src" "$top"/tests/guest/*.h "$(dirname "$src")"/*.h)
	rebuild=0
	for d in "${deps[@]}"; do [ -f "$d" ] && [ "$d" -nt "$bin" ] && rebuild=1; done
	if [ $rebuild -eq 1 ] || [ ! -f "$bin" ]; then
		echo "  CC      guest/$name"
		gcc "${CFLAGS[@]}" -o "$bin" "$src" -lm || die "building guest tool $name failed"
	fi
	install -m 755 "$bin" "$stage/usr/bin/$name"
done

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -6 > "$out.tmp"
mv "$out.tmp" "$out"
