/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between vfmig's C shell and its Rust crate. Every function crossing it is
 * declared here; the Rust side mirrors these in rust/ffi.rs.
 */
#ifndef VFMIG_GLUE_H
#define VFMIG_GLUE_H

#include <linux/types.h>

struct pci_dev;

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

/* Implemented in Rust, called from C. */
int vfmig_rs_probe(struct pci_dev *pdev, const struct vfmig_pci_ident *ident, void **rs);
void vfmig_rs_remove(void *rs);

#endif /* VFMIG_GLUE_H */
