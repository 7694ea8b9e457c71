// SPDX-License-Identifier: GPL-2.0
/*
 * hplace range tree: adaptive, bounded segment tree over a process's
 * virtual address space.  See range_tree.h for the model.
 */

#include "hplace_internal.h"
#include "range_tree.h"
#include "classify.h"

#define HPLACE_RT_ONE		BIT(HPLACE_RT_COUNT_SHIFT)
#define HPLACE_RT_HUGE_SIZE	BIT(HPLACE_HUGE_SHIFT)

/**
 * hplace_rtree_default_params() - sensible tuning
 * @p: filled in
 *
 * 4096 ranges per process, 64 KiB smallest split, 2 MiB ranges around
 * untracked samples, DAMON's 10% merge tolerance, halving when the pool
 * cools (hplace_rtree_pool_cool()), no sampled range above a sixteenth
 * of the sampled memory unless it is 32 MiB or less.
 */
void hplace_rtree_default_params(struct hplace_rtree_params *p)
{
	p->max_ranges = 4096;
	p->min_pages = 16;
	p->new_pages = HPLACE_RT_HUGE_SIZE >> PAGE_SHIFT;
	p->merge_permille = 100;
	p->split_permille = 300;
	p->split_min_count = 8 * HPLACE_RT_ONE;
	p->cold_count = HPLACE_RT_ONE;
	p->decay_permille = 500;
	p->min_ranges = 16;
	p->big_pages = 16 * HPLACE_RT_HUGE_SIZE >> PAGE_SHIFT;
}

/**
 * hplace_rtree_pool_init() - set up the bound shared by all trees
 * @pool: the pool
 * @max_ranges: most ranges all trees together may hold
 */
void hplace_rtree_pool_init(struct hplace_rtree_pool *pool,
			    unsigned long max_ranges)
{
	memset(pool, 0, sizeof(*pool));
	pool->max_ranges = max_ranges;
}

/**
 * hplace_rtree_pool_cool() - do the counts decay this epoch?
 * @pool: the pool; call once per epoch, before hplace_rtree_epoch() on
 *	each of its trees
 *
 * Cooling by samples, as Memtis does, not by time: a sampler that finds
 * few samples a second (the accessed-bit scan on a small budget) keeps
 * enough of them to split ranges and tell hot from cold, where halving
 * every epoch left a range with a few samples a second too few to split;
 * a sampler that finds thousands decays every epoch.  All trees of a pool
 * decay together, so their densities stay comparable.
 *
 * Return: true once HPLACE_RT_COOL_SAMPLES samples came in since the last
 * decay, or HPLACE_RT_COOL_EPOCHS epochs passed.
 */
bool hplace_rtree_pool_cool(struct hplace_rtree_pool *pool)
{
	pool->forget = false;
	if (pool->fresh < HPLACE_RT_COOL_SAMPLES &&
	    ++pool->warm_epochs < HPLACE_RT_COOL_EPOCHS)
		return false;
	pool->forget = pool->restart;
	pool->restart = false;
	pool->fresh = 0;
	pool->warm_epochs = 0;
	return true;
}

/**
 * hplace_rtree_pool_cool_next() - make the next epoch decay the counts
 * @pool: the pool
 *
 * For a sampler that (re)starts: what was sampled before it stopped should
 * weigh no more than one decay would leave of it, as when every epoch
 * decayed -- in the long counts too, which that decay sets to the counts:
 * the working set must not report a run that has ended.
 */
void hplace_rtree_pool_cool_next(struct hplace_rtree_pool *pool)
{
	pool->warm_epochs = HPLACE_RT_COOL_EPOCHS;
	pool->restart = true;
}

/**
 * hplace_rtree_init() - set up an empty tree
 * @t: the tree
 * @pool: shared bound, must outlive the tree
 * @p: tuning, copied
 *
 * Return: 0, or -EINVAL for out-of-range parameters.
 */
int hplace_rtree_init(struct hplace_rtree *t, struct hplace_rtree_pool *pool,
		      const struct hplace_rtree_params *p)
{
	if (!p->max_ranges || !p->min_pages || !p->new_pages ||
	    !is_power_of_2(p->new_pages) || !p->min_ranges)
		return -EINVAL;
	/* Equal cuts make pieces of at least min_pages, and bytes fit. */
	if (p->big_pages < HPLACE_RT_NR_SUB * p->min_pages ||
	    p->big_pages > (ULONG_MAX >> PAGE_SHIFT) / 2)
		return -EINVAL;
	if (p->merge_permille > 1000 || p->split_permille > 1000 ||
	    p->decay_permille > 1000)
		return -EINVAL;

	memset(t, 0, sizeof(*t));
	t->root = RB_ROOT;
	t->pool = pool;
	t->p = *p;
	pool->nr_trees++;
	return 0;
}

static u32 hplace_rt_add(u32 a, u64 b)
{
	u64 s = a + b;

	return s > U32_MAX ? U32_MAX : s;
}

/*
 * The crowded line: all but 1/HPLACE_RT_CROWDED of a tree's or a pool's
 * bound. Past it hplace_rt_crowded() merges harder (pool pressure only
 * for trees holding their fair share); cuts for length take only the room
 * below it (hplace_rt_split_long()).
 */
#define HPLACE_RT_CROWDED	8

/*
 * Ranges the tree may still gain before it or its pool holds all but
 * 1/@margin of its bound (0: the bound itself).
 */
static unsigned long hplace_rt_room_below(const struct hplace_rtree *t,
					  unsigned int margin)
{
	unsigned long line = t->p.max_ranges -
			     (margin ? t->p.max_ranges / margin : 0);
	unsigned long pline = t->pool->max_ranges -
			      (margin ? t->pool->max_ranges / margin : 0);

	if (t->nr_ranges >= line || t->pool->nr_ranges >= pline)
		return 0;
	return min(line - t->nr_ranges, pline - t->pool->nr_ranges);
}

/* No room for one more range in this tree or in the pool? */
static bool hplace_rt_full(const struct hplace_rtree *t)
{
	return !hplace_rt_room_below(t, 0);
}

static struct hplace_range *hplace_rt_alloc(struct hplace_rtree *t)
{
	struct hplace_range *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		t->stats.nomem++;
	return r;
}

static void hplace_rt_insert(struct hplace_rtree *t, struct hplace_range *r)
{
	struct rb_node **link = &t->root.rb_node, *parent = NULL;

	while (*link) {
		struct hplace_range *x = rb_entry(*link, struct hplace_range, node);

		parent = *link;
		link = r->start < x->start ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&r->node, parent, link);
	rb_insert_color(&r->node, &t->root);
	t->nr_ranges++;
	t->pool->nr_ranges++;
}

static void hplace_rt_erase(struct hplace_rtree *t, struct hplace_range *r)
{
	if (t->last == r)
		t->last = NULL;
	rb_erase(&r->node, &t->root);
	t->nr_ranges--;
	t->pool->nr_ranges--;
	kfree(r);
}

/*
 * The range holding @addr, or NULL; then *@prev is the closest range below
 * @addr and *@next the closest above (either may be NULL).
 */
static struct hplace_range *hplace_rt_find(struct hplace_rtree *t,
					   unsigned long addr,
					   struct hplace_range **prev,
					   struct hplace_range **next)
{
	struct rb_node *n = t->root.rb_node;

	*prev = NULL;
	*next = NULL;
	while (n) {
		struct hplace_range *r = rb_entry(n, struct hplace_range, node);

		if (addr < r->start) {
			*next = r;
			n = n->rb_left;
		} else if (addr >= r->end) {
			*prev = r;
			n = n->rb_right;
		} else {
			return r;
		}
	}
	return NULL;
}

/**
 * hplace_rtree_lookup() - the range holding an address
 * @t: the tree
 * @addr: user virtual address
 *
 * Return: the range, or NULL if @addr is not tracked.  O(log n).
 */
struct hplace_range *hplace_rtree_lookup(struct hplace_rtree *t,
					 unsigned long addr)
{
	struct hplace_range *prev, *next;

	return hplace_rt_find(t, addr, &prev, &next);
}

/* Create and insert [start, end); the caller checked the bounds. */
static struct hplace_range *hplace_rt_new(struct hplace_rtree *t,
					  unsigned long start,
					  unsigned long end)
{
	struct hplace_range *r = hplace_rt_alloc(t);

	if (!r)
		return NULL;
	r->start = start;
	r->end = end;
	hplace_rt_insert(t, r);
	t->stats.created++;
	return r;
}

/**
 * hplace_rtree_add() - track an address range (e.g. a new VMA)
 * @t: the tree
 * @start: first address, rounded down to a page
 * @end: end address, rounded up to a page
 *
 * Creates one range per untracked gap in [@start, @end); parts already
 * tracked are left alone.
 *
 * Return: the number of ranges created, -EINVAL for an empty range,
 * -ENOSPC if a bound stopped it (what was created stays), -ENOMEM.
 */
int hplace_rtree_add(struct hplace_rtree *t, unsigned long start,
		     unsigned long end)
{
	struct hplace_range *r, *prev, *next;
	unsigned long cur, gap_end;
	int created = 0;

	if (start >= end)
		return -EINVAL;
	start = round_down(start, PAGE_SIZE);
	end = round_up(end, PAGE_SIZE);

	for (cur = start; cur < end; cur = gap_end) {
		r = hplace_rt_find(t, cur, &prev, &next);
		if (r) {
			gap_end = r->end;
			continue;
		}
		gap_end = next ? min(next->start, end) : end;
		if (hplace_rt_full(t)) {
			t->stats.refused++;
			return -ENOSPC;
		}
		if (!hplace_rt_new(t, cur, gap_end))
			return -ENOMEM;
		created++;
	}
	return created;
}

/* Scale a count to the part of a range that remains. */
static u32 hplace_rt_scale(u32 count, unsigned long part, unsigned long whole)
{
	return mul_u64_u64_div_u64(count, part, whole);
}

/* @to takes the share @part / @whole of @from's counts. */
static void hplace_rt_take_share(struct hplace_range *to,
				 const struct hplace_range *from,
				 unsigned long part, unsigned long whole)
{
	to->count = hplace_rt_scale(from->count, part, whole);
	to->long_count = hplace_rt_scale(from->long_count, part, whole);
}

/**
 * hplace_rtree_remove() - stop tracking an address range (munmap)
 * @t: the tree
 * @start: first address, rounded down to a page
 * @end: end address, rounded up to a page
 *
 * Ranges inside are freed, ranges straddling an end are trimmed (their
 * count scaled to what remains).  Punching a hole in one range needs one
 * more range; if a bound or memory forbids it, only the larger side of the
 * hole stays tracked.
 *
 * Return: 0, or -EINVAL for an empty range.
 */
int hplace_rtree_remove(struct hplace_rtree *t, unsigned long start,
			unsigned long end)
{
	struct hplace_range *r, *prev, *next, *n;
	unsigned long len;

	if (start >= end)
		return -EINVAL;
	start = round_down(start, PAGE_SIZE);
	end = round_up(end, PAGE_SIZE);

	t->last = NULL;
	r = hplace_rt_find(t, start, &prev, &next);
	if (!r)
		r = next;
	while (r && r->start < end) {
		next = hplace_rtree_next(r);
		len = r->end - r->start;
		if (r->start >= start && r->end <= end) {
			hplace_rt_erase(t, r);
		} else if (r->start < start && r->end > end) {
			n = NULL;
			if (!hplace_rt_full(t))
				n = hplace_rt_alloc(t);
			else
				t->stats.refused++;
			if (n) {
				n->start = end;
				n->end = r->end;
				n->hot = r->hot;
				n->age = r->age;
				hplace_rt_take_share(n, r, r->end - end, len);
				hplace_rt_insert(t, n);
				t->stats.created++;
			} else if (r->end - end > start - r->start) {
				/* Keep the larger side; start moves, order holds. */
				hplace_rt_take_share(r, r, r->end - end, len);
				r->start = end;
				memset(r->sub, 0, sizeof(r->sub));
				break;
			}
			hplace_rt_take_share(r, r, start - r->start, len);
			r->end = start;
			memset(r->sub, 0, sizeof(r->sub));
		} else if (r->start < start) {
			hplace_rt_take_share(r, r, start - r->start, len);
			r->end = start;
			memset(r->sub, 0, sizeof(r->sub));
		} else {
			hplace_rt_take_share(r, r, r->end - end, len);
			r->start = end;
			memset(r->sub, 0, sizeof(r->sub));
		}
		r = next;
	}
	return 0;
}

/* Range for a sample outside every range: aligned chunk clipped by neighbours. */
static struct hplace_range *hplace_rt_create_for(struct hplace_rtree *t,
						 unsigned long addr,
						 struct hplace_range *prev,
						 struct hplace_range *next)
{
	unsigned long size = t->p.new_pages << PAGE_SHIFT;
	unsigned long start = round_down(addr, size);
	unsigned long end = start + size;

	if (end < start)	/* top of the address space */
		end = PAGE_MASK;
	if (prev && prev->end > start)
		start = prev->end;
	if (next && next->start < end)
		end = next->start;
	if (hplace_rt_full(t)) {
		t->stats.refused++;
		return NULL;
	}
	return hplace_rt_new(t, start, end);
}

/**
 * hplace_rtree_record() - account samples at an address
 * @t: the tree
 * @addr: user virtual address of the access
 * @nr: number of samples (weight) to add
 * @create: if @addr is untracked, create a range around it
 *
 * O(log n); O(1) when @addr falls in the range of the previous call.
 *
 * Return: 0; -ENOENT if @addr is untracked and @create is false; -ENOSPC
 * or -ENOMEM if a range could not be created.  Failures count as unmatched.
 */
int hplace_rtree_record(struct hplace_rtree *t, unsigned long addr,
			unsigned int nr, bool create)
{
	struct hplace_range *r = t->last, *prev, *next;
	unsigned int idx;

	if (!r || addr < r->start || addr >= r->end) {
		r = hplace_rt_find(t, addr, &prev, &next);
		if (!r) {
			if (!create) {
				t->stats.unmatched += nr;
				return -ENOENT;
			}
			r = hplace_rt_create_for(t, addr, prev, next);
			if (!r) {
				t->stats.unmatched += nr;
				return !hplace_rt_full(t) ? -ENOMEM : -ENOSPC;
			}
		}
		t->last = r;
	}

	idx = div64_u64((u64)(addr - r->start) * HPLACE_RT_NR_SUB,
			r->end - r->start);
	r->count = hplace_rt_add(r->count, (u64)nr << HPLACE_RT_COUNT_SHIFT);
	r->long_count = hplace_rt_add(r->long_count,
				      (u64)nr << HPLACE_RT_COUNT_SHIFT);
	r->sub[idx] = hplace_rt_add(r->sub[idx], (u64)nr << HPLACE_RT_COUNT_SHIFT);
	t->stats.samples += nr;
	t->pool->fresh += nr;
	return 0;
}

/*
 * Do two neighbouring eighths differ enough to cut between them?  Both a
 * relative jump (split_permille) and a statistically meaningful one: the
 * difference must exceed two standard deviations of Poisson noise,
 * (hi - lo)^2 > 4 * (hi + lo) in samples.
 */
static bool hplace_rt_uneven(const struct hplace_rtree *t, u32 a, u32 b)
{
	u64 hi = max(a, b), lo = min(a, b), d = hi - lo;

	if (d * 1000 <= hi * t->p.split_permille)
		return false;
	d = min_t(u64, d, 1ULL << 31);
	return d * d > 4 * (hi + lo) * HPLACE_RT_ONE;
}

/*
 * Cut @r at @cuts (@nr of them, ascending, inside @r) into @nr + 1 ranges.
 * The part of the count its eighths saw (since the last cut or merge) is
 * shared by where their samples fell, each eighth by how much of it a
 * piece holds; the rest of the count, and the long count's part beyond
 * the count, are older than the eighths: shared by size.  The caller
 * checked the bounds.
 */
static void hplace_rt_cut(struct hplace_rtree *t, struct hplace_range *r,
			  const unsigned long *cuts, unsigned int nr)
{
	struct hplace_range *pieces[HPLACE_RT_NR_SUB];
	unsigned long len = r->end - r->start, a, b, lo, hi;
	unsigned long eighth[HPLACE_RT_NR_SUB + 1];
	u64 seen = 0, part;
	unsigned int i, k;
	u32 count = r->count, fresh;
	/* The long count's part older than the count (never negative). */
	u32 older = r->long_count - min(r->count, r->long_count);

	for (i = 0; i < nr; i++) {
		pieces[i] = hplace_rt_alloc(t);
		if (!pieces[i]) {
			while (i--)
				kfree(pieces[i]);
			return;
		}
	}

	for (k = 0; k <= HPLACE_RT_NR_SUB; k++)
		eighth[k] = r->start + (unsigned long)div64_u64((u64)len * k,
							HPLACE_RT_NR_SUB);
	for (k = 0; k < HPLACE_RT_NR_SUB; k++)
		seen += r->sub[k];
	fresh = min_t(u64, seen, count);

	for (i = 0; i <= nr; i++) {
		struct hplace_range *n = i ? pieces[i - 1] : r;

		a = i ? cuts[i - 1] : r->start;
		b = i < nr ? cuts[i] : r->end;
		part = 0;
		for (k = 0; k < HPLACE_RT_NR_SUB; k++) {
			lo = max(eighth[k], a);
			hi = min(eighth[k + 1], b);
			if (hi > lo)
				part += mul_u64_u64_div_u64(r->sub[k], hi - lo,
							    eighth[k + 1] -
							    eighth[k]);
		}
		n->count = (seen ? mul_u64_u64_div_u64(fresh, part, seen) : 0) +
			   hplace_rt_scale(count - fresh, b - a, len);
		n->long_count = n->count + hplace_rt_scale(older, b - a, len);
		if (i) {
			n->start = a;
			n->end = b;
			n->hot = r->hot;
			n->age = r->age;
		}
	}
	/* r's eighths were read above; only now does it shrink. */
	r->end = cuts[0];
	memset(r->sub, 0, sizeof(r->sub));
	for (i = 0; i < nr; i++)
		hplace_rt_insert(t, pieces[i]);
	t->stats.splits++;
}

/* Split @r at the cut points its eighths show; see range_tree.h. */
static void hplace_rt_split(struct hplace_rtree *t, struct hplace_range *r)
{
	unsigned long cuts[HPLACE_RT_NR_SUB], gap[HPLACE_RT_NR_SUB];
	unsigned long len = r->end - r->start, min_len, align, c, prev;
	unsigned int i, nr = 0, room, best;

	min_len = t->p.min_pages << PAGE_SHIFT;
	align = len / HPLACE_RT_NR_SUB >= HPLACE_RT_HUGE_SIZE ?
		HPLACE_RT_HUGE_SIZE : PAGE_SIZE;

	prev = r->start;
	for (i = 1; i < HPLACE_RT_NR_SUB; i++) {
		if (!hplace_rt_uneven(t, r->sub[i - 1], r->sub[i]))
			continue;
		c = r->start + (unsigned long)div64_u64((u64)len * i,
							 HPLACE_RT_NR_SUB);
		c = round_down(c, align);
		if (c < prev + min_len || c + min_len > r->end)
			continue;
		cuts[nr] = c;
		gap[nr] = max(r->sub[i - 1], r->sub[i]) -
			  min(r->sub[i - 1], r->sub[i]);
		nr++;
		prev = c;
	}
	if (!nr)
		return;

	room = hplace_rt_room_below(t, 0);
	if (room < nr) {
		t->stats.refused++;
		if (!room)
			return;
		/* Room for fewer pieces: keep the sharpest cut only. */
		for (best = 0, i = 1; i < nr; i++)
			if (gap[i] > gap[best])
				best = i;
		cuts[0] = cuts[best];
		nr = 1;
	}
	hplace_rt_cut(t, r, cuts, nr);
}

/*
 * Cut @r, longer than @max_len, into equal pieces (at most eighths this
 * epoch; a piece still too long is cut again the next), on huge page
 * boundaries when the pieces are large enough. The cuts take only @room,
 * the room below the line where the tree or its pool is crowded (taking
 * the pool's line for every tree), so that they never make the merge
 * passes work harder (and undo them) or take the room splits by counts
 * need.
 */
static void hplace_rt_split_long(struct hplace_rtree *t, struct hplace_range *r,
				 unsigned long max_len, unsigned long room)
{
	unsigned long cuts[HPLACE_RT_NR_SUB], len = r->end - r->start;
	unsigned long align, c;
	unsigned long min_len = t->p.min_pages << PAGE_SHIFT, prev = r->start;
	unsigned int n, i, nr = 0;

	n = min_t(unsigned long, DIV_ROUND_UP(len, max_len), HPLACE_RT_NR_SUB);
	n = min_t(unsigned long, n, room + 1);
	align = len / n >= HPLACE_RT_HUGE_SIZE ? HPLACE_RT_HUGE_SIZE : PAGE_SIZE;
	for (i = 1; i < n; i++) {
		c = r->start + (unsigned long)div64_u64((u64)len * i, n);
		c = round_down(c, align);
		if (c < prev + min_len || c + min_len > r->end)
			continue;
		cuts[nr++] = c;
		prev = c;
	}
	if (nr)
		hplace_rt_cut(t, r, cuts, nr);
}

/*
 * The longest range the tree keeps (range_tree.h): a @min_ranges-th of
 * the memory sampled within the long horizon (not reservations never
 * touched, nor a cold range one stray sample fell in), at least
 * @big_pages; it changes only once it moved by a
 * quarter, so that mappings coming and going do not cut ranges and merge
 * them back epoch after epoch.
 */
static unsigned long hplace_rt_max_len(struct hplace_rtree *t)
{
	struct hplace_range *r;
	unsigned long pages = 0, len;

	/* As many samples as a split needs: not one stray sample's range. */
	hplace_rtree_for_each(t, r)
		if (r->long_count >= t->p.split_min_count)
			pages += hplace_range_pages(r);
	len = max(pages / t->p.min_ranges, t->p.big_pages) << PAGE_SHIFT;
	if (len > t->max_len + t->max_len / 4 ||
	    len < t->max_len - t->max_len / 4)
		t->max_len = len;
	return t->max_len;
}

static u32 hplace_rt_decay(const struct hplace_rtree *t, u32 v)
{
	return div_u64((u64)v * t->p.decay_permille, 1000);
}

/*
 * The long count keeps at least as much as the count at each decay, so it
 * never falls below it.  At the decay after a sampler restart it becomes
 * the (decayed) count: the history beyond the count's horizon is of the
 * run that ended, and the working set must not report it.
 */
static u32 hplace_rt_long_decay(const struct hplace_rtree *t,
				const struct hplace_range *r)
{
	unsigned int keep = max_t(unsigned int, t->p.decay_permille,
				  HPLACE_RT_LONG_DECAY_PERMILLE);

	if (t->pool->forget)
		return r->count;
	return div_u64((u64)r->long_count * keep, 1000);
}

/* Two counts of neighbours: both cold, or densities within @tol? */
static bool hplace_rt_counts_alike(const struct hplace_rtree *t, u32 ca,
				   u64 da, u32 cb, u64 db, unsigned int tol)
{
	u64 hi = max(da, db), lo = min(da, db);

	if (ca < t->p.cold_count && cb < t->p.cold_count)
		return true;
	/* Densities are below 2^44, so the products cannot overflow. */
	return (hi - lo) * 1000 <= hi * tol;
}

/*
 * Are neighbours @a and @b alike enough to be one range?  In both counts:
 * a range whose count went cold may still carry a long history, which a
 * merge with cold memory would spread over both.
 */
static bool hplace_rt_alike(const struct hplace_rtree *t,
			    const struct hplace_range *a,
			    const struct hplace_range *b, unsigned int tol)
{
	return hplace_rt_counts_alike(t, a->count, hplace_range_density(a),
				      b->count, hplace_range_density(b),
				      tol) &&
	       hplace_rt_counts_alike(t, a->long_count,
				      hplace_range_long_density(a),
				      b->long_count,
				      hplace_range_long_density(b), tol);
}

/* Nothing sampled within the long horizon either. */
static bool hplace_rt_cold(const struct hplace_rtree *t,
			   const struct hplace_range *r)
{
	return r->count < t->p.cold_count && r->long_count < t->p.cold_count;
}

/*
 * Merge alike neighbours into ranges of at most @max_len; cold ones merge
 * past it (nothing in them to find; a sampled one is cut again).  With
 * @same_hot, only neighbours of the same hot state; with @same_fresh,
 * only neighbours of the same freshness (hplace_range_fresh()): a fresh
 * range averaged into an old one would pass for old, its count of 0 for a
 * cold one.  The merged age is the average by size, or the older age when
 * a crowded tree merges fresh with old (the range stays demotable).
 */
static void hplace_rt_merge_pass(struct hplace_rtree *t, unsigned int tol,
				 bool same_hot, bool same_fresh,
				 unsigned long max_len)
{
	struct hplace_range *prev = hplace_rtree_first(t), *cur;

	while (prev && (cur = hplace_rtree_next(prev))) {
		u64 prev_pages = hplace_range_pages(prev);
		u64 cur_pages = hplace_range_pages(cur);

		if (prev->end != cur->start ||
		    (cur->end - prev->start > max_len &&
		     !(hplace_rt_cold(t, prev) && hplace_rt_cold(t, cur))) ||
		    (same_hot && prev->hot != cur->hot) ||
		    (same_fresh && hplace_range_fresh(prev) !=
				   hplace_range_fresh(cur)) ||
		    !hplace_rt_alike(t, prev, cur, tol)) {
			prev = cur;
			continue;
		}
		prev->end = cur->end;
		if (hplace_range_fresh(prev) != hplace_range_fresh(cur))
			prev->age = max(prev->age, cur->age);
		else
			prev->age = div64_u64(prev->age * prev_pages +
					      cur->age * cur_pages,
					      prev_pages + cur_pages);
		prev->count = hplace_rt_add(prev->count, cur->count);
		prev->long_count = hplace_rt_add(prev->long_count,
						 cur->long_count);
		prev->hot = prev->hot || cur->hot;
		memset(prev->sub, 0, sizeof(prev->sub));
		hplace_rt_erase(t, cur);
		t->stats.merges++;
	}
}

/*
 * Past the crowded line: merge harder so splits find room again.  Pool
 * pressure only makes trees holding at least their fair share merge.
 */
static bool hplace_rt_crowded(const struct hplace_rtree *t)
{
	const struct hplace_rtree_pool *pool = t->pool;
	unsigned long share = pool->max_ranges / max(pool->nr_trees, 1U);

	if (t->nr_ranges > t->p.max_ranges - t->p.max_ranges / HPLACE_RT_CROWDED)
		return true;
	return pool->nr_ranges >
	       pool->max_ranges - pool->max_ranges / HPLACE_RT_CROWDED &&
	       t->nr_ranges >= share;
}

/**
 * hplace_rtree_epoch() - end an aggregation epoch
 * @t: the tree
 * @decay: decay the counts this epoch
 *
 * Splits sampled ranges longer than the tree keeps into equal pieces
 * (in the room left below crowding) and uneven ones where their counts
 * jump, ages every range by one epoch, decays all counts (if @decay),
 * merges alike neighbours of the same hot state and freshness (harder
 * while crowded) up to the longest range kept -- past it only cold ones;
 * when still crowded at full tolerance, fresh with old, and then any as a
 * last resort.
 * O(n) in the number of ranges plus O(log n) per split piece.
 */
void hplace_rtree_epoch(struct hplace_rtree *t, bool decay)
{
	unsigned long max_len = hplace_rt_max_len(t), room;
	struct hplace_range *r, *next;
	unsigned int tol, i;

	for (r = hplace_rtree_first(t); r; r = next) {
		/* Pieces go after r: taking next first skips them. */
		next = hplace_rtree_next(r);
		if (r->count < t->p.split_min_count)
			continue;
		/* Crowded, a cut would only be merged back: split by counts. */
		room = hplace_rt_room_below(t, HPLACE_RT_CROWDED);
		if (r->end - r->start > max_len && room)
			hplace_rt_split_long(t, r, max_len, room);
		else if (hplace_range_pages(r) >= 2 * t->p.min_pages)
			hplace_rt_split(t, r);
	}

	hplace_rtree_for_each(t, r) {
		if (r->age < U16_MAX)
			r->age++;
		if (!decay)
			continue;
		r->count = hplace_rt_decay(t, r->count);
		r->long_count = hplace_rt_long_decay(t, r);
		for (i = 0; i < HPLACE_RT_NR_SUB; i++)
			r->sub[i] = hplace_rt_decay(t, r->sub[i]);
	}

	tol = t->p.merge_permille;
	hplace_rt_merge_pass(t, tol, true, true, max_len);
	while (hplace_rt_crowded(t) && tol < 1000) {
		tol = min(max(2 * tol, 1U), 1000U);
		hplace_rt_merge_pass(t, tol, true, true, max_len);
	}
	if (hplace_rt_crowded(t))
		hplace_rt_merge_pass(t, 1000, true, false, max_len);
	if (hplace_rt_crowded(t))
		hplace_rt_merge_pass(t, 1000, false, false, ~0UL);
	t->last = NULL;
}

/**
 * hplace_rtree_destroy() - free all ranges and leave the pool
 * @t: the tree; call hplace_rtree_init() again before reusing it
 */
void hplace_rtree_destroy(struct hplace_rtree *t)
{
	struct hplace_range *r, *n;

	rbtree_postorder_for_each_entry_safe(r, n, &t->root, node)
		kfree(r);
	t->pool->nr_ranges -= t->nr_ranges;
	if (!WARN_ON_ONCE(!t->pool->nr_trees))
		t->pool->nr_trees--;
	t->nr_ranges = 0;
	t->root = RB_ROOT;
	t->last = NULL;
}

/**
 * hplace_rtree_export() - describe the ranges for hplace_classify()
 * @t: the tree
 * @items: filled with one item per range, in address order
 * @max: room in @items
 *
 * Items point back to their range (@priv) and carry its density, size
 * and current hot state.  The tree must not change until
 * hplace_rtree_import() ran on the items.
 *
 * Return: the number of items filled.
 */
unsigned int hplace_rtree_export(struct hplace_rtree *t,
				 struct hplace_class_item *items,
				 unsigned int max)
{
	struct hplace_range *r;
	unsigned int n = 0;

	hplace_rtree_for_each(t, r) {
		if (n == max)
			break;
		items[n].density = hplace_range_density(r);
		items[n].long_density = hplace_range_long_density(r);
		items[n].pages = hplace_range_pages(r);
		items[n].key = r->start;
		items[n].priv = r;
		items[n].was_hot = r->hot;
		items[n].hot = false;
		items[n].score = 0;
		n++;
	}
	return n;
}

/**
 * hplace_rtree_import() - store classification results in the ranges
 * @items: items filled by hplace_rtree_export() and classified
 * @nr: number of items
 */
void hplace_rtree_import(struct hplace_class_item *items, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		((struct hplace_range *)items[i].priv)->hot = items[i].hot;
}
