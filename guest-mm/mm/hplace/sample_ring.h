/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace sample ring: a per-CPU, single-producer/single-consumer buffer of
 * access samples.
 *
 * The producer is the sampler running on the ring's CPU, typically a perf
 * overflow handler in NMI context: it never blocks, never allocates and
 * never spins; when the ring is full the sample is dropped and counted.
 * The consumer is the hplace engine thread, on any CPU.
 *
 * Rules:
 *  - One producer context per ring.  If a producer is interrupted on the
 *    same CPU by another producer (e.g. a PMI arriving while a large-PEBS
 *    drain runs from the context-switch path), the nested call sees the
 *    ring busy, drops its sample and counts it in @busy_drops; the ring is
 *    never corrupted.  Samples from process context that may run on any
 *    CPU (injection) must use a ring of their own, serialised by a lock.
 *  - One consumer at a time (the engine thread).
 *  - Storage is supplied by the caller (a power-of-two array of
 *    struct hplace_sample), so the ring code itself never allocates.
 */
#ifndef _MM_HPLACE_SAMPLE_RING_H
#define _MM_HPLACE_SAMPLE_RING_H

#include "hplace_internal.h"

/**
 * enum hplace_access_kind - what kind of access a sample observed
 * @HPLACE_ACCESS_UNKNOWN: the sampler cannot tell (e.g. accessed bit)
 * @HPLACE_ACCESS_LOAD: a load
 * @HPLACE_ACCESS_STORE: a store
 */
enum hplace_access_kind {
	HPLACE_ACCESS_UNKNOWN = 0,
	HPLACE_ACCESS_LOAD = 1,
	HPLACE_ACCESS_STORE = 2,
};

/* struct hplace_sample.flags */
#define HPLACE_SAMPLE_MEM	0x01	/* served by memory (missed all caches) */
#define HPLACE_SAMPLE_REMOTE	0x02	/* served by a remote node / far memory */
#define HPLACE_SAMPLE_PHYS	0x04	/* @phys is valid */

/**
 * struct hplace_sample - one observed memory access
 * @addr: user virtual data address (page offset included)
 * @phys: guest-physical address if HPLACE_SAMPLE_PHYS is set, else 0
 * @pid: tgid of the process that made the access
 * @weight: access latency in core cycles (saturated), 0 if unknown
 * @kind: enum hplace_access_kind
 * @flags: HPLACE_SAMPLE_* flags
 */
struct hplace_sample {
	u64 addr;
	u64 phys;
	u32 pid;
	u16 weight;
	u8 kind;
	u8 flags;
};

/**
 * struct hplace_ring - SPSC sample ring
 * @slots: caller-supplied storage, @mask + 1 entries
 * @mask: number of slots - 1 (number of slots is a power of two)
 * @watermark: fill level at which hplace_ring_push() asks for a wakeup
 * @head: next slot the producer writes (free running, producer-owned)
 * @busy: producer is inside hplace_ring_push() (nesting detection)
 * @produced: samples stored (producer-owned)
 * @drops: samples dropped because the ring was full (producer-owned)
 * @busy_drops: samples dropped by a nested producer (nested-producer-owned)
 * @tail: next slot the consumer reads (free running, consumer-owned)
 *
 * Producer and consumer fields sit on separate cache lines so the NMI
 * handler and the engine thread do not bounce a line on every sample.
 * Counters are unsigned long so they can be read without tearing.
 */
struct hplace_ring {
	struct hplace_sample *slots;
	u32 mask;
	u32 watermark;

	u32 head ____cacheline_aligned;
	u32 busy;
	unsigned long produced;
	unsigned long drops;
	unsigned long busy_drops;

	u32 tail ____cacheline_aligned;
};

/* Return values of hplace_ring_push() (non-negative: sample stored). */
#define HPLACE_RING_STORED	0
#define HPLACE_RING_WAKE	1

int hplace_ring_init(struct hplace_ring *ring, struct hplace_sample *slots,
		     unsigned int nr_slots, unsigned int watermark);
int hplace_ring_push(struct hplace_ring *ring, const struct hplace_sample *s);
unsigned int hplace_ring_pop(struct hplace_ring *ring,
			     struct hplace_sample *out, unsigned int max);
unsigned int hplace_ring_count(const struct hplace_ring *ring);

/**
 * hplace_ring_dropped() - samples lost on this ring so far
 * @ring: the ring
 *
 * Return: samples dropped because the ring was full plus samples dropped
 * by a nested producer.  Safe from any context; the value may be slightly
 * stale.
 */
static inline unsigned long hplace_ring_dropped(const struct hplace_ring *ring)
{
	return READ_ONCE(ring->drops) + READ_ONCE(ring->busy_drops);
}

/**
 * hplace_ring_produced() - samples stored in this ring so far
 * @ring: the ring
 *
 * Return: the cumulative number of samples the producer stored.
 */
static inline unsigned long hplace_ring_produced(const struct hplace_ring *ring)
{
	return READ_ONCE(ring->produced);
}

#endif /* _MM_HPLACE_SAMPLE_RING_H */
