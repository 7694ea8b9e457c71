// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hballoon.c - the hballoon QMP contract, typed
 */
#include "hballoon.h"
#include "u64.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fields with a column of their own in the status table. */
static const char *const node_keys[] = {
	"node", "ram", "target", "actual", HB_KEY_INHIBITED, HB_KEY_REASON,
	"stats",
};

bool hb_known_node_key(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(node_keys) / sizeof(node_keys[0]); i++)
		if (!strcmp(key, node_keys[i]))
			return true;
	return false;
}

bool hb_known_top_key(const char *key)
{
	return !strcmp(key, "nodes") || !strcmp(key, HB_KEY_INHIBITED) ||
	       !strcmp(key, HB_KEY_REASONS);
}

static int get_u64(struct json_object *o, const char *key, uint64_t *out,
		   size_t idx, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v)) {
		snprintf(err, errlen,
			 "query-hballoon reply: nodes[%zu] has no \"%s\"", idx, key);
		return -1;
	}
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0) {
		snprintf(err, errlen,
			 "query-hballoon reply: nodes[%zu].%s is not a non-negative integer",
			 idx, key);
		return -1;
	}
	*out = json_object_get_uint64(v);
	return 0;
}

int hb_state_parse(struct json_object *ret, struct hb_state *st,
		   char *err, size_t errlen)
{
	struct json_object *nodes;
	size_t i, n;

	memset(st, 0, sizeof(*st));
	if (!ret || !json_object_is_type(ret, json_type_object)) {
		snprintf(err, errlen, "query-hballoon reply is not an object");
		return -1;
	}
	if (!json_object_object_get_ex(ret, "nodes", &nodes) ||
	    !json_object_is_type(nodes, json_type_array)) {
		snprintf(err, errlen, "query-hballoon reply has no \"nodes\" array");
		return -1;
	}
	n = json_object_array_length(nodes);
	st->nodes = calloc(n ? n : 1, sizeof(*st->nodes));
	if (!st->nodes) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(nodes, i);
		struct hb_node *hn = &st->nodes[i];
		uint64_t node;

		if (!json_object_is_type(o, json_type_object)) {
			snprintf(err, errlen,
				 "query-hballoon reply: nodes[%zu] is not an object", i);
			goto fail;
		}
		if (get_u64(o, "node", &node, i, err, errlen) ||
		    get_u64(o, "ram", &hn->ram, i, err, errlen) ||
		    get_u64(o, "target", &hn->target, i, err, errlen) ||
		    get_u64(o, "actual", &hn->actual, i, err, errlen))
			goto fail;
		if (node > INT32_MAX) {
			snprintf(err, errlen,
				 "query-hballoon reply: nodes[%zu].node %" PRIu64 " is out of range",
				 i, node);
			goto fail;
		}
		hn->node = (int64_t)node;
		hn->obj = o;
	}
	st->nr_nodes = n;
	st->root = json_object_get(ret);
	return 0;
fail:
	free(st->nodes);
	memset(st, 0, sizeof(*st));
	return -1;
}

void hb_state_free(struct hb_state *st)
{
	free(st->nodes);
	json_object_put(st->root);
	memset(st, 0, sizeof(*st));
}

const struct hb_node *hb_state_node(const struct hb_state *st, int64_t node)
{
	size_t i;

	for (i = 0; i < st->nr_nodes; i++)
		if (st->nodes[i].node == node)
			return &st->nodes[i];
	return NULL;
}

bool hb_node_stat(const struct hb_node *n, const char *key, uint64_t *out)
{
	struct json_object *stats, *v;

	if (!json_object_object_get_ex(n->obj, "stats", &stats) ||
	    !json_object_object_get_ex(stats, key, &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return false;
	*out = json_object_get_uint64(v);
	return true;
}

bool hb_node_kernel_memory(const struct hb_node *n, uint64_t *out)
{
	uint64_t total, free_mem, anon, file, balloon;

	if (!hb_node_stat(n, "total-memory", &total) ||
	    !hb_node_stat(n, "free-memory", &free_mem) ||
	    !hb_node_stat(n, "anon-memory", &anon) ||
	    !hb_node_stat(n, "file-memory", &file) ||
	    !hb_node_stat(n, "balloon-memory", &balloon))
		return false;
	/*
	 * While a resize is under way the guest holds pages it took for the
	 * balloon and has not handed over yet: in its total, not free.  The
	 * statistics are the guest's last report, not a reading of now, so
	 * only a report whose balloon is the node's settled one counts.
	 */
	if (n->actual != n->target || n->actual > n->ram ||
	    balloon != n->ram - n->actual)
		return false;
	*out = sub_sat(sub_sat(sub_sat(total, free_mem), anon), file);
	return true;
}

/*
 * QEMU's schema (qapi/hballoon.json): a boolean "discard-inhibited" and an
 * array "reasons" of HballoonDiscardInhibitor names.  Only those two names
 * count: another key that happens to mention "inhibit" is an unknown field,
 * shown as such, never taken for the state.
 */
int hb_discard_inhibited(const struct hb_state *st, char *reason, size_t len)
{
	struct json_object *state, *why;
	size_t i, o = 0;

	if (len)
		reason[0] = '\0';
	if (!st->root ||
	    !json_object_object_get_ex(st->root, HB_KEY_INHIBITED, &state) ||
	    !json_object_is_type(state, json_type_boolean))
		return -1;
	if (json_object_object_get_ex(st->root, HB_KEY_REASONS, &why) &&
	    json_object_is_type(why, json_type_array)) {
		for (i = 0; i < json_object_array_length(why) && o < len; i++) {
			struct json_object *e = json_object_array_get_idx(why, i);
			char vb[128];
			int w = snprintf(reason + o, len - o, "%s%s", i ? ", " : "",
					 hb_value_text(e, vb, sizeof(vb)));

			if (w < 0)
				break;
			o += (size_t)w;
		}
	}
	return json_object_get_boolean(state) ? 1 : 0;
}

/* Reasons that belong to one node's backend, not to the whole VM. */
static bool hb_node_reason(const char *why)
{
	return !strcmp(why, "large-pages") || !strcmp(why, "private-file") ||
	       !strcmp(why, "readonly-file");
}

int hb_vm_inhibited(const struct hb_state *st)
{
	struct json_object *why;
	int state;
	size_t i;

	state = hb_discard_inhibited(st, NULL, 0);
	if (state <= 0)
		return state;
	if (!json_object_object_get_ex(st->root, HB_KEY_REASONS, &why) ||
	    !json_object_is_type(why, json_type_array))
		return 1;
	for (i = 0; i < json_object_array_length(why); i++) {
		struct json_object *e = json_object_array_get_idx(why, i);

		if (!json_object_is_type(e, json_type_string) ||
		    !hb_node_reason(json_object_get_string(e)))
			return 1;
	}
	return 0;
}

void hb_explain_error(struct qmp_error *err)
{
	size_t n;

	if (err->status != QMP_ERR_CMD)
		return;
	n = strlen(err->msg);
	if (!strcmp(err->cls, "CommandNotFound"))
		snprintf(err->msg + n, sizeof(err->msg) - n, "%s",
			 " (this QEMU was built without hballoon support)");
	else if (!strcmp(err->cls, "DeviceNotActive") ||
		 strstr(err->msg, "No virtio-hballoon device has been activated"))
		snprintf(err->msg + n, sizeof(err->msg) - n, "%s",
			 " (the VM needs -device virtio-hballoon-pci)");
}

int hb_query(struct qmp *q, int64_t timeout_ms, struct hb_state *st,
	     struct qmp_error *err)
{
	struct json_object *ret = NULL;
	int r;

	memset(st, 0, sizeof(*st));
	r = qmp_execute(q, HB_CMD_QUERY, NULL, timeout_ms, &ret, err);
	if (r != QMP_OK) {
		hb_explain_error(err);
		return r;
	}
	if (hb_state_parse(ret, st, err->msg, sizeof(err->msg))) {
		err->status = QMP_ERR_REPLY;
		err->cls[0] = '\0';
		json_object_put(ret);
		return QMP_ERR_REPLY;
	}
	json_object_put(ret);
	return QMP_OK;
}

int hb_set(struct qmp *q, int64_t node, uint64_t size, int64_t timeout_ms,
	   struct qmp_error *err)
{
	struct json_object *args = json_object_new_object();
	int r;

	json_object_object_add(args, "node", json_object_new_int64(node));
	json_object_object_add(args, "size", json_object_new_uint64(size));
	r = qmp_execute(q, HB_CMD_SET, args, timeout_ms, NULL, err);
	json_object_put(args);
	if (r != QMP_OK)
		hb_explain_error(err);
	return r;
}

int hb_parse_change(struct json_object *msg, struct hb_change *c)
{
	struct json_object *ev, *data, *v, *ts;

	if (!json_object_object_get_ex(msg, "event", &ev) ||
	    !json_object_is_type(ev, json_type_string) ||
	    strcmp(json_object_get_string(ev), HB_EVENT_CHANGE))
		return 0;
	c->seconds = -1;
	c->microseconds = 0;
	if (json_object_object_get_ex(msg, "timestamp", &ts)) {
		if (json_object_object_get_ex(ts, "seconds", &v))
			c->seconds = json_object_get_int64(v);
		if (json_object_object_get_ex(ts, "microseconds", &v))
			c->microseconds = json_object_get_int64(v);
	}
	if (!json_object_object_get_ex(msg, "data", &data) ||
	    !json_object_is_type(data, json_type_object))
		return -1;
	if (!json_object_object_get_ex(data, "node", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 || json_object_get_int64(v) > INT32_MAX)
		return -1;
	c->node = json_object_get_int64(v);
	if (!json_object_object_get_ex(data, "actual", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return -1;
	c->actual = json_object_get_uint64(v);
	return 1;
}

const char *hb_value_text(struct json_object *val, char *buf, size_t len)
{
	if (json_object_is_type(val, json_type_string))
		return json_object_get_string(val);
	snprintf(buf, len, "%s",
		 json_object_to_json_string_ext(val, HB_JSON_PLAIN));
	return buf;
}
