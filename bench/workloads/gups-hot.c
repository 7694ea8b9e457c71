// SPDX-License-Identifier: GPL-2.0
/*
 * gups-hot: random 8-byte updates over a big mapping with a scattered hot
 * set that can move, for the placement bench.
 *
 *   gups-hot [-m MiB] [-H hot_MiB] [-r regions] [-p hot_pct] [-w write_pct]
 *            [-M t1,t2,...] [-s seed] [-F seed] [-q ops_per_s] [-n node]
 *            [-d seconds] [-S factor] [-T] [-X]
 *
 * Maps -m MiB (default 1024) of private anonymous memory, word i holding
 * f(i) = (i + 1) * 0x9e3779b97f4a7c15.  The hot set is -r regions (default
 * 4) of equal size, -H MiB in all (default 192), at random non-overlapping
 * page-aligned places (2 MiB-aligned with -T); -p percent of the operations
 * (default 90) go to a random word of the hot set, the rest to a random word
 * of the whole mapping (-p 0: uniform, no hot set).  An operation is a write
 * (word += 1) with probability -w percent (default 100), else a load.
 * -M moves the hot set at those seconds after ready: new random places,
 * disjoint from the old ones where possible.  -q limits the rate (0: none).
 *
 * -s seeds every random choice (default 1).  -F SEED ("family") draws the
 * shape options not given on the command line from SEED: regions 1-16, hot
 * 64-256 MiB (times -S), hot share 70-95 %, write share 0-100 %.
 * -S multiplies -m and -H.  -n first-touches the mapping on that node
 * (set_mempolicy(MPOL_BIND) during setup, MPOL_DEFAULT afterwards).  -d is
 * the measured phase (default 60 s, 0: until SIGTERM/SIGINT, which also end
 * it early).  -T asks for THP (MADV_HUGEPAGE), else MADV_NOHUGEPAGE.
 * -X (tests only) overwrites one page with another page's contents before
 * verifying, as a wrong page would; verification must then fail.
 *
 * Output (one key=value line each):
 *   shape regions=<r> hot_mib=<n> hot_pct=<p> write_pct=<w> seed=<s> [family=<f>]
 *   pid=<pid> base=0x<addr> size=<bytes>
 *   hot_bytes=<bytes>  and  hot region=<i> off=<bytes> len=<bytes>  (each)
 *   event=ready t=<s since start> mono=<CLOCK_MONOTONIC s>   rss_bytes=<n>
 *   t=<s since ready> ops_s=<ops in the last second>     (once a second)
 *   event=move n=<k> t=<s>  then the new hot region lines
 *   event=end t=<s>  (the measured phase is over; verification follows)
 *   ops=<n> writes=<n> seconds=<s>
 *   verify=ok  (exit 0)  or  verify=FAILED <why>  (exit 1)
 * Verification: the sum over words of (word - f(i)) must equal the writes
 * counted and each difference must lie within [0, writes].
 */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "workload.h"

#define MIB (1024UL * 1024)
#define THP_SIZE (2 * MIB)
#define MPOL_DEFAULT 0
#define MPOL_BIND 2
#define MAX_MOVES 64
#define MAX_REGIONS 4096
#define GOLDEN 0x9e3779b97f4a7c15ULL

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += GOLDEN);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform number in [0, n) from 64 random bits. */
static inline uint64_t below(uint64_t x, uint64_t n)
{
	return (unsigned __int128)x * n >> 64;
}

/* xorshift64*: the operations' stream (see the measured loop). */
static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + below(splitmix(s), hi - lo + 1);
}

static inline uint64_t f(uint64_t i)
{
	return (i + 1) * GOLDEN;
}

static long rss_bytes(void)
{
	long size = 0, res = 0;
	FILE *fp = fopen("/proc/self/statm", "r");

	if (fp) {
		if (fscanf(fp, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(fp);
	}
	return res * sysconf(_SC_PAGESIZE);
}

static int set_policy(int mode, int node)
{
	unsigned long mask = 1UL << node;

	return syscall(SYS_set_mempolicy, mode, mode == MPOL_DEFAULT ? NULL : &mask,
		       mode == MPOL_DEFAULT ? 0 : 64);
}

/*
 * The hot set: nreg regions of rlen granules each, start[] in granules,
 * hot_word[] the same starts in words of a[] (set by hot_words()).
 */
static uint64_t nreg, rlen, ngran, start[MAX_REGIONS], prev[MAX_REGIONS];
static uint64_t hot_word[MAX_REGIONS];

static void hot_words(uint64_t gran)
{
	for (uint64_t i = 0; i < nreg; i++)
		hot_word[i] = start[i] * (gran / sizeof(uint64_t));
}

static int overlaps(uint64_t s, const uint64_t *set, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (s < set[i] + rlen && set[i] < s + rlen)
			return 1;
	return 0;
}

/*
 * Random places for the regions: rejection sampling that avoids the other
 * new regions and, when @avoid, the previous ones; if that keeps failing
 * (a dense hot set), random gaps between the regions, which always fit.
 */
static void draw_regions(uint64_t *rng, int avoid)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t i;

		for (i = 0; i < nreg; i++) {
			int k;

			for (k = 0; k < 64; k++) {
				uint64_t s = range(rng, 0, ngran - rlen);

				if (!overlaps(s, start, i) &&
				    !(avoid && overlaps(s, prev, nreg))) {
					start[i] = s;
					break;
				}
			}
			if (k == 64)
				break;
		}
		if (i == nreg)
			return;
	}
	/* nreg sorted points in [0, free]: region i starts at point i + i * rlen. */
	for (uint64_t i = 0; i < nreg; i++)
		start[i] = range(rng, 0, ngran - nreg * rlen);
	for (uint64_t i = 1; i < nreg; i++)
		for (uint64_t j = i; j > 0 && start[j - 1] > start[j]; j--) {
			uint64_t t = start[j];

			start[j] = start[j - 1];
			start[j - 1] = t;
		}
	for (uint64_t i = 0; i < nreg; i++)
		start[i] += i * rlen;
}

static void print_regions(uint64_t gran)
{
	for (uint64_t i = 0; i < nreg; i++)
		printf("hot region=%lu off=%lu len=%lu\n", (unsigned long)i,
		       (unsigned long)(start[i] * gran), (unsigned long)(rlen * gran));
}

static int parse_moves(const char *s, double *t)
{
	int n = 0;
	char *end;

	while (*s && n < MAX_MOVES) {
		t[n++] = strtod(s, &end);
		if (end == s || (n > 1 && t[n - 1] <= t[n - 2]))
			return -1;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return *s ? -1 : n;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-m MiB] [-H hot_MiB] [-r regions] [-p hot_pct] [-w write_pct]\n"
		"       [-M t1,t2,...] [-s seed] [-F seed] [-q ops_per_s] [-n node]\n"
		"       [-d seconds] [-S factor] [-T] [-X]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	double mib = 1024, hot_mib = 192, factor = 1, dur = 60, rate = 0;
	double moves[MAX_MOVES], t0, t_ready, t = 0, last_t = 0, next_tick = 1;
	long regions = 4, hot_pct = 90, write_pct = 100;
	int have_r = 0, have_H = 0, have_p = 0, have_w = 0, family = 0;
	int nmoves = 0, moved = 0, node = -1, thp = 0, corrupt = 0, opt;
	uint64_t seed = 1, fseed = 0, ops = 0, writes = 0, last_ops = 0;
	uint64_t size, nwords, gran, rwords, hot_thr, w_thr, batch, bad = 0;
	uint64_t shape_rng, pos_rng, op_rng, sum = 0;
	uint64_t *a;
	char *base;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "m:H:r:p:w:M:s:F:q:n:d:S:TX")) != -1) {
		switch (opt) {
		case 'm': mib = strtod(optarg, NULL); break;
		case 'H': hot_mib = strtod(optarg, NULL); have_H = 1; break;
		case 'r': regions = atol(optarg); have_r = 1; break;
		case 'p': hot_pct = atol(optarg); have_p = 1; break;
		case 'w': write_pct = atol(optarg); have_w = 1; break;
		case 'M':
			nmoves = parse_moves(optarg, moves);
			if (nmoves < 0)
				usage(argv[0]);
			break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'F': fseed = strtoull(optarg, NULL, 0); family = 1; break;
		case 'q': rate = strtod(optarg, NULL); break;
		case 'n': node = atoi(optarg); break;
		case 'd': dur = strtod(optarg, NULL); break;
		case 'S': factor = strtod(optarg, NULL); break;
		case 'T': thp = 1; break;
		case 'X': corrupt = 1; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	t0 = now();
	if (family) {
		shape_rng = fseed ^ 0x5ca1ab1e;
		if (!have_r)
			regions = range(&shape_rng, 1, 16);
		if (!have_H)
			hot_mib = range(&shape_rng, 64, 256);
		if (!have_p)
			hot_pct = range(&shape_rng, 70, 95);
		if (!have_w)
			write_pct = range(&shape_rng, 0, 100);
	}
	if (!hot_pct)
		regions = 0, hot_mib = 0;
	printf("shape regions=%ld hot_mib=%g hot_pct=%ld write_pct=%ld seed=%lu",
	       regions, hot_mib * factor, hot_pct, write_pct, (unsigned long)seed);
	if (family)
		printf(" family=%lu", (unsigned long)fseed);
	printf("\n");

	gran = thp ? THP_SIZE : (uint64_t)sysconf(_SC_PAGESIZE);
	size = (uint64_t)(mib * factor * MIB) / gran * gran;
	if (factor <= 0 || size < gran || hot_pct < 0 || hot_pct > 100 ||
	    write_pct < 0 || write_pct > 100 || rate < 0 || node > 63 ||
	    (hot_pct && (regions < 1 || regions > MAX_REGIONS))) {
		fprintf(stderr, "gups-hot: bad option value\n");
		return 2;
	}
	ngran = size / gran;
	nreg = hot_pct ? regions : 0;
	rlen = nreg ? (uint64_t)(hot_mib * factor * MIB) / nreg / gran : 0;
	if (nreg && (!rlen || nreg * rlen > ngran)) {
		fprintf(stderr, "gups-hot: hot set does not fit (%lu regions, %g MiB hot, %lu MiB mapped)\n",
			(unsigned long)nreg, hot_mib * factor, (unsigned long)(size / MIB));
		return 2;
	}

	base = mmap(NULL, size + THP_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* 2 MiB-align the array so THP (and -T's regions) line up with it. */
	{
		uintptr_t b = (uintptr_t)base, al = (b + THP_SIZE - 1) & ~(THP_SIZE - 1);

		if (al > b)
			munmap(base, al - b);
		munmap((char *)al + size, b + THP_SIZE - al);
		base = (char *)al;
	}
	if (madvise(base, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		perror(thp ? "madvise(MADV_HUGEPAGE)" : "madvise(MADV_NOHUGEPAGE)");
	if (node >= 0 && set_policy(MPOL_BIND, node)) {
		perror("set_mempolicy(MPOL_BIND)");
		return 1;
	}
	a = (uint64_t *)base;
	nwords = size / sizeof(*a);
	for (uint64_t i = 0; i < nwords; i++)
		a[i] = f(i);
	if (node >= 0 && set_policy(MPOL_DEFAULT, 0)) {
		perror("set_mempolicy(MPOL_DEFAULT)");
		return 1;
	}

	pos_rng = seed ^ 0x9051710e;
	op_rng = seed ^ 0x0b5e55ed;
	if (!op_rng)		/* xorshift's one fixed point */
		op_rng = 1;
	if (nreg)
		draw_regions(&pos_rng, 0);
	hot_words(gran);
	rwords = rlen * gran / sizeof(*a);
	/* Thresholds on 32 random bits: pct * 2^32 / 100. */
	hot_thr = ((uint64_t)hot_pct << 32) / 100;
	w_thr = ((uint64_t)write_pct << 32) / 100;
	batch = rate ? (rate / 100 < 1 ? 1 : rate / 100 > 4096 ? 4096 : (uint64_t)(rate / 100)) : 4096;

	printf("pid=%d base=%p size=%lu\n", getpid(), (void *)base, (unsigned long)size);
	printf("hot_bytes=%lu\n", (unsigned long)(nreg * rlen * gran));
	print_regions(gran);
	catch_stop();
	t_ready = now();
	printf("event=ready t=%.1f mono=%.3f\n", t_ready - t0, t_ready);
	printf("rss_bytes=%ld\n", rss_bytes());

	while (!stop && (!dur || t < dur)) {
		/*
		 * The access meter counts every load and store, so the loop keeps
		 * its own state in registers: an operation costs its one or two
		 * accesses to a[] and, when hot, one to hot_word[] -- not a dozen
		 * to spilled locals on the stack. Hence xorshift64* (no table, one
		 * constant), two draws per operation, and region starts kept in
		 * words.
		 */
		uint64_t rng = op_rng, nw = writes;
		const uint64_t nr = nreg;

		for (uint64_t k = batch; k; k--) {
			uint64_t r0 = xorshift(&rng), r1 = xorshift(&rng), idx;

			if ((uint32_t)r0 < hot_thr)
				idx = hot_word[(r0 >> 32) * nr >> 32] + below(r1, rwords);
			else
				idx = below(r1, nwords);
			if ((uint32_t)r1 < w_thr) {
				a[idx]++;
				nw++;
			} else {
				/* volatile: the load happens, no sum needed */
				(void)((volatile uint64_t *)a)[idx];
			}
		}
		op_rng = rng;
		writes = nw;
		ops += batch;
		t = now() - t_ready;
		if (moved < nmoves && t >= moves[moved]) {
			memcpy(prev, start, nreg * sizeof(*start));
			if (nreg)
				draw_regions(&pos_rng, 1);
			hot_words(gran);
			printf("event=move n=%d t=%.1f\n", ++moved, t);
			print_regions(gran);
		}
		if (t >= next_tick) {
			printf("t=%.1f ops_s=%.0f\n", t, (ops - last_ops) / (t - last_t));
			last_ops = ops;
			last_t = t;
			next_tick = floor(t) + 1;
		}
		if (rate) {
			double ahead = ops / rate - t;

			if (ahead > next_tick - t)
				ahead = next_tick - t;
			if (dur && ahead > dur - t)
				ahead = dur - t;
			if (ahead > 0) {
				struct timespec ts = { (time_t)ahead,
						       (long)((ahead - (time_t)ahead) * 1e9) };

				nanosleep(&ts, NULL);
				t = now() - t_ready;
			}
		}
	}
	printf("event=end t=%.1f\n", t);
	printf("ops=%lu writes=%lu seconds=%.1f\n", (unsigned long)ops,
	       (unsigned long)writes, t);

	if (corrupt && nwords * sizeof(*a) >= 2 * (uint64_t)sysconf(_SC_PAGESIZE)) {
		uint64_t pw = sysconf(_SC_PAGESIZE) / sizeof(*a), np = nwords / pw;
		uint64_t p = range(&op_rng, 0, np - 1), q = (p + 1 + range(&op_rng, 0, np - 2)) % np;

		memcpy(a + p * pw, a + q * pw, pw * sizeof(*a));
		printf("corrupted page=%lu from=%lu\n", (unsigned long)p, (unsigned long)q);
	}
	for (uint64_t i = 0; i < nwords; i++) {
		uint64_t d = a[i] - f(i);

		if (d > writes && !bad++)
			printf("bad word=%lu value=0x%lx expected=0x%lx\n", (unsigned long)i,
			       (unsigned long)a[i], (unsigned long)f(i));
		sum += d;
	}
	if (bad) {
		printf("verify=FAILED %lu words out of range\n", (unsigned long)bad);
		return 1;
	}
	if (sum != writes) {
		printf("verify=FAILED sum of increments %lu != writes %lu\n",
		       (unsigned long)sum, (unsigned long)writes);
		return 1;
	}
	printf("verify=ok\n");
	return 0;
}
