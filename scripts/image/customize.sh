#!/bin/sh
# mmdebstrap --customize-hook for the htier guest image: runs on the host,
# after every package is installed, with the image's root directory as $1
# and the htier tree as $2 (scripts/build-image.sh).
set -eu
root=$1 top=$2
here=$top/scripts/image

echo htier-guest >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thtier-guest\n' >"$root/etc/hosts"
printf 'LABEL=htier-root\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"

# Boot: GRUB's static menu, and the hook that keeps the links it boots on
# the newest kernel; make the links for the kernel installed now.
install -D -m 644 "$here/grub.cfg" "$root/boot/grub/grub.cfg"
for d in postinst.d postrm.d; do
	install -D -m 755 "$here/zz-htier-symlinks" "$root/etc/kernel/$d/zz-htier-symlinks"
done
for k in "$root"/boot/vmlinuz-*; do
	v=${k##*/vmlinuz-}
	chroot "$root" linux-update-symlinks install "$v" "/boot/vmlinuz-$v"
done
[ -e "$root/vmlinuz" ] && [ -e "$root/initrd.img" ] ||
	{ echo "customize: no /vmlinuz or /initrd.img in the image" >&2; exit 1; }

# Guest tools (the test initramfs's, statically linked) and the harness's
# agent, which runs only when the host asks for it (htier-agent.service).
install -m 755 "$top"/build/obj/guest/* "$root/usr/local/bin/"
install -m 755 "$top/tests/guest/htier-agent" "$root/usr/local/bin/htier-agent"
install -m 644 "$here/htier-agent.service" "$root/etc/systemd/system/htier-agent.service"
chroot "$root" systemctl enable --quiet htier-agent.service

# The serial console logs root in without a password: there is no network
# and no sshd, and whoever reaches the console owns the VM (the tenant
# guide says to set one before adding either).
chroot "$root" passwd --quiet --delete root
# Images boot many times: each boot makes its own machine-id.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
