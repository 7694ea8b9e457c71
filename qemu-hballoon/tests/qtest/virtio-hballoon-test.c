/*
 * QTest test cases for the virtio-hballoon device (per-NUMA-node balloon)
 *
 * The tests drive the device the way a guest driver would: they negotiate
 * features, set up the virtqueues in guest memory and queue inflate, deflate
 * and statistics buffers. Guest memory has two NUMA nodes of 128 MiB each;
 * node 1 is a shared memfd so that discards punch holes in a file.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "qobject/qnum.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "hw/pci/pci_regs.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ring.h"
#include "standard-headers/linux/virtio_hballoon.h"

#define PAGE            ((uint64_t)4096)
#define NODE_SIZE       ((uint64_t)128 * 1024 * 1024)
#define NODE_PAGES      (NODE_SIZE / PAGE)
#define TIMEOUT_US      (30 * 1000 * 1000)

/* Node 0 is guest-physical [0, 128M), node 1 is [128M, 256M). */
#define NODE_START(n)   ((n) * NODE_PAGES)
/* Pages the fuzzer may validly inflate: [96M, 100M) and [200M, 204M). */
#define SAC_START(n)    ((n) ? 51200ULL : 24576ULL)
#define SAC_PAGES       1024ULL
/* Canaries: node 0 [100M, 128M), node 1 everything but its SAC range. */
#define CANARY0_START   25600ULL
#define CANARY(pfn)     (0x5a5a000000000000ULL | (pfn))

#define HB_ARGS \
    "-machine pc -m 256M -nodefaults " \
    "-object memory-backend-ram,id=m0,size=128M " \
    "-object memory-backend-memfd,id=m1,size=128M,share=on " \
    "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 " \
    "-device virtio-hballoon-pci,id=hb0,addr=04.0"

/* The largest PFN (the device's HBALLOON_MAX_PFN). */
#define HBALLOON_TEST_MAX_PFN   (UINT64_MAX >> VIRTIO_HBALLOON_PFN_SHIFT)

#define BATCH           32
#define MAX_BUF_PFNS    (VIRTIO_HBALLOON_MAX_PFNS + 2)
/* Room for the largest buffer of either layout, and one entry more. */
#define MAX_BUF_LEN     MAX_CONST(8 + 8 * MAX_BUF_PFNS, \
                                  8 + 16 * (VIRTIO_HBALLOON_MAX_RANGES + 1))

typedef struct HB {
    QTestState *qts;
    QGuestAllocator alloc;
    QPCIBus *pcibus;
    QVirtioPCIDevice *dev;
    QVirtioDevice *vdev;
    QVirtQueue *vq[3];
    uint16_t avail_idx[3];
    uint64_t data[BATCH];       /* one scratch buffer per chain */
} HB;

/* One buffer to queue: up to two readable (or writable) segments. */
typedef struct Buf {
    uint8_t bytes[MAX_BUF_LEN];
    size_t len;
    size_t split;               /* 0: one descriptor; else first seg len */
    bool write;                 /* mark the descriptors device-writable */
} Buf;

/*
 * Start QEMU with @args (the device at 04.0) and set the device up, with
 * the features every test takes plus @extra (VIRTIO_HBALLOON_F_RANGES).
 */
static HB *hb_start_features(const char *args, uint64_t extra)
{
    HB *t = g_new0(HB, 1);
    QPCIAddress addr = { .devfn = QPCI_DEVFN(4, 0) };
    uint64_t features;
    int i;

    t->qts = qtest_init(args);
    pc_alloc_init(&t->alloc, t->qts, ALLOC_NO_FLAGS);
    t->pcibus = qpci_new_pc(t->qts, &t->alloc);
    t->dev = virtio_pci_new(t->pcibus, &addr);
    g_assert_nonnull(t->dev);
    t->vdev = &t->dev->vdev;
    g_assert_cmpint(t->vdev->device_type, ==, VIRTIO_ID_HBALLOON);

    qvirtio_pci_device_enable(t->dev);
    qvirtio_start_device(t->vdev);
    features = qvirtio_get_features(t->vdev);
    g_assert_true(features & (1ULL << VIRTIO_F_VERSION_1));
    g_assert_true(features & (1ULL << VIRTIO_HBALLOON_F_STATS_VQ));
    g_assert_true(features & (1ULL << VIRTIO_HBALLOON_F_DEFLATE_ON_OOM));
    g_assert_true(features & (1ULL << VIRTIO_HBALLOON_F_PAGE_POISON));
    g_assert_true(features & (1ULL << VIRTIO_HBALLOON_F_RANGES));
    features &= (1ULL << VIRTIO_F_VERSION_1) |
                (1ULL << VIRTIO_HBALLOON_F_STATS_VQ) |
                (1ULL << VIRTIO_HBALLOON_F_DEFLATE_ON_OOM) |
                (1ULL << VIRTIO_HBALLOON_F_PAGE_POISON) | extra;
    qvirtio_set_features(t->vdev, features);
    for (i = 0; i < 3; i++) {
        t->vq[i] = qvirtqueue_setup(t->vdev, &t->alloc, i);
        g_assert_cmpint(t->vq[i]->size, >=, 2 * BATCH);
    }
    for (i = 0; i < BATCH; i++) {
        t->data[i] = guest_alloc(&t->alloc, MAX_BUF_LEN);
    }
    qvirtio_set_driver_ok(t->vdev);
    return t;
}

static HB *hb_start_args(const char *args)
{
    return hb_start_features(args, 0);
}

static HB *hb_start(const char *extra)
{
    g_autofree char *args = g_strdup_printf(HB_ARGS " %s", extra ? extra : "");

    return hb_start_args(args);
}

static void hb_stop(HB *t)
{
    int i;

    for (i = 0; i < 3; i++) {
        qvirtqueue_cleanup(t->vdev->bus, t->vq[i], &t->alloc);
    }
    qvirtio_pci_device_disable(t->dev);
    g_free(t->dev);
    qpci_free_pc(t->pcibus);
    alloc_destroy(&t->alloc);
    qtest_quit(t->qts);
    g_free(t);
}

/*
 * Queue @n buffers on virtqueue @q in one go, kick once, and wait until the
 * device has used all of them. Descriptors 2j and 2j+1 hold chain j.
 */
static void hb_send(HB *t, int q, Buf *bufs, int n)
{
    QVirtQueue *vq = t->vq[q];
    struct vring_desc desc[2 * BATCH] = {};
    uint16_t ring[BATCH];
    uint16_t used;
    gint64 start;
    int j;

    g_assert_cmpint(n, <=, BATCH);
    for (j = 0; j < n; j++) {
        Buf *b = &bufs[j];
        uint16_t flags = b->write ? VRING_DESC_F_WRITE : 0;
        uint16_t d = 2 * j;

        qtest_memwrite(t->qts, t->data[j], b->bytes, b->len);
        desc[d].addr = cpu_to_le64(t->data[j]);
        desc[d].len = cpu_to_le32(b->split ? b->split : b->len);
        desc[d].flags = cpu_to_le16(flags | (b->split ? VRING_DESC_F_NEXT : 0));
        desc[d].next = cpu_to_le16(d + 1);
        desc[d + 1].addr = cpu_to_le64(t->data[j] + b->split);
        desc[d + 1].len = cpu_to_le32(b->len - b->split);
        desc[d + 1].flags = cpu_to_le16(flags);
        desc[d + 1].next = 0;
        ring[j] = cpu_to_le16(d);
    }
    qtest_memwrite(t->qts, vq->desc, desc, sizeof(desc[0]) * 2 * n);
    for (j = 0; j < n; j++) {
        uint16_t slot = (t->avail_idx[q] + j) % vq->size;

        qtest_memwrite(t->qts, vq->avail + 4 + 2 * slot, &ring[j], 2);
    }
    t->avail_idx[q] += n;
    qtest_writew(t->qts, vq->avail + 2, t->avail_idx[q]);
    t->vdev->bus->virtqueue_kick(t->vdev, vq);

    start = g_get_monotonic_time();
    for (;;) {
        used = qtest_readw(t->qts, vq->used + 2);
        if (used == t->avail_idx[q]) {
            break;
        }
        g_assert_cmpint(g_get_monotonic_time() - start, <=, TIMEOUT_US);
    }
    vq->last_used_idx = used;
}

/* Build a well-formed buffer for @node with @num PFNs. */
static void buf_pfns(Buf *b, uint32_t node, uint32_t hdr_num,
                     const uint64_t *pfns, uint32_t num)
{
    struct virtio_hballoon_pfns hdr = {
        .node_id = cpu_to_le32(node),
        .num_pfns = cpu_to_le32(hdr_num),
    };
    uint32_t i;

    g_assert_cmpuint(8 + 8ULL * num, <=, MAX_BUF_LEN);
    memset(b, 0, offsetof(Buf, bytes));
    memcpy(b->bytes, &hdr, sizeof(hdr));
    for (i = 0; i < num; i++) {
        uint64_t le = cpu_to_le64(pfns[i]);

        memcpy(b->bytes + 8 + 8 * i, &le, 8);
    }
    b->len = 8 + 8 * num;
    b->split = 0;
    b->write = false;
}

static void send_pfns(HB *t, int q, uint32_t node, const uint64_t *pfns,
                      uint32_t num)
{
    Buf *b = g_new(Buf, 1);

    buf_pfns(b, node, num, pfns, num);
    hb_send(t, q, b, 1);
    g_free(b);
}

/* Build a range buffer (VIRTIO_HBALLOON_F_RANGES): @num (pfn, pages) pairs. */
static void buf_ranges(Buf *b, uint32_t node, const uint64_t (*ranges)[2],
                       uint32_t num)
{
    struct virtio_hballoon_pfns hdr = {
        .node_id = cpu_to_le32(node),
        .num_pfns = cpu_to_le32(num),
    };
    uint32_t i;

    g_assert_cmpuint(8 + 16ULL * num, <=, MAX_BUF_LEN);
    memcpy(b->bytes, &hdr, sizeof(hdr));
    for (i = 0; i < num; i++) {
        struct virtio_hballoon_range r = {
            .pfn = cpu_to_le64(ranges[i][0]),
            .num_pages = cpu_to_le64(ranges[i][1]),
        };

        memcpy(b->bytes + 8 + 16 * i, &r, 16);
    }
    b->len = 8 + 16 * num;
    b->split = 0;
    b->write = false;
}

static void send_ranges(HB *t, int q, uint32_t node,
                        const uint64_t (*ranges)[2], uint32_t num)
{
    Buf *b = g_new(Buf, 1);

    buf_ranges(b, node, ranges, num);
    hb_send(t, q, b, 1);
    g_free(b);
}

/* Config space accessors. */
static uint64_t cfg_node(HB *t, int i, int field)
{
    uint64_t off = offsetof(struct virtio_hballoon_config, nodes) +
                   i * sizeof(struct virtio_hballoon_node_config);

    switch (field) {
    case 0:
        return qvirtio_config_readl(t->vdev, off);
    default:
        return qvirtio_config_readq(t->vdev, off + 8 * field);
    }
}

static void cfg_write_actual(HB *t, int i, uint64_t pages)
{
    uint64_t off = t->dev->device_cfg_offset +
                   offsetof(struct virtio_hballoon_config, nodes) +
                   i * sizeof(struct virtio_hballoon_node_config) +
                   offsetof(struct virtio_hballoon_node_config, actual_pages);

    qpci_io_writel(t->dev->pdev, t->dev->bar, off, (uint32_t)pages);
    qpci_io_writel(t->dev->pdev, t->dev->bar, off + 4, pages >> 32);
}

static uint64_t qd_u64(const QDict *d, const char *key)
{
    return qnum_get_uint(qobject_to(QNum, qdict_get(d, key)));
}

/* query-hballoon helpers */
static QDict *query(QTestState *qts)
{
    return qtest_qmp_assert_success_ref(qts,
                                        "{ 'execute': 'query-hballoon' }");
}

static QDict *query_node(QDict *info, int node)
{
    QList *nodes = qdict_get_qlist(info, "nodes");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(nodes, e) {
        QDict *n = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(n, "node") == node) {
            return n;
        }
    }
    g_assert_not_reached();
}

static uint64_t node_get(QTestState *qts, int node, const char *key)
{
    QDict *info = query(qts);
    uint64_t v = qd_u64(query_node(info, node), key);

    qobject_unref(info);
    return v;
}

/*
 * Inflate page @pfn, the first of @node's, where the device must keep it:
 * counted, not discarded, no discard tried, and it still reads @value.
 */
static void inflate_kept(HB *t, uint32_t node, uint64_t pfn, uint64_t value)
{
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, node, &pfn, 1);
    g_assert_cmpuint(node_get(t->qts, node, "inflated"), ==, 1);
    g_assert_cmpuint(node_get(t->qts, node, "discarded"), ==, 0);
    g_assert_cmpuint(node_get(t->qts, node, "discard-failures"), ==, 0);
    g_assert_cmphex(qtest_readq(t->qts, pfn * PAGE), ==, value);
}

/*
 * Write a canary to page @pfn, the first of @node's to be discarded, and
 * inflate it: the host drops it, so it reads zero.
 */
static void inflate_discarded(HB *t, uint32_t node, uint64_t pfn)
{
    qtest_writeq(t->qts, pfn * PAGE, CANARY(pfn));
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, node, &pfn, 1);
    g_assert_cmpuint(node_get(t->qts, node, "discarded"), ==, 1);
    g_assert_cmphex(qtest_readq(t->qts, pfn * PAGE), ==, 0);
}

static uint64_t info_get(QTestState *qts, const char *key)
{
    QDict *info = query(qts);
    uint64_t v = qd_u64(info, key);

    qobject_unref(info);
    return v;
}

static void test_config(void)
{
    HB *t = hb_start(NULL);
    QDict *info;
    QList *nodes;
    int i;

    /* Modern-only virtio-pci: device ID 0x1040 + 63. */
    g_assert_cmphex(qpci_config_readw(t->dev->pdev, PCI_VENDOR_ID), ==,
                    0x1af4);
    g_assert_cmphex(qpci_config_readw(t->dev->pdev, PCI_DEVICE_ID), ==,
                    0x1040 + VIRTIO_ID_HBALLOON);
    g_assert_cmpint(qvirtio_config_readw(t->vdev, 0), ==, 2);
    for (i = 0; i < 2; i++) {
        g_assert_cmpuint(cfg_node(t, i, 0), ==, i);
        g_assert_cmpuint(cfg_node(t, i, 1), ==, NODE_PAGES);
        g_assert_cmpuint(cfg_node(t, i, 2), ==, 0);
        g_assert_cmpuint(cfg_node(t, i, 3), ==, 0);
    }
    /*
     * Fixed size: every entry up to the last can be read, and the ones
     * after num_nodes read as zero (past the end, virtio-pci reads all 1s).
     */
    for (i = 2; i < VIRTIO_HBALLOON_MAX_NODES; i++) {
        g_assert_cmpuint(cfg_node(t, i, 0), ==, 0);
        g_assert_cmpuint(cfg_node(t, i, 1), ==, 0);
        g_assert_cmpuint(cfg_node(t, i, 2), ==, 0);
        g_assert_cmpuint(cfg_node(t, i, 3), ==, 0);
    }
    g_assert_cmphex(qvirtio_config_readl(t->vdev,
                                         sizeof(struct virtio_hballoon_config)),
                    ==, 0xffffffff);
    /* A driver's write to an entry past num_nodes is ignored. */
    cfg_write_actual(t, VIRTIO_HBALLOON_MAX_NODES - 1, 5);
    g_assert_cmpuint(cfg_node(t, VIRTIO_HBALLOON_MAX_NODES - 1, 3), ==, 0);

    info = query(t->qts);
    nodes = qdict_get_qlist(info, "nodes");
    g_assert_cmpint(qlist_size(nodes), ==, 2);
    for (i = 0; i < 2; i++) {
        QDict *n = query_node(info, i);

        g_assert_cmpuint(qd_u64(n, "ram"), ==, NODE_SIZE);
        g_assert_cmpuint(qd_u64(n, "target"), ==, NODE_SIZE);
        g_assert_cmpuint(qd_u64(n, "actual"), ==, NODE_SIZE);
        g_assert_false(qdict_get_bool(n, "discard-inhibited"));
    }
    g_assert_false(qdict_get_bool(info, "discard-inhibited"));
    g_assert_cmpint(qlist_size(qdict_get_qlist(info, "reasons")), ==, 0);
    qobject_unref(info);

    /* Setting a node's size changes its target and notifies the driver. */
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'hballoon-set', "
                             "'arguments': { 'node': 1, 'size': %" PRIu64
                             " } }", NODE_SIZE - 64 * PAGE);
    qvirtio_wait_config_isr(t->vdev, TIMEOUT_US);
    g_assert_cmpuint(cfg_node(t, 1, 2), ==, 64);
    g_assert_cmpuint(cfg_node(t, 0, 2), ==, 0);
    g_assert_cmpuint(node_get(t->qts, 1, "target"), ==, NODE_SIZE - 64 * PAGE);
    g_assert_cmpuint(node_get(t->qts, 0, "target"), ==, NODE_SIZE);

    hb_stop(t);
}

static void test_inflate_deflate(void)
{
    HB *t = hb_start(NULL);
    uint64_t pfns[16];
    int i;

    /* Fill 16 pages of node 1 and 16 of node 0 with a pattern. */
    for (i = 0; i < 16; i++) {
        qtest_writeq(t->qts, (NODE_START(1) + 1000 + i) * PAGE, CANARY(i));
        qtest_writeq(t->qts, (NODE_START(0) + 30000 + i) * PAGE, CANARY(i));
        pfns[i] = NODE_START(1) + 1000 + i;
    }

    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, pfns, 16);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 16);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 16);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 0);
    g_assert_cmpuint(node_get(t->qts, 0, "inflated"), ==, 0);
    for (i = 0; i < 16; i++) {
        /* Discarded: the memfd hole reads as zeroes. */
        g_assert_cmphex(qtest_readq(t->qts, pfns[i] * PAGE), ==, 0);
        /* Node 0 untouched. */
        g_assert_cmphex(qtest_readq(t->qts, (NODE_START(0) + 30000 + i) *
                                    PAGE), ==, CANARY(i));
    }

    /* The driver reports its balloon; the event carries the node. */
    cfg_write_actual(t, 1, 16);
    {
        QDict *ev = qtest_qmp_eventwait_ref(t->qts, "HBALLOON_CHANGE");
        QDict *data = qdict_get_qdict(ev, "data");

        g_assert_cmpint(qdict_get_int(data, "node"), ==, 1);
        g_assert_cmpuint(qd_u64(data, "actual"), ==,
                         NODE_SIZE - 16 * PAGE);
        /* which device: its transport's id and QOM path */
        g_assert_cmpstr(qdict_get_str(data, "id"), ==, "hb0");
        g_assert_cmpstr(qdict_get_str(data, "qom-path"), ==,
                        "/machine/peripheral/hb0");
        qobject_unref(ev);
    }
    g_assert_cmpuint(node_get(t->qts, 1, "actual"), ==, NODE_SIZE - 16 * PAGE);
    g_assert_cmpuint(cfg_node(t, 1, 3), ==, 16);

    /* Deflate: the pages are usable again (they read as zero). */
    send_pfns(t, VIRTIO_HBALLOON_VQ_DEFLATE, 1, pfns, 16);
    g_assert_cmpuint(node_get(t->qts, 1, "deflated"), ==, 16);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 16);
    qtest_writeq(t->qts, pfns[0] * PAGE, 0x1234);
    g_assert_cmphex(qtest_readq(t->qts, pfns[0] * PAGE), ==, 0x1234);

    /* Contiguous and scattered PFNs of node 0 (anonymous RAM). */
    for (i = 0; i < 16; i++) {
        pfns[i] = NODE_START(0) + 30000 + (i < 8 ? i : 2 * i);
        qtest_writeq(t->qts, pfns[i] * PAGE, CANARY(i));
    }
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 0, pfns, 16);
    g_assert_cmpuint(node_get(t->qts, 0, "inflated"), ==, 16);
    g_assert_cmpuint(node_get(t->qts, 0, "discarded"), ==, 16);
    for (i = 0; i < 16; i++) {
        g_assert_cmphex(qtest_readq(t->qts, pfns[i] * PAGE), ==, 0);
    }

    /* A device reset empties every balloon. */
    cfg_write_actual(t, 0, 16);
    g_assert_cmpuint(node_get(t->qts, 0, "actual"), ==, NODE_SIZE - 16 * PAGE);
    qvirtio_reset(t->vdev);
    g_assert_cmpuint(node_get(t->qts, 0, "actual"), ==, NODE_SIZE);
    g_assert_cmpuint(node_get(t->qts, 1, "actual"), ==, NODE_SIZE);

    hb_stop(t);
}

/* A uint64 QOM property of the device's virtio backend. */
static uint64_t backend_get(HB *t, const char *property)
{
    QDict *rsp = qtest_qmp(t->qts, "{ 'execute': 'qom-get', 'arguments': "
                           "{ 'path': '/machine/peripheral/hb0/virtio-backend', "
                           "'property': %s } }", property);
    uint64_t v;

    g_assert_true(qdict_haskey(rsp, "return"));
    v = qnum_get_uint(qobject_to(QNum, qdict_get(rsp, "return")));
    qobject_unref(rsp);
    return v;
}

static uint64_t slice_max_ns(HB *t)
{
    return backend_get(t, "x-slice-max-ns");
}

/*
 * A hostile guest queues the most work it can in one kick: 32 full buffers
 * of scattered PFNs (no two adjacent, so every one is its own discard).
 * The device works through them in slices, so the BQL is free in between:
 * its longest slice stays far below the whole batch's time.
 */
static void test_bql_slices(void)
{
    HB *t = hb_start(NULL);
    Buf *bufs = g_new(Buf, BATCH);
    uint64_t *pfns = g_new(uint64_t, VIRTIO_HBALLOON_MAX_PFNS);
    uint64_t total = (uint64_t)BATCH * VIRTIO_HBALLOON_MAX_PFNS, slice_ns;
    gint64 t0;
    int i, j;

    for (j = 0; j < BATCH; j++) {
        for (i = 0; i < VIRTIO_HBALLOON_MAX_PFNS; i++) {
            pfns[i] = NODE_START(1) +
                      (2ULL * i + 1 + 2ULL * VIRTIO_HBALLOON_MAX_PFNS * j) %
                      NODE_PAGES;
        }
        buf_pfns(&bufs[j], 1, VIRTIO_HBALLOON_MAX_PFNS, pfns,
                 VIRTIO_HBALLOON_MAX_PFNS);
    }
    t0 = g_get_monotonic_time();
    hb_send(t, VIRTIO_HBALLOON_VQ_INFLATE, bufs, BATCH);
    t0 = g_get_monotonic_time() - t0;
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, total);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, total);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 0);

    slice_ns = slice_max_ns(t);
    g_test_message("bql: %" PRIu64 " scattered PFNs in %" PRId64
                   " us, longest slice under the BQL %" PRIu64 " us",
                   total, (int64_t)t0, slice_ns / 1000);
    /*
     * Slices end after 2 ms plus at most one clock interval of work; a
     * loaded host can preempt QEMU inside one, hence the margin. Done in
     * one go, the batch takes hundreds of milliseconds.
     */
    g_assert_cmpuint(slice_ns, >, 0);
    g_assert_cmpuint(slice_ns, <, 100 * 1000 * 1000);

    g_free(pfns);
    g_free(bufs);
    hb_stop(t);
}

/*
 * One range of a whole populated 1 GiB node: applied and discarded in
 * steps, so the BQL is let go between them as with scattered PFNs.
 */
static void test_bql_ranges(void)
{
    uint64_t size = 1024ULL * 1024 * 1024, pages = size / PAGE;
    HB *t = hb_start_features("-machine pc -m 1152M -nodefaults "
        "-object memory-backend-ram,id=m0,size=128M "
        "-object memory-backend-memfd,id=m1,size=1G,share=on "
        "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 "
        "-device virtio-hballoon-pci,id=hb0,addr=04.0",
        1ULL << VIRTIO_HBALLOON_F_RANGES);
    const uint64_t all[][2] = { { NODE_START(1), pages } };
    uint64_t slice_ns;
    gint64 t0;

    uint64_t off;

    /* In 64 MiB pieces: qtest's memset takes a buffer of the length. */
    for (off = 0; off < size; off += 64 * 1024 * 1024) {
        qtest_memset(t->qts, NODE_START(1) * PAGE + off, 0x5a,
                     64 * 1024 * 1024);
    }
    t0 = g_get_monotonic_time();
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, all, 1);
    t0 = g_get_monotonic_time() - t0;
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, pages);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, pages);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 0);
    /* Every 2 MiB step was discarded where it belongs, first to last page. */
    for (off = 0; off < pages; off += 512) {
        g_assert_cmphex(qtest_readq(t->qts, (NODE_START(1) + off) * PAGE),
                        ==, 0);
        g_assert_cmphex(qtest_readq(t->qts,
                                    (NODE_START(1) + off + 511) * PAGE), ==, 0);
    }
    slice_ns = slice_max_ns(t);
    g_test_message("bql: one range of a populated 1 GiB node in %" PRId64
                   " us, longest slice under the BQL %" PRIu64 " us",
                   (int64_t)t0, slice_ns / 1000);
    /*
     * As above: 2 ms slices, and one 2 MiB step past the deadline; and
     * it was sliced (one go would hold the BQL for all of it).
     */
    g_assert_cmpuint(slice_ns, <, 100 * 1000 * 1000);
    g_assert_cmpuint(slice_ns / 1000, <, (uint64_t)t0);
    hb_stop(t);
}

static void test_bad_pfns(void)
{
    HB *t = hb_start(NULL);
    uint64_t node0_page = NODE_START(0) + 20000;
    uint64_t node1_page = NODE_START(1) + 20000;
    uint64_t pfns[] = {
        node0_page,             /* RAM, but of node 0 */
        2 * NODE_PAGES,         /* just past the end of RAM */
        0xfee00,                /* local APIC */
        0xfffff,                /* BIOS ROM */
        0xe0,                   /* ISA BIOS ROM below 1 MiB */
        1ULL << 40,             /* nothing there */
        1ULL << 52,             /* address overflows 64 bits */
        UINT64_MAX,
        node1_page,             /* the only valid one */
    };
    int n = ARRAY_SIZE(pfns);

    qtest_writeq(t->qts, node0_page * PAGE, CANARY(1));
    qtest_writeq(t->qts, node1_page * PAGE, CANARY(2));
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, pfns, n);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, n - 1);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 1);
    g_assert_cmpuint(node_get(t->qts, 0, "inflated"), ==, 0);
    g_assert_cmphex(qtest_readq(t->qts, node0_page * PAGE), ==, CANARY(1));
    g_assert_cmphex(qtest_readq(t->qts, node1_page * PAGE), ==, 0);

    send_pfns(t, VIRTIO_HBALLOON_VQ_DEFLATE, 1, pfns, n);
    g_assert_cmpuint(node_get(t->qts, 1, "deflated"), ==, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 2 * (n - 1));
    g_assert_cmpuint(info_get(t->qts, "bad-buffers"), ==, 0);
    hb_stop(t);
}

static void send_bad(HB *t, Buf *b, int *bad)
{
    hb_send(t, VIRTIO_HBALLOON_VQ_INFLATE, b, 1);
    (*bad)++;
}

static void test_bad_buffers(void)
{
    HB *t = hb_start(NULL);
    uint64_t page = NODE_START(1) + 3000;
    uint64_t pfns[VIRTIO_HBALLOON_MAX_PFNS + 1];
    Buf *b = g_new0(Buf, 1);
    int bad = 0;
    uint32_t i;

    for (i = 0; i < ARRAY_SIZE(pfns); i++) {
        pfns[i] = page;
    }
    qtest_writeq(t->qts, page * PAGE, CANARY(3));

    /* Unknown node. */
    buf_pfns(b, 2, 1, pfns, 1);
    send_bad(t, b, &bad);
    buf_pfns(b, UINT32_MAX, 1, pfns, 1);
    send_bad(t, b, &bad);
    /* Header claims more or fewer PFNs than the buffer holds. */
    buf_pfns(b, 1, 2, pfns, 1);
    send_bad(t, b, &bad);
    buf_pfns(b, 1, 1, pfns, 2);
    send_bad(t, b, &bad);
    buf_pfns(b, 1, UINT32_MAX, pfns, 3);
    send_bad(t, b, &bad);
    /* No PFNs at all, and too many. */
    buf_pfns(b, 1, 0, pfns, 0);
    send_bad(t, b, &bad);
    buf_pfns(b, 1, VIRTIO_HBALLOON_MAX_PFNS + 1, pfns,
             VIRTIO_HBALLOON_MAX_PFNS + 1);
    send_bad(t, b, &bad);
    /* Shorter than a header. */
    buf_pfns(b, 1, 1, pfns, 1);
    b->len = 7;
    send_bad(t, b, &bad);
    /* Trailing garbage after the last PFN. */
    buf_pfns(b, 1, 1, pfns, 1);
    b->len += 3;
    send_bad(t, b, &bad);
    /* Device-writable descriptors. */
    buf_pfns(b, 1, 1, pfns, 1);
    b->write = true;
    send_bad(t, b, &bad);

    g_assert_cmpuint(info_get(t->qts, "bad-buffers"), ==, bad);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 0);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 0);
    g_assert_cmphex(qtest_readq(t->qts, page * PAGE), ==, CANARY(3));

    /* The maximum, split over two descriptors at an odd offset, is fine. */
    buf_pfns(b, 1, VIRTIO_HBALLOON_MAX_PFNS, pfns, VIRTIO_HBALLOON_MAX_PFNS);
    b->split = 13;
    hb_send(t, 0, b, 1);
    g_assert_cmpuint(info_get(t->qts, "bad-buffers"), ==, bad);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==,
                     VIRTIO_HBALLOON_MAX_PFNS);
    g_assert_cmphex(qtest_readq(t->qts, page * PAGE), ==, 0);
    g_free(b);
    hb_stop(t);
}

/* Query until node @node's statistics satisfy @want (or time runs out). */
static QDict *wait_stats(QTestState *qts, int node,
                         bool (*want)(QDict *stats))
{
    gint64 start = g_get_monotonic_time();

    for (;;) {
        QDict *info = query(qts);
        QDict *n = query_node(info, node);
        QDict *st = qdict_haskey(n, "stats") ? qdict_get_qdict(n, "stats")
                                              : NULL;

        if (want(st)) {
            return info;
        }
        qobject_unref(info);
        g_assert_cmpint(g_get_monotonic_time() - start, <=, TIMEOUT_US);
        g_usleep(1000);
    }
}

static bool stats_first(QDict *st)
{
    return st && qd_u64(st, "free-memory") == 12345 * PAGE;
}

static bool stats_second(QDict *st)
{
    return st && qd_u64(st, "free-memory") == 999 * PAGE;
}

static bool stats_none(QDict *st)
{
    return !st;
}

/* Queue @len bytes of @report on the stats queue; returns the head. */
static uint32_t send_stats(HB *t, const void *report, size_t len)
{
    QVirtQueue *vq = t->vq[VIRTIO_HBALLOON_VQ_STATS];
    uint64_t addr = guest_alloc(&t->alloc, len);
    uint32_t head;

    qtest_memwrite(t->qts, addr, report, len);
    head = qvirtqueue_add(t->qts, vq, addr, len, false, false);
    qvirtqueue_kick(t->qts, t->vdev, vq, head);
    return head;
}

static void test_stats(void)
{
    HB *t = hb_start(NULL);
    struct {
        struct virtio_hballoon_stats_hdr hdr;
        struct virtio_hballoon_stat st[3];
    } QEMU_PACKED s = {
        .hdr = { cpu_to_le32(1), cpu_to_le32(3) },
        .st = {
            { .tag = cpu_to_le16(VIRTIO_HBALLOON_S_MEMFREE),
              .val = cpu_to_le64(12345 * PAGE) },
            { .tag = cpu_to_le16(VIRTIO_HBALLOON_S_BALLOON),
              .val = cpu_to_le64(7 * PAGE) },
            { .tag = cpu_to_le16(VIRTIO_HBALLOON_S_HOT),
              .val = cpu_to_le64(0) },
        },
    };
    QVirtQueue *vq = t->vq[VIRTIO_HBALLOON_VQ_STATS];
    QDict *info, *stats;
    uint32_t head;

    head = send_stats(t, &s, sizeof(s));
    /* The device keeps the buffer; the statistics show up in the query. */
    info = wait_stats(t->qts, 1, stats_first);
    g_assert_false(qdict_haskey(query_node(info, 0), "stats"));
    stats = qdict_get_qdict(query_node(info, 1), "stats");
    g_assert_cmpuint(qd_u64(stats, "balloon-memory"), ==, 7 * PAGE);
    /* A demand of 0 is reported as such; one not sent is absent. */
    g_assert_true(qdict_haskey(stats, "hot-memory"));
    g_assert_cmpuint(qd_u64(stats, "hot-memory"), ==, 0);
    g_assert_false(qdict_haskey(stats, "cold-memory"));
    qobject_unref(info);
    g_assert_false(qvirtqueue_get_buf(t->qts, vq, NULL, NULL));

    /* After the polling interval the device asks for fresh numbers. */
    qtest_clock_step(t->qts, 6000 * 1000 * 1000LL);
    qvirtio_wait_used_elem(t->qts, t->vdev, vq, head, NULL, TIMEOUT_US);

    /* A report replaces the last: a tag it lacks reads 0. */
    s.hdr.num_stats = cpu_to_le32(1);
    s.st[0].val = cpu_to_le64(999 * PAGE);
    head = send_stats(t, &s, sizeof(s.hdr) + sizeof(s.st[0]));
    info = wait_stats(t->qts, 1, stats_second);
    stats = qdict_get_qdict(query_node(info, 1), "stats");
    g_assert_cmpuint(qd_u64(stats, "balloon-memory"), ==, 0);
    g_assert_false(qdict_haskey(stats, "hot-memory"));
    qobject_unref(info);
    qtest_clock_step(t->qts, 6000 * 1000 * 1000LL);
    qvirtio_wait_used_elem(t->qts, t->vdev, vq, head, NULL, TIMEOUT_US);

    /*
     * A header that claims more statistics than any device reads ends the
     * walk there (the buffer is not read on, however long it is): nothing
     * of it is taken, and the buffer still goes back to the guest.
     */
    s.hdr.num_stats = cpu_to_le32(1000000);
    head = send_stats(t, &s, sizeof(s));
    qobject_unref(wait_stats(t->qts, 1, stats_none));
    qtest_clock_step(t->qts, 6000 * 1000 * 1000LL);
    qvirtio_wait_used_elem(t->qts, t->vdev, vq, head, NULL, TIMEOUT_US);
    hb_stop(t);
}

static void test_events_per_node(void)
{
    HB *t = hb_start(NULL);
    QDict *ev;

    /* Drain the first event of each node so that throttling starts. */
    cfg_write_actual(t, 1, 10);
    ev = qtest_qmp_eventwait_ref(t->qts, "HBALLOON_CHANGE");
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(ev, "data"), "node"), ==, 1);
    qobject_unref(ev);

    /* Node 0's first event is not held back by node 1's. */
    cfg_write_actual(t, 0, 5);
    cfg_write_actual(t, 1, 20);
    qobject_unref(query(t->qts));
    ev = qtest_qmp_event_ref(t->qts, "HBALLOON_CHANGE");
    g_assert_nonnull(ev);
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(ev, "data"), "node"), ==, 0);
    qobject_unref(ev);
    /* Node 1's second change within a second is throttled ... */
    g_assert_null(qtest_qmp_event_ref(t->qts, "HBALLOON_CHANGE"));
    /* ... and delivered with the latest value once the period ends. */
    qtest_clock_step(t->qts, 1100 * 1000 * 1000LL);
    qobject_unref(query(t->qts));
    ev = qtest_qmp_event_ref(t->qts, "HBALLOON_CHANGE");
    g_assert_nonnull(ev);
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(ev, "data"), "node"), ==, 1);
    g_assert_cmpuint(qd_u64(qdict_get_qdict(ev, "data"), "actual"),
                     ==, NODE_SIZE - 20 * PAGE);
    qobject_unref(ev);
    hb_stop(t);
}

static void assert_qmp_error(QTestState *qts, const char *klass,
                             const char *msg_part, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void assert_qmp_error(QTestState *qts, const char *klass,
                             const char *msg_part, const char *fmt, ...)
{
    va_list ap;
    QDict *rsp, *err;

    va_start(ap, fmt);
    rsp = qtest_vqmp(qts, fmt, ap);
    va_end(ap);
    g_assert_nonnull(rsp);
    err = qdict_get_qdict(rsp, "error");
    g_assert_nonnull(err);
    g_assert_cmpstr(qdict_get_str(err, "class"), ==, klass);
    if (msg_part && !strstr(qdict_get_str(err, "desc"), msg_part)) {
        g_error("error '%s' does not mention '%s'",
                qdict_get_str(err, "desc"), msg_part);
    }
    qobject_unref(rsp);
}

static void test_qmp_errors(void)
{
    QTestState *qts = qtest_initf(HB_ARGS);
    char *out;

    assert_qmp_error(qts, "GenericError", "does not exist",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 2, 'size': 4096 } }");
    assert_qmp_error(qts, "GenericError", "does not exist",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 4294967295, 'size': 4096 } }");
    assert_qmp_error(qts, "GenericError", "multiple of 4 KiB",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 1, 'size': 4097 } }");
    assert_qmp_error(qts, "GenericError", "multiple of 4 KiB",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 0, 'size': 1 } }");
    assert_qmp_error(qts, "GenericError", "larger than NUMA node 1",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 1, 'size': %" PRIu64 " } }",
                     NODE_SIZE + PAGE);
    assert_qmp_error(qts, "GenericError", "larger than",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 0, 'size': 18446744073709547520 } }");
    /* Type errors from the QAPI layer. */
    assert_qmp_error(qts, "GenericError", "size",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 0, 'size': -4096 } }");
    assert_qmp_error(qts, "GenericError", "node",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': -1, 'size': 4096 } }");
    assert_qmp_error(qts, "GenericError", "size",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 0 } }");
    assert_qmp_error(qts, "GenericError", "node",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'size': 4096 } }");
    assert_qmp_error(qts, "GenericError", "size",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 0, 'size': 'big' } }");
    /* Zero would balloon the whole node away: refused, target unchanged. */
    assert_qmp_error(qts, "GenericError", "greater than 0",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 0, 'size': 0 } }");
    g_assert_cmpuint(node_get(qts, 0, "target"), ==, NODE_SIZE);
    /* Boundaries that are fine: one page and the whole node. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'hballoon-set', 'arguments':"
                             " { 'node': 0, 'size': 4096 } }");
    g_assert_cmpuint(node_get(qts, 0, "target"), ==, PAGE);
    qtest_qmp_assert_success(qts, "{ 'execute': 'hballoon-set', 'arguments':"
                             " { 'node': 0, 'size': %" PRIu64 " } }",
                             NODE_SIZE);
    /* The device by id: its transport's, as the user gave it. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'hballoon-set', 'arguments':"
                             " { 'node': 1, 'size': %" PRIu64 ", "
                             "'id': 'hb0' } }", NODE_SIZE - PAGE);
    g_assert_cmpuint(node_get(qts, 1, "target"), ==, NODE_SIZE - PAGE);
    qobject_unref(qtest_qmp_assert_success_ref(qts,
                  "{ 'execute': 'query-hballoon', 'arguments': "
                  "{ 'id': 'hb0' } }"));
    assert_qmp_error(qts, "GenericError", "with id 'hb1'",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 1, 'size': 4096, 'id': 'hb1' } }");
    assert_qmp_error(qts, "GenericError", "with id 'hb1'",
                     "{ 'execute': 'query-hballoon', 'arguments': "
                     "{ 'id': 'hb1' } }");
    g_assert_cmpuint(node_get(qts, 1, "target"), ==, NODE_SIZE - PAGE);

    /* HMP */
    out = qtest_hmp(qts, "hballoon 1 64M");
    g_assert_cmpstr(out, ==, "");
    g_free(out);
    g_assert_cmpuint(node_get(qts, 1, "target"), ==, 64 * 1024 * 1024);
    out = qtest_hmp(qts, "hballoon 3 64M");
    g_assert_nonnull(strstr(out, "does not exist"));
    g_free(out);
    out = qtest_hmp(qts, "hballoon 1 1000B");
    g_assert_nonnull(strstr(out, "multiple of 4 KiB"));
    g_free(out);
    out = qtest_hmp(qts, "info hballoon");
    g_assert_nonnull(strstr(out, "target MiB"));
    g_assert_nonnull(strstr(out, "discard: enabled"));
    g_free(out);
    qtest_quit(qts);

    /* No device at all. */
    qts = qtest_init("-machine pc -nodefaults");
    assert_qmp_error(qts, "GenericError", "No virtio-hballoon",
                     "{ 'execute': 'query-hballoon' }");
    assert_qmp_error(qts, "GenericError", "No virtio-hballoon",
                     "{ 'execute': 'hballoon-set', 'arguments': "
                     "{ 'node': 0, 'size': 4096 } }");
    out = qtest_hmp(qts, "info hballoon");
    g_assert_nonnull(strstr(out, "No virtio-hballoon"));
    g_free(out);
    qtest_quit(qts);
}

/* Coexistence: a stock virtio-balloon keeps QEMU's balloon handler. */
static void test_coexist(void)
{
    QTestState *qts = qtest_initf(HB_ARGS " -device virtio-balloon-pci");

    qtest_qmp_assert_success(qts, "{ 'execute': 'query-balloon' }");
    qobject_unref(query(qts));
    qtest_quit(qts);
}

/* A second hballoon device is refused. */
static void test_second_device(void)
{
    QTestState *qts = qtest_initf(HB_ARGS);

    assert_qmp_error(qts, "GenericError", "only one virtio-hballoon",
                     "{ 'execute': 'device_add', 'arguments': "
                     "{ 'driver': 'virtio-hballoon-pci', 'id': 'hb1' } }");
    qtest_quit(qts);
}

/* Whether @reasons (a query's "reasons" list) holds @why. */
static bool has_reason(QDict *info, const char *why)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(info, "reasons"), e) {
        if (!strcmp(qstring_get_str(qobject_to(QString, qlist_entry_obj(e))),
                    why)) {
            return true;
        }
    }
    return false;
}

/*
 * Page poisoning does not stop discards: an inflated page is not free to
 * the guest, and a deflated one is poisoned again when the guest frees it.
 */
static void test_page_poison(void)
{
    HB *t = hb_start(NULL);
    uint64_t pfn = NODE_START(1) + 77;
    QDict *info;

    qpci_io_writel(t->dev->pdev, t->dev->bar, t->dev->device_cfg_offset +
                   offsetof(struct virtio_hballoon_config, poison_val),
                   0xaaaaaaaa);
    info = query(t->qts);
    g_assert_false(qdict_get_bool(info, "discard-inhibited"));
    g_assert_cmpint(qlist_size(qdict_get_qlist(info, "reasons")), ==, 0);
    qobject_unref(info);

    inflate_discarded(t, 1, pfn);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 1);
    hb_stop(t);
}

/*
 * A file of @pages pages, every 1024th holding CANARY(its page number) in
 * its first word, the rest holes; on tmpfs where there is one (page-sized
 * blocks, as a host's /dev/shm backends have).
 */
static char *make_backing_file(uint64_t pages)
{
    const char *dir = access("/dev/shm", W_OK) ? g_get_tmp_dir() : "/dev/shm";
    char *path = g_strdup_printf("%s/hballoon-file-XXXXXX", dir);
    int fd = g_mkstemp(path);
    uint64_t k;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, pages * PAGE), ==, 0);
    for (k = 0; k < pages; k += 1024) {
        uint64_t v = CANARY(k);

        g_assert_cmpint(pwrite(fd, &v, 8, k * PAGE), ==, 8);
    }
    close(fd);
    return path;
}

static uint64_t file_word(const char *path, uint64_t page)
{
    int fd = open(path, O_RDONLY);
    uint64_t v = 0;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, &v, 8, page * PAGE), ==, 8);
    close(fd);
    return v;
}

/*
 * Node 1 backed by @backend (a file the test made): the device must not
 * discard (the node and the query say why), the guest's page keeps its
 * contents, and the file keeps its own: no hole punched into a file other
 * VMs may map too.
 */
static void check_file_backend(const char *backend, const char *why)
{
    g_autofree char *file = make_backing_file(NODE_PAGES);
    g_autofree char *args = g_strdup_printf(
        "-machine pc -m 256M -nodefaults "
        "-object memory-backend-ram,id=m0,size=128M "
        "-object memory-backend-file,id=m1,size=128M,mem-path=%s,%s "
        "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 "
        "-device virtio-hballoon-pci,id=hb0,addr=04.0", file, backend);
    HB *t = hb_start_args(args);
    uint64_t pfn = NODE_START(1) + 2048;
    QDict *info, *n;

    info = query(t->qts);
    n = query_node(info, 1);
    g_assert_true(qdict_get_bool(n, "discard-inhibited"));
    g_assert_cmpstr(qdict_get_str(n, "reason"), ==, why);
    g_assert_false(qdict_get_bool(query_node(info, 0), "discard-inhibited"));
    g_assert_false(qdict_haskey(query_node(info, 0), "reason"));
    g_assert_true(qdict_get_bool(info, "discard-inhibited"));
    g_assert_true(has_reason(info, why));
    qobject_unref(info);

    /* The guest sees the file's contents, then inflates that page. */
    g_assert_cmphex(qtest_readq(t->qts, pfn * PAGE), ==, CANARY(2048));
    inflate_kept(t, 1, pfn, CANARY(2048));
    g_assert_cmphex(file_word(file, 2048), ==, CANARY(2048));

    /* Node 0 (anonymous RAM) still discards. */
    inflate_discarded(t, 0, NODE_START(0) + 3000);
    hb_stop(t);
    unlink(file);
}

static void test_private_file(void)
{
    check_file_backend("share=off", "private-file");
}

static void test_readonly_file(void)
{
    check_file_backend("readonly=on,rom=off,share=off", "readonly-file");
}

static uint64_t file_blocks(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_blocks;
}

/*
 * The host really gets the memory back: with node 1 in a shared file, the
 * file's allocated blocks drop by exactly the pages inflated, and grow
 * again once the guest writes a deflated page.
 */
static void test_shared_file(void)
{
    g_autofree char *file = make_backing_file(NODE_PAGES);
    g_autofree char *args = g_strdup_printf(
        "-machine pc -m 256M -nodefaults "
        "-object memory-backend-ram,id=m0,size=128M "
        "-object memory-backend-file,id=m1,size=128M,mem-path=%s,share=on "
        "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 "
        "-device virtio-hballoon-pci,id=hb0,addr=04.0", file);
    HB *t = hb_start_args(args);
    uint64_t pfns[16], before, i;

    for (i = 0; i < 16; i++) {
        pfns[i] = NODE_START(1) + 5000 + 3 * i;
        qtest_writeq(t->qts, pfns[i] * PAGE, CANARY(pfns[i]));
    }
    before = file_blocks(file);
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, pfns, 16);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 16);
    g_assert_cmpuint(file_blocks(file), ==, before - 16 * PAGE / 512);
    g_assert_cmphex(file_word(file, 5000 + 3), ==, 0);
    g_assert_cmphex(file_word(file, 1024), ==, CANARY(1024));

    send_pfns(t, VIRTIO_HBALLOON_VQ_DEFLATE, 1, pfns, 16);
    qtest_writeq(t->qts, pfns[0] * PAGE, 0x1234);
    g_assert_cmpuint(file_blocks(file), >=, before - 15 * PAGE / 512);
    g_assert_cmphex(file_word(file, 5000), ==, 0x1234);
    hb_stop(t);
    unlink(file);
}

/* Node 1 on 16 MiB of 2 MiB huge pages (a hugetlb memfd); node 0 anonymous. */
#define LARGE_PAGES_ARGS \
    "-machine pc -m 144M -nodefaults " \
    "-object memory-backend-ram,id=m0,size=128M " \
    "-object memory-backend-memfd,id=m1,size=16M,hugetlb=on," \
    "hugetlbsize=2M,share=on " \
    "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 " \
    "-device virtio-hballoon-pci,id=hb0,addr=04.0"

static bool have_huge_pages(void)
{
    g_autofree char *free_pages = NULL;

    if (!g_file_get_contents(
            "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
            &free_pages, NULL, NULL) || atoi(free_pages) < 8) {
        g_test_skip("needs 8 free 2 MiB huge pages on the host");
        return false;
    }
    return true;
}

/*
 * Host pages larger than the 4 KiB a PFN names (hugetlbfs): without
 * ranges a discard could never free one, so the node says so and keeps
 * its pages; the guest's data stays. tests/qtest-hballoon.sh reserves the
 * huge pages when root.
 */
static void test_large_pages(void)
{
    HB *t;
    uint64_t pfn = NODE_START(1) + 100;
    QDict *info, *n;

    if (!have_huge_pages()) {
        return;
    }
    t = hb_start_args(LARGE_PAGES_ARGS);
    info = query(t->qts);
    n = query_node(info, 1);
    g_assert_true(qdict_get_bool(n, "discard-inhibited"));
    g_assert_cmpstr(qdict_get_str(n, "reason"), ==, "large-pages");
    g_assert_false(qdict_get_bool(query_node(info, 0), "discard-inhibited"));
    g_assert_true(has_reason(info, "large-pages"));
    qobject_unref(info);

    qtest_writeq(t->qts, pfn * PAGE, CANARY(pfn));
    inflate_kept(t, 1, pfn, CANARY(pfn));

    inflate_discarded(t, 0, NODE_START(0) + 3000);
    hb_stop(t);
}

/*
 * With ranges, the same node discards every 2 MiB host page that ranges
 * cover whole, also when two contiguous ranges of one buffer share it,
 * and keeps the host pages they cover only in part, with their data.
 * @slices_continued: how many times the inflate must be cut off and
 * continued (-1: not checked).
 */
static void large_pages_ranges(const char *args, int slices_continued)
{
    const uint64_t hp = 512, base = NODE_START(1);
    /* Host page 1 whole with 100 pages on each side; host page 3 in two. */
    const uint64_t ranges[][2] = {
        { base + hp - 100, hp + 200 },
        { base + 3 * hp, 200 },
        { base + 3 * hp + 200, hp - 200 },
    };
    const uint64_t kept[] = { base + hp - 100, base + 2 * hp + 99 };
    const uint64_t gone[] = { base + hp, base + 2 * hp - 1, base + 3 * hp,
                              base + 4 * hp - 1 };
    QDict *info;
    HB *t;
    int i;

    t = hb_start_features(args, 1ULL << VIRTIO_HBALLOON_F_RANGES);
    info = query(t->qts);
    g_assert_false(qdict_get_bool(query_node(info, 1), "discard-inhibited"));
    g_assert_false(qdict_haskey(query_node(info, 1), "reason"));
    g_assert_false(has_reason(info, "large-pages"));
    qobject_unref(info);

    for (i = 0; i < ARRAY_SIZE(kept); i++) {
        qtest_writeq(t->qts, kept[i] * PAGE, CANARY(kept[i]));
    }
    for (i = 0; i < ARRAY_SIZE(gone); i++) {
        qtest_writeq(t->qts, gone[i] * PAGE, CANARY(gone[i]));
    }
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, ranges, ARRAY_SIZE(ranges));
    if (slices_continued >= 0) {
        g_assert_cmpuint(backend_get(t, "x-slices-continued"), ==,
                         slices_continued);
    }
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 2 * hp + 200);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 2 * hp);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 0);
    g_assert_cmpuint(node_get(t->qts, 1, "discard-failures"), ==, 0);
    for (i = 0; i < ARRAY_SIZE(kept); i++) {
        g_assert_cmphex(qtest_readq(t->qts, kept[i] * PAGE), ==,
                        CANARY(kept[i]));
    }
    for (i = 0; i < ARRAY_SIZE(gone); i++) {
        g_assert_cmphex(qtest_readq(t->qts, gone[i] * PAGE), ==, 0);
    }

    /* Back, and usable: a write lands in a fresh huge page. */
    send_ranges(t, VIRTIO_HBALLOON_VQ_DEFLATE, 1, ranges, ARRAY_SIZE(ranges));
    g_assert_cmpuint(node_get(t->qts, 1, "deflated"), ==, 2 * hp + 200);
    qtest_writeq(t->qts, gone[0] * PAGE, 0x1234);
    g_assert_cmphex(qtest_readq(t->qts, gone[0] * PAGE), ==, 0x1234);
    hb_stop(t);
}

static void test_large_pages_ranges(void)
{
    if (have_huge_pages()) {
        large_pages_ranges(LARGE_PAGES_ARGS, -1);
    }
}

/*
 * The same with a slice end after every step of the inflate (x-slice-ns=0
 * still applies one step per slice): 100 + 512 + 100 pages of the first
 * range, then the second and the third, so 4 slice ends, and host page 3
 * is covered by two slices. It is freed all the same: the run
 * waits for the rest of its buffer, not for the end of a slice.
 */
static void test_large_pages_sliced(void)
{
    if (have_huge_pages()) {
        large_pages_ranges(LARGE_PAGES_ARGS ",x-slice-ns=0", 4);
    }
}

/* A private memfd is QEMU's own: discarding it harms nobody. */
static void test_private_memfd(void)
{
    HB *t = hb_start_args(
        "-machine pc -m 256M -nodefaults "
        "-object memory-backend-ram,id=m0,size=128M "
        "-object memory-backend-memfd,id=m1,size=128M,share=off "
        "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 "
        "-device virtio-hballoon-pci,id=hb0,addr=04.0");
    uint64_t pfn = NODE_START(1) + 99;

    {
        QDict *info = query(t->qts);

        g_assert_false(qdict_get_bool(query_node(info, 1),
                                      "discard-inhibited"));
        qobject_unref(info);
    }
    inflate_discarded(t, 1, pfn);
    hb_stop(t);
}

/*
 * Locked guest memory (-overcommit mem-lock): the host cannot drop locked
 * pages, so the device says so instead of failing every discard.
 */
static void test_mem_lock(void)
{
    struct rlimit rl;
    HB *t;

    /* QEMU exits if it cannot lock: needs root or a high enough limit. */
    if (geteuid() && (getrlimit(RLIMIT_MEMLOCK, &rl) ||
                      (rl.rlim_cur != RLIM_INFINITY &&
                       rl.rlim_cur < 512 * 1024 * 1024))) {
        g_test_skip("cannot lock guest memory (not root, RLIMIT_MEMLOCK)");
        return;
    }
    t = hb_start("-overcommit mem-lock=on-fault");
    uint64_t pfn = NODE_START(1) + 123;
    QDict *info = query(t->qts);

    g_assert_true(qdict_get_bool(info, "discard-inhibited"));
    g_assert_true(has_reason(info, "mem-lock"));
    qobject_unref(info);
    qtest_writeq(t->qts, pfn * PAGE, CANARY(pfn));
    inflate_kept(t, 1, pfn, CANARY(pfn));
    hb_stop(t);
}

/*
 * PFNs in the hole below a node's RAM (pc's PCI hole, [3G, 4G) with more
 * than 3.5 GiB, where node 1 goes on at 4G): not RAM, ignored; the pages
 * above the hole keep their data.
 */
static void test_hole_below_node(void)
{
    HB *t = hb_start_args("-machine pc -m 4G -nodefaults "
        "-object memory-backend-ram,id=m0,size=2G "
        "-object memory-backend-ram,id=m1,size=2G "
        "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 "
        "-device virtio-hballoon-pci,id=hb0,addr=04.0");
    uint64_t above = 0x100000, pfns[4] = { 0xdffff, 0xe0000, 0xfff00, 0xfffff };
    int i;

    for (i = 0; i < 4; i++) {
        qtest_writeq(t->qts, (above + i) * PAGE, CANARY(above + i));
    }
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, pfns, 4);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 4);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 0);
    for (i = 0; i < 4; i++) {
        g_assert_cmphex(qtest_readq(t->qts, (above + i) * PAGE), ==,
                        CANARY(above + i));
    }
    /* The first page above the hole is the node's, and discards. */
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, &above, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 1);
    g_assert_cmphex(qtest_readq(t->qts, above * PAGE), ==, 0);
    hb_stop(t);
}

static void write_canaries(HB *t, uint64_t first, uint64_t last)
{
    uint64_t pfn;

    for (pfn = first; pfn <= last; pfn++) {
        qtest_writeq(t->qts, pfn * PAGE, CANARY(pfn));
    }
}

/* Every page of [first, last] reads its canary (@zero: reads 0). */
static void check_pages(HB *t, uint64_t first, uint64_t last, bool zero)
{
    uint64_t pfn;

    for (pfn = first; pfn <= last; pfn++) {
        g_assert_cmphex(qtest_readq(t->qts, pfn * PAGE), ==,
                        zero ? 0 : CANARY(pfn));
    }
}

/*
 * VIRTIO_HBALLOON_F_RANGES: a run of frames inflates, is discarded (its
 * pages read zero) and deflates as its pages would one by one, and the
 * pages on either side keep their data. A buffer of ranges may be split
 * over descriptors at any byte; overlapping ranges are each applied.
 */
static void test_ranges(void)
{
    HB *t = hb_start_features(HB_ARGS, 1ULL << VIRTIO_HBALLOON_F_RANGES);
    uint64_t base = NODE_START(1) + 1000;
    const uint64_t one[][2] = { { base, 600 } };
    const uint64_t three[][2] = {
        { base + 2000, 1 }, { base + 3000, 300 }, { base + 3100, 300 },
    };
    Buf *b = g_new(Buf, 1);

    write_canaries(t, base - 1, base + 600);
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, one, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 600);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 600);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 0);
    check_pages(t, base, base + 599, true);
    check_pages(t, base - 1, base - 1, false);
    check_pages(t, base + 600, base + 600, false);

    write_canaries(t, base + 1999, base + 3400);
    buf_ranges(b, 1, three, 3);
    b->split = 13;
    hb_send(t, VIRTIO_HBALLOON_VQ_INFLATE, b, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 600 + 601);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 600 + 601);
    check_pages(t, base + 2000, base + 2000, true);
    check_pages(t, base + 3000, base + 3399, true);
    check_pages(t, base + 1999, base + 1999, false);
    check_pages(t, base + 2001, base + 2999, false);
    check_pages(t, base + 3400, base + 3400, false);

    send_ranges(t, VIRTIO_HBALLOON_VQ_DEFLATE, 1, one, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "deflated"), ==, 600);
    g_assert_cmpuint(info_get(t->qts, "bad-buffers"), ==, 0);
    g_free(b);
    hb_stop(t);
}

/*
 * A range the device cannot take whole is ignored whole: nothing of it is
 * discarded, and it counts once as invalid. Buffers in the PFN layout, or
 * with too many ranges, are malformed once ranges are negotiated.
 */
static void test_ranges_rejected(void)
{
    HB *t = hb_start_features(HB_ARGS, 1ULL << VIRTIO_HBALLOON_F_RANGES);
    uint64_t last0 = NODE_START(1) - 1, end1 = NODE_START(2) - 1;
    const uint64_t cross[][2] = { { last0 - 1, 4 } };
    const uint64_t bad1[][2] = {
        { NODE_START(1) + 100, 0 },                         /* empty */
        { HBALLOON_TEST_MAX_PFN, 2 },                       /* past 2^52 */
        { UINT64_MAX - 1, 4 },                              /* wraps */
        { NODE_START(1) + 100,
          VIRTIO_HBALLOON_MAX_RANGE_PAGES + 1 },            /* too long */
        { end1 - 1, 4 },                                    /* off the end */
        { last0 - 1, 4 },                                   /* from node 0 */
        { end1 - 599, 1200 },           /* 600 pages of it are node 1's */
    };
    uint64_t pfn = NODE_START(1) + 100;
    Buf *b = g_new(Buf, 1);

    write_canaries(t, last0 - 1, last0 + 2);
    write_canaries(t, pfn, pfn + 1);
    write_canaries(t, end1 - 599, end1);
    /*
     * The past-2^52, wrapping and too-long ranges are also refused by the
     * lookup; the arithmetic checks before it are there so that nothing
     * overflows on the way.
     */
    /* Crossing from node 0 into node 1 (another RAM block). */
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 0, cross, 1);
    g_assert_cmpuint(node_get(t->qts, 0, "invalid"), ==, 1);
    g_assert_cmpuint(node_get(t->qts, 0, "inflated"), ==, 0);
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, bad1, G_N_ELEMENTS(bad1));
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, G_N_ELEMENTS(bad1));
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 0);
    g_assert_cmpuint(node_get(t->qts, 0, "discarded"), ==, 0);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 0);
    check_pages(t, last0 - 1, last0 + 2, false);
    check_pages(t, pfn, pfn + 1, false);
    check_pages(t, end1 - 599, end1, false);

    /* The PFN layout (8-byte entries), and one range too many. */
    buf_pfns(b, 1, 1, &pfn, 1);
    hb_send(t, VIRTIO_HBALLOON_VQ_INFLATE, b, 1);
    g_assert_cmpuint(info_get(t->qts, "bad-buffers"), ==, 1);
    {
        g_autofree uint64_t (*many)[2] =
            g_malloc0(sizeof(*many) * (VIRTIO_HBALLOON_MAX_RANGES + 1));
        int i;

        for (i = 0; i <= VIRTIO_HBALLOON_MAX_RANGES; i++) {
            many[i][0] = pfn;
            many[i][1] = 1;
        }
        buf_ranges(b, 1, (const uint64_t (*)[2])many,
                   VIRTIO_HBALLOON_MAX_RANGES + 1);
        hb_send(t, VIRTIO_HBALLOON_VQ_INFLATE, b, 1);
    }
    g_assert_cmpuint(info_get(t->qts, "bad-buffers"), ==, 2);
    g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 0);
    check_pages(t, pfn, pfn, false);

    /*
     * Deflate checks ranges the same way: one that runs off the node is
     * ignored whole. A header split across two descriptors is fine.
     */
    {
        const uint64_t two[][2] = { { pfn, 2 } };
        const uint64_t off_end[][2] = { { end1 - 1, 4 } };

        send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, two, 1);
        g_assert_cmpuint(node_get(t->qts, 1, "inflated"), ==, 2);
        send_ranges(t, VIRTIO_HBALLOON_VQ_DEFLATE, 1, off_end, 1);
        g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==,
                         G_N_ELEMENTS(bad1) + 1);
        g_assert_cmpuint(node_get(t->qts, 1, "deflated"), ==, 0);
        buf_ranges(b, 1, two, 1);
        b->split = 4;
        hb_send(t, VIRTIO_HBALLOON_VQ_DEFLATE, b, 1);
        g_assert_cmpuint(node_get(t->qts, 1, "deflated"), ==, 2);
        g_assert_cmpuint(info_get(t->qts, "bad-buffers"), ==, 2);
    }
    g_free(b);
    hb_stop(t);
}

/*
 * A range of node 1 that runs from its last page below pc's PCI hole into
 * the hole is ignored whole; the page itself alone is taken.
 */
static void test_ranges_hole(void)
{
    HB *t = hb_start_features("-machine pc -m 4G -nodefaults "
        "-object memory-backend-ram,id=m0,size=2G "
        "-object memory-backend-ram,id=m1,size=2G "
        "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 "
        "-device virtio-hballoon-pci,id=hb0,addr=04.0",
        1ULL << VIRTIO_HBALLOON_F_RANGES);
    const uint64_t across[][2] = { { 0xbffff, 2 } }, below[][2] = {
        { 0xbffff, 1 } };
    /* Both ends are node 1's RAM (below and above the hole), not the rest. */
    const uint64_t over[][2] = { { 0xbffff, 0x40002 } };
    /* A valid range first, to fill the lookup cache, then one across. */
    const uint64_t cached[][2] = { { 0xbfff0, 1 }, { 0xbffff, 0x40001 } };

    write_canaries(t, 0xbffef, 0xbffff);
    write_canaries(t, 0x100000, 0x100001);
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, across, 1);
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, over, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 2);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 0);
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, cached, 2);
    g_assert_cmpuint(node_get(t->qts, 1, "invalid"), ==, 3);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 1);
    check_pages(t, 0xbfff0, 0xbfff0, true);
    check_pages(t, 0xbfffe, 0xbffff, false);
    check_pages(t, 0x100000, 0x100001, false);
    send_ranges(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, below, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 2);
    check_pages(t, 0xbffff, 0xbffff, true);
    check_pages(t, 0xbfffe, 0xbfffe, false);
    hb_stop(t);
}

/*
 * virtio-mmio maps 256 bytes of configuration space, the device needs 2064:
 * QEMU refuses it there and says why, rather than cut the node table.
 */
static void test_needs_pci(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = NULL;
    g_autofree char *err = NULL;
    int status;

    if (!qemu || !qtest_has_machine("microvm")) {
        g_test_skip("needs QTEST_QEMU_BINARY and the microvm machine");
        return;
    }
    cmd = g_strdup_printf(
        "timeout 30 %s -M microvm -accel qtest -display none -nodefaults "
        "-m 256M -object memory-backend-ram,id=m0,size=256M "
        "-numa node,nodeid=0,memdev=m0 "
        "-device virtio-hballoon -S", qemu);

    g_assert_true(g_spawn_command_line_sync(cmd, NULL, &err, &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    g_assert_nonnull(strstr(err, "needs a virtio-pci transport"));
}

/*
 * Memory hotplug without -numa: pc makes node 0 up itself, without a
 * memdev (libvirt's <maxMemory> without <numa>). It is all of the RAM.
 */
static void test_implicit_node(void)
{
    HB *t = hb_start_args("-machine pc -m 256M,slots=2,maxmem=1G -nodefaults "
                          "-device virtio-hballoon-pci,id=hb0,addr=04.0");
    uint64_t pfn = 40000;
    QDict *info;

    info = query(t->qts);
    g_assert_cmpint(qlist_size(qdict_get_qlist(info, "nodes")), ==, 1);
    g_assert_cmpuint(qd_u64(query_node(info, 0), "ram"), ==, 2 * NODE_SIZE);
    qobject_unref(info);
    inflate_discarded(t, 0, pfn);
    hb_stop(t);
}

static const char *const migrated_keys[] = {
    "ram", "target", "actual", "inflated", "deflated", "discarded", "invalid",
};

static const char *migrate_status(QTestState *qts)
{
    static char status[32];
    QDict *rsp = qtest_qmp_assert_success_ref(qts,
                                              "{ 'execute': 'query-migrate' }");

    g_strlcpy(status, qdict_get_try_str(rsp, "status") ?: "none",
              sizeof(status));
    qobject_unref(rsp);
    return status;
}

static bool set_capability(QTestState *qts, const char *cap, char **why)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'migrate-set-capabilities', "
                           "'arguments': { 'capabilities': [ { 'capability': "
                           "%s, 'state': true } ] } }", cap);
    bool ok = !qdict_haskey(rsp, "error");

    if (!ok) {
        *why = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
    }
    qobject_unref(rsp);
    return ok;
}

static void wait_migrate_status(QTestState *qts, const char *want)
{
    static const char *const terminal[] = {
        "completed", "failed", "cancelled",
    };
    gint64 start = g_get_monotonic_time();

    for (;;) {
        const char *status = migrate_status(qts);
        size_t i;

        if (!strcmp(status, want)) {
            return;
        }
        for (i = 0; i < G_N_ELEMENTS(terminal); i++) {
            if (!strcmp(status, terminal[i])) {
                g_error("migration reached \"%s\" while waiting for \"%s\"",
                        status, want);
            }
        }
        g_assert_cmpint(g_get_monotonic_time() - start, <=, TIMEOUT_US);
        g_usleep(10 * 1000);
    }
}

/* Live migration carries targets, actual sizes and counters. */
static void test_migrate(void)
{
    HB *t = hb_start(NULL);
    g_autofree char *sock = g_strdup_printf("%s/hballoon-mig-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    uint64_t pfns[8];
    QTestState *dst;
    QDict *a, *b, *rsp;
    gint64 start;
    size_t k;
    int i, n;

    qtest_qmp_assert_success(t->qts, "{ 'execute': 'hballoon-set', "
                             "'arguments': { 'node': 1, 'size': %" PRIu64
                             " } }", NODE_SIZE - 8 * PAGE);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'hballoon-set', "
                             "'arguments': { 'node': 0, 'size': %" PRIu64
                             " } }", NODE_SIZE - 4 * PAGE);
    for (i = 0; i < 8; i++) {
        pfns[i] = NODE_START(1) + 5000 + i;
    }
    pfns[7] = 0xfffff;          /* one invalid */
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, pfns, 8);
    cfg_write_actual(t, 1, 7);

    dst = qtest_initf(HB_ARGS " -incoming %s", uri);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'migrate', 'arguments': "
                             "{ 'uri': %s } }", uri);
    wait_migrate_status(t->qts, "completed");
    start = g_get_monotonic_time();
    for (;;) {
        const char *status;
        bool running;

        rsp = qtest_qmp_assert_success_ref(dst,
                                           "{ 'execute': 'query-status' }");
        status = qdict_get_try_str(rsp, "status");
        running = status && !strcmp(status, "running");
        qobject_unref(rsp);
        if (running) {
            break;
        }
        g_assert_cmpint(g_get_monotonic_time() - start, <=, TIMEOUT_US);
        g_usleep(20 * 1000);
    }

    a = query(t->qts);
    b = query(dst);
    for (n = 0; n < 2; n++) {
        for (k = 0; k < ARRAY_SIZE(migrated_keys); k++) {
            g_assert_cmpuint(qd_u64(query_node(a, n), migrated_keys[k]), ==,
                             qd_u64(query_node(b, n), migrated_keys[k]));
        }
    }
    g_assert_cmpuint(qd_u64(query_node(b, 1), "target"), ==,
                     NODE_SIZE - 8 * PAGE);
    g_assert_cmpuint(qd_u64(query_node(b, 0), "target"), ==,
                     NODE_SIZE - 4 * PAGE);
    g_assert_cmpuint(qd_u64(query_node(b, 1), "actual"), ==,
                     NODE_SIZE - 7 * PAGE);
    g_assert_cmpuint(qd_u64(query_node(b, 1), "inflated"), ==, 7);
    g_assert_cmpuint(qd_u64(query_node(b, 1), "invalid"), ==, 1);
    qobject_unref(a);
    qobject_unref(b);
    qtest_quit(dst);
    unlink(sock);
    hb_stop(t);
}

/* The reading end of a snapshot's stream, drained slowly until EOF. */
typedef struct SlowReader {
    int fd;
    GThread *thread;
} SlowReader;

static gpointer slow_reader_run(gpointer opaque)
{
    SlowReader *r = opaque;
    static char buf[64 * 1024];

    /* 6.4 MB/s: 32 MiB of non-zero RAM take five seconds. */
    while (read(r->fd, buf, sizeof(buf)) > 0) {
        g_usleep(10 * 1000);
    }
    return NULL;
}

/*
 * A background snapshot write-protects guest RAM and copies pages as they
 * are about to change: a discard behind its back would lose what it has
 * yet to copy. While one runs, the device says so and keeps inflated pages;
 * once it is cancelled, discards resume. Background snapshots ignore the
 * bandwidth limit, so the test reads the stream slowly itself, and fills
 * 32 MiB with data (zero pages take a few bytes each in the stream).
 */
static void test_background_snapshot(void)
{
    HB *t = hb_start(NULL);
    uint64_t pfn = NODE_START(1) + 700, pfn2 = NODE_START(1) + 701;
    g_autofree char *why = NULL;
    SlowReader r;
    int sv[2];
    QDict *info;

    /* In node 1, above the pages below and away from the rings. */
    qtest_memset(t->qts, (NODE_START(1) + 8192) * PAGE, 0x5a,
                 32 * 1024 * 1024);
    qtest_writeq(t->qts, pfn * PAGE, CANARY(pfn));
    qtest_writeq(t->qts, pfn2 * PAGE, CANARY(pfn2));
    if (!set_capability(t->qts, "background-snapshot", &why)) {
        g_test_skip(why);   /* no userfaultfd write-protection here */
        hb_stop(t);
        return;
    }
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    qtest_qmp_fds_assert_success(t->qts, &sv[1], 1,
                                 "{ 'execute': 'getfd', "
                                 "'arguments': { 'fdname': 'snap' } }");
    close(sv[1]);
    r.fd = sv[0];
    r.thread = g_thread_new("slow-reader", slow_reader_run, &r);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'migrate', 'arguments': "
                             "{ 'uri': 'fd:snap' } }");
    wait_migrate_status(t->qts, "active");

    info = query(t->qts);
    g_assert_true(qdict_get_bool(info, "discard-inhibited"));
    g_assert_true(has_reason(info, "background-snapshot"));
    qobject_unref(info);
    inflate_kept(t, 1, pfn, CANARY(pfn));
    /* Still running: what the device saw was the snapshot's. */
    g_assert_cmpstr(migrate_status(t->qts), ==, "active");

    qtest_qmp_assert_success(t->qts, "{ 'execute': 'migrate_cancel' }");
    wait_migrate_status(t->qts, "cancelled");
    /* The reader returns even if QEMU keeps its end open. */
    shutdown(r.fd, SHUT_RDWR);
    g_thread_join(r.thread);
    close(r.fd);
    info = query(t->qts);
    g_assert_false(has_reason(info, "background-snapshot"));
    qobject_unref(info);
    send_pfns(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, &pfn2, 1);
    g_assert_cmpuint(node_get(t->qts, 1, "discarded"), ==, 1);
    g_assert_cmphex(qtest_readq(t->qts, pfn2 * PAGE), ==, 0);
    hb_stop(t);
}

/*
 * The destination of a postcopy migration fetches pages on demand with
 * userfaultfd; a discard there would drop a page that is still to come.
 * While postcopy runs, the destination's device says so.
 */
static void test_incoming_postcopy(void)
{
    HB *t = hb_start(NULL);
    g_autofree char *sock = g_strdup_printf("%s/hballoon-pc-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *why = NULL;
    QTestState *dst = qtest_initf(HB_ARGS " -incoming defer");
    gint64 start;
    QDict *info;

    if (!set_capability(dst, "postcopy-ram", &why) ||
        !set_capability(t->qts, "postcopy-ram", &why)) {
        g_test_skip(why);   /* no userfaultfd for this user */
        goto out;
    }
    info = query(dst);
    g_assert_false(has_reason(info, "incoming-postcopy"));
    qobject_unref(info);
    /*
     * 64 MiB of data at 4 MiB/s (zero pages cost a few bytes each): the
     * migration is still in precopy when postcopy is asked for, and still
     * in postcopy when the destination is queried.
     */
    qtest_memset(t->qts, (NODE_START(1) + 4096) * PAGE, 0x5a,
                 64 * 1024 * 1024);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'migrate-set-parameters', "
                             "'arguments': { 'max-bandwidth': 4194304, "
                             "'max-postcopy-bandwidth': 4194304 } }");
    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming', "
                             "'arguments': { 'uri': %s } }", uri);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'migrate', 'arguments': "
                             "{ 'uri': %s } }", uri);
    wait_migrate_status(t->qts, "active");
    qtest_qmp_assert_success(t->qts,
                             "{ 'execute': 'migrate-start-postcopy' }");
    wait_migrate_status(dst, "postcopy-active");

    info = query(dst);
    g_assert_true(qdict_get_bool(info, "discard-inhibited"));
    g_assert_true(has_reason(info, "incoming-postcopy"));
    qobject_unref(info);
    g_assert_cmpstr(migrate_status(dst), ==, "postcopy-active");

    /* Let it finish at full speed: afterwards the destination discards. */
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'migrate-set-parameters', "
                             "'arguments': { 'max-postcopy-bandwidth': 0 } }");
    wait_migrate_status(dst, "completed");
    /* "completed" comes a little before postcopy's end on the destination. */
    start = g_get_monotonic_time();
    for (;;) {
        bool still;

        info = query(dst);
        still = has_reason(info, "incoming-postcopy");
        qobject_unref(info);
        if (!still) {
            break;
        }
        g_assert_cmpint(g_get_monotonic_time() - start, <=, TIMEOUT_US);
        g_usleep(10 * 1000);
    }
out:
    qtest_quit(dst);
    unlink(sock);
    hb_stop(t);
}

/*
 * Fuzzer: random hostile buffers. The invariant: no page outside the
 * "sacrificial" ranges ever loses its canary, and the device's counters
 * match exactly what a correct device must have counted.
 */
static uint64_t rnd64(void)
{
    return ((uint64_t)g_test_rand_int() << 32) | (uint32_t)g_test_rand_int();
}

static uint64_t pfn_sacrificial(int n)
{
    return SAC_START(n) + g_test_rand_int_range(0, SAC_PAGES);
}

/* A canary page of node @n (RAM that must never be discarded). */
static uint64_t pfn_canary(int n)
{
    if (n == 0) {
        return CANARY0_START +
               g_test_rand_int_range(0, NODE_PAGES - CANARY0_START);
    }
    for (;;) {
        uint64_t p = NODE_START(1) + g_test_rand_int_range(0, NODE_PAGES);

        if (p < SAC_START(1) || p >= SAC_START(1) + SAC_PAGES) {
            return p;
        }
    }
}

static uint64_t pfn_outside(void)
{
    static const uint64_t fixed[] = {
        2 * NODE_PAGES, 2 * NODE_PAGES + 1, 0xfec00, 0xfee00, 0xfffff,
        0xe0, 0xf0, 0xff, 1ULL << 52, (1ULL << 52) - 1, UINT64_MAX,
        0x100000, 0xfd000000ULL >> 12,
    };

    switch (g_test_rand_int_range(0, 3)) {
    case 0:
        return fixed[g_test_rand_int_range(0, ARRAY_SIZE(fixed))];
    case 1:
        return 2 * NODE_PAGES + (rnd64() % ((1ULL << 52) - 2 * NODE_PAGES));
    default:
        return rnd64() | (1ULL << 63);
    }
}

typedef struct Expect {
    uint64_t bad;
    uint64_t inflated[2], deflated[2], invalid[2];
    bool sac_inflated[2][SAC_PAGES];    /* inflated at least once */
} Expect;

/* A PFN of @node's buffer on queue @q: what the device must make of it. */
static void expect_pfn(Expect *e, int q, int node, uint64_t pfn)
{
    if (pfn < SAC_START(node) || pfn >= SAC_START(node) + SAC_PAGES) {
        e->invalid[node]++;
    } else if (q) {
        e->deflated[node]++;
    } else {
        e->inflated[node]++;
        e->sac_inflated[node][pfn - SAC_START(node)] = true;
    }
}

static void fuzz_one(Buf *b, int q, Expect *e)
{
    static uint64_t pfns[MAX_BUF_PFNS];
    int kind = g_test_rand_int_range(0, 100);
    int node = g_test_rand_int_range(0, 2);
    uint32_t num, hdr_num, i;
    uint32_t bad_node;

    if (g_test_rand_int_range(0, 200) == 0) {
        num = VIRTIO_HBALLOON_MAX_PFNS - g_test_rand_int_range(0, 2);
    } else {
        num = g_test_rand_int_range(1, 65);
    }

    if (kind < 45) {
        /* Well-formed: valid, cross-node, outside and duplicated PFNs. */
        for (i = 0; i < num; i++) {
            int what = g_test_rand_int_range(0, 10);

            if (what < 4) {
                pfns[i] = pfn_sacrificial(node);
            } else if (what < 5 && i > 0) {
                pfns[i] = pfns[i - 1];  /* duplicate */
            } else if (what < 7) {
                pfns[i] = g_test_rand_int_range(0, 2) ?
                          pfn_canary(!node) : pfn_sacrificial(!node);
            } else {
                pfns[i] = pfn_outside();
            }
            expect_pfn(e, q, node, pfns[i]);
        }
        buf_pfns(b, node, num, pfns, num);
    } else {
        /* Malformed: must be ignored as a whole, so use canary PFNs. */
        for (i = 0; i < MAX_BUF_PFNS; i++) {
            pfns[i] = pfn_canary(g_test_rand_int_range(0, 2) ? node : !node);
        }
        e->bad++;
        hdr_num = num;
        bad_node = node;
        switch (kind % 7) {
        case 0:     /* unknown node */
            bad_node = g_test_rand_int_range(0, 3) ?
                       g_test_rand_int_range(2, 65) : g_test_rand_int();
            if (bad_node < 2) {
                bad_node = 2;
            }
            break;
        case 1:     /* header says more than there is */
            hdr_num = num + g_test_rand_int_range(1, 5);
            break;
        case 2:     /* header says fewer: trailing PFNs */
            num = MIN(num + g_test_rand_int_range(1, 5), MAX_BUF_PFNS);
            break;
        case 3:     /* oversized */
            hdr_num = g_test_rand_int_range(0, 2) ?
                      VIRTIO_HBALLOON_MAX_PFNS + 1 : g_test_rand_int();
            if (hdr_num <= VIRTIO_HBALLOON_MAX_PFNS) {
                hdr_num = UINT32_MAX;
            }
            num = MIN(hdr_num, (uint32_t)MAX_BUF_PFNS);
            break;
        case 4:     /* empty */
            hdr_num = 0;
            num = g_test_rand_int_range(0, 2);
            break;
        default:
            break;
        }
        buf_pfns(b, bad_node, hdr_num, pfns, num);
        if (kind % 7 == 5) {    /* short, or odd trailing bytes */
            if (g_test_rand_int_range(0, 2)) {
                b->len = g_test_rand_int_range(1, 8);
            } else {
                b->len -= g_test_rand_int_range(1, 8);
            }
        } else if (kind % 7 == 6) {
            b->write = true;
        }
    }
    if (b->len > 1 && g_test_rand_int_range(0, 4) == 0) {
        b->split = g_test_rand_int_range(1, b->len);
    }
}

static void test_fuzz(void)
{
    const char *env = getenv("HBALLOON_FUZZ_BUFFERS");
    long total = env ? atol(env) : 100000;
    HB *t = hb_start(NULL);
    Expect *e = g_new0(Expect, 1);
    Buf *bufs = g_new0(Buf, BATCH);
    uint64_t p, lost = 0, sac_zero = 0, sac_wrong = 0;
    long done = 0;
    QDict *info;
    int n;

    /* Canary every page of node 0 [100M, 128M) and all of node 1. */
    for (p = CANARY0_START; p < 2 * NODE_PAGES; p++) {
        qtest_writeq(t->qts, p * PAGE, CANARY(p));
    }
    for (n = 0; n < 2; n++) {
        for (p = SAC_START(n); p < SAC_START(n) + SAC_PAGES; p++) {
            qtest_writeq(t->qts, p * PAGE, CANARY(p));
        }
    }

    while (done < total) {
        int q = g_test_rand_int_range(0, 4) ? VIRTIO_HBALLOON_VQ_INFLATE
                                            : VIRTIO_HBALLOON_VQ_DEFLATE;
        int batch = MIN(BATCH, total - done);
        int j;

        for (j = 0; j < batch; j++) {
            if (j > 0 && g_test_rand_int_range(0, 20) == 0) {
                bufs[j] = bufs[j - 1];  /* duplicated buffer */
                if (bufs[j].len >= 8 && !bufs[j].write) {
                    /* Same effect as its twin: recount it. */
                    Buf *b = &bufs[j];
                    uint32_t hn, node, i;

                    memcpy(&node, b->bytes, 4);
                    memcpy(&hn, b->bytes + 4, 4);
                    node = le32_to_cpu(node);
                    hn = le32_to_cpu(hn);
                    if (node < 2 && hn && hn <= VIRTIO_HBALLOON_MAX_PFNS &&
                        b->len == 8 + 8ULL * hn) {
                        for (i = 0; i < hn; i++) {
                            uint64_t pfn;

                            memcpy(&pfn, b->bytes + 8 + 8 * i, 8);
                            expect_pfn(e, q, node, le64_to_cpu(pfn));
                        }
                        continue;
                    }
                }
                e->bad++;
                continue;
            }
            fuzz_one(&bufs[j], q, e);
        }
        hb_send(t, q, bufs, batch);
        done += batch;
    }

    info = query(t->qts);
    g_assert_cmpuint(qd_u64(info, "bad-buffers"), ==, e->bad);
    for (n = 0; n < 2; n++) {
        QDict *ni = query_node(info, n);

        g_assert_cmpuint(qd_u64(ni, "inflated"), ==, e->inflated[n]);
        g_assert_cmpuint(qd_u64(ni, "deflated"), ==, e->deflated[n]);
        g_assert_cmpuint(qd_u64(ni, "invalid"), ==, e->invalid[n]);
        /* Both backends discard: every valid inflated PFN, once per time. */
        g_assert_cmpuint(qd_u64(ni, "discarded"), ==, e->inflated[n]);
    }
    qobject_unref(info);

    /* Nothing outside the sacrificial ranges was discarded. */
    for (p = CANARY0_START; p < 2 * NODE_PAGES; p++) {
        if (p >= SAC_START(1) && p < SAC_START(1) + SAC_PAGES) {
            continue;
        }
        if (qtest_readq(t->qts, p * PAGE) != CANARY(p)) {
            lost++;
        }
    }
    g_assert_cmpuint(lost, ==, 0);
    /*
     * ... while exactly the sacrificial pages inflated at least once read
     * as zeroes (discarded; deflating writes nothing), the others keep
     * their canary.
     */
    for (n = 0; n < 2; n++) {
        for (p = SAC_START(n); p < SAC_START(n) + SAC_PAGES; p++) {
            uint64_t v = qtest_readq(t->qts, p * PAGE);
            bool gone = e->sac_inflated[n][p - SAC_START(n)];

            sac_zero += gone;
            sac_wrong += v != (gone ? 0 : CANARY(p));
        }
    }
    g_assert_cmpuint(sac_wrong, ==, 0);
    g_assert_cmpuint(sac_zero, >, 0);
    g_test_message("fuzz: %ld buffers, %" PRIu64 " bad, inflated %" PRIu64
                   "/%" PRIu64 ", invalid %" PRIu64 "/%" PRIu64
                   ", %" PRIu64 " sacrificial pages discarded",
                   done, e->bad, e->inflated[0], e->inflated[1],
                   e->invalid[0], e->invalid[1], sac_zero);
    g_free(e);
    g_free(bufs);
    hb_stop(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("virtio-hballoon/config", test_config);
    qtest_add_func("virtio-hballoon/inflate-deflate", test_inflate_deflate);
    qtest_add_func("virtio-hballoon/bql-slices", test_bql_slices);
    qtest_add_func("virtio-hballoon/bql-ranges", test_bql_ranges);
    qtest_add_func("virtio-hballoon/bad-pfns", test_bad_pfns);
    qtest_add_func("virtio-hballoon/bad-buffers", test_bad_buffers);
    qtest_add_func("virtio-hballoon/stats", test_stats);
    qtest_add_func("virtio-hballoon/events-per-node", test_events_per_node);
    qtest_add_func("virtio-hballoon/qmp-errors", test_qmp_errors);
    qtest_add_func("virtio-hballoon/coexist-virtio-balloon", test_coexist);
    qtest_add_func("virtio-hballoon/second-device", test_second_device);
    qtest_add_func("virtio-hballoon/page-poison", test_page_poison);
    qtest_add_func("virtio-hballoon/shared-file", test_shared_file);
    qtest_add_func("virtio-hballoon/private-file", test_private_file);
    qtest_add_func("virtio-hballoon/readonly-file", test_readonly_file);
    qtest_add_func("virtio-hballoon/private-memfd", test_private_memfd);
    qtest_add_func("virtio-hballoon/large-pages", test_large_pages);
    qtest_add_func("virtio-hballoon/large-pages-ranges",
                   test_large_pages_ranges);
    qtest_add_func("virtio-hballoon/large-pages-sliced",
                   test_large_pages_sliced);
    qtest_add_func("virtio-hballoon/mem-lock", test_mem_lock);
    qtest_add_func("virtio-hballoon/implicit-node", test_implicit_node);
    qtest_add_func("virtio-hballoon/needs-pci", test_needs_pci);
    qtest_add_func("virtio-hballoon/hole-below-node", test_hole_below_node);
    qtest_add_func("virtio-hballoon/ranges", test_ranges);
    qtest_add_func("virtio-hballoon/ranges-rejected", test_ranges_rejected);
    qtest_add_func("virtio-hballoon/ranges-hole", test_ranges_hole);
    qtest_add_func("virtio-hballoon/migrate", test_migrate);
    qtest_add_func("virtio-hballoon/background-snapshot",
                   test_background_snapshot);
    qtest_add_func("virtio-hballoon/incoming-postcopy",
                   test_incoming_postcopy);
    qtest_add_func("virtio-hballoon/fuzz", test_fuzz);

    return g_test_run();
}
