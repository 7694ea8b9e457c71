// SPDX-License-Identifier: GPL-2.0
/*
 * hplace engine: the "hplaced" kernel thread, process tracking, sampler
 * selection, the CPU budget and coexistence with the kernel's own tiering.
 *
 * One kernel thread does all the work.  It sleeps until a per-CPU sample
 * ring crosses its watermark (the PEBS overflow handler kicks it through
 * irq_work), a node resize notification arrives (hballoon), sysfs changes
 * something, or a timer expires (the accessed-bit scan tick, the
 * classification epoch, the end of a budget pause).  It then drains the
 * rings into the per-process range trees, lets the sampler do its
 * thread-side work, runs the epoch (track processes, decay/split/merge,
 * classify) when due, and feeds the budget controller with what it cost:
 * its own runtime (task_sched_runtime() deltas, which is what
 * /proc/<pid>/schedstat shows) plus the sampler's interrupt-handler time.
 *
 * Tracked processes: every user process whose resident set is at least
 * HPLACE_MIN_RSS_PAGES (16 MiB), checked once per epoch; one that drops
 * below half of that is untracked.  With sysfs "cgroup" set, instead every
 * process in that cgroup v2 subtree, whatever its size, and no other.  A
 * process is held with mmgrab() (the mm_struct stays, the address space
 * may go) and its page tables are only touched under mmget_not_zero();
 * when that fails, the process has exited and is untracked.  Ranges follow
 * the private anonymous VMAs, refreshed every epoch.
 */

#define pr_fmt(fmt) "hplace: " fmt

#include <linux/mm.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/cputime.h>
#include <linux/sched/clock.h>
#include <linux/sched/sysctl.h>
#include <linux/sched/numa_balancing.h>
#include <linux/memory-tiers.h>
#include <linux/irq_work.h>
#include <linux/vmstat.h>
#include <linux/nodemask.h>
#include <linux/node_resize.h>
#include <linux/mmzone.h>
#include <linux/pid.h>
#include <linux/init.h>
#include <linux/kstrtox.h>
#include <linux/cgroup.h>
#include "engine.h"
#include "move.h"
#include "tier.h"

#define CREATE_TRACE_POINTS
#include <trace/events/hplace.h>

/* While paused by a coexistence conflict, look again this often. */
#define HPLACE_PAUSE_POLL_MS	1000
/* Budget decisions are taken at most this often. */
#define HPLACE_BUDGET_INTERVAL_NS	(500ULL * NSEC_PER_MSEC)
/*
 * In auto mode on the fallback, try PEBS again this often (migration).
 * Each time PEBS fails after it started (advertised but unusable, e.g. no
 * data addresses), the next try waits twice as long, up to 16 times (a
 * live migration to a host with working PEBS is picked up within 16
 * minutes): a restart costs the demand signal an epoch, and a host that
 * fails once will fail again.  PEBS that has run for a whole interval
 * clears it.
 */
#define HPLACE_PEBS_REPROBE_NS	(60ULL * NSEC_PER_SEC)
#define HPLACE_PEBS_BACKOFF_MAX	4
/* New processes adopted per epoch, bounded so an epoch stays short. */
#define HPLACE_ADOPT_PER_EPOCH	16
/*
 * Longest detection pause after a throttle.  A single expensive pass (e.g.
 * the vCPU preempted by the host while the engine ran) must not stop
 * detection for minutes; what a longer pause would have paid back is
 * forgiven.
 */
#define HPLACE_THROTTLE_MAX_NS	(2ULL * NSEC_PER_SEC)

struct hplace_engine hplace = {
	.lock = __MUTEX_INITIALIZER(hplace.lock),
	.wq = __WAIT_QUEUE_HEAD_INITIALIZER(hplace.wq),
	.procs = LIST_HEAD_INIT(hplace.procs),
	.permille = 10,
	.mode = HPLACE_MODE_AUTO,
};

static DEFINE_PER_CPU(struct hplace_ring, hplace_rings);
static int hplace_boot = -1;		/* hplace=on|off; -1: by memory tiers */
static bool hplace_ready;
static u64 hplace_next_reprobe;
static unsigned int hplace_pebs_backoff;	/* runtime failures in a row */
static u64 hplace_pebs_since;			/* when PEBS last started */
static bool hplace_reprobe_due;		/* for hplace_unlocked_work() */
static unsigned long hplace_ring_drops_seen;
static struct hplace_sample *hplace_drain_buf;
#define HPLACE_DRAIN_BATCH	256

static int __init hplace_setup(char *s)
{
	bool on;

	if (kstrtobool(s, &on))
		return 0;
	hplace_boot = on;
	return 1;
}
__setup("hplace=", hplace_setup);

/**
 * hplace_kick() - wake the engine thread for an event
 * @why: HPLACE_KICK_* bit
 *
 * Any context except NMI (use hplace_kick_nmi() there).
 */
void hplace_kick(int why)
{
	set_bit(why, &hplace.kick);
	wake_up(&hplace.wq);
}

static void hplace_wake_fn(struct irq_work *work)
{
	hplace_kick(HPLACE_KICK_RING);
}

static struct irq_work hplace_wake_work = IRQ_WORK_INIT(hplace_wake_fn);

/**
 * hplace_kick_nmi() - wake the engine thread from NMI context
 *
 * Defers the wakeup to irq_work; calls while one is pending coalesce.
 */
void hplace_kick_nmi(void)
{
	irq_work_queue(&hplace_wake_work);
}

/**
 * hplace_push_sample() - store a sample in this CPU's ring
 * @s: the sample
 *
 * For sampler handlers (NMI-safe: no locks, no allocation).  Wakes the
 * engine when the ring reaches its watermark.  Drops are counted by the
 * ring and reported as hplace_sample_drop.
 *
 * Return: 0 if stored, a negative errno if dropped.
 */
int hplace_push_sample(const struct hplace_sample *s)
{
	struct hplace_ring *ring = this_cpu_ptr(&hplace_rings);
	int ret;

	if (unlikely(!ring->slots))
		return -ENODEV;
	ret = hplace_ring_push(ring, s);
	if (ret == HPLACE_RING_WAKE)
		hplace_kick_nmi();
	return ret < 0 ? ret : 0;
}

/**
 * hplace_coexist_conflict() - which kernel tiering knob is on, if any
 *
 * hplace owns tier placement; it does not run next to NUMA balancing (any
 * mode) or kernel demotion.
 *
 * Return: the knob to turn off, or NULL when there is no conflict.
 */
const char *hplace_coexist_conflict(void)
{
	if (IS_ENABLED(CONFIG_NUMA_BALANCING) &&
	    READ_ONCE(sysctl_numa_balancing_mode))
		return "kernel.numa_balancing (/proc/sys/kernel/numa_balancing)";
	if (IS_ENABLED(CONFIG_NUMA) && READ_ONCE(numa_demotion_enabled))
		return "/sys/kernel/mm/numa/demotion_enabled";
	return NULL;
}

/* ------------------------------------------------------------ processes */

static struct hplace_proc *hplace_last_proc;	/* lookup cache */

/*
 * The tracked process whose thread group id in the initial pid namespace
 * is @nr: what samples carry (the sampler runs in the process's context and
 * records current->tgid) and what adoption sees.
 */
static struct hplace_proc *hplace_find_proc(pid_t nr)
{
	struct hplace_proc *last = hplace_last_proc;
	struct hplace_proc *p;

	if (last && pid_nr(last->pid) == nr)
		return last;
	list_for_each_entry(p, &hplace.procs, node) {
		if (pid_nr(p->pid) == nr) {
			hplace_last_proc = p;
			return p;
		}
	}
	return NULL;
}

static struct hplace_proc *hplace_find_proc_pid(struct pid *pid)
{
	struct hplace_proc *p;

	list_for_each_entry(p, &hplace.procs, node)
		if (p->pid == pid)
			return p;
	return NULL;
}

/**
 * hplace_first_proc() - the first tracked process, for list walks
 *
 * Return: the first entry or NULL.  Caller holds hplace.lock.
 */
struct hplace_proc *hplace_first_proc(void)
{
	return list_first_entry_or_null(&hplace.procs, struct hplace_proc,
					 node);
}

/**
 * hplace_next_proc() - the tracked process after @p
 * @p: a tracked process
 *
 * Return: the next entry or NULL.  Caller holds hplace.lock.
 */
struct hplace_proc *hplace_next_proc(struct hplace_proc *p)
{
	if (list_is_last(&p->node, &hplace.procs))
		return NULL;
	return list_next_entry(p, node);
}

/*
 * Make the tree follow the private anonymous VMAs.  mm is pinned.  Runs
 * under hplace.lock, so it never waits for the tenant's mmap_lock: one
 * process holding it for writing (a long mprotect(2) or mmap(2)) would
 * stall placement, the migrator's snapshot and every stats/ read.  A busy
 * process keeps its ranges until a later epoch (samples in new mappings
 * still make ranges of their own).  Returns false if it was busy.
 */
static bool hplace_refresh_vmas(struct hplace_proc *p)
{
	struct mm_struct *mm = p->mm;
	struct vm_area_struct *vma;
	unsigned long prev_end = 0;
	struct vma_iterator vmi;

	if (!mmap_read_trylock(mm)) {
		hplace.refresh_busy++;
		return false;
	}
	vma_iter_init(&vmi, mm, 0);
	for_each_vma(vmi, vma) {
		if (!hplace_vma_tracked(vma))
			continue;
		if (vma->vm_start > prev_end)
			hplace_rtree_remove(&p->tree, prev_end, vma->vm_start);
		hplace_rtree_add(&p->tree, vma->vm_start, vma->vm_end);
		prev_end = vma->vm_end;
	}
	mmap_read_unlock(mm);
	if (prev_end < TASK_SIZE_MAX)
		hplace_rtree_remove(&p->tree, prev_end, TASK_SIZE_MAX);
	return true;
}

static void hplace_untrack(struct hplace_proc *p)
{
	list_del(&p->node);
	hplace.nr_procs--;
	hplace_rtree_destroy(&p->tree);
	mmdrop(p->mm);
	put_pid(p->pid);
	if (hplace_last_proc == p)
		hplace_last_proc = NULL;
	kfree(p);
}

/*
 * @mm was grabbed and @pid referenced by the caller; both references pass
 * to the new proc (or are dropped on failure).
 */
static struct hplace_proc *hplace_track(struct mm_struct *mm, struct pid *pid,
					bool on_demand)
{
	struct hplace_proc *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (!p || hplace_rtree_init(&p->tree, &hplace.pool, &hplace.tparams)) {
		kfree(p);
		mmdrop(mm);
		put_pid(pid);
		return NULL;
	}
	p->mm = mm;
	p->pid = pid;
	p->id = ++hplace.next_id;
	p->on_demand = on_demand;
	list_add_tail(&p->node, &hplace.procs);
	hplace.nr_procs++;
	if (mmget_not_zero(mm)) {
		p->rss_pages = get_mm_rss(mm);
		hplace_refresh_vmas(p);
		mmput(mm);
	}
	return p;
}

/*
 * The process the caller calls @vnr (in the caller's pid namespace: an
 * injection is written by a tenant, maybe in a container), tracked now if
 * it is not yet.  Caller holds hplace.lock.
 */
static struct hplace_proc *hplace_track_vnr(pid_t vnr)
{
	struct hplace_proc *p = NULL;
	struct task_struct *task;
	struct mm_struct *mm;
	struct pid *tgid;

	task = find_get_task_by_vpid(vnr);
	if (!task)
		return NULL;
	tgid = get_task_pid(task, PIDTYPE_TGID);
	mm = get_task_mm(task);
	put_task_struct(task);
	if (tgid)
		p = hplace_find_proc_pid(tgid);
	if (p || !tgid || !mm) {
		put_pid(tgid);
		if (mm)
			mmput(mm);
		return p;
	}
	mmgrab(mm);
	mmput(mm);
	return hplace_track(mm, tgid, true);
}

struct hplace_candidate {
	struct mm_struct *mm;
	struct pid *pid;
};

/* Is @t in the cgroup the user chose (always true when none is)?  RCU. */
static bool hplace_task_wanted(struct task_struct *t)
{
	return !hplace.cgroup ||
	       cgroup_is_descendant(task_dfl_cgroup(t), hplace.cgroup);
}

/* Is the process @pid still one to track by the cgroup rule? */
static bool hplace_pid_wanted(struct pid *pid)
{
	struct task_struct *t;
	bool ret;

	if (!hplace.cgroup)
		return true;
	rcu_read_lock();
	t = pid_task(pid, PIDTYPE_TGID);
	ret = t && hplace_task_wanted(t);
	rcu_read_unlock();
	return ret;
}

/* Refresh tracked processes and adopt new ones (once per epoch). */
static void hplace_refresh_procs(void)
{
	struct hplace_candidate cand[HPLACE_ADOPT_PER_EPOCH];
	unsigned long min_rss = hplace.cgroup ? 1 : HPLACE_MIN_RSS_PAGES;
	struct hplace_proc *p, *tmp;
	struct task_struct *t;
	unsigned int nr = 0, i;

	list_for_each_entry_safe(p, tmp, &hplace.procs, node) {
		if (!mmget_not_zero(p->mm)) {
			hplace_untrack(p);
			continue;
		}
		p->rss_pages = get_mm_rss(p->mm);
		if (!p->on_demand && (p->rss_pages < min_rss / 2 ||
				      !hplace_pid_wanted(p->pid))) {
			mmput(p->mm);
			hplace_untrack(p);
			continue;
		}
		hplace_refresh_vmas(p);
		mmput(p->mm);
	}

	rcu_read_lock();
	for_each_process(t) {
		struct mm_struct *mm;

		if (nr == ARRAY_SIZE(cand))
			break;
		if (t->flags & (PF_KTHREAD | PF_EXITING))
			continue;
		task_lock(t);
		mm = t->mm;
		if (mm && get_mm_rss(mm) >= min_rss && hplace_task_wanted(t) &&
		    !hplace_find_proc(t->tgid)) {
			mmgrab(mm);
			cand[nr].mm = mm;
			cand[nr].pid = get_pid(task_tgid(t));
			nr++;
		}
		task_unlock(t);
	}
	rcu_read_unlock();

	for (i = 0; i < nr; i++)
		hplace_track(cand[i].mm, cand[i].pid, false);
}

/* ------------------------------------------------------------- samples */

/**
 * hplace_record() - fold one observation into a process's ranges
 * @p: the process
 * @addr: user virtual address observed
 * @young: the page was accessed (accessed-bit samplers also report
 *	negative checks, which count for stats only)
 *
 * Caller holds hplace.lock (the engine thread, or injection).
 */
void hplace_record(struct hplace_proc *p, unsigned long addr, bool young)
{
	struct hplace_watch *w = &hplace.watch;
	bool watched = w->pid && w->pid == p->pid;
	bool inside = addr >= w->start && addr < w->end;

	p->checked++;
	if (watched) {
		if (inside)
			w->checked_in++;
		else
			w->checked_out++;
	}
	if (!young)
		return;
	p->young++;
	if (hplace_rtree_record(&p->tree, addr, 1, true))
		hplace.unmatched++;
	else
		hplace.samples++;
	if (watched) {
		if (inside)
			w->in++;
		else
			w->out++;
	}
}

static void hplace_record_sample(const struct hplace_sample *s)
{
	struct hplace_proc *p = hplace_find_proc(s->pid);

	if (!p) {
		hplace.untracked++;
		return;
	}
	hplace_record(p, s->addr, true);
}

/* Drain every CPU's ring; returns the number of samples consumed. */
static unsigned int hplace_drain(void)
{
	unsigned long drops = 0;
	unsigned int total = 0, n, i;
	u64 before = hplace.samples;
	u64 t0 = local_clock();
	int cpu;

	for_each_possible_cpu(cpu) {
		struct hplace_ring *ring = per_cpu_ptr(&hplace_rings, cpu);

		if (!ring->slots)
			continue;
		drops += hplace_ring_dropped(ring);
		while ((n = hplace_ring_pop(ring, hplace_drain_buf,
					    HPLACE_DRAIN_BATCH))) {
			for (i = 0; i < n; i++)
				hplace_record_sample(&hplace_drain_buf[i]);
			total += n;
		}
	}
	if (drops != hplace_ring_drops_seen) {
		count_vm_events(HPLACE_SAMPLE_DROP,
				drops - hplace_ring_drops_seen);
		hplace_ring_drops_seen = drops;
	}
	if (total) {
		count_vm_events(HPLACE_SAMPLE, hplace.samples - before);
		count_vm_events(HPLACE_SAMPLE_NS, local_clock() - t0);
		trace_hplace_sample_batch(hplace.active ? hplace.active->name :
					  "none", total,
					  hplace.samples - before,
					  local_clock() - t0);
	}
	return total;
}

/**
 * hplace_inject() - feed one sample, as a sampler would (debugfs, tests)
 * @pid: process id in the caller's pid namespace; tracked on demand if it
 *	is not yet
 * @addr: user virtual address
 * @kind: enum hplace_access_kind (informational)
 *
 * The sample is recorded synchronously, so a test reading the range dump
 * right after writing sees it.
 *
 * Return: 0, -ESRCH if @pid has no address space, -EFAULT if @addr is not
 * a user address.
 */
int hplace_inject(pid_t pid, unsigned long addr, enum hplace_access_kind kind)
{
	struct hplace_proc *p;
	u64 before;

	if (addr < PAGE_SIZE || addr >= TASK_SIZE_MAX)
		return -EFAULT;
	mutex_lock(&hplace.lock);
	p = hplace_track_vnr(pid);
	if (!p) {
		mutex_unlock(&hplace.lock);
		return -ESRCH;
	}
	before = hplace.samples;
	hplace_record(p, addr, true);
	count_vm_events(HPLACE_SAMPLE, hplace.samples - before);
	if (hplace.samples == before)
		count_vm_event(HPLACE_SAMPLE_DROP);
	trace_hplace_sample_batch("inject", 1, hplace.samples - before, 0);
	mutex_unlock(&hplace.lock);
	return 0;
}

/**
 * hplace_parse_inject() - parse one injection line "pid addr kind"
 * @line: the line, NUL-terminated, without the newline
 * @pid: parsed process id (> 0)
 * @addr: parsed address (decimal, or hex with 0x)
 * @kind: "load", "store" or "any" (also 0, 1, 2 / "unknown")
 *
 * Return: 0 or -EINVAL.
 */
int hplace_parse_inject(const char *line, pid_t *pid, unsigned long *addr,
			enum hplace_access_kind *kind)
{
	char k[16];
	int p, n = 0;
	long a;

	if (sscanf(line, "%d %li %15s %n", &p, &a, k, &n) != 3 || p <= 0)
		return -EINVAL;
	if (line[n] != '\0')
		return -EINVAL;
	if (!strcmp(k, "load") || !strcmp(k, "1"))
		*kind = HPLACE_ACCESS_LOAD;
	else if (!strcmp(k, "store") || !strcmp(k, "2"))
		*kind = HPLACE_ACCESS_STORE;
	else if (!strcmp(k, "any") || !strcmp(k, "unknown") || !strcmp(k, "0"))
		*kind = HPLACE_ACCESS_UNKNOWN;
	else
		return -EINVAL;
	*pid = p;
	*addr = (unsigned long)a;
	return 0;
}

/* -------------------------------------------------------------- epoch */

static void hplace_epoch(void)
{
	struct hplace_class_params cp = {
		.capacity_pages = hplace_place_capacity(),
		.hysteresis_permille = HPLACE_CLASS_HYSTERESIS_PERMILLE,
	};
	struct hplace_proc *p;
	unsigned int nr = 0;
	bool decay;
	u64 t0;

	hplace_refresh_procs();
	t0 = local_clock();
	decay = hplace_rtree_pool_cool(&hplace.pool);
	list_for_each_entry(p, &hplace.procs, node) {
		hplace_rtree_epoch(&p->tree, decay);
		nr += hplace_rtree_export(&p->tree, hplace.items + nr,
					  HPLACE_MAX_RANGES - nr);
	}
	if (!nr)
		memset(&hplace.cres, 0, sizeof(hplace.cres));
	else if (!hplace_classify(hplace.items, nr, &cp, &hplace.cres))
		hplace_rtree_import(hplace.items, nr);
	/*
	 * The first epoch after the sampler (re)started classifies what was
	 * sampled before: not a demand of the current run.
	 */
	hplace.classified = hplace.epoch_since_start;
	hplace.epoch_since_start = true;
	/* Read on other CPUs (hplace_node_demand()): a global clock. */
	hplace.classified_ns = ktime_get_ns();
	count_vm_events(HPLACE_CLASSIFY_NS, local_clock() - t0);
	hplace.epochs++;
	hplace_place_plan();
}

/* ------------------------------------------------------------ samplers */

static void hplace_stop_sampler(void)
{
	if (hplace.active)
		hplace.active->stop();
	hplace.active = NULL;
	hplace.classified = false;
	hplace.epoch_since_start = false;
	hplace_rtree_pool_cool_next(&hplace.pool);
}

static int hplace_start_one(const struct hplace_sampler_ops *ops,
			    enum hplace_sampler_id id, char *why, size_t len)
{
	struct hplace_budget_params bp = {
		.permille = hplace.permille,
		.mode = ops->mode,
		.min = ops->knob_min,
		.max = ops->knob_max,
		.initial = ops->knob_initial,
		.min_interval_ns = HPLACE_BUDGET_INTERVAL_NS,
	};
	u64 now = local_clock();
	int ret;

	ret = ops->available(why, len);
	if (!ret)
		ret = hplace_budget_init(&hplace.budget, &bp, now);
	if (!ret)
		ret = ops->start(hplace_budget_knob(&hplace.budget), why, len);
	if (ret)
		return ret;
	hplace.active = ops;
	hplace.active_id = id;
	hplace.last_runtime = task_sched_runtime(hplace.task);
	hplace.last_handler = ops->handler_ns();
	hplace.throttle_until = 0;
	return 0;
}

/*
 * Start the sampler the mode asks for.  In auto mode PEBS is tried first
 * and the reason it cannot run is kept for sysfs and dmesg.
 */
static int hplace_select_sampler(void)
{
	char why[HPLACE_REASON_LEN] = "";
	int ret;

	hplace_stop_sampler();
	if (hplace.mode != HPLACE_MODE_ABIT) {
		ret = hplace_start_one(&hplace_pebs_ops, HPLACE_SAMPLER_PEBS,
				       why, sizeof(why));
		if (!ret) {
			if (hplace.pebs_why[0])
				pr_info("PEBS sampler active\n");
			hplace.pebs_why[0] = '\0';
			hplace_pebs_since = local_clock();
			return 0;
		}
		if (strcmp(why, hplace.pebs_why))
			pr_info("PEBS sampler unavailable: %s%s\n", why,
				hplace.mode == HPLACE_MODE_AUTO ?
				"; using the accessed-bit sampler" : "");
		strscpy(hplace.pebs_why, why);
		hplace_next_reprobe = local_clock() + HPLACE_PEBS_REPROBE_NS;
		if (hplace.mode == HPLACE_MODE_PEBS)
			return ret;
	} else {
		strscpy(hplace.pebs_why, "not selected (sampler=abit)");
	}
	return hplace_start_one(&hplace_abit_ops, HPLACE_SAMPLER_ABIT, why,
				sizeof(why));
}

/* Budget accounting and control; called on every engine pass. */
static void hplace_budget_step(u64 now, u64 work)
{
	const struct hplace_sampler_ops *ops = hplace.active;
	u64 rt = task_sched_runtime(hplace.task);
	u64 hns = ops->handler_ns();
	u64 cost, knob = hplace_budget_knob(&hplace.budget);

	/* Baselines are taken when a sampler starts; never count backwards. */
	rt = max(rt, hplace.last_runtime);
	hns = max(hns, hplace.last_handler);
	cost = rt - hplace.last_runtime + (hns - hplace.last_handler);
	hplace.thread_ns += rt - hplace.last_runtime;
	hplace.cost_ns += cost;
	hplace.last_runtime = rt;
	hplace.last_handler = hns;
	if (!hplace_budget_tick(&hplace.budget, now, cost, work))
		return;
	if (hplace_budget_knob(&hplace.budget) != knob)
		ops->set_rate(hplace_budget_knob(&hplace.budget));
	if (hplace.budget.throttled) {
		count_vm_event(HPLACE_THROTTLE);
		hplace.throttle_until = now + min(hplace.budget.pause_ns,
						  HPLACE_THROTTLE_MAX_NS);
	}
}

/* ------------------------------------------------------------- thread */

static void hplace_pause(const char *why)
{
	if (why) {
		if (!hplace.paused_why[0]) {
			pr_warn("paused: %s was switched on; hplace resumes when it is off again\n",
				why);
			hplace_stop_sampler();
		}
		snprintf(hplace.paused_why, sizeof(hplace.paused_why),
			 "%s is on", why);
		return;
	}
	if (hplace.paused_why[0]) {
		pr_info("resumed: no conflicting tiering knob is on\n");
		hplace.paused_why[0] = '\0';
	}
}

static void hplace_work(void)
{
	const struct hplace_sampler_ops *ops;
	char why[HPLACE_REASON_LEN] = "";
	u64 now = local_clock(), work = 0;

	hplace_pause(hplace_coexist_conflict());
	if (hplace.paused_why[0])
		return;
	if (!hplace.active && hplace_select_sampler())
		return;
	ops = hplace.active;

	work += hplace_drain();
	if (now >= hplace.throttle_until) {
		if (ops->tick(now, &work, why, sizeof(why)) == -ENODEV) {
			/* Runtime fallback (e.g. PEBS records without address). */
			pr_warn("%s sampler stopped: %s\n", ops->name, why);
			if (hplace.active_id == HPLACE_SAMPLER_PEBS) {
				strscpy(hplace.pebs_why, why);
				hplace_pebs_backoff =
					min(hplace_pebs_backoff + 1,
					    HPLACE_PEBS_BACKOFF_MAX);
			}
			hplace_stop_sampler();
			if (hplace.mode == HPLACE_MODE_AUTO)
				hplace_start_one(&hplace_abit_ops,
						 HPLACE_SAMPLER_ABIT, why,
						 sizeof(why));
			hplace_next_reprobe = now + (HPLACE_PEBS_REPROBE_NS <<
						     hplace_pebs_backoff);
			return;
		}
	}
	if (now >= hplace.next_epoch) {
		hplace_epoch();
		hplace.next_epoch = now + HPLACE_EPOCH_MS * NSEC_PER_MSEC;
	}
	if (hplace.active)
		hplace_budget_step(local_clock(), work);

	/*
	 * After a live migration the destination host may offer PEBS that
	 * the source lacked (or the other way round, which the PEBS backend
	 * notices itself): in auto mode, probe again now and then.
	 */
	/* Signed: PEBS may have started after @now was read (this pass). */
	if (hplace.active_id == HPLACE_SAMPLER_PEBS && hplace_pebs_backoff &&
	    (s64)(now - hplace_pebs_since) >= (s64)HPLACE_PEBS_REPROBE_NS)
		hplace_pebs_backoff = 0;
	if (hplace.mode == HPLACE_MODE_AUTO &&
	    hplace.active_id == HPLACE_SAMPLER_ABIT && now >= hplace_next_reprobe) {
		hplace_next_reprobe = now + (HPLACE_PEBS_REPROBE_NS <<
					     hplace_pebs_backoff);
		hplace_reprobe_due = true;
	}
}

/*
 * What creates perf counters (re-arming PEBS, probing for it) takes the CPU
 * hotplug lock and an IPI per CPU: the engine thread does it between
 * passes, without hplace.lock, so stats/ readers and the migrator's
 * snapshot do not wait for it.  Only a successful probe takes the lock, to
 * switch samplers (once; the PEBS counters are created then).
 */
static void hplace_unlocked_work(void (*rearm)(void), bool reprobe)
{
	char why[HPLACE_REASON_LEN];

	lockdep_assert_not_held(&hplace.lock);
	if (rearm)
		rearm();
	if (!reprobe || hplace_pebs_ops.available(why, sizeof(why)))
		return;
	guard(mutex)(&hplace.lock);
	if (hplace.enabled && !hplace.paused_why[0] &&
	    hplace.mode == HPLACE_MODE_AUTO &&
	    hplace.active_id == HPLACE_SAMPLER_ABIT)
		hplace_select_sampler();
}

static long hplace_timeout(void)
{
	u64 now = local_clock(), next = hplace.next_epoch, t;

	if (!hplace.enabled)
		return MAX_SCHEDULE_TIMEOUT;
	if (hplace.paused_why[0] || !hplace.active)
		return msecs_to_jiffies(HPLACE_PAUSE_POLL_MS);
	t = hplace.active->next_tick_ns();
	if (t && t < next)
		next = max(t, hplace.throttle_until);
	if (next <= now)
		return 1;
	return max(1UL, nsecs_to_jiffies(next - now));
}

static int hplace_thread(void *unused)
{
	while (!kthread_should_stop()) {
		void (*rearm)(void);
		bool reprobe;
		long timeout;

		mutex_lock(&hplace.lock);
		timeout = hplace_timeout();
		mutex_unlock(&hplace.lock);
		wait_event_interruptible_timeout(hplace.wq,
						 READ_ONCE(hplace.kick) ||
						 kthread_should_stop(),
						 timeout);
		xchg(&hplace.kick, 0);
		mutex_lock(&hplace.lock);
		if (hplace.enabled)
			hplace_work();
		rearm = hplace.active ? hplace.active->rearm : NULL;
		reprobe = hplace_reprobe_due;
		hplace_reprobe_due = false;
		mutex_unlock(&hplace.lock);
		hplace_unlocked_work(rearm, reprobe);
	}
	return 0;
}

/* ---------------------------------------------------------------- knobs */

/**
 * hplace_set_enabled() - switch the engine on or off (sysfs "enabled")
 * @on: new state
 *
 * Return: 0; -EBUSY (and a dmesg line naming the knob) when switching on
 * while NUMA balancing or kernel demotion is on; -ENODEV if no sampler can
 * run (sampler=pebs without PEBS).
 */
int hplace_set_enabled(bool on)
{
	const char *conflict;
	int ret = 0;

	if (!hplace_ready)
		return -ENODEV;
	mutex_lock(&hplace.lock);
	if (on == hplace.enabled)
		goto out;
	if (on) {
		conflict = hplace_coexist_conflict();
		if (conflict) {
			pr_warn("cannot enable: %s is on; turn it off first\n",
				conflict);
			ret = -EBUSY;
			goto out;
		}
		hplace.paused_why[0] = '\0';
		ret = hplace_select_sampler();
		if (ret)
			goto out;
		hplace.enabled = true;
		hplace.next_epoch = 0;
	} else {
		hplace_stop_sampler();
		hplace.enabled = false;
	}
out:
	mutex_unlock(&hplace.lock);
	if (!ret)
		hplace_kick(HPLACE_KICK_CONFIG);
	return ret;
}

/**
 * hplace_set_mode() - choose the sampler (sysfs "sampler")
 * @mode: auto, pebs or abit
 *
 * Return: 0, or -ENODEV when PEBS is asked for and cannot run (the
 * previous choice stays, the reason is in stats/pebs_unavailable).
 */
int hplace_set_mode(enum hplace_sampler_mode mode)
{
	enum hplace_sampler_mode old;
	int ret = 0;

	mutex_lock(&hplace.lock);
	old = hplace.mode;
	hplace.mode = mode;
	if (hplace.enabled && !hplace.paused_why[0]) {
		ret = hplace_select_sampler();
		if (ret) {
			hplace.mode = old;
			hplace_select_sampler();
		}
	}
	mutex_unlock(&hplace.lock);
	hplace_kick(HPLACE_KICK_CONFIG);
	return ret;
}

/**
 * hplace_set_permille() - set the detection budget (sysfs)
 * @permille: permille of one CPU, 1..1000
 *
 * Return: 0 or -EINVAL (nothing changed).
 */
int hplace_set_permille(unsigned int permille)
{
	if (!permille || permille > 1000)
		return -EINVAL;
	mutex_lock(&hplace.lock);
	hplace.permille = permille;
	if (hplace.active)
		hplace_budget_set_permille(&hplace.budget, permille);
	mutex_unlock(&hplace.lock);
	return 0;
}

/**
 * hplace_set_cgroup() - track only one cgroup's processes (sysfs "cgroup")
 * @path: a cgroup v2 path such as "/tenant/db" (relative to the cgroup2
 *	root), or "" / "-" to go back to every large process
 *
 * Processes outside the cgroup are untracked at the next epoch.
 *
 * Return: 0, or -EINVAL (nothing changed) when @path names no cgroup.
 */
int hplace_set_cgroup(const char *path)
{
	struct cgroup *cg = NULL, *old;
	char buf[HPLACE_REASON_LEN];

	if (strscpy(buf, path) < 0)
		return -EINVAL;
	strim(buf);
	if (buf[0] && strcmp(buf, "-")) {
		cg = cgroup_get_from_path(buf);
		if (IS_ERR(cg))
			return -EINVAL;
	}
	mutex_lock(&hplace.lock);
	old = hplace.cgroup;
	hplace.cgroup = cg;
	strscpy(hplace.cgroup_path, cg ? buf : "");
	hplace.next_epoch = 0;
	mutex_unlock(&hplace.lock);
	if (old)
		cgroup_put(old);
	hplace_kick(HPLACE_KICK_CONFIG);
	return 0;
}

/* ----------------------------------------------------------------- init */

static int hplace_resize_cb(struct notifier_block *nb, unsigned long action,
			    void *data)
{
	struct node_resize_event *ev = data;

	WRITE_ONCE(hplace.resizes, hplace.resizes + 1);
	hplace_place_resize(ev->nid, action, ev->old_pages, ev->new_pages);
	hplace_kick(HPLACE_KICK_RESIZE);
	return NOTIFY_OK;
}

static struct notifier_block hplace_resize_nb = {
	.notifier_call = hplace_resize_cb,
};

static bool hplace_have_tiers(void)
{
	bool fast = false, slow = false;
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		if (node_is_toptier(nid))
			fast = true;
		else
			slow = true;
	}
	return fast && slow;
}

static void __init hplace_free_rings(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct hplace_ring *r = per_cpu_ptr(&hplace_rings, cpu);

		kvfree(r->slots);
		r->slots = NULL;
	}
}

static int __init hplace_alloc_rings(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct hplace_sample *slots;

		slots = kvcalloc_node(HPLACE_RING_SLOTS, sizeof(*slots),
				      GFP_KERNEL, cpu_to_node(cpu));
		if (!slots) {
			hplace_free_rings();
			return -ENOMEM;
		}
		hplace_ring_init(per_cpu_ptr(&hplace_rings, cpu), slots,
				 HPLACE_RING_SLOTS, HPLACE_RING_WATERMARK);
	}
	return 0;
}

/* What hplace_init() allocated before its failure point. */
static void __init hplace_init_free(void)
{
	hplace_free_rings();
	kfree(hplace_drain_buf);
	hplace_drain_buf = NULL;
	kvfree(hplace.items);
	hplace.items = NULL;
}

static int __init hplace_init(void)
{
	struct task_struct *task;
	int err = -ENOMEM;
	bool on;

	hplace_rtree_default_params(&hplace.tparams);
	hplace_rtree_pool_init(&hplace.pool, HPLACE_MAX_RANGES);
	hplace.items = kvcalloc(HPLACE_MAX_RANGES, sizeof(*hplace.items),
				GFP_KERNEL);
	hplace_drain_buf = kcalloc(HPLACE_DRAIN_BATCH,
				   sizeof(*hplace_drain_buf), GFP_KERNEL);
	if (!hplace.items || !hplace_drain_buf || hplace_alloc_rings())
		goto fail;
	err = hplace_place_init();
	if (err)
		goto fail;
	task = kthread_run(hplace_thread, NULL, "hplaced");
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		hplace_place_exit();
		goto fail;
	}
	hplace.task = task;
	register_node_resize_notifier(&hplace_resize_nb);
	hplace_ready = true;
	hplace_sysfs_init();
	hplace_debugfs_init();

	on = hplace_boot == 1 || (hplace_boot < 0 && hplace_have_tiers());
	if (!on) {
		pr_info("off (%s)\n", hplace_boot == 0 ? "hplace=off" :
			"no slower memory tier");
		return 0;
	}
	/* hplace owns tier placement: the kernel's own tiering defaults off. */
	if (IS_ENABLED(CONFIG_NUMA_BALANCING) && sysctl_numa_balancing_mode) {
		set_numabalancing_state(false);
		pr_info("NUMA balancing switched off (hplace owns placement)\n");
	}
#ifdef CONFIG_NUMA
	if (numa_demotion_enabled) {
		numa_demotion_enabled = false;
		pr_info("kernel demotion switched off (hplace owns placement)\n");
	}
#endif
	if (!hplace_set_enabled(true))
		pr_info("on (%s)\n", hplace_boot == 1 ? "hplace=on" :
			"fast and slow memory tiers found");
	return 0;

fail:
	hplace_init_free();
	pr_err("cannot start (%d), disabled\n", err);
	return err;
}
late_initcall_sync(hplace_init);

#include "tests/engine-kunit.h"
