// SPDX-License-Identifier: GPL-2.0
/*
 * Node resize notifier chain.
 *
 * Memory hotplug has its own notifiers, but a node can also change size
 * without any memory block going on- or offline: a per-node balloon driver
 * takes pages of one node away from the guest (adjusting the node's managed
 * pages) or gives them back. Code that sizes its decisions by a node's
 * capacity, such as a tiered-memory placement engine, needs to learn about
 * that at once. The driver that changes the size calls node_resize_notify();
 * interested code registers a notifier_block on this chain.
 *
 * The chain is a blocking one: callbacks run in process context, may sleep,
 * and are called with no lock of the caller held, so they may allocate and
 * migrate memory. They should only record the event and wake a worker,
 * because the caller is usually in the middle of a resize.
 */

#include <linux/export.h>
#include <linux/node_resize.h>
#include <linux/nodemask.h>
#include <linux/notifier.h>

static BLOCKING_NOTIFIER_HEAD(node_resize_chain);

/**
 * register_node_resize_notifier - be told when a NUMA node changes size
 * @nb: notifier block; its callback gets an &enum node_resize_action and a
 *	&struct node_resize_event that is valid only during the call
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int register_node_resize_notifier(struct notifier_block *nb)
{
	return blocking_notifier_chain_register(&node_resize_chain, nb);
}
EXPORT_SYMBOL_GPL(register_node_resize_notifier);

/**
 * unregister_node_resize_notifier - stop being told about node size changes
 * @nb: notifier block passed to register_node_resize_notifier()
 *
 * When this returns, @nb's callback is not running and will not be called.
 *
 * Return: 0 on success, -ENOENT if @nb was not registered.
 */
int unregister_node_resize_notifier(struct notifier_block *nb)
{
	return blocking_notifier_chain_unregister(&node_resize_chain, nb);
}
EXPORT_SYMBOL_GPL(unregister_node_resize_notifier);

/**
 * node_resize_notify - announce that a NUMA node changes or changed size
 * @action: %NODE_RESIZE_PENDING or %NODE_RESIZED
 * @nid: the node
 * @old_pages: usable (managed) pages of @nid before
 * @new_pages: usable pages of @nid after (or requested, for
 *	%NODE_RESIZE_PENDING)
 *
 * Must be called from process context without locks that a callback could
 * need (callbacks may allocate and migrate memory).
 *
 * Return: 0, or the errno of the first callback that stopped the chain.
 * The resize has happened (or been requested) either way: the value is
 * informational only.
 */
int node_resize_notify(enum node_resize_action action, int nid,
		       unsigned long old_pages, unsigned long new_pages)
{
	struct node_resize_event ev = {
		.nid = nid,
		.old_pages = old_pages,
		.new_pages = new_pages,
	};

	might_sleep();
	if (WARN_ON_ONCE(nid < 0 || nid >= MAX_NUMNODES))
		return -EINVAL;
	return notifier_to_errno(blocking_notifier_call_chain(&node_resize_chain,
							      action, &ev));
}
EXPORT_SYMBOL_GPL(node_resize_notify);
