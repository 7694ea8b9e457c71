// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-qmp.c - the QMP client against scripted peers
 *
 * Each case makes a socketpair: the client side goes to qmp_open_fd(), the
 * test plays QEMU on the other.  Most scripts are written into the socket
 * before the client runs (the kernel buffers them); timing-sensitive ones
 * (byte-by-byte delivery, huge messages) come from a forked writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "tap.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_OK "{\"return\": {}, \"id\": 1}\r\n"

struct pair {
	struct qmp *q;
	int peer;
};

static struct pair pair_new(void)
{
	struct pair p = { NULL, -1 };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("socketpair");
		exit(2);
	}
	p.q = qmp_open_fd(sv[0]);
	p.peer = sv[1];
	return p;
}

static void pair_free(struct pair *p)
{
	qmp_close(p->q);
	if (p->peer >= 0)
		close(p->peer);
}

static void put(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w <= 0) {
			perror("write");
			exit(2);
		}
		s += w;
		n -= (size_t)w;
	}
}

/* Everything the client wrote so far (non-blocking drain). */
static char *drain(int fd)
{
	static char buf[65536];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

struct events {
	int n;
	char names[8][64];
};

static void on_event(struct json_object *ev, void *opaque)
{
	struct events *e = opaque;
	struct json_object *v;

	if (e->n < 8 && json_object_object_get_ex(ev, "event", &v))
		snprintf(e->names[e->n], sizeof(e->names[0]), "%s",
			 json_object_get_string(v));
	e->n++;
}

static int handshaken(struct pair *p)
{
	struct qmp_error err;

	put(p->peer, GREETING CAPS_OK);
	return qmp_handshake(p->q, 1000, &err);
}

static void t_handshake(void)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	struct json_object *g, *v;
	int r;

	put(p.peer, GREETING CAPS_OK);
	r = qmp_handshake(p.q, 1000, &err);
	tap_ok(r == QMP_OK, "handshake: greeting + qmp_capabilities");
	g = qmp_greeting(p.q);
	tap_ok(g && json_object_object_get_ex(g, "version", &v),
	       "handshake: greeting kept");
	tap_ok(strstr(drain(p.peer), "\"execute\":\"qmp_capabilities\"") != NULL,
	       "handshake: client sent qmp_capabilities");
	pair_free(&p);
}

static void expect(const char *name, const char *script, bool close_peer,
		   int want, const char *needle)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	int r;

	put(p.peer, script);
	if (close_peer) {
		close(p.peer);
		p.peer = -1;
	}
	r = qmp_handshake(p.q, 300, &err);
	if (!tap_ok(r == want && (int)err.status == want && strstr(err.msg, needle),
		    "%s -> %s: %s", name, qmp_status_name(want), needle))
		tap_diag("got %s: '%s'", qmp_status_name(r), err.msg);
	pair_free(&p);
}

static void t_handshake_errors(void)
{
	expect("greeting without QMP key", "{\"hello\": 1}\r\n", false,
	       QMP_ERR_PROTO, "not a QMP greeting");
	expect("HMP banner", "QEMU 10.0.2 monitor - type 'help' for more information\r\n(qemu) ",
	       false, QMP_ERR_PROTO, "does not speak QMP");
	expect("HMP banner names the socket kind", "QEMU 10.0.2 monitor\r\n",
	       false, QMP_ERR_PROTO, "-qmp socket");
	expect("no greeting", "", false, QMP_ERR_TIMEOUT, "no QMP greeting");
	expect("no greeting hints at a second client", "", false,
	       QMP_ERR_TIMEOUT, "one client at a time");
	expect("closed before greeting", "", true, QMP_ERR_CLOSED,
	       "before its QMP greeting");
	expect("closed inside greeting", "{\"QMP\": {\"vers", true,
	       QMP_ERR_CLOSED, "before its QMP greeting");
	expect("capabilities refused",
	       GREETING "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}, \"id\": 1}\r\n",
	       false, QMP_ERR_CMD, "nope");
	expect("no reply to qmp_capabilities", GREETING, false,
	       QMP_ERR_TIMEOUT, "no reply to 'qmp_capabilities'");
	expect("closed after greeting", GREETING, true, QMP_ERR_CLOSED,
	       "closed the connection");
}

static void t_execute(void)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	struct events ev = { 0 };
	struct json_object *ret = NULL, *args, *v;
	const char *sent;
	int r;

	qmp_set_event_handler(p.q, on_event, &ev);
	handshaken(&p);
	drain(p.peer);
	/* events, a stale reply and a stale error before the real reply */
	put(p.peer,
	    "{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 0}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n"
	    "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": 1, \"actual\": 4096}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 3}}"
	    "{\"return\": {\"stale\": true}, \"id\": 77}"
	    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"stale\"}, \"id\": 78}\r\n"
	    "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 4}}\n"
	    "{\"return\": {\"answer\": 42}, \"id\": 2}\r\n");
	args = json_object_new_object();
	json_object_object_add(args, "node", json_object_new_int(1));
	json_object_object_add(args, "size", json_object_new_uint64(UINT64_MAX - 4095));
	r = qmp_execute(p.q, "hballoon-set", args, 1000, &ret, &err);
	json_object_put(args);
	tap_ok(r == QMP_OK, "execute: reply found behind events and stale replies");
	tap_ok(ret && json_object_object_get_ex(ret, "answer", &v) &&
	       json_object_get_int(v) == 42, "execute: return value handed back");
	tap_ok(ev.n == 3 && !strcmp(ev.names[0], "RTC_CHANGE") &&
	       !strcmp(ev.names[1], "HBALLOON_CHANGE") && !strcmp(ev.names[2], "STOP"),
	       "execute: 3 interleaved events go to the callback in order");
	json_object_put(ret);
	sent = drain(p.peer);
	if (!tap_ok(strstr(sent, "{\"execute\":\"hballoon-set\",\"arguments\":{\"node\":1,\"size\":18446744073709547520},\"id\":2}") != NULL,
		    "execute: request carries command, arguments (uint64) and id"))
		tap_diag("sent: %s", sent);

	/* a reply without an id is taken as ours */
	put(p.peer, "{\"return\": [1, 2]}\r\n");
	r = qmp_execute(p.q, "query-x", NULL, 1000, &ret, &err);
	tap_ok(r == QMP_OK && json_object_is_type(ret, json_type_array),
	       "execute: reply without id accepted");
	json_object_put(ret);
	tap_ok(strstr(drain(p.peer), "\"arguments\"") == NULL,
	       "execute: no arguments key without arguments");

	/* error reply */
	put(p.peer, "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"No hballoon device\"}, \"id\": 4}\r\n");
	r = qmp_execute(p.q, "query-hballoon", NULL, 1000, &ret, &err);
	tap_ok(r == QMP_ERR_CMD && ret == NULL && !strcmp(err.cls, "DeviceNotFound") &&
	       !strcmp(err.msg, "No hballoon device"),
	       "execute: error object -> class and QEMU's description");

	put(p.peer, "{\"error\": {}, \"id\": 5}\r\n");
	r = qmp_execute(p.q, "x", NULL, 1000, NULL, &err);
	tap_ok(r == QMP_ERR_CMD && strstr(err.msg, "without a description"),
	       "execute: error without desc still reported");

	/* timeout */
	{
		int64_t t0 = qmp_now_ms();

		r = qmp_execute(p.q, "query-hballoon", NULL, 150, &ret, &err);
		t0 = qmp_now_ms() - t0;
		if (!tap_ok(r == QMP_ERR_TIMEOUT && t0 >= 140 && t0 < 1000 &&
			    strstr(err.msg, "no reply to 'query-hballoon'"),
			    "execute: silent peer -> timeout after ~150 ms"))
			tap_diag("r=%d after %" PRId64 " ms: %s", r, t0, err.msg);
	}
	/* the late reply to the timed-out command is skipped later */
	put(p.peer, "{\"return\": {\"late\": 1}, \"id\": 6}\r\n{\"return\": {\"mine\": 1}, \"id\": 7}\r\n");
	r = qmp_execute(p.q, "y", NULL, 1000, &ret, &err);
	tap_ok(r == QMP_OK && json_object_object_get_ex(ret, "mine", &v),
	       "execute: late reply of a timed-out command is not taken as the next reply");
	json_object_put(ret);
	pair_free(&p);
}

static void t_bad_stream(const char *name, const char *script, bool close_peer,
			 int want, const char *needle)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	int r;

	handshaken(&p);
	put(p.peer, script);
	if (close_peer)		/* EOF for the client; its request still goes out */
		shutdown(p.peer, SHUT_WR);
	r = qmp_execute(p.q, "query-hballoon", NULL, 300, NULL, &err);
	if (!tap_ok(r == want && strstr(err.msg, needle), "%s -> %s: %s",
		    name, qmp_status_name(want), needle))
		tap_diag("got %s: '%s'", qmp_status_name(r), err.msg);
	pair_free(&p);
}

static void t_stream_errors(void)
{
	t_bad_stream("invalid JSON", "{this is not json}\r\n", false,
		     QMP_ERR_PROTO, "invalid JSON");
	t_bad_stream("invalid JSON shows where", "{\"return\": nope}\r\n", false,
		     QMP_ERR_PROTO, "near '");
	t_bad_stream("array instead of object", "[1, 2]\r\n", false,
		     QMP_ERR_PROTO, "not an object");
	t_bad_stream("JSON null", "null\r\n", false, QMP_ERR_PROTO, "null");
	t_bad_stream("object with no known key", "{\"foo\": 1}\r\n", false,
		     QMP_ERR_PROTO, "none of");
	t_bad_stream("event name not a string", "{\"event\": 3}\r\n", false,
		     QMP_ERR_PROTO, "not a string");
	t_bad_stream("closed mid-message", "{\"return\": {\"nodes\": [", true,
		     QMP_ERR_CLOSED, "in the middle of a message");
	t_bad_stream("closed between messages",
		     "{\"event\": \"STOP\"}\r\n", true, QMP_ERR_CLOSED,
		     "closed the connection");
	t_bad_stream("closed after blank line", "\r\n", true, QMP_ERR_CLOSED,
		     "closed the connection");
}

static void t_write_closed(void)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	int r;

	handshaken(&p);
	close(p.peer);
	p.peer = -1;
	r = qmp_execute(p.q, "query-hballoon", NULL, 300, NULL, &err);
	tap_ok(r == QMP_ERR_CLOSED, "write to a closed peer -> closed, no SIGPIPE");
	pair_free(&p);
}

/* A forked writer that sends @s one byte at a time. */
static void t_dribble(void)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	struct events ev = { 0 };
	struct json_object *ret = NULL, *v;
	const char *s = GREETING CAPS_OK
		"{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": 0, \"actual\": 8192}}"
		"{\"return\": {\"ok\": \"yes\"}, \"id\": 2}";
	pid_t pid;
	int r, st;

	pid = fork();
	if (pid == 0) {
		struct timespec ts = { 0, 200000 };

		qmp_close(p.q);
		for (; *s; s++) {
			if (write(p.peer, s, 1) != 1)
				_exit(1);
			nanosleep(&ts, NULL);
		}
		sleep(2);
		_exit(0);
	}
	qmp_set_event_handler(p.q, on_event, &ev);
	r = qmp_handshake(p.q, 5000, &err);
	if (r == QMP_OK)
		r = qmp_execute(p.q, "x", NULL, 5000, &ret, &err);
	tap_ok(r == QMP_OK && ev.n == 1 && ret &&
	       json_object_object_get_ex(ret, "ok", &v),
	       "messages delivered one byte at a time");
	json_object_put(ret);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	pair_free(&p);
}

/* A forked writer that streams a message bigger than QMP_MAX_MESSAGE. */
static void t_huge(void)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	pid_t pid;
	int r, st;

	handshaken(&p);
	pid = fork();
	if (pid == 0) {
		static char chunk[65536];
		size_t sent = 0;

		qmp_close(p.q);
		memset(chunk, 'a', sizeof(chunk));
		put(p.peer, "{\"return\": \"");
		while (sent <= QMP_MAX_MESSAGE + sizeof(chunk)) {
			if (write(p.peer, chunk, sizeof(chunk)) <= 0)
				_exit(0);
			sent += sizeof(chunk);
		}
		sleep(5);
		_exit(0);
	}
	r = qmp_execute(p.q, "x", NULL, 10000, NULL, &err);
	if (!tap_ok(r == QMP_ERR_PROTO && strstr(err.msg, "larger than"),
		    "message over %u bytes refused", QMP_MAX_MESSAGE))
		tap_diag("got %s: %s", qmp_status_name(r), err.msg);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	pair_free(&p);
}

static void t_pump(void)
{
	struct pair p = pair_new();
	struct qmp_error err = { 0 };
	struct events ev = { 0 };
	int r1, r2, r3;

	qmp_set_event_handler(p.q, on_event, &ev);
	handshaken(&p);
	put(p.peer, "{\"event\": \"HBALLOON_CHANGE\", \"data\": {\"node\": 1, \"actual\": 0}}\r\n"
		    "{\"return\": {}, \"id\": 99}\r\n");
	r1 = qmp_pump(p.q, 500, &err);
	r2 = qmp_pump(p.q, 500, &err);
	r3 = qmp_pump(p.q, 50, &err);
	tap_ok(r1 == QMP_OK && ev.n == 1, "pump: event dispatched");
	tap_ok(r2 == QMP_OK && ev.n == 1, "pump: stray reply dropped");
	tap_ok(r3 == QMP_ERR_TIMEOUT, "pump: nothing more -> timeout");
	close(p.peer);
	p.peer = -1;
	tap_ok(qmp_pump(p.q, 500, &err) == QMP_ERR_CLOSED, "pump: peer gone -> closed");
	pair_free(&p);
}

static void t_classify(void)
{
	static const struct {
		const char *json;
		enum qmp_msg_kind kind;
		int64_t id;
	} cases[] = {
		{ "{\"QMP\": {}}", QMP_MSG_GREETING, -1 },
		{ "{\"event\": \"X\"}", QMP_MSG_EVENT, -1 },
		{ "{\"return\": {}, \"id\": 3}", QMP_MSG_RETURN, 3 },
		{ "{\"return\": 5, \"id\": \"str\"}", QMP_MSG_RETURN, -1 },
		{ "{\"error\": {\"class\": \"C\", \"desc\": \"D\"}, \"id\": 9}", QMP_MSG_ERROR, 9 },
		{ "{\"error\": 5}", QMP_MSG_ERROR, -1 },
		{ "{}", QMP_MSG_INVALID, -1 },
		{ "[]", QMP_MSG_INVALID, -1 },
		{ "\"s\"", QMP_MSG_INVALID, -1 },
		{ "{\"event\": []}", QMP_MSG_INVALID, -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = json_tokener_parse(cases[i].json);
		struct qmp_error err = { 0 };
		int64_t id;
		enum qmp_msg_kind k = qmp_classify(o, &id, &err);

		if (!tap_ok(k == cases[i].kind && id == cases[i].id,
			    "classify %s", cases[i].json))
			tap_diag("kind %d id %" PRId64, k, id);
		json_object_put(o);
	}
	{
		struct json_object *o = json_tokener_parse("{\"error\": {\"class\": \"C\", \"desc\": \"D\"}}");
		struct qmp_error err = { 0 };
		int64_t id;

		qmp_classify(o, &id, &err);
		tap_ok(err.status == QMP_ERR_CMD && !strcmp(err.cls, "C") &&
		       !strcmp(err.msg, "D"), "classify: error class and desc copied");
		json_object_put(o);
	}
}

static void t_connect(void)
{
	struct qmp_error err = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/hbctl-test-XXXXXX", path[256], big[300];
	struct qmp *q;
	int fd, cfd;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/missing", dir);
	q = qmp_connect_unix(path, &err);
	tap_ok(!q && err.status == QMP_ERR_CONNECT && strstr(err.msg, "no such file"),
	       "connect: missing socket -> clear message");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	q = qmp_connect_unix(big, &err);
	tap_ok(!q && strstr(err.msg, "too long"), "connect: path too long");

	q = qmp_connect_unix("", &err);
	tap_ok(!q && strstr(err.msg, "empty"), "connect: empty path");

	/* a socket file nobody listens on any more */
	snprintf(path, sizeof(path), "%s/dead", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		perror("bind");
	close(fd);
	q = qmp_connect_unix(path, &err);
	tap_ok(!q && strstr(err.msg, "connection refused"),
	       "connect: stale socket -> connection refused");
	unlink(path);

	/* a regular file */
	snprintf(path, sizeof(path), "%s/file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	q = qmp_connect_unix(path, &err);
	tap_ok(!q && err.status == QMP_ERR_CONNECT, "connect: regular file refused");
	unlink(path);

	/* a live listener, reached with the unix: prefix */
	snprintf(path, sizeof(path), "%s/live", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
		perror("bind/listen");
	snprintf(big, sizeof(big), "unix:%s", path);
	q = qmp_connect_unix(big, &err);
	cfd = accept(fd, NULL, NULL);
	if (cfd >= 0)
		put(cfd, GREETING CAPS_OK);
	tap_ok(q && qmp_handshake(q, 1000, &err) == QMP_OK,
	       "connect: unix: prefix, handshake over a real socket");
	tap_ok(q && strstr(qmp_peer_name(q), path) != NULL,
	       "connect: messages name the socket path");
	qmp_close(q);
	close(cfd);
	close(fd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL);	/* a SIGPIPE would kill the test */
	t_handshake();
	t_handshake_errors();
	t_execute();
	t_stream_errors();
	t_write_closed();
	t_dribble();
	t_huge();
	t_pump();
	t_classify();
	t_connect();
	return tap_done();
}
