/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for the hplace engine glue: injection line parsing, knob
 * ranges, what runs without hplace.lock.
 * Included at the end of engine.c (the mm/damon/tests pattern).
 */
#ifdef CONFIG_HPLACE_KUNIT_TEST

#ifndef _HPLACE_ENGINE_KUNIT_H
#define _HPLACE_ENGINE_KUNIT_H

#include <kunit/test.h>
#include <linux/mman.h>
#include <linux/delay.h>

static void hplace_test_parse_inject_valid(struct kunit *test)
{
	enum hplace_access_kind kind;
	unsigned long addr;
	pid_t pid;

	KUNIT_EXPECT_EQ(test, hplace_parse_inject("42 0x7f0000001000 load",
						  &pid, &addr, &kind), 0);
	KUNIT_EXPECT_EQ(test, pid, 42);
	KUNIT_EXPECT_EQ(test, addr, 0x7f0000001000UL);
	KUNIT_EXPECT_EQ(test, kind, HPLACE_ACCESS_LOAD);
	KUNIT_EXPECT_EQ(test, hplace_parse_inject("7 4096 store", &pid, &addr,
						  &kind), 0);
	KUNIT_EXPECT_EQ(test, addr, 4096UL);
	KUNIT_EXPECT_EQ(test, kind, HPLACE_ACCESS_STORE);
	KUNIT_EXPECT_EQ(test, hplace_parse_inject("7 0x2000 any", &pid, &addr,
						  &kind), 0);
	KUNIT_EXPECT_EQ(test, kind, HPLACE_ACCESS_UNKNOWN);
	KUNIT_EXPECT_EQ(test, hplace_parse_inject("7 0x2000 2 ", &pid, &addr,
						  &kind), 0);
	KUNIT_EXPECT_EQ(test, kind, HPLACE_ACCESS_STORE);
}

static void hplace_test_parse_inject_invalid(struct kunit *test)
{
	static const char * const bad[] = {
		"", "1", "1 0x1000", "0 0x1000 load", "-3 0x1000 load",
		"x 0x1000 load", "1 zz load", "1 0x1000 fetch",
		"1 0x1000 load extra", "1 0x1000 3",
	};
	enum hplace_access_kind kind = HPLACE_ACCESS_LOAD;
	unsigned long addr = 1;
	pid_t pid = 1;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_EQ_MSG(test, hplace_parse_inject(bad[i], &pid,
							      &addr, &kind),
				    -EINVAL, "line \"%s\"", bad[i]);
	/* Nothing is written on failure. */
	KUNIT_EXPECT_EQ(test, pid, 1);
	KUNIT_EXPECT_EQ(test, addr, 1UL);
}

static void hplace_test_permille_range(struct kunit *test)
{
	unsigned int old = hplace.permille;

	KUNIT_EXPECT_EQ(test, hplace_set_permille(0), -EINVAL);
	KUNIT_EXPECT_EQ(test, hplace_set_permille(1001), -EINVAL);
	KUNIT_EXPECT_EQ(test, hplace.permille, old);
	KUNIT_EXPECT_EQ(test, hplace_set_permille(old), 0);
}

/*
 * Re-reading a process's VMAs happens under hplace.lock: it must not wait
 * for the process's mmap_lock (here held for writing by the test itself,
 * which would deadlock a waiting reader), only skip it until later.
 */
static void hplace_test_refresh_skips_busy_mm(struct kunit *test)
{
	struct hplace_rtree_params params;
	struct hplace_rtree_pool pool;
	struct hplace_proc p = { };
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, 16 * PAGE_SIZE,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr) || !addr);
	hplace_rtree_default_params(&params);
	hplace_rtree_pool_init(&pool, 64);
	KUNIT_ASSERT_EQ(test, hplace_rtree_init(&p.tree, &pool, &params), 0);
	p.mm = current->mm;

	mmap_write_lock(p.mm);
	KUNIT_EXPECT_FALSE(test, hplace_refresh_vmas(&p));
	mmap_write_unlock(p.mm);
	KUNIT_EXPECT_EQ(test, p.tree.nr_ranges, 0U);

	KUNIT_EXPECT_TRUE(test, hplace_refresh_vmas(&p));
	KUNIT_EXPECT_GT(test, p.tree.nr_ranges, 0U);
	hplace_rtree_destroy(&p.tree);
}

/*
 * A sampler's slow repair (PEBS counter re-creation) must run without
 * hplace.lock.  Called from this thread, a repair that found the lock held
 * by its caller would find it held on every try; the engine thread holds
 * it only briefly, so one of a hundred tries gets it.
 */
static bool hplace_test_rearm_saw_free;

static void hplace_test_rearm(void)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (mutex_trylock(&hplace.lock)) {
			mutex_unlock(&hplace.lock);
			hplace_test_rearm_saw_free = true;
			return;
		}
		usleep_range(10000, 20000);
	}
}

static void hplace_test_rearm_runs_unlocked(struct kunit *test)
{
	hplace_test_rearm_saw_free = false;
	hplace_unlocked_work(hplace_test_rearm, false);
	KUNIT_EXPECT_TRUE(test, hplace_test_rearm_saw_free);
}

static struct kunit_case hplace_engine_test_cases[] = {
	KUNIT_CASE(hplace_test_parse_inject_valid),
	KUNIT_CASE(hplace_test_parse_inject_invalid),
	KUNIT_CASE(hplace_test_permille_range),
	KUNIT_CASE(hplace_test_refresh_skips_busy_mm),
	KUNIT_CASE(hplace_test_rearm_runs_unlocked),
	{},
};

static struct kunit_suite hplace_engine_test_suite = {
	.name = "hplace-engine",
	.test_cases = hplace_engine_test_cases,
};
kunit_test_suite(hplace_engine_test_suite);

#endif /* _HPLACE_ENGINE_KUNIT_H */

#endif /* CONFIG_HPLACE_KUNIT_TEST */
