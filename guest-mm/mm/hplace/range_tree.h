/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace range tree: per-process segment tree over virtual address ranges
 * with decayed access counts.
 *
 * A tree holds disjoint, page-aligned ranges [start, end) of one process's
 * address space in an rbtree keyed by start, so finding the range of a
 * sample is O(log n) (O(1) when samples hit the range of the previous one).
 * Each range keeps a decayed sample count (its density is count per page),
 * the same count per eighth of the range, which tells whether the
 * accesses inside the range are even, and a long count of the same
 * samples that decays more slowly (HPLACE_RT_LONG_DECAY_PERMILLE), which
 * only the working set reads.  Splits and merges follow the count and the
 * eighths; a merge also needs the long counts alike.
 *
 * Once per epoch hplace_rtree_epoch():
 *  - splits sampled ranges longer than a min_ranges-th of the tree's
 *    sampled memory (and than big_pages) into equal pieces, as DAMON keeps
 *    min_nr_regions: in a long range a small hot part raises its eighth's
 *    count too little to be cut out (6 MiB at three times the density of
 *    the rest of a 40 MiB eighth raises it by a third), and a range too
 *    long to fit in the fast tier whole is never hot;
 *  - splits ranges whose eighths are uneven at the boundaries where the
 *    counts jump (up to 8 pieces at once, so a 64 MiB range narrows down
 *    to 1 MiB pieces in two epochs), aligning cuts to huge pages when the
 *    pieces are large enough;
 *  - decays all counts (halving by default; the long counts by an
 *    eighth, or to the counts after a sampler restart) when the caller
 *    says so: hplace_rtree_pool_cool() decides by samples seen, not by
 *    time;
 *  - merges adjacent neighbours that are both cold or whose densities
 *    differ by less than merge_permille (DAMON's 10%), and merges harder
 *    (doubling the tolerance) while the tree is above 7/8 of its bound, or
 *    while the pool is above 7/8 of its bound and the tree holds at least
 *    its fair share (pool bound / trees) -- so one big process cannot
 *    flatten the trees of small ones.  Only cold neighbours merge into a
 *    range longer than the first step allows, and a fresh range
 *    (hplace_range_fresh()) merges only with a fresh one; once the tree
 *    is still crowded at the largest tolerance, fresh ranges merge with
 *    old ones, and then any (the bound itself is kept by refusing splits
 *    and new ranges).
 *
 * Bounds: a tree never holds more than max_ranges ranges, and all trees
 * sharing a struct hplace_rtree_pool never hold more than its max_ranges;
 * a split or a new range that would exceed a bound is refused and counted,
 * so adversarial samples cannot grow the tree.
 *
 * Locking: none.  All trees and their pool are used by one thread (the
 * engine) or under one lock held by the caller.  Nodes are allocated with
 * GFP_KERNEL: call from process context.
 */
#ifndef _MM_HPLACE_RANGE_TREE_H
#define _MM_HPLACE_RANGE_TREE_H

#include "hplace_internal.h"

struct hplace_class_item;

/* Number of sub-range counters per range. */
#define HPLACE_RT_NR_SUB	8
/* One sample adds 1 << HPLACE_RT_COUNT_SHIFT, so decay keeps fractions. */
#define HPLACE_RT_COUNT_SHIFT	8
/* Density = count << HPLACE_RT_DENSITY_SHIFT / pages. */
#define HPLACE_RT_DENSITY_SHIFT	12

/**
 * struct hplace_range - one tracked address range
 * @node: rbtree linkage, keyed by @start
 * @start: first address (page aligned)
 * @end: first address past the range (page aligned)
 * @count: decayed sample count, in 1 << HPLACE_RT_COUNT_SHIFT per sample
 * @long_count: the same samples decayed more slowly (see
 *	HPLACE_RT_LONG_DECAY_PERMILLE): an average over more sampling windows
 * @sub: decayed sample count per eighth of the range since the range was
 *	created, split, merged or trimmed
 * @hot: classification state, owned by the caller (split pieces inherit
 *	it; only ranges with the same state merge, but in a crowded tree's
 *	last resort)
 * @age: epochs the range has been tracked (saturating): how long its
 *	counts have had to show an access.  Pieces of a range keep its age,
 *	merged ranges take the average by size, new ranges start at 0.  It
 *	is the age of the tracking, not of the memory: what the caller adds
 *	(hplace_rtree_add(): its 1 Hz scan of the mappings) is new, so an
 *	munmap and mmap between two scans, an address space reused without
 *	munmap, or a process adopted again keep or reset it accordingly.
 */
struct hplace_range {
	struct rb_node node;
	unsigned long start;
	unsigned long end;
	u32 count;
	u32 long_count;
	u32 sub[HPLACE_RT_NR_SUB];
	bool hot;
	u16 age;
};

/*
 * A range tracked for at most this many epochs is fresh: its counts have
 * had no time to show an access, so a count of 0 says nothing yet.
 */
#define HPLACE_RT_FRESH_EPOCHS	8

/**
 * hplace_range_fresh() - is a range too newly tracked for its count to tell
 * @r: the range
 *
 * Return: true while @r->age is at most HPLACE_RT_FRESH_EPOCHS (the epoch
 * that added a range ages it to 1 before the caller reads it).
 */
static inline bool hplace_range_fresh(const struct hplace_range *r)
{
	return r->age <= HPLACE_RT_FRESH_EPOCHS;
}

/*
 * Counts decay once HPLACE_RT_COOL_SAMPLES samples have come into the
 * pool's trees since the last decay, and at least every
 * HPLACE_RT_COOL_EPOCHS epochs (hplace_rtree_pool_cool()).
 */
#define HPLACE_RT_COOL_SAMPLES	1024
#define HPLACE_RT_COOL_EPOCHS	4

/*
 * Share of @long_count kept at each decay: 7/8, a horizon about five
 * times the count's (halving).  The count must follow a hot set that moves
 * within seconds, so it holds only a few sampling windows, and when one
 * window tells about many pages at once (the accessed-bit sampler arms a
 * whole batch together; a workload that sweeps its hot set is young in a
 * window over one contiguous part of it) ranges of one evenly used hot set
 * differ several times over in count.  Ranked by count, the busiest-looking
 * of them reach any share of the accesses long before the hot set is
 * covered, so the working set read from the counts falls short of it.  The
 * working set (hplace_classify()) is read from the long counts instead; it
 * sizes memory the host gives over tens of seconds, not what to move now.
 */
#define HPLACE_RT_LONG_DECAY_PERMILLE	875

/**
 * struct hplace_rtree_pool - bound and accounting shared by all trees
 * @nr_ranges: ranges in all trees
 * @max_ranges: bound on @nr_ranges
 * @nr_trees: trees initialised and not yet destroyed
 * @fresh: samples recorded into the pool's trees since the counts last
 *	decayed
 * @warm_epochs: epochs since the counts last decayed
 * @restart: a sampler (re)started: the next decay sets the long counts
 *	to the counts
 * @forget: this epoch's decay is that one (hplace_rtree_pool_cool())
 */
struct hplace_rtree_pool {
	unsigned long nr_ranges;
	unsigned long max_ranges;
	unsigned int nr_trees;
	u64 fresh;
	unsigned int warm_epochs;
	bool restart;
	bool forget;
};

/**
 * struct hplace_rtree_params - tree tuning
 * @max_ranges: bound on this tree's ranges (>= 1)
 * @min_pages: smallest range a split creates, in pages (>= 1)
 * @new_pages: size of the range created around a sample that falls
 *	outside every range, in pages; a power of two, the range is aligned
 *	to it and clipped by its neighbours
 * @merge_permille: neighbours whose densities differ by less than this
 *	(relative to the larger) merge; 100 = 10%
 * @split_permille: neighbouring eighths whose counts differ by more than
 *	this (relative to the larger) are cut apart; 500 = one is at most half
 *	the other
 * @split_min_count: a range splits only with at least this count (in
 *	1 << HPLACE_RT_COUNT_SHIFT per sample), so sparse noise does not split
 * @cold_count: ranges below this count are cold; cold neighbours merge
 * @decay_permille: share of each count kept at each decay; 500 = halving
 *	(the long counts keep the larger of this and
 *	HPLACE_RT_LONG_DECAY_PERMILLE)
 * @min_ranges: a sampled range longer than the tree's sampled memory
 *	(ranges with a long count) divided by this is cut into equal pieces
 *	(>= 1; DAMON's min_nr_regions, but per process)
 * @big_pages: the length below which no range is cut for its length, so
 *	small processes are not cut up (at least 8 * @min_pages)
 */
struct hplace_rtree_params {
	unsigned int max_ranges;
	unsigned long min_pages;
	unsigned long new_pages;
	unsigned int merge_permille;
	unsigned int split_permille;
	u32 split_min_count;
	u32 cold_count;
	unsigned int decay_permille;
	unsigned int min_ranges;
	unsigned long big_pages;
};

/**
 * struct hplace_rtree_stats - cumulative counters of one tree
 * @samples: samples recorded into a range
 * @unmatched: samples dropped: no range and none could be created
 * @created: ranges created (by hplace_rtree_add() or for a sample)
 * @splits: ranges split (each split counts once, whatever the pieces)
 * @merges: pairs of ranges merged
 * @refused: splits or creations refused because a bound was reached
 * @nomem: allocation failures
 */
struct hplace_rtree_stats {
	u64 samples;
	u64 unmatched;
	u64 created;
	u64 splits;
	u64 merges;
	u64 refused;
	u64 nomem;
};

/**
 * struct hplace_rtree - the ranges of one process
 * @root: rbtree of struct hplace_range by start
 * @pool: shared bound and accounting
 * @p: tuning
 * @nr_ranges: ranges in this tree
 * @last: range of the previous sample (lookup cache), may be NULL
 * @max_len: the longest range kept, bytes (range_tree.c,
 *	hplace_rt_max_len()); 0 until the first epoch
 * @stats: cumulative counters
 */
struct hplace_rtree {
	struct rb_root root;
	struct hplace_rtree_pool *pool;
	struct hplace_rtree_params p;
	unsigned int nr_ranges;
	struct hplace_range *last;
	unsigned long max_len;
	struct hplace_rtree_stats stats;
};

void hplace_rtree_default_params(struct hplace_rtree_params *p);
void hplace_rtree_pool_init(struct hplace_rtree_pool *pool,
			    unsigned long max_ranges);
bool hplace_rtree_pool_cool(struct hplace_rtree_pool *pool);
void hplace_rtree_pool_cool_next(struct hplace_rtree_pool *pool);
int hplace_rtree_init(struct hplace_rtree *t, struct hplace_rtree_pool *pool,
		      const struct hplace_rtree_params *p);
void hplace_rtree_destroy(struct hplace_rtree *t);

int hplace_rtree_add(struct hplace_rtree *t, unsigned long start,
		     unsigned long end);
int hplace_rtree_remove(struct hplace_rtree *t, unsigned long start,
			unsigned long end);
int hplace_rtree_record(struct hplace_rtree *t, unsigned long addr,
			unsigned int nr, bool create);
struct hplace_range *hplace_rtree_lookup(struct hplace_rtree *t,
					 unsigned long addr);
void hplace_rtree_epoch(struct hplace_rtree *t, bool decay);

unsigned int hplace_rtree_export(struct hplace_rtree *t,
				 struct hplace_class_item *items,
				 unsigned int max);
void hplace_rtree_import(struct hplace_class_item *items, unsigned int nr);

/**
 * hplace_range_pages() - size of a range in base pages
 * @r: the range
 *
 * Return: (end - start) / PAGE_SIZE.
 */
static inline unsigned long hplace_range_pages(const struct hplace_range *r)
{
	return (r->end - r->start) >> PAGE_SHIFT;
}

/**
 * hplace_range_density() - access density of a range
 * @r: the range
 *
 * Return: (count << HPLACE_RT_DENSITY_SHIFT) / pages, i.e. decayed samples
 * per page in fixed point with HPLACE_RT_COUNT_SHIFT +
 * HPLACE_RT_DENSITY_SHIFT fractional bits.  Comparable across trees.
 */
static inline u64 hplace_range_density(const struct hplace_range *r)
{
	return div64_ul((u64)r->count << HPLACE_RT_DENSITY_SHIFT,
			hplace_range_pages(r));
}

/**
 * hplace_range_long_density() - access density over the longer horizon
 * @r: the range
 *
 * Return: as hplace_range_density(), from @r->long_count.
 */
static inline u64 hplace_range_long_density(const struct hplace_range *r)
{
	return div64_ul((u64)r->long_count << HPLACE_RT_DENSITY_SHIFT,
			hplace_range_pages(r));
}

/* Confidence of the density bounds, in standard deviations. */
#define HPLACE_RT_BOUND_Z	2

/**
 * hplace_range_density_bounds() - densities a range's count supports
 * @r: the range
 * @lo: density the range has with high confidence (0 if none)
 * @hi: density it stays under with high confidence
 *
 * A decayed count is a sum of recent samples, close to Poisson: n samples
 * put the rate at n +- z sqrt(n) (z = HPLACE_RT_BOUND_Z), and no sample at
 * all only bounds it by z^2.  Placement trades a fast page for a slow one
 * only when these bounds of the two ranges lie apart, so that sampling
 * noise alone moves nothing: a sparse range whose one sample makes it look
 * dense has @lo 0.  Same units as hplace_range_density().
 */
static inline void hplace_range_density_bounds(const struct hplace_range *r,
					       u64 *lo, u64 *hi)
{
	const u64 one = 1ULL << HPLACE_RT_COUNT_SHIFT;
	const u64 z = HPLACE_RT_BOUND_Z;
	u64 n = r->count, pages = hplace_range_pages(r);
	/* sqrt(n / one) samples, in units of one: sqrt(n * one). */
	u64 sd = int_sqrt64(n * one);

	*lo = n > z * sd ?
	      div64_ul((n - z * sd) << HPLACE_RT_DENSITY_SHIFT, pages) : 0;
	*hi = div64_ul((n + z * sd + z * z * one) << HPLACE_RT_DENSITY_SHIFT,
		       pages);
}

/**
 * hplace_rtree_first() - lowest range of a tree
 * @t: the tree
 *
 * Return: the range with the lowest start, or NULL if the tree is empty.
 */
static inline struct hplace_range *hplace_rtree_first(struct hplace_rtree *t)
{
	struct rb_node *n = rb_first(&t->root);

	return n ? rb_entry(n, struct hplace_range, node) : NULL;
}

/**
 * hplace_rtree_next() - next range in address order
 * @r: a range in a tree
 *
 * Return: the range after @r, or NULL.
 */
static inline struct hplace_range *hplace_rtree_next(struct hplace_range *r)
{
	struct rb_node *n = rb_next(&r->node);

	return n ? rb_entry(n, struct hplace_range, node) : NULL;
}

/* Iterate over the ranges of @t in address order; do not modify the tree. */
#define hplace_rtree_for_each(t, r)					\
	for (struct rb_node *__hplace_n = rb_first(&(t)->root);		\
	     __hplace_n &&							\
	     ((r) = rb_entry(__hplace_n, struct hplace_range, node));	\
	     __hplace_n = rb_next(__hplace_n))

/**
 * hplace_rtree_pool_bytes() - memory used by all ranges of a pool
 * @pool: the pool
 *
 * Return: bytes of range nodes (what stats/ reports as tree memory).
 */
static inline unsigned long
hplace_rtree_pool_bytes(const struct hplace_rtree_pool *pool)
{
	return pool->nr_ranges * sizeof(struct hplace_range);
}

#endif /* _MM_HPLACE_RANGE_TREE_H */
