// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-hballoon.c - decoding of the hballoon QMP contract
 */
#include <inttypes.h>
#include <string.h>

#include "hballoon.h"
#include "tap.h"

static int parse(const char *json, struct hb_state *st, char *err, size_t len)
{
	struct json_object *o = json_tokener_parse(json);
	int r = hb_state_parse(o, st, err, len);

	json_object_put(o);	/* hb_state keeps its own reference */
	return r;
}

static void bad(const char *json, const char *needle)
{
	struct hb_state st;
	char err[256] = "";
	int r = parse(json, &st, err, sizeof(err));

	if (!tap_ok(r == -1 && strstr(err, needle) && st.nodes == NULL &&
		    st.root == NULL, "query reply rejected: %s", needle))
		tap_diag("r=%d err='%s' for %s", r, err, json);
	if (!r)
		hb_state_free(&st);
}

static void t_state(void)
{
	struct hb_state st;
	const struct hb_node *n;
	char reason[256];
	char err[256];
	int r;

	r = parse("{\"nodes\": [{\"node\": 0, \"ram\": 2147483648, \"target\": 2147483648, \"actual\": 2147483648},"
		  " {\"node\": 1, \"ram\": 18446744073709551615, \"target\": 1073741824, \"actual\": 1610612736, \"future\": \"x\"}],"
		  " \"discard-inhibited\": false, \"something-new\": [1]}", &st, err, sizeof(err));
	tap_ok(r == 0 && st.nr_nodes == 2, "query reply with 2 nodes parsed");
	n = hb_state_node(&st, 1);
	tap_ok(n && n->ram == UINT64_MAX && n->target == 1ULL << 30 &&
	       n->actual == 3ULL << 29, "node 1 values (uint64 beyond INT64_MAX)");
	tap_ok(hb_state_node(&st, 2) == NULL, "unknown node -> NULL");
	tap_ok(hb_discard_inhibited(&st, reason, sizeof(reason)) == 0 && !reason[0],
	       "discard-inhibited false");
	hb_state_free(&st);

	r = parse("{\"nodes\": []}", &st, err, sizeof(err));
	tap_ok(r == 0 && st.nr_nodes == 0, "empty node list is valid");
	tap_ok(hb_discard_inhibited(&st, reason, sizeof(reason)) == -1,
	       "no discard field -> not reported");
	hb_state_free(&st);

	r = parse("{\"nodes\": [], \"discard-inhibited\": true, \"reasons\": [\"ram-discard-disabled\", \"mem-lock\"], \"bad-buffers\": 0}",
		  &st, err, sizeof(err));
	tap_ok(r == 0 && hb_discard_inhibited(&st, reason, sizeof(reason)) == 1 &&
	       !strcmp(reason, "ram-discard-disabled, mem-lock"),
	       "QAPI shape: discard-inhibited + reasons list");
	tap_ok(!hb_known_top_key("bad-buffers") && hb_known_top_key("reasons") &&
	       hb_known_top_key("discard-inhibited"), "known top-level keys");
	hb_state_free(&st);

	r = parse("{\"nodes\": [], \"discard-inhibited\": false, \"reasons\": []}",
		  &st, err, sizeof(err));
	tap_ok(r == 0 && hb_discard_inhibited(&st, reason, sizeof(reason)) == 0 &&
	       !reason[0], "QAPI shape: not inhibited, empty reasons");
	hb_state_free(&st);

	r = parse("{\"nodes\": [], \"discard-inhibited\": true, \"discard-inhibit-reason\": \"vfio\"}",
		  &st, err, sizeof(err));
	tap_ok(r == 0 && hb_discard_inhibited(&st, reason, sizeof(reason)) == 1 &&
	       !strcmp(reason, ""), "schema names only: a reason under another name is not one");
	hb_state_free(&st);

	r = parse("{\"nodes\": [], \"discard-inhibitors\": [\"postcopy\"]}",
		  &st, err, sizeof(err));
	tap_ok(r == 0 && hb_discard_inhibited(&st, reason, sizeof(reason)) == -1 &&
	       !strcmp(reason, ""),
	       "schema names only: another key mentioning inhibit is not the state");
	hb_state_free(&st);

	r = parse("{\"nodes\": [], \"discard-inhibited\": true, \"reasons\": [\"a\", \"b\"]}",
		  &st, err, sizeof(err));
	tap_ok(r == 0 && hb_discard_inhibited(&st, reason, 5) == 1 &&
	       strlen(reason) == 4, "reasons truncated to the buffer");
	hb_state_free(&st);

	bad("[1]", "not an object");
	bad("{}", "no \"nodes\" array");
	bad("{\"nodes\": {}}", "no \"nodes\" array");
	bad("{\"nodes\": [5]}", "nodes[0] is not an object");
	bad("{\"nodes\": [{\"node\": 0, \"ram\": 1, \"target\": 1}]}", "nodes[0] has no \"actual\"");
	bad("{\"nodes\": [{\"node\": 0, \"ram\": 1, \"target\": 1, \"actual\": 1}, {\"node\": 1}]}",
	    "nodes[1] has no \"ram\"");
	bad("{\"nodes\": [{\"node\": 0, \"ram\": -1, \"target\": 1, \"actual\": 1}]}",
	    "nodes[0].ram is not a non-negative integer");
	bad("{\"nodes\": [{\"node\": 0, \"ram\": \"1G\", \"target\": 1, \"actual\": 1}]}",
	    "nodes[0].ram is not a non-negative integer");
	bad("{\"nodes\": [{\"node\": 0, \"ram\": 1.5, \"target\": 1, \"actual\": 1}]}",
	    "nodes[0].ram is not a non-negative integer");
	bad("{\"nodes\": [{\"node\": 4294967296, \"ram\": 1, \"target\": 1, \"actual\": 1}]}",
	    "out of range");
}

static void t_change(void)
{
	static const struct {
		const char *json;
		int want;
	} cases[] = {
		{ "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": 1, \"actual\": 4096}, \"timestamp\": {\"seconds\": 100, \"microseconds\": 5}}", 1 },
		{ "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": 1, \"actual\": 4096}}", 1 },
		{ "{\"event\": \"BALLOON_CHANGE\", \"data\": {\"actual\": 4096}}", 0 },
		{ "{\"event\": \"SHUTDOWN\"}", 0 },
		{ "{\"event\": \"HBALLOON_CHANGE\"}", -1 },
		{ "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": \"1\", \"actual\": 4096}}", -1 },
		{ "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": 1}}", -1 },
		{ "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": -1, \"actual\": 1}}", -1 },
		{ "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": 1, \"actual\": -1}}", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = json_tokener_parse(cases[i].json);
		struct hb_change c = { 0 };
		int r = hb_parse_change(o, &c);

		if (!tap_ok(r == cases[i].want, "event %s -> %d", cases[i].json,
			    cases[i].want))
			tap_diag("got %d", r);
		if (i == 0)
			tap_ok(c.node == 1 && c.actual == 4096 && c.seconds == 100 &&
			       c.microseconds == 5, "event fields and timestamp decoded");
		if (i == 1)
			tap_ok(c.seconds == -1, "event without timestamp -> seconds -1");
		json_object_put(o);
	}
}

static void t_explain(void)
{
	struct qmp_error e = { .status = QMP_ERR_CMD, .cls = "CommandNotFound",
			       .msg = "The command query-hballoon has not been found" };
	struct qmp_error g = { .status = QMP_ERR_CMD, .cls = "GenericError",
			       .msg = "node 5 does not exist" };

	hb_explain_error(&e);
	hb_explain_error(&g);
	tap_ok(strstr(e.msg, "without hballoon support") != NULL,
	       "CommandNotFound explained");
	tap_ok(!strcmp(g.msg, "node 5 does not exist"), "other errors left alone");
	{
		struct qmp_error d = { .status = QMP_ERR_CMD, .cls = "GenericError",
				       .msg = "No virtio-hballoon device has been activated" };

		hb_explain_error(&d);
		tap_ok(strstr(d.msg, "-device virtio-hballoon-pci") != NULL,
		       "no device explained");
	}
	tap_ok(hb_known_node_key("actual") && hb_known_node_key("stats") &&
	       !hb_known_node_key("inflated") && !hb_known_node_key("future"),
	       "known node keys");
}

static void t_value_text(void)
{
	struct json_object *o = json_tokener_parse("{\"s\": \"vfio\", \"n\": 3, \"b\": true, \"a\": [1, \"x\"]}");
	struct json_object *v;
	char buf[64];

	json_object_object_get_ex(o, "s", &v);
	tap_ok(!strcmp(hb_value_text(v, buf, sizeof(buf)), "vfio"), "value text: string bare");
	json_object_object_get_ex(o, "n", &v);
	tap_ok(!strcmp(hb_value_text(v, buf, sizeof(buf)), "3"), "value text: number");
	json_object_object_get_ex(o, "b", &v);
	tap_ok(!strcmp(hb_value_text(v, buf, sizeof(buf)), "true"), "value text: bool");
	json_object_object_get_ex(o, "a", &v);
	tap_ok(!strcmp(hb_value_text(v, buf, sizeof(buf)), "[1,\"x\"]"), "value text: array as JSON");
	json_object_put(o);
}

/*
 * hb_node_kernel_memory() of a 1 GiB node with @stats (a JSON object
 * body) whose target and actual are @target and @actual MiB; *@k is
 * untouched (0) when it returns false.
 */
static bool kernel_of(const char *stats, unsigned int target,
		      unsigned int actual, uint64_t *k)
{
	struct hb_state st;
	char json[512], err[256];
	bool r;

	*k = 0;
	snprintf(json, sizeof(json),
		 "{\"nodes\": [{\"node\": 0, \"ram\": %u, \"target\": %u, "
		 "\"actual\": %u, \"stats\": {%s}}]}", 1024U << 20,
		 target << 20, actual << 20, stats);
	if (parse(json, &st, err, sizeof(err))) {
		tap_ok(false, "kernel memory: reply parsed");
		tap_diag("%s: %s", err, json);
		return false;
	}
	r = hb_node_kernel_memory(hb_state_node(&st, 0), k);
	hb_state_free(&st);
	return r;
}

/* Statistics of a node at 512 MiB (its balloon 512 MiB) and its parts. */
#define AT512(total, free_mem, anon, file)				\
	"\"total-memory\": " total ", \"free-memory\": " free_mem	\
	", \"anon-memory\": " anon ", \"file-memory\": " file	\
	", \"balloon-memory\": 536870912"

static void t_kernel_memory(void)
{
	struct hb_state st;
	char err[256];
	uint64_t k, out = 7;

	tap_ok(kernel_of(AT512("500", "100", "200", "50"), 512, 512, &k) &&
	       k == 150, "kernel memory: total - free - anon - file");
	tap_ok(!kernel_of(AT512("500", "100", "200", "50"), 500, 512, &k) && !k,
	       "kernel memory: not read while a shrink is under way");
	tap_ok(!kernel_of(AT512("500", "100", "200", "50"), 520, 512, &k) && !k,
	       "kernel memory: not read while a grow is under way");
	tap_ok(!kernel_of(AT512("500", "100", "200", "50"), 500, 500, &k) && !k,
	       "kernel memory: not read from a report older than the last resize");
	tap_ok(kernel_of("\"total-memory\": 500, \"free-memory\": 100, "
			 "\"anon-memory\": 200, \"file-memory\": 50, "
			 "\"balloon-memory\": 0", 1024, 1024, &k) && k == 150,
	       "kernel memory: a node at its full size, nothing ballooned");
	tap_ok(kernel_of(AT512("100", "200", "0", "0"), 512, 512, &k) && k == 0,
	       "kernel memory: free above total gives 0");
	tap_ok(kernel_of(AT512("100", "10", "80", "80"), 512, 512, &k) && k == 0,
	       "kernel memory: anon + file above used gives 0");
	tap_ok(kernel_of(AT512("18446744073709551615", "1", "0", "0"), 512, 512,
			 &k) && k == UINT64_MAX - 1,
	       "kernel memory: a huge total is taken as it is (the policy clamps)");
	tap_ok(!kernel_of("\"total-memory\": 500, \"free-memory\": 100, "
			  "\"anon-memory\": 200, \"balloon-memory\": 536870912",
			  512, 512, &k) && !k,
	       "kernel memory: a missing statistic: none");
	tap_ok(!kernel_of(AT512("500", "-1", "200", "50"), 512, 512, &k) && !k,
	       "kernel memory: a negative statistic: none");
	tap_ok(!kernel_of(AT512("\"500\"", "1", "2", "3"), 512, 512, &k) && !k,
	       "kernel memory: a statistic that is not a number: none");

	tap_ok(!parse("{\"nodes\": [{\"node\": 0, \"ram\": 1, \"target\": 1, "
		      "\"actual\": 1, \"stats\": {\"hot-memory\": 18446744073709551615}},"
		      " {\"node\": 1, \"ram\": 1, \"target\": 1, \"actual\": 1}]}",
		      &st, err, sizeof(err)), "nodes with and without stats parse");
	tap_ok(hb_node_stat(hb_state_node(&st, 0), "hot-memory", &out) &&
	       out == UINT64_MAX, "a statistic read (uint64 beyond INT64_MAX)");
	out = 7;
	tap_ok(!hb_node_stat(hb_state_node(&st, 0), "cold-memory", &out) && out == 7,
	       "a statistic not reported: none, the output untouched");
	tap_ok(!hb_node_stat(hb_state_node(&st, 1), "hot-memory", &out) && out == 7,
	       "no stats: no statistic, the output untouched");
	k = 5;
	tap_ok(!hb_node_kernel_memory(hb_state_node(&st, 1), &k) && k == 5,
	       "no stats: no kernel memory, the output untouched");
	hb_state_free(&st);
}

int main(void)
{
	t_state();
	t_kernel_memory();
	t_change();
	t_explain();
	t_value_text();
	return tap_done();
}
