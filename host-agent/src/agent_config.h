/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agent_config.h - hballoond's configuration file
 *
 * A GLib key file (/etc/htier/hballoond.conf by default; the annotated
 * hballoond.conf.example documents every key).  One [host] group and one
 * [domain NAME] group per managed VM:
 *
 *   [host]
 *   fast-budget = 2G
 *   uris = qemu:///system
 *
 *   [domain web 1]
 *   min = 256M
 *   max = 1G
 *
 * The file is parsed by GLib's GKeyFile; this module only checks what it
 * finds.  It is strict so that a typo never silently changes policy:
 *
 *  - unknown groups and unknown keys are errors;
 *  - sizes are binary (K/M/G/T = KiB/MiB/GiB/TiB, size_parse()), SI
 *    spellings ("1GB") are refused, every size is a multiple of 4 KiB and
 *    a domain's min and max are multiples of the granule;
 *  - integers are plain decimal, nothing after them but white space;
 *  - booleans are GLib's: exactly true, false, 1 or 0;
 *  - a key given twice in a group is an error.  GLib merges groups that
 *    appear twice ([domain web] ... [domain web]) into one; a key set in
 *    both copies is caught by the previous rule, keys set in only one copy
 *    simply add up;
 *  - GLib key files have no end-of-line comments: "max = 1G # note" is the
 *    value "1G # note", which is refused (the message says why).
 *
 * Error messages are one line, "FILE:GROUP:KEY: message", "FILE:GROUP:
 * message" or "FILE: message" (GLib reports no line numbers), e.g.
 *
 *   /etc/htier/hballoond.conf:domain web:max: size '1GB': unit 'GB' is ...
 *   /etc/htier/hballoond.conf:host:fast-budget: missing (required: ...)
 *
 * Nothing here depends on GLib's headers: the structures use plain C types
 * and memory the caller frees with agent_config_free().
 */
#ifndef HBALLOOND_AGENT_CONFIG_H
#define HBALLOOND_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_CONFIG_PATH		"/etc/htier/hballoond.conf"
#define AGENT_CONFIG_DEFAULT_URI	"qemu:///system"
#define AGENT_CONFIG_DEFAULT_SOCKET	"/run/htier/hballoond.sock"
#define AGENT_CONFIG_DEFAULT_INTERVAL	5		/* seconds, 1..3600 */
#define AGENT_CONFIG_DEFAULT_GRANULE	(2ULL << 20)
#define AGENT_CONFIG_DEFAULT_HYSTERESIS	(64ULL << 20)
#define AGENT_CONFIG_DEFAULT_MAX_MOVE	(512ULL << 20)
#define AGENT_CONFIG_DEFAULT_MON_TIMEOUT 10		/* seconds, 1..300 */
#define AGENT_CONFIG_DEFAULT_DEMAND_WINDOW 30		/* seconds, 0..3600 */
#define AGENT_CONFIG_DEFAULT_WEIGHT	100		/* 1..1000 */
#define AGENT_CONFIG_MAX_NODE		63

/* Configuration files larger than this are refused. */
#define AGENT_CONFIG_MAX_FILE		(1U << 20)

/**
 * struct agent_domain_cfg - one [domain NAME] group
 * @name:      the libvirt domain name (group name after "domain "; may
 *             contain spaces, never begins or ends with white space)
 * @uri:       only match the domain on this connection (one of
 *             agent_config.uris, compared as a string); NULL: any
 * @min:       fast-node bytes the VM always keeps, multiple of granule
 * @max:       fast-node bytes it may grow to, multiple of granule, >= @min
 * @weight:    share of the contended fast memory, 1..1000
 * @fast_node: guest NUMA node of the fast tier, 0..63
 * @slow_node: guest NUMA node of the slow tier, 0..63, != @fast_node
 */
struct agent_domain_cfg {
	char *name;
	char *uri;
	uint64_t min, max;
	unsigned weight;
	int fast_node, slow_node;
};

/**
 * struct agent_config - a loaded configuration
 * @path:       the file it came from (the name given to _load_data())
 * @budget:     [host] fast-budget, bytes (> 0, >= the sum of the mins)
 * @granule:    allocation granule, bytes (multiple of 4 KiB, > 0)
 * @hysteresis: bytes, 0 allowed
 * @max_move:   cap on fast bytes changed per round (>= @granule)
 * @keep_total: fast shrinks wait for the slow node to grow
 * @interval_s: seconds between rounds, 1..3600
 * @monitor_timeout_s: seconds a monitor command may take, 1..300
 * @demand_window_s: seconds of demand reports a VM is sized by, 0..3600
 *              (policy_demand_peak())
 * @uris:       libvirt URIs to connect to, @nr_uris >= 1 of them, distinct,
 *              NULL-terminated
 * @socket:     status socket path (absolute, fits sockaddr_un)
 * @domains:    the [domain NAME] groups in file order, @nr_domains (may be 0)
 *
 * Every size is a multiple of 4 KiB.  All memory is malloc'd; free it with
 * agent_config_free().
 */
struct agent_config {
	char *path;
	uint64_t budget, granule, hysteresis, max_move;
	bool keep_total;
	unsigned interval_s, monitor_timeout_s, demand_window_s;
	char **uris;
	size_t nr_uris;
	char *socket;
	struct agent_domain_cfg *domains;
	size_t nr_domains;
};

/**
 * agent_config_load() - read and check a configuration file
 * @path:   the file (AGENT_CONFIG_PATH if NULL)
 * @out:    filled on success (its old contents are overwritten, not freed)
 * @err:    on failure, a one-line message naming @path (no newline); may be
 *          NULL
 * @errlen: size of @err
 *
 * On failure @out is not modified and nothing is leaked, so a reload can
 * load into a new structure and keep the old one when the file is bad.
 *
 * Return: 0 on success, -1 on error.
 */
int agent_config_load(const char *path, struct agent_config *out,
		      char *err, size_t errlen);

/**
 * agent_config_load_data() - check a configuration held in memory
 * @data: the file's contents (need not be NUL-terminated)
 * @len:  their length in bytes
 * @name: what to call them in messages and in @out->path
 *
 * As agent_config_load() otherwise.
 */
int agent_config_load_data(const char *data, size_t len, const char *name,
			   struct agent_config *out, char *err, size_t errlen);

/**
 * agent_config_free() - free what a successful load allocated
 *
 * Leaves *@c zeroed; safe on a zeroed structure and on NULL.
 */
void agent_config_free(struct agent_config *c);

/**
 * agent_config_domain() - the [domain NAME] group for a running domain
 * @c:    the configuration
 * @uri:  the connection (as in @c->uris) the domain was found on; NULL:
 *        unknown, which only matches groups without a uri key
 * @name: the domain's name (exact, case-sensitive)
 *
 * Return: the group, or NULL if the domain is not managed.
 */
const struct agent_domain_cfg *agent_config_domain(const struct agent_config *c,
						   const char *uri,
						   const char *name);

#endif /* HBALLOOND_AGENT_CONFIG_H */
