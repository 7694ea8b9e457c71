/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for hplace placement: the page-table walk, demotion,
 * promotion and exchange of a test mm's pages between node 0 (fast) and
 * node 1 (slow).  Included at the end of placement.c (the mm/damon/tests
 * pattern); needs a second node with memory (the tiered test VM).
 */
#ifdef CONFIG_HPLACE_KUNIT_TEST

#ifndef _HPLACE_PLACEMENT_KUNIT_H
#define _HPLACE_PLACEMENT_KUNIT_H

#include <kunit/test.h>
#include "../../tests/kunit-user-page.h"
#include <linux/mman.h>
#include <linux/swap.h>
#include <linux/huge_mm.h>

#define PLKT_PAGES	16
#define PLKT_RANGES	4	/* plan entries plkt_batch() makes room for */

static unsigned long plkt_map(struct kunit *test, unsigned int nr)
{
	unsigned long addr;
	unsigned int i;

	addr = kunit_vm_mmap(test, NULL, 0, nr * PAGE_SIZE,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_NE(test, addr, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	for (i = 0; i < nr; i++) {
		u64 v = addr + i;

		KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)addr +
						   i * PAGE_SIZE, &v,
						   sizeof(v)), 0);
	}
	/* Freshly faulted folios sit in per-CPU LRU batches until drained. */
	lru_add_drain_all();
	return addr;
}

/* kunit_add_action() form of put_page(). */
static void plkt_put_page(void *page)
{
	put_page(page);
}

/* Pages of [addr, addr + nr pages) on @nid whose contents are intact. */
static unsigned int plkt_on_node(struct kunit *test, unsigned long addr,
				 unsigned int nr, int nid)
{
	unsigned int i, n = 0;

	for (i = 0; i < nr; i++) {
		unsigned long a = addr + i * PAGE_SIZE;
		struct page *page = mm_kunit_user_page(test, a);
		u64 v;

		KUNIT_ASSERT_EQ(test, copy_from_user(&v, (void __user *)a,
						     sizeof(v)), 0);
		KUNIT_EXPECT_EQ(test, v, (u64)(addr + i));
		n += page_to_nid(page) == nid;
		put_page(page);
	}
	return n;
}

/* Pages of [addr, addr + nr pages) on @nid (contents not checked). */
static unsigned int plkt_count(struct kunit *test, unsigned long addr,
			       unsigned int nr, int nid)
{
	unsigned int i, n = 0;

	for (i = 0; i < nr; i++) {
		struct page *page = mm_kunit_user_page(test, addr + i * PAGE_SIZE);

		n += page_to_nid(page) == nid;
		put_page(page);
	}
	return n;
}

/*
 * A batch whose plan holds the test mm's ranges as hot or cold, with its own
 * counters and exchange scratch: the live engine's migration thread may run
 * meanwhile, and the two must not share state.
 */
static struct hplace_batch *plkt_batch(struct kunit *test)
{
	struct hplace_batch *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, b);
	b->stats = kunit_kzalloc(test, sizeof(*b->stats), GFP_KERNEL);
	b->xfolios[0] = kunit_kcalloc(test, EXCHANGE_BATCH_MAX,
				      sizeof(struct folio *), GFP_KERNEL);
	b->xfolios[1] = kunit_kcalloc(test, EXCHANGE_BATCH_MAX,
				      sizeof(struct folio *), GFP_KERNEL);
	b->xpairs = kunit_kcalloc(test, EXCHANGE_BATCH_MAX, sizeof(*b->xpairs),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b->stats);
	KUNIT_ASSERT_NOT_NULL(test, b->xfolios[0]);
	KUNIT_ASSERT_NOT_NULL(test, b->xfolios[1]);
	KUNIT_ASSERT_NOT_NULL(test, b->xpairs);
	b->plan.hot = kunit_kcalloc(test, PLKT_RANGES, sizeof(*b->plan.hot),
				    GFP_KERNEL);
	b->plan.cold = kunit_kcalloc(test, PLKT_RANGES, sizeof(*b->plan.cold),
				     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b->plan.hot);
	KUNIT_ASSERT_NOT_NULL(test, b->plan.cold);
	b->plan.nr_procs = 1;
	b->mm[0] = current->mm;
	b->fast = nodemask_of_node(0);
	b->slow = nodemask_of_node(1);
	b->budget = U64_MAX;
	return b;
}

static void plkt_add(struct hplace_batch *b, bool hot, unsigned long addr,
		     unsigned int nr)
{
	struct hplace_move *m = hot ? &b->plan.hot[b->plan.nr_hot++] :
				&b->plan.cold[b->plan.nr_cold++];

	m->proc = 0;
	m->start = addr;
	m->end = addr + nr * PAGE_SIZE;
	m->density = hot ? 100 : 1;	/* well apart: worth swapping */
	m->density_lo = m->density;
	m->density_hi = m->density;
}

static void plkt_rewind(struct hplace_batch *b)
{
	memset(b->cur, 0, sizeof(b->cur));
}

/*
 * Put [addr, addr + nr pages) on the slow node (demoted as a cold range),
 * then leave the plan empty for the case to write its own.
 */
static void plkt_to_slow(struct kunit *test, struct hplace_batch *b,
			 unsigned long addr, unsigned int nr)
{
	plkt_add(b, false, addr, nr);
	hplace_demote(b, nr, HPLACE_MOVE_HEADROOM);
	KUNIT_ASSERT_EQ(test, plkt_on_node(test, addr, nr, 1), nr);
	lru_add_drain_all();
	b->plan.nr_cold = 0;
	plkt_rewind(b);
}

static int plkt_init(struct kunit *test)
{
	if (!node_state(0, N_MEMORY) || !node_state(1, N_MEMORY))
		kunit_skip(test, "needs memory on nodes 0 and 1");
	return 0;
}

static void hplace_test_demote_then_promote(struct kunit *test)
{
	unsigned long addr = plkt_map(test, PLKT_PAGES);
	struct hplace_batch *b = plkt_batch(test);
	unsigned int on0 = plkt_on_node(test, addr, PLKT_PAGES, 0);
	bool more;

	plkt_add(b, false, addr, PLKT_PAGES);
	KUNIT_EXPECT_EQ(test, hplace_demote(b, PLKT_PAGES, HPLACE_MOVE_HEADROOM), (u64)on0);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, addr, PLKT_PAGES, 1),
			PLKT_PAGES);

	lru_add_drain_all();
	plkt_add(b, true, addr, PLKT_PAGES);
	plkt_rewind(b);
	KUNIT_EXPECT_EQ(test, hplace_promote(b, HPLACE_MOVE_ROOM, PLKT_PAGES, &more),
			(u64)PLKT_PAGES);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, addr, PLKT_PAGES, 0),
			PLKT_PAGES);
}

static void hplace_test_budget_and_want_bound_moves(struct kunit *test)
{
	unsigned long addr = plkt_map(test, PLKT_PAGES);
	struct hplace_batch *b = plkt_batch(test);
	unsigned int on0 = plkt_on_node(test, addr, PLKT_PAGES, 0);

	KUNIT_ASSERT_EQ(test, on0, PLKT_PAGES);
	plkt_add(b, false, addr, PLKT_PAGES);
	b->budget = 3;
	KUNIT_EXPECT_EQ(test, hplace_demote(b, PLKT_PAGES, HPLACE_MOVE_HEADROOM), 3ULL);
	KUNIT_EXPECT_EQ(test, b->budget, 0ULL);
	b->budget = U64_MAX;
	plkt_rewind(b);
	KUNIT_EXPECT_EQ(test, hplace_demote(b, 2, HPLACE_MOVE_HEADROOM), 2ULL);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, addr, PLKT_PAGES, 1), 5U);
}

static void hplace_test_swap_exchanges_hot_slow_with_cold_fast(struct kunit *test)
{
	unsigned long hot = plkt_map(test, 8), cold = plkt_map(test, 8);
	struct hplace_batch *b = plkt_batch(test);
	bool more;

	if (!IS_ENABLED(CONFIG_PAGE_EXCHANGE))
		kunit_skip(test, "CONFIG_PAGE_EXCHANGE is off");
	/* The hot range goes to the slow node first. */
	plkt_to_slow(test, b, hot, 8);
	KUNIT_ASSERT_EQ(test, plkt_on_node(test, cold, 8, 0), 8U);
	plkt_add(b, true, hot, 8);
	plkt_add(b, false, cold, 8);
	plkt_rewind(b);
	/* Overlapping bounds: no trade (no thrashing on sampling noise). */
	b->plan.hot[0].density_lo = 2;
	b->plan.hot[0].density_hi = 6;
	b->plan.cold[0].density_hi = 3;
	KUNIT_EXPECT_EQ(test, hplace_swap(b, 8, &more), 0ULL);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, hot, 8, 1), 8U);

	/* Well apart, but below the average of tracked memory: no trade. */
	b->plan.hot[0].density_lo = 100;
	b->plan.mean_density = 101;
	plkt_rewind(b);
	KUNIT_EXPECT_EQ(test, hplace_swap(b, 8, &more), 0ULL);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, hot, 8, 1), 8U);

	b->plan.mean_density = 100;
	plkt_rewind(b);
	/* Reading the pages queued them for activation: drain that. */
	lru_add_drain_all();
	KUNIT_EXPECT_EQ(test, hplace_swap(b, 8, &more), 8ULL);
	KUNIT_EXPECT_EQ(test, b->stats->moves[HPLACE_MOVE_EXCHANGE], 8ULL);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, hot, 8, 0), 8U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, cold, 8, 1), 8U);
}

/*
 * A huge page half inside a cold range is split, and only that half moves;
 * one wholly inside moves whole.
 */
/*
 * Map @nr_thp huge pages' worth of private anonymous memory, PMD-aligned
 * (MADV_HUGEPAGE), write every page and make the test's batch; returns
 * the first huge page's address, or skips the test unless that is a huge
 * page on node 0.  Every page is written: a split remaps zero-filled
 * pieces of an anonymous huge page to the shared zero page, and those do
 * not move.
 */
static unsigned long plkt_thp(struct kunit *test, unsigned int nr_thp,
			      struct hplace_batch **b)
{
	unsigned long map, thp, i;
	struct folio *folio;
	struct page *page;

	if (!IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		kunit_skip(test, "CONFIG_TRANSPARENT_HUGEPAGE is off");
	map = kunit_vm_mmap(test, NULL, 0, (nr_thp + 1) * HPAGE_PMD_SIZE,
			    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(map));
	*b = plkt_batch(test);	/* after the mmap gave the test an mm */
	thp = ALIGN(map, HPAGE_PMD_SIZE);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, thp,
					 nr_thp * HPAGE_PMD_SIZE,
					 MADV_HUGEPAGE), 0);
	for (i = 0; i < nr_thp * HPAGE_PMD_NR; i++) {
		u64 v = i + 1;

		KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)thp +
						   i * PAGE_SIZE, &v,
						   sizeof(v)), 0);
	}
	/*
	 * Keep khugepaged (which the MADV_HUGEPAGE registered the test mm
	 * with) off the range: a scan between a split and the test's next
	 * step collapses the pieces back into a huge page on node 0.  This
	 * splits nothing, and hplace does not read it.
	 */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, thp,
					 nr_thp * HPAGE_PMD_SIZE,
					 MADV_NOHUGEPAGE), 0);
	page = mm_kunit_user_page(test, thp);
	folio = page_folio(page);
	if (folio_order(folio) != HPAGE_PMD_ORDER || folio_nid(folio) != 0) {
		put_page(page);
		kunit_skip(test, "no huge page on node 0 for the test mm");
	}
	put_page(page);
	return thp;
}

static void hplace_test_thp_split_or_whole(struct kunit *test)
{
	struct hplace_batch *b;
	unsigned long thp = plkt_thp(test, 2, &b);
	u64 n;

	lru_add_drain_all();

	/* First huge page: only its upper half is in the range. */
	plkt_add(b, false, thp + HPAGE_PMD_SIZE / 2, HPAGE_PMD_NR / 2);
	/* Second one: wholly inside. */
	plkt_add(b, false, thp + HPAGE_PMD_SIZE, HPAGE_PMD_NR);
	hplace_demote(b, 2 * HPAGE_PMD_NR, HPLACE_MOVE_HEADROOM);
	KUNIT_EXPECT_EQ(test, b->stats->thp_split, 1ULL);
	KUNIT_EXPECT_EQ(test, b->stats->thp_moved, 1ULL);
	lru_add_drain_all();
	plkt_rewind(b);
	n = hplace_demote(b, 2 * HPAGE_PMD_NR, HPLACE_MOVE_HEADROOM);
	/* The pieces were moved as they were, not collapsed and split again. */
	KUNIT_EXPECT_EQ(test, b->stats->thp_split, 1ULL);
	KUNIT_EXPECT_EQ(test, n, (u64)HPAGE_PMD_NR / 2);
	KUNIT_EXPECT_EQ(test, plkt_count(test, thp, HPAGE_PMD_NR / 2, 0),
			HPAGE_PMD_NR / 2);
	KUNIT_EXPECT_EQ(test, plkt_count(test, thp + HPAGE_PMD_SIZE / 2,
					 HPAGE_PMD_NR * 3 / 2, 1),
			HPAGE_PMD_NR * 3 / 2);
}

/*
 * A huge page with half of it unmapped (MADV_DONTNEED) stays whole and
 * where it is: splitting it to move the mapped half would fight
 * khugepaged, which collapses such a range back.
 */
static void hplace_test_partly_mapped_thp_stays(struct kunit *test)
{
	struct hplace_batch *b;
	unsigned long thp = plkt_thp(test, 1, &b);
	struct page *page = mm_kunit_user_page(test, thp);
	struct folio *folio = page_folio(page);

	/*
	 * Keep the huge page as it is until the demote: the test's own
	 * reference stops khugepaged (the MADV_HUGEPAGE registered the test
	 * mm with it) from collapsing the half-unmapped range back
	 * into a PMD-mapped huge page, and the deferred-split shrinker from
	 * splitting it, both states this test is not about. hplace decides
	 * on mappings, not on the reference count; plkt_thp()'s
	 * MADV_NOHUGEPAGE keeps khugepaged off the range as well.
	 */
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, plkt_put_page,
							page), 0);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, thp + HPAGE_PMD_SIZE / 2,
					 HPAGE_PMD_SIZE / 2, MADV_DONTNEED), 0);
	lru_add_drain_all();

	/* Still one huge page, mapped by the PTEs of its first half only. */
	KUNIT_ASSERT_EQ(test, folio_order(folio), HPAGE_PMD_ORDER);
	KUNIT_ASSERT_EQ(test, folio_entire_mapcount(folio), 0);
	KUNIT_ASSERT_EQ(test, folio_mapcount(folio), HPAGE_PMD_NR / 2);

	plkt_add(b, false, thp, HPAGE_PMD_NR / 2);
	hplace_demote(b, HPAGE_PMD_NR, HPLACE_MOVE_HEADROOM);
	KUNIT_EXPECT_EQ(test, b->stats->thp_split, 0ULL);
	KUNIT_EXPECT_EQ(test, b->stats->skipped[HPLACE_SKIP_PARTLY_MAPPED],
			(u64)HPAGE_PMD_NR);
	KUNIT_EXPECT_EQ(test, plkt_count(test, thp, HPAGE_PMD_NR / 2, 0),
			HPAGE_PMD_NR / 2);
}

static void hplace_test_nodes_knob_validation(struct kunit *test)
{
	nodemask_t fast = hplace.place.fast, slow = hplace.place.slow;

	KUNIT_EXPECT_EQ(test, hplace_set_nodes(true, "0-1"), -EINVAL);
	KUNIT_EXPECT_EQ(test, hplace_set_nodes(false, "0-1"), -EINVAL);
	KUNIT_EXPECT_EQ(test, hplace_set_nodes(true, "63"), -EINVAL);
	KUNIT_EXPECT_EQ(test, hplace_set_nodes(true, "zero"), -EINVAL);
	KUNIT_EXPECT_TRUE(test, nodes_equal(fast, hplace.place.fast));
	KUNIT_EXPECT_TRUE(test, nodes_equal(slow, hplace.place.slow));
	KUNIT_EXPECT_EQ(test, hplace_set_nodes(true, "0"), 0);
	KUNIT_EXPECT_FALSE(test, hplace.place.fast_auto);
	KUNIT_EXPECT_TRUE(test, node_isset(1, hplace.place.slow));
	KUNIT_EXPECT_EQ(test, hplace_set_nodes(true, "auto"), 0);
	KUNIT_EXPECT_TRUE(test, hplace.place.fast_auto);
	KUNIT_EXPECT_TRUE(test, nodes_equal(fast, hplace.place.fast));
}

/*
 * Filling free fast memory walks the cold list warmest first, passes over
 * fresh ranges (new memory stays where it was allocated while fresh) and
 * stops at the first old one never sampled.
 */
static void hplace_test_fill_takes_sampled_ranges_only(struct kunit *test)
{
	unsigned long idle = plkt_map(test, 4), warm = plkt_map(test, 4);
	unsigned long fresh = plkt_map(test, 4);
	struct hplace_batch *b = plkt_batch(test);
	bool more;

	plkt_add(b, false, idle, 4);
	plkt_add(b, false, fresh, 4);
	plkt_add(b, false, warm, 4);
	hplace_demote(b, 12, HPLACE_MOVE_HEADROOM);
	KUNIT_ASSERT_EQ(test, plkt_on_node(test, idle, 4, 1), 4U);
	KUNIT_ASSERT_EQ(test, plkt_on_node(test, warm, 4, 1), 4U);
	KUNIT_ASSERT_EQ(test, plkt_on_node(test, fresh, 4, 1), 4U);
	lru_add_drain_all();

	/* In hplace_cmp_cold()'s order: idle, fresh, surely accessed. */
	b->plan.cold[0].density = 0;
	b->plan.cold[1].density = 9;
	b->plan.cold[1].fresh = true;
	b->plan.cold[2].density = 5;
	b->plan.cold[2].density_lo = 2;
	plkt_rewind(b);
	KUNIT_EXPECT_EQ(test, hplace_promote(b, HPLACE_MOVE_FILL, 12, &more),
			4ULL);
	KUNIT_EXPECT_FALSE(test, more);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, warm, 4, 0), 4U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, idle, 4, 1), 4U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, fresh, 4, 1), 4U);
}

/*
 * Cold ranges sort by rank -- old with no sure access, fresh, old surely
 * accessed -- and each rank coldest first, then the surely coldest.
 */
static void hplace_test_cold_order_fresh_after_old(struct kunit *test)
{
	struct hplace_move m[] = {
		{ .start = 0x1000, .density = 0, .density_hi = 1, .fresh = true },
		{ .start = 0x2000, .density = 9, .density_lo = 4 },
		{ .start = 0x3000, .density = 3, .fresh = true },
		{ .start = 0x4000, .density = 0, .density_hi = 7 },
		{ .start = 0x5000, .density = 0, .density_hi = 5 },
		{ .start = 0x6000, .density = 3, .density_hi = 9 },
	};
	static const unsigned long order[] = {
		0x5000, 0x4000, 0x6000, 0x1000, 0x3000, 0x2000
	};
	unsigned int i;

	sort(m, ARRAY_SIZE(m), sizeof(*m), hplace_cmp_cold, NULL);
	for (i = 0; i < ARRAY_SIZE(m); i++)
		KUNIT_EXPECT_EQ(test, m[i].start, order[i]);
}

/*
 * A plan with the same hot ranges (by process id, not plan index; any
 * densities) may be taken as settled; any other difference may not.
 */
static void hplace_test_same_hot_plan(struct kunit *test)
{
	struct hplace_batch *b = plkt_batch(test);
	struct hplace_plan *pl = kunit_kzalloc(test, sizeof(*pl), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, pl);
	pl->hot = kunit_kcalloc(test, 4, sizeof(*pl->hot), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pl->hot);
	b->plan.proc_ids[0] = 7;
	b->plan.proc_ids[1] = 9;
	b->plan.nr_procs = 2;
	b->plan.hot[0] = (struct hplace_move){ .proc = 1, .start = 0x1000,
					       .end = 0x9000, .density = 50 };
	b->plan.hot[1] = (struct hplace_move){ .proc = 0, .start = 0x9000,
					       .end = 0xa000, .density = 40 };
	b->plan.nr_hot = 2;

	pl->proc_ids[0] = 9;	/* the same processes, other indexes */
	pl->proc_ids[1] = 7;
	pl->nr_procs = 2;
	pl->hot[0] = (struct hplace_move){ .proc = 0, .start = 0x1000,
					   .end = 0x9000, .density = 80 };
	pl->hot[1] = (struct hplace_move){ .proc = 1, .start = 0x9000,
					   .end = 0xa000, .density = 10 };
	pl->nr_hot = 2;
	KUNIT_EXPECT_TRUE(test, hplace_same_hot(b, pl));

	pl->hot[1].end = 0xb000;
	KUNIT_EXPECT_FALSE(test, hplace_same_hot(b, pl));
	pl->hot[1].end = 0xa000;
	pl->hot[1].proc = 0;
	KUNIT_EXPECT_FALSE(test, hplace_same_hot(b, pl));
	pl->hot[1].proc = 1;
	pl->nr_hot = 1;
	KUNIT_EXPECT_FALSE(test, hplace_same_hot(b, pl));
}

/*
 * The pair loop demotes a batch at a time: each call goes on from where
 * the last stopped, so a pass walks each cold range about once, not once
 * per batch (which made it quadratic in the ranges drained).
 */
static void hplace_test_demote_walks_each_range_once(struct kunit *test)
{
	struct hplace_batch *b;
	unsigned long addr[PLKT_RANGES];
	unsigned int i, calls = 0;
	u64 moved = 0, n;

	for (i = 0; i < PLKT_RANGES; i++)
		addr[i] = plkt_map(test, PLKT_PAGES);
	b = plkt_batch(test);	/* after the first mapping made current->mm */
	for (i = 0; i < PLKT_RANGES; i++) {
		KUNIT_ASSERT_EQ(test, plkt_count(test, addr[i], PLKT_PAGES, 0),
				PLKT_PAGES);
		plkt_add(b, false, addr[i], PLKT_PAGES);
	}
	/* Reading the pages queued them for activation: drain that. */
	lru_add_drain_all();
	do {
		n = hplace_demote(b, 4, HPLACE_MOVE_PAIR_DEMOTE);
		moved += n;
		calls++;

	} while (n && calls < 100);
	KUNIT_EXPECT_EQ(test, moved, 4ULL * PLKT_PAGES);
	for (i = 0; i < PLKT_RANGES; i++)
		KUNIT_EXPECT_EQ(test, plkt_on_node(test, addr[i], PLKT_PAGES, 1),
				PLKT_PAGES);
	KUNIT_EXPECT_LE_MSG(test, b->walks, (u64)calls + PLKT_RANGES,
			    "%u calls walked %llu times", calls, b->walks);
}

/*
 * Paired migration goes on while the next hot range is surely denser than
 * average, and demotes only cold ranges surely less dense than it.
 */
static void hplace_test_pair_worth_follows_cursors(struct kunit *test)
{
	struct hplace_batch *b = plkt_batch(test);

	plkt_add(b, true, 0x100000, 1);
	plkt_add(b, true, 0x200000, 1);
	b->plan.hot[0].density_lo = 100;
	b->plan.hot[1].density_lo = 40;
	b->plan.mean_density = 50;
	KUNIT_EXPECT_EQ(test, hplace_pair_worth(b), 100ULL);
	/* The next one is not surely above average. */
	b->cur[HPLACE_LIST_HOT].pos = 1;
	KUNIT_EXPECT_EQ(test, hplace_pair_worth(b), 0ULL);
	/* No hot range left. */
	b->cur[HPLACE_LIST_HOT].pos = 2;
	KUNIT_EXPECT_EQ(test, hplace_pair_worth(b), 0ULL);
}

/*
 * A full fast tier: exchange takes its cold partners only from ranges
 * surely colder than the hot side, and passes over the others (here a
 * small range nobody sampled: its density is unknown, not low) instead
 * of giving up on the whole batch.
 */
static void hplace_test_swap_passes_over_unsure_cold(struct kunit *test)
{
	unsigned long hot = plkt_map(test, 8), unsure = plkt_map(test, 4);
	unsigned long cold = plkt_map(test, 8);
	struct hplace_batch *b = plkt_batch(test);
	bool more;

	if (!IS_ENABLED(CONFIG_PAGE_EXCHANGE))
		kunit_skip(test, "CONFIG_PAGE_EXCHANGE is off");
	plkt_to_slow(test, b, hot, 8);
	plkt_add(b, true, hot, 8);
	plkt_add(b, false, unsure, 4);
	plkt_add(b, false, cold, 8);
	b->plan.hot[0].density_lo = 100;
	b->plan.mean_density = 50;
	b->plan.cold[0].density_hi = 1000;	/* unsampled, small: unsure */
	b->plan.cold[1].density_hi = 10;
	plkt_rewind(b);
	lru_add_drain_all();
	KUNIT_EXPECT_EQ(test, hplace_swap(b, 8, &more), 8ULL);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, hot, 8, 0), 8U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, cold, 8, 1), 8U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, unsure, 4, 0), 4U);
}

/* Set a plan range's density and its bounds (lo <= density <= hi). */
static void plkt_density(struct hplace_move *m, u64 lo, u64 density, u64 hi)
{
	m->density_lo = lo;
	m->density = density;
	m->density_hi = hi;
}

/*
 * The classifier may call more hot than the fast tier holds (its capacity
 * counts anonymous pages placement cannot move): with no cold range left,
 * exchange trades a hot range on the slow tier with the fast pages of the
 * least surely dense hot ranges, only those surely less dense than it by
 * the classifier's incumbency margin.  The plan is in hplace_cmp_hot()
 * order; the headroom step and paired demotion take no hot range.
 */
static void hplace_test_swap_trades_with_the_least_dense_hot(struct kunit *test)
{
	unsigned long dense = plkt_map(test, 8), mid = plkt_map(test, 8);
	unsigned long sparse = plkt_map(test, 8), wide = plkt_map(test, 4);
	struct hplace_batch *b = plkt_batch(test);
	bool more;

	if (!IS_ENABLED(CONFIG_PAGE_EXCHANGE))
		kunit_skip(test, "CONFIG_PAGE_EXCHANGE is off");
	plkt_to_slow(test, b, dense, 8);
	plkt_add(b, true, dense, 8);
	plkt_add(b, true, mid, 8);
	plkt_add(b, true, sparse, 8);
	plkt_add(b, true, wide, 4);
	plkt_density(&b->plan.hot[0], 100, 200, 300);
	plkt_density(&b->plan.hot[1], 50, 60, 80);
	plkt_density(&b->plan.hot[2], 5, 10, 20);
	/* Least surely dense, met first; below 100, but not by the margin. */
	plkt_density(&b->plan.hot[3], 4, 50, 95);
	b->plan.mean_density = 50;
	plkt_rewind(b);
	lru_add_drain_all();
	KUNIT_EXPECT_EQ(test, hplace_swap(b, 8, &more), 8ULL);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, dense, 8, 0), 8U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, sparse, 8, 1), 8U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, mid, 8, 0), 8U);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, wide, 4, 0), 4U);
	/* Demotion for the headroom or a pair: cold ranges only. */
	plkt_rewind(b);
	KUNIT_EXPECT_EQ(test, hplace_demote(b, 4, HPLACE_MOVE_HEADROOM), 0ULL);
	b->cold_below = 1000;
	KUNIT_EXPECT_EQ(test, hplace_demote(b, 4, HPLACE_MOVE_PAIR_DEMOTE),
			0ULL);
	b->cold_below = 0;
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, mid, 8, 0), 8U);
}

/*
 * Exchange takes base pages only: a hot huge page on the slow tier of a
 * full fast one is traded by paired migration (demote cold pages, promote
 * it whole into the room), which must still run once exchange has walked
 * past it; one not worth a trade leaves the plan settled.
 */
static void hplace_test_trade_pairs_huge_pages(struct kunit *test)
{
	struct hplace_batch *b;
	unsigned long thp = plkt_thp(test, 1, &b);
	/* One page short of a huge page: cold base pages under THP=always. */
	unsigned long cold = plkt_map(test, HPAGE_PMD_NR - 1);

	lru_add_drain_all();
	plkt_add(b, false, thp, HPAGE_PMD_NR);
	hplace_demote(b, HPAGE_PMD_NR, HPLACE_MOVE_HEADROOM);
	if (b->stats->thp_moved != 1)
		kunit_skip(test, "no free huge page on node 1");
	KUNIT_ASSERT_EQ(test, plkt_count(test, thp, HPAGE_PMD_NR, 1),
			HPAGE_PMD_NR);
	lru_add_drain_all();

	b->plan.nr_cold = 0;
	plkt_add(b, true, thp, HPAGE_PMD_NR);
	plkt_add(b, false, cold, HPAGE_PMD_NR - 1);
	/* Below the average: not worth a fast page, and nothing more to do. */
	b->plan.mean_density = 200;
	plkt_rewind(b);
	KUNIT_EXPECT_FALSE(test, hplace_trade(b));
	KUNIT_EXPECT_EQ(test, plkt_count(test, thp, HPAGE_PMD_NR, 1),
			HPAGE_PMD_NR);
	b->plan.mean_density = 50;
	plkt_rewind(b);
	KUNIT_EXPECT_FALSE(test, hplace_trade(b));
	KUNIT_EXPECT_EQ(test, b->stats->thp_moved, 2ULL);
	KUNIT_EXPECT_EQ(test, plkt_count(test, thp, HPAGE_PMD_NR, 0),
			HPAGE_PMD_NR);
	KUNIT_EXPECT_EQ(test, plkt_on_node(test, cold, HPAGE_PMD_NR - 1, 1),
			HPAGE_PMD_NR - 1);
}

/* A shrink target lasts while the shrink is pending, not once met or withdrawn. */
static void hplace_test_resize_target_met_or_withdrawn(struct kunit *test)
{
	unsigned long t = 0;

	/* A grow is nothing to make room for. */
	t = hplace_next_target(t, NODE_RESIZE_PENDING, 1000, 1200);
	KUNIT_EXPECT_EQ(test, t, 0UL);
	/* Shrink to 800: hold 200; progress in steps keeps it. */
	t = hplace_next_target(t, NODE_RESIZE_PENDING, 1000, 800);
	KUNIT_EXPECT_EQ(test, t, 800UL);
	t = hplace_next_target(t, NODE_RESIZED, 1000, 900);
	KUNIT_EXPECT_EQ(test, t, 800UL);
	/* The host withdraws it: the pending size is the size now. */
	t = hplace_next_target(t, NODE_RESIZE_PENDING, 900, 900);
	KUNIT_EXPECT_EQ(test, t, 0UL);
	/* A new shrink, reached: dropped. */
	t = hplace_next_target(t, NODE_RESIZE_PENDING, 900, 700);
	KUNIT_EXPECT_EQ(test, t, 700UL);
	t = hplace_next_target(t, NODE_RESIZED, 750, 700);
	KUNIT_EXPECT_EQ(test, t, 0UL);
	/* A stalled shrink re-announced keeps its target. */
	t = hplace_next_target(t, NODE_RESIZE_PENDING, 700, 600);
	t = hplace_next_target(t, NODE_RESIZE_PENDING, 650, 600);
	KUNIT_EXPECT_EQ(test, t, 600UL);
}

/* The demand reported to the host, split over a tier's nodes by size. */
static void hplace_test_demand_share(struct kunit *test)
{
	u64 hot, cold;

	/* One fast node: the working set, fits or not; the rest is cold. */
	hplace_demand_share(true, 300, 200, 1000, 1000, 900, &hot, &cold);
	KUNIT_EXPECT_EQ(test, hot, 300ULL);
	KUNIT_EXPECT_EQ(test, cold, 700ULL);
	/* Its slow node holds the 100 pages that did not fit. */
	hplace_demand_share(false, 300, 200, 4000, 4000, 1500, &hot, &cold);
	KUNIT_EXPECT_EQ(test, hot, 0ULL);
	KUNIT_EXPECT_EQ(test, cold, 1400ULL);
	/* Two fast nodes, 1:3 by size. */
	hplace_demand_share(true, 400, 400, 250, 1000, 50, &hot, &cold);
	KUNIT_EXPECT_EQ(test, hot, 100ULL);
	KUNIT_EXPECT_EQ(test, cold, 0ULL);
	/* Everything fits: the slow node's memory is all cold. */
	hplace_demand_share(false, 300, 500, 4000, 4000, 1500, &hot, &cold);
	KUNIT_EXPECT_EQ(test, cold, 1500ULL);
	/* No memory in the tier, and a node bigger than its tier's sum. */
	hplace_demand_share(true, 300, 200, 1000, 0, 900, &hot, &cold);
	KUNIT_EXPECT_EQ(test, hot, 0ULL);
	KUNIT_EXPECT_EQ(test, cold, 900ULL);
	hplace_demand_share(true, U64_MAX, U64_MAX, 2000, 1000, 0, &hot, &cold);
	KUNIT_EXPECT_EQ(test, hot, U64_MAX);
	KUNIT_EXPECT_EQ(test, cold, 0ULL);
}

/* The room gap grows with a tenant's bursts, and gives unused room back. */
static void hplace_test_room_gap_follows_bursts(struct kunit *test)
{
	const u64 w = (u64)HPLACE_GAP_WINDOW_MS * NSEC_PER_MSEC;
	const u64 h = 2000, max = 4000;	/* headroom, cap: the share is 500 */
	struct hplace_batch *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, b);
	hplace_gap_reset(b, 0);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), 500ULL);
	/* A burst took the tier 600 pages below the gap's top. */
	hplace_gap_grow(b, 600, h + 500 - 600, h, 500, max);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), 600ULL);
	/* Demoted for a pending shrink, above headroom and gap: no growth. */
	hplace_gap_grow(b, 300, h + 600, h, 600, max);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), 600ULL);
	/* Bursts the gap did not cover at least double it, up to @max. */
	hplace_gap_grow(b, 5000, 0, h, 600, max);
	KUNIT_EXPECT_EQ(test, b->gap_learned, 3200ULL);
	hplace_gap_grow(b, 5000, 0, h, 3200, max);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), max);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, 3000), 3000ULL);
	/* A window in which free memory came within half of it keeps it. */
	hplace_gap_window(b, 1, h + 100, h, max);
	hplace_gap_window(b, w, h + 3000, h, max);
	KUNIT_EXPECT_EQ(test, b->gap_learned, max);
	/* One that never used half of it halves it, down to the share. */
	hplace_gap_window(b, 2 * w - 1, h + 2000, h, max);
	KUNIT_EXPECT_EQ(test, b->gap_learned, max);
	hplace_gap_window(b, 2 * w, h + 2000, h, max);
	KUNIT_EXPECT_EQ(test, b->gap_learned, max / 2);
	hplace_gap_window(b, 3 * w, h + 2000, h, max / 2);
	hplace_gap_window(b, 4 * w, h + 2000, h, max / 4);
	hplace_gap_window(b, 5 * w, h + 2000, h, 500);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), 500ULL);
	/* Free memory below what must stay free counts as all of it used. */
	hplace_gap_grow(b, 600, h - 100, h, 500, max);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), 850ULL);
	hplace_gap_window(b, 6 * w, h - 1, h, 850);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), 850ULL);
	hplace_gap_reset(b, 7 * w);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, h, max), 500ULL);
	/*
	 * Half of an odd gap rounds up: a window whose bursts used exactly
	 * that keeps it, or the next such burst would overrun the halved gap.
	 */
	b->gap_learned = 1001;
	hplace_gap_window(b, 8 * w, h + 500, h, 1001);
	KUNIT_EXPECT_EQ(test, b->gap_learned, 1001ULL);
	hplace_gap_window(b, 9 * w, h + 501, h, 1001);
	KUNIT_EXPECT_EQ(test, b->gap_learned, 500ULL);
}

/*
 * The gap's bound: two headrooms plus the floor (a quarter of one), or an
 * eighth of the tier once that is more (from 55.6 permille of headroom
 * up).
 */
static void hplace_test_room_gap_bound(struct kunit *test)
{
	struct hplace_batch *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	const u64 m = 100003;	/* pages of the tier; not a multiple of 8 */
	u64 managed, headroom, gap_max;

	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_EQ(test, hplace_gap_max(5000, m), 11250ULL);
	KUNIT_EXPECT_EQ(test, hplace_gap_max(5500, m), 12375ULL);
	KUNIT_EXPECT_EQ(test, hplace_gap_max(5600, m), 12500ULL);
	KUNIT_EXPECT_EQ(test, hplace_gap_max(50001, m), 12500ULL);

	/* Learned at the 500 permille bound, then the knob back at 50. */
	hplace_gap_reset(b, 0);
	b->gap_learned = hplace_gap_max(50001, m);
	KUNIT_EXPECT_EQ(test, hplace_room_gap(b, 5000, hplace_gap_max(5000, m)),
			11250ULL);

	/*
	 * Headroom 5000 (floor 1250), a bound of 10000 given: below the bound
	 * the step refills the gap; at it, the deficit and the floor; with a
	 * bound no higher than the floor (0 here; a tier of a few MiB, or the
	 * 500 permille knob) the room gap is the floor, and both forms agree.
	 */
	b->gap_learned = 9999;
	KUNIT_EXPECT_EQ(test,
			hplace_headroom_want(b, 4000, 5000, 9999, 5000, 10000),
			10999ULL);
	b->gap_learned = 10000;
	KUNIT_EXPECT_EQ(test,
			hplace_headroom_want(b, 4000, 5000, 10000, 5000, 10000),
			2250ULL);
	b->gap_learned = 0;
	KUNIT_EXPECT_EQ(test, hplace_headroom_want(b, 90, 100, 256, 100, 0),
			266ULL);

	/* hplace_headroom_pages() sums the fast nodes and applies the knob. */
	managed = hplace_node_managed(0);
	nodes_clear(b->fast);
	node_set(0, b->fast);
	b->headroom = 500;
	headroom = hplace_headroom_pages(b, &gap_max);
	if (hplace_node_managed(0) != managed)
		kunit_skip(test, "node 0 was resized under the test");
	KUNIT_EXPECT_EQ(test, headroom, div_u64(managed * 500, 1000));
	KUNIT_EXPECT_EQ(test, gap_max, hplace_gap_max(headroom, managed));
}

/* What plkt_bursts() saw. */
struct plkt_burst_run {
	u64 now;		/* ns; each pass is a second after the last */
	u64 demoted;		/* by the last burst's pass */
	u64 promoted;		/* ... and by the pass after its free */
	u64 demoted_all;	/* by all the bursts of the call */
};

/*
 * The room gap's steps over @n bursts of @burst pages (allocated, then
 * freed) with nothing else moving: hplace_migrate_pass()'s arithmetic and
 * its 30 s window, one pass at each burst's peak and one after its free,
 * a second apart; what the fast tier cannot hold spills to the slow one.
 * Free memory starts at the top of the gap, or where @run's last call
 * left it.
 */
static void plkt_bursts(struct hplace_batch *b, u64 headroom, u64 gap_max,
			u64 burst, int n, struct plkt_burst_run *run, u64 *free)
{
	u64 keep = headroom, gap;
	int i;

	if (!*free)
		*free = keep + hplace_room_gap(b, headroom, gap_max);
	run->demoted_all = 0;
	for (i = 0; i < n; i++) {
		u64 d = 0, p = 0, held = min(*free, burst);

		*free -= held;
		run->now += NSEC_PER_SEC;
		gap = hplace_room_gap(b, headroom, gap_max);
		hplace_gap_window(b, run->now, *free, keep, gap);
		if (*free < keep) {
			d = hplace_headroom_want(b, *free, keep, gap, headroom,
						 gap_max);
			hplace_gap_grow(b, d, *free, headroom, gap, gap_max);
			*free += d;
		}
		*free += held;
		run->now += NSEC_PER_SEC;
		gap = hplace_room_gap(b, headroom, gap_max);
		hplace_gap_window(b, run->now, *free, keep, gap);
		if (*free > keep + gap)
			p = *free - keep - gap;
		*free -= p;
		run->demoted = d;
		run->promoted = p;
		run->demoted_all += d;
	}
}

/*
 * Bursts the room gap learned to its bound: one within the bound trades
 * nothing once settled; a larger one trades its overrun plus the floor
 * each way.  The bound holds the floor on top of the headrooms: without
 * it, the floor the headroom step demoted was promoted into again after
 * every burst (churn-thp: 44,653 pages a minute at steady state, bench
 * seed 3).  Smaller bursts after big ones: the gap halves to what still
 * covers them, without a burst demoted for on the way.
 */
static void hplace_test_bursts_at_the_gap_bound(struct kunit *test)
{
	struct hplace_batch *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	const u64 headroom = 5000;	/* floor 1250 */
	const u64 gap_max = hplace_gap_max(headroom, 1000000);
	struct plkt_burst_run run = {};
	u64 free;

	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_EQ(test, gap_max, 2 * headroom + 1250);

	/* Within the bound; just within (48 MiB bursts, bound ~55 MiB). */
	hplace_gap_reset(b, 0);
	free = 0;
	plkt_bursts(b, headroom, gap_max, 8000, 8, &run, &free);
	KUNIT_EXPECT_EQ(test, run.demoted, 0ULL);
	KUNIT_EXPECT_EQ(test, run.promoted, 0ULL);
	hplace_gap_reset(b, run.now);
	free = 0;
	plkt_bursts(b, headroom, gap_max, 11000, 8, &run, &free);
	KUNIT_EXPECT_EQ(test, run.demoted, 0ULL);
	KUNIT_EXPECT_EQ(test, run.promoted, 0ULL);

	/* Far over it: its overrun plus the floor, each way. */
	hplace_gap_reset(b, run.now);
	free = 0;
	plkt_bursts(b, headroom, gap_max, 14000, 8, &run, &free);
	KUNIT_EXPECT_EQ(test, run.demoted, 14000 - gap_max + 1250);
	KUNIT_EXPECT_EQ(test, run.promoted, 14000 - gap_max + 1250);

	/*
	 * Then bursts just under half the bound (over half of the two
	 * headrooms alone), for 90 s: the gap halves (the troughs stay above
	 * half of it) and still covers them; with the floor outside the
	 * bound, the halved gap did not, and one burst was demoted for.
	 */
	plkt_bursts(b, headroom, gap_max, gap_max / 2 - 100, 45, &run, &free);
	KUNIT_EXPECT_EQ(test, run.demoted_all, 0ULL);
	KUNIT_EXPECT_EQ(test, b->gap_learned, gap_max / 2);
}

static struct kunit_case hplace_placement_cases[] = {
	KUNIT_CASE(hplace_test_demote_then_promote),
	KUNIT_CASE(hplace_test_budget_and_want_bound_moves),
	KUNIT_CASE(hplace_test_swap_exchanges_hot_slow_with_cold_fast),
	KUNIT_CASE(hplace_test_thp_split_or_whole),
	KUNIT_CASE(hplace_test_partly_mapped_thp_stays),
	KUNIT_CASE(hplace_test_nodes_knob_validation),
	KUNIT_CASE(hplace_test_same_hot_plan),
	KUNIT_CASE(hplace_test_fill_takes_sampled_ranges_only),
	KUNIT_CASE(hplace_test_cold_order_fresh_after_old),
	KUNIT_CASE(hplace_test_demote_walks_each_range_once),
	KUNIT_CASE(hplace_test_pair_worth_follows_cursors),
	KUNIT_CASE(hplace_test_swap_passes_over_unsure_cold),
	KUNIT_CASE(hplace_test_swap_trades_with_the_least_dense_hot),
	KUNIT_CASE(hplace_test_trade_pairs_huge_pages),
	KUNIT_CASE(hplace_test_resize_target_met_or_withdrawn),
	KUNIT_CASE(hplace_test_demand_share),
	KUNIT_CASE(hplace_test_room_gap_follows_bursts),
	KUNIT_CASE(hplace_test_room_gap_bound),
	KUNIT_CASE(hplace_test_bursts_at_the_gap_bound),
	{}
};

static struct kunit_suite hplace_placement_suite = {
	.name = "hplace-placement",
	.init = plkt_init,
	.test_cases = hplace_placement_cases,
};

kunit_test_suite(hplace_placement_suite);

#endif /* _HPLACE_PLACEMENT_KUNIT_H */
#endif /* CONFIG_HPLACE_KUNIT_TEST */
