/*
 * Per-NUMA-node balloon: QMP and HMP commands
 *
 * The virtio-hballoon device registers one handler here. This is kept apart
 * from QEMU's global balloon handler (system/balloon.c) so that a stock
 * virtio-balloon can live next to it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "system/hballoon.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-hballoon.h"
#include "qobject/qdict.h"

static const HballoonOps *hballoon_ops;
static void *hballoon_opaque;
static DeviceState *hballoon_dev;

int qemu_add_hballoon_handler(const HballoonOps *ops, void *opaque,
                              DeviceState *dev)
{
    if (hballoon_ops) {
        return -1;
    }
    hballoon_ops = ops;
    hballoon_opaque = opaque;
    hballoon_dev = dev;
    return 0;
}

void qemu_remove_hballoon_handler(void *opaque)
{
    if (hballoon_opaque != opaque) {
        return;
    }
    hballoon_ops = NULL;
    hballoon_opaque = NULL;
    hballoon_dev = NULL;
}

/* The device the command names (@id), or the only one there is. */
static bool have_hballoon(const char *id, Error **errp)
{
    if (!hballoon_ops) {
        error_setg(errp, "No virtio-hballoon device has been activated");
        return false;
    }
    if (id && g_strcmp0(id, hballoon_dev->id)) {
        error_setg(errp, "No virtio-hballoon device with id '%s'", id);
        return false;
    }
    return true;
}

HballoonInfo *qmp_query_hballoon(const char *id, Error **errp)
{
    if (!have_hballoon(id, errp)) {
        return NULL;
    }
    return hballoon_ops->query(hballoon_opaque);
}

void qmp_hballoon_set(uint32_t node, uint64_t size, const char *id,
                      Error **errp)
{
    if (!have_hballoon(id, errp)) {
        return;
    }
    hballoon_ops->set(hballoon_opaque, node, size, errp);
}

void hmp_hballoon(Monitor *mon, const QDict *qdict)
{
    int64_t node = qdict_get_int(qdict, "node");
    uint64_t size = qdict_get_int(qdict, "size");
    Error *err = NULL;

    if (node < 0 || node > UINT32_MAX) {
        error_setg(&err, "invalid NUMA node %" PRId64, node);
    } else {
        qmp_hballoon_set(node, size, NULL, &err);
    }
    hmp_handle_error(mon, err);
}

void hmp_info_hballoon(Monitor *mon, const QDict *qdict)
{
    HballoonInfo *info;
    HballoonNodeInfoList *n;
    HballoonDiscardInhibitorList *r;
    Error *err = NULL;

    info = qmp_query_hballoon(NULL, &err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "node       ram MiB    target MiB    actual MiB"
                   "   inflated   deflated  discarded    invalid\n");
    for (n = info->nodes; n; n = n->next) {
        HballoonNodeInfo *ni = n->value;

        monitor_printf(mon, "%4" PRIu32 " %13" PRIu64 " %13" PRIu64
                       " %13" PRIu64 " %10" PRIu64 " %10" PRIu64
                       " %10" PRIu64 " %10" PRIu64 "%s%s%s\n",
                       ni->node, ni->ram / MiB, ni->target / MiB,
                       ni->actual / MiB, ni->inflated, ni->deflated,
                       ni->discarded, ni->invalid,
                       ni->has_reason ? "  (no discard: " : "",
                       ni->has_reason ?
                       HballoonDiscardInhibitor_str(ni->reason) : "",
                       ni->has_reason ? ")" : "");
    }
    monitor_printf(mon, "bad buffers: %" PRIu64 "\n", info->bad_buffers);
    monitor_printf(mon, "discard: %s", info->discard_inhibited ?
                   "inhibited (" : "enabled\n");
    for (r = info->reasons; r; r = r->next) {
        monitor_printf(mon, "%s%s", HballoonDiscardInhibitor_str(r->value),
                       r->next ? ", " : ")\n");
    }
    qapi_free_HballoonInfo(info);
}
