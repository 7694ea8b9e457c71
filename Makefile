# htier: tiered memory for virtual machines.
#
#   make demo         boot a tiered VM and show hballoon + hplace at work
#   make check        build everything and run every bounded test suite
#   make check-full   the same plus long stress and soak runs
#
# Upstream sources (Linux 6.12.y, QEMU 10.0.2) come from Debian's archive at
# build time; nothing upstream is committed here. See README.md.

SHELL := /bin/bash
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

B := build
LOCK = flock $(B)/.$(1).lock

# Inputs that change what each artefact contains. Listed through git so that
# stray editor files do not trigger rebuilds; outside a checkout, find them.
lsfiles = $(or $(shell git ls-files --cached --others --exclude-standard -- $(1) 2>/dev/null),\
	       $(shell find $(1) -type f 2>/dev/null))
KERNEL_IN := $(filter-out guest-mm/tools/%,$(call lsfiles,guest-mm hballoon)) \
	     scripts/build-kernel.sh scripts/prepare-tree.sh
QEMU_IN   := $(call lsfiles,qemu-hballoon hballoon/include) \
	     scripts/build-qemu.sh scripts/prepare-tree.sh scripts/fetch-qemu.sh \
	     $(wildcard scripts/qemu-std-headers.sh)
GUEST_IN  := $(call lsfiles,tests/guest bench/workloads) scripts/build-initramfs.sh

.PHONY: all deps linux-tree qemu-tree kernel kernel-debug qemu initramfs host-agent demo \
	tenant-objects tenant-kernel image \
	check check-full bench patches clean help bench-initramfs \
	selftests-mm selftests-mm-initramfs

all: kernel kernel-debug qemu initramfs host-agent

help:
	@sed -n 's/^#   //p' Makefile
	@echo "Other targets: deps kernel kernel-debug tenant-objects tenant-kernel image qemu initramfs host-agent bench selftests-mm patches clean"

# Installs the Debian packages everything below needs (root; idempotent).
deps:
	@scripts/deps.sh | grep -v '^deps: all present$$' || true; test $${PIPESTATUS[0]} -eq 0

$(B):
	@mkdir -p $(B)

# Unpacked, patched and overlaid upstream trees (for editing hook patches).
linux-tree: | deps $(B)
	@$(call LOCK,kernel) scripts/prepare-tree.sh linux /usr/src/linux-source-6.12.tar.xz 1 \
		$(CURDIR)/guest-mm/patches/series guest-mm hballoon
qemu-tree: | deps $(B)
	@scripts/fetch-qemu.sh
	@$(call LOCK,qemu) scripts/prepare-tree.sh qemu $(B)/dl/qemu_10.0.2+ds.orig.tar.xz 1 \
		$(CURDIR)/qemu-hballoon/patches/series qemu-hballoon
	@$(call LOCK,qemu) scripts/qemu-std-headers.sh $(B)/src/qemu

# Both kernels build from the one tree in build/src/linux, hence one lock.
kernel: $(B)/bzImage
$(B)/bzImage: $(filter-out %/htier-debug.config,$(KERNEL_IN)) | deps $(B)
	@$(call LOCK,kernel) scripts/build-kernel.sh

# DEBUG_VM + lockdep build for the page-exchange stress (tests/e2e/test_exchange.py).
kernel-debug: $(B)/bzImage-debug
$(B)/bzImage-debug: $(KERNEL_IN) | deps $(B)
	@$(call LOCK,kernel) scripts/build-kernel.sh debug

# The tenant's kernel (Debian's cloud-amd64 configuration, the newest 6.12.y
# in the archive unless HTIER_LINUX_VERSION names one), in its own tree.
# tenant-objects is the bounded part make check runs: the files the series
# adds or patches compile there, and the module finds its symbols exported.
tenant-objects: | deps $(B)
	@$(call LOCK,kernel-tenant) scripts/build-kernel.sh tenant-objects
tenant-kernel: | deps $(B)
	@$(call LOCK,kernel-tenant) scripts/build-kernel.sh tenant

# Debian 12 with the tenant kernel package, our guest tools and the bench's
# and researchers' packages, as a UEFI-bootable disk (scripts/build-image.sh).
# It installs build/deb's package, made by make tenant-kernel when there is
# none yet (not a prerequisite: an image rebuild does not repackage a kernel).
image: initramfs | deps $(B)
	@ls $(B)/deb/linux-image-*-htier_*.deb >/dev/null 2>&1 || $(MAKE) -s tenant-kernel
	@$(call LOCK,image) scripts/build-image.sh

# One script, two outputs: the binary and the access meter plugin. cp -p
# keeps ninja's mtime on the binary, so when only an input ninja does not
# link in changed (the plugin's source, the script) the binary would stay
# older than it and make would run the script every time: touch both.
qemu: $(B)/qemu-system-x86_64 $(B)/plugins/libhtiermeter.so
$(B)/qemu-system-x86_64 $(B)/plugins/libhtiermeter.so &: $(QEMU_IN) | deps $(B)
	@$(call LOCK,qemu) scripts/build-qemu.sh
	@touch -c $(B)/qemu-system-x86_64 $(B)/plugins/libhtiermeter.so

initramfs: $(B)/initramfs.cpio.gz
$(B)/initramfs.cpio.gz: $(GUEST_IN) | deps $(B)
	@scripts/build-initramfs.sh

# The test initramfs plus redis-server and liblinear with their libraries
# (bench/placement's kv and linear workloads).
bench-initramfs: $(B)/initramfs-bench.cpio.gz
$(B)/initramfs-bench.cpio.gz: $(B)/initramfs.cpio.gz scripts/build-bench-initramfs.sh | deps $(B)
	@scripts/build-bench-initramfs.sh

host-agent: | deps $(B)
	@if [ -f host-agent/Makefile ]; then $(MAKE) -s -C host-agent O=$(CURDIR)/$(B); fi

# The demo boots build/bzImage with the test initramfs and drives it with
# hballoonctl; it never boots the debug kernel, the selftests or the bench
# initramfs, so it does not wait for them (make check does: its suites boot
# them).
demo: kernel qemu initramfs host-agent
	@scripts/demo.py

check: all selftests-mm-initramfs
	@tests/run

check-full: all selftests-mm-initramfs
	@HTIER_FULL=1 tests/run

# make bench QUICK=1: the short form (a subset of workloads, one repetition).
bench: all bench-initramfs
	@HTIER_BENCH_QUICK=$(QUICK) bench/run

# Linux's own mm selftests (tools/testing/selftests/mm, built statically from
# the pinned tree) on top of the test initramfs, with bash for their runner.
selftests-mm-initramfs: $(B)/initramfs-selftests.cpio.gz
$(B)/initramfs-selftests.cpio.gz: $(B)/initramfs.cpio.gz $(B)/bzImage-debug scripts/build-selftests-mm.sh tests/guest/selftests-sudo $(KERNEL_IN) | deps $(B)
	@$(call LOCK,kernel) scripts/build-selftests-mm.sh

# Every category of them in the debug guest, hplace off and then on under a
# full fast tier (tests/selftests-mm.py; make check runs a bounded part).
selftests-mm: kernel-debug qemu selftests-mm-initramfs
	@tests/selftests-mm.py --full

patches: | deps $(B)
	@$(call LOCK,kernel) $(call LOCK,qemu) scripts/export-patches.sh

clean:
	rm -rf $(B)/obj $(B)/bzImage $(B)/bzImage-debug $(B)/qemu-system-x86_64 $(B)/initramfs* $(B)/patches \
		$(B)/src $(B)/vm
	@if [ -f host-agent/Makefile ]; then $(MAKE) -s -C host-agent O=$(CURDIR)/$(B) clean; fi
