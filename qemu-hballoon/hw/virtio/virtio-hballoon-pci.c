/*
 * Virtio hballoon PCI bindings
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "hw/virtio/virtio-pci.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio-hballoon.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "qom/object.h"

typedef struct VirtIOHballoonPCI VirtIOHballoonPCI;

/*
 * virtio-hballoon-pci: This extends VirtioPCIProxy.
 */
#define TYPE_VIRTIO_HBALLOON_PCI "virtio-hballoon-pci-base"
DECLARE_INSTANCE_CHECKER(VirtIOHballoonPCI, VIRTIO_HBALLOON_PCI,
                         TYPE_VIRTIO_HBALLOON_PCI)

struct VirtIOHballoonPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOHballoon vdev;
};

static const Property virtio_hballoon_pci_properties[] = {
    DEFINE_PROP_BIT("ioeventfd", VirtIOPCIProxy, flags,
                    VIRTIO_PCI_FLAG_USE_IOEVENTFD_BIT, true),
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors,
                       DEV_NVECTORS_UNSPECIFIED),
};

static void virtio_hballoon_pci_realize(VirtIOPCIProxy *vpci_dev,
                                        Error **errp)
{
    VirtIOHballoonPCI *dev = VIRTIO_HBALLOON_PCI(vpci_dev);
    DeviceState *vdev = DEVICE(&dev->vdev);

    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        vpci_dev->nvectors = 4;     /* config + three virtqueues */
    }
    /* The device is modern-only (VIRTIO_F_VERSION_1). */
    virtio_pci_force_virtio_1(vpci_dev);
    vpci_dev->class_code = PCI_CLASS_OTHERS;
    qdev_realize(vdev, BUS(&vpci_dev->bus), errp);
}

static void virtio_hballoon_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = virtio_hballoon_pci_realize;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    /* device_id is 0x1040 + VIRTIO_ID_HBALLOON, set by virtio-pci. */
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
    device_class_set_props(dc, virtio_hballoon_pci_properties);
}

static void virtio_hballoon_pci_instance_init(Object *obj)
{
    VirtIOHballoonPCI *dev = VIRTIO_HBALLOON_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_HBALLOON);
}

static const VirtioPCIDeviceTypeInfo virtio_hballoon_pci_info = {
    .base_name     = TYPE_VIRTIO_HBALLOON_PCI,
    .generic_name  = "virtio-hballoon-pci",
    .instance_size = sizeof(VirtIOHballoonPCI),
    .instance_init = virtio_hballoon_pci_instance_init,
    .class_init    = virtio_hballoon_pci_class_init,
};

static void virtio_hballoon_pci_register(void)
{
    virtio_pci_types_register(&virtio_hballoon_pci_info);
}

type_init(virtio_hballoon_pci_register)
