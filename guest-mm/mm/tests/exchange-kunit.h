/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for page exchange (mm/exchange.c).
 *
 * Each case maps user pages in a test mm (kunit_vm_mmap() attaches one to the
 * test thread), fills them through copy_to_user(), exchanges the folios and
 * checks that every virtual address still reads its own data while it is now
 * backed by the other physical frame.  Cross-process, COW, mlock() and GUP
 * reference cases live in tests/guest/exchange_selftest.c.
 */
#ifdef CONFIG_PAGE_EXCHANGE_KUNIT_TEST

#ifndef _MM_TESTS_EXCHANGE_KUNIT_H
#define _MM_TESTS_EXCHANGE_KUNIT_H

#include <kunit/test.h>
#include "kunit-user-page.h"
#include <linux/mman.h>

#define EXKT_PAGES 8

static unsigned long exkt_map(struct kunit *test, unsigned long flags,
			      unsigned int nr)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, nr * PAGE_SIZE,
			     PROT_READ | PROT_WRITE, flags, 0);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "vm_mmap failed");
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	return addr;
}

static u32 exkt_word(u32 seed, unsigned int i)
{
	return seed * 2654435761u + i;
}

static void exkt_fill(struct kunit *test, unsigned long addr, u32 seed)
{
	u32 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < PAGE_SIZE / sizeof(*buf); i++)
		buf[i] = exkt_word(seed, i);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)addr, buf,
					   PAGE_SIZE), 0);
	kunit_kfree(test, buf);
}

static bool exkt_check(struct kunit *test, unsigned long addr, u32 seed)
{
	u32 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	bool ok = true;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, copy_from_user(buf, (void __user *)addr,
					     PAGE_SIZE), 0);
	for (i = 0; i < PAGE_SIZE / sizeof(*buf); i++)
		if (buf[i] != exkt_word(seed, i))
			ok = false;
	kunit_kfree(test, buf);
	return ok;
}

/* The folio mapped at @addr, with one reference (FOLL_GET, not a pin). */
static struct folio *exkt_folio(struct kunit *test, unsigned long addr)
{
	return page_folio(mm_kunit_user_page(test, addr));
}

static unsigned long exkt_pfn(struct kunit *test, unsigned long addr)
{
	struct folio *folio = exkt_folio(test, addr);
	unsigned long pfn = folio_pfn(folio);

	folio_put(folio);
	return pfn;
}

/*
 * Exchange the folios at @x and @y and check contents and frames.  @sx and
 * @sy are the seeds written there.
 */
static void exkt_exchange_ok(struct kunit *test, unsigned long x, u32 sx,
			     unsigned long y, u32 sy)
{
	struct folio *fx, *fy;
	unsigned long px, py;
	enum exchange_result r;

	lru_add_drain_all();
	fx = exkt_folio(test, x);
	fy = exkt_folio(test, y);
	px = folio_pfn(fx);
	py = folio_pfn(fy);
	r = exchange_folios(fx, fy);
	folio_put(fx);
	folio_put(fy);
	KUNIT_EXPECT_STREQ(test, exchange_result_name(r), "ok");
	KUNIT_EXPECT_TRUE(test, exkt_check(test, x, sx));
	KUNIT_EXPECT_TRUE(test, exkt_check(test, y, sy));
	KUNIT_EXPECT_EQ(test, exkt_pfn(test, x), py);
	KUNIT_EXPECT_EQ(test, exkt_pfn(test, y), px);
}

/* Is the page mapped at @addr marked exclusive to its one anonymous user? */
static bool exkt_anon_exclusive(struct kunit *test, unsigned long addr)
{
	struct folio *folio = exkt_folio(test, addr);
	bool exclusive = folio_test_anon(folio) &&
			 PageAnonExclusive(folio_page(folio, 0));

	folio_put(folio);
	return exclusive;
}

static void exchange_test_anon(struct kunit *test)
{
	unsigned long a = exkt_map(test, MAP_PRIVATE | MAP_ANONYMOUS, 2);
	unsigned long before = exchange_ok_count();

	exkt_fill(test, a, 1);
	exkt_fill(test, a + PAGE_SIZE, 2);
	exkt_exchange_ok(test, a, 1, a + PAGE_SIZE, 2);
	/*
	 * Written, so exclusive before; exclusivity (which keeps GUP pins
	 * and COW apart) comes back from the migration entries, as after a
	 * migration, and is not lost to the other frame.
	 */
	KUNIT_EXPECT_TRUE(test, exkt_anon_exclusive(test, a));
	KUNIT_EXPECT_TRUE(test, exkt_anon_exclusive(test, a + PAGE_SIZE));
	/* Writable and still private after the exchange. */
	exkt_fill(test, a, 3);
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a, 3));
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a + PAGE_SIZE, 2));
	/* And back again. */
	exkt_exchange_ok(test, a, 3, a + PAGE_SIZE, 2);
	KUNIT_EXPECT_EQ(test, exchange_ok_count() - before, 2);
}

/*
 * The file a shared mapping at @addr maps (not through GUP: a second GUP
 * of a page activates it through a per-CPU batch that holds a reference).
 */
static struct address_space *exkt_file_mapping(struct kunit *test,
					       unsigned long addr)
{
	struct address_space *mapping = NULL;
	struct vm_area_struct *vma;

	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, addr);
	if (vma && vma->vm_file)
		mapping = vma->vm_file->f_mapping;
	mmap_read_unlock(current->mm);
	KUNIT_ASSERT_NOT_NULL(test, mapping);
	return mapping;
}

static void exchange_test_shmem(struct kunit *test)
{
	unsigned long s = exkt_map(test, MAP_SHARED | MAP_ANONYMOUS, 2);
	unsigned long t = exkt_map(test, MAP_SHARED | MAP_ANONYMOUS, 1);
	struct address_space *ms, *mt;
	struct folio *folio;

	exkt_fill(test, s, 10);
	exkt_fill(test, s + PAGE_SIZE, 11);
	exkt_fill(test, t, 12);
	ms = exkt_file_mapping(test, s);
	mt = exkt_file_mapping(test, t);
	KUNIT_ASSERT_PTR_NE(test, ms, mt);

	/* Two shmem files: the page-cache slots follow the data. */
	exkt_exchange_ok(test, s, 10, t, 12);
	folio = exkt_folio(test, s);
	KUNIT_EXPECT_PTR_EQ(test, folio->mapping, ms);
	KUNIT_EXPECT_EQ(test, folio->index, 0);
	folio_put(folio);
	folio = exkt_folio(test, t);
	KUNIT_EXPECT_PTR_EQ(test, folio->mapping, mt);
	folio_put(folio);

	/* Two pages of the same shmem mapping. */
	exkt_exchange_ok(test, s, 10, s + PAGE_SIZE, 11);
}

/*
 * Anonymous with shmem is refused in either order: page-table walkers that
 * meet a migration entry mid-exchange would judge it by the wrong kind.
 */
static void exchange_test_anon_shmem(struct kunit *test)
{
	unsigned long s = exkt_map(test, MAP_SHARED | MAP_ANONYMOUS, 1);
	unsigned long a = exkt_map(test, MAP_PRIVATE | MAP_ANONYMOUS, 1);
	unsigned long ps, pa, fails;
	struct folio *fs, *fa;

	exkt_fill(test, s, 15);
	exkt_fill(test, a, 16);
	lru_add_drain_all();
	fails = exchange_fail_count(EXCHANGE_FAIL_TYPE);
	fs = exkt_folio(test, s);
	fa = exkt_folio(test, a);
	ps = folio_pfn(fs);
	pa = folio_pfn(fa);
	KUNIT_EXPECT_EQ(test, exchange_folios(fs, fa), EXCHANGE_FAIL_TYPE);
	KUNIT_EXPECT_EQ(test, exchange_folios(fa, fs), EXCHANGE_FAIL_TYPE);
	folio_put(fs);
	folio_put(fa);
	KUNIT_EXPECT_EQ(test, exchange_fail_count(EXCHANGE_FAIL_TYPE) - fails,
			2);
	KUNIT_EXPECT_EQ(test, exkt_pfn(test, s), ps);
	KUNIT_EXPECT_EQ(test, exkt_pfn(test, a), pa);
	KUNIT_EXPECT_TRUE(test, exkt_check(test, s, 15));
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a, 16));
}

static void exchange_test_pinned(struct kunit *test)
{
	unsigned long a = exkt_map(test, MAP_PRIVATE | MAP_ANONYMOUS, 2);
	unsigned long pa, pb, fails;
	struct folio *fa, *fb;
	struct page *pinned;
	long n;

	exkt_fill(test, a, 20);
	exkt_fill(test, a + PAGE_SIZE, 21);
	lru_add_drain_all();
	mmap_read_lock(current->mm);
	n = pin_user_pages_remote(current->mm, a, 1, FOLL_WRITE | FOLL_LONGTERM,
				  &pinned, NULL);
	mmap_read_unlock(current->mm);
	KUNIT_ASSERT_EQ(test, n, 1);

	fails = exchange_fail_count(EXCHANGE_FAIL_PINNED);
	fa = exkt_folio(test, a);
	fb = exkt_folio(test, a + PAGE_SIZE);
	pa = folio_pfn(fa);
	pb = folio_pfn(fb);
	KUNIT_EXPECT_EQ(test, exchange_folios(fa, fb), EXCHANGE_FAIL_PINNED);
	KUNIT_EXPECT_EQ(test, exchange_folios(fb, fa), EXCHANGE_FAIL_PINNED);
	folio_put(fa);
	folio_put(fb);
	KUNIT_EXPECT_EQ(test, exchange_fail_count(EXCHANGE_FAIL_PINNED) - fails,
			2);
	/* Refused means untouched. */
	KUNIT_EXPECT_EQ(test, exkt_pfn(test, a), pa);
	KUNIT_EXPECT_EQ(test, exkt_pfn(test, a + PAGE_SIZE), pb);
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a, 20));
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a + PAGE_SIZE, 21));

	unpin_user_page(pinned);
	exkt_exchange_ok(test, a, 20, a + PAGE_SIZE, 21);
}

static void exchange_test_extra_ref(struct kunit *test)
{
	unsigned long a = exkt_map(test, MAP_PRIVATE | MAP_ANONYMOUS, 2);
	struct folio *fa, *fb;

	exkt_fill(test, a, 30);
	exkt_fill(test, a + PAGE_SIZE, 31);
	lru_add_drain_all();
	fa = exkt_folio(test, a);
	fb = exkt_folio(test, a + PAGE_SIZE);
	folio_get(fa);		/* a second caller reference: not allowed */
	KUNIT_EXPECT_EQ(test, exchange_folios(fa, fb), EXCHANGE_FAIL_REFCOUNT);
	folio_put(fa);
	KUNIT_EXPECT_EQ(test, exchange_folios(fa, fa), EXCHANGE_FAIL_SAME);
	folio_put(fa);
	folio_put(fb);
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a, 30));
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a + PAGE_SIZE, 31));
}

/*
 * A memory error while reading either page (injected: the copy from that
 * folio stops half-way) fails the pair, and both pages keep their data and
 * their frames; A even after half of B had been copied into it.  Shmem
 * pages also keep their page-cache slots.
 */
static void exkt_hwpoison(struct kunit *test, unsigned long flags)
{
	unsigned long a = exkt_map(test, flags, 2);
	unsigned long b = a + PAGE_SIZE;
	unsigned long pa, pb, before;
	struct folio *fa, *fb;
	int side;

	exkt_fill(test, a, 50);
	exkt_fill(test, b, 51);
	for (side = 0; side < 2; side++) {
		/*
		 * As exkt_exchange_ok(): a second GUP touch before the drain
		 * would queue the folio for activation, an extra reference.
		 */
		lru_add_drain_all();
		fa = exkt_folio(test, a);
		fb = exkt_folio(test, b);
		if (!side) {
			pa = folio_pfn(fa);
			pb = folio_pfn(fb);
		}
		before = exchange_fail_count(EXCHANGE_FAIL_HWPOISON);
		WRITE_ONCE(exchange_test_poisoned, side ? fb : fa);
		KUNIT_EXPECT_STREQ(test, exchange_result_name(exchange_folios(fa, fb)),
				   "hwpoison");
		WRITE_ONCE(exchange_test_poisoned, NULL);
		folio_put(fa);
		folio_put(fb);
		KUNIT_EXPECT_EQ(test, exchange_fail_count(EXCHANGE_FAIL_HWPOISON),
				before + 1);
		KUNIT_EXPECT_TRUE(test, exkt_check(test, a, 50));
		KUNIT_EXPECT_TRUE(test, exkt_check(test, b, 51));
		KUNIT_EXPECT_EQ(test, exkt_pfn(test, a), pa);
		KUNIT_EXPECT_EQ(test, exkt_pfn(test, b), pb);
		if (flags & MAP_SHARED) {
			fa = exkt_folio(test, a);
			fb = exkt_folio(test, b);
			KUNIT_EXPECT_TRUE(test, folio_test_swapbacked(fa) &&
					  !folio_test_anon(fa));
			KUNIT_EXPECT_PTR_EQ(test, fa->mapping, fb->mapping);
			KUNIT_EXPECT_EQ(test, fa->index, 0);
			KUNIT_EXPECT_EQ(test, fb->index, 1);
			folio_put(fa);
			folio_put(fb);
		}
	}
	/* Nothing left behind: the pair exchanges now. */
	exkt_exchange_ok(test, a, 50, b, 51);
}

static void exchange_test_hwpoison(struct kunit *test)
{
	exkt_hwpoison(test, MAP_PRIVATE | MAP_ANONYMOUS);
}

static void exchange_test_hwpoison_shmem(struct kunit *test)
{
	exkt_hwpoison(test, MAP_SHARED | MAP_ANONYMOUS);
}

static void exchange_test_mlocked(struct kunit *test)
{
	unsigned long l = exkt_map(test, MAP_PRIVATE | MAP_ANONYMOUS |
				   MAP_LOCKED | MAP_POPULATE, 1);
	unsigned long a = exkt_map(test, MAP_PRIVATE | MAP_ANONYMOUS, 1);
	struct folio *fl, *fa;

	exkt_fill(test, l, 40);
	exkt_fill(test, a, 41);
	lru_add_drain_all();
	fl = exkt_folio(test, l);
	fa = exkt_folio(test, a);
	if (!folio_test_mlocked(fl)) {
		folio_put(fl);
		folio_put(fa);
		kunit_skip(test, "MAP_LOCKED did not mlock the page");
	}
	KUNIT_EXPECT_EQ(test, exchange_folios(fa, fl), EXCHANGE_FAIL_MLOCKED);
	folio_put(fl);
	folio_put(fa);
	KUNIT_EXPECT_TRUE(test, exkt_check(test, l, 40));
	KUNIT_EXPECT_TRUE(test, exkt_check(test, a, 41));
}

static void exchange_test_batch(struct kunit *test)
{
	unsigned long a = exkt_map(test, MAP_PRIVATE | MAP_ANONYMOUS,
				   2 * EXKT_PAGES);
	unsigned long s = exkt_map(test, MAP_SHARED | MAP_ANONYMOUS, 2);
	struct exchange_pair pairs[EXKT_PAGES + 1];
	unsigned long pfn[2 * EXKT_PAGES];
	unsigned int i, nr = EXKT_PAGES + 1;

	for (i = 0; i < 2 * EXKT_PAGES; i++)
		exkt_fill(test, a + i * PAGE_SIZE, 50 + i);
	exkt_fill(test, s, 70);
	lru_add_drain_all();
	for (i = 0; i < EXKT_PAGES; i++) {
		pairs[i].a = exkt_folio(test, a + i * PAGE_SIZE);
		pairs[i].b = exkt_folio(test, a + (EXKT_PAGES + i) * PAGE_SIZE);
		pfn[i] = folio_pfn(pairs[i].a);
		pfn[EXKT_PAGES + i] = folio_pfn(pairs[i].b);
	}
	/* A refused pair in the middle of the batch must not disturb it. */
	pairs[EXKT_PAGES].a = exkt_folio(test, s);
	pairs[EXKT_PAGES].b = pairs[EXKT_PAGES].a;
	folio_get(pairs[EXKT_PAGES].a);

	KUNIT_EXPECT_EQ(test, exchange_folio_pairs(pairs, nr), EXKT_PAGES);
	for (i = 0; i < nr; i++) {
		folio_put(pairs[i].a);
		folio_put(pairs[i].b);
	}
	KUNIT_EXPECT_EQ(test, pairs[EXKT_PAGES].result, EXCHANGE_FAIL_SAME);
	for (i = 0; i < EXKT_PAGES; i++) {
		KUNIT_EXPECT_EQ(test, pairs[i].result, EXCHANGE_OK);
		KUNIT_EXPECT_TRUE(test, exkt_check(test, a + i * PAGE_SIZE,
						   50 + i));
		KUNIT_EXPECT_TRUE(test, exkt_check(test, a + (EXKT_PAGES + i) *
						   PAGE_SIZE, 50 + EXKT_PAGES + i));
		KUNIT_EXPECT_EQ(test, exkt_pfn(test, a + i * PAGE_SIZE),
				pfn[EXKT_PAGES + i]);
	}
	KUNIT_EXPECT_TRUE(test, exkt_check(test, s, 70));
}

static void exchange_test_names(struct kunit *test)
{
	int r;

	for (r = 0; r < EXCHANGE_FAIL_NR; r++) {
		KUNIT_EXPECT_NOT_NULL(test, exchange_result_names[r]);
		KUNIT_EXPECT_EQ(test, exchange_result_errno(r) == 0,
				r == EXCHANGE_OK);
	}
	KUNIT_EXPECT_STREQ(test, exchange_result_name(EXCHANGE_FAIL_NR),
			   "invalid");
}

static struct kunit_case exchange_test_cases[] = {
	KUNIT_CASE(exchange_test_names),
	KUNIT_CASE(exchange_test_anon),
	KUNIT_CASE(exchange_test_shmem),
	KUNIT_CASE(exchange_test_anon_shmem),
	KUNIT_CASE(exchange_test_pinned),
	KUNIT_CASE(exchange_test_extra_ref),
	KUNIT_CASE(exchange_test_mlocked),
	KUNIT_CASE(exchange_test_hwpoison),
	KUNIT_CASE(exchange_test_hwpoison_shmem),
	KUNIT_CASE(exchange_test_batch),
	{},
};

static struct kunit_suite exchange_test_suite = {
	.name = "page_exchange",
	.test_cases = exchange_test_cases,
};

kunit_test_suites(&exchange_test_suite);

#endif /* _MM_TESTS_EXCHANGE_KUNIT_H */

#endif /* CONFIG_PAGE_EXCHANGE_KUNIT_TEST */
