#!/usr/bin/env bash
# QEMU's own fuzzer (generic-fuzz, libFuzzer) against virtio-hballoon, in
# make check-full: builds qemu-fuzz-x86_64 from the patched tree with clang,
# libFuzzer and AddressSanitizer in build/obj/qemu-fuzz, then runs the
# virtio-hballoon configuration (hook patch 0010) for HBALLOON_FUZZ_RUNS
# inputs (default 1,000,000) from a fixed seed. A crash, an ASan report, a
# leak or a timeout fails; the input that did it is kept in
# build/fuzz-hballoon/. tests/qtest-hballoon.sh's fuzz case checks what
# libFuzzer cannot see: that no page outside the guest's RAM is discarded.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/src/qemu
obj=$top/build/obj/qemu-fuzz
out=$top/build/fuzz-hballoon

if [ "${HTIER_FULL:-0}" != 1 ] && [ -z "${HBALLOON_FUZZ_RUNS:-}" ]; then
	echo "1..0 # SKIP check-full only (or set HBALLOON_FUZZ_RUNS)"
	exit 0
fi
runs=${HBALLOON_FUZZ_RUNS:-1000000}
echo "1..2"
mkdir -p "$top/build"

# The patched tree (and the qemu binary, which make check builds anyway).
if ! make -s -C "$top" qemu >"$out.build.log" 2>&1; then
	echo "not ok 1 - build qemu-fuzz-x86_64 # make qemu failed, see build/fuzz-hballoon.build.log"
	echo "not ok 2 - generic-fuzz virtio-hballoon # not built"
	exit 1
fi
conf=(--target-list=x86_64-softmmu --without-default-features --enable-tcg
	--enable-fuzzing --enable-asan --disable-docs --disable-rust
	--disable-install-blobs --disable-werror --python=/usr/bin/python3
	--prefix=/usr --firmwarepath=/usr/share/seabios:/usr/share/qemu:/usr/lib/ipxe/qemu
	--cc="ccache clang" --cxx="ccache clang++" --objcc="ccache clang")
csum=$(echo "${conf[*]}" | sha256sum | cut -d' ' -f1)
export CCACHE_BASEDIR=$top
t0=$(date +%s)
if [ ! -f "$obj/build.ninja" ] || [ "$(cat "$obj/.htier-config" 2>/dev/null)" != "$csum" ]; then
	mkdir -p "$obj"
	if ! (cd "$obj" && "$tree/configure" "${conf[@]}") >>"$out.build.log" 2>&1; then
		echo "not ok 1 - build qemu-fuzz-x86_64 # configure failed, see build/fuzz-hballoon.build.log"
		echo "not ok 2 - generic-fuzz virtio-hballoon # not built"
		exit 1
	fi
	echo "$csum" >"$obj/.htier-config"
fi
if ! ninja -C "$obj" -j"$(nproc)" qemu-fuzz-x86_64 >>"$out.build.log" 2>&1; then
	echo "not ok 1 - build qemu-fuzz-x86_64 # see build/fuzz-hballoon.build.log"
	grep -E '^FAILED:|error:' -m10 "$out.build.log" | sed 's/^/# /'
	echo "not ok 2 - generic-fuzz virtio-hballoon # not built"
	exit 1
fi
echo "ok 1 - build qemu-fuzz-x86_64 # $(($(date +%s) - t0)) s"
# Run from its build tree, QEMU looks for firmware under qemu-bundle/ there
# (the install layout): point that at Debian's firmware.
mkdir -p "$obj/qemu-bundle/usr/share" "$obj/qemu-bundle/usr/lib/ipxe"
ln -sfn /usr/share/seabios "$obj/qemu-bundle/usr/share/seabios"
ln -sfn /usr/lib/ipxe/qemu "$obj/qemu-bundle/usr/lib/ipxe/qemu"

rm -rf "$out" && mkdir -p "$out/corpus"
t0=$(date +%s)
# One process, a fixed seed (the device works in slices timed by the
# clock, so coverage, and with it the inputs, still vary a little from run
# to run). libFuzzer keeps a crashing input as $out/crash-*, a slow one as
# $out/timeout-*.
(cd "$out" && ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1 \
	"$obj/qemu-fuzz-x86_64" --fuzz-target=generic-fuzz-virtio-hballoon \
	-runs="$runs" -seed=1 -timeout=30 -print_final_stats=1 \
	-artifact_prefix="$out/" corpus) >"$out/fuzz.log" 2>&1
rc=$?
done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log")
secs=$(($(date +%s) - t0))
if [ $rc -eq 0 ] && [ "${done_runs:-0}" -ge "$runs" ]; then
	echo "ok 2 - generic-fuzz virtio-hballoon # $done_runs inputs in $secs s, no crash"
else
	echo "not ok 2 - generic-fuzz virtio-hballoon # exit $rc after ${done_runs:-?} of $runs inputs ($secs s); see build/fuzz-hballoon/"
	grep -E 'ERROR|SUMMARY|Assertion|crash-|timeout-' -m10 "$out/fuzz.log" | sed 's/^/# /'
	exit 1
fi
