// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * agent_status.c - hballoond's status document
 *
 * One JSON object, read by `hballoonctl agent status` from the status
 * socket and printed by `hballoond --once`; its keys are documented in the
 * operator guide ("hballoond").  Version 1; keys are only ever added.
 */
#include "agent.h"

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *vm_json(const struct agent_vm *vm)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "name", vm->name);
	add_str(o, "uri", vm->conn->uri);
	json_object_object_add(o, "managed",
			       json_object_new_boolean(vm->cfg != NULL));
	if (vm->cfg) {
		add_u64(o, "min", vm->cfg->min);
		add_u64(o, "max", vm->cfg->max);
		add_u64(o, "weight", vm->cfg->weight);
		add_u64(o, "fast-node", (uint64_t)vm->cfg->fast_node);
		add_u64(o, "slow-node", (uint64_t)vm->cfg->slow_node);
	}
	if (vm->cfg && vm->sized) {
		add_u64(o, "fast-actual", vm->fast_actual);
		add_u64(o, "fast-target", vm->fast_target);
		add_u64(o, "slow-actual", vm->slow_actual);
		add_u64(o, "slow-target", vm->slow_target);
		if (vm->has_demand) {
			add_u64(o, "hot-demand", vm->hot_demand);
			add_u64(o, "kernel-memory", vm->kernel_memory);
		}
		add_str(o, "reason", vm->reason ? vm->reason : "");
	}
	if (vm->error[0])
		add_str(o, "error", vm->error);
	return o;
}

struct json_object *agent_status_json(const struct agent *a)
{
	struct json_object *o = json_object_new_object();
	struct json_object *conns = json_object_new_array();
	struct json_object *doms = json_object_new_array();
	const struct agent_vm *vm;
	size_t i;

	add_u64(o, "version", 1);
	add_str(o, "config", a->cfg.path ? a->cfg.path : "");
	json_object_object_add(o, "dry-run",
			       json_object_new_boolean(a->dry_run));
	add_u64(o, "interval", a->cfg.interval_s);
	add_u64(o, "round", a->rounds);
	add_u64(o, "last-round", (uint64_t)a->last_round);
	add_u64(o, "budget", a->cfg.budget);
	add_u64(o, "assigned", a->assigned);
	add_u64(o, "held", a->held);
	add_u64(o, "stuck-commands", a->stuck);
	for (i = 0; i < a->nr_conns; i++) {
		const struct agent_conn *c = a->conns[i];
		struct json_object *co = json_object_new_object();

		add_str(co, "uri", c->uri);
		json_object_object_add(co, "connected",
				       json_object_new_boolean(c->conn != NULL));
		if (!c->conn && c->error[0])
			add_str(co, "error", c->error);
		json_object_array_add(conns, co);
	}
	json_object_object_add(o, "connections", conns);
	for (vm = a->vms; vm; vm = vm->next)
		json_object_array_add(doms, vm_json(vm));
	json_object_object_add(o, "domains", doms);
	return o;
}
