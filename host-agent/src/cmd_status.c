// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_status.c - hballoonctl status: one row per node
 *
 *   NODE  RAM  TARGET  ACTUAL  DELTA  [DISCARD]  [GUEST FREE]  [HOT WANTED]
 *   [COLD]  [OTHER]
 *
 * DELTA is actual - target: positive while the guest still has to inflate,
 * negative while it still has to deflate.  DISCARD says whether the host
 * memory of this node's inflated pages is freed (the node's own
 * "discard-inhibited" or the VM-wide one).  GUEST FREE is the free memory
 * the guest last reported for the node.  HOT WANTED and COLD are the
 * demand the guest's placement engine reported: hot memory it wants on the
 * node whether or not it fits, and memory on the node it considers cold
 * (shown only for a guest that reports them).  Fields without a column (page
 * counters, anything newer than this tool) go to OTHER as key=value.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "hballoon.h"
#include "hballoonctl.h"
#include "size.h"

enum { C_NODE, C_RAM, C_TARGET, C_ACTUAL, C_DELTA, C_DISCARD, C_FREE, C_HOT,
       C_COLD, C_OTHER, NCOLS };

static const char *const heads[NCOLS] = {
	"NODE", "RAM", "TARGET", "ACTUAL", "DELTA", "DISCARD", "GUEST FREE",
	"HOT WANTED", "COLD", "OTHER",
};

/* The page counters, shown first and always in this order. */
static const char *const counters[] = {
	"inflated", "deflated", "discarded", "invalid",
};

static bool is_counter(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (!strcmp(key, counters[i]))
			return true;
	return false;
}

static void append(char *out, size_t len, size_t *o, const char *key,
		   struct json_object *val)
{
	char vb[128];
	int w;

	if (*o >= len)
		return;
	w = snprintf(out + *o, len - *o, "%s%s=%s", *o ? " " : "", key,
		     hb_value_text(val, vb, sizeof(vb)));
	if (w > 0)
		*o += (size_t)w;
}

/*
 * "key=value key=value" of the fields this tool has no column for: the
 * page counters in a fixed order (QEMU's key order is a hash order), then
 * anything else in the order QEMU sent it.
 */
static void node_extras(const struct hb_node *n, char *out, size_t len)
{
	struct json_object *v;
	size_t o = 0, i;

	out[0] = '\0';
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (json_object_object_get_ex(n->obj, counters[i], &v))
			append(out, len, &o, counters[i], v);
	json_object_object_foreach(n->obj, key, val) {
		if (!hb_known_node_key(key) && !is_counter(key))
			append(out, len, &o, key, val);
	}
}

/* A size from the node's guest statistics into @cell, or "-"; true if set. */
static bool stat_cell(const struct hb_node *n, const char *key, char *cell,
		      size_t len)
{
	uint64_t v;

	snprintf(cell, len, "-");
	if (!hb_node_stat(n, key, &v))
		return false;
	size_format(v, cell, len);
	return true;
}

/* Fill one row; return a bit mask of the optional columns it uses. */
static unsigned int fill_row(const struct hb_node *n, int vm_inhibited,
			     char cell[NCOLS][512])
{
	struct json_object *v;
	unsigned int used = 0;

	snprintf(cell[C_NODE], sizeof(cell[0]), "%" PRId64, n->node);
	size_format(n->ram, cell[C_RAM], sizeof(cell[0]));
	size_format(n->target, cell[C_TARGET], sizeof(cell[0]));
	size_format(n->actual, cell[C_ACTUAL], sizeof(cell[0]));
	size_format_delta(n->actual, n->target, cell[C_DELTA], sizeof(cell[0]));

	snprintf(cell[C_DISCARD], sizeof(cell[0]), "%s",
		 vm_inhibited > 0 ? "no" : "yes");
	if (json_object_object_get_ex(n->obj, HB_KEY_INHIBITED, &v) &&
	    json_object_is_type(v, json_type_boolean)) {
		struct json_object *why;

		if (json_object_get_boolean(v))
			snprintf(cell[C_DISCARD], sizeof(cell[0]), "no (%s)",
				 json_object_object_get_ex(n->obj, HB_KEY_REASON, &why) &&
				 json_object_is_type(why, json_type_string) ?
				 json_object_get_string(why) : "node");
		used |= 1u << C_DISCARD;
	}
	if (vm_inhibited >= 0)
		used |= 1u << C_DISCARD;

	if (stat_cell(n, "free-memory", cell[C_FREE], sizeof(cell[0])))
		used |= 1u << C_FREE;
	if (stat_cell(n, "hot-memory", cell[C_HOT], sizeof(cell[0])))
		used |= 1u << C_HOT;
	if (stat_cell(n, "cold-memory", cell[C_COLD], sizeof(cell[0])))
		used |= 1u << C_COLD;

	node_extras(n, cell[C_OTHER], sizeof(cell[0]));
	if (cell[C_OTHER][0])
		used |= 1u << C_OTHER;
	return used;
}

static void print_row(char cell[NCOLS][512], const size_t *width,
		      unsigned int show)
{
	size_t c;

	for (c = 0; c < NCOLS; c++) {
		if (!(show & (1u << c)))
			continue;
		if (c == C_NODE)
			printf("%*s", (int)width[c], cell[c]);
		else if (c == C_DISCARD || c == C_OTHER)	/* words: left */
			printf("  %-*s", c == C_OTHER ? 0 : (int)width[c], cell[c]);
		else
			printf("  %*s", (int)width[c], cell[c]);
	}
	printf("\n");
}

static void print_table(const struct hb_state *st, int64_t only,
			int vm_inhibited)
{
	unsigned int show = (1u << C_NODE) | (1u << C_RAM) | (1u << C_TARGET) |
			    (1u << C_ACTUAL) | (1u << C_DELTA);
	char cell[NCOLS][512];
	size_t width[NCOLS], i, c;

	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(heads[c]);
	for (i = 0; i < st->nr_nodes; i++) {
		if (only >= 0 && st->nodes[i].node != only)
			continue;
		show |= fill_row(&st->nodes[i], vm_inhibited, cell);
		for (c = 0; c < NCOLS; c++)
			if (strlen(cell[c]) > width[c])
				width[c] = strlen(cell[c]);
	}
	for (c = 0; c < NCOLS; c++)
		snprintf(cell[c], sizeof(cell[c]), "%s", heads[c]);
	print_row(cell, width, show);
	for (i = 0; i < st->nr_nodes; i++) {
		if (only >= 0 && st->nodes[i].node != only)
			continue;
		fill_row(&st->nodes[i], vm_inhibited, cell);
		print_row(cell, width, show);
	}
	if (!st->nr_nodes)
		printf("(QEMU reports no node)\n");
}

static void print_top_level(const struct hb_state *st, int inhibited,
			    int vm_wide, const char *reason)
{
	if (inhibited > 0 && !vm_wide)
		printf("discard: active, except on nodes whose backend cannot (%s)\n",
		       reason);
	else if (inhibited > 0)
		printf("discard: INHIBITED%s%s%s - inflated pages stay allocated on the host\n",
		       *reason ? " (" : "", reason, *reason ? ")" : "");
	else if (inhibited == 0)
		printf("discard: active - inflated pages are returned to the host\n");
	else
		printf("discard: not reported by this QEMU\n");

	json_object_object_foreach(st->root, key, val) {
		char vb[256];

		if (hb_known_top_key(key))
			continue;
		printf("%s: %s\n", key, hb_value_text(val, vb, sizeof(vb)));
	}
}

int cmd_status(struct ctl *c, int argc, char **argv)
{
	struct qmp_error err = { 0 };
	struct hb_state st;
	int64_t only = -1;
	char e[256], reason[512];
	struct qmp *q;
	int r, inhibited;

	if (argc > 1)
		return ctl_usage_error(c, "status takes at most one argument (NODE)");
	if (argc == 1 && parse_node(argv[0], &only, e, sizeof(e)))
		return ctl_usage_error(c, "%s", e);

	r = ctl_open(c, NULL, NULL, &q);
	if (r)
		return r;
	r = hb_query(q, c->qmp_timeout_ms, &st, &err);
	qmp_close(q);
	if (r != QMP_OK)
		return ctl_qmp_fail(c, HB_CMD_QUERY, &err);

	if (only >= 0 && !hb_state_node(&st, only)) {
		ctl_error(c, "node %" PRId64 " has no hballoon memory (%zu node%s reported)",
			  only, st.nr_nodes, st.nr_nodes == 1 ? "" : "s");
		hb_state_free(&st);
		return EXIT_CMD;
	}
	if (c->json && only >= 0) {
		/* same shape as query-hballoon's reply, one node in "nodes" */
		struct json_object *o = json_object_new_object();
		struct json_object *arr = json_object_new_array();

		json_object_object_foreach(st.root, key, val) {
			if (strcmp(key, "nodes"))
				json_object_object_add(o, key, json_object_get(val));
		}
		json_object_array_add(arr,
			json_object_get(hb_state_node(&st, only)->obj));
		json_object_object_add(o, "nodes", arr);
		printf("%s\n", json_object_to_json_string_ext(o,
						HB_JSON_PLAIN));
		json_object_put(o);
	} else if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(st.root,
						HB_JSON_PLAIN));
	} else {
		int vm_wide = hb_vm_inhibited(&st);

		inhibited = hb_discard_inhibited(&st, reason, sizeof(reason));
		print_table(&st, only, vm_wide);
		print_top_level(&st, inhibited, vm_wide, reason);
	}
	hb_state_free(&st);
	return EXIT_OK;
}
