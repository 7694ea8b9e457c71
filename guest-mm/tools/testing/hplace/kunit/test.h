/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal userspace stand-in for <kunit/test.h>, enough to run
 * mm/hplace/hplace_kunit.c as part of the userspace unit tests, so the
 * KUnit suite is checked on every `make check` and not only at boot.
 */
#ifndef _HPLACE_TEST_KUNIT_H
#define _HPLACE_TEST_KUNIT_H

#include <stdio.h>

extern char t_why[512];

struct kunit {
	int fails;
};

static inline void kunit_fail(struct kunit *test, const char *file, int line,
			      const char *what)
{
	if (!test->fails++)
		snprintf(t_why, sizeof(t_why), "%s:%d: %s", file, line, what);
}

#define KUNIT_EXPECT_TRUE_MSG_(test, cond, what)			\
	do {								\
		if (!(cond))						\
			kunit_fail(test, __FILE__, __LINE__, what);	\
	} while (0)

#define KUNIT_EXPECT_EQ(test, a, b)					\
	KUNIT_EXPECT_TRUE_MSG_(test, (a) == (b), #a " == " #b)
#define KUNIT_EXPECT_GE(test, a, b)					\
	KUNIT_EXPECT_TRUE_MSG_(test, (a) >= (b), #a " >= " #b)
#define KUNIT_EXPECT_LE(test, a, b)					\
	KUNIT_EXPECT_TRUE_MSG_(test, (a) <= (b), #a " <= " #b)
#define KUNIT_EXPECT_NULL(test, p)					\
	KUNIT_EXPECT_TRUE_MSG_(test, !(p), #p " is NULL")
#define KUNIT_ASSERT_EQ(test, a, b)					\
	do {								\
		if (!((a) == (b))) {					\
			kunit_fail(test, __FILE__, __LINE__,		\
				   #a " == " #b);			\
			return;						\
		}							\
	} while (0)

struct kunit_case {
	void (*run_case)(struct kunit *test);
	const char *name;
};

#define KUNIT_CASE(f)	{ .run_case = f, .name = #f }

struct kunit_suite {
	const char *name;
	struct kunit_case *test_cases;
};

/* main.c runs the one suite this points to. */
#define kunit_test_suite(s)	struct kunit_suite *t_kunit_suite = &(s)

#endif /* _HPLACE_TEST_KUNIT_H */
