// SPDX-License-Identifier: GPL-2.0
/*
 * kvclient: a Zipfian GET/SET client for redis-server over a unix socket.
 *
 *   kvclient [-x socket] [-k keys] [-V value_bytes] [-z theta] [-w set_pct]
 *            [-P pipeline] [-s seed] [-d seconds] [-n node] [-S factor] [-C]
 *
 * Speaks RESP itself (no hiredis).  Connects to -x (default /tmp/redis.sock,
 * waiting up to 60 s for the server to appear), empties the database and
 * loads -k keys "key:<i>" (default: 400 MiB of values at -S 1, i.e.
 * 419430 keys of -V 1000 bytes; -S multiplies the key count), each value a
 * deterministic function of (key, version), version 0.  Then, for -d seconds
 * (default 60; SIGTERM/SIGINT end it early), issues GETs and, with
 * probability -w percent (default 5), SETs that bump the key's version; keys
 * come from YCSB's scrambled Zipfian generator (Gray et al.'s Zipfian over
 * the key count, theta -z, default 0.99, ranks hashed with FNV-1a so the hot
 * keys are scattered).  -P requests travel in each pipelined batch (default
 * 32).  Every GET reply is compared with the value expected for the key's
 * current version (tracked here); at the end every key is read back once more
 * and checked, unless -C.
 *
 * redis-server holds the data, so -n cannot be a first-touch policy here:
 * with -n NODE, after loading, kvclient moves all of the server's memory to
 * NODE with migrate_pages(2) (pid from INFO), which leaves no policy behind,
 * so placement systems may move the pages afterwards.
 *
 * Output: keys=.. value_bytes=..; loaded ... seconds=..; rss_bytes=<server
 * RSS> used_memory=..; event=ready t=<s> mono=<CLOCK_MONOTONIC s>;
 * `t=<s> ops_s=<GET+SET per second>` once a second; `event=end t=<s>`
 * when the measured phase is over;
 * gets=.. sets=.. mismatches=.. errors=..; verify=ok, or
 * verify=FAILED <why> (exit 1) on any mismatch, error reply or lost
 * connection.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "workload.h"

#define MIB (1024UL * 1024)
#define GOLDEN 0x9e3779b97f4a7c15ULL
#define MAX_PIPE 1024

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += GOLDEN);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void die(const char *why)
{
	printf("verify=FAILED %s\n", why);
	exit(1);
}

/* ------------------------------------------------------------ connection */

struct conn {
	int fd;
	char *in, *out;
	size_t in_cap, rpos, wpos, out_cap, out_len;
};

static void out_put(struct conn *c, const void *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		c->out_cap = (c->out_len + n) * 2;
		c->out = realloc(c->out, c->out_cap);
		if (!c->out)
			die("out of memory");
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

static void out_flush(struct conn *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		ssize_t r = write(c->fd, c->out + done, c->out_len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("write to the server failed");
		done += r;
	}
	c->out_len = 0;
}

/* Read more input; keeps the unread bytes, whose address may change. */
static void in_fill(struct conn *c)
{
	ssize_t r;

	if (c->rpos) {
		memmove(c->in, c->in + c->rpos, c->wpos - c->rpos);
		c->wpos -= c->rpos;
		c->rpos = 0;
	}
	if (c->wpos == c->in_cap) {
		c->in_cap *= 2;
		c->in = realloc(c->in, c->in_cap);
		if (!c->in)
			die("out of memory");
	}
	do
		r = read(c->fd, c->in + c->wpos, c->in_cap - c->wpos);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		die("connection to the server lost");
	c->wpos += r;
}

/* The next line without its CRLF, NUL-terminated in place. */
static char *in_line(struct conn *c)
{
	char *p, *nl;

	while (!(nl = memchr(c->in + c->rpos, '\n', c->wpos - c->rpos)))
		in_fill(c);
	p = c->in + c->rpos;
	if (nl == p || nl[-1] != '\r')
		die("malformed reply (line without CRLF)");
	nl[-1] = 0;
	c->rpos = nl + 1 - c->in;
	return p;
}

static char *in_take(struct conn *c, size_t n)
{
	char *p;

	while (c->wpos - c->rpos < n)
		in_fill(c);
	p = c->in + c->rpos;
	c->rpos += n;
	return p;
}

/*
 * One reply: '+' and '-' give the text in *str; '$' the bulk string (NULL
 * and len -1 for nil); ':' the number in len.  Arrays are not needed here.
 * The pointer stays valid until the next reply is read.
 */
struct reply {
	char type;
	long long len;
	char *str;
};

static void read_reply(struct conn *c, struct reply *r)
{
	char *line = in_line(c);

	r->type = line[0];
	r->str = line + 1;
	r->len = strlen(line + 1);
	switch (r->type) {
	case '+':
	case '-':
		break;
	case ':':
		r->len = strtoll(line + 1, NULL, 10);
		break;
	case '$':
		r->len = strtoll(line + 1, NULL, 10);
		if (r->len < 0) {
			r->str = NULL;
			break;
		}
		r->str = in_take(c, r->len + 2);
		if (r->str[r->len] != '\r' || r->str[r->len + 1] != '\n')
			die("malformed reply (bulk string without CRLF)");
		break;
	default:
		die("unexpected reply type");
	}
}

static void put_arg(struct conn *c, const char *s, size_t n)
{
	char hdr[32];

	out_put(c, hdr, snprintf(hdr, sizeof(hdr), "$%zu\r\n", n));
	out_put(c, s, n);
	out_put(c, "\r\n", 2);
}

/* A command of up to 3 arguments (a NULL ends the list early). */
static void command(struct conn *c, const char *a0, const char *a1, size_t l1,
		    const char *a2, size_t l2)
{
	char hdr[16];
	int argc = 1 + !!a1 + !!a2;

	out_put(c, hdr, snprintf(hdr, sizeof(hdr), "*%d\r\n", argc));
	put_arg(c, a0, strlen(a0));
	if (a1)
		put_arg(c, a1, l1);
	if (a2)
		put_arg(c, a2, l2);
}

static int connect_unix(const char *path, double wait_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double t0 = now();
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("socket path too long");
	strcpy(sa.sun_path, path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("socket");
			exit(1);
		}
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		if (now() - t0 > wait_s || stop) {
			fprintf(stderr, "kvclient: connect %s: %s\n", path, strerror(errno));
			die("cannot connect to the server");
		}
		usleep(100000);
	}
}

/* A field of INFO's reply ("name:value" lines), or -1. */
static long long info_field(struct conn *c, const char *section, const char *name)
{
	struct reply r;
	char *p;
	size_t n = strlen(name);

	command(c, "INFO", section, strlen(section), NULL, 0);
	out_flush(c);
	read_reply(c, &r);
	if (r.type != '$' || !r.str)
		return -1;
	r.str[r.len] = 0;
	for (p = r.str; (p = strstr(p, name)); p += n)
		if ((p == r.str || p[-1] == '\n') && p[n] == ':')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/* ------------------------------------------------------------- key space */

static uint64_t nkeys, vbytes;
static uint32_t *version;

static size_t key_name(char *buf, uint64_t key)
{
	return sprintf(buf, "key:%lu", (unsigned long)key);
}

/* The value of key at version v: "<key>:<v>:" then pseudo-random bytes. */
static void make_value(char *buf, uint64_t key, uint32_t v)
{
	uint64_t s = (key << 32 | v) * 0xff51afd7ed558ccdULL, i, r;
	char head[48];
	int h = snprintf(head, sizeof(head), "%lu:%u:", (unsigned long)key, v);

	for (i = 0; i + 8 <= vbytes; i += 8) {
		r = splitmix(&s);
		memcpy(buf + i, &r, 8);
	}
	r = splitmix(&s);
	memcpy(buf + i, &r, vbytes - i);
	memcpy(buf, head, (uint64_t)h < vbytes ? (uint64_t)h : vbytes);
}

/* YCSB's ZipfianGenerator (Gray et al., SIGMOD'94) and its FNV scrambling. */
struct zipf {
	double theta, zetan, alpha, eta, half_pow;
	uint64_t n;
};

static void zipf_init(struct zipf *z, uint64_t n, double theta)
{
	double zeta2 = 1 + pow(0.5, theta);

	z->n = n;
	z->theta = theta;
	z->zetan = 0;
	for (uint64_t i = 1; i <= n; i++)
		z->zetan += 1 / pow(i, theta);
	z->alpha = 1 / (1 - theta);
	z->eta = (1 - pow(2.0 / n, 1 - theta)) / (1 - zeta2 / z->zetan);
	z->half_pow = pow(0.5, theta);
}

static uint64_t zipf_next(struct zipf *z, uint64_t *rng)
{
	double u = (splitmix(rng) >> 11) * 0x1.0p-53, uz = u * z->zetan;
	uint64_t r;

	if (uz < 1)
		return 0;
	if (uz < 1 + z->half_pow)
		return 1;
	r = z->n * pow(z->eta * u - z->eta + 1, z->alpha);
	return r < z->n ? r : z->n - 1;
}

static uint64_t fnv64(uint64_t v)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < 8; i++) {
		h ^= v & 0xff;
		v >>= 8;
		h *= 1099511628211ULL;
	}
	return h;
}

/* -------------------------------------------------------------- requests */

struct slot {
	uint64_t key;
	uint32_t version;
	char set;
};

static uint64_t gets, sets, mismatches, errors;
static char *value_buf;

/* Checks the replies of the n requests in slots[]. */
static void check_replies(struct conn *c, const struct slot *slots, int n)
{
	struct reply r;

	for (int i = 0; i < n; i++) {
		const struct slot *s = &slots[i];

		read_reply(c, &r);
		if (r.type == '-') {
			if (errors++ < 5)
				printf("error key=%lu reply=\"%.100s\"\n", (unsigned long)s->key, r.str);
			continue;
		}
		if (s->set) {
			sets++;
			if (r.type != '+' || strcmp(r.str, "OK")) {
				if (errors++ < 5)
					printf("error key=%lu set reply type %c\n", (unsigned long)s->key, r.type);
			}
			continue;
		}
		gets++;
		make_value(value_buf, s->key, s->version);
		if (r.type != '$' || (uint64_t)r.len != vbytes ||
		    memcmp(r.str, value_buf, vbytes)) {
			if (mismatches++ < 5) {
				char got[25] = "(nil)";

				for (int j = 0; r.str && j < 24; j++)
					got[j] = j >= r.len ? 0 :
						 r.str[j] >= 32 && r.str[j] < 127 ? r.str[j] : '.';
				printf("mismatch key=%lu expected_version=%u got_len=%lld got=\"%s\"\n",
				       (unsigned long)s->key, s->version, r.len, got);
			}
		}
	}
}

/* A GET, or with @set a SET of the key's next version (of version 0: @load). */
static void issue(struct conn *c, struct slot *s, uint64_t key, int set, int load)
{
	char kbuf[32];
	size_t kl = key_name(kbuf, key);

	s->key = key;
	s->set = set;
	if (set) {
		s->version = load ? 0 : ++version[key];
		make_value(value_buf, key, s->version);
		command(c, "SET", kbuf, kl, value_buf, vbytes);
	} else {
		s->version = version[key];
		command(c, "GET", kbuf, kl, NULL, 0);
	}
}

/* Nodes 0..63 that exist, as a mask. */
static unsigned long node_mask(void)
{
	unsigned long mask = 0;
	char path[64];

	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", i);
		if (!access(path, F_OK))
			mask |= 1UL << i;
	}
	return mask;
}

int main(int argc, char **argv)
{
	const char *sock = "/tmp/redis.sock";
	double theta = 0.99, factor = 1, dur = 60, t0, t_ready, t = 0, last_t = 0;
	double next_tick = 1;
	long long keys = -1, pid;
	uint64_t seed = 1, rng, w_thr, ops = 0, last_ops = 0, k;
	int set_pct = 5, pipe = 32, node = -1, final_check = 1, opt;
	struct slot slots[MAX_PIPE];
	struct reply r;
	struct conn c = { 0 };
	struct zipf z;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vbytes = 1000;
	while ((opt = getopt(argc, argv, "x:k:V:z:w:P:s:d:n:S:C")) != -1) {
		switch (opt) {
		case 'x': sock = optarg; break;
		case 'k': keys = atoll(optarg); break;
		case 'V': vbytes = atol(optarg); break;
		case 'z': theta = strtod(optarg, NULL); break;
		case 'w': set_pct = atoi(optarg); break;
		case 'P': pipe = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'd': dur = strtod(optarg, NULL); break;
		case 'n': node = atoi(optarg); break;
		case 'S': factor = strtod(optarg, NULL); break;
		case 'C': final_check = 0; break;
		default:
			fprintf(stderr, "usage: %s [-x socket] [-k keys] [-V value_bytes] [-z theta] [-w set_pct]\n"
				"       [-P pipeline] [-s seed] [-d seconds] [-n node] [-S factor] [-C]\n",
				argv[0]);
			return 2;
		}
	}
	if (keys < 0)
		keys = vbytes ? 400 * MIB / vbytes : 0;
	nkeys = keys * factor;
	if (nkeys < 2 || nkeys > UINT32_MAX || vbytes < 16 || vbytes > 64 * MIB ||
	    theta <= 0 || theta >= 1 || set_pct < 0 || set_pct > 100 || pipe < 1 ||
	    pipe > MAX_PIPE || node > 63 || factor <= 0) {
		fprintf(stderr, "kvclient: bad option value\n");
		return 2;
	}
	t0 = now();
	catch_stop();
	signal(SIGPIPE, SIG_IGN);
	version = calloc(nkeys, sizeof(*version));
	value_buf = malloc(vbytes + 8);
	c.in_cap = 2 * vbytes + 65536;
	c.in = malloc(c.in_cap);
	if (!version || !value_buf || !c.in)
		die("out of memory");
	zipf_init(&z, nkeys, theta);
	rng = seed;
	w_thr = ((uint64_t)set_pct << 32) / 100;
	printf("keys=%lu value_bytes=%lu theta=%g set_pct=%d pipeline=%d\n",
	       (unsigned long)nkeys, (unsigned long)vbytes, theta, set_pct, pipe);

	c.fd = connect_unix(sock, 60);
	pid = info_field(&c, "server", "process_id");
	command(&c, "FLUSHALL", NULL, 0, NULL, 0);
	out_flush(&c);
	read_reply(&c, &r);
	if (r.type != '+')
		die("FLUSHALL failed");
	for (k = 0; k < nkeys; ) {
		int n = 0;

		for (; n < pipe && k < nkeys; n++, k++)
			issue(&c, &slots[n], k, 1, 1);
		out_flush(&c);
		check_replies(&c, slots, n);
		if (stop)
			die("interrupted while loading");
	}
	sets = 0;
	printf("loaded keys=%lu seconds=%.1f\n", (unsigned long)nkeys, now() - t0);
	printf("rss_bytes=%lld used_memory=%lld server_pid=%lld\n",
	       info_field(&c, "memory", "used_memory_rss"),
	       info_field(&c, "memory", "used_memory"), pid);
	if (node >= 0) {
		unsigned long to = 1UL << node, from = node_mask() & ~to;
		double tm = now();
		long left;

		if (pid <= 0)
			die("no server pid for -n");
		left = syscall(SYS_migrate_pages, (int)pid, 64, &from, &to);
		if (left < 0) {
			perror("migrate_pages");
			die("migrate_pages failed");
		}
		printf("migrated node=%d pages_left=%ld seconds=%.1f\n", node, left, now() - tm);
	}

	t_ready = now();
	printf("event=ready t=%.1f mono=%.3f\n", t_ready - t0, t_ready);
	while (!stop && (!dur || t < dur)) {
		for (int i = 0; i < pipe; i++) {
			uint64_t key = fnv64(zipf_next(&z, &rng)) % nkeys;

			issue(&c, &slots[i], key, (splitmix(&rng) & 0xffffffff) < w_thr, 0);
		}
		out_flush(&c);
		check_replies(&c, slots, pipe);
		ops += pipe;
		t = now() - t_ready;
		if (t >= next_tick) {
			printf("t=%.1f ops_s=%.0f\n", t, (ops - last_ops) / (t - last_t));
			last_ops = ops;
			last_t = t;
			next_tick = floor(t) + 1;
		}
	}
	printf("event=end t=%.1f\n", t);
	printf("gets=%lu sets=%lu seconds=%.1f\n", (unsigned long)gets, (unsigned long)sets, t);
	if (final_check) {
		double tc = now();
		uint64_t before = gets;

		stop = 0;
		for (k = 0; k < nkeys; ) {
			int n = 0;

			for (; n < pipe && k < nkeys; n++, k++)
				issue(&c, &slots[n], k, 0, 0);
			out_flush(&c);
			check_replies(&c, slots, n);
		}
		printf("final_check keys=%lu seconds=%.1f\n", (unsigned long)(gets - before),
		       now() - tc);
	}
	printf("mismatches=%lu errors=%lu\n", (unsigned long)mismatches, (unsigned long)errors);
	if (mismatches || errors) {
		printf("verify=FAILED %lu mismatches, %lu errors\n", (unsigned long)mismatches,
		       (unsigned long)errors);
		return 1;
	}
	printf("verify=ok\n");
	return 0;
}
