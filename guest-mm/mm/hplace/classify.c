// SPDX-License-Identifier: GPL-2.0
/*
 * hplace classification: threshold selection with hysteresis.
 *
 * O(n log n): one sort by score, one pass over groups of equal score.
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

/*
 * The working set: walk the ranges in score order until their accesses
 * reach HPLACE_WORKING_SET_PERMILLE of @total.  @items are sorted.
 */
static u64 hplace_working_pages(const struct hplace_class_item *items,
				unsigned int nr, u64 min_density, u64 total)
{
	u32 rem;
	u64 want = div_u64_rem(total, 1000, &rem) * HPLACE_WORKING_SET_PERMILLE +
		   div_u64((u64)rem * HPLACE_WORKING_SET_PERMILLE, 1000);
	u64 cum = 0, pages = 0;
	unsigned int i;

	for (i = 0; i < nr && (cum < want || !pages); i++) {
		const struct hplace_class_item *it = &items[i];
		u64 d = min_t(u64, it->density, HPLACE_DENSITY_MAX);

		if (d < min_density)
			continue;
		cum = hplace_add_sat(cum, hplace_mul_sat(d, it->pages));
		pages += it->pages;
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
	u64 cum = 0, group, accesses = 0;
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
		if (d >= min_density) {
			res->demand_pages += it->pages;
			accesses = hplace_add_sat(accesses,
						  hplace_mul_sat(d, it->pages));
		}
	}

	sort(items, nr, sizeof(*items), hplace_class_cmp, NULL);
	if (accesses)
		res->working_pages = hplace_working_pages(items, nr,
							  min_density, accesses);

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
