// SPDX-License-Identifier: GPL-2.0
/*
 * Page exchange: swap the contents and roles of two folios in one step.
 *
 * Promoting a hot page into a full fast tier normally takes two migrations
 * (demote a cold page, then promote the hot one) and a free page to start
 * from.  Exchange needs no free page: both folios are unmapped to migration
 * entries with one TLB flush, their contents and every piece of state that
 * follows the data are swapped, and each set of mappings is restored onto the
 * other folio.  See Documentation/design/page-exchange.rst.
 *
 * Lock order: folio locks (trylock, lower PFN first) -> anon_vma / i_mmap
 * (try_to_migrate) ; then per pair: xa_lock of the mapping at the lower
 * address -> xa_lock of the other mapping (nested), interrupts off.
 */

#define pr_fmt(fmt) "page_exchange: " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/exchange.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/memory-tiers.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mutex.h>
#include <linux/page_idle.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/sysctl.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/uaccess.h>
#include <linux/vmstat.h>
#include <linux/xarray.h>

#include "internal.h"

static atomic_long_t exchange_ok_total;
static atomic_long_t exchange_fail_total[EXCHANGE_FAIL_NR];

static const char * const exchange_result_names[EXCHANGE_FAIL_NR] = {
	[EXCHANGE_OK]			= "ok",
	[EXCHANGE_FAIL_SAME]		= "same",
	[EXCHANGE_FAIL_LARGE]		= "large",
	[EXCHANGE_FAIL_TYPE]		= "type",
	[EXCHANGE_FAIL_MLOCKED]		= "mlocked",
	[EXCHANGE_FAIL_PINNED]		= "pinned",
	[EXCHANGE_FAIL_WRITEBACK]	= "writeback",
	[EXCHANGE_FAIL_SWAPCACHE]	= "swapcache",
	[EXCHANGE_FAIL_ISOLATE]		= "isolate",
	[EXCHANGE_FAIL_LOCKED]		= "locked",
	[EXCHANGE_FAIL_REFCOUNT]	= "refcount",
	[EXCHANGE_FAIL_UNMAP]		= "unmap",
	[EXCHANGE_FAIL_NOMEM]		= "nomem",
	[EXCHANGE_FAIL_HWPOISON]	= "hwpoison",
};

/* Per-side progress, kept in the caller's struct exchange_pair. */
#define EXS_ISOLATED	BIT(0)
#define EXS_LOCKED	BIT(1)
#define EXS_MAPPED	BIT(2)

/**
 * exchange_result_name() - short name of an exchange result
 * @result: the result
 *
 * Return: a static string such as "ok" or "pinned", as shown in debugfs and
 * in hplace's stats/.
 */
const char *exchange_result_name(enum exchange_result result)
{
	if ((unsigned int)result >= EXCHANGE_FAIL_NR)
		return "invalid";
	return exchange_result_names[result];
}

/**
 * exchange_result_errno() - map an exchange result to an errno
 * @result: the result
 *
 * Return: 0 for %EXCHANGE_OK, otherwise a negative errno: -EAGAIN for
 * transient refusals (worth retrying later), a distinct errno otherwise.
 */
int exchange_result_errno(enum exchange_result result)
{
	switch (result) {
	case EXCHANGE_OK:
		return 0;
	case EXCHANGE_FAIL_SAME:
		return -EINVAL;
	case EXCHANGE_FAIL_LARGE:
		return -E2BIG;
	case EXCHANGE_FAIL_TYPE:
	case EXCHANGE_FAIL_SWAPCACHE:
		return -EOPNOTSUPP;
	case EXCHANGE_FAIL_MLOCKED:
		return -EPERM;
	case EXCHANGE_FAIL_PINNED:
		return -EBUSY;
	case EXCHANGE_FAIL_NOMEM:
		return -ENOMEM;
	case EXCHANGE_FAIL_HWPOISON:
		return -EHWPOISON;
	default:
		return -EAGAIN;
	}
}

/**
 * exchange_fail_count() - how often exchanges were refused for a reason
 * @reason: an %EXCHANGE_FAIL_* value
 *
 * Return: the cumulative count since boot (for hplace's stats/).
 */
unsigned long exchange_fail_count(enum exchange_result reason)
{
	if (reason <= EXCHANGE_OK || reason >= EXCHANGE_FAIL_NR)
		return 0;
	return atomic_long_read(&exchange_fail_total[reason]);
}

/**
 * exchange_ok_count() - number of successful exchanges since boot
 *
 * Return: the cumulative count.
 */
unsigned long exchange_ok_count(void)
{
	return atomic_long_read(&exchange_ok_total);
}

/* The mechanism's own totals; its callers count their own events. */
static void exchange_account(enum exchange_result result)
{
	if (result == EXCHANGE_OK)
		atomic_long_inc(&exchange_ok_total);
	else
		atomic_long_inc(&exchange_fail_total[result]);
}

/*
 * Is @folio a kind of folio we know how to exchange?  Called once without the
 * folio lock (cheap early refusal) and again with it (@locked: authoritative).
 */
static enum exchange_result exchange_check(struct folio *folio, bool locked)
{
	struct address_space *mapping;

	if (folio_test_large(folio))
		return EXCHANGE_FAIL_LARGE;
	if (folio_is_zone_device(folio) || __folio_test_movable(folio) ||
	    folio_test_ksm(folio) || folio_test_hwpoison(folio))
		return EXCHANGE_FAIL_TYPE;
	if (folio_test_anon(folio)) {
		/* Lazily freed (MADV_FREE) folios live on the file LRU. */
		if (!folio_test_swapbacked(folio))
			return EXCHANGE_FAIL_TYPE;
	} else if (!locked) {
		/*
		 * Our reference does not pin folio->mapping: a truncation may
		 * free the inode before we could look at it.  A cheap filter
		 * only (mapped shmem folios are swap-backed); the mapping, and
		 * anonymity, are checked again under the lock, which
		 * truncation and anon rmap setup take.
		 */
		if (!folio_test_swapbacked(folio))
			return EXCHANGE_FAIL_TYPE;
	} else {
		mapping = folio->mapping;
		if (!mapping || !shmem_mapping(mapping))
			return EXCHANGE_FAIL_TYPE;
	}
	if (folio_test_mlocked(folio) || folio_test_unevictable(folio))
		return EXCHANGE_FAIL_MLOCKED;
	if (folio_maybe_dma_pinned(folio))
		return EXCHANGE_FAIL_PINNED;
	if (folio_test_writeback(folio))
		return EXCHANGE_FAIL_WRITEBACK;
	if (folio_test_swapcache(folio) || folio_test_private(folio))
		return EXCHANGE_FAIL_SWAPCACHE;
	return EXCHANGE_OK;
}

/* References we expect once both sides are isolated: caller + isolation. */
static int exchange_expected_refs(struct folio *folio)
{
	return folio_expected_ref_count(folio) + 2;
}

static void exchange_release_side(struct exchange_pair *p, int side)
{
	struct folio *folio = side ? p->b : p->a;
	unsigned int *state = &p->state[side];

	if (p->anon_vma[side]) {
		put_anon_vma(p->anon_vma[side]);
		p->anon_vma[side] = NULL;
	}
	if (*state & EXS_LOCKED)
		folio_unlock(folio);
	if (*state & EXS_ISOLATED) {
		node_stat_mod_folio(folio, NR_ISOLATED_ANON +
				    folio_is_file_lru(folio),
				    -folio_nr_pages(folio));
		folio_putback_lru(folio);
	}
	*state = 0;
}

static void exchange_release(struct exchange_pair *p)
{
	exchange_release_side(p, 0);
	exchange_release_side(p, 1);
}

static bool exchange_isolate(struct folio *folio)
{
	if (!folio_isolate_lru(folio))
		return false;
	node_stat_mod_folio(folio, NR_ISOLATED_ANON + folio_is_file_lru(folio),
			    folio_nr_pages(folio));
	return true;
}

/*
 * Phase 1: check, isolate, lock and pin the anon_vma of both sides.  On
 * failure everything taken here is released again.
 */
static enum exchange_result exchange_prepare(struct exchange_pair *p)
{
	struct folio *lo, *hi;
	enum exchange_result r;
	int side;

	p->state[0] = 0;
	p->state[1] = 0;
	p->anon_vma[0] = NULL;
	p->anon_vma[1] = NULL;

	if (p->a == p->b)
		return EXCHANGE_FAIL_SAME;
	r = exchange_check(p->a, false);
	if (r == EXCHANGE_OK)
		r = exchange_check(p->b, false);
	if (r != EXCHANGE_OK)
		return r;
	/*
	 * Only like with like.  From exchange_state() until the migration
	 * entries are removed, each entry points at a frame that already
	 * carries the other side's identity, and page-table walkers that
	 * meet it (zap on munmap or exit, fork's copy, mprotect) judge the
	 * entry by that frame: mm_counter() picks the rss counter,
	 * should_zap_folio() spares anonymous COW copies, anonymous writable
	 * entries stay exclusive.  Anonymous with shmem would make them
	 * misjudge it (an unmapped page counted off MM_SHMEMPAGES instead of
	 * MM_ANONPAGES).  Our reference keeps each side's kind: an anonymous
	 * folio stays anonymous, a shmem one loses its mapping at most, which
	 * exchange_check() refuses under the lock.
	 */
	if (folio_test_anon(p->a) != folio_test_anon(p->b))
		return EXCHANGE_FAIL_TYPE;

	if (!exchange_isolate(p->a))
		return EXCHANGE_FAIL_ISOLATE;
	p->state[0] |= EXS_ISOLATED;
	if (!exchange_isolate(p->b)) {
		r = EXCHANGE_FAIL_ISOLATE;
		goto fail;
	}
	p->state[1] |= EXS_ISOLATED;

	/*
	 * Never sleep on a folio lock while holding another one: everything
	 * else in mm that takes two folio locks uses its own order.
	 */
	lo = folio_pfn(p->a) < folio_pfn(p->b) ? p->a : p->b;
	hi = lo == p->a ? p->b : p->a;
	if (!folio_trylock(lo)) {
		r = EXCHANGE_FAIL_LOCKED;
		goto fail;
	}
	p->state[lo == p->b] |= EXS_LOCKED;
	if (!folio_trylock(hi)) {
		r = EXCHANGE_FAIL_LOCKED;
		goto fail;
	}
	p->state[hi == p->b] |= EXS_LOCKED;

	for (side = 0; side < 2; side++) {
		struct folio *folio = side ? p->b : p->a;

		r = exchange_check(folio, true);
		if (r != EXCHANGE_OK)
			goto fail;
		/* Like with like, now that neither can change kind. */
		if (folio_test_anon(p->a) != folio_test_anon(p->b)) {
			r = EXCHANGE_FAIL_TYPE;
			goto fail;
		}
		if (folio_ref_count(folio) != exchange_expected_refs(folio)) {
			r = folio_maybe_dma_pinned(folio) ?
				EXCHANGE_FAIL_PINNED : EXCHANGE_FAIL_REFCOUNT;
			goto fail;
		}
		if (folio_test_anon(folio)) {
			/*
			 * Keep the anon_vma alive while the folio is unmapped
			 * (see migrate_folio_unmap()).  No anon_vma means the
			 * folio is no longer mapped: it is being freed.
			 */
			p->anon_vma[side] = folio_get_anon_vma(folio);
			if (!p->anon_vma[side]) {
				r = EXCHANGE_FAIL_UNMAP;
				goto fail;
			}
		}
	}
	return EXCHANGE_OK;

fail:
	exchange_release(p);
	return r;
}

/* Phase 2: replace every mapping of both sides with migration entries. */
static void exchange_unmap(struct exchange_pair *p)
{
	int side;

	for (side = 0; side < 2; side++) {
		struct folio *folio = side ? p->b : p->a;

		if (folio_mapped(folio)) {
			try_to_migrate(folio, TTU_BATCH_FLUSH);
			p->state[side] |= EXS_MAPPED;
		}
	}
}

/*
 * mlock_folio() sets PG_mlocked without the folio lock, so an mlock() that
 * reached a still-mapped folio after exchange_check() may have set it; and
 * when a munlock() cleared VM_LOCKED before our unmap and its page-table walk
 * then met our migration entry, nobody cleared it again.  Called with the
 * folio unmapped, when nothing can set the flag (and a munlock batch clears
 * it with the same atomic test-and-clear): do what freeing a migrated
 * source does, and clear it.
 * Removing the migration entries mlocks each folio again through any
 * VM_LOCKED VMA; otherwise the flag would stay on a frame that now holds
 * the other side's data, in a VMA that is not locked.
 */
static void exchange_clear_stray_mlock(struct folio *folio)
{
	long nr = folio_nr_pages(folio);

	if (folio_test_clear_mlocked(folio)) {
		zone_stat_mod_folio(folio, NR_MLOCK, -nr);
		count_vm_events(UNEVICTABLE_PGCLEARED, nr);
	}
}

/*
 * Undo phase 2 for a pair that cannot be exchanged after all.  A folio that
 * is still unmapped here may carry a stray PG_mlocked as well (see
 * exchange_clear_stray_mlock()): nothing can set the flag while no page
 * table maps the folio, and a racing munlock batch clears it with the same
 * atomic test-and-clear, so drop it before remapping, which mlocks the
 * folio again if its VMA is locked.
 */
static void exchange_undo_unmap(struct exchange_pair *p)
{
	if (!folio_mapped(p->a))
		exchange_clear_stray_mlock(p->a);
	if (!folio_mapped(p->b))
		exchange_clear_stray_mlock(p->b);
	if (p->state[0] & EXS_MAPPED)
		remove_migration_ptes(p->a, p->a, 0);
	if (p->state[1] & EXS_MAPPED)
		remove_migration_ptes(p->b, p->b, 0);
}

static void exchange_flag(struct folio *a, struct folio *b, int bit)
{
	bool fa = test_bit(bit, &a->flags);
	bool fb = test_bit(bit, &b->flags);

	if (fa == fb)
		return;
	/* Atomic bit operations: PG_waiters may be set concurrently. */
	if (fa) {
		clear_bit(bit, &a->flags);
		set_bit(bit, &b->flags);
	} else {
		set_bit(bit, &a->flags);
		clear_bit(bit, &b->flags);
	}
}

/* Swap the flags and fields that describe the data, not the frame. */
static void exchange_state(struct folio *a, struct folio *b)
{
	bool young_a, young_b, idle_a, idle_b;
	int cpupid_a, cpupid_b;

	swap(a->mapping, b->mapping);
	swap(a->index, b->index);
	swap(a->private, b->private);
#ifdef CONFIG_MEMCG
	swap(a->memcg_data, b->memcg_data);
#endif
	exchange_flag(a, b, PG_dirty);
	exchange_flag(a, b, PG_uptodate);
	exchange_flag(a, b, PG_referenced);
	exchange_flag(a, b, PG_active);
	exchange_flag(a, b, PG_workingset);
	exchange_flag(a, b, PG_mappedtodisk);
	exchange_flag(a, b, PG_checked);
	exchange_flag(a, b, PG_reclaim);
	exchange_flag(a, b, PG_swapbacked);

	young_a = folio_test_clear_young(a);
	young_b = folio_test_clear_young(b);
	if (young_a)
		folio_set_young(b);
	if (young_b)
		folio_set_young(a);
	idle_a = folio_test_idle(a);
	idle_b = folio_test_idle(b);
	if (idle_a != idle_b) {
		if (idle_a) {
			folio_clear_idle(a);
			folio_set_idle(b);
		} else {
			folio_set_idle(a);
			folio_clear_idle(b);
		}
	}

	/*
	 * NUMA balancing's access history follows the data, except across
	 * tiers in memory-tiering mode, where it records slow-tier access
	 * time (as in folio_migrate_flags()).
	 */
	cpupid_a = folio_last_cpupid(a);
	cpupid_b = folio_last_cpupid(b);
	if ((sysctl_numa_balancing_mode & NUMA_BALANCING_MEMORY_TIERING) &&
	    node_is_toptier(folio_nid(a)) != node_is_toptier(folio_nid(b))) {
		cpupid_a = -1;
		cpupid_b = -1;
	}
	folio_xchg_last_cpupid(a, cpupid_b);
	folio_xchg_last_cpupid(b, cpupid_a);
}

#ifdef CONFIG_PAGE_EXCHANGE_KUNIT_TEST
/* KUnit: a copy from this folio fails half-way, as on a memory error. */
static struct folio *exchange_test_poisoned;
#endif

/*
 * Copy @from's data into @to so that an uncorrectable memory error in @from
 * fails the copy (and is queued for memory_failure()) instead of bringing
 * the kernel down, as folio_mc_copy() does for migration.  @to may be
 * partly written on failure.
 */
static int exchange_copy_mc(struct folio *to, struct folio *from)
{
#ifdef CONFIG_PAGE_EXCHANGE_KUNIT_TEST
	if (from == READ_ONCE(exchange_test_poisoned)) {
		memcpy_page(folio_page(to, 0), 0, folio_page(from, 0), 0,
			    PAGE_SIZE / 2);
		return -EHWPOISON;
	}
#endif
	if (copy_mc_highpage(folio_page(to, 0), folio_page(from, 0)))
		return -EHWPOISON;
	return 0;
}

/*
 * Account a shmem folio's page-cache data moving from node @from to the node
 * of @to.  The data carries its memcg; interrupts are off.
 */
static void exchange_move_cache_stats(struct folio *from, struct folio *to)
{
	struct mem_cgroup *memcg = folio_memcg(from);
	struct lruvec *old_lruvec, *new_lruvec;

	if (folio_nid(from) == folio_nid(to))
		return;
	old_lruvec = mem_cgroup_lruvec(memcg, folio_pgdat(from));
	new_lruvec = mem_cgroup_lruvec(memcg, folio_pgdat(to));
	__mod_lruvec_state(old_lruvec, NR_FILE_PAGES, -1);
	__mod_lruvec_state(new_lruvec, NR_FILE_PAGES, 1);
	__mod_lruvec_state(old_lruvec, NR_SHMEM, -1);
	__mod_lruvec_state(new_lruvec, NR_SHMEM, 1);
}

static void exchange_cache_slot(struct address_space *mapping,
				struct folio *old, struct folio *new)
{
	XA_STATE(xas, &mapping->i_pages, old->index);
	void *entry = xas_load(&xas);

	VM_WARN_ON_ONCE_FOLIO(entry != old, old);
	xas_store(&xas, new);
}

/*
 * Phase 3 for one unmapped pair: copy, freeze both reference counts, swap.
 *
 * Every read of the pair's data is machine-check safe, and the point of no
 * return comes after the last one: @a's data goes to @bounce first (before
 * the freeze, as migration copies before it freezes; both folios are locked
 * and unmapped, and no reference beyond the expected ones is left, so their
 * data cannot change), then, frozen, @b's data into
 * @a.  A memory error in either read fails the pair with @a's data put back
 * from @bounce; only then do page-cache slots and state move, and @bounce
 * (known good) lands in @b.
 *
 * Returns %EXCHANGE_OK once past the point of no return, otherwise leaves
 * both folios untouched (still unmapped: the caller restores them).
 */
static enum exchange_result exchange_move(struct exchange_pair *p,
					  struct folio *bounce)
{
	struct folio *a = p->a, *b = p->b;
	struct address_space *ma = folio_test_anon(a) ? NULL : a->mapping;
	struct address_space *mb = folio_test_anon(b) ? NULL : b->mapping;
	struct address_space *m1 = ma, *m2 = mb;
	enum exchange_result result = EXCHANGE_FAIL_REFCOUNT;
	int ea, eb;

	if (folio_mapped(a) || folio_mapped(b))
		return EXCHANGE_FAIL_UNMAP;
	/*
	 * As __migrate_folio() before its copy: a reference taken between
	 * prepare and unmap (GUP-fast pinning a shmem page for DMA) may
	 * still write @a after the copy below; now that no page table maps
	 * either folio, no new one can be taken.
	 */
	if (folio_ref_count(a) != exchange_expected_refs(a) ||
	    folio_ref_count(b) != exchange_expected_refs(b))
		return EXCHANGE_FAIL_REFCOUNT;
	if (exchange_copy_mc(bounce, a))
		return EXCHANGE_FAIL_HWPOISON;

	/* Lock the page caches in address order; one lock if shared. */
	if (!m1 || (m2 && m2 < m1))
		swap(m1, m2);
	if (m1 == m2)
		m2 = NULL;
	if (m1)
		xa_lock_irq(&m1->i_pages);
	if (m2)
		xa_lock_nested(&m2->i_pages, SINGLE_DEPTH_NESTING);

	/* Mapcounts are now zero: the rest are cache, isolation and caller. */
	ea = exchange_expected_refs(a);
	eb = exchange_expected_refs(b);
	if (!folio_ref_freeze(a, ea))
		goto out_unlock;
	if (!folio_ref_freeze(b, eb)) {
		folio_ref_unfreeze(a, ea);
		goto out_unlock;
	}

	/* Frozen: nobody reads @a while it holds part of @b's data. */
	if (exchange_copy_mc(a, b)) {
		copy_highpage(folio_page(a, 0), folio_page(bounce, 0));
		flush_dcache_folio(a);
		folio_ref_unfreeze(b, eb);
		folio_ref_unfreeze(a, ea);
		result = EXCHANGE_FAIL_HWPOISON;
		goto out_unlock;
	}

	exchange_clear_stray_mlock(a);
	exchange_clear_stray_mlock(b);

	/*
	 * Point of no return: nobody else holds a reference, no page table
	 * maps either folio, and page-cache lookups spin on the frozen counts
	 * until both are unfrozen below.
	 */
	if (ma)
		exchange_cache_slot(ma, a, b);
	if (mb)
		exchange_cache_slot(mb, b, a);
	if (ma)
		exchange_move_cache_stats(a, b);
	if (mb)
		exchange_move_cache_stats(b, a);
	exchange_state(a, b);

	if (m2)
		xa_unlock(&m2->i_pages);
	if (m1)
		xa_unlock_irq(&m1->i_pages);

	copy_highpage(folio_page(b, 0), folio_page(bounce, 0));
	flush_dcache_folio(a);
	flush_dcache_folio(b);

	/* Each folio now holds the other's data and its references. */
	folio_ref_unfreeze(a, eb);
	folio_ref_unfreeze(b, ea);
	return EXCHANGE_OK;

out_unlock:
	if (m2)
		xa_unlock(&m2->i_pages);
	if (m1)
		xa_unlock_irq(&m1->i_pages);
	return result;
}

/* Phase 4: map each folio where the other one was mapped. */
static void exchange_remap(struct exchange_pair *p)
{
	if (p->state[0] & EXS_MAPPED)
		remove_migration_ptes(p->a, p->b, 0);
	if (p->state[1] & EXS_MAPPED)
		remove_migration_ptes(p->b, p->a, 0);
}

/**
 * exchange_folio_pairs() - exchange several pairs of folios
 * @pairs: the pairs; each folio must be referenced exactly once by the
 *	caller, and may appear in at most one pair; both folios of a pair
 *	must be anonymous, or both shmem (else %EXCHANGE_FAIL_TYPE)
 * @nr: number of pairs, at most %EXCHANGE_BATCH_MAX
 *
 * For every pair, swaps the contents of the two folios and all the state that
 * follows the data (page-table mappings, page-cache slot, mapping and index,
 * dirty/uptodate/LRU-activity flags, young/idle, NUMA-balancing history and
 * memcg charge), so that after the call each user sees its data unchanged
 * while it sits in the other physical frame (and so on the other node).
 *
 * All pairs are unmapped first and the TLB is flushed once for the whole
 * batch, then every pair is moved and remapped.  The data are read with
 * machine-check safe copies before the point of no return: a memory error
 * fails that pair (%EXCHANGE_FAIL_HWPOISON) instead of the kernel.  A pair that cannot be
 * exchanged is left exactly as it was; its @result says why.  Both folios of
 * every pair are back on the LRU on return, and the caller still owns (and
 * must drop) its references.
 *
 * Context: process context, may sleep; takes folio locks (trylock only),
 * anon_vma / i_mmap locks and page-cache xa_locks.
 * Return: the number of pairs exchanged.
 */
unsigned int exchange_folio_pairs(struct exchange_pair *pairs, unsigned int nr)
{
	unsigned int i, done = 0, ready = 0;
	struct folio *bounce = NULL;
	bool unmapped = false;

	if (WARN_ON_ONCE(nr > EXCHANGE_BATCH_MAX))
		nr = EXCHANGE_BATCH_MAX;

	for (i = 0; i < nr; i++) {
		pairs[i].result = exchange_prepare(&pairs[i]);
		ready += pairs[i].result == EXCHANGE_OK;
	}
	/*
	 * One bounce page for the batch (the data of each pair's first
	 * side), only if a pair is to move, before anything is unmapped;
	 * never worth reclaim: the pairs are refused instead.
	 */
	if (ready) {
		bounce = folio_alloc(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN, 0);
		for (i = 0; !bounce && i < nr; i++) {
			if (pairs[i].result == EXCHANGE_OK) {
				exchange_release(&pairs[i]);
				pairs[i].result = EXCHANGE_FAIL_NOMEM;
			}
		}
	}
	for (i = 0; bounce && i < nr; i++) {
		if (pairs[i].result == EXCHANGE_OK) {
			exchange_unmap(&pairs[i]);
			unmapped = true;
		}
	}

	/* One TLB flush for every migration entry installed above. */
	if (unmapped)
		try_to_unmap_flush();

	for (i = 0; i < nr; i++) {
		struct exchange_pair *p = &pairs[i];

		if (p->result == EXCHANGE_OK) {
			p->result = exchange_move(p, bounce);
			if (p->result == EXCHANGE_OK) {
				exchange_remap(p);
				done++;
			} else {
				exchange_undo_unmap(p);
			}
			exchange_release(p);
		}
		exchange_account(p->result);
	}
	if (bounce)
		folio_put(bounce);
	return done;
}

/**
 * exchange_folios() - exchange two folios' contents and roles
 * @a: a folio the caller holds exactly one reference on
 * @b: another such folio
 *
 * Single-pair form of exchange_folio_pairs(); see there.
 *
 * Context: process context, may sleep.
 * Return: %EXCHANGE_OK, or why the pair was refused (both left untouched).
 */
enum exchange_result exchange_folios(struct folio *a, struct folio *b)
{
	struct exchange_pair pair = { .a = a, .b = b };

	exchange_folio_pairs(&pair, 1);
	return pair.result;
}

#ifdef CONFIG_DEBUG_FS
/*
 * debugfs page_exchange/exchange: write lines "pid1 addr1 pid2 addr2"
 * (decimal pids, hex addresses with or without "0x", nothing else on the
 * line; at most EXCHANGE_BATCH_MAX lines per write, exchanged as one
 * batch).  The write fails with the errno of the first refused pair;
 * reading the file gives one result name per line of the last write.
 * page_exchange/stats shows the counters.
 */
static DEFINE_MUTEX(exchange_debugfs_lock);
static char exchange_debugfs_last[EXCHANGE_BATCH_MAX * 12];

static struct folio *exchange_lookup(pid_t pid, unsigned long addr)
{
	struct task_struct *task;
	struct mm_struct *mm;
	struct page *page;
	long n;

	task = find_get_task_by_vpid(pid);
	if (!task)
		return ERR_PTR(-ESRCH);
	mm = get_task_mm(task);
	put_task_struct(task);
	if (!mm)
		return ERR_PTR(-ESRCH);
	/* A plain reference (FOLL_GET), not a pin: exchange checks pins. */
	mmap_read_lock(mm);
	n = get_user_pages_remote(mm, addr, 1, 0, &page, NULL);
	mmap_read_unlock(mm);
	mmput(mm);
	if (n != 1)
		return ERR_PTR(n < 0 ? n : -EFAULT);
	return page_folio(page);
}

/* One line "pid1 addr1 pid2 addr2": 0, or -EINVAL for anything else. */
static int exchange_parse_line(char *line, int *pid1, unsigned long *addr1,
			       int *pid2, unsigned long *addr2)
{
	char *tok[4];
	int i;

	for (i = 0; i < ARRAY_SIZE(tok); i++) {
		do {
			tok[i] = strsep(&line, " \t");
		} while (tok[i] && !*tok[i]);
		if (!tok[i])
			return -EINVAL;
	}
	if (line && *skip_spaces(line))
		return -EINVAL;
	if (kstrtoint(tok[0], 10, pid1) || kstrtoul(tok[1], 16, addr1) ||
	    kstrtoint(tok[2], 10, pid2) || kstrtoul(tok[3], 16, addr2))
		return -EINVAL;
	return 0;
}

static ssize_t exchange_debugfs_write(struct file *file, const char __user *ubuf,
				      size_t len, loff_t *ppos)
{
	struct exchange_pair *pairs;
	unsigned int nr = 0, lineno = 0, i;
	char *buf, *line, *cur;
	size_t off = 0;
	int err = 0;

	if (len == 0 || len > PAGE_SIZE)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	pairs = kcalloc(EXCHANGE_BATCH_MAX, sizeof(*pairs), GFP_KERNEL);
	if (!pairs) {
		kfree(buf);
		return -ENOMEM;
	}

	cur = buf;
	while ((line = strsep(&cur, "\n")) != NULL) {
		unsigned long addr1, addr2;
		struct folio *fa, *fb;
		int pid1, pid2;

		line = strim(line);
		if (!*line)
			continue;
		lineno++;
		if (nr == EXCHANGE_BATCH_MAX ||
		    exchange_parse_line(line, &pid1, &addr1, &pid2, &addr2)) {
			err = -EINVAL;
			break;
		}
		fa = exchange_lookup(pid1, addr1);
		if (IS_ERR(fa)) {
			err = PTR_ERR(fa);
			break;
		}
		fb = exchange_lookup(pid2, addr2);
		if (IS_ERR(fb)) {
			folio_put(fa);
			err = PTR_ERR(fb);
			break;
		}
		pairs[nr].a = fa;
		pairs[nr].b = fb;
		nr++;
	}

	mutex_lock(&exchange_debugfs_lock);
	exchange_debugfs_last[0] = '\0';
	if (!err && nr) {
		exchange_folio_pairs(pairs, nr);
		/* Retry pairs still in a per-CPU LRU batch once, after a drain. */
		for (i = 0; i < nr; i++)
			if (pairs[i].result == EXCHANGE_FAIL_ISOLATE)
				break;
		if (i < nr) {
			lru_add_drain_all();
			for (; i < nr; i++)
				if (pairs[i].result == EXCHANGE_FAIL_ISOLATE)
					pairs[i].result =
						exchange_folios(pairs[i].a,
								pairs[i].b);
		}
		for (i = 0; i < nr; i++) {
			off += scnprintf(exchange_debugfs_last + off,
					 sizeof(exchange_debugfs_last) - off,
					 "%s\n",
					 exchange_result_name(pairs[i].result));
			if (!err)
				err = exchange_result_errno(pairs[i].result);
		}
	} else if (err) {
		/* A line that did not parse, or whose page was not found. */
		scnprintf(exchange_debugfs_last, sizeof(exchange_debugfs_last),
			  "line %u: error %d\n", lineno, err);
	}
	mutex_unlock(&exchange_debugfs_lock);

	for (i = 0; i < nr; i++) {
		folio_put(pairs[i].a);
		folio_put(pairs[i].b);
	}
	kfree(pairs);
	kfree(buf);
	return err ? err : len;
}

static ssize_t exchange_debugfs_read(struct file *file, char __user *ubuf,
				     size_t len, loff_t *ppos)
{
	char *buf;
	ssize_t ret;

	buf = kmalloc(sizeof(exchange_debugfs_last), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_lock(&exchange_debugfs_lock);
	memcpy(buf, exchange_debugfs_last, sizeof(exchange_debugfs_last));
	mutex_unlock(&exchange_debugfs_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, buf, strlen(buf));
	kfree(buf);
	return ret;
}

static const struct file_operations exchange_debugfs_fops = {
	.owner = THIS_MODULE,
	.write = exchange_debugfs_write,
	.read = exchange_debugfs_read,
	.llseek = default_llseek,
};

static int exchange_stats_show(struct seq_file *m, void *v)
{
	int r;

	seq_printf(m, "exchanged %lu\n", exchange_ok_count());
	for (r = EXCHANGE_OK + 1; r < EXCHANGE_FAIL_NR; r++)
		seq_printf(m, "fail_%s %lu\n", exchange_result_name(r),
			   exchange_fail_count(r));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(exchange_stats);

static int __init exchange_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("page_exchange", NULL);

	debugfs_create_file("exchange", 0600, dir, NULL,
			    &exchange_debugfs_fops);
	debugfs_create_file("stats", 0400, dir, NULL, &exchange_stats_fops);
	return 0;
}
late_initcall(exchange_debugfs_init);
#endif /* CONFIG_DEBUG_FS */

#include "tests/exchange-kunit.h"
