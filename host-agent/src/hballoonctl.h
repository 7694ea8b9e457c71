/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hballoonctl.h - shared state of the hballoonctl commands
 */
#ifndef HBALLOONCTL_H
#define HBALLOONCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "qmp.h"

#define HBALLOONCTL_VERSION "0.1.0"

/* Exit codes (documented in --help and hballoonctl(1)). */
enum {
	EXIT_OK = 0,		/* done */
	EXIT_CMD = 1,		/* QEMU refused the command (its message is printed) */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_CONN = 3,		/* could not talk to QEMU */
	EXIT_SHORT = 4,		/* timeout / shortfall: the guest did not reach the target */
};

#define DEFAULT_QMP_TIMEOUT_MS	10000
#define DEFAULT_SET_TIMEOUT_MS	120000
/*
 * The guest driver backs off up to 10 s (HB_BACKOFF_MAX_MS in
 * virtio_hballoon.c) before it tries to inflate again; a stall must span
 * more than one such pause to mean "stopped" rather than "waiting".
 */
#define DEFAULT_STALL_MS	30000
#define SET_POLL_MS		500
#define SET_PROGRESS_MS		1000
/* agent status: hballoond's status socket, and how long it may take to answer */
#define HBALLOOND_SOCKET	"/run/htier/hballoond.sock"
#define AGENT_TIMEOUT_MS	5000

struct ctl {
	const char *prog;
	const char *qmp_path;
	const char *domain;	/* --domain: through libvirt instead */
	const char *uri;	/* --connect */
	bool json;
	int64_t qmp_timeout_ms;
	int wait;		/* -1: default (wait) */
	int64_t timeout_ms;	/* -1: command default */
	int64_t stall_ms;	/* -1: default */
	int64_t count;		/* -1: unlimited */
	int64_t node;		/* watch --node; -1: every node */
	const char *socket_path;	/* agent: --socket, NULL: HBALLOOND_SOCKET */
};

/* "hballoonctl: <message>" on stderr. */
void ctl_error(const struct ctl *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A usage error: message, a pointer to --help, and EXIT_USAGE. */
int ctl_usage_error(const struct ctl *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print @err (prefixed by @what when it is a command error), return the exit code. */
int ctl_qmp_fail(const struct ctl *c, const char *what,
		 const struct qmp_error *err);

/* The exit code for a qmp_status. */
int ctl_exit_code(int status);

/* Connect and negotiate; on failure print and return the exit code. */
int ctl_open(const struct ctl *c, qmp_event_fn fn, void *opaque,
	     struct qmp **out);

int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_set(struct ctl *c, int argc, char **argv);
int cmd_watch(struct ctl *c, int argc, char **argv);
int cmd_exec(struct ctl *c, int argc, char **argv);
int cmd_check(struct ctl *c, int argc, char **argv);
int cmd_agent(struct ctl *c, int argc, char **argv);

#endif /* HBALLOONCTL_H */
