// SPDX-License-Identifier: GPL-2.0
/*
 * hplace PEBS sampler: precise memory-access samples from the PMU.
 *
 * Two kernel perf counters per online CPU: load latency (raw event 0x01cd,
 * latency threshold in config1) and all stores (0x82d0), both precise
 * (PEBS), user space only, sampling PERF_SAMPLE_ADDR (guest-virtual data
 * address), TID, DATA_SRC, WEIGHT and PHYS_ADDR.  The overflow handler runs
 * in NMI context: it decodes the record (pebs_decode.c), pushes it into
 * this CPU's ring without locks or allocation, and adds its own running
 * time (local_clock() deltas) to a per-CPU counter the budget controller
 * reads.
 *
 * Large PEBS: with a custom overflow handler, x86 ds.c would hand all but
 * the last record of a multi-record drain to perf_event_output(),
 * bypassing the handler.  Setting wakeup_events = 1 makes the x86 driver
 * keep the PEBS threshold at one record, so every record reaches the
 * handler.
 *
 * Run-time detection:
 *  - no PMU, no PEBS, an old CPU or a migratable CPU model: counter creation
 *    fails; the reason is reported and the engine falls back;
 *  - stock KVM (since 2024) gives guests basic PEBS records without a data
 *    address: the handler counts records with and without an address and
 *    the detector (pebs_decode.c) turns a window of address-less records
 *    into a fallback, reported in dmesg and stats/pebs_unavailable;
 *  - live migration: QEMU does not migrate DS_AREA/PEBS_ENABLE, so on the
 *    destination the counters may stop producing records.  A detector
 *    window without any record re-creates the counters (the re-created
 *    counters reprogram the PEBS buffer); if the destination host gives no
 *    addresses, the next window falls back.  While on the fallback in
 *    auto mode, the engine probes PEBS again every minute.
 *
 * Creating counters takes the CPU hotplug lock and an IPI per CPU.  The
 * tick only notes that a re-creation is due; the engine thread calls
 * hplace_pebs_rearm() between passes, without hplace.lock, so stats/
 * readers and the migrator's snapshot do not wait for it (unless a sysfs
 * writer stops the sampler meanwhile: it waits for the re-creation while
 * holding hplace.lock).  Starting, stopping and the periodic probe still
 * create or release counters under hplace.lock; they are rare.
 *
 * Locking: the counters and pebs.period are guarded by hplace_pebs_mutex,
 * which nests inside hplace.lock.  pebs.running, rearm_due, rearm_failed
 * and why are written under hplace_pebs_mutex, or by the engine thread
 * under hplace.lock (the tick), and read without the mutex only by the
 * engine thread (tick, next_tick_ns, rearm), which is what makes those
 * reads safe: no other context may call them.
 *
 * CPUs that come online after start are not sampled until the sampler is
 * restarted (sysfs, or the next re-creation).
 */

#define pr_fmt(fmt) "hplace: " fmt

#include <linux/perf_event.h>
#include <linux/cpu.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include "engine.h"
#include "pebs_decode.h"

#define HPLACE_PEBS_LOAD_EVENT	0x01cd	/* MEM_TRANS_RETIRED.LOAD_LATENCY */
#define HPLACE_PEBS_STORE_EVENT	0x82d0	/* MEM_INST_RETIRED.ALL_STORES */
#define HPLACE_PEBS_LDLAT	64	/* cycles; loads faster than this hit */
/* Store period = load period * this (4093 : 65535 in the field). */
#define HPLACE_PEBS_STORE_MULT	16
/* Detector: a window closes after this many records or this long. */
#define HPLACE_PEBS_DET_RECORDS	256
#define HPLACE_PEBS_DET_NS	(10ULL * NSEC_PER_SEC)
#define HPLACE_PEBS_TICK_NS	(1ULL * NSEC_PER_SEC)

static DEFINE_PER_CPU(struct perf_event *, hplace_pebs_load);
static DEFINE_PER_CPU(struct perf_event *, hplace_pebs_store);
static DEFINE_PER_CPU(u64, hplace_pebs_ns);
static DEFINE_PER_CPU(unsigned long, hplace_pebs_addr);
static DEFINE_PER_CPU(unsigned long, hplace_pebs_noaddr);
/* Guards the counters above and pebs.period; see "Locking" above. */
static DEFINE_MUTEX(hplace_pebs_mutex);

static struct {
	struct hplace_pebs_detect det;
	unsigned long seen_addr;
	unsigned long seen_noaddr;
	u64 period;
	u64 next_tick;
	unsigned int rearms;
	bool running;
	bool rearm_due;		/* the tick asks hplace_pebs_rearm() */
	bool rearm_failed;	/* and it failed: the next tick falls back */
	char why[HPLACE_REASON_LEN];
} pebs;

static void hplace_pebs_overflow(struct perf_event *event,
				 struct perf_sample_data *data,
				 struct pt_regs *regs)
{
	u64 t0 = local_clock();
	struct hplace_perf_record rec = { };
	struct hplace_sample s;
	enum hplace_pebs_result res;

	if (data->sample_flags & PERF_SAMPLE_ADDR)
		rec.addr = data->addr;
	if (data->sample_flags & PERF_SAMPLE_DATA_SRC)
		rec.data_src = data->data_src.val;
	if (data->sample_flags & PERF_SAMPLE_WEIGHT_TYPE) {
		rec.weight = data->weight.full;
		rec.weight_struct = !!(event->attr.sample_type &
				       PERF_SAMPLE_WEIGHT_STRUCT);
	}
	if (current->mm && !(current->flags & PF_KTHREAD))
		rec.pid = current->tgid;
	rec.event = event->attr.config == HPLACE_PEBS_LOAD_EVENT ?
		    HPLACE_PEBS_EV_LOAD : HPLACE_PEBS_EV_STORE;

	res = hplace_pebs_decode(&rec, &s);
	if (res == HPLACE_PEBS_REJ_NOADDR)
		this_cpu_inc(hplace_pebs_noaddr);
	else
		this_cpu_inc(hplace_pebs_addr);
	if (res == HPLACE_PEBS_ACCEPT)
		hplace_push_sample(&s);
	this_cpu_add(hplace_pebs_ns, local_clock() - t0);
}

static void hplace_pebs_attr(struct perf_event_attr *attr, bool store,
			     u64 period)
{
	memset(attr, 0, sizeof(*attr));
	attr->type = PERF_TYPE_RAW;
	attr->size = sizeof(*attr);
	attr->config = store ? HPLACE_PEBS_STORE_EVENT : HPLACE_PEBS_LOAD_EVENT;
	attr->config1 = store ? 0 : HPLACE_PEBS_LDLAT;
	attr->sample_period = store ? period * HPLACE_PEBS_STORE_MULT : period;
	attr->sample_type = PERF_SAMPLE_ADDR | PERF_SAMPLE_TID |
			    PERF_SAMPLE_DATA_SRC | PERF_SAMPLE_WEIGHT |
			    PERF_SAMPLE_PHYS_ADDR;
	attr->precise_ip = 2;
	attr->exclude_kernel = 1;
	attr->exclude_hv = 1;
	attr->exclude_idle = 1;
	attr->pinned = 1;
	/* One record per PMI, so every record reaches the handler. */
	attr->wakeup_events = 1;
}

static struct perf_event *hplace_pebs_create(int cpu, bool store, u64 period)
{
	struct perf_event_attr attr;
	struct perf_event *ev;

	hplace_pebs_attr(&attr, store, period);
	ev = perf_event_create_kernel_counter(&attr, cpu, NULL,
					      hplace_pebs_overflow, NULL);
	/*
	 * Sapphire Rapids and Emerald Rapids only take a load-latency event
	 * sampling DATA_SRC as a member of a group led by mem-loads-aux
	 * (0x8203), and kernel counters cannot form groups: there, sample
	 * without DATA_SRC (decoding treats it as absent).
	 */
	if (PTR_ERR_OR_ZERO(ev) == -ENODATA && !store) {
		attr.sample_type &= ~PERF_SAMPLE_DATA_SRC;
		ev = perf_event_create_kernel_counter(&attr, cpu, NULL,
						      hplace_pebs_overflow,
						      NULL);
	}
	return ev;
}

/* Caller holds hplace_pebs_mutex. */
static void hplace_pebs_release(void)
{
	struct perf_event **ev;
	int cpu;

	for_each_possible_cpu(cpu) {
		ev = per_cpu_ptr(&hplace_pebs_load, cpu);
		if (*ev)
			perf_event_release_kernel(*ev);
		*ev = NULL;
		ev = per_cpu_ptr(&hplace_pebs_store, cpu);
		if (*ev)
			perf_event_release_kernel(*ev);
		*ev = NULL;
	}
}

static int hplace_pebs_reason(long err, char *why, size_t len)
{
	snprintf(why, len,
		 "no PEBS load-latency event (perf error %ld): needs an Intel Ice Lake or later CPU, -cpu host,migratable=off and a host that virtualizes PEBS",
		 err);
	return err ? (int)err : -ENODEV;
}

static int hplace_pebs_available(char *why, size_t len)
{
	struct perf_event *ev;
	int cpu = get_cpu();

	put_cpu();
	ev = hplace_pebs_create(cpu, false, 65535);
	if (IS_ERR(ev))
		return hplace_pebs_reason(PTR_ERR(ev), why, len);
	perf_event_release_kernel(ev);
	return 0;
}

/* Caller holds hplace_pebs_mutex. */
static int hplace_pebs_arm(u64 period, char *why, size_t len)
{
	struct perf_event *ev;
	int cpu, ret = 0;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		ev = hplace_pebs_create(cpu, false, period);
		if (IS_ERR(ev)) {
			ret = hplace_pebs_reason(PTR_ERR(ev), why, len);
			break;
		}
		per_cpu(hplace_pebs_load, cpu) = ev;
		ev = hplace_pebs_create(cpu, true, period);
		if (IS_ERR(ev)) {
			ret = hplace_pebs_reason(PTR_ERR(ev), why, len);
			break;
		}
		per_cpu(hplace_pebs_store, cpu) = ev;
	}
	cpus_read_unlock();
	if (ret)
		hplace_pebs_release();
	return ret;
}

static void hplace_pebs_counts(unsigned long *with, unsigned long *without)
{
	int cpu;

	*with = 0;
	*without = 0;
	for_each_possible_cpu(cpu) {
		*with += per_cpu(hplace_pebs_addr, cpu);
		*without += per_cpu(hplace_pebs_noaddr, cpu);
	}
}

static int hplace_pebs_start(u64 knob, char *why, size_t len)
{
	u64 now = local_clock();
	int ret;

	mutex_lock(&hplace_pebs_mutex);
	ret = hplace_pebs_arm(knob, why, len);
	if (!ret) {
		pebs.period = knob;
		hplace_pebs_counts(&pebs.seen_addr, &pebs.seen_noaddr);
		hplace_pebs_detect_init(&pebs.det, now,
					HPLACE_PEBS_DET_RECORDS,
					HPLACE_PEBS_DET_NS);
		pebs.next_tick = now + HPLACE_PEBS_TICK_NS;
		WRITE_ONCE(pebs.rearm_due, false);
		WRITE_ONCE(pebs.rearm_failed, false);
		WRITE_ONCE(pebs.running, true);
	}
	mutex_unlock(&hplace_pebs_mutex);
	return ret;
}

static void hplace_pebs_stop(void)
{
	mutex_lock(&hplace_pebs_mutex);
	WRITE_ONCE(pebs.running, false);
	WRITE_ONCE(pebs.rearm_due, false);
	hplace_pebs_release();
	mutex_unlock(&hplace_pebs_mutex);
}

static void hplace_pebs_set_rate(u64 knob)
{
	struct perf_event *ev;
	int cpu;

	mutex_lock(&hplace_pebs_mutex);
	pebs.period = knob;
	for_each_possible_cpu(cpu) {
		ev = per_cpu(hplace_pebs_load, cpu);
		if (ev)
			perf_event_period(ev, knob);
		ev = per_cpu(hplace_pebs_store, cpu);
		if (ev)
			perf_event_period(ev, knob * HPLACE_PEBS_STORE_MULT);
	}
	mutex_unlock(&hplace_pebs_mutex);
}

static int hplace_pebs_tick(u64 now, u64 *work, char *why, size_t len)
{
	unsigned long with, without;
	enum hplace_pebs_verdict v;
	unsigned int windows = pebs.det.windows;

	lockdep_assert_held(&hplace.lock);
	if (READ_ONCE(pebs.rearm_failed)) {
		strscpy(why, pebs.why, len);
		return -ENODEV;
	}
	if (now < pebs.next_tick)
		return 0;
	pebs.next_tick = now + HPLACE_PEBS_TICK_NS;
	hplace_pebs_counts(&with, &without);
	v = hplace_pebs_detect_update(&pebs.det, now, with - pebs.seen_addr,
				      without - pebs.seen_noaddr);
	pebs.seen_addr = with;
	pebs.seen_noaddr = without;
	if (pebs.det.windows == windows)
		return 0;	/* no window closed */

	switch (v) {
	case HPLACE_PEBS_NO_ADDR:
		snprintf(why, len,
			 "PEBS records carry no data address (the host KVM does not pass PEBS data addresses to guests)");
		return -ENODEV;
	case HPLACE_PEBS_NO_RECORDS:
		/* Possibly migrated: the PEBS state was not carried over. */
		WRITE_ONCE(pebs.rearm_due, true);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Re-create the counters if the last tick asked for it.  Engine thread,
 * without hplace.lock; a sampler stopped (and maybe started again)
 * meanwhile is left alone: stop and start clear rearm_due.  A failure is
 * reported by the next tick, which makes the engine fall back; the engine
 * is kicked so that the tick comes now, not at the next epoch.
 */
static void hplace_pebs_rearm(void)
{
	lockdep_assert_not_held(&hplace.lock);
	if (!READ_ONCE(pebs.rearm_due))
		return;
	mutex_lock(&hplace_pebs_mutex);
	if (pebs.running && pebs.rearm_due) {
		WRITE_ONCE(pebs.rearm_due, false);
		hplace_pebs_release();
		if (hplace_pebs_arm(pebs.period, pebs.why, sizeof(pebs.why))) {
			WRITE_ONCE(pebs.running, false);
			WRITE_ONCE(pebs.rearm_failed, true);
			hplace_kick(HPLACE_KICK_CONFIG);
		} else {
			pebs.rearms++;
		}
	}
	mutex_unlock(&hplace_pebs_mutex);
}

static u64 hplace_pebs_handler_ns(void)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(hplace_pebs_ns, cpu);
	return sum;
}

static u64 hplace_pebs_next_tick(void)
{
	return pebs.running ? pebs.next_tick : 0;
}

/**
 * hplace_pebs_period() - current load sample period, for stats/
 *
 * Return: events per sample of the load-latency counter (0 when PEBS has
 * never run).
 */
u64 hplace_pebs_period(void)
{
	return pebs.period;
}

const struct hplace_sampler_ops hplace_pebs_ops = {
	.name = "pebs",
	.mode = HPLACE_BUDGET_PERIOD,
	.knob_min = 199,
	.knob_max = 1 << 22,
	.knob_initial = 4093,
	.available = hplace_pebs_available,
	.start = hplace_pebs_start,
	.stop = hplace_pebs_stop,
	.set_rate = hplace_pebs_set_rate,
	.tick = hplace_pebs_tick,
	.rearm = hplace_pebs_rearm,
	.handler_ns = hplace_pebs_handler_ns,
	.next_tick_ns = hplace_pebs_next_tick,
};
