#!/usr/bin/env bash
# Install everything htier's build and tests need on Debian 12 (bookworm).
# Idempotent: a second run with everything present only checks and exits.
set -euo pipefail
# --update: refresh the package lists even when everything is installed.
force_update=0
[ "${1:-}" = --update ] && force_update=1

die() { echo "deps: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install); try: sudo make deps"
[ -r /etc/debian_version ] || die "htier builds on Debian 12 (bookworm); /etc/debian_version is missing"

. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	echo "deps: warning: tested on Debian 12 bookworm, this is ${PRETTY_NAME:-unknown}" >&2

# bookworm-backports carries linux-source-6.12, QEMU 10.0 sources, libvirt 11.3
# and meson >= 1.5; deb-src lets `apt-get source` fetch QEMU's .orig tarball.
SRC=/etc/apt/sources.list.d/htier.sources
want_src=$(cat <<'SOURCES'
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
)

PKGS=(
	# kernel
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio kmod
	ccache rsync xz-utils python3 perl git
	# the tenant kernel's Debian packages (make tenant-kernel, bindeb-pkg)
	debhelper
	# the guest image (make image): Debian from the archive, a GPT disk with
	# an EFI system partition and GRUB, qcow2; OVMF boots it
	mmdebstrap/bookworm-backports fdisk dosfstools mtools grub-efi-amd64-bin qemu-utils ovmf
	linux-source-6.12/bookworm-backports
	# qemu
	ninja-build pkg-config libglib2.0-dev zlib1g-dev libpixman-1-dev
	meson/bookworm-backports dpkg-dev
	# without libfdt, meson tries to clone dtc; pycotap runs QEMU's qtests
	libfdt-dev python3-pycotap
	# firmware: BIOS, option ROMs, and the NIC ROMs q35 and -nic load
	# (/usr/lib/ipxe/qemu, on build-qemu.sh's --firmwarepath)
	seabios qemu-system-data ipxe-qemu
	# guest userspace and host agent
	busybox-static libjson-c-dev
	# tests and bench (valgrind, RST and libvirt XML checks of host-agent)
	python3-matplotlib valgrind python3-docutils groff-base
	libvirt-clients/bookworm-backports
	# hballoonctl --domain (libvirt-qemu), and the libvirtd its test starts
	libvirt-dev/bookworm-backports libvirt-daemon/bookworm-backports
	libvirt-daemon-driver-qemu/bookworm-backports
	# bench: plots, and the real programs its workloads run in the guest
	gnuplot-nox redis-server liblinear-tools
	# Linux's mm selftests (make selftests-mm): bash for run_vmtests.sh in
	# the guest, static libnuma, liburing and libcap for the tests that use
	# them (libcap: memfd_secret and mlock-random-test),
	# pgrep and killall for its hugetlb cgroup scripts, kmod (depmod,
	# modprobe, modinfo) for the debug kernel's test module, test_hmm
	bash-static libnuma-dev liburing-dev libcap-dev procps psmisc kmod
	# QEMU's fuzzer on the device (check-full): clang with libFuzzer
	clang libclang-rt-dev
)

pkg_name() { echo "${1%%/*}"; }

missing=()
for p in "${PKGS[@]}"; do
	n=$(pkg_name "$p")
	dpkg-query -W -f='${Status}' "$n" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done

if [ $force_update -eq 0 ] && [ -f "$SRC" ] && [ "$(cat "$SRC")" = "$want_src" ] &&
	[ ${#missing[@]} -eq 0 ]; then
	echo "deps: all present"
	exit 0
fi

if [ ! -f "$SRC" ] || [ "$(cat "$SRC")" != "$want_src" ]; then
	echo "deps: adding bookworm-backports and deb-src to $SRC"
	printf '%s\n' "$want_src" > "$SRC"
	rm -f /var/lib/htier-apt-updated
fi

if [ $force_update -eq 1 ] || [ ! -f /var/lib/htier-apt-updated ] || [ ${#missing[@]} -ne 0 ]; then
	echo "deps: apt-get update"
	apt-get update -q >/tmp/htier-apt-update.log 2>&1 ||
		die "apt-get update failed: is the Debian archive reachable? (log: /tmp/htier-apt-update.log)
$(tail -5 /tmp/htier-apt-update.log)"
	grep -qE '^(Err|W: Failed)' /tmp/htier-apt-update.log &&
		die "the Debian archive could not be reached:
$(grep -E '^(Err|W: Failed)' /tmp/htier-apt-update.log | head -5)"
	touch /var/lib/htier-apt-updated
fi

if [ ${#missing[@]} -ne 0 ]; then
	echo "deps: installing ${missing[*]}"
	# redis-server is a program bench/ copies into the guest, not a service
	# for this host: keep its package scripts from starting one.
	policy=/usr/sbin/policy-rc.d
	made_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
	fi
	rc=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" || rc=$?
	[ $made_policy -eq 0 ] || rm -f "$policy"
	[ $rc -eq 0 ] || die "apt-get install failed (see above)"
fi
echo "deps: all present"
