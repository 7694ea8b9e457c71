// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the hplace core, run with the real kernel headers (the
 * same files are unit-tested more extensively in userspace by
 * tools/testing/hplace).
 */

#include <kunit/test.h>

#include "hplace_internal.h"
#include "sample_ring.h"
#include "pebs_decode.h"
#include "budget.h"
#include "classify.h"
#include "range_tree.h"

#define HPLACE_KT_BASE	0x7f0000000000UL
#define HPLACE_KT_MB	(1024UL * 1024)

static u64 hplace_kt_rng = 0x9e3779b97f4a7c15ULL;

static u64 hplace_kt_rand(void)
{
	hplace_kt_rng ^= hplace_kt_rng >> 12;
	hplace_kt_rng ^= hplace_kt_rng << 25;
	hplace_kt_rng ^= hplace_kt_rng >> 27;
	return hplace_kt_rng * 0x2545f4914f6cdd1dULL;
}

static void hplace_test_ring_overflow(struct kunit *test)
{
	struct hplace_sample slots[8], out[8], s = { .pid = 1 };
	struct hplace_ring ring;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, hplace_ring_init(&ring, slots, 8, 4), 0);
	KUNIT_EXPECT_EQ(test, hplace_ring_init(&ring, slots, 6, 0), -EINVAL);
	KUNIT_ASSERT_EQ(test, hplace_ring_init(&ring, slots, 8, 4), 0);
	for (i = 0; i < 12; i++) {
		s.addr = (i + 1) * PAGE_SIZE;
		KUNIT_EXPECT_EQ(test, hplace_ring_push(&ring, &s),
				i < 8 ? (i == 3 ? HPLACE_RING_WAKE : 0) : -ENOSPC);
	}
	KUNIT_EXPECT_EQ(test, hplace_ring_produced(&ring), 8UL);
	KUNIT_EXPECT_EQ(test, hplace_ring_dropped(&ring), 4UL);
	KUNIT_ASSERT_EQ(test, hplace_ring_pop(&ring, out, 8), 8U);
	for (i = 0; i < 8; i++)
		KUNIT_EXPECT_EQ(test, out[i].addr, (u64)(i + 1) * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, hplace_ring_count(&ring), 0U);
}

static void hplace_test_pebs_decode(struct kunit *test)
{
	struct hplace_perf_record rec = {
		.addr = 0x7f0000001234ULL,
		.data_src = PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVL, HIT) |
			    PERF_MEM_S(LVL, LOC_RAM),
		.weight = 300, .pid = 42, .event = HPLACE_PEBS_EV_LOAD,
	};
	struct hplace_pebs_detect d;
	struct hplace_sample s;

	KUNIT_EXPECT_EQ(test, hplace_pebs_decode(&rec, &s), HPLACE_PEBS_ACCEPT);
	KUNIT_EXPECT_EQ(test, s.kind, HPLACE_ACCESS_LOAD);
	KUNIT_EXPECT_EQ(test, s.weight, 300);
	KUNIT_EXPECT_EQ(test, s.flags, HPLACE_SAMPLE_MEM);
	rec.data_src = PERF_MEM_S(OP, STORE);
	KUNIT_EXPECT_EQ(test, hplace_pebs_decode(&rec, &s), HPLACE_PEBS_ACCEPT);
	KUNIT_EXPECT_EQ(test, s.kind, HPLACE_ACCESS_STORE);
	rec.addr = 0;
	KUNIT_EXPECT_EQ(test, hplace_pebs_decode(&rec, &s), HPLACE_PEBS_REJ_NOADDR);
	rec.addr = HPLACE_USER_ADDR_END;
	KUNIT_EXPECT_EQ(test, hplace_pebs_decode(&rec, &s), HPLACE_PEBS_REJ_KERNEL);

	hplace_pebs_detect_init(&d, 0, 100, NSEC_PER_SEC);
	KUNIT_EXPECT_EQ(test, hplace_pebs_detect_update(&d, 1, 0, 100),
			HPLACE_PEBS_NO_ADDR);
	KUNIT_EXPECT_EQ(test, hplace_pebs_detect_update(&d, 2, 100, 0),
			HPLACE_PEBS_OK);
	KUNIT_EXPECT_EQ(test, hplace_pebs_detect_update(&d, 2 + NSEC_PER_SEC, 0, 0),
			HPLACE_PEBS_NO_RECORDS);
}

/* Overloaded accessed-bit scanner: cost settles inside the budget band. */
static void hplace_test_budget_overload(struct kunit *test)
{
	struct hplace_budget_params p = {
		.permille = 10, .mode = HPLACE_BUDGET_RATE, .min = 64,
		.max = 1 << 24, .initial = 1024,
	};
	const u64 tick = 200 * NSEC_PER_MSEC;
	u64 now = 0, cost, work, sum = 0;
	struct hplace_budget b;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, hplace_budget_init(&b, &p, now), 0);
	for (i = 0; i < 300; i++) {
		work = div_u64(b.knob * tick, NSEC_PER_SEC);
		cost = work * 400;		/* 400 ns per page */
		now += tick;
		hplace_budget_tick(&b, now, cost, work);
		if (i >= 150)
			sum += cost;
	}
	/* 150 ticks of 200 ms at 10 permille: 300 ms of budget. */
	KUNIT_EXPECT_GE(test, sum, 300 * NSEC_PER_MSEC * 80 / 100);
	KUNIT_EXPECT_LE(test, sum, 300 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, b.throttles, 0UL);
	KUNIT_EXPECT_LE(test, b.dir_changes, 2UL);
	KUNIT_EXPECT_EQ(test, hplace_budget_set_permille(&b, 0), -EINVAL);
}

static void hplace_test_classify(struct kunit *test)
{
	struct hplace_class_params p = {
		.capacity_pages = 30, .hysteresis_permille = 100,
	};
	struct hplace_class_item it[4] = {
		{ .density = 50, .pages = 10, .key = 0 },
		{ .density = 10, .pages = 10, .key = 1 },
		{ .density = 95, .pages = 10, .key = 2, .was_hot = true },
		{ .density = 100, .pages = 20, .key = 3 },
	};
	struct hplace_class_result res;
	unsigned int i;

	/* 3 (score 200) + 2 (score 209+) fill 30 pages; 0 and 1 do not fit. */
	KUNIT_ASSERT_EQ(test, hplace_classify(it, 4, &p, &res), 0);
	KUNIT_EXPECT_EQ(test, res.hot_pages, 30ULL);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 2U);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, it[i].hot, it[i].key >= 2);
	/* Sorted by descending score: the incumbent first. */
	KUNIT_EXPECT_EQ(test, it[0].key, 2ULL);
}

static void hplace_test_range_tree(struct kunit *test)
{
	const unsigned long hot = HPLACE_KT_BASE + 300 * HPLACE_KT_MB;
	struct hplace_rtree_params p;
	struct hplace_rtree_pool pool;
	struct hplace_range *r;
	struct hplace_rtree t;
	unsigned long addr;
	unsigned int e, i;
	u64 maxd = 0;

	hplace_rtree_default_params(&p);
	hplace_rtree_pool_init(&pool, 4096);
	KUNIT_ASSERT_EQ(test, hplace_rtree_init(&t, &pool, &p), 0);
	KUNIT_ASSERT_EQ(test, hplace_rtree_add(&t, HPLACE_KT_BASE,
					       HPLACE_KT_BASE + 1024 * HPLACE_KT_MB), 1);
	for (e = 0; e < 6; e++) {
		for (i = 0; i < 4000; i++) {
			if (hplace_kt_rand() % 10)
				addr = hot + hplace_kt_rand() % (64 * HPLACE_KT_MB);
			else
				addr = HPLACE_KT_BASE +
				       hplace_kt_rand() % (1024 * HPLACE_KT_MB);
			KUNIT_EXPECT_EQ(test, hplace_rtree_record(&t, addr, 1, false), 0);
		}
		hplace_rtree_epoch(&t, true);
	}
	hplace_rtree_for_each(&t, r)
		maxd = max(maxd, hplace_range_density(r));
	/* The densest ranges are exactly the hot 64 MiB. */
	hplace_rtree_for_each(&t, r) {
		bool inside = r->start >= hot && r->end <= hot + 64 * HPLACE_KT_MB;

		KUNIT_EXPECT_EQ(test, hplace_range_density(r) * 2 >= maxd, inside);
	}
	KUNIT_EXPECT_LE(test, t.nr_ranges, 40U);
	KUNIT_EXPECT_EQ(test, hplace_rtree_remove(&t, hot, hot + 64 * HPLACE_KT_MB), 0);
	KUNIT_EXPECT_NULL(test, hplace_rtree_lookup(&t, hot));
	hplace_rtree_destroy(&t);
	KUNIT_EXPECT_EQ(test, pool.nr_ranges, 0UL);
}

static struct kunit_case hplace_test_cases[] = {
	KUNIT_CASE(hplace_test_ring_overflow),
	KUNIT_CASE(hplace_test_pebs_decode),
	KUNIT_CASE(hplace_test_budget_overload),
	KUNIT_CASE(hplace_test_classify),
	KUNIT_CASE(hplace_test_range_tree),
	{}
};

static struct kunit_suite hplace_test_suite = {
	.name = "hplace",
	.test_cases = hplace_test_cases,
};

kunit_test_suite(hplace_test_suite);
