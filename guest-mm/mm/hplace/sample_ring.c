// SPDX-License-Identifier: GPL-2.0
/*
 * hplace sample ring: per-CPU SPSC buffer, producer safe in NMI context.
 *
 * head and tail are free-running u32 counters; the slot index is the
 * counter masked by the ring size, so head - tail is the fill level even
 * across wrap-around.  The producer publishes a slot with a release store
 * of head, the consumer frees slots with a release store of tail; each
 * side reads the other's counter with an acquire load.
 */

#include "hplace_internal.h"
#include "sample_ring.h"

/**
 * hplace_ring_init() - set up an empty ring over caller-supplied storage
 * @ring: the ring
 * @slots: storage for @nr_slots samples; must outlive the ring
 * @nr_slots: number of slots, a power of two, at least 2
 * @watermark: fill level at which the producer asks for a consumer wakeup;
 *	0 means half the ring
 *
 * Return: 0, or -EINVAL if @nr_slots is not a power of two >= 2 or
 * @watermark exceeds @nr_slots.
 */
int hplace_ring_init(struct hplace_ring *ring, struct hplace_sample *slots,
		     unsigned int nr_slots, unsigned int watermark)
{
	if (!slots || nr_slots < 2 || !is_power_of_2(nr_slots))
		return -EINVAL;
	if (watermark > nr_slots)
		return -EINVAL;

	memset(ring, 0, sizeof(*ring));
	ring->slots = slots;
	ring->mask = nr_slots - 1;
	ring->watermark = watermark ? watermark : nr_slots / 2;
	return 0;
}

/**
 * hplace_ring_push() - store one sample (producer side)
 * @ring: the ring of the current CPU
 * @s: the sample, copied into the ring
 *
 * Never blocks and never allocates; callable from NMI context.  Must only
 * be called by the ring's producer context (see sample_ring.h).
 *
 * Return: HPLACE_RING_STORED, or HPLACE_RING_WAKE when this sample made the
 * fill level reach the watermark (the caller should wake the consumer, from
 * NMI via irq_work); -ENOSPC if the ring was full and the sample was
 * dropped; -EBUSY if this call interrupted another producer on the same
 * ring and the sample was dropped.  Drops are counted in the ring.
 */
int hplace_ring_push(struct hplace_ring *ring, const struct hplace_sample *s)
{
	u32 head, tail, fill;
	int ret;

	/*
	 * Only the same CPU can nest here, and a nested producer runs to
	 * completion before the outer one resumes, so plain accesses plus
	 * compiler barriers are enough to detect nesting.
	 */
	if (READ_ONCE(ring->busy)) {
		WRITE_ONCE(ring->busy_drops, ring->busy_drops + 1);
		return -EBUSY;
	}
	WRITE_ONCE(ring->busy, 1);
	barrier();

	head = ring->head;
	/* Pairs with the release in hplace_ring_pop(): slot reads are done. */
	tail = smp_load_acquire(&ring->tail);
	if (head - tail > ring->mask) {
		WRITE_ONCE(ring->drops, ring->drops + 1);
		ret = -ENOSPC;
		goto out;
	}

	ring->slots[head & ring->mask] = *s;
	/* Pairs with the acquire in hplace_ring_pop(): slot is written. */
	smp_store_release(&ring->head, head + 1);
	WRITE_ONCE(ring->produced, ring->produced + 1);

	fill = head + 1 - tail;
	ret = fill == ring->watermark ? HPLACE_RING_WAKE : HPLACE_RING_STORED;
out:
	barrier();
	WRITE_ONCE(ring->busy, 0);
	return ret;
}

/**
 * hplace_ring_pop() - take samples out of the ring (consumer side)
 * @ring: the ring
 * @out: where to copy the samples, oldest first
 * @max: room in @out
 *
 * Return: the number of samples copied to @out (0 if the ring is empty).
 */
unsigned int hplace_ring_pop(struct hplace_ring *ring,
			     struct hplace_sample *out, unsigned int max)
{
	u32 head, tail, n, i;

	tail = ring->tail;
	/* Pairs with the release in hplace_ring_push(). */
	head = smp_load_acquire(&ring->head);
	n = min(head - tail, (u32)max);

	for (i = 0; i < n; i++)
		out[i] = ring->slots[(tail + i) & ring->mask];

	/* Pairs with the acquire in hplace_ring_push(). */
	smp_store_release(&ring->tail, tail + n);
	return n;
}

/**
 * hplace_ring_count() - current fill level
 * @ring: the ring
 *
 * Return: the number of samples waiting; a snapshot that may be stale by
 * the time the caller looks at it.
 */
unsigned int hplace_ring_count(const struct hplace_ring *ring)
{
	return READ_ONCE(ring->head) - READ_ONCE(ring->tail);
}
