#!/usr/bin/env bash
# Suite: the virtio-hballoon QEMU device under qtest (no guest kernel).
# Builds QEMU and the qtest incrementally, runs it, prints TAP lines
# "ok N - name" / "not ok N - name # reason" and exits non-zero on failure.
#
# Covered: realize + config space, inflate/deflate through the virtqueues with
# real discards (memfd holes read back as zeroes), bad PFNs ignored and
# counted, malformed buffers ignored, statistics virtqueue, per-node event
# throttling, QMP/HMP errors for every bad argument, coexistence with
# virtio-balloon, backends that must not or cannot discard (private and
# read-only files, locked memory, 2 MiB huge pages), background snapshots
# and incoming postcopy, the fixed-size config space and the virtio-pci
# requirement, ranges (VIRTIO_HBALLOON_F_RANGES: valid, rejected whole,
# across the PCI hole, BQL slices), live migration, and a randomized run of
# >= 100,000 hostile buffers checking that no page outside the allowed
# ranges lost its contents.
#
# HBALLOON_FUZZ_BUFFERS overrides the fuzz count (default 100000; 1000000
# with HTIER_FULL=1).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
obj=$top/build/obj/qemu
test_bin=$obj/tests/qtest/virtio-hballoon-test
cd "$top" || exit 1

# `make qemu` prepares, configures and builds the tree (a no-op when it is up
# to date); then only the qtest target is built, under the same lock.
mkdir -p "$top/build"
if ! { make -s -C "$top" qemu &&
	flock "$top/build/.qemu.lock" ninja -C "$obj" -j2 qemu-system-x86_64 \
		tests/qtest/virtio-hballoon-test; } >"$top/build/qtest-hballoon-build.log" 2>&1; then
	echo "not ok 1 - build virtio-hballoon-test # see build/qtest-hballoon-build.log"
	sed 's/^/# /' "$top/build/qtest-hballoon-build.log" | tail -20
	exit 1
fi

if [ -z "${HBALLOON_FUZZ_BUFFERS:-}" ]; then
	if [ "${HTIER_FULL:-0}" = 1 ]; then
		export HBALLOON_FUZZ_BUFFERS=1000000
	else
		export HBALLOON_FUZZ_BUFFERS=100000
	fi
fi

# The +ds tarball has no firmware: point QEMU at Debian's (seabios,
# qemu-system-data). libqtest takes the target from the binary's name, so
# wrap the binary under the same name.
wrap=$top/build/qtest-hballoon/qemu-system-x86_64
mkdir -p "$(dirname "$wrap")"
printf '#!/bin/sh\nexec %s -L /usr/share/seabios -L /usr/share/qemu "$@"\n' \
	"$obj/qemu-system-x86_64" >"$wrap.tmp" && chmod +x "$wrap.tmp" && mv -f "$wrap.tmp" "$wrap"

# The large-pages case backs a node with 8 huge pages of 2 MiB: reserve
# them for the run when we may (root), and give them back after (not if
# the run is killed: then they stay reserved until the next run ends).
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w "$hp" ]; then
	hp_old=$(cat "$hp")
	echo $((hp_old + 8)) >"$hp" 2>/dev/null || true
	echo "# huge pages: $(($(cat "$hp") - hp_old)) of 8 reserved for the large-pages case"
	trap 'echo "$hp_old" >"$hp"' EXIT
fi

log=$top/build/qtest-hballoon.log
(cd "$obj" && QTEST_QEMU_BINARY=$wrap \
	timeout "${HBALLOON_QTEST_TIMEOUT:-1200}" "$test_bin" --tap -k) >"$log" 2>&1
rc=$?

# GLib prints "ok 1 /x86_64/virtio-hballoon/config"; use "ok 1 - name".
sed -n -e 's/^\(not ok\|ok\) \([0-9]\+\) \/[^ ]*\/\(virtio-hballoon\/[^ ]*\)\(.*\)$/\1 \2 - \3\4/p' \
	-e 's/^# \(fuzz: .*\)$/# \1/p' -e 's/^# \(bql: .*\)$/# \1/p' "$log"
fails=$(grep -c '^not ok' "$log")
if [ $rc -ne 0 ] || [ "$fails" -ne 0 ]; then
	if [ "$fails" -eq 0 ]; then
		echo "not ok 99 - virtio-hballoon-test exited with $rc # see build/qtest-hballoon.log"
	fi
	grep -v '^\(ok\|not ok\|# Start\|# End\)' "$log" | tail -15 | sed 's/^/# /'
	exit 1
fi
exit 0
