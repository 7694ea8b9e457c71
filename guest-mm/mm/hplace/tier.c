// SPDX-License-Identifier: GPL-2.0
/*
 * hplace tiers: which nodes are fast and which slow (the kernel's memory
 * tiers, or the sysfs node lists), how much of the fast tier is free and
 * how much must stay free (the headroom, and what a pending hballoon
 * shrink of a fast node still has to take), and the free marks that wake
 * the migration thread when a fast node falls below its share.
 *
 * Mechanism and accounting only: placement.c decides what to move.
 */

#define pr_fmt(fmt) "hplace: " fmt

#include <linux/mm.h>
#include <linux/memory-tiers.h>
#include <linux/node_resize.h>
#include <linux/node_free_mark.h>
#include <linux/vmstat.h>
#include "engine.h"
#include "tier.h"

/* Fast and slow nodes as the kernel's memory tiers see them. */
static void hplace_tier_nodes(nodemask_t *fast, nodemask_t *slow)
{
	int nid;

	nodes_clear(*fast);
	nodes_clear(*slow);
	for_each_node_state(nid, N_MEMORY) {
		if (node_is_toptier(nid))
			node_set(nid, *fast);
		else
			node_set(nid, *slow);
	}
}

/*
 * Fill in the automatic sets: both automatic follow the memory tiers; one
 * automatic is every other node with memory.
 */
static void hplace_derive_nodes(bool fast_auto, bool slow_auto,
				nodemask_t *fast, nodemask_t *slow)
{
	if (fast_auto && slow_auto)
		hplace_tier_nodes(fast, slow);
	else if (fast_auto)
		nodes_andnot(*fast, node_states[N_MEMORY], *slow);
	else if (slow_auto)
		nodes_andnot(*slow, node_states[N_MEMORY], *fast);
}

/* Recompute the automatic sets; caller holds hplace.lock. */
void hplace_refresh_nodes(void)
{
	struct hplace_place *pl = &hplace.place;

	hplace_derive_nodes(pl->fast_auto, pl->slow_auto, &pl->fast, &pl->slow);
}

/**
 * hplace_set_nodes() - set fast_nodes or slow_nodes (sysfs)
 * @fast: the fast set (else the slow one)
 * @buf: a node list ("0", "0-1,3") or "auto"
 *
 * A set must be non-empty, name only nodes with memory, and not overlap
 * the other set.  The other set, if automatic, becomes every other node
 * with memory.
 *
 * Return: 0 or -EINVAL (nothing changed).
 */
int hplace_set_nodes(bool fast, const char *buf)
{
	struct hplace_place *pl = &hplace.place;
	nodemask_t mask, nfast, nslow;
	bool fast_auto, slow_auto;
	int ret = 0;

	mutex_lock(&hplace.lock);
	fast_auto = pl->fast_auto;
	slow_auto = pl->slow_auto;
	nfast = pl->fast;
	nslow = pl->slow;
	if (sysfs_streq(buf, "auto")) {
		if (fast)
			fast_auto = true;
		else
			slow_auto = true;
	} else if (nodelist_parse(buf, mask) || nodes_empty(mask) ||
		   !nodes_subset(mask, node_states[N_MEMORY])) {
		ret = -EINVAL;
		goto unlock;
	} else if (fast) {
		nfast = mask;
		fast_auto = false;
	} else {
		nslow = mask;
		slow_auto = false;
	}
	hplace_derive_nodes(fast_auto, slow_auto, &nfast, &nslow);
	/* Both tiers must have a node, and no node can be in both. */
	if (!(fast_auto && slow_auto) &&
	    (nodes_empty(nfast) || nodes_empty(nslow) ||
	     nodes_intersects(nfast, nslow))) {
		ret = -EINVAL;
		goto unlock;
	}
	pl->fast_auto = fast_auto;
	pl->slow_auto = slow_auto;
	pl->fast = nfast;
	pl->slow = nslow;
unlock:
	mutex_unlock(&hplace.lock);
	if (!ret)
		hplace_place_kick();
	return ret;
}

/*
 * The shrink target placement keeps room for (0: none), after a resize
 * event of a node: a pending size below the node's size now (@old) is a
 * shrink to make room for; a pending size at or above it is a grow or a
 * shrink the host withdrew, and drops the target; so does a resize that
 * reached it.  Otherwise placement would go on demoting to hold free
 * memory that nobody will take.
 */
unsigned long hplace_next_target(unsigned long target, unsigned long action,
				 unsigned long old, unsigned long new)
{
	if (action == NODE_RESIZE_PENDING)
		return new < old ? new : 0;
	if (action == NODE_RESIZED && target && new <= target)
		return 0;
	return target;
}

/**
 * hplace_place_resize() - note an hballoon resize (notifier context)
 * @nid: the node
 * @action: NODE_RESIZE_PENDING or NODE_RESIZED
 * @old: the node's usable pages before the event
 * @new: the size the node is to reach (pending) or has reached
 */
void hplace_place_resize(int nid, unsigned long action, unsigned long old,
			 unsigned long new)
{
	unsigned long *target;

	if (nid < 0 || nid >= MAX_NUMNODES)
		return;
	target = &hplace.place.target_pages[nid];
	WRITE_ONCE(*target, hplace_next_target(READ_ONCE(*target), action,
					       old, new));
	set_bit(0, &hplace.place.resized);
	hplace_place_kick();
}

unsigned long hplace_node_managed(int nid)
{
	unsigned long pages = 0;
	int z;

	for (z = 0; z < MAX_NR_ZONES; z++)
		pages += zone_managed_pages(&NODE_DATA(nid)->node_zones[z]);
	return pages;
}

/* Pages of @nid that must stay free: its headroom and a pending shrink. */
static unsigned long hplace_node_keep(int nid, unsigned int headroom)
{
	unsigned long managed = hplace_node_managed(nid);
	unsigned long target = READ_ONCE(hplace.place.target_pages[nid]);
	unsigned long keep = div_u64((u64)managed * headroom, 1000);

	if (target && target < managed)
		keep += managed - target;
	return keep;
}

/*
 * Free pages of the fast tier, and how many must stay free: the headroom
 * plus what a pending hballoon shrink of a fast node still has to take.
 */
void hplace_fast_room(const nodemask_t *fast, unsigned int headroom, u64 *free,
		      u64 *keep, u64 *anon)
{
	int nid;

	*free = *keep = *anon = 0;
	for_each_node_mask(nid, *fast) {
		if (!node_state(nid, N_MEMORY))
			continue;
		*free += sum_zone_node_page_state(nid, NR_FREE_PAGES);
		*anon += node_page_state(NODE_DATA(nid), NR_ANON_MAPPED);
		*keep += hplace_node_keep(nid, headroom);
	}
}

/**
 * hplace_place_resize_hold() - pages kept free for pending shrinks
 *
 * What the fast nodes must still give up to reach the sizes hballoon
 * resizes asked for, for stats/.
 *
 * Return: pages.
 */
u64 hplace_place_resize_hold(void)
{
	u64 hold = 0;
	int nid;

	for_each_node_mask(nid, hplace.place.fast) {
		unsigned long target = READ_ONCE(hplace.place.target_pages[nid]);
		unsigned long managed;

		if (!target || !node_state(nid, N_MEMORY))
			continue;
		managed = hplace_node_managed(nid);
		if (target < managed)
			hold += managed - target;
	}
	return hold;
}

static void hplace_free_mark_notify(struct node_free_marks *m, int nid)
{
	hplace.place.stats.free_marks++;
	hplace_place_kick();
}

static struct node_free_marks hplace_free_marks = {
	.notify = hplace_free_mark_notify,
};

/*
 * Arm each fast node's free mark at its share of what must stay free, so
 * that falling below it wakes the migration thread.  A node already below
 * stays disarmed: the pass that could not fix that is retried on the
 * timer, not on every page allocated.  Other nodes are disarmed.
 */
void hplace_arm_free_marks(void)
{
	struct hplace_place *pl = &hplace.place;
	bool on = READ_ONCE(hplace.enabled);
	int nid;

	mutex_lock(&hplace.lock);
	for_each_node_state(nid, N_MEMORY) {
		unsigned long keep = 0;

		if (on && node_isset(nid, pl->fast)) {
			keep = hplace_node_keep(nid, pl->headroom_permille);
			if (sum_zone_node_page_state(nid, NR_FREE_PAGES) < keep)
				keep = 0;
		}
		node_free_mark_set(&hplace_free_marks, nid, keep);
	}
	mutex_unlock(&hplace.lock);
}

/**
 * hplace_place_capacity() - fast-tier pages hot ranges may fill
 *
 * The fast tier's free and anonymous pages (what placement can hand to
 * hot ranges, by promotion or by demoting other anonymous pages) minus the
 * pages that must stay free and the room gap promotion leaves above them:
 * a capacity that counted the gap called hot an old hot set that only the
 * gap could hold, beside a new one.  It still counts anonymous pages
 * placement cannot move (untracked processes', mlocked, pinned or bound
 * ones), which is why exchange may take the least dense hot ranges'
 * fast pages (placement.c).  Follows hballoon resizes.  Caller holds
 * hplace.lock.
 *
 * Return: pages.
 */
u64 hplace_place_capacity(void)
{
	u64 free, keep, anon;

	hplace_refresh_nodes();
	hplace_fast_room(&hplace.place.fast, hplace.place.headroom_permille,
			 &free, &keep, &anon);
	keep += READ_ONCE(hplace.place.room_gap_pages);
	return free + anon > keep ? free + anon - keep : 0;
}

/**
 * hplace_tier_init() - take the tier sets and watch the fast nodes
 */
void hplace_tier_init(void)
{
	hplace_refresh_nodes();
	register_node_free_marks(&hplace_free_marks);
}

/**
 * hplace_tier_exit() - stop watching the fast nodes
 */
void hplace_tier_exit(void)
{
	unregister_node_free_marks(&hplace_free_marks);
}
