// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status_server.c - serve a published text on a unix stream socket
 * (see status_server.h)
 */
#include "status_server.h"
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Most time one client is given to read the text. */
#define CLIENT_MS	1000

struct status_server {
	int fd;
	int lock_fd;		/* flock()ed <path>.lock, held while open */
	char *path;
	pthread_t thread;
	pthread_mutex_t lock;
	char *text;		/* under @lock */
	atomic_bool closing;	/* queued clients are dropped, not served */
};

__attribute__((format(printf, 3, 4)))
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void serve_one(struct status_server *s, int c)
{
	int64_t deadline = qmp_now_ms() + CLIENT_MS;
	size_t len, off = 0;
	char *text;

	pthread_mutex_lock(&s->lock);
	text = strdup(s->text);
	pthread_mutex_unlock(&s->lock);
	if (!text)
		return;
	len = strlen(text);
	/* A reader that does not read must not stall the others. */
	while (off < len) {
		struct pollfd p = { .fd = c, .events = POLLOUT };
		int64_t left = deadline - qmp_now_ms();
		ssize_t w;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		w = send(c, text + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(text);
}

static void *serve(void *arg)
{
	struct status_server *s = arg;

	for (;;) {
		int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			struct timespec pause = { .tv_nsec = 100000000 };

			/*
			 * shutdown() by status_server_close() ends it: Linux's
			 * unix_accept() fails with EINVAL once the queue is
			 * empty and the socket is shut down.
			 */
			if (atomic_load(&s->closing))
				return NULL;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				nanosleep(&pause, NULL);
				continue;
			}
			return NULL;
		}
		if (!atomic_load(&s->closing))
			serve_one(s, c);
		close(c);
	}
}

struct status_server *status_server_open(const char *path, const char *text,
					 char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct status_server *s;
	char *dir, *slash, *lock = NULL;
	struct stat st;
	int probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fail(err, errlen, "status socket path too long: %s", path);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path)) || !(s->text = strdup(text))) {
		fail(err, errlen, "out of memory");
		goto free;
	}
	s->fd = s->lock_fd = -1;
	dir = strdup(path);
	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST) {
			fail(err, errlen, "cannot create %s: %s", dir,
			     strerror(errno));
			free(dir);
			goto free;
		}
	}
	free(dir);
	strcpy(sa.sun_path, path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fail(err, errlen, "socket: %s", strerror(errno));
		goto close;
	}
	/*
	 * One server per path: two daemons started at once would both find
	 * no live socket and take turns replacing it.  The lock file stays
	 * (removing it would race with a daemon about to lock it).
	 */
	if (asprintf(&lock, "%s.lock", path) < 0) {
		lock = NULL;
		fail(err, errlen, "out of memory");
		goto close;
	}
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0) {
		fail(err, errlen, "cannot open %s: %s", lock, strerror(errno));
		goto close;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			fail(err, errlen,
			     "%s is in use: is another hballoond running?", path);
		else
			fail(err, errlen, "cannot lock %s: %s", lock,
			     strerror(errno));
		goto close;
	}
	/* Only a socket is ever replaced: a file there is a mistake. */
	if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
		fail(err, errlen, "%s exists and is not a socket", path);
		goto close;
	}
	/*
	 * A stale socket of an earlier run is replaced, a live one (another
	 * program's) is not.  Non-blocking: a live server whose queue is
	 * full answers EAGAIN instead of keeping us waiting.
	 */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe >= 0 && (!connect(probe, (struct sockaddr *)&sa, sizeof(sa)) ||
			   errno == EAGAIN)) {
		close(probe);
		fail(err, errlen, "%s is in use: is another hballoond running?",
		     path);
		goto close;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fail(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto close;
	}
	if (chmod(path, 0660) || listen(s->fd, 16)) {
		fail(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		unlink(path);
		goto close;
	}
	pthread_mutex_init(&s->lock, NULL);
	errno = pthread_create(&s->thread, NULL, serve, s);
	if (errno) {
		fail(err, errlen, "cannot start the status thread: %s",
		     strerror(errno));
		pthread_mutex_destroy(&s->lock);
		unlink(path);
		goto close;
	}
	free(lock);
	return s;
close:
	if (s->fd >= 0)
		close(s->fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(lock);
free:
	if (s) {
		free(s->path);
		free(s->text);
	}
	free(s);
	return NULL;
}

int status_server_publish(struct status_server *s, const char *text)
{
	char *copy = strdup(text), *old;

	if (!copy)
		return -1;
	pthread_mutex_lock(&s->lock);
	old = s->text;
	s->text = copy;
	pthread_mutex_unlock(&s->lock);
	free(old);
	return 0;
}

void status_server_close(struct status_server *s)
{
	if (!s)
		return;
	/* A client being served is finished; those queued are dropped. */
	atomic_store(&s->closing, true);
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	unlink(s->path);
	close(s->lock_fd);	/* after the unlink: the next owner binds anew */
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s->text);
	free(s);
}
