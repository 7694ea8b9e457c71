/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Virtio hballoon device: a per-NUMA-node memory balloon.
 *
 * This header is BSD licensed so anyone can use the definitions
 * to implement compatible drivers/servers:
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions
 * are met:
 * 1. Redistributions of source code must retain the above copyright
 *    notice, this list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright
 *    notice, this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holders nor the names of its
 *    contributors may be used to endorse or promote products derived from
 *    this software without specific prior written permission.
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS ``AS IS''
 * AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
 * IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
 * ARE DISCLAIMED.  IN NO EVENT SHALL THE COPYRIGHT HOLDERS OR CONTRIBUTORS BE
 * LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
 * CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
 * SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 * INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
 * CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
 * ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
 * POSSIBILITY OF SUCH DAMAGE.
 */

#ifndef _LINUX_VIRTIO_HBALLOON_H
#define _LINUX_VIRTIO_HBALLOON_H

#include <linux/types.h>
#include <linux/virtio_types.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_config.h>

/*
 * Protocol overview (the normative text is Documentation/virtio/hballoon-spec.rst)
 * ---------------------------------------------------------------------------
 *
 * The hballoon device is a memory balloon with one balloon per guest NUMA
 * node. The device asks the driver to hold a given number of pages *of a given
 * node* in that node's balloon; the driver allocates pages strictly on that
 * node and reports their page frame numbers, after which the device may free
 * the host memory backing them. Only version 1 (modern) devices exist:
 * VIRTIO_F_VERSION_1 must be negotiated. All fields are little-endian.
 *
 * Nodes. The device covers every guest NUMA node that has RAM it manages.
 * A node is named by its node_id: the ACPI proximity domain (PXM) of that
 * memory in SRAT, the same identifier virtio-mem uses, so the guest's own
 * node numbering may differ. Each node has an entry in the configuration
 * space (struct virtio_hballoon_node_config):
 *
 *   node_id       device-written: ACPI PXM of the node
 *   ram_pages     device-written: RAM of the node the device manages, in
 *                 4 KiB pages (the most the balloon of this node can hold)
 *   target_pages  device-written: pages the device wants in this node's
 *                 balloon (the analogue of virtio-balloon's num_pages)
 *   actual_pages  driver-written: pages this node's balloon holds right now
 *                 (the analogue of virtio-balloon's actual)
 *
 * The device changes target_pages of any node and sends a configuration
 * change notification. The driver then inflates (target > actual) or
 * deflates (target < actual) each node's balloon and writes actual_pages
 * back after each step, so the host sees progress and the shortfall when the
 * guest cannot free more. actual_pages is 64 bits wide; a transport that
 * writes it as two 32-bit halves writes the low half first. A driver that
 * cannot reach a target stays where it is and retries later; it must never
 * take the guest out of memory to satisfy the device.
 *
 * Page frames. A PFN is a 64-bit guest-physical address shifted right by
 * VIRTIO_HBALLOON_PFN_SHIFT (12), independent of the guest's page size: a
 * guest with larger pages sends every 4 KiB frame of the page.
 *
 * Virtqueues.
 *   0 inflateq  buffers of struct virtio_hballoon_pfns: the node's balloon
 *               took these frames; the device may discard their backing.
 *   1 deflateq  buffers of struct virtio_hballoon_pfns: the node's balloon
 *               gave these frames back; the driver will use them after the
 *               device has used the buffer.
 *   2 statsq    only with VIRTIO_HBALLOON_F_STATS_VQ: per-node statistics,
 *               see below.
 *
 * Each inflate/deflate buffer is device-readable only and carries one node:
 * a header { node_id, num_pfns } followed by exactly num_pfns 64-bit PFNs,
 * at most VIRTIO_HBALLOON_MAX_PFNS of them. The buffer may be split across
 * descriptors anywhere. The device validates every buffer: a buffer whose
 * length is not exactly the header plus num_pfns PFNs, whose num_pfns
 * exceeds the maximum, or whose node_id is not one of its nodes is ignored
 * as a whole; a PFN that does not lie in RAM of the named node is ignored
 * alone. The device never frees memory for a PFN it ignored. Either way the
 * buffer is used (returned) so the driver can recycle it.
 *
 * Statistics. With VIRTIO_HBALLOON_F_STATS_VQ the driver adds one
 * device-readable buffer to statsq: for every node, a struct
 * virtio_hballoon_stats_hdr followed by num_stats struct virtio_hballoon_stat.
 * The device keeps the buffer; when it wants fresh numbers it uses (returns)
 * the buffer and the driver queues a new one with current values.
 *
 * Feature bits.
 *   VIRTIO_HBALLOON_F_STATS_VQ        the statsq exists.
 *   VIRTIO_HBALLOON_F_DEFLATE_ON_OOM  the driver may deflate a node's balloon
 *                                     below target when the guest is out of
 *                                     memory (it still reports through
 *                                     deflateq and actual_pages).
 *   VIRTIO_HBALLOON_F_PAGE_POISON     the driver writes its page poison
 *                                     pattern to poison_val (informational:
 *                                     deflated pages are poisoned again when
 *                                     the guest frees them).
 *   VIRTIO_HBALLOON_F_RANGES          inflate and deflate buffers carry
 *                                     (pfn, num_pages) runs, not PFNs.
 */

#ifndef VIRTIO_ID_HBALLOON
#define VIRTIO_ID_HBALLOON		63 /* virtio per-node balloon */
#endif

/* Feature bits */
#define VIRTIO_HBALLOON_F_STATS_VQ		0 /* statsq is present */
#define VIRTIO_HBALLOON_F_DEFLATE_ON_OOM	1 /* deflate when out of memory */
#define VIRTIO_HBALLOON_F_PAGE_POISON		2 /* driver poisons free pages */
#define VIRTIO_HBALLOON_F_RANGES		3 /* buffers carry runs of frames */

/* Virtqueue indices */
#define VIRTIO_HBALLOON_VQ_INFLATE		0
#define VIRTIO_HBALLOON_VQ_DEFLATE		1
#define VIRTIO_HBALLOON_VQ_STATS		2

/* A PFN always names a 4 KiB frame, whatever the guest's page size. */
#define VIRTIO_HBALLOON_PFN_SHIFT		12
#define VIRTIO_HBALLOON_PAGE_SIZE		(1UL << VIRTIO_HBALLOON_PFN_SHIFT)

/* Most nodes a device may describe in its configuration space. */
#define VIRTIO_HBALLOON_MAX_NODES		64
/* Most PFNs in one inflate or deflate buffer. */
#define VIRTIO_HBALLOON_MAX_PFNS		4096
/* With VIRTIO_HBALLOON_F_RANGES: most ranges in one buffer. */
#define VIRTIO_HBALLOON_MAX_RANGES		2048
/* With VIRTIO_HBALLOON_F_RANGES: most frames in one range (4 TiB). */
#define VIRTIO_HBALLOON_MAX_RANGE_PAGES		(1ULL << 30)

/* One node's entry in the configuration space (32 bytes). */
struct virtio_hballoon_node_config {
	/* Device-written: ACPI proximity domain (PXM) of the node. */
	__le32 node_id;
	__le32 reserved;
	/* Device-written: RAM the device manages on this node, 4 KiB pages. */
	__le64 ram_pages;
	/* Device-written: pages the device wants in this node's balloon. */
	__le64 target_pages;
	/* Driver-written: pages this node's balloon holds now. */
	__le64 actual_pages;
};

/*
 * The configuration space: a fixed 2064 bytes whatever the number of nodes,
 * so a driver never reads past the end of it. Only nodes[0 .. num_nodes - 1]
 * describe nodes; the device keeps the entries after them zero.
 */
struct virtio_hballoon_config {
	/* Device-written: nodes described, in nodes[0..num_nodes-1]; 1..64. */
	__le16 num_nodes;
	__le16 reserved0;
	/* Driver-written with VIRTIO_HBALLOON_F_PAGE_POISON: poison pattern. */
	__le32 poison_val;
	__le64 reserved1;
	struct virtio_hballoon_node_config nodes[VIRTIO_HBALLOON_MAX_NODES];
};

/*
 * Header of an inflate or deflate buffer; num_pfns __le64 PFNs follow, or,
 * with VIRTIO_HBALLOON_F_RANGES, num_pfns struct virtio_hballoon_range.
 */
struct virtio_hballoon_pfns {
	/* ACPI PXM of the node all the PFNs in this buffer belong to. */
	__le32 node_id;
	/*
	 * Number of PFNs that follow, 1..VIRTIO_HBALLOON_MAX_PFNS; with
	 * VIRTIO_HBALLOON_F_RANGES, of ranges, 1..VIRTIO_HBALLOON_MAX_RANGES.
	 */
	__le32 num_pfns;
	__le64 pfns[];
};

/* With VIRTIO_HBALLOON_F_RANGES: a run of contiguous 4 KiB frames. */
struct virtio_hballoon_range {
	/* First frame of the run. */
	__le64 pfn;
	/* Frames in the run, 1..VIRTIO_HBALLOON_MAX_RANGE_PAGES. */
	__le64 num_pages;
};

/* With VIRTIO_HBALLOON_F_RANGES: an inflate or deflate buffer. */
struct virtio_hballoon_ranges {
	/* ACPI PXM of the node all the frames in this buffer belong to. */
	__le32 node_id;
	/* Number of ranges that follow, 1..VIRTIO_HBALLOON_MAX_RANGES. */
	__le32 num_ranges;
	struct virtio_hballoon_range ranges[];
};

/* Statistics tags. Sizes are in bytes, event counts are cumulative. */
#define VIRTIO_HBALLOON_S_MEMFREE	0 /* free memory on the node */
#define VIRTIO_HBALLOON_S_MEMTOT	1 /* managed memory of the node */
#define VIRTIO_HBALLOON_S_FILE		2 /* page cache on the node */
#define VIRTIO_HBALLOON_S_ANON		3 /* anonymous memory on the node */
#define VIRTIO_HBALLOON_S_BALLOON	4 /* memory in the node's balloon */
#define VIRTIO_HBALLOON_S_INFLATE_FAIL	5 /* failed inflate allocations */
#define VIRTIO_HBALLOON_S_OOM_DEFLATE	6 /* memory deflated on OOM */
/*
 * Demand, from the guest's placement engine (absent without one, or while
 * it is off): hot memory it wants on this node, fitting or not (0 on a
 * slow node), and memory on this node it considers cold.
 */
#define VIRTIO_HBALLOON_S_HOT		7 /* hot memory wanted on the node */
#define VIRTIO_HBALLOON_S_COLD		8 /* cold memory on the node */
#define VIRTIO_HBALLOON_S_NR		9

#define VIRTIO_HBALLOON_S_NAMES { \
	"free-memory", \
	"total-memory", \
	"file-memory", \
	"anon-memory", \
	"balloon-memory", \
	"inflate-failures", \
	"oom-deflated", \
	"hot-memory", \
	"cold-memory", \
}

/* One statistic (16 bytes, naturally aligned, no packing needed). */
struct virtio_hballoon_stat {
	__le16 tag;
	__u8 reserved[6];
	__le64 val;
};

/* Per-node header in a stats buffer; num_stats statistics follow. */
struct virtio_hballoon_stats_hdr {
	/* ACPI PXM of the node. */
	__le32 node_id;
	/* Number of struct virtio_hballoon_stat that follow. */
	__le32 num_stats;
};

#endif /* _LINUX_VIRTIO_HBALLOON_H */
