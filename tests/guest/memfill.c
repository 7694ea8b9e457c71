// SPDX-License-Identifier: GPL-2.0
/*
 * memfill: fault in memory on one NUMA node, then exit or hold it.
 *
 *   memfill -n NODE -m MiB [-h] [-f]
 *
 * Maps MiB of private anonymous memory bound to NODE (mbind MPOL_BIND),
 * writes every page, and prints "filled <MiB> MiB on node <NODE>". With -h
 * it then holds the memory until killed; without, it exits and the pages go
 * back to the guest's free lists -- still backed on the host, which is what
 * the demo and the host-side hballoon tests need before inflating.
 * With -f (fragment) it then frees every other page and holds the rest: the
 * node's free memory becomes single pages between pages still in use, with
 * no free block larger than 4 KiB among them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MPOL_BIND 2

int main(int argc, char **argv)
{
	unsigned long mib = 0, mask;
	int node = -1, hold = 0, fragment = 0, opt;
	long page = sysconf(_SC_PAGESIZE);
	size_t size, off;
	char *p;

	while ((opt = getopt(argc, argv, "n:m:hf")) != -1) {
		switch (opt) {
		case 'n': node = atoi(optarg); break;
		case 'm': mib = strtoul(optarg, NULL, 0); break;
		case 'h': hold = 1; break;
		case 'f': fragment = hold = 1; break;
		default: goto usage;
		}
	}
	if (node < 0 || node >= 64 || !mib)
		goto usage;
	size = mib << 20;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "memfill: mmap %lu MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	mask = 1UL << node;
	if (syscall(SYS_mbind, p, size, MPOL_BIND, &mask, 64, 0)) {
		fprintf(stderr, "memfill: mbind to node %d: %s\n", node, strerror(errno));
		return 1;
	}
	/* Single pages: a huge page would leave whole 2 MiB blocks free. */
	if (fragment && madvise(p, size, MADV_NOHUGEPAGE)) {
		fprintf(stderr, "memfill: MADV_NOHUGEPAGE: %s\n", strerror(errno));
		return 1;
	}
	for (off = 0; off < size; off += page)
		p[off] = (char)off | 1;
	if (fragment)
		for (off = 0; off < size; off += 2 * page)
			if (madvise(p + off, page, MADV_DONTNEED)) {
				fprintf(stderr, "memfill: MADV_DONTNEED: %s\n",
					strerror(errno));
				return 1;
			}
	printf("filled %lu MiB on node %d%s\n", mib, node,
	       fragment ? ", every other page freed" : "");
	fflush(stdout);
	if (hold)
		pause();
	return 0;
usage:
	fprintf(stderr, "usage: memfill -n NODE -m MiB [-h] [-f]\n");
	return 2;
}
