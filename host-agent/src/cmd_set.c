// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_set.c - hballoonctl set NODE SIZE: set a node's target and wait
 *
 * After hballoon-set, poll query-hballoon (every SET_POLL_MS, sooner when an
 * HBALLOON_CHANGE for the node arrives) until actual == target, until the
 * guest stops making progress (--stall) or until --timeout.  The guest
 * driver backs off instead of OOM-killing, so "stopped short" is a normal
 * outcome that the operator must see: exit code 4 and the shortfall.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "hballoon.h"
#include "hballoonctl.h"
#include "size.h"

struct set_wait {
	int64_t node;
	bool changed;
};

static void on_event(struct json_object *msg, void *opaque)
{
	struct set_wait *w = opaque;
	struct hb_change ch;

	if (hb_parse_change(msg, &ch) == 1 && ch.node == w->node)
		w->changed = true;
}

static void print_result(const struct ctl *c, int64_t node, uint64_t target,
			 const uint64_t *actual, const char *result,
			 int64_t elapsed_ms)
{
	struct json_object *o;
	char secs[32];

	if (!c->json)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "node", json_object_new_int64(node));
	json_object_object_add(o, "target", json_object_new_uint64(target));
	if (actual)
		json_object_object_add(o, "actual", json_object_new_uint64(*actual));
	json_object_object_add(o, "result", json_object_new_string(result));
	snprintf(secs, sizeof(secs), "%.3f", elapsed_ms / 1000.0);
	json_object_object_add(o, "seconds",
			       json_object_new_double_s(elapsed_ms / 1000.0, secs));
	printf("%s\n", json_object_to_json_string_ext(o, HB_JSON_PLAIN));
	json_object_put(o);
}

/* "256 MiB to inflate" / "256 MiB to deflate" */
static const char *to_go(uint64_t actual, uint64_t target, char *buf, size_t len)
{
	char s[SIZE_FMT_LEN];

	if (actual > target)
		snprintf(buf, len, "%s to inflate",
			 size_format(actual - target, s, sizeof(s)));
	else
		snprintf(buf, len, "%s to deflate",
			 size_format(target - actual, s, sizeof(s)));
	return buf;
}

/* "100 MiB above the 3 GiB target" */
static const char *miss(uint64_t actual, uint64_t target, char *buf, size_t len)
{
	char d[SIZE_FMT_LEN], t[SIZE_FMT_LEN];

	snprintf(buf, len, "%s %s the %s target",
		 size_format(actual > target ? actual - target : target - actual,
			     d, sizeof(d)),
		 actual > target ? "above" : "below",
		 size_format(target, t, sizeof(t)));
	return buf;
}

/* Wait up to @until (monotonic ms) or until the node's event arrives. */
static int wait_event(struct qmp *q, struct set_wait *w, int64_t until,
		      struct qmp_error *err)
{
	for (;;) {
		int64_t left = until - qmp_now_ms();
		int r;

		if (left <= 0 || w->changed)
			break;
		r = qmp_pump(q, left, err);
		if (r == QMP_ERR_TIMEOUT)
			break;
		if (r != QMP_OK)
			return r;
	}
	w->changed = false;
	return QMP_OK;
}

int cmd_set(struct ctl *c, int argc, char **argv)
{
	int64_t node, start, timeout, stall, last_change, last_print = -1;
	char e[512], s1[SIZE_FMT_LEN], s2[SIZE_FMT_LEN], s3[128];
	uint64_t size = 0, last_actual = 0, printed_actual = 0;
	struct set_wait w = { 0 };
	struct qmp_error err = { 0 };
	bool max, have = false;
	struct hb_state st;
	struct qmp *q;
	int r;

	if (argc != 2)
		return ctl_usage_error(c, "set needs NODE and SIZE (e.g. 'set 1 3G')");
	if (parse_node(argv[0], &node, e, sizeof(e)))
		return ctl_usage_error(c, "%s", e);
	max = !strcasecmp(argv[1], "max");
	if (!max && size_parse(argv[1], &size, HB_PAGE_SIZE, e, sizeof(e)))
		return ctl_usage_error(c, "%s", e);
	if (c->wait == 0 && (c->timeout_ms >= 0 || c->stall_ms >= 0))
		return ctl_usage_error(c, "--timeout and --stall only apply with --wait");
	timeout = c->timeout_ms >= 0 ? c->timeout_ms : DEFAULT_SET_TIMEOUT_MS;
	stall = c->stall_ms >= 0 ? c->stall_ms : DEFAULT_STALL_MS;

	w.node = node;
	r = ctl_open(c, on_event, &w, &q);
	if (r)
		return r;

	if (max) {
		const struct hb_node *n;

		r = hb_query(q, c->qmp_timeout_ms, &st, &err);
		if (r != QMP_OK)
			goto qmp_fail;
		n = hb_state_node(&st, node);
		if (!n) {
			ctl_error(c, "node %" PRId64 " has no hballoon memory", node);
			hb_state_free(&st);
			qmp_close(q);
			return EXIT_CMD;
		}
		size = n->ram;
		hb_state_free(&st);
	}

	start = qmp_now_ms();
	r = hb_set(q, node, size, c->qmp_timeout_ms, &err);
	if (r != QMP_OK) {
		if (r == QMP_ERR_CMD) {
			ctl_error(c, "cannot set node %" PRId64 " to %s: %s", node,
				  size_format(size, s1, sizeof(s1)), err.msg);
			qmp_close(q);
			return EXIT_CMD;
		}
		goto qmp_fail;
	}
	if (c->wait == 0) {
		if (!c->json)
			printf("node %" PRId64 ": target set to %s (%" PRIu64 " bytes), not waiting\n",
			       node, size_format(size, s1, sizeof(s1)), size);
		print_result(c, node, size, NULL, "set", qmp_now_ms() - start);
		qmp_close(q);
		return EXIT_OK;
	}
	if (!c->json)
		printf("node %" PRId64 ": target %s (%" PRIu64 " bytes)\n", node,
		       size_format(size, s1, sizeof(s1)), size);

	last_change = start;
	for (;;) {
		const struct hb_node *n;
		uint64_t target, actual;
		int64_t now, until;

		r = hb_query(q, c->qmp_timeout_ms, &st, &err);
		if (r != QMP_OK)
			goto qmp_fail;
		n = hb_state_node(&st, node);
		if (!n) {
			ctl_error(c, "node %" PRId64 " vanished from query-hballoon while waiting",
				  node);
			hb_state_free(&st);
			qmp_close(q);
			return EXIT_CMD;
		}
		target = n->target;
		actual = n->actual;
		hb_state_free(&st);
		now = qmp_now_ms();

		if (target != size) {
			ctl_error(c, "node %" PRId64 ": the target was changed to %s by another client while waiting",
				  node, size_format(target, s1, sizeof(s1)));
			qmp_close(q);
			return EXIT_CMD;
		}
		if (!have || actual != last_actual)
			last_change = now;
		have = true;
		last_actual = actual;

		if (actual == target) {
			if (!c->json)
				printf("node %" PRId64 ": reached %s in %.1f s\n", node,
				       size_format(actual, s1, sizeof(s1)),
				       (now - start) / 1000.0);
			print_result(c, node, size, &actual, "reached", now - start);
			qmp_close(q);
			return EXIT_OK;
		}
		if (!c->json && (last_print < 0 ||
		    (actual != printed_actual && now - last_print >= SET_PROGRESS_MS))) {
			printf("node %" PRId64 ": actual %s, %s\n", node,
			       size_format(actual, s1, sizeof(s1)),
			       to_go(actual, target, s3, sizeof(s3)));
			last_print = now;
			printed_actual = actual;
		}
		if (now - last_change >= stall) {
			ctl_error(c, "node %" PRId64 ": the guest stopped at %s, %s (no progress for %.1f s); the target stays set",
				  node, size_format(actual, s2, sizeof(s2)),
				  miss(actual, target, e, sizeof(e)), stall / 1000.0);
			print_result(c, node, size, &actual, "stalled", now - start);
			qmp_close(q);
			return EXIT_SHORT;
		}
		if (now - start >= timeout) {
			ctl_error(c, "node %" PRId64 ": timed out after %.1f s at %s, %s; the target stays set",
				  node, timeout / 1000.0,
				  size_format(actual, s2, sizeof(s2)),
				  miss(actual, target, e, sizeof(e)));
			print_result(c, node, size, &actual, "timeout", now - start);
			qmp_close(q);
			return EXIT_SHORT;
		}
		until = now + SET_POLL_MS;
		if (until > start + timeout)
			until = start + timeout;
		if (until > last_change + stall)
			until = last_change + stall;
		r = wait_event(q, &w, until, &err);
		if (r != QMP_OK)
			goto qmp_fail;
	}

qmp_fail:
	qmp_close(q);
	return ctl_qmp_fail(c, HB_CMD_QUERY, &err);
}
