/*
 * libqos driver for the virtio-hballoon device (per-NUMA-node balloon)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_LIBQOS_VIRTIO_HBALLOON_H
#define TESTS_LIBQOS_VIRTIO_HBALLOON_H

#include "qgraph.h"
#include "virtio.h"
#include "virtio-pci.h"

typedef struct QVirtioHballoon QVirtioHballoon;
typedef struct QVirtioHballoonPCI QVirtioHballoonPCI;
typedef struct QVirtioHballoonDevice QVirtioHballoonDevice;

struct QVirtioHballoon {
    QVirtioDevice *vdev;
};

struct QVirtioHballoonPCI {
    QVirtioPCIDevice pci_vdev;
    QVirtioHballoon hballoon;
};

struct QVirtioHballoonDevice {
    QOSGraphObject obj;
    QVirtioHballoon hballoon;
};

#endif
