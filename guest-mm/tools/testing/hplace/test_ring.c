// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for mm/hplace/sample_ring.c: FIFO order across wrap-around,
 * overflow (drop) accounting, watermark wakeups, a nested producer (a
 * signal handler standing in for an NMI) and a real two-thread SPSC run.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/time.h>

#include "hplace_internal.h"
#include "sample_ring.h"
#include "test.h"

/* A sample whose fields all derive from @seq, so tearing is visible. */
static struct hplace_sample mk(u64 seq)
{
	struct hplace_sample s = {
		.addr = (seq + 1) << PAGE_SHIFT,
		.phys = ~seq,
		.pid = (u32)(seq * 2654435761u),
		.weight = (u16)seq,
		.kind = (u8)(seq % 3),
		.flags = (u8)(seq >> 8),
	};
	return s;
}

static bool well_formed(const struct hplace_sample *s, u64 *seq)
{
	u64 q = (s->addr >> PAGE_SHIFT) - 1;
	struct hplace_sample e = mk(q);

	*seq = q;
	return !memcmp(s, &e, sizeof(e));
}

static bool t_ring_init(void)
{
	struct hplace_sample slots[16];
	struct hplace_ring r;

	T_EQ(hplace_ring_init(&r, slots, 0, 0), -EINVAL);
	T_EQ(hplace_ring_init(&r, slots, 1, 0), -EINVAL);
	T_EQ(hplace_ring_init(&r, slots, 12, 0), -EINVAL);
	T_EQ(hplace_ring_init(&r, NULL, 16, 0), -EINVAL);
	T_EQ(hplace_ring_init(&r, slots, 16, 17), -EINVAL);
	T_EQ(hplace_ring_init(&r, slots, 16, 0), 0);
	T_EQ(r.watermark, 8);
	T_EQ(hplace_ring_count(&r), 0);
	T_EQ(hplace_ring_dropped(&r), 0);
	return true;
}

static bool t_ring_fifo_wrap(void)
{
	struct hplace_sample slots[64], out[64];
	struct hplace_ring r;
	u64 in = 0, next = 0, seq;
	unsigned int i, k, n, round;

	T_EQ(hplace_ring_init(&r, slots, 64, 0), 0);
	/* Start near u32 wrap of the free-running counters. */
	r.head = 0xffffff00u;
	r.tail = r.head;
	for (round = 0; round < 20000; round++) {
		k = t_rand_below(65);
		for (i = 0; i < k; i++) {
			struct hplace_sample s = mk(in);

			if (hplace_ring_push(&r, &s) >= 0)
				in++;
		}
		n = hplace_ring_pop(&r, out, t_rand_below(65));
		for (i = 0; i < n; i++) {
			T_ASSERT(well_formed(&out[i], &seq));
			T_EQ(seq, next);
			next++;
		}
		T_ASSERT(hplace_ring_count(&r) <= 64);
	}
	T_EQ(in, hplace_ring_produced(&r));
	T_EQ(in - next, hplace_ring_count(&r));
	return true;
}

static bool t_ring_overflow(void)
{
	struct hplace_sample slots[8], out[16];
	struct hplace_ring r;
	unsigned int i, n;
	u64 seq;
	int ret;

	T_EQ(hplace_ring_init(&r, slots, 8, 0), 0);
	for (i = 0; i < 20; i++) {
		struct hplace_sample s = mk(i);

		ret = hplace_ring_push(&r, &s);
		T_ASSERTF(i < 8 ? ret >= 0 : ret == -ENOSPC,
			  "push %u returned %d", i, ret);
	}
	T_EQ(hplace_ring_count(&r), 8);
	T_EQ(hplace_ring_produced(&r), 8);
	T_EQ(r.drops, 12);
	T_EQ(hplace_ring_dropped(&r), 12);

	/* The oldest 8 survive, in order; drops do not disturb them. */
	n = hplace_ring_pop(&r, out, 16);
	T_EQ(n, 8);
	for (i = 0; i < n; i++) {
		T_ASSERT(well_formed(&out[i], &seq));
		T_EQ(seq, i);
	}
	/* Room again: new samples are stored, the drop count stays. */
	for (i = 0; i < 3; i++) {
		struct hplace_sample s = mk(100 + i);

		T_ASSERT(hplace_ring_push(&r, &s) >= 0);
	}
	T_EQ(hplace_ring_dropped(&r), 12);
	T_EQ(hplace_ring_produced(&r), 11);
	T_EQ(hplace_ring_pop(&r, out, 16), 3);
	T_ASSERT(well_formed(&out[0], &seq) && seq == 100);
	return true;
}

static bool t_ring_watermark(void)
{
	struct hplace_sample slots[16], out[16];
	struct hplace_ring r;
	unsigned int i, wakes = 0;
	struct hplace_sample s = mk(1);
	int ret;

	T_EQ(hplace_ring_init(&r, slots, 16, 4), 0);
	for (i = 1; i <= 16; i++) {
		ret = hplace_ring_push(&r, &s);
		T_ASSERT(ret >= 0);
		if (ret == HPLACE_RING_WAKE) {
			wakes++;
			T_EQ(i, 4);
		}
	}
	T_EQ(wakes, 1);
	/* Drain to 2, refill: the level crosses 4 again, one more wakeup. */
	T_EQ(hplace_ring_pop(&r, out, 14), 14);
	T_EQ(hplace_ring_push(&r, &s), HPLACE_RING_STORED);
	T_EQ(hplace_ring_push(&r, &s), HPLACE_RING_WAKE);
	T_EQ(hplace_ring_push(&r, &s), HPLACE_RING_STORED);
	return true;
}

/*
 * Nested producer: SIGALRM every 20 us pushes from the signal handler
 * while the main loop pushes and pops, the way a PMI can interrupt a
 * large-PEBS drain on the same CPU.  Every sample taken out must be
 * whole, and every attempt must be accounted as stored or dropped.
 */
static struct hplace_ring nest_ring;
static struct hplace_sample nest_slots[256];
static volatile sig_atomic_t nest_attempts, nest_busy;
static const u64 nest_seq_base = 1ULL << 32;

static void nest_handler(int sig)
{
	struct hplace_sample s = mk(nest_seq_base + nest_attempts);

	(void)sig;
	nest_attempts++;
	if (hplace_ring_push(&nest_ring, &s) == -EBUSY)
		nest_busy++;
}

static bool t_ring_nested_producer(void)
{
	struct itimerval it = { { 0, 20 }, { 0, 20 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa = { .sa_handler = nest_handler };
	struct hplace_sample out[256];
	u64 main_attempts = 0, popped = 0, seq, i, n;
	u64 rounds = t_full ? 20000000 : 2000000;

	T_EQ(hplace_ring_init(&nest_ring, nest_slots, 256, 0), 0);
	sigemptyset(&sa.sa_mask);
	T_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	T_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	for (i = 0; i < rounds; i++) {
		struct hplace_sample s = mk(main_attempts);

		main_attempts++;
		hplace_ring_push(&nest_ring, &s);
		if ((i & 127) == 127) {
			n = hplace_ring_pop(&nest_ring, out, 256);
			popped += n;
			while (n--)
				T_ASSERT(well_formed(&out[n], &seq));
		}
	}
	T_EQ(setitimer(ITIMER_REAL, &off, NULL), 0);
	signal(SIGALRM, SIG_DFL);
	n = hplace_ring_pop(&nest_ring, out, 256);
	popped += n;
	while (n--)
		T_ASSERT(well_formed(&out[n], &seq));

	T_ASSERT(nest_attempts > 0);
	T_EQ(nest_ring.busy, 0);
	T_EQ(nest_ring.busy_drops, nest_busy);
	T_EQ(popped, hplace_ring_produced(&nest_ring));
	T_EQ(main_attempts + nest_attempts,
	     hplace_ring_produced(&nest_ring) + hplace_ring_dropped(&nest_ring));
	printf("# nested producer: %llu main + %d handler pushes, %lu full drops, %lu busy drops\n",
	       (unsigned long long)main_attempts, (int)nest_attempts,
	       nest_ring.drops, nest_ring.busy_drops);
	return true;
}

/* Two threads: producer never blocks, consumer checks order and integrity. */
struct spsc {
	struct hplace_ring ring;
	struct hplace_sample slots[1024];
	u64 total;
	int done;
	u64 consumed, gaps, bad, disorder, retries;
};

static void *spsc_consumer(void *arg)
{
	struct spsc *x = arg;
	struct hplace_sample out[64];
	u64 last = 0, seq;
	bool first = true;
	unsigned int n, i;

	for (;;) {
		int done = __atomic_load_n(&x->done, __ATOMIC_ACQUIRE);

		n = hplace_ring_pop(&x->ring, out, 64);
		for (i = 0; i < n; i++) {
			if (!well_formed(&out[i], &seq)) {
				x->bad++;
				continue;
			}
			if (!first && seq <= last)
				x->disorder++;
			if (!first && seq > last + 1)
				x->gaps += seq - last - 1;
			first = false;
			last = seq;
			x->consumed++;
		}
		if (!n && done)
			break;
	}
	return NULL;
}

static bool t_ring_spsc_threads(void)
{
	static struct spsc x;
	pthread_t th;
	u64 i;

	memset(&x, 0, sizeof(x));
	x.total = t_full ? 20000000 : 2000000;
	T_EQ(hplace_ring_init(&x.ring, x.slots, 1024, 0), 0);
	T_EQ(pthread_create(&th, NULL, spsc_consumer, &x), 0);
	for (i = 0; i < x.total; i++) {
		struct hplace_sample s = mk(i);

		/* Retry (as a test harness, not the NMI) so nothing is lost. */
		while (hplace_ring_push(&x.ring, &s) == -ENOSPC) {
			x.retries++;
			sched_yield();
		}
	}
	__atomic_store_n(&x.done, 1, __ATOMIC_RELEASE);
	T_EQ(pthread_join(th, NULL), 0);

	T_EQ(x.bad, 0);
	T_EQ(x.disorder, 0);
	T_EQ(x.gaps, 0);
	T_EQ(x.consumed, x.total);
	T_EQ(hplace_ring_produced(&x.ring), x.total);
	/* Every refused push was counted as a drop, nothing else. */
	T_EQ(hplace_ring_dropped(&x.ring), x.retries);
	printf("# spsc: %llu samples through a 1024-slot ring, %llu full-ring drops\n",
	       (unsigned long long)x.total, (unsigned long long)x.retries);
	return true;
}

const struct t_case t_ring_cases[] = {
	{ "ring: init rejects bad sizes", t_ring_init },
	{ "ring: FIFO across u32 wrap-around", t_ring_fifo_wrap },
	{ "ring: overflow drops and counts, keeps oldest", t_ring_overflow },
	{ "ring: watermark wakes once per crossing", t_ring_watermark },
	{ "ring: nested producer (signal as NMI) never corrupts", t_ring_nested_producer },
	{ "ring: two-thread SPSC, order kept, drops counted exactly", t_ring_spsc_threads },
	{ NULL, NULL },
};
