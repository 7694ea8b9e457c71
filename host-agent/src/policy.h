/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.h - how hballoond shares a host's fast memory among VMs
 *
 * Pure: no I/O, no allocation, no clock, no static state (reentrant; about
 * 34 KiB of stack).  One call decides one round from what the VMs report
 * now; the caller applies the targets and calls again next round with the
 * new sizes.  All sizes are bytes.
 *
 * Per VM, lo = min(min, hi) and hi = min(max, fast_ram) bound its fast
 * node; its demand is want = hot_demand rounded up to the granule and
 * clamped to [lo, hi].  The allocation (policy_target.alloc):
 *   1. every VM gets lo;
 *   2. the rest of the budget goes to VMs whose want exceeds what they
 *      were given, in shares proportional to weight x (want - lo), none
 *      beyond its want; what a VM cannot use is shared again among the
 *      others (water-filling).  Shares are whole granules; the granules
 *      left over go one each by largest remainder, so every VM still short
 *      of its want is within one granule of its exact proportional share
 *      and no budget is withheld from unmet demand beyond less than one
 *      granule;
 *   3. budget left over is not handed out, but a VM that holds more than
 *      its allocation keeps it (up to hi) while the budget allows,
 *      weight-proportionally (same water-filling) when it does not;
 *   4. hysteresis: a VM whose allocation is less than @hysteresis away
 *      from its current size keeps its current size, unless that is below
 *      lo, above hi, or puts the allocations over the budget (then the
 *      VMs kept above their allocation are moved after all, largest
 *      overshoot first).
 *
 * A VM's size below is its booked size: the larger of fast_actual and
 * fast_asked (a grow under way lands later, whether the VM answers or not).
 *
 * The moves of one round (policy_target.fast_target, slow_target):
 *   5. growth only into budget that the VMs' sizes leave free now
 *      (budget - sum of the sizes): memory another VM gives back this
 *      round is spent next round, so the VMs never hold more than the
 *      budget, even while a shrink is under way.  VMs below their minimum
 *      first, then the most underserved by weight x (alloc - size);
 *   6. then shrinks: VMs above hi first, then the largest excess first;
 *   7. the fast targets of one round ask for at most @max_move of new
 *      movement in total, no exceptions: a growth counts from the size, a
 *      shrink from where the node is headed (a shrink asked for in an
 *      earlier round and not yet done is asked again, not counted again;
 *      with every shrink done that is the sum of |fast_target -
 *      fast_actual|).  Memory already free (5.) has the first claim on it,
 *      so a VM that needs memory is not kept waiting until every shrink has
 *      finished.  A move cut short by the cap is cut to whole granules
 *      (when @max_move is at least one granule);
 *   8. keep_total: a VM's slow node is sized to keep its total (fast +
 *      slow) at @total.  Before its fast node shrinks, its slow target is
 *      raised to keep the total at the fast node's allocation (at most
 *      slow_ram); the fast node shrinks only as far as the slow node's
 *      actual size already keeps the total ("waiting-for-slow"), and never
 *      below what a full slow node keeps ("slow-full"), unless the shrink is
 *      forced: the VM is above its max (all the way to its allocation), or
 *      what the VMs hold plus what the minimums lack exceeds the budget.
 *      Then only that excess, less what the unforced shrinks of the round
 *      newly ask for, is forced, in step 6's order and whole granules
 *      ("total-drops"): a few MiB short of one VM's minimum do not make
 *      every VM drop its total.  A forced shrink does not wait for the slow
 *      node (a guest must not hold fast memory hostage by not letting its
 *      slow node grow).  A shrink under way (fast_asked below fast_actual)
 *      is asked again; what is still asked of it counts as freed up to
 *      @shrink_credit, and it is asked for more only when its credit
 *      covers all of it (a stalled one is never asked deeper: that would
 *      free nothing and use up max_move).  A VM that has not given back
 *      what it was asked for is not forced again, the others are: first
 *      down to their allocations, then, only while a minimum is short
 *      (a stalled shrink, or a VM without word holding more than its
 *      share) and only by what the minimums still lack, down to their
 *      minimums, the largest excess over the minimum first
 *      ("covering"; their slow nodes are raised to keep
 *      their totals, as far as the slow RAM allows); they grow back once
 *      the memory is free.  So a VM that never gives memory back keeps
 *      no minimum short for longer than the moves take, when the others'
 *      minimums and what it holds fit in the budget.
 *      When a fast node has grown (its actual size, not its target), its
 *      slow node gives the same back, down to one page at least.  While
 *      a shrink is on its way the total is higher than @total, never lower
 *      (forced shrinks aside).
 *
 * Invariants, whatever the guests report (hot_demand is the only guest
 * figure the policy reads; hballoond builds it from the guest's hot and
 * kernel memory, and a guest's free memory is otherwise not an input):
 *   - a fast target is never below min(lo, size): a VM is never shrunk
 *     below its minimum, and one below it only grows;
 *   - a fast target is never above max(hi, size): a VM only grows up to
 *     its maximum, and one above it only shrinks (a VM without word keeps
 *     its booked size, which may be above its maximum);
 *   - a guest reporting any demand above its max (2^64 - 1 included) gets
 *     exactly what reporting its max gets, and so does every other VM;
 *   - the allocations add up to at most the budget when the minimums, and
 *     what the VMs without word hold beyond theirs, fit in it;
 *   - the fast targets add up to at most the budget when the sizes do;
 *     when they do not, no VM grows;
 *   - no arithmetic overflows for any input (2^64 - 1 anywhere).
 * Repeated rounds whose actual sizes reach the targets converge to the
 * allocation (to within @hysteresis with hysteresis).
 *
 * Out-of-range inputs that policy_validate() rejects are still handled
 * safely: granule 0 counts as 1, weights are clamped to 1..1000, min above
 * max counts as max, n above POLICY_MAX_VMS leaves the VMs past the limit
 * out of the round (they keep their sizes, reason "no-word", and do not
 * count against the budget).
 */
#ifndef HBALLOOND_POLICY_H
#define HBALLOOND_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most VMs one round takes (more are a configuration error). */
#define POLICY_MAX_VMS		1024
/* Weights are 1..POLICY_MAX_WEIGHT. */
#define POLICY_MAX_WEIGHT	1000
/* Sizes the devices take are multiples of this. */
#define POLICY_PAGE_SIZE	4096ULL

/**
 * struct policy_params - the host's side
 * @budget:     fast memory all VMs' fast nodes may hold together, bytes
 * @granule:    allocation unit, bytes (a multiple of 4 KiB; a power of two
 *              is not required)
 * @hysteresis: an allocation less than this away from a VM's current size
 *              is not acted on (0: every granule counts)
 * @max_move:   most bytes the fast targets may differ from the actual sizes
 *              in one round, summed over all VMs (at least one granule)
 * @keep_total: size slow nodes to keep each VM's total (see above)
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
 * @name:        for policy_validate()'s messages (NULL: "VM #i")
 * @min, @max:   fast-node size limits from the configuration
 * @weight:      1..1000
 * @fast_ram, @slow_ram: the most each node can be (its RAM)
 * @fast_actual, @slow_actual: the nodes' sizes now (from the device)
 * @fast_asked:  the fast node's target on the device, where it is headed
 *               (the caller always knows it; set it to @fast_actual when
 *               nothing is under way).  Below @fast_actual: a shrink under
 *               way; above it: a grow under way, which lands later and
 *               must not be handed out twice, so the VM is counted at this
 *               size
 * @hot_demand:  fast memory the guest says it needs (untrusted, any value;
 *               hballoond passes the peak over its demand-window,
 *               policy_demand_peak(), of hot-memory plus the kernel's
 *               memory on the node, hb_node_kernel_memory())
 * @total:       with keep_total: the fast + slow size to keep (0: the
 *               current total, which is only right for a single round: pass
 *               the total the VM had when first seen)
 * @shrink_credit: of a shrink under way (@fast_asked below @fast_actual),
 *               the bytes the caller expects back soon: a few rounds' worth
 *               of what it gave back since the last round (0: stalled).  Up
 *               to this much of it counts as freed; a guest giving back a
 *               page a round earns a few pages.  A shrink under way is
 *               asked for more only when its credit covers all of it
 * @valid:       it answered this round and reported its demand; if not,
 *               it keeps its size (raised to its minimum when the free
 *               budget allows) and its slow node is left alone;
 *               its size is @fast_asked when that is larger
 */
struct policy_vm {
	const char *name;
	uint64_t min, max;
	unsigned int weight;
	uint64_t fast_ram, slow_ram;
	uint64_t fast_actual, slow_actual;
	uint64_t fast_asked;
	uint64_t hot_demand;
	uint64_t total;
	uint64_t shrink_credit;
	bool valid;
};

/* Why a VM's fast target is what it is (status socket, logs). */
enum policy_reason {
	POLICY_MIN,		/* "min": its minimum; it wants no more */
	POLICY_DEMAND,		/* "demand": its demand, met */
	POLICY_MAX,		/* "max": its maximum; it wants more */
	POLICY_SHARE,		/* "share": its share; the budget cannot meet
				 * its demand */
	POLICY_KEEP,		/* "keep": keeps what it holds beyond its
				 * demand (the budget allows) */
	POLICY_HYSTERESIS,	/* "hysteresis": the change would be too small */
	POLICY_CAPPED,		/* "capped": on its way; this round's max-move
				 * is used up */
	POLICY_WAIT_SLOW,	/* "waiting-for-slow": shrinks once its slow
				 * node has grown (keep-total) */
	POLICY_NO_WORD,		/* "no-word": no demand this round; keeps its
				 * size */
	POLICY_WAIT_ROOM,	/* "waiting-for-room": grows once other VMs
				 * have given memory back */
	POLICY_SLOW_FULL,	/* "slow-full": its slow node is full, so its
				 * fast node shrinks no further (keep-total) */
	POLICY_TOTAL_DROPS,	/* "total-drops": shrinks although its slow
				 * node cannot keep its total (above max, over
				 * budget, or a minimum needs the memory) */
	POLICY_COVERS,		/* "covering": below its allocation for now: a
				 * minimum needs memory that another VM has
				 * not given back */
	POLICY_NR_REASONS,
};

/**
 * struct policy_target - what one round decided for one VM
 * @fast_target: size to ask of the fast node
 * @slow_target: size to ask of the slow node (with keep_total; else its
 *               actual size)
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

/**
 * policy_validate() - check parameters and VMs before using them
 * @p:      the host's parameters
 * @vms:    @n VMs (only the configuration fields are checked: name, min,
 *          max, weight, and fast_ram when it is not 0)
 * @n:      number of VMs
 * @err:    on failure, a one-line message (no trailing newline); may be NULL
 * @errlen: size of @err
 *
 * Rejects: more than POLICY_MAX_VMS VMs; a granule that is 0 or not a
 * multiple of 4 KiB; a budget that is 0 or not a multiple of 4 KiB;
 * max_move below one granule (nothing could ever move); a weight outside
 * 1..1000; min above max; min or max not a multiple of the granule; min
 * above a known fast_ram; minimums that add up to more than the budget.
 * min 0 is allowed, as in hballoond.conf.
 *
 * Return: 0 if valid, -1 (and @err) if not.
 */
int policy_validate(const struct policy_params *p, const struct policy_vm *vms,
		    size_t n, char *err, size_t errlen);

/**
 * policy_round() - decide one round
 * @p:   the host's parameters
 * @vms: @n VMs
 * @out: @n targets, filled in
 *
 * See the top of this file for what it decides and what it guarantees.
 */
void policy_round(const struct policy_params *p, const struct policy_vm *vms,
		  size_t n, struct policy_target *out);

/* Entries one VM's demand window holds at most. */
#define POLICY_DEMAND_REPORTS	64

/**
 * struct policy_demand - a VM's recent demand, oldest entry first
 * @t:   when each entry's first report was read, seconds on a monotonic
 *       clock
 * @v:   the largest report of each entry, bytes
 * @len: entries held
 */
struct policy_demand {
	double t[POLICY_DEMAND_REPORTS];
	uint64_t v[POLICY_DEMAND_REPORTS];
	size_t len;
};

/**
 * policy_demand_peak() - the demand to size a VM by
 * @d:      its recent demand, updated
 * @now:    when this report was read (seconds, same clock as before)
 * @window: seconds of reports to keep (0: this instant's only)
 * @has:    the guest reported a demand this round (if not, @d is left as
 *          it is: its entries age out, a pause or a reboot is not a drop)
 * @bytes:  what it reported
 *
 * A guest's demand is an estimate from sampling and swings with it; sizing
 * on each report takes memory away in every dip and gives it back a few
 * rounds later, demoting and promoting the same hot data. So a VM is sized
 * by the largest report of the last @window seconds: it grows on the first
 * report of more, and shrinks only once every report in the window is
 * lower. Reports within @window / (POLICY_DEMAND_REPORTS - 2) of an
 * entry's time share that entry (the larger value), which goes once its
 * last possible report is @window old: the entries always cover the whole
 * window, and at most 1/62 more.
 *
 * Return: the largest report in the window, this one included; 0 if !@has.
 */
uint64_t policy_demand_peak(struct policy_demand *d, double now, double window,
			    bool has, uint64_t bytes);

/* "min", "demand", ... for @r ("?" for a value out of range). */
const char *policy_reason_name(enum policy_reason r);

#endif /* HBALLOOND_POLICY_H */
