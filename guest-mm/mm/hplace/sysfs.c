// SPDX-License-Identifier: GPL-2.0
/*
 * hplace user interface: /sys/kernel/mm/hplace/ (tenants) and
 * /sys/kernel/debug/hplace/ (tests and researchers).
 *
 * sysfs: enabled, sampler, cpu_budget_permille, headroom_permille,
 * migrate_mbps, fast_nodes, slow_nodes, cgroup and stats/ (read-only).
 * Invalid writes return -EINVAL and change nothing.
 *
 * debugfs:
 *  inject	write "pid addr kind" lines (kind: load, store, any); each
 *		line is recorded as a sample of that process, which is
 *		tracked on demand
 *  ranges	read: one line per tracked range,
 *		"pid start end pages count density hot"
 *  watch	write "pid start end" to count that process's positive
 *		samples and all observations inside/outside [start, end);
 *		read "in N out M checked_in K checked_out L" ("0 0 0" stops)
 *  abit_tick_ms  accessed-bit window (arm-to-check time), 1..10000 ms
 */

#define pr_fmt(fmt) "hplace: " fmt

#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <linux/exchange.h>
#include "engine.h"
#include "tier.h"

static const char * const hplace_sampler_names[] = {
	[HPLACE_SAMPLER_PEBS] = "pebs",
	[HPLACE_SAMPLER_ABIT] = "abit",
};

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(hplace.enabled));
}

static ssize_t enabled_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	bool on;
	int ret;

	if (kstrtobool(buf, &on))
		return -EINVAL;
	ret = hplace_set_enabled(on);
	return ret ? ret : count;
}

static ssize_t sampler_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	int len = 0, i;
	bool running;

	mutex_lock(&hplace.lock);
	running = !!hplace.active;
	for (i = 0; i < HPLACE_NR_SAMPLERS; i++) {
		bool act = running && hplace.active_id == i;

		len += sysfs_emit_at(buf, len, "%s%s%s%s", i ? " " : "",
				     act ? "[" : "", hplace_sampler_names[i],
				     act ? "]" : "");
	}
	len += sysfs_emit_at(buf, len, " (mode %s)\n",
			     hplace.mode == HPLACE_MODE_AUTO ? "auto" :
			     hplace.mode == HPLACE_MODE_PEBS ? "pebs" : "abit");
	mutex_unlock(&hplace.lock);
	return len;
}

static ssize_t sampler_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	enum hplace_sampler_mode mode;
	int ret;

	if (sysfs_streq(buf, "auto"))
		mode = HPLACE_MODE_AUTO;
	else if (sysfs_streq(buf, "pebs"))
		mode = HPLACE_MODE_PEBS;
	else if (sysfs_streq(buf, "abit"))
		mode = HPLACE_MODE_ABIT;
	else
		return -EINVAL;
	ret = hplace_set_mode(mode);
	return ret ? ret : count;
}

/* An unsigned knob: shown as is, set through its validating setter. */
struct hplace_uint_attr {
	struct kobj_attribute attr;
	const unsigned int *val;
	int (*set)(unsigned int v);
};

static ssize_t hplace_uint_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct hplace_uint_attr *ua = container_of(attr, struct hplace_uint_attr,
						   attr);

	return sysfs_emit(buf, "%u\n", READ_ONCE(*ua->val));
}

static ssize_t hplace_uint_store(struct kobject *kobj,
				 struct kobj_attribute *attr, const char *buf,
				 size_t count)
{
	struct hplace_uint_attr *ua = container_of(attr, struct hplace_uint_attr,
						   attr);
	unsigned int v;

	if (kstrtouint(buf, 10, &v) || ua->set(v))
		return -EINVAL;
	return count;
}

#define HPLACE_UINT_ATTR(_name, _val, _set)				\
	static struct hplace_uint_attr _name##_attr = {			\
		.attr = __ATTR(_name, 0644, hplace_uint_show,		\
			       hplace_uint_store),			\
		.val = _val,						\
		.set = _set,						\
	}

HPLACE_UINT_ATTR(cpu_budget_permille, &hplace.permille, hplace_set_permille);
HPLACE_UINT_ATTR(headroom_permille, &hplace.place.headroom_permille,
		 hplace_set_headroom);
HPLACE_UINT_ATTR(migrate_mbps, &hplace.place.migrate_mbps, hplace_set_mbps);

/* fast_nodes and slow_nodes share one show/store; @attr tells which. */
static struct kobj_attribute fast_nodes_attr;

static ssize_t hplace_nodes_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	const struct hplace_place *pl = &hplace.place;
	bool fast = attr == &fast_nodes_attr;
	ssize_t ret;

	mutex_lock(&hplace.lock);
	ret = sysfs_emit(buf, "%*pbl (%s)\n",
			 nodemask_pr_args(fast ? &pl->fast : &pl->slow),
			 (fast ? pl->fast_auto : pl->slow_auto) ? "auto" :
			 "set");
	mutex_unlock(&hplace.lock);
	return ret;
}

static ssize_t hplace_nodes_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	return hplace_set_nodes(attr == &fast_nodes_attr, buf) ? -EINVAL :
	       count;
}

static ssize_t cgroup_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	ssize_t ret;

	mutex_lock(&hplace.lock);
	ret = sysfs_emit(buf, "%s\n", hplace.cgroup_path[0] ?
			 hplace.cgroup_path : "-");
	mutex_unlock(&hplace.lock);
	return ret;
}

static ssize_t cgroup_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	return hplace_set_cgroup(buf) ? -EINVAL : count;
}

static struct kobj_attribute cgroup_attr = __ATTR_RW(cgroup);
static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);
static struct kobj_attribute fast_nodes_attr =
	__ATTR(fast_nodes, 0644, hplace_nodes_show, hplace_nodes_store);
static struct kobj_attribute slow_nodes_attr =
	__ATTR(slow_nodes, 0644, hplace_nodes_show, hplace_nodes_store);
static struct kobj_attribute sampler_attr = __ATTR_RW(sampler);

static struct attribute *hplace_attrs[] = {
	&enabled_attr.attr,
	&sampler_attr.attr,
	&cpu_budget_permille_attr.attr.attr,
	&headroom_permille_attr.attr.attr,
	&migrate_mbps_attr.attr.attr,
	&fast_nodes_attr.attr,
	&slow_nodes_attr.attr,
	&cgroup_attr.attr,
	NULL,
};

static const struct attribute_group hplace_group = {
	.attrs = hplace_attrs,
};

/* stats/: one value per file; u64 values read under the engine lock. */
enum hplace_stat {
	HPLACE_ST_SAMPLE_PERIOD,
	HPLACE_ST_SCAN_RATE,
	HPLACE_ST_USAGE,
	HPLACE_ST_COST_NS,
	HPLACE_ST_THREAD_NS,
	HPLACE_ST_HANDLER_NS,
	HPLACE_ST_THROTTLES,
	HPLACE_ST_RANGES,
	HPLACE_ST_TREE_BYTES,
	HPLACE_ST_PROCS,
	HPLACE_ST_SAMPLES,
	HPLACE_ST_UNTRACKED,
	HPLACE_ST_CHECKED,
	HPLACE_ST_YOUNG,
	HPLACE_ST_EPOCHS,
	HPLACE_ST_RESIZES,
	HPLACE_ST_RESIZE_HOLD_KB,
	HPLACE_ST_ROOM_GAP_KB,
	HPLACE_ST_REFRESH_BUSY,
	HPLACE_ST_HOT_PAGES,
	HPLACE_ST_WINDOW_US,
	HPLACE_ST_THRESHOLD,
	HPLACE_ST_HOT_BYTES,
	HPLACE_ST_WORKING_SET_BYTES,
	HPLACE_ST_PROMOTED,
	HPLACE_ST_DEMOTED,
	HPLACE_ST_EXCHANGED,
	HPLACE_ST_EXCHANGE_FAILED,
	HPLACE_ST_MIGRATE_FAILED,
	HPLACE_ST_THP_SPLIT,
	HPLACE_ST_THP_MOVED,
	HPLACE_ST_MIGRATE_NS,
	HPLACE_ST_PLAN_DROPPED,
	HPLACE_ST_FREE_MARKS,
};

struct hplace_stat_attr {
	struct kobj_attribute attr;
	enum hplace_stat stat;
};

/* Pages placement moved for one reason (stats/moves). */
static u64 hplace_moves(enum hplace_move_why why)
{
	return READ_ONCE(hplace.place.stats.moves[why]);
}

static u64 hplace_stat_value(enum hplace_stat st)
{
	const struct hplace_sampler_ops *ops = hplace.active;
	struct hplace_proc *p;
	u64 v = 0;

	switch (st) {
	case HPLACE_ST_SAMPLE_PERIOD:
		return ops == &hplace_pebs_ops ? hplace_pebs_period() : 0;
	case HPLACE_ST_SCAN_RATE:
		return ops == &hplace_abit_ops ? hplace_abit_rate() : 0;
	case HPLACE_ST_USAGE:
		return ops ? hplace_budget_usage_permille(&hplace.budget) : 0;
	case HPLACE_ST_COST_NS:
		return hplace.cost_ns;
	case HPLACE_ST_THREAD_NS:
		return hplace.thread_ns;
	case HPLACE_ST_HANDLER_NS:
		return hplace_pebs_ops.handler_ns();
	case HPLACE_ST_THROTTLES:
		return hplace.budget.throttles;
	case HPLACE_ST_RANGES:
		return hplace.pool.nr_ranges;
	case HPLACE_ST_TREE_BYTES:
		return hplace_rtree_pool_bytes(&hplace.pool);
	case HPLACE_ST_PROCS:
		return hplace.nr_procs;
	case HPLACE_ST_SAMPLES:
		return hplace.samples;
	case HPLACE_ST_UNTRACKED:
		return hplace.untracked + hplace.unmatched;
	case HPLACE_ST_CHECKED:
		for (p = hplace_first_proc(); p; p = hplace_next_proc(p))
			v += p->checked;
		return v;
	case HPLACE_ST_YOUNG:
		for (p = hplace_first_proc(); p; p = hplace_next_proc(p))
			v += p->young;
		return v;
	case HPLACE_ST_EPOCHS:
		return hplace.epochs;
	case HPLACE_ST_RESIZES:
		return READ_ONCE(hplace.resizes);
	case HPLACE_ST_REFRESH_BUSY:
		return hplace.refresh_busy;
	case HPLACE_ST_RESIZE_HOLD_KB:
		return hplace_place_resize_hold() << (PAGE_SHIFT - 10);
	case HPLACE_ST_ROOM_GAP_KB:
		return READ_ONCE(hplace.place.room_gap_pages) <<
		       (PAGE_SHIFT - 10);
	case HPLACE_ST_HOT_PAGES:
		return hplace.cres.hot_pages;
	case HPLACE_ST_WINDOW_US:
		return ops == &hplace_abit_ops ?
		       div_u64(hplace_abit_window(), NSEC_PER_USEC) : 0;
	case HPLACE_ST_THRESHOLD:
		/* Score units are twice a density; U64_MAX: nothing hot. */
		return hplace.cres.threshold == U64_MAX ? 0 :
		       hplace.cres.threshold / 2;
	case HPLACE_ST_HOT_BYTES:
		return hplace.cres.hot_pages << PAGE_SHIFT;
	case HPLACE_ST_WORKING_SET_BYTES:
		return hplace.cres.working_pages << PAGE_SHIFT;
	case HPLACE_ST_PROMOTED:
		return hplace_moves(HPLACE_MOVE_ROOM) +
		       hplace_moves(HPLACE_MOVE_FILL) +
		       hplace_moves(HPLACE_MOVE_PAIR_PROMOTE);
	case HPLACE_ST_DEMOTED:
		return hplace_moves(HPLACE_MOVE_HEADROOM) +
		       hplace_moves(HPLACE_MOVE_PAIR_DEMOTE);
	case HPLACE_ST_EXCHANGED:
		return hplace_moves(HPLACE_MOVE_EXCHANGE);
	case HPLACE_ST_EXCHANGE_FAILED:
		return READ_ONCE(hplace.place.stats.exchange_failed);
	case HPLACE_ST_MIGRATE_FAILED:
		return READ_ONCE(hplace.place.stats.migrate_failed);
	case HPLACE_ST_THP_SPLIT:
		return READ_ONCE(hplace.place.stats.thp_split);
	case HPLACE_ST_THP_MOVED:
		return READ_ONCE(hplace.place.stats.thp_moved);
	case HPLACE_ST_MIGRATE_NS:
		return READ_ONCE(hplace.place.stats.thread_ns);
	case HPLACE_ST_PLAN_DROPPED:
		return hplace.place.plan.dropped;
	case HPLACE_ST_FREE_MARKS:
		return READ_ONCE(hplace.place.stats.free_marks);
	}
	return 0;
}

static ssize_t hplace_stat_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct hplace_stat_attr *sa = container_of(attr, struct hplace_stat_attr,
						   attr);
	u64 v;

	mutex_lock(&hplace.lock);
	v = hplace_stat_value(sa->stat);
	mutex_unlock(&hplace.lock);
	return sysfs_emit(buf, "%llu\n", v);
}

#define HPLACE_STAT(_name, _stat)					\
	static struct hplace_stat_attr hplace_stat_##_name = {		\
		.attr = __ATTR(_name, 0444, hplace_stat_show, NULL),	\
		.stat = _stat,						\
	}

HPLACE_STAT(sample_period, HPLACE_ST_SAMPLE_PERIOD);
HPLACE_STAT(scan_rate, HPLACE_ST_SCAN_RATE);
HPLACE_STAT(usage_permille, HPLACE_ST_USAGE);
HPLACE_STAT(cost_ns, HPLACE_ST_COST_NS);
HPLACE_STAT(thread_ns, HPLACE_ST_THREAD_NS);
HPLACE_STAT(handler_ns, HPLACE_ST_HANDLER_NS);
HPLACE_STAT(throttles, HPLACE_ST_THROTTLES);
HPLACE_STAT(ranges, HPLACE_ST_RANGES);
HPLACE_STAT(tree_bytes, HPLACE_ST_TREE_BYTES);
HPLACE_STAT(tracked_procs, HPLACE_ST_PROCS);
HPLACE_STAT(samples, HPLACE_ST_SAMPLES);
HPLACE_STAT(samples_untracked, HPLACE_ST_UNTRACKED);
HPLACE_STAT(abit_checked, HPLACE_ST_CHECKED);
HPLACE_STAT(abit_young, HPLACE_ST_YOUNG);
HPLACE_STAT(epochs, HPLACE_ST_EPOCHS);
HPLACE_STAT(resizes, HPLACE_ST_RESIZES);
HPLACE_STAT(resize_hold_kb, HPLACE_ST_RESIZE_HOLD_KB);
HPLACE_STAT(room_gap_kb, HPLACE_ST_ROOM_GAP_KB);
HPLACE_STAT(refresh_busy, HPLACE_ST_REFRESH_BUSY);
HPLACE_STAT(hot_pages, HPLACE_ST_HOT_PAGES);
HPLACE_STAT(abit_window_us, HPLACE_ST_WINDOW_US);
HPLACE_STAT(threshold, HPLACE_ST_THRESHOLD);
HPLACE_STAT(hot_bytes, HPLACE_ST_HOT_BYTES);
HPLACE_STAT(working_set_bytes, HPLACE_ST_WORKING_SET_BYTES);
HPLACE_STAT(promoted, HPLACE_ST_PROMOTED);
HPLACE_STAT(demoted, HPLACE_ST_DEMOTED);
HPLACE_STAT(exchanged, HPLACE_ST_EXCHANGED);
HPLACE_STAT(exchange_failed, HPLACE_ST_EXCHANGE_FAILED);
HPLACE_STAT(migrate_failed, HPLACE_ST_MIGRATE_FAILED);
HPLACE_STAT(thp_split, HPLACE_ST_THP_SPLIT);
HPLACE_STAT(thp_moved, HPLACE_ST_THP_MOVED);
HPLACE_STAT(migrate_thread_ns, HPLACE_ST_MIGRATE_NS);
HPLACE_STAT(plan_dropped, HPLACE_ST_PLAN_DROPPED);
HPLACE_STAT(free_mark_wakeups, HPLACE_ST_FREE_MARKS);

/* "name count" lines, one per entry of @names. */
static ssize_t hplace_emit_counts(char *buf, const char * const *names,
				  const u64 *counts, unsigned int nr)
{
	unsigned int i;
	int len = 0;

	for (i = 0; i < nr; i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n", names[i],
				     READ_ONCE(counts[i]));
	return len;
}

/* stats/skipped: pages placement left in place, by reason. */
static ssize_t skipped_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return hplace_emit_counts(buf, hplace_skip_names,
				  hplace.place.stats.skipped, HPLACE_NR_SKIP);
}

/* stats/moves: pages placement moved, by reason. */
static ssize_t moves_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	return hplace_emit_counts(buf, hplace_move_names,
				  hplace.place.stats.moves, HPLACE_NR_MOVE);
}

/* stats/exchange_refused: "reason count" per line (page exchange). */
static ssize_t exchange_refused_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	int len = 0, i;

	for (i = EXCHANGE_OK + 1; i < EXCHANGE_FAIL_NR; i++)
		len += sysfs_emit_at(buf, len, "%s %lu\n",
				     exchange_result_name(i),
				     exchange_fail_count(i));
	return len;
}

static struct kobj_attribute skipped_attr = __ATTR_RO(skipped);
static struct kobj_attribute moves_attr = __ATTR_RO(moves);
static struct kobj_attribute exchange_refused_attr =
	__ATTR_RO(exchange_refused);

static ssize_t pebs_unavailable_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	ssize_t ret;

	mutex_lock(&hplace.lock);
	ret = sysfs_emit(buf, "%s\n", hplace.pebs_why[0] ? hplace.pebs_why :
			 "-");
	mutex_unlock(&hplace.lock);
	return ret;
}

static ssize_t paused_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	ssize_t ret;

	mutex_lock(&hplace.lock);
	ret = sysfs_emit(buf, "%s\n", hplace.paused_why[0] ? hplace.paused_why :
			 "-");
	mutex_unlock(&hplace.lock);
	return ret;
}

static struct kobj_attribute pebs_unavailable_attr =
	__ATTR_RO(pebs_unavailable);
static struct kobj_attribute paused_attr = __ATTR_RO(paused);

static struct attribute *hplace_stats_attrs[] = {
	&hplace_stat_sample_period.attr.attr,
	&hplace_stat_scan_rate.attr.attr,
	&hplace_stat_usage_permille.attr.attr,
	&hplace_stat_cost_ns.attr.attr,
	&hplace_stat_thread_ns.attr.attr,
	&hplace_stat_handler_ns.attr.attr,
	&hplace_stat_throttles.attr.attr,
	&hplace_stat_ranges.attr.attr,
	&hplace_stat_tree_bytes.attr.attr,
	&hplace_stat_tracked_procs.attr.attr,
	&hplace_stat_samples.attr.attr,
	&hplace_stat_samples_untracked.attr.attr,
	&hplace_stat_abit_checked.attr.attr,
	&hplace_stat_abit_young.attr.attr,
	&hplace_stat_epochs.attr.attr,
	&hplace_stat_resizes.attr.attr,
	&hplace_stat_resize_hold_kb.attr.attr,
	&hplace_stat_room_gap_kb.attr.attr,
	&hplace_stat_refresh_busy.attr.attr,
	&hplace_stat_hot_pages.attr.attr,
	&hplace_stat_abit_window_us.attr.attr,
	&hplace_stat_threshold.attr.attr,
	&hplace_stat_hot_bytes.attr.attr,
	&hplace_stat_working_set_bytes.attr.attr,
	&hplace_stat_promoted.attr.attr,
	&hplace_stat_demoted.attr.attr,
	&hplace_stat_exchanged.attr.attr,
	&hplace_stat_exchange_failed.attr.attr,
	&hplace_stat_migrate_failed.attr.attr,
	&hplace_stat_thp_split.attr.attr,
	&hplace_stat_thp_moved.attr.attr,
	&hplace_stat_migrate_thread_ns.attr.attr,
	&hplace_stat_plan_dropped.attr.attr,
	&hplace_stat_free_mark_wakeups.attr.attr,
	&skipped_attr.attr,
	&moves_attr.attr,
	&exchange_refused_attr.attr,
	&pebs_unavailable_attr.attr,
	&paused_attr.attr,
	NULL,
};

static const struct attribute_group hplace_stats_group = {
	.name = "stats",
	.attrs = hplace_stats_attrs,
};

/**
 * hplace_sysfs_init() - create /sys/kernel/mm/hplace/
 *
 * Return: 0 or a negative errno (the engine then runs without sysfs).
 */
int hplace_sysfs_init(void)
{
	struct kobject *kobj;
	int ret;

	kobj = kobject_create_and_add("hplace", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kobj, &hplace_group);
	if (!ret)
		ret = sysfs_create_group(kobj, &hplace_stats_group);
	if (ret) {
		pr_err("cannot create sysfs files: %d\n", ret);
		kobject_put(kobj);
	}
	return ret;
}

/* --------------------------------------------------------------- debugfs */

static ssize_t hplace_inject_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	enum hplace_access_kind kind;
	unsigned long addr;
	char *buf, *line, *cur;
	pid_t pid;
	int ret = 0;

	if (count > PAGE_SIZE)
		return -E2BIG;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	cur = buf;
	while ((line = strsep(&cur, "\n"))) {
		line = strim(line);
		if (!*line)
			continue;
		ret = hplace_parse_inject(line, &pid, &addr, &kind);
		if (!ret)
			ret = hplace_inject(pid, addr, kind);
		if (ret)
			break;
	}
	kfree(buf);
	return ret ? ret : count;
}

static const struct file_operations hplace_inject_fops = {
	.owner = THIS_MODULE,
	.write = hplace_inject_write,
	.llseek = noop_llseek,
};

static int hplace_ranges_show(struct seq_file *m, void *v)
{
	struct hplace_proc *p;
	struct hplace_range *r;

	mutex_lock(&hplace.lock);
	for (p = hplace_first_proc(); p; p = hplace_next_proc(p)) {
		/* As /proc: pids as the reader's namespace sees them, or not. */
		pid_t nr = pid_vnr(p->pid);

		if (!nr)
			continue;
		hplace_rtree_for_each(&p->tree, r)
			seq_printf(m, "%d 0x%lx 0x%lx %lu %u %llu %d %llu\n", nr,
				   r->start, r->end, hplace_range_pages(r),
				   r->count, hplace_range_density(r), r->hot,
				   hplace_range_long_density(r));
	}
	mutex_unlock(&hplace.lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hplace_ranges);

static int hplace_watch_show(struct seq_file *m, void *v)
{
	mutex_lock(&hplace.lock);
	seq_printf(m, "in %llu out %llu checked_in %llu checked_out %llu\n",
		   hplace.watch.in, hplace.watch.out, hplace.watch.checked_in,
		   hplace.watch.checked_out);
	mutex_unlock(&hplace.lock);
	return 0;
}

static int hplace_watch_open(struct inode *inode, struct file *file)
{
	return single_open(file, hplace_watch_show, NULL);
}

static ssize_t hplace_watch_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	long start, end;
	char buf[80];
	int pid;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sscanf(buf, "%d %li %li", &pid, &start, &end) != 3 || pid < 0 ||
	    start > end)
		return -EINVAL;
	/* The writer names the process in its own pid namespace. */
	mutex_lock(&hplace.lock);
	put_pid(hplace.watch.pid);
	hplace.watch.pid = pid ? find_get_pid(pid) : NULL;
	hplace.watch.start = start;
	hplace.watch.end = end;
	hplace.watch.in = 0;
	hplace.watch.out = 0;
	hplace.watch.checked_in = 0;
	hplace.watch.checked_out = 0;
	mutex_unlock(&hplace.lock);
	return count;
}

static const struct file_operations hplace_watch_fops = {
	.owner = THIS_MODULE,
	.open = hplace_watch_open,
	.read = seq_read,
	.write = hplace_watch_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int hplace_tick_get(void *data, u64 *val)
{
	*val = READ_ONCE(hplace_abit_tick_ms);
	return 0;
}

static int hplace_tick_set(void *data, u64 val)
{
	if (!val || val > 10000)
		return -EINVAL;
	WRITE_ONCE(hplace_abit_tick_ms, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(hplace_tick_fops, hplace_tick_get, hplace_tick_set,
			 "%llu\n");

/**
 * hplace_debugfs_init() - create /sys/kernel/debug/hplace/
 */
void hplace_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("hplace", NULL);

	debugfs_create_file("inject", 0200, dir, NULL, &hplace_inject_fops);
	debugfs_create_file("ranges", 0400, dir, NULL, &hplace_ranges_fops);
	debugfs_create_file("watch", 0600, dir, NULL, &hplace_watch_fops);
	debugfs_create_file_unsafe("abit_tick_ms", 0600, dir, NULL,
				   &hplace_tick_fops);
}
