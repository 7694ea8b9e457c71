/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Node free marks: be told when a NUMA node's free pages fall below a mark.
 * See mm/node_free_mark.c.
 */
#ifndef _LINUX_NODE_FREE_MARK_H
#define _LINUX_NODE_FREE_MARK_H

#include <linux/jump_label.h>
#include <linux/mmzone.h>
#include <linux/notifier.h>

#ifdef CONFIG_NUMA
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

int register_node_free_mark_notifier(struct notifier_block *nb);
int unregister_node_free_mark_notifier(struct notifier_block *nb);
void node_free_mark_set(int nid, unsigned long pages);
#else
static inline void node_free_mark_check(struct zone *zone,
					enum zone_stat_item item, long delta)
{
}
#endif

#endif /* _LINUX_NODE_FREE_MARK_H */
