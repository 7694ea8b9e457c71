// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-check.c - hballoonctl check's findings from query-hballoon replies
 * and libvirt domain XML
 */
#include <string.h>

#include "check.h"
#include "tap.h"

#define MAXF 32

static struct check_finding items[MAXF];
static struct check_list list;

static void reset(void)
{
	list.items = items;
	list.nr = 0;
	list.max = MAXF;
}

/* Does a finding of @level mention @needle? */
static int has(enum check_level level, const char *needle)
{
	size_t i;

	for (i = 0; i < list.nr; i++)
		if (items[i].level == level && strstr(items[i].text, needle))
			return 1;
	return 0;
}

static void dump(void)
{
	size_t i;

	for (i = 0; i < list.nr; i++)
		tap_diag("%s: %s", check_level_name(items[i].level),
			 items[i].text);
}

static void state(const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	struct hb_state st;
	char err[256];

	reset();
	if (!tap_ok(o && !hb_state_parse(o, &st, err, sizeof(err)),
		    "test reply parses"))
		return;
	json_object_put(o);
	check_state(&st, &list);
	hb_state_free(&st);
}

#define NODE(n, extra) "{\"node\": " #n ", \"ram\": 1073741824, " \
	"\"target\": 1073741824, \"actual\": 1073741824" extra "}"
#define STATS ", \"stats\": {\"total-memory\": 1000000000}"

static void t_state(void)
{
	state("{\"nodes\": [" NODE(0, STATS) ", " NODE(1, STATS) "],"
	      " \"discard-inhibited\": false, \"reasons\": []}");
	tap_ok(list.nr == 2 && check_worst(&list) == FINDING_OK &&
	       has(FINDING_OK, "node 1: 1024 MiB, resizable"),
	       "healthy VM: every node ok");

	state("{\"nodes\": [" NODE(0, STATS) ", " NODE(1, STATS
	      ", \"discard-inhibited\": true, \"reason\": \"large-pages\"") "],"
	      " \"discard-inhibited\": true, \"reasons\": [\"large-pages\", \"mem-lock\"]}");
	if (!tap_ok(has(FINDING_ERROR, "node 1: host pages larger") &&
		    has(FINDING_ERROR, "the whole VM: guest memory is locked") &&
		    !has(FINDING_ERROR, "the whole VM: host pages") &&
		    has(FINDING_OK, "node 0"),
		    "node reason with its node, VM reason once, other node ok"))
		dump();

	state("{\"nodes\": [" NODE(0, "") "], \"discard-inhibited\": true,"
	      " \"reasons\": [\"ram-discard-disabled\", \"incoming-postcopy\"]}");
	if (!tap_ok(has(FINDING_ERROR, "VFIO") &&
		    has(FINDING_WARN, "incoming-postcopy is running") &&
		    has(FINDING_WARN, "driver has not reported"),
		    "VFIO an error, postcopy a warning, no driver a warning"))
		dump();

	state("{\"nodes\": []}");
	tap_ok(has(FINDING_ERROR, "manages no node"), "no node is an error");

	/* Whatever QEMU sends: a null or a number is no reason, no crash. */
	state("{\"nodes\": [" NODE(0, STATS ", \"reason\": 7") "],"
	      " \"discard-inhibited\": true, \"reasons\": [null, 5]}");
	if (!tap_ok(has(FINDING_WARN, "the whole VM: QEMU reported a discard-inhibit reason that is not a string") &&
		    has(FINDING_WARN, "node 0: QEMU reported"),
		    "reasons that are not strings are warned about"))
		dump();

	/* Before the driver negotiated ranges, large-pages is expected. */
	state("{\"nodes\": [" NODE(0, "") ", " NODE(1,
	      ", \"discard-inhibited\": true, \"reason\": \"large-pages\"") "],"
	      " \"discard-inhibited\": true, \"reasons\": [\"large-pages\"]}");
	if (!tap_ok(has(FINDING_NOTE, "node 1: host pages larger than 4 KiB, and the guest's driver has not reported yet") &&
		    check_worst(&list) == FINDING_WARN,
		    "huge-page node while the guest boots: a note, not an error"))
		dump();
}

#define DOMAIN(features, backing, devices, cmdline) \
	"<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>" \
	"<name>t</name>" backing "<features>" features "</features>" \
	"<cpu><numa><cell id='0' cpus='0' memory='1' unit='GiB'/>" \
	"<cell id='1' memory='1' unit='GiB'/></numa></cpu>" \
	"<devices>" devices "</devices>" \
	"<qemu:commandline><qemu:arg value='-device'/>" cmdline \
	"</qemu:commandline></domain>"
#define PINNED "<qemu:arg value='{\"driver\":\"virtio-hballoon-pci\",\"id\":\"hb0\",\"bus\":\"pcie.0\",\"addr\":\"0x1b\"}'/>"

static void xml(const char *text)
{
	char err[128];

	reset();
	tap_ok(!check_domain_xml(text, &list, err, sizeof(err)),
	       "domain XML parses");
}

static void t_domain(void)
{
	char err[128];

	xml(DOMAIN("<acpi/>", "", "", PINNED));
	if (!tap_ok(list.nr == 1 && check_worst(&list) == FINDING_OK &&
		    has(FINDING_OK, "pinned PCI address"),
		    "the guide's shape: nothing to report"))
		dump();

	xml(DOMAIN("", "<memoryBacking><locked/><hugepages/></memoryBacking>",
		   "<hostdev mode='subsystem' type='pci'/>",
		   "<qemu:arg value='virtio-hballoon-pci,id=hb0'/>"));
	if (!tap_ok(has(FINDING_ERROR, "no <features><acpi/>") &&
		    has(FINDING_ERROR, "<locked/>") &&
		    has(FINDING_NOTE, "<hugepages/>") &&
		    has(FINDING_ERROR, "VFIO") &&
		    has(FINDING_WARN, "no pinned PCI address"),
		    "every problem of a bad domain found"))
		dump();

	xml(DOMAIN("<acpi/>", "<memoryBacking><source type='file'/></memoryBacking>",
		   "", PINNED));
	tap_ok(has(FINDING_ERROR, "file-backed memory"),
	       "private file backing is an error");
	xml(DOMAIN("<acpi/>", "<memoryBacking><source type='file'/>"
		   "<access mode='shared'/></memoryBacking>", "", PINNED));
	tap_ok(!has(FINDING_ERROR, "file-backed memory"),
	       "shared file backing is fine");
	xml("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
	    "<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"
	    "<features><acpi/></features><cpu><numa>"
	    "<cell id='0' cpus='0' memory='1' unit='GiB'/>"
	    "<cell id='1' memory='1' unit='GiB' memAccess='private'/></numa></cpu>"
	    "<devices><hostdev mode='subsystem' type='mdev'/></devices>"
	    "<qemu:commandline>" PINNED "</qemu:commandline></domain>");
	if (!tap_ok(has(FINDING_ERROR, "file-backed memory") &&
		    has(FINDING_ERROR, "mediated device"),
		    "a private cell overrides shared access; an mdev pins memory"))
		dump();
	xml("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
	    "<memoryBacking><source type='file'/></memoryBacking>"
	    "<features><acpi/></features><cpu><numa>"
	    "<cell id='0' cpus='0' memory='1' unit='GiB' memAccess='shared'/>"
	    "<cell id='1' memory='1' unit='GiB' memAccess='shared'/></numa></cpu>"
	    "<devices/><qemu:commandline>" PINNED "</qemu:commandline></domain>");
	tap_ok(!has(FINDING_ERROR, "file-backed memory"),
	       "every cell shared: file backing is fine without a global access");
	xml(DOMAIN("<acpi/>", "", "", "<qemu:arg value='-smp'/>"));
	tap_ok(has(FINDING_ERROR, "no virtio-hballoon-pci"),
	       "a domain without the device");

	reset();
	tap_ok(check_domain_xml("<domain", &list, err, sizeof(err)) == -1 &&
	       strstr(err, "does not parse") && !list.nr,
	       "broken XML: an error, no findings");
}

int main(void)
{
	t_state();
	t_domain();
	return tap_done();
}
