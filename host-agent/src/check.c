// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check.c - what a VM's configuration means for the hballoon device
 *
 * Pure functions of query-hballoon's reply and of a domain XML (libxml2,
 * XPath), so that tests/test-check.c runs them on made-up inputs.
 */
#include "check.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

const char *check_level_name(enum check_level level)
{
	switch (level) {
	case FINDING_OK:		return "ok";
	case FINDING_NOTE:	return "note";
	case FINDING_WARN:	return "warning";
	case FINDING_ERROR:	return "error";
	}
	return "?";
}

__attribute__((format(printf, 3, 4)))
static void add(struct check_list *out, enum check_level level,
		const char *fmt, ...)
{
	va_list ap;

	if (out->nr == out->max)
		return;
	out->items[out->nr].level = level;
	va_start(ap, fmt);
	vsnprintf(out->items[out->nr].text, sizeof(out->items[0].text), fmt,
		  ap);
	va_end(ap);
	out->nr++;
}

enum check_level check_worst(const struct check_list *list)
{
	enum check_level worst = FINDING_OK;
	size_t i;

	for (i = 0; i < list->nr; i++)
		if (list->items[i].level > worst)
			worst = list->items[i].level;
	return worst;
}

/* What a discard-inhibit reason means for the operator. */
static void explain(struct check_list *out, const char *where,
		    const char *why)
{
	if (!strcmp(why, "large-pages"))
		add(out, FINDING_ERROR, "%s: host pages larger than 4 KiB and a guest that does not report ranges: inflated pages stay allocated on the host (a guest driver with ranges returns whole host pages)",
		    where);
	else if (!strcmp(why, "private-file"))
		add(out, FINDING_ERROR, "%s: a file mapped privately (share=off): inflated pages stay allocated; use shared file backing or memfd",
		    where);
	else if (!strcmp(why, "readonly-file"))
		add(out, FINDING_ERROR, "%s: a file opened read-only: inflated pages stay allocated",
		    where);
	else if (!strcmp(why, "mem-lock"))
		add(out, FINDING_ERROR, "%s: guest memory is locked (mem-lock, libvirt <locked/>): the host cannot take any inflated page back",
		    where);
	else if (!strcmp(why, "ram-discard-disabled"))
		add(out, FINDING_ERROR, "%s: RAM discard is disabled, typically by a VFIO host device that pins all guest memory: nothing is returned while it is attached",
		    where);
	else if (!strcmp(why, "incoming-postcopy") ||
		 !strcmp(why, "background-snapshot"))
		add(out, FINDING_WARN, "%s: %s is running: discards wait until it ends",
		    where, why);
	else
		add(out, FINDING_WARN, "%s: discard inhibited (%s)", where, why);
}

/* @o's text if it is a JSON string; NULL for null, numbers and the rest. */
static const char *json_string_or_null(struct json_object *o)
{
	return json_object_is_type(o, json_type_string) ?
	       json_object_get_string(o) : NULL;
}

/* Did the guest's driver report statistics for @n? */
static bool node_reported(const struct hb_node *n)
{
	struct json_object *stats, *v;

	return json_object_object_get_ex(n->obj, "stats", &stats) &&
	       json_object_object_get_ex(stats, "total-memory", &v) &&
	       json_object_get_uint64(v);
}

void check_state(const struct hb_state *st, struct check_list *out)
{
	struct json_object *v;
	bool driver = false;
	size_t i, k;

	for (i = 0; i < st->nr_nodes; i++)
		driver |= node_reported(&st->nodes[i]);
	if (json_object_object_get_ex(st->root, HB_KEY_REASONS, &v) &&
	    json_object_is_type(v, json_type_array)) {
		for (k = 0; k < json_object_array_length(v); k++) {
			const char *why = json_string_or_null(
				json_object_array_get_idx(v, k));
			bool per_node = false;

			if (!why) {
				add(out, FINDING_WARN, "the whole VM: QEMU reported a discard-inhibit reason that is not a string");
				continue;
			}
			/* Node reasons are reported with their node below. */
			for (i = 0; i < st->nr_nodes; i++) {
				struct json_object *r;
				const char *nr;

				if (json_object_object_get_ex(st->nodes[i].obj,
							      HB_KEY_REASON, &r) &&
				    (nr = json_string_or_null(r)) &&
				    !strcmp(nr, why))
					per_node = true;
			}
			if (!per_node)
				explain(out, "the whole VM", why);
		}
	}
	for (i = 0; i < st->nr_nodes; i++) {
		const struct hb_node *n = &st->nodes[i];
		const char *why = NULL;
		char where[32];

		snprintf(where, sizeof(where), "node %lld", (long long)n->node);
		if (json_object_object_get_ex(n->obj, HB_KEY_REASON, &v)) {
			why = json_string_or_null(v);
			if (!why)
				add(out, FINDING_WARN, "%s: QEMU reported a discard-inhibit reason that is not a string",
				    where);
		}
		if (why && !strcmp(why, "large-pages") && !node_reported(n))
			/* Ranges are negotiated when the driver comes up. */
			add(out, FINDING_NOTE, "%s: host pages larger than 4 KiB, and the guest's driver has not reported yet: whole host pages go back once a driver with ranges runs",
			    where);
		else if (why)
			explain(out, where, why);
		else if (!json_object_object_get_ex(n->obj, HB_KEY_REASON, &v))
			add(out, FINDING_OK, "%s: %llu MiB, resizable, inflated pages go back to the host",
			    where, (unsigned long long)(n->ram >> 20));
	}
	if (!st->nr_nodes)
		add(out, FINDING_ERROR, "the device manages no node");
	else if (!driver)
		add(out, FINDING_WARN, "the guest's driver has not reported yet: not loaded (CONFIG_VIRTIO_HBALLOON), still booting, or the guest sees no NUMA node for the device's nodes");
}

/* Nodes matching @xpath in @ctx. */
static int count(xmlXPathContextPtr ctx, const char *xpath)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)xpath,
						     ctx);
	int n = o && o->nodesetval ? o->nodesetval->nodeNr : 0;

	xmlXPathFreeObject(o);
	return n;
}

/* The string value of @xpath, "" if none; freed by the caller. */
static char *string(xmlXPathContextPtr ctx, const char *xpath)
{
	char expr[256];
	xmlXPathObjectPtr o;
	char *s;

	snprintf(expr, sizeof(expr), "string(%s)", xpath);
	o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	s = strdup(o && o->stringval ? (const char *)o->stringval : "");
	xmlXPathFreeObject(o);
	return s;
}

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

int check_domain_xml(const char *xml, struct check_list *out, char *err,
		     size_t errlen)
{
	xmlXPathContextPtr ctx;
	xmlDocPtr doc;
	char *dev, *access;
	int cells;

	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
			    XML_PARSE_NOWARNING);
	if (!doc) {
		snprintf(err, errlen, "the domain XML does not parse");
		return -1;
	}
	ctx = xmlXPathNewContext(doc);
	xmlXPathRegisterNs(ctx, (const xmlChar *)"qemu",
			   (const xmlChar *)QEMU_NS);

	if (!count(ctx, "/domain/features/acpi"))
		add(out, FINDING_ERROR, "domain: no <features><acpi/>: the guest sees no NUMA node, and its driver ignores every node");
	cells = count(ctx, "/domain/cpu/numa/cell");
	if (cells < 2)
		add(out, FINDING_NOTE, "domain: %s: the device manages all of the guest's RAM as one node",
		    cells ? "one <numa> cell" : "no <numa> cells");
	if (count(ctx, "/domain/memoryBacking/locked"))
		add(out, FINDING_ERROR, "domain: <memoryBacking><locked/>: locked guest memory cannot be returned to the host");
	if (count(ctx, "/domain/memoryBacking/hugepages"))
		add(out, FINDING_NOTE, "domain: <hugepages/>: only whole host pages go back, and only from a guest driver that reports ranges; keep the host's huge page pool large enough to grow the tiers back");
	/*
	 * A cell's memAccess overrides <memoryBacking><access>: with file
	 * backing, any cell that is not shared is a private file mapping.
	 */
	access = string(ctx, "/domain/memoryBacking/access/@mode");
	if (count(ctx, "/domain/memoryBacking/source[@type='file']") &&
	    (count(ctx, "/domain/cpu/numa/cell[@memAccess='private']") ||
	     (strcmp(access, "shared") &&
	      (!cells || count(ctx, "/domain/cpu/numa/cell[not(@memAccess)]")))))
		add(out, FINDING_ERROR, "domain: file-backed memory without shared access (<access mode='shared'/>, or a cell's memAccess='private'): discards would punch the file others may map; the device keeps those pages");
	free(access);
	if (count(ctx, "/domain/devices/hostdev[@type='pci'] | /domain/devices/hostdev[@type='mdev'] | /domain/devices/interface[@type='hostdev']"))
		add(out, FINDING_ERROR, "domain: a host PCI or mediated device (VFIO) pins all guest memory: nothing is returned while it is attached");

	dev = string(ctx, "/domain/qemu:commandline/qemu:arg[contains(@value, 'virtio-hballoon')]/@value");
	if (!*dev)
		add(out, FINDING_ERROR, "domain: no virtio-hballoon-pci in <qemu:commandline> (and xmlns:qemu on <domain>)");
	else if (!strstr(dev, "addr"))
		add(out, FINDING_WARN, "domain: the device has no pinned PCI address (bus= and addr=): libvirt does not reserve its slot, and a device added later can take it");
	else
		add(out, FINDING_OK, "domain: the device is at a pinned PCI address");
	free(dev);

	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return 0;
}
