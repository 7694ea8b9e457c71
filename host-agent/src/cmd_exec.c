// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_exec.c - hballoonctl exec COMMAND [JSON]: run any QMP command
 *
 * Scripts and tests use this as a plain QMP client (query-memdev,
 * query-status, ...) with the same connection handling and exit codes.
 */
#include <stdio.h>
#include <string.h>

#include "hballoon.h"
#include "hballoonctl.h"

int cmd_exec(struct ctl *c, int argc, char **argv)
{
	struct json_object *args = NULL, *ret = NULL;
	struct qmp_error err = { 0 };
	struct qmp *q;
	int r;

	if (argc < 1 || argc > 2)
		return ctl_usage_error(c, "exec needs a QMP COMMAND and optionally a JSON object of arguments");
	if (!argv[0][0])
		return ctl_usage_error(c, "empty QMP command name");
	if (argc == 2) {
		enum json_tokener_error jerr;

		args = json_tokener_parse_verbose(argv[1], &jerr);
		if (!args || !json_object_is_type(args, json_type_object)) {
			json_object_put(args);
			return ctl_usage_error(c, "arguments '%s' are not a JSON object%s%s",
					       argv[1], args || jerr == json_tokener_success ? "" : ": ",
					       args || jerr == json_tokener_success ? "" :
					       json_tokener_error_desc(jerr));
		}
	}
	r = ctl_open(c, NULL, NULL, &q);
	if (r) {
		json_object_put(args);
		return r;
	}
	r = qmp_execute(q, argv[0], args, c->qmp_timeout_ms, &ret, &err);
	json_object_put(args);
	qmp_close(q);
	if (r != QMP_OK)
		return ctl_qmp_fail(c, argv[0], &err);
	if (!c->json && json_object_is_type(ret, json_type_string)) {
		/* human-monitor-command: show HMP's text as HMP shows it */
		const char *p = json_object_get_string(ret);
		size_t n = strlen(p);

		for (; *p; p++)
			if (*p != '\r')
				putchar(*p);
		if (n && p[-1] != '\n')
			putchar('\n');
	} else {
		printf("%s\n", json_object_to_json_string_ext(ret,
			c->json ? HB_JSON_PLAIN : HB_JSON_PRETTY));
	}
	json_object_put(ret);
	return EXIT_OK;
}
