// SPDX-License-Identifier: GPL-2.0
/*
 * hplace PEBS decoding and the "records carry no data address" detector.
 */

#include "hplace_internal.h"
#include "pebs_decode.h"

#define HPLACE_MEM_OP_MASK	0x1fULL
#define HPLACE_MEM_LVL_MASK	0x3fffULL
#define HPLACE_MEM_LVLNUM_MASK	0xfULL

#define HPLACE_LVL_RAM	(PERF_MEM_LVL_LOC_RAM | PERF_MEM_LVL_REM_RAM1 | \
			 PERF_MEM_LVL_REM_RAM2)
#define HPLACE_LVL_REM	(PERF_MEM_LVL_REM_RAM1 | PERF_MEM_LVL_REM_RAM2 | \
			 PERF_MEM_LVL_REM_CCE1 | PERF_MEM_LVL_REM_CCE2)

/* Load, store or neither, from the data source op field or the event. */
static int hplace_pebs_kind(u64 op, u8 event)
{
	bool ld = op & PERF_MEM_OP_LOAD, st = op & PERF_MEM_OP_STORE;

	if (ld && !st)
		return HPLACE_ACCESS_LOAD;
	if (st && !ld)
		return HPLACE_ACCESS_STORE;
	/* Prefetches and code fetches do not say the data is used. */
	if (!ld && !st && (op & (PERF_MEM_OP_PFETCH | PERF_MEM_OP_EXEC)))
		return -1;
	/* No (or an ambiguous) op: trust the counter that fired. */
	switch (event) {
	case HPLACE_PEBS_EV_LOAD:
		return HPLACE_ACCESS_LOAD;
	case HPLACE_PEBS_EV_STORE:
		return HPLACE_ACCESS_STORE;
	default:
		return HPLACE_ACCESS_UNKNOWN;
	}
}

/* Where the access was served from: memory, and whether far/remote. */
static u8 hplace_pebs_flags(u64 data_src)
{
	u64 lvl = (data_src >> PERF_MEM_LVL_SHIFT) & HPLACE_MEM_LVL_MASK;
	u64 lvlnum = (data_src >> PERF_MEM_LVLNUM_SHIFT) & HPLACE_MEM_LVLNUM_MASK;
	bool remote = (data_src >> PERF_MEM_REMOTE_SHIFT) & PERF_MEM_REMOTE_REMOTE;
	u8 flags = 0;

	if (lvl & PERF_MEM_LVL_NA)
		lvl = 0;
	if ((lvl & PERF_MEM_LVL_HIT) && (lvl & HPLACE_LVL_RAM))
		flags |= HPLACE_SAMPLE_MEM;
	/* An L3 miss went to memory even when the record does not say where. */
	if ((lvl & PERF_MEM_LVL_MISS) && (lvl & PERF_MEM_LVL_L3))
		flags |= HPLACE_SAMPLE_MEM;
	if ((lvl & PERF_MEM_LVL_HIT) && (lvl & HPLACE_LVL_REM))
		flags |= HPLACE_SAMPLE_REMOTE;

	switch (lvlnum) {
	case PERF_MEM_LVLNUM_RAM:
		flags |= HPLACE_SAMPLE_MEM;
		if (remote)
			flags |= HPLACE_SAMPLE_REMOTE;
		break;
	case PERF_MEM_LVLNUM_PMEM:
	case PERF_MEM_LVLNUM_CXL:
		/* Far memory is the slow tier whatever the remote bit says. */
		flags |= HPLACE_SAMPLE_MEM | HPLACE_SAMPLE_REMOTE;
		break;
	}
	return flags;
}

/**
 * hplace_pebs_decode() - turn a perf record into an hplace sample
 * @rec: fields copied from struct perf_sample_data
 * @out: filled when the record is accepted, untouched otherwise
 *
 * Accepts records with a user data address and a process.  The access
 * kind comes from the data source op field when it says load or store, and
 * from the event that fired otherwise (basic records have no data source).
 * The latency weight saturates at U16_MAX cycles.  NMI-safe.
 *
 * Return: HPLACE_PEBS_ACCEPT, or the reason the record was rejected.
 */
enum hplace_pebs_result hplace_pebs_decode(const struct hplace_perf_record *rec,
					   struct hplace_sample *out)
{
	u64 op = rec->data_src & HPLACE_MEM_OP_MASK;
	u64 lat;
	int kind;

	/* Nothing can be mapped at page 0: a tiny address is no address. */
	if (rec->addr < PAGE_SIZE)
		return HPLACE_PEBS_REJ_NOADDR;
	if (rec->addr >= HPLACE_USER_ADDR_END)
		return HPLACE_PEBS_REJ_KERNEL;
	if (!rec->pid)
		return HPLACE_PEBS_REJ_NOPID;
	kind = hplace_pebs_kind(op, rec->event);
	if (kind < 0)
		return HPLACE_PEBS_REJ_OP;

	lat = rec->weight_struct ? lower_32_bits(rec->weight) : rec->weight;

	out->addr = rec->addr;
	out->pid = rec->pid;
	out->kind = kind;
	out->weight = min_t(u64, lat, U16_MAX);
	out->flags = hplace_pebs_flags(rec->data_src);
	out->phys = 0;
	if (rec->phys_addr) {
		out->phys = rec->phys_addr;
		out->flags |= HPLACE_SAMPLE_PHYS;
	}
	return HPLACE_PEBS_ACCEPT;
}

/**
 * hplace_pebs_detect_init() - start detecting
 * @d: the detector
 * @now_ns: current time
 * @min_records: records that close a window early (at least 1)
 * @timeout_ns: longest window
 */
void hplace_pebs_detect_init(struct hplace_pebs_detect *d, u64 now_ns,
			     u64 min_records, u64 timeout_ns)
{
	d->min_records = max_t(u64, min_records, 1);
	d->timeout_ns = timeout_ns;
	hplace_pebs_detect_reset(d, now_ns);
}

/**
 * hplace_pebs_detect_reset() - forget everything and detect again
 * @d: the detector
 * @now_ns: current time
 *
 * Call after the PEBS state may have changed under the guest, e.g. after a
 * live migration (QEMU does not migrate DS_AREA/PEBS_ENABLE).
 */
void hplace_pebs_detect_reset(struct hplace_pebs_detect *d, u64 now_ns)
{
	d->start_ns = now_ns;
	d->with_addr = 0;
	d->without_addr = 0;
	d->verdict = HPLACE_PEBS_PENDING;
	d->windows = 0;
}

/**
 * hplace_pebs_detect_update() - account records and maybe close a window
 * @d: the detector
 * @now_ns: current time (monotonic)
 * @nr_with_addr: records with a data address since the last call
 * @nr_without_addr: records rejected with HPLACE_PEBS_REJ_NOADDR since the
 *	last call
 *
 * A window closes when it holds @min_records records or is @timeout_ns
 * old.  Its verdict is NO_RECORDS if it saw none, NO_ADDR if fewer than one
 * record in HPLACE_PEBS_ADDR_RATIO had an address, OK otherwise.
 *
 * Return: the verdict of the last closed window (PENDING before the first).
 */
enum hplace_pebs_verdict
hplace_pebs_detect_update(struct hplace_pebs_detect *d, u64 now_ns,
			  u64 nr_with_addr, u64 nr_without_addr)
{
	u64 total;

	d->with_addr += nr_with_addr;
	d->without_addr += nr_without_addr;
	total = d->with_addr + d->without_addr;

	if (total < d->min_records && now_ns - d->start_ns < d->timeout_ns)
		return d->verdict;

	if (!total)
		d->verdict = HPLACE_PEBS_NO_RECORDS;
	else if (d->with_addr * HPLACE_PEBS_ADDR_RATIO < total)
		d->verdict = HPLACE_PEBS_NO_ADDR;
	else
		d->verdict = HPLACE_PEBS_OK;

	d->windows++;
	d->start_ns = now_ns;
	d->with_addr = 0;
	d->without_addr = 0;
	return d->verdict;
}

/**
 * hplace_pebs_verdict_str() - human-readable reason for sysfs and dmesg
 * @v: a verdict
 *
 * Return: a static string.
 */
const char *hplace_pebs_verdict_str(enum hplace_pebs_verdict v)
{
	switch (v) {
	case HPLACE_PEBS_PENDING:
		return "detecting";
	case HPLACE_PEBS_OK:
		return "ok";
	case HPLACE_PEBS_NO_ADDR:
		return "PEBS records carry no data address (host KVM withholds it)";
	case HPLACE_PEBS_NO_RECORDS:
		return "no PEBS records arrive";
	}
	return "unknown";
}
