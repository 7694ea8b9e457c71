#!/usr/bin/env bash
# make patches: export build/patches/{linux,qemu}/*.patch, git format-patch
# series against the pinned upstream releases, for tenants and distributions
# that build their own kernel or QEMU.
#
# Each series starts with one commit per overlay directory (our new files),
# followed by the hook patches, so every commit in it builds on its own.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/patches
die() { echo "export-patches: error: $*" >&2; exit 1; }

"$top/scripts/prepare-tree.sh" linux /usr/src/linux-source-6.12.tar.xz 1 \
	"$top/guest-mm/patches/series" "$top/guest-mm" "$top/hballoon"
"$top/scripts/fetch-qemu.sh"
"$top/scripts/prepare-tree.sh" qemu "$top/build/dl/qemu_10.0.2+ds.orig.tar.xz" 1 \
	"$top/qemu-hballoon/patches/series" "$top/qemu-hballoon"
[ -x "$top/scripts/qemu-std-headers.sh" ] && "$top/scripts/qemu-std-headers.sh" "$top/build/src/qemu"

# overlay_files DIR: our files below DIR, as paths relative to DIR.
overlay_files() {
	(cd "$1" && git ls-files --cached --others --exclude-standard) |
		grep -vE '^patches/|\.md$|(^|/)\.gitignore$' || true
}

# export TREE OUTDIR "SUBJECT|DIR|EXTRA_FILES..."...
export_tree() {
	local tree=$1 dest=$2; shift 2
	local idx parent commit tree_obj subject dir files
	idx=$(mktemp)
	trap 'rm -f "$idx"' RETURN
	local g=(git -C "$tree" -c user.name=htier -c user.email=htier@localhost)
	# 1. the overlay commits, on top of base
	parent=$("${g[@]}" rev-parse base)
	local added=()
	for spec in "$@"; do
		IFS='|' read -r subject dir files <<<"$spec"
		mapfile -t new < <(overlay_files "$dir"; for f in $files; do echo "$f"; done)
		[ ${#new[@]} -gt 0 ] || continue
		added+=("${new[@]}")
		GIT_INDEX_FILE=$idx "${g[@]}" read-tree "$parent"
		GIT_INDEX_FILE=$idx "${g[@]}" add -f -- "${new[@]}"
		tree_obj=$(GIT_INDEX_FILE=$idx "${g[@]}" write-tree)
		parent=$("${g[@]}" commit-tree "$tree_obj" -p "$parent" -m "$subject")
	done
	# 2. the hook patches, replayed on top with the overlay files present
	for hook in $("${g[@]}" rev-list --reverse base..HEAD); do
		GIT_INDEX_FILE=$idx "${g[@]}" read-tree "$hook"
		[ ${#added[@]} -eq 0 ] || GIT_INDEX_FILE=$idx "${g[@]}" add -f -- "${added[@]}"
		tree_obj=$(GIT_INDEX_FILE=$idx "${g[@]}" write-tree)
		commit=$("${g[@]}" log -1 --format=%B "$hook" |
			"${g[@]}" commit-tree "$tree_obj" -p "$parent")
		parent=$commit
	done
	rm -rf "$dest" && mkdir -p "$dest"
	"${g[@]}" format-patch -q -o "$dest" base.."$parent"
	echo "  PATCHES $(ls "$dest" | wc -l) in ${dest#$top/}"
}

export_tree "$top/build/src/linux" "$out/linux" \
	"mm: add htier tiered-memory placement (hplace) and page exchange

New files of the htier guest patchset: the hplace engine under mm/hplace/,
page exchange, their KUnit and userspace tests and the guest config
fragment. Wired into the build by the following patches.|$top/guest-mm|" \
	"virtio: add the hballoon per-NUMA-node balloon driver

The virtio-hballoon guest driver and its uapi header (virtio device ID 63).
Wired into the build by the following patches.|$top/hballoon|"
export_tree "$top/build/src/qemu" "$out/qemu" \
	"hw/virtio: add the virtio-hballoon per-NUMA-node balloon device

New files: the device, its PCI proxy, QAPI schema, qtests and libqos
driver (its qos graph nodes), and the standard header generated from
Linux's include/uapi/linux/virtio_hballoon.h.
Wired into the build by the following patches.|$top/qemu-hballoon|include/standard-headers/linux/virtio_hballoon.h"
