/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace placement: what the engine thread (which plans) and the migration
 * thread (which moves pages) share.  Kernel only.
 */
#ifndef _MM_HPLACE_PLACEMENT_H
#define _MM_HPLACE_PLACEMENT_H

#include <linux/bits.h>
#include <linux/nodemask.h>
#include <linux/types.h>
#include <linux/wait.h>

/* Ranges per plan list (hot and cold each); more are left out, counted. */
#define HPLACE_PLAN_MAX		4096
/* Processes a plan covers. */
#define HPLACE_PLAN_PROCS	64
/* Defaults of the sysfs knobs. */
#define HPLACE_HEADROOM_DEFAULT	50	/* permille of the fast tier */
#define HPLACE_MBPS_DEFAULT	256	/* MiB/s */
#define HPLACE_MBPS_MAX		BIT(20)

/**
 * enum hplace_skip - why placement left a page where it is
 * @HPLACE_SKIP_NOT_ANON: not anonymous memory (or KSM): only anonymous
 *	pages are moved
 * @HPLACE_SKIP_MLOCKED: mlocked or otherwise unevictable
 * @HPLACE_SKIP_PINNED: possibly pinned for DMA (FOLL_PIN)
 * @HPLACE_SKIP_SHARED: mapped by more than one process (e.g. after fork)
 * @HPLACE_SKIP_BUSY: could not be taken off the LRU (already isolated, or
 *	still in a per-CPU LRU batch); retried later
 * @HPLACE_SKIP_LARGE: a huge page offered to page exchange, which takes
 *	base pages only; it is migrated instead
 * @HPLACE_SKIP_MEMPOLICY: under a memory policy the tenant set: the VMA's
 *	own (mbind(2)) or else a thread's task-wide one (set_mempolicy(2));
 *	the tenant chose the node
 * @HPLACE_SKIP_PARTLY_MAPPED: a huge page only partly mapped (after
 *	munmap, mremap or MADV_DONTNEED of part of it): splitting it to move
 *	the mapped pieces would fight khugepaged, which collapses such
 *	ranges back, and the deferred split shrinker splits it anyway
 * @HPLACE_NR_SKIP: number of reasons
 */
enum hplace_skip {
	HPLACE_SKIP_NOT_ANON,
	HPLACE_SKIP_MLOCKED,
	HPLACE_SKIP_PINNED,
	HPLACE_SKIP_SHARED,
	HPLACE_SKIP_BUSY,
	HPLACE_SKIP_LARGE,
	HPLACE_SKIP_MEMPOLICY,
	HPLACE_SKIP_PARTLY_MAPPED,
	HPLACE_NR_SKIP,
};

/**
 * enum hplace_move_why - why placement moved pages (stats/moves)
 * @HPLACE_MOVE_HEADROOM: demoted to keep the fast tier's headroom free, or
 *	to make way for a pending hballoon shrink
 * @HPLACE_MOVE_ROOM: promoted into free fast memory above the headroom
 * @HPLACE_MOVE_FILL: promoted into free fast memory left over once no hot
 *	page was on the slow tier: pages of the warmest cold ranges
 * @HPLACE_MOVE_PAIR_DEMOTE: demoted to make way for a hotter page (the
 *	fast tier was full and page exchange did not take the pair)
 * @HPLACE_MOVE_PAIR_PROMOTE: promoted into the frame such a demotion freed
 * @HPLACE_MOVE_EXCHANGE: hot-slow / colder-fast pairs exchanged (the fast
 *	side a cold range's, or a hot range's surely less dense)
 * @HPLACE_NR_MOVE: number of reasons
 */
enum hplace_move_why {
	HPLACE_MOVE_HEADROOM,
	HPLACE_MOVE_ROOM,
	HPLACE_MOVE_FILL,
	HPLACE_MOVE_PAIR_DEMOTE,
	HPLACE_MOVE_PAIR_PROMOTE,
	HPLACE_MOVE_EXCHANGE,
	HPLACE_NR_MOVE,
};

/**
 * struct hplace_move - one range in a placement plan
 * @proc: index into hplace_plan.proc_ids
 * @start: first address
 * @end: end address
 * @density: access density when planned (hplace_range_density())
 * @density_lo: the density its samples support with confidence, and
 * @density_hi: the one they rule out (hplace_range_density_bounds())
 * @fresh: tracked too briefly for its density to tell
 *	(hplace_range_fresh())
 */
struct hplace_move {
	unsigned int proc;
	bool fresh;
	unsigned long start;
	unsigned long end;
	u64 density;
	u64 density_lo;
	u64 density_hi;
};

/**
 * struct hplace_plan - what the last classification asks placement to do
 * @gen: incremented each time the engine writes a new plan
 * @proc_ids: hplace_proc.id of the processes the plan refers to
 * @nr_procs: entries in @proc_ids
 * @hot: hot ranges, hottest first (promote their slow pages)
 * @nr_hot: entries in @hot
 * @cold: cold ranges, coldest first, fresh ones ranked between the
 *	idle and the surely accessed (demote their fast pages)
 * @nr_cold: entries in @cold
 * @mean_density: density of all tracked memory together (the baseline a
 *	range must beat to displace fast pages when the tier is full)
 * @dropped: ranges left out because a list or @proc_ids was full
 */
struct hplace_plan {
	u64 gen;
	u64 proc_ids[HPLACE_PLAN_PROCS];
	unsigned int nr_procs;
	struct hplace_move *hot;
	unsigned int nr_hot;
	struct hplace_move *cold;
	unsigned int nr_cold;
	u64 mean_density;
	u64 dropped;
};

/**
 * struct hplace_place_stats - placement counters, cumulative
 * @exchange_failed: pairs that page exchange refused
 * @migrate_failed: pages isolated for migration that did not move
 * @thp_split: huge pages split because only part of them was to move
 * @thp_moved: huge pages moved whole
 * @skipped: pages left in place, by enum hplace_skip
 * @moves: pages (exchange: pairs) moved, by enum hplace_move_why; the
 *	promoted, demoted and exchanged totals are sums of these
 * @thread_ns: migration thread runtime while enabled
 * @free_marks: wakeups because a fast node fell below its headroom share
 */
struct hplace_place_stats {
	u64 exchange_failed;
	u64 migrate_failed;
	u64 thp_split;
	u64 thp_moved;
	u64 skipped[HPLACE_NR_SKIP];
	u64 moves[HPLACE_NR_MOVE];
	u64 thread_ns;
	u64 free_marks;
};

/**
 * struct hplace_place - placement state
 * @fast: effective fast nodes
 * @slow: effective slow nodes
 * @fast_auto: @fast follows the kernel's memory tiers
 * @slow_auto: @slow follows the kernel's memory tiers
 * @headroom_permille: share of the fast tier kept free
 * @migrate_mbps: migration rate limit, MiB/s
 * @plan: written by the engine (under hplace.lock), read by the migrator
 *	(under hplace.lock too, into its own copy)
 * @target_pages: per node, the size a pending hballoon shrink asked for
 *	(0: none; dropped once reached or withdrawn); written by the resize
 *	notifier
 * @task: the migration thread ("hplace-migrate")
 * @wq: it sleeps here
 * @kick: work pending (new plan, resize)
 * @resized: bit 0: an hballoon resize since the migrator last looked
 * @stats: counters, written by the migration thread only
 * @room_gap_pages: free fast memory promotion leaves above what must stay
 *	free, as of the last pass; 0 while placement is idle (written by the
 *	migration thread, read by the classifier's hplace_place_capacity())
 *
 * Knobs and the plan are protected by hplace.lock.
 */
struct hplace_place {
	nodemask_t fast;
	nodemask_t slow;
	bool fast_auto;
	bool slow_auto;
	unsigned int headroom_permille;
	unsigned int migrate_mbps;
	struct hplace_plan plan;
	unsigned long target_pages[MAX_NUMNODES];
	struct task_struct *task;
	wait_queue_head_t wq;
	unsigned long kick;
	unsigned long resized;
	struct hplace_place_stats stats;
	u64 room_gap_pages;
};

struct hplace_class_params;

int hplace_place_init(void);
void hplace_place_exit(void);
void hplace_place_kick(void);
void hplace_place_plan(void);
int hplace_set_headroom(unsigned int permille);
int hplace_set_mbps(unsigned int mbps);
extern const char * const hplace_skip_names[HPLACE_NR_SKIP];
extern const char * const hplace_move_names[HPLACE_NR_MOVE];

#endif /* _MM_HPLACE_PLACEMENT_H */
