// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp_libvirt.c - QMP of a libvirt domain, as a struct qmp transport
 *
 * libvirt owns the QEMU's QMP socket; libvirt-qemu lends it to us:
 * virDomainQemuMonitorCommand() runs one command and returns QEMU's reply
 * text, and virConnectDomainQemuMonitorEventRegister() delivers QEMU's
 * events, while libvirt's event loop runs.  This works for local and remote
 * URIs and keeps working while libvirt migrates the domain.  (Commands
 * through this API mark the domain "tainted: custom-monitor" in libvirt's
 * log, as virsh qemu-monitor-command does.)
 */
#include "qmp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

struct lv {
	struct qmp *q;
	virConnectPtr conn;
	virDomainPtr dom;
	char name[160];
	int monitor_cb;		/* -1: not registered */
	int lifecycle_cb;
	bool got_event;
	bool timed_out;
	bool stopped;		/* the domain stopped, or the connection closed */
	char why[256];
};

/* libvirt prints every error on stderr unless told otherwise. */
static void quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

static void lv_err(struct qmp_error *err, int status, const char *what)
{
	if (!err)
		return;
	err->status = status;
	err->cls[0] = '\0';
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what,
		 virGetLastErrorMessage());
}

static void monitor_event(virConnectPtr conn, virDomainPtr dom,
			  const char *event, long long seconds,
			  unsigned int micros, const char *details,
			  void *opaque)
{
	struct lv *lv = opaque;
	struct json_object *ev, *ts, *data = NULL;

	(void)conn;
	(void)dom;
	ev = json_object_new_object();
	ts = json_object_new_object();
	json_object_object_add(ts, "seconds", json_object_new_int64(seconds));
	json_object_object_add(ts, "microseconds",
			       json_object_new_int64(micros));
	json_object_object_add(ev, "event", json_object_new_string(event));
	json_object_object_add(ev, "timestamp", ts);
	if (details)
		data = json_tokener_parse(details);
	if (data)
		json_object_object_add(ev, "data", data);
	lv->got_event = true;
	qmp_deliver_event(lv->q, ev);
	json_object_put(ev);
}

static int lifecycle_event(virConnectPtr conn, virDomainPtr dom, int event,
			   int detail, void *opaque)
{
	struct lv *lv = opaque;

	(void)conn;
	(void)dom;
	(void)detail;
	if (event == VIR_DOMAIN_EVENT_STOPPED ||
	    event == VIR_DOMAIN_EVENT_SHUTDOWN) {
		lv->stopped = true;
		snprintf(lv->why, sizeof(lv->why), "domain %s stopped",
			 lv->name);
	}
	return 0;
}

static void connection_closed(virConnectPtr conn, int reason, void *opaque)
{
	struct lv *lv = opaque;

	(void)conn;
	lv->stopped = true;
	snprintf(lv->why, sizeof(lv->why),
		 "libvirt closed the connection to domain %s (%s)", lv->name,
		 reason == VIR_CONNECT_CLOSE_REASON_EOF ? "the daemon went away" :
		 reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ?
		 "keepalive timed out" : "closed");
}

static void timer_fired(int timer, void *opaque)
{
	(void)timer;
	((struct lv *)opaque)->timed_out = true;
}

static int lv_execute(void *priv, const char *request, int64_t timeout_ms,
		      struct json_object **reply, struct qmp_error *err)
{
	struct lv *lv = priv;
	char *text = NULL;

	/* libvirt's own monitor timeout applies; it takes none per call. */
	(void)timeout_ms;
	*reply = NULL;
	if (virDomainQemuMonitorCommand(lv->dom, request, &text, 0) < 0) {
		virErrorPtr e = virGetLastError();
		int status = e && (e->code == VIR_ERR_OPERATION_INVALID ||
				   e->code == VIR_ERR_NO_DOMAIN ||
				   e->code == VIR_ERR_SYSTEM_ERROR ||
				   e->code == VIR_ERR_RPC) ?
			     QMP_ERR_CLOSED : QMP_ERR_IO;

		lv_err(err, status, lv->name);
		return status;
	}
	*reply = json_tokener_parse(text);
	free(text);
	if (!*reply || !json_object_is_type(*reply, json_type_object)) {
		json_object_put(*reply);
		*reply = NULL;
		if (err) {
			err->status = QMP_ERR_PROTO;
			err->cls[0] = '\0';
			snprintf(err->msg, sizeof(err->msg),
				 "%s: libvirt returned a reply that is not a JSON object",
				 lv->name);
		}
		return QMP_ERR_PROTO;
	}
	return QMP_OK;
}

static int lv_pump(void *priv, int64_t timeout_ms, struct qmp_error *err)
{
	struct lv *lv = priv;
	int timer = -1;

	lv->got_event = false;
	lv->timed_out = false;
	if (timeout_ms >= 0) {
		timer = virEventAddTimeout(timeout_ms > INT32_MAX ? INT32_MAX :
					   (int)timeout_ms, timer_fired, lv,
					   NULL);
		if (timer < 0) {
			lv_err(err, QMP_ERR_IO, "virEventAddTimeout");
			return QMP_ERR_IO;
		}
	}
	while (!lv->got_event && !lv->timed_out && !lv->stopped) {
		if (virEventRunDefaultImpl() < 0) {
			lv_err(err, QMP_ERR_IO, "libvirt event loop");
			break;
		}
	}
	if (timer >= 0)
		virEventRemoveTimeout(timer);
	if (lv->got_event)
		return QMP_OK;
	if (lv->stopped) {
		if (err) {
			err->status = QMP_ERR_CLOSED;
			err->cls[0] = '\0';
			snprintf(err->msg, sizeof(err->msg), "%s", lv->why);
		}
		return QMP_ERR_CLOSED;
	}
	if (lv->timed_out) {
		if (err) {
			err->status = QMP_ERR_TIMEOUT;
			err->cls[0] = '\0';
			snprintf(err->msg, sizeof(err->msg),
				 "no event from %s within %.1f s", lv->name,
				 timeout_ms / 1000.0);
		}
		return QMP_ERR_TIMEOUT;
	}
	return QMP_ERR_IO;
}

static void lv_close(void *priv)
{
	struct lv *lv = priv;

	if (lv->monitor_cb >= 0)
		virConnectDomainQemuMonitorEventDeregister(lv->conn,
							   lv->monitor_cb);
	if (lv->lifecycle_cb >= 0)
		virConnectDomainEventDeregisterAny(lv->conn, lv->lifecycle_cb);
	virConnectUnregisterCloseCallback(lv->conn, connection_closed);
	if (lv->dom)
		virDomainFree(lv->dom);
	if (lv->conn)
		virConnectClose(lv->conn);
	free(lv);
}

static const struct qmp_ops lv_ops = {
	.execute = lv_execute,
	.pump = lv_pump,
	.close = lv_close,
};

struct qmp *qmp_connect_libvirt(const char *uri, const char *domain,
				struct qmp_error *err)
{
	static bool loop_registered;
	struct lv *lv;
	struct qmp *q;

	virSetErrorFunc(NULL, quiet);
	/* Events need an event loop, registered before the connection. */
	if (!loop_registered) {
		if (virEventRegisterDefaultImpl() < 0) {
			lv_err(err, QMP_ERR_CONNECT, "libvirt event loop");
			return NULL;
		}
		loop_registered = true;
	}
	lv = calloc(1, sizeof(*lv));
	if (!lv) {
		if (err) {
			err->status = QMP_ERR_CONNECT;
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		}
		return NULL;
	}
	lv->monitor_cb = lv->lifecycle_cb = -1;
	snprintf(lv->name, sizeof(lv->name), "domain '%s'", domain);
	lv->conn = virConnectOpen(uri);
	if (!lv->conn) {
		char what[300];

		snprintf(what, sizeof(what), "cannot connect to libvirt at %s",
			 uri ? uri : "its default URI");
		lv_err(err, QMP_ERR_CONNECT, what);
		free(lv);
		return NULL;
	}
	lv->dom = virDomainLookupByName(lv->conn, domain);
	if (!lv->dom) {
		lv_err(err, QMP_ERR_CONNECT, lv->name);
		lv_close(lv);
		return NULL;
	}
	q = qmp_open_ops(&lv_ops, lv, lv->name);
	if (!q) {
		lv_close(lv);
		if (err) {
			err->status = QMP_ERR_CONNECT;
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		}
		return NULL;
	}
	lv->q = q;
	/*
	 * Notice a daemon that went away while we wait for events (a remote
	 * side without keepalive returns 1, which is fine), and register for
	 * the domain's events before checking that it runs: a domain that
	 * stops in between is then seen stopping.
	 */
	if (virConnectSetKeepAlive(lv->conn, 5, 3) < 0 ||
	    virConnectRegisterCloseCallback(lv->conn, connection_closed, lv,
					    NULL) < 0) {
		lv_err(err, QMP_ERR_CONNECT, "libvirt connection callbacks");
		qmp_close(q);
		return NULL;
	}
	lv->lifecycle_cb = virConnectDomainEventRegisterAny(
		lv->conn, lv->dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(lifecycle_event), lv, NULL);
	if (lv->lifecycle_cb < 0) {
		lv_err(err, QMP_ERR_CONNECT, "domain lifecycle events");
		qmp_close(q);
		return NULL;
	}
	lv->monitor_cb = virConnectDomainQemuMonitorEventRegister(
		lv->conn, lv->dom, NULL, monitor_event, lv, NULL, 0);
	if (lv->monitor_cb < 0) {
		lv_err(err, QMP_ERR_CONNECT, "QEMU monitor events");
		qmp_close(q);
		return NULL;
	}
	if (virDomainIsActive(lv->dom) != 1) {
		if (err) {
			err->status = QMP_ERR_CONNECT;
			err->cls[0] = '\0';
			snprintf(err->msg, sizeof(err->msg),
				 "%s is not running", lv->name);
		}
		qmp_close(q);
		return NULL;
	}
	return q;
}

char *qmp_libvirt_domain_xml(struct qmp *q, struct qmp_error *err)
{
	struct lv *lv = qmp_transport(q, &lv_ops);
	char *xml;

	if (!lv) {
		if (err) {
			err->status = QMP_ERR_CONNECT;
			err->cls[0] = '\0';
			snprintf(err->msg, sizeof(err->msg),
				 "%s is not a libvirt domain", qmp_peer_name(q));
		}
		return NULL;
	}
	xml = virDomainGetXMLDesc(lv->dom, 0);
	if (!xml)
		lv_err(err, QMP_ERR_IO, lv->name);
	return xml;
}
