// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for mm/hplace/pebs_decode.c: synthetic perf records of each
 * format the decoder accepts (load latency with data source and plain or
 * struct weight, precise stores, basic records without data source,
 * address-less records), rejections, and the run-time detector.
 */
#include "hplace_internal.h"
#include "pebs_decode.h"
#include "test.h"

#define UADDR	0x7f1234567890ULL

/* data_src the way x86 PEBS fills it for a load served by local DRAM. */
static u64 src_load_dram(void)
{
	return PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVL, HIT) |
	       PERF_MEM_S(LVL, LOC_RAM) | PERF_MEM_S(LVLNUM, RAM) |
	       PERF_MEM_S(SNOOP, NONE) | PERF_MEM_S(TLB, NA) |
	       PERF_MEM_S(LOCK, NA);
}

/* PERF_MEM_NA: what perf reports when the record has no data source. */
static u64 src_na(void)
{
	return PERF_MEM_S(OP, NA) | PERF_MEM_S(LVL, NA) | PERF_MEM_S(SNOOP, NA) |
	       PERF_MEM_S(LOCK, NA) | PERF_MEM_S(TLB, NA) |
	       PERF_MEM_S(LVLNUM, NA);
}

static struct hplace_perf_record rec(u64 addr, u64 src, u8 ev)
{
	struct hplace_perf_record r = {
		.addr = addr, .data_src = src, .weight = 0, .phys_addr = 0,
		.pid = 4242, .event = ev, .weight_struct = false,
	};
	return r;
}

static bool t_pebs_load_latency(void)
{
	struct hplace_perf_record r = rec(UADDR, src_load_dram(), HPLACE_PEBS_EV_LOAD);
	struct hplace_sample s;

	r.weight = 250;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.addr, UADDR);
	T_EQ(s.pid, 4242);
	T_EQ(s.kind, HPLACE_ACCESS_LOAD);
	T_EQ(s.weight, 250);
	T_EQ(s.flags, HPLACE_SAMPLE_MEM);
	T_EQ(s.phys, 0);

	/* PERF_SAMPLE_WEIGHT_STRUCT: latency in var1_dw, instr latency above. */
	r.weight = (123ULL << 32) | 310;
	r.weight_struct = true;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.weight, 310);

	/* Plain weight saturates at U16_MAX. */
	r.weight_struct = false;
	r.weight = 100000;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.weight, 65535);

	/* Physical address passes through and is flagged. */
	r.phys_addr = 0x123456000ULL;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.phys, 0x123456000ULL);
	T_ASSERT(s.flags & HPLACE_SAMPLE_PHYS);
	return true;
}

static bool t_pebs_store(void)
{
	/* Precise store: op STORE, L1 hit/miss level only. */
	struct hplace_perf_record r = rec(UADDR, PERF_MEM_S(OP, STORE) |
					  PERF_MEM_S(LVL, HIT) | PERF_MEM_S(LVL, L1),
					  HPLACE_PEBS_EV_STORE);
	struct hplace_sample s;

	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.kind, HPLACE_ACCESS_STORE);
	T_EQ(s.flags, 0);
	T_EQ(s.weight, 0);

	/* The op field wins over the event when it is unambiguous. */
	r.event = HPLACE_PEBS_EV_LOAD;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.kind, HPLACE_ACCESS_STORE);
	return true;
}

static bool t_pebs_no_data_src(void)
{
	struct hplace_perf_record r;
	struct hplace_sample s;
	const u64 srcs[] = { 0, src_na(),
			     PERF_MEM_S(OP, LOAD) | PERF_MEM_S(OP, STORE) };
	unsigned int i;

	/* No or ambiguous data source: the event that fired decides. */
	for (i = 0; i < ARRAY_SIZE(srcs); i++) {
		r = rec(UADDR, srcs[i], HPLACE_PEBS_EV_LOAD);
		T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
		T_EQ(s.kind, HPLACE_ACCESS_LOAD);
		T_EQ(s.flags, 0);
		r.event = HPLACE_PEBS_EV_STORE;
		T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
		T_EQ(s.kind, HPLACE_ACCESS_STORE);
		r.event = HPLACE_PEBS_EV_OTHER;
		T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
		T_EQ(s.kind, HPLACE_ACCESS_UNKNOWN);
	}
	return true;
}

static bool t_pebs_levels(void)
{
	struct hplace_perf_record r;
	struct hplace_sample s;

	/* L3 miss without a level: went to memory. */
	r = rec(UADDR, PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVL, MISS) |
		PERF_MEM_S(LVL, L3), HPLACE_PEBS_EV_OTHER);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.flags, HPLACE_SAMPLE_MEM);
	/* Remote DRAM, old encoding. */
	r.data_src = PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVL, HIT) |
		     PERF_MEM_S(LVL, REM_RAM1);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.flags, HPLACE_SAMPLE_MEM | HPLACE_SAMPLE_REMOTE);
	/* Remote DRAM, lvlnum encoding. */
	r.data_src = PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVLNUM, RAM) |
		     PERF_MEM_S(REMOTE, REMOTE);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.flags, HPLACE_SAMPLE_MEM | HPLACE_SAMPLE_REMOTE);
	/* PMEM and CXL are far memory. */
	r.data_src = PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVLNUM, PMEM);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.flags, HPLACE_SAMPLE_MEM | HPLACE_SAMPLE_REMOTE);
	r.data_src = PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVLNUM, CXL);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.flags, HPLACE_SAMPLE_MEM | HPLACE_SAMPLE_REMOTE);
	/* Cache hits are not memory. */
	r.data_src = PERF_MEM_S(OP, LOAD) | PERF_MEM_S(LVL, HIT) |
		     PERF_MEM_S(LVL, L2) | PERF_MEM_S(LVLNUM, L2);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	T_EQ(s.flags, 0);
	return true;
}

static bool t_pebs_rejects(void)
{
	struct hplace_perf_record r;
	struct hplace_sample s, orig;

	memset(&orig, 0xa5, sizeof(orig));
	s = orig;

	/* Basic PEBS record (stock KVM): no data address. */
	r = rec(0, src_na(), HPLACE_PEBS_EV_LOAD);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_REJ_NOADDR);
	r.addr = PAGE_SIZE - 1;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_REJ_NOADDR);
	r.addr = PAGE_SIZE;
	r.pid = 0;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_REJ_NOPID);
	/* Kernel addresses (direct map, and the first non-user address). */
	r = rec(0xffff888012345678ULL, src_load_dram(), HPLACE_PEBS_EV_LOAD);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_REJ_KERNEL);
	r.addr = HPLACE_USER_ADDR_END;
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_REJ_KERNEL);
	/* Prefetch and instruction fetch are not data accesses. */
	r = rec(UADDR, PERF_MEM_S(OP, PFETCH), HPLACE_PEBS_EV_LOAD);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_REJ_OP);
	r.data_src = PERF_MEM_S(OP, EXEC);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_REJ_OP);
	/* Rejections leave the output alone. */
	T_ASSERT(!memcmp(&s, &orig, sizeof(s)));

	/* The last user page is fine. */
	r = rec(HPLACE_USER_ADDR_END - 1, src_load_dram(), HPLACE_PEBS_EV_LOAD);
	T_EQ(hplace_pebs_decode(&r, &s), HPLACE_PEBS_ACCEPT);
	return true;
}

#define MS	(1000ULL * 1000)

static bool t_pebs_detect_ok_and_noaddr(void)
{
	struct hplace_pebs_detect d;

	hplace_pebs_detect_init(&d, 0, 256, 2000 * MS);
	T_EQ(d.verdict, HPLACE_PEBS_PENDING);
	T_EQ(hplace_pebs_detect_update(&d, 10 * MS, 100, 0), HPLACE_PEBS_PENDING);
	T_EQ(hplace_pebs_detect_update(&d, 20 * MS, 156, 0), HPLACE_PEBS_OK);
	T_EQ(d.windows, 1);

	/* Migrated to a host that strips addresses: next window says so. */
	T_EQ(hplace_pebs_detect_update(&d, 30 * MS, 0, 200), HPLACE_PEBS_OK);
	T_EQ(hplace_pebs_detect_update(&d, 40 * MS, 0, 56), HPLACE_PEBS_NO_ADDR);
	T_ASSERT(strstr(hplace_pebs_verdict_str(d.verdict), "no data address"));

	/* Reset (after live migration): pending until a window closes. */
	hplace_pebs_detect_reset(&d, 50 * MS);
	T_EQ(d.verdict, HPLACE_PEBS_PENDING);
	T_EQ(hplace_pebs_detect_update(&d, 60 * MS, 300, 3), HPLACE_PEBS_OK);
	return true;
}

static bool t_pebs_detect_ratio_and_timeout(void)
{
	struct hplace_pebs_detect d;

	/* Exactly 1 in 64 with an address is still OK; fewer is not. */
	hplace_pebs_detect_init(&d, 0, 64, 1000 * MS);
	T_EQ(hplace_pebs_detect_update(&d, 1, 1, 63), HPLACE_PEBS_OK);
	hplace_pebs_detect_init(&d, 0, 65, 1000 * MS);
	T_EQ(hplace_pebs_detect_update(&d, 1, 1, 64), HPLACE_PEBS_NO_ADDR);

	/* Nothing arrives: NO_RECORDS only once the window times out. */
	hplace_pebs_detect_init(&d, 0, 256, 1000 * MS);
	T_EQ(hplace_pebs_detect_update(&d, 999 * MS, 0, 0), HPLACE_PEBS_PENDING);
	T_EQ(hplace_pebs_detect_update(&d, 1000 * MS, 0, 0), HPLACE_PEBS_NO_RECORDS);
	/* Few records by the timeout: judged on what arrived. */
	T_EQ(hplace_pebs_detect_update(&d, 2000 * MS, 0, 5), HPLACE_PEBS_NO_ADDR);
	T_EQ(hplace_pebs_detect_update(&d, 3000 * MS, 3, 0), HPLACE_PEBS_OK);
	T_EQ(d.windows, 3);
	T_ASSERT(hplace_pebs_verdict_str(HPLACE_PEBS_PENDING));
	T_ASSERT(hplace_pebs_verdict_str(HPLACE_PEBS_NO_RECORDS));
	return true;
}

/* End to end: decode a stream of records, count per reason, detect. */
static bool t_pebs_stream(void)
{
	u64 counts[HPLACE_PEBS_NR_RESULTS] = { 0 };
	struct hplace_pebs_detect d;
	struct hplace_perf_record r;
	struct hplace_sample s;
	unsigned int i, host;

	for (host = 0; host < 2; host++) {
		memset(counts, 0, sizeof(counts));
		hplace_pebs_detect_init(&d, 0, 512, 1000 * MS);
		for (i = 0; i < 2000; i++) {
			u64 a = host ? 0 : (t_rand() & 0x3fffffffffffULL) | PAGE_SIZE;

			r = rec(a, host ? src_na() : src_load_dram(),
				i & 1 ? HPLACE_PEBS_EV_STORE : HPLACE_PEBS_EV_LOAD);
			counts[hplace_pebs_decode(&r, &s)]++;
		}
		hplace_pebs_detect_update(&d, 10 * MS, counts[HPLACE_PEBS_ACCEPT],
					  counts[HPLACE_PEBS_REJ_NOADDR]);
		T_EQ(d.verdict, host ? HPLACE_PEBS_NO_ADDR : HPLACE_PEBS_OK);
		T_EQ(counts[host ? HPLACE_PEBS_REJ_NOADDR : HPLACE_PEBS_ACCEPT], 2000);
	}
	return true;
}

const struct t_case t_pebs_cases[] = {
	{ "pebs: load-latency records (plain and struct weight)", t_pebs_load_latency },
	{ "pebs: precise store records", t_pebs_store },
	{ "pebs: records without data source use the event", t_pebs_no_data_src },
	{ "pebs: memory level and far-memory flags", t_pebs_levels },
	{ "pebs: rejects zero, kernel, pid-less, prefetch", t_pebs_rejects },
	{ "pebs: detector OK, then no address after migration", t_pebs_detect_ok_and_noaddr },
	{ "pebs: detector ratio boundary and timeout", t_pebs_detect_ratio_and_timeout },
	{ "pebs: decode stream feeds the detector", t_pebs_stream },
	{ NULL, NULL },
};
