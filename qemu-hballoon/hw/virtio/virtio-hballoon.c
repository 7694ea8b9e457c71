/*
 * Virtio hballoon device: a per-NUMA-node memory balloon
 *
 * One balloon per guest NUMA node that has RAM. The host sets each node's
 * usable size (hballoon-set); the guest inflates or deflates that node's
 * balloon and reports the 4 KiB page frames it gave up, which the device
 * discards from the RAMBlock backing exactly that node. Every guest-supplied
 * PFN is validated against the node's memory region: anything else is
 * ignored, counted and traced, never discarded.
 *
 * The protocol is defined in include/standard-headers/linux/virtio_hballoon.h
 * (copied from the Linux uapi header) and in the htier project's
 * Documentation/virtio/hballoon-spec.rst.
 *
 * Unlike virtio-balloon, this device does not register QEMU's global balloon
 * handler, so both devices can be used in the same VM.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/iov.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "hw/boards.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-hballoon.h"
#include "hw/virtio/virtio-pci.h"
#include "system/hostmem.h"
#include "system/numa.h"
#include "system/hballoon.h"
#include "system/system.h"
#include "exec/cpu-common.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "exec/ramblock.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qapi/qapi-events-hballoon.h"
#include "trace.h"

#define HBALLOON_PAGE_SIZE (1ULL << VIRTIO_HBALLOON_PFN_SHIFT)
#define HBALLOON_MAX_PFN (UINT64_MAX >> VIRTIO_HBALLOON_PFN_SHIFT)
/*
 * Longest stretch of inflate/deflate work under the BQL before yielding
 * (the default of x-slice-ns, which tests lower to force slice ends).
 */
#define HBALLOON_SLICE_NS (2 * SCALE_MS)
/* PFNs between two reads of the clock. */
#define HBALLOON_CLOCK_EVERY 64
/*
 * Most pages of a range applied (and discarded with one call) between two
 * reads of the clock, 2 MiB: discarding that much populated memory takes
 * a few hundred microseconds; a 4 TiB range must not hold the BQL for
 * minutes. Steps end at multiples of this in the RAMBlock (of the host
 * page size, where that is larger), so that a host page is never split
 * between two steps.
 */
#define HBALLOON_RANGE_STEP 512
/* After a refused discard, pause discarding on the node (doubling). */
#define HBALLOON_DISCARD_PAUSE_NS NANOSECONDS_PER_SECOND
#define HBALLOON_DISCARD_PAUSE_MAX_NS (60 * NANOSECONDS_PER_SECOND)
/* Statistics the device reads per node and report, at most. */
#define HBALLOON_MAX_STATS 64

/* Fixed, as virtio-mem's is: a driver can read any entry without a check. */
QEMU_BUILD_BUG_ON(sizeof(struct virtio_hballoon_config) != 2064);
/* stats_present has a bit per tag. */
QEMU_BUILD_BUG_ON(VIRTIO_HBALLOON_S_NR > 32);
/* pfn_buf holds a buffer of either layout. */
QEMU_BUILD_BUG_ON(VIRTIO_HBALLOON_MAX_RANGES *
                  sizeof(struct virtio_hballoon_range) >
                  VIRTIO_HBALLOON_MAX_PFNS * sizeof(uint64_t));

static HballoonNode *virtio_hballoon_find_node(VirtIOHballoon *s,
                                               uint32_t node_id)
{
    uint32_t i;

    for (i = 0; i < s->num_nodes; i++) {
        if (s->nodes[i].node_id == node_id) {
            return &s->nodes[i];
        }
    }
    return NULL;
}

/*
 * Whether @node's own backend keeps it from discarding; if so, why. A node
 * whose host pages are larger than 4 KiB discards only whole host pages,
 * which a PFN never covers: it needs a guest that reports ranges.
 */
static bool virtio_hballoon_node_inhibited(VirtIOHballoon *s,
                                           HballoonNode *node,
                                           HballoonDiscardInhibitor *why)
{
    if (node->no_discard) {
        *why = node->no_discard_why;
        return true;
    }
    if (node->host_page_pages > 1 &&
        !virtio_vdev_has_feature(VIRTIO_DEVICE(s), VIRTIO_HBALLOON_F_RANGES)) {
        *why = HBALLOON_DISCARD_INHIBITOR_LARGE_PAGES;
        return true;
    }
    return false;
}

/*
 * Why discarding is not possible right now, as a list of reasons (NULL if
 * discarding works everywhere). A node's own reason (its backend) is also
 * reported with the node.
 *
 * Page poisoning is no reason: an inflated page is not free memory to the
 * guest, and a deflated one goes back through the guest's page allocator,
 * which poisons it again when it frees it (virtio-balloon honours the
 * poison value only for free page reporting, which this device lacks).
 */
static HballoonDiscardInhibitorList *
virtio_hballoon_inhibitors(VirtIOHballoon *s)
{
    HballoonDiscardInhibitorList *list = NULL;
    HballoonDiscardInhibitor why, other;
    uint32_t i, j;

    for (i = s->num_nodes; i-- > 0;) {
        if (!virtio_hballoon_node_inhibited(s, &s->nodes[i], &why)) {
            continue;
        }
        for (j = i + 1; j < s->num_nodes; j++) {
            if (virtio_hballoon_node_inhibited(s, &s->nodes[j], &other) &&
                other == why) {
                break;
            }
        }
        if (j == s->num_nodes) {
            QAPI_LIST_PREPEND(list, why);
        }
    }
    if (should_mlock(mlock_state)) {
        QAPI_LIST_PREPEND(list, HBALLOON_DISCARD_INHIBITOR_MEM_LOCK);
    }
    if (migration_in_bg_snapshot()) {
        QAPI_LIST_PREPEND(list,
                          HBALLOON_DISCARD_INHIBITOR_BACKGROUND_SNAPSHOT);
    }
    if (migration_in_incoming_postcopy()) {
        QAPI_LIST_PREPEND(list, HBALLOON_DISCARD_INHIBITOR_INCOMING_POSTCOPY);
    }
    if (ram_block_discard_is_disabled()) {
        QAPI_LIST_PREPEND(list,
                          HBALLOON_DISCARD_INHIBITOR_RAM_DISCARD_DISABLED);
    }
    return list;
}

static bool virtio_hballoon_may_discard(VirtIOHballoon *s, HballoonNode *node)
{
    HballoonDiscardInhibitor why;

    /*
     * Postcopy cannot deal with concurrent discards, background snapshots
     * neither; VFIO pins guest memory; locked memory cannot be dropped
     * (madvise() fails with EINVAL).
     */
    return !virtio_hballoon_node_inhibited(s, node, &why) &&
           !should_mlock(mlock_state) &&
           !ram_block_discard_is_disabled() &&
           !migration_in_incoming_postcopy() && !migration_in_bg_snapshot();
}

static void virtio_hballoon_flush_run(HballoonNode *node, HballoonRun *run)
{
    uint64_t host_page = node->host_page_pages << VIRTIO_HBALLOON_PFN_SHIFT;
    ram_addr_t start, end;
    int64_t now;

    if (!run->pages) {
        return;
    }
    /*
     * Only the host pages the run covers whole: the guest may still use
     * the rest of a host page the run only touches.
     */
    start = ROUND_UP(run->offset, host_page);
    end = ROUND_DOWN(run->offset + (run->pages << VIRTIO_HBALLOON_PFN_SHIFT),
                     host_page);
    if (start >= end) {
        run->pages = 0;
        return;
    }
    run->offset = start;
    run->pages = (end - start) >> VIRTIO_HBALLOON_PFN_SHIFT;
    /*
     * After the host refused a discard, wait before the next attempt:
     * ram_block_discard_range() reports every failure, and a guest that
     * keeps inflating would flood the log.
     */
    now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    if (now < node->discard_resume_ns) {
        run->pages = 0;
        return;
    }
    trace_virtio_hballoon_discard(node->node_id, run->offset,
                                  run->pages << VIRTIO_HBALLOON_PFN_SHIFT);
    if (!ram_block_discard_range(run->rb, run->offset,
                                 run->pages << VIRTIO_HBALLOON_PFN_SHIFT)) {
        node->discarded += run->pages;
        node->discard_pause_ns = 0;
    } else {
        node->discard_failures++;
        node->discard_pause_ns = node->discard_pause_ns ?
            MIN(node->discard_pause_ns * 2, HBALLOON_DISCARD_PAUSE_MAX_NS) :
            HBALLOON_DISCARD_PAUSE_NS;
        node->discard_resume_ns = now + node->discard_pause_ns;
        warn_report_once("virtio-hballoon: the host refused to discard "
                         "memory of NUMA node %" PRIu32 "; inflated pages "
                         "stay allocated (see discard-failures in "
                         "query-hballoon)", node->node_id);
        trace_virtio_hballoon_discard_failed(node->node_id,
                                             node->discard_pause_ns);
    }
    run->pages = 0;
}

/*
 * Resolve @pages guest frames from @pfn on to an offset in the RAMBlock of
 * @node: all of them must be RAM of the node, mapped contiguously. @cache
 * holds (with a reference) the stretch of the node's memory that the
 * address space maps contiguously from the PFN looked up last, so that the
 * PFNs of a run, or any later in that stretch, need no further lookup.
 */
static bool virtio_hballoon_resolve(HballoonNode *node, uint64_t pfn,
                                    uint64_t pages,
                                    MemoryRegionSection *cache,
                                    RAMBlock **rb, ram_addr_t *offset)
{
    hwaddr pa, start, size, len;
    MemoryRegionSection section;

    if (!pages || pages > VIRTIO_HBALLOON_MAX_RANGE_PAGES ||
        pfn > HBALLOON_MAX_PFN || pages - 1 > HBALLOON_MAX_PFN - pfn) {
        return false;
    }
    pa = pfn << VIRTIO_HBALLOON_PFN_SHIFT;
    len = pages << VIRTIO_HBALLOON_PFN_SHIFT;

    start = cache->offset_within_address_space;
    size = cache->mr ? int128_get64(cache->size) : 0;
    if (!cache->mr || pa < start || pa - start >= size ||
        size - (pa - start) < len) {
        /*
         * Ask for the whole node: the section returned is clipped to the
         * flat range that holds @pa, i.e. all of the node's memory mapped
         * contiguously from @pa on.
         */
        section = memory_region_find(get_system_memory(), pa,
                                     memory_region_size(node->mr));
        if (!section.mr) {
            return false;
        }
        /*
         * The first flat range that overlaps [pa, pa + size) may start
         * above @pa (a hole below the node): then @pa is not RAM.
         */
        if (section.offset_within_address_space != pa ||
            section.mr != node->mr || !memory_region_is_ram(section.mr) ||
            memory_region_is_rom(section.mr) ||
            memory_region_is_romd(section.mr) ||
            int128_get64(section.size) < len) {
            memory_region_unref(section.mr);
            return false;
        }
        if (cache->mr) {
            memory_region_unref(cache->mr);
        }
        *cache = section;
        start = cache->offset_within_address_space;
    }

    /* The node's memory region is its RAMBlock's, from offset 0. */
    *rb = node->mr->ram_block;
    *offset = cache->offset_within_region + (pa - start);
    return *offset + len <= memory_region_size(node->mr);
}

/*
 * Take @elem as the buffer to work through, if it is a valid inflate or
 * deflate buffer. Returns false if it is to be ignored as a whole.
 */
static bool virtio_hballoon_start_buffer(VirtIOHballoon *s, VirtQueue *vq,
                                         VirtQueueElement *elem)
{
    struct virtio_hballoon_pfns hdr;
    size_t len = iov_size(elem->out_sg, elem->out_num);
    bool inflate = vq == s->ivq;
    bool ranges = virtio_vdev_has_feature(VIRTIO_DEVICE(s),
                                          VIRTIO_HBALLOON_F_RANGES);
    size_t entry = ranges ? sizeof(struct virtio_hballoon_range) :
                            sizeof(uint64_t);
    uint32_t max = ranges ? VIRTIO_HBALLOON_MAX_RANGES :
                            VIRTIO_HBALLOON_MAX_PFNS;
    HballoonNode *node;
    uint32_t node_id, num;

    if (elem->in_num || len < sizeof(hdr)) {
        trace_virtio_hballoon_bad_buffer(inflate, len, "short");
        return false;
    }
    iov_to_buf(elem->out_sg, elem->out_num, 0, &hdr, sizeof(hdr));
    node_id = le32_to_cpu(hdr.node_id);
    num = le32_to_cpu(hdr.num_pfns);
    if (!num || num > max || len != sizeof(hdr) + (size_t)num * entry) {
        trace_virtio_hballoon_bad_buffer(inflate, len, "length");
        return false;
    }
    node = virtio_hballoon_find_node(s, node_id);
    if (!node) {
        trace_virtio_hballoon_bad_buffer(inflate, len, "node");
        return false;
    }
    iov_to_buf(elem->out_sg, elem->out_num, sizeof(hdr), s->pfn_buf,
               num * entry);

    s->cur_elem = elem;
    s->cur_vq = vq;
    s->cur_node = node;
    s->cur_num = num;
    s->cur_next = 0;
    s->cur_done = 0;
    s->cur_ranges = ranges;
    s->cur_discard = inflate && virtio_hballoon_may_discard(s, node);
    trace_virtio_hballoon_buffer(inflate, node_id, num, s->cur_discard);
    return true;
}

/* Pages of a step window of @node: see HBALLOON_RANGE_STEP. */
static uint64_t virtio_hballoon_step_pages(HballoonNode *node)
{
    return MAX(HBALLOON_RANGE_STEP, node->host_page_pages);
}

/*
 * Add @pages pages at @offset of @rb to @run. Pages that do not continue
 * the run (another RAM block, a gap, or the start of a step window) first
 * flush it, so one discard covers at most one step window.
 */
static void virtio_hballoon_add_run(HballoonNode *node, HballoonRun *run,
                                    RAMBlock *rb, ram_addr_t offset,
                                    uint64_t pages)
{
    uint64_t window = virtio_hballoon_step_pages(node) <<
                      VIRTIO_HBALLOON_PFN_SHIFT;

    if (run->pages && run->rb == rb &&
        run->offset + (run->pages << VIRTIO_HBALLOON_PFN_SHIFT) == offset &&
        offset % window) {
        run->pages += pages;
        return;
    }
    virtio_hballoon_flush_run(node, run);
    run->rb = rb;
    run->offset = offset;
    run->pages = pages;
}

/*
 * Apply the current buffer's entries (PFNs, or ranges of them) until they
 * are done (true) or @deadline (QEMU_CLOCK_REALTIME ns) has passed (false;
 * the rest waits for the next call). A range is checked whole before any
 * of it is applied, and applied in steps of HBALLOON_RANGE_STEP pages.
 */
static bool virtio_hballoon_work(VirtIOHballoon *s, int64_t deadline)
{
    HballoonNode *node = s->cur_node;
    bool inflate = s->cur_vq == s->ivq;
    MemoryRegionSection cache = {};
    uint32_t i = s->cur_next, unclocked = 0;
    bool first = true;

    /*
     * Discarding may have been disabled (VFIO hotplug, a background
     * snapshot) since the last slice: the run left from it must not be
     * discarded either; its pages stay allocated on the host.
     */
    if (s->cur_discard && !virtio_hballoon_may_discard(s, node)) {
        s->cur_discard = false;
        s->cur_run.pages = 0;
    }
    while (i < s->cur_num) {
        uint64_t pfn, pages, step;
        RAMBlock *rb;
        ram_addr_t offset;

        /* Read the clock after some work, never before the first step. */
        if (!first &&
            (s->cur_ranges || ++unclocked >= HBALLOON_CLOCK_EVERY)) {
            unclocked = 0;
            if (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= deadline) {
                break;
            }
        }
        first = false;
        if (s->cur_ranges) {
            pfn = le64_to_cpu(s->pfn_buf[2 * i]);
            pages = le64_to_cpu(s->pfn_buf[2 * i + 1]);
        } else {
            pfn = le64_to_cpu(s->pfn_buf[i]);
            pages = 1;
        }
        /*
         * A range is checked whole before any of it is applied; where it
         * is is kept, so the steps of later slices need no lookup.
         */
        if (!s->cur_done) {
            if (!virtio_hballoon_resolve(node, pfn, pages, &cache, &rb,
                                         &offset)) {
                node->invalid++;
                trace_virtio_hballoon_bad_pfn(node->node_id, pfn, pages);
                i++;
                continue;
            }
            s->cur_rb = rb;
            s->cur_offset = offset;
        }
        rb = s->cur_rb;
        offset = s->cur_offset + (s->cur_done << VIRTIO_HBALLOON_PFN_SHIFT);
        /*
         * Steps bound the discards, and end where a step window of the
         * RAMBlock ends; without discards a range is one step.
         */
        step = pages - s->cur_done;
        if (inflate && s->cur_discard) {
            uint64_t window = virtio_hballoon_step_pages(node);

            step = MIN(step, window -
                       (offset >> VIRTIO_HBALLOON_PFN_SHIFT) % window);
        }
        if (!inflate) {
            node->deflated += step;
        } else {
            node->inflated += step;
            if (s->cur_discard) {
                virtio_hballoon_add_run(node, &s->cur_run, rb, offset,
                                        step);
            }
        }
        s->cur_done += step;
        if (s->cur_done == pages) {
            s->cur_done = 0;
            i++;
        }
    }
    /* A run may go on in the next slice, but not past its buffer. */
    if (i == s->cur_num) {
        virtio_hballoon_flush_run(node, &s->cur_run);
    }
    if (cache.mr) {
        memory_region_unref(cache.mr);
    }
    s->cur_next = i;
    return i == s->cur_num;
}

/* Hand @elem back to the driver: done with it, or ignored. */
static void virtio_hballoon_complete(VirtIOHballoon *s, VirtQueue *vq,
                                     VirtQueueElement *elem)
{
    virtqueue_push(vq, elem, 0);
    virtio_notify(VIRTIO_DEVICE(s), vq);
    g_free(elem);
}

/*
 * Finish the buffer in hand at once (the VM is stopping, under the BQL).
 * A PFN buffer is at most 4096 discards; ranges can cover terabytes, so
 * their rest is only counted (freeing host memory is optional): at most
 * 2048 lookups. Those pages stay allocated on the host.
 */
static void virtio_hballoon_finish_current(VirtIOHballoon *s)
{
    if (!s->cur_elem) {
        return;
    }
    if (s->cur_ranges) {
        s->cur_discard = false;
    }
    virtio_hballoon_work(s, INT64_MAX);
    virtio_hballoon_complete(s, s->cur_vq, s->cur_elem);
    s->cur_elem = NULL;
}

/* Give the buffer in hand back unprocessed (reset, unplug). */
static void virtio_hballoon_drop_current(VirtIOHballoon *s)
{
    if (!s->cur_elem) {
        return;
    }
    virtqueue_detach_element(s->cur_vq, s->cur_elem, 0);
    g_free(s->cur_elem);
    s->cur_elem = NULL;
    s->cur_run.pages = 0;       /* not discarded: the guest keeps them */
}

/*
 * Work through the inflate and deflate queues, taking turns, for at most
 * a slice (x-slice-ns, HBALLOON_SLICE_NS): a guest can queue hundreds of
 * thousands of scattered PFNs, each a lookup and maybe a discard, and all
 * of it under the BQL. What is left continues in a bottom half, so the
 * monitor and the vCPUs get the lock in between. Every slice applies at
 * least one entry (or step of one), however short it is.
 */
static void virtio_hballoon_drain(VirtIOHballoon *s)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    int64_t deadline = start + MIN(s->slice_ns, INT64_MAX - start), took;
    uint64_t pfns = 0;
    bool worked = false;

    /* Stopped: the buffer in hand was finished when the VM stopped. */
    if (!vdev->vm_running) {
        return;
    }
    for (;;) {
        VirtQueueElement *elem;
        VirtQueue *vq;
        uint32_t from;

        if (worked && qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= deadline) {
            /* Only work left makes the slice end early. */
            if (s->cur_elem || !virtio_queue_empty(s->ivq) ||
                !virtio_queue_empty(s->dvq)) {
                s->slices_continued++;
                qemu_bh_schedule(s->drain_bh);
            }
            break;
        }
        if (s->cur_elem) {
            from = s->cur_next;
            worked = true;
            if (!virtio_hballoon_work(s, deadline)) {
                pfns += s->cur_next - from;
                s->slices_continued++;
                qemu_bh_schedule(s->drain_bh);
                break;
            }
            pfns += s->cur_next - from;
            virtio_hballoon_complete(s, s->cur_vq, s->cur_elem);
            s->cur_elem = NULL;
            continue;
        }
        vq = s->drain_dvq_first ? s->dvq : s->ivq;
        elem = virtqueue_pop(vq, sizeof(VirtQueueElement));
        if (!elem) {
            vq = vq == s->ivq ? s->dvq : s->ivq;
            elem = virtqueue_pop(vq, sizeof(VirtQueueElement));
        }
        if (!elem) {
            break;
        }
        s->drain_dvq_first = vq == s->ivq;
        /* A buffer just started gets its first step in this slice. */
        if (!virtio_hballoon_start_buffer(s, vq, elem)) {
            s->bad_buffers++;
            virtio_hballoon_complete(s, vq, elem);
            worked = true;
        }
    }
    took = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start;
    s->slice_max_ns = MAX(s->slice_max_ns, (uint64_t)took);
    trace_virtio_hballoon_drain(pfns, took, s->cur_elem != NULL);
}

static void virtio_hballoon_drain_bh(void *opaque)
{
    virtio_hballoon_drain(opaque);
}

static void virtio_hballoon_handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    virtio_hballoon_drain(VIRTIO_HBALLOON(vdev));
}

/* Hand the stats buffer back so that the guest refills it. */
static void virtio_hballoon_stats_request(VirtIOHballoon *s)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);

    if (!s->stats_vq_elem) {
        return;
    }
    virtqueue_push(s->svq, s->stats_vq_elem, 0);
    virtio_notify(vdev, s->svq);
    g_free(s->stats_vq_elem);
    s->stats_vq_elem = NULL;
}

static void virtio_hballoon_stats_poll_cb(void *opaque)
{
    VirtIOHballoon *s = opaque;

    virtio_hballoon_stats_request(s);
    if (s->stats_poll_interval) {
        timer_mod(s->stats_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  s->stats_poll_interval * (int64_t)1000);
    }
}

static void virtio_hballoon_receive_stats(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOHballoon *s = VIRTIO_HBALLOON(vdev);
    VirtQueueElement *elem;
    size_t offset = 0;
    uint32_t i;

    elem = virtqueue_pop(vq, sizeof(VirtQueueElement));
    if (!elem) {
        return;
    }
    if (s->stats_vq_elem) {
        /* A driver that queues a second buffer gets the first one back. */
        virtio_hballoon_stats_request(s);
    }

    /*
     * A report replaces the last one: tags it no longer carries read as
     * absent. The walk is bounded whatever the buffer's size: one header
     * per node, HBALLOON_MAX_STATS statistics each; more ends it.
     */
    for (i = 0; i < s->num_nodes; i++) {
        memset(s->nodes[i].stats, 0, sizeof(s->nodes[i].stats));
        s->nodes[i].stats_present = 0;
        s->nodes[i].has_stats = false;
    }
    for (i = 0; i < s->num_nodes; i++) {
        struct virtio_hballoon_stats_hdr hdr;
        HballoonNode *node;
        uint32_t n, j;

        if (iov_to_buf(elem->out_sg, elem->out_num, offset, &hdr,
                       sizeof(hdr)) != sizeof(hdr)) {
            break;
        }
        offset += sizeof(hdr);
        node = virtio_hballoon_find_node(s, le32_to_cpu(hdr.node_id));
        n = le32_to_cpu(hdr.num_stats);
        if (n > HBALLOON_MAX_STATS) {
            trace_virtio_hballoon_bad_stats(le32_to_cpu(hdr.node_id), n);
            break;
        }
        for (j = 0; j < n; j++) {
            struct virtio_hballoon_stat st;
            uint16_t tag;

            if (iov_to_buf(elem->out_sg, elem->out_num, offset, &st,
                           sizeof(st)) != sizeof(st)) {
                break;
            }
            offset += sizeof(st);
            tag = le16_to_cpu(st.tag);
            if (node && tag < VIRTIO_HBALLOON_S_NR) {
                node->stats[tag] = le64_to_cpu(st.val);
                node->stats_present |= 1u << tag;
                node->has_stats = true;
            }
        }
        if (j < n) {
            break;
        }
        trace_virtio_hballoon_stats(le32_to_cpu(hdr.node_id), n);
    }

    s->stats_vq_elem = elem;
    if (s->stats_poll_interval && !timer_pending(s->stats_timer)) {
        timer_mod(s->stats_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  s->stats_poll_interval * (int64_t)1000);
    }
}

static uint64_t virtio_hballoon_node_actual_bytes(HballoonNode *node)
{
    uint64_t balloon = MIN(node->actual_pages, node->ram_pages);

    return (node->ram_pages - balloon) << VIRTIO_HBALLOON_PFN_SHIFT;
}

static void virtio_hballoon_get_config(VirtIODevice *vdev,
                                       uint8_t *config_data)
{
    VirtIOHballoon *s = VIRTIO_HBALLOON(vdev);
    struct virtio_hballoon_config *config = (void *)config_data;
    uint32_t i;

    memset(config_data, 0, sizeof(struct virtio_hballoon_config));
    config->num_nodes = cpu_to_le16(s->num_nodes);
    config->poison_val = cpu_to_le32(s->poison_val);
    for (i = 0; i < s->num_nodes; i++) {
        struct virtio_hballoon_node_config *nc = &config->nodes[i];
        HballoonNode *node = &s->nodes[i];

        nc->node_id = cpu_to_le32(node->node_id);
        nc->ram_pages = cpu_to_le64(node->ram_pages);
        nc->target_pages = cpu_to_le64(node->target_pages);
        nc->actual_pages = cpu_to_le64(node->actual_pages);
        node->cfg_actual = node->actual_pages;
    }
}

static void virtio_hballoon_set_actual(VirtIOHballoon *s, HballoonNode *node,
                                       uint64_t actual)
{
    g_autofree char *path = NULL;

    if (node->actual_pages == actual) {
        return;
    }
    trace_virtio_hballoon_actual(node->node_id, node->actual_pages, actual);
    node->actual_pages = actual;
    path = object_get_canonical_path(OBJECT(s->proxy));
    qapi_event_send_hballoon_change(s->proxy->id, path, node->node_id,
                                    virtio_hballoon_node_actual_bytes(node));
}

static void virtio_hballoon_set_config(VirtIODevice *vdev,
                                       const uint8_t *config_data)
{
    VirtIOHballoon *s = VIRTIO_HBALLOON(vdev);
    const struct virtio_hballoon_config *config = (const void *)config_data;
    uint32_t i;

    for (i = 0; i < s->num_nodes; i++) {
        HballoonNode *node = &s->nodes[i];
        uint64_t actual = le64_to_cpu(config->nodes[i].actual_pages);

        if (actual != node->cfg_actual) {
            node->cfg_actual = actual;
            virtio_hballoon_set_actual(s, node, actual);
        }
    }
    if (virtio_vdev_has_feature(vdev, VIRTIO_HBALLOON_F_PAGE_POISON)) {
        s->poison_val = le32_to_cpu(config->poison_val);
    } else {
        s->poison_val = 0;
    }
}

static uint64_t virtio_hballoon_get_features(VirtIODevice *vdev, uint64_t f,
                                             Error **errp)
{
    VirtIOHballoon *s = VIRTIO_HBALLOON(vdev);

    return f | s->host_features;
}

/* hballoon-set */
static void virtio_hballoon_set(void *opaque, uint32_t node_id, uint64_t size,
                                Error **errp)
{
    VirtIOHballoon *s = opaque;
    HballoonNode *node = virtio_hballoon_find_node(s, node_id);
    uint64_t ram;

    if (!node) {
        error_setg(errp, "NUMA node %" PRIu32 " does not exist or has no RAM"
                   " managed by virtio-hballoon", node_id);
        return;
    }
    ram = node->ram_pages << VIRTIO_HBALLOON_PFN_SHIFT;
    if (!QEMU_IS_ALIGNED(size, HBALLOON_PAGE_SIZE)) {
        error_setg(errp, "size %" PRIu64 " is not a multiple of 4 KiB", size);
        return;
    }
    if (!size) {
        /* as the balloon command refuses a target of 0 */
        error_setg(errp, "size must be greater than 0: a node cannot give "
                   "all of its memory to the balloon");
        return;
    }
    if (size > ram) {
        error_setg(errp, "size %" PRIu64 " is larger than NUMA node %" PRIu32
                   " (%" PRIu64 " bytes)", size, node_id, ram);
        return;
    }
    node->target_pages = (ram - size) >> VIRTIO_HBALLOON_PFN_SHIFT;
    trace_virtio_hballoon_set(node_id, size, node->target_pages);
    virtio_notify_config(VIRTIO_DEVICE(s));
}

/* query-hballoon */
static HballoonInfo *virtio_hballoon_query(void *opaque)
{
    VirtIOHballoon *s = opaque;
    HballoonInfo *info = g_new0(HballoonInfo, 1);
    HballoonNodeInfoList **tail = &info->nodes;
    uint32_t i;

    for (i = 0; i < s->num_nodes; i++) {
        HballoonNode *node = &s->nodes[i];
        HballoonNodeInfo *ni = g_new0(HballoonNodeInfo, 1);
        uint64_t ram = node->ram_pages << VIRTIO_HBALLOON_PFN_SHIFT;

        ni->node = node->node_id;
        ni->ram = ram;
        ni->target = ram - (node->target_pages << VIRTIO_HBALLOON_PFN_SHIFT);
        ni->actual = virtio_hballoon_node_actual_bytes(node);
        ni->inflated = node->inflated;
        ni->deflated = node->deflated;
        ni->discarded = node->discarded;
        ni->invalid = node->invalid;
        ni->discard_failures = node->discard_failures;
        ni->discard_inhibited = virtio_hballoon_node_inhibited(s, node,
                                                               &ni->reason);
        ni->has_reason = ni->discard_inhibited;
        if (node->has_stats) {
            HballoonNodeStats *st = g_new0(HballoonNodeStats, 1);

            st->free_memory = node->stats[VIRTIO_HBALLOON_S_MEMFREE];
            st->total_memory = node->stats[VIRTIO_HBALLOON_S_MEMTOT];
            st->file_memory = node->stats[VIRTIO_HBALLOON_S_FILE];
            st->anon_memory = node->stats[VIRTIO_HBALLOON_S_ANON];
            st->balloon_memory = node->stats[VIRTIO_HBALLOON_S_BALLOON];
            st->inflate_failures = node->stats[VIRTIO_HBALLOON_S_INFLATE_FAIL];
            st->oom_deflated = node->stats[VIRTIO_HBALLOON_S_OOM_DEFLATE];
            if (node->stats_present & (1u << VIRTIO_HBALLOON_S_HOT)) {
                st->has_hot_memory = true;
                st->hot_memory = node->stats[VIRTIO_HBALLOON_S_HOT];
            }
            if (node->stats_present & (1u << VIRTIO_HBALLOON_S_COLD)) {
                st->has_cold_memory = true;
                st->cold_memory = node->stats[VIRTIO_HBALLOON_S_COLD];
            }
            ni->stats = st;
        }
        QAPI_LIST_APPEND(tail, ni);
    }
    info->reasons = virtio_hballoon_inhibitors(s);
    info->discard_inhibited = info->reasons != NULL;
    info->bad_buffers = s->bad_buffers;
    return info;
}

static const HballoonOps virtio_hballoon_ops = {
    .set = virtio_hballoon_set,
    .query = virtio_hballoon_query,
};

/*
 * Whether the host can discard 4 KiB pages of @node's memory, whatever the
 * rest of the VM does; if not, why (warned about once, at realize).
 */
static void virtio_hballoon_check_backend(HballoonNode *node)
{
    RAMBlock *rb = node->mr->ram_block;
    Object *owner = memory_region_owner(node->mr);
    const char *why = NULL;

    /* Larger host pages are discarded whole: see node_inhibited(). */
    node->host_page_pages = qemu_ram_pagesize(rb) / HBALLOON_PAGE_SIZE;
    if (rb->flags & RAM_READONLY_FD) {
        node->no_discard_why = HBALLOON_DISCARD_INHIBITOR_READONLY_FILE;
        why = "maps a file opened read-only";
    } else if (qemu_ram_get_fd(rb) >= 0 && !qemu_ram_is_shared(rb) &&
               !object_dynamic_cast(owner, TYPE_MEMORY_BACKEND_MEMFD)) {
        /*
         * A hole punched in a privately mapped file reaches the file:
         * other VMs mapping the same template would read zeroes. A
         * private memfd is QEMU's alone, and safe to discard.
         */
        node->no_discard_why = HBALLOON_DISCARD_INHIBITOR_PRIVATE_FILE;
        why = "maps a file privately (share=off)";
    }
    node->no_discard = why != NULL;
    if (why) {
        warn_report("virtio-hballoon: the memory of NUMA node %" PRIu32
                    " %s; its inflated pages stay allocated on the host",
                    node->node_id, why);
    }
}

/* Collect the nodes with RAM from the machine's NUMA configuration. */
static bool virtio_hballoon_init_nodes(VirtIOHballoon *s, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    int nb_numa_nodes = ms->numa_state ? ms->numa_state->num_nodes : 0;
    int i;

    s->nodes = g_new0(HballoonNode, MAX(nb_numa_nodes, 1));
    /*
     * No NUMA, or one node the machine made up itself (pc and q35 do so
     * for memory hotplug: -m X,slots=N,maxmem=Y without -numa, as libvirt
     * starts a domain with <maxMemory> and no <numa>): that node is all
     * of the machine's RAM.
     */
    if (!nb_numa_nodes ||
        (nb_numa_nodes == 1 && !ms->numa_state->nodes[0].node_memdev)) {
        if (!ms->ram) {
            error_setg(errp, "virtio-hballoon: the machine has no RAM");
            return false;
        }
        s->nodes[0].mr = ms->ram;
        s->num_nodes = 1;
        nb_numa_nodes = 0;
    }
    for (i = 0; i < nb_numa_nodes; i++) {
        NodeInfo *ni = &ms->numa_state->nodes[i];

        if (!ni->node_mem) {
            continue;
        }
        if (!ni->node_memdev) {
            error_setg(errp, "virtio-hballoon: NUMA node %d has no memdev; "
                       "use -numa node,memdev=", i);
            return false;
        }
        if (s->num_nodes == VIRTIO_HBALLOON_MAX_NODES) {
            error_setg(errp, "virtio-hballoon supports at most %d nodes "
                       "with RAM", VIRTIO_HBALLOON_MAX_NODES);
            return false;
        }
        s->nodes[s->num_nodes].node_id = i;
        s->nodes[s->num_nodes].mr =
            host_memory_backend_get_memory(ni->node_memdev);
        s->num_nodes++;
    }
    if (!s->num_nodes) {
        error_setg(errp, "virtio-hballoon: no NUMA node has RAM");
        return false;
    }

    for (i = 0; i < s->num_nodes; i++) {
        HballoonNode *node = &s->nodes[i];
        RAMBlock *rb = node->mr->ram_block;

        if (!memory_region_is_ram(node->mr) || !rb) {
            error_setg(errp, "virtio-hballoon: memory of NUMA node %" PRIu32
                       " is not RAM", node->node_id);
            return false;
        }
        node->ram_pages = memory_region_size(node->mr) >>
                          VIRTIO_HBALLOON_PFN_SHIFT;
        virtio_hballoon_check_backend(node);
        trace_virtio_hballoon_node(node->node_id, node->ram_pages,
                                   qemu_ram_pagesize(rb));
    }
    if (should_mlock(mlock_state)) {
        warn_report("virtio-hballoon: guest memory is locked (mem-lock); "
                    "inflated pages stay allocated on the host");
    }
    return true;
}

static void virtio_hballoon_device_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOHballoon *s = VIRTIO_HBALLOON(dev);
    BusState *bus = qdev_get_parent_bus(dev);

    /*
     * The configuration space is 2064 bytes: virtio-pci maps 4 KiB of it,
     * virtio-mmio only 256 bytes, which would cut the node table short.
     */
    if (!bus || !object_dynamic_cast(OBJECT(bus->parent), TYPE_VIRTIO_PCI)) {
        error_setg(errp, "virtio-hballoon needs a virtio-pci transport "
                   "(use virtio-hballoon-pci): its configuration space is "
                   "%zu bytes", sizeof(struct virtio_hballoon_config));
        return;
    }
    if (!virtio_hballoon_init_nodes(s, errp)) {
        g_free(s->nodes);
        s->nodes = NULL;
        s->num_nodes = 0;
        return;
    }
    /* The device users name: the transport's (virtio-hballoon-pci). */
    s->proxy = bus->parent;
    if (qemu_add_hballoon_handler(&virtio_hballoon_ops, s, s->proxy) < 0) {
        error_setg(errp, "only one virtio-hballoon device is supported");
        g_free(s->nodes);
        s->nodes = NULL;
        s->num_nodes = 0;
        return;
    }

    virtio_init(vdev, VIRTIO_ID_HBALLOON,
                sizeof(struct virtio_hballoon_config));
    s->ivq = virtio_add_queue(vdev, 128, virtio_hballoon_handle_output);
    s->dvq = virtio_add_queue(vdev, 128, virtio_hballoon_handle_output);
    s->svq = virtio_add_queue(vdev, 128, virtio_hballoon_receive_stats);
    s->pfn_buf = g_new(uint64_t, VIRTIO_HBALLOON_MAX_PFNS);
    s->drain_bh = qemu_bh_new_guarded(virtio_hballoon_drain_bh, s,
                                      &dev->mem_reentrancy_guard);
    s->stats_timer = timer_new_ms(QEMU_CLOCK_VIRTUAL,
                                  virtio_hballoon_stats_poll_cb, s);
}

static void virtio_hballoon_device_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOHballoon *s = VIRTIO_HBALLOON(dev);

    timer_free(s->stats_timer);
    s->stats_timer = NULL;
    if (s->stats_vq_elem) {
        virtqueue_detach_element(s->svq, s->stats_vq_elem, 0);
        g_free(s->stats_vq_elem);
        s->stats_vq_elem = NULL;
    }
    virtio_hballoon_drop_current(s);
    qemu_bh_delete(s->drain_bh);
    s->drain_bh = NULL;
    qemu_remove_hballoon_handler(s);
    virtio_delete_queue(s->ivq);
    virtio_delete_queue(s->dvq);
    virtio_delete_queue(s->svq);
    virtio_cleanup(vdev);
    g_free(s->pfn_buf);
    g_free(s->nodes);
    s->nodes = NULL;
    s->num_nodes = 0;
}

static void virtio_hballoon_device_reset(VirtIODevice *vdev)
{
    VirtIOHballoon *s = VIRTIO_HBALLOON(vdev);
    uint32_t i;

    if (s->stats_vq_elem) {
        virtqueue_unpop(s->svq, s->stats_vq_elem, 0);
        g_free(s->stats_vq_elem);
        s->stats_vq_elem = NULL;
    }
    timer_del(s->stats_timer);
    virtio_hballoon_drop_current(s);
    qemu_bh_cancel(s->drain_bh);

    /* A reset driver starts with empty balloons; targets stay. */
    for (i = 0; i < s->num_nodes; i++) {
        virtio_hballoon_set_actual(s, &s->nodes[i], 0);
        s->nodes[i].has_stats = false;
    }
    s->poison_val = 0;
    /* Do not let a later config write replay stale values. */
    virtio_hballoon_get_config(vdev, vdev->config);
}

static void virtio_hballoon_set_status(VirtIODevice *vdev, uint8_t status)
{
    VirtIOHballoon *s = VIRTIO_HBALLOON(vdev);

    /*
     * The VM stops (for migration among other things): finish the buffer
     * in hand now, so that its used-ring entry is written while the RAM it
     * lands in can still be sent. Running again: go on with the queues.
     */
    if (!vdev->vm_running) {
        virtio_hballoon_finish_current(s);
    } else if (status & VIRTIO_CONFIG_S_DRIVER_OK) {
        qemu_bh_schedule(s->drain_bh);
    }

    if (!s->stats_vq_elem && vdev->vm_running &&
        (status & VIRTIO_CONFIG_S_DRIVER_OK) && virtqueue_rewind(s->svq, 1)) {
        /* Pick up the stats buffer dropped while the VM was stopped. */
        virtio_hballoon_receive_stats(vdev, s->svq);
    }
}

static int virtio_hballoon_post_load(void *opaque, int version_id)
{
    VirtIOHballoon *s = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    uint32_t i;

    /* The config buffer came from the source; make it match our state. */
    virtio_hballoon_get_config(vdev, vdev->config);
    for (i = 0; i < s->num_nodes; i++) {
        if (s->nodes[i].target_pages > s->nodes[i].ram_pages) {
            error_report("virtio-hballoon: invalid target for node %" PRIu32,
                         s->nodes[i].node_id);
            return -EINVAL;
        }
    }
    if (s->stats_poll_interval) {
        timer_mod(s->stats_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  s->stats_poll_interval * (int64_t)1000);
    }
    /* Buffers the source had not taken yet: the guest waits for them. */
    qemu_bh_schedule(s->drain_bh);
    return 0;
}

static const VMStateDescription vmstate_hballoon_node = {
    .name = "virtio-hballoon-node",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(node_id, HballoonNode,
                             "NUMA nodes differ from the source"),
        VMSTATE_UINT64_EQUAL(ram_pages, HballoonNode,
                             "NUMA node sizes differ from the source"),
        VMSTATE_UINT64(target_pages, HballoonNode),
        VMSTATE_UINT64(actual_pages, HballoonNode),
        VMSTATE_UINT64(inflated, HballoonNode),
        VMSTATE_UINT64(deflated, HballoonNode),
        VMSTATE_UINT64(discarded, HballoonNode),
        VMSTATE_UINT64(invalid, HballoonNode),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_hballoon_device = {
    .name = "virtio-hballoon-device",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = virtio_hballoon_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(num_nodes, VirtIOHballoon,
                             "number of NUMA nodes with RAM differs"),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(nodes, VirtIOHballoon, num_nodes,
                                             vmstate_hballoon_node,
                                             HballoonNode),
        VMSTATE_UINT32(poison_val, VirtIOHballoon),
        VMSTATE_UINT64(bad_buffers, VirtIOHballoon),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_hballoon = {
    .name = "virtio-hballoon",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static const Property virtio_hballoon_properties[] = {
    DEFINE_PROP_BIT("guest-stats", VirtIOHballoon, host_features,
                    VIRTIO_HBALLOON_F_STATS_VQ, true),
    DEFINE_PROP_BIT("deflate-on-oom", VirtIOHballoon, host_features,
                    VIRTIO_HBALLOON_F_DEFLATE_ON_OOM, true),
    DEFINE_PROP_BIT("page-poison", VirtIOHballoon, host_features,
                    VIRTIO_HBALLOON_F_PAGE_POISON, true),
    DEFINE_PROP_BIT("ranges", VirtIOHballoon, host_features,
                    VIRTIO_HBALLOON_F_RANGES, true),
    DEFINE_PROP_UINT32("guest-stats-polling-interval", VirtIOHballoon,
                       stats_poll_interval, 5),
    /* For tests: shorter slices put slice ends inside a buffer. */
    DEFINE_PROP_UINT64("x-slice-ns", VirtIOHballoon, slice_ns,
                       HBALLOON_SLICE_NS),
};

static void virtio_hballoon_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, virtio_hballoon_properties);
    dc->vmsd = &vmstate_virtio_hballoon;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = virtio_hballoon_device_realize;
    vdc->unrealize = virtio_hballoon_device_unrealize;
    vdc->reset = virtio_hballoon_device_reset;
    vdc->get_config = virtio_hballoon_get_config;
    vdc->set_config = virtio_hballoon_set_config;
    vdc->get_features = virtio_hballoon_get_features;
    vdc->set_status = virtio_hballoon_set_status;
    vdc->vmsd = &vmstate_virtio_hballoon_device;
}

static void virtio_hballoon_instance_init(Object *obj)
{
    VirtIOHballoon *s = VIRTIO_HBALLOON(obj);

    /* For tests: how long the device held the BQL at most, in one go. */
    object_property_add_uint64_ptr(obj, "x-slice-max-ns", &s->slice_max_ns,
                                   OBJ_PROP_FLAG_READ);
    /* For tests: how many slices ended with work left for the next. */
    object_property_add_uint64_ptr(obj, "x-slices-continued",
                                   &s->slices_continued, OBJ_PROP_FLAG_READ);
}

static const TypeInfo virtio_hballoon_info = {
    .name = TYPE_VIRTIO_HBALLOON,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIOHballoon),
    .instance_init = virtio_hballoon_instance_init,
    .class_init = virtio_hballoon_class_init,
};

static void virtio_hballoon_register_types(void)
{
    type_register_static(&virtio_hballoon_info);
}

type_init(virtio_hballoon_register_types)
