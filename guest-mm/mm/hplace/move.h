/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace moves: the page-table collector and the executors (migration,
 * page exchange), without policy.  placement.c decides what to move and
 * how much; this walks a range for folios on given nodes, isolates or
 * references them, and moves them, counting what it skipped and moved.
 */
#ifndef _MM_HPLACE_MOVE_H
#define _MM_HPLACE_MOVE_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/nodemask.h>
#include <linux/types.h>
#include "placement.h"

struct exchange_pair;

/* Huge pages split per range walk. */
#define HPLACE_SPLIT_MAX	16

/**
 * struct hplace_collect - one collection of folios to move
 * @from: pick folios on these nodes
 * @start: the range walked last (a huge page reaching out of it is split)
 * @end: its end
 * @want: pages wanted
 * @got: pages picked
 * @next: where the last walk stopped
 * @stats: the counters skips, splits and moves are added to
 * @refs_only: for exchange: take references to base pages, do not isolate
 * @task_policy: the process has a task-wide mempolicy
 * @vma_policy: a mempolicy applies to the VMA being walked
 * @list: isolated folios (migration)
 * @folios: referenced folios (exchange), room for EXCHANGE_BATCH_MAX
 * @nr_folios: entries in @folios
 * @density_lo: the caller's: least confident density picked from
 * @density_hi: the caller's: highest density bound picked from
 * @last_large: the large folio last seen (PTE-mapped: seen once)
 * @split: huge pages found partly inside the range, to split
 * @nr_split: entries in @split
 */
struct hplace_collect {
	nodemask_t from;
	unsigned long start;
	unsigned long end;
	unsigned long want;
	unsigned long got;
	unsigned long next;
	struct hplace_place_stats *stats;
	bool refs_only;
	bool task_policy;
	bool vma_policy;
	struct list_head list;
	struct folio **folios;
	unsigned int nr_folios;
	u64 density_lo;
	u64 density_hi;
	struct folio *last_large;
	struct folio *split[HPLACE_SPLIT_MAX];
	unsigned int nr_split;
};

bool hplace_vma_tracked(struct vm_area_struct *vma);
void hplace_collect_init(struct hplace_collect *c,
			 struct hplace_place_stats *stats,
			 const nodemask_t *from, unsigned long want);
bool hplace_collect_done(const struct hplace_collect *c);
void hplace_collect_range(struct hplace_collect *c, struct mm_struct *mm,
			  unsigned long start, unsigned long end,
			  unsigned long from_addr, bool task_policy);
int hplace_roomiest(const nodemask_t *mask);
unsigned long hplace_migrate(struct hplace_collect *c, int nid,
			     enum hplace_move_why why, int src);
u64 hplace_migrate_demote(struct hplace_collect *c, const nodemask_t *fast,
			  int dst, enum hplace_move_why why);
unsigned int hplace_exchange(struct hplace_collect *hot,
			     struct hplace_collect *cold, unsigned int n,
			     struct exchange_pair *pairs);

#endif /* _MM_HPLACE_MOVE_H */
