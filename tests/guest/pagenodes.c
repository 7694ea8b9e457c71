// SPDX-License-Identifier: GPL-2.0
/*
 * pagenodes: on which NUMA node does each page of a range sit?
 *
 *   pagenodes PID START END [START END ...]
 *
 * Asks the kernel (move_pages(2) with no target nodes) for the node of
 * every page of each range of process PID (addresses in hex with 0x, or
 * decimal) and prints one line per range:
 *
 *   0x<start>-0x<end> pages=<n> node0=<n> node1=<n> ... absent=<n>
 *
 * "absent" counts pages that are not resident (or cannot be asked about).
 * Exit status 1 when the process cannot be inspected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#define CHUNK 4096
#define MAX_NODES 64

int main(int argc, char **argv)
{
	static void *pages[CHUNK];
	static int status[CHUNK];
	long psize = sysconf(_SC_PAGESIZE);
	int pid, a;

	if (argc < 4 || (argc - 2) % 2) {
		fprintf(stderr, "usage: %s PID START END [START END ...]\n",
			argv[0]);
		return 2;
	}
	pid = atoi(argv[1]);
	for (a = 2; a + 1 < argc; a += 2) {
		unsigned long start = strtoul(argv[a], NULL, 0);
		unsigned long end = strtoul(argv[a + 1], NULL, 0);
		unsigned long count[MAX_NODES] = { 0 }, absent = 0, addr;
		int n, i, top = -1;

		start &= ~(psize - 1);
		for (addr = start; addr < end;) {
			for (n = 0; n < CHUNK && addr < end; n++, addr += psize)
				pages[n] = (void *)addr;
			if (syscall(SYS_move_pages, pid, (unsigned long)n, pages,
				    NULL, status, 0) < 0) {
				fprintf(stderr, "pagenodes: move_pages: %s\n",
					strerror(errno));
				return 1;
			}
			for (i = 0; i < n; i++) {
				if (status[i] >= 0 && status[i] < MAX_NODES) {
					count[status[i]]++;
					if (status[i] > top)
						top = status[i];
				} else {
					absent++;
				}
			}
		}
		printf("%#lx-%#lx pages=%lu", start, end,
		       (end - start + psize - 1) / psize);
		for (i = 0; i <= top || i < 2; i++)
			printf(" node%d=%lu", i, count[i]);
		printf(" absent=%lu\n", absent);
	}
	return 0;
}
