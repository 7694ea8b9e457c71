/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hplace

#if !defined(_TRACE_HPLACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_HPLACE_H

#include <linux/tracepoint.h>

/**
 * hplace_sample_batch - one batch of samples folded into the range trees
 * @sampler: backend that produced the batch ("pebs", "abit", "inject")
 * @nr: observations in the batch (ring samples, or pages checked)
 * @recorded: positive samples recorded into a range
 * @ns: time the batch took, in nanoseconds
 */
TRACE_EVENT(hplace_sample_batch,

	TP_PROTO(const char *sampler, unsigned int nr,
		 unsigned int recorded, u64 ns),

	TP_ARGS(sampler, nr, recorded, ns),

	TP_STRUCT__entry(
		__string(sampler, sampler)
		__field(unsigned int, nr)
		__field(unsigned int, recorded)
		__field(u64, ns)
	),

	TP_fast_assign(
		__assign_str(sampler);
		__entry->nr = nr;
		__entry->recorded = recorded;
		__entry->ns = ns;
	),

	TP_printk("sampler=%s nr=%u recorded=%u ns=%llu",
		  __get_str(sampler), __entry->nr, __entry->recorded,
		  __entry->ns)
);

#endif /* _TRACE_HPLACE_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
