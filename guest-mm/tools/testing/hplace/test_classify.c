// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for mm/hplace/classify.c: threshold selection against a
 * brute-force oracle on random inputs, hysteresis (no bouncing, but
 * release below the band), minimum density, capacity never exceeded.
 */
#include <time.h>

#include "hplace_internal.h"
#include "classify.h"
#include "test.h"

#define MAXN	48

/*
 * Oracle, O(n^2), straight from the definition: the threshold is the
 * smallest score v of an eligible item (density >= min_density) such that
 * the eligible items scoring >= v fit in the capacity.
 */
static void oracle(const struct hplace_class_item *in, unsigned int n,
		   const struct hplace_class_params *p, bool *hot, u64 *thr,
		   u64 *hot_pages)
{
	u64 mind = p->min_density ? p->min_density : 1, score[MAXN], sum;
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		u64 d = in[i].density > (1ULL << 52) ? 1ULL << 52 : in[i].density;

		score[i] = d + (in[i].was_hot ? d * p->hysteresis_permille / 1000 : 0);
		score[i] = 2 * score[i] + in[i].was_hot;
	}
	*thr = U64_MAX;
	for (i = 0; i < n; i++) {
		if (in[i].density < mind)
			continue;
		sum = 0;
		for (j = 0; j < n; j++)
			if (in[j].density >= mind && score[j] >= score[i])
				sum += in[j].pages;
		if (sum <= p->capacity_pages && score[i] < *thr)
			*thr = score[i];
	}
	*hot_pages = 0;
	for (i = 0; i < n; i++) {
		hot[i] = *thr != U64_MAX && in[i].density >= mind &&
			 score[i] >= *thr;
		if (hot[i])
			*hot_pages += in[i].pages;
	}
}

static u64 long_of(const struct hplace_class_item *it)
{
	return it->long_density > (1ULL << 52) ? 1ULL << 52 : it->long_density;
}

/*
 * Oracle for the working set, from its definition, in exact 128-bit
 * arithmetic: the items whose short density reaches mind, by descending
 * long density (ties by key; selection sort); the shortest prefix whose
 * accesses reach 90% of theirs; an item under a quarter of the median
 * taken page's long density (the item where the pages taken reach half)
 * ends it once 3/4 of the accesses are taken, and counts only in part at
 * the cut before that.  Returns false when the total does not fit
 * 64 bits (the classifier saturates there).
 */
static bool oracle_working(const struct hplace_class_item *in,
			   unsigned int n, u64 mind, u64 *pages)
{
	static struct hplace_class_item sorted[MAXN];
	unsigned __int128 total = 0, cum = 0, want, d, need, half, med;
	unsigned int i, j, best, m = 0;

	for (i = 0; i < n; i++)
		if ((in[i].density > (1ULL << 52) ? 1ULL << 52 : in[i].density) >=
		    mind)
			sorted[m++] = in[i];
	for (i = 0; i < m; i++) {
		struct hplace_class_item tmp;

		for (best = i, j = i + 1; j < m; j++)
			if (long_of(&sorted[j]) > long_of(&sorted[best]) ||
			    (long_of(&sorted[j]) == long_of(&sorted[best]) &&
			     sorted[j].key < sorted[best].key))
				best = j;
		tmp = sorted[i];
		sorted[i] = sorted[best];
		sorted[best] = tmp;
	}
	*pages = 0;
	for (i = 0; i < m; i++)
		total += (unsigned __int128)long_of(&sorted[i]) * sorted[i].pages;
	if (total >> 64)
		return false;
	if (!total)
		return true;
	want = total * 900 / 1000;
	for (i = 0; i < m && (cum < want || !*pages); i++) {
		d = long_of(&sorted[i]);
		if (*pages) {
			for (half = 0, med = 0, j = 0; j < i; j++) {
				half += sorted[j].pages;
				med = long_of(&sorted[j]);
				if (2 * half >= *pages)
					break;
			}
			/* Background: ends it after 3/4, else in part. */
			if (4 * d < med && 4 * cum >= 3 * total)
				break;
			if (4 * d < med && d * sorted[i].pages > want - cum) {
				need = want - cum;
				*pages += (u64)((need + d - 1) / d);
				break;
			}
		}
		cum += d * sorted[i].pages;
		*pages += sorted[i].pages;
	}
	return true;
}

static u64 rand_density(void)
{
	static const u64 small[] = { 0, 1, 2, 5, 10, 10, 10, 100, 1000 };

	switch (t_rand_below(8)) {
	case 0:
		return t_rand();		/* huge: clamped to 2^52 */
	case 1: case 2: case 3:
		return small[t_rand_below(ARRAY_SIZE(small))];
	default:
		return t_rand_below(1 << 20);
	}
}

static bool t_classify_oracle(void)
{
	struct hplace_class_item items[MAXN], in[MAXN];
	struct hplace_class_params p;
	struct hplace_class_result res;
	unsigned int iter, iters = t_full ? 200000 : 20000, n, i, nhot, kept;
	bool want[MAXN];
	u64 thr, hp, total, wp;

	for (iter = 0; iter < iters; iter++) {
		n = t_rand_below(MAXN + 1);
		total = 0;
		for (i = 0; i < n; i++) {
			in[i] = (struct hplace_class_item){
				.density = rand_density(),
				.long_density = t_rand_below(3) ?
					rand_density() : 0,
				.pages = 1 + t_rand_below(t_rand_below(2) ? 8 : 512),
				.key = i,
				.priv = &in[i],
				.was_hot = t_rand_below(2),
			};
			total += in[i].pages;
		}
		p.capacity_pages = t_rand_below(total + 2);
		p.hysteresis_permille = t_rand_below(3) ? t_rand_below(301) : 0;
		p.min_density = t_rand_below(4) ? t_rand_below(6) : 0;

		memcpy(items, in, sizeof(in[0]) * n);
		T_EQ(hplace_classify(items, n, &p, &res), 0);
		oracle(in, n, &p, want, &thr, &hp);

		T_ASSERTF(res.threshold == thr,
			  "iter %u: threshold %llu, oracle %llu", iter,
			  (unsigned long long)res.threshold,
			  (unsigned long long)thr);
		T_EQ(res.hot_pages, hp);
		T_ASSERT(res.hot_pages <= p.capacity_pages);
		nhot = 0;
		kept = 0;
		for (i = 0; i < n; i++) {
			const struct hplace_class_item *it = &items[i];

			T_ASSERTF(it->hot == want[it->key],
				  "iter %u: item %llu hot %d, oracle %d", iter,
				  (unsigned long long)it->key, it->hot,
				  want[it->key]);
			/* Sorted by descending score. */
			if (i)
				T_ASSERT(items[i - 1].score >= it->score);
			nhot += it->hot;
			kept += it->hot && it->was_hot && 2 * it->density < thr;
		}
		T_EQ(res.nr_hot, nhot);
		T_EQ(res.nr_kept, kept);
		T_ASSERT(res.working_pages <= res.demand_pages);
		if (oracle_working(in, n, p.min_density ? p.min_density : 1,
				   &wp))
			T_ASSERTF(res.working_pages == wp,
				  "iter %u: working set %llu, oracle %llu", iter,
				  (unsigned long long)res.working_pages,
				  (unsigned long long)wp);
		else
			T_ASSERT(res.working_pages > 0);
	}
	printf("# %u random classifications match the brute-force oracle\n", iters);
	return true;
}

/* Two ranges of nearly equal density, room for one: no ping-pong. */
static unsigned int bounce(unsigned int h)
{
	struct hplace_class_item it[2];
	struct hplace_class_params p = {
		.capacity_pages = 100, .hysteresis_permille = h, .min_density = 1,
	};
	struct hplace_class_result res;
	bool a_hot = false, b_hot = false, prev_a = false;
	unsigned int epoch, flips = 0;

	for (epoch = 0; epoch < 50; epoch++) {
		it[0] = (struct hplace_class_item){
			.density = epoch & 1 ? 98 : 100, .pages = 100, .key = 0,
			.was_hot = a_hot,
		};
		it[1] = (struct hplace_class_item){
			.density = epoch & 1 ? 100 : 98, .pages = 100, .key = 1,
			.was_hot = b_hot,
		};
		hplace_classify(it, 2, &p, &res);
		a_hot = it[0].key == 0 ? it[0].hot : it[1].hot;
		b_hot = it[0].key == 1 ? it[0].hot : it[1].hot;
		if (epoch && a_hot != prev_a)
			flips++;
		prev_a = a_hot;
	}
	return flips;
}

static bool t_classify_hysteresis(void)
{
	unsigned int with = bounce(100), without = bounce(0);

	T_EQ(with, 0);
	T_ASSERTF(without >= 40, "without hysteresis only %u flips", without);
	printf("# near-equal pair, room for one: %u flips with 10%% hysteresis, %u without\n",
	       with, without);
	return true;
}

/* A hot range stays hot until density < about threshold * (1 - h). */
static bool t_classify_release(void)
{
	struct hplace_class_params p = {
		.capacity_pages = 10, .hysteresis_permille = 100, .min_density = 1,
	};
	struct hplace_class_result res;
	struct hplace_class_item it[2];
	u64 d;
	bool a_hot = true;

	for (d = 100; d >= 80 && a_hot; d--) {
		it[0] = (struct hplace_class_item){
			.density = d, .pages = 10, .key = 0, .was_hot = true,
		};
		it[1] = (struct hplace_class_item){
			.density = 100, .pages = 10, .key = 1, .was_hot = false,
		};
		T_EQ(hplace_classify(it, 2, &p, &res), 0);
		a_hot = it[0].key == 0 ? it[0].hot : it[1].hot;
		T_EQ(res.nr_hot, 1);
		if (a_hot && d < 100)
			T_EQ(res.nr_kept, 1);
	}
	/* 91 * 1.1 = 100 ties and the incumbent wins; 90 * 1.1 = 99 loses. */
	T_EQ(d + 1, 90);
	return true;
}

static bool t_classify_min_density(void)
{
	struct hplace_class_params p = {
		.capacity_pages = 1000, .hysteresis_permille = 0, .min_density = 0,
	};
	struct hplace_class_result res;
	struct hplace_class_item it[4] = {
		{ .density = 0, .pages = 10, .key = 0 },
		{ .density = 0, .pages = 10, .key = 1, .was_hot = true },
		{ .density = 7, .pages = 10, .key = 2 },
		{ .density = 3, .pages = 10, .key = 3 },
	};
	unsigned int i;

	/* Room for all, but untouched ranges are never promoted. */
	T_EQ(hplace_classify(it, 4, &p, &res), 0);
	for (i = 0; i < 4; i++)
		T_EQ(it[i].hot, it[i].density > 0);
	T_EQ(res.threshold, 2 * 3);
	T_EQ(res.hot_pages, 20);
	T_EQ(res.demand_pages, 20);

	p.min_density = 5;
	T_EQ(hplace_classify(it, 4, &p, &res), 0);
	T_EQ(res.threshold, 2 * 7);
	T_EQ(res.nr_hot, 1);

	/* Nothing fits: no threshold. */
	p.capacity_pages = 5;
	T_EQ(hplace_classify(it, 4, &p, &res), 0);
	T_EQ(res.threshold, U64_MAX);
	T_EQ(res.nr_hot, 0);
	T_EQ(hplace_classify(it, 0, &p, &res), 0);
	T_EQ(res.threshold, U64_MAX);

	p.hysteresis_permille = 1001;
	T_EQ(hplace_classify(it, 4, &p, &res), -EINVAL);
	return true;
}

/*
 * The working set is what most accesses touch, not all that was touched:
 * 100 pages take 100,000 accesses, 10,000 pages one each; 90% of the
 * accesses need only the 100 pages, whatever the capacity.
 */
static bool t_classify_working_set(void)
{
	struct hplace_class_params p = { .capacity_pages = 50 };
	struct hplace_class_result res;
	struct hplace_class_item it[3];

#define SET3(d0, p0, d1, p1, d2, p2) do {				\
		it[0] = (struct hplace_class_item){ .density = (d0),	\
			.long_density = (d0), .pages = (p0), .key = 0 };\
		it[1] = (struct hplace_class_item){ .density = (d1),	\
			.long_density = (d1), .pages = (p1), .key = 1 };\
		it[2] = (struct hplace_class_item){ .density = (d2),	\
			.long_density = (d2), .pages = (p2), .key = 2 };\
	} while (0)

	SET3(1, 10000, 1000, 100, 0, 5000);
	T_EQ(hplace_classify(it, 3, &p, &res), 0);
	T_EQ(res.demand_pages, 10100);
	T_EQ(res.working_pages, 100);
	T_EQ(res.hot_pages, 0);		/* 100 pages do not fit in 50 */

	/* Evenly used memory: whole ranges up to 90% of it. */
	SET3(1000, 10000, 1000, 100, 0, 5000);
	T_EQ(hplace_classify(it, 3, &p, &res), 0);
	T_EQ(res.working_pages, 10000);	/* 10,000 of 10,100 pages >= 90% */

	/* Nothing sampled: no working set. */
	SET3(0, 10000, 0, 100, 0, 5000);
	T_EQ(hplace_classify(it, 3, &p, &res), 0);
	T_EQ(res.working_pages, 0);
	T_EQ(res.demand_pages, 0);

	/* Accesses beyond 64 bits saturate; the result stays sane. */
	SET3(U64_MAX, U64_MAX / 4, U64_MAX, 7, 0, 1);
	T_EQ(hplace_classify(it, 3, &p, &res), 0);
	T_ASSERT(res.working_pages >= 7);
	T_ASSERT(res.working_pages <= res.demand_pages);
#undef SET3
	return true;
}

/* A range for the working-set cases: short and long density, size, key. */
static struct hplace_class_item ws_item(u64 density, u64 long_density,
					u64 pages, u64 key)
{
	return (struct hplace_class_item){ .density = density,
		.long_density = long_density, .pages = pages, .key = key };
}

/*
 * An evenly used hot set of eight ranges whose short-horizon densities
 * differ eightfold (one sampling window saw some of them and not the
 * others), next to a background of cold memory with a twentieth of the
 * accesses.  Ranked by the short densities, 90% of the accesses sit in
 * less than the hot set; the working set follows the long horizon, which
 * has averaged the windows out, and is the hot set.
 */
static bool t_classify_working_set_long_horizon(void)
{
	static const u64 noisy[8] = { 800, 100, 700, 200, 600, 300, 500, 400 };
	struct hplace_class_params p = { .capacity_pages = 500,
					 .min_density = 1 };
	struct hplace_class_result res;
	struct hplace_class_item it[9];
	unsigned int i;

	for (i = 0; i < 8; i++)
		it[i] = ws_item(noisy[i], 450, 100, i);
	/* Cold: 1000 pages at a twentieth of the hot density, or so. */
	it[8] = ws_item(20, 20, 1000, 8);
	T_EQ(hplace_classify(it, 9, &p, &res), 0);
	T_EQ(res.working_pages, 800);
	/* Classification itself still follows the short horizon. */
	T_EQ(res.hot_pages, 500);
	for (i = 0; i < 9; i++)
		T_ASSERT(it[i].hot == (it[i].density >= 400));

	/*
	 * Cold memory with a ninth of the accesses (1000 pages at 45: 45,000
	 * of 405,000): 90% would need some of it, but it is background after
	 * a hot set that holds more than 3/4 of the accesses.
	 */
	it[8] = ws_item(45, 45, 1000, 8);
	T_EQ(hplace_classify(it, 9, &p, &res), 0);
	T_EQ(res.working_pages, 800);
	/*
	 * When the hot set holds less (4000 cold pages at 100: 400,000 of
	 * 760,000), the cold range at the cut counts for the 324,000 accesses
	 * still missing: 3240 of its pages, not all 4000.
	 */
	it[8] = ws_item(100, 100, 4000, 8);
	T_EQ(hplace_classify(it, 9, &p, &res), 0);
	T_EQ(res.working_pages, 800 + 3240);
	/* A range at the cut that is as warm as the rest counts in full. */
	it[8] = ws_item(45, 300, 1000, 8);
	T_EQ(hplace_classify(it, 9, &p, &res), 0);
	T_EQ(res.working_pages, 1800);

	/*
	 * The step is against the median page taken, not the mean: a small,
	 * very dense range first does not make evenly used ranges after it
	 * count in part (16 pages at 10,000, then 1000 and 1000 pages at 40).
	 */
	it[0] = ws_item(10000, 10000, 16, 0);
	it[1] = ws_item(40, 40, 1000, 1);
	it[2] = it[1];
	it[2].key = 2;
	T_EQ(hplace_classify(it, 3, &p, &res), 0);
	T_EQ(res.working_pages, 2016);
	/* At exactly a quarter the range counts in full, under it in part. */
	it[0] = ws_item(400, 400, 100, 0);
	it[1] = ws_item(100, 100, 1000, 1);
	T_EQ(hplace_classify(it, 2, &p, &res), 0);
	T_EQ(res.working_pages, 1100);
	it[0] = ws_item(400, 400, 100, 0);
	it[1] = ws_item(99, 99, 1000, 1);
	T_EQ(hplace_classify(it, 2, &p, &res), 0);
	T_EQ(res.working_pages, 960);	/* 100 + ceil(85,100 / 99) */

	/*
	 * Nor a small lukewarm range just before the cut make a large cold
	 * one count in full: 800 hot pages at 1000, 16 at 300 (the hot set's
	 * edge), 2000 cold at 125: the cold range is background after 76% of
	 * the accesses, where the range before the cut (300) would have let
	 * all 2000 pages in.
	 */
	it[0] = ws_item(1000, 1000, 800, 0);
	it[1] = ws_item(300, 300, 16, 1);
	it[2] = ws_item(125, 125, 2000, 2);
	T_EQ(hplace_classify(it, 3, &p, &res), 0);
	T_EQ(res.working_pages, 800 + 16);

	/* A range no longer sampled is out, whatever its long history. */
	it[0] = ws_item(400, 400, 100, 0);
	it[1] = ws_item(0, 4000, 1000, 1);
	T_EQ(hplace_classify(it, 2, &p, &res), 0);
	T_EQ(res.working_pages, 100);
	T_EQ(res.demand_pages, 100);

	/* The same counts read as the short horizon only: the old estimate. */
	for (i = 0; i < 8; i++)
		it[i] = ws_item(noisy[i], 450, 100, i);
	it[8] = ws_item(20, 20, 1000, 8);
	for (i = 0; i < 9; i++)
		it[i].long_density = it[i].density;
	T_EQ(hplace_classify(it, 9, &p, &res), 0);
	T_ASSERT(res.working_pages < 800);
	return true;
}

/* 200k ranges (the global bound is far lower): fast, capacity respected. */
static bool t_classify_large(void)
{
	unsigned int n = 200000, i;
	struct hplace_class_item *it = calloc(n, sizeof(*it));
	struct hplace_class_params p = {
		.hysteresis_permille = 100, .min_density = 1,
	};
	struct hplace_class_result res;
	u64 total = 0, min_hot = U64_MAX, max_cold = 0;
	struct timespec a, b;

	T_ASSERT(it);
	for (i = 0; i < n; i++) {
		it[i].density = t_rand_below(1 << 16);
		it[i].pages = 1 + t_rand_below(512);
		it[i].key = i;
		it[i].was_hot = t_rand_below(2);
		total += it[i].pages;
	}
	p.capacity_pages = total / 4;
	clock_gettime(CLOCK_MONOTONIC, &a);
	T_EQ(hplace_classify(it, n, &p, &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (i = 0; i < n; i++) {
		if (it[i].hot)
			min_hot = min(min_hot, it[i].score);
		else if (it[i].density >= 1)
			max_cold = max(max_cold, it[i].score);
	}
	T_ASSERT(res.hot_pages <= p.capacity_pages);
	T_ASSERT(res.hot_pages > p.capacity_pages * 99 / 100);
	T_ASSERT(min_hot > max_cold);
	printf("# classify %u ranges: %.1f ms (ASan build), %llu of %llu pages hot\n",
	       n, ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6,
	       (unsigned long long)res.hot_pages,
	       (unsigned long long)p.capacity_pages);
	free(it);
	return true;
}

const struct t_case t_classify_cases[] = {
	{ "classify: matches brute-force oracle on random inputs", t_classify_oracle },
	{ "classify: hysteresis stops near-equal ranges bouncing", t_classify_hysteresis },
	{ "classify: hot range released below the band", t_classify_release },
	{ "classify: minimum density, nothing fits, bad params", t_classify_min_density },
	{ "classify: working set is what most accesses touch", t_classify_working_set },
	{ "classify: working set over the long horizon",
	  t_classify_working_set_long_horizon },
	{ "classify: 200k ranges, capacity respected", t_classify_large },
	{ NULL, NULL },
};
