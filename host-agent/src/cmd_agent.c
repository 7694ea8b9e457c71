// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_agent.c - hballoonctl agent status: what hballoond is doing
 *
 * hballoond serves its status on a unix stream socket (--socket, default
 * /run/htier/hballoond.sock): a client connects, sends nothing, and reads
 * ONE JSON object followed by "\n", after which hballoond closes.  Sizes
 * are bytes.
 *
 *   {"version": 1, "config": PATH, "dry-run": BOOL, "interval": S,
 *    "round": N, "last-round": UNIX-TIME or 0, "budget": B, "assigned": B,
 *    "held": B, "stuck-commands"?: N,
 *    "connections": [{"uri", "connected", "error"?}],
 *    "domains": [{"name", "uri", "managed",
 *                 "min", "max", "weight", "fast-node", "slow-node",
 *                 "fast-actual", "fast-target", "slow-actual",
 *                 "slow-target", "hot-demand"?, "kernel-memory"?, "reason",
 *                 "error"?}]}
 *
 * A domain's limits (min .. slow-node) are required when it is managed:
 * an unmanaged domain has none.  Its sizes and reason are optional: hballoond
 * has none for a VM it has not yet been able to query (that VM's "error" says
 * why).  Keys this tool does not know are shown, never rejected: top-level
 * ones as "key: value" lines, a connection's or domain's as key=value.
 *
 * Human output: a header block, then one row per domain:
 *
 *   NAME  URI  FAST (ACTUAL -> TARGET)  SLOW (ACTUAL -> TARGET)  HOT WANTED
 *   MIN  MAX  WEIGHT  REASON  [ERROR]  [OTHER]
 *
 * --json prints the object as received (compact, one line, as the other
 * commands' --json), once it has been checked against the contract.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hballoon.h"
#include "hballoonctl.h"
#include "size.h"

/* hballoond answers at once; a status larger than this is not one. */
#define AGENT_MAX_STATUS	(16u << 20)

/* ------------------------------------------------------------ the contract */

enum kind { K_U64, K_STR, K_BOOL, K_ARRAY };

struct field {
	const char *key;
	enum kind kind;
	int need;		/* N_ALWAYS, N_MANAGED (domains), N_OPTIONAL */
};

enum { N_OPTIONAL, N_ALWAYS, N_MANAGED };

static const struct field top_fields[] = {
	{ "version", K_U64, N_ALWAYS },
	{ "config", K_STR, N_ALWAYS },
	{ "dry-run", K_BOOL, N_ALWAYS },
	{ "interval", K_U64, N_ALWAYS },
	{ "round", K_U64, N_ALWAYS },
	{ "last-round", K_U64, N_ALWAYS },
	{ "budget", K_U64, N_ALWAYS },
	{ "assigned", K_U64, N_ALWAYS },
	{ "held", K_U64, N_ALWAYS },
	{ "stuck-commands", K_U64, N_OPTIONAL },
	{ "connections", K_ARRAY, N_ALWAYS },
	{ "domains", K_ARRAY, N_ALWAYS },
	{ NULL, K_U64, 0 },
};

static const struct field conn_fields[] = {
	{ "uri", K_STR, N_ALWAYS },
	{ "connected", K_BOOL, N_ALWAYS },
	{ "error", K_STR, N_OPTIONAL },
	{ NULL, K_U64, 0 },
};

static const struct field dom_fields[] = {
	{ "name", K_STR, N_ALWAYS },
	{ "uri", K_STR, N_ALWAYS },
	{ "managed", K_BOOL, N_ALWAYS },
	{ "min", K_U64, N_MANAGED },
	{ "max", K_U64, N_MANAGED },
	{ "weight", K_U64, N_MANAGED },
	{ "fast-node", K_U64, N_MANAGED },
	{ "slow-node", K_U64, N_MANAGED },
	{ "fast-actual", K_U64, N_OPTIONAL },
	{ "fast-target", K_U64, N_OPTIONAL },
	{ "slow-actual", K_U64, N_OPTIONAL },
	{ "slow-target", K_U64, N_OPTIONAL },
	{ "hot-demand", K_U64, N_OPTIONAL },
	{ "kernel-memory", K_U64, N_OPTIONAL },	/* in hot-demand; --json */
	{ "reason", K_STR, N_OPTIONAL },
	{ "error", K_STR, N_OPTIONAL },
	{ NULL, K_U64, 0 },
};

static bool flag(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	       json_object_get_boolean(v);
}

static bool known(const struct field *f, const char *key)
{
	for (; f->key; f++)
		if (!strcmp(f->key, key))
			return true;
	return false;
}

static const char *kind_text(enum kind k)
{
	switch (k) {
	case K_U64:	return "a non-negative integer";
	case K_STR:	return "a string";
	case K_BOOL:	return "true or false";
	case K_ARRAY:	return "an array";
	}
	return "?";
}

static bool has_kind(struct json_object *v, enum kind k)
{
	switch (k) {
	case K_U64:
		return json_object_is_type(v, json_type_int) &&
		       json_object_get_int64(v) >= 0;
	case K_STR:
		return json_object_is_type(v, json_type_string);
	case K_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case K_ARRAY:
		return json_object_is_type(v, json_type_array);
	}
	return false;
}

/*
 * Check @o's fields against @f.  @where names @o in messages: "" for the
 * status itself, "domains[2]" for an element.
 */
static int check_fields(struct json_object *o, const struct field *f,
			bool managed, const char *where, char *err,
			size_t len)
{
	struct json_object *v;

	for (; f->key; f++) {
		if (!json_object_object_get_ex(o, f->key, &v)) {
			if (f->need == N_ALWAYS ||
			    (f->need == N_MANAGED && managed)) {
				snprintf(err, len, "hballoond's status%s%s has no \"%s\"%s",
					 *where ? ": " : "", where, f->key,
					 f->need == N_MANAGED ? " (a managed domain has one)" : "");
				return -1;
			}
			continue;
		}
		if (!has_kind(v, f->kind)) {
			snprintf(err, len, "hballoond's status: %s%s%s is not %s",
				 where, *where ? "." : "", f->key,
				 kind_text(f->kind));
			return -1;
		}
	}
	return 0;
}

static int check_array(struct json_object *root, const char *key,
		       const struct field *f, char *err, size_t len)
{
	struct json_object *arr;
	char where[64];
	size_t i, n;

	json_object_object_get_ex(root, key, &arr);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);

		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		if (!json_object_is_type(o, json_type_object)) {
			snprintf(err, len, "hballoond's status: %s is not an object",
				 where);
			return -1;
		}
		/* first as unmanaged, then the limits of a managed domain */
		if (check_fields(o, f, false, where, err, len) ||
		    (flag(o, "managed") &&
		     check_fields(o, f, true, where, err, len)))
			return -1;
	}
	return 0;
}

/* 0 if @root keeps the contract, else -1 and @err. */
static int check_status(struct json_object *root, char *err, size_t len)
{
	struct json_object *v;

	if (check_fields(root, top_fields, false, "", err, len))
		return -1;
	json_object_object_get_ex(root, "version", &v);
	if (json_object_get_int64(v) < 1) {
		snprintf(err, len, "hballoond's status: version %" PRId64 " is not 1 or later",
			 json_object_get_int64(v));
		return -1;
	}
	if (check_array(root, "connections", conn_fields, err, len) ||
	    check_array(root, "domains", dom_fields, err, len))
		return -1;
	return 0;
}

/* --------------------------------------------------------------- reading */

/* A bad answer (not a status at all) or a closed/silent/unreachable socket. */
__attribute__((format(printf, 2, 3)))
static int conn_fail(const struct ctl *c, const char *fmt, ...);

static int conn_fail(const struct ctl *c, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_error(c, "%s", msg);
	return EXIT_CONN;
}

static int agent_connect(const struct ctl *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		conn_fail(c, "cannot reach hballoond at %s: the path is too long (a unix socket path has at most %zu bytes)",
			  path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_fail(c, "socket: %s", strerror(errno));
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		conn_fail(c, "cannot reach hballoond at %s: %s%s", path,
			  strerror(e),
			  e == ENOENT || e == ECONNREFUSED ? " (is hballoond running?)" :
			  e == EACCES || e == EPERM ?
			  " (the socket is for root and its group)" : "");
		return -1;
	}
	return fd;
}

/*
 * Read the status object: everything up to the "\n" after it, or up to
 * the end of the stream, within AGENT_TIMEOUT_MS for the whole answer.
 * Return: EXIT_OK with *@out, or EXIT_CONN after printing why.
 */
static int agent_read(const struct ctl *c, int fd, const char *path,
		      struct json_object **out)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj = NULL;
	bool parsed = false, started = false, done = false;
	int64_t deadline = qmp_now_ms() + AGENT_TIMEOUT_MS;
	size_t total = 0;
	char buf[65536];
	int r = EXIT_OK;

	*out = NULL;
	if (!tok)
		return conn_fail(c, "out of memory");
	while (!done) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - qmp_now_ms();
		const char *rest;
		size_t i, n_rest;
		ssize_t n;
		int pr;

		if (left <= 0) {
			r = conn_fail(c, "hballoond at %s sent %s within %d s (is it stuck?)",
				      path, started ? "an incomplete status" : "no status",
				      AGENT_TIMEOUT_MS / 1000);
			goto out;
		}
		pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			r = conn_fail(c, "poll: %s", strerror(errno));
			goto out;
		}
		if (pr == 0)
			continue;	/* the deadline check above reports it */
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = conn_fail(c, "cannot read from hballoond at %s: %s", path,
				      strerror(errno));
			goto out;
		}
		if (n == 0)
			break;		/* end of stream */
		total += (size_t)n;
		if (total > AGENT_MAX_STATUS) {
			r = conn_fail(c, "hballoond at %s sent more than %u MiB: not a status",
				      path, AGENT_MAX_STATUS >> 20);
			goto out;
		}
		rest = buf;
		n_rest = (size_t)n;
		if (!parsed) {
			enum json_tokener_error jerr;
			size_t end;

			for (i = 0; i < (size_t)n && !started; i++)
				started = !isspace((unsigned char)buf[i]);
			obj = json_tokener_parse_ex(tok, buf, (int)n);
			jerr = json_tokener_get_error(tok);
			if (jerr == json_tokener_continue)
				continue;
			if (jerr != json_tokener_success) {
				r = conn_fail(c, "hballoond at %s sent invalid JSON: %s",
					      path, json_tokener_error_desc(jerr));
				goto out;
			}
			parsed = true;
			end = json_tokener_get_parse_end(tok);
			rest = buf + end;
			n_rest = (size_t)n - end;
			/* json-c swallows the blanks after the object: "\n" too */
			for (i = end; i > 0 && isspace((unsigned char)buf[i - 1]); i--)
				done |= buf[i - 1] == '\n';
		}
		/* after the object: blanks up to the "\n" that ends it */
		for (i = 0; i < n_rest; i++) {
			if (rest[i] == '\n') {
				done = true;
				break;
			}
			if (!isspace((unsigned char)rest[i])) {
				r = conn_fail(c, "hballoond at %s sent invalid JSON: more after the status object",
					      path);
				goto out;
			}
		}
	}
	if (!parsed) {
		r = conn_fail(c, started ?
			      "hballoond at %s closed the connection in the middle of its status" :
			      "hballoond at %s closed the connection without sending its status",
			      path);
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		r = conn_fail(c, "hballoond at %s sent a JSON value that is not an object: not a status",
			      path);
		goto out;
	}
	*out = obj;
	obj = NULL;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return r;
}

/* ---------------------------------------------------------------- output */

static uint64_t u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_uint64(v) : 0;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_string(v) : NULL;
}

/* " key=value" for each field of @o that @f does not know, appended. */
static void extras(struct json_object *o, const struct field *f, char *out,
		   size_t len)
{
	size_t at = strlen(out);

	json_object_object_foreach(o, key, val) {
		char vb[128];
		int w;

		if (known(f, key) || at >= len)
			continue;
		w = snprintf(out + at, len - at, "%s%s=%s", at ? " " : "", key,
			     hb_value_text(val, vb, sizeof(vb)));
		if (w > 0)
			at += (size_t)w;
	}
}

/* A size or "-" when the key is absent. */
static void size_cell(struct json_object *o, const char *key, char *cell,
		      size_t len)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		size_format(json_object_get_uint64(v), cell, len);
	else
		snprintf(cell, len, "-");
}

/* "budget exceeded by 64 MiB" note for @what > @budget, else "". */
static const char *over(uint64_t what, uint64_t budget, char *buf, size_t len)
{
	char d[SIZE_FMT_LEN];

	buf[0] = '\0';
	if (what > budget)
		snprintf(buf, len, " (%s over the budget)",
			 size_format(what - budget, d, sizeof(d)));
	return buf;
}

static void print_header(struct json_object *st)
{
	struct json_object *conns;
	uint64_t round = u64(st, "round"), last = u64(st, "last-round");
	uint64_t budget = u64(st, "budget");
	char s[SIZE_FMT_LEN], note[64];
	size_t i, n;

	printf("config:     %s\n", str(st, "config"));
	printf("dry-run:    %s\n", flag(st, "dry-run") ?
	       "yes (decides and reports, resizes nothing)" : "no");
	if (!last) {
		printf("round:      %" PRIu64 ", none finished yet (every %" PRIu64 " s)\n",
		       round, u64(st, "interval"));
	} else {
		time_t now = time(NULL);
		uint64_t ago = (uint64_t)now > last ? (uint64_t)now - last : 0;

		printf("round:      %" PRIu64 ", last %" PRIu64 " s ago (every %" PRIu64 " s)\n",
		       round, ago, u64(st, "interval"));
	}
	printf("budget:     %s\n", size_format(budget, s, sizeof(s)));
	printf("assigned:   %s%s\n", size_format(u64(st, "assigned"), s, sizeof(s)),
	       over(u64(st, "assigned"), budget, note, sizeof(note)));
	printf("held:       %s%s\n", size_format(u64(st, "held"), s, sizeof(s)),
	       over(u64(st, "held"), budget, note, sizeof(note)));
	if (u64(st, "stuck-commands"))
		printf("stuck:      %" PRIu64 " monitor command(s) timed out, still "
		       "pending in libvirt (their VMs keep their sizes)\n",
		       u64(st, "stuck-commands"));

	json_object_object_get_ex(st, "connections", &conns);
	n = json_object_array_length(conns);
	if (!n)
		printf("connection: none\n");
	for (i = 0; i < n; i++) {
		struct json_object *co = json_object_array_get_idx(conns, i);
		const char *err = str(co, "error");
		char other[512] = "";

		extras(co, conn_fields, other, sizeof(other));
		printf("connection: %s: %s%s%s%s%s\n", str(co, "uri"),
		       flag(co, "connected") ? "connected" : "NOT CONNECTED",
		       err ? ": " : "", err ? err : "",
		       *other ? "  " : "", other);
	}
	/* whatever is newer than this tool */
	json_object_object_foreach(st, key, val) {
		char vb[256];

		if (!known(top_fields, key))
			printf("%s: %s\n", key, hb_value_text(val, vb, sizeof(vb)));
	}
}

enum { C_NAME, C_URI, C_FAST, C_SLOW, C_HOT, C_MIN, C_MAX, C_WEIGHT,
       C_REASON, C_ERROR, C_OTHER, NCOLS };

static const char *const heads[NCOLS] = {
	"NAME", "URI", "FAST (ACTUAL -> TARGET)", "SLOW (ACTUAL -> TARGET)",
	"HOT WANTED", "MIN", "MAX", "WEIGHT", "REASON", "ERROR", "OTHER",
};

#define CELL 512

/* Right-aligned size columns; the others are words (left). */
static bool right_aligned(size_t c)
{
	return c == C_FAST || c == C_SLOW || c == C_HOT || c == C_MIN ||
	       c == C_MAX || c == C_WEIGHT;
}

/*
 * The parts of "ACTUAL -> TARGET" cells, aligned on the arrow:
 * width[0] fast actual, [1] fast target, [2] slow actual, [3] slow target.
 */
struct arrows {
	size_t width[4];
};

static void arrow_cell(struct json_object *d, const char *ka, const char *kt,
		       const size_t *w, char *cell)
{
	struct json_object *v;
	char a[SIZE_FMT_LEN], t[SIZE_FMT_LEN];

	if (!json_object_object_get_ex(d, ka, &v) ||
	    !json_object_object_get_ex(d, kt, &v)) {
		snprintf(cell, CELL, "-");
		return;
	}
	size_cell(d, ka, a, sizeof(a));
	size_cell(d, kt, t, sizeof(t));
	snprintf(cell, CELL, "%*s -> %*s", (int)w[0], a, (int)w[1], t);
}

static void arrow_widths(struct json_object *d, struct arrows *aw)
{
	static const char *const keys[4] = {
		"fast-actual", "fast-target", "slow-actual", "slow-target",
	};
	char s[SIZE_FMT_LEN];
	size_t k;

	for (k = 0; k < 4; k++) {
		size_cell(d, keys[k], s, sizeof(s));
		if (strlen(s) > aw->width[k])
			aw->width[k] = strlen(s);
	}
}

/* Fill one row; return a bit mask of the optional columns it uses. */
static unsigned int fill_row(struct json_object *d, const struct arrows *aw,
			     char cell[NCOLS][CELL])
{
	struct json_object *v;
	unsigned int used = 0;
	const char *reason = str(d, "reason"), *err = str(d, "error");
	bool managed = flag(d, "managed");

	snprintf(cell[C_NAME], CELL, "%s", str(d, "name"));
	snprintf(cell[C_URI], CELL, "%s", str(d, "uri"));
	arrow_cell(d, "fast-actual", "fast-target", &aw->width[0], cell[C_FAST]);
	arrow_cell(d, "slow-actual", "slow-target", &aw->width[2], cell[C_SLOW]);
	size_cell(d, "hot-demand", cell[C_HOT], CELL);
	size_cell(d, "min", cell[C_MIN], CELL);
	size_cell(d, "max", cell[C_MAX], CELL);
	if (json_object_object_get_ex(d, "weight", &v))
		snprintf(cell[C_WEIGHT], CELL, "%" PRIu64, json_object_get_uint64(v));
	else
		snprintf(cell[C_WEIGHT], CELL, "-");
	snprintf(cell[C_REASON], CELL, "%s",
		 reason && *reason ? reason : managed ? "-" : "unmanaged");
	snprintf(cell[C_ERROR], CELL, "%s", err && *err ? err : "-");
	if (err && *err)
		used |= 1u << C_ERROR;
	cell[C_OTHER][0] = '\0';
	extras(d, dom_fields, cell[C_OTHER], CELL);
	if (cell[C_OTHER][0])
		used |= 1u << C_OTHER;
	return used;
}

static void print_row(char cell[NCOLS][CELL], const size_t *width,
		      unsigned int show)
{
	size_t c, last = 0;

	for (c = 0; c < NCOLS; c++)
		if (show & (1u << c))
			last = c;
	for (c = 0; c < NCOLS; c++) {
		if (!(show & (1u << c)))
			continue;
		if (c)
			printf("  ");
		if (right_aligned(c))
			printf("%*s", (int)width[c], cell[c]);
		else	/* no trailing blanks after the last column */
			printf("%-*s", c == last ? 0 : (int)width[c], cell[c]);
	}
	printf("\n");
}

static void print_domains(struct json_object *st)
{
	unsigned int show = (1u << C_ERROR) - 1;	/* NAME .. REASON */
	char (*cell)[CELL] = malloc(NCOLS * CELL);
	struct arrows aw = { { 0 } };
	struct json_object *doms;
	size_t width[NCOLS], i, n, c;

	if (!cell) {
		printf("(out of memory)\n");
		return;
	}
	json_object_object_get_ex(st, "domains", &doms);
	n = json_object_array_length(doms);
	for (i = 0; i < n; i++)
		arrow_widths(json_object_array_get_idx(doms, i), &aw);
	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(heads[c]);
	for (i = 0; i < n; i++) {
		show |= fill_row(json_object_array_get_idx(doms, i), &aw, cell);
		for (c = 0; c < NCOLS; c++)
			if (strlen(cell[c]) > width[c])
				width[c] = strlen(cell[c]);
	}
	for (c = 0; c < NCOLS; c++)
		snprintf(cell[c], CELL, "%s", heads[c]);
	print_row(cell, width, show);
	for (i = 0; i < n; i++) {
		fill_row(json_object_array_get_idx(doms, i), &aw, cell);
		print_row(cell, width, show);
	}
	if (!n)
		printf("(hballoond sees no running domain)\n");
	free(cell);
}

/* ------------------------------------------------------------- commands */

static int agent_status(struct ctl *c, int argc, char **argv)
{
	const char *path = c->socket_path ? c->socket_path : HBALLOOND_SOCKET;
	struct json_object *st;
	char err[512];
	int fd, r;

	(void)argv;
	if (argc)
		return ctl_usage_error(c, "agent status takes no arguments");
	fd = agent_connect(c, path);
	if (fd < 0)
		return EXIT_CONN;
	r = agent_read(c, fd, path, &st);
	close(fd);
	if (r)
		return r;
	if (check_status(st, err, sizeof(err))) {
		ctl_error(c, "%s", err);
		json_object_put(st);
		return EXIT_CMD;
	}
	if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(st, HB_JSON_PLAIN));
	} else {
		print_header(st);
		printf("\n");
		print_domains(st);
	}
	json_object_put(st);
	return EXIT_OK;
}

int cmd_agent(struct ctl *c, int argc, char **argv)
{
	if (!argc)
		return ctl_usage_error(c, "agent needs a command (status)");
	if (!strcmp(argv[0], "status"))
		return agent_status(c, argc - 1, argv + 1);
	return ctl_usage_error(c, "unknown agent command '%s' (status)", argv[0]);
}
