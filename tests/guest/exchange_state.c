// SPDX-License-Identifier: GPL-2.0
/*
 * exchange_state: page exchange keeps what migration keeps.
 *
 * Each case sets up one piece of per-page state and moves the page to the
 * other NUMA node twice over: by page exchange (debugfs, with a partner page
 * on the other node) and by move_pages(2), that is upstream's migrate_pages(),
 * the path hplace's promotions and demotions take. What migration keeps,
 * exchange must keep; where exchange refuses a page it must say why and
 * leave the page exactly as it was.
 *
 *   soft-dirty     pagemap bit 55 follows the data (set stays set, clear
 *                  stays clear) and a write after the move is still tracked
 *   uffd-wp        pagemap bit 57 stays set and the next write still faults
 *                  to the handler thread, which sees the old data
 *   KSM            a merged page is refused ("type") and stays merged
 *   pinned         a FOLL_LONGTERM pin (GUP_TEST) is refused ("pinned"), as
 *                  migration refuses it; the pin still sees the mapped page
 *   mlocked        refused ("mlocked"): stays mlocked and unevictable, and
 *                  mlock()/munlock() racing exchanges strand no mlock
 *   hugetlb        refused ("large")
 *   MADV_FREE      a lazily freed page is refused ("type"), stays lazily
 *                  freed
 *   DONTFORK, WIPEONFORK   a child forked after the move has no page, or
 *                  zeroes
 *   writes during the move   threads storing into both pages, and pwrite()
 *                  into a shmem page, lose nothing while the pages move back
 *                  and forth
 *   unmap during the move   munmap() meeting a migration entry keeps the
 *                  rss counters right; anonymous with shmem is refused
 *
 * Needs two NUMA nodes (0 and 1) and root (pagemap PFNs, /proc/kpageflags,
 * KSM and hugetlb knobs); prints TAP. A case whose kernel feature is missing
 * is skipped with the reason.
 */
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/userfaultfd.h>

#include "exchange_util.h"

/* /proc/self/pagemap (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT	(1ULL << 63)
#define PM_UFFD_WP	(1ULL << 57)
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_PFN		((1ULL << 55) - 1)
/* /proc/kpageflags (include/uapi/linux/kernel-page-flags.h) */
#define KPF_SWAPBACKED	14
#define KPF_UNEVICTABLE	18
#define KPF_KSM		21
#define KPF_MLOCKED	33

/* GUP_TEST's ABI (mm/gup_test.h; no uapi header carries it) */
struct pin_longterm_test {
	uint64_t addr;
	uint64_t size;
	uint32_t flags;
};
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, uint64_t)
#define PIN_LONGTERM_TEST_FLAG_USE_WRITE	1
#define GUP_TEST_PATH "/sys/kernel/debug/gup_test"

#define KSM_DIR "/sys/kernel/mm/ksm/"
#define MOVE_ALL 4	/* MPOL_MF_MOVE_ALL */

enum how { EXCHANGE, MIGRATION };

/* A setup step failed: say which (TAP "Bail out!") before giving up. */
#define BAIL(what) do {							\
	printf("Bail out! %s: %s (line %d)\n", what, strerror(errno),	\
	       __LINE__);							\
	fflush(stdout);							\
	exit(2);							\
} while (0)

static const char *const how_name[] = { "exchange", "move_pages" };

static long psz;
/* How long each race test runs (-t): 3 s in the gate, longer by hand. */
static double race_seconds = 3;
/* The writes-during-move tests go on until this many moves, or give up. */
#define MIN_MOVES		10
#define MAX_RACE_SECONDS	120
static int test_nr, failures;

static void report(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One TAP line; @fmt is "name" or "name # diagnostics". */
static void report(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++test_nr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void skip(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void skip(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("ok %d - %s # SKIP ", ++test_nr, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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

static int zero(const void *p)
{
	const uint64_t *w = p;
	long i;

	for (i = 0; i < psz / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

static char *map_n(long n, int shared)
{
	void *p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		BAIL("mmap");
	return p;
}

/* Populate @p with @seed on @node; 0 on success. */
static int place(void *p, uint32_t seed, int node)
{
	fill(p, seed);
	return page_move(0, p, node) == node ? 0 : -1;
}

/* The pagemap entry of @addr in this process (opened per call: fork). */
static uint64_t pagemap(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (uintptr_t)addr / psz * sizeof(e)) !=
	    sizeof(e))
		e = 0;
	close(fd);
	return e;
}

static uint64_t pfn_of(const void *addr)
{
	uint64_t e = pagemap(addr);

	return e & PM_PRESENT ? e & PM_PFN : 0;
}

/* /proc/kpageflags of the frame mapped at @addr (0 if none). */
static uint64_t kpf(const void *addr)
{
	uint64_t pfn = pfn_of(addr), f = 0;
	int fd;

	if (!pfn)
		return 0;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &f, sizeof(f), pfn * sizeof(f)) != sizeof(f))
		f = 0;
	close(fd);
	return f;
}

static int kpf_test(const void *addr, int bit)
{
	return !!(kpf(addr) & (1ULL << bit));
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static long sysfs_read(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static int sysfs_write_long(const char *path, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	return sysfs_write(path, buf);
}

/*
 * Migrate the page at @p to @node with move_pages(2) (MPOL_MF_MOVE_ALL, so
 * pages other processes map too). 0, or -errno (-EBUSY: not migrated).
 */
static int migrate_to(void *p, int node, char *why, size_t len)
{
	void *pages[1] = { p };
	int nodes[1] = { node }, status[1] = { INT_MIN };
	long ret = syscall(SYS_move_pages, 0, 1UL, pages, nodes, status,
			   MOVE_ALL);
	int err;

	if (ret < 0)
		err = -errno;
	else if (ret > 0)
		err = -EBUSY;
	else if (status[0] < 0)
		err = status[0];
	else
		err = status[0] == node ? 0 : -EAGAIN;
	snprintf(why, len, "%s", !err ? "ok" : ret > 0 ? "not migrated" :
		 strerror(-err));
	return err;
}

/*
 * Move @p and @q (on different nodes) each to the other's node: by one
 * exchange, or by two migrations. 0, or -errno with the reason in @why.
 */
static int move_pair(enum how how, void *p, void *q, char *why, size_t len)
{
	int np = page_node(0, p), nq = page_node(0, q), ret;

	if (how == EXCHANGE)
		return xchg_pages(getpid(), p, getpid(), q, why, len);
	ret = migrate_to(p, nq, why, len);
	if (!ret)
		ret = migrate_to(q, np, why, len);
	return ret;
}

/* ------------------------------------------------------------ soft-dirty */

static int clear_soft_dirty(void)
{
	return sysfs_write("/proc/self/clear_refs", "4");
}

static int soft_dirty(const void *addr)
{
	return !!(pagemap(addr) & PM_SOFT_DIRTY);
}

/*
 * p is written after clear_refs (soft-dirty), q is not. After the move p
 * must still read soft-dirty and q clean (the bit follows the data, not the
 * frame), and a write to q must be tracked: its PTE stayed write-protected.
 */
static void test_soft_dirty(enum how how, int shared)
{
	const char *kind = shared ? "shmem" : "anon";
	char *m = map_n(4, shared), *p = m + psz, *q = m + 2 * psz, why[64];
	int ret, sp0, sq0, sp, sq, np, nq, sq2;

	/* Guard pages: no later mapping merges into (and dirties) the VMA. */
	mprotect(m, psz, PROT_NONE);
	mprotect(m + 3 * psz, psz, PROT_NONE);
	if (place(p, 1, 0) || place(q, 2, 1) || clear_soft_dirty()) {
		report(0, "%s: soft-dirty (%s) # setup failed", how_name[how],
		       kind);
		goto out;
	}
	sq0 = soft_dirty(q);
	fill(p, 3);
	sp0 = soft_dirty(p);
	if (!sp0) {
		skip("soft-dirty", "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
		goto out;
	}
	ret = move_pair(how, p, q, why, sizeof(why));
	np = page_node(0, p);
	nq = page_node(0, q);
	sp = soft_dirty(p);
	sq = soft_dirty(q);
	fill(q, 4);
	sq2 = soft_dirty(q);
	report(ret == 0 && np == 1 && nq == 0 && check(p, 3) && check(q, 4) &&
	       sp0 && !sq0 && sp && !sq && sq2,
	       "%s: soft-dirty bits follow the data (%s) # ret %d (%s) nodes p=%d q=%d, soft-dirty before p=%d q=%d, after p=%d q=%d, q after a write %d",
	       how_name[how], kind, ret, why, np, nq, sp0, sq0, sp, sq, sq2);
out:
	munmap(m, 4 * psz);
}

/* --------------------------------------------------------------- uffd-wp */

struct wp_writer {
	char *p;
	uint32_t seed;
	volatile int done;
};

static void *wp_write(void *arg)
{
	struct wp_writer *w = arg;

	fill(w->p, w->seed);
	w->done = 1;
	return NULL;
}

static int uffd_wp(int uffd, void *p, int on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)p, .len = psz },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

/*
 * p is registered for uffd-wp and write-protected, q is not. After the move
 * p must still show PM_UFFD_WP, q must not, and a write to p must stop in a
 * WP fault that the handler (this thread) sees before any byte changed.
 */
static void test_uffd_wp(enum how how, int shared)
{
	const char *kind = shared ? "shmem" : "anon";
	char *m = map_n(2, shared), *p = m, *q = m + psz, why[64] = "";
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = psz },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct wp_writer w = { .p = p, .seed = 12 };
	struct uffd_msg msg;
	struct pollfd pfd;
	int uffd, ret, np, nq, wp0, wpp, wpq, fault = 0, early = 0, wpa;
	pthread_t th;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) {
		skip("uffd-wp", "userfaultfd: %s", strerror(errno));
		munmap(m, 2 * psz);
		return;
	}
	if (place(p, 10, 0) || place(q, 11, 1) ||
	    ioctl(uffd, UFFDIO_API, &api)) {
		report(0, "%s: uffd-wp (%s) # setup failed: %s", how_name[how],
		       kind, strerror(errno));
		goto out;
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) ||
	    !(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT))) {
		skip("uffd-wp", "%s: no write-protect mode: %s", kind,
		     strerror(errno));
		goto out;
	}
	if (uffd_wp(uffd, p, 1)) {
		report(0, "%s: uffd-wp (%s) # UFFDIO_WRITEPROTECT: %s",
		       how_name[how], kind, strerror(errno));
		goto out;
	}
	wp0 = !!(pagemap(p) & PM_UFFD_WP);
	ret = move_pair(how, p, q, why, sizeof(why));
	np = page_node(0, p);
	nq = page_node(0, q);
	wpp = !!(pagemap(p) & PM_UFFD_WP);
	wpq = !!(pagemap(q) & PM_UFFD_WP);

	if (pthread_create(&th, NULL, wp_write, &w)) {
		report(0, "%s: uffd-wp (%s) # pthread_create failed",
		       how_name[how], kind);
		goto out;
	}
	pfd.fd = uffd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 20000) == 1 && read(uffd, &msg, sizeof(msg)) ==
	    sizeof(msg) && msg.event == UFFD_EVENT_PAGEFAULT &&
	    (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) &&
	    (msg.arg.pagefault.address & ~(uint64_t)(psz - 1)) ==
	    (uintptr_t)p) {
		fault = 1;
		/* The writer is stopped at its first store. */
		early = w.done || !check(p, 10);
	}
	/* Resolve (or release a writer whose fault we did not recognise). */
	uffd_wp(uffd, p, 0);
	pthread_join(th, NULL);
	wpa = !!(pagemap(p) & PM_UFFD_WP);
	report(ret == 0 && np == 1 && nq == 0 && check(q, 11) && wp0 && wpp &&
	       !wpq && fault && !early && check(p, 12) && !wpa,
	       "%s: uffd-wp page stays protected and faults to the handler (%s) # ret %d (%s) nodes p=%d q=%d, uffd-wp before %d after p=%d q=%d, WP fault %d, write before the fault %d, after resolving wp=%d",
	       how_name[how], kind, ret, why, np, nq, wp0, wpp, wpq, fault,
	       early, wpa);
out:
	close(uffd);
	munmap(m, 2 * psz);
}

/* ------------------------------------------------------------------- KSM */

static const char *const ksm_knobs[] = { "run", "pages_to_scan",
					 "sleep_millisecs" };

static long ksm_get(const char *knob)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", knob);
	return sysfs_read(path);
}

static int ksm_set(const char *knob, long val)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", knob);
	return sysfs_write_long(path, val);
}

/* Both addresses map one KSM page. */
static int ksm_merged(const void *a, const void *b)
{
	uint64_t pa = pfn_of(a);

	return pa && pa == pfn_of(b) && kpf_test(a, KPF_KSM);
}

/*
 * k1 and k2 hold the same bytes and KSM merges them. Exchange refuses the
 * KSM page (its stable-tree node is keyed by the frame) in either position;
 * it stays merged with its contents. Migration moves it, still merged.
 * Once a write broke the sharing, k1 is an ordinary page again.
 */
static void test_ksm(void)
{
	char *k = map_n(2, 0), *k1 = k, *k2 = k + psz, *n = map_n(1, 0);
	long saved[3];
	char why[64], why2[64], mwhy[64];
	uint64_t pfn;
	int i, ret, ret2, mret, merged, nk, nn, mnode, ok;
	double t0;

	for (i = 0; i < 3; i++)
		saved[i] = ksm_get(ksm_knobs[i]);
	if (saved[0] < 0) {
		skip("KSM", "no %s (CONFIG_KSM)", KSM_DIR);
		goto out;
	}
	if (place(k1, 30, 0) || place(k2, 30, 0) || place(n, 31, 1) ||
	    madvise(k, 2 * psz, MADV_MERGEABLE)) {
		report(0, "KSM # setup failed: %s", strerror(errno));
		goto out;
	}
	ksm_set("pages_to_scan", 256);
	ksm_set("sleep_millisecs", 10);
	ksm_set("run", 1);
	t0 = now();
	while (!(merged = ksm_merged(k1, k2)) && now() - t0 < 60)
		usleep(50000);
	if (!merged) {
		report(0, "KSM # pages not merged after 60 s");
		goto restore;
	}
	/*
	 * Stop ksmd, keeping the merged page: its scan holds a reference on
	 * each page it checksums, which made the exchange of the unshared
	 * page below fail with -EAGAIN (refcount) now and then. Writing
	 * "run" waits for a scan in progress (ksm_thread_mutex).
	 */
	ksm_set("run", 0);
	pfn = pfn_of(k1);
	ret = xchg_pages(getpid(), k1, getpid(), n, why, sizeof(why));
	ret2 = xchg_pages(getpid(), n, getpid(), k1, why2, sizeof(why2));
	nk = page_node(0, k1);
	nn = page_node(0, n);
	report(ret == -EOPNOTSUPP && !strcmp(why, "type") &&
	       ret2 == -EOPNOTSUPP && !strcmp(why2, "type") &&
	       ksm_merged(k1, k2) && pfn_of(k1) == pfn && check(k1, 30) &&
	       check(k2, 30) && check(n, 31) && nk == 0 && nn == 1,
	       "exchange: KSM page refused, stays merged # ret %d (%s), reversed %d (%s), nodes k=%d n=%d, merged %d",
	       ret, why, ret2, why2, nk, nn, ksm_merged(k1, k2));

	mret = migrate_to(k1, 1, mwhy, sizeof(mwhy));
	mnode = page_node(0, k1);
	report(mret == 0 && mnode == 1 && page_node(0, k2) == 1 &&
	       ksm_merged(k1, k2) && check(k1, 30) && check(k2, 30),
	       "move_pages: KSM page moves, stays merged # ret %d (%s) node %d merged %d",
	       mret, mwhy, mnode, ksm_merged(k1, k2));
	/* Back to node 0, so that n is on the other node again. */
	migrate_to(k1, 0, mwhy, sizeof(mwhy));

	fill(k1, 32);	/* breaks the sharing: k1 gets its own page */
	ok = !ksm_merged(k1, k2) && check(k2, 30) && kpf_test(k2, KPF_KSM);
	if (page_node(0, k1) != 0)
		page_move(0, k1, 0);
	ret = xchg_pages(getpid(), k1, getpid(), n, why, sizeof(why));
	report(ok && ret == 0 && check(k1, 32) && check(n, 31) &&
	       check(k2, 30) && page_node(0, k1) == 1,
	       "exchange: a page unshared from KSM by a write moves # ret %d (%s)",
	       ret, why);
restore:
	/* 2: unmerge everything and stop; then the saved settings. */
	ksm_set("run", 2);
	for (i = 2; i >= 0; i--)
		ksm_set(ksm_knobs[i], saved[i]);
out:
	munmap(k, 2 * psz);
	munmap(n, psz);
}

/* ---------------------------------------------------- FOLL_LONGTERM pins */

/*
 * A page pinned with FOLL_LONGTERM (GUP_TEST's PIN_LONGTERM_TEST_START) is
 * refused by exchange in either position, and migration refuses it too.
 * The pin still sees the page mapped at p: a write through the mapping
 * shows in PIN_LONGTERM_TEST_READ. Unpinned, it moves.
 */
static void test_pinned(int shared)
{
	const char *kind = shared ? "shmem" : "anon";
	char *p = map_n(1, shared), *q = map_n(1, shared), why[64], why2[64];
	char mwhy[64], *buf = malloc(psz);
	struct pin_longterm_test pin = {
		.addr = (uintptr_t)p, .size = psz,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	uint64_t pfn, dst = (uintptr_t)buf;
	int fd, ret, ret2, mret, np, nq, coherent;

	fd = open(GUP_TEST_PATH, O_RDWR);
	if (fd < 0) {
		skip("FOLL_LONGTERM pin", "%s: %s (CONFIG_GUP_TEST)",
		     GUP_TEST_PATH, strerror(errno));
		goto out;
	}
	if (!buf || place(p, 40, 0) || place(q, 41, 1) ||
	    ioctl(fd, PIN_LONGTERM_TEST_START, &pin)) {
		report(0, "pinned page (%s) # setup failed: %s", kind,
		       strerror(errno));
		goto out;
	}
	/* A longterm pin may have migrated p first (movable zones). */
	pfn = pfn_of(p);
	if (page_node(0, p) != 0) {
		report(0, "pinned page (%s) # the pin moved p off node 0", kind);
		goto unpin;
	}
	ret = xchg_pages(getpid(), p, getpid(), q, why, sizeof(why));
	ret2 = xchg_pages(getpid(), q, getpid(), p, why2, sizeof(why2));
	np = page_node(0, p);
	nq = page_node(0, q);
	fill(p, 42);
	coherent = !ioctl(fd, PIN_LONGTERM_TEST_READ, &dst) && check(buf, 42);
	report(ret == -EBUSY && !strcmp(why, "pinned") && ret2 == -EBUSY &&
	       !strcmp(why2, "pinned") && np == 0 && nq == 1 &&
	       pfn_of(p) == pfn && check(q, 41) && coherent,
	       "exchange: FOLL_LONGTERM-pinned page refused (%s) # ret %d (%s), reversed %d (%s), nodes p=%d q=%d, pin sees the mapped page %d",
	       kind, ret, why, ret2, why2, np, nq, coherent);

	mret = migrate_to(p, 1, mwhy, sizeof(mwhy));
	np = page_node(0, p);
	report(mret != 0 && np == 0 && pfn_of(p) == pfn && check(p, 42),
	       "move_pages: FOLL_LONGTERM-pinned page not migrated (%s) # ret %d (%s) node %d",
	       kind, mret, mwhy, np);
unpin:
	ioctl(fd, PIN_LONGTERM_TEST_STOP);
	ret = xchg_pages(getpid(), p, getpid(), q, why, sizeof(why));
	report(ret == 0 && check(p, 42) && check(q, 41) &&
	       page_node(0, p) == 1 && page_node(0, q) == 0,
	       "exchange: the same page moves once unpinned (%s) # ret %d (%s)",
	       kind, ret, why);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	munmap(p, psz);
	munmap(q, psz);
}

/* ---------------------------------------------------------------- mlock */

static int mlocked(const void *addr)
{
	return kpf_test(addr, KPF_MLOCKED);
}

static int unevictable(const void *addr)
{
	return kpf_test(addr, KPF_UNEVICTABLE);
}

/* "Mlocked:" of /proc/meminfo in kB, after folding per-CPU counters. */
static long meminfo_mlocked(void)
{
	char line[128];
	long kb = -1;
	FILE *f;

	sysfs_write("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Mlocked: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * An mlocked page is refused by exchange in either position and stays
 * mlocked and unevictable in its frame; migration moves it and the new
 * frame is mlocked (upstream re-mlocks through the VM_LOCKED mapping).
 */
static void test_mlock(void)
{
	char *p = map_n(1, 0), *q = map_n(1, 0), why[64], why2[64];
	uint64_t pfn;
	int ret, ret2, np, nq, ml, ue, mq;

	if (place(p, 50, 0) || place(q, 51, 1) || mlock(p, psz)) {
		report(0, "mlocked page # setup failed: %s", strerror(errno));
		goto out;
	}
	pfn = pfn_of(p);
	ml = mlocked(p);
	ue = unevictable(p);
	ret = xchg_pages(getpid(), p, getpid(), q, why, sizeof(why));
	ret2 = xchg_pages(getpid(), q, getpid(), p, why2, sizeof(why2));
	np = page_node(0, p);
	nq = page_node(0, q);
	mq = mlocked(q);
	report(ml && ue && ret == -EPERM && !strcmp(why, "mlocked") &&
	       ret2 == -EPERM && !strcmp(why2, "mlocked") && np == 0 &&
	       nq == 1 && pfn_of(p) == pfn && mlocked(p) && unevictable(p) &&
	       !mq && check(p, 50) && check(q, 51),
	       "exchange: mlocked page refused, stays mlocked # ret %d (%s), reversed %d (%s), nodes p=%d q=%d, before mlocked %d unevictable %d, after %d %d, q mlocked %d",
	       ret, why, ret2, why2, np, nq, ml, ue, mlocked(p),
	       unevictable(p), mq);

	ret = migrate_to(p, 1, why, sizeof(why));
	np = page_node(0, p);
	report(ret == 0 && np == 1 && pfn_of(p) != pfn && mlocked(p) &&
	       check(p, 50),
	       "move_pages: mlocked page moves, stays mlocked # ret %d (%s) node %d mlocked %d unevictable %d",
	       ret, why, np, mlocked(p), unevictable(p));
	munlock(p, psz);
	report(!mlocked(p), "munlock after the move clears the mlock # mlocked %d",
	       mlocked(p));
out:
	munlock(p, psz);
	munmap(p, psz);
	munmap(q, psz);
}

struct mlock_toggler {
	char *p;
	volatile int stop;
	long rounds;
};

static void *mlock_toggle(void *arg)
{
	struct mlock_toggler *t = arg;
	unsigned int seed = 1;
	double until;

	while (!t->stop) {
		mlock(t->p, psz);
		/*
		 * Locked for a while: an exchange that mlock() caught between
		 * its check and its unmap gets past the unmap before munlock()
		 * walks the page table (which would clear the flag).
		 */
		until = now() + (rand_r(&seed) % 200) * 1e-6;
		while (now() < until)
			;
		munlock(t->p, psz);
		t->rounds++;
		/* Unlocked for a while: exchanges start, and mlock() hits them. */
		until = now() + (rand_r(&seed) % 200) * 1e-6;
		while (now() < until)
			;
	}
	return NULL;
}

/*
 * mlock() and munlock() of p race exchanges of p with q, whose VMA is never
 * locked: every exchange is either refused or done. An mlock() that lands
 * after the exchange checked p must not leave PG_mlocked on p's old frame,
 * which then holds q's data: q's frame must never be mlocked (munlock(q)
 * would not clear it, q's VMA not being locked), and once p is munlocked
 * the Mlocked count is back where it was.
 */
static void test_mlock_race(void)
{
	char *p = map_n(1, 0), *q = map_n(1, 0), why[64];
	struct mlock_toggler t = { .p = p };
	long base, after, ok = 0, refused = 0, other = 0, stranded = 0;
	pthread_t th;
	double t0;
	int ret;

	base = meminfo_mlocked();
	if (place(p, 55, 0) || place(q, 56, 1) ||
	    pthread_create(&th, NULL, mlock_toggle, &t)) {
		report(0, "mlock racing exchange # setup failed");
		goto out;
	}
	t0 = now();
	while (now() - t0 < race_seconds && !stranded) {
		ret = xchg_pages(getpid(), p, getpid(), q, why, sizeof(why));
		if (!ret)
			ok++;
		else if (!strcmp(why, "mlocked"))
			refused++;
		else
			other++;
		stranded += mlocked(q);
	}
	t.stop = 1;
	pthread_join(th, NULL);
	munlock(p, psz);
	after = meminfo_mlocked();
	report(ok > 0 && !stranded && check(p, 55) && check(q, 56) &&
	       !mlocked(p) && !mlocked(q) && after == base,
	       "exchange: mlock()/munlock() racing exchanges strand no mlock # %ld exchanged, %ld refused mlocked, %ld other, %ld mlock rounds; q's frame found mlocked %ld times; mlocked p=%d q=%d; Mlocked %ld kB before, %ld kB after",
	       ok, refused, other, t.rounds, stranded, mlocked(p), mlocked(q),
	       base, after);
out:
	munmap(p, psz);
	munmap(q, psz);
}

/* --------------------------------------------------------------- hugetlb */

#define HPAGE (2UL << 20)
#define NR_HUGE "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages"

/* A hugetlb page is refused ("large"); migration moves it. */
static void test_hugetlb(void)
{
	char path[2][128], *h = MAP_FAILED, *q = map_n(1, 0), why[64];
	long saved[2];
	int i, ret, hn, mret, mn;

	for (i = 0; i < 2; i++) {
		snprintf(path[i], sizeof(path[i]), NR_HUGE, i);
		saved[i] = sysfs_read(path[i]);
	}
	if (saved[0] < 0 || saved[1] < 0) {
		skip("hugetlb page", "no 2 MiB hugetlb pages (CONFIG_HUGETLBFS)");
		goto out;
	}
	/* One huge page on each node: the page, and migration's target. */
	for (i = 0; i < 2; i++)
		sysfs_write_long(path[i], saved[i] + 1);
	h = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h == MAP_FAILED) {
		skip("hugetlb page", "no huge page: %s", strerror(errno));
		goto restore;
	}
	fill(h, 60);
	hn = page_node(0, h);
	if (place(q, 61, 1 - (hn > 0))) {
		report(0, "hugetlb page # setup failed");
		goto restore;
	}
	ret = xchg_pages(getpid(), h, getpid(), q, why, sizeof(why));
	report(ret == -E2BIG && !strcmp(why, "large") && check(h, 60) &&
	       check(q, 61) && page_node(0, h) == hn,
	       "exchange: hugetlb page refused # ret %d (%s) node %d", ret, why,
	       page_node(0, h));
	mret = migrate_to(h, 1 - (hn > 0), why, sizeof(why));
	mn = page_node(0, h);
	if (mret == -ENOMEM || mret == -EBUSY)
		skip("move_pages: hugetlb page moves",
		     "%s: no free huge page on the target node", why);
	else
		report(mret == 0 && mn == 1 - (hn > 0) && check(h, 60),
		       "move_pages: hugetlb page moves # ret %d (%s) node %d -> %d",
		       mret, why, hn, mn);
restore:
	if (h != MAP_FAILED)
		munmap(h, HPAGE);
	for (i = 0; i < 2; i++)
		sysfs_write_long(path[i], saved[i]);
out:
	munmap(q, psz);
}

/* ------------------------------------------------------------- MADV_FREE */

/*
 * A lazily freed page (MADV_FREE: clean, no longer swap-backed, on the file
 * LRU) is refused ("type") and stays lazily freed; migration moves it and
 * keeps it lazily freed. Nothing here presses memory, so reclaim does not
 * discard the data meanwhile.
 */
static void test_lazyfree(void)
{
	char *p = map_n(1, 0), *q = map_n(1, 0), *d = map_n(1, 0), why[64];
	char why2[64];
	uint64_t pfn;
	int ret, ret2, np, nq, sb0, sb;

	if (place(p, 90, 0) || place(q, 91, 1) || place(d, 92, 0) ||
	    madvise(p, psz, MADV_FREE)) {
		report(0, "lazily freed page # setup failed: %s",
		       strerror(errno));
		goto out;
	}
	/* MADV_FREE queues p per CPU; a migration drains every CPU's queue. */
	page_move(0, d, 1);
	pfn = pfn_of(p);
	sb0 = kpf_test(p, KPF_SWAPBACKED);
	ret = xchg_pages(getpid(), p, getpid(), q, why, sizeof(why));
	ret2 = xchg_pages(getpid(), q, getpid(), p, why2, sizeof(why2));
	np = page_node(0, p);
	nq = page_node(0, q);
	sb = kpf_test(p, KPF_SWAPBACKED);
	report(!sb0 && ret == -EOPNOTSUPP && !strcmp(why, "type") &&
	       ret2 == -EOPNOTSUPP && !strcmp(why2, "type") && np == 0 &&
	       nq == 1 && pfn_of(p) == pfn && !sb && check(p, 90) &&
	       check(q, 91),
	       "exchange: lazily freed (MADV_FREE) page refused, stays lazily freed # ret %d (%s), reversed %d (%s), nodes p=%d q=%d, swap-backed before %d after %d",
	       ret, why, ret2, why2, np, nq, sb0, sb);
	ret = migrate_to(p, 1, why, sizeof(why));
	np = page_node(0, p);
	sb = kpf_test(p, KPF_SWAPBACKED);
	report(ret == 0 && np == 1 && !sb && check(p, 90),
	       "move_pages: lazily freed page moves, stays lazily freed # ret %d (%s) node %d swap-backed %d",
	       ret, why, np, sb);
out:
	munmap(p, psz);
	munmap(q, psz);
	munmap(d, psz);
}

/* ----------------------------------------------- MADV_DONTFORK/WIPEONFORK */

/*
 * The advice belongs to the VMA, not the page, so it must survive the page
 * moving: a child forked afterwards has no page at d (MADV_DONTFORK) and
 * zeroes at w (MADV_WIPEONFORK), while pd and pw (the partners, plain
 * private pages) are inherited as usual.
 */
static void test_fork_advice(enum how how)
{
	char *d = map_n(1, 0), *w = map_n(1, 0), *pd = map_n(1, 0),
	     *pw = map_n(1, 0), why[64], why2[64], vec;
	int ret, ret2, status = -1, parent_ok;
	pid_t pid;

	if (place(d, 70, 0) || place(w, 71, 0) || place(pd, 72, 1) ||
	    place(pw, 73, 1) || madvise(d, psz, MADV_DONTFORK) ||
	    madvise(w, psz, MADV_WIPEONFORK)) {
		report(0, "%s: DONTFORK/WIPEONFORK # setup failed: %s",
		       how_name[how], strerror(errno));
		goto out;
	}
	ret = move_pair(how, d, pd, why, sizeof(why));
	ret2 = move_pair(how, w, pw, why2, sizeof(why2));
	parent_ok = page_node(0, d) == 1 && page_node(0, w) == 1 &&
		    check(d, 70) && check(w, 71) && check(pd, 72) &&
		    check(pw, 73);
	pid = fork();
	if (pid == 0) {
		int bad = 0;

		/* mincore() fails with ENOMEM where nothing is mapped. */
		if (mincore(d, psz, (unsigned char *)&vec) == 0 ||
		    errno != ENOMEM)
			bad |= 1;
		if (!zero(w))
			bad |= 2;
		if (!check(pd, 72) || !check(pw, 73))
			bad |= 4;
		_exit(bad);
	}
	waitpid(pid, &status, 0);
	/* The parent's pages are untouched by the child's view. */
	parent_ok = parent_ok && check(d, 70) && check(w, 71);
	report(ret == 0 && ret2 == 0 && parent_ok && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0,
	       "%s: MADV_DONTFORK and MADV_WIPEONFORK hold after the move # ret %d (%s) %d (%s), parent ok %d, child status %#x (1: DONTFORK page inherited, 2: WIPEONFORK page not zero, 4: partners wrong)",
	       how_name[how], ret, why, ret2, why2, parent_ok, status);
out:
	munmap(d, psz);
	munmap(w, psz);
	munmap(pd, psz);
	munmap(pw, psz);
}

/* ------------------------------------------------ writes during the move */

/*
 * A writer thread stores an increasing sequence into one word after another
 * of its page (via a mapping, or pwrite() into a shmem file), reads each
 * store back, and keeps the last value of every word in a private shadow.
 */
struct hammer {
	uint64_t *page;		/* the mapping */
	int fd;			/* >= 0: write with pwrite() at offset 0 */
	uint64_t tag;
	uint64_t *shadow;
	volatile int stop;
	long writes, bad;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	long nw = psz / 8, k;
	uint64_t i, v, r;

	for (i = 1; !h->stop; i++) {
		k = (long)(i % nw);
		v = h->tag << 48 | i;
		if (h->fd >= 0) {
			if (pwrite(h->fd, &v, 8, k * 8) != 8 ||
			    pread(h->fd, &r, 8, k * 8) != 8)
				r = ~v;
		} else {
			h->page[k] = v;
			r = h->page[k];
		}
		h->shadow[k] = v;
		if (r != v)
			h->bad++;
	}
	h->writes = (long)i - 1;
	return NULL;
}

/*
 * Two writers hammer p and q while the pair is moved back and forth for
 * three seconds; afterwards every word holds the last value written to it.
 * @shmem: p is page 0 of a memfd written with pwrite(), q shared anonymous
 * memory (shmem too: exchange pairs like with like).
 */
static void test_writes_during_move(enum how how, int shmem)
{
	const char *kind = shmem ? "pwrite() and stores into shmem" :
				   "stores into anon";
	struct hammer h[2] = { { .fd = -1, .tag = 1 }, { .fd = -1, .tag = 2 } };
	char *p, *q = map_n(1, shmem), why[64] = "";
	long moved = 0, refused = 0, n;
	int i, fd = -1, ok = 1, bad_ret = 0, last_err = 0;
	pthread_t th[2];
	double t0;

	if (shmem) {
		fd = memfd_create("exchange_state", 0);
		if (fd < 0 || ftruncate(fd, psz)) {
			report(0, "%s: writes during the move # memfd: %s",
			       how_name[how], strerror(errno));
			return;
		}
		p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			BAIL("mmap");
	} else {
		p = map_n(1, 0);
	}
	if (place(p, 80, 0) || place(q, 81, 1)) {
		report(0, "%s: writes during the move # setup failed",
		       how_name[how]);
		goto out;
	}
	h[0].page = (uint64_t *)p;
	h[0].fd = fd;
	h[1].page = (uint64_t *)q;
	for (i = 0; i < 2; i++) {
		h[i].shadow = malloc(psz);
		if (!h[i].shadow)
			BAIL("malloc");
		memcpy(h[i].shadow, h[i].page, psz);
	}
	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, hammer_run, &h[i]))
			BAIL("pthread_create");
	t0 = now();
	/*
	 * Until at least MIN_MOVES moves (race_seconds at the least): the
	 * pwrite() hammer holds page references most of the time, and on a
	 * loaded host 3 s gave as few as 4 moves.
	 */
	while (now() - t0 < race_seconds ||
	       (moved < MIN_MOVES && now() - t0 < MAX_RACE_SECONDS)) {
		int ret = move_pair(how, p, q, why, sizeof(why));

		if (!ret) {
			moved++;
		} else if (ret == -EAGAIN || ret == -EBUSY) {
			/* transient: a reference or lock held right then */
			refused++;
		} else {
			bad_ret++;
			last_err = ret;
		}
	}
	for (i = 0; i < 2; i++)
		h[i].stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 2; i++) {
		n = 0;
		while (n < psz / 8 && h[i].page[n] == h[i].shadow[n])
			n++;
		if (n < psz / 8 || h[i].bad || !h[i].writes)
			ok = 0;
	}
	report(ok && moved >= MIN_MOVES && !bad_ret,
	       "%s: no write lost while the pages move (%s) # %ld moved in %.0f s, %ld refused for now, %d failed (last %d %s); %ld and %ld writes, %ld and %ld read back wrong",
	       how_name[how], kind, moved, now() - t0, refused, bad_ret,
	       last_err, why,
	       h[0].writes, h[1].writes, h[0].bad, h[1].bad);
out:
	for (i = 0; i < 2; i++)
		free(h[i].shadow);
	munmap(p, psz);
	munmap(q, psz);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------ unmap during the move */

/* Occurrences of @pat in the kernel log, or -1. */
static int klog_count(const char *pat)
{
	int size = klogctl(10, NULL, 0), len, n = 0;	/* SIZE_BUFFER */
	char *buf, *at;

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf)
		return -1;
	len = klogctl(3, buf, size);			/* READ_ALL */
	if (len < 0) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	for (at = buf; (at = strstr(at, pat)); at++)
		n++;
	free(buf);
	return n;
}

/*
 * An exited process's mm is torn down (and its rss counters checked) only
 * once no CPU holds it as its lazy TLB mm: run a process on every CPU.
 */
static void drop_lazy_mms(void)
{
	long cpu, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	pid_t pid;

	for (cpu = 0; cpu < ncpu; cpu++) {
		pid = fork();
		if (pid == 0) {
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	usleep(100000);
}

struct zap_ctl {
	volatile int ready, go, done, stop, delay_ns;
	volatile uintptr_t addr;
};

/*
 * The child maps a page (private anonymous, or page 0 of the shmem file
 * @fd), waits for the go, lets a random part of an exchange go by and unmaps
 * the page, over and over.
 */
static void zap_child(struct zap_ctl *ctl, int fd)
{
	unsigned int seed = 7;
	double until;
	char *x;
	int i;

	for (i = 1; !ctl->stop; i++) {
		if (fd >= 0)
			x = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED,
				 fd, 0);
		else
			x = mmap(NULL, psz, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (x == MAP_FAILED)
			_exit(2);
		fill(x, i);
		ctl->addr = (uintptr_t)x;
		ctl->ready = i;
		while (ctl->go != i && !ctl->stop)
			;
		until = now() + (rand_r(&seed) % (ctl->delay_ns + 1)) * 1e-9;
		while (now() < until)
			;
		munmap(x, psz);
		ctl->done = i;
	}
	_exit(0);
}

/* Refusal reasons seen, for the diagnostics: "type 3, refcount 12". */
static struct {
	char name[16];
	long n;
} reasons[8];

static void count_reason(const char *why)
{
	unsigned int i;

	for (i = 0; i < 8 && reasons[i].n; i++)
		if (!strcmp(reasons[i].name, why))
			break;
	if (i == 8)
		return;
	snprintf(reasons[i].name, sizeof(reasons[i].name), "%s", why);
	reasons[i].n++;
}

/* The reasons counted so far, then forgets them. */
static const char *reasons_str(void)
{
	static char buf[256];
	size_t off = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < 8 && reasons[i].n; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s %ld",
				i ? ", " : "", reasons[i].name, reasons[i].n);
	memset(reasons, 0, sizeof(reasons));
	return buf;
}

enum zap_kind { ZAP_ANON_SHMEM, ZAP_SHMEM, ZAP_ANON };
static const char *const zap_name[] = {
	"anonymous page with shmem", "shmem page with shmem",
	"anonymous page with anonymous",
};

/*
 * The parent spins on the child's flags: never forever on a dead child.
 * Bails out with how the child ended.
 */
static void zap_check_child(pid_t pid, int round)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return;
	printf("Bail out! zap child died in round %d: %s %d (line %d)\n", round,
	       WIFSIGNALED(status) ? "signal" : "exit status",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
	       __LINE__);
	fflush(stdout);
	exit(2);
}

/*
 * A child's page (anonymous, or shmem for ZAP_SHMEM) exchanged with a page of
 * the parent, which is shmem mapped many times (so the exchange spends a
 * while in its rmap walks) or, for ZAP_ANON, a private anonymous page, while
 * the child unmaps its page at a random moment of the exchange. The unmap
 * may meet the page's migration entry and must account it as the kind of
 * memory it was when the entry was made. Rss counters gone wrong show when
 * the child's mm is torn down ("Bad rss-counter state"). Anonymous with
 * shmem lost them (MM_SHMEMPAGES decremented for an anonymous page, a few
 * hundred times in 10 s) until exchange refused such pairs. @seconds: how
 * long to keep trying.
 */
static void test_zap_race(enum zap_kind kind, int seconds)
{
	enum { NMAPS = 128 };
	struct zap_ctl *ctl = (struct zap_ctl *)map_n(1, 1);
	long tries = 0, ok = 0, refused = 0, typed = 0;
	int i, fd = -1, cfd = -1, before, after, ret, nmaps, pass;
	char *s[NMAPS], why[64] = "";
	double t0, t, avg = 1e-3;
	pid_t pid;

	before = klog_count("Bad rss-counter");
	if (before < 0) {
		skip("exchange racing munmap", "cannot read the kernel log: %s",
		     strerror(errno));
		return;
	}
	nmaps = kind == ZAP_ANON ? 1 : NMAPS;
	if (kind != ZAP_ANON) {
		fd = memfd_create("exchange_state_zap", 0);
		if (fd < 0 || ftruncate(fd, psz))
			BAIL("memfd_create or ftruncate");
	}
	for (i = 0; i < nmaps; i++) {
		s[i] = fd < 0 ? map_n(1, 0) :
			mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED,
			     fd, 0);
		if (s[i] == MAP_FAILED)
			BAIL("mmap");
		s[i][0] = 1;
	}
	fill(s[0], 95);
	page_move(0, s[0], 1);
	if (kind == ZAP_SHMEM) {
		cfd = memfd_create("exchange_state_zap_child", 0);
		if (cfd < 0 || ftruncate(cfd, psz))
			BAIL("memfd_create or ftruncate");
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		zap_child(ctl, cfd);
	t0 = now();
	for (i = 1; now() - t0 < seconds; i++) {
		while (ctl->ready != i)
			zap_check_child(pid, i);
		ctl->delay_ns = (int)(avg * 2e9);
		ctl->go = i;
		t = now();
		ret = xchg_pages(getpid(), s[0], pid, (void *)ctl->addr, why,
				 sizeof(why));
		avg = 0.9 * avg + 0.1 * (now() - t);
		tries++;
		if (!ret) {
			ok++;
		} else if (ret != -EFAULT) {	/* -EFAULT: unmapped already */
			refused++;
			typed += !strcmp(why, "type");
			count_reason(why);
		}
		while (ctl->done != i)
			zap_check_child(pid, i);
	}
	ctl->stop = 1;
	waitpid(pid, NULL, 0);
	drop_lazy_mms();
	after = klog_count("Bad rss-counter");
	pass = after == before && check(s[0], 95);
	if (kind == ZAP_ANON_SHMEM)
		pass = pass && !ok && refused && typed == refused;
	else
		pass = pass && ok;
	report(pass,
	       "exchange: %s racing munmap keeps the rss counters right%s # %ld tries, %ld exchanged, %ld refused (%s), exchange %.0f us on average; %d \"Bad rss-counter\" lines",
	       zap_name[kind], kind == ZAP_ANON_SHMEM ? " (refused)" : "",
	       tries, ok, refused, reasons_str(), avg * 1e6, after - before);
	for (i = 0; i < nmaps; i++)
		munmap(s[i], psz);
	munmap(ctl, psz);
	if (fd >= 0)
		close(fd);
	if (cfd >= 0)
		close(cfd);
}

int main(int argc, char **argv)
{
	enum how how;
	int shared, opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't' || atof(optarg) <= 0) {
			fprintf(stderr, "usage: %s [-t race-seconds]\n", argv[0]);
			return 2;
		}
		race_seconds = atof(optarg);
	}
	psz = sysconf(_SC_PAGESIZE);
	if (access(XCHG_PATH, W_OK)) {
		printf("1..0 # SKIP %s: %s\n", XCHG_PATH, strerror(errno));
		return 0;
	}
	if (page_move(0, &psz, 1) != 1) {
		printf("1..0 # SKIP node 1 not usable (move_pages)\n");
		return 0;
	}
	for (how = EXCHANGE; how <= MIGRATION; how++) {
		for (shared = 0; shared < 2; shared++) {
			test_soft_dirty(how, shared);
			test_uffd_wp(how, shared);
		}
		test_fork_advice(how);
	}
	test_ksm();
	test_pinned(0);
	test_pinned(1);
	test_mlock();
	test_mlock_race();
	test_hugetlb();
	test_lazyfree();
	test_zap_race(ZAP_ANON_SHMEM, 5);
	test_zap_race(ZAP_SHMEM, 5);
	test_zap_race(ZAP_ANON, 5);
	for (how = EXCHANGE; how <= MIGRATION; how++) {
		test_writes_during_move(how, 0);
		test_writes_during_move(how, 1);
	}
	printf("1..%d\n", test_nr);
	return failures ? 1 : 0;
}
