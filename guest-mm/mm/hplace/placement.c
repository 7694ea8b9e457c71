// SPDX-License-Identifier: GPL-2.0
/*
 * hplace placement: move pages between the fast and the slow tier as the
 * classification asks.
 *
 * The engine thread (detection, under the CPU budget) ends every epoch by
 * writing a plan: the hot ranges, hottest first, and the cold ranges,
 * coldest first (hplace_cmp_cold()).  A second thread, "hplace-migrate",
 * executes it, so that migration (paced by migrate_mbps) is never billed
 * to the detection budget and a long migration never delays sampling.  It
 * wakes on a new plan, on an hballoon resize, and when a fast node's free
 * memory falls below its share of the headroom (a node free mark, armed
 * after each pass; a slow timer backs it up).  Each pass:
 *
 *  1. keeps the headroom: once the fast tier has less free memory than
 *     headroom_permille of its size (plus what a pending hballoon shrink
 *     still has to take), demotes pages of the coldest ranges until the
 *     room gap above it is free too (HPLACE_ROOM_GAP_*, HPLACE_GAP_*; only
 *     back to the headroom and the gap's floor once that gap is at its
 *     bound);
 *  2. promotes the slow pages of the hottest ranges into the free room
 *     above the headroom and the gap;
 *  3. when the fast tier is full and hot pages are still on the slow tier,
 *     exchanges hot-slow with cold-fast pages in batches (page exchange,
 *     one TLB flush per batch), and for what exchange refuses (huge pages,
 *     kernels without CONFIG_PAGE_EXCHANGE) demotes cold pages and then
 *     promotes hot ones into the room made (paired migration); exchange
 *     with no cold range left takes the least dense hot ranges' fast pages.
 *
 * Everything moved counts against a token bucket of migrate_mbps (an
 * exchanged pair moves two pages).  Only anonymous memory of tracked
 * processes is moved; mlocked, pinned and shared pages are left alone and
 * counted.  A huge page moves whole when its range covers it, and is split
 * (counted) when the range covers only part of it.
 *
 * Which nodes are fast and which slow, how much of the fast tier is free
 * and must stay free, and the free marks are tier.c's; the page-table walk
 * that picks folios and the migrate and exchange executors are move.c's.
 * What is left here is the policy: the plan, the order of the steps, the
 * trade rule, the token bucket and the thread.
 */

#define pr_fmt(fmt) "hplace: " fmt

#include <linux/mm.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/sched/cputime.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/pid_namespace.h>
#include <linux/mempolicy.h>
#include <linux/huge_mm.h>
#include <linux/node_resize.h>
#include <linux/exchange.h>
#include <linux/hplace.h>
#include <linux/vmstat.h>
#include <linux/sort.h>
#include "engine.h"
#include "classify.h"
#include "move.h"
#include "tier.h"

/*
 * Longest sleep between passes.  A fast node falling below its headroom
 * wakes the thread at once through its free mark; the timer covers what
 * the mark cannot see (drift folded by the periodic vmstat refresh, a
 * node left below its headroom with nothing to demote).
 */
#define HPLACE_MIGRATE_IDLE_MS	1000
/* Pause between passes while work remains (token bucket refill). */
#define HPLACE_MIGRATE_PACE_MS	50
/* Pages isolated per migrate_pages() call. */
#define HPLACE_MIGRATE_BATCH	512
/*
 * Promotion into free fast memory stops this far above the headroom
 * (a share of it, in permille, plus a floor), so the small allocations
 * that then eat into the free memory do not trigger a headroom demotion
 * at once: without the gap the two steps traded pages back and forth.
 */
#define HPLACE_ROOM_GAP_PERMILLE	250
#define HPLACE_ROOM_GAP_MIN		(SZ_1M >> PAGE_SHIFT)
/*
 * A tenant that allocates and frees in bursts larger than that gap had
 * each burst demoted for by the headroom step and its room promoted into
 * again once freed, two moves per page per burst (and, before fresh ranges
 * ranked after idle ones, hplace_cold_rank(), the burst's own pages were
 * often the ones demoted, then freed on the slow node).  So
 * once allocations push the tier below its headroom, the headroom step
 * demotes back up to the gap's top (as kswapd reclaims from the low
 * watermark up to the high one), and the gap grows by what that demoted
 * for allocations, so that the next burst finds its room free.  The gap
 * stops at HPLACE_GAP_MAX_HEADROOMS headrooms plus the floor, and an
 * eighth of the fast tier (a burst bigger than that is better traded than
 * a large share of the tier left idle; at that bound the headroom step
 * demotes only what is missing and the floor share, for refilling a gap
 * the next burst overruns again only trades pages: a burst within the
 * bound trades nothing, a larger one its overrun plus the floor), and
 * what it learned halves after each
 * HPLACE_GAP_WINDOW_MS in which free memory never came within half of it.
 * A tenant whose memory only grows keeps the gap wide while it grows, as
 * the kernel's watermark boost does for fragmentation.
 */
#define HPLACE_GAP_WINDOW_MS		30000
#define HPLACE_GAP_MAX_HEADROOMS	2
/*
 * A new plan with the same hot ranges as a plan that left nothing to move
 * is taken as settled too, without walking its page tables again, this
 * many times in a row; then it is walked anyway (new pages, densities that
 * now clear the margin).  A resize, or free room where there was none,
 * ends the run at once.
 */
#define HPLACE_QUIET_PLANS	8

/*
 * The ways placement walks the plan: the hot list hottest first, the cold
 * list coldest first (for an exchange, then the hot list least dense
 * first: hplace_walk_range()), and the cold list warmest first (old sampled
 * ranges only), to fill free fast memory once nothing hot is left on the
 * slow tier.
 */
enum hplace_list {
	HPLACE_LIST_HOT,
	HPLACE_LIST_COLD,
	HPLACE_LIST_WARM,
	HPLACE_NR_LISTS,
};

/* Where a walk of one list stands: the range, and the address in it. */
struct hplace_cursor {
	unsigned int pos;
	unsigned long addr;
};

/* The migrator's copy of the plan, and the address spaces it pinned. */
struct hplace_batch {
	struct hplace_plan plan;
	struct mm_struct *mm[HPLACE_PLAN_PROCS];
	bool task_policy[HPLACE_PLAN_PROCS];	/* set_mempolicy(2) in force */
	nodemask_t fast;
	nodemask_t slow;
	unsigned int headroom;
	unsigned int mbps;
	u64 settled_gen;	/* plan generation with nothing left to move */
	bool settled_full;	/* ... and no free room left to promote into */
	unsigned int quiet;	/* plans in a row taken as settled unwalked */
	u64 budget;		/* pages this pass may still move */
	/* The room gap's growth (HPLACE_GAP_*), pages: */
	u64 gap_learned;	/* headroom demotions for allocations */
	u64 gap_low;		/* least free memory above keep this window */
	u64 gap_window;		/* local_clock() the window started */
	struct hplace_cursor cur[HPLACE_NR_LISTS];	/* where walks stand */
	u64 walks;		/* page-table walks of plan ranges */
	/*
	 * While a trade is under way: the density the hot side surely has;
	 * cold ranges that may be as dense (bound at or above) are passed
	 * over, not taken as partners (0: no trade, take any).
	 */
	u64 cold_below;
	/* While exchange looks for partners: past the cold list, the hot. */
	bool hot_tail;
	/* Where exchange's hot walk first passed over a huge page (if seen). */
	bool large_seen;
	struct hplace_cursor large_at;
	/* Counters and exchange scratch: the engine's, or a KUnit case's own. */
	struct hplace_place_stats *stats;
	struct folio **xfolios[2];
	struct exchange_pair *xpairs;
};

static struct hplace_batch *hplace_batch;
static u64 hplace_tokens, hplace_tokens_ns;

/* ------------------------------------------------------------- knobs */

/* Names of the reasons, as in stats/skipped and stats/moves. */
const char * const hplace_skip_names[HPLACE_NR_SKIP] = {
	[HPLACE_SKIP_NOT_ANON] = "not_anon",
	[HPLACE_SKIP_MLOCKED] = "mlocked",
	[HPLACE_SKIP_PINNED] = "pinned",
	[HPLACE_SKIP_SHARED] = "shared",
	[HPLACE_SKIP_BUSY] = "busy",
	[HPLACE_SKIP_LARGE] = "large",
	[HPLACE_SKIP_MEMPOLICY] = "mempolicy",
	[HPLACE_SKIP_PARTLY_MAPPED] = "partly_mapped",
};

const char * const hplace_move_names[HPLACE_NR_MOVE] = {
	[HPLACE_MOVE_HEADROOM] = "demote_headroom",
	[HPLACE_MOVE_ROOM] = "promote_room",
	[HPLACE_MOVE_FILL] = "promote_fill",
	[HPLACE_MOVE_PAIR_DEMOTE] = "demote_paired",
	[HPLACE_MOVE_PAIR_PROMOTE] = "promote_paired",
	[HPLACE_MOVE_EXCHANGE] = "exchange",
};

/**
 * hplace_set_headroom() - set headroom_permille (sysfs)
 * @permille: share of the fast tier kept free, 0..500
 *
 * Return: 0 or -EINVAL (nothing changed).
 */
int hplace_set_headroom(unsigned int permille)
{
	if (permille > 500)
		return -EINVAL;
	mutex_lock(&hplace.lock);
	hplace.place.headroom_permille = permille;
	mutex_unlock(&hplace.lock);
	hplace_place_kick();
	return 0;
}

/**
 * hplace_set_mbps() - set migrate_mbps (sysfs)
 * @mbps: migration rate limit in MiB/s, 1..HPLACE_MBPS_MAX
 *
 * Return: 0 or -EINVAL (nothing changed).
 */
int hplace_set_mbps(unsigned int mbps)
{
	if (!mbps || mbps > HPLACE_MBPS_MAX)
		return -EINVAL;
	mutex_lock(&hplace.lock);
	hplace.place.migrate_mbps = mbps;
	mutex_unlock(&hplace.lock);
	return 0;
}

/**
 * hplace_place_kick() - ask the migration thread for a pass
 *
 * Any context that may call wake_up().
 */
void hplace_place_kick(void)
{
	set_bit(0, &hplace.place.kick);
	wake_up(&hplace.place.wq);
}

/* ---------------------------------------------------------------- plan */

/*
 * Hot ranges, the surely hottest first: by the density their samples
 * support (a small range with one sample has a high estimate and proves
 * nothing; first in line, it would stop every exchange of the pass).
 */
static int hplace_cmp_hot(const void *a, const void *b)
{
	const struct hplace_move *x = a, *y = b;

	if (x->density_lo != y->density_lo)
		return x->density_lo > y->density_lo ? -1 : 1;
	if (x->density != y->density)
		return x->density > y->density ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Where a cold range stands in the demotion order, as reclaim's inactive
 * list orders pages: old ranges with no sure access (density_lo 0) first,
 * then fresh ones (hplace_range_fresh(): memory just allocated is about
 * to be used, and a count that had no time to grow says nothing), then old
 * ranges with sure accesses.  Fresh unsampled ranges sorted among the
 * coldest had a tenant's burst that pushed the tier below its headroom
 * demoted itself, freed on the slow node, and demoted for again each time.
 */
static unsigned int hplace_cold_rank(const struct hplace_move *m)
{
	if (m->fresh)
		return 1;
	return m->density_lo ? 2 : 0;
}

/*
 * Cold ranges by hplace_cold_rank(), each rank coldest first by estimate
 * (the warm fill walks them from the other end, passes over the fresh and
 * stops at the first old one never sampled); among equal estimates, the
 * surely coldest (lowest bound) first.
 */
static int hplace_cmp_cold(const void *a, const void *b)
{
	const struct hplace_move *x = a, *y = b;
	unsigned int rx = hplace_cold_rank(x), ry = hplace_cold_rank(y);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	if (x->density != y->density)
		return x->density < y->density ? -1 : 1;
	if (x->density_hi != y->density_hi)
		return x->density_hi < y->density_hi ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/**
 * hplace_place_plan() - write the plan from the last classification
 *
 * Called by the engine at the end of an epoch, with hplace.lock held; the
 * migration thread picks the plan up on its next pass.
 */
void hplace_place_plan(void)
{
	struct hplace_plan *pl = &hplace.place.plan;
	u64 sum_count = 0, sum_pages = 0;
	struct hplace_proc *p;
	struct hplace_range *r;

	pl->nr_procs = 0;
	pl->nr_hot = 0;
	pl->nr_cold = 0;
	for (p = hplace_first_proc(); p; p = hplace_next_proc(p)) {
		unsigned int idx = pl->nr_procs;

		if (idx == HPLACE_PLAN_PROCS) {
			pl->dropped += p->tree.nr_ranges;
			continue;
		}
		pl->proc_ids[pl->nr_procs++] = p->id;
		hplace_rtree_for_each(&p->tree, r) {
			struct hplace_move *m;

			sum_count += r->count;
			sum_pages += hplace_range_pages(r);
			if (r->hot && pl->nr_hot < HPLACE_PLAN_MAX) {
				m = &pl->hot[pl->nr_hot++];
			} else if (!r->hot && pl->nr_cold < HPLACE_PLAN_MAX) {
				m = &pl->cold[pl->nr_cold++];
			} else {
				pl->dropped++;
				continue;
			}
			m->proc = idx;
			m->start = r->start;
			m->end = r->end;
			m->density = hplace_range_density(r);
			hplace_range_density_bounds(r, &m->density_lo,
						    &m->density_hi);
			m->fresh = hplace_range_fresh(r);
		}
	}
	pl->mean_density = sum_pages ?
		div64_u64(sum_count << HPLACE_RT_DENSITY_SHIFT, sum_pages) : 0;
	sort(pl->hot, pl->nr_hot, sizeof(*pl->hot), hplace_cmp_hot, NULL);
	sort(pl->cold, pl->nr_cold, sizeof(*pl->cold), hplace_cmp_cold, NULL);
	pl->gen++;
	hplace_place_kick();
}

/* Whether @m, met on the cold walk, is a hot range (hplace_walk_range()). */
static bool hplace_hot_partner(const struct hplace_batch *b,
			       const struct hplace_move *m)
{
	return m >= b->plan.hot && m < b->plan.hot + b->plan.nr_hot;
}

/* Whether the walk of list @which leaves range @m alone. */
static bool hplace_collect_passes_over(const struct hplace_batch *b,
				       enum hplace_list which,
				       const struct hplace_move *m)
{
	u64 hi = m->density_hi;

	/* New memory stays where it was allocated while fresh. */
	if (which == HPLACE_LIST_WARM)
		return m->fresh;
	if (which != HPLACE_LIST_COLD || !b->cold_below)
		return false;
	/*
	 * A hot partner must also clear the classifier's incumbency margin:
	 * pieces of one evenly used hot set differ by sampling noise only,
	 * and the extremes of many such bounds cross now and then.
	 */
	if (hplace_hot_partner(b, m))
		hi += div_u64(hi * HPLACE_CLASS_HYSTERESIS_PERMILLE, 1000);
	/*
	 * Not surely colder than what would take its place.  Hot ranges come
	 * surest first, so no later trade of this pass wants it.
	 */
	return hi >= b->cold_below;
}

/*
 * The range at @pos of a walk of list @which, or NULL past its end.  An
 * exchange (hot_tail set) that has run out of cold ranges goes on into the
 * hot list from its tail, the least surely dense first: the classifier's
 * capacity counts every anonymous page on the fast tier, pages placement
 * cannot move included (small untracked processes, mlocked, pinned or
 * bound memory), so it may call more hot than the tier holds; a hot range
 * on the slow tier surely denser than another hot range must still get
 * that range's fast pages.  (Paired migration does not: its promotion
 * walks on past the range it made room for, and could take back what it
 * demoted.)
 */
static struct hplace_move *hplace_walk_range(const struct hplace_batch *b,
					     enum hplace_list which,
					     unsigned int pos)
{
	unsigned int nr_cold = b->plan.nr_cold, nr_hot = b->plan.nr_hot;

	switch (which) {
	case HPLACE_LIST_HOT:
		return pos < nr_hot ? &b->plan.hot[pos] : NULL;
	case HPLACE_LIST_COLD:
		if (pos < nr_cold)
			return &b->plan.cold[pos];
		pos -= nr_cold;
		return b->hot_tail && b->cold_below && pos < nr_hot ?
		       &b->plan.hot[nr_hot - 1 - pos] : NULL;
	case HPLACE_LIST_WARM:
		return pos < nr_cold ? &b->plan.cold[nr_cold - 1 - pos] : NULL;
	default:
		WARN_ON_ONCE(1);
		return NULL;
	}
}

/*
 * Walk the ranges of plan list @which from the batch's cursor, picking
 * folios on @from until @c is full; advances the cursor.  Returns false
 * once the list is exhausted.
 */
static bool hplace_collect(struct hplace_batch *b, enum hplace_list which,
			   struct hplace_collect *c)
{
	unsigned int *pos = &b->cur[which].pos;
	unsigned long *addr = &b->cur[which].addr;
	struct hplace_move *m;

	while ((m = hplace_walk_range(b, which, *pos))) {
		struct mm_struct *mm = b->mm[m->proc];
		unsigned long start = max(*addr, m->start);
		unsigned long got;
		u64 large;

		/*
		 * Warmest first: past the first old range never sampled, the
		 * rest was not either.
		 */
		if (which == HPLACE_LIST_WARM && !m->fresh && !m->density)
			return false;
		if (hplace_collect_passes_over(b, which, m) || !mm ||
		    start >= m->end) {
			(*pos)++;
			*addr = 0;
			continue;
		}
		got = c->got;
		large = c->stats->skipped[HPLACE_SKIP_LARGE];
		hplace_collect_range(c, mm, m->start, m->end, start,
				     b->task_policy[m->proc]);
		b->walks++;
		/* Exchange takes base pages: note where huge ones wait. */
		if (which == HPLACE_LIST_HOT && c->refs_only && !b->large_seen &&
		    c->stats->skipped[HPLACE_SKIP_LARGE] != large) {
			b->large_seen = true;
			b->large_at.pos = *pos;
			b->large_at.addr = start;
		}
		if (c->got > got) {
			c->density_lo = min(c->density_lo, m->density_lo);
			c->density_hi = max(c->density_hi, m->density_hi);
		}
		if (c->next >= m->end) {
			(*pos)++;
			*addr = 0;
		} else {
			*addr = c->next;
		}
		if (hplace_collect_done(c))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------- moves */

/*
 * Demote up to @want pages of the coldest ranges, counted as @why
 * (HEADROOM or PAIR_DEMOTE); returns pages moved.  The walk continues
 * where the previous call of this pass stopped: the ranges behind the
 * cold cursor have nothing left to give (the pair loop calls this once
 * per batch, and re-walking them made a pass quadratic).
 */
static u64 hplace_demote(struct hplace_batch *b, u64 want,
			 enum hplace_move_why why)
{
	int dst = hplace_roomiest(&b->slow);
	struct hplace_collect c;
	u64 moved = 0;

	if (dst == NUMA_NO_NODE)
		return 0;
	while (moved < want && b->budget) {
		u64 chunk = min3(want - moved, b->budget,
				 (u64)HPLACE_MIGRATE_BATCH);
		bool more, progress;

		hplace_collect_init(&c, b->stats, &b->fast, chunk);
		more = hplace_collect(b, HPLACE_LIST_COLD, &c);
		progress = c.got;
		chunk = hplace_migrate_demote(&c, &b->fast, dst, why);
		moved += chunk;
		b->budget -= min(b->budget, chunk);
		if (!more || !progress)
			break;
	}
	return moved;
}

/*
 * Promote up to @want slow pages, counted as @why: of the hot ranges
 * (ROOM, PAIR_PROMOTE) or, to fill free room, of the warm ones (FILL).
 */
static u64 hplace_promote(struct hplace_batch *b, enum hplace_move_why why,
			  u64 want, bool *more)
{
	enum hplace_list which = why == HPLACE_MOVE_FILL ? HPLACE_LIST_WARM :
							   HPLACE_LIST_HOT;
	int dst = hplace_roomiest(&b->fast);
	struct hplace_collect c;
	u64 moved = 0;

	*more = false;
	if (dst == NUMA_NO_NODE)
		return 0;
	while (moved < want && b->budget) {
		u64 chunk = min3(want - moved, b->budget,
				 (u64)HPLACE_MIGRATE_BATCH);
		u64 got;

		hplace_collect_init(&c, b->stats, &b->slow, chunk);
		*more = hplace_collect(b, which, &c);
		got = c.got;
		chunk = hplace_migrate(&c, dst, why, NUMA_NO_NODE);
		moved += chunk;
		b->budget -= min(b->budget, chunk);
		if (!*more || !got || chunk < got)
			break;
	}
	return moved;
}

/*
 * Is a hot range worth a fast page of a colder one?  Only when its samples
 * show it denser than the other one's samples allow (@hot_lo, @cold_hi:
 * hplace_range_density_bounds()), and denser than tracked memory on
 * average.  Point estimates are not enough: a sparse range with one lucky
 * sample looks dense, and with a full fast tier every such fluke traded
 * pages back and forth (thousands of exchanges a minute at steady state).
 * Below-average ranges trading places gain little either way.
 */
static bool hplace_worth_displacing(const struct hplace_batch *b, u64 hot_lo,
				    u64 cold_hi)
{
	return hot_lo > cold_hi && hot_lo >= b->plan.mean_density;
}

static bool hplace_worth_swapping(const struct hplace_batch *b,
				  const struct hplace_collect *hot,
				  const struct hplace_collect *cold)
{
	return hplace_worth_displacing(b, hot->density_lo, cold->density_hi);
}

/*
 * The fast tier is full: exchange hot-slow with cold-fast base pages (past
 * the cold ranges, surely less dense hot ones: hplace_walk_range()), up
 * to @max_pairs.  Returns the pairs exchanged; *more tells whether hot
 * pages remain on the slow tier.  Huge pages it passed over are left to
 * paired migration: the hot cursor goes back to the first of them.
 */
static u64 hplace_swap(struct hplace_batch *b, u64 max_pairs, bool *more)
{
	struct hplace_collect hot, cold;
	u64 done = 0;
	unsigned int n, ok;

	*more = true;
	if (!IS_ENABLED(CONFIG_PAGE_EXCHANGE))
		return 0;
	b->large_seen = false;
	while (done < max_pairs && b->budget >= 2) {
		u64 want = min3(max_pairs - done, b->budget / 2,
				(u64)EXCHANGE_BATCH_MAX);

		hplace_collect_init(&hot, b->stats, &b->slow, want);
		hot.refs_only = true;
		hot.folios = b->xfolios[0];
		*more = hplace_collect(b, HPLACE_LIST_HOT, &hot);
		cold.nr_folios = 0;
		/* Hot ranges come surest first: none later is worth more. */
		if (hot.nr_folios && hot.density_lo < b->plan.mean_density) {
			*more = false;
		} else if (hot.nr_folios) {
			hplace_collect_init(&cold, b->stats, &b->fast,
					    hot.nr_folios);
			cold.refs_only = true;
			cold.folios = b->xfolios[1];
			b->cold_below = hot.density_lo;
			b->hot_tail = true;
			hplace_collect(b, HPLACE_LIST_COLD, &cold);
			b->hot_tail = false;
			b->cold_below = 0;
		}
		n = min(hot.nr_folios, cold.nr_folios);
		/*
		 * Only a clearly hotter page displaces a fast one: ranges of
		 * nearly equal density would otherwise trade places with
		 * every bit of sampling noise.
		 */
		if (n && !hplace_worth_swapping(b, &hot, &cold)) {
			n = 0;
			*more = false;
		}
		ok = hplace_exchange(&hot, &cold, n, b->xpairs);
		done += ok;
		b->budget -= min(b->budget, 2ULL * n);
		/* No cold partner left, or nothing would go: stop. */
		if (!n || !ok || cold.nr_folios < hot.nr_folios || !*more)
			break;
	}
	if (b->large_seen) {
		b->cur[HPLACE_LIST_HOT] = b->large_at;
		*more = true;
	}
	return done;
}

/*
 * Paired migration under the same rule as exchange: the next hot range to
 * promote must be surely denser than average, and only cold ranges surely
 * less dense than it are demoted for it.  Returns the density the cold
 * side must stay under (0: no pairing).
 */
static u64 hplace_pair_worth(const struct hplace_batch *b)
{
	unsigned int hot = b->cur[HPLACE_LIST_HOT].pos;
	u64 lo;

	if (hot >= b->plan.nr_hot)
		return 0;
	lo = b->plan.hot[hot].density_lo;
	return lo && lo >= b->plan.mean_density ? lo : 0;
}

/*
 * The fast tier is full: exchange, then paired migration (demote cold
 * pages, promote hot ones into the room made) for what exchange leaves,
 * huge pages and kernels without CONFIG_PAGE_EXCHANGE.  Returns whether
 * anything hot is left on the slow tier that a trade may still take
 * (false: the pass may take the plan as settled).
 */
static bool hplace_trade(struct hplace_batch *b)
{
	bool more;
	u64 n;

	hplace_swap(b, U64_MAX, &more);
	/*
	 * Partners for the huge pages exchange passed over may be behind its
	 * cold walk: cold huge pages, or ranges it passed over for a batch
	 * less dense than the range pairing starts from.
	 */
	if (b->large_seen)
		b->cur[HPLACE_LIST_COLD] = (struct hplace_cursor){};
	while (more && b->budget >= 2) {
		/* Hot ranges come surest first: none later is worth it. */
		b->cold_below = hplace_pair_worth(b);
		if (!b->cold_below)
			return false;
		n = hplace_demote(b, min_t(u64, b->budget / 2,
					   HPLACE_MIGRATE_BATCH),
				  HPLACE_MOVE_PAIR_DEMOTE);
		b->cold_below = 0;
		/*
		 * No partner, or the hot side did not move (a huge page finds
		 * no free huge page on the fast tier: MR_NUMA_MISPLACED does
		 * not split it): try again under the next plan, not every pass.
		 */
		if (!n || !hplace_promote(b, HPLACE_MOVE_PAIR_PROMOTE, n, &more))
			return false;
	}
	return more;
}

/* ---------------------------------------------------------------- pass */

/* Refill the token bucket (at most one second's worth). */
static u64 hplace_refill(unsigned int mbps, u64 now)
{
	u64 rate = (u64)mbps << (20 - PAGE_SHIFT);	/* pages per second */

	if (hplace_tokens_ns)
		hplace_tokens += mul_u64_u64_div_u64(rate,
						     now - hplace_tokens_ns,
						     NSEC_PER_SEC);
	hplace_tokens = min(hplace_tokens, rate);
	hplace_tokens_ns = now;
	return hplace_tokens;
}

/* Does plan @pl name the same hot ranges, in the same order, as @b's? */
static bool hplace_same_hot(const struct hplace_batch *b,
			    const struct hplace_plan *pl)
{
	unsigned int i;

	if (pl->nr_hot != b->plan.nr_hot)
		return false;
	for (i = 0; i < pl->nr_hot; i++) {
		const struct hplace_move *x = &b->plan.hot[i], *y = &pl->hot[i];

		if (x->start != y->start || x->end != y->end ||
		    b->plan.proc_ids[x->proc] != pl->proc_ids[y->proc])
			return false;
	}
	return true;
}

/*
 * Whether a thread of @p's process has a task-wide memory policy
 * (set_mempolicy(2)) other than local allocation.  Threads have their own
 * policies; one such thread is taken as the tenant saying where the
 * process's memory goes.
 */
static bool hplace_task_policy(const struct hplace_proc *p)
{
	struct task_struct *leader, *t;
	bool found = false;

	rcu_read_lock();
	leader = pid_task(p->pid, PIDTYPE_TGID);
	if (leader) {
		for_each_thread(leader, t) {
			task_lock(t);
			found = t->mm == p->mm && t->mempolicy &&
				t->mempolicy->mode != MPOL_LOCAL;
			task_unlock(t);
			if (found)
				break;
		}
	}
	rcu_read_unlock();
	return found;
}

/* Copy the plan and pin its address spaces; false when idle. */
static bool hplace_snapshot(struct hplace_batch *b)
{
	struct hplace_plan *pl = &hplace.place.plan;
	struct hplace_proc *p;
	unsigned int i;
	bool run;

	mutex_lock(&hplace.lock);
	run = hplace.enabled && !hplace.paused_why[0] &&
	      !nodes_empty(hplace.place.fast) && !nodes_empty(hplace.place.slow);
	b->fast = hplace.place.fast;
	b->slow = hplace.place.slow;
	b->headroom = hplace.place.headroom_permille;
	b->mbps = hplace.place.migrate_mbps;
	if (test_and_clear_bit(0, &hplace.place.resized)) {
		/* Walk the plan again now, and the next one too. */
		b->settled_gen = 0;	/* plan generations start at 1 */
		b->quiet = HPLACE_QUIET_PLANS;
	}
	if (run && b->plan.gen != pl->gen) {
		bool quiet = b->settled_gen == b->plan.gen &&
			     b->quiet < HPLACE_QUIET_PLANS &&
			     hplace_same_hot(b, pl);

		b->quiet = quiet ? b->quiet + 1 : 0;
		if (quiet)
			b->settled_gen = pl->gen;
		b->plan.gen = pl->gen;
		b->plan.nr_procs = pl->nr_procs;
		memcpy(b->plan.proc_ids, pl->proc_ids, sizeof(pl->proc_ids));
		b->plan.nr_hot = pl->nr_hot;
		memcpy(b->plan.hot, pl->hot, pl->nr_hot * sizeof(*pl->hot));
		b->plan.nr_cold = pl->nr_cold;
		memcpy(b->plan.cold, pl->cold, pl->nr_cold * sizeof(*pl->cold));
		b->plan.mean_density = pl->mean_density;
	}
	for (i = 0; i < b->plan.nr_procs; i++) {
		b->mm[i] = NULL;
		if (!run)
			continue;
		for (p = hplace_first_proc(); p; p = hplace_next_proc(p)) {
			if (p->id == b->plan.proc_ids[i]) {
				if (mmget_not_zero(p->mm))
					b->mm[i] = p->mm;
				break;
			}
		}
		b->task_policy[i] = b->mm[i] && hplace_task_policy(p);
	}
	mutex_unlock(&hplace.lock);
	return run;
}

static void hplace_release(struct hplace_batch *b)
{
	unsigned int i;

	for (i = 0; i < b->plan.nr_procs; i++) {
		if (b->mm[i])
			mmput(b->mm[i]);
		b->mm[i] = NULL;
	}
}

/* The room gap before any burst taught it more (HPLACE_ROOM_GAP_*). */
static u64 hplace_gap_floor(u64 headroom)
{
	return max_t(u64, HPLACE_ROOM_GAP_MIN,
		     div_u64(headroom * HPLACE_ROOM_GAP_PERMILLE, 1000));
}

/*
 * The most the room gap may learn (HPLACE_GAP_*), in pages: the floor on
 * top of the headrooms, since at the bound the headroom step demotes back
 * to the floor (hplace_headroom_want()); a bound without it let promotion
 * refill the floor after each burst, to be demoted again by the next.
 */
static u64 hplace_gap_max(u64 headroom, u64 managed)
{
	return min(headroom * HPLACE_GAP_MAX_HEADROOMS +
		   hplace_gap_floor(headroom), managed / 8);
}

/*
 * The fast tier's headroom (without a pending shrink's part), and
 * hplace_gap_max() of it, in pages.
 */
static u64 hplace_headroom_pages(const struct hplace_batch *b, u64 *gap_max)
{
	u64 managed = 0, headroom;
	int nid;

	for_each_node_mask(nid, b->fast)
		if (node_state(nid, N_MEMORY))
			managed += hplace_node_managed(nid);
	headroom = div_u64(managed * b->headroom, 1000);
	*gap_max = hplace_gap_max(headroom, managed);
	return headroom;
}

/*
 * Free pages promotion leaves above the headroom: a share of it, or what
 * bursts taught it if more (HPLACE_ROOM_GAP_*, HPLACE_GAP_*).
 */
static u64 hplace_room_gap(const struct hplace_batch *b, u64 headroom,
			   u64 gap_max)
{
	return max(hplace_gap_floor(headroom), min(b->gap_learned, gap_max));
}

/* Forget what the room gap learned, and start a window at @now. */
static void hplace_gap_reset(struct hplace_batch *b, u64 now)
{
	b->gap_learned = 0;
	b->gap_low = U64_MAX;
	b->gap_window = now;
}

/*
 * A pass at @now found @free pages free and @keep to keep, with room gap
 * @gap: note how low free memory came above @keep, and at the end of a
 * window halve what the gap learned unless that used half of it.
 */
static void hplace_gap_window(struct hplace_batch *b, u64 now, u64 free,
			      u64 keep, u64 gap)
{
	b->gap_low = min(b->gap_low, free > keep ? free - keep : 0);
	if ((s64)(now - b->gap_window) <
	    (s64)HPLACE_GAP_WINDOW_MS * NSEC_PER_MSEC)
		return;
	/* Doubled, not gap / 2: half of an odd gap rounds up. */
	if (2 * b->gap_low >= gap)
		b->gap_learned /= 2;
	b->gap_low = U64_MAX;
	b->gap_window = now;
}

/*
 * The headroom step demoted @n pages with @free pages free and room gap
 * @gap: the part that restored the headroom and the gap (not a pending
 * shrink's hold) grows the gap, up to @gap_max.
 */
static void hplace_gap_grow(struct hplace_batch *b, u64 n, u64 free,
			    u64 headroom, u64 gap, u64 gap_max)
{
	if (free < headroom + gap)
		b->gap_learned = min(b->gap_learned +
				     min(n, headroom + gap - free), gap_max);
}

/*
 * Pages the headroom step demotes with @free (below @keep) free: up to the
 * top of room gap @gap while the gap may still grow to cover the bursts.
 * Once what it learned is at its bound @gap_max, only what is missing
 * plus the floor: refilling a gap that the next burst overruns again would
 * trade a gap's worth of pages per burst, and the floor keeps small
 * allocations from setting off a pass each.  (A bound no higher than the
 * floor leaves the room gap at the floor: both forms are then the same.)
 */
static u64 hplace_headroom_want(const struct hplace_batch *b, u64 free,
				u64 keep, u64 gap, u64 headroom, u64 gap_max)
{
	if (b->gap_learned >= gap_max)
		return keep - free + hplace_gap_floor(headroom);
	return keep + gap - free;
}

/* One pass; returns true when it stopped for lack of tokens. */
static bool hplace_migrate_pass(void)
{
	struct hplace_batch *b = hplace_batch;
	u64 free, keep, anon, headroom, gap_max, gap, room, t0, p, n;
	bool more = false;

	t0 = local_clock();
	if (!hplace_snapshot(b)) {
		hplace_gap_reset(b, t0);
		WRITE_ONCE(hplace.place.room_gap_pages, 0);
		return false;
	}
	b->budget = hplace_refill(b->mbps, t0);
	memset(b->cur, 0, sizeof(b->cur));
	headroom = hplace_headroom_pages(b, &gap_max);
	/* The headroom knob or the fast nodes may have changed. */
	b->gap_learned = min(b->gap_learned, gap_max);

	/*
	 * 1. Keep the headroom (and make room for a pending shrink), and the
	 * gap above it; what that took for the tenants' allocations (not for
	 * a shrink) widens the gap.
	 */
	hplace_fast_room(&b->fast, b->headroom, &free, &keep, &anon);
	gap = hplace_room_gap(b, headroom, gap_max);
	hplace_gap_window(b, t0, free, keep, gap);
	if (free < keep) {
		u64 want = hplace_headroom_want(b, free, keep, gap, headroom,
						gap_max);

		n = hplace_demote(b, want, HPLACE_MOVE_HEADROOM);
		hplace_gap_grow(b, n, free, headroom, gap, gap_max);
		gap = hplace_room_gap(b, headroom, gap_max);
	}
	WRITE_ONCE(hplace.place.room_gap_pages, gap);

	/* 2. Promote into the room above the headroom and the gap. */
	hplace_fast_room(&b->fast, b->headroom, &free, &keep, &anon);
	room = free > keep + gap ? free - keep - gap : 0;

	/*
	 * Nothing was left to move under this plan: wait for the next,
	 * unless room has opened up since it filled.
	 */
	if (b->settled_gen == b->plan.gen && !(room && b->settled_full))
		goto out;
	p = hplace_promote(b, HPLACE_MOVE_ROOM, room, &more);
	/* Nothing hot left on the slow tier: fill the room with warm pages. */
	if (!more && p < room && b->budget) {
		bool warm_more;

		p += hplace_promote(b, HPLACE_MOVE_FILL, room - p, &warm_more);
	}

	/* 3. Full: exchange, then paired migration for what is left. */
	if (p >= room && b->budget)
		more = hplace_trade(b);
	if (!more) {
		b->settled_gen = b->plan.gen;
		b->settled_full = p >= room;
	}
out:
	hplace_release(b);
	hplace_tokens = b->budget;
	count_vm_events(HPLACE_MIGRATE_NS, local_clock() - t0);
	return more && !b->budget;
}

static int hplace_migrate_thread(void *unused)
{
	struct hplace_place *pl = &hplace.place;
	u64 rt = 0;

	while (!kthread_should_stop()) {
		long timeout = msecs_to_jiffies(HPLACE_MIGRATE_IDLE_MS);
		u64 now_rt;

		if (hplace_migrate_pass())
			timeout = msecs_to_jiffies(HPLACE_MIGRATE_PACE_MS);
		hplace_arm_free_marks();
		now_rt = task_sched_runtime(current);
		if (READ_ONCE(hplace.enabled))
			pl->stats.thread_ns += now_rt - rt;
		rt = now_rt;
		wait_event_interruptible_timeout(pl->wq, READ_ONCE(pl->kick) ||
						 kthread_should_stop(),
						 timeout);
		xchg(&pl->kick, 0);
	}
	return 0;
}

/* Free what hplace_place_init() allocated; safe on a half-done init. */
static void __init hplace_place_free(void)
{
	struct hplace_place *pl = &hplace.place;

	kvfree(pl->plan.hot);
	kvfree(pl->plan.cold);
	pl->plan.hot = NULL;
	pl->plan.cold = NULL;
	if (!hplace_batch)
		return;
	kfree(hplace_batch->xfolios[0]);
	kfree(hplace_batch->xfolios[1]);
	kfree(hplace_batch->xpairs);
	kvfree(hplace_batch->plan.hot);
	kvfree(hplace_batch->plan.cold);
	kfree(hplace_batch);
	hplace_batch = NULL;
}

/**
 * hplace_place_exit() - undo a successful hplace_place_init()
 *
 * For the engine's own init when it fails after placement started: stops
 * the migration thread and frees placement's memory.
 */
void __init hplace_place_exit(void)
{
	struct hplace_place *pl = &hplace.place;

	hplace_tier_exit();
	kthread_stop(pl->task);
	pl->task = NULL;
	hplace_place_free();
}

/**
 * hplace_place_init() - set placement up and start its thread
 *
 * On failure nothing is left allocated, registered or running.
 *
 * Return: 0 or a negative errno.
 */
int __init hplace_place_init(void)
{
	struct hplace_place *pl = &hplace.place;
	struct task_struct *task;

	init_waitqueue_head(&pl->wq);
	pl->fast_auto = true;
	pl->slow_auto = true;
	pl->headroom_permille = HPLACE_HEADROOM_DEFAULT;
	pl->migrate_mbps = HPLACE_MBPS_DEFAULT;
	pl->plan.hot = kvcalloc(HPLACE_PLAN_MAX, sizeof(*pl->plan.hot),
				GFP_KERNEL);
	pl->plan.cold = kvcalloc(HPLACE_PLAN_MAX, sizeof(*pl->plan.cold),
				 GFP_KERNEL);
	hplace_batch = kzalloc(sizeof(*hplace_batch), GFP_KERNEL);
	if (!pl->plan.hot || !pl->plan.cold || !hplace_batch)
		goto nomem;
	hplace_batch->stats = &pl->stats;
	hplace_gap_reset(hplace_batch, 0);
	hplace_batch->xfolios[0] = kcalloc(EXCHANGE_BATCH_MAX,
					   sizeof(struct folio *), GFP_KERNEL);
	hplace_batch->xfolios[1] = kcalloc(EXCHANGE_BATCH_MAX,
					   sizeof(struct folio *), GFP_KERNEL);
	hplace_batch->xpairs = kcalloc(EXCHANGE_BATCH_MAX,
				       sizeof(*hplace_batch->xpairs),
				       GFP_KERNEL);
	if (!hplace_batch->xfolios[0] || !hplace_batch->xfolios[1] ||
	    !hplace_batch->xpairs)
		goto nomem;
	hplace_batch->plan.hot = kvcalloc(HPLACE_PLAN_MAX,
					  sizeof(*pl->plan.hot), GFP_KERNEL);
	hplace_batch->plan.cold = kvcalloc(HPLACE_PLAN_MAX,
					   sizeof(*pl->plan.cold), GFP_KERNEL);
	if (!hplace_batch->plan.hot || !hplace_batch->plan.cold)
		goto nomem;
	hplace_tier_init();
	task = kthread_run(hplace_migrate_thread, NULL, "hplace-migrate");
	if (IS_ERR(task)) {
		hplace_tier_exit();
		hplace_place_free();
		return PTR_ERR(task);
	}
	pl->task = task;
	return 0;

nomem:
	hplace_place_free();
	return -ENOMEM;
}

/* ------------------------------------------------------------- demand */

/*
 * One node's share of the demand, in pages.  @working is the working set,
 * @placed the hot set the fast tier holds (classification at capacity);
 * @node_pages of the @tier_pages of its tier.  A fast node is asked for
 * its share of the working set, and the rest of its anonymous memory is
 * cold; a slow node holds its share of the working set that did not fit.
 */
static void hplace_demand_share(bool fast, u64 working, u64 placed,
				u64 node_pages, u64 tier_pages, u64 anon,
				u64 *hot, u64 *cold)
{
	u64 here;

	*hot = 0;
	if (!tier_pages) {
		*cold = anon;
		return;
	}
	node_pages = min(node_pages, tier_pages);
	if (fast) {
		*hot = mul_u64_u64_div_u64(working, node_pages, tier_pages);
		here = mul_u64_u64_div_u64(min(working, placed), node_pages,
					   tier_pages);
	} else {
		here = mul_u64_u64_div_u64(working - min(working, placed),
					   node_pages, tier_pages);
	}
	*cold = anon - min(anon, here);
}

/**
 * hplace_node_demand() - what placement wants of a NUMA node
 * @nid: the node
 * @hot_bytes: bytes of hot memory placement would keep on @nid if it had
 *	the room: for a fast node its share (by size) of the working set of
 *	the tracked processes, whether or not that fits; 0 for a slow node
 * @cold_bytes: bytes of anonymous memory on @nid outside the working set,
 *	estimated from the last classification (anonymous memory is what
 *	placement moves)
 *
 * For a per-node balloon reporting to the host (virtio-hballoon's stats),
 * so that the host can size the guest's fast tier.  The working set is the
 * memory that took HPLACE_WORKING_SET_PERMILLE of the sampled accesses.
 *
 * Context: process context; takes hplace's mutex.
 * Return: 0; -ENODATA while hplace is off (or never started), paused (a
 * conflicting tiering knob is on) or without a sampler, if it has not
 * classified since its sampler last started (switched on, resumed, fallen
 * back; the first epoch after that classifies older samples and does not
 * count) or not for
 * HPLACE_DEMAND_STALE_EPOCHS epochs (a demand nobody measures any more is
 * not reported as current), or if @nid is in neither tier; -EINVAL for a
 * node without memory.
 */
int hplace_node_demand(int nid, u64 *hot_bytes, u64 *cold_bytes)
{
	u64 tier = 0, hot, cold;
	const nodemask_t *mask;
	bool fast;
	int n, ret = 0;

	if (nid < 0 || nid >= MAX_NUMNODES || !node_state(nid, N_MEMORY))
		return -EINVAL;
	mutex_lock(&hplace.lock);
	fast = node_isset(nid, hplace.place.fast);
	mask = fast ? &hplace.place.fast : &hplace.place.slow;
	/* A pause (a conflicting tiering knob) stops the sampler too. */
	if (!hplace.enabled || !hplace.classified || !hplace.active ||
	    !node_isset(nid, *mask) ||
	    ktime_get_ns() - hplace.classified_ns >
	    HPLACE_DEMAND_STALE_EPOCHS * HPLACE_EPOCH_MS * NSEC_PER_MSEC) {
		ret = -ENODATA;
		goto out;
	}
	for_each_node_mask(n, *mask)
		if (node_state(n, N_MEMORY))
			tier += hplace_node_managed(n);
	hplace_demand_share(fast, hplace.cres.working_pages,
			    hplace.cres.hot_pages, hplace_node_managed(nid),
			    tier, node_page_state(NODE_DATA(nid),
						  NR_ANON_MAPPED),
			    &hot, &cold);
	*hot_bytes = hot << PAGE_SHIFT;
	*cold_bytes = cold << PAGE_SHIFT;
out:
	mutex_unlock(&hplace.lock);
	return ret;
}
EXPORT_SYMBOL_GPL(hplace_node_demand);

#include "tests/placement-kunit.h"
