/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check.h - what a VM's configuration means for the hballoon device
 *
 * `hballoonctl check` collects findings from two sources: QEMU's own view
 * (query-hballoon: the device, each node's discard state and why) and, for
 * a libvirt domain, the domain XML (what makes those reasons, and what QEMU
 * cannot see: ACPI, the device's PCI address).
 */
#ifndef HBALLOONCTL_CHECK_H
#define HBALLOONCTL_CHECK_H

#include <stddef.h>

#include "hballoon.h"

enum check_level {
	FINDING_OK,	/* works as the operator expects */
	FINDING_NOTE,	/* works, with a consequence worth knowing */
	FINDING_WARN,	/* works now, but fragile or partly */
	FINDING_ERROR,	/* the device cannot resize or return memory */
};

struct check_finding {
	enum check_level level;
	char text[384];
};

struct check_list {
	struct check_finding *items;
	size_t nr, max;
};

const char *check_level_name(enum check_level level);

/* Findings from query-hballoon's reply. */
void check_state(const struct hb_state *st, struct check_list *out);

/*
 * check_domain_xml() - findings from a libvirt domain's XML
 *
 * Return: 0, or -1 with @err when @xml does not parse.
 */
int check_domain_xml(const char *xml, struct check_list *out, char *err,
		     size_t errlen);

/* The worst level in @list (FINDING_OK when empty). */
enum check_level check_worst(const struct check_list *list);

#endif /* HBALLOONCTL_CHECK_H */
