/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tiny TAP harness for the hplace userspace unit tests.
 */
#ifndef _HPLACE_TEST_H
#define _HPLACE_TEST_H

#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

/* Why the current test failed; printed after "not ok N - name #". */
extern char t_why[512];
/* HTIER_FULL=1: longer stress runs. */
extern bool t_full;

#define T_FAIL(...)							\
	do {								\
		int __n = snprintf(t_why, sizeof(t_why), "%s:%d: ",	\
				   __FILE__, __LINE__);			\
		snprintf(t_why + __n, sizeof(t_why) - __n, __VA_ARGS__);	\
		return false;						\
	} while (0)

#define T_ASSERT(cond)							\
	do {								\
		if (!(cond))						\
			T_FAIL("%s", #cond);				\
	} while (0)

#define T_ASSERTF(cond, ...)						\
	do {								\
		if (!(cond))						\
			T_FAIL(__VA_ARGS__);				\
	} while (0)

#define T_EQ(a, b)							\
	do {								\
		long long __a = (long long)(a), __b = (long long)(b);	\
		if (__a != __b)						\
			T_FAIL("%s == %lld, expected %s == %lld",	\
			       #a, __a, #b, __b);			\
	} while (0)

/* Run a sub-check that returns bool and already set t_why. */
#define T_CALL(expr)							\
	do {								\
		if (!(expr))						\
			return false;					\
	} while (0)

struct t_case {
	const char *name;
	bool (*fn)(void);
};

/* Deterministic PRNG (xorshift64*), seeded per test. */
extern uint64_t t_rng_state;
static inline uint64_t t_rand(void)
{
	uint64_t x = t_rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t_rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n). */
static inline uint64_t t_rand_below(uint64_t n)
{
	return n ? t_rand() % n : 0;
}

extern const struct t_case t_ring_cases[], t_pebs_cases[], t_budget_cases[],
	t_classify_cases[], t_rtree_cases[];

#endif /* _HPLACE_TEST_H */
