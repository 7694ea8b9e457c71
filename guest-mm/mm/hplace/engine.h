/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace engine: what the engine thread, the sampler backends and the
 * sysfs/debugfs interface share.  Kernel only (the pure core in
 * hplace_internal.h and friends is also built in userspace; this is not).
 */
#ifndef _MM_HPLACE_ENGINE_H
#define _MM_HPLACE_ENGINE_H

#include <linux/mutex.h>
#include <linux/list.h>
#include <linux/wait.h>
#include <linux/percpu.h>
#include <linux/mm_types.h>
#include "hplace_internal.h"
#include "sample_ring.h"
#include "budget.h"
#include "range_tree.h"
#include "classify.h"
#include "placement.h"

/* Length of the per-CPU sample rings (samples) and their wakeup fill. */
#define HPLACE_RING_SLOTS	4096
#define HPLACE_RING_WATERMARK	1024
/* Classification epoch: decay, split/merge, rank. */
#define HPLACE_EPOCH_MS		1000
/* A classification older than this many epochs is not reported as demand. */
#define HPLACE_DEMAND_STALE_EPOCHS	10
/*
 * Processes whose resident set is at least this many pages are tracked
 * (16 MiB with 4 KiB pages); injection tracks any process on demand.
 */
#define HPLACE_MIN_RSS_PAGES	(16UL << (20 - PAGE_SHIFT))
/* Bound on ranges over all tracked processes. */
#define HPLACE_MAX_RANGES	65536

/**
 * enum hplace_sampler_id - sampler backends
 * @HPLACE_SAMPLER_PEBS: precise event-based sampling via perf
 * @HPLACE_SAMPLER_ABIT: page-table accessed-bit space sampling
 * @HPLACE_NR_SAMPLERS: number of backends
 */
enum hplace_sampler_id {
	HPLACE_SAMPLER_PEBS,
	HPLACE_SAMPLER_ABIT,
	HPLACE_NR_SAMPLERS,
};

/**
 * enum hplace_sampler_mode - what the user asked for in sysfs "sampler"
 * @HPLACE_MODE_AUTO: PEBS when it works, accessed bits otherwise
 * @HPLACE_MODE_PEBS: PEBS only
 * @HPLACE_MODE_ABIT: accessed bits only
 */
enum hplace_sampler_mode {
	HPLACE_MODE_AUTO,
	HPLACE_MODE_PEBS,
	HPLACE_MODE_ABIT,
};

/* Size of the buffers that hold a human-readable reason. */
#define HPLACE_REASON_LEN	256

/**
 * struct hplace_sampler_ops - a sampler backend
 * @name: name shown in sysfs "sampler"
 * @mode: how the budget knob relates to cost (period or rate)
 * @knob_min: cheapest (RATE) or most expensive (PERIOD) end of the knob
 * @knob_max: the other end
 * @knob_initial: starting value
 * @available: can the backend run here?  0, or a negative errno with a
 *	reason written to @why
 * @start: start sampling with the knob value; 0 or a negative errno with
 *	a reason in @why
 * @stop: stop sampling; must wait until no handler runs any more
 * @set_rate: apply a new knob value (sample period or pages per second)
 * @tick: engine-thread work of the backend (scan, or health checks); may
 *	ask for a fallback by returning -ENODEV with a reason in @why.
 *	Returns 0 and adds the work units done (pages scanned, records) to
 *	@work.
 * @rearm: optional; slow repair a @tick found due (re-creating perf
 *	counters), run by the engine thread between passes without
 *	hplace.lock; must cope with a @stop, or a @stop and a @start, that
 *	came first
 * @handler_ns: cumulative time spent in interrupt handlers, all CPUs
 * @next_tick_ns: time (local_clock) at which @tick wants to run next,
 *	or 0 if it only runs on events
 */
struct hplace_sampler_ops {
	const char *name;
	enum hplace_budget_mode mode;
	u64 knob_min;
	u64 knob_max;
	u64 knob_initial;
	int (*available)(char *why, size_t len);
	int (*start)(u64 knob, char *why, size_t len);
	void (*stop)(void);
	void (*set_rate)(u64 knob);
	int (*tick)(u64 now_ns, u64 *work, char *why, size_t len);
	void (*rearm)(void);
	u64 (*handler_ns)(void);
	u64 (*next_tick_ns)(void);
};

extern const struct hplace_sampler_ops hplace_pebs_ops;
extern const struct hplace_sampler_ops hplace_abit_ops;

/**
 * struct hplace_proc - one tracked process
 * @node: link in hplace_engine.procs
 * @mm: the address space, pinned with mmgrab() (struct only; page tables
 *	are used only under mmget_not_zero())
 * @pid: its thread group, referenced (as damon_target holds it): one
 *	identity whatever pid namespace a sample, an injection or a reader
 *	names it from
 * @id: unique serial number (never reused, unlike pointers)
 * @tree: its ranges
 * @rss_pages: resident pages at the last refresh
 * @on_demand: tracked because samples were injected for it
 * @young: positive accessed-bit checks
 * @checked: accessed-bit checks
 */
struct hplace_proc {
	struct list_head node;
	struct mm_struct *mm;
	struct pid *pid;
	u64 id;
	struct hplace_rtree tree;
	unsigned long rss_pages;
	bool on_demand;
	u64 young;
	u64 checked;
};

/**
 * struct hplace_watch - a debugfs probe window for tests
 * @pid: process (referenced; NULL: none)
 * @start: first address
 * @end: end address
 * @in: positive samples of @pid inside [@start, @end)
 * @out: positive samples of @pid outside
 * @checked_in: observations (positive or not) of @pid inside
 * @checked_out: observations of @pid outside
 */
struct hplace_watch {
	struct pid *pid;
	unsigned long start;
	unsigned long end;
	u64 in;
	u64 out;
	u64 checked_in;
	u64 checked_out;
};

/**
 * struct hplace_engine - the engine's state
 * @lock: protects everything below except where noted; held by the
 *	engine thread while it works, and by sysfs/debugfs users
 * @task: the engine thread ("hplaced")
 * @wq: the thread sleeps here
 * @kick: events pending (ring watermark, resize, sysfs); atomic bits
 * @enabled: sysfs "enabled"
 * @mode: sysfs "sampler"
 * @active: the running backend, or NULL
 * @active_id: its enum hplace_sampler_id
 * @pebs_why: why PEBS is not the active sampler (empty when it is)
 * @paused_why: why the engine is paused (empty when it is not)
 * @permille: sysfs "cpu_budget_permille"
 * @budget: the budget controller
 * @throttle_until: detection is paused until this time (local_clock)
 * @last_runtime: engine thread runtime at the previous budget tick
 * @last_handler: sampler handler time at the previous budget tick
 * @thread_ns: engine thread runtime while enabled, cumulative
 * @cost_ns: detection cost fed to the controller, cumulative
 * @procs: tracked processes
 * @nr_procs: number of tracked processes
 * @next_id: next hplace_proc.id
 * @pool: bound on ranges over all trees
 * @tparams: tuning of new trees
 * @items: classification scratch, HPLACE_MAX_RANGES entries
 * @cres: result of the last classification
 * @classified: @cres describes the engine's current run (cleared when the
 *	sampler stops: switched off, paused, fallen back or changed; set by
 *	the second epoch after it started again, the first one holding only
 *	samples from before)
 * @classified_ns: ktime_get_ns() of the last classification
 * @epoch_since_start: an epoch has run since the sampler last started
 * @next_epoch: time of the next epoch
 * @epochs: epochs run
 * @samples: samples recorded into a tree
 * @untracked: samples whose process is not tracked
 * @unmatched: samples outside every range
 * @resizes: node resize notifications seen
 * @refresh_busy: epochs a process's VMAs were not re-read (mmap_lock busy)
 * @watch: test probe window (debugfs)
 * @place: placement knobs, plan and the migration thread
 * @cgroup: when set (sysfs "cgroup"), only processes in this cgroup (v2)
 *	or below it are tracked, whatever their size; a reference is held
 * @cgroup_path: the path written, for reading back
 */
struct hplace_engine {
	struct mutex lock;	/* see @lock above */
	struct task_struct *task;
	wait_queue_head_t wq;
	unsigned long kick;
	bool enabled;
	enum hplace_sampler_mode mode;
	const struct hplace_sampler_ops *active;
	enum hplace_sampler_id active_id;
	char pebs_why[HPLACE_REASON_LEN];
	char paused_why[HPLACE_REASON_LEN];
	unsigned int permille;
	struct hplace_budget budget;
	u64 throttle_until;
	u64 last_runtime;
	u64 last_handler;
	u64 thread_ns;
	u64 cost_ns;
	struct list_head procs;
	unsigned int nr_procs;
	u64 next_id;
	struct hplace_rtree_pool pool;
	struct hplace_rtree_params tparams;
	struct hplace_class_item *items;
	struct hplace_class_result cres;
	bool classified;
	u64 classified_ns;
	bool epoch_since_start;
	u64 next_epoch;
	u64 epochs;
	u64 samples;
	u64 untracked;
	u64 unmatched;
	unsigned long resizes;
	u64 refresh_busy;
	struct hplace_watch watch;
	struct hplace_place place;
	struct cgroup *cgroup;
	char cgroup_path[HPLACE_REASON_LEN];
};

/* Bits of hplace_engine.kick. */
#define HPLACE_KICK_RING	0	/* a sample ring reached its watermark */
#define HPLACE_KICK_RESIZE	1	/* a node resize notification */
#define HPLACE_KICK_CONFIG	2	/* sysfs changed something */

extern struct hplace_engine hplace;

void hplace_kick(int why);
void hplace_kick_nmi(void);
int hplace_push_sample(const struct hplace_sample *s);
int hplace_inject(pid_t pid, unsigned long addr, enum hplace_access_kind kind);
int hplace_parse_inject(const char *line, pid_t *pid, unsigned long *addr,
			enum hplace_access_kind *kind);

int hplace_set_enabled(bool on);
int hplace_set_mode(enum hplace_sampler_mode mode);
int hplace_set_permille(unsigned int permille);
int hplace_set_cgroup(const char *path);
const char *hplace_coexist_conflict(void);

void hplace_record(struct hplace_proc *p, unsigned long addr, bool young);
struct hplace_proc *hplace_first_proc(void);
struct hplace_proc *hplace_next_proc(struct hplace_proc *p);

extern unsigned int hplace_abit_tick_ms;
u64 hplace_abit_rate(void);
u64 hplace_abit_window(void);
u64 hplace_pebs_period(void);

int hplace_sysfs_init(void);
void hplace_debugfs_init(void);

#endif /* _MM_HPLACE_ENGINE_H */
