/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace budget controller: keep the engine's detection cost (sampling,
 * including interrupt-handler time, plus classification) at or below
 * cpu_budget_permille of one CPU by steering one knob: the PEBS sample
 * period or the accessed-bit scan rate.
 *
 * Pure arithmetic over an injected clock: the caller measures and passes
 * time, the controller never reads a clock, so it is unit-tested in
 * userspace with simulated load.  Not locked: one caller (the engine
 * thread) at a time.
 *
 * Control law, per tick of at least @min_interval_ns:
 *
 *	ratio = cost / (elapsed * permille / 1000)
 *
 *  - ratio > 1 (over budget): scale the cost-proportional knob by
 *    HPLACE_BUDGET_SETPOINT / ratio at once (gain 1, at most /16), so a
 *    step up in cost is corrected within one tick;
 *  - HPLACE_BUDGET_LOW <= ratio <= 1: hold (dead band; no chatter);
 *  - ratio < HPLACE_BUDGET_LOW: raise by sqrt(SETPOINT / ratio) (gain 1/2,
 *    at most x2): approaches the budget geometrically from below without
 *    overshoot.  In rate mode the knob is only raised when the last tick
 *    actually used most of the allowed rate: the budget is a ceiling, not
 *    a target, and an idle engine must not wind the rate up.
 *
 * In rate mode a slow scan works in batches that can be further apart than
 * @min_interval_ns.  A window without work that is still within budget is
 * then merged into the next one (for at most HPLACE_BUDGET_MAX_DEFER
 * intervals), so each decision sees a whole scan period: judged alone,
 * such windows would show only fixed costs and hold the rate, and the
 * engine would spend half its budget.
 *
 * In period mode the cost also depends on how many events occur, which the
 * controller cannot see while the workload idles: it remembers the most
 * expensive load recently seen (cost ratio times period, decaying by 1/64
 * per update) and does not lower the period below what that load would
 * need, so a burst after an idle phase does not meet a tiny period.
 *
 * When the knob is already at its cheapest end and the cost is still
 * above HPLACE_BUDGET_THROTTLE, the controller throttles: it counts the
 * event and asks the caller to pause detection (sampling and
 * classification) for @pause_ns, which brings the average back to the
 * setpoint.
 */
#ifndef _MM_HPLACE_BUDGET_H
#define _MM_HPLACE_BUDGET_H

#include "hplace_internal.h"

/* Fixed point with 16 fractional bits. */
#define HPLACE_BUDGET_ONE	BIT(16)
/* Aim a little below the ceiling so noise does not cross it. */
#define HPLACE_BUDGET_SETPOINT	(HPLACE_BUDGET_ONE * 92 / 100)
/* Below this share of the budget, the knob is raised. */
#define HPLACE_BUDGET_LOW	(HPLACE_BUDGET_ONE * 85 / 100)
/* Above this share at the cheapest knob setting, throttle. */
#define HPLACE_BUDGET_THROTTLE	HPLACE_BUDGET_ONE
/* Rate mode: longest wait, in update intervals, for a window with work. */
#define HPLACE_BUDGET_MAX_DEFER	8

/**
 * enum hplace_budget_mode - how the knob relates to cost
 * @HPLACE_BUDGET_RATE: cost grows with the knob (accessed-bit pages/s)
 * @HPLACE_BUDGET_PERIOD: cost shrinks as the knob grows (PEBS period)
 */
enum hplace_budget_mode {
	HPLACE_BUDGET_RATE,
	HPLACE_BUDGET_PERIOD,
};

/**
 * struct hplace_budget_params - controller configuration
 * @permille: budget in permille of one CPU, 1..1000
 * @mode: enum hplace_budget_mode
 * @min: smallest knob value (>= 1)
 * @max: largest knob value (>= @min)
 * @initial: knob value to start from (clamped to [@min, @max])
 * @min_interval_ns: shorter ticks are accumulated into the next one;
 *	0 means 100 ms
 */
struct hplace_budget_params {
	unsigned int permille;
	enum hplace_budget_mode mode;
	u64 min;
	u64 max;
	u64 initial;
	u64 min_interval_ns;
};

/**
 * struct hplace_budget - controller state (read fields, do not write them)
 * @p: configuration
 * @knob: current output: sample period (PERIOD) or scan rate (RATE)
 * @last_ns: time of the last update
 * @acc_cost_ns: cost accumulated since @last_ns
 * @acc_work: work units accumulated since @last_ns
 * @last_ratio: cost/budget of the last update, HPLACE_BUDGET_ONE = budget
 * @usage_ppm: smoothed measured usage in millionths of one CPU
 * @pause_ns: while throttled, how long the caller should pause detection
 * @pause_end_ns: when the last throttle pause ends
 * @throttled: the last update throttled
 * @throttles: number of updates that throttled
 * @updates: number of updates
 * @dir_changes: number of times the knob changed direction
 * @last_dir: direction of the last knob change (-1, 0, 1; cost-wise)
 * @peak_norm: period mode: decaying peak of cost ratio times period
 * @total_cost_ns: cost over the controller's lifetime
 * @total_ns: time over the controller's lifetime
 */
struct hplace_budget {
	struct hplace_budget_params p;
	u64 knob;
	u64 last_ns;
	u64 acc_cost_ns;
	u64 acc_work;
	u32 last_ratio;
	u64 usage_ppm;
	u64 pause_ns;
	u64 pause_end_ns;
	bool throttled;
	unsigned long throttles;
	unsigned long updates;
	unsigned long dir_changes;
	int last_dir;
	u64 peak_norm;
	u64 total_cost_ns;
	u64 total_ns;
};

int hplace_budget_init(struct hplace_budget *b,
		       const struct hplace_budget_params *p, u64 now_ns);
int hplace_budget_set_permille(struct hplace_budget *b, unsigned int permille);
bool hplace_budget_tick(struct hplace_budget *b, u64 now_ns, u64 cost_ns,
			u64 work);

/**
 * hplace_budget_knob() - the sample period or scan rate to use now
 * @b: the controller
 *
 * Return: the knob value, within [min, max] of the parameters.
 */
static inline u64 hplace_budget_knob(const struct hplace_budget *b)
{
	return b->knob;
}

/**
 * hplace_budget_usage_permille() - smoothed measured cost, for stats/
 * @b: the controller
 *
 * Return: detection cost in permille of one CPU, rounded.
 */
static inline unsigned int hplace_budget_usage_permille(const struct hplace_budget *b)
{
	return (unsigned int)div_u64(b->usage_ppm + 500, 1000);
}

#endif /* _MM_HPLACE_BUDGET_H */
