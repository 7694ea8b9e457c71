// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy.c - how hballoond shares a host's fast memory (see policy.h)
 */
#include "policy.h"

#include <string.h>

typedef unsigned __int128 u128;

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* @v rounded up to a multiple of @g, saturating at the largest multiple. */
static uint64_t round_up(uint64_t v, uint64_t g)
{
	uint64_t r = v % g;

	if (!r)
		return v;
	return v > UINT64_MAX - (g - r) ? UINT64_MAX - UINT64_MAX % g : v + g - r;
}

/*
 * Weighted water-filling: hand out up to *@avail in multiples of @g, to
 * the VMs with @need[i] > 0, in shares proportional to @f[i], none beyond
 * its need; what one cannot take goes to the others.  @need shrinks and
 * @alloc grows by what each got; *@avail shrinks.
 */
static void water_fill(size_t n, const u128 *f, uint64_t *need,
		       uint64_t *alloc, uint64_t *avail, uint64_t g)
{
	for (;;) {
		uint64_t given = 0;
		u128 total = 0;
		size_t i, best = n;

		for (i = 0; i < n; i++) {
			if (!need[i] || !f[i])
				continue;
			total += f[i];
			if (best == n || f[i] > f[best])
				best = i;
		}
		if (!total || !*avail)
			return;
		for (i = 0; i < n; i++) {
			uint64_t share;

			if (!need[i] || !f[i])
				continue;
			share = (uint64_t)((u128)*avail * f[i] / total);
			share = min64(share - share % g, need[i]);
			need[i] -= share;
			alloc[i] += share;
			given += share;
		}
		*avail -= given;
		if (!given) {
			/* Shares below a granule: one to the first in line. */
			uint64_t one = min64(min64(g, need[best]), *avail);

			if (one < g && one < need[best])
				return;		/* less than a granule left */
			need[best] -= one;
			alloc[best] += one;
			*avail -= one;
		}
	}
}

struct round {
	uint64_t lo[POLICY_MAX_VMS];	/* the fast node's floor */
	uint64_t hi[POLICY_MAX_VMS];	/* and ceiling */
	uint64_t want[POLICY_MAX_VMS];	/* demand within [lo, hi] */
	uint64_t cur[POLICY_MAX_VMS];	/* size now */
	uint64_t need[POLICY_MAX_VMS];
	u128 f[POLICY_MAX_VMS];
};

/* Steps 1-3: minimums, demand by weight x shortfall, keep what is held. */
static void allocate(const struct policy_params *p, const struct policy_vm *vms,
		     size_t n, struct policy_target *out, struct round *r,
		     uint64_t *alloc)
{
	uint64_t g = p->granule ? p->granule : 1;
	uint64_t used = 0, avail, need_sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct policy_vm *v = &vms[i];

		r->hi[i] = min64(v->max, v->fast_ram);
		r->lo[i] = min64(v->min, r->hi[i]);
		r->cur[i] = min64(v->fast_actual, v->fast_ram);
		if (!v->valid) {
			/* No word: it keeps what it has, at least its minimum. */
			alloc[i] = max64(r->cur[i], r->lo[i]);
			r->lo[i] = r->hi[i] = r->want[i] = alloc[i];
			out[i].reason = POLICY_NO_WORD;
		} else {
			r->want[i] = min64(max64(round_up(v->hot_demand, g),
						 r->lo[i]), r->hi[i]);
			alloc[i] = r->lo[i];
		}
		used = add_sat(used, alloc[i]);
	}
	avail = p->budget > used ? p->budget - used : 0;

	for (i = 0; i < n; i++) {
		r->need[i] = r->want[i] - alloc[i];
		r->f[i] = (u128)vms[i].weight * r->need[i];
	}
	water_fill(n, r->f, r->need, alloc, &avail, g);

	for (i = 0; i < n; i++) {
		const struct policy_vm *v = &vms[i];

		if (!v->valid)
			continue;
		if (alloc[i] < r->want[i])
			out[i].reason = POLICY_SHARE;
		else if (r->want[i] == r->lo[i])
			out[i].reason = POLICY_MIN;
		else if (r->want[i] == r->hi[i] && v->hot_demand > r->hi[i])
			out[i].reason = POLICY_MAX;
		else
			out[i].reason = POLICY_DEMAND;
		/* What it holds beyond that, it may keep. */
		r->need[i] = min64(r->cur[i], r->hi[i]) > alloc[i] ?
			     min64(r->cur[i], r->hi[i]) - alloc[i] : 0;
		r->f[i] = vms[i].weight;
		need_sum = add_sat(need_sum, r->need[i]);
	}
	if (need_sum <= avail) {
		for (i = 0; i < n; i++) {
			if (!r->need[i])
				continue;
			alloc[i] += r->need[i];
			out[i].reason = POLICY_KEEP;
		}
	} else {
		uint64_t before[POLICY_MAX_VMS];

		memcpy(before, alloc, n * sizeof(*alloc));
		water_fill(n, r->f, r->need, alloc, &avail, g);
		for (i = 0; i < n; i++)
			if (alloc[i] > before[i])
				out[i].reason = POLICY_KEEP;
	}
}

/* Step 4: leave sizes alone that would change by less than the hysteresis. */
static void hysteresis(const struct policy_params *p,
		       const struct policy_vm *vms, size_t n,
		       struct policy_target *out, struct round *r,
		       uint64_t *alloc)
{
	uint64_t sum = 0, was[POLICY_MAX_VMS];
	bool kept[POLICY_MAX_VMS];
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t d = alloc[i] > r->cur[i] ? alloc[i] - r->cur[i] :
			     r->cur[i] - alloc[i];

		was[i] = alloc[i];
		kept[i] = vms[i].valid && d && d < p->hysteresis &&
			  r->cur[i] >= r->lo[i] && r->cur[i] <= r->hi[i];
		if (kept[i])
			alloc[i] = r->cur[i];
		sum = add_sat(sum, alloc[i]);
	}
	/* Keeping a VM above its allocation must not break the budget. */
	for (i = 0; i < n && sum > p->budget; i++) {
		if (!kept[i] || alloc[i] <= was[i])
			continue;
		sum -= alloc[i] - was[i];
		alloc[i] = was[i];
		kept[i] = false;
	}
	for (i = 0; i < n; i++)
		if (kept[i])
			out[i].reason = POLICY_HYSTERESIS;
}

/* Steps 5 and 6: this round's targets. */
static void moves(const struct policy_params *p, const struct policy_vm *vms,
		  size_t n, struct policy_target *out, struct round *r,
		  const uint64_t *alloc)
{
	uint64_t held = 0, room, left = p->max_move, step;
	bool over;
	size_t i, k;

	for (i = 0; i < n; i++) {
		held = add_sat(held, r->cur[i]);
		out[i].alloc = alloc[i];
		out[i].fast_target = r->cur[i];
		out[i].slow_target = vms[i].slow_actual;
	}
	over = held > p->budget;

	/* Shrinks first: the memory they free is for the next round. */
	for (i = 0; i < n; i++) {
		const struct policy_vm *v = &vms[i];
		uint64_t target;

		if (!v->valid || alloc[i] >= r->cur[i])
			continue;
		target = alloc[i];
		if (p->keep_total) {
			uint64_t total = v->total ? v->total :
					 add_sat(r->cur[i], v->slow_actual);
			/* The slow size that keeps the total at @target. */
			uint64_t slow = min64(total > target ? total - target : 0,
					      v->slow_ram);
			bool force = over || r->cur[i] > r->hi[i];

			out[i].slow_target = max64(slow, v->slow_actual);
			if (!force && total > add_sat(target, v->slow_ram)) {
				/* The slow node cannot take it all in. */
				target = min64(r->cur[i], total - v->slow_ram);
			}
			if (!force && v->slow_actual < slow) {
				out[i].reason = POLICY_WAIT_SLOW;
				continue;
			}
		}
		step = r->cur[i] - target;
		if (step > left && !over) {
			step = left;
			out[i].reason = POLICY_CAPPED;
		}
		left -= min64(step, left);
		out[i].fast_target = r->cur[i] - step;
	}

	/*
	 * Growth into what the actual sizes leave of the budget: minimums
	 * first (not counted against max_move), then the most underserved.
	 */
	room = p->budget > held ? p->budget - held : 0;
	for (i = 0; i < n; i++) {
		if (!vms[i].valid || r->cur[i] >= r->lo[i])
			continue;
		step = min64(r->lo[i] - r->cur[i], room);
		out[i].fast_target = r->cur[i] + step;
		room -= step;
	}
	for (k = 0; k < n; k++) {
		u128 best_f = 0;
		size_t best = n;

		for (i = 0; i < n; i++) {
			uint64_t gap = alloc[i] > out[i].fast_target ?
				       alloc[i] - out[i].fast_target : 0;
			u128 f = (u128)vms[i].weight * gap;

			if (!vms[i].valid || out[i].fast_target < r->cur[i] ||
			    !gap || out[i].reason == POLICY_CAPPED)
				continue;
			if (best == n || f > best_f) {
				best = i;
				best_f = f;
			}
		}
		if (best == n)
			break;
		step = min64(min64(alloc[best] - out[best].fast_target, room),
			     left);
		out[best].fast_target += step;
		room -= step;
		left -= step;
		if (out[best].fast_target < alloc[best])
			out[best].reason = POLICY_CAPPED;
	}

	/* keep_total: a slow node follows its fast node's actual growth. */
	for (i = 0; i < n; i++) {
		const struct policy_vm *v = &vms[i];
		uint64_t total;

		if (!p->keep_total || !v->valid ||
		    out[i].fast_target < r->cur[i] ||
		    out[i].reason == POLICY_WAIT_SLOW)
			continue;
		total = v->total ? v->total : add_sat(r->cur[i], v->slow_actual);
		out[i].slow_target = min64(total > r->cur[i] ?
					   total - r->cur[i] : 0, v->slow_ram);
	}
}

void policy_round(const struct policy_params *p, const struct policy_vm *vms,
		  size_t n, struct policy_target *out)
{
	static struct round r;	/* large; one round at a time */
	uint64_t alloc[POLICY_MAX_VMS];

	if (n > POLICY_MAX_VMS)
		n = POLICY_MAX_VMS;
	memset(out, 0, n * sizeof(*out));
	allocate(p, vms, n, out, &r, alloc);
	hysteresis(p, vms, n, out, &r, alloc);
	moves(p, vms, n, out, &r, alloc);
}

const char *policy_reason_name(enum policy_reason reason)
{
	static const char *const names[POLICY_NR_REASONS] = {
		[POLICY_MIN] = "min",
		[POLICY_DEMAND] = "demand",
		[POLICY_MAX] = "max",
		[POLICY_SHARE] = "share",
		[POLICY_KEEP] = "keep",
		[POLICY_HYSTERESIS] = "hysteresis",
		[POLICY_CAPPED] = "capped",
		[POLICY_WAIT_SLOW] = "waiting-for-slow",
		[POLICY_NO_WORD] = "no-word",
	};

	return (unsigned int)reason < POLICY_NR_REASONS ? names[reason] : "?";
}
