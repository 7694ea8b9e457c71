/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qmp.h - a small synchronous QMP client over a unix socket (or libvirt)
 *
 * One connection, one command in flight.  Asynchronous events that arrive
 * while a command waits for its reply (or while the caller waits for
 * events) are handed to a callback, never mistaken for the reply.
 */
#ifndef HBALLOONCTL_QMP_H
#define HBALLOONCTL_QMP_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

enum qmp_status {
	QMP_OK = 0,
	QMP_ERR_CMD,		/* QEMU answered with an error object */
	QMP_ERR_CONNECT,	/* socket missing, refused, no permission */
	QMP_ERR_CLOSED,		/* QEMU closed the connection */
	QMP_ERR_IO,		/* read or write failed */
	QMP_ERR_PROTO,		/* the peer does not speak QMP */
	QMP_ERR_TIMEOUT,	/* no answer within the timeout */
	QMP_ERR_REPLY,		/* a reply that does not match the contract */
};

struct qmp_error {
	enum qmp_status status;
	char cls[64];		/* QMP error class ("GenericError") for QMP_ERR_CMD */
	char msg[512];		/* one line, no trailing newline */
};

/* How we print JSON: compact or indented, and "/" left unescaped. */
#define HB_JSON_PLAIN	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define HB_JSON_PRETTY	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | \
			 JSON_C_TO_STRING_NOSLASHESCAPE)

/* Largest message accepted (query-qmp-schema is ~200 KiB). */
#define QMP_MAX_MESSAGE (16u << 20)

struct qmp;

/*
 * Called for every message that carries an "event" key.  @event is borrowed:
 * take a reference (json_object_get) to keep it.  The callback must not call
 * back into the same struct qmp.
 */
typedef void (*qmp_event_fn)(struct json_object *event, void *opaque);

/* Wrap a connected stream socket (takes ownership of @fd). */
struct qmp *qmp_open_fd(int fd);

/* Connect to @path ("unix:" prefix allowed).  NULL and @err on failure. */
struct qmp *qmp_connect_unix(const char *path, struct qmp_error *err);

/* Read the greeting and negotiate with qmp_capabilities. */
int qmp_handshake(struct qmp *q, int64_t timeout_ms, struct qmp_error *err);

void qmp_set_event_handler(struct qmp *q, qmp_event_fn fn, void *opaque);

/*
 * qmp_execute() - run one command and wait for its reply
 * @cmd:     command name
 * @args:    arguments object or NULL (borrowed)
 * @timeout_ms: <0 waits forever
 * @ret:     on QMP_OK, the "return" value (caller owns it; may be NULL
 *           when the caller does not want it)
 *
 * Return: a qmp_status; @err is filled for everything but QMP_OK.
 */
int qmp_execute(struct qmp *q, const char *cmd, struct json_object *args,
		int64_t timeout_ms, struct json_object **ret, struct qmp_error *err);

/*
 * qmp_pump() - wait for the next message and dispatch it
 *
 * Return: QMP_OK when a message was handled (events go to the callback,
 * stray replies are dropped), QMP_ERR_TIMEOUT when none came within
 * @timeout_ms, another status when the connection failed.
 */
int qmp_pump(struct qmp *q, int64_t timeout_ms, struct qmp_error *err);

/*
 * Another way to reach a QEMU's QMP than its socket (libvirt, qmp_libvirt.c):
 * qmp_execute(), qmp_pump(), qmp_handshake() and qmp_close() go through these.
 *
 * @execute: send @request (a complete QMP command, without "id") and set
 *           *@reply to QEMU's whole reply object ("return" or "error");
 *           a failure of the transport itself is a qmp_status with @err
 * @pump:    wait up to @timeout_ms (<0: forever) for events and hand each
 *           to qmp_deliver_event(); QMP_OK after at least one
 * @close:   release @priv
 */
struct qmp_ops {
	int (*execute)(void *priv, const char *request, int64_t timeout_ms,
		       struct json_object **reply, struct qmp_error *err);
	int (*pump)(void *priv, int64_t timeout_ms, struct qmp_error *err);
	void (*close)(void *priv);
};

/* A struct qmp over @ops; @name is what messages call the peer. */
struct qmp *qmp_open_ops(const struct qmp_ops *ops, void *priv,
			 const char *name);

/* For a transport: pass one event object (borrowed) to the handler. */
void qmp_deliver_event(struct qmp *q, struct json_object *event);

/*
 * qmp_connect_libvirt() - QMP of a libvirt domain (qmp_libvirt.c)
 * @uri:    libvirt connection URI, NULL for libvirt's default
 * @domain: the domain's name
 *
 * Commands go through virDomainQemuMonitorCommand(), events through
 * virConnectDomainQemuMonitorEventRegister(); the domain must be running.
 */
struct qmp *qmp_connect_libvirt(const char *uri, const char *domain,
				struct qmp_error *err);

/*
 * qmp_libvirt_domain_xml() - the domain's live XML, for a struct qmp from
 * qmp_connect_libvirt() (malloc'ed); NULL with @err otherwise.
 */
char *qmp_libvirt_domain_xml(struct qmp *q, struct qmp_error *err);

/* A transport's private data, if @q uses @ops; else NULL. */
void *qmp_transport(struct qmp *q, const struct qmp_ops *ops);

/* The greeting's "QMP" object, NULL before the handshake (borrowed). */
struct json_object *qmp_greeting(struct qmp *q);

/* "the socket 'path'" or "fd N": used in messages. */
const char *qmp_peer_name(struct qmp *q);

void qmp_close(struct qmp *q);

/* What one message from QEMU is. */
enum qmp_msg_kind {
	QMP_MSG_GREETING,
	QMP_MSG_EVENT,
	QMP_MSG_RETURN,
	QMP_MSG_ERROR,
	QMP_MSG_INVALID,
};

/*
 * qmp_classify() - sort a parsed message; for QMP_MSG_ERROR fill @err with
 * QEMU's class and description, for QMP_MSG_INVALID with the reason.
 * @id is set to the message's numeric "id" or -1.
 */
enum qmp_msg_kind qmp_classify(struct json_object *msg, int64_t *id,
			       struct qmp_error *err);

/* Milliseconds on the monotonic clock. */
int64_t qmp_now_ms(void);

/* A short English name for a status ("connection refused" style). */
const char *qmp_status_name(int status);

#endif /* HBALLOONCTL_QMP_H */
