// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-policy.c - hballoond's policy against a brute-force optimum and its
 * invariants, on seeded random families of VMs (several seeds), including
 * guests that report anything at all
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "tap.h"

#define G	((uint64_t)2 << 20)	/* the granule */
#define MAXN	6

static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64*: the same families on every machine */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* A random family: @n VMs, sizes in granules up to @units. */
static void family(struct policy_params *p, struct policy_vm *v, size_t n,
		   uint64_t units)
{
	uint64_t sum_min = 0;
	size_t i;

	memset(v, 0, n * sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i].fast_ram = (1 + below(units)) * G;
		v[i].min = below(v[i].fast_ram / G / 2 + 1) * G;
		v[i].max = v[i].min + below(v[i].fast_ram / G - v[i].min / G + 1) * G;
		v[i].weight = 1 + (unsigned int)below(4) * 50;
		v[i].slow_ram = 4 * units * G;
		v[i].slow_actual = 2 * units * G;
		v[i].fast_actual = v[i].min;
		v[i].hot_demand = below(units + 2) * G - (below(3) ? 0 : below(G));
		v[i].valid = true;
		sum_min += v[i].min;
	}
	p->granule = G;
	p->budget = sum_min + below(units * n / 2 + 1) * G;
	p->hysteresis = 0;
	p->max_move = UINT64_MAX;
	p->keep_total = false;
}

static uint64_t lo_of(const struct policy_vm *v)
{
	uint64_t hi = v->max < v->fast_ram ? v->max : v->fast_ram;

	return v->min < hi ? v->min : hi;
}

static uint64_t want_of(const struct policy_vm *v)
{
	uint64_t hi = v->max < v->fast_ram ? v->max : v->fast_ram;
	uint64_t d = (v->hot_demand + G - 1) / G * G;

	if (v->hot_demand > UINT64_MAX - G)
		d = UINT64_MAX;
	d = d < lo_of(v) ? lo_of(v) : d;
	return d > hi ? hi : d;
}

/* The most demand any allocation on the granule grid can serve. */
static uint64_t best_served(const struct policy_params *p,
			    const struct policy_vm *v, size_t n, size_t i,
			    uint64_t left)
{
	uint64_t best = 0, a, hi;

	if (i == n)
		return 0;
	hi = v[i].max < v[i].fast_ram ? v[i].max : v[i].fast_ram;
	for (a = lo_of(&v[i]); a <= hi && a <= left; a += G) {
		uint64_t s = (a < want_of(&v[i]) ? a : want_of(&v[i])) +
			     best_served(p, v, n, i + 1, left - a);

		if (s > best)
			best = s;
	}
	return best;
}

static void t_brute_force(uint64_t seed)
{
	struct policy_target out[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, bad = 0, unfair = 0;

	rng = seed;
	for (iter = 0; iter < 3000; iter++) {
		size_t n = 2 + below(3), i, j;
		uint64_t served = 0, sum = 0, avail;
		uint64_t sum_lo = 0;
		unsigned __int128 ftot = 0;

		family(&p, v, n, 8);
		policy_round(&p, v, n, out);
		for (i = 0; i < n; i++) {
			uint64_t a = out[i].alloc, w = want_of(&v[i]);

			served += a < w ? a : w;
			sum += a;
			sum_lo += lo_of(&v[i]);
			ftot += (unsigned __int128)v[i].weight * (w - lo_of(&v[i]));
			if (a < lo_of(&v[i]) || a > v[i].max || a > v[i].fast_ram)
				bad++;
		}
		if (sum > p.budget || served != best_served(&p, v, n, 0, p.budget))
			bad++;
		/* Shares follow weight x shortfall among the unmet. */
		avail = p.budget - sum_lo;
		for (i = 0; i < n; i++) {
			for (j = 0; j < n; j++) {
				unsigned __int128 fi, fj;

				if (i == j || out[i].alloc >= want_of(&v[i]) ||
				    out[j].alloc >= want_of(&v[j]))
					continue;
				fi = (unsigned __int128)v[i].weight *
				     (want_of(&v[i]) - lo_of(&v[i]));
				fj = (unsigned __int128)v[j].weight *
				     (want_of(&v[j]) - lo_of(&v[j]));
				if ((unsigned __int128)(out[i].alloc - lo_of(&v[i]) +
							n * G) * fj <
				    (unsigned __int128)(out[j].alloc - lo_of(&v[j])) * fi)
					unfair++;
			}
		}
		(void)avail;
		(void)ftot;
	}
	tap_ok(!bad, "seed %#" PRIx64 ": 3000 families: within [min, max], within the budget, "
	       "as much demand served as the brute-force optimum (%u bad)", seed, bad);
	tap_ok(!unfair, "seed %#" PRIx64 ": unmet VMs share by weight x shortfall "
	       "within a granule each (%u pairs off)", seed, unfair);
}

/* Apply a round: the devices reach the targets. */
static void apply(struct policy_vm *v, const struct policy_target *out, size_t n,
		  const struct policy_params *p)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!v[i].valid)
			continue;
		v[i].fast_actual = out[i].fast_target;
		if (p->keep_total)
			v[i].slow_actual = out[i].slow_target;
	}
}

static void t_rounds(uint64_t seed)
{
	struct policy_target out[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, below_min = 0, over_move = 0, over_budget = 0;
	unsigned int slow_conv = 0, unstable = 0, lost_total = 0;

	rng = seed;
	for (iter = 0; iter < 500; iter++) {
		size_t n = 2 + below(MAXN - 1), i, round;
		uint64_t totals[MAXN];
		bool done = false;

		family(&p, v, n, 64);
		p.max_move = (1 + below(8)) * G;
		p.hysteresis = below(2) ? 0 : G;
		p.keep_total = below(2);
		for (i = 0; i < n; i++) {
			/* Start anywhere within [min, max], over the budget or not. */
			uint64_t hi = v[i].max < v[i].fast_ram ? v[i].max : v[i].fast_ram;

			v[i].fast_actual = lo_of(&v[i]) + below((hi - lo_of(&v[i])) / G + 1) * G;
			v[i].total = v[i].fast_actual + v[i].slow_actual;
			totals[i] = v[i].total;
		}
		for (round = 0; round < 400 && !done; round++) {
			uint64_t moved = 0, held = 0, min_growth = 0, sum = 0;

			policy_round(&p, v, n, out);
			done = true;
			for (i = 0; i < n; i++) {
				uint64_t cur = v[i].fast_actual, t = out[i].fast_target;

				held += cur;
				if (t < lo_of(&v[i]) && t < cur)
					below_min++;
				if (cur < lo_of(&v[i]))
					min_growth += lo_of(&v[i]) - cur;
				moved += t > cur ? t - cur : cur - t;
				sum += t;
				if (t != cur || (p.keep_total &&
						 out[i].slow_target != v[i].slow_actual))
					done = false;
			}
			if (held <= p.budget && moved > p.max_move + min_growth)
				over_move++;
			if (held <= p.budget && sum > p.budget)
				over_budget++;
			apply(v, out, n, &p);
		}
		if (!done) {
			slow_conv++;
			continue;
		}
		/* Settled: where the allocation said, stable, totals kept. */
		policy_round(&p, v, n, out);
		for (i = 0; i < n; i++) {
			if (out[i].fast_target != v[i].fast_actual)
				unstable++;
			if (p.keep_total &&
			    v[i].fast_actual + v[i].slow_actual != totals[i] &&
			    v[i].slow_actual != v[i].slow_ram)
				lost_total++;
		}
	}
	tap_ok(!below_min, "seed %#" PRIx64 ": no VM is ever shrunk below its minimum (%u)",
	       seed, below_min);
	tap_ok(!over_move, "seed %#" PRIx64 ": a round moves at most max-move "
	       "(restoring minimums aside) (%u rounds over)", seed, over_move);
	tap_ok(!over_budget, "seed %#" PRIx64 ": targets never exceed the budget the VMs "
	       "leave (%u rounds over)", seed, over_budget);
	tap_ok(!slow_conv && !unstable, "seed %#" PRIx64 ": rounds converge and then stay "
	       "(%u did not converge, %u moved again)", seed, slow_conv, unstable);
	tap_ok(!lost_total, "seed %#" PRIx64 ": keep-total keeps fast + slow (%u lost)",
	       seed, lost_total);
}

/* A guest that reports anything gets what asking for its maximum gets. */
static void t_liar(uint64_t seed)
{
	struct policy_target a[MAXN], b[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, differ = 0, robbed = 0;

	rng = seed;
	for (iter = 0; iter < 2000; iter++) {
		size_t n = 2 + below(MAXN - 1), i;
		unsigned __int128 fsum = 0;
		uint64_t sum_lo = 0;

		family(&p, v, n, 32);
		v[0].hot_demand = below(2) ? UINT64_MAX : UINT64_MAX - below(G);
		policy_round(&p, v, n, a);
		v[0].hot_demand = v[0].max;
		policy_round(&p, v, n, b);
		for (i = 0; i < n; i++) {
			if (a[i].alloc != b[i].alloc)
				differ++;
			sum_lo += lo_of(&v[i]);
			fsum += (unsigned __int128)v[i].weight *
				(want_of(&v[i]) - lo_of(&v[i]));
		}
		/* Honest VMs: their minimum, and their weight share or demand. */
		for (i = 1; i < n; i++) {
			unsigned __int128 f = (unsigned __int128)v[i].weight *
					      (want_of(&v[i]) - lo_of(&v[i]));
			uint64_t share = fsum ? (uint64_t)((unsigned __int128)
					 (p.budget - sum_lo) * f / fsum) : 0;
			uint64_t floor = lo_of(&v[i]) + (share > n * G ? share - n * G : 0);

			if (floor > want_of(&v[i]))
				floor = want_of(&v[i]);
			if (a[i].alloc < floor)
				robbed++;
		}
	}
	tap_ok(!differ, "seed %#" PRIx64 ": a guest reporting 2^64-1 gets what asking for "
	       "its maximum gets, and so do the others (%u differ)", seed, differ);
	tap_ok(!robbed, "seed %#" PRIx64 ": honest VMs keep their minimum and weight share "
	       "next to a liar (%u robbed)", seed, robbed);
}

static void t_extremes(void)
{
	struct policy_vm v[2] = {
		{ .min = 0, .max = UINT64_MAX, .weight = 1000,
		  .fast_ram = UINT64_MAX, .slow_ram = UINT64_MAX,
		  .fast_actual = (uint64_t)1 << 62, .slow_actual = UINT64_MAX,
		  .hot_demand = UINT64_MAX, .valid = true },
		{ .min = 4 * G, .max = 8 * G, .weight = 1, .fast_ram = 16 * G,
		  .slow_ram = 16 * G, .fast_actual = 0, .slow_actual = 0,
		  .hot_demand = 0, .valid = true },
	};
	struct policy_params p = { .budget = (uint64_t)1 << 62, .granule = G,
				   .hysteresis = UINT64_MAX,
				   .max_move = UINT64_MAX, .keep_total = true };
	struct policy_target out[2];

	policy_round(&p, v, 2, out);
	tap_ok(out[1].alloc == 4 * G && out[1].fast_target == 0 &&
	       out[0].fast_target == ((uint64_t)1 << 62) - 4 * G,
	       "extreme values: no overflow; the VM holding the whole budget gives "
	       "back a minimum first (%" PRIu64 " granules)",
	       (((uint64_t)1 << 62) - out[0].fast_target) / G);
	v[0].fast_actual = out[0].fast_target;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].fast_target == 4 * G,
	       "then the VM below its minimum is raised to it (got %" PRIu64 ")",
	       out[1].fast_target / G);
	p.budget = 3 * G;	/* minimums do not fit: nothing overflows */
	p.granule = 0;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].alloc == 4 * G, "a budget below the minimums still gives each "
	       "its minimum, granule 0 is taken as 1");
}

static void t_hysteresis_and_no_word(void)
{
	struct policy_vm v[2] = {
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 20 * G, .slow_actual = 8 * G,
		  .hot_demand = 20 * G, .valid = true },
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 30 * G, .slow_actual = 8 * G,
		  .hot_demand = 0, .valid = false },
	};
	struct policy_params p = { .budget = 60 * G, .granule = G,
				   .hysteresis = 4 * G, .max_move = 64 * G };
	struct policy_target out[2];
	unsigned int k, changed = 0;

	for (k = 0; k < 20; k++) {
		v[0].hot_demand = (20 * G - 3 * G) + (k % 7) * G;	/* 17..23 */
		policy_round(&p, v, 2, out);
		changed += out[0].fast_target != v[0].fast_actual;
	}
	tap_ok(!changed, "demand jittering within the hysteresis moves nothing (%u)",
	       changed);
	tap_ok(out[1].fast_target == 30 * G && out[1].reason == POLICY_NO_WORD,
	       "a VM that did not answer keeps its size");
	v[0].hot_demand = 40 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 30 * G && out[0].alloc == 30 * G,
	       "the silent VM's memory counts against the budget (%" PRIu64 ")",
	       out[0].alloc / G);
}

static void t_keep_total(void)
{
	struct policy_vm v[2] = {
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 32 * G, .slow_actual = 16 * G,
		  .total = 48 * G, .hot_demand = 8 * G, .valid = true },
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 32 * G, .slow_actual = 16 * G,
		  .total = 48 * G, .hot_demand = 56 * G, .valid = true },
	};
	struct policy_params p = { .budget = 64 * G, .granule = G,
				   .max_move = 64 * G, .keep_total = true };
	struct policy_target out[2];

	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 32 * G && out[0].slow_target == 40 * G &&
	       out[0].reason == POLICY_WAIT_SLOW && out[1].fast_target == 32 * G,
	       "keep-total: the slow node grows first, the fast one waits, nobody grows "
	       "into memory not yet given back (fast %" PRIu64 ", slow %" PRIu64 ", %s)",
	       out[0].fast_target / G, out[0].slow_target / G,
	       policy_reason_name(out[0].reason));
	v[0].slow_actual = 40 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 8 * G && out[1].fast_target == 32 * G,
	       "keep-total: once the slow node has grown, the fast one shrinks");
	v[0].fast_actual = 8 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].fast_target == 56 * G && out[1].slow_target == 16 * G,
	       "the other VM grows into the memory given back, its slow node waits");
	v[1].fast_actual = 56 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].slow_target == 0 &&
	       out[0].fast_target == 8 * G && out[0].slow_target == 40 * G,
	       "then its slow node gives back what the fast one gained (%" PRIu64 ")",
	       out[1].slow_target / G);
	tap_ok(!strcmp(policy_reason_name(POLICY_WAIT_SLOW), "waiting-for-slow") &&
	       !strcmp(policy_reason_name((enum policy_reason)99), "?"),
	       "reason names");
}

int main(void)
{
	static const uint64_t seeds[] = { 0x1, 0x5eed, 0xdeadbeef, 0x123456789 };
	size_t i;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		t_brute_force(seeds[i]);
		t_rounds(seeds[i]);
		t_liar(seeds[i]);
	}
	t_extremes();
	t_hysteresis_and_no_word();
	t_keep_total();
	return tap_done();
}
