/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hballoon.h - the hballoon QMP contract, typed
 *
 *   hballoon-set   {"node": N, "size": BYTES}
 *   query-hballoon -> {"nodes": [{"node", "ram", "target", "actual"}, ...],
 *                      ...discard-inhibited information...}
 *   event HBALLOON_CHANGE {"node", "actual"}
 *
 * All sizes are bytes; "target" and "actual" are the node's usable size
 * (what the guest should have / really has), so actual == target when the
 * guest has done what was asked.  Fields this file does not know are kept
 * and shown, never rejected: the device may grow.
 */
#ifndef HBALLOONCTL_HBALLOON_H
#define HBALLOONCTL_HBALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "qmp.h"

#define HB_CMD_SET	"hballoon-set"
#define HB_CMD_QUERY	"query-hballoon"
#define HB_EVENT_CHANGE	"HBALLOON_CHANGE"
/* query-hballoon's discard state, VM-wide and per node, and its reasons */
#define HB_KEY_INHIBITED	"discard-inhibited"
#define HB_KEY_REASONS	"reasons"
#define HB_KEY_REASON	"reason"	/* per node */

struct hb_node {
	int64_t node;
	uint64_t ram;
	uint64_t target;
	uint64_t actual;
	struct json_object *obj;	/* the node's object, for extra fields */
};

struct hb_state {
	size_t nr_nodes;
	struct hb_node *nodes;
	struct json_object *root;	/* the whole "return" value (owned) */
};

/*
 * hb_state_parse() - check and decode a query-hballoon return value
 * @ret: the "return" object; a reference is taken
 *
 * Return: 0, or -1 with @err describing what is missing or mistyped.
 */
int hb_state_parse(struct json_object *ret, struct hb_state *st,
		   char *err, size_t errlen);
void hb_state_free(struct hb_state *st);
const struct hb_node *hb_state_node(const struct hb_state *st, int64_t node);

/*
 * hb_node_stat() - one of a node's guest statistics ("stats" in its object)
 * @key: the statistic's name in the QAPI schema ("hot-memory", ...)
 *
 * Return: true with *@out set, false if the node has no such statistic or
 * it is not a non-negative integer (*@out untouched).
 */
bool hb_node_stat(const struct hb_node *n, const char *key, uint64_t *out);

/*
 * hb_node_kernel_memory() - what a node holds besides free, anonymous and
 * page-cache memory: its guest kernel's own (slab, page tables, stacks),
 * which placement cannot move, so a fast node needs it beside its hot set
 *
 * total-memory - free-memory - anon-memory - file-memory of the node's
 * statistics (0 if they do not add up).  Page cache is left out: it grows
 * into whatever room a node gets, and the guest gives it up when the node
 * shrinks.  Reclaimable slab (dentries, inodes) is in, as the statistics
 * do not tell it apart.  The guest's word, like every statistic.
 *
 * Return: true with *@out set; false (*@out untouched) if a statistic is
 * missing, or the node is not settled: a resize is under way (actual is
 * not target) or the report's balloon-memory is not the node's balloon
 * (ram - actual), i.e. the report is from before the last resize ended.
 * Reports taken mid-resize count the pages in flight as kernel memory.
 */
bool hb_node_kernel_memory(const struct hb_node *n, uint64_t *out);

/*
 * hb_discard_inhibited() - read the discard state of a query reply
 * @reason: filled with the reasons ("ram-discard-disabled, mem-lock"),
 *          empty when QEMU gives none
 *
 * Return: 1 inhibited, 0 not inhibited, -1 the reply does not say.
 */
int hb_discard_inhibited(const struct hb_state *st, char *reason, size_t len);

/*
 * hb_vm_inhibited() - is discard inhibited for the whole VM?
 *
 * Return: 1 if a reason applies to every node (VFIO, postcopy, mem-lock,
 * ...), 0 if discard works or only some nodes' backends cannot
 * (large-pages, private-file, readonly-file: see each node), -1 if the
 * reply does not say.
 */
int hb_vm_inhibited(const struct hb_state *st);

/* Is @key one of the fields this tool shows in columns / knows? */
bool hb_known_node_key(const char *key);
bool hb_known_top_key(const char *key);

/* Run query-hballoon.  A reply that breaks the contract is QMP_ERR_REPLY. */
int hb_query(struct qmp *q, int64_t timeout_ms, struct hb_state *st,
	     struct qmp_error *err);

/* Run hballoon-set. */
int hb_set(struct qmp *q, int64_t node, uint64_t size, int64_t timeout_ms,
	   struct qmp_error *err);

struct hb_change {
	int64_t node;
	uint64_t actual;
	int64_t seconds;	/* QEMU's timestamp, -1 when absent */
	int64_t microseconds;
};

/*
 * hb_parse_change() - decode an HBALLOON_CHANGE event message
 *
 * Return: 1 when @msg is a well-formed HBALLOON_CHANGE, 0 when it is another
 * event, -1 when it is an HBALLOON_CHANGE without a usable node/actual.
 */
int hb_parse_change(struct json_object *msg, struct hb_change *c);

/* Add a hint to errors that mean "this QEMU has no hballoon". */
void hb_explain_error(struct qmp_error *err);

/*
 * hb_value_text() - a JSON value as short text for tables: strings bare,
 * numbers and booleans as JSON, anything else as compact JSON.
 * Returns a string owned by @val (strings) or @buf.
 */
const char *hb_value_text(struct json_object *val, char *buf, size_t len);

#endif /* HBALLOONCTL_HBALLOON_H */
