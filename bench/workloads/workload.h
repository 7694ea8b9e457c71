/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the placement bench's workloads share: a stop request (SIGTERM or
 * SIGINT sets stop, which ends the measured phase early) and a monotonic
 * clock in seconds.  Defines the object stop: include it once per program.
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <signal.h>
#include <time.h>

static volatile sig_atomic_t stop;

static inline void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGTERM and SIGINT set stop instead of ending the process. */
static inline void catch_stop(void)
{
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* BENCH_WORKLOAD_H */
