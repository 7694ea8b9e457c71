// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_check.c - hballoonctl check: what the VM's configuration means for
 * the device, one line per finding ("ok", "note", "warning", "error"),
 * from query-hballoon and, with --domain, from the domain's XML.
 *
 * Exit status: 0 when nothing is an error, 1 when something keeps the
 * device from resizing a node or from returning its memory.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "hballoon.h"
#include "hballoonctl.h"

#define CHECK_MAX 64

int cmd_check(struct ctl *c, int argc, char **argv)
{
	struct check_finding items[CHECK_MAX];
	struct check_list list = { items, 0, CHECK_MAX };
	struct qmp_error err = { 0 };
	struct hb_state st;
	struct qmp *q;
	char why[256];
	size_t i;
	int r;

	(void)argv;
	if (argc)
		return ctl_usage_error(c, "check takes no arguments");
	r = ctl_open(c, NULL, NULL, &q);
	if (r)
		return r;
	r = hb_query(q, c->qmp_timeout_ms, &st, &err);
	if (r == QMP_OK) {
		check_state(&st, &list);
		hb_state_free(&st);
	} else if (r == QMP_ERR_CMD) {
		/* hb_query() added what the error means */
		snprintf(items[0].text, sizeof(items[0].text), "QEMU: %.370s",
			 err.msg);
		items[0].level = FINDING_ERROR;
		list.nr = 1;
	} else {
		qmp_close(q);
		return ctl_qmp_fail(c, HB_CMD_QUERY, &err);
	}
	if (c->domain) {
		char *xml = qmp_libvirt_domain_xml(q, &err);

		if (!xml) {
			qmp_close(q);
			return ctl_qmp_fail(c, NULL, &err);
		}
		if (check_domain_xml(xml, &list, why, sizeof(why))) {
			free(xml);
			qmp_close(q);
			ctl_error(c, "%s", why);
			return EXIT_CMD;
		}
		free(xml);
	}
	qmp_close(q);
	for (i = 0; i < list.nr; i++)
		printf("%-7s  %s\n", check_level_name(items[i].level),
		       items[i].text);
	return check_worst(&list) == FINDING_ERROR ? EXIT_CMD : EXIT_OK;
}
