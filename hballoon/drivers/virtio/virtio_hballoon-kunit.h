/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for the hballoon driver's pure helpers and for the NUMA node
 * resize notifier chain it calls. Included by virtio_hballoon.c.
 */

#ifndef _VIRTIO_HBALLOON_KUNIT_H
#define _VIRTIO_HBALLOON_KUNIT_H

#include <kunit/test.h>

static void hballoon_test_clamp_target(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, hballoon_clamp_target(0, 1000, 1), 0ULL);
	KUNIT_EXPECT_EQ(test, hballoon_clamp_target(999, 1000, 1), 999ULL);
	/* more than the node has: all of it */
	KUNIT_EXPECT_EQ(test, hballoon_clamp_target(5000, 1000, 1), 1000ULL);
	KUNIT_EXPECT_EQ(test, hballoon_clamp_target(U64_MAX, 1000, 1), 1000ULL);
	/* 16 KiB guest pages: whole pages, rounded up */
	KUNIT_EXPECT_EQ(test, hballoon_clamp_target(5, 1000, 4), 8ULL);
	KUNIT_EXPECT_EQ(test, hballoon_clamp_target(8, 1000, 4), 8ULL);
}

static void hballoon_test_check_node(struct kunit *test)
{
	nodemask_t memory = NODE_MASK_NONE, claimed = NODE_MASK_NONE;

	node_set(0, memory);
	if (MAX_NUMNODES > 1)
		node_set(1, memory);

	/* pxm_to_node() found nothing */
	KUNIT_EXPECT_EQ(test, hballoon_check_node(NUMA_NO_NODE, &memory,
						  &claimed),
			HB_NODE_UNKNOWN_PXM);
	KUNIT_EXPECT_EQ(test, hballoon_check_node(MAX_NUMNODES, &memory,
						  &claimed),
			HB_NODE_UNKNOWN_PXM);
	KUNIT_EXPECT_TRUE(test, nodes_empty(claimed));

	KUNIT_EXPECT_EQ(test, hballoon_check_node(0, &memory, &claimed),
			HB_NODE_OK);
	KUNIT_EXPECT_TRUE(test, node_isset(0, claimed));
	/* two proximity domains on one node: the second is ignored */
	KUNIT_EXPECT_EQ(test, hballoon_check_node(0, &memory, &claimed),
			HB_NODE_DUPLICATE);

	if (MAX_NUMNODES > 2) {
		/* a CPU-only node has nothing to balloon */
		KUNIT_EXPECT_EQ(test, hballoon_check_node(2, &memory, &claimed),
				HB_NODE_NO_MEMORY);
		KUNIT_EXPECT_FALSE(test, node_isset(2, claimed));
	}
}

static void hballoon_test_backoff(struct kunit *test)
{
	unsigned int ms = 0, steps = 0;

	KUNIT_EXPECT_EQ(test, hballoon_next_backoff(0, HB_BACKOFF_MIN_MS),
			HB_BACKOFF_MIN_MS);
	KUNIT_EXPECT_EQ(test, hballoon_next_backoff(HB_BACKOFF_MIN_MS,
						    HB_BACKOFF_MIN_MS),
			2 * HB_BACKOFF_MIN_MS);
	/* an OOM hold-off is longer than the current back-off */
	KUNIT_EXPECT_EQ(test, hballoon_next_backoff(HB_BACKOFF_MIN_MS,
						    HB_OOM_HOLDOFF_MS),
			HB_OOM_HOLDOFF_MS);
	/* grows to the cap in a few steps and stays there */
	while (ms < HB_BACKOFF_MAX_MS && steps++ < 32)
		ms = hballoon_next_backoff(ms, HB_BACKOFF_MIN_MS);
	KUNIT_EXPECT_EQ(test, ms, HB_BACKOFF_MAX_MS);
	KUNIT_EXPECT_LE(test, steps, 10U);
	KUNIT_EXPECT_EQ(test, hballoon_next_backoff(ms, HB_BACKOFF_MIN_MS),
			HB_BACKOFF_MAX_MS);
}

static void hballoon_test_allowance(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, hballoon_inflate_allowance(100, 10000, 1000),
			100UL);
	KUNIT_EXPECT_EQ(test, hballoon_inflate_allowance(100, 1050, 1000),
			50UL);
	KUNIT_EXPECT_EQ(test, hballoon_inflate_allowance(100, 1000, 1000),
			0UL);
	KUNIT_EXPECT_EQ(test, hballoon_inflate_allowance(100, 10, 1000), 0UL);
	/* si_mem_available() can go negative */
	KUNIT_EXPECT_EQ(test, hballoon_inflate_allowance(100, -5, 1000), 0UL);
}

static void hballoon_test_floor(struct kunit *test)
{
	unsigned long mib = (1UL << 20) >> PAGE_SHIFT;

	/* small guests keep 16 MiB */
	KUNIT_EXPECT_EQ(test, hballoon_floor_pages(64 * mib, 0), 16 * mib);
	/* 4 GiB: 128 MiB plus the kernel's reserve */
	KUNIT_EXPECT_EQ(test, hballoon_floor_pages(4096 * mib, 10), 128 * mib + 10);
}

static void hballoon_test_expected(struct kunit *test)
{
	/* shrink by 100 frames */
	KUNIT_EXPECT_EQ(test, hballoon_expected_pages(1000, 0, 100, 1), 900UL);
	/* grow back by 60 */
	KUNIT_EXPECT_EQ(test, hballoon_expected_pages(900, 100, 40, 1), 960UL);
	KUNIT_EXPECT_EQ(test, hballoon_expected_pages(900, 100, 100, 1), 900UL);
	/* more than the node has */
	KUNIT_EXPECT_EQ(test, hballoon_expected_pages(10, 0, 100, 1), 0UL);
	/* frames to pages */
	KUNIT_EXPECT_EQ(test, hballoon_expected_pages(1000, 0, 400, 4), 900UL);
}

struct hballoon_test_listener {
	struct notifier_block nb;
	unsigned long action;
	struct node_resize_event ev;
	int calls;
};

static int hballoon_test_resize_cb(struct notifier_block *nb,
				   unsigned long action, void *data)
{
	struct hballoon_test_listener *l =
		container_of(nb, struct hballoon_test_listener, nb);

	l->action = action;
	l->ev = *(struct node_resize_event *)data;
	l->calls++;
	return NOTIFY_OK;
}

static void hballoon_test_resize_notifier(struct kunit *test)
{
	struct hballoon_test_listener l = {
		.nb.notifier_call = hballoon_test_resize_cb,
	};
	int nid = first_memory_node;
	unsigned long pages = hballoon_node_managed(nid);

	KUNIT_ASSERT_EQ(test, register_node_resize_notifier(&l.nb), 0);
	/*
	 * Other listeners (hplace) get this too: announce a resize from the
	 * node's current size to the same size, which changes nothing.
	 */
	KUNIT_EXPECT_EQ(test, node_resize_notify(NODE_RESIZED, nid, pages,
						 pages), 0);
	KUNIT_EXPECT_EQ(test, l.calls, 1);
	KUNIT_EXPECT_EQ(test, l.action, (unsigned long)NODE_RESIZED);
	KUNIT_EXPECT_EQ(test, l.ev.nid, nid);
	KUNIT_EXPECT_EQ(test, l.ev.old_pages, pages);
	KUNIT_EXPECT_EQ(test, l.ev.new_pages, pages);

	KUNIT_EXPECT_EQ(test, unregister_node_resize_notifier(&l.nb), 0);
	node_resize_notify(NODE_RESIZED, nid, pages, pages);
	KUNIT_EXPECT_EQ(test, l.calls, 1);
	KUNIT_EXPECT_EQ(test, unregister_node_resize_notifier(&l.nb), -ENOENT);
}

static void hballoon_test_add_run(struct kunit *test)
{
	const u64 max = VIRTIO_HBALLOON_MAX_RANGE_PAGES;
	struct virtio_hballoon_range r[3];
	unsigned int n = 0;

	/* Ascending pages, then a block: one run. */
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 10, 1));
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 11, 1));
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 12, 512));
	KUNIT_ASSERT_EQ(test, n, 1U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].pfn), 10ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].num_pages), 514ULL);

	/* Descending (the order pages leave the balloon in): still one. */
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 9, 1));
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 1, 8));
	KUNIT_ASSERT_EQ(test, n, 1U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].pfn), 1ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].num_pages), 523ULL);

	/* A gap, or an overlap, starts a run; only the last run grows. */
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 1000, 1));
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 1000, 1));
	KUNIT_EXPECT_EQ(test, n, 3U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[2].pfn), 1000ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[2].num_pages), 1ULL);
	/* Full: a new run is refused and nothing changes... */
	KUNIT_EXPECT_FALSE(test, hballoon_add_run(r, &n, 3, 524, 1));
	KUNIT_EXPECT_EQ(test, n, 3U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].num_pages), 523ULL);
	/* ...but the last run still grows. */
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 1001, 1));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[2].num_pages), 2ULL);

	/* A run never exceeds what the device accepts. */
	n = 0;
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, 0, max - 1));
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, max - 1, 1));
	KUNIT_EXPECT_EQ(test, n, 1U);
	KUNIT_EXPECT_TRUE(test, hballoon_add_run(r, &n, 3, max, 1));
	KUNIT_EXPECT_EQ(test, n, 2U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].num_pages), max);
}

static void hballoon_test_try_order(struct kunit *test)
{
	/* Whole blocks while they fit... */
	KUNIT_EXPECT_EQ(test, hballoon_try_order(9, 100000), 9U);
	KUNIT_EXPECT_EQ(test, hballoon_try_order(9, 512), 9U);
	/* ...then smaller ones: the target stays exact to the page. */
	KUNIT_EXPECT_EQ(test, hballoon_try_order(9, 511), 8U);
	KUNIT_EXPECT_EQ(test, hballoon_try_order(9, 3), 1U);
	KUNIT_EXPECT_EQ(test, hballoon_try_order(9, 1), 0U);
	/* After a failure the step stays at the lower order. */
	KUNIT_EXPECT_EQ(test, hballoon_try_order(4, 100000), 4U);
	KUNIT_EXPECT_EQ(test, hballoon_try_order(0, 100000), 0U);
}

static struct kunit_case hballoon_test_cases[] = {
	KUNIT_CASE(hballoon_test_clamp_target),
	KUNIT_CASE(hballoon_test_check_node),
	KUNIT_CASE(hballoon_test_backoff),
	KUNIT_CASE(hballoon_test_allowance),
	KUNIT_CASE(hballoon_test_floor),
	KUNIT_CASE(hballoon_test_expected),
	KUNIT_CASE(hballoon_test_resize_notifier),
	KUNIT_CASE(hballoon_test_add_run),
	KUNIT_CASE(hballoon_test_try_order),
	{},
};

static struct kunit_suite hballoon_test_suite = {
	.name = "virtio-hballoon",
	.test_cases = hballoon_test_cases,
};

kunit_test_suite(hballoon_test_suite);

#endif /* _VIRTIO_HBALLOON_KUNIT_H */
