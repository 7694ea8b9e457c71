/*
 * Virtio hballoon device: a per-NUMA-node memory balloon
 *
 * The device ABI is include/standard-headers/linux/virtio_hballoon.h,
 * generated from the Linux uapi header the guest driver uses.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_HBALLOON_H
#define HW_VIRTIO_HBALLOON_H

#include "standard-headers/linux/virtio_hballoon.h"
#include "hw/virtio/virtio.h"
#include "qapi/qapi-types-hballoon.h"
#include "qom/object.h"

#define TYPE_VIRTIO_HBALLOON "virtio-hballoon"

OBJECT_DECLARE_SIMPLE_TYPE(VirtIOHballoon, VIRTIO_HBALLOON)

/* A run of contiguous 4 KiB pages inside one RAMBlock, discarded at once. */
typedef struct HballoonRun {
    RAMBlock *rb;
    ram_addr_t offset;
    uint64_t pages;
} HballoonRun;

typedef struct HballoonNode {
    /* Fixed at realize. */
    uint32_t node_id;           /* QEMU NUMA node id == ACPI PXM */
    uint64_t ram_pages;         /* 4 KiB pages of the node's memdev */
    MemoryRegion *mr;           /* memory region of the node's memdev */
    bool no_discard;            /* the backend cannot discard at all */
    HballoonDiscardInhibitor no_discard_why;
    uint64_t host_page_pages;   /* 4 KiB pages per host page of the node */

    /* Migrated. */
    uint64_t target_pages;      /* pages the host wants in the balloon */
    uint64_t actual_pages;      /* pages the guest says it holds */
    uint64_t inflated;          /* valid PFNs inflated (cumulative) */
    uint64_t deflated;          /* valid PFNs deflated (cumulative) */
    uint64_t discarded;         /* 4 KiB pages discarded (cumulative) */
    uint64_t invalid;           /* PFNs ignored (cumulative) */

    /*
     * actual_pages as it stands in the config buffer (vdev->config): a
     * config write only changes actual_pages if the driver wrote a new
     * value there, so stale bytes of other fields never roll it back.
     */
    uint64_t cfg_actual;

    /*
     * Discards the host refused, and the pause before the next attempt;
     * not migrated (they describe this host).
     */
    uint64_t discard_failures;
    int64_t discard_pause_ns;
    int64_t discard_resume_ns;  /* QEMU_CLOCK_REALTIME */

    /* Latest guest statistics, not migrated (the guest sends new ones). */
    uint64_t stats[VIRTIO_HBALLOON_S_NR];
    uint32_t stats_present;     /* bit per tag in the last report */
    bool has_stats;
} HballoonNode;

struct VirtIOHballoon {
    VirtIODevice parent_obj;

    VirtQueue *ivq;
    VirtQueue *dvq;
    VirtQueue *svq;

    uint32_t num_nodes;
    HballoonNode *nodes;
    uint32_t poison_val;
    uint64_t bad_buffers;       /* buffers ignored as a whole */

    /* The entries of the buffer in hand: PFNs, or (PFN, pages) ranges. */
    uint64_t *pfn_buf;

    /*
     * The inflate or deflate buffer being worked through, one at a time,
     * in slices (virtio_hballoon_drain()); not migrated: finished when
     * the VM stops.
     */
    VirtQueueElement *cur_elem;
    VirtQueue *cur_vq;
    HballoonNode *cur_node;
    uint32_t cur_num;           /* entries in pfn_buf */
    uint32_t cur_next;          /* the next one to apply */
    uint64_t cur_done;          /* pages of range cur_next applied */
    RAMBlock *cur_rb;           /* where range cur_next is, once checked */
    ram_addr_t cur_offset;
    bool cur_ranges;            /* entries are ranges (F_RANGES) */
    bool cur_discard;
    /*
     * Pages of the buffer in hand waiting to be discarded together: a
     * host page that two ranges cover is freed even when a slice ends
     * between them. Flushed when the buffer is done, dropped with it.
     */
    HballoonRun cur_run;
    bool drain_dvq_first;       /* take turns between the queues */
    QEMUBH *drain_bh;           /* continues a drain past its slice */
    uint64_t slice_ns;          /* a slice's length (x-slice-ns) */
    uint64_t slice_max_ns;      /* longest slice so far (x-slice-max-ns) */
    uint64_t slices_continued;  /* slices that left work (x-slices-continued) */

    VirtQueueElement *stats_vq_elem;
    QEMUTimer *stats_timer;
    DeviceState *proxy;         /* the transport device users name (id) */
    uint32_t stats_poll_interval;   /* seconds, 0: never ask again */

    uint32_t host_features;
};

#endif
