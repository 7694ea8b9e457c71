// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp.c - a small synchronous QMP client over a unix socket
 *
 * QEMU sends one JSON object per message, normally followed by "\r\n".  We
 * do not rely on the line ends: bytes go through json-c's incremental
 * tokener, which returns each object as soon as it is complete, so a
 * message split over many reads or several messages in one read both work.
 */
#include "qmp.h"

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

#define READ_CHUNK 65536

struct qmp {
	int fd;
	char name[160];
	struct json_tokener *tok;
	char *buf;		/* bytes read but not yet given to the tokener */
	size_t len, cap;
	size_t msg_bytes;	/* bytes of the message being parsed */
	bool msg_started;	/* a non-blank byte of it was seen */
	int64_t next_id;
	struct json_object *greeting;
	qmp_event_fn event_fn;
	void *event_opaque;
	const struct qmp_ops *ops;	/* NULL: the socket @fd */
	void *ops_priv;
};

static void set_err(struct qmp_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(struct qmp_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->status = status;
	err->cls[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int64_t qmp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *qmp_status_name(int status)
{
	switch (status) {
	case QMP_OK:		return "ok";
	case QMP_ERR_CMD:	return "command failed";
	case QMP_ERR_CONNECT:	return "cannot connect";
	case QMP_ERR_CLOSED:	return "connection closed";
	case QMP_ERR_IO:	return "I/O error";
	case QMP_ERR_PROTO:	return "protocol error";
	case QMP_ERR_TIMEOUT:	return "timeout";
	case QMP_ERR_REPLY:	return "unexpected reply";
	}
	return "unknown error";
}

static struct qmp *qmp_alloc(int fd, const char *name)
{
	struct qmp *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->fd = fd;
	q->next_id = 1;
	q->tok = json_tokener_new();
	if (!q->tok) {
		free(q);
		return NULL;
	}
	snprintf(q->name, sizeof(q->name), "%s", name);
	return q;
}

struct qmp *qmp_open_fd(int fd)
{
	char name[32];
	struct qmp *q;

	snprintf(name, sizeof(name), "fd %d", fd);
	q = qmp_alloc(fd, name);
	if (!q)
		close(fd);
	return q;
}

struct qmp *qmp_connect_unix(const char *path, struct qmp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[160];
	struct qmp *q;
	int fd;

	if (!strncmp(path, "unix:", 5))
		path += 5;
	snprintf(name, sizeof(name), "'%s'", path);
	if (!*path) {
		set_err(err, QMP_ERR_CONNECT, "empty QMP socket path");
		return NULL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_err(err, QMP_ERR_CONNECT,
			"QMP socket path %s is too long (a unix socket path has at most %zu bytes)",
			name, sizeof(sa.sun_path) - 1);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err, QMP_ERR_CONNECT, "socket: %s", strerror(errno));
		return NULL;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		switch (e) {
		case ENOENT:
			set_err(err, QMP_ERR_CONNECT,
				"cannot connect to QMP socket %s: no such file (is QEMU running with -qmp unix:%s,server=on,wait=off?)",
				name, path);
			break;
		case ECONNREFUSED:
			set_err(err, QMP_ERR_CONNECT,
				"cannot connect to QMP socket %s: connection refused (nothing listens there; did QEMU exit?)",
				name);
			break;
		case EACCES:
		case EPERM:
			set_err(err, QMP_ERR_CONNECT,
				"cannot connect to QMP socket %s: permission denied",
				name);
			break;
		case ENOTSOCK:
		case ENOTDIR:
			set_err(err, QMP_ERR_CONNECT,
				"cannot connect to QMP socket %s: not a socket",
				name);
			break;
		default:
			set_err(err, QMP_ERR_CONNECT,
				"cannot connect to QMP socket %s: %s",
				name, strerror(e));
			break;
		}
		return NULL;
	}
	q = qmp_alloc(fd, name);
	if (!q) {
		close(fd);
		set_err(err, QMP_ERR_CONNECT, "out of memory");
	}
	return q;
}

struct qmp *qmp_open_ops(const struct qmp_ops *ops, void *priv,
			 const char *name)
{
	struct qmp *q = qmp_alloc(-1, name);

	if (!q)
		return NULL;
	q->ops = ops;
	q->ops_priv = priv;
	return q;
}

void *qmp_transport(struct qmp *q, const struct qmp_ops *ops)
{
	return q->ops == ops ? q->ops_priv : NULL;
}

void qmp_set_event_handler(struct qmp *q, qmp_event_fn fn, void *opaque)
{
	q->event_fn = fn;
	q->event_opaque = opaque;
}

struct json_object *qmp_greeting(struct qmp *q)
{
	struct json_object *v;

	if (q->greeting && json_object_object_get_ex(q->greeting, "QMP", &v))
		return v;
	return NULL;
}

const char *qmp_peer_name(struct qmp *q)
{
	return q->name;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	if (q->ops)
		q->ops->close(q->ops_priv);
	json_tokener_free(q->tok);
	json_object_put(q->greeting);
	free(q->buf);
	free(q);
}

enum qmp_msg_kind qmp_classify(struct json_object *msg, int64_t *id,
			       struct qmp_error *err)
{
	struct json_object *v, *cls, *desc;

	*id = -1;
	if (!msg || !json_object_is_type(msg, json_type_object)) {
		set_err(err, QMP_ERR_PROTO, "QEMU sent a JSON value that is not an object");
		return QMP_MSG_INVALID;
	}
	if (json_object_object_get_ex(msg, "id", &v) &&
	    json_object_is_type(v, json_type_int))
		*id = json_object_get_int64(v);
	if (json_object_object_get_ex(msg, "QMP", &v))
		return QMP_MSG_GREETING;
	if (json_object_object_get_ex(msg, "event", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			set_err(err, QMP_ERR_PROTO, "QEMU sent an event whose name is not a string");
			return QMP_MSG_INVALID;
		}
		return QMP_MSG_EVENT;
	}
	if (json_object_object_get_ex(msg, "return", &v))
		return QMP_MSG_RETURN;
	if (json_object_object_get_ex(msg, "error", &v)) {
		if (err) {
			err->status = QMP_ERR_CMD;
			snprintf(err->cls, sizeof(err->cls), "%s", "GenericError");
			snprintf(err->msg, sizeof(err->msg), "%s",
				 "QEMU reported an error without a description");
			if (json_object_object_get_ex(v, "class", &cls) &&
			    json_object_is_type(cls, json_type_string))
				snprintf(err->cls, sizeof(err->cls), "%s",
					 json_object_get_string(cls));
			if (json_object_object_get_ex(v, "desc", &desc) &&
			    json_object_is_type(desc, json_type_string))
				snprintf(err->msg, sizeof(err->msg), "%s",
					 json_object_get_string(desc));
		}
		return QMP_MSG_ERROR;
	}
	set_err(err, QMP_ERR_PROTO,
		"QEMU sent a message with none of \"return\", \"error\", \"event\"");
	return QMP_MSG_INVALID;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - qmp_now_ms();
	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

static void snippet(const char *p, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < outlen && i < 60; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' || c == '\n')
			break;
		out[o++] = isprint(c) ? (char)c : '?';
	}
	if (i < n && p[i] != '\r' && p[i] != '\n' && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/*
 * Feed buffered bytes to the tokener.  Return 1 with *obj set when a whole
 * message is parsed, 0 when more bytes are needed, -1 on a parse error.
 */
static int parse_buffered(struct qmp *q, struct json_object **obj,
			  struct qmp_error *err)
{
	while (q->len) {
		struct json_object *o;
		enum json_tokener_error jerr;
		size_t used, i;

		o = json_tokener_parse_ex(q->tok, q->buf, (int)q->len);
		jerr = json_tokener_get_error(q->tok);
		used = json_tokener_get_parse_end(q->tok);
		if (jerr != json_tokener_success && jerr != json_tokener_continue) {
			char s[80];

			snippet(q->buf, q->len, s, sizeof(s));
			set_err(err, QMP_ERR_PROTO,
				"%s sent invalid JSON (%s) near '%s'",
				q->name, json_tokener_error_desc(jerr), s);
			return -1;
		}
		if (used > q->len)
			used = q->len;
		for (i = 0; i < used && !q->msg_started; i++)
			if (!isspace((unsigned char)q->buf[i]))
				q->msg_started = true;
		q->msg_bytes += used;
		memmove(q->buf, q->buf + used, q->len - used);
		q->len -= used;
		if (jerr == json_tokener_success) {
			json_tokener_reset(q->tok);
			q->msg_bytes = 0;
			q->msg_started = false;
			if (!o) {
				set_err(err, QMP_ERR_PROTO,
					"%s sent a JSON null instead of a QMP message",
					q->name);
				return -1;
			}
			*obj = o;
			return 1;
		}
		if (q->msg_bytes > QMP_MAX_MESSAGE) {
			set_err(err, QMP_ERR_PROTO,
				"%s sent a message larger than %u bytes",
				q->name, QMP_MAX_MESSAGE);
			return -1;
		}
		if (!used)	/* defensive: the tokener made no progress */
			break;
	}
	return 0;
}

/* Read one message before @deadline (monotonic ms, -1 = never). */
static int read_message(struct qmp *q, int64_t deadline,
			struct json_object **obj, struct qmp_error *err)
{
	for (;;) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		ssize_t n;
		int r;

		r = parse_buffered(q, obj, err);
		if (r > 0)
			return QMP_OK;
		if (r < 0)
			return QMP_ERR_PROTO;

		r = poll(&pfd, 1, remaining_ms(deadline));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			set_err(err, QMP_ERR_IO, "poll: %s", strerror(errno));
			return QMP_ERR_IO;
		}
		if (r == 0) {
			/* poll() waits at most INT32_MAX ms (24.8 days) */
			if (remaining_ms(deadline) > 0)
				continue;
			set_err(err, QMP_ERR_TIMEOUT, "timed out");
			return QMP_ERR_TIMEOUT;
		}
		if (q->cap - q->len < READ_CHUNK) {
			size_t ncap = q->len + READ_CHUNK;
			char *nb = realloc(q->buf, ncap);

			if (!nb) {
				set_err(err, QMP_ERR_IO, "out of memory");
				return QMP_ERR_IO;
			}
			q->buf = nb;
			q->cap = ncap;
		}
		n = read(q->fd, q->buf + q->len, q->cap - q->len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno != ECONNRESET) {
				set_err(err, QMP_ERR_IO, "reading from %s: %s",
					q->name, strerror(errno));
				return QMP_ERR_IO;
			}
			/* QEMU went away with our last bytes unread: a close */
			n = 0;
		}
		if (n == 0) {
			if (q->msg_started)
				set_err(err, QMP_ERR_CLOSED,
					"%s closed the connection in the middle of a message",
					q->name);
			else
				set_err(err, QMP_ERR_CLOSED,
					"%s closed the connection", q->name);
			return QMP_ERR_CLOSED;
		}
		q->len += (size_t)n;
	}
}

static int write_all(struct qmp *q, const char *s, size_t n,
		     struct qmp_error *err)
{
	while (n) {
		ssize_t w = send(q->fd, s, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET) {
				set_err(err, QMP_ERR_CLOSED,
					"%s closed the connection", q->name);
				return QMP_ERR_CLOSED;
			}
			set_err(err, QMP_ERR_IO, "writing to %s: %s",
				q->name, strerror(errno));
			return QMP_ERR_IO;
		}
		s += w;
		n -= (size_t)w;
	}
	return QMP_OK;
}

static void dispatch_event(struct qmp *q, struct json_object *msg)
{
	if (q->event_fn)
		q->event_fn(msg, q->event_opaque);
}

void qmp_deliver_event(struct qmp *q, struct json_object *event)
{
	dispatch_event(q, event);
}

int qmp_pump(struct qmp *q, int64_t timeout_ms, struct qmp_error *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : qmp_now_ms() + timeout_ms;
	struct json_object *msg = NULL;
	int64_t id;
	int r;

	if (q->ops)
		return q->ops->pump(q->ops_priv, timeout_ms, err);
	r = read_message(q, deadline, &msg, err);
	if (r != QMP_OK)
		return r;
	switch (qmp_classify(msg, &id, err)) {
	case QMP_MSG_EVENT:
		dispatch_event(q, msg);
		break;
	case QMP_MSG_INVALID:
		json_object_put(msg);
		return QMP_ERR_PROTO;
	default:	/* a late reply to a command we gave up on */
		break;
	}
	json_object_put(msg);
	return QMP_OK;
}

/* qmp_execute() through q->ops; consumes @req. */
static int execute_ops(struct qmp *q, const char *cmd, struct json_object *req,
		       int64_t timeout_ms, struct json_object **ret,
		       struct qmp_error *err)
{
	struct json_object *reply = NULL, *v;
	int64_t mid;
	int r;

	r = q->ops->execute(q->ops_priv,
			    json_object_to_json_string_ext(req, HB_JSON_PLAIN),
			    timeout_ms, &reply, err);
	json_object_put(req);
	if (r != QMP_OK)
		return r;
	switch (qmp_classify(reply, &mid, err)) {
	case QMP_MSG_RETURN:
		if (ret && json_object_object_get_ex(reply, "return", &v))
			*ret = json_object_get(v);
		r = QMP_OK;
		break;
	case QMP_MSG_ERROR:
		r = QMP_ERR_CMD;
		break;
	default:
		set_err(err, QMP_ERR_PROTO, "%s answered '%s' with no QMP reply",
			q->name, cmd);
		r = QMP_ERR_PROTO;
		break;
	}
	json_object_put(reply);
	return r;
}

int qmp_execute(struct qmp *q, const char *cmd, struct json_object *args,
		int64_t timeout_ms, struct json_object **ret, struct qmp_error *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : qmp_now_ms() + timeout_ms;
	int64_t id = q->next_id++;
	struct json_object *req, *msg, *v;
	const char *s;
	char *line;
	int r;

	if (ret)
		*ret = NULL;
	req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	if (q->ops)
		return execute_ops(q, cmd, req, timeout_ms, ret, err);
	json_object_object_add(req, "id", json_object_new_int64(id));
	s = json_object_to_json_string_ext(req, HB_JSON_PLAIN);
	line = malloc(strlen(s) + 3);
	if (!line) {
		json_object_put(req);
		set_err(err, QMP_ERR_IO, "out of memory");
		return QMP_ERR_IO;
	}
	/* one write: a peer that reads one message and exits sees all of it */
	r = write_all(q, line, (size_t)sprintf(line, "%s\r\n", s), err);
	free(line);
	json_object_put(req);
	if (r != QMP_OK)
		return r;

	for (;;) {
		int64_t mid;

		msg = NULL;
		r = read_message(q, deadline, &msg, err);
		if (r == QMP_ERR_TIMEOUT) {
			set_err(err, QMP_ERR_TIMEOUT,
				"no reply to '%s' from %s within %.1f s",
				cmd, q->name, timeout_ms / 1000.0);
			return r;
		}
		if (r != QMP_OK)
			return r;
		switch (qmp_classify(msg, &mid, err)) {
		case QMP_MSG_EVENT:
			dispatch_event(q, msg);
			break;
		case QMP_MSG_RETURN:
			if (mid != id && mid != -1)
				break;	/* stale reply */
			if (ret && json_object_object_get_ex(msg, "return", &v))
				*ret = json_object_get(v);
			json_object_put(msg);
			return QMP_OK;
		case QMP_MSG_ERROR:
			if (mid != id && mid != -1)
				break;
			json_object_put(msg);
			return QMP_ERR_CMD;
		case QMP_MSG_INVALID:
			json_object_put(msg);
			return QMP_ERR_PROTO;
		case QMP_MSG_GREETING:
			break;
		}
		json_object_put(msg);
	}
}

int qmp_handshake(struct qmp *q, int64_t timeout_ms, struct qmp_error *err)
{
	int64_t start = qmp_now_ms();
	int64_t deadline = timeout_ms < 0 ? -1 : start + timeout_ms;
	struct json_object *msg = NULL;
	int64_t id;
	int r;

	if (q->ops)	/* the transport (libvirt) negotiated */
		return QMP_OK;
	r = read_message(q, deadline, &msg, err);
	if (r == QMP_ERR_TIMEOUT) {
		set_err(err, QMP_ERR_TIMEOUT,
			"no QMP greeting from %s within %.1f s (a QMP socket serves one client at a time: is another client such as libvirt connected to it?)",
			q->name, timeout_ms / 1000.0);
		return r;
	}
	if (r == QMP_ERR_PROTO) {
		char detail[sizeof(err->msg)];

		snprintf(detail, sizeof(detail), "%s", err ? err->msg : "");
		set_err(err, QMP_ERR_PROTO,
			"%s does not speak QMP: %s (an HMP -monitor socket? hballoonctl needs a -qmp socket)",
			q->name, detail);
		return r;
	}
	if (r == QMP_ERR_CLOSED) {
		set_err(err, QMP_ERR_CLOSED,
			"%s closed the connection before its QMP greeting",
			q->name);
		return r;
	}
	if (r != QMP_OK)
		return r;
	if (qmp_classify(msg, &id, NULL) != QMP_MSG_GREETING) {
		json_object_put(msg);
		set_err(err, QMP_ERR_PROTO,
			"%s does not speak QMP: its first message is not a QMP greeting",
			q->name);
		return QMP_ERR_PROTO;
	}
	json_object_put(q->greeting);
	q->greeting = msg;

	return qmp_execute(q, "qmp_capabilities", NULL,
			   deadline < 0 ? -1 : remaining_ms(deadline), NULL, err);
}
