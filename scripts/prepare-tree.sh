#!/usr/bin/env bash
# Prepare an upstream source tree under build/: unpack the pinned release once
# into a git repository (commit "base"), apply our hook patches from a series
# file as commits on top, then overlay our own new files.
#
#   prepare-tree.sh NAME TARBALL STRIP SERIES OVERLAY_DIR...
#
# NAME       tree name: build/src/NAME
# TARBALL    pinned upstream tarball
# STRIP      leading path components to strip from the tarball
# SERIES     file listing hook patches (relative to its own directory), one per line
# OVERLAY_DIR directories whose files land at the same relative path in the tree
#
# Re-running with no change touches nothing, so the upstream build stays
# incremental. When the series changes, the tree is reset to "base" and the
# patches are applied again; files not touched by patches keep their mtimes.
# Overlay files must be new: replacing an upstream file must be done by a patch,
# so that `make patches` can describe the change.
set -euo pipefail

name=$1 tarball=$2 strip=$3 series=$4
shift 4
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/src/$name
die() { echo "prepare-tree($name): error: $*" >&2; exit 1; }
# The release in the tree: Linux's Makefile, QEMU's VERSION, else the tarball.
upstream_version() {
	if [ -f "$tree/VERSION" ]; then
		head -1 "$tree/VERSION"
	elif grep -q '^VERSION = ' "$tree/Makefile" 2>/dev/null; then
		awk '/^(VERSION|PATCHLEVEL|SUBLEVEL) = /{v = v (v ? "." : "") $3} END {print v}' "$tree/Makefile"
	else
		echo "(unknown version)"
	fi
}
git_q() { git -C "$tree" -c user.name=htier -c user.email=htier@localhost "$@"; }

[ -r "$tarball" ] || die "$tarball is missing (run: make deps)"

# A tree made from another tarball (a newer 6.12.y for the tenant kernel) is
# unpacked afresh: tarballs are named by their release.
if [ "$(cat "$tree/.htier-base" 2>/dev/null)" != "$(basename "$tarball")" ]; then
	echo "  UNPACK  $name <- $(basename "$tarball")"
	rm -rf "$tree" && mkdir -p "$tree"
	tar -xf "$tarball" -C "$tree" --strip-components="$strip"
	git -C "$tree" init -q
	printf '/.htier-*\n' > "$tree/.git/info/exclude"
	git_q add -A -f .
	git_q commit -q -m "base: $(basename "$tarball")"
	git_q tag -f base >/dev/null
	basename "$tarball" > "$tree/.htier-base"
fi

# 1. Hook patches, applied as commits (git am) so `make patches` can export them.
sdir=$(dirname "$series")
series_patches() { awk '!/^[[:space:]]*(#|$)/' "$series"; }
want=$( { cat "$series"; series_patches | while read -r p; do cat "$sdir/$p"; done; } | sha256sum | cut -d' ' -f1)
have=$(cat "$tree/.htier-series" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
	echo "  PATCH   $name ($(basename "$series"))"
	git_q am --abort >/dev/null 2>&1 || true
	git_q reset -q --hard base
	series_patches | while read -r p; do
		[ -r "$sdir/$p" ] || die "series names $p but $sdir/$p does not exist"
		if ! git_q am -q --keep-cr "$sdir/$p" >/tmp/htier-am.log 2>&1; then
			git_q am --abort >/dev/null 2>&1 || true
			die "hook patch $p does not apply to $name $(upstream_version) from $(cat "$tree/.htier-base");
it was made for: $(sed -n 's/^# made-for: //p' "$series"). git am said:
$(head -20 /tmp/htier-am.log)"
		fi
	done
	echo "$want" > "$tree/.htier-series"
fi

# 2. Overlay: copy our files in, keeping mtimes so unchanged files do not rebuild.
for dir in "$@"; do
	[ -d "$dir" ] || continue
	(cd "$dir" && { git ls-files --cached --others --exclude-standard 2>/dev/null ||
		find . -type f; }) | while read -r f; do
		f=${f#./}
		case "$f" in patches/*|*.md|.gitignore) continue ;; esac
		if git -C "$tree" cat-file -e "base:$f" 2>/dev/null; then
			die "overlay file $dir/$f would replace an upstream file; change upstream files with a hook patch"
		fi
		dst=$tree/$f
		if [ ! -e "$dst" ] || ! cmp -s "$dir/$f" "$dst"; then
			mkdir -p "$(dirname "$dst")"
			cp -p "$dir/$f" "$dst"
		fi
	done
done
