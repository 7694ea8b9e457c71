// SPDX-License-Identifier: GPL-2.0
/*
 * hplace budget controller; see budget.h for the control law.
 */

#include "hplace_internal.h"
#include "budget.h"

#define HPLACE_BUDGET_DEF_INTERVAL	(100ULL * 1000 * 1000)
/* Knob values stay small enough that knob << 16 cannot overflow. */
#define HPLACE_BUDGET_KNOB_MAX		BIT_ULL(40)
/* Largest cost/budget ratio considered, so arithmetic stays in range. */
#define HPLACE_BUDGET_RATIO_MAX		(64ULL * HPLACE_BUDGET_ONE)

/**
 * hplace_budget_init() - set up a controller
 * @b: the controller
 * @p: configuration, copied
 * @now_ns: current time
 *
 * Return: 0, or -EINVAL for a budget outside 1..1000 permille, an empty or
 * out-of-range knob range or an unknown mode.
 */
int hplace_budget_init(struct hplace_budget *b,
		       const struct hplace_budget_params *p, u64 now_ns)
{
	if (!p->permille || p->permille > 1000)
		return -EINVAL;
	if (!p->min || p->min > p->max || p->max > HPLACE_BUDGET_KNOB_MAX)
		return -EINVAL;
	if (p->mode != HPLACE_BUDGET_RATE && p->mode != HPLACE_BUDGET_PERIOD)
		return -EINVAL;

	memset(b, 0, sizeof(*b));
	b->p = *p;
	if (b->p.min_interval_ns < NSEC_PER_USEC)
		b->p.min_interval_ns = HPLACE_BUDGET_DEF_INTERVAL;
	b->knob = clamp(p->initial, p->min, p->max);
	b->last_ns = now_ns;
	return 0;
}

/**
 * hplace_budget_set_permille() - change the budget
 * @b: the controller
 * @permille: new budget in permille of one CPU
 *
 * Takes effect at the next update; the knob keeps its value and is steered
 * from there.
 *
 * Return: 0, or -EINVAL (nothing changed) if @permille is not in 1..1000.
 */
int hplace_budget_set_permille(struct hplace_budget *b, unsigned int permille)
{
	if (!permille || permille > 1000)
		return -EINVAL;
	b->p.permille = permille;
	return 0;
}

/* Cost-wise factor (HPLACE_BUDGET_ONE = keep) for a measured ratio. */
static u32 hplace_budget_factor(const struct hplace_budget *b, u64 ratio,
				u64 elapsed_ns, u64 work)
{
	u64 f;

	if (ratio > HPLACE_BUDGET_ONE) {
		/* Over the ceiling: correct fully, now. */
		f = div64_u64((u64)HPLACE_BUDGET_SETPOINT << 16, ratio);
		return max_t(u64, f, HPLACE_BUDGET_ONE / 16);
	}
	if (ratio >= HPLACE_BUDGET_LOW)
		return HPLACE_BUDGET_ONE;

	/*
	 * Under the budget.  In rate mode, a tick that did less than half the
	 * work the rate allowed was not limited by the rate: raising it would
	 * only wind it up for the next burst.
	 */
	if (b->p.mode == HPLACE_BUDGET_RATE &&
	    work < mul_u64_u64_div_u64(b->knob, elapsed_ns, 2 * NSEC_PER_SEC))
		return HPLACE_BUDGET_ONE;
	if (!ratio)
		return 2 * HPLACE_BUDGET_ONE;
	/* Gain 1/2 on the log scale: sqrt(setpoint / ratio). */
	f = int_sqrt64(div64_u64((u64)HPLACE_BUDGET_SETPOINT << 32, ratio));
	return min_t(u64, f, 2 * HPLACE_BUDGET_ONE);
}

/* Apply a cost-wise factor to the knob, always moving by at least one. */
static u64 hplace_budget_apply(const struct hplace_budget *b, u32 f)
{
	u64 k = b->knob, n;

	if (f == HPLACE_BUDGET_ONE)
		return k;
	if (b->p.mode == HPLACE_BUDGET_RATE) {
		n = (k * f) >> 16;
		if (n == k)
			n = f > HPLACE_BUDGET_ONE ? k + 1 : k - 1;
	} else {
		n = div64_u64(k << 16, f);
		if (n == k)
			n = f > HPLACE_BUDGET_ONE ? k - 1 : k + 1;
	}
	return clamp(n, b->p.min, b->p.max);
}

/*
 * A slow scanner works in batches, less often than the controller decides.
 * A decision over a window without a batch would see only the fixed costs
 * and, having no work to judge the rate by, hold the rate: the cost then
 * averages well below the budget.  Such windows are merged into the next
 * one with work, unless they are already over budget or long, or fall in a
 * throttle pause.
 */
static bool hplace_budget_defer(const struct hplace_budget *b, u64 elapsed)
{
	if (b->p.mode != HPLACE_BUDGET_RATE || b->acc_work)
		return false;
	/* A throttle pause is meant to be idle and is judged on its own. */
	if (b->last_ns < b->pause_end_ns)
		return false;
	if (elapsed >= HPLACE_BUDGET_MAX_DEFER * b->p.min_interval_ns)
		return false;
	return b->acc_cost_ns * 1000 <= elapsed * b->p.permille;
}

/**
 * hplace_budget_tick() - feed a measurement, maybe update the knob
 * @b: the controller
 * @now_ns: current time (monotonic)
 * @cost_ns: detection cost since the previous call: engine thread runtime
 *	spent on detection, sampler interrupt-handler time on all CPUs, scan
 *	time and classification time
 * @work: work units done since the previous call: pages scanned in rate
 *	mode (required there: it tells whether the rate was the limit);
 *	samples taken in period mode (informational)
 *
 * Calls closer together than min_interval_ns are accumulated and decided
 * on together.
 *
 * Return: true if an update happened (the knob, the throttle state and
 * the statistics may have changed).
 */
bool hplace_budget_tick(struct hplace_budget *b, u64 now_ns, u64 cost_ns,
			u64 work)
{
	u64 elapsed, cost, budget_ns, ratio, usage, knob, need;
	u32 f;
	int dir;

	b->acc_cost_ns += cost_ns;
	b->acc_work += work;
	if (now_ns <= b->last_ns || now_ns - b->last_ns < b->p.min_interval_ns)
		return false;

	elapsed = now_ns - b->last_ns;
	if (hplace_budget_defer(b, elapsed))
		return false;
	cost = min(b->acc_cost_ns, 64 * elapsed);
	work = b->acc_work;
	b->acc_cost_ns = 0;
	b->acc_work = 0;
	b->last_ns = now_ns;
	b->total_cost_ns += cost;
	b->total_ns += elapsed;

	usage = mul_u64_u64_div_u64(cost, 1000000, elapsed);
	/* EWMA with weight 1/4 for the reported figure only. */
	b->usage_ppm = b->updates ? (3 * b->usage_ppm + usage) / 4 : usage;
	b->updates++;

	budget_ns = mul_u64_u64_div_u64(elapsed, b->p.permille, 1000);
	ratio = mul_u64_u64_div_u64(cost, HPLACE_BUDGET_ONE, budget_ns);
	ratio = min_t(u64, ratio, HPLACE_BUDGET_RATIO_MAX);
	b->last_ratio = ratio;

	f = hplace_budget_factor(b, ratio, elapsed, work);
	knob = hplace_budget_apply(b, f);
	if (b->p.mode == HPLACE_BUDGET_PERIOD) {
		/* ratio <= 2^22 and knob <= 2^40: no overflow. */
		b->peak_norm -= b->peak_norm >> 6;
		b->peak_norm = max(b->peak_norm, ratio * b->knob);
		if (f > HPLACE_BUDGET_ONE)
			knob = max(knob, min_t(u64, b->knob,
					       div64_u64(b->peak_norm,
							 HPLACE_BUDGET_SETPOINT)));
	}
	if (knob != b->knob) {
		dir = f > HPLACE_BUDGET_ONE ? 1 : -1;
		if (b->last_dir && dir != b->last_dir)
			b->dir_changes++;
		b->last_dir = dir;
		b->knob = knob;
	}

	/* Cheapest setting and still over: pause to pay the excess back. */
	b->throttled = false;
	b->pause_ns = 0;
	if (ratio > HPLACE_BUDGET_THROTTLE &&
	    b->knob == (b->p.mode == HPLACE_BUDGET_RATE ? b->p.min : b->p.max)) {
		b->throttled = true;
		b->throttles++;
		/* Pause until the average is back at the setpoint. */
		need = mul_u64_u64_div_u64(cost, 1000ULL * HPLACE_BUDGET_ONE,
					   (u64)b->p.permille *
					   HPLACE_BUDGET_SETPOINT);
		b->pause_ns = need > elapsed ? need - elapsed : 0;
		b->pause_end_ns = now_ns + b->pause_ns;
	}
	return true;
}
