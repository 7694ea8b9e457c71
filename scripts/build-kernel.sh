#!/usr/bin/env bash
# Build an htier guest kernel, out of tree, with ccache.
#
#   build-kernel.sh          tinyconfig + htier.config in build/obj/linux
#                            -> build/bzImage
#   build-kernel.sh debug    tinyconfig + htier.config + htier-debug.config
#                            in build/obj/linux-debug -> build/bzImage-debug
#   build-kernel.sh tenant-objects
#                            Debian's cloud-amd64 configuration + tenant.config
#                            on the newest 6.12.y in the archive (or
#                            HTIER_LINUX_VERSION), in build/obj/linux-tenant:
#                            only the files the series adds or patches, and
#                            whether the modules among them find every symbol
#                            they use exported
#   build-kernel.sh tenant   the same tree and configuration, the whole
#                            kernel: Debian packages (bindeb-pkg) of release
#                            6.12.y-htier in build/deb/ (check-full; an hour
#                            or more on two cores)
#
# The first two share the prepared source tree build/src/linux (the pinned
# 6.12.y), so callers hold build/.kernel.lock (the Makefile's LOCK macro)
# around either; the tenant tree is build/src/linux-tenant.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "build-kernel: error: $*" >&2; exit 1; }
variant=${1:-}
cfgs=$top/guest-mm/kernel/configs
tree=$top/build/src/linux
tarball=/usr/src/linux-source-6.12.tar.xz
base=tinyconfig
case "$variant" in
"")    obj=$top/build/obj/linux out=$top/build/bzImage
       frags=("$cfgs/htier.config") ;;
debug) obj=$top/build/obj/linux-debug out=$top/build/bzImage-debug
       frags=("$cfgs/htier.config" "$cfgs/htier-debug.config") ;;
tenant-objects|tenant)
       fetched=$("$top/scripts/fetch-linux-source.sh")
       read -r version dir <<<"$(tail -1 <<<"$fetched")"
       echo "  LINUX   Debian linux-source-6.12 $version (${HTIER_LINUX_VERSION:+HTIER_LINUX_VERSION=}${HTIER_LINUX_VERSION:-the newest in the archive})"
       tree=$top/build/src/linux-tenant obj=$top/build/obj/linux-tenant
       tarball=$dir/linux-source-$version.tar.xz
       base=$dir/config.amd64_none_cloud-amd64
       frags=("$cfgs/tenant.config") ;;
*)     die "unknown variant '$variant' (want: debug, tenant-objects, tenant, or none)" ;;
esac

"$top/scripts/prepare-tree.sh" "${tree##*/}" "$tarball" 1 \
	"$top/guest-mm/patches/series" "$top/guest-mm" "$top/hballoon"

# Fixed build identity so ccache and the output are reproducible across runs.
kmake=(make -C "$tree" O="$obj" -j"$(nproc)" -s
	CC="ccache gcc" KBUILD_BUILD_TIMESTAMP="htier" KBUILD_BUILD_USER=htier
	KBUILD_BUILD_HOST=htier)
# ccache keeps its default per-user cache, shared by every clone on this
# machine; BASEDIR makes paths relative so another clone still hits.
export CCACHE_BASEDIR=$top

# Objects of another release must not survive into this one: the tree was
# unpacked with the tarball's (older) file dates.
if [ -f "$obj/.htier-tree" ] && [ "$(cat "$obj/.htier-tree")" != "$(cat "$tree/.htier-base")" ]; then
	echo "  CLEAN   ${obj#$top/} (was $(cat "$obj/.htier-tree"))"
	rm -rf "$obj"
fi
mkdir -p "$obj"
cat "$tree/.htier-base" >"$obj/.htier-tree"
fsum=$(cat "${frags[@]}" "$tree/.htier-series" "$tree/.htier-base" | sha256sum | cut -d' ' -f1)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.htier-config" 2>/dev/null)" != "$fsum" ]; then
	echo "  CONFIG  ${base##*/}$(printf ' + %s' "${frags[@]##*/}")"
	if [ "$base" = tinyconfig ]; then
		"${kmake[@]}" tinyconfig >/dev/null
	else
		cp "$base" "$obj/.config"
	fi
	# merge_config.sh from the tree itself (fragments in order, later ones
	# win), then resolve dependencies.
	(cd "$obj" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}") >/dev/null
	"${kmake[@]}" olddefconfig >/dev/null
	# A fragment line that did not survive olddefconfig means an unmet
	# dependency. Checked: each symbol's last setting across the fragments.
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) sym=${line%%=*}
			grep -q "^$sym=" "$obj/.config" && { echo "  $line but .config has $(grep "^$sym=" "$obj/.config")" >&2; bad=1; } ;;
		CONFIG_*=*) grep -qxF "$line" "$obj/.config" ||
			{ echo "  $line but .config has: $(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo unset)" >&2; bad=1; } ;;
		esac
	done < <(awk -F= '/^CONFIG_/ { if (!($1 in v)) k[++n] = $1; v[$1] = $0 }
		END { for (i = 1; i <= n; i++) print v[k[i]] }' "${frags[@]}")
	[ $bad -eq 0 ] || die "guest config fragment not satisfied (unmet Kconfig dependencies above)"
	echo "$fsum" > "$obj/.htier-config"
fi

if [ "$variant" = tenant-objects ]; then
	exec "$top/scripts/check-tenant-objects.sh" "$tree" "$obj" "$dir/Module.symvers" "${kmake[@]}"
fi
if [ "$variant" = tenant ]; then
	# dpkg-buildpackage leaves the packages beside the object directory.
	echo "  DEB     linux-image-$(make -s -C "$tree" kernelversion)-htier ($version)"
	rm -f "$obj"/../linux-*.deb "$obj"/../linux-upstream_*
	# No linux-image-dbg: over a gigabyte of DWARF that takes longer to
	# package than to link, and nothing here reads it (perf resolves kernel
	# symbols through kallsyms, bpftrace types through the kernel's BTF).
	DEB_BUILD_PROFILES=pkg.linux-upstream.nokerneldbg \
	"${kmake[@]}" LOCALVERSION=-htier KDEB_PKGVERSION="${version}+htier" \
		bindeb-pkg >"$obj/kbuild.log" 2>&1 ||
		die "tenant kernel build failed:
$(grep -E -m20 'error|Error' "$obj/kbuild.log" || tail -20 "$obj/kbuild.log")"
	mkdir -p "$top/build/deb"
	rm -f "$top/build/deb"/linux-*.deb
	# The kernel and its headers; not linux-libc-dev, whose userspace
	# headers a tenant takes from the distribution.
	mv "$obj"/../linux-image-*.deb "$obj"/../linux-headers-*.deb "$top/build/deb/"
	rm -f "$obj"/../linux-*.deb "$obj"/../linux-upstream_*
	ls -s "$top/build/deb"
	exit 0
fi

echo "  KBUILD  $(basename "$out") ($(make -s -C "$tree" kernelversion))"
# The debug kernel has loadable test modules (CONFIG_MODULES): built with it
# and installed, with depmod's index, into $obj/modules for
# scripts/build-selftests-mm.sh to put in the selftests' initramfs.
targets=(bzImage)
grep -q '^CONFIG_MODULES=y' "$obj/.config" && targets+=(modules)
"${kmake[@]}" "${targets[@]}" >"$obj/kbuild.log" 2>&1 ||
	die "kernel build failed:
$(grep -E -m20 'error|Error' "$obj/kbuild.log" || tail -20 "$obj/kbuild.log")"
grep -E 'warning:' "$obj/kbuild.log" | sort -u | head -20 >&2 || true
if [ ${#targets[@]} -gt 1 ]; then
	rm -rf "$obj/modules"
	"${kmake[@]}" INSTALL_MOD_PATH="$obj/modules" INSTALL_MOD_STRIP=1 DEPMOD=/sbin/depmod \
		modules_install >>"$obj/kbuild.log" 2>&1 ||
		die "modules_install failed: $(tail -5 "$obj/kbuild.log")"
fi
# Atomically: a VM booting now reads the old image or the new one, never half.
cp "$obj/arch/x86/boot/bzImage" "$out.tmp"
mv "$out.tmp" "$out"
