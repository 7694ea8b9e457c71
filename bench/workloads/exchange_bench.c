// SPDX-License-Identifier: GPL-2.0
/*
 * exchange_bench: page exchange vs paired migration, in one guest.
 *
 * N pages start on the fast node 0 and N on the slow node 1. Each round
 * swaps the placement of all N pairs, either by exchange (debugfs batches of
 * 16 pairs) or by paired migration (move_pages(2): the node-1 pages to node 0
 * and the node-0 pages to node 1, as promotion + demotion would). Reports
 * pairs per second, CPU (user + system of this process, where the kernel
 * work is charged) per pair, and the success rate. With -f the fast node is
 * first filled so that it has no free page at all.
 *
 * Usage: exchange_bench [-n pairs] [-r rounds] [-f]
 * Output: one "key value" line per figure, prefixed with the mode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "exchange_util.h"	/* tests/guest/, on the include path */

static long psz;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Free memory of node 0 in kB, from its meminfo. */
static long node0_free_kb(void)
{
	FILE *f = fopen("/sys/devices/system/node/node0/meminfo", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "MemFree:"))
			sscanf(strstr(line, "MemFree:") + 8, "%ld", &kb);
	if (f)
		fclose(f);
	return kb;
}

/*
 * Touch pages (first touch allocates on node 0, where the CPUs are) until
 * node 0 is down to its watermarks; returns how many pages were touched.
 */
static long fill_fast_node(void)
{
	long chunk = 256, got = 0, i;

	while (node0_free_kb() > 2048) {
		char *p = mmap(NULL, chunk * psz, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			break;
		for (i = 0; i < chunk; i++)
			p[i * psz] = 1;
		got += chunk;
		if (got * psz > (1L << 30))	/* never more than 1 GiB */
			break;
	}
	return got;
}

/* One debugfs write; returns the number of pairs exchanged. */
static long exchange_batch(int fd, const char *lines)
{
	char res[16 * 16], *p;
	long ok = 0;
	ssize_t r;

	if (write(fd, lines, strlen(lines)) < 0 && errno == EINVAL)
		return 0;
	r = pread(fd, res, sizeof(res) - 1, 0);
	res[r > 0 ? r : 0] = '\0';
	for (p = res; (p = strstr(p, "ok\n")); p += 3)
		if (p == res || p[-1] == '\n')
			ok++;
	return ok;
}

int main(int argc, char **argv)
{
	long n = 1024, rounds = 10, i, r, ok, tried;
	int opt, full = 0, mode;
	char *a, *b, line[64], *lines;
	void **pa, **pb;
	int *n0, *n1, *st, xfd;

	while ((opt = getopt(argc, argv, "n:r:f")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'r')
			rounds = atol(optarg);
		else if (opt == 'f')
			full = 1;
		else
			return 2;
	}
	psz = sysconf(_SC_PAGESIZE);
	xfd = open(XCHG_PATH, O_RDWR);
	if (xfd < 0) {
		perror(XCHG_PATH);
		return 2;
	}
	a = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pa = malloc(n * sizeof(*pa));
	pb = malloc(n * sizeof(*pb));
	n0 = malloc(n * sizeof(int));
	n1 = malloc(n * sizeof(int));
	st = malloc(n * sizeof(int));
	lines = malloc(16 * 64);
	if (a == MAP_FAILED || b == MAP_FAILED || !pa || !pb || !n0 || !n1 || !st || !lines)
		return 2;
	for (i = 0; i < n; i++) {
		a[i * psz] = 1;
		b[i * psz] = 2;
		pa[i] = a + i * psz;
		pb[i] = b + i * psz;
		n0[i] = 0;
		n1[i] = 1;
	}
	syscall(SYS_move_pages, 0, n, pa, n0, st, 0);
	syscall(SYS_move_pages, 0, n, pb, n1, st, 0);
	if (full)
		printf("fast_node_filled_pages %ld\n", fill_fast_node());

	for (mode = 0; mode < 2; mode++) {
		const char *name = mode ? "migrate" : "exchange";
		double t0 = now(), c0 = cpu(), el, c;

		ok = tried = 0;
		for (r = 0; r < rounds; r++) {
			if (mode == 0) {
				for (i = 0; i < n; i += 16) {
					long j, off = 0;

					for (j = i; j < n && j < i + 16; j++) {
						snprintf(line, sizeof(line), "%d %lx %d %lx\n",
							 getpid(), (unsigned long)pa[j],
							 getpid(), (unsigned long)pb[j]);
						strcpy(lines + off, line);
						off += strlen(line);
					}
					ok += exchange_batch(xfd, lines);
				}
			} else {
				/* promote b, demote a (alternating each round) */
				void **up = r % 2 ? pa : pb, **down = r % 2 ? pb : pa;

				syscall(SYS_move_pages, 0, n, up, n0, st, 0);
				for (i = 0; i < n; i++)
					ok += st[i] == 0;
				syscall(SYS_move_pages, 0, n, down, n1, st, 0);
			}
			tried += n;
		}
		el = now() - t0;
		c = cpu() - c0;
		printf("%s_pairs %ld\n%s_ok %ld\n%s_pairs_per_s %.0f\n"
		       "%s_cpu_us_per_pair %.1f\n%s_success_pct %.1f\n",
		       name, tried, name, ok, name, ok / el, name,
		       tried ? 1e6 * c / tried : 0, name,
		       tried ? 100.0 * ok / tried : 0);
		/* Put everything back for the next mode. */
		syscall(SYS_move_pages, 0, n, pa, n0, st, 0);
		syscall(SYS_move_pages, 0, n, pb, n1, st, 0);
	}
	return 0;
}
