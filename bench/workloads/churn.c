// SPDX-License-Identifier: GPL-2.0
/*
 * churn: a tenant that keeps allocating and freeing memory, for the
 * placement bench (a build, a batch job, a cache that comes and goes).
 *
 *   churn [-m MiB] [-i interval_ms] [-h hold_ms] [-d seconds] [-s seed] [-T]
 *
 * Every -i ms (default 2000) it maps -m MiB (default 32) of private
 * anonymous memory, writes every word, keeps the mapping -h ms (default
 * 1000), reads every word back and unmaps it.  The words hold a pattern of
 * the cycle number and -s (default 1), so a page that came back wrong is
 * seen.  -T asks for THP (MADV_HUGEPAGE), else MADV_NOHUGEPAGE.  -d is how
 * long it runs (default 60 s, 0: until SIGTERM/SIGINT).
 *
 * Output (one key=value line each):
 *   event=ready t=<s since start> mono=<CLOCK_MONOTONIC s>  (first cycle done)
 *   t=<s since ready> ops_s=<MiB cycled per second since the last line>
 *                       (after a cycle, at most once a second)
 *   event=end t=<s>
 *   verify=ok  (exit 0)  or  verify=FAILED <why>  (exit 1)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "workload.h"

#define MIB (1024UL * 1024)
#define GOLDEN 0x9e3779b97f4a7c15ULL

static void sleep_until(double t)
{
	while (!stop) {
		double left = t - now();
		struct timespec ts;

		if (left <= 0)
			return;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

static uint64_t word(uint64_t seed, uint64_t cycle, uint64_t i)
{
	return (seed * GOLDEN) ^ (cycle << 40) ^ ((i + 1) * GOLDEN);
}

/* One cycle: map, write, hold, check, unmap.  Returns the bad words. */
static long cycle_once(size_t size, int thp, uint64_t seed, uint64_t cycle,
		       double hold)
{
	uint64_t *a, n = size / sizeof(*a), bad = 0;

	a = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return -1;
	madvise(a, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (uint64_t i = 0; i < n; i++)
		a[i] = word(seed, cycle, i);
	sleep_until(now() + hold);
	for (uint64_t i = 0; i < n; i++)
		bad += a[i] != word(seed, cycle, i);
	munmap(a, size);
	return (long)bad;
}

/* A finite number in [lo, hi] with nothing after it, or exit 2. */
static double number(const char *arg, double lo, double hi)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !isfinite(v) || v < lo || v > hi) {
		fprintf(stderr, "churn: bad option value '%s'\n", arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	double mib = 32, interval = 2.0, hold = 1.0, dur = 60;
	double t0 = now(), t_ready = t0, t_last = t0, next;
	uint64_t seed = 1, cycle = 0, last_cycle = 0;
	int opt, thp = 0;
	size_t size;

	while ((opt = getopt(argc, argv, "m:i:h:d:s:T")) != -1) {
		switch (opt) {
		case 'm': mib = number(optarg, 0, 1 << 20); break;
		case 'i': interval = number(optarg, 0, 3600e3) / 1000; break;
		case 'h': hold = number(optarg, 0, 3600e3) / 1000; break;
		case 'd': dur = number(optarg, 0, 1e7); break;
		case 's': seed = (uint64_t)number(optarg, 0, 1e15); break;
		case 'T': thp = 1; break;
		default:
			fprintf(stderr, "usage: churn [-m MiB] [-i interval_ms] "
				"[-h hold_ms] [-d seconds] [-s seed] [-T]\n");
			return 2;
		}
	}
	size = (size_t)(mib * MIB) / 4096 * 4096;
	if (optind < argc || size < 4096 || interval <= 0 || hold >= interval) {
		fprintf(stderr, "churn: bad option value\n");
		return 2;
	}
	catch_stop();
	setvbuf(stdout, NULL, _IOLBF, 0);

	next = now();
	for (;;) {
		long bad = cycle_once(size, thp, seed, cycle, hold);

		if (bad) {
			if (bad < 0)
				printf("verify=FAILED mmap in cycle %lu\n",
				       (unsigned long)cycle);
			else
				printf("verify=FAILED %ld words wrong in cycle %lu\n",
				       bad, (unsigned long)cycle);
			return 1;
		}
		if (!cycle++) {
			t_ready = t_last = now();
			last_cycle = cycle;
			printf("event=ready t=%.1f mono=%.3f\n", t_ready - t0, t_ready);
		}
		if (stop || (dur && now() - t_ready >= dur))
			break;
		if (now() - t_last >= 1) {
			double t = now();

			printf("t=%.1f ops_s=%.0f\n", t - t_ready,
			       (cycle - last_cycle) * mib / (t - t_last));
			t_last = t;
			last_cycle = cycle;
		}
		next += interval;
		sleep_until(next);
	}
	printf("event=end t=%.1f\n", now() - t_ready);
	printf("verify=ok\n");
	return 0;
}
