/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * u64.h - saturating arithmetic on sizes (guests report any value)
 */
#ifndef HBALLOON_U64_H
#define HBALLOON_U64_H

#include <stdint.h>

static inline uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

#endif /* HBALLOON_U64_H */
