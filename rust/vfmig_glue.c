// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig C shell: the pci_driver, the vfio_device_ops table and the debugfs files.
 *
 * vfio_pci_core_register_device() requires the vfio_pci_core_device as the PCI drvdata and
 * the ops tables are C structures, so they live here. Everything else (which devices are
 * accepted, their providers, migration state) is decided by the Rust crate through the calls
 * declared in vfmig_glue.h. Module init/exit are Rust's (module! in vfmig_main.rs), which
 * registers this driver through vfmig_glue_register_driver().
 *
 * debugfs (/sys/kernel/debug/vfmig/<BDF>/{state,regs}) is created here because a read of
 * "regs" must fail with -ENODEV while the device is closed, and the Rust debugfs abstraction's
 * read callbacks cannot return an errno; the seq_file show callbacks call into Rust, which
 * prints.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "vfmig_glue.h"

/**
 * struct vfmig_device - one VF bound to vfmig
 * @core: the vfio-pci core device; must be first-class drvdata for vfio_pci_core
 * @rs: the Rust per-device state, owned by the Rust side (vfmig_rs_probe/remove)
 * @debugfs: the device's debugfs directory, /sys/kernel/debug/vfmig/<BDF>
 */
struct vfmig_device {
	struct vfio_pci_core_device core;
	void *rs;
	struct dentry *debugfs;
};

/* /sys/kernel/debug/vfmig, from driver registration to unregistration. */
static struct dentry *vfmig_debugfs_root;

static_assert(sizeof(struct vfmig_pci_ident) == VFMIG_PCI_IDENT_SIZE);

static void vfmig_fill_ident(struct pci_dev *pdev, struct vfmig_pci_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->vendor = pdev->vendor;
	id->device = pdev->device;
	id->subsystem_vendor = pdev->subsystem_vendor;
	id->subsystem_device = pdev->subsystem_device;
	id->revision = pdev->revision;
	id->is_virtfn = pdev->is_virtfn;
	id->domain = pci_domain_nr(pdev->bus);
	id->bus = pdev->bus->number;
	id->devfn = pdev->devfn;
	if (pdev->is_virtfn) {
		struct pci_dev *pf = pci_physfn(pdev);
		int vf = pci_iov_vf_id(pdev);

		id->vf_id = vf < 0 ? 0xffff : vf;
		id->pf_domain = pci_domain_nr(pf->bus);
		id->pf_bus = pf->bus->number;
		id->pf_devfn = pf->devfn;
	}
}

int vfmig_glue_bar_iomap(struct vfio_pci_core_device *vdev, int bar, void __iomem **addr,
			 u64 *len)
{
	void __iomem *io;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	io = vfio_pci_core_get_iomap(vdev, bar);
	if (IS_ERR(io))
		return PTR_ERR(io);
	*addr = io;
	*len = pci_resource_len(vdev->pdev, bar);
	return 0;
}

int vfmig_glue_mem_begin(struct vfio_pci_core_device *vdev)
{
	down_read(&vdev->memory_lock);
	if (!__vfio_pci_memory_enabled(vdev)) {
		up_read(&vdev->memory_lock);
		return -EIO;
	}
	return 0;
}

void vfmig_glue_mem_end(struct vfio_pci_core_device *vdev)
{
	up_read(&vdev->memory_lock);
}

static int vfmig_open_device(struct vfio_device *core_vdev)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	struct vfio_pci_core_device *vdev = &vmdev->core;
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	/* The BARs are mapped now; before finish_enable, as other variant drivers fail. */
	ret = vfmig_rs_open(vmdev->rs, vdev);
	if (ret) {
		vfio_pci_core_disable(vdev);
		return ret;
	}
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void vfmig_close_device(struct vfio_device *core_vdev)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	vfmig_rs_close(vmdev->rs);
	vfio_pci_core_close_device(core_vdev);
}

static int vfmig_state_show(struct seq_file *m, void *v)
{
	struct vfmig_device *vmdev = m->private;

	return vfmig_rs_show_state(vmdev->rs, m);
}
DEFINE_SHOW_ATTRIBUTE(vfmig_state);

static int vfmig_regs_show(struct seq_file *m, void *v)
{
	struct vfmig_device *vmdev = m->private;

	return vfmig_rs_show_regs(vmdev->rs, &vmdev->core, m);
}
DEFINE_SHOW_ATTRIBUTE(vfmig_regs);

static const struct vfio_device_ops vfmig_ops = {
	.name = "vfmig",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = vfmig_open_device,
	.close_device = vfmig_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	.match_token_uuid = vfio_pci_core_match_token_uuid,
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
};

static int vfmig_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfmig_pci_ident ident;
	struct vfmig_device *vmdev;
	int ret;

	vmdev = vfio_alloc_device(vfmig_device, core.vdev, &pdev->dev, &vfmig_ops);
	if (IS_ERR(vmdev))
		return PTR_ERR(vmdev);

	vfmig_fill_ident(pdev, &ident);
	ret = vfmig_rs_probe(pdev, &ident, &vmdev->rs);
	if (ret)
		goto out_put;

	dev_set_drvdata(&pdev->dev, &vmdev->core);
	ret = vfio_pci_core_register_device(&vmdev->core);
	if (ret)
		goto out_remove;

	/* debugfs failures are not fatal (debugfs_create_* accept an error parent). */
	vmdev->debugfs = debugfs_create_dir(pci_name(pdev), vfmig_debugfs_root);
	debugfs_create_file("state", 0400, vmdev->debugfs, vmdev, &vfmig_state_fops);
	debugfs_create_file("regs", 0400, vmdev->debugfs, vmdev, &vfmig_regs_fops);
	return 0;

out_remove:
	vfmig_rs_remove(vmdev->rs);
out_put:
	vfio_put_device(&vmdev->core.vdev);
	return ret;
}

static void vfmig_remove(struct pci_dev *pdev)
{
	struct vfmig_device *vmdev =
		container_of(pci_get_drvdata(pdev), struct vfmig_device, core);

	/* Waits for running show callbacks; no new ones start. */
	debugfs_remove(vmdev->debugfs);
	vfio_pci_core_unregister_device(&vmdev->core);
	vfmig_rs_remove(vmdev->rs);
	vfio_put_device(&vmdev->core.vdev);
}

/*
 * Bound only through driver_override, as every vfio-pci variant driver is: the PF driver's
 * VFs are normally claimed by igbvf.
 */
static const struct pci_device_id vfmig_pci_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_INTEL, 0x10ca) }, /* 82576 VF */
	{}
};
MODULE_DEVICE_TABLE(pci, vfmig_pci_table);

static struct pci_driver vfmig_pci_driver = {
	.name = "vfmig",
	.id_table = vfmig_pci_table,
	.probe = vfmig_probe,
	.remove = vfmig_remove,
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};

int vfmig_glue_register_driver(void)
{
	int ret;

	vfmig_debugfs_root = debugfs_create_dir("vfmig", NULL);
	ret = pci_register_driver(&vfmig_pci_driver);
	if (ret)
		debugfs_remove(vfmig_debugfs_root);
	return ret;
}

void vfmig_glue_unregister_driver(void)
{
	pci_unregister_driver(&vfmig_pci_driver);
	debugfs_remove(vfmig_debugfs_root);
}
