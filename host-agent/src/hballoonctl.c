// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hballoonctl - resize each NUMA node of a QEMU guest through virtio-hballoon
 *
 * This file: command line, connection setup, error reporting.  The commands
 * live in cmd_*.c.
 */
#include "hballoonctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

static const char usage_text[] =
"Usage: %s --qmp SOCKET [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Resize each NUMA node (memory tier) of a running QEMU guest through its\n"
"virtio-hballoon-pci device, over QEMU's QMP socket.\n"
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
"\n"
"Sizes: bytes, or a number with a binary unit K, M, G, T (or KiB, MiB, GiB,\n"
"  TiB; 1K = 1024 bytes), e.g. 4096, 512M, 1.5GiB.  A size must be a multiple\n"
"  of 4 KiB.  KB, MB, GB and TB are refused as ambiguous.\n"
"Durations: seconds (10, 0.5, 2s) or milliseconds (500ms).\n"
"\n"
"Options:\n"
"  --qmp SOCKET       QEMU's QMP unix socket (QEMU: -qmp unix:SOCKET,server=on,\n"
"                     wait=off); default: $HBALLOONCTL_QMP\n"
"  --json             machine-readable output: status prints query-hballoon's\n"
"                     return value, set one result object, watch one event\n"
"                     per line\n"
"  --qmp-timeout S    give up when QEMU does not answer within S (default 10)\n"
"  --wait             set: wait for the guest to reach the target (default)\n"
"  --no-wait          set: return as soon as QEMU accepted the new target\n"
"  --timeout S        set: stop waiting after S (default 120);\n"
"                     watch: stop after S (default: run until QEMU exits)\n"
"  --stall S          set: stop waiting when the guest's actual size has not\n"
"                     changed for S (default 10)\n"
"  --count N          watch: exit after N events\n"
"  --node N           watch: only show events of node N\n"
"  -h, --help         show this help and exit\n"
"  -V, --version      show the version and exit\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  QEMU refused the command (its error message is printed), or its reply\n"
"     does not match the hballoon contract\n"
"  2  usage error (bad option, node, size or duration)\n"
"  3  cannot talk to QEMU: no such socket, connection refused or closed, not\n"
"     a QMP socket, or no answer within --qmp-timeout\n"
"  4  timeout or shortfall: set gave up before the guest reached the target\n"
"     (the target stays set); watch --count saw fewer events before --timeout\n"
"\n"
"Examples:\n"
"  %s --qmp /run/vm1.qmp status\n"
"  %s --qmp /run/vm1.qmp set 1 3G\n"
"  %s --qmp /run/vm1.qmp --json watch --count 1 --timeout 30\n";

static void usage(const char *prog)
{
	printf(usage_text, prog, prog, prog, prog);
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
	q = qmp_connect_unix(c->qmp_path, &err);
	if (!q)
		return ctl_qmp_fail(c, NULL, &err);
	qmp_set_event_handler(q, fn, opaque);
	r = qmp_handshake(q, (int)c->qmp_timeout_ms, &err);
	if (r != QMP_OK) {
		qmp_close(q);
		/* a refused qmp_capabilities still means "not usable" */
		if (r == QMP_ERR_CMD) {
			ctl_error(c, "QMP negotiation with '%s' failed: %s",
				  c->qmp_path, err.msg);
			return EXIT_CONN;
		}
		return ctl_qmp_fail(c, NULL, &err);
	}
	*out = q;
	return EXIT_OK;
}

enum opt_id {
	OPT_QMP, OPT_JSON, OPT_QMP_TIMEOUT, OPT_WAIT, OPT_NO_WAIT, OPT_TIMEOUT,
	OPT_STALL, OPT_COUNT, OPT_NODE, OPT_HELP, OPT_VERSION,
};

static const struct {
	const char *name;
	enum opt_id id;
	int has_arg;
} options[] = {
	{ "qmp", OPT_QMP, 1 },
	{ "json", OPT_JSON, 0 },
	{ "qmp-timeout", OPT_QMP_TIMEOUT, 1 },
	{ "wait", OPT_WAIT, 0 },
	{ "no-wait", OPT_NO_WAIT, 0 },
	{ "timeout", OPT_TIMEOUT, 1 },
	{ "stall", OPT_STALL, 1 },
	{ "count", OPT_COUNT, 1 },
	{ "node", OPT_NODE, 1 },
	{ "help", OPT_HELP, 0 },
	{ "version", OPT_VERSION, 0 },
};

/* Which command may use an option: NULL = every command. */
static const char *option_owner(enum opt_id id)
{
	switch (id) {
	case OPT_WAIT:
	case OPT_NO_WAIT:
	case OPT_STALL:
		return "set";
	case OPT_COUNT:
	case OPT_NODE:
		return "watch";
	default:
		return NULL;
	}
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
	bool seen[OPT_VERSION + 1] = { false };
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	const struct cmd *cmd = NULL;
	char err[256];
	int npos = 0, i, r;
	size_t k;

	if (!pos)
		return EXIT_CONN;
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *name;
		size_t nlen;
		int o = -1;

		if (!strcmp(a, "--")) {
			while (++i < argc)
				pos[npos++] = argv[i];
			break;
		}
		if (!strcmp(a, "-h")) {
			a = "--help";
		} else if (!strcmp(a, "-V")) {
			a = "--version";
		} else if (a[0] == '-' && a[1] != '-' && a[1] &&
			   !(a[1] >= '0' && a[1] <= '9')) {
			free(pos);
			return ctl_usage_error(&c, "unknown option '%s'", a);
		}
		if (a[0] != '-' || a[1] != '-') {
			pos[npos++] = argv[i];	/* incl. "-512M": a size, refused later */
			continue;
		}
		name = a + 2;
		nlen = strcspn(name, "=");
		for (k = 0; k < sizeof(options) / sizeof(options[0]); k++) {
			if (strlen(options[k].name) == nlen &&
			    !strncmp(options[k].name, name, nlen)) {
				o = (int)k;
				break;
			}
		}
		if (o < 0) {
			free(pos);
			return ctl_usage_error(&c, "unknown option '--%.*s'",
					       (int)nlen, name);
		}
		if (name[nlen] == '=') {
			if (!options[o].has_arg) {
				free(pos);
				return ctl_usage_error(&c, "option '--%s' takes no value",
						       options[o].name);
			}
			val = name + nlen + 1;
		} else if (options[o].has_arg) {
			if (i + 1 >= argc) {
				free(pos);
				return ctl_usage_error(&c, "option '--%s' needs a value",
						       options[o].name);
			}
			val = argv[++i];
		}
		seen[options[o].id] = true;

		switch (options[o].id) {
		case OPT_QMP:
			c.qmp_path = val;
			break;
		case OPT_JSON:
			c.json = true;
			break;
		case OPT_QMP_TIMEOUT:
			if (parse_duration(val, &c.qmp_timeout_ms, err, sizeof(err)))
				goto bad_value;
			if (c.qmp_timeout_ms > INT32_MAX) {
				snprintf(err, sizeof(err), "--qmp-timeout '%s' is too long", val);
				goto bad_value;
			}
			break;
		case OPT_WAIT:
		case OPT_NO_WAIT:
			if (c.wait >= 0 &&
			    c.wait != (options[o].id == OPT_WAIT)) {
				free(pos);
				return ctl_usage_error(&c, "--wait and --no-wait contradict each other");
			}
			c.wait = options[o].id == OPT_WAIT;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(val, &c.timeout_ms, err, sizeof(err)))
				goto bad_value;
			break;
		case OPT_STALL:
			if (parse_duration(val, &c.stall_ms, err, sizeof(err)))
				goto bad_value;
			break;
		case OPT_COUNT:
			if (parse_count(val, &c.count, err, sizeof(err)))
				goto bad_value;
			break;
		case OPT_NODE:
			if (parse_node(val, &c.node, err, sizeof(err)))
				goto bad_value;
			break;
		case OPT_HELP:
			usage(c.prog);
			free(pos);
			return EXIT_OK;
		case OPT_VERSION:
			printf("hballoonctl %s (htier)\n", HBALLOONCTL_VERSION);
			free(pos);
			return EXIT_OK;
		}
		continue;
bad_value:
		free(pos);
		return ctl_usage_error(&c, "%s", err);
	}

	if (!npos) {
		free(pos);
		return ctl_usage_error(&c, "no command given (status, set, watch, exec)");
	}
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(pos[0], commands[k].name))
			cmd = &commands[k];
	if (!cmd) {
		r = ctl_usage_error(&c, "unknown command '%s' (status, set, watch, exec)",
				    pos[0]);
		free(pos);
		return r;
	}
	for (k = 0; k < sizeof(options) / sizeof(options[0]); k++) {
		const char *owner = option_owner(options[k].id);

		if (seen[options[k].id] && owner && strcmp(owner, cmd->name)) {
			free(pos);
			return ctl_usage_error(&c, "option '--%s' is only valid with '%s'",
					       options[k].name, owner);
		}
	}
	if (seen[OPT_TIMEOUT] && strcmp(cmd->name, "set") &&
	    strcmp(cmd->name, "watch")) {
		free(pos);
		return ctl_usage_error(&c, "option '--timeout' is only valid with 'set' and 'watch' (use --qmp-timeout)");
	}
	if (!c.qmp_path || !*c.qmp_path)
		c.qmp_path = getenv("HBALLOONCTL_QMP");
	if (!c.qmp_path || !*c.qmp_path) {
		free(pos);
		return ctl_usage_error(&c, "no QMP socket: give --qmp SOCKET or set HBALLOONCTL_QMP");
	}

	r = cmd->fn(&c, npos - 1, pos + 1);
	free(pos);
	return r;
}
