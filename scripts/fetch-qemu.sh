#!/usr/bin/env bash
# Fetch QEMU's pinned upstream tarball from Debian's source archive and verify it.
# Only the .orig.tar.xz is used; Debian's packaging patches are not applied.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dl=$top/build/dl
orig=qemu_10.0.2+ds.orig.tar.xz
sha=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1
die() { echo "fetch-qemu: error: $*" >&2; exit 1; }

mkdir -p "$dl"
if [ ! -f "$dl/$orig" ]; then
	echo "  FETCH   $orig (apt-get source, bookworm-backports)"
	# Only the .orig is needed: tolerate a failure to fetch the .dsc or the
	# Debian packaging tarball as long as the orig arrived.
	(cd "$dl" && apt-get source --download-only -q qemu/bookworm-backports) \
		>"$dl/apt-source.log" 2>&1 || true
	[ -f "$dl/$orig" ] || die "apt-get source did not deliver $orig (needs deb-src for bookworm-backports: run make deps):
$(grep -E '^(E|W):' "$dl/apt-source.log" | head -5)"
fi
echo "$sha  $dl/$orig" | sha256sum -c --quiet - >/dev/null 2>&1 ||
	die "$orig does not match the pinned sha256 $sha"
