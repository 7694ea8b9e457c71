/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace classification: decide which ranges belong in the fast tier.
 *
 * Ranges (from every tracked process) are ranked by access density; the
 * threshold is the lowest density at which all ranges at or above it fit
 * in the fast tier's capacity (hplace_place_capacity()).  Ranges with
 * equal score are taken or left together, so the hot set is exactly
 * "score >= threshold".
 *
 * Hysteresis is an incumbency bonus: a range that was hot competes with its
 * density raised by hysteresis_permille, and wins ties.  The score is
 * 2 * (density + bonus) + was_hot, so a threshold T in score units is a
 * density of T / 2.  A hot range therefore stays hot
 * until its density drops below about threshold * (1 - h), and two ranges
 * of nearly equal density do not swap places every epoch when only one
 * fits.  The capacity is never exceeded.
 *
 * Pure and not locked: the caller owns the item array.
 */
#ifndef _MM_HPLACE_CLASSIFY_H
#define _MM_HPLACE_CLASSIFY_H

#include "hplace_internal.h"

/*
 * The engine's incumbency bonus; a trade between two hot ranges wants the
 * same margin (placement.c).
 */
#define HPLACE_CLASS_HYSTERESIS_PERMILLE	100

/**
 * struct hplace_class_item - one range to classify
 * @density: input: accesses per page, any fixed-point scale (all items the
 *	same); values above 2^52 are clamped
 * @long_density: input: the same over a longer horizon (same scale), for
 *	the working set only
 * @pages: input: size in base pages
 * @key: input: unique tie-breaker (e.g. range start); equal scores are
 *	ordered by ascending key so results are deterministic
 * @priv: input: caller's pointer back to its range, untouched
 * @was_hot: input: the range was hot after the previous classification
 * @hot: output: the range belongs in the fast tier
 * @score: output: 2 * (@density + incumbency bonus if @was_hot) + @was_hot
 */
struct hplace_class_item {
	u64 density;
	u64 long_density;
	u64 pages;
	u64 key;
	void *priv;
	bool was_hot;
	bool hot;
	u64 score;
};

/**
 * struct hplace_class_params - classification inputs
 * @capacity_pages: fast-tier pages available to hot ranges (free and
 *	anonymous pages minus the headroom and the room gap)
 * @hysteresis_permille: incumbency bonus, 0..1000 (e.g. 100 = 10%)
 * @min_density: ranges with a lower density are never hot, however much
 *	room there is (0 is treated as 1: untouched ranges are not promoted)
 */
struct hplace_class_params {
	u64 capacity_pages;
	unsigned int hysteresis_permille;
	u64 min_density;
};

/**
 * struct hplace_class_result - classification summary for stats/
 * @threshold: lowest score that is hot (score units: a density of
 *	@threshold / 2); U64_MAX if no range is hot
 * @hot_pages: pages in hot ranges (<= capacity_pages)
 * @nr_hot: number of hot ranges
 * @nr_kept: hot ranges that are hot only thanks to the incumbency bonus
 *	(or a tie won as incumbent)
 * @demand_pages: pages in ranges at or above min_density (what would be
 *	hot with unlimited capacity)
 * @working_pages: the working set: of the ranges at or above min_density,
 *	the pages of the first, taken in order of long-horizon density,
 *	whose accesses (long_density x pages) make up
 *	HPLACE_WORKING_SET_PERMILLE of the accesses of them all; a range
 *	with under 1/HPLACE_WORKING_SET_COLD of the long density of the
 *	median page taken before it is background: it ends the working set
 *	once the ranges taken hold 3/4 of the accesses, and before that
 *	counts, at the cut, only for the pages the share still needs.
 *	What the fast tier should hold for most accesses to hit it, whatever
 *	its capacity (the demand reported to the host).  The long horizon
 *	keeps the noise of single sampling windows out of it (range_tree.h,
 *	HPLACE_RT_LONG_DECAY_PERMILLE), and makes it lag: a hot set that
 *	moved still counts until its short count goes cold (some 10-40 s),
 *	so meanwhile the working set can read up to both hot sets; ranges
 *	no longer sampled drop out as @demand_pages does.  At most
 *	@demand_pages
 */
struct hplace_class_result {
	u64 threshold;
	u64 hot_pages;
	unsigned int nr_hot;
	unsigned int nr_kept;
	u64 demand_pages;
	u64 working_pages;
};

/* Share of the sampled accesses the working set covers, permille. */
#define HPLACE_WORKING_SET_PERMILLE	900
/*
 * A range at the working set's cut whose long density is below 1/this of
 * the median page's of the ranges taken before it counts in part
 * (classify.c).
 */
#define HPLACE_WORKING_SET_COLD		4

int hplace_classify(struct hplace_class_item *items, unsigned int nr,
		    const struct hplace_class_params *p,
		    struct hplace_class_result *res);

#endif /* _MM_HPLACE_CLASSIFY_H */
