// SPDX-License-Identifier: GPL-2.0
/*
 * hplace classification: threshold selection with hysteresis.
 *
 * O(n log n): one sort by score, one pass over groups of equal score; one
 * more sort, by long-horizon density, for the working set.
 */

#include "hplace_internal.h"
#include "classify.h"

#define HPLACE_DENSITY_MAX	BIT_ULL(52)

/* Descending score, then ascending key: a total order. */
static int hplace_class_cmp(const void *a, const void *b)
{
	const struct hplace_class_item *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

/* a * b, or U64_MAX if it does not fit. */
static u64 hplace_mul_sat(u64 a, u64 b)
{
	return b && a > U64_MAX / b ? U64_MAX : a * b;
}

static u64 hplace_add_sat(u64 a, u64 b)
{
	return a > U64_MAX - b ? U64_MAX : a + b;
}

/* Descending long-horizon density (clamped), then ascending key. */
static int hplace_class_long_cmp(const void *a, const void *b)
{
	const struct hplace_class_item *x = a, *y = b;
	u64 dx = min_t(u64, x->long_density, HPLACE_DENSITY_MAX);
	u64 dy = min_t(u64, y->long_density, HPLACE_DENSITY_MAX);

	if (dx != dy)
		return dx > dy ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

/* Sampled lately: the ranges the working set is made of. */
static bool hplace_ws_eligible(const struct hplace_class_item *it,
			       u64 min_density)
{
	return min_t(u64, it->density, HPLACE_DENSITY_MAX) >= min_density;
}

/*
 * The working set: of the ranges sampled lately (short density at least
 * @min_density), ranked and weighed by long-horizon density, the first
 * whose accesses reach HPLACE_WORKING_SET_PERMILLE of all.  A range much
 * colder (HPLACE_WORKING_SET_COLD) than the median page of the ranges
 * taken is background memory, not more of the working set.  Once the
 * ranges taken hold three quarters of the accesses, background ends the
 * working set: the accessed-bit sampler sees a page at most once a window,
 * so memory touched ten times less often than the hot set can hold a fifth
 * of the samples while it takes a tenth of the accesses (a 48 MiB hot set
 * with 10% of its touches spread over 144 MiB more read 135-192 MiB).
 * Before that, background at the cut counts only for the pages the share
 * still needs, so that a large cold range does not double the estimate
 * whenever the share falls just past the hot ranges.  Reorders @items.
 *
 * No underflow: the loop runs on only while cum < want once pages > 0.  A
 * range with d == 0 carries no mass, so it never takes the partial path;
 * with d >= 1 and want - cum < mass <= U64_MAX, the rounded-up division
 * cannot wrap: want - cum + d - 1 < mass + d <= 2^52 * pages + 2^52.
 */
static u64 hplace_working_pages(struct hplace_class_item *items,
				unsigned int nr, u64 min_density)
{
	u64 total = 0, want, cum = 0, pages = 0, d, mass;
	u64 mid_pages = 0, mid_d = 0;
	unsigned int i, mid = 0;
	u32 rem;

	for (i = 0; i < nr; i++) {
		if (!hplace_ws_eligible(&items[i], min_density))
			continue;
		d = min_t(u64, items[i].long_density, HPLACE_DENSITY_MAX);
		total = hplace_add_sat(total, hplace_mul_sat(d, items[i].pages));
	}
	if (!total)
		return 0;
	want = div_u64_rem(total, 1000, &rem) * HPLACE_WORKING_SET_PERMILLE +
	       div_u64((u64)rem * HPLACE_WORKING_SET_PERMILLE, 1000);

	sort(items, nr, sizeof(*items), hplace_class_long_cmp, NULL);
	for (i = 0; i < nr && (cum < want || !pages); i++) {
		if (!hplace_ws_eligible(&items[i], min_density))
			continue;
		d = min_t(u64, items[i].long_density, HPLACE_DENSITY_MAX);
		mass = hplace_mul_sat(d, items[i].pages);
		/* mid_d: the long density of the middle page taken. */
		while (mid < i && 2 * mid_pages < pages) {
			if (hplace_ws_eligible(&items[mid], min_density)) {
				mid_pages += items[mid].pages;
				mid_d = min_t(u64, items[mid].long_density,
					      HPLACE_DENSITY_MAX);
			}
			mid++;
		}
		if (pages && hplace_mul_sat(d, HPLACE_WORKING_SET_COLD) < mid_d) {
			/* Background, after a core with most accesses. */
			if (cum >= total - total / 4)
				return pages;
			if (mass > want - cum)
				return pages + div64_u64(want - cum + d - 1, d);
		}
		cum = hplace_add_sat(cum, mass);
		pages += items[i].pages;
	}
	return pages;
}

/**
 * hplace_classify() - pick the hot ranges
 * @items: ranges to classify; sorted in place by descending score, with
 *	@hot and @score filled in
 * @nr: number of items
 * @p: capacity, hysteresis and minimum density
 * @res: summary, filled in
 *
 * Return: 0, or -EINVAL if @p->hysteresis_permille exceeds 1000.
 */
int hplace_classify(struct hplace_class_item *items, unsigned int nr,
		    const struct hplace_class_params *p,
		    struct hplace_class_result *res)
{
	u64 min_density = max_t(u64, p->min_density, 1);
	u64 cum = 0, group;
	unsigned int i, j;

	if (p->hysteresis_permille > 1000)
		return -EINVAL;

	memset(res, 0, sizeof(*res));
	res->threshold = U64_MAX;

	for (i = 0; i < nr; i++) {
		struct hplace_class_item *it = &items[i];
		u64 d = min_t(u64, it->density, HPLACE_DENSITY_MAX);

		it->hot = false;
		it->score = d;
		if (it->was_hot)
			it->score += div_u64(d * p->hysteresis_permille, 1000);
		/* The low bit makes incumbents win ties. */
		it->score = it->score << 1 | it->was_hot;
		if (d >= min_density)
			res->demand_pages += it->pages;
	}

	res->working_pages = hplace_working_pages(items, nr, min_density);
	sort(items, nr, sizeof(*items), hplace_class_cmp, NULL);

	/* Take whole groups of equal score while they fit. */
	for (i = 0; i < nr; i = j) {
		group = 0;
		for (j = i; j < nr && items[j].score == items[i].score; j++) {
			if (items[j].density < min_density)
				continue;
			group += items[j].pages;
		}
		if (!group)
			continue;
		if (cum + group > p->capacity_pages)
			break;
		cum += group;
		res->threshold = items[i].score;
	}

	if (res->threshold == U64_MAX)
		return 0;

	for (i = 0; i < nr && items[i].score >= res->threshold; i++) {
		struct hplace_class_item *it = &items[i];

		if (it->density < min_density)
			continue;
		it->hot = true;
		res->nr_hot++;
		if (it->was_hot && (it->density << 1) < res->threshold)
			res->nr_kept++;
	}
	res->hot_pages = cum;
	return 0;
}
