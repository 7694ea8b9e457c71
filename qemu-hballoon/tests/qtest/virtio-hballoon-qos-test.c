/*
 * qos-test cases for the virtio-hballoon device (per-NUMA-node balloon)
 *
 * virtio-hballoon-test.c drives the device in depth on a two-node machine it
 * builds itself; these cases run through the qos graph instead, on every
 * machine and transport libqos knows (pc's PCI bus on x86_64), with the
 * machine's default memory and no -numa option: the device then manages the
 * machine's RAM as a single node 0.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest-single.h"
#include "qemu/module.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "libqos/qgraph.h"
#include "libqos/virtio-hballoon.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_hballoon.h"

#define PAGE            UINT64_C(4096)
#define TIMEOUT_US      (30 * 1000 * 1000)

#define NODE0(field)    (offsetof(struct virtio_hballoon_config, nodes) + \
                         offsetof(struct virtio_hballoon_node_config, field))

static void negotiate(QVirtioDevice *vdev)
{
    uint64_t want = (1ULL << VIRTIO_F_VERSION_1) |
                    (1ULL << VIRTIO_HBALLOON_F_STATS_VQ) |
                    (1ULL << VIRTIO_HBALLOON_F_DEFLATE_ON_OOM) |
                    (1ULL << VIRTIO_HBALLOON_F_PAGE_POISON);
    uint64_t features = qvirtio_get_features(vdev);

    /* Modern only, and every feature on by default. */
    g_assert_cmphex(features & want, ==, want);
    qvirtio_set_features(vdev, want);
}

static uint64_t qd_u64(const QDict *d, const char *key)
{
    return qnum_get_uint(qobject_to(QNum, qdict_get(d, key)));
}

/* Node 0's entry of query-hballoon, as a new reference. */
static QDict *query_node0(QTestState *qts)
{
    QDict *info;
    QList *nodes;
    QDict *node;

    info = qtest_qmp_assert_success_ref(qts,
                                        "{ 'execute': 'query-hballoon' }");
    nodes = qdict_get_qlist(info, "nodes");

    g_assert_cmpint(qlist_size(nodes), ==, 1);
    node = qobject_to(QDict, qlist_peek(nodes));
    g_assert_nonnull(node);
    qobject_ref(node);
    qobject_unref(info);
    return node;
}

static uint64_t node0_get(QTestState *qts, const char *key)
{
    QDict *node = query_node0(qts);
    uint64_t v = qd_u64(node, key);

    qobject_unref(node);
    return v;
}

/* Without -numa the device manages all of the machine's RAM as node 0. */
static void hballoon_config(void *obj, void *data, QGuestAllocator *alloc)
{
    QVirtioHballoon *hb = obj;
    QVirtioDevice *vdev = hb->vdev;
    QTestState *qts = global_qtest;
    QDict *node;
    uint64_t ram;

    g_assert_cmpint(vdev->device_type, ==, VIRTIO_ID_HBALLOON);
    negotiate(vdev);

    node = query_node0(qts);
    ram = qd_u64(node, "ram");
    g_assert_cmpuint(qd_u64(node, "node"), ==, 0);
    g_assert_cmpuint(ram, >, 0);
    g_assert_cmpuint(ram % PAGE, ==, 0);
    g_assert_cmpuint(qd_u64(node, "target"), ==, ram);
    g_assert_cmpuint(qd_u64(node, "actual"), ==, ram);
    qobject_unref(node);

    g_assert_cmpuint(qvirtio_config_readw(vdev, 0), ==, 1);
    g_assert_cmpuint(qvirtio_config_readl(vdev, NODE0(node_id)), ==, 0);
    g_assert_cmpuint(qvirtio_config_readq(vdev, NODE0(ram_pages)), ==,
                     ram / PAGE);
    g_assert_cmpuint(qvirtio_config_readq(vdev, NODE0(target_pages)), ==, 0);
    g_assert_cmpuint(qvirtio_config_readq(vdev, NODE0(actual_pages)), ==, 0);
}

/* hballoon-set reaches the driver: new target and a config interrupt. */
static void hballoon_set_target(void *obj, void *data, QGuestAllocator *alloc)
{
    QVirtioHballoon *hb = obj;
    QVirtioDevice *vdev = hb->vdev;
    QTestState *qts = global_qtest;
    uint64_t ram = node0_get(qts, "ram");

    /* Virtio signals configuration changes to a live driver only. */
    negotiate(vdev);
    qvirtio_set_driver_ok(vdev);

    qtest_qmp_assert_success(qts, "{ 'execute': 'hballoon-set', "
                             "'arguments': { 'node': 0, 'size': %" PRIu64
                             " } }", ram - 256 * PAGE);
    qvirtio_wait_config_isr(vdev, TIMEOUT_US);
    g_assert_cmpuint(qvirtio_config_readq(vdev, NODE0(target_pages)), ==, 256);
    g_assert_cmpuint(node0_get(qts, "target"), ==, ram - 256 * PAGE);
    /* The guest did nothing: the node still has all of its memory. */
    g_assert_cmpuint(node0_get(qts, "actual"), ==, ram);

    /* Back to the full size, so that the next case starts from it. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'hballoon-set', "
                             "'arguments': { 'node': 0, 'size': %" PRIu64
                             " } }", ram);
    qvirtio_wait_config_isr(vdev, TIMEOUT_US);
    g_assert_cmpuint(qvirtio_config_readq(vdev, NODE0(target_pages)), ==, 0);
    g_assert_cmpuint(node0_get(qts, "target"), ==, ram);
}

static void register_virtio_hballoon_test(void)
{
    qos_add_test("config", "virtio-hballoon", hballoon_config, NULL);
    qos_add_test("set-target", "virtio-hballoon", hballoon_set_target, NULL);
}

libqos_init(register_virtio_hballoon_test);
