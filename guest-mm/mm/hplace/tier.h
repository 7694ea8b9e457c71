/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace tiers: the fast and slow node sets, the fast tier's room and the
 * free marks (tier.c).  Kernel only.
 */
#ifndef _MM_HPLACE_TIER_H
#define _MM_HPLACE_TIER_H

#include <linux/nodemask.h>
#include <linux/types.h>

void hplace_tier_init(void);
void hplace_tier_exit(void);
void hplace_refresh_nodes(void);
int hplace_set_nodes(bool fast, const char *buf);

void hplace_place_resize(int nid, unsigned long action, unsigned long old,
			 unsigned long new);
unsigned long hplace_next_target(unsigned long target, unsigned long action,
				 unsigned long old, unsigned long new);
u64 hplace_place_resize_hold(void);

unsigned long hplace_node_managed(int nid);
void hplace_fast_room(const nodemask_t *fast, unsigned int headroom, u64 *free,
		      u64 *keep, u64 *anon);
u64 hplace_place_capacity(void);
void hplace_arm_free_marks(void);

#endif /* _MM_HPLACE_TIER_H */
