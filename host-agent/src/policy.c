// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy.c - how hballoond shares a host's fast memory (see policy.h)
 */
#include "policy.h"
#include "u64.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;

/* @v rounded up to a multiple of @g, saturating at the largest multiple. */
static uint64_t round_up(uint64_t v, uint64_t g)
{
	uint64_t r = v % g;

	if (!r)
		return v;
	return v > UINT64_MAX - (g - r) ? UINT64_MAX - UINT64_MAX % g : v + g - r;
}

/* The fast node's ceiling and floor, and its size now. */
static uint64_t hi_of(const struct policy_vm *v)
{
	return min64(v->max, v->fast_ram);
}

static uint64_t lo_of(const struct policy_vm *v)
{
	return min64(v->min, hi_of(v));
}

/*
 * The booked size: a grow under way lands later, and its memory must not
 * be handed to another VM meanwhile (whether the VM answers or not).
 */
static uint64_t cur_of(const struct policy_vm *v)
{
	return min64(max64(v->fast_actual, v->fast_asked), v->fast_ram);
}

static uint64_t weight_of(const struct policy_vm *v)
{
	if (v->weight < 1)
		return 1;
	return v->weight > POLICY_MAX_WEIGHT ? POLICY_MAX_WEIGHT : v->weight;
}

/* The fast + slow size keep_total keeps. */
static uint64_t total_of(const struct policy_vm *v)
{
	return v->total ? v->total :
	       add_sat(min64(v->fast_actual, v->fast_ram), v->slow_actual);
}

/* keep_total: the slow size that keeps @v's total at a fast size @fast. */
static uint64_t slow_keeping(const struct policy_vm *v, uint64_t fast)
{
	return min64(sub_sat(total_of(v), fast), v->slow_ram);
}

/* One round's working state: on the caller's stack, nothing static. */
struct round {
	const struct policy_params *p;
	const struct policy_vm *vms;
	struct policy_target *out;	/* out[i].alloc is the allocation */
	size_t n;
	uint64_t g;			/* the granule, at least 1 */
	uint64_t want[POLICY_MAX_VMS];	/* demand within [lo, hi] */
	uint64_t need[POLICY_MAX_VMS];	/* what water_fill may still give */
	uint64_t f[POLICY_MAX_VMS];	/* water_fill: scaled factors */
	uint64_t tmp[POLICY_MAX_VMS];	/* water_fill: shares; hysteresis:
					 * the allocation before it */
	unsigned char flag[POLICY_MAX_VMS];
};

/*
 * Weighted water-filling: hand out up to *@avail to the VMs with need > 0,
 * in shares proportional to f = weight x need (@by_need) or to weight,
 * none beyond its need; what one cannot take goes to the others.  Each VM
 * gets its exact share rounded down to whole granules (a whole need may
 * end off the granule grid); the granules left over then go one each, the
 * largest remainder first.  need shrinks, the allocations grow, *@avail
 * shrinks by what was given.
 *
 * Exact in 128 bits: f is scaled down (only for sizes near 2^64) so that
 * the sum of the factors stays below 2^64.
 */
static void water_fill(struct round *c, bool by_need, uint64_t *avail)
{
	uint64_t R = *avail, g = c->g, left, F;
	u128 big = 0, sum = 0;
	unsigned int k = 0;
	size_t i, n = c->n;
	bool again;

	for (i = 0; i < n; i++) {
		if (!c->need[i])
			continue;
		big += (u128)weight_of(&c->vms[i]) *
		       (by_need ? c->need[i] : 1);
		sum += c->need[i];
	}
	if (!sum || !R)
		return;
	if (sum <= R) {
		for (i = 0; i < n; i++) {
			c->out[i].alloc += c->need[i];
			c->need[i] = 0;
		}
		*avail = R - (uint64_t)sum;
		return;
	}
	while ((big >> k) >= (u128)1 << 63)
		k++;
	for (i = 0; i < n; i++) {
		u128 f;

		c->f[i] = 0;
		c->flag[i] = 0;
		if (!c->need[i])
			continue;
		f = ((u128)weight_of(&c->vms[i]) *
		     (by_need ? c->need[i] : 1)) >> k;
		c->f[i] = f ? (uint64_t)f : 1;
	}

	/*
	 * Those whose share covers their need get it; that only raises the
	 * others' shares, so all of them can go at once.
	 */
	do {
		again = false;
		F = 0;
		for (i = 0; i < n; i++)
			F += c->f[i];		/* < 2^63 + POLICY_MAX_VMS */
		if (!F)
			break;
		for (i = 0; i < n; i++)
			c->flag[i] = c->f[i] &&
				     (u128)R * c->f[i] >= (u128)c->need[i] * F;
		for (i = 0; i < n; i++) {
			if (!c->flag[i])
				continue;
			R -= c->need[i];
			c->out[i].alloc += c->need[i];
			c->need[i] = 0;
			c->f[i] = 0;
			c->flag[i] = 0;
			again = true;
		}
	} while (again);
	if (!F) {
		*avail = R;
		return;
	}

	/* The rest, proportionally, in whole granules (each below its need). */
	left = R;
	for (i = 0; i < n; i++) {
		uint64_t s;

		if (!c->f[i])
			continue;
		s = (uint64_t)((u128)R * c->f[i] / F);
		s -= s % g;
		c->tmp[i] = s;
		c->out[i].alloc += s;
		c->need[i] -= s;
		left -= s;
	}
	/* Granules left over: one each, by largest remainder (then index). */
	for (;;) {
		bool gave = false;

		for (i = 0; i < n; i++)
			c->flag[i] = 0;
		for (;;) {
			size_t best = n;
			u128 best_rem = 0;

			for (i = 0; i < n; i++) {
				u128 rem;

				if (!c->f[i] || !c->need[i] || c->flag[i] ||
				    min64(g, c->need[i]) > left)
					continue;
				rem = (u128)R * c->f[i] - (u128)c->tmp[i] * F;
				if (best == n || rem > best_rem) {
					best = i;
					best_rem = rem;
				}
			}
			if (best == n)
				break;
			/* tmp stays: later passes go in the same order */
			c->flag[best] = 1;
			left -= min64(g, c->need[best]);
			c->out[best].alloc += min64(g, c->need[best]);
			c->need[best] -= min64(g, c->need[best]);
			gave = true;
		}
		if (!gave)
			break;
	}
	*avail = left;
}

/* Steps 1-3: minimums, demand by weight x shortfall, keep what is held. */
static void allocate(struct round *c)
{
	uint64_t used = 0, avail;
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct policy_vm *v = &c->vms[i];
		struct policy_target *o = &c->out[i];

		if (!v->valid) {
			/* No word: it keeps what it has, at least its minimum. */
			o->alloc = max64(cur_of(v), lo_of(v));
			c->want[i] = o->alloc;
			o->reason = POLICY_NO_WORD;
		} else {
			c->want[i] = min64(max64(round_up(v->hot_demand, c->g),
						 lo_of(v)), hi_of(v));
			o->alloc = lo_of(v);
		}
		c->need[i] = c->want[i] - o->alloc;
		used = add_sat(used, o->alloc);
	}
	avail = sub_sat(c->p->budget, used);
	water_fill(c, true, &avail);

	for (i = 0; i < c->n; i++) {
		const struct policy_vm *v = &c->vms[i];
		struct policy_target *o = &c->out[i];

		c->need[i] = 0;
		if (!v->valid)
			continue;
		if (o->alloc < c->want[i])
			o->reason = POLICY_SHARE;
		else if (v->hot_demand > hi_of(v))
			o->reason = POLICY_MAX;
		else if (c->want[i] == lo_of(v))
			o->reason = POLICY_MIN;
		else
			o->reason = POLICY_DEMAND;
		/* What it holds beyond that, it may keep. */
		c->need[i] = sub_sat(min64(cur_of(v), hi_of(v)), o->alloc);
	}
	water_fill(c, false, &avail);
	for (i = 0; i < c->n; i++)
		if (c->vms[i].valid && c->out[i].alloc > c->want[i])
			c->out[i].reason = POLICY_KEEP;
}

/* Step 4: leave sizes alone that would change by less than the hysteresis. */
static void hysteresis(struct round *c)
{
	u128 sum = 0;		/* exact: it is counted down again below */
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct policy_vm *v = &c->vms[i];
		struct policy_target *o = &c->out[i];
		uint64_t cur = cur_of(v);
		uint64_t d = o->alloc > cur ? o->alloc - cur : cur - o->alloc;

		c->tmp[i] = o->alloc;
		c->flag[i] = v->valid && d && d < c->p->hysteresis &&
			     cur >= lo_of(v) && cur <= hi_of(v);
		if (c->flag[i])
			o->alloc = cur;
		sum += o->alloc;
	}
	/* Keeping VMs above their allocation must not break the budget. */
	while (sum > c->p->budget) {
		size_t best = c->n;

		for (i = 0; i < c->n; i++)
			if (c->flag[i] && c->out[i].alloc > c->tmp[i] &&
			    (best == c->n ||
			     c->out[i].alloc - c->tmp[i] >
			     c->out[best].alloc - c->tmp[best]))
				best = i;
		if (best == c->n)
			break;
		sum -= c->out[best].alloc - c->tmp[best];
		c->out[best].alloc = c->tmp[best];
		c->flag[best] = 0;
	}
	for (i = 0; i < c->n; i++)
		if (c->flag[i])
			c->out[i].reason = POLICY_HYSTERESIS;
}

/*
 * A move of @step towards a gap of @gap: a move cut short is cut to whole
 * granules, unless max_move is below one granule (then nothing could move).
 */
static uint64_t cut(const struct round *c, uint64_t step, uint64_t gap)
{
	if (step >= gap)
		return gap;
	if (c->p->max_move >= c->g)
		step -= step % c->g;
	return step;
}

/*
 * Step 5: growth into @room, at most *@left in all.  @to_min: up to the
 * minimums; else up to the allocations.  The most underserved first.
 */
static void grow(struct round *c, bool to_min, uint64_t *room, uint64_t *left)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct policy_vm *v = &c->vms[i];
		uint64_t goal = to_min ? lo_of(v) : c->out[i].alloc;

		c->flag[i] = c->out[i].fast_target < goal;
	}
	for (;;) {
		size_t best = c->n;
		u128 best_f = 0;
		uint64_t goal, gap, step;
		struct policy_target *o;

		for (i = 0; i < c->n; i++) {
			const struct policy_vm *v = &c->vms[i];
			u128 f;

			if (!c->flag[i])
				continue;
			goal = to_min ? lo_of(v) : c->out[i].alloc;
			f = (u128)weight_of(v) * (goal - c->out[i].fast_target);
			if (best == c->n || f > best_f) {
				best = i;
				best_f = f;
			}
		}
		if (best == c->n)
			return;
		c->flag[best] = 0;
		o = &c->out[best];
		goal = to_min ? lo_of(&c->vms[best]) : o->alloc;
		gap = goal - o->fast_target;
		step = cut(c, min64(min64(gap, *room), *left), gap);
		o->fast_target += step;
		*room -= step;
		*left -= step;
		if (step < gap)
			o->reason = *left < *room ? POLICY_CAPPED :
				    POLICY_WAIT_ROOM;
	}
}

/*
 * Where @v's fast node is headed: its device's target when that is a
 * shrink still under way, else its size.  Memory between the two was asked
 * for in an earlier round and has not been given back yet.
 */
static uint64_t headed_of(const struct policy_vm *v)
{
	uint64_t cur = cur_of(v);

	return min64(v->fast_asked, cur);
}

/* The next VM in step 6's order among those flagged (its flag cleared):
 * above the maximum first, then the largest excess over its allocation. */
static size_t next_shrink(struct round *c)
{
	size_t i, best = c->n;

	for (i = 0; i < c->n; i++) {
		const struct policy_vm *w = &c->vms[i];
		bool above, best_above;

		if (!c->flag[i])
			continue;
		if (best == c->n) {
			best = i;
			continue;
		}
		above = cur_of(w) > hi_of(w);
		best_above = cur_of(&c->vms[best]) > hi_of(&c->vms[best]);
		if (above != best_above ? above :
		    cur_of(w) - c->out[i].alloc >
		    cur_of(&c->vms[best]) - c->out[best].alloc)
			best = i;
	}
	if (best < c->n)
		c->flag[best] = 0;
	return best;
}

/* The flagged VM whose target is furthest above its minimum (flag cleared). */
static size_t next_above_min(struct round *c)
{
	size_t i, best = c->n;

	for (i = 0; i < c->n; i++)
		if (c->flag[i] &&
		    (best == c->n ||
		     c->out[i].fast_target - lo_of(&c->vms[i]) >
		     c->out[best].fast_target - lo_of(&c->vms[best])))
			best = i;
	if (best < c->n)
		c->flag[best] = 0;
	return best;
}

/*
 * Step 6 with 8, unforced: shrinks as far as keep_total lets them (a VM
 * above its maximum all the way to its allocation), at most *@left in all;
 * a shrink under way is kept.  What they newly ask for (below where each
 * is headed) comes off *@must_free.
 */
static void shrink(struct round *c, uint64_t *must_free, uint64_t *left)
{
	const struct policy_params *p = c->p;
	size_t i;

	for (i = 0; i < c->n; i++)
		c->flag[i] = c->vms[i].valid &&
			     cur_of(&c->vms[i]) > c->out[i].alloc;
	while ((i = next_shrink(c)) < c->n) {
		const struct policy_vm *v = &c->vms[i];
		struct policy_target *o = &c->out[i];
		uint64_t cur = cur_of(v), headed = headed_of(v);
		uint64_t floor = o->alloc, goal, step, fresh, absorb = 0;
		bool waiting = false, full = false;

		if (p->keep_total) {
			uint64_t total = total_of(v);
			uint64_t slow = min64(v->slow_actual, v->slow_ram);

			/* The slow size that keeps the total at the allocation. */
			o->slow_target = max64(slow, slow_keeping(v, o->alloc));
			/* The lowest fast size a full slow node keeps it at. */
			absorb = sub_sat(total, v->slow_ram);
			/* Above its maximum it does not wait for either. */
			if (cur <= hi_of(v) && absorb > floor) {
				floor = absorb;
				full = true;
			}
			/* As far as the slow node's actual size keeps it. */
			if (cur <= hi_of(v) && sub_sat(total, slow) > floor) {
				floor = sub_sat(total, slow);
				waiting = true;
			}
		}
		goal = max64(o->alloc, min64(floor, headed));
		/*
		 * A shrink under way that is not on pace to finish (what is
		 * left of it beyond its credit) is asked again, never deeper:
		 * a deeper ask would free nothing and use up the move cap.
		 */
		if (headed < cur && v->shrink_credit < cur - headed)
			goal = max64(goal, headed);
		if (goal >= cur) {
			o->reason = full && absorb >= cur ? POLICY_SLOW_FULL :
				    POLICY_WAIT_SLOW;
			continue;
		}
		/*
		 * What an earlier round asked for is asked again, not charged
		 * again: only a shrink below where it is headed is new.
		 */
		fresh = sub_sat(headed, goal);
		step = cut(c, min64(fresh, *left), fresh);
		o->fast_target = fresh ? headed - step : goal;
		*left -= step;
		*must_free -= min64(step, *must_free);
		if (step < fresh)
			o->reason = POLICY_CAPPED;
		else if (p->keep_total && o->fast_target < absorb)
			o->reason = POLICY_TOTAL_DROPS;
		else if (goal > o->alloc)
			o->reason = waiting ? POLICY_WAIT_SLOW : POLICY_SLOW_FULL;
	}
}

/*
 * One pass of force(): up to @todo (whole granules) taken from the VMs not
 * shrinking already, at most *@left in all, off *@must_free too.  @to_min:
 * down to their minimums, the largest excess over the minimum first; else
 * down to their allocations, in step 6's order.
 */
static void force_down(struct round *c, bool to_min, uint64_t todo,
		       uint64_t *must_free, uint64_t *left)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		c->flag[i] = c->vms[i].valid &&
			     c->out[i].fast_target > (to_min ? lo_of(&c->vms[i]) :
						      c->out[i].alloc) &&
			     headed_of(&c->vms[i]) == cur_of(&c->vms[i]);
	while (todo && *left) {
		struct policy_target *o;
		uint64_t gap, step;

		i = to_min ? next_above_min(c) : next_shrink(c);
		if (i == c->n)
			break;
		o = &c->out[i];
		gap = o->fast_target - (to_min ? lo_of(&c->vms[i]) : o->alloc);
		step = min64(gap, round_up(todo, c->g));
		step = cut(c, min64(step, *left), gap);
		if (!step)
			break;
		o->fast_target -= step;
		*left -= step;
		*must_free -= min64(step, *must_free);
		todo -= min64(step, todo);
		o->reason = to_min ? POLICY_COVERS : POLICY_TOTAL_DROPS;
		/* keep_total: its slow node grows back what it gives, if it can. */
		if (c->p->keep_total)
			o->slow_target = max64(o->slow_target,
					       slow_keeping(&c->vms[i],
							    o->fast_target));
	}
}

/*
 * Step 6 with 8, forced: what *@must_free still holds (memory the budget
 * or a minimum needs now) is taken below where keep_total stopped the
 * shrinks, in step 6's order, rounded up to granules, at most *@left in
 * all: first down to the allocations, then (when a VM has not given back
 * what it was asked for, or one without word holds more than its share)
 * by what the minimums lack, down to the minimums.  A VM that has not
 * given back what it was asked for earlier is passed over: it would count
 * as freeing what it does not free.
 */
static void force(struct round *c, uint64_t *must_free, uint64_t *left)
{
	uint64_t lacking = 0;
	size_t i;

	force_down(c, false, *must_free, must_free, left);
	/*
	 * Only a minimum short is worth taking others below their shares,
	 * and only by what the minimums still lack (not, say, what a stalled
	 * VM holds beyond a budget a reload has lowered).
	 */
	if (!*must_free || !*left)
		return;
	for (i = 0; i < c->n; i++)
		lacking = add_sat(lacking, sub_sat(lo_of(&c->vms[i]),
						   c->out[i].fast_target));
	force_down(c, true, min64(lacking, *must_free), must_free, left);
}

/* Steps 5-8: this round's targets. */
static void moves(struct round *c)
{
	const struct policy_params *p = c->p;
	uint64_t held = 0, room, left = p->max_move, deficit = 0, must_free;
	bool over;
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct policy_vm *v = &c->vms[i];
		uint64_t cur = cur_of(v);

		held = add_sat(held, cur);
		deficit = add_sat(deficit, sub_sat(lo_of(v), cur));
		c->out[i].fast_target = cur;
		c->out[i].slow_target = v->slow_actual;
	}
	over = held > p->budget;
	room = over ? 0 : p->budget - held;

	/* Memory already free first: minimums, then the allocations. */
	grow(c, true, &room, &left);
	grow(c, false, &room, &left);
	/*
	 * Held beyond the budget, and what the minimums lack beyond the free
	 * budget: that much is freed whether slow nodes keep up or not.
	 */
	must_free = sub_sat(add_sat(held, deficit), p->budget);
	shrink(c, &must_free, &left);
	/*
	 * A shrink under way that is still giving memory back frees some of
	 * the rest soon: up to its credit, what is still asked of it counts
	 * as freed.  One that has stalled (credit 0) counts for nothing.
	 */
	for (i = 0; i < c->n; i++) {
		const struct policy_vm *v = &c->vms[i];
		uint64_t headed = headed_of(v), pending;

		if (!v->valid || headed >= cur_of(v))
			continue;
		pending = sub_sat(cur_of(v), max64(c->out[i].fast_target, headed));
		must_free -= min64(min64(pending, v->shrink_credit), must_free);
	}
	force(c, &must_free, &left);

	/*
	 * keep_total: a slow node follows its fast node's actual growth, but
	 * keeps a page (a node cannot be resized to nothing).
	 */
	for (i = 0; i < c->n; i++) {
		const struct policy_vm *v = &c->vms[i];
		struct policy_target *o = &c->out[i];

		if (!p->keep_total || !v->valid || cur_of(v) > o->alloc ||
		    o->fast_target < cur_of(v))
			continue;
		o->slow_target = max64(slow_keeping(v, min64(v->fast_actual,
							    v->fast_ram)),
				       min64(POLICY_PAGE_SIZE, v->slow_actual));
	}
}

void policy_round(const struct policy_params *p, const struct policy_vm *vms,
		  size_t n, struct policy_target *out)
{
	struct round c;
	size_t i;

	/* Past the limit: outside the round, left as they are. */
	for (i = POLICY_MAX_VMS; i < n; i++)
		out[i] = (struct policy_target){
			.fast_target = vms[i].fast_actual,
			.slow_target = vms[i].slow_actual,
			.alloc = vms[i].fast_actual,
			.reason = POLICY_NO_WORD,
		};
	c.p = p;
	c.vms = vms;
	c.out = out;
	c.n = n < POLICY_MAX_VMS ? n : POLICY_MAX_VMS;
	c.g = p->granule ? p->granule : 1;
	memset(out, 0, c.n * sizeof(*out));
	allocate(&c);
	hysteresis(&c);
	moves(&c);
}

/* ------------------------------------------------------------ validation */

/* @v exactly, in the largest binary unit it is a multiple of. */
static const char *human(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	unsigned int u = 0;

	while (v && !(v % 1024) && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", v, units[u]);
	return buf;
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int policy_validate(const struct policy_params *p, const struct policy_vm *vms,
		    size_t n, char *err, size_t errlen)
{
	char a[32], b[32], name[32];
	uint64_t sum = 0;
	bool sum_over = false;
	size_t i;

	if (n > POLICY_MAX_VMS)
		return fail(err, errlen, "%zu VMs: at most %d", n,
			    POLICY_MAX_VMS);
	if (!p->granule || p->granule % POLICY_PAGE_SIZE)
		return fail(err, errlen,
			    "granule %" PRIu64 " is not a positive multiple of 4 KiB",
			    p->granule);
	if (!p->budget || p->budget % POLICY_PAGE_SIZE)
		return fail(err, errlen,
			    "budget %" PRIu64 " is not a positive multiple of 4 KiB",
			    p->budget);
	if (p->max_move < p->granule)
		return fail(err, errlen,
			    "max-move %s is less than granule %s: nothing could move",
			    human(p->max_move, a, sizeof(a)),
			    human(p->granule, b, sizeof(b)));
	for (i = 0; i < n; i++) {
		const struct policy_vm *v = &vms[i];
		const char *nm = v->name;

		if (!nm) {
			snprintf(name, sizeof(name), "VM #%zu", i);
			nm = name;
		}
		if (v->weight < 1 || v->weight > POLICY_MAX_WEIGHT)
			return fail(err, errlen, "%s: weight %u is not within 1..%d",
				    nm, v->weight, POLICY_MAX_WEIGHT);
		if (v->min > v->max)
			return fail(err, errlen, "%s: min %s is more than max %s",
				    nm, human(v->min, a, sizeof(a)),
				    human(v->max, b, sizeof(b)));
		if (v->min % p->granule)
			return fail(err, errlen,
				    "%s: min %s is not a multiple of granule %s",
				    nm, human(v->min, a, sizeof(a)),
				    human(p->granule, b, sizeof(b)));
		if (v->max % p->granule)
			return fail(err, errlen,
				    "%s: max %s is not a multiple of granule %s",
				    nm, human(v->max, a, sizeof(a)),
				    human(p->granule, b, sizeof(b)));
		if (v->fast_ram && v->min > v->fast_ram)
			return fail(err, errlen,
				    "%s: min %s is more than its fast node's RAM %s",
				    nm, human(v->min, a, sizeof(a)),
				    human(v->fast_ram, b, sizeof(b)));
		sum_over |= v->min > UINT64_MAX - sum;
		sum = add_sat(sum, v->min);
	}
	if (sum_over)
		return fail(err, errlen,
			    "the minimums add up to more than 2^64 bytes, more than the budget %s",
			    human(p->budget, b, sizeof(b)));
	if (sum > p->budget)
		return fail(err, errlen,
			    "the minimums add up to %s, more than the budget %s",
			    human(sum, a, sizeof(a)), human(p->budget, b, sizeof(b)));
	return 0;
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
		[POLICY_WAIT_ROOM] = "waiting-for-room",
		[POLICY_SLOW_FULL] = "slow-full",
		[POLICY_TOTAL_DROPS] = "total-drops",
		[POLICY_COVERS] = "covering",
	};

	return (unsigned int)reason < POLICY_NR_REASONS ? names[reason] : "?";
}

uint64_t policy_demand_peak(struct policy_demand *d, double now, double window,
			    bool has, uint64_t bytes)
{
	/* Entries a bucket apart over window + bucket: 64 at most. */
	double bucket = window / (POLICY_DEMAND_REPORTS - 2);
	size_t drop = 0, i;
	uint64_t peak = 0;

	if (!has)
		return 0;
	/* An entry holds reports from its time to a bucket later. */
	while (drop < d->len && d->t[drop] + bucket < now - window)
		drop++;
	d->len -= drop;
	memmove(d->t, d->t + drop, d->len * sizeof(d->t[0]));
	memmove(d->v, d->v + drop, d->len * sizeof(d->v[0]));
	if (d->len && (now - d->t[d->len - 1] < bucket ||
		       d->len == POLICY_DEMAND_REPORTS)) {
		/* Full only by rounding: merge, lose nothing. */
		d->v[d->len - 1] = max64(d->v[d->len - 1], bytes);
	} else {
		d->t[d->len] = now;
		d->v[d->len++] = bytes;
	}
	for (i = 0; i < d->len; i++)
		peak = max64(peak, d->v[i]);
	return peak;
}
