// SPDX-License-Identifier: GPL-2.0
/*
 * hotset: a workload with a known hot set, for hplace tests.
 *
 *   hotset [-m total_MiB] [-H hot_MiB] [-o hot_offset_MiB] [-O next_MiB]
 *          [-t seconds] [-c cold_permille] [-r touches_per_s] [-n node] [-B]
 *          [-P] [-T]
 *
 * Maps total_MiB of private anonymous memory and writes every page once
 * (first touch on `node` with -n, through mbind(MPOL_BIND), after which the
 * policy goes back to the default so the pages may move; -B keeps the
 * binding, for tests of placement honouring mbind; -P binds the whole
 * process with set_mempolicy(MPOL_BIND) instead and keeps it), so all of it is
 * resident; each page's first word holds a checksum of its index.  Prints
 *
 *   pid=<pid> base=0x<addr> size=<bytes> hot_start=0x<addr> hot_end=0x<addr>
 *
 * and then, for `seconds` (0: until SIGTERM/SIGINT), keeps touching the hot
 * part: sweeps writing the second word of each page.  With -c, that many
 * permille of the touches go to random pages outside the hot part instead.
 * -r paces the touches (default: as fast as it can).  SIGUSR1 moves the hot
 * part to offset -O and prints "shifted hot_start=0x<addr> hot_end=0x<addr>".
 * -T asks for transparent huge pages (MADV_HUGEPAGE); by default they are
 * refused (MADV_NOHUGEPAGE) so every 4 KiB page has its own accessed bit.
 * On exit it checks every page's checksum and prints
 * "sweeps=<n> touches=<n> verify=ok" (or "verify=FAILED bad=<n>", exit 1).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MIB (1024UL * 1024)
#define MPOL_DEFAULT 0
#define MPOL_BIND 2

static volatile sig_atomic_t stop, shift;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_shift(int sig)
{
	(void)sig;
	shift = 1;
}

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

static uint64_t checksum(size_t idx)
{
	return (idx + 1) * 0x9e3779b97f4a7c15ULL;
}

int main(int argc, char **argv)
{
	unsigned long total = 1024, hot = 64, off = (unsigned long)-1;
	unsigned long next = (unsigned long)-1, cold_pm = 0;
	unsigned long sweeps = 0, touches = 0, bad = 0;
	double seconds = 0, rate = 0, t0;
	long page = sysconf(_SC_PAGESIZE);
	int opt, thp = 0, node = -1, keep_bind = 0, task_bind = 0;
	char *base, *hs;
	size_t size, hsize, i, npages, hot_first, hot_pages;
	unsigned long mask;

	while ((opt = getopt(argc, argv, "m:H:o:O:t:c:r:n:BPT")) != -1) {
		switch (opt) {
		case 'm': total = strtoul(optarg, NULL, 0); break;
		case 'H': hot = strtoul(optarg, NULL, 0); break;
		case 'o': off = strtoul(optarg, NULL, 0); break;
		case 'O': next = strtoul(optarg, NULL, 0); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'c': cold_pm = strtoul(optarg, NULL, 0); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'n': node = atoi(optarg); break;
		case 'B': keep_bind = 1; break;
		case 'P': task_bind = 1; break;
		case 'T': thp = 1; break;
		default:
			fprintf(stderr, "usage: %s [-m MiB] [-H MiB] [-o MiB] [-O MiB] [-t s] [-c permille] [-r touches/s] [-n node] [-B] [-T]\n",
				argv[0]);
			return 2;
		}
	}
	if (off == (unsigned long)-1)
		off = (total - hot) / 2;
	if (next == (unsigned long)-1)
		next = off;
	if (!hot || hot > total || off + hot > total || next + hot > total ||
	    cold_pm > 1000 || node > 63) {
		fprintf(stderr, "hotset: bad sizes\n");
		return 2;
	}
	mask = node >= 0 ? 1UL << node : 0;
	size = total * MIB;
	hsize = hot * MIB;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (madvise(base, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		perror(thp ? "madvise(MADV_HUGEPAGE)" : "madvise(MADV_NOHUGEPAGE)");
	if (node >= 0 && task_bind) {
		if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64)) {
			perror("set_mempolicy");
			return 1;
		}
	} else if (node >= 0) {
		if (syscall(SYS_mbind, base, size, MPOL_BIND, &mask, 64, 0)) {
			perror("mbind");
			return 1;
		}
	}
	npages = size / page;
	for (i = 0; i < npages; i++)
		*(volatile uint64_t *)(base + i * page) = checksum(i);
	if (node >= 0 && !keep_bind && !task_bind &&
	    syscall(SYS_mbind, base, size, MPOL_DEFAULT, NULL, 0, 0)) {
		perror("mbind default");
		return 1;
	}
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGUSR1, on_shift);
	hs = base + off * MIB;
	printf("pid=%d base=%p size=%zu hot_start=%p hot_end=%p\n", getpid(),
	       (void *)base, size, (void *)hs, (void *)(hs + hsize));
	fflush(stdout);

	hot_first = off * MIB / page;
	hot_pages = hsize / page;
	t0 = now();
	while (!stop && (!seconds || now() - t0 < seconds)) {
		if (shift) {
			shift = 0;
			hs = base + next * MIB;
			hot_first = next * MIB / page;
			printf("shifted hot_start=%p hot_end=%p\n", (void *)hs,
			       (void *)(hs + hsize));
			fflush(stdout);
		}
		for (i = 0; i < hsize && !stop; i += page) {
			if (cold_pm && npages > hot_pages &&
			    xorshift() % 1000 < cold_pm) {
				size_t pg = xorshift() % (npages - hot_pages);

				if (pg >= hot_first)
					pg += hot_pages;
				((volatile uint64_t *)(base + pg * page))[1]++;
			} else {
				((volatile uint64_t *)(hs + i))[1]++;
			}
			touches++;
			if (rate && !(touches & 1023)) {
				double ahead = touches / rate - (now() - t0);

				if (ahead > 0)
					usleep(ahead * 1e6);
			}
		}
		sweeps++;
	}
	for (i = 0; i < npages; i++)
		bad += *(volatile uint64_t *)(base + i * page) != checksum(i);
	printf("sweeps=%lu touches=%lu verify=%s", sweeps, touches,
	       bad ? "FAILED" : "ok");
	if (bad)
		printf(" bad=%lu", bad);
	printf("\n");
	return bad ? 1 : 0;
}
