// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_unregister_race: does UFFDIO_UNREGISTER leave a userfault behind?
 *
 *   uffd_unregister_race [-s SECONDS] [-t THREADS]
 *
 * Before guest-mm/patches/0009, UFFDIO_UNREGISTER woke the faults pending
 * in the range and then cleared the VMA's userfaultfd context.  A fault
 * taken under the per-VMA lock does not wait for the mmap_lock the
 * unregister holds: if it reached handle_userfault() between the wake and
 * the clearing, it queued a message and slept, and nothing but an explicit
 * UFFDIO_WAKE (or closing the userfaultfd) woke it again: the range is no
 * longer registered, and UFFDIO_COPY to it fails with ENOENT.
 * uffd-unit-tests' events test met this when its monitor unregistered on
 * UFFD_EVENT_REMOVE while the child already read the range again:
 * "UFFDIO_COPY error: -2".
 *
 * Each round: register a range, let the threads zap and read it (they
 * fault), unregister it at once, then look for a fault message left
 * behind.  A message found after the unregister returned is a thread
 * asleep in an unregistered range: counted, and woken with UFFDIO_WAKE.
 * Prints TAP; exit 1 if any round left one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGES		16
#define MAX_THREADS	8

static char *area;
static size_t page_size;
static int uffd;
static atomic_uint round_no;	/* bumped to start the threads' next pass */
static atomic_uint passes_done;
static atomic_bool stop;
static unsigned int stranded;	/* faults found asleep after an unregister */

static void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One pass per round: zap what the last pass faulted in, then read it all. */
static void *reader(void *arg)
{
	unsigned int seen = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned int r = atomic_load(&round_no);

		if (r == seen) {
			sched_yield();
			continue;
		}
		seen = r;
		madvise(area, PAGES * page_size, MADV_DONTNEED);
		for (int i = 0; i < PAGES; i++)
			(void)*(volatile char *)(area + i * page_size);
		atomic_fetch_add(&passes_done, 1);
	}
	return NULL;
}

static void range_ioctl(unsigned long cmd, const char *name)
{
	struct uffdio_range range = {
		.start = (unsigned long)area, .len = PAGES * page_size,
	};

	if (ioctl(uffd, cmd, &range))
		die(name);
}

/*
 * Count and wake the faults queued on the fd after the unregister returned:
 * nobody else reads it, so each is a thread asleep in the unregistered range.
 */
static void wake_stranded(unsigned int round)
{
	struct uffd_msg msg;

	while (read(uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		if (!stranded)
			printf("# round %u: a fault at +%#llx queued after "
			       "UFFDIO_UNREGISTER returned\n", round,
			       (unsigned long long)(msg.arg.pagefault.address -
						    (unsigned long)area));
		stranded++;
		range_ioctl(UFFDIO_WAKE, "UFFDIO_WAKE");
	}
	if (errno != EAGAIN)
		die("read");
}

int main(int argc, char **argv)
{
	unsigned int threads = 2, rounds = 0;
	double seconds = 10, end;
	pthread_t tid[MAX_THREADS];
	struct uffdio_api api = { .api = UFFD_API };
	int opt;

	while ((opt = getopt(argc, argv, "s:t:")) != -1) {
		if (opt == 's')
			seconds = atof(optarg);
		else if (opt == 't')
			threads = atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-s SECONDS] [-t THREADS]\n", argv[0]);
			return 2;
		}
	}
	if (threads < 1 || threads > MAX_THREADS) {
		fprintf(stderr, "-t: 1 to %d\n", MAX_THREADS);
		return 2;
	}

	printf("TAP version 13\n1..1\n");
	page_size = sysconf(_SC_PAGESIZE);
	area = mmap(NULL, PAGES * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap");
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		die("userfaultfd");
	if (ioctl(uffd, UFFDIO_API, &api))
		die("UFFDIO_API");
	for (unsigned int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, reader, NULL))
			die("pthread_create");

	end = now() + seconds;
	while (now() < end) {
		struct uffdio_register reg = {
			.range = { .start = (unsigned long)area,
				   .len = PAGES * page_size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		unsigned int want = atomic_load(&passes_done) + threads;

		if (ioctl(uffd, UFFDIO_REGISTER, &reg))
			die("UFFDIO_REGISTER");
		atomic_fetch_add(&round_no, 1);
		/* Let the readers reach the range; then unregister under them. */
		for (volatile int spin = 0; spin < (int)(rounds % 64) * 64; spin++)
			;
		range_ioctl(UFFDIO_UNREGISTER, "UFFDIO_UNREGISTER");
		wake_stranded(rounds);
		/* Every reader finishes its pass before the next round. */
		while (atomic_load(&passes_done) < want) {
			struct pollfd p = { .fd = uffd, .events = POLLIN };

			poll(&p, 1, 10);
			wake_stranded(rounds);
		}
		rounds++;
	}
	atomic_store(&stop, true);
	atomic_fetch_add(&round_no, 1);
	for (unsigned int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);

	printf("# %u rounds, %u threads: %u faults left asleep in the unregistered range\n",
	       rounds, threads, stranded);
	printf("%sok 1 UFFDIO_UNREGISTER leaves no fault asleep behind\n",
	       stranded ? "not " : "");
	return stranded ? 1 : 0;
}
