/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page exchange: swap the contents and roles of two folios in one step.
 *
 * See Documentation/design/page-exchange.rst.
 */
#ifndef _LINUX_EXCHANGE_H
#define _LINUX_EXCHANGE_H

#include <linux/errno.h>
#include <linux/types.h>

struct anon_vma;
struct folio;

/**
 * enum exchange_result - outcome of one folio exchange
 * @EXCHANGE_OK: the two folios were exchanged.
 * @EXCHANGE_FAIL_SAME: both sides are the same folio.
 * @EXCHANGE_FAIL_LARGE: a large folio (THP, mTHP, hugetlb): not supported.
 * @EXCHANGE_FAIL_TYPE: neither anonymous nor shmem (file cache, KSM,
 *	zone device, non-LRU movable, lazily freed anonymous), or one side
 *	anonymous and the other shmem.
 * @EXCHANGE_FAIL_MLOCKED: mlocked or otherwise unevictable.
 * @EXCHANGE_FAIL_PINNED: possibly pinned for DMA (FOLL_PIN).
 * @EXCHANGE_FAIL_WRITEBACK: under writeback.
 * @EXCHANGE_FAIL_SWAPCACHE: in the swap cache or carrying fs-private data.
 * @EXCHANGE_FAIL_ISOLATE: could not be taken off the LRU (already isolated,
 *	being freed, or still in a per-CPU LRU batch).
 * @EXCHANGE_FAIL_LOCKED: the folio lock is held by someone else.
 * @EXCHANGE_FAIL_REFCOUNT: unexpected extra references (transient GUP,
 *	a racing lookup, or a page being freed).
 * @EXCHANGE_FAIL_UNMAP: still mapped after try_to_migrate().
 * @EXCHANGE_FAIL_NOMEM: no bounce page for the copy.
 * @EXCHANGE_FAIL_HWPOISON: reading one of the pages hit an uncorrectable
 *	memory error (reported to memory_failure()).
 * @EXCHANGE_FAIL_NR: number of results; not a result.
 *
 * Every result but %EXCHANGE_OK leaves both folios exactly as they were.
 */
enum exchange_result {
	EXCHANGE_OK = 0,
	EXCHANGE_FAIL_SAME,
	EXCHANGE_FAIL_LARGE,
	EXCHANGE_FAIL_TYPE,
	EXCHANGE_FAIL_MLOCKED,
	EXCHANGE_FAIL_PINNED,
	EXCHANGE_FAIL_WRITEBACK,
	EXCHANGE_FAIL_SWAPCACHE,
	EXCHANGE_FAIL_ISOLATE,
	EXCHANGE_FAIL_LOCKED,
	EXCHANGE_FAIL_REFCOUNT,
	EXCHANGE_FAIL_UNMAP,
	EXCHANGE_FAIL_NOMEM,
	EXCHANGE_FAIL_HWPOISON,
	EXCHANGE_FAIL_NR,
};

/**
 * struct exchange_pair - one pair of folios for exchange_folio_pairs()
 * @a: first folio; the caller holds a reference.
 * @b: second folio; the caller holds a reference.
 * @result: set by exchange_folio_pairs().
 * @state: private to mm/exchange.c (progress of each side).
 * @anon_vma: private to mm/exchange.c (anon_vma held while unmapped).
 */
struct exchange_pair {
	struct folio *a;
	struct folio *b;
	enum exchange_result result;
	unsigned int state[2];
	struct anon_vma *anon_vma[2];
};

/* Largest batch exchange_folio_pairs() accepts. */
#define EXCHANGE_BATCH_MAX	64

#ifdef CONFIG_PAGE_EXCHANGE
enum exchange_result exchange_folios(struct folio *a, struct folio *b);
unsigned int exchange_folio_pairs(struct exchange_pair *pairs,
				  unsigned int nr);
unsigned long exchange_fail_count(enum exchange_result reason);
unsigned long exchange_ok_count(void);
const char *exchange_result_name(enum exchange_result result);
int exchange_result_errno(enum exchange_result result);
#else
static inline enum exchange_result exchange_folios(struct folio *a,
						   struct folio *b)
{
	return EXCHANGE_FAIL_TYPE;
}

static inline unsigned int exchange_folio_pairs(struct exchange_pair *pairs,
						unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		pairs[i].result = EXCHANGE_FAIL_TYPE;
	return 0;
}

static inline unsigned long exchange_fail_count(enum exchange_result reason)
{
	return 0;
}

static inline unsigned long exchange_ok_count(void)
{
	return 0;
}

static inline const char *exchange_result_name(enum exchange_result result)
{
	return "unsupported";
}

static inline int exchange_result_errno(enum exchange_result result)
{
	return result ? -EOPNOTSUPP : 0;
}
#endif

#endif /* _LINUX_EXCHANGE_H */
