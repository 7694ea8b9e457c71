#!/usr/bin/env bash
# Build build/htier-guest.qcow2: Debian 12 from the archive (mmdebstrap) with
# the htier tenant kernel from build/deb (make tenant-kernel), GRUB on a
# serial console, our guest tools, and what the bench and researchers use
# (redis-server, numactl, bpftrace, linux-perf). No network is needed to boot.
#
# The disk: GPT, an EFI system partition with GRUB (grub-mkstandalone; the
# machine boots it through OVMF) and an ext4 root labelled htier-root, made
# from the root directory with mkfs.ext4 -d: no loop device, no mount.
#
# Needs root. The mmdebstrap log stays in build/image.log when it fails.
# HTIER_IMAGE_SIZE: the disk's size (default 4G; the root fills it).
# HTIER_IMAGE_MIRROR: the Debian mirror (default http://deb.debian.org).
# HTIER_IMAGE_KERNEL: another kernel package instead of build/deb's (a .deb
#   path, or a name apt knows, e.g. linux-image-cloud-amd64/bookworm-backports
#   to tell an image problem from a kernel one).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/htier-guest.qcow2
work=$top/build/image.d
log=$top/build/image.log
size=${HTIER_IMAGE_SIZE:-4G}
mirror=${HTIER_IMAGE_MIRROR:-http://deb.debian.org}
die() { echo "build-image: error: $*" >&2; exit 1; }
export PATH=$PATH:/usr/sbin:/sbin

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap --mode=root; try sudo make image)"
debs=("$top"/build/deb/linux-image-*-htier_*.deb)
kdeb=${HTIER_IMAGE_KERNEL:-}
[ -n "$kdeb" ] || [ ! -e "${debs[-1]}" ] || kdeb=${debs[-1]}
[ -n "$kdeb" ] || die "no htier kernel package in build/deb: run make tenant-kernel first"
if [ -f "$kdeb" ]; then
	kdeb=$(realpath "$kdeb")
	kname="$(dpkg-deb -f "$kdeb" Package) $(dpkg-deb -f "$kdeb" Version)"
else
	kname=$kdeb
fi
[ -x "$top/build/obj/guest/hotset" ] || die "no guest tools in build/obj/guest: run make initramfs first"
for t in mmdebstrap mkfs.ext4 mkfs.fat mcopy sfdisk grub-mkstandalone qemu-img unshare; do
	command -v "$t" >/dev/null || die "$t is missing (make deps)"
done
[ -d /usr/lib/grub/x86_64-efi ] || die "GRUB's EFI modules are missing (grub-efi-amd64-bin; make deps)"
automount=/usr/share/mmdebstrap/hooks/file-mirror-automount
[ -d "$automount" ] ||
	die "mmdebstrap $(dpkg-query -W -f='${Version}' mmdebstrap 2>/dev/null) lacks $automount: install it from bookworm-backports"

# mmdebstrap mounts /proc, /sys, /dev/shm and more under the root it builds;
# if it is killed (a test's timeout) those mounts would outlive it, and
# removing the work directory would empty the host's /dev/shm. So it runs in
# a mount namespace of its own, and nothing is removed across a mount.
if findmnt -rn -o TARGET | grep -q "^$work/"; then
	die "something is still mounted under $work (findmnt | grep image.d); unmount it first"
fi
clean() { rm -rf --one-file-system "$work" "$out.tmp"; }

echo "  IMAGE   $(basename "$out") (Debian 12, $kname)"
clean
mkdir -p "$work"
trap clean EXIT

# The root filesystem. backports for linux-perf of the kernel's own line
# (6.12, bookworm has 6.1's); bookworm-security for everything current.
# dpkg runs inside the root and must find the kernel package at the path
# apt gives it: mmdebstrap's file-mirror-automount hook puts it there.
# The hook gets the tree (and the package, whose empty stand-in the
# automount hook leaves in the root) through the environment: mmdebstrap
# runs hooks with sh -c, and a path in the hook's text would need quoting.
# shellcheck disable=SC2016
HTIER_TOP=$top HTIER_KDEB=$kdeb unshare --mount --propagation private \
	mmdebstrap --mode=root --variant=apt \
	--include=systemd-sysv,udev,kmod,initramfs-tools,linux-base,zstd \
	--include=procps,iproute2,less,nano,e2fsprogs,util-linux,dbus \
	--include=numactl,redis-server,bpftrace,linux-perf/bookworm-backports \
	--include="$kdeb" \
	--hook-dir="$automount" \
	--customize-hook='"$HTIER_TOP"/scripts/image/customize.sh "$1" "$HTIER_TOP"' \
	bookworm "$work/root" \
	"deb $mirror/debian bookworm main" \
	"deb $mirror/debian bookworm-updates main" \
	"deb $mirror/debian-security bookworm-security main" \
	"deb $mirror/debian bookworm-backports main" \
	>"$log" 2>&1 ||
	die "mmdebstrap failed (whole log: build/image.log): $(tail -20 "$log")"

# The EFI system partition: GRUB with its modules and an early
# configuration that finds the root by label and reads /boot/grub/grub.cfg.
esp_mib=64
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" \
	--modules="part_gpt ext2 search_label configfile serial terminal linux" \
	--locales= --fonts= --themes= \
	"boot/grub/grub.cfg=$top/scripts/image/grub-early.cfg"
truncate -s ${esp_mib}M "$work/esp.img"
mkfs.fat -F 32 -n HTIER-ESP --invariant "$work/esp.img" >/dev/null
mmd -i "$work/esp.img" ::EFI ::EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::EFI/BOOT/BOOTX64.EFI

# The disk: 1 MiB for GPT, the ESP, then the root to the end (less the
# backup GPT's 33 sectors).
truncate -s "$size" "$work/disk.raw"
disk_bytes=$(stat -c %s "$work/disk.raw")
root_start=$(( (1 + esp_mib) * 1024 * 1024 ))
root_bytes=$(( (disk_bytes - root_start - 33 * 512) / 4096 * 4096 ))
sfdisk --quiet "$work/disk.raw" <<SFDISK
label: gpt
start=1MiB, size=${esp_mib}MiB, type=uefi, name=esp
start=$((root_start / 512)), size=$((root_bytes / 512)), type=linux, name=root
SFDISK
dd if="$work/esp.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
mkfs.ext4 -q -L htier-root -d "$work/root" -E offset=$root_start,nodiscard \
	"$work/disk.raw" $((root_bytes / 1024))k ||
	die "mkfs.ext4 of the root failed"

qemu-img convert -c -f raw -O qcow2 "$work/disk.raw" "$out.tmp"
mv "$out.tmp" "$out"
rm -f "$log"
ls -sh "$out"
