// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_status.c - hballoonctl status: one row per node
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "hballoon.h"
#include "hballoonctl.h"
#include "size.h"

#define NCOLS 6

static const char *const heads[NCOLS] = {
	"NODE", "RAM", "TARGET", "ACTUAL", "DELTA", "OTHER"
};

/* "key=value key=value" of the fields this tool has no column for. */
static void node_extras(const struct hb_node *n, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	json_object_object_foreach(n->obj, key, val) {
		char vb[128];
		int w;

		if (hb_known_node_key(key))
			continue;
		w = snprintf(out + o, len - o, "%s%s=%s", o ? " " : "", key,
			     hb_value_text(val, vb, sizeof(vb)));
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

static void print_table(const struct hb_state *st, int64_t only)
{
	char cell[NCOLS][512];
	size_t width[NCOLS], i, c;
	bool extras = false;

	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(heads[c]);
	/* two passes: measure, then print */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			for (c = 0; c < NCOLS - (extras ? 0 : 1); c++)
				printf(c ? "  %*s" : "%*s",
				       c == NCOLS - 1 ? -(int)width[c] : (int)width[c],
				       heads[c]);
			printf("\n");
		}
		for (i = 0; i < st->nr_nodes; i++) {
			const struct hb_node *n = &st->nodes[i];

			if (only >= 0 && n->node != only)
				continue;
			snprintf(cell[0], sizeof(cell[0]), "%" PRId64, n->node);
			size_format(n->ram, cell[1], sizeof(cell[1]));
			size_format(n->target, cell[2], sizeof(cell[2]));
			size_format(n->actual, cell[3], sizeof(cell[3]));
			size_format_delta(n->actual, n->target, cell[4],
					  sizeof(cell[4]));
			node_extras(n, cell[5], sizeof(cell[5]));
			if (pass == 0) {
				for (c = 0; c < NCOLS; c++)
					if (strlen(cell[c]) > width[c])
						width[c] = strlen(cell[c]);
				if (cell[5][0])
					extras = true;
				continue;
			}
			for (c = 0; c < NCOLS - (extras ? 0 : 1); c++)
				printf(c ? "  %*s" : "%*s",
				       c == NCOLS - 1 ? -(int)width[c] : (int)width[c],
				       cell[c]);
			printf("\n");
		}
	}
}

static void print_top_level(const struct hb_state *st)
{
	const char *reason;
	int inhibited = hb_discard_inhibited(st, &reason);

	if (inhibited > 0)
		printf("discard: INHIBITED%s%s%s - inflated pages stay allocated on the host\n",
		       reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	else if (inhibited == 0)
		printf("discard: active - inflated pages are returned to the host\n");
	else
		printf("discard: not reported by this QEMU\n");

	json_object_object_foreach(st->root, key, val) {
		char vb[256];

		if (hb_known_top_key(key) ||
		    (!strncmp(key, "discard", 7) && strstr(key, "inhibit")))
			continue;
		printf("%s: %s\n", key, hb_value_text(val, vb, sizeof(vb)));
	}
}

int cmd_status(struct ctl *c, int argc, char **argv)
{
	struct qmp_error err = { 0 };
	struct hb_state st;
	int64_t only = -1;
	struct qmp *q;
	char e[256];
	int r;

	if (argc > 1)
		return ctl_usage_error(c, "status takes at most one argument (NODE)");
	if (argc == 1 && parse_node(argv[0], &only, e, sizeof(e)))
		return ctl_usage_error(c, "%s", e);

	r = ctl_open(c, NULL, NULL, &q);
	if (r)
		return r;
	r = hb_query(q, (int)c->qmp_timeout_ms, &st, &err);
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
						JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(st.root,
						JSON_C_TO_STRING_PLAIN));
	} else {
		print_table(&st, only);
		print_top_level(&st);
	}
	hb_state_free(&st);
	return EXIT_OK;
}
