// SPDX-License-Identifier: GPL-2.0
/*
 * hplace userspace unit tests: runs every case, prints TAP-like lines and
 * exits non-zero if any failed.  HPLACE_SEED=N changes the random seed,
 * HTIER_FULL=1 makes the stress cases longer, an argument selects the
 * cases whose name contains it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hplace_internal.h"
#include "test.h"
#include "kunit/test.h"

char t_why[512];
bool t_full;
uint64_t t_rng_state;
long hplace_test_alloc_fail_after = -1;
unsigned long hplace_test_allocs;
extern struct kunit_suite *t_kunit_suite;

static const struct t_case *const suites[] = {
	t_ring_cases, t_pebs_cases, t_budget_cases, t_classify_cases,
	t_rtree_cases,
};

int main(int argc, char **argv)
{
	const char *env = getenv("HPLACE_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x9e3779b97f4a7c15ULL;
	unsigned int n = 0, failed = 0, s;
	const struct t_case *c;
	const struct kunit_case *kc;

	t_full = getenv("HTIER_FULL") && strcmp(getenv("HTIER_FULL"), "0");
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (s = 0; s < ARRAY_SIZE(suites); s++) {
		for (c = suites[s]; c->name; c++) {
			struct timespec a, b;
			bool ok;

			if (argc > 1 && !strstr(c->name, argv[1]))
				continue;
			n++;
			t_why[0] = '\0';
			t_rng_state = seed ^ ((uint64_t)n * 0x100000001b3ULL);
			if (!t_rng_state)
				t_rng_state = 1;
			hplace_test_alloc_fail_after = -1;
			clock_gettime(CLOCK_MONOTONIC, &a);
			ok = c->fn();
			clock_gettime(CLOCK_MONOTONIC, &b);
			if (ok) {
				printf("ok %u - %s\n", n, c->name);
			} else {
				printf("not ok %u - %s # %s\n", n, c->name, t_why);
				failed++;
			}
			if (getenv("HPLACE_TEST_TIME"))
				fprintf(stderr, "# %s: %.3f s\n", c->name,
					(b.tv_sec - a.tv_sec) +
					(b.tv_nsec - a.tv_nsec) / 1e9);
		}
	}
	/* mm/hplace/hplace_kunit.c, built against kunit/test.h here. */
	for (kc = t_kunit_suite->test_cases; kc->run_case; kc++) {
		struct kunit test = { 0 };

		if (argc > 1 && !strstr(kc->name, argv[1]))
			continue;
		n++;
		t_why[0] = '\0';
		kc->run_case(&test);
		if (!test.fails) {
			printf("ok %u - kunit: %s.%s\n", n, t_kunit_suite->name,
			       kc->name);
		} else {
			printf("not ok %u - kunit: %s.%s # %s\n", n,
			       t_kunit_suite->name, kc->name, t_why);
			failed++;
		}
	}
	printf("1..%u\n", n);
	printf("# %u passed, %u failed (seed 0x%llx)\n", n - failed, failed,
	       (unsigned long long)seed);
	return failed ? 1 : 0;
}
