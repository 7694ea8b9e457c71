// SPDX-License-Identifier: GPL-2.0
/*
 * linear-run: liblinear training, over and over, as a bench workload.
 *
 *   linear-run [-D data] [-d seconds] [-s seed] [-S factor] [-n node]
 *              [-a min_accuracy_pct] [-P] [-K]
 *
 * Setup: unless -D names an existing libsvm file, runs
 * `lineargen -s SEED -S FACTOR -o /tmp/linear-SEED.svm` (first touch of the
 * file's tmpfs pages on -n NODE: the generator runs under
 * set_mempolicy(MPOL_BIND); nothing else gets a policy).  Then, for -d
 * seconds (default 60), runs
 *
 *   liblinear-train -s 2 -e 0.001 -q DATA /tmp/linear-run.model
 *
 * (found on PATH: Debian's liblinear-tools) again and again.  Checks: after
 * the first run (after every run with -P),
 *
 *   liblinear-predict DATA /tmp/linear-run.model /tmp/linear-run.out
 *
 * must report an "Accuracy = x%" of at least -a (default 90; lineargen's
 * default 3 % label noise keeps a fitted model near 94-100 %); every model
 * file must equal the first run's byte for byte (-s 2, trust-region Newton,
 * is deterministic: a difference means the data or the trainer's memory
 * changed under it, and an equal model has the checked accuracy); the data
 * file is hashed after setup and again at the end.  Predict is not run every
 * time by default because under TCG it takes ~2/3 of a training (parsing).
 * The run in progress at the end of -d is completed and checked;
 * SIGTERM/SIGINT kill it instead.  The data set generated here and the
 * model and predict files are removed at the end unless -K.
 *
 * Output: data=<path> bytes=<n> hash=<h>;
 * event=ready t=<s> mono=<CLOCK_MONOTONIC s>; `t=<s>
 * ops_s=<trainings completed in the last second, per second>` once a second
 * until -d (their mean is trainings per second); `run=<k> train_s=..
 * train_rss_bytes=.. [predict_s=.. accuracy=..]` per training;
 * `event=end t=<s>` when the measured phase is over; runs=<k>;
 * verify=ok, or verify=FAILED <why> (exit 1) if a program
 * failed, an accuracy was below -a, a model differed, the data file
 * changed, or no training completed.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "workload.h"

#define MPOL_BIND 2
#define MODEL "/tmp/linear-run.model"
#define PRED "/tmp/linear-run.out"
#define PRED_LOG "/tmp/linear-run.predict"

static double t_ready, dur = 60, last_t, next_tick = 1;
static unsigned long runs, last_runs;

static void tick(void)
{
	double t;

	if (!t_ready)
		return;
	t = now() - t_ready;
	if (t >= next_tick && (!dur || t < dur + 0.5)) {
		printf("t=%.1f ops_s=%.3f\n", t, (runs - last_runs) / (t - last_t));
		last_runs = runs;
		last_t = t;
		next_tick = floor(t) + 1;
	}
}

/*
 * Runs argv (stdout to @out if given, under MPOL_BIND to @node if >= 0) and
 * waits for it, ticking meanwhile.  Returns its wait status, or -1 if it
 * could not run or was killed because of a stop request.
 */
static int run(char *const argv[], const char *out, int node, struct rusage *ru)
{
	pid_t pid = fork();
	int st;

	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (!pid) {
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
		}
		if (node >= 0) {
			unsigned long mask = 1UL << node;

			if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64))
				_exit(126);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "linear-run: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (;;) {
		pid_t r = wait4(pid, &st, WNOHANG, ru);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR) {
			perror("wait4");
			return -1;
		}
		if (stop) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		tick();
		usleep(20000);
	}
}

/* A whole file in memory (NUL-terminated), or NULL. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!fp)
		return NULL;
	do {
		if (n + 65536 + 1 > cap) {
			cap = (n + 65536 + 1) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				break;
		}
		r = fread(buf + n, 1, cap - n - 1, fp);
		n += r;
	} while (r);
	fclose(fp);
	if (buf)
		buf[n] = 0;
	*len = n;
	return buf;
}

/* A position-dependent 64-bit hash of a file's contents; 0 if unreadable. */
static unsigned long long file_hash(const char *path)
{
	int fd = open(path, O_RDONLY);
	unsigned long long h = 0x9e3779b97f4a7c15ULL, pos = 0;
	static unsigned char buf[1 << 20];
	ssize_t r;

	if (fd < 0)
		return 0;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		unsigned long long w;
		ssize_t i;

		for (i = 0; i + 8 <= r; i += 8, pos++) {
			memcpy(&w, buf + i, 8);
			h = (h ^ w) * 0x100000001b3ULL + pos;
		}
		for (; i < r; i++, pos++)
			h = (h ^ buf[i]) * 0x100000001b3ULL + pos;
	}
	close(fd);
	return r < 0 ? 0 : h;
}

/* Predict's accuracy in percent, from its output, or -1. */
static double accuracy(void)
{
	FILE *fp = fopen(PRED_LOG, "r");
	char line[256];
	double acc = -1;

	while (fp && fgets(line, sizeof(line), fp))
		if (sscanf(line, "Accuracy = %lf%%", &acc) == 1)
			break;
	if (fp)
		fclose(fp);
	return acc;
}

int main(int argc, char **argv)
{
	double factor = 1, min_acc = 90, t0, t = 0, ts, acc;
	unsigned long seed = 1;
	int node = -1, keep = 0, generated = 0, predict_all = 0, st, opt;
	char data[256] = "", seed_s[32], factor_s[32];
	struct rusage ru;
	struct stat sb;
	const char *why = NULL;
	char *model, *model0 = NULL;
	size_t model_len, model0_len = 0;
	unsigned long long hash0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "D:d:s:S:n:a:PK")) != -1) {
		switch (opt) {
		case 'D': snprintf(data, sizeof(data), "%s", optarg); break;
		case 'd': dur = strtod(optarg, NULL); break;
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'S': factor = strtod(optarg, NULL); break;
		case 'n': node = atoi(optarg); break;
		case 'a': min_acc = strtod(optarg, NULL); break;
		case 'P': predict_all = 1; break;
		case 'K': keep = 1; break;
		default:
			fprintf(stderr, "usage: %s [-D data] [-d seconds] [-s seed] [-S factor] [-n node] [-a min_accuracy_pct] [-P] [-K]\n",
				argv[0]);
			return 2;
		}
	}
	if (factor <= 0 || node > 63) {
		fprintf(stderr, "linear-run: bad option value\n");
		return 2;
	}
	catch_stop();
	t0 = now();
	if (!data[0] || stat(data, &sb)) {
		if (!data[0])
			snprintf(data, sizeof(data), "/tmp/linear-%lu.svm", seed);
		snprintf(seed_s, sizeof(seed_s), "%lu", seed);
		snprintf(factor_s, sizeof(factor_s), "%g", factor);
		char *gen[] = { "lineargen", "-s", seed_s, "-S", factor_s, "-o", data, NULL };

		generated = 1;
		st = run(gen, NULL, node, NULL);
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("verify=FAILED lineargen failed\n");
			return 1;
		}
		if (stat(data, &sb)) {
			printf("verify=FAILED %s: %s\n", data, strerror(errno));
			return 1;
		}
	}
	hash0 = file_hash(data);
	printf("data=%s bytes=%lld hash=0x%llx\n", data, (long long)sb.st_size, hash0);
	t_ready = now();
	printf("event=ready t=%.1f mono=%.3f\n", t_ready - t0, t_ready);

	while (!stop && !why && (!dur || t < dur)) {
		char *train[] = { "liblinear-train", "-s", "2", "-e", "0.001", "-q", data, MODEL, NULL };
		char *pred[] = { "liblinear-predict", data, MODEL, PRED, NULL };
		char line[256];
		int n;

		ts = now();
		st = run(train, "/dev/null", -1, &ru);
		if (st == -1)
			break;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			why = "liblinear-train failed";
			break;
		}
		runs++;
		/* One whole line at the end: ticks may come in between. */
		n = snprintf(line, sizeof(line), "run=%lu train_s=%.1f train_rss_bytes=%ld",
			     runs, now() - ts, ru.ru_maxrss * 1024L);
		model = slurp(MODEL, &model_len);
		/* -s 2 (trust-region Newton) is deterministic: same data, same model. */
		if (!model)
			why = "no model file";
		else if (!model0)
			model0 = model, model0_len = model_len;
		else if (model_len != model0_len || memcmp(model, model0, model_len))
			why = "model differs from the first run's";
		if (model != model0)
			free(model);
		if (runs == 1 || predict_all || why) {
			ts = now();
			st = run(pred, PRED_LOG, -1, NULL);
			if (st == -1)
				break;
			acc = accuracy();
			snprintf(line + n, sizeof(line) - n, " predict_s=%.1f accuracy=%.3f",
				 now() - ts, acc);
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				why = "liblinear-predict failed";
			else if (acc < min_acc && !why)
				why = "accuracy below the minimum";
		}
		printf("%s\n", line);
		t = now() - t_ready;
		tick();
	}
	t = now() - t_ready;
	printf("event=end t=%.1f\n", t);
	printf("runs=%lu seconds=%.1f\n", runs, t);
	if (!why && file_hash(data) != hash0)
		why = "data file changed";
	if (!keep) {
		if (generated)
			unlink(data);
		unlink(MODEL);
		unlink(PRED);
		unlink(PRED_LOG);
	}
	if (!why && !runs)
		why = "no training cycle completed";
	if (why) {
		printf("verify=FAILED %s\n", why);
		return 1;
	}
	printf("verify=ok\n");
	return 0;
}
