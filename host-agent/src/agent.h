/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agent.h - hballoond's state: the VMs it sees, what each round decided
 *
 * One thread runs libvirt's event loop, the rounds and the status socket;
 * monitor commands run in threads of their own (agent_libvirt.c) only so
 * that the loop can stop waiting for them.
 */
#ifndef HBALLOOND_AGENT_H
#define HBALLOOND_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "agent_config.h"
#include "agent_libvirt.h"
#include "policy.h"

/* A shrink under way is credited this many rounds of its last progress. */
#define AGENT_SHRINK_CREDIT_ROUNDS	3

/**
 * struct agent_vm - one running domain on one connection
 * @uuid:       libvirt's UUID string (the key; names can be reused)
 * @name:       the domain's name
 * @conn:       its connection
 * @cfg:        its [domain NAME] group, NULL: not managed
 * @q:          QMP through libvirt (agent_domain_qmp())
 * @generation: @conn's generation @q was made in
 * @seen:       listed by the last round (cleared before each)
 * @sized:      @fast_* and @slow_* hold sizes the device reported
 * @valid:      the last query succeeded (else: keep the VM as it is)
 * @fast_ram, @slow_ram:       the nodes' RAM under the device, bytes
 * @fast_actual, @slow_actual: their current sizes
 * @fast_asked, @slow_asked:   the sizes the device was last asked for
 * @total:      fast + slow size when first seen (keep-total keeps it)
 * @shrink_credit: of its fast node's shrink under way, what the policy may
 *             count as coming back soon: AGENT_SHRINK_CREDIT_ROUNDS times
 *             what it gave back since the last round (policy_vm)
 * @has_demand: the guest reported its demand
 * @kernel_memory: what its fast node holds that is neither free nor
 *             anonymous nor page cache (its kernel's; guest stats, untrusted),
 *             from the last report taken with the node settled
 *             (hb_node_kernel_memory()); 0 until there is one
 * @hot_demand: the fast memory the guest needs (untrusted): the hot memory
 *             it reports plus @kernel_memory, the largest of the last
 *             demand-window seconds
 * @demand:     those reports (policy_demand_peak())
 * @fast_target, @slow_target: what the last round decided
 * @reason:     why (policy_reason_name())
 * @error:      what went wrong with this VM in the last round, or ""
 */
struct agent_vm {
	char uuid[VIR_UUID_STRING_BUFLEN];
	char *name;
	struct agent_conn *conn;
	const struct agent_domain_cfg *cfg;
	struct qmp *q;
	unsigned int generation;
	bool seen;
	bool sized;
	bool valid;
	uint64_t fast_ram, slow_ram;
	uint64_t fast_actual, slow_actual;
	uint64_t fast_asked, slow_asked;
	uint64_t total;
	uint64_t shrink_credit;
	bool has_demand;
	uint64_t kernel_memory;
	uint64_t hot_demand;
	struct policy_demand demand;
	uint64_t fast_target, slow_target;
	const char *reason;
	char error[640];	/* a qmp_error message and some context */
	struct agent_vm *next;
};

/**
 * struct agent - the daemon
 * @cfg:       the configuration in force
 * @conns:     one per URI of @cfg, @nr_conns of them
 * @vms:       every domain seen on an open connection (list)
 * @dry_run:   decide and report, never resize
 * @rounds:    rounds run
 * @last_round: wall-clock time of the last round (0: none)
 * @budget_held: sum of the managed VMs' fast actual sizes, last round
 * @assigned:  sum of their fast targets, last round
 * @stuck:     monitor commands that timed out and are still pending in
 *             libvirt, last round (their VMs get no new command meanwhile)
 */
struct agent {
	struct agent_config cfg;
	struct agent_conn **conns;
	size_t nr_conns;
	struct agent_vm *vms;
	bool dry_run;
	uint64_t rounds;
	time_t last_round;
	uint64_t held;
	uint64_t assigned;
	unsigned int stuck;
};

/* The status document the socket serves (and --once prints). */
struct json_object *agent_status_json(const struct agent *a);

#endif /* HBALLOOND_AGENT_H */
