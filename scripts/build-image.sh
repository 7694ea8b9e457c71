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
# HTIER_IMAGE_SIZE: the disk's size (default 4G; the root fills it).
# HTIER_IMAGE_MIRROR: the Debian mirror (default http://deb.debian.org).
# HTIER_IMAGE_KERNEL: another kernel package instead of build/deb's (a .deb
#   path, or a name apt knows, e.g. linux-image-cloud-amd64/bookworm-backports
#   to tell an image problem from a kernel one).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/htier-guest.qcow2
work=$top/build/image.d
size=${HTIER_IMAGE_SIZE:-4G}
mirror=${HTIER_IMAGE_MIRROR:-http://deb.debian.org}
die() { echo "build-image: error: $*" >&2; exit 1; }

kdeb=${HTIER_IMAGE_KERNEL:-$(ls "$top"/build/deb/linux-image-*-htier_*.deb 2>/dev/null |
	grep -v -- '-dbg_' | tail -1)} || true
[ -n "$kdeb" ] || die "no htier kernel package in build/deb: run make tenant-kernel first"
if [ -f "$kdeb" ]; then
	kdeb=$(realpath "$kdeb")
	kname="$(dpkg-deb -f "$kdeb" Package) $(dpkg-deb -f "$kdeb" Version)"
else
	kname=$kdeb
fi
[ -x "$top/build/obj/guest/hotset" ] || die "no guest tools in build/obj/guest: run make initramfs first"
for t in mmdebstrap mkfs.ext4 mkfs.fat mcopy sfdisk grub-mkstandalone qemu-img; do
	command -v "$t" >/dev/null || die "$t is missing (make deps)"
done
[ -d /usr/lib/grub/x86_64-efi ] || die "GRUB's EFI modules are missing (grub-efi-amd64-bin; make deps)"

echo "  IMAGE   $(basename "$out") (Debian 12, $kname)"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# The root filesystem. backports for linux-perf of the kernel's own line
# (6.12, bookworm has 6.1's); bookworm-security for everything current.
mmdebstrap --quiet --mode=root --variant=apt \
	--include=systemd-sysv,udev,kmod,initramfs-tools,linux-base,zstd \
	--include=procps,iproute2,less,nano,e2fsprogs,util-linux,dbus \
	--include=numactl,redis-server,bpftrace,linux-perf/bookworm-backports \
	--include="$kdeb" \
	--customize-hook="$top/scripts/image/customize.sh \"\$1\" $top" \
	--customize-hook='chroot "$1" apt-get clean' \
	--customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
	bookworm "$work/root" \
	"deb $mirror/debian bookworm main" \
	"deb $mirror/debian bookworm-updates main" \
	"deb $mirror/debian-security bookworm-security main" \
	"deb $mirror/debian bookworm-backports main" \
	>"$work/mmdebstrap.log" 2>&1 ||
	die "mmdebstrap failed: $(tail -20 "$work/mmdebstrap.log")"

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
ls -sh "$out"
