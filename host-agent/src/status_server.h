/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * status_server.h - serve a published text on a unix stream socket
 *
 * hballoond's status socket: a client connects, sends nothing, and reads
 * the text last published, after which the server closes the connection.
 * A thread of its own serves it, so a client is answered at once even
 * while the daemon's round waits on a slow VM's monitor; a client that
 * does not read is given up after a second in all.
 */
#ifndef HBALLOOND_STATUS_SERVER_H
#define HBALLOOND_STATUS_SERVER_H

#include <stddef.h>

struct status_server;

/**
 * status_server_open() - listen on @path and start serving
 * @path:   the socket (its directory is created; a stale socket there is
 *          replaced, a live one or anything not a socket is not); mode
 *          0660.  "@path.lock" is created and flock()ed while the server
 *          is open, so two daemons cannot take turns replacing the
 *          socket; it is left in place on close
 * @text:   what to serve until the first status_server_publish()
 * @err:    on failure, why (one line); may be NULL
 * @errlen: size of @err
 *
 * Return: the server, or NULL and @err.
 */
struct status_server *status_server_open(const char *path, const char *text,
					 char *err, size_t errlen);

/* Serve a copy of @text from now on; -1 (the old text kept) if out of
 * memory, else 0. */
int status_server_publish(struct status_server *s, const char *text);

/* Stop serving (a client being served is finished first), remove the
 * socket, free @s.  NULL is fine. */
void status_server_close(struct status_server *s);

#endif /* HBALLOOND_STATUS_SERVER_H */
