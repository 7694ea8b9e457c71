/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for the accessed-bit sampler's page-table side, on a real
 * anonymous mapping of the test's own mm (kunit_vm_mmap()).
 * Included at the end of sampler_abit.c (the mm/damon/tests pattern).
 */
#ifdef CONFIG_HPLACE_KUNIT_TEST

#ifndef _HPLACE_SAMPLER_ABIT_KUNIT_H
#define _HPLACE_SAMPLER_ABIT_KUNIT_H

#include <kunit/test.h>
#include "../../tests/kunit-user-page.h"
#include <linux/mman.h>
#include <linux/rmap.h>
#include <linux/uaccess.h>

/* One faulted-in anonymous page of the test's mm, and its folio (held). */
static unsigned long hplace_kt_abit_page(struct kunit *test,
					 struct folio **folio)
{
	unsigned long addr;
	char c = 1;

	addr = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR_VALUE(addr) || !addr,
			       "kunit_vm_mmap: %ld", (long)addr);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)addr, &c, 1), 0UL);
	*folio = page_folio(mm_kunit_user_page(test, addr));
	return addr;
}

/* One arm or check, with the TLB flush the scan does after it. */
static int hplace_kt_abit_check(struct mm_struct *mm, unsigned long addr,
				bool *cleared)
{
	struct vm_area_struct *vma = NULL;
	int young;

	mmap_read_lock(mm);
	young = hplace_abit_young(mm, &vma, addr, cleared);
	if (*cleared)
		hplace_abit_flush(mm, addr, addr);
	mmap_read_unlock(mm);
	return young;
}

/* Reclaim's view of the page: how many references folio_referenced() sees. */
static int hplace_kt_referenced(struct folio *folio)
{
	unsigned long vm_flags;

	return folio_referenced(folio, 0, NULL, &vm_flags);
}

/* A page the sampler looked at still looks referenced to reclaim. */
static void hplace_test_abit_hands_back_young(struct kunit *test)
{
	struct folio *folio;
	unsigned long addr;
	bool cleared;
	char c = 2;

	addr = hplace_kt_abit_page(test, &folio);
	/* Arm: the access of the fault is cleared from the page table... */
	KUNIT_EXPECT_EQ(test, hplace_kt_abit_check(current->mm, addr, &cleared),
			1);
	KUNIT_EXPECT_TRUE(test, cleared);
	/* ...and handed back: reclaim still sees the page as used. */
	KUNIT_EXPECT_GT(test, hplace_kt_referenced(folio), 0);
	/* Consumed by reclaim now: a second look finds it unreferenced. */
	KUNIT_EXPECT_EQ(test, hplace_kt_referenced(folio), 0);

	/* Accessed again after arming: the check sees it, reclaim too. */
	KUNIT_ASSERT_EQ(test, hplace_kt_abit_check(current->mm, addr, &cleared),
			0);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)addr, &c, 1), 0UL);
	KUNIT_EXPECT_EQ(test, hplace_kt_abit_check(current->mm, addr, &cleared),
			1);
	KUNIT_EXPECT_GT(test, hplace_kt_referenced(folio), 0);
	folio_put(folio);
}

/* An access that reclaim consumed before the check still counts. */
static void hplace_test_abit_sees_consumed_access(struct kunit *test)
{
	struct folio *folio;
	unsigned long addr;
	bool cleared;
	char c = 3;

	addr = hplace_kt_abit_page(test, &folio);
	hplace_kt_abit_check(current->mm, addr, &cleared);	/* arm */
	hplace_kt_referenced(folio);	/* take the handed-back reference */
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)addr, &c, 1), 0UL);
	/* Reclaim clears the accessed bit first (and the idle flag with it). */
	KUNIT_EXPECT_GT(test, hplace_kt_referenced(folio), 0);
	KUNIT_EXPECT_EQ(test, hplace_kt_abit_check(current->mm, addr, &cleared),
			1);
	KUNIT_EXPECT_FALSE(test, cleared);
	/* Nobody touched it since: the next check says old. */
	KUNIT_EXPECT_EQ(test, hplace_kt_abit_check(current->mm, addr, &cleared),
			0);
	folio_put(folio);
}

static struct kunit_case hplace_abit_test_cases[] = {
	KUNIT_CASE(hplace_test_abit_hands_back_young),
	KUNIT_CASE(hplace_test_abit_sees_consumed_access),
	{}
};

static struct kunit_suite hplace_abit_test_suite = {
	.name = "hplace_abit",
	.test_cases = hplace_abit_test_cases,
};

kunit_test_suite(hplace_abit_test_suite);

#endif /* _HPLACE_SAMPLER_ABIT_KUNIT_H */

#endif /* CONFIG_HPLACE_KUNIT_TEST */
