// SPDX-License-Identifier: GPL-2.0
/*
 * nodesplit: random accesses split between a node 0 and a node 1 region,
 * with a known share; the ground truth for the access meter
 * (libhtiermeter.so, bench/meter-validate).
 *
 *   nodesplit [-a MiB] [-b MiB] [-p share_A] [-t seconds] [-g gap_s] [-P]
 *
 * Maps region A (-a MiB, default 32) bound to node 0 and region B (-b MiB,
 * default 128) bound to node 1 (mbind MPOL_BIND, kept, no THP), writes
 * every word, and checks with move_pages(2) that every page sits on its
 * node: "placed a_node0=<n>/<n> b_node1=<n>/<n> setup_s=<s>". Then it
 * prints "ready", sleeps -g seconds (default 0), prints "go", and for -t
 * seconds (default 10) runs random 8-byte read-modify-writes (one load and one
 * store of one word): a share -p (default 0.5) of them to a uniformly random
 * word of A, the rest to one of B. It prints "ops_s=<n>" every second and
 * at the end "ops=<total> ops_a=<n> seconds=<s>", sleeps -g seconds again
 * and checks every word: its low half must still hold its index hash, and
 * the high halves must add up to the ops ("verify=ok", else
 * "verify=FAILED ..." and exit 1). The gaps let a meter tell the timed
 * phase's accesses to A and B, exactly 2 * ops_a and 2 * (ops - ops_a),
 * from the setup's and the check's.
 *
 * With -P (root only) it reads the guest-physical page numbers of A and B
 * from /proc/self/pagemap before "ready" and prints them before the
 * verdict, sorted and merged into ranges on one or more lines, after the
 * number of pages whose frame changed in between:
 *
 *   pfns_moved=<n>
 *   pfns_a <first>-<last> <first>-<last> ...
 *   pfns_b ...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MIB (1024UL * 1024)
#define MPOL_BIND 2
#define BATCH 65536
#define RANGES_PER_LINE 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint32_t word_hash(uint64_t idx)
{
	return (uint32_t)((idx + 1) * 0x9e3779b97f4a7c15ULL >> 32);
}

static uint64_t *map_on(size_t size, int node)
{
	unsigned long mask = 1UL << node;
	uint64_t *p;
	size_t i;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (madvise(p, size, MADV_NOHUGEPAGE))
		perror("madvise(MADV_NOHUGEPAGE)");
	if (syscall(SYS_mbind, p, size, MPOL_BIND, &mask, 64, 0)) {
		perror("mbind");
		exit(1);
	}
	for (i = 0; i < size / 8; i++)
		p[i] = word_hash(i);
	return p;
}

/* How many pages of [p, p+size) sit on node. */
static size_t on_node(void *p, size_t size, int node)
{
	enum { CHUNK = 1024 };
	void *pages[CHUNK];
	int status[CHUNK];
	size_t psize = sysconf(_SC_PAGESIZE), n = size / psize, i, done, hit = 0;

	for (done = 0; done < n; done += CHUNK) {
		size_t k = n - done < CHUNK ? n - done : CHUNK;

		for (i = 0; i < k; i++)
			pages[i] = (char *)p + (done + i) * psize;
		if (syscall(SYS_move_pages, 0, k, pages, NULL, status, 0)) {
			perror("move_pages");
			exit(1);
		}
		for (i = 0; i < k; i++)
			hit += status[i] == node;
	}
	return hit;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Guest-physical page numbers of [p, p+size), in address order. */
static uint64_t *read_pfns(void *p, size_t size)
{
	size_t psize = sysconf(_SC_PAGESIZE), n = size / psize, i;
	uint64_t *ent = malloc(n * 8);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (!ent || fd < 0 ||
	    pread(fd, ent, n * 8, (uintptr_t)p / psize * 8) != (ssize_t)(n * 8)) {
		perror("pagemap");
		exit(1);
	}
	close(fd);
	for (i = 0; i < n; i++) {
		/* bit 63: present; bits 0-54: PFN, zero without CAP_SYS_ADMIN */
		if (!(ent[i] >> 63) || !(ent[i] & ((1ULL << 55) - 1))) {
			fprintf(stderr, "nodesplit: page %zu: no PFN (root?)\n", i);
			exit(1);
		}
		ent[i] &= (1ULL << 55) - 1;
	}
	return ent;
}

static void print_pfns(const char *name, uint64_t *pfn, size_t n)
{
	size_t i, k = 0;

	qsort(pfn, n, 8, cmp_u64);
	for (i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && pfn[j + 1] == pfn[j] + 1)
			j++;
		if (k % RANGES_PER_LINE == 0)
			printf("%spfns_%s", k ? "\n" : "", name);
		printf(" %llu-%llu", (unsigned long long)pfn[i],
		       (unsigned long long)pfn[j]);
		k++;
		i = j + 1;
	}
	printf("\n");
}

/* Pages whose frame changed since @before (compaction, migration). */
static size_t moved(void *p, size_t size, const uint64_t *before)
{
	size_t n = size / sysconf(_SC_PAGESIZE), i, m = 0;
	uint64_t *now = read_pfns(p, size);

	for (i = 0; i < n; i++)
		m += now[i] != before[i];
	free(now);
	return m;
}

int main(int argc, char **argv)
{
	unsigned long a_mib = 32, b_mib = 128;
	double share = 0.5, seconds = 10, gap = 0, t0, tsec, tend;
	uint64_t *a, *b, x = 0x2545f4914f6cdd1dULL, ops = 0, ops_a = 0;
	uint64_t last_ops = 0, sum = 0, bad = 0, thr, na, nb, i;
	size_t asize, bsize, ina, inb;
	uint64_t *pa = NULL, *pb = NULL;
	int opt, pfns = 0;

	while ((opt = getopt(argc, argv, "a:b:p:t:g:P")) != -1) {
		switch (opt) {
		case 'a': a_mib = strtoul(optarg, NULL, 0); break;
		case 'b': b_mib = strtoul(optarg, NULL, 0); break;
		case 'p': share = strtod(optarg, NULL); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'g': gap = strtod(optarg, NULL); break;
		case 'P': pfns = 1; break;
		default:
			fprintf(stderr, "usage: %s [-a MiB] [-b MiB] [-p share_A] [-t s] [-g s] [-P]\n",
				argv[0]);
			return 2;
		}
	}
	if (!a_mib || !b_mib || share < 0 || share > 1 || seconds <= 0 ||
	    gap < 0) {
		fprintf(stderr, "nodesplit: bad arguments\n");
		return 2;
	}
	t0 = now();
	asize = a_mib * MIB;
	bsize = b_mib * MIB;
	a = map_on(asize, 0);
	b = map_on(bsize, 1);
	ina = on_node(a, asize, 0);
	inb = on_node(b, bsize, 1);
	printf("placed a_node0=%zu/%zu b_node1=%zu/%zu setup_s=%.2f\n", ina,
	       asize / 4096, inb, bsize / 4096, now() - t0);
	if (pfns) {
		pa = read_pfns(a, asize);
		pb = read_pfns(b, bsize);
	}
	printf("ready\n");
	fflush(stdout);
	pause_s(gap);
	printf("go\n");
	fflush(stdout);

	na = asize / 8;
	nb = bsize / 8;
	/* share in 1/2^32 steps; 1.0 must mean every op. */
	thr = share >= 1 ? 1ULL << 32 : (uint64_t)(share * 4294967296.0);
	t0 = now();
	tsec = t0 + 1;
	tend = t0 + seconds;
	for (;;) {
		double t;

		for (i = 0; i < BATCH; i++) {
			uint64_t r, *w;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			r = x;
			/* Low 32 bits pick the region, high 32 the word. */
			if ((r & 0xffffffff) < thr) {
				w = &a[(r >> 32) * na >> 32];
				ops_a++;
			} else {
				w = &b[(r >> 32) * nb >> 32];
			}
			*(volatile uint64_t *)w += 1ULL << 32;
		}
		ops += BATCH;
		t = now();
		if (t >= tsec) {
			printf("ops_s=%llu\n",
			       (unsigned long long)((ops - last_ops) / (t - tsec + 1)));
			fflush(stdout);
			last_ops = ops;
			tsec = t + 1;
		}
		if (t >= tend)
			break;
	}
	printf("ops=%llu ops_a=%llu seconds=%.2f\n", (unsigned long long)ops,
	       (unsigned long long)ops_a, now() - t0);
	fflush(stdout);
	pause_s(gap);

	for (i = 0; i < na; i++) {
		bad += (uint32_t)a[i] != word_hash(i);
		sum += a[i] >> 32;
	}
	for (i = 0; i < nb; i++) {
		bad += (uint32_t)b[i] != word_hash(i);
		sum += b[i] >> 32;
	}
	/* Printed last, so that "ready" reaches a slow serial port at once. */
	if (pfns) {
		printf("pfns_moved=%zu\n",
		       moved(a, asize, pa) + moved(b, bsize, pb));
		print_pfns("a", pa, asize / 4096);
		print_pfns("b", pb, bsize / 4096);
	}
	if (bad || sum != ops) {
		printf("verify=FAILED bad=%llu sum=%llu\n",
		       (unsigned long long)bad, (unsigned long long)sum);
		return 1;
	}
	printf("verify=ok\n");
	return 0;
}
