/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace replacement for mm/hplace/hplace_internal.h.
 *
 * The Makefile force-includes this file before each mm/hplace/ source, so its
 * include guard (the same as the kernel header's) makes the sources'
 * own #include "hplace_internal.h" a no-op, as tools/testing/vma does for
 * mm/vma_internal.h.  Everything here mirrors a kernel API the pure core
 * uses; keep the two headers in step.
 */
#ifndef _MM_HPLACE_INTERNAL_H
#define _MM_HPLACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

/* tools/include: types, READ_ONCE, min/max, rbtree, barriers. */
#include <linux/types.h>
#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/math.h>
#include <linux/rbtree.h>
#include <asm/barrier.h>
#include <asm/bug.h>
/* tools/include/uapi: PERF_MEM_* encoding. */
#include <linux/perf_event.h>

#ifndef PAGE_SHIFT
#define PAGE_SHIFT		12
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#endif
#ifndef PAGE_MASK
#define PAGE_MASK		(~(PAGE_SIZE - 1))
#endif

#define HPLACE_HUGE_SHIFT	21
/* x86-64 4-level paging TASK_SIZE_MAX. */
#define HPLACE_USER_ADDR_END	0x00007ffffffff000ULL

#define ____cacheline_aligned	__attribute__((__aligned__(64)))

#ifndef ULONG_MAX
#define ULONG_MAX		(~0UL)
#endif
#ifndef U16_MAX
#define U16_MAX			((u16)~0U)
#endif
#ifndef U32_MAX
#define U32_MAX			((u32)~0U)
#endif
#ifndef U64_MAX
#define U64_MAX			((u64)~0ULL)
#endif

#define NSEC_PER_USEC		1000L
#define NSEC_PER_MSEC		1000000L
#define NSEC_PER_SEC		1000000000L

#ifndef lower_32_bits
#define lower_32_bits(n)	((u32)((n) & 0xffffffff))
#endif

static inline bool hplace_shim_is_power_of_2(unsigned long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}
#define is_power_of_2(n)	hplace_shim_is_power_of_2(n)

/* Memory: malloc, with an injectable failure for the tests. */
#define GFP_KERNEL		((gfp_t){ 0 })

extern long hplace_test_alloc_fail_after;	/* < 0: never fail */
extern unsigned long hplace_test_allocs;

static inline void *kzalloc(size_t size, gfp_t gfp)
{
	(void)gfp;
	if (hplace_test_alloc_fail_after == 0)
		return NULL;
	if (hplace_test_alloc_fail_after > 0)
		hplace_test_alloc_fail_after--;
	hplace_test_allocs++;
	return calloc(1, size);
}

static inline void kfree(const void *p)
{
	free((void *)p);
}

/* math64.h */
static inline u64 div_u64(u64 a, u32 b)
{
	return a / b;
}

static inline u64 div_u64_rem(u64 a, u32 b, u32 *rem)
{
	*rem = a % b;
	return a / b;
}

static inline u64 div64_u64(u64 a, u64 b)
{
	return a / b;
}

#define div64_ul(a, b)		div64_u64((a), (b))

static inline u64 mul_u64_u64_div_u64(u64 a, u64 mul, u64 div)
{
	return (u64)((unsigned __int128)a * mul / div);
}

static inline u32 int_sqrt64(u64 x)
{
	u64 r = 0, bit = 1ULL << 62;

	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return (u32)r;
}

/* lib/sort.c; the core never passes a swap function. */
typedef int (*cmp_func_t)(const void *a, const void *b);
typedef void (*swap_func_t)(void *a, void *b, int size);

static inline void sort(void *base, size_t num, size_t size,
			cmp_func_t cmp, swap_func_t swap)
{
	(void)swap;
	qsort(base, num, size, cmp);
}

#endif /* _MM_HPLACE_INTERNAL_H */
