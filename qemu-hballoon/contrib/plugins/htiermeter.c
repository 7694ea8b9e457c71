/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * htiermeter: count guest memory accesses per NUMA node, exactly.
 *
 *   -plugin libhtiermeter.so,out=FILE,nodes=B0:B1[:B2...][,sample=N]
 *           [,interval_ms=1000][,hist=FILE2][,hist_ms=M][,below4g=BYTES]
 *
 * Every data load and store of every vCPU (kernel included) is seen; one in
 * N on average is counted, against the node whose RAM holds its
 * guest-physical address, or as "other" (MMIO, holes, ROM). A thread of our
 * own appends one line of per-interval counts to FILE, so an idle guest
 * still gets its lines; with hist=, per 4 KiB page counts are written to
 * FILE2 at exit, and with hist_ms=, per-epoch page counts to FILE2.epochs.
 *
 * Copyright (c) 2026 The htier authors
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define PAGE_SHIFT 12
#define GIB (1ULL << 30)
#define MAX_NODES 64
/* Drain the 32-bit page counters at least this often, long before a wrap. */
#define DRAIN_MS 1000
#define CACHELINE 64

typedef struct {
    uint64_t left;      /* accesses until the next counted one */
    uint64_t rng;       /* xorshift64 state */
    uint64_t count[];   /* per node, then "other"; only this vCPU writes */
} VCpu;

static int nnodes;
static uint64_t node_end[MAX_NODES];    /* RAM offset where node i ends */
static uint64_t ram_size, below4g;
static uint64_t sample = 1;
static uint64_t interval_ms = 1000, hist_ms;

static char *vcpu_mem_base;
static size_t vcpu_stride;
static unsigned int max_vcpus;

static FILE *out_file, *hist_file, *epoch_file;
static uint64_t npages;
static uint32_t *page_hot;      /* incremented by vCPUs */
static uint64_t *page_total;    /* drained into by the timer thread */
static uint64_t *page_epoch;
static uint64_t *last_sum;      /* per-node totals at the last out line */

static gint64 start_us;
static GThread *timer;
static GMutex timer_lock;
static GCond timer_cond;
static bool timer_quit;

static inline VCpu *vcpu_state(unsigned int idx)
{
    return (VCpu *)(vcpu_mem_base + (size_t)idx * vcpu_stride);
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* Uniform in [1, 2N-1]: mean N, and no fixed stride to alias with. */
static uint64_t next_gap(VCpu *v)
{
    if (sample == 1) {
        return 1;
    }
    return 1 + xorshift64(&v->rng) % (2 * sample - 1);
}

/* RAM offset of a guest-physical address, as pc_memory_init() lays it out. */
static bool gpa_to_offset(uint64_t gpa, uint64_t *off)
{
    if (gpa < below4g) {
        *off = gpa;
        return true;
    }
    if (gpa >= 4 * GIB && gpa - 4 * GIB < ram_size - below4g) {
        *off = gpa - 4 * GIB + below4g;
        return true;
    }
    return false;
}

static uint64_t offset_to_gpa(uint64_t off)
{
    return off < below4g ? off : off - below4g + 4 * GIB;
}

static void vcpu_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                     uint64_t vaddr, void *udata)
{
    struct qemu_plugin_hwaddr *hw;
    VCpu *v;
    uint64_t off;
    int slot = nnodes;

    if (vcpu_index >= max_vcpus) {
        return;
    }
    v = vcpu_state(vcpu_index);
    if (--v->left) {
        return;
    }
    v->left = next_gap(v);

    hw = qemu_plugin_get_hwaddr(info, vaddr);
    if (hw && !qemu_plugin_hwaddr_is_io(hw) &&
        gpa_to_offset(qemu_plugin_hwaddr_phys_addr(hw), &off)) {
        for (slot = 0; off >= node_end[slot]; slot++) {
            ;
        }
        if (page_hot) {
            __atomic_fetch_add(&page_hot[off >> PAGE_SHIFT], 1,
                               __ATOMIC_RELAXED);
        }
    }
    /* Single writer; the relaxed store only keeps the reader tear-free. */
    __atomic_store_n(&v->count[slot], v->count[slot] + 1, __ATOMIC_RELAXED);
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);

    for (size_t i = 0; i < n; i++) {
        qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i),
                                         vcpu_mem, QEMU_PLUGIN_CB_NO_REGS,
                                         QEMU_PLUGIN_MEM_RW, NULL);
    }
}

static uint64_t ms_since_start(gint64 now_us)
{
    return (uint64_t)(now_us - start_us) / 1000;
}

static void write_interval(gint64 now_us)
{
    g_autoptr(GString) line = g_string_new(NULL);

    g_string_printf(line, "t_ms=%" PRIu64, ms_since_start(now_us));
    for (int s = 0; s <= nnodes; s++) {
        uint64_t sum = 0;

        for (unsigned int c = 0; c < max_vcpus; c++) {
            sum += __atomic_load_n(&vcpu_state(c)->count[s], __ATOMIC_RELAXED);
        }
        if (s < nnodes) {
            g_string_append_printf(line, " n%d=%" PRIu64, s, sum - last_sum[s]);
        } else {
            g_string_append_printf(line, " other=%" PRIu64, sum - last_sum[s]);
        }
        last_sum[s] = sum;
    }
    g_string_append_c(line, '\n');
    fputs(line->str, out_file);
    fflush(out_file);
}

static void drain_pages(void)
{
    for (uint64_t i = 0; i < npages; i++) {
        uint32_t n;

        if (!__atomic_load_n(&page_hot[i], __ATOMIC_RELAXED)) {
            continue;
        }
        n = __atomic_exchange_n(&page_hot[i], 0, __ATOMIC_RELAXED);
        page_total[i] += n;
        if (page_epoch) {
            page_epoch[i] += n;
        }
    }
}

static void write_epoch(gint64 now_us)
{
    fprintf(epoch_file, "t_ms=%" PRIu64 "\n", ms_since_start(now_us));
    for (uint64_t i = 0; i < npages; i++) {
        if (page_epoch[i]) {
            fprintf(epoch_file, "%" PRIu64 " %" PRIu64 "\n",
                    offset_to_gpa(i << PAGE_SHIFT) >> PAGE_SHIFT,
                    page_epoch[i]);
            page_epoch[i] = 0;
        }
    }
    fflush(epoch_file);
}

/* Next deadline after @due: one period on, or from @now if we fell behind. */
static gint64 advance(gint64 due, gint64 now, uint64_t period_ms)
{
    gint64 period_us = (gint64)period_ms * 1000;

    due += period_us;
    return due > now ? due : now + period_us;
}

/*
 * A timed wait on a condition variable rather than clock_nanosleep(): the
 * same monotonic deadlines, but atexit can wake us at once.
 */
static gpointer timer_main(gpointer data)
{
    gint64 next_out = start_us + interval_ms * 1000;
    gint64 next_epoch = hist_ms ? start_us + hist_ms * 1000 : G_MAXINT64;
    gint64 next_drain = page_hot ? start_us + DRAIN_MS * 1000 : G_MAXINT64;

    g_mutex_lock(&timer_lock);
    while (!timer_quit) {
        gint64 due = MIN(next_out, MIN(next_epoch, next_drain));
        gint64 now;

        g_cond_wait_until(&timer_cond, &timer_lock, due);
        now = g_get_monotonic_time();
        if (timer_quit) {
            break;
        }
        if (now >= next_out) {
            write_interval(now);
            next_out = advance(next_out, now, interval_ms);
        }
        if (now >= next_drain || now >= next_epoch) {
            drain_pages();
            next_drain = advance(next_drain, now, DRAIN_MS);
        }
        if (now >= next_epoch) {
            write_epoch(now);
            next_epoch = advance(next_epoch, now, hist_ms);
        }
    }
    g_mutex_unlock(&timer_lock);
    return NULL;
}

static void plugin_exit(qemu_plugin_id_t id, void *udata)
{
    gint64 now;

    g_mutex_lock(&timer_lock);
    timer_quit = true;
    g_cond_signal(&timer_cond);
    g_mutex_unlock(&timer_lock);
    g_thread_join(timer);

    /* The vCPUs are stopped by now: the last partial interval and epoch. */
    now = g_get_monotonic_time();
    write_interval(now);
    fclose(out_file);
    if (page_hot) {
        drain_pages();
        if (epoch_file) {
            write_epoch(now);
            fclose(epoch_file);
        }
        for (uint64_t i = 0; i < npages; i++) {
            if (page_total[i]) {
                fprintf(hist_file, "%" PRIu64 " %" PRIu64 "\n",
                        offset_to_gpa(i << PAGE_SHIFT) >> PAGE_SHIFT,
                        page_total[i]);
            }
        }
        fclose(hist_file);
    }
}

/* Bytes, with an optional binary K/M/G/T suffix. */
static bool parse_size(const char *s, uint64_t *val)
{
    char *end;
    uint64_t v, mult = 1;

    if (!g_ascii_isdigit(*s)) {
        return false;
    }
    errno = 0;
    v = g_ascii_strtoull(s, &end, 10);
    if (errno) {
        return false;
    }
    switch (g_ascii_toupper(*end)) {
    case 'K':
        mult = 1ULL << 10;
        break;
    case 'M':
        mult = 1ULL << 20;
        break;
    case 'G':
        mult = 1ULL << 30;
        break;
    case 'T':
        mult = 1ULL << 40;
        break;
    case '\0':
        break;
    default:
        return false;
    }
    if (*end && end[1]) {
        return false;
    }
    if (v > UINT64_MAX / mult) {
        return false;
    }
    *val = v * mult;
    return true;
}

static bool parse_count(const char *s, uint64_t *val)
{
    char *end;

    if (!g_ascii_isdigit(*s)) {
        return false;
    }
    errno = 0;
    *val = g_ascii_strtoull(s, &end, 10);
    return !errno && !*end;
}

static bool parse_nodes(const char *s)
{
    g_auto(GStrv) parts = g_strsplit(s, ":", -1);
    uint64_t sum = 0;

    nnodes = g_strv_length(parts);
    if (nnodes < 1 || nnodes > MAX_NODES) {
        return false;
    }
    for (int i = 0; i < nnodes; i++) {
        uint64_t b;

        if (!parse_size(parts[i], &b) || !b || sum + b < sum) {
            return false;
        }
        sum += b;
        node_end[i] = sum;
    }
    ram_size = sum;
    return true;
}

static FILE *open_or_complain(const char *path, const char *mode,
                              const char *what)
{
    FILE *f = fopen(path, mode);

    if (!f) {
        fprintf(stderr, "htiermeter: cannot open %s file %s: %s\n",
                what, path, strerror(errno));
    }
    return f;
}

#define USAGE "usage: out=FILE,nodes=B0:B1[:B2...][,sample=N]" \
    "[,interval_ms=MS][,hist=FILE2][,hist_ms=MS][,below4g=BYTES]"

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *out_path = NULL, *hist_path = NULL, *nodes_arg = NULL;
    bool have_below4g = false;

    for (int i = 0; i < argc; i++) {
        /* argv outlives the plugin: keep pointers into it. */
        const char *eq = strchr(argv[i], '=');
        const char *v = eq ? eq + 1 : NULL;
        const char *want = NULL;
        g_autofree char *k = g_strndup(argv[i], eq ? eq - argv[i] : 0);

        if (!v) {
            fprintf(stderr, "htiermeter: %s is not key=value\n" USAGE "\n",
                    argv[i]);
            return -1;
        }
        if (!strcmp(k, "out")) {
            out_path = v;
            want = *v ? NULL : "a file name";
        } else if (!strcmp(k, "hist")) {
            hist_path = v;
            want = *v ? NULL : "a file name";
        } else if (!strcmp(k, "nodes")) {
            nodes_arg = v;
            if (!parse_nodes(v)) {
                want = "B0:B1[:B2...], 1 to 64 nodes, each node's RAM in "
                       "bytes > 0 (K, M, G, T suffixes allowed)";
            }
        } else if (!strcmp(k, "sample")) {
            if (!parse_count(v, &sample) || sample < 1 ||
                sample > UINT64_MAX / 4) {
                want = "an integer >= 1";
            }
        } else if (!strcmp(k, "interval_ms") || !strcmp(k, "hist_ms")) {
            uint64_t *ms = k[0] == 'i' ? &interval_ms : &hist_ms;

            if (!parse_count(v, ms) || *ms < 1 || *ms > 86400000) {
                want = "milliseconds, 1 to 86400000";
            }
        } else if (!strcmp(k, "below4g")) {
            have_below4g = true;
            if (!parse_size(v, &below4g) || below4g > 4 * GIB) {
                want = "bytes, at most 4G";
            }
        } else {
            fprintf(stderr, "htiermeter: unknown option %s\n" USAGE "\n",
                    argv[i]);
            return -1;
        }
        if (want) {
            fprintf(stderr, "htiermeter: bad %s: want %s\n", argv[i], want);
            return -1;
        }
    }
    if (!info->system_emulation) {
        fprintf(stderr, "htiermeter: needs system emulation\n");
        return -1;
    }
    if (!out_path || !nodes_arg) {
        fprintf(stderr, "htiermeter: out= and nodes= are required\n"
                USAGE "\n");
        return -1;
    }
    if (hist_ms && !hist_path) {
        fprintf(stderr, "htiermeter: hist_ms= needs hist=\n");
        return -1;
    }
    /* q35 (hw/i386/pc_q35.c): all RAM below 4G if it fits under 2.75G. */
    if (!have_below4g) {
        below4g = ram_size >= 0xb0000000 ? 0x80000000 : ram_size;
    }
    below4g = MIN(below4g, ram_size);

    out_file = open_or_complain(out_path, "a", "out");
    if (!out_file) {
        return -1;
    }
    if (hist_path) {
        npages = (ram_size + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT;
        hist_file = open_or_complain(hist_path, "w", "hist");
        if (!hist_file) {
            return -1;
        }
        if (hist_ms) {
            g_autofree char *p = g_strconcat(hist_path, ".epochs", NULL);

            epoch_file = open_or_complain(p, "w", "hist epochs");
            if (!epoch_file) {
                return -1;
            }
            page_epoch = g_new0(uint64_t, npages);
        }
        page_hot = g_new0(uint32_t, npages);
        page_total = g_new0(uint64_t, npages);
    }

    /* One cache line or more per vCPU: no false sharing between vCPUs. */
    max_vcpus = info->system.max_vcpus;
    vcpu_stride = sizeof(VCpu) + (nnodes + 1) * sizeof(uint64_t);
    vcpu_stride = (vcpu_stride + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
    vcpu_mem_base = aligned_alloc(CACHELINE, vcpu_stride * max_vcpus);
    if (!vcpu_mem_base) {
        fprintf(stderr, "htiermeter: out of memory\n");
        return -1;
    }
    memset(vcpu_mem_base, 0, vcpu_stride * max_vcpus);
    for (unsigned int c = 0; c < max_vcpus; c++) {
        VCpu *v = vcpu_state(c);

        v->rng = 0x9e3779b97f4a7c15ULL * (c + 1) ^ 0xd1b54a32d192ed03ULL;
        v->left = next_gap(v);
    }
    last_sum = g_new0(uint64_t, nnodes + 1);

    start_us = g_get_monotonic_time();
    timer = g_thread_new("htiermeter", timer_main, NULL);
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
