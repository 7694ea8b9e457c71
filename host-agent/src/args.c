// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * args.c - strict parsers for command-line numbers other than sizes
 */
#include "args.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Decimal digits only, no sign, no blanks, value <= max. */
static int parse_digits(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v > (max - (*s - '0')) / 10)
			return -2;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

int parse_node(const char *s, int64_t *out, char *err, size_t errlen)
{
	int r = parse_digits(s, INT32_MAX, out);

	if (r == -2)
		snprintf(err, errlen, "node '%s' is out of range", s);
	else if (r)
		snprintf(err, errlen,
			 "node '%s' is not a NUMA node number (0, 1, ...)", s);
	return r ? -1 : 0;
}

int parse_count(const char *s, int64_t *out, char *err, size_t errlen)
{
	int64_t v = 0;
	int r = parse_digits(s, INT32_MAX, &v);

	if (r == -2 || (!r && v == 0)) {
		snprintf(err, errlen, "count '%s' must be between 1 and %d",
			 s, INT32_MAX);
		return -1;
	}
	if (r) {
		snprintf(err, errlen, "count '%s' is not a positive whole number", s);
		return -1;
	}
	*out = v;
	return 0;
}

#define MAX_DURATION_MS (366LL * 24 * 3600 * 1000)

int parse_duration(const char *s, int64_t *ms, char *err, size_t errlen)
{
	const char *p = s;
	int64_t ipart = 0, frac = 0, scale = 1, unit = 1000, v;
	int nint = 0, nfrac = 0;

	if (!s || !*s) {
		snprintf(err, errlen, "empty duration");
		return -1;
	}
	if (*p == '-') {
		snprintf(err, errlen, "duration '%s' is negative", s);
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++, nint++) {
		if (ipart > MAX_DURATION_MS)
			goto range;
		ipart = ipart * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, nfrac++) {
			if (nfrac < 6) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
		if (!nfrac)
			goto bad;
	}
	if (!nint)
		goto bad;
	if (!strcmp(p, "ms"))
		unit = 1;
	else if (*p && strcmp(p, "s"))
		goto bad;
	if (ipart > MAX_DURATION_MS)
		goto range;
	v = ipart * unit + (frac * unit + scale - 1) / scale;
	if (v == 0) {
		snprintf(err, errlen, "duration '%s' must be greater than zero", s);
		return -1;
	}
	if (v > MAX_DURATION_MS)
		goto range;
	*ms = v;
	return 0;
bad:
	snprintf(err, errlen,
		 "duration '%s' is not a number of seconds (examples: 10, 0.5, 2s, 500ms)", s);
	return -1;
range:
	snprintf(err, errlen, "duration '%s' is longer than a year", s);
	return -1;
}
