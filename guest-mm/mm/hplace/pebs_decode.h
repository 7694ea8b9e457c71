/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace PEBS decoding: turn what perf hands an overflow handler into an
 * hplace sample, and notice at run time that PEBS records carry no data
 * address (stock KVM since 2024 gives guests basic PEBS records only).
 *
 * The sampler glue copies the fields it needs out of struct
 * perf_sample_data into struct hplace_perf_record, so this file does not
 * depend on perf internals and is unit-tested in userspace:
 *
 *	rec.addr = data->addr;			(PERF_SAMPLE_ADDR)
 *	rec.data_src = data->data_src.val;	(PERF_SAMPLE_DATA_SRC)
 *	rec.weight = data->weight.full;		(PERF_SAMPLE_WEIGHT[_STRUCT])
 *	rec.phys_addr = data->phys_addr;	(PERF_SAMPLE_PHYS_ADDR)
 *	rec.pid = data->tid_entry.pid;		(PERF_SAMPLE_TID)
 *
 * hplace_pebs_decode() is NMI-safe (no locks, no allocation, no state).
 * The detector is not: it runs in the engine thread, fed with per-CPU
 * counts of accepted and address-less records that the handler keeps.
 */
#ifndef _MM_HPLACE_PEBS_DECODE_H
#define _MM_HPLACE_PEBS_DECODE_H

#include "hplace_internal.h"
#include "sample_ring.h"

/**
 * enum hplace_pebs_event - which hplace counter produced a record
 * @HPLACE_PEBS_EV_LOAD: the load-latency event (e.g. 0x01cd, ldlat)
 * @HPLACE_PEBS_EV_STORE: the precise store event (e.g. 0x82d0)
 * @HPLACE_PEBS_EV_OTHER: any other memory event (e.g. 0x1d3 L3 miss)
 *
 * Used to classify records whose data source does not say load or store.
 */
enum hplace_pebs_event {
	HPLACE_PEBS_EV_LOAD,
	HPLACE_PEBS_EV_STORE,
	HPLACE_PEBS_EV_OTHER,
};

/**
 * struct hplace_perf_record - the parts of a perf sample hplace uses
 * @addr: data virtual address (PERF_SAMPLE_ADDR), 0 when the record has none
 * @data_src: union perf_mem_data_src value, 0 or PERF_MEM_NA when absent
 * @weight: PERF_SAMPLE_WEIGHT value, or the full PERF_SAMPLE_WEIGHT_STRUCT
 *	value when @weight_struct is set (latency in its low 32 bits)
 * @phys_addr: PERF_SAMPLE_PHYS_ADDR value, 0 when absent
 * @pid: process id (tgid) of the sampled task
 * @event: enum hplace_pebs_event of the counter that overflowed
 * @weight_struct: @weight uses the PERF_SAMPLE_WEIGHT_STRUCT layout
 */
struct hplace_perf_record {
	u64 addr;
	u64 data_src;
	u64 weight;
	u64 phys_addr;
	u32 pid;
	u8 event;
	bool weight_struct;
};

/**
 * enum hplace_pebs_result - outcome of decoding one record
 * @HPLACE_PEBS_ACCEPT: a usable sample was produced
 * @HPLACE_PEBS_REJ_NOADDR: no data address (basic PEBS record); this is
 *	what the run-time detector counts
 * @HPLACE_PEBS_REJ_KERNEL: the address is not a user address
 * @HPLACE_PEBS_REJ_NOPID: no process (idle task or kernel thread)
 * @HPLACE_PEBS_REJ_OP: prefetch or instruction fetch, not a data access
 * @HPLACE_PEBS_NR_RESULTS: number of results, for per-reason counters
 */
enum hplace_pebs_result {
	HPLACE_PEBS_ACCEPT = 0,
	HPLACE_PEBS_REJ_NOADDR,
	HPLACE_PEBS_REJ_KERNEL,
	HPLACE_PEBS_REJ_NOPID,
	HPLACE_PEBS_REJ_OP,
	HPLACE_PEBS_NR_RESULTS,
};

enum hplace_pebs_result hplace_pebs_decode(const struct hplace_perf_record *rec,
					   struct hplace_sample *out);

/**
 * enum hplace_pebs_verdict - what the run-time detector concluded
 * @HPLACE_PEBS_PENDING: no window closed yet since (re)start
 * @HPLACE_PEBS_OK: records carry data addresses
 * @HPLACE_PEBS_NO_ADDR: records arrive but (almost) none has a data address
 * @HPLACE_PEBS_NO_RECORDS: a whole window passed without any record
 */
enum hplace_pebs_verdict {
	HPLACE_PEBS_PENDING,
	HPLACE_PEBS_OK,
	HPLACE_PEBS_NO_ADDR,
	HPLACE_PEBS_NO_RECORDS,
};

/*
 * A window whose records carry an address less often than 1 in this many
 * is judged address-less: a host that passes addresses gives one on
 * (nearly) every record, a stock KVM host on none.
 */
#define HPLACE_PEBS_ADDR_RATIO	64

/**
 * struct hplace_pebs_detect - "PEBS present but no data address" detector
 * @start_ns: start of the current window
 * @timeout_ns: a window closes after this long even with few records
 * @min_records: a window closes as soon as it has this many records
 * @with_addr: records with a data address in the current window
 * @without_addr: records without one in the current window
 * @verdict: verdict of the last closed window
 * @windows: number of windows closed since init/reset
 *
 * Verdicts are per window, so a change of host (live migration to a host
 * without the KVM patch) is noticed within one window even without a reset.
 */
struct hplace_pebs_detect {
	u64 start_ns;
	u64 timeout_ns;
	u64 min_records;
	u64 with_addr;
	u64 without_addr;
	enum hplace_pebs_verdict verdict;
	unsigned int windows;
};

void hplace_pebs_detect_init(struct hplace_pebs_detect *d, u64 now_ns,
			     u64 min_records, u64 timeout_ns);
void hplace_pebs_detect_reset(struct hplace_pebs_detect *d, u64 now_ns);
enum hplace_pebs_verdict
hplace_pebs_detect_update(struct hplace_pebs_detect *d, u64 now_ns,
			  u64 nr_with_addr, u64 nr_without_addr);
const char *hplace_pebs_verdict_str(enum hplace_pebs_verdict v);

#endif /* _MM_HPLACE_PEBS_DECODE_H */
