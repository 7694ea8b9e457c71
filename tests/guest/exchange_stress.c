// SPDX-License-Identifier: GPL-2.0
/*
 * exchange_stress: page-exchange integrity stress.
 *
 * Worker processes keep rewriting and verifying checksummed pages of three
 * kinds: private anonymous, shared anonymous (shmem, one slice per worker)
 * and forked (written, then shared copy-on-write with a grandchild that only
 * verifies, while the worker keeps breaking COW on some of them). Meanwhile
 * the parent exchanges random pairs of those pages (across processes and
 * nodes; anonymous with anonymous, shmem with shmem) through
 * /sys/kernel/debug/page_exchange/exchange until it has done -n exchanges
 * or -t seconds passed. Every page carries its owner, index and generation;
 * a lost write, a page swapped into the wrong place or a lost page fails
 * verification.
 *
 * Usage: exchange_stress [-n exchanges] [-t seconds] [-w workers] [-p pages]
 * Prints TAP; exits non-zero on corruption or if fewer than -n exchanges
 * were done.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "exchange_util.h"

#define MAX_WORKERS 16
#define BATCH 16

struct ctl {
	volatile int stop;
	volatile int ready[MAX_WORKERS];
	volatile pid_t gpid[MAX_WORKERS];
	volatile uintptr_t priv[MAX_WORKERS], forked[MAX_WORKERS];
	volatile long verified[MAX_WORKERS], gverified[MAX_WORKERS];
	volatile long errors[MAX_WORKERS];
	volatile long first_error[MAX_WORKERS];
};

static long psz;
static int npages = 32;
static struct ctl *ctl;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(uint64_t *w, uint64_t tag, uint64_t gen)
{
	uint64_t k = (tag ^ (gen << 40)) * 0x9E3779B97F4A7C15ull;
	long i;

	w[0] = tag;
	w[1] = gen;
	for (i = 2; i < psz / 8; i++)
		w[i] = k + (uint64_t)i * 0xD1B54A32D192ED03ull;
}

static int verify(const uint64_t *w, uint64_t tag, uint64_t gen)
{
	uint64_t k = (tag ^ (gen << 40)) * 0x9E3779B97F4A7C15ull;
	long i;

	if (w[0] != tag || w[1] != gen)
		return 0;
	for (i = 2; i < psz / 8; i++)
		if (w[i] != k + (uint64_t)i * 0xD1B54A32D192ED03ull)
			return 0;
	return 1;
}

static void *map(long n, int shared)
{
	void *p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static void fail(int w, uint64_t tag)
{
	if (ctl->errors[w]++ == 0)
		ctl->first_error[w] = (long)tag;
}

/* Grandchild: verify the COW-shared pages as they were at fork. */
static void grandchild(int w, char *forked, const uint64_t *gen)
{
	int i;

	while (!ctl->stop) {
		for (i = 0; i < npages; i++) {
			uint64_t tag = ((uint64_t)(w + 1) << 48) | (3ull << 32) | i;

			if (!verify((uint64_t *)(forked + i * psz), tag, gen[i]))
				fail(w, tag);
			ctl->gverified[w]++;
		}
		usleep(2000);
	}
	_exit(0);
}

static void worker(int w, char *shared)
{
	char *priv = map(npages, 0), *forked = map(npages, 0);
	uint64_t *gp = calloc(npages, 8), *gs = calloc(npages, 8),
		 *gf = calloc(npages, 8);
	char *sets[3] = { priv, shared, forked };
	uint64_t *gens[3] = { gp, gs, gf };
	unsigned int seed = w * 7919 + 1;
	pid_t g;
	int i, s;

	for (s = 0; s < 3; s++)
		for (i = 0; i < npages; i++)
			fill((uint64_t *)(sets[s] + i * psz),
			     ((uint64_t)(w + 1) << 48) | ((uint64_t)(s + 1) << 32) | i,
			     0);
	g = fork();
	if (g == 0)
		grandchild(w, forked, gf);
	ctl->gpid[w] = g;
	ctl->priv[w] = (uintptr_t)priv;
	ctl->forked[w] = (uintptr_t)forked;
	ctl->ready[w] = 1;

	while (!ctl->stop) {
		for (s = 0; s < 3; s++) {
			for (i = 0; i < npages; i++) {
				uint64_t tag = ((uint64_t)(w + 1) << 48) |
					       ((uint64_t)(s + 1) << 32) | i;
				uint64_t *page = (uint64_t *)(sets[s] + i * psz);

				if (!verify(page, tag, gens[s][i]))
					fail(w, tag);
				ctl->verified[w]++;
				/*
				 * Rewrite private and shared pages; break COW
				 * on a few forked ones (the grandchild keeps
				 * the old copy, so its generation stays).
				 */
				if (s < 2 || rand_r(&seed) % 16 == 0) {
					if (s == 2 && gens[s][i] == 0)
						gens[s][i] = 1000000;
					gens[s][i]++;
					fill(page, tag, gens[s][i]);
				}
			}
		}
		usleep(2000);
	}
	/* Final pass after the last exchange. */
	for (s = 0; s < 3; s++)
		for (i = 0; i < npages; i++)
			if (!verify((uint64_t *)(sets[s] + i * psz),
				    ((uint64_t)(w + 1) << 48) |
				    ((uint64_t)(s + 1) << 32) | i, gens[s][i]))
				fail(w, i);
	waitpid(g, NULL, 0);
	_exit(0);
}

struct target {
	int pid;
	uintptr_t addr;
};

/*
 * A random target not used yet in this batch: a folio in two pairs of one
 * batch cannot be isolated twice. The forked page seen from the worker and
 * from the grandchild (targets 4k+2 and 4k+3) may be one folio. Shared
 * targets (4k+1) are shmem and pair only with each other, private and
 * forked ones are anonymous: exchange refuses anonymous with shmem.
 * @shared: 1 or 0 for that kind, -1 for any.
 */
static struct target *pick(struct target *t, int nt, char *used,
			   unsigned int *seed, int shared)
{
	int i, key;

	do {
		i = rand_r(seed) % nt;
		key = i % 4 == 3 ? i - 1 : i;
	} while (used[key] || (shared >= 0 && (i % 4 == 1) != shared));
	used[key] = 1;
	return &t[i];
}

int main(int argc, char **argv)
{
	long want = 100000, done = 0, tried = 0, errors = 0, verified = 0;
	int workers = 4, seconds = 600, opt, w, i, nt = 0, ok = 1;
	char *shared, lines[BATCH * 64], res[BATCH * 16];
	unsigned int seed = 12345;
	struct target *t;
	char *used;
	pid_t pids[MAX_WORKERS];
	double t0, el;
	int fd;

	while ((opt = getopt(argc, argv, "n:t:w:p:")) != -1) {
		switch (opt) {
		case 'n': want = atol(optarg); break;
		case 't': seconds = atoi(optarg); break;
		case 'w': workers = atoi(optarg); break;
		case 'p': npages = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-t S] [-w W] [-p P]\n", argv[0]);
			return 2;
		}
	}
	if (workers < 1 || workers > MAX_WORKERS || npages < 1)
		return 2;
	psz = sysconf(_SC_PAGESIZE);
	fd = open(XCHG_PATH, O_RDWR);
	if (fd < 0) {
		printf("1..0 # SKIP %s: %s\n", XCHG_PATH, strerror(errno));
		return 0;
	}
	ctl = map(1 + sizeof(*ctl) / psz, 1);
	shared = map((long)workers * npages, 1);
	for (w = 0; w < workers; w++) {
		pids[w] = fork();
		if (pids[w] == 0)
			worker(w, shared + (long)w * npages * psz);
	}
	for (w = 0; w < workers; w++)
		while (!ctl->ready[w])
			usleep(1000);

	/* Every (pid, address) that maps a test page; spread over both nodes. */
	t = calloc((size_t)workers * npages * 4, sizeof(*t));
	for (w = 0; w < workers; w++) {
		for (i = 0; i < npages; i++) {
			t[nt++] = (struct target){ pids[w], ctl->priv[w] + i * psz };
			t[nt++] = (struct target){ pids[w], (uintptr_t)shared +
						   ((long)w * npages + i) * psz };
			t[nt++] = (struct target){ pids[w], ctl->forked[w] + i * psz };
			t[nt++] = (struct target){ ctl->gpid[w], ctl->forked[w] + i * psz };
		}
	}
	used = calloc(nt, 1);
	if (nt < 4 * BATCH || !used)
		return 2;
	for (i = 0; i < nt; i += 2)
		page_move(t[i].pid, (void *)t[i].addr, 1);

	t0 = now();
	while (done < want && now() - t0 < seconds) {
		int off = 0, n;
		ssize_t r;

		memset(used, 0, nt);
		for (i = 0; i < BATCH; i++) {
			struct target *x = pick(t, nt, used, &seed, -1);
			struct target *y = pick(t, nt, used, &seed,
						(x - t) % 4 == 1);

			off += snprintf(lines + off, sizeof(lines) - off,
					"%d %lx %d %lx\n", x->pid,
					(unsigned long)x->addr, y->pid,
					(unsigned long)y->addr);
		}
		if (write(fd, lines, off) < 0 && errno != EAGAIN &&
		    errno != EINVAL && errno != EBUSY && errno != EPERM) {
			printf("# exchange write: %s\n", strerror(errno));
			ok = 0;
			break;
		}
		r = pread(fd, res, sizeof(res) - 1, 0);
		res[r > 0 ? r : 0] = '\0';
		for (char *p = res; (p = strstr(p, "ok\n")); p += 3)
			if (p == res || p[-1] == '\n')
				done++;
		n = BATCH;
		tried += n;
	}
	el = now() - t0;
	ctl->stop = 1;
	for (w = 0; w < workers; w++) {
		waitpid(pids[w], NULL, 0);
		errors += ctl->errors[w];
		verified += ctl->verified[w] + ctl->gverified[w];
		if (ctl->errors[w])
			printf("# worker %d: %ld bad pages, first tag %#lx\n", w,
			       ctl->errors[w], ctl->first_error[w]);
	}
	printf("%sok 1 - %ld exchanges of %ld attempted in %.1fs (%.0f/s)\n",
	       ok && done >= want ? "" : "not ", done, tried, el, done / el);
	printf("%sok 2 - no corrupted or lost page # %ld pages verified, %ld bad\n",
	       errors ? "not " : "", verified, errors);
	printf("1..2\n");
	close(fd);
	return ok && done >= want && !errors ? 0 : 1;
}
