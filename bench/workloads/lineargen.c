// SPDX-License-Identifier: GPL-2.0
/*
 * lineargen: a synthetic sparse binary classification data set, libsvm format.
 *
 *   lineargen [-l rows] [-f features] [-z nonzeros_per_row] [-N noise_pct]
 *             [-s seed] [-S factor] [-o path]
 *
 * Writes -l rows (default 200000; -S multiplies them) of -z nonzeros each
 * (default 96) over -f features (default 20000) to -o (default stdout):
 * "<+1|-1> <index>:<value> ..." with increasing indices (one per stride of
 * f / z features, at random within it) and values 0.01-0.99.  A hidden
 * weight vector (uniform in [-1, 1], from the seed) labels each row by the
 * sign of its dot product; -N percent of the labels (default 3) are then
 * flipped at random: a linear model fitted to the defaults reaches ~94 %
 * training accuracy (more where rows are few against features, as it then
 * also fits the noise).  liblinear holds 16 bytes per nonzero plus ~32 per
 * row: the defaults take ~310 MiB in liblinear-train (the file is ~200 MB).
 *
 * Prints rows=.. features=.. nonzeros=.. noise_pct=.. bytes=.. on stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += GOLDEN);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t below(uint64_t x, uint64_t n)
{
	return (unsigned __int128)x * n >> 64;
}

/* Decimal digits of v at p; returns the end. */
static char *put_uint(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		*p++ = tmp[--n];
	return p;
}

int main(int argc, char **argv)
{
	uint64_t rows = 200000, feats = 20000, nnz = 96, seed = 1, rng, i, j;
	double noise = 3, factor = 1, *w, dot;
	const char *path = NULL;
	char *line, *p;
	uint64_t bytes = 0;
	FILE *out = stdout;
	int opt;

	while ((opt = getopt(argc, argv, "l:f:z:N:s:S:o:")) != -1) {
		switch (opt) {
		case 'l': rows = strtoull(optarg, NULL, 0); break;
		case 'f': feats = strtoull(optarg, NULL, 0); break;
		case 'z': nnz = strtoull(optarg, NULL, 0); break;
		case 'N': noise = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'S': factor = strtod(optarg, NULL); break;
		case 'o': path = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-l rows] [-f features] [-z nonzeros_per_row] [-N noise_pct] [-s seed] [-S factor] [-o path]\n",
				argv[0]);
			return 2;
		}
	}
	rows = rows * factor;
	if (!rows || !nnz || nnz > feats || feats > UINT32_MAX || noise < 0 || noise > 50) {
		fprintf(stderr, "lineargen: bad option value\n");
		return 2;
	}
	if (path && !(out = fopen(path, "w"))) {
		perror(path);
		return 1;
	}
	rng = seed;
	w = malloc(feats * sizeof(*w));
	line = malloc(16 + nnz * 24);
	if (!w || !line) {
		perror("malloc");
		return 1;
	}
	for (j = 0; j < feats; j++)
		w[j] = (splitmix(&rng) >> 11) * 0x1.0p-52 - 1;
	for (i = 0; i < rows; i++) {
		p = line + 2;	/* room for the label, "+1" or "-1" */
		dot = 0;
		for (j = 0; j < nnz; j++) {
			uint64_t lo = j * feats / nnz, hi = (j + 1) * feats / nnz;
			uint64_t r = splitmix(&rng), f = lo + below(r, hi - lo);
			unsigned v = 1 + (r & 0xffffffff) % 99;

			dot += w[f] * v;
			*p++ = ' ';
			p = put_uint(p, f + 1);
			*p++ = ':';
			*p++ = '0';
			*p++ = '.';
			*p++ = '0' + v / 10;
			*p++ = '0' + v % 10;
		}
		*p++ = '\n';
		if (below(splitmix(&rng), 1000000) < noise * 10000)
			dot = -dot;
		memcpy(line, dot >= 0 ? "+1" : "-1", 2);
		if (fwrite(line, 1, p - line, out) != (size_t)(p - line)) {
			perror("write");
			return 1;
		}
		bytes += p - line;
	}
	if (fclose(out)) {
		perror("close");
		return 1;
	}
	fprintf(stderr, "rows=%lu features=%lu nonzeros=%lu noise_pct=%g bytes=%lu\n",
		(unsigned long)rows, (unsigned long)feats, (unsigned long)(rows * nnz), noise,
		(unsigned long)bytes);
	return 0;
}
