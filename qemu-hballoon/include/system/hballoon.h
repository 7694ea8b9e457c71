/*
 * Per-NUMA-node balloon: monitor glue
 *
 * The QMP and HMP commands live outside the device so that they exist in
 * every build; the virtio-hballoon device registers itself here. This is
 * deliberately separate from system/balloon.h: QEMU has one global balloon
 * handler, which a stock virtio-balloon keeps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SYSTEM_HBALLOON_H
#define SYSTEM_HBALLOON_H

#include "qapi/qapi-types-hballoon.h"
#include "hw/qdev-core.h"

typedef struct HballoonOps {
    /* Set node @node's usable size to @size bytes. */
    void (*set)(void *opaque, uint32_t node, uint64_t size, Error **errp);
    /* Fill in the device state. */
    HballoonInfo *(*query)(void *opaque);
} HballoonOps;

/*
 * @dev names the device to the user: its id selects it in the QMP
 * commands' @id argument.
 */
int qemu_add_hballoon_handler(const HballoonOps *ops, void *opaque,
                              DeviceState *dev);
void qemu_remove_hballoon_handler(void *opaque);

#endif
