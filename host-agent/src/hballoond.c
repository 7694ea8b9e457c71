// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hballoond - share a host's fast memory among its VMs
 *
 *   hballoond [--config FILE] [--dry-run] [--once]
 *
 * Every interval (and soon after a domain starts or stops, or a guest's
 * balloon changes) a round: list the running domains of each libvirt
 * connection, ask each managed one for its nodes through query-hballoon,
 * let the policy (policy.c) decide each VM's fast and slow node sizes
 * within the host's fast budget, and ask the devices for the sizes that
 * changed with hballoon-set.  A VM that does not answer keeps its size and
 * still counts against the budget.  The status socket serves the last
 * round as one JSON object; SIGHUP reloads the configuration.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "agent.h"
#include "hballoon.h"
#include "policy.h"
#include "qmp.h"
#include "size.h"
#include "status_server.h"
#include "u64.h"

#define DEFAULT_CONFIG	"/etc/htier/hballoond.conf"
/* A kick (event) runs a round this soon, and at most this often. */
#define KICK_DELAY_MS	1000

static struct agent agent;
static bool quit;
static int round_timer = -1;
static atomic_bool kicked;	/* kick() runs on other threads too */
static struct status_server *status;

static void publish_status(void);

__attribute__((format(printf, 2, 3)))
static void logmsg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ the VMs */

static struct agent_vm *vm_find(struct agent_conn *c, const char *uuid)
{
	struct agent_vm *vm;

	for (vm = agent.vms; vm; vm = vm->next)
		if (vm->conn == c && !strcmp(vm->uuid, uuid))
			return vm;
	return NULL;
}

static void vm_free(struct agent_vm *vm)
{
	if (vm->q)
		qmp_close(vm->q);
	free(vm->name);
	free(vm);
}

/* Forget the VMs of @c that the round did not see (or all, @c dropped). */
static void vms_prune(struct agent_conn *c, bool all)
{
	struct agent_vm **p = &agent.vms, *vm;

	while ((vm = *p)) {
		if (vm->conn == c && (all || !vm->seen)) {
			*p = vm->next;
			if (vm->cfg)
				logmsg(LOG_INFO, "%s: gone from %s", vm->name,
				       c->uri);
			vm_free(vm);
		} else {
			p = &vm->next;
		}
	}
}

/* The device's nodes into @vm; false (and @vm->error) if unusable. */
static bool vm_read_nodes(struct agent_vm *vm, const struct hb_state *st)
{
	const struct hb_node *fast = hb_state_node(st, vm->cfg->fast_node);
	const struct hb_node *slow = hb_state_node(st, vm->cfg->slow_node);
	uint64_t hot = 0, need;

	if (!fast || !slow) {
		snprintf(vm->error, sizeof(vm->error),
			 "the device has no node %d (configured as its %s node)",
			 fast ? vm->cfg->slow_node : vm->cfg->fast_node,
			 fast ? "slow" : "fast");
		return false;
	}
	/*
	 * A shrink under way is credited with a few rounds' worth of what it
	 * gave back since the last round: a guest giving back a page a round
	 * earns a few pages, and cannot keep another VM's minimum short.
	 */
	vm->shrink_credit = 0;
	if (vm->sized && fast->target < fast->actual &&
	    fast->actual < vm->fast_actual) {
		uint64_t pace = vm->fast_actual - fast->actual;

		vm->shrink_credit = fast->actual - fast->target;
		if (pace < vm->shrink_credit / AGENT_SHRINK_CREDIT_ROUNDS)
			vm->shrink_credit = pace * AGENT_SHRINK_CREDIT_ROUNDS;
	}
	vm->fast_ram = fast->ram;
	vm->slow_ram = slow->ram;
	vm->fast_actual = fast->actual;
	vm->slow_actual = slow->actual;
	vm->fast_asked = fast->target;
	vm->slow_asked = slow->target;
	/*
	 * The node needs room for the hot memory and the kernel's beside it;
	 * the kernel's is read from settled reports only (the last one kept).
	 */
	vm->has_demand = hb_node_stat(fast, "hot-memory", &hot);
	hb_node_kernel_memory(fast, &vm->kernel_memory);
	need = vm->has_demand ? add_sat(hot, vm->kernel_memory) : 0;
	vm->hot_demand = policy_demand_peak(&vm->demand, qmp_now_ms() / 1000.0,
					    agent.cfg.demand_window_s,
					    vm->has_demand, need);
	/* keep-total keeps the total the VM had when we first saw it. */
	if (!vm->sized)
		vm->total = fast->actual + slow->actual;
	vm->sized = true;
	return true;
}

static void vm_query(struct agent_vm *vm)
{
	struct qmp_error err = { 0 };
	struct hb_state st;

	vm->valid = false;
	vm->error[0] = '\0';
	if (!vm->q) {
		snprintf(vm->error, sizeof(vm->error), "out of memory");
		return;
	}
	if (hb_query(vm->q, (int64_t)agent.cfg.monitor_timeout_s * 1000, &st,
		     &err) != QMP_OK) {
		snprintf(vm->error, sizeof(vm->error), "%s", err.msg);
		return;
	}
	vm->valid = vm_read_nodes(vm, &st);
	hb_state_free(&st);
}

/* List @c's running domains and query the managed ones. */
static void scan_conn(struct agent_conn *c)
{
	virDomainPtr *doms;
	struct agent_vm *vm;
	int n, i;

	for (vm = agent.vms; vm; vm = vm->next)
		if (vm->conn == c)
			vm->seen = false;
	n = agent_conn_domains(c, &doms);
	if (n < 0) {
		/* Dropped: its VMs still hold their memory; keep them. */
		for (vm = agent.vms; vm; vm = vm->next)
			if (vm->conn == c) {
				vm->seen = true;
				vm->valid = false;
				snprintf(vm->error, sizeof(vm->error), "%s",
					 c->error);
			}
		return;
	}
	for (i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		const char *name = virDomainGetName(doms[i]);

		if (!name || virDomainGetUUIDString(doms[i], uuid) < 0)
			continue;
		vm = vm_find(c, uuid);
		if (!vm) {
			vm = calloc(1, sizeof(*vm));
			if (!vm)
				continue;
			memcpy(vm->uuid, uuid, sizeof(uuid));
			vm->conn = c;
			vm->name = strdup(name);
			vm->next = agent.vms;
			agent.vms = vm;
		}
		/* A handle from before a reconnect talks to a closed socket. */
		if (!vm->q || vm->generation != c->generation) {
			char what[200];

			if (vm->q)
				qmp_close(vm->q);
			snprintf(what, sizeof(what), "domain '%s'", name);
			vm->q = agent_domain_qmp(doms[i], what);
			vm->generation = c->generation;
		}
		vm->seen = true;
		vm->cfg = agent_config_domain(&agent.cfg, c->uri, vm->name);
		if (vm->cfg)
			vm_query(vm);
	}
	agent_domains_free(doms, n);
	vms_prune(c, false);
}

/* --------------------------------------------------------------- round */

/* Resize one node of @vm; logs what it did.  Returns hb_set()'s status. */
static int vm_set(struct agent_vm *vm, int node, uint64_t size, uint64_t from)
{
	struct qmp_error err = { 0 };
	char a[SIZE_FMT_LEN], b[SIZE_FMT_LEN];
	int rc;

	size_format(from, a, sizeof(a));
	size_format(size, b, sizeof(b));
	if (agent.dry_run) {
		logmsg(LOG_INFO, "%s: would resize node %d %s -> %s (%s)",
		       vm->name, node, a, b, vm->reason);
		return QMP_OK;
	}
	rc = hb_set(vm->q, node, size,
			(int64_t)agent.cfg.monitor_timeout_s * 1000, &err);
	if (rc != QMP_OK) {
		snprintf(vm->error, sizeof(vm->error),
			 "resizing node %d: %s", node, err.msg);
		logmsg(LOG_WARNING, "%s: cannot resize node %d to %s: %s",
		       vm->name, node, b, err.msg);
		/*
		 * A command that timed out is still pending in libvirt and may
		 * land: book a grow it asks for, so that its memory is not
		 * handed to another VM meanwhile (the next answer corrects it).
		 */
		if (rc == QMP_ERR_TIMEOUT && node == vm->cfg->fast_node &&
		    size > vm->fast_asked)
			vm->fast_asked = size;
		return rc;
	}
	/* Where the node is headed now, should the VM stop answering. */
	if (node == vm->cfg->fast_node)
		vm->fast_asked = size;
	else
		vm->slow_asked = size;
	logmsg(LOG_INFO, "%s: node %d %s -> %s (%s)", vm->name, node, a, b,
	       vm->reason);
	return QMP_OK;
}

/*
 * A VM that answers but reports no demand (hplace off or paused, or not
 * classified yet): the policy keeps what it holds, but its targets are
 * not the actual sizes, or a resize under way (a shrink, the re-inflate
 * after a guest reboot) would be cancelled every round.  Keep the targets
 * the device has, brought within [min, max]; with keep-total, what the
 * fast node gives up above max goes to the slow node (grown first), as far
 * as its RAM allows.
 */
static void hold_without_demand(struct agent_vm *vm)
{
	uint64_t want = vm->fast_asked, give;

	if (want < vm->cfg->min)
		want = vm->cfg->min;
	if (want > vm->cfg->max)
		want = vm->cfg->max;
	if (want > vm->fast_ram)
		want = vm->fast_ram;
	/*
	 * The policy booked what it holds (at least min) and gave the rest
	 * of the budget away: a grow under way stops there.
	 */
	if (want > vm->fast_target)
		want = vm->fast_target;
	vm->slow_target = vm->slow_asked;
	if (agent.cfg.keep_total && want < vm->fast_asked) {
		give = vm->fast_asked - want;
		if (vm->slow_asked >= vm->slow_ram)
			give = 0;
		else if (give > vm->slow_ram - vm->slow_asked)
			give = vm->slow_ram - vm->slow_asked;
		vm->slow_target = vm->slow_asked + give;
		/* The fast node waits for the slow node to have grown. */
		if (vm->slow_actual < vm->slow_target)
			want = vm->fast_asked;
	}
	vm->fast_target = want;
}

static void run_round(void)
{
	struct policy_vm *in = NULL;
	struct policy_target *out = NULL;
	struct agent_vm **map = NULL;
	struct agent_vm *vm;
	size_t i, n = 0;

	for (i = 0; i < agent.nr_conns; i++) {
		struct agent_conn *c = agent.conns[i];
		bool was_open = c->conn != NULL;

		if (!agent_conn_ensure(c)) {
			if (was_open)
				logmsg(LOG_WARNING, "%s: %s", c->uri, c->error);
			scan_conn(c);	/* keeps its VMs, marked invalid */
			continue;
		}
		if (!was_open)
			logmsg(LOG_INFO, "%s: connected", c->uri);
		scan_conn(c);
	}

	for (vm = agent.vms; vm; vm = vm->next)
		n += vm->cfg && vm->sized;
	if (n) {
		in = calloc(n, sizeof(*in));
		out = calloc(n, sizeof(*out));
		map = calloc(n, sizeof(*map));
	}
	if (n && (!in || !out || !map)) {
		logmsg(LOG_ERR, "out of memory; round skipped");
		goto done;
	}
	i = 0;
	for (vm = agent.vms; vm; vm = vm->next) {
		if (!vm->cfg || !vm->sized)
			continue;
		map[i] = vm;
		in[i] = (struct policy_vm){
			.min = vm->cfg->min,
			.max = vm->cfg->max,
			.weight = vm->cfg->weight,
			.fast_ram = vm->fast_ram,
			.slow_ram = vm->slow_ram,
			.fast_actual = vm->fast_actual,
			.slow_actual = vm->slow_actual,
			.fast_asked = vm->fast_asked,
			.hot_demand = vm->has_demand ? vm->hot_demand : 0,
			.total = vm->total,
			.shrink_credit = vm->shrink_credit,
			.valid = vm->valid && vm->has_demand,
		};
		i++;
	}
	agent.held = agent.assigned = 0;
	if (n) {
		struct policy_params p = {
			.budget = agent.cfg.budget,
			.granule = agent.cfg.granule,
			.hysteresis = agent.cfg.hysteresis,
			.max_move = agent.cfg.max_move,
			.keep_total = agent.cfg.keep_total,
		};

		policy_round(&p, in, n, out);
	}
	for (i = 0; i < n; i++) {
		vm = map[i];
		vm->fast_target = out[i].fast_target;
		vm->slow_target = out[i].slow_target;
		vm->reason = policy_reason_name(out[i].reason);
		if (vm->valid && !vm->has_demand)
			hold_without_demand(vm);
		agent.held += vm->fast_actual;
		agent.assigned += vm->fast_target;
		if (!vm->valid)
			continue;	/* no word from it: leave it be */
		/* Grow the slow node first: the total is kept meanwhile. */
		/*
		 * A slow resize that timed out keeps the monitor busy: the fast
		 * command would not be sent, and must not be booked as if it
		 * were.  Any other failure does not hold the fast node back.
		 */
		if (agent.cfg.keep_total && vm->slow_target != vm->slow_asked &&
		    vm_set(vm, vm->cfg->slow_node, vm->slow_target,
			   vm->slow_asked) == QMP_ERR_TIMEOUT)
			continue;
		if (vm->fast_target != vm->fast_asked)
			vm_set(vm, vm->cfg->fast_node, vm->fast_target,
			       vm->fast_asked);
	}
done:
	free(in);
	free(out);
	free(map);
	agent.stuck = agent_libvirt_stuck();
	agent.rounds++;
	agent.last_round = time(NULL);
	publish_status();
}

/* ----------------------------------------------------- the event loop */

static void round_due(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
	atomic_store(&kicked, false);
	run_round();
	virEventUpdateTimeout(round_timer, (int)agent.cfg.interval_s * 1000);
}

/* Something happened (a domain started, a balloon moved): round soon. */
static void kick(void *opaque, const char *why)
{
	(void)opaque;
	logmsg(LOG_DEBUG, "round soon: %s", why);
	if (round_timer < 0 || atomic_exchange(&kicked, true))
		return;
	virEventUpdateTimeout(round_timer, KICK_DELAY_MS);
}

/* What the status socket serves from now on. */
static void publish_status(void)
{
	struct json_object *st;
	char *line;

	if (!status)
		return;
	st = agent_status_json(&agent);
	if (asprintf(&line, "%s\n",
		     json_object_to_json_string_ext(st, HB_JSON_PLAIN)) >= 0) {
		status_server_publish(status, line);
		free(line);
	}
	json_object_put(st);
}

/* A status server on @path; NULL and a log line if not. */
static struct status_server *open_status(const char *path)
{
	struct status_server *s;
	char err[512];

	s = status_server_open(path, "", err, sizeof(err));
	if (!s)
		logmsg(LOG_ERR, "%s", err);
	return s;
}

/* An open connection to @uri among the current ones, or NULL. */
static struct agent_conn *conn_for(const char *uri)
{
	size_t i;

	for (i = 0; i < agent.nr_conns; i++)
		if (!strcmp(agent.conns[i]->uri, uri))
			return agent.conns[i];
	return NULL;
}

static bool conn_in(struct agent_conn *c, struct agent_conn **conns, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (conns[i] == c)
			return true;
	return false;
}

/* The connections for @cfg's URIs, reusing the open ones. */
static int set_conns(const struct agent_config *cfg)
{
	struct agent_conn **conns = calloc(cfg->nr_uris + 1, sizeof(*conns));
	size_t i;

	if (!conns)
		return -1;
	for (i = 0; i < cfg->nr_uris; i++) {
		conns[i] = conn_for(cfg->uris[i]);
		if (conns[i])
			continue;
		conns[i] = calloc(1, sizeof(*conns[i]));
		if (!conns[i])
			goto fail;
		agent_conn_init(conns[i], cfg->uris[i], kick, NULL);
		if (!conns[i]->uri) {
			free(conns[i]);
			conns[i] = NULL;
			goto fail;
		}
	}
	for (i = 0; i < agent.nr_conns; i++) {
		struct agent_conn *c = agent.conns[i];

		if (conn_in(c, conns, cfg->nr_uris))
			continue;
		vms_prune(c, true);
		agent_conn_free(c);
		free(c);
	}
	free(agent.conns);
	agent.conns = conns;
	agent.nr_conns = cfg->nr_uris;
	return 0;
fail:
	for (i = 0; i < cfg->nr_uris && conns[i]; i++) {
		if (!conn_in(conns[i], agent.conns, agent.nr_conns)) {
			agent_conn_free(conns[i]);
			free(conns[i]);
		}
	}
	free(conns);
	return -1;
}

static void reload(void)
{
	struct agent_config cfg, old;
	struct agent_vm *vm;
	char err[512];

	if (agent_config_load(agent.cfg.path, &cfg, err, sizeof(err))) {
		logmsg(LOG_ERR, "reload failed, keeping the running configuration: %s",
		       err);
		return;
	}
	if (set_conns(&cfg)) {
		logmsg(LOG_ERR, "reload failed: out of memory");
		agent_config_free(&cfg);
		return;
	}
	if (strcmp(cfg.socket, agent.cfg.socket)) {
		struct status_server *s = open_status(cfg.socket);
		char *path;

		if (s) {
			status_server_close(status);
			status = s;
		} else {
			/* Still served where it was, which the status says. */
			logmsg(LOG_ERR, "the status stays on %s", agent.cfg.socket);
			path = cfg.socket;
			cfg.socket = agent.cfg.socket;
			agent.cfg.socket = path;
		}
	}
	/* The domains point into the old configuration until here. */
	old = agent.cfg;
	agent.cfg = cfg;
	for (vm = agent.vms; vm; vm = vm->next)
		vm->cfg = agent_config_domain(&agent.cfg, vm->conn->uri,
					      vm->name);
	agent_config_free(&old);
	publish_status();
	logmsg(LOG_INFO, "configuration reloaded from %s", agent.cfg.path);
	kick(NULL, "configuration reloaded");
}

static void on_signal(int watch, int fd, int events, void *opaque)
{
	struct signalfd_siginfo si;

	(void)watch;
	(void)events;
	(void)opaque;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload();
		} else {
			logmsg(LOG_INFO, "signal %u: exiting", si.ssi_signo);
			quit = true;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hballoond [--config FILE] [--dry-run] [--once]\n"
		"\n"
		"Share the host's fast memory among its VMs' virtio-hballoon\n"
		"fast nodes, by the guests' reported demand within per-VM\n"
		"minimum, maximum and weight (see hballoond(8)).\n"
		"\n"
		"  -c, --config FILE  configuration (default %s)\n"
		"  -n, --dry-run      decide and log, never resize a VM\n"
		"  -1, --once         run one round, print the status as JSON, exit\n"
		"  -h, --help         this text\n",
		DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = DEFAULT_CONFIG;
	bool once = false;
	char err[512];
	sigset_t mask;
	int opt, sfd;

	while ((opt = getopt_long(argc, argv, "c:n1h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			agent.dry_run = true;
			break;
		case '1':
			once = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hballoond: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	/* systemd's journal reads stderr; syslog gets it either way. */
	openlog("hballoond", LOG_PID | (getenv("JOURNAL_STREAM") ? 0 : LOG_PERROR),
		LOG_DAEMON);
	if (agent_config_load(path, &agent.cfg, err, sizeof(err))) {
		fprintf(stderr, "hballoond: %s\n", err);
		return 1;
	}
	if (agent_libvirt_init(err, sizeof(err))) {
		fprintf(stderr, "hballoond: %s\n", err);
		return 1;
	}
	if (set_conns(&agent.cfg)) {
		fprintf(stderr, "hballoond: out of memory\n");
		return 1;
	}

	if (once) {
		struct json_object *st;

		run_round();
		st = agent_status_json(&agent);
		printf("%s\n", json_object_to_json_string_ext(st, HB_JSON_PRETTY));
		json_object_put(st);
		goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || virEventAddHandle(sfd, VIR_EVENT_HANDLE_READABLE,
					 on_signal, NULL, NULL) < 0) {
		fprintf(stderr, "hballoond: cannot watch signals\n");
		return 1;
	}
	status = open_status(agent.cfg.socket);
	if (!status)
		return 1;
	publish_status();
	round_timer = virEventAddTimeout(0, round_due, NULL, NULL);
	logmsg(LOG_INFO, "started: budget %s, %zu domain(s) configured, %s%s",
	       size_format(agent.cfg.budget, err, sizeof(err)),
	       agent.cfg.nr_domains, agent.cfg.socket,
	       agent.dry_run ? ", dry run" : "");
	while (!quit) {
		if (virEventRunDefaultImpl() < 0) {
			logmsg(LOG_ERR, "event loop: %s", virGetLastErrorMessage());
			break;
		}
	}
	status_server_close(status);
out:
	while (agent.vms) {
		struct agent_vm *vm = agent.vms;

		agent.vms = vm->next;
		vm_free(vm);
	}
	for (size_t i = 0; i < agent.nr_conns; i++) {
		agent_conn_free(agent.conns[i]);
		free(agent.conns[i]);
	}
	free(agent.conns);
	agent_config_free(&agent.cfg);
	return 0;
}
