// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Virtio hballoon: a memory balloon per NUMA node.
 *
 * The device (virtio ID 63) names each guest NUMA node by its ACPI proximity
 * domain and keeps a target size per node; this driver keeps one balloon per
 * node, fills it with pages allocated strictly on that node and tells the
 * device their frame numbers, so the host can free the memory of exactly the
 * tier it shrinks. The device ABI and protocol are described in
 * include/uapi/linux/virtio_hballoon.h.
 *
 * Unlike virtio-balloon, ballooned pages always leave the node's managed
 * pages, so /sys/devices/system/node/nodeN/meminfo shows the node's real
 * size, and every size change is announced on the NUMA node resize notifier
 * chain (include/linux/node_resize.h) for tier placement code.
 *
 * Inflating never takes the guest out of memory: allocations use
 * __GFP_THISNODE | __GFP_NORETRY (no OOM killer), the driver keeps a floor
 * of available memory, and when a node has nothing left to give the driver
 * reports what it achieved in actual_pages and retries later, backing off.
 */

#include <acpi/acpi_numa.h>
#include <linux/balloon_compaction.h>
#include <linux/delay.h>
#include <linux/hplace.h>
#include <linux/jiffies.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/node_resize.h>
#include <linux/nodemask.h>
#include <linux/oom.h>
#include <linux/poison.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_hballoon.h>
#include <linux/vmstat.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

/* 4 KiB device frames per guest page. */
#define HB_PFNS_PER_PAGE	((unsigned int)(PAGE_SIZE >> VIRTIO_HBALLOON_PFN_SHIFT))
/* Frames per inflate/deflate buffer: header + PFNs fill exactly 32 KiB. */
#define HB_BATCH_PFNS		(VIRTIO_HBALLOON_MAX_PFNS - 1)
/*
 * Pages per balloon_page_list_dequeue(): it holds the balloon's list lock,
 * interrupts off, for its whole batch.
 */
#define HB_DEQUEUE_PAGES	4095U
/* Runs per range buffer: with its header, the buffer fits in 32 KiB. */
#define HB_BATCH_RANGES		(VIRTIO_HBALLOON_MAX_RANGES - 1)
/*
 * With ranges, the most frames one inflate step takes: a full buffer of
 * pageblock-sized runs (4 GiB with 2 MiB pageblocks). The step also ends
 * with its work slice.
 */
#define HB_RANGE_FILL_PFNS	((u64)HB_BATCH_RANGES * pageblock_nr_pages * \
				 HB_PFNS_PER_PAGE)
/*
 * With ranges, the most frames one inflate buffer carries (2 GiB): the OOM
 * notifier waits for the host to take a whole buffer.
 */
#define HB_RANGE_BUF_PFNS	((2ULL << 30) >> VIRTIO_HBALLOON_PFN_SHIFT)
/* An inflate step checks the guest's available memory every 64 MiB. */
#define HB_ALLOWANCE_PAGES	((64UL << 20) >> PAGE_SHIFT)
/* Pages put into a balloon per hold of balloon_lock (64 MiB). */
#define HB_ENQUEUE_PAGES	((64UL << 20) >> PAGE_SHIFT)
/*
 * With ranges, the most frames one deflate step gives back (256 MiB): it
 * runs under balloon_lock, which the OOM notifier waits for.
 */
#define HB_RANGE_LEAK_PFNS	((256U << 20) >> VIRTIO_HBALLOON_PFN_SHIFT)
/* Work slice: yield the worker after this long, then continue. */
#define HB_SLICE_MS		50
/* First and longest wait before retrying an inflate that could not proceed. */
#define HB_BACKOFF_MIN_MS	100
#define HB_BACKOFF_MAX_MS	10000
/* After deflating on OOM, do not inflate that node again for this long. */
#define HB_OOM_HOLDOFF_MS	1000
/* How often removal says it is still waiting for isolated pages. */
#define HB_REMOVE_WARN_SECS	10
/* Frames to deflate per OOM notification (1 MiB). */
#define HB_OOM_NR_PFNS		256
#define HB_OOM_NOTIFY_PRIORITY	80
/* Announce progress of a long resize every 32 MiB. */
#define HB_NOTIFY_STEP_PAGES	((32UL << 20) >> PAGE_SHIFT)

#define HB_BALLOON_GFP		(__GFP_THISNODE | __GFP_NOMEMALLOC | \
				 __GFP_NORETRY | __GFP_NOWARN)

/**
 * struct hballoon_node - one node's balloon
 * @b_dev_info: the pages of this node's balloon
 * @hb: the device
 * @index: index of the node in the configuration space
 * @pxm: the node's node_id (ACPI proximity domain)
 * @nid: Linux node id, or %NUMA_NO_NODE if the entry is ignored
 * @ram_pages: RAM of the node the device manages, 4 KiB frames
 * @target: last target read, 4 KiB frames, clamped and page aligned
 * @num_pages: frames in this balloon (what actual_pages reports)
 * @reported: last value written to actual_pages
 * @backoff_ms: current inflate back-off, 0 when not backing off
 * @retry_at: no inflate attempt before this time (jiffies)
 * @stalled: the last inflate attempt stopped short of the target
 * @notified: managed pages at the last %NODE_RESIZED notification
 * @inflate_fail: inflate attempts that could not allocate (statistics)
 * @oom_deflated: frames deflated on OOM (statistics)
 * @warned: a target for an ignored entry was already warned about
 * @inflight: pages an inflate step allocated that are not in the balloon
 *	yet, order-0 pages and whole blocks (see @blocks); the OOM notifier
 *	frees them too.  The step adds to it under
 *	&virtio_hballoon.inflight_lock, and takes from it under balloon_lock;
 *	the notifier holds both.
 * @blocks: whole pageblocks in the balloon, kept as allocated (not split,
 *	so not migratable, and allocated unmovable, so never from
 *	ZONE_MOVABLE or CMA), every page PageOffline, the order in the head
 *	page's page_private(); each goes back to the page allocator whole,
 *	in one call.  A pageblock is nothing compaction could make larger.
 *
 * Everything but @b_dev_info (own lock), @inflight and the constant
 * identity fields is protected by &virtio_hballoon.balloon_lock.
 */
struct hballoon_node {
	struct balloon_dev_info b_dev_info;
	struct virtio_hballoon *hb;
	unsigned int index;
	u32 pxm;
	int nid;
	u64 ram_pages;
	u64 target;
	u64 num_pages;
	u64 reported;
	unsigned int backoff_ms;
	unsigned long retry_at;
	bool stalled;
	unsigned long notified;
	u64 inflate_fail;
	u64 oom_deflated;
	bool warned;
	struct list_head inflight;
	struct list_head blocks;
};

struct virtio_hballoon {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq, *deflate_vq, *stats_vq;

	struct delayed_work update_size_work;
	struct work_struct update_stats_work;

	/* Set on removal: no new work is queued after it. */
	spinlock_t stop_update_lock;
	bool stop_update;

	/* The device used an inflate/deflate buffer. */
	wait_queue_head_t acked;

	/* Guards hballoon_node.inflight against the OOM notifier. */
	spinlock_t inflight_lock;

	/* Serialises balloon changes, the PFN buffer and per-node state. */
	struct mutex balloon_lock;
	struct virtio_hballoon_pfns *pfns;
	/* With VIRTIO_HBALLOON_F_RANGES: what is sent, runs of pfns. */
	struct virtio_hballoon_ranges *ranges;

	unsigned int num_nodes;
	struct hballoon_node *nodes;
	/* Node the next OOM deflate starts with, to spread the cost. */
	unsigned int oom_next;

	void *stats;
	size_t stats_len;
	/* Per node: what hplace_node_demand() said (stats work only). */
	struct hballoon_demand {
		u64 hot;
		u64 cold;
		int err;
	} *demand;

	struct notifier_block oom_nb;
};

/* ---- pure helpers (unit-tested, see virtio_hballoon-kunit.h) ---- */

/**
 * hballoon_clamp_target - turn a device target into one the driver can reach
 * @target: target_pages from the configuration space (4 KiB frames)
 * @ram_pages: ram_pages of the same node
 * @pfns_per_page: 4 KiB frames per guest page
 *
 * A target above the node's RAM is treated as all of it; a target that is
 * not a whole number of guest pages is rounded up, as virtio-balloon does,
 * so that the balloon does not oscillate around it.
 *
 * Return: the target in 4 KiB frames, a multiple of @pfns_per_page.
 */
static u64 hballoon_clamp_target(u64 target, u64 ram_pages,
				 unsigned int pfns_per_page)
{
	target = min(target, ram_pages);
	return round_up(target, (u64)pfns_per_page);
}

/* Why hballoon_check_node() refused an entry, for the warning. */
enum hballoon_node_verdict {
	HB_NODE_OK = 0,
	HB_NODE_UNKNOWN_PXM,
	HB_NODE_NO_MEMORY,
	HB_NODE_DUPLICATE,
};

/**
 * hballoon_check_node - decide whether a configuration entry is usable
 * @nid: pxm_to_node() of the entry's node_id
 * @memory_nodes: nodes that have memory (N_MEMORY)
 * @claimed: nodes claimed by earlier entries; @nid is added when usable
 *
 * Return: %HB_NODE_OK, or why the entry must be ignored.
 */
static enum hballoon_node_verdict
hballoon_check_node(int nid, const nodemask_t *memory_nodes,
		    nodemask_t *claimed)
{
	if (nid < 0 || nid >= MAX_NUMNODES)
		return HB_NODE_UNKNOWN_PXM;
	if (!node_isset(nid, *memory_nodes))
		return HB_NODE_NO_MEMORY;
	if (node_isset(nid, *claimed))
		return HB_NODE_DUPLICATE;
	node_set(nid, *claimed);
	return HB_NODE_OK;
}

/**
 * hballoon_next_backoff - how long to wait before the next inflate attempt
 * @cur_ms: the current back-off, 0 if none
 * @min_ms: the back-off to start with
 *
 * Return: @min_ms first, then twice the previous value, at most
 * %HB_BACKOFF_MAX_MS.
 */
static unsigned int hballoon_next_backoff(unsigned int cur_ms,
					  unsigned int min_ms)
{
	if (cur_ms < min_ms)
		return min_ms;
	return min_t(unsigned int, cur_ms * 2, HB_BACKOFF_MAX_MS);
}

/**
 * hballoon_inflate_allowance - how many pages an inflate step may take
 * @want: pages the step would like to take
 * @available: memory the guest has available (si_mem_available())
 * @floor: available memory that inflating must leave to the guest
 *
 * Return: at most @want, so that @available does not drop below @floor.
 */
static unsigned long hballoon_inflate_allowance(unsigned long want,
						long available,
						unsigned long floor)
{
	if (available <= 0 || (unsigned long)available <= floor)
		return 0;
	return min(want, (unsigned long)available - floor);
}

/**
 * hballoon_floor_pages - available memory inflating always leaves the guest
 * @totalram: the guest's managed pages (totalram_pages())
 * @reserve: pages the kernel already keeps back (totalreserve_pages)
 *
 * Return: pages; 1/32 of the guest's memory plus the kernel's reserve, but at
 * least 16 MiB.
 */
static unsigned long hballoon_floor_pages(unsigned long totalram,
					  unsigned long reserve)
{
	return max(totalram / 32 + reserve, (16UL << 20) >> PAGE_SHIFT);
}

/**
 * hballoon_expected_pages - node size once a balloon reaches its target
 * @managed: the node's managed pages now
 * @num_pages: frames in the node's balloon now
 * @target: target frames of the balloon
 * @pfns_per_page: 4 KiB frames per guest page
 *
 * Return: managed pages the node will have at the target (0 if the target
 * is larger than the node).
 */
static unsigned long hballoon_expected_pages(unsigned long managed,
					     u64 num_pages, u64 target,
					     unsigned int pfns_per_page)
{
	u64 delta;

	if (target >= num_pages) {
		delta = (target - num_pages) / pfns_per_page;
		return delta >= managed ? 0 : managed - (unsigned long)delta;
	}
	delta = (num_pages - target) / pfns_per_page;
	return managed + (unsigned long)delta;
}

/**
 * hballoon_add_run - add frames to the runs of a range buffer
 * @ranges: the runs so far, little-endian as on the wire
 * @nr: how many runs @ranges holds; incremented when a run is started
 * @max: room in @ranges
 * @pfn: the first frame to add
 * @num: how many frames, from @pfn up
 *
 * The frames extend the last run when they follow it (inflate: the
 * allocator hands out ascending frames) or precede it (deflate: the balloon
 * list is LIFO, so a run that went in ascending comes out descending), as
 * long as the run stays within %VIRTIO_HBALLOON_MAX_RANGE_PAGES; otherwise
 * they start a new run.
 *
 * Return: false if they needed a new run and @ranges is full.
 */
static bool hballoon_add_run(struct virtio_hballoon_range *ranges,
			     unsigned int *nr, unsigned int max, u64 pfn,
			     u64 num)
{
	if (*nr) {
		struct virtio_hballoon_range *last = &ranges[*nr - 1];
		u64 start = le64_to_cpu(last->pfn);
		u64 len = le64_to_cpu(last->num_pages);

		if (len + num <= VIRTIO_HBALLOON_MAX_RANGE_PAGES) {
			if (start + len == pfn) {
				last->num_pages = cpu_to_le64(len + num);
				return true;
			}
			if (pfn + num == start) {
				last->pfn = cpu_to_le64(pfn);
				last->num_pages = cpu_to_le64(len + num);
				return true;
			}
		}
	}
	if (*nr == max)
		return false;
	ranges[*nr].pfn = cpu_to_le64(pfn);
	ranges[*nr].num_pages = cpu_to_le64(num);
	(*nr)++;
	return true;
}

/**
 * hballoon_try_order - the order of the next inflate allocation
 * @order: the largest order still worth trying in this step
 * @left: pages the step still has to take (not 0)
 *
 * Return: @order, or less so that the block does not overshoot @left: a
 * target is exact to the page, the last run is cut to fit.
 */
static unsigned int hballoon_try_order(unsigned int order, unsigned long left)
{
	return min_t(unsigned int, order, ilog2(left));
}

/* ---- configuration space ---- */

static unsigned int hb_node_offset(unsigned int index, size_t field)
{
	return offsetof(struct virtio_hballoon_config, nodes) +
	       index * sizeof(struct virtio_hballoon_node_config) + field;
}

static u64 hb_read_node64(struct virtio_hballoon *hb, unsigned int index,
			  size_t field)
{
	__le64 v;

	__virtio_cread_many(hb->vdev, hb_node_offset(index, field), &v, 1,
			    sizeof(v));
	return le64_to_cpu(v);
}

static u32 hb_read_node32(struct virtio_hballoon *hb, unsigned int index,
			  size_t field)
{
	__le32 v;

	__virtio_cread_many(hb->vdev, hb_node_offset(index, field), &v, 1,
			    sizeof(v));
	return le32_to_cpu(v);
}

/* Tell the device how many frames @node's balloon holds; under balloon_lock. */
static void hballoon_report_actual(struct hballoon_node *node)
{
	__le64 v = cpu_to_le64(node->num_pages);

	if (node->reported == node->num_pages)
		return;
	node->hb->vdev->config->set(node->hb->vdev,
				    hb_node_offset(node->index,
						   offsetof(struct virtio_hballoon_node_config,
							    actual_pages)),
				    &v, sizeof(v));
	node->reported = node->num_pages;
}

static unsigned long hballoon_node_managed(int nid)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	unsigned long managed = 0;
	int z;

	for (z = 0; z < MAX_NR_ZONES; z++)
		managed += zone_managed_pages(&pgdat->node_zones[z]);
	return managed;
}

/* ---- virtqueues ---- */

static void hballoon_ack(struct virtqueue *vq)
{
	struct virtio_hballoon *hb = vq->vdev->priv;

	wake_up(&hb->acked);
}

/* Queue @len bytes at @buf on @vq and wait until the device used them. */
static void hballoon_send(struct virtio_hballoon *hb, struct virtqueue *vq,
			  void *buf, size_t len)
{
	struct scatterlist sg;
	unsigned int used;

	sg_init_one(&sg, buf, len);
	/* One buffer at a time: an empty queue always takes it. */
	if (WARN_ON_ONCE(virtqueue_add_outbuf(vq, &sg, 1, hb, GFP_KERNEL)))
		return;
	virtqueue_kick(vq);
	wait_event(hb->acked, virtqueue_get_buf(vq, &used));
}

/* Send the buffer being built for @vq, @n entries of @node; may be 0. */
static void hballoon_flush(struct virtio_hballoon *hb,
			   struct hballoon_node *node, struct virtqueue *vq,
			   unsigned int n)
{
	if (!n)
		return;
	if (hb->ranges) {
		hb->ranges->node_id = cpu_to_le32(node->pxm);
		hb->ranges->num_ranges = cpu_to_le32(n);
		hballoon_send(hb, vq, hb->ranges,
			      struct_size(hb->ranges, ranges, n));
	} else {
		hb->pfns->node_id = cpu_to_le32(node->pxm);
		hb->pfns->num_pfns = cpu_to_le32(n);
		hballoon_send(hb, vq, hb->pfns, struct_size(hb->pfns, pfns, n));
	}
}

/*
 * Add the frames of @page, a block of 2^@order pages, to the buffer being
 * built, which holds @n entries and @frames frames: with
 * VIRTIO_HBALLOON_F_RANGES runs of consecutive frames, otherwise frame
 * numbers (and only order-0 pages). Under balloon_lock. Returns false,
 * adding nothing, when the buffer is full.
 */
static bool hballoon_buffer_add(struct virtio_hballoon *hb, struct page *page,
				unsigned int order, unsigned int *n, u64 frames)
{
	u64 pfn = (u64)page_to_pfn(page) * HB_PFNS_PER_PAGE;
	unsigned int i;

	BUILD_BUG_ON(PAGE_SHIFT < VIRTIO_HBALLOON_PFN_SHIFT);
	BUILD_BUG_ON(HB_PFNS_PER_PAGE > HB_BATCH_PFNS);
	if (hb->ranges)
		return frames < HB_RANGE_BUF_PFNS &&
		       hballoon_add_run(hb->ranges->ranges, n, HB_BATCH_RANGES,
					pfn, (u64)HB_PFNS_PER_PAGE << order);
	if (WARN_ON_ONCE(order) || *n + HB_PFNS_PER_PAGE > HB_BATCH_PFNS)
		return false;
	for (i = 0; i < HB_PFNS_PER_PAGE; i++)
		hb->pfns->pfns[(*n)++] = cpu_to_le64(pfn + i);
	return true;
}

/* The same, sending a full buffer to @vq first. */
static void hballoon_queue_page(struct virtio_hballoon *hb,
				struct hballoon_node *node,
				struct virtqueue *vq, struct page *page,
				unsigned int order, unsigned int *n)
{
	if (hballoon_buffer_add(hb, page, order, n, 0))
		return;
	hballoon_flush(hb, node, vq, *n);
	*n = 0;
	hballoon_buffer_add(hb, page, order, n, 0);
}

/* Tell the device about the pages on @pages (linked by lru), of @node. */
static void hballoon_tell_host(struct virtio_hballoon *hb,
			       struct hballoon_node *node,
			       struct virtqueue *vq, struct list_head *pages)
{
	struct page *page;
	unsigned int n = 0;

	list_for_each_entry(page, pages, lru)
		hballoon_queue_page(hb, node, vq, page, 0, &n);
	hballoon_flush(hb, node, vq, n);
}

/* The same for one page. */
static void hballoon_tell_host_page(struct virtio_hballoon *hb,
				    struct hballoon_node *node,
				    struct virtqueue *vq, struct page *page)
{
	unsigned int n = 0;

	hballoon_queue_page(hb, node, vq, page, 0, &n);
	hballoon_flush(hb, node, vq, n);
}

/* ---- inflate and deflate ---- */

/*
 * Allocate up to @want pages of @node onto its in-flight list, in blocks of
 * up to 2^@max_order pages, until @deadline (after the first block), and
 * while the guest keeps @floor pages available (checked every
 * HB_ALLOWANCE_PAGES). A whole pageblock is first asked for unmovable
 * and kept whole (hballoon_node.blocks); any other block (smaller, or a
 * pageblock only movable memory had) is split into order-0 pages, which
 * the balloon keeps and compaction migrates one by one. Either way a block
 * reaches the host as one run. A block larger than a page is taken only
 * if the node has it free: no reclaim, no compaction, no kswapd. When it
 * has none, the step goes on one order lower; order 0 may reclaim
 * (__GFP_NORETRY, never the OOM killer). Sets *@timed_out if @deadline
 * ended the step. Returns the pages allocated (the OOM notifier may have freed some of them since).
 */
static unsigned long hballoon_alloc_pages(struct hballoon_node *node,
					  unsigned long want,
					  unsigned int max_order,
					  unsigned long deadline,
					  unsigned long floor, bool *timed_out)
{
	gfp_t gfp = balloon_mapping_gfp_mask() | HB_BALLOON_GFP;
	struct virtio_hballoon *hb = node->hb;
	unsigned long got = 0, allowed = 0, next_check = 0, i;
	unsigned int order = max_order, o;
	struct page *page;
	bool keep;

	*timed_out = false;
	while (got < want) {
		if (got >= next_check) {
			allowed = got + hballoon_inflate_allowance(want - got,
						si_mem_available(), floor);
			next_check = got + HB_ALLOWANCE_PAGES;
		}
		if (got >= allowed)
			break;
		o = hballoon_try_order(order, allowed - got);
		page = NULL;
		keep = o == pageblock_order;
		/* A block to keep whole must not sit where movable pages go. */
		if (keep)
			page = alloc_pages_node(node->nid,
						gfp & ~(__GFP_RECLAIM | __GFP_MOVABLE),
						o);
		if (!page) {
			keep = false;
			page = alloc_pages_node(node->nid,
						o ? gfp & ~__GFP_RECLAIM : gfp, o);
		}
		if (!page) {
			if (!o)
				break;
			order = o - 1;
			continue;
		}
		if (WARN_ON_ONCE(page_to_nid(page) != node->nid)) {
			__free_pages(page, o);
			break;
		}
		spin_lock(&hb->inflight_lock);
		if (keep) {
			set_page_private(page, o);
			list_add_tail(&page->lru, &node->inflight);
		} else {
			if (o)
				split_page(page, o);
			for (i = 0; i < 1UL << o; i++)
				list_add_tail(&nth_page(page, i)->lru,
					      &node->inflight);
		}
		spin_unlock(&hb->inflight_lock);
		got += 1UL << o;
		if (got < want && time_after(jiffies, deadline)) {
			*timed_out = true;
			break;
		}
		cond_resched();
	}
	return got;
}

/*
 * Mark the pages of a block entering the balloon offline, as the balloon
 * marks its single pages, so that dumps and /proc/kcore do not read the
 * memory the host took; or online again before it leaves.
 */
static void hballoon_block_offline(struct page *page, unsigned int order,
				   bool offline)
{
	unsigned long i;

	page_offline_begin();
	for (i = 0; i < 1UL << order; i++) {
		if (offline)
			__SetPageOffline(nth_page(page, i));
		else
			__ClearPageOffline(nth_page(page, i));
	}
	page_offline_end();
}

/*
 * Give a block of the balloon's (2^@order pages at @page, out of the managed
 * count) back to the buddy allocator. __free_pages() would park a
 * pageblock-order block on the per-CPU list of that order, up to the zone's
 * pcp->high_max (for a CPU-less node, an eighth of the zone over all online
 * CPUs): an order-0 allocation cannot take from that list, and the
 * allocator drains it only after reclaim made progress, so on a node with
 * nothing reclaimable it calls the OOM killer with the list full. Onlined
 * memory has the same need: generic_online_page() frees to the tail of the
 * buddy lists, bypassing the per-CPU lists, and restores the managed count.
 * It sets every refcount to 0, so it is used only while the block's one
 * reference is ours alone; a speculative reference taken meanwhile, a
 * single page (the order-0 lists serve order-0 allocations) or a kernel
 * without memory hotplug gets __free_pages(). The caller clears PageOffline
 * of a block that was in the balloon first (generic_online_page() would
 * clear it too, but the __free_pages() path would not): a frozen offline
 * page would look like memory offlining may skip it, and it could offline
 * the block under us.
 */
static void hballoon_return_block(struct page *page, unsigned int order)
{
	set_page_private(page, 0);
#ifdef CONFIG_MEMORY_HOTPLUG
	if (order && page_ref_freeze(page, 1)) {
		generic_online_page(page, order);
		return;
	}
#endif
	adjust_managed_page_count(page, 1L << order);
	__free_pages(page, order);
}

/*
 * Free @node's in-flight pages, whole blocks, until at least @max pages
 * are freed or none is left; returns how many pages.
 */
static unsigned long hballoon_free_inflight(struct hballoon_node *node,
					    unsigned long max)
{
	struct virtio_hballoon *hb = node->hb;
	struct page *page, *next;
	unsigned long n = 0;
	LIST_HEAD(pages);

	spin_lock(&hb->inflight_lock);
	list_for_each_entry_safe(page, next, &node->inflight, lru) {
		if (n >= max)
			break;
		list_move(&page->lru, &pages);
		n += 1UL << page_private(page);
	}
	spin_unlock(&hb->inflight_lock);
	/* Not in the balloon yet: still in the managed count. */
	list_for_each_entry_safe(page, next, &pages, lru) {
		adjust_managed_page_count(page, -(1L << page_private(page)));
		hballoon_return_block(page, page_private(page));
	}
	return n;
}

/*
 * Send one buffer of @node's in-flight pages to the host, then put them in
 * the balloon. Called and returns with balloon_lock held, which it drops
 * between chunks of the enqueue so that the OOM notifier waits for at most
 * one buffer's round trip or one chunk. Returns the frames inflated.
 */
static u64 hballoon_inflate_buffer(struct hballoon_node *node)
{
	struct virtio_hballoon *hb = node->hb;
	unsigned long pages = 0, k;
	struct page *page, *next;
	unsigned int n = 0;
	LIST_HEAD(batch);

	list_for_each_entry_safe(page, next, &node->inflight, lru) {
		if (!hballoon_buffer_add(hb, page, page_private(page), &n,
					 (u64)pages * HB_PFNS_PER_PAGE))
			break;
		list_move_tail(&page->lru, &batch);
		pages += 1UL << page_private(page);
	}
	if (!pages)
		return 0;
	/* The host discards them before they enter the balloon. */
	hballoon_flush(hb, node, hb->inflate_vq, n);
	while (!list_empty(&batch)) {
		k = 0;
		list_for_each_entry_safe(page, next, &batch, lru) {
			unsigned long nr = 1UL << page_private(page);

			if (nr > 1) {
				hballoon_block_offline(page, ilog2(nr), true);
				list_move(&page->lru, &node->blocks);
				count_vm_events(BALLOON_INFLATE, nr);
			} else {
				list_del(&page->lru);
				balloon_page_enqueue(&node->b_dev_info, page);
			}
			adjust_managed_page_count(page, -(long)nr);
			k += nr;
			if (k >= HB_ENQUEUE_PAGES)
				break;
		}
		node->num_pages += (u64)k * HB_PFNS_PER_PAGE;
		mod_node_page_state(NODE_DATA(node->nid), NR_HBALLOON_PAGES, k);
		count_vm_events(HBALLOON_INFLATE, k);
		if (!list_empty(&batch)) {
			mutex_unlock(&hb->balloon_lock);
			cond_resched();
			mutex_lock(&hb->balloon_lock);
		}
	}
	return (u64)pages * HB_PFNS_PER_PAGE;
}

/*
 * Take up to @nr frames of @node's memory into its balloon, until
 * @deadline. Returns the frames taken; *@starved says the step stopped
 * short because the node (or the guest) has no more to give right now,
 * not because its time was up.
 */
static u64 hballoon_fill(struct hballoon_node *node, u64 nr,
			 unsigned long deadline, bool *starved)
{
	struct virtio_hballoon *hb = node->hb;
	bool timed_out, held_off = false;
	unsigned long floor;
	u64 done = 0, sent;

	nr = min_t(u64, nr, hb->ranges ? HB_RANGE_FILL_PFNS : HB_BATCH_PFNS);
	floor = hballoon_floor_pages(totalram_pages(), totalreserve_pages);
	/* Without ranges a step is one small buffer: no deadline. */
	hballoon_alloc_pages(node, nr / HB_PFNS_PER_PAGE,
			     hb->ranges ? pageblock_order : 0,
			     hb->ranges ? deadline : jiffies + MAX_JIFFY_OFFSET,
			     floor, &timed_out);

	mutex_lock(&hb->balloon_lock);
	do {
		/*
		 * The OOM notifier deflated this node (or freed in-flight
		 * pages) meanwhile: its hold-off wins, the rest goes back.
		 */
		if (time_before(jiffies, node->retry_at)) {
			hballoon_free_inflight(node, ULONG_MAX);
			held_off = true;
			break;
		}
		sent = hballoon_inflate_buffer(node);
		done += sent;
	} while (sent);
	*starved = held_off || (done < nr && !timed_out);
	if (*starved)
		node->inflate_fail++;
	hballoon_report_actual(node);
	mutex_unlock(&hb->balloon_lock);
	return done;
}

/*
 * Give up to @nr frames of @node's balloon back to the guest; under
 * balloon_lock. Returns the frames released, which can be fewer than asked
 * while compaction has balloon pages isolated.
 */
static unsigned int hballoon_leak_locked(struct hballoon_node *node,
					 unsigned int nr)
{
	struct virtio_hballoon *hb = node->hb;
	struct page *page, *next;
	unsigned int done, order, i;
	size_t n = 0, got, want;
	LIST_HEAD(blocks);
	LIST_HEAD(pages);

	nr = min_t(u64, min_t(unsigned int, nr, hb->ranges ?
			      HB_RANGE_LEAK_PFNS : HB_BATCH_PFNS),
		   node->num_pages);
	want = nr / HB_PFNS_PER_PAGE;
	/* Whole blocks first: one free each; then order-0 pages. */
	list_for_each_entry_safe(page, next, &node->blocks, lru) {
		if (n + (1UL << page_private(page)) > want)
			break;
		n += 1UL << page_private(page);
		list_move(&page->lru, &blocks);
	}
	while (n < want) {
		got = balloon_page_list_dequeue(&node->b_dev_info, &pages,
						min_t(size_t, HB_DEQUEUE_PAGES,
						      want - n));
		if (!got)
			break;
		n += got;
	}
	/*
	 * Less than a block short: split one. What is not given back stays
	 * in the balloon as order-0 pages, migratable from now on.
	 */
	page = list_first_entry_or_null(&node->blocks, struct page, lru);
	if (n < want && page) {
		order = page_private(page);
		list_del(&page->lru);
		set_page_private(page, 0);
		hballoon_block_offline(page, order, false);
		split_page(page, order);
		count_vm_events(BALLOON_DEFLATE, 1UL << order);
		for (i = 0; i < 1U << order; i++) {
			if (n < want) {
				list_add_tail(&nth_page(page, i)->lru, &pages);
				n++;
			} else {
				balloon_page_enqueue(&node->b_dev_info,
						     nth_page(page, i));
			}
		}
	}
	if (!n)
		return 0;

	done = n * HB_PFNS_PER_PAGE;
	node->num_pages -= done;
	/* The device must know before the guest touches the pages again. */
	i = 0;
	list_for_each_entry(page, &blocks, lru)
		hballoon_queue_page(hb, node, hb->deflate_vq, page,
				    page_private(page), &i);
	hballoon_flush(hb, node, hb->deflate_vq, i);
	hballoon_tell_host(hb, node, hb->deflate_vq, &pages);
	list_for_each_entry_safe(page, next, &blocks, lru) {
		order = page_private(page);
		list_del(&page->lru);
		count_vm_events(BALLOON_DEFLATE, 1UL << order);
		hballoon_block_offline(page, order, false);
		hballoon_return_block(page, order);
	}
	list_for_each_entry_safe(page, next, &pages, lru) {
		list_del(&page->lru);
		adjust_managed_page_count(page, 1);
		put_page(page);	/* balloon reference */
	}
	mod_node_page_state(NODE_DATA(node->nid), NR_HBALLOON_PAGES, -(long)n);
	count_vm_events(HBALLOON_DEFLATE, n);
	hballoon_report_actual(node);
	return done;
}

static unsigned int hballoon_leak(struct hballoon_node *node, unsigned int nr)
{
	unsigned int done;

	mutex_lock(&node->hb->balloon_lock);
	done = hballoon_leak_locked(node, nr);
	mutex_unlock(&node->hb->balloon_lock);
	return done;
}

/* ---- the resize worker ---- */

static bool hballoon_node_used(const struct hballoon_node *node)
{
	return node->nid != NUMA_NO_NODE;
}

static void hballoon_queue_update(struct virtio_hballoon *hb,
				  unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&hb->stop_update_lock, flags);
	if (!hb->stop_update)
		mod_delayed_work(system_freezable_wq, &hb->update_size_work,
				 delay);
	spin_unlock_irqrestore(&hb->stop_update_lock, flags);
}

/* Notify NODE_RESIZED if @node changed enough since the last notification. */
static void hballoon_notify_resized(struct hballoon_node *node, bool settled)
{
	unsigned long managed = hballoon_node_managed(node->nid);
	unsigned long old = node->notified;

	if (managed == old)
		return;
	if (!settled && abs_diff(managed, old) < HB_NOTIFY_STEP_PAGES)
		return;
	node->notified = managed;
	node_resize_notify(NODE_RESIZED, node->nid, old, managed);
}

/*
 * Tell listeners the size @node is heading for. On a new target (@changed)
 * always, even when that is the size it has now: a shrink the host withdrew
 * must reach them, or they would go on making room nobody takes. On a
 * stalled shrink, only while there is still a way to go.
 */
static void hballoon_announce_pending(struct hballoon_node *node, bool changed)
{
	unsigned long managed, expected;

	mutex_lock(&node->hb->balloon_lock);
	managed = hballoon_node_managed(node->nid);
	expected = hballoon_expected_pages(managed, node->num_pages,
					   node->target, HB_PFNS_PER_PAGE);
	mutex_unlock(&node->hb->balloon_lock);
	if (changed || expected != managed)
		node_resize_notify(NODE_RESIZE_PENDING, node->nid, managed,
				   expected);
}

/*
 * Read @node's target. On a new target, reset the back-off and announce the
 * resize. Returns the frames still to inflate (> 0) or deflate (< 0), and in
 * @retry_at the time before which no inflate may start, read under the lock
 * that the OOM notifier writes it under.
 */
static s64 hballoon_sync_target(struct hballoon_node *node,
				unsigned long *retry_at)
{
	struct virtio_hballoon *hb = node->hb;
	u64 target;
	s64 diff;

	target = hballoon_clamp_target(hb_read_node64(hb, node->index,
						      offsetof(struct virtio_hballoon_node_config,
							       target_pages)),
				       node->ram_pages, HB_PFNS_PER_PAGE);

	mutex_lock(&hb->balloon_lock);
	if (target == node->target) {
		diff = (s64)target - (s64)node->num_pages;
		*retry_at = node->retry_at;
		mutex_unlock(&hb->balloon_lock);
		return diff;
	}
	node->target = target;
	node->backoff_ms = 0;
	node->stalled = false;
	node->retry_at = jiffies;
	*retry_at = node->retry_at;
	diff = (s64)target - (s64)node->num_pages;
	mutex_unlock(&hb->balloon_lock);

	hballoon_announce_pending(node, true);
	return diff;
}

/* Inflating @node stopped short: wait before trying again, and say so. */
static void hballoon_backoff(struct hballoon_node *node, unsigned int min_ms)
{
	node->backoff_ms = hballoon_next_backoff(node->backoff_ms, min_ms);
	node->retry_at = jiffies + msecs_to_jiffies(node->backoff_ms);
	node->stalled = true;
}

static void hballoon_warn_ignored(struct hballoon_node *node)
{
	if (node->warned)
		return;
	if (!hb_read_node64(node->hb, node->index,
			    offsetof(struct virtio_hballoon_node_config,
				     target_pages)))
		return;
	node->warned = true;
	dev_warn(&node->hb->vdev->dev,
		 "ignoring target for proximity domain %u: no such memory node\n",
		 node->pxm);
}

/*
 * Move every node's balloon towards its target, one batch per node in turn,
 * for at most HB_SLICE_MS; then requeue. Nodes that cannot inflate now are
 * retried after their back-off.
 */
static void hballoon_update_size_func(struct work_struct *work)
{
	struct virtio_hballoon *hb = container_of(to_delayed_work(work),
						  struct virtio_hballoon,
						  update_size_work);
	unsigned long deadline = jiffies + msecs_to_jiffies(HB_SLICE_MS);
	unsigned long next_retry = 0;
	bool busy, retry;
	unsigned int i;

	do {
		busy = false;
		retry = false;
		for (i = 0; i < hb->num_nodes; i++) {
			struct hballoon_node *node = &hb->nodes[i];
			unsigned long retry_at;
			unsigned int nr;
			u64 done;
			bool settled = true;
			s64 diff;

			if (!hballoon_node_used(node)) {
				hballoon_warn_ignored(node);
				continue;
			}
			diff = hballoon_sync_target(node, &retry_at);
			if (diff > 0 && time_before(jiffies, retry_at)) {
				if (!retry || time_before(retry_at, next_retry))
					next_retry = retry_at;
				retry = true;
			} else if (diff > 0) {
				bool starved;

				done = hballoon_fill(node, diff, deadline,
						     &starved);
				mutex_lock(&hb->balloon_lock);
				if (starved) {
					hballoon_backoff(node, HB_BACKOFF_MIN_MS);
					if (!retry || time_before(node->retry_at, next_retry))
						next_retry = node->retry_at;
					retry = true;
				} else {
					node->backoff_ms = 0;
					node->stalled = false;
					settled = done == diff;
					busy |= !settled;
				}
				mutex_unlock(&hb->balloon_lock);
				/* Ask for room: demoting cold pages frees some. */
				if (starved)
					hballoon_announce_pending(node, false);
			} else if (diff < 0) {
				nr = min_t(s64, -diff, HB_RANGE_LEAK_PFNS);
				done = hballoon_leak(node, nr);
				settled = done == -diff;
				/* Pages isolated by compaction come back soon. */
				busy |= done && !settled;
				if (!done) {
					if (!retry || time_before(jiffies + 1, next_retry))
						next_retry = jiffies + 1;
					retry = true;
				}
			}
			hballoon_notify_resized(node, settled);
		}
		cond_resched();
	} while (busy && time_before(jiffies, deadline));

	if (busy)
		hballoon_queue_update(hb, 0);
	else if (retry)
		hballoon_queue_update(hb, time_after(next_retry, jiffies) ?
				      next_retry - jiffies : 0);
}

static void hballoon_changed(struct virtio_device *vdev)
{
	hballoon_queue_update(vdev->priv, 0);
}

/* ---- statistics ---- */

static struct virtio_hballoon_stat *
hballoon_put_stat(struct virtio_hballoon_stat *s, u16 tag, u64 val)
{
	s->tag = cpu_to_le16(tag);
	memset(s->reserved, 0, sizeof(s->reserved));
	s->val = cpu_to_le64(val);
	return s + 1;
}

#define hb_bytes(pages)	((u64)(pages) << PAGE_SHIFT)

/*
 * Fill hb->stats: for each node a header and its statistics.  Returns the
 * bytes used: the demand statistics are there only while the placement
 * engine reports them.
 */
static size_t hballoon_update_stats(struct virtio_hballoon *hb)
{
	struct hballoon_demand *demand = hb->demand;
	void *p = hb->stats;
	unsigned int i;

	/*
	 * Asked before balloon_lock is taken: hplace's lock is held across
	 * allocations, and the OOM notifier waits for balloon_lock.
	 */
	for (i = 0; i < hb->num_nodes; i++)
		demand[i].err = hplace_node_demand(hb->nodes[i].nid,
						   &demand[i].hot,
						   &demand[i].cold);

	mutex_lock(&hb->balloon_lock);
	for (i = 0; i < hb->num_nodes; i++) {
		struct hballoon_node *node = &hb->nodes[i];
		struct virtio_hballoon_stats_hdr *hdr = p;
		struct virtio_hballoon_stat *s = p + sizeof(*hdr);
		struct sysinfo si;
		pg_data_t *pgdat;

		hdr->node_id = cpu_to_le32(node->pxm);
		hdr->num_stats = cpu_to_le32(VIRTIO_HBALLOON_S_NR - 2);
		if (hballoon_node_used(node)) {
			pgdat = NODE_DATA(node->nid);
			si_meminfo_node(&si, node->nid);
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_MEMFREE,
					      hb_bytes(si.freeram));
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_MEMTOT,
					      hb_bytes(si.totalram));
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_FILE,
					      hb_bytes(node_page_state(pgdat,
								       NR_FILE_PAGES)));
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_ANON,
					      hb_bytes(node_page_state(pgdat,
								       NR_ANON_MAPPED)));
		} else {
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_MEMFREE, 0);
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_MEMTOT, 0);
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_FILE, 0);
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_ANON, 0);
		}
		s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_BALLOON,
				      node->num_pages << VIRTIO_HBALLOON_PFN_SHIFT);
		s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_INFLATE_FAIL,
				      node->inflate_fail);
		s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_OOM_DEFLATE,
				      node->oom_deflated << VIRTIO_HBALLOON_PFN_SHIFT);
		if (hballoon_node_used(node) && !demand[i].err) {
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_HOT,
					      demand[i].hot);
			s = hballoon_put_stat(s, VIRTIO_HBALLOON_S_COLD,
					      demand[i].cold);
			hdr->num_stats = cpu_to_le32(VIRTIO_HBALLOON_S_NR);
		}
		p = s;
	}
	mutex_unlock(&hb->balloon_lock);
	return p - hb->stats;
}

/* Add the stats buffer for the device to take. */
static int hballoon_send_stats(struct virtio_hballoon *hb)
{
	struct scatterlist sg;

	sg_init_one(&sg, hb->stats, hballoon_update_stats(hb));
	return virtqueue_add_outbuf(hb->stats_vq, &sg, 1, hb, GFP_KERNEL);
}

/* The device used the stats buffer: it wants fresh numbers. */
static void hballoon_stats_request(struct virtqueue *vq)
{
	struct virtio_hballoon *hb = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&hb->stop_update_lock, flags);
	if (!hb->stop_update)
		queue_work(system_freezable_wq, &hb->update_stats_work);
	spin_unlock_irqrestore(&hb->stop_update_lock, flags);
}

static void hballoon_update_stats_func(struct work_struct *work)
{
	struct virtio_hballoon *hb = container_of(work, struct virtio_hballoon,
						  update_stats_work);
	unsigned int len;

	if (!virtqueue_get_buf(hb->stats_vq, &len))
		return;
	if (!hballoon_send_stats(hb))
		virtqueue_kick(hb->stats_vq);
}

/* ---- compaction, OOM ---- */

#ifdef CONFIG_BALLOON_COMPACTION
/*
 * Compaction moves a balloon page: put @newpage in the balloon instead of
 * @page and tell the device (inflate the new frame, then deflate the old).
 * A node's balloon must hold pages of that node, so a move to another node
 * (memory offlining, alloc_contig_range) is refused.
 */
static int hballoon_migratepage(struct balloon_dev_info *b_dev_info,
				struct page *newpage, struct page *page,
				enum migrate_mode mode)
{
	struct hballoon_node *node = container_of(b_dev_info,
						  struct hballoon_node,
						  b_dev_info);
	struct virtio_hballoon *hb = node->hb;
	unsigned long flags;

	if (page_to_nid(newpage) != node->nid)
		return -EBUSY;
	/*
	 * Do not wait for an inflate or deflate in progress (which may itself
	 * be compacting memory): compaction retries later.
	 */
	if (!mutex_trylock(&hb->balloon_lock))
		return -EAGAIN;

	get_page(newpage);	/* balloon reference */
	if (page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}

	spin_lock_irqsave(&b_dev_info->pages_lock, flags);
	balloon_page_insert(b_dev_info, newpage);
	b_dev_info->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&b_dev_info->pages_lock, flags);

	hballoon_tell_host_page(hb, node, hb->inflate_vq, newpage);
	hballoon_tell_host_page(hb, node, hb->deflate_vq, page);
	mutex_unlock(&hb->balloon_lock);

	balloon_page_finalize(page);
	put_page(page);		/* balloon reference */
	return MIGRATEPAGE_SUCCESS;
}
#endif /* CONFIG_BALLOON_COMPACTION */

/*
 * The guest is about to kill a task for memory: give back up to 1 MiB,
 * taking it from the nodes in turn, and do not inflate those nodes again
 * for a while.
 */
static int hballoon_oom_notify(struct notifier_block *nb, unsigned long dummy,
			       void *parm)
{
	struct virtio_hballoon *hb = container_of(nb, struct virtio_hballoon,
						  oom_nb);
	unsigned long *freed = parm;
	unsigned int i, done = 0;

	mutex_lock(&hb->balloon_lock);
	for (i = 0; i < hb->num_nodes && done < HB_OOM_NR_PFNS; i++) {
		struct hballoon_node *node =
			&hb->nodes[(hb->oom_next + i) % hb->num_nodes];
		unsigned int got;

		if (!hballoon_node_used(node))
			continue;
		/* Pages an inflate step holds for the balloon go first. */
		got = hballoon_free_inflight(node, (HB_OOM_NR_PFNS - done) /
					     HB_PFNS_PER_PAGE) * HB_PFNS_PER_PAGE;
		if (got)
			hballoon_backoff(node, HB_OOM_HOLDOFF_MS);
		done += got;
		if (done >= HB_OOM_NR_PFNS || !node->num_pages)
			continue;
		got = hballoon_leak_locked(node, HB_OOM_NR_PFNS - done);
		if (!got)
			continue;
		node->oom_deflated += got;
		count_vm_events(HBALLOON_OOM_DEFLATE, got / HB_PFNS_PER_PAGE);
		hballoon_backoff(node, HB_OOM_HOLDOFF_MS);
		done += got;
	}
	hb->oom_next = (hb->oom_next + 1) % hb->num_nodes;
	mutex_unlock(&hb->balloon_lock);

	*freed += done / HB_PFNS_PER_PAGE;
	if (done)	/* announce the new sizes, retry after the hold-off */
		hballoon_queue_update(hb, 0);
	return NOTIFY_OK;
}

/* ---- probe and remove ---- */

static int hballoon_init_vqs(struct virtio_hballoon *hb)
{
	struct virtqueue_info vqs_info[] = {
		{ "inflate", hballoon_ack },
		{ "deflate", hballoon_ack },
		{ "stats", hballoon_stats_request },
	};
	struct virtqueue *vqs[ARRAY_SIZE(vqs_info)];
	unsigned int nvqs = ARRAY_SIZE(vqs_info);
	int err;

	BUILD_BUG_ON(VIRTIO_HBALLOON_VQ_INFLATE != 0);
	BUILD_BUG_ON(VIRTIO_HBALLOON_VQ_DEFLATE != 1);
	BUILD_BUG_ON(VIRTIO_HBALLOON_VQ_STATS != 2);
	if (!virtio_has_feature(hb->vdev, VIRTIO_HBALLOON_F_STATS_VQ))
		nvqs--;

	err = virtio_find_vqs(hb->vdev, nvqs, vqs, vqs_info, NULL);
	if (err)
		return err;
	hb->inflate_vq = vqs[VIRTIO_HBALLOON_VQ_INFLATE];
	hb->deflate_vq = vqs[VIRTIO_HBALLOON_VQ_DEFLATE];
	hb->stats_vq = NULL;
	if (nvqs > VIRTIO_HBALLOON_VQ_STATS) {
		hb->stats_vq = vqs[VIRTIO_HBALLOON_VQ_STATS];
		/* Prime it so that the device can ask for statistics. */
		err = hballoon_send_stats(hb);
		if (err) {
			hb->vdev->config->del_vqs(hb->vdev);
			return err;
		}
		virtqueue_kick(hb->stats_vq);
	}
	return 0;
}

static const char *const hballoon_verdict_text[] = {
	[HB_NODE_UNKNOWN_PXM] = "unknown to the guest",
	[HB_NODE_NO_MEMORY] = "a node without memory",
	[HB_NODE_DUPLICATE] = "already covered by another entry",
};

/* Read the node table and map each proximity domain to a Linux node. */
static int hballoon_init_nodes(struct virtio_hballoon *hb)
{
	nodemask_t claimed = NODE_MASK_NONE;
	unsigned int i, num_nodes;
	__le16 n;

	__virtio_cread_many(hb->vdev,
			    offsetof(struct virtio_hballoon_config, num_nodes),
			    &n, 1, sizeof(n));
	num_nodes = le16_to_cpu(n);
	if (!num_nodes || num_nodes > VIRTIO_HBALLOON_MAX_NODES) {
		dev_err(&hb->vdev->dev, "invalid number of nodes: %u\n",
			num_nodes);
		return -EINVAL;
	}

	hb->nodes = kcalloc(num_nodes, sizeof(*hb->nodes), GFP_KERNEL);
	if (!hb->nodes)
		return -ENOMEM;
	hb->num_nodes = num_nodes;

	for (i = 0; i < num_nodes; i++) {
		struct hballoon_node *node = &hb->nodes[i];
		enum hballoon_node_verdict v;
		int nid = NUMA_NO_NODE;

		node->hb = hb;
		node->index = i;
		balloon_devinfo_init(&node->b_dev_info);
		INIT_LIST_HEAD(&node->inflight);
		INIT_LIST_HEAD(&node->blocks);
#ifdef CONFIG_BALLOON_COMPACTION
		node->b_dev_info.migratepage = hballoon_migratepage;
#endif
		node->pxm = hb_read_node32(hb, i,
					   offsetof(struct virtio_hballoon_node_config,
						    node_id));
		node->ram_pages = hb_read_node64(hb, i,
						 offsetof(struct virtio_hballoon_node_config,
							  ram_pages));
		if (node->pxm <= INT_MAX)
			nid = pxm_to_node(node->pxm);
		v = hballoon_check_node(nid, &node_states[N_MEMORY], &claimed);
		if (v != HB_NODE_OK) {
			dev_warn(&hb->vdev->dev,
				 "ignoring proximity domain %u: %s\n",
				 node->pxm, hballoon_verdict_text[v]);
			node->nid = NUMA_NO_NODE;
			continue;
		}
		node->nid = nid;
		node->notified = hballoon_node_managed(nid);
		dev_info(&hb->vdev->dev,
			 "proximity domain %u is node %d (%llu MiB)\n",
			 node->pxm, nid, node->ram_pages >> (20 - VIRTIO_HBALLOON_PFN_SHIFT));
	}
	return 0;
}

static int hballoon_validate(struct virtio_device *vdev)
{
	/*
	 * Only report a poison pattern if freed pages are poisoned or zeroed
	 * at all.  The device may discard inflated pages either way: a
	 * deflated page is poisoned again when it is freed (see the spec).
	 */
	if (!want_init_on_free() && !page_poisoning_enabled_static())
		__virtio_clear_bit(vdev, VIRTIO_HBALLOON_F_PAGE_POISON);
	/* PFNs are guest-physical frames, not DMA addresses. */
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

static int hballoon_probe(struct virtio_device *vdev)
{
	struct virtio_hballoon *hb;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config access disabled\n");
		return -EINVAL;
	}
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev, "legacy devices are not supported\n");
		return -ENODEV;
	}

	hb = kzalloc(sizeof(*hb), GFP_KERNEL);
	if (!hb)
		return -ENOMEM;
	vdev->priv = hb;
	hb->vdev = vdev;
	INIT_DELAYED_WORK(&hb->update_size_work, hballoon_update_size_func);
	INIT_WORK(&hb->update_stats_work, hballoon_update_stats_func);
	spin_lock_init(&hb->stop_update_lock);
	spin_lock_init(&hb->inflight_lock);
	mutex_init(&hb->balloon_lock);
	init_waitqueue_head(&hb->acked);

	hb->pfns = kmalloc(struct_size(hb->pfns, pfns, HB_BATCH_PFNS),
			   GFP_KERNEL);
	if (!hb->pfns) {
		err = -ENOMEM;
		goto out_free;
	}
	if (virtio_has_feature(vdev, VIRTIO_HBALLOON_F_RANGES)) {
		hb->ranges = kmalloc(struct_size(hb->ranges, ranges,
						 HB_BATCH_RANGES), GFP_KERNEL);
		if (!hb->ranges) {
			err = -ENOMEM;
			goto out_free;
		}
	}

	err = hballoon_init_nodes(hb);
	if (err)
		goto out_free;

	hb->stats_len = hb->num_nodes *
		(sizeof(struct virtio_hballoon_stats_hdr) +
		 VIRTIO_HBALLOON_S_NR * sizeof(struct virtio_hballoon_stat));
	hb->stats = kzalloc(hb->stats_len, GFP_KERNEL);
	hb->demand = kcalloc(hb->num_nodes, sizeof(*hb->demand), GFP_KERNEL);
	if (!hb->stats || !hb->demand) {
		err = -ENOMEM;
		goto out_free;
	}

	err = hballoon_init_vqs(hb);
	if (err)
		goto out_free;

	if (virtio_has_feature(vdev, VIRTIO_HBALLOON_F_DEFLATE_ON_OOM)) {
		hb->oom_nb.notifier_call = hballoon_oom_notify;
		hb->oom_nb.priority = HB_OOM_NOTIFY_PRIORITY;
		err = register_oom_notifier(&hb->oom_nb);
		if (err)
			goto out_del_vqs;
	}

	if (virtio_has_feature(vdev, VIRTIO_HBALLOON_F_PAGE_POISON)) {
		u32 poison_val = 0;
		__le32 v;

		/* Zeroed on free, or filled with PAGE_POISON. */
		if (!want_init_on_free())
			memset(&poison_val, PAGE_POISON, sizeof(poison_val));
		v = cpu_to_le32(poison_val);
		vdev->config->set(vdev, offsetof(struct virtio_hballoon_config,
						 poison_val), &v, sizeof(v));
	}

	virtio_device_ready(vdev);
	hballoon_queue_update(hb, 0);
	return 0;

out_del_vqs:
	vdev->config->del_vqs(vdev);
out_free:
	kfree(hb->demand);
	kfree(hb->stats);
	kfree(hb->nodes);
	kfree(hb->ranges);
	kfree(hb->pfns);
	kfree(hb);
	return err;
}

/*
 * Give every page back, announce the new sizes and stop the device.
 *
 * Every page, however long it takes: a page that compaction isolated is off
 * the balloon list until its migration ends, and then points back to the
 * node's balloon_dev_info, which the caller frees once this returns.  As
 * virtio_balloon does, wait for it rather than give up and leave it behind.
 */
static void hballoon_remove_common(struct virtio_hballoon *hb)
{
	unsigned long warn_at;
	unsigned int i;

	for (i = 0; i < hb->num_nodes; i++) {
		struct hballoon_node *node = &hb->nodes[i];

		if (!hballoon_node_used(node))
			continue;
		warn_at = jiffies + HB_REMOVE_WARN_SECS * HZ;
		while (READ_ONCE(node->num_pages)) {
			if (!hballoon_leak(node, HB_BATCH_PFNS)) {
				usleep_range(1000, 2000);
				if (time_after(jiffies, warn_at)) {
					dev_warn(&hb->vdev->dev,
						 "node %d: waiting for %llu frames still isolated from the balloon\n",
						 node->nid,
						 (unsigned long long)READ_ONCE(node->num_pages));
					warn_at = jiffies + HB_REMOVE_WARN_SECS * HZ;
				}
			}
			cond_resched();
		}
		hballoon_notify_resized(node, true);
	}
	virtio_reset_device(hb->vdev);
	hb->vdev->config->del_vqs(hb->vdev);
}

static void hballoon_stop(struct virtio_hballoon *hb)
{
	spin_lock_irq(&hb->stop_update_lock);
	hb->stop_update = true;
	spin_unlock_irq(&hb->stop_update_lock);
	cancel_delayed_work_sync(&hb->update_size_work);
	cancel_work_sync(&hb->update_stats_work);
}

static void hballoon_remove(struct virtio_device *vdev)
{
	struct virtio_hballoon *hb = vdev->priv;

	if (virtio_has_feature(vdev, VIRTIO_HBALLOON_F_DEFLATE_ON_OOM))
		unregister_oom_notifier(&hb->oom_nb);
	hballoon_stop(hb);
	hballoon_remove_common(hb);
	kfree(hb->demand);
	kfree(hb->stats);
	kfree(hb->nodes);
	kfree(hb->ranges);
	kfree(hb->pfns);
	kfree(hb);
}

#ifdef CONFIG_PM_SLEEP
static int hballoon_freeze(struct virtio_device *vdev)
{
	/* The freezable workqueue is already frozen. */
	hballoon_remove_common(vdev->priv);
	return 0;
}

static int hballoon_restore(struct virtio_device *vdev)
{
	struct virtio_hballoon *hb = vdev->priv;
	unsigned int i;
	int err;

	err = hballoon_init_vqs(hb);
	if (err)
		return err;
	virtio_device_ready(vdev);
	mutex_lock(&hb->balloon_lock);
	for (i = 0; i < hb->num_nodes; i++) {
		hb->nodes[i].target = 0;
		hb->nodes[i].reported = U64_MAX;
		if (hballoon_node_used(&hb->nodes[i]))
			hballoon_report_actual(&hb->nodes[i]);
	}
	mutex_unlock(&hb->balloon_lock);
	hballoon_queue_update(hb, 0);
	return 0;
}
#endif

static const struct virtio_device_id hballoon_id_table[] = {
	{ VIRTIO_ID_HBALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int hballoon_features[] = {
	VIRTIO_HBALLOON_F_STATS_VQ,
	VIRTIO_HBALLOON_F_DEFLATE_ON_OOM,
	VIRTIO_HBALLOON_F_PAGE_POISON,
	VIRTIO_HBALLOON_F_RANGES,
};

static struct virtio_driver virtio_hballoon_driver = {
	.feature_table = hballoon_features,
	.feature_table_size = ARRAY_SIZE(hballoon_features),
	.driver.name = KBUILD_MODNAME,
	.id_table = hballoon_id_table,
	.validate = hballoon_validate,
	.probe = hballoon_probe,
	.remove = hballoon_remove,
	.config_changed = hballoon_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = hballoon_freeze,
	.restore = hballoon_restore,
#endif
};

module_virtio_driver(virtio_hballoon_driver);
MODULE_DEVICE_TABLE(virtio, hballoon_id_table);
MODULE_DESCRIPTION("Virtio per-NUMA-node balloon driver");
MODULE_LICENSE("GPL");

#ifdef CONFIG_VIRTIO_HBALLOON_KUNIT_TEST
#include "virtio_hballoon-kunit.h"
#endif
