// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for mm/hplace/range_tree.c: structural invariants after every
 * operation, split on uneven hot ranges (down to below a huge page), merge
 * of cold or even neighbours, decay, bounds under adversarial samples,
 * munmap, allocation failures, O(log n) depth, and the hand-off to
 * hplace_classify().
 */
#include <math.h>
#include "hplace_internal.h"
#include "range_tree.h"
#include "classify.h"
#include "test.h"

#define KB	1024UL
#define MB	(1024 * KB)
#define GB	(1024 * MB)
#define BASE	(0x7f0000000000UL)	/* 1 GiB aligned */
#define ONE	(1U << HPLACE_RT_COUNT_SHIFT)

static unsigned int rb_depth(const struct rb_node *n)
{
	unsigned int l, r;

	if (!n)
		return 0;
	l = rb_depth(n->rb_left);
	r = rb_depth(n->rb_right);
	return 1 + (l > r ? l : r);
}

/* Sorted, disjoint, page-aligned, counted right, balanced. */
static bool check_tree(struct hplace_rtree *t)
{
	struct hplace_range *r, *prev = NULL;
	unsigned int n = 0, depth, bound = 0, x;

	hplace_rtree_for_each(t, r) {
		T_ASSERTF(r->start < r->end, "empty range %#lx", r->start);
		T_ASSERTF(!(r->start & ~PAGE_MASK) && !(r->end & ~PAGE_MASK),
			  "unaligned [%#lx, %#lx)", r->start, r->end);
		if (prev)
			T_ASSERTF(prev->end <= r->start,
				  "overlap [%#lx, %#lx) [%#lx, %#lx)",
				  prev->start, prev->end, r->start, r->end);
		T_ASSERT(hplace_rtree_lookup(t, r->start) == r);
		T_ASSERT(hplace_rtree_lookup(t, r->end - 1) == r);
		/* Every path that changes the count keeps the long one. */
		T_ASSERTF(r->long_count >= r->count, "long %u < count %u",
			  r->long_count, r->count);
		prev = r;
		n++;
	}
	T_EQ(n, t->nr_ranges);
	T_ASSERT(t->nr_ranges <= t->p.max_ranges);
	T_ASSERT(t->pool->nr_ranges <= t->pool->max_ranges);
	/* Red-black: depth <= 2 log2(n + 1). */
	depth = rb_depth(t->root.rb_node);
	for (x = n + 1; x > 1; x >>= 1)
		bound++;
	T_ASSERTF(depth <= 2 * (bound + 1), "depth %u for %u ranges", depth, n);
	return true;
}

static struct hplace_rtree_pool pool;

static bool mk_tree(struct hplace_rtree *t, unsigned int max,
		    unsigned long pool_max)
{
	struct hplace_rtree_params p;

	hplace_rtree_default_params(&p);
	p.max_ranges = max;
	hplace_rtree_pool_init(&pool, pool_max);
	T_EQ(hplace_rtree_init(t, &pool, &p), 0);
	return true;
}

/* Poisson(lambda) by inversion; lambda well under 700. */
static unsigned int poisson(double lambda, unsigned int *seed)
{
	double u = (double)rand_r(seed) / RAND_MAX, p = exp(-lambda), c = p;
	unsigned int k = 0;

	while (u > c && k < 10000) {
		k++;
		p *= lambda / k;
		c += p;
	}
	return k;
}

/*
 * The density bounds cover the true rate of Poisson sample counts (the
 * bound each side is exceeded in well under 5% of draws), order with the
 * count, and give a one-sample range no confident density at all.
 */
static bool t_rtree_density_bounds(void)
{
	static const double lambdas[] = { 0.5, 2, 8, 30, 120, 400 };
	const u64 one = 1ULL << HPLACE_RT_COUNT_SHIFT;
	struct hplace_range r = { .start = 0, .end = 512UL << PAGE_SHIFT };
	unsigned int seed = 7, i, k, over, under;
	u64 lo, hi, plo = 0, phi = 0, truth;

	for (i = 0; i < ARRAY_SIZE(lambdas); i++) {
		truth = (u64)(lambdas[i] * one) << HPLACE_RT_DENSITY_SHIFT;
		truth /= 512;
		over = under = 0;
		for (k = 0; k < 4000; k++) {
			r.count = poisson(lambdas[i], &seed) * one;
			hplace_range_density_bounds(&r, &lo, &hi);
			T_ASSERT(lo <= hplace_range_density(&r));
			T_ASSERT(hi >= hplace_range_density(&r));
			over += lo > truth;
			under += hi < truth;
		}
		T_ASSERTF(over < 200 && under < 200,
			  "lambda %.1f: lo above truth %u, hi below %u of 4000",
			  lambdas[i], over, under);
	}
	for (k = 0; k <= 64; k++) {
		r.count = k * one;
		hplace_range_density_bounds(&r, &lo, &hi);
		T_ASSERT(lo >= plo && hi > phi);
		plo = lo;
		phi = hi;
		if (k <= 4)
			T_EQ(lo, 0);
	}
	return true;
}

static bool t_rtree_params(void)
{
	struct hplace_rtree_params p, q;
	struct hplace_rtree t;

	hplace_rtree_default_params(&p);
	hplace_rtree_pool_init(&pool, 100);
	T_EQ(hplace_rtree_init(&t, &pool, &p), 0);
	q = p;
	q.max_ranges = 0;
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	q = p;
	q.new_pages = 3;
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	q = p;
	q.min_pages = 0;
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	q = p;
	q.merge_permille = 1001;
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	q = p;
	q.decay_permille = 1001;
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	q = p;
	q.min_ranges = 0;
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	q = p;
	q.big_pages = 8 * q.min_pages - 1;	/* pieces below min_pages */
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	q = p;
	q.big_pages = ~0UL;
	T_EQ(hplace_rtree_init(&t, &pool, &q), -EINVAL);
	return true;
}

static bool t_rtree_add_lookup_record(void)
{
	struct hplace_rtree t;
	struct hplace_range *r;

	T_CALL(mk_tree(&t, 64, 64));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + GB), 1);
	T_EQ(hplace_rtree_add(&t, BASE, BASE + GB), 0);	/* already tracked */
	T_EQ(hplace_rtree_add(&t, BASE + 5, BASE + 5), -EINVAL);
	/* Overlapping add fills only the gaps. */
	T_EQ(hplace_rtree_add(&t, BASE - 4 * MB, BASE + 2 * GB), 2);
	T_EQ(t.nr_ranges, 3);
	T_CALL(check_tree(&t));

	r = hplace_rtree_lookup(&t, BASE + 123456);
	T_ASSERT(r && r->start == BASE && r->end == BASE + GB);
	T_EQ(hplace_rtree_record(&t, BASE + 123456, 1, false), 0);
	T_EQ(hplace_rtree_record(&t, BASE + GB - 1, 3, false), 0);
	T_EQ(r->count, 4 * ONE);
	T_EQ(r->sub[0], ONE);
	T_EQ(r->sub[7], 3 * ONE);
	T_EQ(hplace_range_pages(r), GB / PAGE_SIZE);
	T_EQ(hplace_range_density(r),
	     ((u64)4 * ONE << HPLACE_RT_DENSITY_SHIFT) / (GB / PAGE_SIZE));

	/* Untracked address without create: dropped, counted. */
	T_ASSERT(!hplace_rtree_lookup(&t, BASE + 3 * GB));
	T_EQ(hplace_rtree_record(&t, BASE + 3 * GB, 2, false), -ENOENT);
	T_EQ(t.stats.unmatched, 2);
	T_EQ(t.stats.samples, 4);
	hplace_rtree_destroy(&t);
	T_EQ(pool.nr_ranges, 0);
	return true;
}

static bool t_rtree_create_for_sample(void)
{
	struct hplace_rtree t;
	struct hplace_range *r;

	T_CALL(mk_tree(&t, 64, 64));
	/* A sample far from everything: a 2 MiB aligned range. */
	T_EQ(hplace_rtree_record(&t, BASE + 5 * MB + 77, 1, true), 0);
	r = hplace_rtree_lookup(&t, BASE + 5 * MB);
	T_ASSERT(r && r->start == BASE + 4 * MB && r->end == BASE + 6 * MB);
	/* Next to existing ranges: clipped by both neighbours. */
	T_EQ(hplace_rtree_add(&t, BASE + 6 * MB + 64 * KB, BASE + 7 * MB), 1);
	T_EQ(hplace_rtree_record(&t, BASE + 6 * MB + 4 * KB, 1, true), 0);
	r = hplace_rtree_lookup(&t, BASE + 6 * MB + 4 * KB);
	T_ASSERT(r && r->start == BASE + 6 * MB &&
		 r->end == BASE + 6 * MB + 64 * KB);
	T_EQ(hplace_rtree_record(&t, BASE + 7 * MB + 4 * KB, 1, true), 0);
	r = hplace_rtree_lookup(&t, BASE + 7 * MB);
	T_ASSERT(r && r->start == BASE + 7 * MB && r->end == BASE + 8 * MB);
	T_EQ(t.stats.created, 4);
	T_CALL(check_tree(&t));
	hplace_rtree_destroy(&t);
	return true;
}

/* Pages of ranges at least half as dense as the densest one. */
static unsigned long hot_extent(struct hplace_rtree *t, unsigned long *lo,
				unsigned long *hi)
{
	struct hplace_range *r;
	u64 maxd = 0;
	unsigned long pages = 0;

	hplace_rtree_for_each(t, r)
		maxd = max(maxd, hplace_range_density(r));
	*lo = ~0UL;
	*hi = 0;
	hplace_rtree_for_each(t, r) {
		if (maxd && hplace_range_density(r) * 2 >= maxd) {
			pages += hplace_range_pages(r);
			*lo = min(*lo, r->start);
			*hi = max(*hi, r->end);
		}
	}
	return pages;
}

/*
 * A 1 GiB mapping with a 64 MiB hot part at an odd offset, samples 90%
 * hot: within a few epochs the dense ranges cover the hot part closely.
 */
static bool t_rtree_split_finds_hot(void)
{
	const unsigned long hot_lo = BASE + 300 * MB, hot_len = 64 * MB;
	struct hplace_rtree t;
	unsigned long lo, hi, pages, a;
	unsigned int epoch, i, nr_at_5 = 0, found = 0;

	T_CALL(mk_tree(&t, 4096, 4096));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + GB), 1);
	for (epoch = 0; epoch < 8; epoch++) {
		for (i = 0; i < 4000; i++) {
			if (t_rand_below(10))
				a = hot_lo + t_rand_below(hot_len);
			else
				a = BASE + t_rand_below(GB);
			T_EQ(hplace_rtree_record(&t, a, 1, false), 0);
		}
		hplace_rtree_epoch(&t, true);
		T_CALL(check_tree(&t));
		if (epoch == 4)
			nr_at_5 = t.nr_ranges;
		hot_extent(&t, &lo, &hi);
		if (!found && lo + 2 * MB >= hot_lo && lo <= hot_lo + 2 * MB &&
		    hi + 2 * MB >= hot_lo + hot_len && hi <= hot_lo + hot_len + 2 * MB)
			found = epoch + 1;
	}
	pages = hot_extent(&t, &lo, &hi);
	if (getenv("HPLACE_DUMP")) {
		struct hplace_range *r;

		hplace_rtree_for_each(&t, r)
			printf("#  [+%6lu KiB, +%6lu KiB) density %llu\n",
			       (r->start - BASE) / KB, (r->end - BASE) / KB,
			       (unsigned long long)hplace_range_density(r));
	}
	/* Within one 2 MiB piece of the truth on each side. */
	T_ASSERTF(lo >= hot_lo - 2 * MB && lo <= hot_lo + 2 * MB &&
		  hi >= hot_lo + hot_len - 2 * MB && hi <= hot_lo + hot_len + 2 * MB,
		  "hot ranges span [+%lu MiB, +%lu MiB), truth [+300, +364)",
		  (lo - BASE) / MB, (hi - BASE) / MB);
	T_ASSERT(pages * PAGE_SIZE >= hot_len - 4 * MB);
	/*
	 * Few ranges: the cold and the even hot parts merged back, up to the
	 * 64 MiB a sixteenth of the sampled 1 GiB allows.
	 */
	T_ASSERTF(t.nr_ranges <= 40, "%u ranges", t.nr_ranges);
	T_ASSERT(t.stats.splits > 0 && t.stats.merges > 0);
	printf("# 64 MiB hot in 1 GiB: found (+-2 MiB) after %u epochs; after 8: [+%lu, +%lu) MiB, %u ranges (%u after 5), %llu splits, %llu merges\n",
	       found, (lo - BASE) / MB, (hi - BASE) / MB, t.nr_ranges, nr_at_5,
	       (unsigned long long)t.stats.splits,
	       (unsigned long long)t.stats.merges);
	hplace_rtree_destroy(&t);
	return true;
}

/* A THP with only its first quarter hot: the tree splits below 2 MiB. */
static bool t_rtree_split_huge_page(void)
{
	struct hplace_rtree t;
	struct hplace_range *r;
	unsigned int epoch, i;
	u64 dhot, dcold;

	T_CALL(mk_tree(&t, 64, 64));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 2 * MB), 1);
	for (epoch = 0; epoch < 4; epoch++) {
		for (i = 0; i < 400; i++)
			hplace_rtree_record(&t, BASE + t_rand_below(512 * KB), 1,
					    false);
		hplace_rtree_epoch(&t, true);
	}
	T_CALL(check_tree(&t));
	/* A cut exactly at the hot/cold boundary, hot before, cold after. */
	r = hplace_rtree_lookup(&t, BASE + 512 * KB - 1);
	T_ASSERTF(r->end == BASE + 512 * KB, "range ends at +%lu KiB",
		  (r->end - BASE) / KB);
	hplace_rtree_for_each(&t, r) {
		dhot = hplace_range_density(r);
		if (r->end <= BASE + 512 * KB)
			T_ASSERT(dhot > 0);
		else
			T_ASSERT(dhot == 0);
	}
	dcold = hplace_range_density(hplace_rtree_lookup(&t, BASE + MB));
	T_EQ(dcold, 0);
	hplace_rtree_destroy(&t);
	return true;
}

static bool t_rtree_decay_merge(void)
{
	struct hplace_rtree t;
	struct hplace_range *r;
	unsigned int i;

	T_CALL(mk_tree(&t, 64, 64));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 2 * MB), 1);
	T_EQ(hplace_rtree_record(&t, BASE, 1000, false), 0);
	r = hplace_rtree_lookup(&t, BASE);
	/* 1000 samples in one eighth: splits, the count follows the samples. */
	hplace_rtree_epoch(&t, true);
	T_CALL(check_tree(&t));
	T_ASSERT(t.nr_ranges >= 2);
	r = hplace_rtree_lookup(&t, BASE);
	T_EQ(r->count, 1000 * ONE / 2);		/* halved once */
	/* The long count took the same share and lost an eighth. */
	T_EQ(r->long_count, 1000 * ONE * 7 / 8);
	for (i = 1; i <= 6; i++) {
		u32 before = r->long_count;

		hplace_rtree_epoch(&t, true);
		T_EQ(r->count, (1000 * ONE) >> (i + 1));
		T_EQ(r->long_count, (u64)before * 875 / 1000);
	}
	/* A 128th of the count left, over a third of the long count. */
	T_ASSERT(hplace_range_long_density(r) > 20 * hplace_range_density(r));
	/*
	 * The count decays to nothing, the long count still holds the
	 * history: no merge with the empty neighbour, which would spread it.
	 */
	for (i = 0; i < 20; i++)
		hplace_rtree_epoch(&t, true);
	T_EQ(r->count, 0);
	T_ASSERT(t.nr_ranges >= 2);
	/* Both decayed to nothing: cold neighbours merge back into one. */
	for (i = 0; i < 40; i++)
		hplace_rtree_epoch(&t, true);
	T_EQ(t.nr_ranges, 1);
	r = hplace_rtree_first(&t);
	T_ASSERT(r->start == BASE && r->end == BASE + 2 * MB && r->count == 0);
	hplace_rtree_destroy(&t);
	return true;
}

/*
 * The long count on split and merge: the part the eighths saw follows
 * them, the older part is shared by size; a merge adds both counts.
 */
static bool t_rtree_long_count_split_merge(void)
{
	struct hplace_rtree t;
	struct hplace_range *p0, *p1, *p2;

	T_CALL(mk_tree(&t, 64, 64));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 8 * MB), 1);
	T_EQ(hplace_rtree_record(&t, BASE, 600, false), 0);
	T_EQ(hplace_rtree_record(&t, BASE + MB, 200, false), 0);
	p0 = hplace_rtree_first(&t);
	T_EQ(p0->long_count, 800 * ONE);
	p0->long_count = 2400 * ONE;	/* 1600 older than the eighths */
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	T_EQ(t.nr_ranges, 3);
	p1 = hplace_rtree_lookup(&t, BASE + MB);
	p2 = hplace_rtree_lookup(&t, BASE + 2 * MB);
	T_ASSERT(p0->end == BASE + MB && p1->end == BASE + 2 * MB &&
		 p2->end == BASE + 8 * MB);
	T_EQ(p0->count, 600 * ONE);
	T_EQ(p0->long_count, 800 * ONE);	/* 600 + 1600 / 8 */
	T_EQ(p1->count, 200 * ONE);
	T_EQ(p1->long_count, 400 * ONE);	/* 200 + 1600 / 8 */
	T_EQ(p2->count, 0);
	T_EQ(p2->long_count, 1200 * ONE);	/* 1600 * 6 / 8 */

	/* Cold counts, long densities alike: they merge, the counts add. */
	p1->count = 0;
	p1->long_count = 100 * ONE;
	p2->long_count = 600 * ONE;
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	T_EQ(t.nr_ranges, 2);
	p1 = hplace_rtree_lookup(&t, BASE + MB);
	T_ASSERT(p1->start == BASE + MB && p1->end == BASE + 8 * MB);
	T_EQ(p1->long_count, 700 * ONE);
	hplace_rtree_destroy(&t);
	return true;
}

static bool t_rtree_merge_rules(void)
{
	struct hplace_rtree t;
	struct hplace_range *a, *b, *c;

	T_CALL(mk_tree(&t, 64, 64));
	/* Three adjacent 4 MiB ranges with densities 100, 105, 300. */
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 4 * MB), 1);
	T_EQ(hplace_rtree_add(&t, BASE + 4 * MB, BASE + 8 * MB), 1);
	T_EQ(hplace_rtree_add(&t, BASE + 8 * MB, BASE + 12 * MB), 1);
	a = hplace_rtree_lookup(&t, BASE);
	b = hplace_rtree_lookup(&t, BASE + 4 * MB);
	c = hplace_rtree_lookup(&t, BASE + 8 * MB);
	a->count = 200 * ONE;
	b->count = 210 * ONE;
	c->count = 600 * ONE;
	/* Different classification state: never merged (normally). */
	b->hot = true;
	hplace_rtree_epoch(&t, true);
	T_EQ(t.nr_ranges, 3);
	/* Same state: the even pair merges, the 3x denser one does not. */
	b->hot = false;
	hplace_rtree_epoch(&t, true);
	T_EQ(t.nr_ranges, 2);
	a = hplace_rtree_first(&t);
	T_ASSERT(a->start == BASE && a->end == BASE + 8 * MB);
	T_EQ(a->count, (200 * ONE / 4) + (210 * ONE / 4));
	/* Non-adjacent ranges never merge. */
	T_EQ(hplace_rtree_remove(&t, BASE + 8 * MB, BASE + 9 * MB), 0);
	c = hplace_rtree_lookup(&t, BASE + 9 * MB);
	c->count = 0;
	a->count = 0;
	hplace_rtree_epoch(&t, true);
	T_EQ(t.nr_ranges, 2);
	T_CALL(check_tree(&t));
	hplace_rtree_destroy(&t);
	return true;
}

/* Mark [start, end) as sampled memory: enough long count for the basis. */
static bool add_sampled(struct hplace_rtree *t, unsigned long start,
			unsigned long end)
{
	struct hplace_range *r;

	T_EQ(hplace_rtree_add(t, start, end), 1);
	r = hplace_rtree_lookup(t, start);
	T_ASSERT(r);
	r->count = 1600 * ONE;
	r->long_count = 1600 * ONE;
	return true;
}

/*
 * No sampled range longer than a sixteenth of the sampled memory (and
 * 32 MiB): a 1 GiB range is cut into 64 MiB pieces within two epochs,
 * counts kept; sampled neighbours never merge past it, cold ones do; a
 * small tree is left whole.
 */
static bool t_rtree_long_ranges_split(void)
{
	struct hplace_rtree t;
	struct hplace_range *r;
	unsigned int epoch, i;
	u64 count = 0, long_count = 0;

	T_CALL(mk_tree(&t, 4096, 4096));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + GB), 1);
	/* Never sampled: not cut. */
	hplace_rtree_epoch(&t, false);
	T_EQ(t.nr_ranges, 1);
	r = hplace_rtree_first(&t);
	r->count = 1600 * ONE;		/* eighths empty: shared by size */
	r->long_count = 3200 * ONE;
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	T_EQ(t.nr_ranges, 8);
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	T_EQ(t.nr_ranges, 16);
	hplace_rtree_for_each(&t, r) {
		T_EQ(r->end - r->start, 64 * MB);
		T_EQ(r->count, 100 * ONE);
		T_EQ(r->long_count, 200 * ONE);
		count += r->count;
		long_count += r->long_count;
	}
	T_EQ(count, 1600 * ONE);
	T_EQ(long_count, 3200 * ONE);
	/* Evenly sampled: still at least sixteen ranges of 64 MiB at most. */
	for (epoch = 0; epoch < 40; epoch++) {
		for (i = 0; i < 2000; i++)
			hplace_rtree_record(&t, BASE + t_rand_below(GB), 1, false);
		hplace_rtree_epoch(&t, true);
		T_CALL(check_tree(&t));
		T_ASSERTF(t.nr_ranges >= 16, "%u ranges", t.nr_ranges);
		hplace_rtree_for_each(&t, r)
			T_ASSERT(r->end - r->start <= 64 * MB);
	}
	/* Cold for long: nothing to find, they merge back into one. */
	for (epoch = 0; epoch < 100; epoch++)
		hplace_rtree_epoch(&t, true);
	T_CALL(check_tree(&t));
	T_EQ(t.nr_ranges, 1);
	hplace_rtree_destroy(&t);

	/*
	 * One stray sample in a 4 GiB cold neighbour does not make it
	 * sampled memory: the 1 GiB is still cut into 64 MiB pieces.
	 */
	T_CALL(mk_tree(&t, 4096, 4096));
	T_CALL(add_sampled(&t, BASE, BASE + GB));
	T_EQ(hplace_rtree_add(&t, BASE + GB, BASE + 5 * GB), 1);
	hplace_rtree_next(hplace_rtree_first(&t))->long_count = ONE;
	hplace_rtree_epoch(&t, false);
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	T_EQ(t.nr_ranges, 17);
	T_EQ(t.max_len, 64 * MB);
	hplace_rtree_destroy(&t);

	/*
	 * An unaligned start: no piece shorter than min_pages, none longer
	 * than 64 MiB and a huge page.
	 */
	T_CALL(mk_tree(&t, 4096, 4096));
	T_CALL(add_sampled(&t, BASE + PAGE_SIZE, BASE + GB));
	hplace_rtree_epoch(&t, false);
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	hplace_rtree_for_each(&t, r)
		T_ASSERTF(r->end - r->start >= 16 * PAGE_SIZE &&
			  r->end - r->start <= 66 * MB,
			  "[+%lu KiB, +%lu KiB)", (r->start - BASE) / KB,
			  (r->end - BASE) / KB);
	hplace_rtree_destroy(&t);

	/* Near the bound: cuts for length stop below the crowded line. */
	T_CALL(mk_tree(&t, 16, 4096));
	T_CALL(add_sampled(&t, BASE, BASE + GB));
	for (epoch = 0; epoch < 4; epoch++)
		hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	T_ASSERTF(t.nr_ranges <= 16 - 16 / 8 && t.nr_ranges >= 12, "%u ranges",
		  t.nr_ranges);
	hplace_rtree_destroy(&t);

	/* 32 MiB tracked, sampled: one range. */
	T_CALL(mk_tree(&t, 4096, 4096));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 32 * MB), 1);
	hplace_rtree_first(&t)->count = 1000 * ONE;
	hplace_rtree_first(&t)->long_count = 1000 * ONE;
	hplace_rtree_epoch(&t, false);
	T_EQ(t.nr_ranges, 1);
	hplace_rtree_destroy(&t);
	return true;
}

/*
 * The longest range moves only once the sampled memory moved it by more
 * than a quarter, up or down: mappings coming and going do not cut ranges
 * and merge them back epoch after epoch. Each bound is met exactly once.
 */
static bool t_rtree_cap_moves_by_a_quarter(void)
{
	static const struct {
		long add_mb;		/* > 0: map it sampled; < 0: unmap it */
		unsigned long at;
		unsigned long cap_mb;	/* the longest range afterwards */
	} steps[] = {
		{ 1024, BASE, 64 },			/* 1024 MiB: 64 */
		{ 192, BASE + 2 * GB, 64 },		/* 76: within 64 + 16 */
		{ 64, BASE + 3 * GB, 64 },		/* 80: on the bound */
		{ 64, BASE + 4 * GB, 84 },		/* 84: past it */
		{ -192, BASE + 2 * GB, 84 },		/* 72 */
		{ -64, BASE + 3 * GB, 84 },		/* 68 */
		{ -64, BASE + 4 * GB, 84 },		/* 64 */
		{ -16, BASE, 84 },			/* 63: on 84 - 21 */
		{ -16, BASE + 16 * MB, 62 },		/* 62: under it */
	};
	struct hplace_rtree t;
	unsigned int i;

	T_CALL(mk_tree(&t, 4096, 4096));
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		unsigned long len = labs(steps[i].add_mb) * MB;

		if (steps[i].add_mb > 0)
			T_CALL(add_sampled(&t, steps[i].at, steps[i].at + len));
		else
			T_EQ(hplace_rtree_remove(&t, steps[i].at,
						 steps[i].at + len), 0);
		hplace_rtree_epoch(&t, false);
		T_CALL(check_tree(&t));
		T_ASSERTF(t.max_len == steps[i].cap_mb * MB,
			  "step %u: longest %lu KiB, expected %lu MiB", i,
			  t.max_len / KB, steps[i].cap_mb);
	}
	hplace_rtree_destroy(&t);
	return true;
}

/*
 * A cut shares the part of the count the eighths saw by where it fell,
 * each eighth by how much of it a piece holds, and the older rest by
 * size: three equal pieces of an evenly sampled range get equal counts
 * (giving each eighth whole to one piece gave 3:2:3), and samples in the
 * first eighth only do not take the older count with them.
 */
static bool t_rtree_cut_shares(void)
{
	struct hplace_rtree_params p;
	struct hplace_rtree t;
	struct hplace_range *r;
	unsigned int k;
	u32 c[3], i = 0;

	hplace_rtree_default_params(&p);
	p.big_pages = 40 * MB / PAGE_SIZE;
	hplace_rtree_pool_init(&pool, 64);
	T_EQ(hplace_rtree_init(&t, &pool, &p), 0);
	/* 96 MiB, longest kept 40 MiB: three pieces of 32 MiB. */
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 96 * MB), 1);
	r = hplace_rtree_first(&t);
	for (k = 0; k < 8; k++)
		r->sub[k] = 100 * ONE;
	r->count = 1200 * ONE;		/* 800 seen by the eighths, 400 older */
	r->long_count = 1200 * ONE;
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	T_EQ(t.nr_ranges, 3);
	hplace_rtree_for_each(&t, r) {
		T_EQ(r->end - r->start, 32 * MB);
		c[i++] = r->count;
	}
	for (i = 0; i < 3; i++)
		T_ASSERTF(c[i] >= 400 * ONE - 2 && c[i] <= 400 * ONE,
			  "piece %u count %u", i, c[i]);
	hplace_rtree_destroy(&t);

	/* Fresh samples in the first eighth only: the older part by size. */
	hplace_rtree_pool_init(&pool, 64);
	T_EQ(hplace_rtree_init(&t, &pool, &p), 0);
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 96 * MB), 1);
	r = hplace_rtree_first(&t);
	r->sub[0] = 30 * ONE;
	r->count = 630 * ONE;
	r->long_count = 630 * ONE;
	hplace_rtree_epoch(&t, false);
	T_EQ(t.nr_ranges, 3);
	i = 0;
	hplace_rtree_for_each(&t, r)
		c[i++] = r->count;
	T_ASSERTF(c[0] >= 230 * ONE - 2 && c[0] <= 230 * ONE &&
		  c[1] >= 200 * ONE - 2 && c[1] <= 200 * ONE &&
		  c[2] >= 200 * ONE - 2 && c[2] <= 200 * ONE,
		  "counts %u %u %u", c[0], c[1], c[2]);
	hplace_rtree_destroy(&t);
	return true;
}

/* Adversarial: samples everywhere, hot spots moving, several trees. */
static bool t_rtree_bounded(void)
{
	struct hplace_rtree_params p;
	struct hplace_rtree t[4];
	unsigned int epoch, i, k, epochs = t_full ? 400 : 60;
	u64 refused = 0;

	hplace_rtree_default_params(&p);
	p.max_ranges = 300;
	p.min_pages = 1;
	hplace_rtree_pool_init(&pool, 700);
	for (k = 0; k < 4; k++)
		T_EQ(hplace_rtree_init(&t[k], &pool, &p), 0);
	for (k = 0; k < 4; k++)
		T_ASSERT(hplace_rtree_add(&t[k], BASE, BASE + 4 * GB) == 1);

	for (epoch = 0; epoch < epochs; epoch++) {
		for (i = 0; i < 20000; i++) {
			unsigned long a;

			k = t_rand_below(4);
			switch (t_rand_below(4)) {
			case 0:		/* anywhere in user space */
				a = t_rand_below(HPLACE_USER_ADDR_END);
				break;
			case 1:		/* sawtooth: every other page */
				a = BASE + 2 * PAGE_SIZE * t_rand_below(1 << 16);
				break;
			default:	/* hot spots that move every epoch */
				a = BASE + ((epoch * 37 + t_rand_below(64)) % 1024) * 4 * MB +
				    t_rand_below(64 * KB);
			}
			hplace_rtree_record(&t[k], a, 1 + t_rand_below(1000), true);
		}
		for (k = 0; k < 4; k++) {
			hplace_rtree_epoch(&t[k], true);
			T_CALL(check_tree(&t[k]));
		}
		T_ASSERTF(pool.nr_ranges <= 700, "pool holds %lu", pool.nr_ranges);
	}
	for (k = 0; k < 4; k++) {
		refused += t[k].stats.refused;
		T_ASSERT(t[k].nr_ranges <= 300);
	}
	T_ASSERT(refused > 0);
	printf("# adversarial: %lu ranges in the pool (bound 700), %lu bytes, %llu refusals\n",
	       pool.nr_ranges, hplace_rtree_pool_bytes(&pool),
	       (unsigned long long)refused);
	for (k = 0; k < 4; k++)
		hplace_rtree_destroy(&t[k]);
	T_EQ(pool.nr_ranges, 0);
	return true;
}

/* One big process filling the pool does not flatten a small one. */
static bool t_rtree_fair_share(void)
{
	struct hplace_rtree_params p;
	struct hplace_rtree big, small;
	struct hplace_range *r;
	unsigned int epoch, i;

	hplace_rtree_default_params(&p);
	hplace_rtree_pool_init(&pool, 200);
	T_EQ(hplace_rtree_init(&big, &pool, &p), 0);
	T_EQ(hplace_rtree_init(&small, &pool, &p), 0);
	T_EQ(pool.nr_trees, 2);
	/* Small: four adjacent 2 MiB ranges, alternately hot and cold. */
	for (i = 0; i < 4; i++)
		T_EQ(hplace_rtree_add(&small, BASE + i * 2 * MB,
				      BASE + (i + 1) * 2 * MB), 1);
	for (epoch = 0; epoch < 30; epoch++) {
		for (i = 0; i < 4000; i++)
			hplace_rtree_record(&big, BASE + t_rand_below(1UL << 40),
					    1 + t_rand_below(100), true);
		for (i = 0; i < 4; i += 2)
			T_EQ(hplace_rtree_record(&small, BASE + i * 2 * MB + 4096,
						 100, false), 0);
		hplace_rtree_epoch(&big, true);
		hplace_rtree_epoch(&small, true);
		T_CALL(check_tree(&big));
		T_ASSERT(pool.nr_ranges <= 200);
	}
	T_ASSERTF(pool.nr_ranges > 200 - 200 / 8, "pool only at %lu",
		  pool.nr_ranges);
	T_EQ(small.nr_ranges, 4);
	hplace_rtree_for_each(&small, r)
		T_EQ(hplace_range_pages(r), 2 * MB / PAGE_SIZE);
	hplace_rtree_destroy(&big);
	T_EQ(pool.nr_trees, 1);
	hplace_rtree_destroy(&small);
	T_EQ(pool.nr_trees, 0);
	T_EQ(pool.nr_ranges, 0);
	return true;
}

static bool t_rtree_remove(void)
{
	struct hplace_rtree t;
	struct hplace_range *r;

	T_CALL(mk_tree(&t, 64, 64));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 16 * MB), 1);
	r = hplace_rtree_first(&t);
	r->count = 1600 * ONE;
	r->long_count = 3200 * ONE;
	/* Punch a 4 MiB hole: two ranges, counts by size. */
	T_EQ(hplace_rtree_remove(&t, BASE + 4 * MB, BASE + 8 * MB), 0);
	T_EQ(t.nr_ranges, 2);
	T_CALL(check_tree(&t));
	r = hplace_rtree_lookup(&t, BASE);
	T_ASSERT(r->end == BASE + 4 * MB && r->count == 400 * ONE);
	T_EQ(r->long_count, 800 * ONE);
	T_ASSERT(!hplace_rtree_lookup(&t, BASE + 6 * MB));
	r = hplace_rtree_lookup(&t, BASE + 8 * MB);
	T_ASSERT(r->end == BASE + 16 * MB && r->count == 800 * ONE);
	T_EQ(r->long_count, 1600 * ONE);
	/* Trim both edges across two ranges. */
	T_EQ(hplace_rtree_remove(&t, BASE + 2 * MB, BASE + 12 * MB), 0);
	T_EQ(t.nr_ranges, 2);
	r = hplace_rtree_lookup(&t, BASE);
	T_ASSERT(r->end == BASE + 2 * MB && r->count == 200 * ONE);
	T_EQ(r->long_count, 400 * ONE);
	r = hplace_rtree_lookup(&t, BASE + 12 * MB);
	T_ASSERT(r->start == BASE + 12 * MB && r->count == 400 * ONE);
	T_EQ(r->long_count, 800 * ONE);
	/* Unaligned bounds round outwards; removing nothing is fine. */
	T_EQ(hplace_rtree_remove(&t, BASE + 12 * MB + 1, BASE + 13 * MB - 1), 0);
	T_ASSERT(!hplace_rtree_lookup(&t, BASE + 12 * MB));
	T_EQ(hplace_rtree_remove(&t, BASE + 100 * MB, BASE + 200 * MB), 0);
	T_EQ(hplace_rtree_remove(&t, 0, HPLACE_USER_ADDR_END), 0);
	T_EQ(t.nr_ranges, 0);
	T_EQ(pool.nr_ranges, 0);

	/* A hole at the bound keeps the larger side only. */
	T_CALL(mk_tree(&t, 1, 64));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 16 * MB), 1);
	T_EQ(hplace_rtree_remove(&t, BASE + 2 * MB, BASE + 4 * MB), 0);
	T_EQ(t.nr_ranges, 1);
	r = hplace_rtree_first(&t);
	T_ASSERT(r->start == BASE + 4 * MB && r->end == BASE + 16 * MB);
	T_EQ(hplace_rtree_remove(&t, BASE + 12 * MB, BASE + 14 * MB), 0);
	r = hplace_rtree_first(&t);
	T_ASSERT(r->start == BASE + 4 * MB && r->end == BASE + 12 * MB);
	T_ASSERT(t.stats.refused == 2);
	T_CALL(check_tree(&t));
	hplace_rtree_destroy(&t);
	return true;
}

/*
 * Age: epochs since a range was tracked.  Pieces of a punched or split
 * range keep it; a fresh range (hplace_range_fresh()) merges only with a
 * fresh one, and the merged age is the average by size; a new mapping at
 * an old address starts again at 0; it saturates.
 */
static bool t_rtree_age(void)
{
	const unsigned int old = HPLACE_RT_FRESH_EPOCHS + 1;
	struct hplace_rtree t;
	struct hplace_range *r;
	unsigned int i;

	T_CALL(mk_tree(&t, 64, 64));
	T_EQ(hplace_rtree_add(&t, BASE, BASE + 64 * MB), 1);
	T_EQ(hplace_rtree_first(&t)->age, 0);
	for (i = 0; i < old; i++) {
		hplace_rtree_epoch(&t, i & 1);	/* with decay or without */
		T_EQ(hplace_rtree_first(&t)->age, i + 1);
		T_EQ(hplace_range_fresh(hplace_rtree_first(&t)), i + 1 < old);
	}
	/*
	 * A fresh 2 MiB burst beside 64 MiB of idle memory, both unsampled:
	 * they stay apart while it is fresh (averaged, it would pass for old
	 * at once), then merge, the age averaged by size.
	 */
	T_EQ(hplace_rtree_add(&t, BASE + 64 * MB, BASE + 66 * MB), 1);
	for (i = 1; i < old; i++) {
		hplace_rtree_epoch(&t, false);
		T_EQ(t.nr_ranges, 2);
		r = hplace_rtree_lookup(&t, BASE + 64 * MB);
		T_ASSERT(r->start == BASE + 64 * MB && r->age == i);
		T_ASSERT(hplace_range_fresh(r));
		T_EQ(hplace_rtree_first(&t)->age, old + i);
	}
	hplace_rtree_epoch(&t, false);
	T_EQ(t.nr_ranges, 1);
	T_EQ(hplace_rtree_first(&t)->age, (2 * old * 32 + old) / 33);
	/* Unmapping the burst leaves the rest with the merged age, still old. */
	T_EQ(hplace_rtree_remove(&t, BASE + 64 * MB, BASE + 66 * MB), 0);
	r = hplace_rtree_first(&t);
	T_ASSERT(r->end == BASE + 64 * MB && !hplace_range_fresh(r));
	/* Two fresh neighbours merge with each other. */
	T_EQ(hplace_rtree_add(&t, BASE + 64 * MB, BASE + 66 * MB), 1);
	hplace_rtree_epoch(&t, false);
	T_EQ(hplace_rtree_add(&t, BASE + 66 * MB, BASE + 70 * MB), 1);
	hplace_rtree_epoch(&t, false);
	T_EQ(t.nr_ranges, 2);
	r = hplace_rtree_lookup(&t, BASE + 66 * MB);
	T_ASSERT(r->start == BASE + 64 * MB && r->end == BASE + 70 * MB);
	T_EQ(r->age, (2 * 2 + 4 * 1) / 6);
	/* A hole: both sides keep the age. */
	T_EQ(hplace_rtree_remove(&t, BASE + 8 * MB, BASE + 9 * MB), 0);
	T_EQ(hplace_rtree_lookup(&t, BASE)->age,
	     hplace_rtree_lookup(&t, BASE + 9 * MB)->age);
	/* Unmapped and mapped again (churn): a new range, age 0. */
	T_EQ(hplace_rtree_remove(&t, BASE + 9 * MB, BASE + 64 * MB), 0);
	T_EQ(hplace_rtree_add(&t, BASE + 9 * MB, BASE + 64 * MB), 1);
	T_EQ(hplace_rtree_lookup(&t, BASE + 9 * MB)->age, 0);
	/* Pieces of a split by counts keep the age of what they were cut from. */
	r = hplace_rtree_first(&t);
	i = r->age;
	hplace_rtree_record(&t, BASE, 1000, false);
	hplace_rtree_epoch(&t, true);
	T_CALL(check_tree(&t));
	T_ASSERT(hplace_rtree_first(&t)->end < BASE + 8 * MB);
	for (r = hplace_rtree_first(&t); r->start < BASE + 8 * MB;
	     r = hplace_rtree_next(r))
		T_EQ(r->age, i + 1);
	/* It saturates. */
	r = hplace_rtree_first(&t);
	r->age = U16_MAX - 1;
	hplace_rtree_epoch(&t, false);
	hplace_rtree_epoch(&t, false);
	T_EQ(hplace_rtree_first(&t)->age, U16_MAX);
	T_CALL(check_tree(&t));
	hplace_rtree_destroy(&t);
	return true;
}

/*
 * A crowded tree of alternating old and fresh cold ranges: the passes
 * that keep freshness cannot merge them, so one at full tolerance merges
 * fresh with old (keeping hot apart), taking the older age.
 */
static bool t_rtree_age_crowded(void)
{
	const unsigned int old = HPLACE_RT_FRESH_EPOCHS + 1;
	struct hplace_rtree t;
	struct hplace_range *r;
	unsigned int i;

	T_CALL(mk_tree(&t, 8, 64));
	for (i = 0; i < 8; i += 2)
		T_EQ(hplace_rtree_add(&t, BASE + i * MB, BASE + (i + 1) * MB), 1);
	for (i = 0; i < old; i++)
		hplace_rtree_epoch(&t, false);
	for (i = 1; i < 7; i += 2)
		T_EQ(hplace_rtree_add(&t, BASE + i * MB, BASE + (i + 1) * MB), 1);
	/* 7 of 8: not crowded; fresh and old stay apart. */
	hplace_rtree_epoch(&t, false);
	T_EQ(t.nr_ranges, 7);
	/* A hot one at the end, then the 8th: crowded (above 7/8). */
	hplace_rtree_lookup(&t, BASE + 6 * MB)->hot = true;
	T_EQ(hplace_rtree_add(&t, BASE + 7 * MB, BASE + 8 * MB), 1);
	hplace_rtree_epoch(&t, false);
	T_CALL(check_tree(&t));
	r = hplace_rtree_first(&t);
	T_ASSERT(r->start == BASE && r->end == BASE + 6 * MB);
	T_EQ(r->age, old + 2);
	T_ASSERT(!r->hot && !hplace_range_fresh(r));
	T_ASSERT(hplace_rtree_lookup(&t, BASE + 6 * MB)->hot);
	T_EQ(t.nr_ranges, 3);
	hplace_rtree_destroy(&t);
	return true;
}

static bool t_rtree_nomem(void)
{
	struct hplace_rtree t;
	unsigned int nr;

	T_CALL(mk_tree(&t, 64, 64));
	hplace_test_alloc_fail_after = 0;
	T_EQ(hplace_rtree_add(&t, BASE, BASE + GB), -ENOMEM);
	T_EQ(hplace_rtree_record(&t, BASE, 1, true), -ENOMEM);
	T_EQ(t.nr_ranges, 0);
	hplace_test_alloc_fail_after = -1;
	T_EQ(hplace_rtree_add(&t, BASE, BASE + GB), 1);
	T_EQ(hplace_rtree_record(&t, BASE, 1000, false), 0);
	/* A split that cannot allocate leaves the tree as it was. */
	hplace_test_alloc_fail_after = 0;
	nr = t.nr_ranges;
	hplace_rtree_epoch(&t, true);
	T_EQ(t.nr_ranges, nr);
	T_ASSERT(t.stats.nomem >= 3);
	hplace_test_alloc_fail_after = -1;
	T_CALL(check_tree(&t));
	hplace_rtree_destroy(&t);
	return true;
}

/* Random operations with invariants and a page-level coverage model. */
static bool t_rtree_fuzz(void)
{
	enum { NPAGES = 4096 };
	static bool covered[NPAGES];
	struct hplace_rtree t;
	unsigned int op, ops = t_full ? 200000 : 20000, i;
	unsigned long s, e, pg;
	int ret;

	T_CALL(mk_tree(&t, 128, 128));
	memset(covered, 0, sizeof(covered));
	for (op = 0; op < ops; op++) {
		s = t_rand_below(NPAGES);
		e = s + 1 + t_rand_below(t_rand_below(2) ? 8 : NPAGES - s);
		if (e > NPAGES)
			e = NPAGES;
		switch (t_rand_below(6)) {
		case 0:
			ret = hplace_rtree_add(&t, BASE + s * PAGE_SIZE,
					       BASE + e * PAGE_SIZE);
			if (ret >= 0)
				for (pg = s; pg < e; pg++)
					covered[pg] = true;
			break;
		case 1:
			hplace_rtree_remove(&t, BASE + s * PAGE_SIZE,
					    BASE + e * PAGE_SIZE);
			for (pg = s; pg < e; pg++)
				covered[pg] = false;
			break;
		case 2:
			hplace_rtree_epoch(&t, t_rand_below(2));
			break;
		default:
			ret = hplace_rtree_record(&t, BASE + s * PAGE_SIZE + 8,
						  1 + t_rand_below(50), false);
			T_EQ(ret == 0, covered[s]);
		}
		if (!(op % 64) || op == ops - 1) {
			T_CALL(check_tree(&t));
			/* Splits and merges never change what is covered. */
			for (i = 0; i < NPAGES; i++)
				T_ASSERTF(!!hplace_rtree_lookup(&t, BASE + i * PAGE_SIZE) ==
					  covered[i], "op %u page %u", op, i);
		}
	}
	hplace_rtree_destroy(&t);
	return true;
}

/* Two processes' trees classified together, results stored back. */
static bool t_rtree_classify(void)
{
	struct hplace_class_item items[64];
	struct hplace_class_params p = { .hysteresis_permille = 100 };
	struct hplace_class_result res;
	struct hplace_rtree_params tp;
	struct hplace_rtree a, b;
	struct hplace_range *r;
	unsigned int n;

	hplace_rtree_default_params(&tp);
	hplace_rtree_pool_init(&pool, 64);
	T_EQ(hplace_rtree_init(&a, &pool, &tp), 0);
	T_EQ(hplace_rtree_init(&b, &pool, &tp), 0);
	T_EQ(hplace_rtree_add(&a, BASE, BASE + 8 * MB), 1);
	T_EQ(hplace_rtree_add(&a, BASE + 16 * MB, BASE + 24 * MB), 1);
	T_EQ(hplace_rtree_add(&b, BASE, BASE + 8 * MB), 1);
	hplace_rtree_record(&a, BASE, 100, false);		/* a: warm */
	hplace_rtree_record(&a, BASE + 16 * MB, 1, false);	/* a: cool */
	hplace_rtree_record(&b, BASE, 1000, false);		/* b: hot */

	n = hplace_rtree_export(&a, items, 64);
	n += hplace_rtree_export(&b, items + n, 64 - n);
	T_EQ(n, 3);
	p.capacity_pages = 16 * MB / PAGE_SIZE;		/* room for two */
	T_EQ(hplace_classify(items, n, &p, &res), 0);
	hplace_rtree_import(items, n);
	T_ASSERT(hplace_rtree_lookup(&b, BASE)->hot);
	T_ASSERT(hplace_rtree_lookup(&a, BASE)->hot);
	T_ASSERT(!hplace_rtree_lookup(&a, BASE + 16 * MB)->hot);
	T_EQ(res.hot_pages, 16 * MB / PAGE_SIZE);
	/* Export respects its room. */
	T_EQ(hplace_rtree_export(&a, items, 1), 1);
	hplace_rtree_for_each(&a, r)
		T_ASSERT(r->start >= BASE);
	hplace_rtree_destroy(&a);
	hplace_rtree_destroy(&b);
	T_EQ(pool.nr_ranges, 0);
	return true;
}

/* Hot pages inside the densest ranges that fit @cap pages. */
static unsigned long sparse_covered(struct hplace_rtree *t, unsigned long cap,
				    const unsigned long *lo, unsigned int nr,
				    unsigned long len)
{
	static struct hplace_class_item items[4096];
	struct hplace_class_params cp = { .capacity_pages = cap };
	struct hplace_class_result res;
	unsigned int n, i, k;
	unsigned long hot = 0;

	n = hplace_rtree_export(t, items, 4096);
	if (hplace_classify(items, n, &cp, &res))
		return 0;
	for (i = 0; i < n; i++) {
		const struct hplace_range *r = items[i].priv;

		if (!items[i].hot)
			continue;
		for (k = 0; k < nr; k++) {
			unsigned long a = max(r->start, lo[k]);
			unsigned long b = min(r->end, lo[k] + len);

			if (b > a)
				hot += (b - a) / PAGE_SIZE;
		}
	}
	return hot;
}

/*
 * Sparse samples, as the accessed-bit scan finds them on a small budget:
 * 500-700 checks an epoch spread over 1 GiB, a check young on every hot
 * page and on a share of the cold ones.  Scattered hot regions, a seeded
 * family (4-16 regions, 48-192 MiB in all, cold pages young 5-20%): how
 * many hot pages the densest ranges (twice the hot set) hold after 20
 * epochs, halving the counts every epoch and cooling by samples.  Halving
 * every epoch leaves a range holding one hot region with a few samples
 * an epoch, too few to split it.  And a region in a range much longer
 * than itself raises the count of its eighth too little to be cut out
 * (this seed family found 27-68% of the hot pages of seeds 1 and 14, 90%
 * on average, before ranges were kept to a sixteenth of the mapping).
 */
static bool t_rtree_sparse_samples(void)
{
	unsigned long lo[16], len, slot, checks, a, hot_pages, cov[2];
	unsigned long sum[2] = { 0, 0 }, worst = 1000;
	unsigned int seed, nr, k, epoch, i, young_cold, mode;

	for (seed = 1; seed <= 16; seed++) {
		for (mode = 0; mode < 2; mode++) {
			struct hplace_rtree t;

			t_rng_state = 0x9e3779b97f4a7c15ULL * seed;
			nr = 4 + t_rand_below(13);
			len = round_down((48 + t_rand_below(145)) * MB / nr,
					 PAGE_SIZE);
			slot = GB / nr;
			for (k = 0; k < nr; k++)
				lo[k] = BASE + k * slot +
					round_down(t_rand_below(slot - len),
						   PAGE_SIZE);
			young_cold = 5 + t_rand_below(16);
			hot_pages = nr * len / PAGE_SIZE;

			T_CALL(mk_tree(&t, 4096, 4096));
			T_EQ(hplace_rtree_add(&t, BASE, BASE + GB), 1);
			for (epoch = 0; epoch < 20; epoch++) {
				checks = 500 + t_rand_below(200);
				for (i = 0; i < checks; i++) {
					bool hot = false;

					a = BASE + round_down(t_rand_below(GB),
							      PAGE_SIZE);
					for (k = 0; k < nr; k++)
						hot |= a >= lo[k] && a < lo[k] + len;
					if (hot || t_rand_below(100) < young_cold)
						hplace_rtree_record(&t, a, 1, false);
				}
				hplace_rtree_epoch(&t, mode ? hplace_rtree_pool_cool(&pool) : true);
				T_CALL(check_tree(&t));
			}
			cov[mode] = sparse_covered(&t, 2 * hot_pages, lo, nr, len);
			sum[mode] += cov[mode] * 1000 / hot_pages;
			if (mode)
				worst = min(worst, cov[mode] * 1000 / hot_pages);
			hplace_rtree_destroy(&t);
		}
		printf("# seed %u: %u regions of %lu KiB, cold young %u%%: hot pages in the densest 2x: halving every epoch %lu%%, cooling by samples %lu%%\n",
		       seed, nr, len / KB, young_cold, cov[0] * 100 / hot_pages,
		       cov[1] * 100 / hot_pages);
	}
	printf("# mean over 16 seeds: halving %lu permille, cooling %lu permille\n",
	       sum[0] / 16, sum[1] / 16);
	T_ASSERTF(sum[1] >= sum[0] && sum[1] / 16 >= 950 && worst >= 850,
		  "cooling by samples finds %lu permille (worst seed %lu), halving %lu",
		  sum[1] / 16, worst, sum[0] / 16);
	return true;
}

/* The pool decays by samples, at least every HPLACE_RT_COOL_EPOCHS. */
static bool t_rtree_pool_cool(void)
{
	struct hplace_rtree a, b;
	struct hplace_range *r;
	unsigned int i;
	u32 before;

	T_CALL(mk_tree(&a, 64, 128));
	a.p.split_min_count = U32_MAX;	/* counts compared below stay whole */
	T_EQ(hplace_rtree_init(&b, &pool, &a.p), 0);
	T_EQ(hplace_rtree_add(&a, BASE, BASE + 64 * MB), 1);
	T_EQ(hplace_rtree_add(&b, BASE, BASE + 64 * MB), 1);
	/* No samples: a decay every HPLACE_RT_COOL_EPOCHS epochs, no sooner. */
	for (i = 1; i <= 3 * HPLACE_RT_COOL_EPOCHS; i++)
		T_EQ(hplace_rtree_pool_cool(&pool), i % HPLACE_RT_COOL_EPOCHS == 0);
	/* Samples in either tree count for the pool; the last one tips it. */
	hplace_rtree_record(&a, BASE, HPLACE_RT_COOL_SAMPLES / 2, false);
	hplace_rtree_record(&b, BASE, HPLACE_RT_COOL_SAMPLES / 2 - 1, false);
	T_EQ(hplace_rtree_pool_cool(&pool), false);
	hplace_rtree_record(&b, BASE, 1, false);
	T_EQ(pool.fresh, HPLACE_RT_COOL_SAMPLES);
	T_EQ(hplace_rtree_pool_cool(&pool), true);
	T_EQ(pool.fresh, 0);
	/* A restarted sampler: the next epoch decays, then as before. */
	hplace_rtree_pool_cool_next(&pool);
	T_EQ(hplace_rtree_pool_cool(&pool), true);
	T_EQ(hplace_rtree_pool_cool(&pool), false);
	/* An epoch without decay keeps the counts; with it, they halve. */
	before = hplace_rtree_lookup(&a, BASE)->count;
	hplace_rtree_epoch(&a, false);
	T_EQ(hplace_rtree_lookup(&a, BASE)->count, before);
	hplace_rtree_epoch(&a, true);
	T_EQ(hplace_rtree_lookup(&a, BASE)->count, before / 2);
	/* The long count loses an eighth at a decay... */
	r = hplace_rtree_lookup(&a, BASE);
	r->long_count = 8000 * ONE;
	T_EQ(hplace_rtree_pool_cool(&pool), false);
	for (i = 1; !hplace_rtree_pool_cool(&pool); i++)
		;
	hplace_rtree_epoch(&a, true);
	T_EQ(r->long_count, 7000 * ONE);
	/* ... and becomes the count at the decay after a restart. */
	r->count = 1000 * ONE;
	hplace_rtree_pool_cool_next(&pool);
	T_EQ(hplace_rtree_pool_cool(&pool), true);
	hplace_rtree_epoch(&a, true);
	T_EQ(r->count, 500 * ONE);
	T_EQ(r->long_count, 500 * ONE);
	/* Then an eighth again. */
	T_EQ(hplace_rtree_pool_cool(&pool), false);
	for (i = 1; !hplace_rtree_pool_cool(&pool); i++)
		;
	hplace_rtree_epoch(&a, true);
	T_EQ(r->long_count, 500 * ONE * 7 / 8);
	hplace_rtree_destroy(&a);
	hplace_rtree_destroy(&b);
	return true;
}

const struct t_case t_rtree_cases[] = {
	{ "rtree: parameter validation", t_rtree_params },
	{ "rtree: density bounds cover Poisson counts", t_rtree_density_bounds },
	{ "rtree: add, lookup, record, unmatched", t_rtree_add_lookup_record },
	{ "rtree: range created around an untracked sample", t_rtree_create_for_sample },
	{ "rtree: splits find a 64 MiB hot part in 1 GiB", t_rtree_split_finds_hot },
	{ "rtree: splits below a huge page when part is hot", t_rtree_split_huge_page },
	{ "rtree: counts halve per epoch, cold ranges merge", t_rtree_decay_merge },
	{ "rtree: long count on split and merge", t_rtree_long_count_split_merge },
	{ "rtree: merge needs adjacency, same state, <10% difference", t_rtree_merge_rules },
	{ "rtree: no sampled range above a sixteenth of the sampled memory", t_rtree_long_ranges_split },
	{ "rtree: the longest range moves by a quarter or not at all", t_rtree_cap_moves_by_a_quarter },
	{ "rtree: a cut shares fresh counts by overlap, older ones by size", t_rtree_cut_shares },
	{ "rtree: bounded under adversarial samples (4 trees, shared pool)", t_rtree_bounded },
	{ "rtree: pool pressure spares a small tree (fair share)", t_rtree_fair_share },
	{ "rtree: munmap punches, trims, removes", t_rtree_remove },
	{ "rtree: age kept by pieces, fresh and old apart, new at 0", t_rtree_age },
	{ "rtree: crowded, fresh merges with old before hot with cold", t_rtree_age_crowded },
	{ "rtree: allocation failures leave the tree intact", t_rtree_nomem },
	{ "rtree: random ops keep invariants and coverage", t_rtree_fuzz },
	{ "rtree: export/classify/import across processes", t_rtree_classify },
	{ "rtree: pool decays by samples, at least every few epochs", t_rtree_pool_cool },
	{ "rtree: sparse samples find scattered hot regions (16 seeds)", t_rtree_sparse_samples },
	{ NULL, NULL },
};
