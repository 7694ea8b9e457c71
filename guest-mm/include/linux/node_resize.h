/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Node resize notifications: a NUMA node's usable memory changed at run time
 * without memory hotplug (for example because a per-node balloon such as
 * virtio-hballoon took pages from it or gave them back).
 */
#ifndef _LINUX_NODE_RESIZE_H
#define _LINUX_NODE_RESIZE_H

#include <linux/notifier.h>

/**
 * enum node_resize_action - what a node resize notification announces
 * @NODE_RESIZE_PENDING: the node has been asked to change size and will
 *	try to: it has @old_pages usable pages now and should end up with
 *	@new_pages. Sent when a request arrives, including one that cancels
 *	an earlier request (then @new_pages may equal @old_pages: the node
 *	is to stay as it is), and again whenever a shrink stalls because the
 *	node has no free memory left to give, so that a placement engine can
 *	make room (e.g. demote cold pages).
 * @NODE_RESIZED: the node's usable memory changed from @old_pages to
 *	@new_pages. Resizes in progress are reported in steps, so several of
 *	these may follow one %NODE_RESIZE_PENDING.
 */
enum node_resize_action {
	NODE_RESIZE_PENDING = 1,
	NODE_RESIZED,
};

/**
 * struct node_resize_event - payload of a node resize notification
 * @nid: the NUMA node (a Linux node id, not a firmware proximity domain)
 * @old_pages: usable pages of @nid before the change, i.e. the sum of the
 *	managed pages of its zones (what nodeN/meminfo shows as MemTotal)
 * @new_pages: usable pages of @nid after the change (for
 *	%NODE_RESIZE_PENDING: the size the node was asked to reach)
 */
struct node_resize_event {
	int nid;
	unsigned long old_pages;
	unsigned long new_pages;
};

#ifdef CONFIG_NUMA
int register_node_resize_notifier(struct notifier_block *nb);
int unregister_node_resize_notifier(struct notifier_block *nb);
int node_resize_notify(enum node_resize_action action, int nid,
		       unsigned long old_pages, unsigned long new_pages);
#else
static inline int register_node_resize_notifier(struct notifier_block *nb)
{
	return 0;
}

static inline int unregister_node_resize_notifier(struct notifier_block *nb)
{
	return 0;
}

static inline int node_resize_notify(enum node_resize_action action, int nid,
				     unsigned long old_pages,
				     unsigned long new_pages)
{
	return 0;
}
#endif /* CONFIG_NUMA */

#endif /* _LINUX_NODE_RESIZE_H */
