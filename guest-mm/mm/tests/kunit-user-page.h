/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit helper for tests that map memory in the test's mm (kunit_vm_mmap())
 * and look at the pages behind it.
 */
#ifndef _MM_TESTS_KUNIT_USER_PAGE_H
#define _MM_TESTS_KUNIT_USER_PAGE_H

#include <kunit/test.h>
#include <linux/mm.h>

/*
 * The page mapped at @addr in the test mm, with one reference (FOLL_GET,
 * not a pin). The assertion comes after mmap_lock is dropped: a failed
 * one ends the test thread.
 */
static inline struct page *mm_kunit_user_page(struct kunit *test,
					      unsigned long addr)
{
	struct page *page;
	long n;

	mmap_read_lock(current->mm);
	n = get_user_pages_remote(current->mm, addr, 1, 0, &page, NULL);
	mmap_read_unlock(current->mm);
	KUNIT_ASSERT_EQ(test, n, 1);
	return page;
}

#endif /* _MM_TESTS_KUNIT_USER_PAGE_H */
