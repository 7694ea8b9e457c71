/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Node free marks: be told when a NUMA node's free pages fall below a mark.
 * See mm/node_free_mark.c.
 */
#ifndef _LINUX_NODE_FREE_MARK_H
#define _LINUX_NODE_FREE_MARK_H

#include <linux/irq_work.h>
#include <linux/jump_label.h>
#include <linux/list.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>

#ifdef CONFIG_NUMA
/**
 * struct node_free_marks - one listener's marks, one per node
 * @notify: called once per arming when a node's free pages fall below the
 *	mark, from irq_work (hard interrupt context on most architectures):
 *	it must not sleep, and should only wake a worker
 * @marks: private: per node, free pages to stay above; 0 is disarmed
 * @fired: private: nodes whose notification is pending
 * @work: private: runs @notify
 * @list: private: on the list of listeners
 */
struct node_free_marks {
	void (*notify)(struct node_free_marks *m, int nid);
	atomic_long_t marks[MAX_NUMNODES];
	nodemask_t fired;
	struct irq_work work;
	struct list_head list;
};

DECLARE_STATIC_KEY_FALSE(node_free_mark_key);

void __node_free_mark_check(struct zone *zone);

/*
 * Called by vmstat when a zone counter is folded into the zone's total,
 * which for NR_FREE_PAGES happens every stat_threshold pages per CPU.
 */
static inline void node_free_mark_check(struct zone *zone,
					enum zone_stat_item item, long delta)
{
	if (static_branch_unlikely(&node_free_mark_key) &&
	    item == NR_FREE_PAGES && delta < 0)
		__node_free_mark_check(zone);
}

void register_node_free_marks(struct node_free_marks *m);
void unregister_node_free_marks(struct node_free_marks *m);
void node_free_mark_set(struct node_free_marks *m, int nid,
			unsigned long pages);
#else
static inline void node_free_mark_check(struct zone *zone,
					enum zone_stat_item item, long delta)
{
}
#endif

#endif /* _LINUX_NODE_FREE_MARK_H */
