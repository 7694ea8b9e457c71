// SPDX-License-Identifier: GPL-2.0
/*
 * hplace moves: the page-table collector and the executors; see move.h.
 *
 * The collector walks one range of one process under mmap_read_lock() and
 * picks folios on the wanted nodes: isolated from the LRU for migration,
 * or referenced (base pages only) for page exchange.  Only anonymous
 * memory is picked; mlocked, pinned, shared, KSM, partly mapped huge pages
 * and pages under a mempolicy are left alone and counted by reason.  A
 * huge page the range covers only in part is split after the walk.
 *
 * How a move is made is fixed per kind of move, not decided here:
 * promotions migrate as NUMA balancing does (MR_NUMA_MISPLACED, no
 * reclaim, no reserves); demotions as a syscall would (a huge page that
 * finds no huge page is split rather than left).  Exchange swaps contents
 * of pairs in place (exchange_folio_pairs(), hook patch 0006).
 */

#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/migrate.h>
#include <linux/mempolicy.h>
#include <linux/huge_mm.h>
#include <linux/exchange.h>
#include <linux/hplace.h>
#include <linux/vmstat.h>
#include <linux/mm_inline.h>
#include "../internal.h"
#include "move.h"

/* ---------------------------------------------------------- collector */

/**
 * hplace_vma_tracked() - is @vma memory hplace samples and places?
 * @vma: the mapping
 *
 * Return: true for private anonymous memory (not hugetlbfs, not a PFN or
 * I/O mapping).
 */
bool hplace_vma_tracked(struct vm_area_struct *vma)
{
	return vma_is_anonymous(vma) &&
	       !(vma->vm_flags & (VM_SHARED | VM_HUGETLB | VM_PFNMAP | VM_IO |
				  VM_MIXEDMAP));
}

static void hplace_skip(struct hplace_collect *c, enum hplace_skip why,
			unsigned long nr)
{
	c->stats->skipped[why] += nr;
}

static bool hplace_collect_full(const struct hplace_collect *c)
{
	return c->got >= c->want;
}

/**
 * hplace_collect_done() - has @c all it can take?
 * @c: the collection
 *
 * Return: true when @c has the pages it wants, or (exchange) a full batch.
 */
bool hplace_collect_done(const struct hplace_collect *c)
{
	return hplace_collect_full(c) ||
	       (c->refs_only && c->nr_folios == EXCHANGE_BATCH_MAX);
}

/* Consider one folio mapped at @fstart (its first page's address). */
static void hplace_collect_folio(struct hplace_collect *c,
				 struct folio *folio, unsigned long fstart)
{
	unsigned long nr = folio_nr_pages(folio);

	if (!node_isset(folio_nid(folio), c->from))
		return;
	if (c->vma_policy) {
		hplace_skip(c, HPLACE_SKIP_MEMPOLICY, nr);
		return;
	}
	if (!folio_test_anon(folio) || folio_test_ksm(folio)) {
		hplace_skip(c, HPLACE_SKIP_NOT_ANON, nr);
		return;
	}
	if (folio_test_mlocked(folio) || folio_test_unevictable(folio)) {
		hplace_skip(c, HPLACE_SKIP_MLOCKED, nr);
		return;
	}
	if (folio_maybe_dma_pinned(folio)) {
		hplace_skip(c, HPLACE_SKIP_PINNED, nr);
		return;
	}
	if (folio_likely_mapped_shared(folio)) {
		hplace_skip(c, HPLACE_SKIP_SHARED, nr);
		return;
	}
	/*
	 * PTE-mapped (a PMD mapping counts in the entire mapcount) by fewer
	 * PTEs than it has pages, by its one owner: only partly mapped.
	 */
	if (nr > 1 && !folio_entire_mapcount(folio) &&
	    folio_mapcount(folio) < nr) {
		hplace_skip(c, HPLACE_SKIP_PARTLY_MAPPED, nr);
		return;
	}
	if (nr > 1 && (fstart < c->start ||
		       fstart + nr * PAGE_SIZE > c->end)) {
		/* Only part of it is to move: split it, move the pieces. */
		if (c->nr_split < HPLACE_SPLIT_MAX) {
			folio_get(folio);
			c->split[c->nr_split++] = folio;
		}
		return;
	}
	if (c->refs_only) {
		if (nr > 1) {
			hplace_skip(c, HPLACE_SKIP_LARGE, nr);
			return;
		}
		folio_get(folio);
		c->folios[c->nr_folios++] = folio;
		c->got++;
		return;
	}
	if (!folio_isolate_lru(folio)) {
		hplace_skip(c, HPLACE_SKIP_BUSY, nr);
		return;
	}
	list_add_tail(&folio->lru, &c->list);
	node_stat_mod_folio(folio, NR_ISOLATED_ANON + folio_is_file_lru(folio),
			    nr);
	c->got += nr;
}

static int hplace_collect_pmd(pmd_t *pmd, unsigned long addr,
			      unsigned long end, struct mm_walk *walk)
{
	struct hplace_collect *c = walk->private;
	struct vm_area_struct *vma = walk->vma;
	pte_t *start_pte, *pte;
	spinlock_t *ptl;	/* the page table lock of @pmd */

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		pmd_t pmde = pmdp_get(pmd);

		if (pmd_present(pmde) && pmd_trans_huge(pmde)) {
			struct folio *folio = pmd_folio(pmde);

			if (!is_huge_zero_folio(folio))
				hplace_collect_folio(c, folio,
						     addr & HPAGE_PMD_MASK);
		}
		spin_unlock(ptl);
		c->next = end;
		return hplace_collect_full(c);
	}

	start_pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	pte = start_pte;
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr < end; pte++, addr += PAGE_SIZE) {
		pte_t ptent = ptep_get(pte);
		struct folio *folio;
		struct page *page;
		unsigned long fstart;

		if (!pte_present(ptent))
			continue;
		page = vm_normal_page(vma, addr, ptent);
		if (!page || is_zone_device_page(page) || PageReserved(page))
			continue;
		folio = page_folio(page);
		fstart = addr;
		if (folio_test_large(folio)) {
			if (folio == c->last_large)
				continue;
			c->last_large = folio;
			fstart = addr - folio_page_idx(folio, page) * PAGE_SIZE;
		}
		hplace_collect_folio(c, folio, fstart);
		if (hplace_collect_done(c)) {
			addr += PAGE_SIZE;
			break;
		}
	}
	pte_unmap_unlock(start_pte, ptl);
	c->next = addr;
	cond_resched();
	return hplace_collect_done(c);
}

static int hplace_collect_test_walk(unsigned long start, unsigned long end,
				    struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;
	struct hplace_collect *c = walk->private;

	/* The ranges follow private anonymous VMAs; they may have changed. */
	if (!hplace_vma_tracked(vma) || !vma_migratable(vma))
		return 1;
	/*
	 * A policy set with mbind(2), or failing that with set_mempolicy(2),
	 * says where the tenant wants the pages: leave them there (walked
	 * anyway, to count them as skipped).
	 */
	if (vma_policy(vma))
		c->vma_policy = vma_policy(vma)->mode != MPOL_LOCAL;
	else
		c->vma_policy = c->task_policy;
	return 0;
}

static const struct mm_walk_ops hplace_collect_ops = {
	.pmd_entry = hplace_collect_pmd,
	.test_walk = hplace_collect_test_walk,
	.walk_lock = PGWALK_RDLOCK,
};

/* Split the huge pages a walk found partly inside its range. */
static void hplace_split_partial(struct hplace_collect *c)
{
	unsigned int i;

	for (i = 0; i < c->nr_split; i++) {
		struct folio *folio = c->split[i];

		if (folio_trylock(folio)) {
			if (!split_folio(folio))
				c->stats->thp_split++;
			folio_unlock(folio);
		}
		folio_put(folio);
	}
	c->nr_split = 0;
}

/**
 * hplace_collect_range() - collect folios of one range
 * @c: the collection
 * @mm: the address space, pinned by the caller (mmget)
 * @start: the range
 * @end: its end
 * @from_addr: where in the range to start (a walk that stopped early
 *	resumes here)
 * @task_policy: the process has a task-wide mempolicy (its pages stay)
 *
 * Walks [@from_addr, @end) under mmap_read_lock() until @c is done, then
 * splits the huge pages it found only partly inside [@start, @end), for a
 * later walk to take their pieces.  @c->next says where the walk stopped.
 */
void hplace_collect_range(struct hplace_collect *c, struct mm_struct *mm,
			  unsigned long start, unsigned long end,
			  unsigned long from_addr, bool task_policy)
{
	c->start = start;
	c->end = end;
	c->next = end;
	c->last_large = NULL;
	c->task_policy = task_policy;
	mmap_read_lock(mm);
	walk_page_range(mm, from_addr, end, &hplace_collect_ops, c);
	mmap_read_unlock(mm);
	hplace_split_partial(c);
}

/* ---------------------------------------------------------- executors */

/**
 * hplace_roomiest() - the node of @mask with the most free pages
 * @mask: candidate nodes
 *
 * Return: a node with memory, or NUMA_NO_NODE.
 */
int hplace_roomiest(const nodemask_t *mask)
{
	unsigned long best_free = 0, free;
	int nid, best = NUMA_NO_NODE;

	for_each_node_mask(nid, *mask) {
		if (!node_state(nid, N_MEMORY))
			continue;
		free = sum_zone_node_page_state(nid, NR_FREE_PAGES);
		if (best == NUMA_NO_NODE || free > best_free) {
			best = nid;
			best_free = free;
		}
	}
	return best;
}

static struct folio *hplace_alloc_dst(struct folio *src, unsigned long nid)
{
	int order = folio_order(src);
	gfp_t gfp = __GFP_THISNODE;

	/* As for NUMA-balancing promotion: never reclaim or dip in reserves. */
	if (order) {
		gfp |= GFP_TRANSHUGE_LIGHT;
	} else {
		gfp |= GFP_HIGHUSER_MOVABLE | __GFP_NOMEMALLOC |
		       __GFP_NORETRY | __GFP_NOWARN;
		gfp &= ~__GFP_RECLAIM;
	}
	return __folio_alloc_node(gfp, order, (int)nid);
}

/* Count huge folios on @list (those that move whole if they move). */
static unsigned int hplace_count_large(struct list_head *list)
{
	struct folio *folio;
	unsigned int n = 0;

	list_for_each_entry(folio, list, lru)
		n += folio_test_large(folio);
	return n;
}

/**
 * hplace_migrate() - migrate the folios @c isolated
 * @c: the collection (its list is emptied)
 * @nid: destination node
 * @why: what the move counts as (a promotion or a demotion)
 * @src: the source node a demotion is counted on
 *
 * What does not move goes back to the LRU.
 *
 * Return: pages moved.
 */
unsigned long hplace_migrate(struct hplace_collect *c, int nid,
			     enum hplace_move_why why, int src)
{
	bool promote = why == HPLACE_MOVE_ROOM || why == HPLACE_MOVE_FILL ||
		       why == HPLACE_MOVE_PAIR_PROMOTE;
	unsigned int moved = 0, large;
	unsigned long want = c->got;

	if (list_empty(&c->list))
		return 0;
	large = hplace_count_large(&c->list);
	/*
	 * MR_NUMA_MISPLACED: a promotion is what NUMA balancing's is, and a
	 * huge page that finds no huge page on the fast tier stays whole.
	 * Demotions split a huge page rather than fail (MR_SYSCALL).
	 */
	migrate_pages(&c->list, hplace_alloc_dst, NULL, nid, MIGRATE_ASYNC,
		      promote ? MR_NUMA_MISPLACED : MR_SYSCALL, &moved);
	if (!list_empty(&c->list)) {
		large -= min(large, hplace_count_large(&c->list));
		putback_movable_pages(&c->list);
	}
	c->stats->thp_moved += large;
	if (want > moved) {
		count_vm_events(HPLACE_MIGRATE_FAIL, want - moved);
		c->stats->migrate_failed += want - moved;
	}
	if (promote)
		mod_node_page_state(NODE_DATA(nid), HPLACE_PROMOTE, moved);
	else
		mod_node_page_state(NODE_DATA(src), HPLACE_DEMOTE, moved);
	c->stats->moves[why] += moved;
	c->got = 0;
	return moved;
}

/**
 * hplace_collect_init() - start an empty collection
 * @c: the collection
 * @stats: the counters to add skips, splits and moves to
 * @from: take folios on these nodes
 * @want: pages wanted
 */
void hplace_collect_init(struct hplace_collect *c,
			 struct hplace_place_stats *stats,
			 const nodemask_t *from, unsigned long want)
{
	memset(c, 0, sizeof(*c));
	c->stats = stats;
	c->from = *from;
	c->want = want;
	c->density_lo = U64_MAX;
	INIT_LIST_HEAD(&c->list);
}

/**
 * hplace_migrate_demote() - demote the folios @c isolated
 * @c: the collection (its list is emptied)
 * @fast: the fast nodes the folios were picked on
 * @dst: destination node
 * @why: what the move counts as
 *
 * Migrates one source node at a time, so that each node's hplace_demote
 * count lands right.
 *
 * Return: pages moved.
 */
u64 hplace_migrate_demote(struct hplace_collect *c, const nodemask_t *fast,
			  int dst, enum hplace_move_why why)
{
	struct folio *folio, *next;
	LIST_HEAD(isolated);
	u64 moved = 0;
	int src;

	list_splice_init(&c->list, &isolated);
	for_each_node_mask(src, *fast) {
		c->got = 0;
		list_for_each_entry_safe(folio, next, &isolated, lru) {
			if (folio_nid(folio) != src)
				continue;
			list_move_tail(&folio->lru, &c->list);
			c->got += folio_nr_pages(folio);
		}
		moved += hplace_migrate(c, dst, why, src);
	}
	/* Only fast folios were picked; anything else goes back untouched. */
	if (!list_empty(&isolated))
		putback_movable_pages(&isolated);
	c->got = 0;
	return moved;
}

/**
 * hplace_exchange() - exchange hot-slow with cold-fast base pages
 * @hot: referenced slow folios (refs_only collection)
 * @cold: referenced fast folios, at least @n
 * @n: pairs to exchange: @hot's first @n folios with @cold's
 * @pairs: scratch for @n pairs
 *
 * Exchanges contents in one batch (one TLB flush), then drops the
 * references of both collections, exchanged or not.
 *
 * Return: pairs exchanged.
 */
unsigned int hplace_exchange(struct hplace_collect *hot,
			     struct hplace_collect *cold, unsigned int n,
			     struct exchange_pair *pairs)
{
	unsigned int i, ok;

	for (i = 0; i < n; i++) {
		pairs[i].a = hot->folios[i];
		pairs[i].b = cold->folios[i];
	}
	ok = n ? exchange_folio_pairs(pairs, n) : 0;
	for (i = 0; i < n; i++) {
		/* Contents moved; each folio stays in its frame. */
		if (pairs[i].result != EXCHANGE_OK)
			continue;
		mod_node_page_state(folio_pgdat(cold->folios[i]),
				    HPLACE_PROMOTE, 1);
		mod_node_page_state(folio_pgdat(cold->folios[i]),
				    HPLACE_DEMOTE, 1);
	}
	for (i = 0; i < hot->nr_folios; i++)
		folio_put(hot->folios[i]);
	for (i = 0; i < cold->nr_folios; i++)
		folio_put(cold->folios[i]);
	hot->stats->moves[HPLACE_MOVE_EXCHANGE] += ok;
	hot->stats->exchange_failed += n - ok;
	count_vm_events(HPLACE_EXCHANGE, ok);
	count_vm_events(HPLACE_EXCHANGE_FAIL, n - ok);
	return ok;
}
