// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * size.c - parse and format memory sizes (binary units)
 */
#include "size.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

struct unit {
	const char *name;
	unsigned int shift;
};

/* Accepted suffixes (case-insensitive).  Order: longest first. */
static const struct unit units[] = {
	{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
	{ "K", 10 }, { "M", 20 }, { "G", 30 }, { "T", 40 },
	{ "B", 0 }, { "", 0 },
};

/* Spellings that look like sizes but are refused with a hint. */
static const struct {
	const char *name;
	char letter;
	uint64_t bytes;
} si_units[] = {
	{ "KB", 'K', 1ULL << 10 }, { "MB", 'M', 1ULL << 20 },
	{ "GB", 'G', 1ULL << 30 }, { "TB", 'T', 1ULL << 40 },
};

#define MAX_FRAC_DIGITS 18

int size_parse(const char *s, uint64_t *out, uint64_t align,
	       char *err, size_t errlen)
{
	const char *p = s, *suffix;
	unsigned __int128 ipart = 0, frac = 0, scale = 1, bytes;
	unsigned int shift = 0, nint = 0, nfrac = 0;
	const struct unit *u = NULL;
	size_t i;

	if (!s || !*s)
		return fail(err, errlen, "empty size");
	if (*s == '-')
		return fail(err, errlen, "size '%s' is negative", s);
	if (*s == '+')
		return fail(err, errlen, "size '%s' must not have a sign", s);
	if (isspace((unsigned char)*s))
		return fail(err, errlen, "size '%s' starts with white space", s);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return fail(err, errlen,
			    "size '%s': hexadecimal is not accepted, use decimal bytes or a K/M/G/T suffix",
			    s);

	for (; isdigit((unsigned char)*p); p++, nint++) {
		ipart = ipart * 10 + (unsigned)(*p - '0');
		/* anything above 2^64 overflows whatever the suffix */
		if (ipart > UINT64_MAX)
			return fail(err, errlen,
				    "size '%s' is too large (limit %" PRIu64 " bytes)",
				    s, UINT64_MAX);
	}
	if (*p == '.') {
		p++;
		for (; isdigit((unsigned char)*p); p++, nfrac++) {
			if (nfrac >= MAX_FRAC_DIGITS)
				return fail(err, errlen,
					    "size '%s' has too many decimals", s);
			frac = frac * 10 + (unsigned)(*p - '0');
			scale *= 10;
		}
		if (!nfrac)
			return fail(err, errlen,
				    "size '%s': a decimal point needs digits after it", s);
	}
	if (!nint)
		return fail(err, errlen,
			    "size '%s' is not a number (examples: 4096, 512M, 1.5GiB)", s);

	suffix = p;
	for (i = 0; i < sizeof(si_units) / sizeof(si_units[0]); i++) {
		if (!strcasecmp(suffix, si_units[i].name))
			return fail(err, errlen,
				    "size '%s': unit '%s' is ambiguous (decimal in some tools); use %c or %ciB, which are binary (1%c = %" PRIu64 " bytes)",
				    s, suffix, si_units[i].letter, si_units[i].letter,
				    si_units[i].letter, si_units[i].bytes);
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcasecmp(suffix, units[i].name)) {
			u = &units[i];
			break;
		}
	}
	if (!u)
		return fail(err, errlen,
			    "size '%s' has an unknown unit '%s' (use K, M, G, T, optionally followed by iB, or none for bytes)",
			    s, suffix);
	shift = u->shift;

	/* bytes = (ipart + frac / scale) << shift, exactly */
	bytes = ipart << shift;
	if (bytes > UINT64_MAX)
		return fail(err, errlen,
			    "size '%s' is too large (limit %" PRIu64 " bytes)",
			    s, UINT64_MAX);
	if (nfrac) {
		unsigned __int128 fb = frac << shift;

		if (fb % scale)
			return fail(err, errlen,
				    "size '%s' is not a whole number of bytes", s);
		bytes += fb / scale;
		if (bytes > UINT64_MAX)
			return fail(err, errlen,
				    "size '%s' is too large (limit %" PRIu64 " bytes)",
				    s, UINT64_MAX);
	}

	if (align > 1 && (uint64_t)bytes % align) {
		char lo[SIZE_FMT_LEN], hi[SIZE_FMT_LEN];
		uint64_t down = (uint64_t)bytes - (uint64_t)bytes % align;

		size_format(down, lo, sizeof(lo));
		if (down > UINT64_MAX - align)
			return fail(err, errlen,
				    "size '%s' (%" PRIu64 " bytes) is not a multiple of %" PRIu64 " bytes; nearest: %s",
				    s, (uint64_t)bytes, align, lo);
		size_format(down + align, hi, sizeof(hi));
		return fail(err, errlen,
			    "size '%s' (%" PRIu64 " bytes) is not a multiple of %" PRIu64 " bytes; nearest: %" PRIu64 " (%s) or %" PRIu64 " (%s)",
			    s, (uint64_t)bytes, align, down, lo, down + align, hi);
	}

	*out = (uint64_t)bytes;
	return 0;
}

static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

static char *format_mag(const char *sign, uint64_t bytes, char *buf, size_t len)
{
	unsigned int i = 0;

	while (i + 1 < sizeof(names) / sizeof(names[0]) &&
	       bytes >= (1ULL << (10 * (i + 1))))
		i++;
	if (i == 0 || !(bytes & ((1ULL << (10 * i)) - 1)))
		snprintf(buf, len, "%s%" PRIu64 " %s", sign, bytes >> (10 * i),
			 names[i]);
	else
		snprintf(buf, len, "%s%.2f %s", sign,
			 (double)bytes / (double)(1ULL << (10 * i)), names[i]);
	return buf;
}

char *size_format(uint64_t bytes, char *buf, size_t len)
{
	return format_mag("", bytes, buf, len);
}

char *size_format_delta(uint64_t a, uint64_t b, char *buf, size_t len)
{
	if (a == b)
		return format_mag("", 0, buf, len);
	if (a > b)
		return format_mag("+", a - b, buf, len);
	return format_mag("-", b - a, buf, len);
}
