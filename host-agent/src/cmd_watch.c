// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_watch.c - hballoonctl watch: print HBALLOON_CHANGE events
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hballoon.h"
#include "hballoonctl.h"
#include "size.h"

struct watch {
	const struct ctl *c;
	int64_t seen;
	bool shutdown;
};

static void print_change(struct json_object *msg, const struct hb_change *ch)
{
	struct json_object *data = NULL;
	char ts[64], sz[SIZE_FMT_LEN];
	int64_t sec = ch->seconds, usec = ch->microseconds;
	struct tm tm;
	time_t t;

	if (sec < 0) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		sec = now.tv_sec;
		usec = now.tv_nsec / 1000;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s.%06" PRId64 "Z node %" PRId64 " actual %s (%" PRIu64 " bytes)",
	       ts, usec, ch->node, size_format(ch->actual, sz, sizeof(sz)),
	       ch->actual);
	json_object_object_get_ex(msg, "data", &data);
	json_object_object_foreach(data, key, val) {
		char vb[128];

		if (!strcmp(key, "node") || !strcmp(key, "actual"))
			continue;
		printf(" %s=%s", key, hb_value_text(val, vb, sizeof(vb)));
	}
	printf("\n");
}

static void on_event(struct json_object *msg, void *opaque)
{
	struct watch *w = opaque;
	const struct ctl *c = w->c;
	struct hb_change ch;
	int r = hb_parse_change(msg, &ch);

	if (r == 0) {
		struct json_object *ev;

		if (json_object_object_get_ex(msg, "event", &ev) &&
		    !strcmp(json_object_get_string(ev), "SHUTDOWN"))
			w->shutdown = true;
		return;
	}
	if (r < 0) {
		ctl_error(c, "ignoring a malformed %s event: %s", HB_EVENT_CHANGE,
			  json_object_to_json_string_ext(msg, HB_JSON_PLAIN));
		return;
	}
	if (c->node >= 0 && ch.node != c->node)
		return;
	if (c->count >= 0 && w->seen >= c->count)
		return;		/* already have what was asked for */
	w->seen++;
	if (c->json)
		printf("%s\n", json_object_to_json_string_ext(msg, HB_JSON_PLAIN));
	else
		print_change(msg, &ch);
}

int cmd_watch(struct ctl *c, int argc, char **argv)
{
	struct watch w = { .c = c };
	struct qmp_error err = { 0 };
	int64_t deadline = -1;
	struct qmp *q;
	int r;

	(void)argv;
	if (argc)
		return ctl_usage_error(c, "watch takes no arguments (filter with --node N)");

	r = ctl_open(c, on_event, &w, &q);
	if (r)
		return r;
	if (c->timeout_ms >= 0)
		deadline = qmp_now_ms() + c->timeout_ms;
	if (!c->json && isatty(STDERR_FILENO))
		fprintf(stderr, "%s: watching %s events on %s (Ctrl-C to stop)\n",
			c->prog, HB_EVENT_CHANGE, qmp_peer_name(q));

	while (c->count < 0 || w.seen < c->count) {
		int64_t left = -1;

		if (deadline >= 0) {
			left = deadline - qmp_now_ms();
			if (left <= 0)
				break;
		}
		r = qmp_pump(q, left, &err);
		if (r == QMP_ERR_TIMEOUT)
			break;
		if (r == QMP_ERR_CLOSED && w.shutdown && c->count < 0) {
			ctl_error(c, "QEMU shut down");
			qmp_close(q);
			return EXIT_OK;
		}
		if (r != QMP_OK) {
			qmp_close(q);
			return ctl_qmp_fail(c, NULL, &err);
		}
	}
	qmp_close(q);
	if (c->count >= 0 && w.seen < c->count) {
		ctl_error(c, "timed out after %.1f s with %" PRId64 " of %" PRId64 " %s events",
			  c->timeout_ms / 1000.0, w.seen, c->count, HB_EVENT_CHANGE);
		return EXIT_SHORT;
	}
	return EXIT_OK;
}
