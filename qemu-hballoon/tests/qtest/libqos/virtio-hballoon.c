/*
 * libqos driver for the virtio-hballoon device (per-NUMA-node balloon)
 *
 * Registers virtio-hballoon-device (on a virtio bus) and virtio-hballoon-pci
 * in the qos graph, as virtio-balloon.c does for virtio-balloon, so that
 * qos-test runs the generic virtio and PCI tests and the tests that consume
 * the "virtio-hballoon" interface on every machine that has a PCI or virtio
 * bus.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "qemu/module.h"
#include "qgraph.h"
#include "virtio-hballoon.h"

/* virtio-hballoon-device */
static void *qvirtio_hballoon_get_driver(QVirtioHballoon *v_hballoon,
                                         const char *interface)
{
    if (!g_strcmp0(interface, "virtio-hballoon")) {
        return v_hballoon;
    }
    if (!g_strcmp0(interface, "virtio")) {
        return v_hballoon->vdev;
    }

    fprintf(stderr, "%s not present in virtio-hballoon-device\n", interface);
    g_assert_not_reached();
}

static void *qvirtio_hballoon_device_get_driver(void *object,
                                                const char *interface)
{
    QVirtioHballoonDevice *v_hballoon = object;

    return qvirtio_hballoon_get_driver(&v_hballoon->hballoon, interface);
}

static void *virtio_hballoon_device_create(void *virtio_dev,
                                           QGuestAllocator *t_alloc,
                                           void *addr)
{
    QVirtioHballoonDevice *virtio_hdevice = g_new0(QVirtioHballoonDevice, 1);
    QVirtioHballoon *interface = &virtio_hdevice->hballoon;

    interface->vdev = virtio_dev;

    virtio_hdevice->obj.get_driver = qvirtio_hballoon_device_get_driver;

    return &virtio_hdevice->obj;
}

/* virtio-hballoon-pci */
static void *qvirtio_hballoon_pci_get_driver(void *object,
                                             const char *interface)
{
    QVirtioHballoonPCI *v_hballoon = object;

    if (!g_strcmp0(interface, "pci-device")) {
        return v_hballoon->pci_vdev.pdev;
    }
    return qvirtio_hballoon_get_driver(&v_hballoon->hballoon, interface);
}

static void *virtio_hballoon_pci_create(void *pci_bus,
                                        QGuestAllocator *t_alloc,
                                        void *addr)
{
    QVirtioHballoonPCI *virtio_hpci = g_new0(QVirtioHballoonPCI, 1);
    QVirtioHballoon *interface = &virtio_hpci->hballoon;
    QOSGraphObject *obj = &virtio_hpci->pci_vdev.obj;

    virtio_pci_init(&virtio_hpci->pci_vdev, pci_bus, addr);
    interface->vdev = &virtio_hpci->pci_vdev.vdev;

    obj->get_driver = qvirtio_hballoon_pci_get_driver;

    return obj;
}

static void virtio_hballoon_register_nodes(void)
{
    QPCIAddress addr = {
        .devfn = QPCI_DEVFN(4, 0),
    };

    QOSGraphEdgeOptions opts = {
        .extra_device_opts = "addr=04.0",
    };

    /* virtio-hballoon-device */
    qos_node_create_driver("virtio-hballoon-device",
                           virtio_hballoon_device_create);
    qos_node_consumes("virtio-hballoon-device", "virtio-bus", NULL);
    qos_node_produces("virtio-hballoon-device", "virtio");
    qos_node_produces("virtio-hballoon-device", "virtio-hballoon");

    /* virtio-hballoon-pci */
    add_qpci_address(&opts, &addr);
    qos_node_create_driver("virtio-hballoon-pci", virtio_hballoon_pci_create);
    qos_node_consumes("virtio-hballoon-pci", "pci-bus", &opts);
    qos_node_produces("virtio-hballoon-pci", "pci-device");
    qos_node_produces("virtio-hballoon-pci", "virtio");
    qos_node_produces("virtio-hballoon-pci", "virtio-hballoon");
}

libqos_init(virtio_hballoon_register_nodes);
