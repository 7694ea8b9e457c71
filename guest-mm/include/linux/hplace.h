/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace, the guest's tiered-memory placement engine: what other kernel
 * code (the per-node balloon driver) may ask of it.
 */
#ifndef _LINUX_HPLACE_H
#define _LINUX_HPLACE_H

#include <linux/errno.h>
#include <linux/types.h>

#ifdef CONFIG_HPLACE
int hplace_node_demand(int nid, u64 *hot_bytes, u64 *cold_bytes);
#else
static inline int hplace_node_demand(int nid, u64 *hot_bytes, u64 *cold_bytes)
{
	return -ENODEV;
}
#endif

#endif /* _LINUX_HPLACE_H */
