#!/usr/bin/env bash
# Copy the device ABI headers we own into a QEMU tree as "standard headers",
# converted the way QEMU's scripts/update-linux-headers.sh (cp_portable) does:
# kernel types become <stdint.h> types and <linux/x.h> includes point at
# include/standard-headers/linux/. QEMU must build against the very header the
# guest driver uses, so this is the only way the header gets into QEMU.
#
#   qemu-std-headers.sh QEMU_TREE
#
# The destination is rewritten only when its content changes, so an unchanged
# header does not trigger a QEMU rebuild.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:?usage: qemu-std-headers.sh QEMU_TREE}
die() { echo "qemu-std-headers: error: $*" >&2; exit 1; }
[ -d "$tree/include/standard-headers/linux" ] || die "$tree is not a QEMU tree"

headers=(hballoon/include/uapi/linux/virtio_hballoon.h)

for h in "${headers[@]}"; do
	src=$top/$h
	[ -r "$src" ] || die "$src is missing"
	# Same include whitelist as cp_portable: anything else would not build.
	if grep '#include' "$src" | grep -v -e 'linux/virtio' -e 'linux/types' \
		-e 'linux/const' >/dev/null; then
		die "unexpected #include in $h"
	fi
	dst=$tree/include/standard-headers/linux/$(basename "$h")
	tmp=$(mktemp "$dst.XXXXXX")
	sed -e 's/__aligned_u64/__u64 __attribute__((aligned(8)))/g' \
	    -e 's/__u\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/u\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/__s\([0-9][0-9]*\)/int\1_t/g' \
	    -e 's/__le\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/__be\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/<linux\/\([^>]*\)>/"standard-headers\/linux\/\1"/' \
	    -e '/<asm\/\([^>]*\)>/d' \
	    -e 's/__bitwise//' \
	    -e 's/__attribute__((packed))/QEMU_PACKED/' \
	    -e 's/__inline__/inline/' \
	    -e 's/__BITS_PER_LONG/HOST_LONG_BITS/' \
	    "$src" >"$tmp"
	if [ -e "$dst" ] && cmp -s "$tmp" "$dst"; then
		rm -f "$tmp"
	else
		chmod 644 "$tmp"
		mv -f "$tmp" "$dst"
		echo "  HEADER  $(basename "$dst") -> qemu standard-headers"
	fi
done
