/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the page-exchange guest tests: drive
 * /sys/kernel/debug/page_exchange/exchange and query / set the NUMA node of
 * a page with move_pages(2).
 */
#ifndef EXCHANGE_UTIL_H
#define EXCHANGE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define XCHG_PATH "/sys/kernel/debug/page_exchange/exchange"
#define XCHG_STATS "/sys/kernel/debug/page_exchange/stats"

/*
 * Exchange the pages at (pid1, a1) and (pid2, a2). Returns 0 or -errno; the
 * kernel's result name for the first pair is copied to @why (if not NULL).
 */
static inline int xchg_pages_n(const char *lines, char *why, size_t whylen)
{
	int fd = open(XCHG_PATH, O_RDWR);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, lines, strlen(lines)) < 0)
		ret = -errno;
	if (why && whylen) {
		n = pread(fd, why, whylen - 1, 0);
		why[n > 0 ? n : 0] = '\0';
		why[strcspn(why, "\n")] = '\0';
	}
	close(fd);
	return ret;
}

static inline int xchg_pages(int pid1, void *a1, int pid2, void *a2,
			     char *why, size_t whylen)
{
	char line[128];

	snprintf(line, sizeof(line), "%d %lx %d %lx\n", pid1,
		 (unsigned long)a1, pid2, (unsigned long)a2);
	return xchg_pages_n(line, why, whylen);
}

/* NUMA node of the page at @addr in @pid (0 = self), or -errno. */
static inline int page_node(int pid, void *addr)
{
	void *pages[1] = { addr };
	int status[1] = { -1 };

	if (syscall(SYS_move_pages, pid, 1UL, pages, NULL, status, 0) < 0)
		return -errno;
	return status[0];
}

/* Move the page at @addr in @pid to @node; returns the node it is on. */
static inline int page_move(int pid, void *addr, int node)
{
	void *pages[1] = { addr };
	int nodes[1] = { node };
	int status[1] = { -1 };

	/* MPOL_MF_MOVE_ALL: also pages other processes map (needs root) */
	if (syscall(SYS_move_pages, pid, 1UL, pages, nodes, status, 4) < 0)
		return -errno;
	return status[0];
}

/* Value of "name N" in page_exchange/stats, or -1. */
static inline long xchg_stat(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen(XCHG_STATS, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

#endif /* EXCHANGE_UTIL_H */
