// SPDX-License-Identifier: GPL-2.0
/*
 * hotset: a workload with a known hot set, for hplace sampling tests.
 *
 *   hotset [-m total_MiB] [-H hot_MiB] [-o hot_offset_MiB] [-t seconds]
 *          [-c cold_permille] [-T]
 *
 * Maps total_MiB of private anonymous memory, writes every page once (so
 * all of it is resident), prints one line
 *
 *   pid=<pid> base=0x<addr> size=<bytes> hot_start=0x<addr> hot_end=0x<addr>
 *
 * and then, for `seconds` (0: until killed), keeps touching the hot part:
 * sweeps writing one word per page.  With -c, that many permille of the
 * touches go to random pages outside the hot part instead.  -T asks for
 * transparent huge pages (MADV_HUGEPAGE); by default they are refused
 * (MADV_NOHUGEPAGE) so every 4 KiB page has its own accessed bit.
 * On exit it prints "sweeps=<n> touches=<n>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#define MIB (1024UL * 1024)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	unsigned long total = 1024, hot = 64, off = (unsigned long)-1;
	unsigned long cold_pm = 0, sweeps = 0, touches = 0;
	double seconds = 0, t0;
	long page = sysconf(_SC_PAGESIZE);
	int opt, thp = 0;
	char *base, *hs;
	size_t size, hsize, i, npages;

	while ((opt = getopt(argc, argv, "m:H:o:t:c:T")) != -1) {
		switch (opt) {
		case 'm': total = strtoul(optarg, NULL, 0); break;
		case 'H': hot = strtoul(optarg, NULL, 0); break;
		case 'o': off = strtoul(optarg, NULL, 0); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'c': cold_pm = strtoul(optarg, NULL, 0); break;
		case 'T': thp = 1; break;
		default:
			fprintf(stderr, "usage: %s [-m MiB] [-H MiB] [-o MiB] [-t s] [-c permille] [-T]\n",
				argv[0]);
			return 2;
		}
	}
	if (off == (unsigned long)-1)
		off = (total - hot) / 2;
	if (!hot || hot > total || off + hot > total || cold_pm > 1000) {
		fprintf(stderr, "hotset: bad sizes\n");
		return 2;
	}
	size = total * MIB;
	hsize = hot * MIB;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(base, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (i = 0; i < size; i += page)
		base[i] = 1;
	hs = base + off * MIB;
	printf("pid=%d base=%p size=%zu hot_start=%p hot_end=%p\n", getpid(),
	       (void *)base, size, (void *)hs, (void *)(hs + hsize));
	fflush(stdout);

	npages = size / page;
	t0 = now();
	while (!seconds || now() - t0 < seconds) {
		for (i = 0; i < hsize; i += page) {
			if (cold_pm && xorshift() % 1000 < cold_pm) {
				size_t pg = xorshift() % npages;

				base[pg * page]++;
			} else {
				hs[i]++;
			}
			touches++;
		}
		sweeps++;
	}
	printf("sweeps=%lu touches=%lu\n", sweeps, touches);
	return 0;
}
