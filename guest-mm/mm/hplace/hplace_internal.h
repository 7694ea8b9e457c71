/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hplace: everything the pure algorithmic core (range tree, classification,
 * budget controller, sample ring, PEBS decoding) needs from the kernel.
 *
 * The core files include only this header.  tools/testing/hplace/ provides
 * a userspace replacement with the same include guard and compiles the very
 * same .c files into unit tests, as tools/testing/vma does for mm/vma.c.
 * Anything added here must be added to the userspace shim as well.
 */
#ifndef _MM_HPLACE_INTERNAL_H
#define _MM_HPLACE_INTERNAL_H

#include <linux/types.h>
#include <linux/bits.h>
#include <linux/kernel.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/bug.h>
#include <linux/minmax.h>
#include <linux/math.h>
#include <linux/math64.h>
#include <linux/time64.h>
#include <linux/log2.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/cache.h>
#include <linux/mm.h>
#include <linux/perf_event.h>
#include <asm/barrier.h>
#include <asm/processor.h>

/* First address past the user part of a process address space. */
#define HPLACE_USER_ADDR_END	((u64)TASK_SIZE_MAX)

/* Granule a huge page covers; ranges prefer to split on this boundary. */
#define HPLACE_HUGE_SHIFT	PMD_SHIFT

#endif /* _MM_HPLACE_INTERNAL_H */
