/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit helper for tests that map memory in the test's mm (kunit_vm_mmap())
 * and look at the pages behind it.
 */
#ifndef _MM_TESTS_KUNIT_USER_PAGE_H
#define _MM_TESTS_KUNIT_USER_PAGE_H

#include <kunit/test.h>
#include <linux/mm.h>

/* The page mapped at @addr in the test mm, with one reference (not a pin). */
static inline struct page *mm_kunit_user_page(struct kunit *test,
					      unsigned long addr)
{
	struct page *page;

	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr, 1, 0, &page), 1);
	return page;
}

#endif /* _MM_TESTS_KUNIT_USER_PAGE_H */
