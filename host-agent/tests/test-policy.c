// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-policy.c - hballoond's policy against a brute-force optimum and its
 * invariants, on seeded random families of VMs (the seeds are fixed below
 * and printed), including guests that report anything at all, plus
 * directed cases for hysteresis, keep-total, the move cap and validation
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "tap.h"

#define G	((uint64_t)2 << 20)	/* the granule */
#define MAXN	8

typedef unsigned __int128 u128;

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

/* The spec, written again independently of policy.c. */
static uint64_t hi_of(const struct policy_vm *v)
{
	return v->max < v->fast_ram ? v->max : v->fast_ram;
}

static uint64_t lo_of(const struct policy_vm *v)
{
	return v->min < hi_of(v) ? v->min : hi_of(v);
}

static uint64_t want_of(const struct policy_vm *v)
{
	uint64_t d = v->hot_demand > UINT64_MAX - G ? UINT64_MAX :
		     (v->hot_demand + G - 1) / G * G;

	d = d < lo_of(v) ? lo_of(v) : d;
	return d > hi_of(v) ? hi_of(v) : d;
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/*
 * What a fast target costs of max-move: a growth from the size, a shrink
 * from where the node is headed (a shrink under way is not charged again).
 * @cur is the VM's booked size.
 */
static uint64_t move_cost(const struct policy_vm *v, uint64_t cur, uint64_t t)
{
	uint64_t headed = v->fast_asked < cur ? v->fast_asked : cur;

	if (t > cur)
		return t - cur;
	return headed > t ? headed - t : 0;
}

/* A random family: @n VMs, sizes in granules up to @units, at their min. */
static void family(struct policy_params *p, struct policy_vm *v, size_t n,
		   uint64_t units)
{
	uint64_t sum_min = 0;
	size_t i;

	memset(v, 0, n * sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i].fast_ram = (1 + below(units)) * G;
		v[i].min = below(v[i].fast_ram / G / 2 + 1) * G;
		/* max may exceed the node's RAM: the RAM bounds it then */
		v[i].max = v[i].min + below(v[i].fast_ram / G - v[i].min / G + 3) * G;
		v[i].weight = 1 + (unsigned int)below(4) * 50 +
			      (below(4) ? 0 : (unsigned int)below(1000));
		if (v[i].weight > 1000)
			v[i].weight = 1000;
		v[i].slow_ram = 4 * units * G;
		v[i].slow_actual = 2 * units * G;
		v[i].fast_actual = lo_of(&v[i]);
		v[i].fast_asked = v[i].fast_actual;
		v[i].hot_demand = below(units + 3) * G - (below(3) ? 0 : below(G));
		if (!below(8))
			v[i].hot_demand = UINT64_MAX - below(2) * below(UINT64_MAX);
		v[i].valid = true;
		sum_min += lo_of(&v[i]);
	}
	p->granule = G;
	p->budget = sum_min + below(units * n / 2 + 2) * G;
	p->hysteresis = 0;
	p->max_move = UINT64_MAX;
	p->keep_total = false;
}

/* Enumerate every allocation on the granule grid: the most demand served. */
static uint64_t best_served(const struct policy_vm *v, size_t n, size_t i,
			    uint64_t left, unsigned long *count)
{
	uint64_t best = 0, a;

	if (i == n) {
		++*count;
		return 0;
	}
	for (a = lo_of(&v[i]); a <= hi_of(&v[i]) && a <= left; a += G) {
		uint64_t s = (a < want_of(&v[i]) ? a : want_of(&v[i])) +
			     best_served(v, n, i + 1, left - a, count);

		if (s > best)
			best = s;
	}
	return best;
}

/* weight x (want - lo): the water-filling factor */
static u128 fac(const struct policy_vm *v)
{
	return (u128)v->weight * (want_of(v) - lo_of(v));
}

static void t_brute_force(uint64_t seed)
{
	struct policy_target out[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, bad = 0, worse = 0, withheld = 0, unfair = 0;
	unsigned int moved = 0, off_share = 0;
	unsigned long count = 0;

	rng = seed;
	for (iter = 0; iter < 3000; iter++) {
		size_t n = 2 + below(3), i, j;
		uint64_t served = 0, sum = 0, best;
		bool unmet = false;

		family(&p, v, n, 4 + below(13));
		policy_round(&p, v, n, out);
		for (i = 0; i < n; i++) {
			uint64_t a = out[i].alloc, w = want_of(&v[i]);

			served += a < w ? a : w;
			sum += a;
			unmet |= a < w;
			if (a < lo_of(&v[i]) || a > hi_of(&v[i]) ||
			    a > v[i].max || a > v[i].fast_ram)
				bad++;
			/* at their minimum, nothing to shrink: there at once */
			if (out[i].fast_target != a)
				moved++;
		}
		best = best_served(v, n, 0, p.budget, &count);
		if (sum > p.budget)
			bad++;
		if (served != best) {
			worse++;
			if (worse == 1)
				tap_diag("iteration %u: served %" PRIu64 " granules, "
					 "the best allocation %" PRIu64, iter,
					 served / G, best / G);
		}
		if (unmet && p.budget - sum >= G)
			withheld++;
		/*
		 * Given who is met, the rest (A) goes to the others exactly in
		 * proportion to weight x (want - min), each within a granule:
		 * |(a_u - lo_u) - A x f_u / F| < G.
		 */
		if (unmet) {
			u128 F = 0, A = p.budget;

			for (i = 0; i < n; i++) {
				A -= lo_of(&v[i]);
				if (out[i].alloc >= want_of(&v[i]))
					A -= out[i].alloc - lo_of(&v[i]);
				else
					F += fac(&v[i]);
			}
			for (i = 0; i < n && F; i++) {
				u128 got = (u128)(out[i].alloc - lo_of(&v[i])) * F;
				u128 exact = A * fac(&v[i]);

				if (out[i].alloc >= want_of(&v[i]))
					continue;
				if ((got > exact ? got - exact : exact - got) >= (u128)G * F) {
					if (!off_share++)
						tap_diag("iteration %u: VM %zu has %" PRIu64
							 " granules over its minimum, its exact "
							 "share is %.2f", iter, i,
							 (out[i].alloc - lo_of(&v[i])) / G,
							 (double)exact / (double)F / (double)G);
				}
			}
		}
		/*
		 * Water-filling: every VM is within a granule of a common level
		 * c x weight x (want - min); one still short of its demand is
		 * not below it, and none above it: for i with something above
		 * its minimum and j still unmet,
		 * (a_i - lo_i - G) / f_i <= (a_j - lo_j + G) / f_j.
		 */
		for (i = 0; i < n; i++) {
			for (j = 0; j < n; j++) {
				uint64_t ai = out[i].alloc - lo_of(&v[i]);
				uint64_t aj = out[j].alloc - lo_of(&v[j]);

				if (i == j || ai <= G || out[j].alloc >= want_of(&v[j]))
					continue;
				if ((u128)(ai - G) * fac(&v[j]) >
				    (u128)(aj + G) * fac(&v[i])) {
					if (!unfair++)
						tap_diag("iteration %u: VM %zu has %" PRIu64
							 " granules over its minimum (f %u x %" PRIu64
							 "), VM %zu %" PRIu64 " (f %u x %" PRIu64 ")",
							 iter, i, ai / G, v[i].weight,
							 (want_of(&v[i]) - lo_of(&v[i])) / G,
							 j, aj / G, v[j].weight,
							 (want_of(&v[j]) - lo_of(&v[j])) / G);
				}
			}
		}
	}
	printf("# seed %#" PRIx64 ": %lu allocations enumerated\n", seed, count);
	tap_ok(!bad, "seed %#" PRIx64 ": 3000 families of 2-4 VMs (up to 16 granules): "
	       "allocations within [min, max] and the node, within the budget (%u bad)",
	       seed, bad);
	tap_ok(!worse, "seed %#" PRIx64 ": as much demand served as the best of all "
	       "allocations enumerated (%u worse)", seed, worse);
	tap_ok(!withheld, "seed %#" PRIx64 ": no granule of budget withheld while a VM "
	       "is short of its demand (%u)", seed, withheld);
	tap_ok(!unfair, "seed %#" PRIx64 ": shares follow weight x unmet demand within "
	       "a granule (%u pairs off)", seed, unfair);
	tap_ok(!off_share, "seed %#" PRIx64 ": every VM short of its demand is within "
	       "a granule of its exact weight x unmet share (%u off)", seed, off_share);
	tap_ok(!moved, "seed %#" PRIx64 ": with nothing to shrink and no cap, the "
	       "targets are the allocation at once (%u not)", seed, moved);
}

/*
 * Budget beyond the demand is not handed out, but what a VM holds it keeps
 * while the budget allows, by weight when it does not.
 */
static void t_keep(uint64_t seed)
{
	struct policy_target out[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, grown = 0, cut = 0, withheld = 0, unfair = 0;
	unsigned int fits = 0, shared = 0;

	rng = seed;
	for (iter = 0; iter < 2000; iter++) {
		size_t n = 2 + below(MAXN - 1), i, j;
		uint64_t keep[MAXN], sum_keep = 0, sum_want = 0, sum = 0;
		bool met = true, short_keep = false;

		family(&p, v, n, 32);
		p.budget += below(6 * n) * G;
		for (i = 0; i < n; i++) {
			v[i].fast_actual = below(v[i].fast_ram / G + 1) * G;
			v[i].fast_asked = v[i].fast_actual;
			/* what it would keep: its demand or what it holds */
			keep[i] = want_of(&v[i]);
			if (v[i].fast_actual > keep[i])
				keep[i] = v[i].fast_actual < hi_of(&v[i]) ?
					  v[i].fast_actual : hi_of(&v[i]);
			sum_keep += keep[i];
			sum_want += want_of(&v[i]);
		}
		/* half of them: every demand fits, not all that is held */
		if (below(2))
			p.budget = sum_want + below((sum_keep - sum_want) / G + 1) * G;
		policy_round(&p, v, n, out);
		for (i = 0; i < n; i++) {
			sum += out[i].alloc;
			met &= out[i].alloc >= want_of(&v[i]);
			short_keep |= out[i].alloc < keep[i];
			if (out[i].alloc > keep[i])
				grown++;
		}
		if (sum_keep <= p.budget) {
			fits++;
			for (i = 0; i < n; i++)
				cut += out[i].alloc != keep[i];
			continue;
		}
		if (!met || !short_keep)
			continue;
		shared++;
		if (p.budget - sum >= G)
			withheld++;
		/* kept beyond the demand: by weight, within a granule */
		for (i = 0; i < n; i++) {
			for (j = 0; j < n; j++) {
				uint64_t ki = out[i].alloc - want_of(&v[i]);
				uint64_t kj = out[j].alloc - want_of(&v[j]);

				if (i == j || ki <= G || out[j].alloc >= keep[j])
					continue;
				if ((u128)(ki - G) * v[j].weight >
				    (u128)(kj + G) * v[i].weight)
					unfair++;
			}
		}
	}
	tap_ok(!grown, "seed %#" PRIx64 ": 2000 families from anywhere: nobody is given "
	       "more than its demand or what it holds (%u)", seed, grown);
	tap_ok(!cut, "seed %#" PRIx64 ": when the budget allows (%u families), every VM "
	       "keeps what it holds up to its maximum (%u cut)", seed, fits, cut);
	tap_ok(!withheld && !unfair, "seed %#" PRIx64 ": when it does not (%u families), "
	       "the budget is used up and what is kept goes by weight within a granule "
	       "(%u withheld, %u pairs off)", seed, shared, withheld, unfair);
}

/* Apply a round: the devices reach the targets. */
static void apply(struct policy_vm *v, const struct policy_target *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		v[i].fast_actual = out[i].fast_target;
		v[i].fast_asked = out[i].fast_target;
		v[i].slow_actual = out[i].slow_target;
	}
}

static void t_rounds(uint64_t seed)
{
	struct policy_target out[MAXN], first[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, below_min = 0, above_max = 0, over_move = 0;
	unsigned int over_budget = 0, grew_over = 0, dipped = 0, slow_bad = 0;
	unsigned int slow_conv = 0, unstable = 0, off_alloc = 0, lost_total = 0;
	unsigned int worst_extra = 0, over_bound = 0, runs = 0;

	rng = seed;
	for (iter = 0; iter < 400; iter++) {
		size_t n = 2 + below(MAXN - 1), i, round;
		uint64_t totals[MAXN], dist = 0, bound, ceil_rounds;
		bool done = false, tight = !below(4), forced_first = false;

		family(&p, v, n, 64);
		p.max_move = (1 + below(16)) * G;
		p.hysteresis = below(3) ? 0 : below(5) * G;
		p.keep_total = below(2);
		for (i = 0; i < n; i++) {
			/* anywhere: below min, above max, over the budget */
			v[i].fast_actual = below(v[i].fast_ram / G + 1) * G;
			v[i].slow_actual = (64 + below(128)) * G;
			v[i].fast_asked = v[i].fast_actual;
			v[i].total = v[i].fast_actual + v[i].slow_actual;
			v[i].slow_ram = tight ? v[i].slow_actual + below(8) * G :
				        256 * G;
			totals[i] = v[i].total;
		}
		for (round = 0; round < 1000 && !done; round++) {
			uint64_t moved = 0, held = 0, sum = 0, deficit = 0, must, dip, freed;
			bool over;

			for (i = 0; i < n; i++) {
				held += v[i].fast_actual;
				if (v[i].fast_actual < lo_of(&v[i]))
					deficit += lo_of(&v[i]) - v[i].fast_actual;
			}
			over = held > p.budget;
			policy_round(&p, v, n, out);
			if (!round)
				forced_first = over || deficit > p.budget - held;
			if (!round) {
				memcpy(first, out, n * sizeof(*out));
				for (i = 0; i < n; i++)
					dist += absdiff(out[i].alloc, v[i].fast_actual);
			}
			done = true;
			/* what may be forced out beyond the slow nodes' pace */
			must = held + deficit > p.budget ? held + deficit - p.budget : 0;
			dip = freed = 0;
			for (i = 0; i < n; i++) {
				uint64_t cur = v[i].fast_actual, t = out[i].fast_target;
				uint64_t keeps;

				if (t < lo_of(&v[i]) && t < cur)
					below_min++;
				if (t > hi_of(&v[i]) && t > cur)
					above_max++;
				if (over && t > cur)
					grew_over++;
				/* below the fast size its slow node keeps the total at */
				keeps = v[i].total > v[i].slow_actual ?
					v[i].total - v[i].slow_actual : 0;
				keeps = keeps < cur ? keeps : cur;
				if (p.keep_total && cur <= hi_of(&v[i]) && t < keeps)
					dip += keeps - t;
				/* freed without dipping: that much need not be forced */
				if (t < cur)
					freed += cur - (p.keep_total && cur <= hi_of(&v[i]) &&
							t < keeps ? keeps : t);
				if (out[i].slow_target > v[i].slow_ram &&
				    out[i].slow_target > v[i].slow_actual)
					slow_bad++;
				moved += absdiff(t, cur);
				sum += t;
				if (t != cur || out[i].slow_target != v[i].slow_actual)
					done = false;
			}
			/* forced: what is lacking beyond the free, within a granule */
			if (dip > (must > freed ? must - freed + G - 1 : 0) / G * G)
				dipped++;
			if (moved > p.max_move)
				over_move++;
			if (over ? sum > held : sum > p.budget)
				over_budget++;
			if (!done)
				apply(v, out, n);
		}
		if (!done) {
			slow_conv++;
			continue;
		}
		/*
		 * Rounds that moved (the last call moved nothing): the first
		 * round's distance over the cap, plus one (shrinks and growths
		 * in turn), plus one waiting for slow nodes with keep-total,
		 * plus one more with keep-total when the VMs start over the
		 * budget or a minimum short: that round forces out only what
		 * is lacking, and the other shrinks then wait for their slow
		 * nodes as usual.
		 */
		round--;
		ceil_rounds = (dist + p.max_move - 1) / p.max_move;
		bound = ceil_rounds + 1 + p.keep_total + (p.keep_total && forced_first);
		if (!p.hysteresis && !tight) {
			runs++;
			if (round > bound && !over_bound++)
				tap_diag("iteration %u: %zu rounds for %" PRIu64
					 " granules at %" PRIu64 " a round",
					 iter, round, dist / G, p.max_move / G);
			if (round > ceil_rounds + worst_extra)
				worst_extra = (unsigned int)(round - ceil_rounds);
		}
		/* Settled: stable, at the allocation, totals kept. */
		policy_round(&p, v, n, out);
		for (i = 0; i < n; i++) {
			if (out[i].fast_target != v[i].fast_actual ||
			    out[i].slow_target != v[i].slow_actual)
				unstable++;
			if (!tight && absdiff(v[i].fast_actual, first[i].alloc) >=
			    (p.hysteresis ? p.hysteresis : 1))
				off_alloc++;
			if (p.keep_total && !tight &&
			    v[i].fast_actual + v[i].slow_actual != totals[i])
				lost_total++;
		}
	}
	printf("# seed %#" PRIx64 ": %u runs without hysteresis took at most %u "
	       "rounds more than distance / max-move\n", seed, runs, worst_extra);
	tap_ok(!below_min && !above_max, "seed %#" PRIx64 ": 400 runs from anywhere: no VM "
	       "is shrunk below its minimum or grown above its maximum (%u, %u)",
	       seed, below_min, above_max);
	tap_ok(!over_move, "seed %#" PRIx64 ": every round moves the fast nodes by at "
	       "most max-move in total (%u rounds over)", seed, over_move);
	tap_ok(!over_budget && !grew_over, "seed %#" PRIx64 ": targets stay within the "
	       "budget; over it, no VM grows and the sum only falls (%u, %u)",
	       seed, over_budget, grew_over);
	tap_ok(!dipped && !slow_bad, "seed %#" PRIx64 ": keep-total: a fast node below "
	       "its max shrinks only as far as its slow node keeps the total, but for "
	       "what the VMs hold beyond the budget and the minimums lack (%u rounds "
	       "over); slow targets within the slow RAM (%u)", seed, dipped, slow_bad);
	tap_ok(!slow_conv && !unstable, "seed %#" PRIx64 ": rounds converge and then stay "
	       "(%u did not converge, %u moved again)", seed, slow_conv, unstable);
	tap_ok(!over_bound, "seed %#" PRIx64 ": converged within ceil(distance / max-move) "
	       "+ 1 (+ 1 with keep-total, + 2 if it starts forced) rounds (%u slower)",
	       seed, over_bound);
	tap_ok(!off_alloc, "seed %#" PRIx64 ": settled at the first round's uncapped "
	       "allocation (within the hysteresis) (%u off)", seed, off_alloc);
	tap_ok(!lost_total, "seed %#" PRIx64 ": keep-total keeps fast + slow (%u lost)",
	       seed, lost_total);
}

/*
 * Random families where one VM never gives back what it is asked for (or,
 * half the time, gives back one granule a round, and its caller stops
 * calling that progress after 3 rounds, as hballoond does): every other
 * minimum is still restored whenever it fits beside what that VM holds,
 * and the round invariants hold throughout.
 */
static void t_hostage_rounds(uint64_t seed)
{
	struct policy_target out[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, short_left = 0, below_min = 0, over_move = 0;
	unsigned int over_budget = 0, feasible = 0, worst = 0, reported = 0;
	unsigned int slow = 0, covered_needlessly = 0;

	rng = seed;
	for (iter = 0; iter < 400; iter++) {
		size_t n = 2 + below(MAXN - 1), k = below(n), i, round;
		bool trickle = below(2), restored = false, fits0 = false;
		uint64_t others = 0, short0 = 0, rounds_bound;

		family(&p, v, n, 64);
		p.max_move = (1 + below(16)) * G;
		p.hysteresis = below(3) ? 0 : below(5) * G;
		p.keep_total = below(2);
		for (i = 0; i < n; i++) {
			v[i].fast_actual = below(v[i].fast_ram / G + 1) * G;
			v[i].slow_actual = (64 + below(128)) * G;
			v[i].total = v[i].fast_actual + v[i].slow_actual;
			v[i].slow_ram = below(4) ? 256 * G :
					v[i].slow_actual + below(8) * G;
		}
		/* the others start short of their minimums now and then */
		for (i = 0; i < n; i++) {
			if (i != k && !below(3))
				v[i].fast_actual = below(lo_of(&v[i]) / G + 1) * G;
			v[i].fast_asked = v[i].fast_actual;
		}
		for (round = 0; round < 300; round++) {
			uint64_t held = 0, sum = 0, moved = 0, prev = v[k].fast_actual;
			bool all_min = true, booked_min = true;

			for (i = 0; i < n; i++) {
				uint64_t b = v[i].fast_actual > v[i].fast_asked ?
					     v[i].fast_actual : v[i].fast_asked;

				held += v[i].fast_actual;
				all_min &= v[i].fast_actual >= lo_of(&v[i]);
				booked_min &= b >= lo_of(&v[i]);
				if (!round && v[i].fast_actual < lo_of(&v[i]))
					short0 += lo_of(&v[i]) - v[i].fast_actual;
			}
			/* to move: what is lacking, and what is held beyond the budget */
			if (!round) {
				short0 += short0 + held > p.budget ?
					  short0 + held - p.budget : 0;
				/* the bound holds when the minimums fit beside the
				 * stalled VM from the start, not thanks to a trickle */
				for (i = 0; i < n; i++)
					others += i == k ? v[i].fast_actual : lo_of(&v[i]);
				fits0 = others <= p.budget;
				others = 0;
			}
			if (all_min && !restored) {
				restored = true;
				if (round > worst)
					worst = (unsigned int)round;
				rounds_bound = 2 * ((short0 + p.max_move - 1) / p.max_move) + 6;
				if (fits0 && round > rounds_bound && !slow++)
					tap_diag("iteration %u: minimums restored after %zu rounds, "
						 "%" PRIu64 " granules to move at %" PRIu64 " a round",
						 iter, round, short0 / G, p.max_move / G);
			}
			policy_round(&p, v, n, out);
			for (i = 0; i < n && booked_min; i++)
				covered_needlessly += out[i].reason == POLICY_COVERS;
			for (i = 0; i < n; i++) {
				uint64_t cur = v[i].fast_actual, t = out[i].fast_target;

				if (t < lo_of(&v[i]) && t < cur)
					below_min++;
				moved += move_cost(&v[i], cur, t);
				sum += t;
			}
			if (moved > p.max_move)
				over_move++;
			if (held <= p.budget ? sum > p.budget : sum > held)
				over_budget++;
			apply(v, out, n);
			/* It grows when asked, but does not shrink (or barely). */
			if (out[k].fast_target < prev)
				v[k].fast_actual = trickle && prev - G >= out[k].fast_target ?
						   prev - G : prev;
			/* hballoond's credit: 3 rounds of the last progress */
			v[k].shrink_credit = v[k].fast_asked < v[k].fast_actual &&
					     v[k].fast_actual < prev ?
					     3 * (prev - v[k].fast_actual) : 0;
		}
		for (i = 0; i < n; i++)
			if (i != k)
				others += lo_of(&v[i]);
		if (others + v[k].fast_actual > p.budget ||
		    v[k].fast_actual < lo_of(&v[k]))
			continue;
		feasible++;
		for (i = 0; i < n; i++)
			short_left += v[i].fast_actual < lo_of(&v[i]);
		if (short_left && !reported++)
			tap_diag("iteration %u: a minimum is short after 300 rounds "
				 "(VM %zu holds %" PRIu64 " granules)", iter, k,
				 v[k].fast_actual / G);
	}
	printf("# seed %#" PRIx64 ": %u of 400 hostage runs could restore every "
	       "minimum; the slowest took %u rounds\n", seed, feasible, worst);
	tap_ok(!short_left && feasible > 100, "seed %#" PRIx64 ": a VM that does not "
	       "give memory back keeps no other VM below its minimum when it fits "
	       "(%u minimums short after 300 rounds, in %u runs)",
	       seed, short_left, feasible);
	tap_ok(!slow, "seed %#" PRIx64 ": ... within 2 x ceil(moves / max-move) + 6 rounds "
	       "(moves: what the minimums lack and what is held beyond the budget) "
	       "when they fit beside it from the start, however much it holds "
	       "(%u slower)", seed, slow);
	tap_ok(!covered_needlessly, "seed %#" PRIx64 ": nobody covers while every "
	       "minimum is met (%u rounds)", seed, covered_needlessly);
	tap_ok(!below_min && !over_move && !over_budget, "seed %#" PRIx64 ": ... and "
	       "meanwhile nobody is shrunk below its minimum, max-move holds, the "
	       "budget holds (%u, %u, %u)", seed, below_min, over_move, over_budget);
}

/* A guest that reports anything gets what asking for its maximum gets. */
static void t_liar(uint64_t seed)
{
	struct policy_target a[MAXN], b[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, differ = 0, robbed = 0, too_much = 0;

	rng = seed;
	for (iter = 0; iter < 2000; iter++) {
		size_t n = 2 + below(MAXN - 1), i, liar = below(n);
		uint64_t sum_lo = 0, avail;
		u128 fsum = 0;
		bool settled = below(2);

		family(&p, v, n, 32);
		if (!settled) {
			/* anywhere, with hysteresis, a cap and keep-total */
			p.max_move = (1 + below(16)) * G;
			p.hysteresis = below(3) * G;
			p.keep_total = below(2);
			for (i = 0; i < n; i++) {
				v[i].fast_actual = below(v[i].fast_ram / G + 1) * G;
				v[i].fast_asked = v[i].fast_actual;
				v[i].total = v[i].fast_actual + v[i].slow_actual;
			}
		}
		switch (below(3)) {
		case 0:
			v[liar].hot_demand = UINT64_MAX;
			break;
		case 1:
			v[liar].hot_demand = UINT64_MAX - below(G);
			break;
		default:
			v[liar].hot_demand = v[liar].max + 1 + below(UINT64_MAX - v[liar].max - 1);
		}
		policy_round(&p, v, n, a);
		v[liar].hot_demand = v[liar].max;
		policy_round(&p, v, n, b);
		for (i = 0; i < n; i++) {
			if (a[i].alloc != b[i].alloc || a[i].fast_target != b[i].fast_target ||
			    a[i].slow_target != b[i].slow_target)
				differ++;
			sum_lo += lo_of(&v[i]);
			fsum += fac(&v[i]);
		}
		if (a[liar].alloc > hi_of(&v[liar]) ||
		    (a[liar].fast_target > hi_of(&v[liar]) &&
		     a[liar].fast_target > v[liar].fast_actual))
			too_much++;
		if (!settled)
			continue;
		/*
		 * Honest VMs (at their minimum): their minimum, and their
		 * demand or at least their weight x unmet share of what is
		 * above the minimums, less a granule of rounding.
		 */
		avail = p.budget - sum_lo;
		for (i = 0; i < n; i++) {
			uint64_t share, floor;

			if (i == liar)
				continue;
			share = fsum ? (uint64_t)((u128)avail * fac(&v[i]) / fsum) : 0;
			floor = lo_of(&v[i]) + (share > G ? share - G : 0);
			if (floor > want_of(&v[i]))
				floor = want_of(&v[i]);
			if (a[i].alloc < floor || a[i].fast_target < lo_of(&v[i]))
				robbed++;
		}
	}
	tap_ok(!differ, "seed %#" PRIx64 ": a guest reporting anything above its maximum "
	       "(2^64-1 included) gets what asking for its maximum gets, and so do the "
	       "others: allocations and targets (%u differ)", seed, differ);
	tap_ok(!too_much, "seed %#" PRIx64 ": the liar gets no more than its maximum (%u)",
	       seed, too_much);
	tap_ok(!robbed, "seed %#" PRIx64 ": honest VMs keep their minimum and weight share "
	       "next to a liar asking for everything (%u robbed)", seed, robbed);
}

/* Any value in any field: sane targets, no overflow (UBSan watches). */
static uint64_t pick(void)
{
	static const uint64_t odd[] = {
		0, 1, 4096, G - 1, G, G + 1, (uint64_t)1 << 32, (uint64_t)1 << 62,
		(uint64_t)1 << 63, UINT64_MAX - G, UINT64_MAX - 1, UINT64_MAX,
	};

	switch (below(3)) {
	case 0:
		return odd[below(sizeof(odd) / sizeof(odd[0]))];
	case 1:
		return below(64) * G;
	default:
		return rnd();
	}
}

static void t_fuzz(uint64_t seed)
{
	struct policy_target out[MAXN];
	struct policy_vm v[MAXN];
	struct policy_params p;
	unsigned int iter, bad = 0, over = 0, moved_bad = 0, alloc_bad = 0;
	unsigned int valid_but_bad = 0, accepted = 0;
	char err[256];

	rng = seed;
	for (iter = 0; iter < 20000; iter++) {
		size_t n = 1 + below(MAXN), i;
		uint64_t held = 0, sum = 0, moved = 0, sum_lo = 0, sum_alloc = 0;
		bool all_valid = true, lo_sat = false, al_sat = false;
		bool held_sat = false, sum_sat = false, moved_sat = false;

		for (i = 0; i < n; i++) {
			v[i] = (struct policy_vm){
				.min = pick(), .max = pick(), .fast_ram = pick(),
				.slow_ram = pick(), .fast_actual = pick(),
				.slow_actual = pick(), .fast_asked = pick(),
				.hot_demand = pick(),
				.total = below(2) ? 0 : pick(), .valid = below(4),
				.shrink_credit = below(2) ? pick() : 0,
			};
			v[i].weight = below(2) ? (unsigned int)below(1002) :
				      (unsigned int)rnd();
			all_valid &= v[i].valid;
		}
		p = (struct policy_params){
			.budget = pick(), .granule = below(4) ? G : pick(),
			.hysteresis = below(2) ? 0 : pick(),
			.max_move = pick(), .keep_total = below(2),
		};
		policy_round(&p, v, n, out);
		for (i = 0; i < n; i++) {
			/* booked: a grow under way counts as landed */
			uint64_t cur = v[i].fast_asked < v[i].fast_actual ?
				       v[i].fast_actual : v[i].fast_asked;
			uint64_t t = out[i].fast_target;

			cur = cur < v[i].fast_ram ? cur : v[i].fast_ram;

			if (t > (hi_of(&v[i]) > cur ? hi_of(&v[i]) : cur) ||
			    t < (lo_of(&v[i]) < cur ? lo_of(&v[i]) : cur) ||
			    (unsigned int)out[i].reason >= POLICY_NR_REASONS ||
			    out[i].slow_target > (v[i].slow_actual > v[i].slow_ram ?
						  v[i].slow_actual : v[i].slow_ram))
				bad++;
			if (out[i].alloc < lo_of(&v[i]))
				alloc_bad++;
			held_sat |= held > UINT64_MAX - cur;
			held += cur;
			sum_sat |= sum > UINT64_MAX - t;
			sum += t;
			lo_sat |= sum_lo > UINT64_MAX - lo_of(&v[i]);
			sum_lo += lo_of(&v[i]);
			al_sat |= sum_alloc > UINT64_MAX - out[i].alloc;
			sum_alloc += out[i].alloc;
			moved_sat |= moved > UINT64_MAX - move_cost(&v[i], cur, t);
			moved += move_cost(&v[i], cur, t);
		}
		if (!held_sat && held <= p.budget && (sum_sat || sum > p.budget))
			over++;
		if (!held_sat && held > p.budget && (sum_sat || sum > held))
			over++;
		if (all_valid && !lo_sat && sum_lo <= p.budget &&
		    (al_sat || sum_alloc > p.budget))
			over++;
		if (!moved_sat && moved > p.max_move)
			moved_bad++;
		if (!policy_validate(&p, v, n, err, sizeof(err))) {
			u128 mins = 0;

			valid_but_bad += !p.granule || p.granule % 4096 ||
					 p.max_move < p.granule;
			for (i = 0; i < n && p.granule; i++) {
				mins += v[i].min;
				if (v[i].min > v[i].max || !v[i].weight ||
				    v[i].weight > 1000 || v[i].min % p.granule ||
				    v[i].max % p.granule ||
				    (v[i].fast_ram && v[i].min > v[i].fast_ram))
					valid_but_bad++;
			}
			valid_but_bad += mins > p.budget;
			accepted++;
		}
	}
	tap_ok(!bad && !alloc_bad, "seed %#" PRIx64 ": 20000 rounds of any value in every "
	       "field: targets within [min(lo, size), max(hi, size)], slow targets "
	       "within the slow RAM, allocations at least the minimum (%u, %u)",
	       seed, bad, alloc_bad);
	tap_ok(!over, "seed %#" PRIx64 ": ... and within the budget (%u over)", seed, over);
	tap_ok(!moved_bad, "seed %#" PRIx64 ": ... and no move beyond max-move (%u)",
	       seed, moved_bad);
	tap_ok(!valid_but_bad, "seed %#" PRIx64 ": policy_validate() accepts none of the "
	       "bad ones (%u accepted, %u bad)", seed, accepted, valid_but_bad);
}

static void t_extremes(void)
{
	struct policy_vm v[2] = {
		{ .min = 0, .max = UINT64_MAX, .weight = 1000,
		  .fast_ram = UINT64_MAX, .slow_ram = UINT64_MAX,
		  .fast_actual = (uint64_t)1 << 62, .slow_actual = UINT64_MAX,
		  .fast_asked = (uint64_t)1 << 62, .hot_demand = UINT64_MAX,
		  .valid = true },
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
	       out[1].reason == POLICY_WAIT_ROOM &&
	       out[0].fast_target == ((uint64_t)1 << 62) - 4 * G,
	       "extreme values: no overflow; the VM holding the whole budget gives "
	       "back a minimum first, hysteresis or not (%" PRIu64 " granules, %s)",
	       (((uint64_t)1 << 62) - out[0].fast_target) / G,
	       policy_reason_name(out[1].reason));
	v[0].fast_actual = v[0].fast_asked = out[0].fast_target;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].fast_target == 4 * G,
	       "then the VM below its minimum is raised to it (got %" PRIu64 ")",
	       out[1].fast_target / G);

	/* two VMs asking for 2^64: shares by weight, exactly, near 2^63 */
	v[0] = (struct policy_vm){ .max = UINT64_MAX, .weight = 1000,
				   .fast_ram = UINT64_MAX, .hot_demand = UINT64_MAX,
				   .valid = true };
	v[1] = v[0];
	v[1].weight = 3;
	p = (struct policy_params){ .budget = (uint64_t)1 << 63, .granule = G,
				    .max_move = UINT64_MAX };
	policy_round(&p, v, 2, out);
	tap_ok(out[0].alloc + out[1].alloc == p.budget &&
	       absdiff(out[0].alloc / 1000, out[1].alloc / 3) <= G,
	       "2^63 shared by weights 1000:3 between two VMs asking for 2^64 "
	       "(%" PRIu64 " : %" PRIu64 ")", out[0].alloc, out[1].alloc);

	v[0] = (struct policy_vm){ .min = 4 * G, .max = 8 * G, .weight = 1,
				   .fast_ram = 16 * G, .valid = true };
	v[1] = v[0];
	p = (struct policy_params){ .budget = 3 * G, .granule = 0,
				    .max_move = UINT64_MAX };
	policy_round(&p, v, 2, out);
	tap_ok(out[0].alloc == 4 * G && out[1].alloc == 4 * G,
	       "a budget below the minimums still gives each its minimum, granule 0 "
	       "is taken as 1");
}

static void t_hysteresis(void)
{
	struct policy_vm v[2] = {
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 20 * G, .slow_actual = 8 * G,
		  .fast_asked = 20 * G, .hot_demand = 20 * G, .valid = true },
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 30 * G, .slow_actual = 8 * G,
		  .fast_asked = 30 * G, .hot_demand = 30 * G, .valid = true },
	};
	struct policy_params p = { .budget = 60 * G, .granule = G,
				   .hysteresis = 4 * G, .max_move = 64 * G };
	struct policy_target out[2];
	unsigned int k, changed = 0;

	for (k = 0; k < 40; k++) {
		v[0].hot_demand = 17 * G + (k * 5 % 7) * G - (k & 1) * 4096; /* 17..23 */
		policy_round(&p, v, 2, out);
		changed += out[0].fast_target != v[0].fast_actual ||
			   out[1].fast_target != v[1].fast_actual;
		apply(v, out, 2);
	}
	tap_ok(!changed && v[0].fast_actual == 20 * G,
	       "hysteresis: demand jittering within it for 40 rounds moves nothing (%u)",
	       changed);
	v[0].hot_demand = 25 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 25 * G && out[0].reason == POLICY_DEMAND,
	       "a change of the hysteresis or more is made (%" PRIu64 ", %s)",
	       out[0].fast_target / G, policy_reason_name(out[0].reason));

	/* Kept above its allocation would break the budget: moved after all. */
	v[0].fast_actual = v[0].fast_asked = 22 * G;	/* nothing under way */
	v[0].hot_demand = 20 * G;
	v[1].fast_actual = v[1].fast_asked = 20 * G;
	v[1].hot_demand = 20 * G;
	p.budget = 40 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].alloc == 20 * G && out[0].fast_target == 20 * G &&
	       out[0].reason == POLICY_DEMAND && out[1].fast_target == 20 * G,
	       "hysteresis does not keep a VM over the budget (%" PRIu64 ", %s)",
	       out[0].fast_target / G, policy_reason_name(out[0].reason));
	/* ... nor below its minimum */
	v[0].min = 24 * G;
	v[0].fast_actual = v[0].fast_asked = 22 * G;
	v[1].fast_actual = v[1].fast_asked = 10 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 24 * G && out[1].fast_target == 16 * G,
	       "hysteresis does not keep a VM below its minimum (%" PRIu64 ")",
	       out[0].fast_target / G);
}

static void t_no_word(void)
{
	struct policy_vm v[2] = {
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 20 * G, .slow_actual = 8 * G,
		  .fast_asked = 20 * G, .hot_demand = 40 * G, .valid = true },
		{ .min = 4 * G, .max = 64 * G, .weight = 100, .fast_ram = 64 * G,
		  .slow_ram = 64 * G, .fast_actual = 30 * G, .slow_actual = 8 * G,
		  .fast_asked = 30 * G, .total = 40 * G, .hot_demand = 0,
		  .valid = false },
	};
	struct policy_params p = { .budget = 60 * G, .granule = G,
				   .hysteresis = 4 * G, .max_move = 64 * G,
				   .keep_total = true };
	struct policy_target out[2];

	policy_round(&p, v, 2, out);
	tap_ok(out[1].fast_target == 30 * G && out[1].slow_target == 8 * G &&
	       out[1].reason == POLICY_NO_WORD,
	       "a VM without word keeps its sizes, its slow node too");
	tap_ok(out[0].fast_target == 30 * G && out[0].alloc == 30 * G,
	       "its memory counts against the budget (the other gets %" PRIu64 ")",
	       out[0].alloc / G);
	v[1].min = 34 * G;
	v[0].fast_actual = v[0].fast_asked = 24 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].fast_target == 34 * G && out[0].fast_target == 24 * G,
	       "... but it is raised to its minimum (%" PRIu64 ")",
	       out[1].fast_target / G);

	/* It stopped answering on its way up from 30 to 40 GiB. */
	v[1].min = 4 * G;
	v[1].fast_asked = 40 * G;
	v[0].fast_actual = v[0].fast_asked = 20 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].alloc == 40 * G && out[0].alloc == 20 * G &&
	       out[0].fast_target == 20 * G,
	       "a grow under way counts as landed: its memory is not handed out "
	       "twice (the other gets %" PRIu64 ")", out[0].alloc / G);
	v[1].fast_asked = 10 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].alloc == 30 * G && out[0].alloc == 30 * G,
	       "a shrink under way does not: it counts at what it holds");

	/* One that answers, on its way up from 20 to 30 GiB: booked too. */
	v[1].valid = true;
	v[1].hot_demand = 30 * G;
	v[1].fast_actual = 20 * G;
	v[1].fast_asked = 30 * G;
	v[0].hot_demand = 30 * G;
	p.budget = 50 * G;
	p.keep_total = false;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].alloc == 25 * G && out[0].fast_target == 20 * G &&
	       out[0].reason == POLICY_WAIT_ROOM && out[1].fast_target == 25 * G,
	       "a grow under way of a VM that answers is booked as well: the "
	       "other waits for room (%" PRIu64 ", %s), the grow is cut back "
	       "(%" PRIu64 ")", out[0].fast_target / G,
	       policy_reason_name(out[0].reason), out[1].fast_target / G);
}

/*
 * A VM of the keep-total forcing cases, sizes in GiB: fast node 16 GiB
 * (its max), slow node 16 GiB now, its total what it holds now.
 */
static struct policy_vm kt_vm(uint64_t min, uint64_t fast, uint64_t slow_ram,
			      uint64_t demand)
{
	return (struct policy_vm){
		.min = min * G, .max = 16 * G, .weight = 100, .fast_ram = 16 * G,
		.slow_ram = slow_ram * G, .fast_actual = fast * G, .fast_asked = fast * G,
		.slow_actual = 16 * G, .total = (fast + 16) * G,
		.hot_demand = demand * G, .valid = true,
	};
}

/*
 * A VM a granule below its minimum and no free budget: only that granule is
 * taken by force; the other shrinks still wait for their slow nodes.
 */
static void t_forced_bounded(void)
{
	struct policy_vm v[3] = {
		kt_vm(8, 7, 32, 16),
		kt_vm(4, 13, 32, 4),
		kt_vm(4, 12, 32, 4),
	};
	struct policy_params p = { .budget = 32 * G, .granule = G,
				   .max_move = 64 * G, .keep_total = true };
	struct policy_target out[3];

	policy_round(&p, v, 3, out);
	tap_ok(out[1].fast_target == 12 * G && out[1].reason == POLICY_TOTAL_DROPS &&
	       out[2].fast_target == 12 * G && out[2].reason == POLICY_WAIT_SLOW &&
	       out[1].slow_target == 21 * G && out[2].slow_target == 20 * G,
	       "a minimum 1 GiB short forces 1 GiB, from the largest excess; the "
	       "rest waits for the slow nodes (fast %" PRIu64 "/%" PRIu64 ", %s/%s)",
	       out[1].fast_target / G, out[2].fast_target / G,
	       policy_reason_name(out[1].reason), policy_reason_name(out[2].reason));
	apply(v, out, 3);
	policy_round(&p, v, 3, out);
	tap_ok(out[0].fast_target == 8 * G && out[1].fast_target == 8 * G &&
	       out[2].fast_target == 8 * G &&
	       out[1].fast_target + v[1].slow_actual == v[1].total &&
	       out[2].fast_target + v[2].slow_actual == v[2].total,
	       "next round the minimum is restored and the others shrink keeping "
	       "their totals (%" PRIu64 ", %" PRIu64 ", %" PRIu64 ")",
	       out[0].fast_target / G, out[1].fast_target / G,
	       out[2].fast_target / G);
}

/*
 * The VM with the largest excess never gives memory back: forcing must
 * pass on to a VM that does, or a minimum stays short for good.
 */
static void t_forced_hostage(void)
{
	struct policy_vm v[3] = {
		kt_vm(8, 7, 32, 16),
		kt_vm(4, 14, 32, 4),
		kt_vm(4, 11, 16, 4),
	};
	struct policy_params p = { .budget = 32 * G, .granule = G,
				   .max_move = 64 * G, .keep_total = true };
	struct policy_target out[3];
	unsigned int round;

	for (round = 0; round < 6 && v[0].fast_actual < v[0].min; round++) {
		policy_round(&p, v, 3, out);
		apply(v, out, 3);
		v[1].fast_actual = 14 * G;	/* never shrinks */
	}
	/*
	 * It is asked twice (forced, then unforced once its slow node has
	 * grown) before a round sees it has not delivered and forces another.
	 */
	tap_ok(v[0].fast_actual >= v[0].min && round <= 4,
	       "a VM that does not give back what it was asked for holds no "
	       "minimum hostage: another is forced (min restored after %u "
	       "rounds, %" PRIu64 " GiB)", round, v[0].fast_actual / G);
}

/*
 * A minimum short, and the VM with the excess has been asked to shrink:
 * while it is giving memory back, that counts and nobody else is forced;
 * once it has stalled, another VM covers for it below its own share.
 */
static void t_forced_covering(void)
{
	struct policy_vm v[3] = {
		kt_vm(8, 4, 32, 8),
		kt_vm(4, 14, 32, 4),
		kt_vm(4, 14, 32, 14),
	};
	struct policy_params p = { .budget = 32 * G, .granule = G,
				   .max_move = 2 * G, .keep_total = true };
	struct policy_target out[3];
	unsigned int round;
	bool covered = true;

	v[1].fast_asked = 6 * G;	/* asked to shrink by 8 GiB earlier */
	v[1].shrink_credit = 8 * G;	/* on pace to finish */
	policy_round(&p, v, 3, out);
	tap_ok(out[1].fast_target == 10 * G && out[1].alloc == 10 * G &&
	       out[2].fast_target == 14 * G && out[2].alloc == 14 * G,
	       "a shrink under way that is moving counts as freed: nobody else is "
	       "forced (%" PRIu64 ", %" PRIu64 ")",
	       out[1].fast_target / G, out[2].fast_target / G);
	v[1].shrink_credit = 0;		/* stalled */
	/* It never delivers: the other VM covers, 2 GiB a round, to 10 GiB. */
	for (round = 0; round < 4; round++) {
		policy_round(&p, v, 3, out);
		static const uint64_t want[4] = { 12, 12, 10, 10 };

		if (out[2].fast_target != want[round] * G ||
		    (!(round & 1) && out[2].reason != POLICY_COVERS))
			covered = false;
		apply(v, out, 3);
		v[1].fast_actual = 14 * G;
	}
	tap_ok(covered && v[0].fast_actual == 8 * G && v[2].fast_actual == 10 * G,
	       "stalled, it counts for nothing: another VM covers below its own "
	       "share until the minimum is restored (%" PRIu64 ", %" PRIu64 ")",
	       v[0].fast_actual / G, v[2].fast_actual / G);
	for (round = 0; round < 4 && v[2].fast_actual < 14 * G; round++) {
		v[1].fast_actual = 10 * G;	/* delivers at last */
		policy_round(&p, v, 3, out);
		apply(v, out, 3);
	}
	tap_ok(v[2].fast_actual == 14 * G && v[0].fast_actual == 8 * G && round == 2,
	       "once it delivers, the VM that covered grows back to its share "
	       "(%u rounds)", round);
}

#define GiB	((uint64_t)1 << 30)

/*
 * A VM of the GiB-sized cases: sizes in GiB but @fast (bytes), fast node
 * its max, 64 GiB of slow RAM, nothing under way, its total what it holds.
 */
static struct policy_vm gib_vm(uint64_t min, uint64_t max, uint64_t fast,
			       uint64_t slow, uint64_t demand)
{
	return (struct policy_vm){
		.min = min * GiB, .max = max * GiB, .weight = 100,
		.fast_ram = max * GiB, .slow_ram = 64 * GiB,
		.fast_actual = fast, .fast_asked = fast, .slow_actual = slow * GiB,
		.total = fast + slow * GiB, .hot_demand = demand * GiB, .valid = true,
	};
}

/*
 * A budget a reload lowered, a VM whose shrink has stalled above it, and
 * a minimum one granule short: the others cover that granule, not the
 * whole excess over the budget.
 */
static void t_cover_only_what_lacks(void)
{
	struct policy_vm v[3] = {
		gib_vm(2, 32, 20 * GiB, 20, 2),
		gib_vm(4, 16, 4 * GiB - G, 8, 4),
		gib_vm(2, 16, 14 * GiB, 8, 16),
	};
	struct policy_params p = { .budget = 30 * GiB, .granule = G,
				   .max_move = 64 * GiB, .keep_total = true };
	struct policy_target out[3];

	v[0].fast_asked = 12 * GiB;	/* its shrink from 20 GiB has stalled */
	policy_round(&p, v, 3, out);
	tap_ok(out[2].fast_target == 14 * GiB - G && out[2].reason == POLICY_COVERS,
	       "a minimum one granule short is covered by one granule, not by the "
	       "whole excess a stalled VM holds over a lowered budget (%" PRIu64
	       " MiB forced)", (14 * GiB - out[2].fast_target) >> 20);
}

/*
 * A VM far above its share that never gives anything back: it is asked
 * again, not deeper, so max-move goes to covering the minimum at once,
 * whatever its excess (asking it 512 MiB deeper each round took 52 rounds).
 */
static void t_stalled_not_deeper(void)
{
	struct policy_vm v[3] = {
		gib_vm(2, 32, 30 * GiB, 8, 2),
		gib_vm(8, 16, 2 * GiB, 8, 8),
		gib_vm(2, 16, 8 * GiB, 8, 16),
	};
	struct policy_params p = { .budget = 40 * GiB, .granule = G,
				   .hysteresis = 64ULL << 20,
				   .max_move = 512ULL << 20, .keep_total = true };
	struct policy_target out[3];
	unsigned int round, deeper = 0;

	for (round = 0; round < 100 && v[1].fast_actual < v[1].min; round++) {
		uint64_t asked = v[0].fast_asked;

		policy_round(&p, v, 3, out);
		deeper += round && out[0].fast_target < asked;
		apply(v, out, 3);
		v[0].fast_actual = 30 * GiB;	/* never shrinks (its slow node grows) */
	}
	/* 6 GiB to cover at 512 MiB a round, a grow after each force */
	tap_ok(v[1].fast_actual >= v[1].min && round <= 2 * 12 + 2 && deeper == 0,
	       "a stalled shrink is not made deeper: the minimum 6 GiB short is "
	       "restored in %u rounds at 512 MiB a round (%u deeper asks)",
	       round, deeper);
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
	struct policy_vm save[2];
	struct policy_params p = { .budget = 64 * G, .granule = G,
				   .max_move = 64 * G, .keep_total = true };
	struct policy_target out[2];

	v[0].fast_asked = v[1].fast_asked = 32 * G;	/* nothing under way */
	memcpy(save, v, sizeof(v));
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 32 * G && out[0].slow_target == 40 * G &&
	       out[0].reason == POLICY_WAIT_SLOW && out[1].fast_target == 32 * G &&
	       out[1].reason == POLICY_WAIT_ROOM,
	       "keep-total: the slow node grows first, the fast one waits, nobody grows "
	       "into memory not yet given back (fast %" PRIu64 ", slow %" PRIu64 ", %s, %s)",
	       out[0].fast_target / G, out[0].slow_target / G,
	       policy_reason_name(out[0].reason), policy_reason_name(out[1].reason));
	v[0].slow_actual = 28 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 20 * G && out[0].slow_target == 40 * G &&
	       out[0].reason == POLICY_WAIT_SLOW,
	       "the slow node half-way: the fast one shrinks as far as it keeps the "
	       "total (%" PRIu64 ")", out[0].fast_target / G);
	v[0].slow_actual = 40 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 8 * G && out[1].fast_target == 32 * G,
	       "once the slow node has grown, the fast one shrinks");
	v[0].fast_actual = v[0].fast_asked = 8 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].fast_target == 56 * G && out[1].slow_target == 16 * G,
	       "the other VM grows into the memory given back, its slow node waits");
	v[1].fast_actual = 56 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].slow_target == POLICY_PAGE_SIZE &&
	       out[0].fast_target == 8 * G && out[0].slow_target == 40 * G,
	       "then its slow node gives back what the fast one gained, but keeps "
	       "a page (a node cannot be resized to nothing) (%" PRIu64 " KiB)",
	       out[1].slow_target >> 10);

	/* The slow node can take only 8 GiB more: the fast one stops there. */
	memcpy(v, save, sizeof(v));
	v[0].slow_ram = 24 * G;
	policy_round(&p, v, 2, out);
	apply(v, out, 2);
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 24 * G && out[0].slow_target == 24 * G &&
	       out[0].reason == POLICY_SLOW_FULL,
	       "a full slow node: the fast one shrinks only by what it can take "
	       "(%" PRIu64 ", %s)", out[0].fast_target / G,
	       policy_reason_name(out[0].reason));
	apply(v, out, 2);
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 24 * G && out[0].reason == POLICY_SLOW_FULL &&
	       out[1].fast_target == 40 * G && out[1].reason == POLICY_WAIT_ROOM,
	       "and stays there; the other grows into what it gave (%" PRIu64 ", %s)",
	       out[1].fast_target / G, policy_reason_name(out[1].reason));

	/* Above its (lowered) maximum: shrinks, full slow node or not. */
	memcpy(v, save, sizeof(v));
	v[0].slow_ram = 24 * G;
	v[0].max = 16 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 8 * G && out[0].slow_target == 24 * G &&
	       out[0].reason == POLICY_TOTAL_DROPS,
	       "above its maximum it shrinks at once, and says the total drops "
	       "(%" PRIu64 ", %s)", out[0].fast_target / G,
	       policy_reason_name(out[0].reason));

	/* A minimum is never held hostage by another VM's full slow node. */
	v[0] = (struct policy_vm){ .min = 8 * G, .max = 8 * G, .weight = 100,
				   .fast_ram = 16 * G, .slow_ram = 16 * G,
				   .fast_actual = 4 * G, .slow_actual = 16 * G,
				   .total = 20 * G, .hot_demand = 8 * G,
				   .valid = true };
	v[1] = (struct policy_vm){ .min = 4 * G, .max = 12 * G, .weight = 100,
				   .fast_ram = 16 * G, .slow_ram = 16 * G,
				   .fast_actual = 12 * G, .slow_actual = 16 * G,
				   .total = 28 * G, .hot_demand = 12 * G,
				   .valid = true };
	p.budget = 16 * G;
	policy_round(&p, v, 2, out);
	tap_ok(out[1].fast_target == 8 * G && out[1].reason == POLICY_TOTAL_DROPS &&
	       out[0].fast_target == 4 * G && out[0].reason == POLICY_WAIT_ROOM,
	       "a VM below its minimum: the one holding the memory shrinks though its "
	       "slow node is full (%" PRIu64 ", %s)", out[1].fast_target / G,
	       policy_reason_name(out[1].reason));
	apply(v, out, 2);
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 8 * G, "... and the minimum is restored (%" PRIu64 ")",
	       out[0].fast_target / G);

	/* Without keep-total the slow nodes are left alone. */
	memcpy(v, save, sizeof(v));
	p = (struct policy_params){ .budget = 64 * G, .granule = G,
				    .max_move = 64 * G, .keep_total = false };
	policy_round(&p, v, 2, out);
	tap_ok(out[0].fast_target == 8 * G && out[0].slow_target == 16 * G &&
	       out[1].slow_target == 16 * G,
	       "keep-total off: the fast node shrinks at once, the slow nodes stay");
}

static void t_cap(void)
{
	struct policy_vm v[3];
	struct policy_params p = { .budget = 64 * G, .granule = G,
				   .max_move = 20 * G };
	struct policy_target out[3];
	size_t i, r;
	bool alternate = true;

	for (i = 0; i < 3; i++)
		v[i] = (struct policy_vm){ .min = 4 * G, .max = 64 * G, .weight = 100,
					   .fast_ram = 64 * G, .slow_ram = 64 * G,
					   .fast_actual = 4 * G, .fast_asked = 4 * G,
					   .valid = true };
	v[0].hot_demand = 32 * G;	/* 100 x 28 */
	v[1].hot_demand = 12 * G;	/* 100 x 8 */
	v[2].hot_demand = 20 * G;	/* 300 x 16: first */
	v[2].weight = 300;
	policy_round(&p, v, 3, out);
	tap_ok(out[2].fast_target == 20 * G && out[0].fast_target == 8 * G &&
	       out[1].fast_target == 4 * G && out[0].reason == POLICY_CAPPED &&
	       out[1].reason == POLICY_CAPPED,
	       "capped: the most underserved by weight x unmet go first "
	       "(%" PRIu64 ", %" PRIu64 ", %" PRIu64 ")", out[0].fast_target / G,
	       out[1].fast_target / G, out[2].fast_target / G);

	/* Free memory is used at once; the shrinks for the rest alternate. */
	v[0].fast_actual = 8 * G;
	v[0].hot_demand = 8 * G;
	v[1].fast_actual = 20 * G;
	v[1].hot_demand = 4 * G;
	v[2].fast_actual = 4 * G;
	v[2].hot_demand = 28 * G;
	v[2].weight = 100;
	for (i = 0; i < 3; i++)
		v[i].fast_asked = v[i].fast_actual;
	p.budget = 40 * G;
	p.max_move = 8 * G;
	for (r = 0; r < 5; r++) {
		policy_round(&p, v, 3, out);
		if (out[2].fast_target != 4 * G + (r + 2) / 2 * 8 * G ||
		    out[1].fast_target != 20 * G - (r + 1) / 2 * 8 * G)
			alternate = false;
		apply(v, out, 3);
	}
	tap_ok(alternate && v[1].fast_actual == 4 * G && v[2].fast_actual == 28 * G,
	       "growth into free memory first, then the shrink: 40 granules to move "
	       "in 5 rounds of 8 (%" PRIu64 ", %" PRIu64 ")", v[1].fast_actual / G,
	       v[2].fast_actual / G);

	/* Shrinks: above the maximum first, then the largest excess. */
	v[0] = (struct policy_vm){ .min = 4 * G, .max = 16 * G, .weight = 100,
				   .fast_ram = 64 * G, .fast_actual = 20 * G,
				   .fast_asked = 20 * G,
				   .hot_demand = 64 * G, .valid = true };
	v[1] = (struct policy_vm){ .min = 4 * G, .max = 64 * G, .weight = 100,
				   .fast_ram = 64 * G, .fast_actual = 30 * G,
				   .fast_asked = 30 * G,
				   .hot_demand = 8 * G, .valid = true };
	v[2] = (struct policy_vm){ .min = 4 * G, .max = 64 * G, .weight = 100,
				   .fast_ram = 64 * G, .fast_actual = 10 * G,
				   .fast_asked = 10 * G,
				   .hot_demand = 6 * G, .valid = true };
	p = (struct policy_params){ .budget = 30 * G, .granule = G,
				    .max_move = 6 * G };
	policy_round(&p, v, 3, out);
	tap_ok(out[0].fast_target == 16 * G && out[1].fast_target == 28 * G &&
	       out[2].fast_target == 10 * G && out[2].reason == POLICY_CAPPED,
	       "shrinks under the cap: above its maximum first, then the largest "
	       "excess (%" PRIu64 ", %" PRIu64 ", %" PRIu64 ")",
	       out[0].fast_target / G, out[1].fast_target / G, out[2].fast_target / G);

	/* A move cut short is cut to whole granules. */
	v[0] = (struct policy_vm){ .min = 0, .max = 8 * G, .weight = 1,
				   .fast_ram = 8 * G, .hot_demand = 8 * G,
				   .valid = true };
	p = (struct policy_params){ .budget = 8 * G, .granule = G,
				    .max_move = 5ULL << 20 };
	policy_round(&p, v, 1, out);
	tap_ok(out[0].fast_target == 2 * G && out[0].reason == POLICY_CAPPED,
	       "max-move 5 MiB: a 2 MiB granule moves 4 MiB (%" PRIu64 " KiB)",
	       out[0].fast_target >> 10);
	p.max_move = 64 * G;
	p.budget = 7ULL << 20;	/* 3.5 granules */
	policy_round(&p, v, 1, out);
	tap_ok(out[0].alloc == 3 * G && out[0].fast_target == 3 * G,
	       "a budget of 3.5 granules: 3 are handed out (%" PRIu64 " KiB)",
	       out[0].fast_target >> 10);
	v[0].max = v[0].fast_ram = 7ULL << 20;
	v[0].hot_demand = UINT64_MAX;
	policy_round(&p, v, 1, out);
	tap_ok(out[0].alloc == 7ULL << 20 && out[0].fast_target == 7ULL << 20,
	       "a node of 3.5 granules can be given whole (%" PRIu64 " KiB)",
	       out[0].fast_target >> 10);

	/* max-move below a granule: still moves, never more than max-move */
	v[0] = (struct policy_vm){ .min = 0, .max = 4 * G, .weight = 1,
				   .fast_ram = 4 * G, .hot_demand = 4 * G,
				   .valid = true };
	p = (struct policy_params){ .budget = 4 * G, .granule = G,
				    .max_move = 4096 };
	policy_round(&p, v, 1, out);
	tap_ok(out[0].fast_target == 4096 && out[0].reason == POLICY_CAPPED,
	       "max-move below a granule: moves max-move (%" PRIu64 ")",
	       out[0].fast_target);
}

static void err_is(const struct policy_params *p, const struct policy_vm *v,
		   size_t n, const char *want, const char *what)
{
	char err[256] = "";
	int r = policy_validate(p, v, n, err, sizeof(err));

	if (!tap_ok(want ? r == -1 && !strcmp(err, want) : r == 0 && !err[0],
		    "validate: %s", what))
		tap_diag("got %d '%s', want '%s'", r, err, want ? want : "");
}

static void t_validate(void)
{
	static struct policy_vm many[POLICY_MAX_VMS + 1];
	struct policy_vm v[2] = {
		{ .name = "web", .min = 512ULL << 20, .max = 8ULL << 30,
		  .weight = 200, .fast_ram = 8ULL << 30 },
		{ .min = 1ULL << 30, .max = 4ULL << 30, .weight = 1 },
	};
	struct policy_params p = { .budget = 16ULL << 30, .granule = G,
				   .hysteresis = 64ULL << 20,
				   .max_move = 512ULL << 20, .keep_total = true };
	struct policy_params q;
	struct policy_vm w[2];

	err_is(&p, v, 2, NULL, "a good configuration passes");
	err_is(&p, v, 0, NULL, "no VMs pass");
	q = p; q.granule = 0;
	err_is(&q, v, 2, "granule 0 is not a positive multiple of 4 KiB", "granule 0");
	q = p; q.granule = 6000;
	err_is(&q, v, 2, "granule 6000 is not a positive multiple of 4 KiB",
	       "granule not in pages");
	q = p; q.budget = 0;
	err_is(&q, v, 2, "budget 0 is not a positive multiple of 4 KiB", "budget 0");
	q = p; q.max_move = 1ULL << 20;
	err_is(&q, v, 2, "max-move 1 MiB is less than granule 2 MiB: nothing could move",
	       "max-move below a granule");
	memcpy(w, v, sizeof(w)); w[0].weight = 0;
	err_is(&p, w, 2, "web: weight 0 is not within 1..1000", "weight 0");
	memcpy(w, v, sizeof(w)); w[1].weight = 1001;
	err_is(&p, w, 2, "VM #1: weight 1001 is not within 1..1000",
	       "weight 1001, unnamed VM");
	memcpy(w, v, sizeof(w)); w[0].min = 10ULL << 30;
	err_is(&p, w, 2, "web: min 10 GiB is more than max 8 GiB", "min above max");
	memcpy(w, v, sizeof(w)); w[0].min = 3ULL << 20;
	err_is(&p, w, 2, "web: min 3 MiB is not a multiple of granule 2 MiB",
	       "min off the granule");
	memcpy(w, v, sizeof(w)); w[1].max = (4ULL << 30) + 4096;
	err_is(&p, w, 2, "VM #1: max 4194308 KiB is not a multiple of granule 2 MiB",
	       "max off the granule");
	memcpy(w, v, sizeof(w)); w[0].fast_ram = 256ULL << 20;
	err_is(&p, w, 2, "web: min 512 MiB is more than its fast node's RAM 256 MiB",
	       "min above the fast node's RAM");
	memcpy(w, v, sizeof(w)); w[0].min = 0; w[0].fast_ram = 0;
	err_is(&p, w, 2, NULL, "min 0 and an unknown node size pass");
	q = p; q.budget = 1ULL << 30;
	err_is(&q, v, 2, "the minimums add up to 1536 MiB, more than the budget 1 GiB",
	       "minimums over the budget");
	memcpy(w, v, sizeof(w));
	w[0].min = w[0].max = w[1].min = w[1].max = UINT64_MAX - UINT64_MAX % G;
	w[0].fast_ram = 0;
	err_is(&p, w, 2, "the minimums add up to more than 2^64 bytes, more than the "
	       "budget 16 GiB", "minimums over 2^64");
	for (size_t i = 0; i < POLICY_MAX_VMS + 1; i++)
		many[i] = (struct policy_vm){ .weight = 1, .max = G };
	err_is(&p, many, POLICY_MAX_VMS + 1, "1025 VMs: at most 1024", "too many VMs");
	tap_ok(policy_validate(&q, v, 2, NULL, 0) == -1 &&
	       policy_validate(&q, v, 2, (char[1]){ 'x' }, 0) == -1,
	       "validate: no error buffer is fine");
}

static void t_many(void)
{
	static struct policy_vm v[POLICY_MAX_VMS + 2];
	static struct policy_target out[POLICY_MAX_VMS + 2];
	struct policy_params p = { .budget = (POLICY_MAX_VMS * 4ULL) * G,
				   .granule = G, .max_move = 64 * G };
	uint64_t sum = 0, moved = 0;
	size_t i, n = POLICY_MAX_VMS + 2, bad = 0;

	rng = 42;
	for (i = 0; i < n; i++) {
		v[i] = (struct policy_vm){ .min = 2 * G, .max = 16 * G,
					   .weight = 1 + (unsigned int)below(1000),
					   .fast_ram = 16 * G,
					   .fast_actual = (2 + below(8)) * G,
					   .hot_demand = below(20) * G, .valid = true };
		v[i].fast_asked = v[i].fast_actual;
	}
	policy_round(&p, v, n, out);
	for (i = 0; i < POLICY_MAX_VMS; i++) {
		sum += out[i].alloc;
		moved += absdiff(out[i].fast_target, v[i].fast_actual);
		bad += out[i].alloc < 2 * G;
	}
	for (; i < n; i++)
		bad += out[i].fast_target != v[i].fast_actual ||
		       out[i].reason != POLICY_NO_WORD;
	tap_ok(!bad && sum <= p.budget && moved <= p.max_move,
	       "%zu VMs: the first %d share the budget, the rest keep their sizes "
	       "(%zu bad)", n, POLICY_MAX_VMS, bad);
}

static void t_reasons(void)
{
	unsigned int r, s, bad = 0;

	for (r = 0; r < POLICY_NR_REASONS; r++) {
		const char *a = policy_reason_name((enum policy_reason)r);

		if (!a || !*a || !strcmp(a, "?"))
			bad++;
		for (s = 0; s < r; s++)
			bad += !strcmp(a, policy_reason_name((enum policy_reason)s));
	}
	tap_ok(!bad && !strcmp(policy_reason_name(POLICY_WAIT_SLOW), "waiting-for-slow") &&
	       !strcmp(policy_reason_name(POLICY_NR_REASONS), "?") &&
	       !strcmp(policy_reason_name((enum policy_reason)99), "?"),
	       "reason names: one each, distinct; '?' out of range");
}

/* The demand window: up at once, down only when the window forgets. */
static void t_demand_window(void)
{
	struct policy_demand d = { .len = 0 };
	bool kept = true, bounded = true;
	uint64_t v = 0;
	int i;

	tap_ok(policy_demand_peak(&d, 0, 30, true, 300) == 300, "window: first report");
	tap_ok(policy_demand_peak(&d, 2, 30, true, 480) == 480, "window: rises at once");
	tap_ok(policy_demand_peak(&d, 4, 30, true, 170) == 480, "window: a dip is ignored");
	/* The 480 at t=2 counts until 2 + 30 + 30/62 (its entry's bucket). */
	tap_ok(policy_demand_peak(&d, 32.48, 30, true, 170) == 480,
	       "window: a report a window and less than a bucket old counts");
	tap_ok(policy_demand_peak(&d, 32.49, 30, true, 170) == 170,
	       "window: falls once the peak's entry is older than the window");
	tap_ok(policy_demand_peak(&d, 34, 30, false, 999) == 0 && d.len > 0,
	       "window: no report (hplace paused) gives 0 and keeps the entries");
	tap_ok(policy_demand_peak(&d, 35, 30, true, 100) == 170,
	       "window: after a pause, the reports before it still count");
	d.len = 0;
	policy_demand_peak(&d, 36, 0, true, 500);
	tap_ok(policy_demand_peak(&d, 37, 0, true, 50) == 50 && d.len == 1,
	       "window 0: the last instant only");
	/*
	 * A long window, a report a second: 1000 at t=0, then 10s. The entry
	 * of t=0 covers 3600/62 s of reports, so the 1000 counts through
	 * 3658 s and not at 3659 s; never more than 64 entries, and the merge
	 * of a full buffer (which would stretch an entry) is never needed.
	 */
	d.len = 0;
	policy_demand_peak(&d, 0, 3600, true, 1000);
	for (i = 1; i <= 3658; i++) {
		v = policy_demand_peak(&d, i, 3600, true, 10);
		kept &= v == 1000;
		bounded &= d.len < POLICY_DEMAND_REPORTS;
	}
	tap_ok(kept, "window 3600 s, a report a second: the first counts through 3658 s");
	tap_ok(policy_demand_peak(&d, 3659, 3600, true, 10) == 10,
	       "window 3600 s: and not at 3659 s");
	for (i = 3660; i < 3 * 3600; i++)
		bounded &= policy_demand_peak(&d, i, 3600, true, 10) == 10 &&
			   d.len < POLICY_DEMAND_REPORTS;
	tap_ok(bounded, "window 3600 s, steady: fewer than 64 entries, no merge of a full buffer");
	/* Many reports at one instant (window 0): merged, never overflowing. */
	d.len = 0;
	for (i = 0; i < 2 * POLICY_DEMAND_REPORTS; i++)
		v = policy_demand_peak(&d, 5, 0, true, (uint64_t)i);
	tap_ok(v == 2 * POLICY_DEMAND_REPORTS - 1 && d.len <= POLICY_DEMAND_REPORTS,
	       "window 0, reports at one instant: bounded, largest kept");
}

int main(void)
{
	static const uint64_t seeds[] = { 0x1, 0x5eed, 0xdeadbeef, 0x123456789 };
	size_t i;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		printf("# seed %#" PRIx64 "\n", seeds[i]);
		t_brute_force(seeds[i]);
		t_keep(seeds[i]);
		t_rounds(seeds[i]);
		t_hostage_rounds(seeds[i]);
		t_liar(seeds[i]);
		t_fuzz(seeds[i]);
	}
	t_extremes();
	t_demand_window();
	t_hysteresis();
	t_no_word();
	t_forced_bounded();
	t_forced_hostage();
	t_forced_covering();
	t_stalled_not_deeper();
	t_cover_only_what_lacks();
	t_keep_total();
	t_cap();
	t_validate();
	t_many();
	t_reasons();
	return tap_done();
}
