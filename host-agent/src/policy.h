/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.h - how hballoond shares a host's fast memory among VMs
 *
 * Pure: no I/O, no allocation, no clock.  One call decides one round from
 * what the VMs report now; the caller applies the targets and calls again
 * next round with the new sizes.
 *
 * The allocation, in bytes, in multiples of the granule:
 *   1. every VM gets its minimum;
 *   2. the rest of the budget goes to VMs whose demand (clamped to
 *      [min, max]) exceeds what they were given, in shares proportional to
 *      weight x unmet demand, none beyond its demand; what a VM cannot use
 *      is shared again among the others (water-filling);
 *   3. budget left over is not handed out, but a VM that holds more than
 *      its allocation keeps it (up to its maximum) while the budget allows,
 *      weight-proportionally when it does not;
 *   4. a change smaller than the hysteresis is not made (unless the budget
 *      or a minimum needs it);
 *   5. moves: shrinks first; growth only into budget that the VMs' actual
 *      sizes leave free now (what another VM gives back this round is
 *      spent next round), VMs below their minimum first, then the most
 *      underserved by weight x shortfall; the fast targets change by at
 *      most max_move in total per round (restoring a minimum aside);
 *   6. keep_total: a VM's slow node is sized to keep its total (fast +
 *      slow) at @total; a fast node shrinks only once its slow node has
 *      grown that far, unless the VM is above its maximum or the VMs hold
 *      more than the budget; a slow node shrinks only once its fast node
 *      has grown.
 *
 * The guest is not trusted: its demand only ever decides within its own
 * [min, max] and its weight share; a minimum is never taken from a VM.
 */
#ifndef HBALLOOND_POLICY_H
#define HBALLOOND_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * struct policy_params - the host's side
 * @budget:     fast memory all VMs' fast nodes may hold together, bytes
 * @granule:    allocation unit, bytes (a power of two is not required)
 * @hysteresis: a target within this of the current size is not changed
 * @max_move:   most bytes the fast targets may change by in one round
 * @keep_total: size slow nodes to keep each VM's total (see policy.h)
 */
struct policy_params {
	uint64_t budget;
	uint64_t granule;
	uint64_t hysteresis;
	uint64_t max_move;
	bool keep_total;
};

/**
 * struct policy_vm - one VM as the round sees it
 * @min, @max:   fast-node size limits from the configuration
 * @weight:      1..1000
 * @fast_ram, @slow_ram: the most each node can be (its RAM)
 * @fast_actual, @slow_actual: the nodes' sizes now
 * @hot_demand:  fast memory the guest says it wants (untrusted, any value)
 * @total:       with keep_total: the fast + slow size to keep (0: the
 *               current total)
 * @valid:       it answered this round and reported its demand; if not,
 *               it keeps its size (at least its minimum) and is not moved
 */
struct policy_vm {
	uint64_t min, max;
	unsigned int weight;
	uint64_t fast_ram, slow_ram;
	uint64_t fast_actual, slow_actual;
	uint64_t hot_demand;
	uint64_t total;
	bool valid;
};

/* Why a VM's fast target is what it is (status socket, logs). */
enum policy_reason {
	POLICY_MIN,		/* its minimum: it wants no more */
	POLICY_DEMAND,		/* its demand, met */
	POLICY_MAX,		/* its maximum: it wants more */
	POLICY_SHARE,		/* its share: the budget cannot meet its demand */
	POLICY_KEEP,		/* keeps what it holds beyond its demand */
	POLICY_HYSTERESIS,	/* the change would be too small */
	POLICY_CAPPED,		/* on its way: this round's moves are used up */
	POLICY_WAIT_SLOW,	/* shrinks once its slow node has grown */
	POLICY_NO_WORD,		/* did not answer: keeps its size */
	POLICY_NR_REASONS,
};

/**
 * struct policy_target - what one round decided for one VM
 * @fast_target: size to ask of the fast node
 * @slow_target: size to ask of the slow node
 * @alloc:       the fast size the VM is meant to reach (after the moves
 *               of this and later rounds)
 * @reason:      why @fast_target
 */
struct policy_target {
	uint64_t fast_target;
	uint64_t slow_target;
	uint64_t alloc;
	enum policy_reason reason;
};

/* Most VMs one round takes (more are a configuration error). */
#define POLICY_MAX_VMS	1024

/**
 * policy_round() - decide one round
 * @p:   the host's parameters
 * @vms: @n VMs (@n <= POLICY_MAX_VMS)
 * @out: @n targets, filled in
 *
 * Invariants, whatever the VMs report: every fast target is within
 * [min(min, fast_ram), min(max, fast_ram)] unless the VM did not answer
 * (then it is its current size, raised to its minimum); the sum of the
 * allocations is at most the budget when the minimums fit in it; no
 * round grows the fast nodes beyond what their actual sizes leave of the
 * budget.
 */
void policy_round(const struct policy_params *p, const struct policy_vm *vms,
		  size_t n, struct policy_target *out);

/* "min", "demand", ... for @r. */
const char *policy_reason_name(enum policy_reason r);

#endif /* HBALLOOND_POLICY_H */
