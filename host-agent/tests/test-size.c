// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-size.c - size parsing and formatting
 */
#include <inttypes.h>
#include <string.h>

#include "size.h"
#include "tap.h"

static void good(const char *s, uint64_t want)
{
	char err[256] = "";
	uint64_t v = 0;
	int r = size_parse(s, &v, HB_PAGE_SIZE, err, sizeof(err));

	if (!tap_ok(r == 0 && v == want, "size '%s' = %" PRIu64, s, want))
		tap_diag("got r=%d v=%" PRIu64 " err='%s'", r, v, err);
}

static void bad(const char *s, uint64_t align, const char *needle)
{
	char err[512] = "";
	uint64_t v = 12345;
	int r = size_parse(s, &v, align, err, sizeof(err));

	if (!tap_ok(r == -1 && v == 12345 && strstr(err, needle),
		    "size '%s' rejected: %s", s, needle))
		tap_diag("got r=%d v=%" PRIu64 " err='%s'", r, v, err);
}

static void fmt(uint64_t v, const char *want)
{
	char buf[SIZE_FMT_LEN];

	size_format(v, buf, sizeof(buf));
	if (!tap_ok(!strcmp(buf, want), "format %" PRIu64 " = '%s'", v, want))
		tap_diag("got '%s'", buf);
}

static void delta(uint64_t a, uint64_t b, const char *want)
{
	char buf[SIZE_FMT_LEN];

	size_format_delta(a, b, buf, sizeof(buf));
	if (!tap_ok(!strcmp(buf, want), "delta %" PRIu64 " - %" PRIu64 " = '%s'",
		    a, b, want))
		tap_diag("got '%s'", buf);
}

int main(void)
{
	uint64_t v = 0;
	char err[256];

	good("0", 0);
	good("4096", 4096);
	good("8192B", 8192);
	good("4K", 4096);
	good("4k", 4096);
	good("4KiB", 4096);
	good("4kib", 4096);
	good("512M", 512ULL << 20);
	good("512MiB", 512ULL << 20);
	good("512m", 512ULL << 20);
	good("1G", 1ULL << 30);
	good("3GiB", 3ULL << 30);
	good("1.5G", 3ULL << 29);
	good("1.25GiB", 5ULL << 28);
	good("0.5M", 512ULL << 10);
	good("2T", 2ULL << 40);
	good("2TiB", 2ULL << 40);
	good("16777215T", 16777215ULL << 40);
	good("18446744073709547520", UINT64_MAX - 4095);
	good("008K", 8ULL << 10);

	bad("", 4096, "empty");
	bad("-1G", 4096, "negative");
	bad("-4096", 4096, "negative");
	bad("+1G", 4096, "sign");
	bad(" 1G", 4096, "white space");
	bad("1G ", 4096, "unknown unit 'G '");
	bad("0x1000", 4096, "hexadecimal");
	bad("abc", 4096, "not a number");
	bad(".5G", 4096, "not a number");
	bad("1.G", 4096, "digits after");
	bad("1.5.G", 4096, "unknown unit");
	bad("1e9", 4096, "unknown unit 'e9'");
	bad("1MB", 4096, "ambiguous");
	bad("1gb", 4096, "ambiguous");
	bad("2TB", 4096, "ambiguous");
	bad("1X", 4096, "unknown unit 'X'");
	bad("1Gi", 4096, "unknown unit");
	bad("1 G", 4096, "unknown unit");
	bad("4095", 4096, "not a multiple of 4096");
	bad("4097", 4096, "nearest: 4096 (4 KiB) or 8192 (8 KiB)");
	bad("1.3G", 4096, "not a whole number of bytes");
	bad("1.1K", 4096, "not a whole number of bytes");
	bad("0.001K", 4096, "not a whole number of bytes");
	bad("18446744073709551616", 4096, "too large");
	bad("99999999999999999999999999", 4096, "too large");
	bad("16777216T", 4096, "too large");
	bad("17179869184G", 4096, "too large");
	bad("16777215.99999T", 4096, "whole number");
	good("16777215.5T", (16777215ULL << 40) + (1ULL << 39));
	bad("1.0000000000000000001G", 4096, "too many decimals");
	bad("18446744073709551615", 4096, "not a multiple");
	bad("1K", 1ULL << 21, "not a multiple of 2097152");

	tap_ok(size_parse("18446744073709551615", &v, 0, err, sizeof(err)) == 0 &&
	       v == UINT64_MAX, "no alignment: UINT64_MAX accepted");
	tap_ok(size_parse("12", &v, 1, err, sizeof(err)) == 0 && v == 12,
	       "alignment 1: 12 accepted");
	tap_ok(size_parse(NULL, &v, 0, err, sizeof(err)) == -1, "NULL rejected");
	tap_ok(size_parse("1MB", &v, 0, NULL, 0) == -1, "NULL error buffer is fine");

	fmt(0, "0 B");
	fmt(12, "12 B");
	fmt(1023, "1023 B");
	fmt(1024, "1 KiB");
	fmt(1536, "1.50 KiB");
	fmt(4096, "4 KiB");
	fmt(512ULL << 20, "512 MiB");
	fmt(3ULL << 29, "1.50 GiB");
	fmt(3ULL << 30, "3 GiB");
	fmt(2ULL << 40, "2 TiB");
	fmt(UINT64_MAX, "16.00 EiB");
	fmt(1ULL << 63, "8 EiB");

	delta(5, 5, "0 B");
	delta(2ULL << 30, 3ULL << 29, "+512 MiB");
	delta(3ULL << 29, 2ULL << 30, "-512 MiB");
	delta(0, UINT64_MAX, "-16.00 EiB");
	delta(UINT64_MAX, 0, "+16.00 EiB");

	return tap_done();
}
