/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agent_libvirt.h - hballoond's libvirt side: connections that come back,
 * running domains, and a QMP transport whose commands time out
 *
 * libvirt takes no timeout for virDomainQemuMonitorCommand(): a QEMU that
 * stops answering holds the caller until libvirt's own job timeout, or
 * forever.  The daemon must keep serving every other VM, so each command
 * runs in a thread of its own and the caller waits at most its timeout;
 * a command still running then is abandoned (the thread cleans up when
 * libvirt returns), and the domain gets no new command until it has.
 */
#ifndef HBALLOOND_AGENT_LIBVIRT_H
#define HBALLOOND_AGENT_LIBVIRT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "qmp.h"

/*
 * Called when something worth a round happened: from libvirt's event loop
 * (domain events), or from whichever thread noticed a connection close --
 * possibly an abandoned monitor-command thread.  Must be thread-safe.
 */
typedef void (*agent_kick_fn)(void *opaque, const char *why);

/**
 * struct agent_conn - one libvirt connection, reopened when it drops
 * @uri:      the URI (never NULL; "" is not allowed)
 * @conn:     open connection, or NULL
 * @error:    why it is not open (empty when it is)
 * @retry_ms: earliest qmp_now_ms() of the next attempt
 * @backoff_ms: delay after the next failure (1 s doubling to 60 s)
 * @closed:   0, or 1 + the virConnectCloseReason libvirt's close callback
 *            reported (daemon restarted, keepalive); atomic: the callback
 *            can run on any thread that notices the close
 * @generation: incremented at every (re)open: domain handles of an older
 *            generation belong to a closed connection
 */
struct agent_conn {
	char *uri;
	virConnectPtr conn;
	char error[256];
	int64_t retry_ms;
	unsigned int backoff_ms;
	atomic_int closed;
	unsigned int generation;
	int lifecycle_cb;
	int monitor_cb;
	agent_kick_fn kick;
	void *kick_opaque;
};

/* Start libvirt's event loop implementation; once, before any connection. */
int agent_libvirt_init(char *err, size_t errlen);

void agent_conn_init(struct agent_conn *c, const char *uri,
		     agent_kick_fn kick, void *opaque);

/**
 * agent_conn_ensure() - make sure @c is open
 *
 * Drops a connection libvirt reported closed, and reopens at most once per
 * backoff period.  Registers for domain lifecycle events and for QEMU's
 * HBALLOON_CHANGE events, which call the kick function.
 *
 * Return: true if @c is open.
 */
bool agent_conn_ensure(struct agent_conn *c);

/* Close @c (it may be reopened by agent_conn_ensure()). */
void agent_conn_drop(struct agent_conn *c, const char *why);

void agent_conn_free(struct agent_conn *c);

/**
 * agent_conn_domains() - the running domains of @c
 * @doms: set to a malloc'd array the caller frees with agent_domains_free()
 *
 * Return: the count, or -1 (then @c is dropped and its error says why).
 */
int agent_conn_domains(struct agent_conn *c, virDomainPtr **doms);
void agent_domains_free(virDomainPtr *doms, int n);

/**
 * agent_domain_qmp() - a struct qmp whose commands go to @dom's monitor
 * @dom:  the domain (a reference is taken)
 * @name: for messages ("domain 'vm1'")
 *
 * qmp_execute()'s timeout applies (a negative one waits forever).  While a
 * command abandoned on timeout is still running, commands for the same
 * domain fail at once with QMP_ERR_TIMEOUT ("still busy").  Events are not
 * delivered through it (the connection has its own callback).
 *
 * Return: the handle (qmp_close() it), or NULL when out of memory.
 */
struct qmp *agent_domain_qmp(virDomainPtr dom, const char *name);

/* Commands abandoned on timeout that have not returned yet (for tests). */
unsigned int agent_libvirt_stuck(void);

#endif /* HBALLOOND_AGENT_LIBVIRT_H */
