/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between vfmig's C shell and its Rust crate. Every function crossing it is
 * declared here; the Rust side mirrors these in rust/ffi.rs.
 */
#ifndef VFMIG_GLUE_H
#define VFMIG_GLUE_H

#include <linux/types.h>

struct pci_dev;
struct seq_file;
struct vfio_pci_core_device;

/*
 * Identity of a PCI function as the Rust side sees it. Plain scalars so that no C structure
 * layout leaks into Rust. Mirrored by `ffi::PciIdent`; the size is checked on both sides.
 */
struct vfmig_pci_ident {
	u16 vendor;
	u16 device;
	u16 subsystem_vendor;
	u16 subsystem_device;
	u8 revision;
	u8 is_virtfn;
	u16 vf_id;		/* index of the VF on its PF, valid if is_virtfn */
	u32 domain;		/* location of this function */
	u8 bus;
	u8 devfn;
	u16 reserved0;
	u32 pf_domain;		/* PF location, valid if is_virtfn */
	u8 pf_bus;
	u8 pf_devfn;
	u16 reserved1;
};
#define VFMIG_PCI_IDENT_SIZE 28

/* Implemented in C, called from Rust. */
int vfmig_glue_register_driver(void);
void vfmig_glue_unregister_driver(void);
/*
 * The vfio_pci_core iomap of @bar and the BAR's length. Valid from vfio_pci_core_enable() to
 * vfio_pci_core_disable(), i.e. while the device is open. -ENODEV etc. if the core could not
 * request or map the BAR.
 */
int vfmig_glue_bar_iomap(struct vfio_pci_core_device *vdev, int bar, void __iomem **addr,
			 u64 *len);
/*
 * Takes vdev->memory_lock for reading if the device's memory space is accessible (as
 * vfio_pci_core checks before its own BAR accesses): 0 with the lock held, -EIO without.
 */
int vfmig_glue_mem_begin(struct vfio_pci_core_device *vdev);
void vfmig_glue_mem_end(struct vfio_pci_core_device *vdev);

/* Implemented in Rust, called from C. */
int vfmig_rs_probe(struct pci_dev *pdev, const struct vfmig_pci_ident *ident, void **rs);
void vfmig_rs_remove(void *rs);
/* open_device, after vfio_pci_core_enable(), before finish_enable(); an error fails the open. */
int vfmig_rs_open(void *rs, struct vfio_pci_core_device *vdev);
/* close_device, before vfio_pci_core_close_device(). */
void vfmig_rs_close(void *rs);
/* seq_file show callbacks of the debugfs files; 0 or a negative errno. */
int vfmig_rs_show_state(void *rs, struct seq_file *m);
int vfmig_rs_show_regs(void *rs, struct vfio_pci_core_device *vdev, struct seq_file *m);

#endif /* VFMIG_GLUE_H */
