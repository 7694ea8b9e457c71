// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-status-server.c - hballoond's status socket: what is published is
 * what a client reads, a client that does not read stalls nobody, close
 * stops the thread and removes the socket
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "status_server.h"
#include "tap.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Everything the server sends before it closes (NULL if it cannot). */
static char *fetch(const char *path)
{
	struct timeval tv = { .tv_sec = 30 };
	size_t len = 0, cap = 2 << 20;
	char *buf = malloc(cap + 1);
	int fd = dial(path);
	ssize_t r;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < cap && (r = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	return buf;
}

int main(void)
{
	char dir[] = "/tmp/htier-status-XXXXXX", path[128], err[256] = "";
	struct status_server *s;
	struct stat sb;
	char *got, *big;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct status_server *other;
	int idle[4], queued[16], i, stale;
	double t;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/run/hballoond.sock", dir);

	s = status_server_open(path, "first\n", err, sizeof(err));
	tap_ok(s != NULL, "opens, creating its directory (%s)", err);
	if (!s)
		return 1;
	memset(&sb, 0, sizeof(sb));
	i = stat(path, &sb);
	tap_ok(!i && S_ISSOCK(sb.st_mode) && (sb.st_mode & 0777) == 0660,
	       "a socket, mode 0660 (%03o)", (unsigned int)(sb.st_mode & 0777));
	other = status_server_open(path, "", err, sizeof(err));
	got = fetch(path);
	tap_ok(!other && strstr(err, "is in use") && got && !strcmp(got, "first\n"),
	       "a second server on a live socket is refused, the first one "
	       "still serves (%s)", err);
	free(got);
	got = fetch(path);
	tap_ok(got && !strcmp(got, "first\n"), "serves the initial text ('%s')",
	       got ? got : "(null)");
	free(got);

	status_server_publish(s, "{\"round\": 2}\n");
	got = fetch(path);
	tap_ok(got && !strcmp(got, "{\"round\": 2}\n"), "then what was published");
	free(got);

	/* Clients that connect and never read: the others are still served. */
	big = malloc(1 << 20);
	memset(big, 'x', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	status_server_publish(s, big);
	for (i = 0; i < 4; i++)
		idle[i] = dial(path);
	t = now();
	got = fetch(path);
	t = now() - t;
	tap_ok(got && strlen(got) == (1 << 20) - 1,
	       "with 4 clients before it that do not read a 1 MiB status, another "
	       "is still served all of it");
	/* 1 s each in all (a deadline per send would let each take 2 s) */
	tap_ok(t < 7, "... after at most 1 s for each of them (%.1f s)", t);
	free(got);
	for (i = 0; i < 4; i++)
		if (idle[i] >= 0)
			close(idle[i]);

	/* Closing drops the clients still queued instead of serving them. */
	for (i = 0; i < 16; i++)
		queued[i] = dial(path);
	t = now();
	status_server_close(s);
	t = now() - t;
	tap_ok(t < 4, "close with 16 clients queued that do not read returns "
	       "after the one being served (%.1f s; serving them all: 16 s)", t);
	for (i = 0; i < 16; i++)
		if (queued[i] >= 0)
			close(queued[i]);
	free(big);
	tap_ok(stat(path, &sb) && errno == ENOENT, "close removes the socket");
	tap_ok(dial(path) < 0, "and nobody is served any more");

	/* A stale socket, left by a daemon that was killed, is replaced. */
	stale = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);	/* short: see mkdtemp */
	tap_ok(stale >= 0 && !bind(stale, (struct sockaddr *)&sa, sizeof(sa)) &&
	       !close(stale) && !stat(path, &sb), "a stale socket is left");
	err[0] = '\0';
	s = status_server_open(path, "again\n", err, sizeof(err));
	got = s ? fetch(path) : NULL;
	tap_ok(got && !strcmp(got, "again\n"), "it is replaced (%s)", err);
	free(got);
	status_server_close(s);
	status_server_close(NULL);

	/* Another program's live socket with a full queue: refused at once. */
	stale = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(path);
	tap_ok(stale >= 0 && !bind(stale, (struct sockaddr *)&sa, sizeof(sa)) &&
	       !listen(stale, 0), "another program listens, queue of 1");
	for (i = 0; i < 4; i++) {
		queued[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (queued[i] >= 0)
			connect(queued[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	t = now();
	s = status_server_open(path, "", err, sizeof(err));
	t = now() - t;
	tap_ok(!s && strstr(err, "is in use") && t < 1,
	       "its queue full, the socket is still seen as live, without "
	       "waiting (%.1f s: %s)", t, err);
	status_server_close(s);
	for (i = 0; i < 4; i++)
		if (queued[i] >= 0)
			close(queued[i]);
	close(stale);
	unlink(path);

	/* Anything but a socket there is left alone. */
	i = open(path, O_WRONLY | O_CREAT, 0600);
	if (i >= 0)
		close(i);
	s = status_server_open(path, "", err, sizeof(err));
	tap_ok(!s && strstr(err, "not a socket") && !stat(path, &sb) &&
	       S_ISREG(sb.st_mode), "a regular file at the path is not removed: %s",
	       err);
	status_server_close(s);
	unlink(path);

	/* The lock: a second server is refused before it looks at the socket. */
	s = status_server_open(path, "one\n", err, sizeof(err));
	unlink(path);	/* as if someone removed the live socket */
	other = status_server_open(path, "", err, sizeof(err));
	tap_ok(s && !other && strstr(err, "is in use"),
	       "two servers on one path: the lock refuses the second even when "
	       "the socket is gone (%s)", err);
	status_server_close(other);
	status_server_close(s);
	err[0] = '\0';
	s = status_server_open(path, "two\n", err, sizeof(err));
	got = s ? fetch(path) : NULL;
	tap_ok(got && !strcmp(got, "two\n"), "closed, the lock is free again (%s)",
	       err);
	free(got);
	status_server_close(s);

	snprintf(path, sizeof(path), "%s/%0120d", dir, 0);
	s = status_server_open(path, "", err, sizeof(err));
	tap_ok(!s && strstr(err, "too long"), "a path too long: %s", err);
	snprintf(path, sizeof(path), "%s/missing/deeper/sock", dir);
	s = status_server_open(path, "", err, sizeof(err));
	tap_ok(!s && strstr(err, "cannot create"), "a directory that cannot be made: %s",
	       err);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path))
		tap_diag("cannot remove %s", dir);
	return tap_done();
}
