// SPDX-License-Identifier: GPL-2.0
/*
 * hplace accessed-bit sampler: DAMON-style space sampling.
 *
 * Every tick (hplace_abit_tick_ms, 100 ms by default; longer at low scan
 * rates) the engine thread
 *  1. arms a fresh set of pages: clears their accessed bit, handing it back
 *     to the folio's young flag, and marks the folio idle;
 *  2. flushes the TLB once per process for everything it cleared;
 * and one window (hplace_abit_tick_ms) after arming, whatever the tick,
 *  3. checks those pages: test-and-clear the accessed bit; set (or the
 *     folio no longer idle) means "accessed within the window", a positive
 *     sample recorded into the range tree.
 *
 * Pages are drawn by stratified random sampling over all tracked ranges of
 * all tracked processes (so the number of checks in a range is
 * proportional to its size), as many per tick as the scan rate (pages per
 * second, set by the budget controller) allows.  Arming and checking the
 * same page makes a sample mean "accessed in this window", independent of
 * how old the bit was before, like DAMON's prepare/check pair.
 *
 * The TLB flush matters: x86 does not flush when clearing the accessed
 * bit, and a CPU (or QEMU TCG's soft TLB) that still caches the
 * translation will not set the bit again until the entry is refilled.  One
 * flush_tlb_range() (or flush_tlb_mm() when the armed pages span several
 * VMAs) per process per tick bounds the cost; it runs in the engine thread
 * and is therefore inside the measured budget.
 *
 * Page tables are walked under mmap_read_trylock(); a process whose lock
 * is contended is skipped for that tick, never waited for.
 */

#define pr_fmt(fmt) "hplace: " fmt

#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/pagewalk.h>
#include <linux/sched/clock.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/random.h>
#include <linux/huge_mm.h>
#include <linux/vmstat.h>
#include <linux/mmu_notifier.h>
#include <linux/page_idle.h>
#include <asm/tlbflush.h>
#include "engine.h"
#include "move.h"
#include <trace/events/hplace.h>

/*
 * Shortest scan tick; also the window in which an access counts: a page is
 * checked this long after it was armed, however far apart the ticks are.
 */
unsigned int hplace_abit_tick_ms = 100;
/*
 * At low scan rates the tick stretches (up to 1 s) so that each tick arms
 * at least this many pages: the per-tick fixed cost (the TLB flush and its
 * IPIs, the wakeup) would otherwise dominate a small budget.  Under TCG a
 * flush that reaches a busy vCPU costs 1-5 ms against 2.5-4 us per page
 * armed and checked, so fewer, larger ticks check more pages within the
 * same budget (gups-hot over 1 GiB: 600 pages a second at 256 a tick,
 * 1,100 at 1024, measured when 1024 was chosen).  But every page of a
 * tick shares one window, and what one window sees is not independent
 * from page to page: a workload that sweeps its hot set is young in a
 * window over one contiguous part of it.  A range's count then holds about
 * as many independent looks as ticks went into it, and at one tick a
 * second -- four per halving -- the ranges of one evenly swept hot set
 * differed a hundredfold in density and its working set swung by 2x.
 * 256 a tick gives four times the windows for fewer pages checked (the
 * changelog of this value has the measurements).  On hardware the flush
 * costs microseconds; from 10,240 pages a second the tick is the 100 ms
 * minimum either way, and below that it is now up to four times as
 * frequent (so are the flush IPIs to the tenant's CPUs, which the budget
 * does not charge).  The window does not stretch with the
 * tick: a page touched once a second is young in a 450 ms window four
 * times in ten, and next to it a page touched a hundred times a second
 * hardly stands out (measured: 47% of checks young on a workload with 7%
 * hot pages, and a 1 GiB range that never split).
 */
#define HPLACE_ABIT_MIN_BATCH	256
/* Most pages armed per tick (bounds the pending array). */
#define HPLACE_ABIT_BATCH	16384

/**
 * struct hplace_abit_slot - a page armed on the previous tick
 * @proc_id: hplace_proc.id of its process
 * @addr: the page
 */
struct hplace_abit_slot {
	u64 proc_id;
	unsigned long addr;
};

static struct {
	struct hplace_abit_slot *pend;
	struct hplace_abit_slot *next;
	unsigned int nr_pend;
	u64 rate;
	u64 carry;
	u64 last_tick;
	u64 next_tick;
	u64 check_at;	/* when the pending pages are due for their check */
	u64 window_ns;
	bool running;
} abit;

/*
 * Accessed-bit check of one page (4 KiB or PMD-mapped THP).
 *
 * Clearing the accessed bit takes information reclaim needs: folio_referenced()
 * (the LRU's and MGLRU's "was it used?") would then see an old mapping of a
 * page in constant use.  So, as DAMON does (mm/damon/ops-common.c), a young
 * bit that is cleared is handed back to the folio's young flag, which
 * folio_referenced() counts, and the folio is marked idle.  Whoever clears the
 * bit before the next check (reclaim, idle page tracking) clears the idle
 * flag too, so the check still sees that access.
 */
struct hplace_abit_walk {
	int young;	/* -1 not present, 0 old, 1 young */
	bool cleared;	/* an accessed bit was cleared: the TLB needs a flush */
};

/* Caller holds the page table lock; @folio may be NULL (special mapping). */
static void hplace_abit_mkold(struct hplace_abit_walk *w, struct folio *folio,
			      bool cleared)
{
	w->cleared = cleared;
	w->young = cleared || (folio && !folio_test_idle(folio));
	if (!folio)
		return;
	if (cleared)
		folio_set_young(folio);
	folio_set_idle(folio);
}

static int hplace_abit_pmd_entry(pmd_t *pmd, unsigned long addr,
				 unsigned long next, struct mm_walk *walk)
{
	struct hplace_abit_walk *w = walk->private;
	struct vm_area_struct *vma = walk->vma;
	spinlock_t *ptl;	/* page table lock */
	pte_t *pte, ptent;

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	if (pmd_trans_huge(pmdp_get(pmd))) {
		ptl = pmd_lock(walk->mm, pmd);
		if (pmd_trans_huge(pmdp_get(pmd))) {
			unsigned long haddr = addr & HPAGE_PMD_MASK;

			hplace_abit_mkold(w, vm_normal_folio_pmd(vma, haddr,
								 pmdp_get(pmd)),
					  pmdp_clear_young_notify(vma, haddr,
								  pmd));
			spin_unlock(ptl);
			return 0;
		}
		spin_unlock(ptl);
	}
#endif
	pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte)
		return 0;
	ptent = ptep_get(pte);
	if (pte_present(ptent))
		hplace_abit_mkold(w, vm_normal_folio(vma, addr, ptent),
				  ptep_clear_young_notify(vma, addr, pte));
	pte_unmap_unlock(pte, ptl);
	return 0;
}

static const struct mm_walk_ops hplace_abit_walk_ops = {
	.pmd_entry = hplace_abit_pmd_entry,
	.walk_lock = PGWALK_RDLOCK,
};

/*
 * Caller holds the mmap lock for reading.  Returns -1 (not present), 0 or 1
 * (accessed since the last check); *@cleared says whether a flush is due.
 * *@vma caches the last VMA looked up (NULL at first): a process's pages
 * come in address order, and the maple-tree lookup walk_page_range() would
 * do for each of them is a third of a check's cost under TCG.
 */
static int hplace_abit_young(struct mm_struct *mm, struct vm_area_struct **vma,
			     unsigned long addr, bool *cleared)
{
	struct hplace_abit_walk w = { .young = -1 };

	*cleared = false;
	if (!*vma || addr < (*vma)->vm_start || addr >= (*vma)->vm_end)
		*vma = vma_lookup(mm, addr);
	if (!*vma || !hplace_vma_tracked(*vma))
		return -1;
	walk_page_range_vma(*vma, addr, addr + PAGE_SIZE,
			    &hplace_abit_walk_ops, &w);
	*cleared = w.cleared;
	return w.young;
}

/* Flush what was cleared in [@lo, @hi] of @mm, once. */
static void hplace_abit_flush(struct mm_struct *mm, unsigned long lo,
			      unsigned long hi)
{
	struct vm_area_struct *vma = vma_lookup(mm, lo);

	if (vma && hi < vma->vm_end)
		flush_tlb_range(vma, lo, hi + PAGE_SIZE);
	else
		flush_tlb_mm(mm);
}

/**
 * struct hplace_abit_pick - stratified positions over all ranges
 * @n: positions to draw in total
 * @k: positions drawn so far
 * @stride: pages per stratum
 * @pos: next position, in pages from the start of the concatenation
 * @base: pages of ranges already passed
 */
struct hplace_abit_pick {
	u64 n;
	u64 k;
	u64 stride;
	u64 pos;
	u64 base;
};

static u64 hplace_abit_rand(u64 below)
{
	return get_random_u32_below((u32)clamp_t(u64, below, 1, U32_MAX));
}

static void hplace_abit_pick_next(struct hplace_abit_pick *pk)
{
	pk->k++;
	pk->pos = pk->k * pk->stride + hplace_abit_rand(pk->stride);
}

/*
 * Check the armed pages of @p (if @check), arm new ones (as many as @pk
 * still wants); returns pages touched.
 */
static u64 hplace_abit_scan_proc(struct hplace_proc *p, bool check,
				 unsigned int *ip, struct hplace_abit_pick *pk,
				 unsigned int *nr_next)
{
	struct mm_struct *mm = p->mm;
	struct vm_area_struct *vma = NULL;
	unsigned long lo = ULONG_MAX, hi = 0, addr;
	struct hplace_range *r;
	unsigned int i = *ip;
	bool locked = false, cleared;
	u64 done = 0;
	int young;

	if (mmget_not_zero(mm)) {
		locked = mmap_read_trylock(mm);
		if (!locked)
			mmput(mm);
	}

	/*
	 * 1. Check the pages armed a window ago.  What this clears needs no
	 * flush: the young flag keeps it for reclaim, and a page is flushed
	 * when it is armed again.
	 */
	for (; check && i < abit.nr_pend && abit.pend[i].proc_id <= p->id;
	     i++) {
		if (abit.pend[i].proc_id != p->id || !locked)
			continue;
		addr = abit.pend[i].addr;
		young = hplace_abit_young(mm, &vma, addr, &cleared);
		done++;
		if (young < 0)
			continue;
		hplace_record(p, addr, young);
	}
	*ip = i;

	/* 2. Arm new pages, stratified over this process's ranges. */
	hplace_rtree_for_each(&p->tree, r) {
		u64 pages = hplace_range_pages(r);

		while (pk->k < pk->n && pk->pos < pk->base + pages) {
			addr = r->start + ((pk->pos - pk->base) << PAGE_SHIFT);
			hplace_abit_pick_next(pk);
			if (!locked || *nr_next >= HPLACE_ABIT_BATCH)
				continue;
			done++;
			young = hplace_abit_young(mm, &vma, addr, &cleared);
			if (young < 0)
				continue;	/* not populated: nothing to watch */
			abit.next[*nr_next].proc_id = p->id;
			abit.next[*nr_next].addr = addr;
			(*nr_next)++;
			if (cleared) {
				lo = min(lo, addr);
				hi = max(hi, addr);
			}
		}
		pk->base += pages;
	}

	/* 3. One flush for everything armed in this process. */
	if (locked) {
		if (lo <= hi)
			hplace_abit_flush(mm, lo, hi);
		mmap_read_unlock(mm);
		mmput(mm);
	}
	return done;
}

static int hplace_abit_tick(u64 now, u64 *work, char *why, size_t len)
{
	struct hplace_abit_pick pk = { };
	struct hplace_proc *p;
	struct hplace_range *r;
	unsigned int i = 0, nr_next = 0;
	u64 total = 0, dt, t0, done = 0, before = hplace.samples;
	u64 window_ns = (u64)READ_ONCE(hplace_abit_tick_ms) * NSEC_PER_MSEC;
	u64 tick_ns = window_ns;
	bool arm = now >= abit.next_tick;
	/* Arming reuses the pending array: check what it holds first. */
	bool check = abit.nr_pend && (now >= abit.check_at || arm);

	if (!arm && !check)
		return 0;
	t0 = local_clock();
	if (check)
		abit.window_ns = now - abit.last_tick;
	if (arm) {
		if (abit.rate && tick_ns < NSEC_PER_SEC)
			tick_ns = clamp(div64_u64(HPLACE_ABIT_MIN_BATCH *
						  NSEC_PER_SEC, abit.rate),
					tick_ns, NSEC_PER_SEC);
		dt = min_t(u64, now - abit.last_tick, 2 * NSEC_PER_SEC);
		abit.last_tick = now;
		abit.next_tick = now + tick_ns;

		/* Pages this tick: rate * dt, fractions carried over. */
		abit.carry += abit.rate * dt;
		pk.n = div64_u64(abit.carry, NSEC_PER_SEC);
		abit.carry -= pk.n * NSEC_PER_SEC;
		pk.n = min_t(u64, pk.n, HPLACE_ABIT_BATCH);

		for (p = hplace_first_proc(); p; p = hplace_next_proc(p))
			hplace_rtree_for_each(&p->tree, r)
				total += hplace_range_pages(r);
		if (!total)
			pk.n = 0;
		pk.stride = pk.n ? max_t(u64, div64_u64(total, pk.n), 1) : 1;
		pk.pos = hplace_abit_rand(pk.stride);
	}

	for (p = hplace_first_proc(); p; p = hplace_next_proc(p))
		done += hplace_abit_scan_proc(p, check, &i, &pk, &nr_next);

	if (arm) {
		swap(abit.pend, abit.next);
		abit.nr_pend = nr_next;
		abit.check_at = now + window_ns;
	} else {
		abit.nr_pend = 0;
	}
	*work += done;

	count_vm_events(HPLACE_SAMPLE, hplace.samples - before);
	count_vm_events(HPLACE_SAMPLE_NS, local_clock() - t0);
	trace_hplace_sample_batch("abit", done, hplace.samples - before,
				  local_clock() - t0);
	return 0;
}

static int hplace_abit_available(char *why, size_t len)
{
	return 0;
}

static int hplace_abit_start(u64 knob, char *why, size_t len)
{
	if (!abit.pend) {
		abit.pend = kvcalloc(HPLACE_ABIT_BATCH, sizeof(*abit.pend),
				     GFP_KERNEL);
		abit.next = kvcalloc(HPLACE_ABIT_BATCH, sizeof(*abit.next),
				     GFP_KERNEL);
		if (!abit.pend || !abit.next) {
			kvfree(abit.pend);
			kvfree(abit.next);
			abit.pend = NULL;
			abit.next = NULL;
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
	}
	abit.nr_pend = 0;
	abit.rate = knob;
	abit.carry = 0;
	abit.last_tick = local_clock();
	abit.next_tick = abit.last_tick;
	abit.running = true;
	return 0;
}

static void hplace_abit_stop(void)
{
	abit.running = false;
	abit.nr_pend = 0;
}

static void hplace_abit_set_rate(u64 knob)
{
	abit.rate = knob;
}

static u64 hplace_abit_handler_ns(void)
{
	return 0;	/* all accessed-bit work runs in the engine thread */
}

static u64 hplace_abit_next_tick(void)
{
	/* Nothing tracked: only the epoch (which adopts processes) wakes us. */
	if (!abit.running || !hplace.nr_procs)
		return 0;
	if (abit.nr_pend && abit.check_at < abit.next_tick)
		return abit.check_at;
	return abit.next_tick;
}

/**
 * hplace_abit_rate() - current scan rate, for stats/
 *
 * Return: pages per second the accessed-bit sampler arms and checks.
 */
u64 hplace_abit_rate(void)
{
	return abit.rate;
}

/**
 * hplace_abit_window() - length of the last arm-to-check window, for stats/
 *
 * Return: nanoseconds between arming the last checked pages and their check.
 */
u64 hplace_abit_window(void)
{
	return abit.window_ns;
}

const struct hplace_sampler_ops hplace_abit_ops = {
	.name = "abit",
	.mode = HPLACE_BUDGET_RATE,
	.knob_min = 16,
	/* HPLACE_ABIT_BATCH pages per 100 ms tick */
	.knob_max = HPLACE_ABIT_BATCH * 10,
	.knob_initial = 2048,
	.available = hplace_abit_available,
	.start = hplace_abit_start,
	.stop = hplace_abit_stop,
	.set_rate = hplace_abit_set_rate,
	.tick = hplace_abit_tick,
	.handler_ns = hplace_abit_handler_ns,
	.next_tick_ns = hplace_abit_next_tick,
};

#include "tests/sampler-abit-kunit.h"
