// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hballoonctl - resize each NUMA node of a QEMU guest through virtio-hballoon
 *
 * This file: command line, connection setup, error reporting.  The commands
 * live in cmd_*.c.
 */
#include "hballoonctl.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

static const char usage_text[] =
"Usage: %s --qmp SOCKET [OPTIONS] COMMAND [ARGS]\n"
"       %s --domain NAME [--connect URI] [OPTIONS] COMMAND [ARGS]\n"
"       %s [--json] agent status [--socket PATH]\n"
"\n"
"Resize each NUMA node (memory tier) of a running QEMU guest through its\n"
"virtio-hballoon-pci device, over QEMU's QMP socket, or through libvirt\n"
"for a domain libvirt runs.\n"
"\n"
"Commands:\n"
"  status [NODE]        show each node's RAM, target, actual size and delta\n"
"                       (actual - target), and whether discard is inhibited\n"
"  set NODE SIZE        make NODE's usable size SIZE, then wait until the guest\n"
"                       reaches it or stops making progress (see --no-wait);\n"
"                       SIZE 'max' is the node's whole RAM (deflate fully)\n"
"  watch                print HBALLOON_CHANGE events as they arrive\n"
"  exec COMMAND [JSON]  run any QMP command with a JSON object of arguments\n"
"                       and print its return value as JSON (a string, such\n"
"                       as HMP output, as plain text)\n"
"  check                say what the VM's configuration means for the device\n"
"                       (per node: resizable, memory returned or why not;\n"
"                       with --domain also the domain XML: ACPI, locked\n"
"                       memory, huge pages, host devices, file backing, the\n"
"                       device's PCI address); status 1 if anything is an\n"
"                       error\n"
"  agent status         show what the host daemon hballoond is doing: its\n"
"                       fast-memory budget, connections, and per domain the\n"
"                       fast and slow node sizes (actual -> target), demand,\n"
"                       limits and the reason for the last decision\n"
"\n"
"Sizes: bytes, or a number with a binary unit K, M, G, T (or KiB, MiB, GiB,\n"
"  TiB; 1K = 1024 bytes), e.g. 4096, 512M, 1.5GiB.  A size must be a multiple\n"
"  of 4 KiB.  KB, MB, GB and TB are refused as ambiguous.\n"
"Durations: seconds (10, 0.5, 2s) or milliseconds (500ms).\n"
"\n"
"Options:\n"
"  --qmp SOCKET       QEMU's QMP unix socket (QEMU: -qmp unix:SOCKET,server=on,\n"
"                     wait=off); default: $HBALLOONCTL_QMP\n"
"  --domain NAME      a running libvirt domain instead: QMP through libvirt's\n"
"                     QEMU monitor API (local or remote, also while libvirt\n"
"                     migrates it); --qmp-timeout does not apply: libvirt\n"
"                     gives up only waiting for the domain (about 30 s)\n"
"  --connect URI      with --domain: libvirt URI (default: libvirt's default,\n"
"                     e.g. $LIBVIRT_DEFAULT_URI)\n"
"  --json             machine-readable output: status prints query-hballoon's\n"
"                     return value, set one result object, watch one event\n"
"                     per line, agent status hballoond's status object\n"
"  --qmp-timeout S    give up when QEMU does not answer within S (default 10)\n"
"  --wait             set: wait for the guest to reach the target (default)\n"
"  --no-wait          set: return as soon as QEMU accepted the new target\n"
"  --timeout S        set: stop waiting after S (default 120);\n"
"                     watch: stop after S (default: run until QEMU exits)\n"
"  --stall S          set: stop waiting when the guest's actual size has not\n"
"                     changed for S (default 30: the guest pauses up to 10 s\n"
"                     between attempts when memory is short)\n"
"  --count N          watch: exit after N events\n"
"  --node N           watch: only show events of node N\n"
"  --socket PATH      agent: hballoond's status socket\n"
"                     (default " HBALLOOND_SOCKET ")\n"
"  -h, --help         show this help and exit\n"
"  -V, --version      show the version and exit\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  QEMU refused the command (its error message is printed), or its reply\n"
"     does not match the hballoon contract; hballoond's status does not match\n"
"     its contract\n"
"  2  usage error (bad option, node, size or duration)\n"
"  3  cannot talk to QEMU: no such socket, connection refused or closed, not\n"
"     a QMP socket, or no answer within --qmp-timeout; no such libvirt\n"
"     domain, the domain is not running or stopped, libvirt unreachable;\n"
"     cannot read hballoond's status: no such socket, connection refused,\n"
"     no complete answer within 5 s, invalid JSON\n"
"  4  timeout or shortfall: set gave up before the guest reached the target\n"
"     (the target stays set); watch --count saw fewer events before --timeout\n"
"\n"
"Examples:\n"
"  %s --qmp /run/vm1.qmp status\n"
"  %s --qmp /run/vm1.qmp set 1 3G\n"
"  %s --qmp /run/vm1.qmp --json watch --count 1 --timeout 30\n"
"  %s --domain vm1 --connect qemu+ssh://host1/system set 1 3G\n"
"  %s agent status\n";

static void usage(const char *prog)
{
	printf(usage_text, prog, prog, prog, prog, prog, prog, prog, prog);
}

static void vmsg(const struct ctl *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", c->prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ctl_error(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c, fmt, ap);
	va_end(ap);
}

int ctl_usage_error(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", c->prog);
	return EXIT_USAGE;
}

int ctl_exit_code(int status)
{
	switch (status) {
	case QMP_OK:
		return EXIT_OK;
	case QMP_ERR_CMD:
	case QMP_ERR_REPLY:
		return EXIT_CMD;
	default:
		return EXIT_CONN;
	}
}

int ctl_qmp_fail(const struct ctl *c, const char *what,
		 const struct qmp_error *err)
{
	if (err->status == QMP_ERR_CMD && what)
		ctl_error(c, "%s: %s", what, err->msg);
	else
		ctl_error(c, "%s", err->msg);
	return ctl_exit_code(err->status);
}

int ctl_open(const struct ctl *c, qmp_event_fn fn, void *opaque,
	     struct qmp **out)
{
	struct qmp_error err = { 0 };
	struct qmp *q;
	int r;

	*out = NULL;
	q = c->domain ? qmp_connect_libvirt(c->uri, c->domain, &err) :
			qmp_connect_unix(c->qmp_path, &err);
	if (!q)
		return ctl_qmp_fail(c, NULL, &err);
	qmp_set_event_handler(q, fn, opaque);
	r = qmp_handshake(q, c->qmp_timeout_ms, &err);
	if (r != QMP_OK) {
		/* a refused qmp_capabilities still means "not usable" */
		if (r == QMP_ERR_CMD) {
			ctl_error(c, "QMP negotiation with %s failed: %s",
				  qmp_peer_name(q), err.msg);
			qmp_close(q);
			return EXIT_CONN;
		}
		qmp_close(q);
		return ctl_qmp_fail(c, NULL, &err);
	}
	*out = q;
	return EXIT_OK;
}

/* Long-only options take values above any character getopt_long returns. */
enum opt_id {
	OPT_QMP = 256, OPT_JSON, OPT_QMP_TIMEOUT, OPT_WAIT, OPT_NO_WAIT,
	OPT_TIMEOUT, OPT_STALL, OPT_COUNT, OPT_NODE, OPT_DOMAIN, OPT_CONNECT,
	OPT_SOCKET, OPT_HELP = 'h', OPT_VERSION = 'V',
};

static const struct option options[] = {
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "qmp-timeout", required_argument, NULL, OPT_QMP_TIMEOUT },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "stall", required_argument, NULL, OPT_STALL },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char *option_name(int id)
{
	const struct option *o;

	for (o = options; o->name; o++)
		if (o->val == id)
			return o->name;
	return "?";
}

/* Which command may use an option: NULL = every command. */
static const char *option_owner(int id)
{
	switch (id) {
	case OPT_WAIT:
	case OPT_NO_WAIT:
	case OPT_STALL:
		return "set";
	case OPT_COUNT:
	case OPT_NODE:
		return "watch";
	case OPT_SOCKET:
		return "agent";
	default:
		return NULL;
	}
}

/*
 * getopt_long()'s '?' and ':' as our usage errors.  A digit after '-' is a
 * negative number where a node or size belongs ("set 1 -512M").
 */
static int option_error(const struct ctl *c, int r, char **argv)
{
	if (r == ':')
		return ctl_usage_error(c, "option '--%s' needs a value",
				       option_name(optopt));
	if (optopt >= OPT_QMP)
		return ctl_usage_error(c, "option '--%s' takes no value",
				       option_name(optopt));
	if (optopt >= '0' && optopt <= '9')
		return ctl_usage_error(c, "'-%c...' is negative: nodes and sizes are never negative",
				       optopt);
	if (optopt)
		return ctl_usage_error(c, "unknown option '-%c'", optopt);
	return ctl_usage_error(c, "unknown option '%.*s'",
			       (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
}

struct cmd {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
};

static const struct cmd commands[] = {
	{ "status", cmd_status },
	{ "set", cmd_set },
	{ "watch", cmd_watch },
	{ "exec", cmd_exec },
	{ "check", cmd_check },
	{ "agent", cmd_agent },
};

int main(int argc, char **argv)
{
	struct ctl c = {
		.prog = "hballoonctl",
		.qmp_timeout_ms = DEFAULT_QMP_TIMEOUT_MS,
		.wait = -1,
		.timeout_ms = -1,
		.stall_ms = -1,
		.count = -1,
		.node = -1,
	};
	bool seen[OPT_SOCKET + 1] = { false };
	const struct cmd *cmd = NULL;
	const struct option *o;
	char err[256];
	size_t k;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	opterr = 0;
	while ((r = getopt_long(argc, argv, ":hV", options, NULL)) != -1) {
		if (r == '?' || r == ':')
			return option_error(&c, r, argv);
		if (r >= OPT_QMP)
			seen[r] = true;

		switch (r) {
		case OPT_QMP:
			c.qmp_path = optarg;
			break;
		case OPT_DOMAIN:
			if (!*optarg)
				return ctl_usage_error(&c, "--domain needs a domain name");
			c.domain = optarg;
			break;
		case OPT_CONNECT:
			c.uri = optarg;
			break;
		case OPT_SOCKET:
			if (!*optarg)
				return ctl_usage_error(&c, "--socket needs a path");
			c.socket_path = optarg;
			break;
		case OPT_JSON:
			c.json = true;
			break;
		case OPT_QMP_TIMEOUT:
			if (parse_duration(optarg, &c.qmp_timeout_ms, err, sizeof(err)))
				return ctl_usage_error(&c, "%s", err);
			if (c.qmp_timeout_ms > INT32_MAX)
				return ctl_usage_error(&c, "--qmp-timeout '%s' is too long",
						       optarg);
			break;
		case OPT_WAIT:
		case OPT_NO_WAIT:
			if (c.wait >= 0 && c.wait != (r == OPT_WAIT))
				return ctl_usage_error(&c, "--wait and --no-wait contradict each other");
			c.wait = r == OPT_WAIT;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &c.timeout_ms, err, sizeof(err)))
				return ctl_usage_error(&c, "%s", err);
			break;
		case OPT_STALL:
			if (parse_duration(optarg, &c.stall_ms, err, sizeof(err)))
				return ctl_usage_error(&c, "%s", err);
			break;
		case OPT_COUNT:
			if (parse_count(optarg, &c.count, err, sizeof(err)))
				return ctl_usage_error(&c, "%s", err);
			break;
		case OPT_NODE:
			if (parse_node(optarg, &c.node, err, sizeof(err)))
				return ctl_usage_error(&c, "%s", err);
			break;
		case OPT_HELP:
			usage(c.prog);
			return EXIT_OK;
		case OPT_VERSION:
			printf("hballoonctl %s (htier)\n", HBALLOONCTL_VERSION);
			return EXIT_OK;
		}
	}
	argv += optind;
	argc -= optind;

	if (!argc)
		return ctl_usage_error(&c, "no command given (status, set, watch, exec, check, agent)");
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(argv[0], commands[k].name))
			cmd = &commands[k];
	if (!cmd)
		return ctl_usage_error(&c, "unknown command '%s' (status, set, watch, exec, check, agent)",
				       argv[0]);
	for (o = options; o->name; o++) {
		const char *owner = option_owner(o->val);

		if (o->val >= OPT_QMP && seen[o->val] && owner &&
		    strcmp(owner, cmd->name))
			return ctl_usage_error(&c, "option '--%s' is only valid with '%s'",
					       o->name, owner);
	}
	if (seen[OPT_TIMEOUT] && strcmp(cmd->name, "set") &&
	    strcmp(cmd->name, "watch"))
		return ctl_usage_error(&c, "option '--timeout' is only valid with 'set' and 'watch' (use --qmp-timeout)");
	if (cmd->fn == cmd_agent) {
		/* hballoond, not QEMU: the QEMU options would be ignored */
		static const int qemu_opts[] = {
			OPT_QMP, OPT_DOMAIN, OPT_CONNECT, OPT_QMP_TIMEOUT,
		};

		for (k = 0; k < sizeof(qemu_opts) / sizeof(qemu_opts[0]); k++)
			if (seen[qemu_opts[k]])
				return ctl_usage_error(&c, "option '--%s' is not valid with 'agent' (it reads hballoond's --socket)",
						       option_name(qemu_opts[k]));
		return cmd->fn(&c, argc - 1, argv + 1);
	}
	if (c.domain && c.qmp_path)
		return ctl_usage_error(&c, "--qmp and --domain exclude each other");
	if (c.uri && !c.domain)
		return ctl_usage_error(&c, "--connect is only valid with --domain");
	if (c.domain)
		return cmd->fn(&c, argc - 1, argv + 1);
	if (!c.qmp_path || !*c.qmp_path)
		c.qmp_path = getenv("HBALLOONCTL_QMP");
	if (!c.qmp_path || !*c.qmp_path)
		return ctl_usage_error(&c, "no QMP socket: give --qmp SOCKET (or --domain NAME) or set HBALLOONCTL_QMP");

	return cmd->fn(&c, argc - 1, argv + 1);
}
