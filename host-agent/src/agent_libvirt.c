// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * agent_libvirt.c - hballoond's libvirt connections and monitor commands
 */
#include "agent_libvirt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "hballoon.h"

#define BACKOFF_MIN_MS	1000u
#define BACKOFF_MAX_MS	60000u

/* libvirt prints every error on stderr unless told otherwise. */
static void quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

int agent_libvirt_init(char *err, size_t errlen)
{
	virSetErrorFunc(NULL, quiet);
	if (virEventRegisterDefaultImpl() < 0) {
		snprintf(err, errlen, "cannot start libvirt's event loop: %s",
			 virGetLastErrorMessage());
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ connections */

void agent_conn_init(struct agent_conn *c, const char *uri,
		     agent_kick_fn kick, void *opaque)
{
	memset(c, 0, sizeof(*c));
	c->uri = strdup(uri);
	c->lifecycle_cb = c->monitor_cb = -1;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->kick = kick;
	c->kick_opaque = opaque;
	snprintf(c->error, sizeof(c->error), "not connected yet");
}

/*
 * libvirt calls this from the thread that notices the close, which may be
 * an abandoned monitor-command thread: record the reason atomically and
 * leave the rest (the message, dropping the connection) to the main loop.
 */
static void conn_closed(virConnectPtr conn, int reason, void *opaque)
{
	struct agent_conn *c = opaque;

	(void)conn;
	atomic_store(&c->closed, reason + 1);
	if (c->kick)
		c->kick(c->kick_opaque, "a libvirt connection closed");
}

static const char *close_reason(int reason)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
		return "connection lost (keepalive timed out)";
	case VIR_CONNECT_CLOSE_REASON_EOF:
		return "connection closed by libvirtd";
	default:
		return "connection closed";
	}
}

static int lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
		     int detail, void *opaque)
{
	struct agent_conn *c = opaque;
	char why[200];

	(void)conn;
	(void)detail;
	snprintf(why, sizeof(why), "domain '%s' %s", virDomainGetName(dom),
		 event == VIR_DOMAIN_EVENT_STARTED ? "started" :
		 event == VIR_DOMAIN_EVENT_STOPPED ? "stopped" :
		 event == VIR_DOMAIN_EVENT_RESUMED ? "resumed" : "changed state");
	if (c->kick)
		c->kick(c->kick_opaque, why);
	return 0;
}

static void monitor_event(virConnectPtr conn, virDomainPtr dom,
			  const char *event, long long seconds,
			  unsigned int micros, const char *details,
			  void *opaque)
{
	struct agent_conn *c = opaque;
	char why[200];

	(void)conn;
	(void)seconds;
	(void)micros;
	(void)details;
	snprintf(why, sizeof(why), "%s from domain '%s'", event,
		 virDomainGetName(dom));
	if (c->kick)
		c->kick(c->kick_opaque, why);
}

void agent_conn_drop(struct agent_conn *c, const char *why)
{
	if (why && *why)
		snprintf(c->error, sizeof(c->error), "%s", why);
	if (!c->conn)
		return;
	if (c->monitor_cb >= 0)
		virConnectDomainQemuMonitorEventDeregister(c->conn,
							   c->monitor_cb);
	if (c->lifecycle_cb >= 0)
		virConnectDomainEventDeregisterAny(c->conn, c->lifecycle_cb);
	virConnectUnregisterCloseCallback(c->conn, conn_closed);
	virConnectClose(c->conn);
	c->conn = NULL;
	c->monitor_cb = c->lifecycle_cb = -1;
	c->retry_ms = qmp_now_ms() + c->backoff_ms;
}

bool agent_conn_ensure(struct agent_conn *c)
{
	int closed = atomic_exchange(&c->closed, 0);

	if (c->conn && (closed || virConnectIsAlive(c->conn) != 1))
		agent_conn_drop(c, closed ? close_reason(closed - 1) :
				"connection lost");
	if (c->conn)
		return true;
	if (qmp_now_ms() < c->retry_ms)
		return false;
	c->conn = virConnectOpen(c->uri);
	if (!c->conn) {
		snprintf(c->error, sizeof(c->error), "cannot connect: %s",
			 virGetLastErrorMessage());
		c->retry_ms = qmp_now_ms() + c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ?
				BACKOFF_MAX_MS : c->backoff_ms * 2;
		return false;
	}
	c->backoff_ms = BACKOFF_MIN_MS;
	c->error[0] = '\0';
	c->generation++;
	/* Notice a libvirtd that went away even while no command runs. */
	virConnectSetKeepAlive(c->conn, 5, 3);
	virConnectRegisterCloseCallback(c->conn, conn_closed, c, NULL);
	c->lifecycle_cb = virConnectDomainEventRegisterAny(
		c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(lifecycle), c, NULL);
	c->monitor_cb = virConnectDomainQemuMonitorEventRegister(
		c->conn, NULL, HB_EVENT_CHANGE, monitor_event, c, NULL, 0);
	return true;
}

void agent_conn_free(struct agent_conn *c)
{
	agent_conn_drop(c, NULL);
	free(c->uri);
	c->uri = NULL;
}

int agent_conn_domains(struct agent_conn *c, virDomainPtr **doms)
{
	int n;

	*doms = NULL;
	if (!c->conn)
		return -1;
	n = virConnectListAllDomains(c->conn, doms,
				     VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		char why[256];

		snprintf(why, sizeof(why), "cannot list domains: %s",
			 virGetLastErrorMessage());
		agent_conn_drop(c, why);
	}
	return n;
}

void agent_domains_free(virDomainPtr *doms, int n)
{
	int i;

	for (i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
}

/* ------------------------------------------------- commands with timeout */

/*
 * One monitor command.  The thread that runs it and the caller share it;
 * whichever of them is last frees it: the caller when the reply came in
 * time, the thread when the caller gave up (abandoned).
 */
struct mon_call {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	virDomainPtr dom;
	char uuid[VIR_UUID_STRING_BUFLEN];
	char *request;
	char *reply;
	int ret;
	int code;		/* virErrorNumber */
	char msg[256];
	bool done;
	bool abandoned;
	struct mon_call *next;	/* in the stuck list while abandoned */
};

static pthread_mutex_t stuck_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mon_call *stuck;
static unsigned int nr_stuck;

static void mon_call_free(struct mon_call *mc)
{
	pthread_mutex_destroy(&mc->lock);
	pthread_cond_destroy(&mc->cond);
	virDomainFree(mc->dom);
	free(mc->request);
	free(mc->reply);
	free(mc);
}

static void stuck_remove(struct mon_call *mc)
{
	struct mon_call **p;

	pthread_mutex_lock(&stuck_lock);
	for (p = &stuck; *p; p = &(*p)->next) {
		if (*p == mc) {
			*p = mc->next;
			nr_stuck--;
			break;
		}
	}
	pthread_mutex_unlock(&stuck_lock);
}

static bool stuck_has(const char *uuid)
{
	struct mon_call *mc;
	bool found = false;

	pthread_mutex_lock(&stuck_lock);
	for (mc = stuck; mc && !found; mc = mc->next)
		found = !strcmp(mc->uuid, uuid);
	pthread_mutex_unlock(&stuck_lock);
	return found;
}

unsigned int agent_libvirt_stuck(void)
{
	unsigned int n;

	pthread_mutex_lock(&stuck_lock);
	n = nr_stuck;
	pthread_mutex_unlock(&stuck_lock);
	return n;
}

static void *mon_thread(void *arg)
{
	struct mon_call *mc = arg;
	char *text = NULL;
	bool abandoned;
	int ret;

	ret = virDomainQemuMonitorCommand(mc->dom, mc->request, &text, 0);
	pthread_mutex_lock(&mc->lock);
	mc->ret = ret;
	mc->reply = text;
	if (ret < 0) {
		virErrorPtr e = virGetLastError();

		mc->code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
		snprintf(mc->msg, sizeof(mc->msg), "%s",
			 virGetLastErrorMessage());
	}
	mc->done = true;
	abandoned = mc->abandoned;
	pthread_cond_signal(&mc->cond);
	pthread_mutex_unlock(&mc->lock);
	if (abandoned) {
		stuck_remove(mc);
		mon_call_free(mc);
	}
	return NULL;
}

struct dom_priv {
	virDomainPtr dom;
	char uuid[VIR_UUID_STRING_BUFLEN];
	char name[160];
};

/* "@name: @what" into @err. */
static void set_err(struct qmp_error *err, int status, const char *name,
		    const char *what)
{
	if (!err)
		return;
	err->status = status;
	err->cls[0] = '\0';
	snprintf(err->msg, sizeof(err->msg), "%s: %s", name, what);
}

/*
 * Wait for @mc until @timeout_ms (< 0: forever).  False on timeout: then
 * @mc is abandoned to its thread, which frees it, and listed as stuck until
 * then - both under @mc's lock, so that the thread cannot finish between.
 */
static bool mon_wait(struct mon_call *mc, int64_t timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms >= 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&mc->lock);
	while (!mc->done) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&mc->cond, &mc->lock);
		} else if (pthread_cond_timedwait(&mc->cond, &mc->lock,
						  &until) == ETIMEDOUT) {
			break;
		}
	}
	if (mc->done) {
		pthread_mutex_unlock(&mc->lock);
		return true;
	}
	mc->abandoned = true;
	pthread_mutex_lock(&stuck_lock);
	mc->next = stuck;
	stuck = mc;
	nr_stuck++;
	pthread_mutex_unlock(&stuck_lock);
	pthread_mutex_unlock(&mc->lock);
	return false;
}

static int dom_execute(void *priv, const char *request, int64_t timeout_ms,
		       struct json_object **reply, struct qmp_error *err)
{
	struct dom_priv *d = priv;
	pthread_condattr_t ca;
	struct mon_call *mc;
	pthread_attr_t attr;
	pthread_t thread;
	int status;

	*reply = NULL;
	if (stuck_has(d->uuid)) {
		set_err(err, QMP_ERR_TIMEOUT, d->name,
			"its monitor is still busy with a command that timed out");
		return QMP_ERR_TIMEOUT;
	}
	mc = calloc(1, sizeof(*mc));
	if (!mc || !(mc->request = strdup(request))) {
		free(mc);
		set_err(err, QMP_ERR_IO, d->name, "out of memory");
		return QMP_ERR_IO;
	}
	pthread_mutex_init(&mc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&mc->cond, &ca);
	pthread_condattr_destroy(&ca);
	virDomainRef(d->dom);
	mc->dom = d->dom;
	memcpy(mc->uuid, d->uuid, sizeof(mc->uuid));

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, mon_thread, mc)) {
		pthread_attr_destroy(&attr);
		mon_call_free(mc);
		set_err(err, QMP_ERR_IO, d->name, "cannot start a thread");
		return QMP_ERR_IO;
	}
	pthread_attr_destroy(&attr);

	if (!mon_wait(mc, timeout_ms)) {
		set_err(err, QMP_ERR_TIMEOUT, d->name,
			"no reply from QEMU's monitor in time");
		return QMP_ERR_TIMEOUT;
	}

	if (mc->ret < 0) {
		status = mc->code == VIR_ERR_OPERATION_INVALID ||
			 mc->code == VIR_ERR_NO_DOMAIN ||
			 mc->code == VIR_ERR_RPC ||
			 mc->code == VIR_ERR_SYSTEM_ERROR ?
			 QMP_ERR_CLOSED : QMP_ERR_IO;
		set_err(err, status, d->name, mc->msg);
		mon_call_free(mc);
		return status;
	}
	*reply = json_tokener_parse(mc->reply);
	mon_call_free(mc);
	if (!*reply || !json_object_is_type(*reply, json_type_object)) {
		json_object_put(*reply);
		*reply = NULL;
		set_err(err, QMP_ERR_PROTO, d->name,
			"libvirt returned a reply that is not a JSON object");
		return QMP_ERR_PROTO;
	}
	return QMP_OK;
}

static void dom_close(void *priv)
{
	struct dom_priv *d = priv;

	virDomainFree(d->dom);
	free(d);
}

static const struct qmp_ops dom_ops = {
	.execute = dom_execute,
	.close = dom_close,
};

struct qmp *agent_domain_qmp(virDomainPtr dom, const char *name)
{
	struct dom_priv *d = calloc(1, sizeof(*d));
	struct qmp *q;

	if (!d)
		return NULL;
	if (virDomainGetUUIDString(dom, d->uuid) < 0)
		snprintf(d->uuid, sizeof(d->uuid), "%s", name);
	snprintf(d->name, sizeof(d->name), "%s", name);
	virDomainRef(dom);
	d->dom = dom;
	q = qmp_open_ops(&dom_ops, d, d->name);
	if (!q)
		dom_close(d);
	return q;
}
