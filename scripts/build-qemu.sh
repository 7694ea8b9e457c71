#!/usr/bin/env bash
# Build QEMU 10.0.2 with the hballoon device: build/qemu-system-x86_64.
# Extra ninja targets (qtests) can be named as arguments.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/src/qemu
obj=$top/build/obj/qemu
die() { echo "build-qemu: error: $*" >&2; exit 1; }

"$top/scripts/fetch-qemu.sh"
"$top/scripts/prepare-tree.sh" qemu "$top/build/dl/qemu_10.0.2+ds.orig.tar.xz" 1 \
	"$top/qemu-hballoon/patches/series" "$top/qemu-hballoon"
# The device ABI has one source, the Linux uapi header under hballoon/.
if [ -x "$top/scripts/qemu-std-headers.sh" ]; then
	"$top/scripts/qemu-std-headers.sh" "$tree"
fi

# Firmware comes from Debian's seabios and qemu-system-data packages, and the
# NICs' option ROMs (efi-*.rom, which q35's default e1000e and every -nic
# load) from ipxe-qemu, which puts them in /usr/lib/ipxe/qemu; not
# relocatable, or QEMU looks for it relative to build/ instead.
conf=(--target-list=x86_64-softmmu --without-default-features
	--enable-tcg --enable-kvm --enable-plugins --disable-docs --disable-rust
	--disable-install-blobs --disable-werror --python=/usr/bin/python3
	--prefix=/usr --firmwarepath=/usr/share/seabios:/usr/share/qemu:/usr/lib/ipxe/qemu
	--disable-relocatable --cc="ccache cc")
# ninja re-runs meson by itself when a patch changes a meson.build.
csum=$(echo "${conf[*]}" | sha256sum | cut -d' ' -f1)
# ccache keeps its default per-user cache, shared by every clone on this
# machine; BASEDIR makes paths relative so another clone still hits. QEMU's
# configure names the compiler in meson's cross file, where meson does not
# add ccache by itself: --cc above does.
export CCACHE_BASEDIR=$top
if [ ! -f "$obj/build.ninja" ] || [ "$(cat "$obj/.htier-config" 2>/dev/null)" != "$csum" ]; then
	echo "  CONFIGURE qemu"
	mkdir -p "$obj"
	(cd "$obj" && "$tree/configure" "${conf[@]}") >"$obj/configure.log" 2>&1 ||
		die "configure failed:
$(tail -20 "$obj/configure.log")"
	echo "$csum" > "$obj/.htier-config"
fi
echo "  NINJA   qemu-system-x86_64 $*"
ninja -C "$obj" -j"$(nproc)" qemu-system-x86_64 "$@" >"$obj/ninja.log" 2>&1 ||
	die "QEMU build failed:
$(grep -E 'error|Error' -m20 "$obj/ninja.log" || tail -20 "$obj/ninja.log")"
# Copy and rename: running VMs keep the old binary ("text file busy" otherwise).
cp -p "$obj/qemu-system-x86_64" "$top/build/.qemu-system-x86_64.new"
mv -f "$top/build/.qemu-system-x86_64.new" "$top/build/qemu-system-x86_64"

# The access meter, a TCG plugin: build/plugins/libhtiermeter.so from our
# overlay's contrib/plugins/htiermeter.c. Compiled here, not by the tree's
# contrib/plugins/meson.build: listing it there would need a hook patch,
# and one file against one header needs no meson.
src=$tree/contrib/plugins/htiermeter.c
so=$top/build/plugins/libhtiermeter.so tmp=$top/build/plugins/.libhtiermeter.so.new
if [ ! -f "$so" ] || [ "$src" -nt "$so" ] || [ "$tree/include/qemu/qemu-plugin.h" -nt "$so" ] ||
	[ "$top/scripts/build-qemu.sh" -nt "$so" ]; then
	echo "  CC      plugins/libhtiermeter.so"
	mkdir -p "$(dirname "$so")"
	# Callbacks have fixed signatures: unused parameters are normal.
	gcc -shared -fPIC -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		-Wmissing-prototypes -Wstrict-prototypes -Wshadow=local -Wvla -Werror \
		$(pkg-config --cflags glib-2.0) -I"$tree/include/qemu" \
		-o "$tmp" "$src" $(pkg-config --libs glib-2.0) ||
		die "building the access meter plugin failed"
	# Rename: running VMs keep the old library mapped.
	mv -f "$tmp" "$so"
fi
