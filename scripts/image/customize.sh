#!/bin/sh
# mmdebstrap --customize-hook for the htier guest image: runs on the host,
# after every package is installed, with the image's root directory as $1
# and the htier tree as $2 (scripts/build-image.sh).
set -eu
root=$1 top=$2
here=$top/scripts/image

echo htier-guest >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	htier-guest
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
HOSTS
printf 'LABEL=htier-root\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"
# The build host's resolver means nothing in the guest (it has no network).
rm -f "$root/etc/resolv.conf"
# mmdebstrap's file-mirror-automount hook bind-mounted a local kernel
# package onto an empty file at its host path; that stand-in stays behind.
case ${HTIER_KDEB:-} in
/*)	rm -f "$root$HTIER_KDEB"
	rmdir -p --ignore-fail-on-non-empty "$root$(dirname "$HTIER_KDEB")" ;;
esac

# Boot: GRUB's static menu, and the hook that keeps the links it boots on
# the newest kernel; make the links for the kernel installed now. Packages
# made by bindeb-pkg depend on nothing, so apt may have configured the
# kernel before initramfs-tools, and then it has no initrd yet.
install -D -m 644 "$here/grub.cfg" "$root/boot/grub/grub.cfg"
for d in postinst.d postrm.d; do
	install -D -m 755 "$here/zz-htier-symlinks" "$root/etc/kernel/$d/zz-htier-symlinks"
done
for k in "$root"/boot/vmlinuz-*; do
	v=${k##*/vmlinuz-}
	[ -e "$root/boot/initrd.img-$v" ] || chroot "$root" update-initramfs -c -k "$v"
	chroot "$root" linux-update-symlinks install "$v" "/boot/vmlinuz-$v"
done
if [ ! -e "$root/vmlinuz" ] || [ ! -e "$root/initrd.img" ]; then
	echo "customize: no /vmlinuz or /initrd.img in the image" >&2
	exit 1
fi

# Guest tools (the test initramfs's, statically linked) and the harness's
# agent, which runs only when the host asks for it (htier-agent.service).
install -m 755 "$top"/build/obj/guest/* "$root/usr/local/bin/"
install -m 755 "$top/tests/guest/htier-agent" "$root/usr/local/bin/htier-agent"
install -m 644 "$here/htier-agent.service" "$root/etc/systemd/system/htier-agent.service"
chroot "$root" systemctl enable --quiet htier-agent.service
# The bench and researchers start redis-server with their own settings.
chroot "$root" systemctl disable --quiet redis-server.service

# root stays locked; the serial console (ttyS0) logs it in by itself: there
# is no network and no sshd, and whoever reaches that console owns the VM.
install -d "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$root/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 - $TERM
UNIT
