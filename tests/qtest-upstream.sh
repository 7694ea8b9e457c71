#!/usr/bin/env bash
# Suite: QEMU's own qtests for x86_64, built from our patched tree and run
# against build/qemu-system-x86_64 (the binary `make qemu` ships), so that the
# hballoon device leaves upstream's suites as green as an unpatched build.
# Prints TAP lines "ok N - name" / "not ok N - name # reason" and exits
# non-zero on failure.
#
#   device-introspect-test  every device type's properties (device-list-
#                           properties, "-device T,help", qom-list-properties)
#                           on machine none, and that introspection leaves
#                           the QOM tree as it was
#   qom-test                every property of every object of each machine
#   test-hmp                every "info" subcommand (info hballoon too) and a
#                           list of other HMP commands on each machine
#   qos-test                the libqos graph: every driver node on pc,
#                           virtio-hballoon-pci among them (the generic
#                           virtio and PCI nop tests and our config and
#                           set-target cases)
#
# HTIER_FULL=1 (make check-full) adds device-introspect-test's slow mode
# (-m slow): the concrete-device test on each current machine, pc and q35
# among them, with and without -nodefaults.
#
# q35 and -nic load NIC option ROMs from Debian's ipxe-qemu: the binary finds
# them through --firmwarepath (scripts/build-qemu.sh). Nothing is skipped.
#
# Time on this machine (2 cores, qtest accel, build up to date): about 40 s
# (device-introspect-test 7 s, qom-test 6 s, test-hmp 3 s, qos-test 20 s,
# the no-op make and ninja 4 s); HTIER_FULL=1 adds 55 s for the slow mode.
# The first run after a change to the QEMU tree also builds the four tests.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
obj=$top/build/obj/qemu
out=$top/build/qtest-upstream
tests=(device-introspect-test qom-test test-hmp qos-test)
cd "$top" || exit 1
mkdir -p "$out"

# `make qemu` prepares, configures and builds the tree and installs
# build/qemu-system-x86_64 (a no-op when up to date); then only the test
# targets are built, under the same lock.
targets=()
for t in "${tests[@]}"; do
	targets+=("tests/qtest/$t")
done
if ! { make -s -C "$top" qemu &&
	flock "$top/build/.qemu.lock" ninja -C "$obj" -j2 "${targets[@]}"; } \
		>"$out/build.log" 2>&1; then
	echo "not ok 1 - build QEMU's qtests # see build/qtest-upstream/build.log"
	sed 's/^/# /' "$out/build.log" | tail -20
	exit 1
fi

# The shipped binary, not the one in build/obj/qemu: that one looks for its
# firmware in build/obj/qemu/qemu-bundle, which has none. libqtest takes the
# target from the binary's name, qemu-system-x86_64.
export QTEST_QEMU_BINARY=$top/build/qemu-system-x86_64
n=0 failed=0

# run LABEL PROGRAM ARGS...: one GLib test program; its cases become our TAP
# lines "ok N - LABEL: path" (path without /x86_64/), its output
# build/qtest-upstream/LABEL.log.
run() {
	local name=$1 prog=$2 log=$out/$1.log rc cases
	shift 2
	(cd "$obj" && timeout "${QTEST_UPSTREAM_TIMEOUT:-900}" \
		"tests/qtest/$prog" --tap -k "$@") >"$log" 2>&1
	rc=$?
	cases=$(sed -n 's/^\(not ok\|ok\) [0-9]\+ \/x86_64\/\([^ ]*\)\(.*\)$/\1\t\2\3/p' "$log")
	while IFS=$'\t' read -r verdict rest; do
		[ -n "$verdict" ] || continue
		n=$((n + 1))
		echo "$verdict $n - $name: $rest"
	done <<<"$cases"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then
		# Aborted or timed out in the middle of a case: name it.
		n=$((n + 1))
		echo "not ok $n - $name exited with $rc # see ${log#"$top"/}"
	fi
	if [ $rc -ne 0 ]; then
		failed=1
		grep -v '^\(ok\|not ok\|# Start\|# End\|# starting QEMU\)' "$log" |
			tail -15 | sed 's/^/# /'
	fi
}

for t in "${tests[@]}"; do
	run "$t" "$t"
done
if [ "${HTIER_FULL:-0}" = 1 ]; then
	run device-introspect-test-slow device-introspect-test -m slow
fi
exit $failed
