#!/usr/bin/env bash
# Fetch one 6.12.y release of Debian's Linux source and configurations from
# the archive, for the tenant kernel (Debian's own configuration, the newest
# 6.12.y) rather than the pinned release the test kernel is built from.
#
#   fetch-linux-source.sh [VERSION]
#
# VERSION  a Debian version of linux-source-6.12 (e.g. 6.12.118-1~deb12u1);
#          default: the newest the archive offers (HTIER_LINUX_VERSION
#          overrides the default).
#
# Leaves in build/dl/linux-6.12/VERSION/:
#   linux-source-VERSION.tar.xz   the source (Debian's patches applied)
#   config.amd64_none_cloud-amd64 Debian's cloud-amd64 configuration
#   Module.symvers                what Debian's cloud-amd64 kernel exports
# and prints "VERSION DIR" on its last line. The .debs are kept in
# build/dl/deb/, so a second run needs no network.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dl=$top/build/dl
die() { echo "fetch-linux-source: error: $*" >&2; exit 1; }

# The newest version of package $1 that apt knows.
newest() {
	local best="" v
	for v in $(apt-cache madison "$1" 2>/dev/null | awk -F' [|] ' '{print $2}'); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	echo "$best"
}

version=${1:-${HTIER_LINUX_VERSION:-}}
if [ -z "$version" ]; then
	version=$(newest linux-source-6.12)
	[ -n "$version" ] || die "apt knows no linux-source-6.12 (run: make deps)"
fi
out=$dl/linux-6.12/$version
mkdir -p "$dl/deb"

# fetch PACKAGE: its .deb of $version into build/dl/deb, unless already there.
fetch() {
	local pkg=$1 deb
	deb=$(ls "$dl/deb/${pkg}_${version/:/%3a}_"*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		echo "  FETCH   $pkg $version" >&2
		(cd "$dl/deb" && apt-get download -q "$pkg=$version") \
			>"$dl/deb/apt-download.log" 2>&1 ||
			die "apt-get download $pkg=$version failed (is it still in the archive? apt-cache madison $pkg):
$(grep -E '^(E|W):' "$dl/deb/apt-download.log" | head -5)"
		deb=$(ls "$dl/deb/${pkg}_${version/:/%3a}_"*.deb | head -1)
	fi
	echo "$deb"
}

# The cloud-amd64 headers package of $version (named by Debian's ABI, e.g.
# linux-headers-6.12.118+deb12-cloud-amd64).
headers_pkg() {
	local p
	for p in $(apt-cache search --names-only "^linux-headers-${version%%-*}\\+.*-cloud-amd64\$" |
			awk '{print $1}'); do
		if apt-cache madison "$p" | awk -F' [|] ' '{print $2}' | grep -qxF "$version"; then
			echo "$p"
			return
		fi
	done
	die "no linux-headers-*-cloud-amd64 package of $version in the archive"
}

if [ ! -f "$out/.done" ]; then
	src_deb=$(fetch linux-source-6.12)
	cfg_deb=$(fetch linux-config-6.12)
	hdr_pkg=$(headers_pkg)
	hdr_deb=$(fetch "$hdr_pkg")
	rm -rf "$out" && mkdir -p "$out"
	dpkg-deb --fsys-tarfile "$src_deb" |
		tar -xO ./usr/src/linux-source-6.12.tar.xz >"$out/linux-source-$version.tar.xz"
	dpkg-deb --fsys-tarfile "$cfg_deb" |
		tar -xO ./usr/src/linux-config-6.12/config.amd64_none_cloud-amd64.xz |
		xz -d >"$out/config.amd64_none_cloud-amd64"
	dpkg-deb --fsys-tarfile "$hdr_deb" |
		tar -x --wildcards -O './usr/src/linux-headers-*/Module.symvers' >"$out/Module.symvers"
	[ -s "$out/linux-source-$version.tar.xz" ] && [ -s "$out/config.amd64_none_cloud-amd64" ] &&
		[ -s "$out/Module.symvers" ] ||
		die "the packages of $version lack the source tarball, the cloud-amd64 configuration or Module.symvers"
	touch "$out/.done"
fi
echo "$version $out"
