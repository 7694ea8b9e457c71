// SPDX-License-Identifier: GPL-2.0
/*
 * Node free marks.
 *
 * A tiered-memory placement engine keeps some memory of its fast node free
 * (its headroom), well above the node's low watermark, so kswapd's wakeup
 * comes too late to tell it that the headroom is gone.  Instead of polling
 * the node's free pages, it arms a mark: when the node's NR_FREE_PAGES
 * falls below it, the notifier chain here is called once with the node id,
 * and the mark is disarmed until the caller arms it again.
 *
 * The check runs where vmstat folds a CPU's NR_FREE_PAGES delta into the
 * zone's total, i.e. every stat_threshold pages a CPU takes off the free
 * lists, so it costs nothing between folds, and a static key makes it cost
 * nothing at all while no one listens.  A crossing is therefore seen late
 * by at most the per-CPU drift (stat_threshold pages per CPU, tens of KiB
 * on small machines, at most 125 pages per CPU); drift folded by the
 * periodic vmstat refresh is not checked.  Callbacks run from irq_work
 * (hard interrupt context on most architectures): they should only wake a
 * worker.
 */

#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/irq_work.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/node_free_mark.h>
#include <linux/nodemask.h>

DEFINE_STATIC_KEY_FALSE(node_free_mark_key);

static atomic_long_t node_free_marks[MAX_NUMNODES];	/* 0: disarmed */
static nodemask_t node_free_fired;
static ATOMIC_NOTIFIER_HEAD(node_free_mark_chain);
static DEFINE_MUTEX(node_free_mark_lock);
static unsigned int node_free_mark_listeners;

static void node_free_mark_work_fn(struct irq_work *work)
{
	int nid;

	for_each_node_mask(nid, node_free_fired)
		if (test_and_clear_bit(nid, node_free_fired.bits))
			atomic_notifier_call_chain(&node_free_mark_chain, nid,
						   NULL);
}

static DEFINE_IRQ_WORK(node_free_mark_work, node_free_mark_work_fn);

/* vmstat fold path: any context, zone->lock possibly held. */
void __node_free_mark_check(struct zone *zone)
{
	int nid = zone_to_nid(zone);
	long mark = atomic_long_read(&node_free_marks[nid]);

	if (!mark)
		return;
	if (sum_zone_node_page_state(nid, NR_FREE_PAGES) >= mark)
		return;
	/* One notification per arming, however many CPUs see the crossing. */
	if (atomic_long_cmpxchg(&node_free_marks[nid], mark, 0) != mark)
		return;
	set_bit(nid, node_free_fired.bits);
	irq_work_queue(&node_free_mark_work);
}

/**
 * node_free_mark_set - arm (or disarm) a node's free-page mark
 * @nid: the node
 * @pages: notify once the node's free pages fall below this; 0 disarms
 *
 * The mark is one-shot: after a notification it stays disarmed until set
 * again.  Setting a mark the node is already below does not notify until
 * free pages fall further (the caller knows the state it armed in).
 * Any context.
 */
void node_free_mark_set(int nid, unsigned long pages)
{
	if (WARN_ON_ONCE(nid < 0 || nid >= MAX_NUMNODES))
		return;
	atomic_long_set(&node_free_marks[nid], min_t(unsigned long, pages, LONG_MAX));
}
EXPORT_SYMBOL_GPL(node_free_mark_set);

/**
 * register_node_free_mark_notifier - be told when a node falls below its mark
 * @nb: notifier block; its callback gets the node id as the action and
 *	runs from irq_work, so it must not sleep
 *
 * Marks are shared by all listeners.  The check in the page allocator's
 * accounting is enabled while at least one notifier is registered.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int register_node_free_mark_notifier(struct notifier_block *nb)
{
	int ret = atomic_notifier_chain_register(&node_free_mark_chain, nb);

	if (ret)
		return ret;
	mutex_lock(&node_free_mark_lock);
	if (!node_free_mark_listeners++)
		static_branch_enable(&node_free_mark_key);
	mutex_unlock(&node_free_mark_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(register_node_free_mark_notifier);

/**
 * unregister_node_free_mark_notifier - stop being told about free marks
 * @nb: notifier block passed to register_node_free_mark_notifier()
 *
 * When this returns, @nb's callback is not running and will not be called.
 * The last listener to leave disarms every mark.
 *
 * Return: 0 on success, -ENOENT if @nb was not registered.
 */
int unregister_node_free_mark_notifier(struct notifier_block *nb)
{
	int nid, ret = atomic_notifier_chain_unregister(&node_free_mark_chain, nb);

	if (ret)
		return ret;
	mutex_lock(&node_free_mark_lock);
	if (!--node_free_mark_listeners) {
		static_branch_disable(&node_free_mark_key);
		for (nid = 0; nid < MAX_NUMNODES; nid++)
			atomic_long_set(&node_free_marks[nid], 0);
		irq_work_sync(&node_free_mark_work);
	}
	mutex_unlock(&node_free_mark_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(unregister_node_free_mark_notifier);

#ifdef CONFIG_NODE_FREE_MARK_KUNIT_TEST
#include "tests/node-free-mark-kunit.h"
#endif
