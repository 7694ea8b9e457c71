// SPDX-License-Identifier: GPL-2.0
/*
 * pagerank: pull-based PageRank over a synthetic power-law graph.
 *
 *   pagerank [-v vertices] [-e avg_degree] [-s seed] [-d seconds] [-n node]
 *            [-S factor] [-T]
 *
 * Builds a directed Chung-Lu graph in memory: vertex v gets about
 * e * n * w(v) / W in-edges and each in-edge's source is drawn with
 * probability w(u) / W (alias table), w = (rank + 1)^-0.6 (degree exponent
 * ~2.67).  In-degree ranks follow vertex ids; out-degree ranks are a random
 * permutation, so popular sources are scattered over the rank arrays.
 * Stored as in-edge CSR: offsets (n + 1 x u64), sources (m x u32), out-degree
 * (n x u32), plus rank and contribution (n x double each).  Defaults,
 * 4 Mi vertices x 24: ~500 MiB; -S multiplies the vertex count.
 *
 * Then iterates rank[v] = (1 - 0.85) / n + 0.85 * (sum of rank[u] / out(u)
 * over in-edges + dangling rank / n) for -d seconds (default 60; SIGTERM or
 * SIGINT end it early), checking after every iteration that the ranks sum to
 * 1 within 1e-6.  -n first-touches the graph and the rank arrays on that
 * node (MPOL_BIND during setup, MPOL_DEFAULT afterwards).  -T asks for THP
 * (MADV_HUGEPAGE), else MADV_NOHUGEPAGE.
 *
 * Output: vertices=.. edges=.. dangling=.. bytes=..;
 * event=ready t=<s> mono=<CLOCK_MONOTONIC s>;
 * rss_bytes=..; `t=<s> ops_s=<edges per second>` once a second;
 * `iter=<k> t=<s> delta=<L1 change> sum=<rank sum>` per iteration;
 * `event=end t=<s>` when the measured phase is over; at the end
 * verify=ok, or verify=FAILED <why> (exit 1) if a rank sum was off or the
 * checksum of the CSR arrays, recomputed, differs from the one at build time.
 */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "workload.h"

#define MPOL_DEFAULT 0
#define MPOL_BIND 2
#define GOLDEN 0x9e3779b97f4a7c15ULL
#define ALPHA 0.6
#define DAMPING 0.85
#define CHUNK (1 << 20)		/* edges between clock checks */

static int thp;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += GOLDEN);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t below(uint64_t x, uint64_t n)
{
	return (unsigned __int128)x * n >> 64;
}

/* Position-dependent hash of one array element: moved data changes the sum. */
static inline uint64_t mix(uint64_t x, uint64_t i)
{
	x += i * GOLDEN;
	x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
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

static void *map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

struct graph {
	uint64_t n, m;
	uint64_t *off;		/* n + 1: in-edges of v are src[off[v] .. off[v+1]) */
	uint32_t *src;		/* m */
	uint32_t *outdeg;	/* n */
};

static uint64_t checksum(const struct graph *g)
{
	uint64_t h = 0, i;

	for (i = 0; i <= g->n; i++)
		h += mix(g->off[i], i);
	for (i = 0; i < g->n; i++)
		h += mix(g->outdeg[i], i ^ 0x40000000000ULL);
	for (i = 0; i < g->m; i++)
		h += mix(g->src[i], i ^ 0x80000000000ULL);
	return h;
}

struct alias {
	uint32_t prob;		/* keep this entry if 32 random bits are below */
	uint32_t other;
};

static void build(struct graph *g, double deg, uint64_t seed)
{
	uint64_t n = g->n, rng = seed, i, e, ns = 0, nl = 0;
	size_t dsz = n * sizeof(double), psz = n * sizeof(uint32_t);
	size_t asz = n * sizeof(struct alias);
	double *w = map(dsz), *q = map(dsz), wsum = 0;
	uint32_t *perm = map(psz), *small = map(psz), *large = map(psz);
	struct alias *at = map(asz);

	for (i = 0; i < n; i++)
		wsum += w[i] = pow(i + 1.0, -ALPHA);
	/* In-degrees by vertex id, rounded at random: they add up to ~e * n. */
	g->off = map((n + 1) * sizeof(uint64_t));
	g->off[0] = 0;
	for (i = 0; i < n; i++) {
		double k = deg * n * w[i] / wsum;
		uint64_t ki = (uint64_t)k;

		ki += (splitmix(&rng) >> 11) * 0x1.0p-53 < k - ki;
		g->off[i + 1] = g->off[i] + ki;
	}
	g->m = g->off[n];

	/* Out-degree weight of vertex v: that of its rank in a random permutation. */
	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--) {
		uint64_t j = below(splitmix(&rng), i + 1);
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	/* Vose's alias method over those weights scaled to mean 1. */
	for (i = 0; i < n; i++) {
		q[i] = w[perm[i]] * n / wsum;
		if (q[i] < 1)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns && nl) {
		uint32_t s = small[--ns], l = large[--nl];

		at[s].prob = q[s] * 4294967296.0;
		at[s].other = l;
		q[l] -= 1 - q[s];
		if (q[l] < 1)
			small[ns++] = l;
		else
			large[nl++] = l;
	}
	while (nl) {
		i = large[--nl];
		at[i] = (struct alias){ UINT32_MAX, i };
	}
	while (ns) {
		i = small[--ns];
		at[i] = (struct alias){ UINT32_MAX, i };
	}
	munmap(w, dsz);
	munmap(q, dsz);
	munmap(perm, psz);
	munmap(small, psz);
	munmap(large, psz);

	g->outdeg = map(n * sizeof(uint32_t));
	g->src = map(g->m * sizeof(uint32_t));
	for (e = 0; e < g->m; e++) {
		uint64_t r = splitmix(&rng);
		const struct alias *a = &at[below(r, n)];
		uint32_t u = (uint32_t)r < a->prob ? a - at : a->other;

		g->src[e] = u;
		g->outdeg[u]++;
	}
	munmap(at, asz);
}

int main(int argc, char **argv)
{
	double verts = 4 * 1048576, deg = 24, factor = 1, dur = 60, t0, t_ready;
	double t = 0, last_t = 0, next_tick = 1, base, delta, sum, dangling;
	uint64_t seed = 1, edges = 0, last_edges = 0, iters = 0, bad_sums = 0;
	uint64_t sum0, sum1, ndangling = 0, n, v, u;
	int node = -1, opt;
	struct graph g;
	double *rank, *contrib;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "v:e:s:d:n:S:T")) != -1) {
		switch (opt) {
		case 'v': verts = strtod(optarg, NULL); break;
		case 'e': deg = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'd': dur = strtod(optarg, NULL); break;
		case 'n': node = atoi(optarg); break;
		case 'S': factor = strtod(optarg, NULL); break;
		case 'T': thp = 1; break;
		default:
			fprintf(stderr, "usage: %s [-v vertices] [-e avg_degree] [-s seed] [-d seconds] [-n node] [-S factor] [-T]\n",
				argv[0]);
			return 2;
		}
	}
	n = verts * factor;
	if (n < 2 || n > UINT32_MAX || deg <= 0 || deg * n > 1e12 || node > 63) {
		fprintf(stderr, "pagerank: bad option value\n");
		return 2;
	}
	t0 = now();
	if (node >= 0 && set_policy(MPOL_BIND, node)) {
		perror("set_mempolicy(MPOL_BIND)");
		return 1;
	}
	g.n = n;
	build(&g, deg, seed);
	rank = map(n * sizeof(double));
	contrib = map(n * sizeof(double));
	for (v = 0; v < n; v++) {
		rank[v] = 1.0 / n;
		contrib[v] = 0;
		ndangling += !g.outdeg[v];
	}
	/* Before the policy goes: placement leaves a task with a policy alone. */
	sum0 = checksum(&g);
	if (node >= 0 && set_policy(MPOL_DEFAULT, 0)) {
		perror("set_mempolicy(MPOL_DEFAULT)");
		return 1;
	}
	printf("vertices=%lu edges=%lu dangling=%lu bytes=%lu\n", (unsigned long)n,
	       (unsigned long)g.m, (unsigned long)ndangling,
	       (unsigned long)((n + 1) * 8 + g.m * 4 + n * 4 + 2 * n * 8));
	catch_stop();
	t_ready = now();
	printf("event=ready t=%.1f mono=%.3f\n", t_ready - t0, t_ready);
	printf("rss_bytes=%ld\n", rss_bytes());

	while (!stop && (!dur || t < dur)) {
		dangling = 0;
		for (u = 0; u < n; u++) {
			if (g.outdeg[u])
				contrib[u] = rank[u] / g.outdeg[u];
			else
				dangling += rank[u];
		}
		base = (1 - DAMPING) / n + DAMPING * dangling / n;
		delta = sum = 0;
		for (v = 0; v < n && !stop && (!dur || t < dur); ) {
			uint64_t first = v, lim = g.off[v] + CHUNK;

			for (; v < n && (v == first || g.off[v] < lim); v++) {
				double s = 0, r;

				for (uint64_t e = g.off[v]; e < g.off[v + 1]; e++)
					s += contrib[g.src[e]];
				r = base + DAMPING * s;
				delta += fabs(r - rank[v]);
				sum += r;
				rank[v] = r;
			}
			edges += g.off[v] - g.off[first];
			t = now() - t_ready;
			if (t >= next_tick) {
				printf("t=%.1f ops_s=%.0f\n", t, (edges - last_edges) / (t - last_t));
				last_edges = edges;
				last_t = t;
				next_tick = floor(t) + 1;
			}
		}
		if (v < n)
			break;	/* stopped inside an iteration: the ranks are mixed */
		iters++;
		if (fabs(sum - 1) > 1e-6)
			bad_sums++;
		printf("iter=%lu t=%.1f delta=%.3g sum=%.9f\n", (unsigned long)iters, t, delta, sum);
	}
	printf("event=end t=%.1f\n", t);
	printf("iterations=%lu edges_processed=%lu seconds=%.1f\n", (unsigned long)iters,
	       (unsigned long)edges, t);
	sum1 = checksum(&g);
	if (sum1 != sum0) {
		printf("verify=FAILED graph checksum 0x%lx != 0x%lx\n", (unsigned long)sum1,
		       (unsigned long)sum0);
		return 1;
	}
	if (bad_sums) {
		printf("verify=FAILED %lu iterations with a rank sum off by more than 1e-6\n",
		       (unsigned long)bad_sums);
		return 1;
	}
	printf("verify=ok\n");
	return 0;
}
