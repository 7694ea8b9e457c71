// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * agent_config.c - load and check hballoond's configuration (GLib key file)
 *
 * GKeyFile does all the parsing; everything here is checking what it found.
 * GLib's own typed getters are not strict enough for two kinds of value, so
 * those are read as strings and handed to stricter GLib/htier parsers:
 * g_key_file_get_integer() accepts "5 x" and "+5" (we use
 * g_ascii_string_to_unsigned()), and sizes go through size_parse().
 */
#include "agent_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <glib.h>

#include "size.h"

#define GROUP_HOST		"host"
#define DOMAIN_PREFIX		"domain "
#define DOMAIN_PREFIX_LEN	(sizeof(DOMAIN_PREFIX) - 1)

static const char *const host_keys[] = {
	"fast-budget", "uris", "interval", "granule", "hysteresis",
	"max-move", "keep-total", "socket", "monitor-timeout", "demand-window",
	NULL,
};

static const char *const domain_keys[] = {
	"min", "max", "weight", "fast-node", "slow-node", "uri", NULL,
};

struct ctx {
	const char *file;
	GKeyFile *kf;
	char *err;
	size_t errlen;
};

/* "FILE:GROUP:KEY: message", "FILE:GROUP: message" or "FILE: message". */
static int fail_msg(const char *file, const char *group, const char *key,
		    char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

static int fail_msg(const char *file, const char *group, const char *key,
		    char *err, size_t errlen, const char *fmt, va_list ap)
{
	char *msg;

	if (!err || !errlen)
		return -1;
	msg = g_strdup_vprintf(fmt, ap);
	if (group && key)
		snprintf(err, errlen, "%s:%s:%s: %s", file, group, key, msg);
	else if (group)
		snprintf(err, errlen, "%s:%s: %s", file, group, msg);
	else
		snprintf(err, errlen, "%s: %s", file, msg);
	g_free(msg);
	return -1;
}

static int fail(struct ctx *x, const char *group, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct ctx *x, const char *group, const char *key,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_msg(x->file, group, key, x->err, x->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_file(const char *file, char *err, size_t errlen,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_file(const char *file, char *err, size_t errlen,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_msg(file, NULL, NULL, err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The commonest way to get a value wrong in a key file. */
static const char *hash_hint(const char *value)
{
	return strchr(value, '#') ?
		" ('#' starts a comment only at the beginning of a line: key files have no end-of-line comments)" :
		"";
}

static char *join_keys(const char *const *keys)
{
	return g_strjoinv(", ", (char **)keys);
}

/*
 * Every key of @group is in @known and appears once.  GLib lists a key once
 * per occurrence (the last one wins on lookup), also when it comes from a
 * second copy of the group, which GLib merges into the first.
 */
static int check_keys(struct ctx *x, const char *group,
		      const char *const *known, const char *what)
{
	gsize n = 0, i, j;
	char **keys = g_key_file_get_keys(x->kf, group, &n, NULL);
	int r = 0;

	for (i = 0; i < n && !r; i++) {
		if (!g_strv_contains(known, keys[i])) {
			char *list = join_keys(known);

			r = fail(x, group, keys[i],
				 "unknown key (keys of %s: %s)", what, list);
			g_free(list);
			break;
		}
		for (j = 0; j < i; j++) {
			if (!strcmp(keys[i], keys[j])) {
				r = fail(x, group, keys[i],
					 "set more than once (in the group, or in a second [%s] group, which GLib merges into the first); keep one",
					 group);
				break;
			}
		}
	}
	g_strfreev(keys);
	return r;
}

/* The raw value with trailing white space removed, NULL if absent. */
static char *raw_value(struct ctx *x, const char *group, const char *key)
{
	char *v = g_key_file_get_value(x->kf, group, key, NULL);

	return v ? g_strchomp(v) : NULL;
}

/* 1: read into *@out, 0: absent (*@out untouched), -1: error. */
static int get_size(struct ctx *x, const char *group, const char *key,
		    uint64_t *out)
{
	char *v = raw_value(x, group, key);
	char msg[384];
	int r = 1;

	if (!v)
		return 0;
	if (size_parse(v, out, HB_PAGE_SIZE, msg, sizeof(msg)))
		r = fail(x, group, key, "%s%s", msg, hash_hint(v));
	g_free(v);
	return r;
}

static int get_uint(struct ctx *x, const char *group, const char *key,
		    const char *what, unsigned min, unsigned max,
		    unsigned *out)
{
	char *v = raw_value(x, group, key);
	GError *gerr = NULL;
	guint64 u;
	int r = 1;

	if (!v)
		return 0;
	if (!g_ascii_string_to_unsigned(v, 10, min, max, &u, &gerr)) {
		if (g_error_matches(gerr, G_NUMBER_PARSER_ERROR,
				    G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
			r = fail(x, group, key,
				 "%s is out of range: expected %s, %u..%u",
				 v, what, min, max);
		else
			r = fail(x, group, key,
				 "'%s' is not valid: expected %s, %u..%u (decimal digits only)%s",
				 v, what, min, max, hash_hint(v));
		g_error_free(gerr);
	} else {
		*out = (unsigned)u;
	}
	g_free(v);
	return r;
}

static int get_bool(struct ctx *x, const char *group, const char *key,
		    bool *out)
{
	GError *gerr = NULL;
	gboolean b;

	if (!g_key_file_has_key(x->kf, group, key, NULL))
		return 0;
	b = g_key_file_get_boolean(x->kf, group, key, &gerr);
	if (gerr) {
		char *v = raw_value(x, group, key);

		fail(x, group, key,
		     "'%s' is not a boolean: use true or false (or 1 or 0)%s",
		     v ? v : "", v ? hash_hint(v) : "");
		g_free(v);
		g_error_free(gerr);
		return -1;
	}
	*out = b;
	return 1;
}

/* A string value (GLib escapes applied), trailing white space removed. */
static int get_string(struct ctx *x, const char *group, const char *key,
		      char **out)
{
	GError *gerr = NULL;
	char *s;

	if (!g_key_file_has_key(x->kf, group, key, NULL))
		return 0;
	s = g_key_file_get_string(x->kf, group, key, &gerr);
	if (!s) {
		fail(x, group, key, "%s", gerr->message);
		g_error_free(gerr);
		return -1;
	}
	g_strchomp(s);
	if (!*s) {
		g_free(s);
		return fail(x, group, key, "empty value");
	}
	*out = s;
	return 1;
}

static bool has_space(const char *s)
{
	for (; *s; s++)
		if (g_ascii_isspace(*s))
			return true;
	return false;
}

static int dup_str(struct ctx *x, const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : fail(x, NULL, NULL, "out of memory");
}

static int parse_uris(struct ctx *x, struct agent_config *c)
{
	GError *gerr = NULL;
	gsize n = 0, i, j;
	char **l;
	int r = 0;

	if (!g_key_file_has_key(x->kf, GROUP_HOST, "uris", NULL)) {
		c->uris = calloc(2, sizeof(*c->uris));
		if (!c->uris)
			return fail(x, NULL, NULL, "out of memory");
		c->nr_uris = 1;
		return dup_str(x, AGENT_CONFIG_DEFAULT_URI, &c->uris[0]);
	}
	l = g_key_file_get_string_list(x->kf, GROUP_HOST, "uris", &n, &gerr);
	if (!l && gerr) {
		r = fail(x, GROUP_HOST, "uris", "%s", gerr->message);
		g_error_free(gerr);
		return r;
	}
	if (!l || !n) {
		g_strfreev(l);
		return fail(x, GROUP_HOST, "uris",
			    "empty list: give at least one libvirt URI (several are separated by ';')");
	}
	for (i = 0; i < n && !r; i++) {
		g_strstrip(l[i]);
		if (!*l[i])
			r = fail(x, GROUP_HOST, "uris",
				 "entry %zu is empty (entries are separated by ';')",
				 (size_t)i + 1);
		else if (has_space(l[i]))
			r = fail(x, GROUP_HOST, "uris",
				 "'%s' contains white space (separate URIs with ';')%s",
				 l[i], hash_hint(l[i]));
		for (j = 0; j < i && !r; j++)
			if (!strcmp(l[i], l[j]))
				r = fail(x, GROUP_HOST, "uris",
					 "'%s' is listed twice", l[i]);
	}
	if (!r) {
		c->uris = calloc(n + 1, sizeof(*c->uris));
		if (!c->uris)
			r = fail(x, NULL, NULL, "out of memory");
		for (i = 0; i < n && !r; i++) {
			r = dup_str(x, l[i], &c->uris[i]);
			if (!r)
				c->nr_uris++;
		}
	}
	g_strfreev(l);
	return r;
}

static int parse_host(struct ctx *x, struct agent_config *c)
{
	const char *g = GROUP_HOST;
	char *sock = NULL;
	int r;

	c->granule = AGENT_CONFIG_DEFAULT_GRANULE;
	c->hysteresis = AGENT_CONFIG_DEFAULT_HYSTERESIS;
	c->max_move = AGENT_CONFIG_DEFAULT_MAX_MOVE;
	c->keep_total = true;
	c->interval_s = AGENT_CONFIG_DEFAULT_INTERVAL;
	c->monitor_timeout_s = AGENT_CONFIG_DEFAULT_MON_TIMEOUT;
	c->demand_window_s = AGENT_CONFIG_DEFAULT_DEMAND_WINDOW;

	r = get_size(x, g, "fast-budget", &c->budget);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(x, g, "fast-budget",
			    "missing (required: the host fast memory shared by all managed VMs, e.g. 16G)");
	if (c->budget == 0)
		return fail(x, g, "fast-budget", "must be more than 0");

	r = get_size(x, g, "granule", &c->granule);
	if (r < 0)
		return -1;
	if (c->granule == 0)
		return fail(x, g, "granule", "must be at least 4 KiB");

	if (get_size(x, g, "hysteresis", &c->hysteresis) < 0)
		return -1;

	r = get_size(x, g, "max-move", &c->max_move);
	if (r < 0)
		return -1;
	if (c->max_move < c->granule) {
		char a[SIZE_FMT_LEN], b[SIZE_FMT_LEN];

		return fail(x, g, "max-move",
			    "%s is less than granule %s%s",
			    size_format(c->max_move, a, sizeof(a)),
			    size_format(c->granule, b, sizeof(b)),
			    r ? "" : " (max-move defaults to 512 MiB)");
	}

	if (get_bool(x, g, "keep-total", &c->keep_total) < 0 ||
	    get_uint(x, g, "interval", "a whole number of seconds", 1, 3600,
		     &c->interval_s) < 0 ||
	    get_uint(x, g, "monitor-timeout", "a whole number of seconds",
		     1, 300, &c->monitor_timeout_s) < 0 ||
	    get_uint(x, g, "demand-window", "a whole number of seconds",
		     0, 3600, &c->demand_window_s) < 0)
		return -1;

	if (parse_uris(x, c))
		return -1;

	r = get_string(x, g, "socket", &sock);
	if (r < 0)
		return -1;
	if (r == 0)
		return dup_str(x, AGENT_CONFIG_DEFAULT_SOCKET, &c->socket);
	if (sock[0] != '/')
		r = fail(x, g, "socket", "'%s' is not an absolute path", sock);
	else if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		r = fail(x, g, "socket",
			 "'%s' is too long for a unix socket (at most %zu bytes)",
			 sock, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	else
		r = dup_str(x, sock, &c->socket);
	g_free(sock);
	return r < 0 ? -1 : 0;
}

static int check_granule(struct ctx *x, const char *group, const char *key,
			 uint64_t v, uint64_t granule)
{
	char a[SIZE_FMT_LEN], g[SIZE_FMT_LEN], lo[SIZE_FMT_LEN], hi[SIZE_FMT_LEN];
	uint64_t down = v - v % granule;

	if (!(v % granule))
		return 0;
	size_format(v, a, sizeof(a));
	size_format(granule, g, sizeof(g));
	size_format(down, lo, sizeof(lo));
	if (down > UINT64_MAX - granule)
		return fail(x, group, key,
			    "%s is not a multiple of granule %s (nearest: %s)",
			    a, g, lo);
	return fail(x, group, key,
		    "%s is not a multiple of granule %s (nearest: %s or %s)",
		    a, g, lo, size_format(down + granule, hi, sizeof(hi)));
}

static int parse_domain(struct ctx *x, const char *g, struct agent_config *c,
			struct agent_domain_cfg *d)
{
	char a[SIZE_FMT_LEN], b[SIZE_FMT_LEN];
	unsigned fast = 0, slow = 1;
	char *uri = NULL;
	size_t i;
	int r;

	d->weight = AGENT_CONFIG_DEFAULT_WEIGHT;

	r = get_size(x, g, "min", &d->min);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(x, g, "min",
			    "missing (required: the fast memory this VM always keeps)");
	if (check_granule(x, g, "min", d->min, c->granule))
		return -1;
	r = get_size(x, g, "max", &d->max);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(x, g, "max",
			    "missing (required: the most fast memory this VM may get)");
	if (check_granule(x, g, "max", d->max, c->granule))
		return -1;
	if (d->max < d->min)
		return fail(x, g, "max", "%s is less than min %s",
			    size_format(d->max, a, sizeof(a)),
			    size_format(d->min, b, sizeof(b)));

	if (get_uint(x, g, "weight", "a whole number", 1, 1000,
		     &d->weight) < 0 ||
	    get_uint(x, g, "fast-node", "a guest NUMA node id", 0,
		     AGENT_CONFIG_MAX_NODE, &fast) < 0 ||
	    get_uint(x, g, "slow-node", "a guest NUMA node id", 0,
		     AGENT_CONFIG_MAX_NODE, &slow) < 0)
		return -1;
	if (fast == slow)
		return fail(x, g, "slow-node",
			    "fast-node and slow-node are both %u (they default to 0 and 1)",
			    fast);
	d->fast_node = (int)fast;
	d->slow_node = (int)slow;

	r = get_string(x, g, "uri", &uri);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	for (i = 0; i < c->nr_uris; i++)
		if (!strcmp(uri, c->uris[i]))
			break;
	if (i == c->nr_uris) {
		char *list = g_strjoinv("; ", c->uris);

		r = fail(x, g, "uri",
			 "'%s' is not one of [host] uris (%s): this domain would never match",
			 uri, list);
		g_free(list);
	} else {
		r = dup_str(x, uri, &d->uri);
	}
	g_free(uri);
	return r < 0 ? -1 : 0;
}

/* The domain name of group @g, or NULL (error set) if it is not a usable one. */
static const char *domain_name(struct ctx *x, const char *g)
{
	const char *name = g + DOMAIN_PREFIX_LEN;

	if (!*name) {
		fail(x, g, NULL, "a domain group needs the VM's name: [domain NAME]");
		return NULL;
	}
	if (g_ascii_isspace(name[0]) || g_ascii_isspace(name[strlen(name) - 1])) {
		fail(x, g, NULL,
		     "domain name '%s' begins or ends with white space", name);
		return NULL;
	}
	return name;
}

static bool is_domain_group(const char *g)
{
	return !strncmp(g, DOMAIN_PREFIX, DOMAIN_PREFIX_LEN);
}

static int check_budget(struct ctx *x, const struct agent_config *c)
{
	char a[SIZE_FMT_LEN], b[SIZE_FMT_LEN];
	uint64_t sum = 0;
	bool over = false;
	size_t i;

	for (i = 0; i < c->nr_domains; i++)
		if (__builtin_add_overflow(sum, c->domains[i].min, &sum))
			over = true;
	if (!over && sum <= c->budget)
		return 0;
	if (over)
		return fail(x, GROUP_HOST, "fast-budget",
			    "the sum of the %zu domains' min is more than 16 EiB (2^64 bytes), more than fast-budget %s",
			    c->nr_domains, size_format(c->budget, b, sizeof(b)));
	return fail(x, GROUP_HOST, "fast-budget",
		    "the sum of the %zu domains' min is %s (%llu bytes), more than fast-budget %s (%llu bytes)",
		    c->nr_domains, size_format(sum, a, sizeof(a)),
		    (unsigned long long)sum, size_format(c->budget, b, sizeof(b)),
		    (unsigned long long)c->budget);
}

static int load_keyfile(struct ctx *x, struct agent_config *c)
{
	gsize ng = 0, i, nd = 0;
	char **groups = g_key_file_get_groups(x->kf, &ng);
	bool host = false;
	int r = 0;

	/* first the shape: known groups, known keys, each once */
	for (i = 0; i < ng && !r; i++) {
		const char *g = groups[i];

		if (!strcmp(g, GROUP_HOST)) {
			host = true;
			r = check_keys(x, g, host_keys, "[host]");
		} else if (is_domain_group(g)) {
			nd++;
			r = domain_name(x, g) ? check_keys(x, g, domain_keys,
							   "[domain NAME]") : -1;
		} else if (!strcmp(g, "domain")) {
			r = fail(x, g, NULL,
				 "a domain group needs the VM's name: [domain NAME]");
		} else {
			r = fail(x, g, NULL,
				 "unknown group (expected [host] or [domain NAME])");
		}
	}
	if (!r && !host)
		r = fail(x, NULL, NULL,
			 "no [host] group (it must set at least fast-budget)");
	if (!r)
		r = parse_host(x, c);
	if (!r && nd) {
		c->domains = calloc(nd, sizeof(*c->domains));
		if (!c->domains)
			r = fail(x, NULL, NULL, "out of memory");
	}
	for (i = 0; i < ng && !r; i++) {
		struct agent_domain_cfg *d;

		if (!is_domain_group(groups[i]))
			continue;
		d = &c->domains[c->nr_domains++];
		r = dup_str(x, groups[i] + DOMAIN_PREFIX_LEN, &d->name);
		if (!r)
			r = parse_domain(x, groups[i], c, d);
	}
	if (!r)
		r = check_budget(x, c);
	g_strfreev(groups);
	return r;
}

int agent_config_load_data(const char *data, size_t len, const char *name,
			   struct agent_config *out, char *err, size_t errlen)
{
	struct agent_config c = { 0 };
	struct ctx x = { .err = err, .errlen = errlen };
	GError *gerr = NULL;
	int r;

	x.file = name ? name : "(configuration)";
	if (!data)
		data = "";
	if (memchr(data, '\0', len))
		return fail(&x, NULL, NULL, "contains a NUL byte; not a text file");

	x.kf = g_key_file_new();
	/*
	 * KEEP_TRANSLATIONS: without it GLib silently drops "key[xx]" lines
	 * for languages other than the current locale's; kept, they are
	 * refused as unknown keys.
	 */
	if (!g_key_file_load_from_data(x.kf, data, len,
				       G_KEY_FILE_KEEP_TRANSLATIONS, &gerr)) {
		r = fail(&x, NULL, NULL, "%s", gerr->message);
		g_error_free(gerr);
	} else {
		r = load_keyfile(&x, &c);
	}
	g_key_file_free(x.kf);
	if (!r)
		r = dup_str(&x, x.file, &c.path);
	if (r) {
		agent_config_free(&c);
		return -1;
	}
	*out = c;
	return 0;
}

int agent_config_load(const char *path, struct agent_config *out,
		      char *err, size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	FILE *f;
	int r;

	if (!path)
		path = AGENT_CONFIG_PATH;
	f = fopen(path, "re");
	if (!f)
		return fail_file(path, err, errlen, "cannot open: %s",
				 strerror(errno));
	for (;;) {
		size_t got;

		if (len == cap) {
			char *nb;

			if (cap > AGENT_CONFIG_MAX_FILE) {
				free(buf);
				fclose(f);
				return fail_file(path, err, errlen,
						 "larger than %u bytes; not a configuration file?",
						 AGENT_CONFIG_MAX_FILE);
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return fail_file(path, err, errlen, "out of memory");
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got)
			continue;
		if (ferror(f)) {
			int e = errno;

			free(buf);
			fclose(f);
			return fail_file(path, err, errlen, "cannot read: %s",
					 strerror(e));
		}
		break;
	}
	fclose(f);
	if (len > AGENT_CONFIG_MAX_FILE) {
		free(buf);
		return fail_file(path, err, errlen,
				 "larger than %u bytes; not a configuration file?",
				 AGENT_CONFIG_MAX_FILE);
	}
	r = agent_config_load_data(buf, len, path, out, err, errlen);
	free(buf);
	return r;
}

void agent_config_free(struct agent_config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->path);
	for (i = 0; c->uris && c->uris[i]; i++)
		free(c->uris[i]);
	free(c->uris);
	free(c->socket);
	for (i = 0; i < c->nr_domains; i++) {
		free(c->domains[i].name);
		free(c->domains[i].uri);
	}
	free(c->domains);
	memset(c, 0, sizeof(*c));
}

const struct agent_domain_cfg *agent_config_domain(const struct agent_config *c,
						   const char *uri,
						   const char *name)
{
	size_t i;

	if (!c || !name)
		return NULL;
	for (i = 0; i < c->nr_domains; i++) {
		const struct agent_domain_cfg *d = &c->domains[i];

		if (strcmp(d->name, name))
			continue;
		if (d->uri && (!uri || strcmp(d->uri, uri)))
			continue;
		return d;
	}
	return NULL;
}
