/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * args.h - strict parsers for command-line numbers other than sizes
 */
#ifndef HBALLOONCTL_ARGS_H
#define HBALLOONCTL_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* A NUMA node number: decimal digits only, 0..INT32_MAX. */
int parse_node(const char *s, int64_t *out, char *err, size_t errlen);

/*
 * A duration in seconds: "10", "0.5", "2s", "1500ms".  Must be > 0 and at
 * most one year.  Stored in milliseconds (rounded up to at least 1).
 */
int parse_duration(const char *s, int64_t *ms, char *err, size_t errlen);

/* A positive count: decimal digits only, 1..INT32_MAX. */
int parse_count(const char *s, int64_t *out, char *err, size_t errlen);

#endif /* HBALLOONCTL_ARGS_H */
