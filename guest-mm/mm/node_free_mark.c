// SPDX-License-Identifier: GPL-2.0
/*
 * Node free marks.
 *
 * A tiered-memory placement engine keeps some memory of its fast node free
 * (its headroom), well above the node's low watermark, so kswapd's wakeup
 * comes too late to tell it that the headroom is gone.  Instead of polling
 * the node's free pages, it registers a set of marks, one per node, and
 * arms the ones it cares about: when a node's NR_FREE_PAGES falls below
 * its mark, the listener is notified once with the node id, and the mark
 * is disarmed until the listener arms it again.  Each listener has its
 * own marks, so listeners do not disturb each other.
 *
 * The check runs where vmstat folds a CPU's NR_FREE_PAGES delta into the
 * zone's total, i.e. every stat_threshold pages a CPU takes off the free
 * lists, so it costs nothing between folds, and a static key makes it cost
 * nothing at all while no one listens.  A crossing is therefore seen late
 * by at most the per-CPU drift (stat_threshold pages per CPU, tens of KiB
 * on small machines, at most 125 pages per CPU); drift folded by the
 * periodic vmstat refresh is not checked.  The fold can run with
 * zone->lock held, so listeners are notified through irq_work.
 */

#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/node_free_mark.h>
#include <linux/rculist.h>

DEFINE_STATIC_KEY_FALSE(node_free_mark_key);

static LIST_HEAD(node_free_listeners);
static DEFINE_MUTEX(node_free_listeners_lock);	/* list updates */

/* vmstat fold path: any context, zone->lock possibly held. */
void __node_free_mark_check(struct zone *zone)
{
	int nid = zone_to_nid(zone);
	struct node_free_marks *m;
	long mark, free = -1;

	rcu_read_lock();
	list_for_each_entry_rcu(m, &node_free_listeners, list) {
		mark = atomic_long_read(&m->marks[nid]);
		if (!mark)
			continue;
		if (free < 0)
			free = sum_zone_node_page_state(nid, NR_FREE_PAGES);
		/* One notification per arming, however many CPUs see it. */
		if (free >= mark ||
		    atomic_long_cmpxchg(&m->marks[nid], mark, 0) != mark)
			continue;
		set_bit(nid, m->fired.bits);
		irq_work_queue(&m->work);
	}
	rcu_read_unlock();
}

static void node_free_marks_work_fn(struct irq_work *work)
{
	struct node_free_marks *m = container_of(work, struct node_free_marks,
						 work);
	int nid;

	for_each_node_mask(nid, m->fired)
		if (test_and_clear_bit(nid, m->fired.bits))
			m->notify(m, nid);
}

/**
 * node_free_mark_set - arm (or disarm) one node's mark of a listener
 * @m: the listener's marks, registered
 * @nid: the node
 * @pages: notify once the node's free pages fall below this; 0 disarms
 *
 * A mark is one-shot: after a notification it stays disarmed until set
 * again.  Setting a mark the node is already below does not notify until
 * free pages fall further (the caller knows the state it armed in).
 * Any context.
 */
void node_free_mark_set(struct node_free_marks *m, int nid,
			unsigned long pages)
{
	if (WARN_ON_ONCE(nid < 0 || nid >= MAX_NUMNODES))
		return;
	atomic_long_set(&m->marks[nid], min_t(unsigned long, pages, LONG_MAX));
}
EXPORT_SYMBOL_GPL(node_free_mark_set);

/**
 * register_node_free_marks - start listening, every mark disarmed
 * @m: the listener's marks, with @m->notify set; the rest is initialised
 *	here
 *
 * The check in the page allocator's accounting is enabled while at least
 * one listener is registered.  Process context.
 */
void register_node_free_marks(struct node_free_marks *m)
{
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++)
		atomic_long_set(&m->marks[nid], 0);
	nodes_clear(m->fired);
	init_irq_work(&m->work, node_free_marks_work_fn);
	mutex_lock(&node_free_listeners_lock);
	list_add_tail_rcu(&m->list, &node_free_listeners);
	mutex_unlock(&node_free_listeners_lock);
	static_branch_inc(&node_free_mark_key);
}
EXPORT_SYMBOL_GPL(register_node_free_marks);

/**
 * unregister_node_free_marks - stop listening
 * @m: marks passed to register_node_free_marks()
 *
 * When this returns, @m->notify is not running and will not be called, and
 * @m may be freed.  Process context; sleeps.
 */
void unregister_node_free_marks(struct node_free_marks *m)
{
	mutex_lock(&node_free_listeners_lock);
	list_del_rcu(&m->list);
	mutex_unlock(&node_free_listeners_lock);
	static_branch_dec(&node_free_mark_key);
	synchronize_rcu();
	irq_work_sync(&m->work);
}
EXPORT_SYMBOL_GPL(unregister_node_free_marks);

#ifdef CONFIG_NODE_FREE_MARK_KUNIT_TEST
#include "tests/node-free-mark-kunit.h"
#endif
