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

static void hballoon_test_pfns_to_ranges(struct kunit *test)
{
	static const u64 in[] = { 10, 11, 12, 20, 21, 30, 32 };
	struct virtio_hballoon_range r[8];
	__le64 pfns[ARRAY_SIZE(in)];
	unsigned int i, n;

	for (i = 0; i < ARRAY_SIZE(in); i++)
		pfns[i] = cpu_to_le64(in[i]);

	KUNIT_EXPECT_EQ(test, hballoon_pfns_to_ranges(pfns, ARRAY_SIZE(in),
						      r, 8, &n), 7U);
	KUNIT_ASSERT_EQ(test, n, 4U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].pfn), 10ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[0].num_pages), 3ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[1].pfn), 20ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[1].num_pages), 2ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[2].pfn), 30ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[2].num_pages), 1ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[3].pfn), 32ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[3].num_pages), 1ULL);

	/* Room for two runs: they take the first five frames. */
	KUNIT_EXPECT_EQ(test, hballoon_pfns_to_ranges(pfns, ARRAY_SIZE(in),
						      r, 2, &n), 5U);
	KUNIT_EXPECT_EQ(test, n, 2U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(r[1].num_pages), 2ULL);

	/* One frame; none. */
	KUNIT_EXPECT_EQ(test, hballoon_pfns_to_ranges(pfns + 6, 1, r, 8, &n),
			1U);
	KUNIT_EXPECT_EQ(test, n, 1U);
	KUNIT_EXPECT_EQ(test, hballoon_pfns_to_ranges(pfns, 0, r, 8, &n), 0U);
	KUNIT_EXPECT_EQ(test, n, 0U);
}

static struct kunit_case hballoon_test_cases[] = {
	KUNIT_CASE(hballoon_test_clamp_target),
	KUNIT_CASE(hballoon_test_check_node),
	KUNIT_CASE(hballoon_test_backoff),
	KUNIT_CASE(hballoon_test_allowance),
	KUNIT_CASE(hballoon_test_floor),
	KUNIT_CASE(hballoon_test_expected),
	KUNIT_CASE(hballoon_test_resize_notifier),
	KUNIT_CASE(hballoon_test_pfns_to_ranges),
	{},
};

static struct kunit_suite hballoon_test_suite = {
	.name = "virtio-hballoon",
	.test_cases = hballoon_test_cases,
};

kunit_test_suite(hballoon_test_suite);

#endif /* _VIRTIO_HBALLOON_KUNIT_H */
