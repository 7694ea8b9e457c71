// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-args.c - node, duration and count parsing
 */
#include <inttypes.h>
#include <string.h>

#include "args.h"
#include "tap.h"

typedef int (*parser)(const char *, int64_t *, char *, size_t);

static void good(const char *what, parser p, const char *s, int64_t want)
{
	char err[256] = "";
	int64_t v = -7;
	int r = p(s, &v, err, sizeof(err));

	if (!tap_ok(r == 0 && v == want, "%s '%s' = %" PRId64, what, s, want))
		tap_diag("got r=%d v=%" PRId64 " err='%s'", r, v, err);
}

static void bad(const char *what, parser p, const char *s, const char *needle)
{
	char err[256] = "";
	int64_t v = -7;
	int r = p(s, &v, err, sizeof(err));

	if (!tap_ok(r == -1 && v == -7 && strstr(err, needle),
		    "%s '%s' rejected: %s", what, s, needle))
		tap_diag("got r=%d v=%" PRId64 " err='%s'", r, v, err);
}

int main(void)
{
	good("node", parse_node, "0", 0);
	good("node", parse_node, "1", 1);
	good("node", parse_node, "2147483647", 2147483647);
	bad("node", parse_node, "", "not a NUMA node number");
	bad("node", parse_node, "-1", "not a NUMA node number");
	bad("node", parse_node, "1a", "not a NUMA node number");
	bad("node", parse_node, " 1", "not a NUMA node number");
	bad("node", parse_node, "0x1", "not a NUMA node number");
	bad("node", parse_node, "2147483648", "out of range");
	bad("node", parse_node, "99999999999999999999", "out of range");

	good("duration", parse_duration, "10", 10000);
	good("duration", parse_duration, "0.5", 500);
	good("duration", parse_duration, "2s", 2000);
	good("duration", parse_duration, "1.25s", 1250);
	good("duration", parse_duration, "500ms", 500);
	good("duration", parse_duration, "0.0001", 1);
	good("duration", parse_duration, "86400", 86400000);
	bad("duration", parse_duration, "0", "greater than zero");
	bad("duration", parse_duration, "0ms", "greater than zero");
	bad("duration", parse_duration, "-1", "negative");
	bad("duration", parse_duration, "", "empty");
	bad("duration", parse_duration, "abc", "not a number of seconds");
	bad("duration", parse_duration, "1h", "not a number of seconds");
	bad("duration", parse_duration, "1e3", "not a number of seconds");
	bad("duration", parse_duration, "1.", "not a number of seconds");
	bad("duration", parse_duration, "40000000", "longer than a year");
	bad("duration", parse_duration, "99999999999999999999999", "longer than a year");

	good("count", parse_count, "1", 1);
	good("count", parse_count, "250", 250);
	bad("count", parse_count, "0", "between 1 and");
	bad("count", parse_count, "-3", "not a positive whole number");
	bad("count", parse_count, "x", "not a positive whole number");
	bad("count", parse_count, "3000000000", "between 1 and");

	return tap_done();
}
