/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between vfmig's C shell and its Rust crate. Every function crossing it is
 * declared here; the Rust side mirrors these in rust/glue.rs (what C offers) and rust/entry.rs (what C calls).
 */
#ifndef VFMIG_GLUE_H
#define VFMIG_GLUE_H

#include <linux/types.h>

struct pci_dev;
struct seq_file;
struct vfio_pci_core_device;

/*
 * Identity of a PCI function as the Rust side sees it. Plain scalars so that no C structure
 * layout leaks into Rust. Mirrored by `glue::PciIdent`; the size is checked on both sides.
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

/*
 * The PF driver's administrative view of a VF (ndo_get_vf_config), as plain scalars. Mirrored by
 * `glue::PfVfConfigC`; the size is checked on both sides.
 */
struct vfmig_pf_vf_config {
	u8 mac[6];
	u16 vlan;
	u16 vlan_proto;		/* host order: ETH_P_8021Q or ETH_P_8021AD */
	u8 qos;
	u8 spoofchk;		/* 0 or 1 */
	u8 trusted;		/* 0 or 1 */
	u8 link_state;		/* IFLA_VF_LINK_STATE_* */
	u16 reserved;
	u32 min_tx_rate;	/* Mbit/s */
	u32 max_tx_rate;	/* Mbit/s */
};
#define VFMIG_PF_VF_CONFIG_SIZE 24

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
/*
 * With memory_lock held (vfmig_glue_mem_begin) and the Rust device lock: sets the function's
 * physical PCI_COMMAND memory-enable bit if it is clear; returns whether it did, which
 * ..._restore takes to clear it again. SR-IOV VFs ignore the bit, but QEMU's emulated igb VF
 * decodes its BARs only with it, and a VMM clears it before it loads a migrated guest's
 * config space.
 */
u16 vfmig_glue_mem_decode_on(struct vfio_pci_core_device *vdev);
void vfmig_glue_mem_decode_restore(struct vfio_pci_core_device *vdev, u16 set);
/*
 * The PF netdev's ndo_get_vf_config() for this VF, under rtnl_lock (the caller holds no vfmig
 * lock). -ENODEV if the function is not a VF or its PF has no netdev with VF ops.
 */
int vfmig_glue_pf_vf_config(struct vfio_pci_core_device *vdev, struct vfmig_pf_vf_config *out);

/*
 * Whether a kernel message that userspace can cause (a refused arc or restore) may be printed
 * now: a per-device __ratelimit() (default interval and burst).
 */
bool vfmig_glue_log_ratelimit(struct vfio_pci_core_device *vdev);
/*
 * vfio_dma_rw() of @len bytes at @iova into @buf (a read of guest memory as the device sees it;
 * needs a type1 container, see the log_start op).
 */
int vfmig_glue_dma_read(struct vfio_pci_core_device *vdev, u64 iova, void *buf, size_t len);
/* iova_bitmap_set() on the bitmap a log_read_and_clear call was given. */
void vfmig_glue_bitmap_set(void *bitmap, u64 iova, u64 len);

/* One range of a DMA logging start: first and last byte. Mirrored by `entry::RangeC`. */
struct vfmig_range {
	u64 first;
	u64 last;
};

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

/*
 * Migration (uAPI v2). vfmig_rs_migration_flags() is the VFIO_MIGRATION_* set to register (0:
 * no mig_ops, the module parameter migration is 0).
 *
 * vfmig_rs_mig_set_state() moves the device to @new_state (walking single arcs); it returns 1
 * if the caller must return a new data fd of generation *@new_gen, 0 if not, or -errno. Either
 * way *@live_gen is the generation of the only data fd that still works (0: none); the caller
 * disables any other. Read/write of a data fd go to Rust with the fd's generation, which
 * answers -ENODEV once the state that created it is left. Lock order: see
 * rust/device/migration.rs (migf_lock and a data file's lock are taken outside every Rust lock).
 */
u32 vfmig_rs_migration_flags(void);
int vfmig_rs_mig_set_state(void *rs, struct vfio_pci_core_device *vdev, u32 new_state,
			   u64 *new_gen, u64 *live_gen);
int vfmig_rs_mig_get_state(void *rs, u32 *state);
int vfmig_rs_mig_data_size(void *rs, struct vfio_pci_core_device *vdev, u64 *len);
/*
 * One step of a data fd's read or write, on a kernel buffer (the C shell copies to and from
 * userspace with no lock held): read returns the bytes copied into @buf (0 at the end,
 * -ENOMSG: PRE_COPY initial data all read) and their stream position in *@start, which
 * vfmig_rs_mig_unread() gives back if they did not reach userspace; write returns 0 or -errno
 * (@vdev, the open core device, for a write that arms the VF with pre-copy data).
 */
ssize_t vfmig_rs_mig_read(void *rs, u64 gen, u8 *buf, size_t len, size_t *start);
void vfmig_rs_mig_unread(void *rs, u64 gen, size_t start);
int vfmig_rs_mig_write(void *rs, void *vdev, u64 gen, const u8 *buf, size_t len);
/* VFIO_MIG_GET_PRECOPY_INFO of a data fd: -EINVAL outside PRE_COPY/PRE_COPY_P2P. */
int vfmig_rs_mig_precopy_info(void *rs, u64 gen, u64 *initial, u64 *dirty);
/* reset_done PCI error handler; may run with the core's memory_lock held for writing. */
void vfmig_rs_reset_done(void *rs);

/*
 * Trapped BAR0 (rust/device/dirty.rs). vfmig_rs_trap_range() gives the BAR0 byte range
 * [*start, *end) whose accesses must reach vfmig_rs_trap_read()/_write() instead of the BAR
 * (returns 1), or 0: nothing is trapped (migration not offered). The C shell keeps that range
 * out of every mmap, ioeventfd and dma-buf of BAR0. Rust performs the access itself, through
 * the provider's shadows and the dirty tracker. DMA dirty logging: vfmig_rs_log_*().
 */
int vfmig_rs_trap_range(void *rs, u32 *start, u32 *end);
int vfmig_rs_trap_write(void *rs, struct vfio_pci_core_device *vdev, u32 off, u32 size, u32 val);
int vfmig_rs_trap_read(void *rs, struct vfio_pci_core_device *vdev, u32 off, u32 size, u32 *val);
int vfmig_rs_log_start(void *rs, struct vfio_pci_core_device *vdev,
		       const struct vfmig_range *ranges, u32 n, u64 *page_size);
int vfmig_rs_log_stop(void *rs);
int vfmig_rs_log_report(void *rs, struct vfio_pci_core_device *vdev, u64 iova, u64 len,
			void *bitmap);

#endif /* VFMIG_GLUE_H */
