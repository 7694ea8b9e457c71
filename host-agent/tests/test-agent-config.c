// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-agent-config.c - hballoond's configuration file
 *
 * HB_VERBOSE=1 in the environment shows every error message as a note.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_config.h"
#include "tap.h"

#define NAME	"test.conf"
#define HOST	"[host]\nfast-budget = 2G\n"
#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)

static int verbose;

static int load(const char *data, struct agent_config *c, char *err,
		size_t errlen)
{
	return agent_config_load_data(data, strlen(data), NAME, c, err, errlen);
}

/* @data is refused with a message naming the file and containing @needle. */
static void bad(const char *what, const char *data, const char *needle)
{
	struct agent_config c, before;
	char err[1024] = "";
	int r;

	memset(&c, 0xa5, sizeof(c));
	memcpy(&before, &c, sizeof(c));
	r = load(data, &c, err, sizeof(err));
	if (!tap_ok(r == -1 && !memcmp(&c, &before, sizeof(c)) &&
		    !strncmp(err, NAME ":", strlen(NAME ":")) &&
		    strstr(err, needle) && !strchr(err, '\n'),
		    "refused: %s", what)) {
		tap_diag("r=%d out %s", r,
			 memcmp(&c, &before, sizeof(c)) ? "MODIFIED" : "untouched");
		tap_diag("err  '%s'", err);
		tap_diag("want '%s'", needle);
		if (!r)
			agent_config_free(&c);
	} else if (verbose) {
		tap_diag("%s", err);
	}
}

/* @data loads; the caller checks and frees *@c. */
static int good(const char *what, const char *data, struct agent_config *c)
{
	char err[1024] = "";
	int r = load(data, c, err, sizeof(err));

	if (!tap_ok(r == 0, "accepted: %s", what)) {
		tap_diag("err '%s'", err);
		memset(c, 0, sizeof(*c));
		return -1;
	}
	return 0;
}

/* @data loads (nothing else checked). */
static void good_one(const char *what, const char *data)
{
	struct agent_config c;

	if (!good(what, data, &c))
		agent_config_free(&c);
}

static void test_full(void)
{
	static const char data[] =
		"# a comment\n"
		"[host]\n"
		"fast-budget = 3G\n"
		"uris = qemu:///system ; qemu+ssh://b/system;\n"
		"interval = 30\n"
		"granule = 1M\n"
		"hysteresis = 0\n"
		"max-move = 1.5G\n"
		"keep-total = false\n"
		"socket = /run/x/y z.sock\n"
		"monitor-timeout = 300\n"
		"demand-window = 0\n"
		"\n"
		"[domain web 1]\n"
		"min = 1G\n"
		"max = 2G\n"
		"weight = 1000\n"
		"fast-node = 2\n"
		"slow-node = 63\n"
		"uri = qemu+ssh://b/system\n"
		"[domain db]\n"
		"min=1023M\n"
		"max=1023M\n"
		"weight=1\n";
	const struct agent_domain_cfg *d;
	struct agent_config c;

	if (good("full file", data, &c))
		return;
	tap_ok(!strcmp(c.path, NAME), "path");
	tap_ok(c.budget == 3 * GiB, "fast-budget");
	tap_ok(c.nr_uris == 2 && !strcmp(c.uris[0], "qemu:///system") &&
	       !strcmp(c.uris[1], "qemu+ssh://b/system") && !c.uris[2],
	       "uris: two, blanks around ';' dropped, trailing ';' ignored, NULL-terminated");
	tap_ok(c.interval_s == 30, "interval");
	tap_ok(c.granule == MiB, "granule");
	tap_ok(c.hysteresis == 0, "hysteresis 0");
	tap_ok(c.max_move == 3 * GiB / 2, "max-move 1.5G");
	tap_ok(!c.keep_total, "keep-total false");
	tap_ok(!strcmp(c.socket, "/run/x/y z.sock"), "socket");
	tap_ok(c.monitor_timeout_s == 300, "monitor-timeout");
	tap_ok(c.demand_window_s == 0, "demand-window 0");
	tap_ok(c.nr_domains == 2, "two domains");
	d = &c.domains[0];
	tap_ok(!strcmp(d->name, "web 1") && d->uri &&
	       !strcmp(d->uri, "qemu+ssh://b/system") && d->min == GiB &&
	       d->max == 2 * GiB && d->weight == 1000 && d->fast_node == 2 &&
	       d->slow_node == 63, "domain 'web 1', every key");
	d = &c.domains[1];
	tap_ok(!strcmp(d->name, "db") && !d->uri && d->min == 1023 * MiB &&
	       d->max == 1023 * MiB && d->weight == 1 && d->fast_node == 0 &&
	       d->slow_node == 1, "domain 'db', min == max, defaults");
	agent_config_free(&c);
	tap_ok(!c.path && !c.uris && !c.domains && !c.nr_domains,
	       "agent_config_free() zeroes");
	agent_config_free(&c);
	agent_config_free(NULL);
	tap_ok(1, "agent_config_free() twice and on NULL");
}

static void test_defaults(void)
{
	struct agent_config c;
	const struct agent_domain_cfg *d;

	if (good("minimal file", HOST "[domain vm]\nmin = 0\nmax = 2M\n", &c))
		return;
	tap_ok(c.budget == 2 * GiB, "fast-budget 2G");
	tap_ok(c.nr_uris == 1 && !strcmp(c.uris[0], "qemu:///system") &&
	       !c.uris[1], "default uris qemu:///system");
	tap_ok(c.interval_s == 5, "default interval 5");
	tap_ok(c.granule == 2 * MiB, "default granule 2M");
	tap_ok(c.hysteresis == 64 * MiB, "default hysteresis 64M");
	tap_ok(c.max_move == 512 * MiB, "default max-move 512M");
	tap_ok(c.keep_total, "default keep-total true");
	tap_ok(!strcmp(c.socket, "/run/htier/hballoond.sock"), "default socket");
	tap_ok(c.monitor_timeout_s == 10, "default monitor-timeout 10");
	tap_ok(c.demand_window_s == 30, "default demand-window 30");
	d = c.nr_domains == 1 ? &c.domains[0] : NULL;
	tap_ok(d && !strcmp(d->name, "vm") && !d->uri && d->min == 0 &&
	       d->max == 2 * MiB && d->weight == 100 && d->fast_node == 0 &&
	       d->slow_node == 1,
	       "domain defaults: weight 100, nodes 0 and 1, any uri");
	agent_config_free(&c);

	if (!good("[host] only, no domains", HOST, &c)) {
		tap_ok(c.nr_domains == 0 && !c.domains, "no domains");
		agent_config_free(&c);
	}
}

static void test_sizes(void)
{
	bad("no [host] group", "[domain a]\nmin=0\nmax=0\n",
	    NAME ": no [host] group");
	bad("empty file", "", "no [host] group");
	bad("missing fast-budget", "[host]\ninterval=5\n",
	    NAME ":host:fast-budget: missing (required");
	bad("fast-budget 0", "[host]\nfast-budget=0\n",
	    "host:fast-budget: must be more than 0");
	bad("bad size", "[host]\nfast-budget = 2X\n",
	    NAME ":host:fast-budget: size '2X' has an unknown unit 'X'");
	bad("empty size", "[host]\nfast-budget =\n", "host:fast-budget: empty size");
	bad("SI suffix GB", "[host]\nfast-budget = 2GB\n",
	    "host:fast-budget: size '2GB': unit 'GB' is ambiguous");
	bad("SI suffix MB on a domain", HOST "[domain a]\nmin=256MB\nmax=1G\n",
	    "domain a:min: size '256MB': unit 'MB' is ambiguous");
	bad("negative size", HOST "hysteresis = -64M\n", "host:hysteresis: size '-64M' is negative");
	bad("size not a multiple of 4 KiB", "[host]\nfast-budget = 4097\n",
	    "not a multiple of 4096 bytes; nearest: 4096 (4 KiB) or 8192 (8 KiB)");
	bad("hysteresis not a multiple of 4 KiB", HOST "hysteresis = 1000\n",
	    "host:hysteresis: size '1000' (1000 bytes) is not a multiple of 4096");
	bad("end-of-line comment", HOST "[domain a]\nmin = 256M\nmax = 1G # web\n",
	    "domain a:max: size '1G # web' has an unknown unit 'G # web' (use K, M, G, T, optionally followed by iB, or none for bytes) ('#' starts a comment only at the beginning of a line");
	bad("granule 0", HOST "granule = 0\n", "host:granule: must be at least 4 KiB");
	bad("granule not a multiple of 4 KiB", HOST "granule = 6000\n",
	    "host:granule: size '6000'");
	bad("max-move below granule", HOST "max-move = 1M\n",
	    "host:max-move: 1 MiB is less than granule 2 MiB");
	bad("default max-move below granule", HOST "granule = 1G\n",
	    "host:max-move: 512 MiB is less than granule 1 GiB (max-move defaults to 512 MiB)");
	good_one("max-move == granule", HOST "granule = 4K\nmax-move = 4K\n");
	good_one("granule 3M (any multiple of 4 KiB)",
		 HOST "granule = 3M\n[domain a]\nmin=3M\nmax=6M\n");

	bad("min not a multiple of granule", HOST "[domain a]\nmin = 3M\nmax = 1G\n",
	    NAME ":domain a:min: 3 MiB is not a multiple of granule 2 MiB (nearest: 2 MiB or 4 MiB)");
	bad("max not a multiple of custom granule",
	    HOST "granule = 1G\nmax-move = 1G\n[domain a]\nmin = 1G\nmax = 1.5G\n",
	    "domain a:max: 1.50 GiB is not a multiple of granule 1 GiB (nearest: 1 GiB or 2 GiB)");
	bad("min missing", HOST "[domain a]\nmax = 1G\n", "domain a:min: missing (required");
	bad("max missing", HOST "[domain a]\nmin = 1G\n", "domain a:max: missing (required");
	bad("min > max", HOST "[domain a]\nmin = 1G\nmax = 512M\n",
	    NAME ":domain a:max: 512 MiB is less than min 1 GiB");
	bad("sum(min) > fast-budget",
	    HOST "[domain a]\nmin=1G\nmax=1G\n[domain b]\nmin=1G\nmax=2G\n[domain c]\nmin=1G\nmax=4G\n",
	    NAME ":host:fast-budget: the sum of the 3 domains' min is 3 GiB (3221225472 bytes), more than fast-budget 2 GiB (2147483648 bytes)");
	bad("sum(min) overflows 64 bits",
	    "[host]\nfast-budget=16777215T\n[domain a]\nmin=16777214T\nmax=16777214T\n[domain b]\nmin=16777214T\nmax=16777214T\n",
	    "host:fast-budget: the sum of the 2 domains' min is more than 16 EiB (2^64 bytes)");
	good_one("sum(min) == fast-budget",
		 HOST "[domain a]\nmin=1G\nmax=2G\n[domain b]\nmin=1G\nmax=2G\n");
	good_one("max above fast-budget", HOST "[domain a]\nmin=0\nmax=4G\n");
}

static void test_numbers(void)
{
	bad("weight 0", HOST "[domain a]\nmin=0\nmax=0\nweight = 0\n",
	    NAME ":domain a:weight: 0 is out of range: expected a whole number, 1..1000");
	bad("weight 1001", HOST "[domain a]\nmin=0\nmax=0\nweight = 1001\n",
	    "domain a:weight: 1001 is out of range");
	bad("weight with trailing garbage", HOST "[domain a]\nmin=0\nmax=0\nweight = 100 x\n",
	    "domain a:weight: '100 x' is not valid: expected a whole number, 1..1000 (decimal digits only)");
	bad("weight with a sign", HOST "[domain a]\nmin=0\nmax=0\nweight = +5\n",
	    "weight: '+5' is not valid");
	bad("weight in hex", HOST "[domain a]\nmin=0\nmax=0\nweight = 0x10\n",
	    "weight: '0x10' is not valid");
	bad("weight in exponent form", HOST "[domain a]\nmin=0\nmax=0\nweight = 1e2\n",
	    "weight: '1e2' is not valid");
	bad("weight empty", HOST "[domain a]\nmin=0\nmax=0\nweight =\n",
	    "weight: '' is not valid");
	bad("weight huge", HOST "[domain a]\nmin=0\nmax=0\nweight = 99999999999999999999999\n",
	    "weight: 99999999999999999999999 is out of range");
	good_one("weight with trailing blanks (as GLib's own integers)",
		 HOST "[domain a]\nmin=0\nmax=0\nweight = 7 \t\n");
	bad("interval 0", HOST "interval = 0\n",
	    NAME ":host:interval: 0 is out of range: expected a whole number of seconds, 1..3600");
	bad("interval 3601", HOST "interval = 3601\n", "host:interval: 3601 is out of range");
	bad("demand-window -1", HOST "demand-window = -1\n",
	    "host:demand-window: '-1' is not valid");
	bad("demand-window 3601", HOST "demand-window = 3601\n",
	    "host:demand-window: 3601 is out of range");
	bad("demand-window 30s", HOST "demand-window = 30s\n",
	    "host:demand-window: '30s' is not valid");
	bad("interval 5s", HOST "interval = 5s\n", "host:interval: '5s' is not valid");
	bad("interval -1", HOST "interval = -1\n", "host:interval: '-1' is not valid");
	bad("interval with comment", HOST "interval = 5 # s\n",
	    "'5 # s' is not valid: expected a whole number of seconds, 1..3600 (decimal digits only) ('#' starts a comment");
	good_one("interval 1 and 3600, monitor-timeout 1",
		 HOST "interval = 1\nmonitor-timeout = 1\n");
	good_one("interval 3600, leading zeros", HOST "interval = 03600\n");
	bad("monitor-timeout 0", HOST "monitor-timeout = 0\n",
	    "host:monitor-timeout: 0 is out of range");
	bad("monitor-timeout 301", HOST "monitor-timeout = 301\n",
	    "host:monitor-timeout: 301 is out of range");
	bad("fast-node == slow-node", HOST "[domain a]\nmin=0\nmax=0\nfast-node=3\nslow-node=3\n",
	    NAME ":domain a:slow-node: fast-node and slow-node are both 3");
	bad("fast-node 1 meets the default slow-node", HOST "[domain a]\nmin=0\nmax=0\nfast-node=1\n",
	    "fast-node and slow-node are both 1 (they default to 0 and 1)");
	bad("node 64", HOST "[domain a]\nmin=0\nmax=0\nslow-node=64\n",
	    "domain a:slow-node: 64 is out of range: expected a guest NUMA node id, 0..63");
	bad("node -1", HOST "[domain a]\nmin=0\nmax=0\nfast-node=-1\n",
	    "domain a:fast-node: '-1' is not valid");
	good_one("nodes swapped", HOST "[domain a]\nmin=0\nmax=0\nfast-node=1\nslow-node=0\n");
}

static void test_booleans(void)
{
	struct agent_config c;

	bad("keep-total yes", HOST "keep-total = yes\n",
	    NAME ":host:keep-total: 'yes' is not a boolean: use true or false (or 1 or 0)");
	bad("keep-total True", HOST "keep-total = True\n", "'True' is not a boolean");
	bad("keep-total on", HOST "keep-total = on\n", "'on' is not a boolean");
	bad("keep-total empty", HOST "keep-total =\n", "'' is not a boolean");
	bad("keep-total with comment", HOST "keep-total = false # no\n",
	    "'false # no' is not a boolean: use true or false (or 1 or 0) ('#' starts");
	if (!good("keep-total = 0", HOST "keep-total = 0\n", &c)) {
		tap_ok(!c.keep_total, "keep-total 0 is false");
		agent_config_free(&c);
	}
	if (!good("keep-total = 1", HOST "keep-total = 1\n", &c)) {
		tap_ok(c.keep_total, "keep-total 1 is true");
		agent_config_free(&c);
	}
}

static void test_shape(void)
{
	struct agent_config c;

	bad("unknown key in [host]", HOST "intreval = 5\n",
	    NAME ":host:intreval: unknown key (keys of [host]: fast-budget, uris, interval, granule, hysteresis, max-move, keep-total, socket, monitor-timeout, demand-window)");
	bad("unknown key in [domain]", HOST "[domain a]\nmin=0\nmax=0\nwieght=5\n",
	    NAME ":domain a:wieght: unknown key (keys of [domain NAME]: min, max, weight, fast-node, slow-node, uri)");
	bad("domain key in [host]", HOST "min = 0\n", "host:min: unknown key");
	bad("localized key", HOST "[domain a]\nmin=0\nmax=0\nmax[de]=1G\n",
	    "domain a:max[de]: unknown key");
	bad("localized key of the C locale", HOST "interval[C]=5\n",
	    "host:interval[C]: unknown key");
	bad("key case", HOST "Interval = 5\n", "host:Interval: unknown key");
	bad("unknown group", HOST "[hosts]\nx=1\n",
	    NAME ":hosts: unknown group (expected [host] or [domain NAME])");
	bad("unknown group, case", HOST "[Domain a]\nmin=0\nmax=0\n", ":Domain a: unknown group");
	bad("unknown empty group", HOST "[vm]\n", ":vm: unknown group");
	bad("domain without a name", HOST "[domain]\nmin=0\nmax=0\n",
	    NAME ":domain: a domain group needs the VM's name: [domain NAME]");
	bad("domain with an empty name", HOST "[domain ]\nmin=0\nmax=0\n",
	    "a domain group needs the VM's name");
	bad("domain name with a leading blank", HOST "[domain  a]\nmin=0\nmax=0\n",
	    NAME ":domain  a: domain name ' a' begins or ends with white space");
	bad("domain name with a trailing blank", HOST "[domain a ]\nmin=0\nmax=0\n",
	    "domain name 'a ' begins or ends");
	bad("key set twice", HOST "interval = 5\ninterval = 6\n",
	    NAME ":host:interval: set more than once (in the group, or in a second [host] group, which GLib merges into the first); keep one");
	bad("duplicate group setting the same key",
	    HOST "[domain a]\nmin=0\nmax=1G\n[domain b]\nmin=0\nmax=0\n[domain a]\nmax=2G\n",
	    "domain a:max: set more than once");
	if (!good("duplicate group with other keys: GLib merges it",
		  HOST "[domain a]\nmin=0\nmax=1G\n[host]\ninterval=7\n[domain a]\nweight=9\n",
		  &c)) {
		tap_ok(c.nr_domains == 1 && c.domains[0].max == GiB &&
		       c.domains[0].weight == 9 && c.interval_s == 7,
		       "merged: one domain with both groups' keys");
		agent_config_free(&c);
	}
	bad("GLib syntax error", HOST "this is not a key\n",
	    NAME ": Key file contains line");
	bad("key before any group", "interval = 5\n" HOST,
	    NAME ": Key file does not start with a group");
	bad("unterminated group", "[host\n", NAME ": Key file contains line");
	{
		static const char nul[] = "[host]\nfast-budget = 2G\0\n[hosts]\n";

		memset(&c, 0, sizeof(c));
		tap_ok(agent_config_load_data(nul, sizeof(nul) - 1, NAME, &c,
					      NULL, 0) == -1 && !c.path,
		       "refused: NUL byte (and no error buffer is fine)");
	}
	{
		char err[64];
		const char *data = HOST "[domain with a rather long name that does not fit]\nmin=1G\n";

		memset(err, 'x', sizeof(err));
		tap_ok(load(data, &c, err, sizeof(err)) == -1 &&
		       strlen(err) == sizeof(err) - 1,
		       "a long message is truncated to the buffer");
	}
	{
		char err[256] = "";

		tap_ok(agent_config_load_data("[x]\n", 4, NULL, &c, err,
					      sizeof(err)) == -1 &&
		       !strncmp(err, "(configuration):x: unknown group", 32),
		       "no name: messages say (configuration)");
	}
}

/* A [host] group whose socket path is @len bytes long. */
static void socket_of(char *buf, size_t size, size_t len)
{
	int n = snprintf(buf, size, HOST "socket = /run/");

	memset(buf + n, 'a', len - 5 - 5);
	snprintf(buf + n + len - 10, size - (size_t)n - len + 10, ".sock\n");
}

static void test_strings(void)
{
	char buf[512];
	struct agent_config c;

	bad("uris empty", HOST "uris =\n",
	    NAME ":host:uris: empty list: give at least one libvirt URI");
	bad("uris with an empty entry", HOST "uris = qemu:///system;;test:///default\n",
	    "host:uris: entry 2 is empty (entries are separated by ';')");
	bad("uris only a separator", HOST "uris = ;\n", "host:uris: entry 1 is empty");
	bad("uris separated by a blank", HOST "uris = qemu:///system test:///default\n",
	    "host:uris: 'qemu:///system test:///default' contains white space (separate URIs with ';')");
	bad("uris listed twice", HOST "uris = test:///default;qemu:///system; test:///default\n",
	    "host:uris: 'test:///default' is listed twice");
	bad("uris with an invalid escape", HOST "uris = a\\q\n", "host:uris: ");
	bad("socket relative", HOST "socket = run/x.sock\n",
	    NAME ":host:socket: 'run/x.sock' is not an absolute path");
	bad("socket empty", HOST "socket =\n", "host:socket: empty value");
	socket_of(buf, sizeof(buf), 108);
	bad("socket of 108 bytes", buf,
	    "' is too long for a unix socket (at most 107 bytes)");
	bad("socket not UTF-8", HOST "socket = /run/\xff.sock\n", "host:socket: ");
	socket_of(buf, sizeof(buf), 107);
	if (!good("socket of 107 bytes", buf, &c)) {
		tap_ok(strlen(c.socket) == 107, "socket of 107 bytes kept");
		agent_config_free(&c);
	}
	if (!good("socket with GLib escapes and trailing blanks",
		  HOST "socket = /run/a\\\\b\\sc.sock  \n", &c)) {
		tap_ok(!strcmp(c.socket, "/run/a\\b c.sock"), "socket unescaped, chomped");
		agent_config_free(&c);
	}
	bad("domain uri not among [host] uris",
	    HOST "[domain a]\nmin=0\nmax=0\nuri = qemu+ssh://b/system\n",
	    NAME ":domain a:uri: 'qemu+ssh://b/system' is not one of [host] uris (qemu:///system): this domain would never match");
	bad("domain uri empty", HOST "[domain a]\nmin=0\nmax=0\nuri =\n",
	    "domain a:uri: empty value");
}

static void test_match(void)
{
	static const char data[] =
		"[host]\nfast-budget = 8G\n"
		"uris = qemu:///system;qemu+ssh://b/system\n"
		"[domain my web vm]\nmin=1G\nmax=2G\n"
		"[domain a]\nmin=1G\nmax=2G\nuri = qemu+ssh://b/system\n"
		"[domain c]\nmin=1G\nmax=2G\nuri = qemu:///system\n";
	const char *sys = "qemu:///system", *ssh = "qemu+ssh://b/system";
	const struct agent_domain_cfg *d;
	struct agent_config c;

	if (good("domains with spaces and uris", data, &c))
		return;
	d = agent_config_domain(&c, sys, "my web vm");
	tap_ok(d && d == &c.domains[0] && !strcmp(d->name, "my web vm"),
	       "domain with spaces in its name found");
	tap_ok(agent_config_domain(&c, ssh, "my web vm") == &c.domains[0] &&
	       agent_config_domain(&c, NULL, "my web vm") == &c.domains[0],
	       "domain without uri matches on any connection, and on none");
	tap_ok(!agent_config_domain(&c, sys, "my") &&
	       !agent_config_domain(&c, sys, "my web vm ") &&
	       !agent_config_domain(&c, sys, "My Web VM") &&
	       !agent_config_domain(&c, sys, "web"),
	       "names match exactly, case-sensitive");
	tap_ok(agent_config_domain(&c, ssh, "a") == &c.domains[1],
	       "uri-scoped domain matches on its connection");
	tap_ok(!agent_config_domain(&c, sys, "a"),
	       "uri-scoped domain does not match on another connection");
	tap_ok(!agent_config_domain(&c, NULL, "a"),
	       "uri-scoped domain does not match an unknown connection");
	tap_ok(agent_config_domain(&c, sys, "c") == &c.domains[2] &&
	       !agent_config_domain(&c, ssh, "c"),
	       "second uri-scoped domain");
	tap_ok(!agent_config_domain(&c, sys, NULL) &&
	       !agent_config_domain(NULL, sys, "c"), "NULL arguments");
	agent_config_free(&c);
	tap_ok(!agent_config_domain(&c, sys, "c"), "freed config matches nothing");
}

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -1;
	r = fwrite(data, 1, len, f) == len ? 0 : -1;
	return fclose(f) || r ? -1 : 0;
}

static void test_files(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4200], err[1024];
	struct agent_config c, old;
	char *big;
	size_t big_len = (1U << 20) + 1;

	snprintf(dir, sizeof(dir), "%s/test-agent-config.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!tap_ok(mkdtemp(dir) != NULL, "temporary directory")) {
		tap_diag("mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/hballoond.conf", dir);
	tap_ok(!write_file(path, HOST "[domain a]\nmin = 1G\nmax = 2G\n",
			   strlen(HOST "[domain a]\nmin = 1G\nmax = 2G\n")),
	       "write a configuration file");
	err[0] = 0;
	if (tap_ok(agent_config_load(path, &c, err, sizeof(err)) == 0,
		   "load a real file")) {
		tap_ok(!strcmp(c.path, path) && c.budget == 2 * GiB &&
		       c.nr_domains == 1 && c.domains[0].max == 2 * GiB,
		       "its contents and path");
		/* a reload that fails keeps the old configuration */
		old = c;
		write_file(path, HOST "[domain a]\nmin = 1G\nmax = 2GB\n",
			   strlen(HOST "[domain a]\nmin = 1G\nmax = 2GB\n"));
		tap_ok(agent_config_load(path, &c, err, sizeof(err)) == -1 &&
		       !memcmp(&c, &old, sizeof(c)) &&
		       !strncmp(err, path, strlen(path)) &&
		       strstr(err, ":domain a:max: size '2GB'"),
		       "a bad file leaves the loaded configuration alone");
		agent_config_free(&c);
	} else {
		tap_diag("err '%s'", err);
	}

	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	err[0] = 0;
	memset(&c, 0, sizeof(c));
	if (!tap_ok(agent_config_load(path, &c, err, sizeof(err)) == -1 &&
		    !c.path && !strncmp(err, path, strlen(path)) &&
		    !strcmp(err + strlen(path), ": cannot open: No such file or directory"),
		    "missing file: '%s: cannot open: No such file or directory'",
		    "DIR/missing.conf"))
		tap_diag("err '%s'", err);
	else if (verbose)
		tap_diag("%s", err);

	err[0] = 0;
	if (!tap_ok(agent_config_load(dir, &c, err, sizeof(err)) == -1 &&
		    !strncmp(err, dir, strlen(dir)) &&
		    strstr(err, ": cannot read: Is a directory"),
		    "a directory: cannot read: Is a directory"))
		tap_diag("err '%s'", err);

	snprintf(path, sizeof(path), "%s/big.conf", dir);
	big = malloc(big_len);
	if (big) {
		memset(big, '#', big_len);
		big[big_len - 1] = '\n';
		write_file(path, big, big_len);
		free(big);
		err[0] = 0;
		if (!tap_ok(agent_config_load(path, &c, err, sizeof(err)) == -1 &&
			    strstr(err, ": larger than 1048576 bytes"),
			    "a file over 1 MiB is refused"))
			tap_diag("err '%s'", err);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/hballoond.conf", dir);
	unlink(path);
	tap_ok(rmdir(dir) == 0, "temporary directory removed");
}

/* The shipped example loads and states the built-in defaults. */
static void test_example(void)
{
	char path[4096], err[1024] = "";
	const char *src = __FILE__, *slash = strrchr(src, '/');
	struct agent_config c;

	/* __FILE__ is tests/test-agent-config.c when built from host-agent/ */
	snprintf(path, sizeof(path), "%.*s../hballoond.conf.example",
		 slash ? (int)(slash - src + 1) : 0, src);
	if (!tap_ok(agent_config_load(path, &c, err, sizeof(err)) == 0,
		    "hballoond.conf.example loads")) {
		tap_diag("err '%s' (run from host-agent/)", err);
		return;
	}
	tap_ok(c.nr_uris == 1 && !strcmp(c.uris[0], AGENT_CONFIG_DEFAULT_URI) &&
	       c.interval_s == AGENT_CONFIG_DEFAULT_INTERVAL &&
	       c.granule == AGENT_CONFIG_DEFAULT_GRANULE &&
	       c.hysteresis == AGENT_CONFIG_DEFAULT_HYSTERESIS &&
	       c.max_move == AGENT_CONFIG_DEFAULT_MAX_MOVE && c.keep_total &&
	       !strcmp(c.socket, AGENT_CONFIG_DEFAULT_SOCKET) &&
	       c.monitor_timeout_s == AGENT_CONFIG_DEFAULT_MON_TIMEOUT,
	       "the example's [host] values are the defaults");
	tap_ok(c.nr_domains == 2 && agent_config_domain(&c, AGENT_CONFIG_DEFAULT_URI, "web 1") &&
	       agent_config_domain(&c, AGENT_CONFIG_DEFAULT_URI, "batch"),
	       "the example's domains");
	agent_config_free(&c);
}

int main(void)
{
	verbose = getenv("HB_VERBOSE") != NULL;
	test_full();
	test_defaults();
	test_sizes();
	test_numbers();
	test_booleans();
	test_shape();
	test_strings();
	test_match();
	test_files();
	test_example();
	return tap_done();
}
