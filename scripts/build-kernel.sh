#!/usr/bin/env bash
# Build the htier guest kernel: tinyconfig + guest-mm/kernel/configs/htier.config,
# out of tree in build/obj/linux, with ccache. Output: build/bzImage.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/src/linux
obj=$top/build/obj/linux
frag=$top/guest-mm/kernel/configs/htier.config
die() { echo "build-kernel: error: $*" >&2; exit 1; }

"$top/scripts/prepare-tree.sh" linux /usr/src/linux-source-6.12.tar.xz 1 \
	"$top/guest-mm/patches/series" "$top/guest-mm" "$top/hballoon"

# Fixed build identity so ccache and the output are reproducible across runs.
kmake=(make -C "$tree" O="$obj" -j"$(nproc)" -s
	CC="ccache gcc" KBUILD_BUILD_TIMESTAMP="htier" KBUILD_BUILD_USER=htier
	KBUILD_BUILD_HOST=htier)
# ccache keeps its default per-user cache, shared by every clone on this
# machine; BASEDIR makes paths relative so another clone still hits.
export CCACHE_BASEDIR=$top

mkdir -p "$obj"
fsum=$(cat "$frag" "$tree/.htier-series" | sha256sum | cut -d' ' -f1)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.htier-config" 2>/dev/null)" != "$fsum" ]; then
	echo "  CONFIG  tinyconfig + $(basename "$frag")"
	"${kmake[@]}" tinyconfig >/dev/null
	# merge_config.sh from the tree itself, then resolve dependencies.
	(cd "$obj" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag") >/dev/null
	"${kmake[@]}" olddefconfig >/dev/null
	# A fragment line that did not survive olddefconfig means an unmet dependency.
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) sym=${line%%=*}
			grep -q "^$sym=" "$obj/.config" && { echo "  $line but .config has $(grep "^$sym=" "$obj/.config")" >&2; bad=1; } ;;
		CONFIG_*=*) grep -qxF "$line" "$obj/.config" ||
			{ echo "  $line but .config has: $(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo unset)" >&2; bad=1; } ;;
		esac
	done < "$frag"
	[ $bad -eq 0 ] || die "guest config fragment not satisfied (unmet Kconfig dependencies above)"
	echo "$fsum" > "$obj/.htier-config"
fi

echo "  KBUILD  bzImage ($(make -s -C "$tree" kernelversion))"
"${kmake[@]}" bzImage >"$obj/kbuild.log" 2>&1 ||
	die "kernel build failed:
$(grep -E -m20 'error|Error' "$obj/kbuild.log" || tail -20 "$obj/kbuild.log")"
grep -E 'warning:' "$obj/kbuild.log" | sort -u | head -20 >&2 || true
cp "$obj/arch/x86/boot/bzImage" "$top/build/bzImage"
