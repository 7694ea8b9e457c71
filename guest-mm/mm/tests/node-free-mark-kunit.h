/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for node free marks, included by mm/node_free_mark.c.
 *
 * They take real pages off a node's free lists, so the page allocator's
 * own accounting is what crosses the mark.
 */
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/mm.h>

#define NFM_TEST_MAX_PAGES	8192	/* 32 MiB */

static atomic_t nfm_test_calls;
static int nfm_test_nid;

static void nfm_test_notify(struct node_free_marks *m, int nid)
{
	WRITE_ONCE(nfm_test_nid, nid);
	atomic_inc(&nfm_test_calls);
}

/* The test's own marks: other listeners (hplace) keep theirs. */
static struct node_free_marks nfm_test_marks = { .notify = nfm_test_notify };

struct nfm_test_pages {
	struct list_head list;
	unsigned int nr;
};

/* Take @nr pages off @nid (fewer if it runs out); stop early on a call. */
static void nfm_test_take(struct nfm_test_pages *tp, int nid, unsigned int nr,
			  bool until_called)
{
	while (nr--) {
		struct page *page = alloc_pages_node(nid, GFP_KERNEL |
						     __GFP_THISNODE |
						     __GFP_NOWARN, 0);

		if (!page)
			break;
		list_add(&page->lru, &tp->list);
		tp->nr++;
		if (until_called) {
			irq_work_sync(&nfm_test_marks.work);
			if (atomic_read(&nfm_test_calls))
				break;
		}
	}
	irq_work_sync(&nfm_test_marks.work);
}

static void nfm_test_put(struct nfm_test_pages *tp)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, &tp->list, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	tp->nr = 0;
}

static int nfm_test_init(struct kunit *test)
{
	atomic_set(&nfm_test_calls, 0);
	WRITE_ONCE(nfm_test_nid, NUMA_NO_NODE);
	register_node_free_marks(&nfm_test_marks);
	return 0;
}

static void nfm_test_exit(struct kunit *test)
{
	unregister_node_free_marks(&nfm_test_marks);
}

static void nfm_test_fires_once_below_mark(struct kunit *test)
{
	struct nfm_test_pages tp = { .list = LIST_HEAD_INIT(tp.list) };
	int nid = first_memory_node;
	unsigned long free = sum_zone_node_page_state(nid, NR_FREE_PAGES);

	if (free < 2 * NFM_TEST_MAX_PAGES)
		kunit_skip(test, "node %d has only %lu free pages", nid, free);
	node_free_mark_set(&nfm_test_marks, nid, free - 256);
	nfm_test_take(&tp, nid, NFM_TEST_MAX_PAGES, true);
	KUNIT_EXPECT_EQ(test, atomic_read(&nfm_test_calls), 1);
	KUNIT_EXPECT_EQ(test, READ_ONCE(nfm_test_nid), nid);
	/* Seen within the per-CPU drift of the crossing. */
	KUNIT_EXPECT_LT(test, tp.nr, 256 + 256 * num_online_cpus());
	kunit_info(test, "notified after %u pages for a mark 256 pages down",
		   tp.nr);

	/* One-shot: falling further does not notify again. */
	nfm_test_take(&tp, nid, 1024, false);
	KUNIT_EXPECT_EQ(test, atomic_read(&nfm_test_calls), 1);
	nfm_test_put(&tp);
}

/* Taking 2048 pages off the first memory node must not notify. */
static void nfm_test_expect_quiet(struct kunit *test)
{
	struct nfm_test_pages tp = { .list = LIST_HEAD_INIT(tp.list) };

	nfm_test_take(&tp, first_memory_node, 2048, false);
	KUNIT_EXPECT_EQ(test, atomic_read(&nfm_test_calls), 0);
	nfm_test_put(&tp);
}

static void nfm_test_quiet_above_mark(struct kunit *test)
{
	node_free_mark_set(&nfm_test_marks, first_memory_node, 1);
	nfm_test_expect_quiet(test);
}

static void nfm_test_disarmed_is_quiet(struct kunit *test)
{
	int nid = first_memory_node;

	node_free_mark_set(&nfm_test_marks, nid,
			   sum_zone_node_page_state(nid, NR_FREE_PAGES));
	node_free_mark_set(&nfm_test_marks, nid, 0);
	nfm_test_expect_quiet(test);
}

static struct kunit_case nfm_test_cases[] = {
	KUNIT_CASE(nfm_test_fires_once_below_mark),
	KUNIT_CASE(nfm_test_quiet_above_mark),
	KUNIT_CASE(nfm_test_disarmed_is_quiet),
	{}
};

static struct kunit_suite nfm_test_suite = {
	.name = "node-free-mark",
	.init = nfm_test_init,
	.exit = nfm_test_exit,
	.test_cases = nfm_test_cases,
};

kunit_test_suite(nfm_test_suite);
