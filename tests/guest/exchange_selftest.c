// SPDX-License-Identifier: GPL-2.0
/*
 * exchange_selftest: page exchange cases KUnit cannot build, driven through
 * /sys/kernel/debug/page_exchange/exchange. Every case checks contents,
 * mappings (a later write is seen by every sharer, and only by them) and node
 * placement (move_pages(2) with NULL nodes) after the exchange.
 *
 * Needs two NUMA nodes (0 and 1); prints TAP.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "exchange_util.h"

static long psz;
static int test_nr, failures;

static void report(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#include <stdarg.h>
static void report(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - %s", ok ? "" : "not ", ++test_nr, name);
	if (fmt && *fmt) {
		printf(" # ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void fill(void *p, uint32_t seed)
{
	uint32_t *w = p;
	long i;

	for (i = 0; i < psz / 4; i++)
		w[i] = seed * 2654435761u + (uint32_t)i;
}

static int check(const void *p, uint32_t seed)
{
	const uint32_t *w = p;
	long i;

	for (i = 0; i < psz / 4; i++)
		if (w[i] != seed * 2654435761u + (uint32_t)i)
			return 0;
	return 1;
}

static void *map(int shared)
{
	void *p = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* Populate @p with @seed on @node; 0 on success. */
static int place(void *p, uint32_t seed, int node)
{
	fill(p, seed);
	return page_move(0, p, node) == node ? 0 : -1;
}

/* A child that holds a pipe pair and runs @fn when told to. */
struct child {
	pid_t pid;
	int to[2], from[2];
};

static void child_cmd(struct child *c, char cmd, char *reply)
{
	if (write(c->to[1], &cmd, 1) != 1 || read(c->from[0], reply, 1) != 1)
		*reply = '?';
}

/* Tell the child to exit (it does not answer), reap it, close the pipes. */
static void child_quit(struct child *c)
{
	char cmd = 'q';

	if (write(c->to[1], &cmd, 1) != 1)
		kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->to[0]);
	close(c->to[1]);
	close(c->from[0]);
	close(c->from[1]);
}

/* 1: private anonymous pages in one process. */
static void test_private_same_process(void)
{
	char *a = map(0), *b = map(0), why[64];
	int ret, na, nb;

	if (place(a, 1, 0) || place(b, 2, 1)) {
		report(0, "private pages in one process", "setup move_pages failed");
		return;
	}
	ret = xchg_pages(getpid(), a, getpid(), b, why, sizeof(why));
	na = page_node(0, a);
	nb = page_node(0, b);
	report(ret == 0 && check(a, 1) && check(b, 2) && na == 1 && nb == 0,
	       "private pages in one process",
	       "ret %d (%s) nodes a=%d b=%d", ret, why, na, nb);
	/* The mappings still work for writing. */
	fill(a, 3);
	fill(b, 4);
	report(check(a, 3) && check(b, 4), "private pages writable after exchange", NULL);
	munmap(a, psz);
	munmap(b, psz);
}

/* 2: across two processes; the child checks its own view. */
static void test_cross_process(void)
{
	char *a = map(0), *c = map(0), why[64], r;
	struct child ch;
	int ret, na, nc;

	if (place(a, 10, 0) || place(c, 11, 1)) {
		report(0, "private pages across two processes", "setup failed");
		return;
	}
	if (pipe(ch.to) || pipe(ch.from))
		exit(2);
	ch.pid = fork();
	if (ch.pid == 0) {
		char cmd;

		uint32_t seed = 12;

		/* Break COW: the child's page c is its own. */
		fill(c, seed);
		page_move(0, c, 1);
		while (read(ch.to[0], &cmd, 1) == 1) {
			char ok = '0';

			if (cmd == 'c') {
				ok = check(c, seed) ? '1' : '0';
			} else if (cmd == 'w') {
				seed = 13;
				fill(c, seed);
				ok = '1';
			} else if (cmd == 'n') {
				ok = '0' + page_node(0, c);
			} else if (cmd == 'q') {
				_exit(0);
			}
			if (write(ch.from[1], &ok, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	child_cmd(&ch, 'n', &r);	/* wait until the child is set up */
	ret = xchg_pages(getpid(), a, ch.pid, c, why, sizeof(why));
	na = page_node(0, a);
	child_cmd(&ch, 'n', &r);
	nc = r - '0';
	child_cmd(&ch, 'c', &r);
	report(ret == 0 && check(a, 10) && r == '1' && na == 1 && nc == 0,
	       "private pages across two processes",
	       "ret %d (%s) nodes parent=%d child=%d child-ok=%c", ret, why,
	       na, nc, r);
	child_cmd(&ch, 'w', &r);
	child_cmd(&ch, 'c', &r);
	report(check(a, 10) && r == '1',
	       "child write after exchange stays private", "child-ok=%c", r);
	child_quit(&ch);
	munmap(a, psz);
	munmap(c, psz);
}

/* 3: a page shared copy-on-write after fork, then broken by a write. */
static void test_cow_after_fork(void)
{
	char *p = map(0), *q = map(0), why[64], r;
	struct child ch;
	int ret, np, nq, nchild;

	if (place(p, 20, 0) || place(q, 21, 1)) {
		report(0, "COW-shared page after fork", "setup failed");
		return;
	}
	if (pipe(ch.to) || pipe(ch.from))
		exit(2);
	ch.pid = fork();
	if (ch.pid == 0) {
		char cmd;

		while (read(ch.to[0], &cmd, 1) == 1) {
			char ok = '0';

			if (cmd == 'c')
				ok = check(p, 20) ? '1' : '0';
			else if (cmd == 'n')
				ok = '0' + page_node(0, p);
			else if (cmd == 'w') {
				fill(p, 22);
				ok = check(p, 22) ? '1' : '0';
			} else if (cmd == 'q') {
				_exit(0);
			}
			if (write(ch.from[1], &ok, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	child_cmd(&ch, 'n', &r);
	/* p is mapped by both processes: one exchange moves both mappings. */
	ret = xchg_pages(getpid(), p, getpid(), q, why, sizeof(why));
	np = page_node(0, p);
	nq = page_node(0, q);
	child_cmd(&ch, 'n', &r);
	nchild = r - '0';
	child_cmd(&ch, 'c', &r);
	report(ret == 0 && check(p, 20) && check(q, 21) && r == '1' &&
	       np == 1 && nq == 0 && nchild == 1,
	       "COW-shared page after fork",
	       "ret %d (%s) nodes p=%d q=%d child-p=%d child-ok=%c", ret, why,
	       np, nq, nchild, r);
	/* Breaking COW in the child must leave the parent's copy alone. */
	child_cmd(&ch, 'w', &r);
	report(r == '1' && check(p, 20), "COW break after exchange", "child %c", r);
	fill(p, 23);
	child_cmd(&ch, 'w', &r);
	report(check(p, 23) && r == '1', "parent write after COW break", NULL);
	child_quit(&ch);
	munmap(p, psz);
	munmap(q, psz);
}

/*
 * 4: shared anonymous (shmem) pages stay shared after exchange with shmem;
 * anonymous with shmem is refused (mm/exchange.c: only like with like).
 */
static void test_shmem(void)
{
	char *s = map(1), *t = map(1), *a = map(0), why[64], r;
	struct child ch;
	int ret, ns, nt, na, ret2;

	if (place(s, 30, 0) || place(a, 31, 1) || place(t, 32, 1)) {
		report(0, "shmem page with shmem page of another mapping", "setup failed");
		return;
	}
	if (pipe(ch.to) || pipe(ch.from))
		exit(2);
	ch.pid = fork();
	if (ch.pid == 0) {
		char cmd;

		while (read(ch.to[0], &cmd, 1) == 1) {
			char ok = '0';

			if (cmd == 'c')
				ok = check(s, 30) ? '1' : '0';
			else if (cmd == 'w') {
				fill(s, 33);
				ok = '1';
			} else if (cmd == 'n') {
				ok = '0' + page_node(0, s);
			} else if (cmd == 'q') {
				_exit(0);
			}
			if (write(ch.from[1], &ok, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	child_cmd(&ch, 'n', &r);
	/* s named through the child, t through the parent. */
	ret = xchg_pages(ch.pid, s, getpid(), t, why, sizeof(why));
	ns = page_node(0, s);
	nt = page_node(0, t);
	child_cmd(&ch, 'c', &r);
	report(ret == 0 && check(s, 30) && check(t, 32) && r == '1' &&
	       ns == 1 && nt == 0,
	       "shmem page with shmem page of another mapping",
	       "ret %d (%s) nodes s=%d t=%d child-ok=%c", ret, why, ns, nt, r);
	/* Still one shared page: the child's write shows in the parent. */
	child_cmd(&ch, 'w', &r);
	report(check(s, 33) && check(t, 32), "shmem still shared after exchange", NULL);

	/* And back: each page returns to its first frame. */
	ret = xchg_pages(getpid(), s, getpid(), t, why, sizeof(why));
	ns = page_node(0, s);
	nt = page_node(0, t);
	child_cmd(&ch, 'n', &r);
	report(ret == 0 && check(s, 33) && check(t, 32) && ns == 0 && nt == 1 &&
	       r == '0',
	       "shmem pages exchanged back",
	       "ret %d (%s) nodes s=%d t=%d child-s=%c", ret, why, ns, nt, r);

	/* Anonymous with shmem: refused, both left as they were. */
	ret2 = xchg_pages(ch.pid, s, getpid(), a, why, sizeof(why));
	ns = page_node(0, s);
	na = page_node(0, a);
	report(ret2 == -EOPNOTSUPP && !strcmp(why, "type") && check(s, 33) &&
	       check(a, 31) && ns == 0 && na == 1,
	       "shmem page with private page refused",
	       "ret %d (%s) nodes s=%d a=%d", ret2, why, ns, na);
	child_quit(&ch);
	munmap(s, psz);
	munmap(t, psz);
	munmap(a, psz);
}

/* 5: two pages of the same shmem mapping (one page-cache lock). */
static void test_shmem_same_mapping(void)
{
	char *m = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0), why[64];
	int ret, n0, n1;

	if (m == MAP_FAILED || place(m, 40, 0) || place(m + psz, 41, 1)) {
		report(0, "two pages of one shmem mapping", "setup failed");
		return;
	}
	ret = xchg_pages(getpid(), m, getpid(), m + psz, why, sizeof(why));
	n0 = page_node(0, m);
	n1 = page_node(0, m + psz);
	report(ret == 0 && check(m, 40) && check(m + psz, 41) && n0 == 1 && n1 == 0,
	       "two pages of one shmem mapping",
	       "ret %d (%s) nodes %d %d", ret, why, n0, n1);
	munmap(m, 2 * psz);
}

/* 6: an mlocked page is refused and left alone. */
static void test_mlocked(void)
{
	char *a = map(0), *b = map(0), why[64];
	int ret, na, nb;

	if (place(a, 50, 0) || place(b, 51, 1) || mlock(a, psz)) {
		report(0, "mlocked page refused", "setup failed: %s", strerror(errno));
		return;
	}
	ret = xchg_pages(getpid(), a, getpid(), b, why, sizeof(why));
	na = page_node(0, a);
	nb = page_node(0, b);
	report(ret == -EPERM && !strcmp(why, "mlocked") && check(a, 50) &&
	       check(b, 51) && na == 0 && nb == 1,
	       "mlocked page refused", "ret %d (%s) nodes %d %d", ret, why, na, nb);
	munlock(a, psz);
	munmap(a, psz);
	munmap(b, psz);
}

/*
 * 7: a page referenced through GUP (vmsplice() into a pipe holds page
 * references taken by get_user_pages) is refused until the pipe is drained.
 * FOLL_PIN (pin_user_pages) is covered by KUnit: this kernel has no io_uring.
 */
static void test_gup_reference(void)
{
	char *a = map(0), *b = map(0), why[64], *sink = malloc(psz);
	struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
	int fds[2], ret, ret2, na, nb;

	if (place(a, 60, 0) || place(b, 61, 1) || pipe(fds) || !sink) {
		report(0, "GUP-referenced page refused", "setup failed");
		return;
	}
	iov.iov_base = a;
	iov.iov_len = psz;
	if (vmsplice(fds[1], &iov, 1, 0) != psz) {
		report(1, "GUP-referenced page refused", "SKIP vmsplice: %s",
		       strerror(errno));
		return;
	}
	ret = xchg_pages(getpid(), a, getpid(), b, why, sizeof(why));
	na = page_node(0, a);
	nb = page_node(0, b);
	report(ret == -EAGAIN && !strcmp(why, "refcount") && check(a, 60) &&
	       check(b, 61) && na == 0 && nb == 1,
	       "GUP-referenced page refused",
	       "ret %d (%s) nodes %d %d", ret, why, na, nb);
	if (read(fds[0], sink, psz) != psz || !check(sink, 60))
		report(0, "pipe data intact", NULL);
	close(fds[0]);
	close(fds[1]);
	ret2 = xchg_pages(getpid(), a, getpid(), b, why, sizeof(why));
	report(ret2 == 0 && check(a, 60) && check(b, 61) &&
	       page_node(0, a) == 1 && page_node(0, b) == 0,
	       "exchange allowed once the reference is gone",
	       "ret %d (%s)", ret2, why);
	free(sink);
	munmap(a, psz);
	munmap(b, psz);
}

/* Writing @line fails with EINVAL and @a, @b stay on nodes 0 and 1. */
static void refused_unmoved(const char *line, void *a, void *b,
			    const char *name)
{
	int ret = xchg_pages_n(line, NULL, 0);
	int na = page_node(0, a), nb = page_node(0, b);

	report(ret == -EINVAL && na == 0 && nb == 1, name,
	       "ret %d nodes %d %d", ret, na, nb);
}

/* 8: refusals that need no setup beyond a mapping. */
static void test_trivial_refusals(void)
{
	char *a = map(0), *b = map(0), why[64], line[160];
	int ret, na, nb;

	fill(a, 70);
	ret = xchg_pages(getpid(), a, getpid(), a, why, sizeof(why));
	report(ret == -EINVAL && !strcmp(why, "same") && check(a, 70),
	       "same page refused", "ret %d (%s)", ret, why);

	/* The debugfs file's lines: exactly four fields, hex addresses. */
	if (place(a, 70, 0) || place(b, 71, 1)) {
		report(0, "debugfs lines with four fields, hex addresses",
		       "setup failed");
		munmap(a, psz);
		munmap(b, psz);
		return;
	}
	snprintf(line, sizeof(line), "%d %lx %d %lx junk\n", getpid(),
		 (unsigned long)a, getpid(), (unsigned long)b);
	refused_unmoved(line, a, b, "a line with a fifth field refused, nothing moved");
	snprintf(line, sizeof(line), "%d %lx %d\n", getpid(),
		 (unsigned long)a, getpid());
	refused_unmoved(line, a, b, "a line with three fields refused, nothing moved");
	snprintf(line, sizeof(line), "%d %#lx %d %#lx\n", getpid(),
		 (unsigned long)a, getpid(), (unsigned long)b);
	ret = xchg_pages_n(line, why, sizeof(why));
	na = page_node(0, a);
	nb = page_node(0, b);
	report(ret == 0 && na == 1 && nb == 0 && check(a, 70) && check(b, 71),
	       "0x-prefixed addresses accepted", "ret %d (%s) nodes %d %d",
	       ret, why, na, nb);
	munmap(a, psz);
	munmap(b, psz);
}

/* 9: a transparent huge page is refused (order > 0). */
static void test_thp(void)
{
	size_t huge = 2UL << 20;
	char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *h, *b = map(0);
	char why[64];
	int ret;

	h = (char *)(((unsigned long)raw + huge - 1) & ~(huge - 1));
	if (raw == MAP_FAILED || madvise(h, huge, MADV_HUGEPAGE)) {
		report(1, "huge page refused", "SKIP no THP: %s", strerror(errno));
		return;
	}
	memset(h, 1, huge);
	fill(b, 80);
	ret = xchg_pages(getpid(), h, getpid(), b, why, sizeof(why));
	if (!strcmp(why, "ok") || !strcmp(why, "isolate")) {
		/* Not backed by a THP after all (fragmented memory). */
		report(1, "huge page refused", "SKIP got %s: no THP allocated", why);
	} else {
		report(ret == -E2BIG && !strcmp(why, "large") && check(b, 80),
		       "huge page refused", "ret %d (%s)", ret, why);
	}
	munmap(raw, 2 * huge);
	munmap(b, psz);
}

/* 10: several pairs in one write are exchanged as one batch. */
static void test_batch(void)
{
	enum { N = 8 };
	char *a = mmap(NULL, 2 * N * psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char lines[N * 64], why[64];
	int i, ok = 1, ret, off = 0;

	for (i = 0; i < 2 * N; i++)
		if (place(a + i * psz, 90 + i, i < N ? 0 : 1))
			ok = 0;
	for (i = 0; i < N; i++)
		off += snprintf(lines + off, sizeof(lines) - off, "%d %lx %d %lx\n",
				getpid(), (unsigned long)(a + i * psz), getpid(),
				(unsigned long)(a + (N + i) * psz));
	ret = xchg_pages_n(lines, why, sizeof(why));
	for (i = 0; i < 2 * N; i++)
		if (!check(a + i * psz, 90 + i) ||
		    page_node(0, a + i * psz) != (i < N ? 1 : 0))
			ok = 0;
	report(ok && ret == 0, "batch of 8 pairs in one write", "ret %d (%s)", ret, why);
	munmap(a, 2 * N * psz);
}

int main(void)
{
	long before, after;

	psz = sysconf(_SC_PAGESIZE);
	if (access(XCHG_PATH, W_OK)) {
		printf("1..0 # SKIP %s: %s\n", XCHG_PATH, strerror(errno));
		return 0;
	}
	if (page_move(0, &psz, 1) != 1) {
		printf("1..0 # SKIP node 1 not usable (move_pages)\n");
		return 0;
	}
	before = xchg_stat("exchanged");
	test_private_same_process();
	test_cross_process();
	test_cow_after_fork();
	test_shmem();
	test_shmem_same_mapping();
	test_mlocked();
	test_gup_reference();
	test_trivial_refusals();
	test_thp();
	test_batch();
	after = xchg_stat("exchanged");
	report(after - before >= 15, "exchange counter advanced",
	       "%ld exchanges", after - before);
	printf("1..%d\n", test_nr);
	return failures ? 1 : 0;
}
