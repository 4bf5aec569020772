// SPDX-License-Identifier: GPL-2.0

//! What the C shell (`vfmig_glue.c`, `vfmig_glue.h`) offers the Rust crate: the C-facing types
//! and the calls into C. The bottom layer: it imports nothing of vfmig but the shared format.
//!
//! With `entry.rs` (the functions C calls), the only files that touch foreign functions. Every
//! type crossing the boundary is a plain `#[repr(C)]` mirror of a declaration in
//! `vfmig_glue.h`, whose size is asserted on both sides.

use core::{
    ffi::c_void,
    marker::PhantomData, //
};

use kernel::{
    error::to_result,
    ffi::c_int,
    prelude::*, //
};

use crate::shared::nic::PfVfConfig;

/// Identity of a PCI function, filled by the C shell (`struct vfmig_pci_ident`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct PciIdent {
    /// PCI vendor ID.
    pub(crate) vendor: u16,
    /// PCI device ID.
    pub(crate) device: u16,
    /// PCI subsystem vendor ID.
    pub(crate) subsystem_vendor: u16,
    /// PCI subsystem device ID.
    pub(crate) subsystem_device: u16,
    /// PCI revision ID.
    pub(crate) revision: u8,
    /// 1 if the function is an SR-IOV VF.
    pub(crate) is_virtfn: u8,
    /// Index of the VF on its PF (valid if `is_virtfn`).
    pub(crate) vf_id: u16,
    /// PCI domain of this function.
    pub(crate) domain: u32,
    /// Bus number of this function.
    pub(crate) bus: u8,
    /// Device and function number of this function.
    pub(crate) devfn: u8,
    reserved0: u16,
    /// PCI domain of the PF (valid if `is_virtfn`).
    pub(crate) pf_domain: u32,
    /// Bus number of the PF (valid if `is_virtfn`).
    pub(crate) pf_bus: u8,
    /// Device and function number of the PF (valid if `is_virtfn`).
    pub(crate) pf_devfn: u8,
    reserved1: u16,
}

/// `VFMIG_PCI_IDENT_SIZE` in `vfmig_glue.h`.
const PCI_IDENT_SIZE: usize = 28;
const _: () = assert!(core::mem::size_of::<PciIdent>() == PCI_IDENT_SIZE);

/// The PF driver's view of a VF (`struct vfmig_pf_vf_config`, from `ndo_get_vf_config`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct PfVfConfigC {
    mac: [u8; 6],
    vlan: u16,
    vlan_proto: u16,
    qos: u8,
    spoofchk: u8,
    trusted: u8,
    link_state: u8,
    reserved: u16,
    min_tx_rate: u32,
    max_tx_rate: u32,
}

/// `VFMIG_PF_VF_CONFIG_SIZE` in `vfmig_glue.h`.
const PF_VF_CONFIG_SIZE: usize = 24;
const _: () = assert!(core::mem::size_of::<PfVfConfigC>() == PF_VF_CONFIG_SIZE);

mod c {
    use super::PfVfConfigC;
    use core::ffi::c_void;
    use kernel::ffi::c_int;

    extern "C" {
        pub(super) fn vfmig_glue_register_driver() -> c_int;
        pub(super) fn vfmig_glue_unregister_driver();
        pub(super) fn vfmig_glue_bar_iomap(
            vdev: *mut c_void,
            bar: c_int,
            addr: *mut *mut c_void,
            len: *mut u64,
        ) -> c_int;
        pub(super) fn vfmig_glue_mem_begin(vdev: *mut c_void) -> c_int;
        pub(super) fn vfmig_glue_mem_end(vdev: *mut c_void);
        pub(super) fn vfmig_glue_mem_decode_on(vdev: *mut c_void) -> u16;
        pub(super) fn vfmig_glue_mem_decode_restore(vdev: *mut c_void, set: u16);
        pub(super) fn vfmig_glue_pf_vf_config(vdev: *mut c_void, out: *mut PfVfConfigC) -> c_int;
        pub(super) fn vfmig_glue_log_ratelimit(vdev: *mut c_void) -> bool;
        pub(super) fn vfmig_glue_dma_read(
            vdev: *mut c_void,
            iova: u64,
            buf: *mut c_void,
            len: usize,
        ) -> c_int;
        pub(super) fn vfmig_glue_bitmap_set(bitmap: *mut c_void, iova: u64, len: u64);
    }
}

/// The `struct vfio_pci_core_device` of a bound VF, lent by the C shell for one call.
///
/// # Invariants
///
/// `ptr` points to a registered `struct vfio_pci_core_device` that stays alive for `'a`.
pub(crate) struct CoreDevice<'a> {
    ptr: *mut c_void,
    _lent: PhantomData<&'a ()>,
}

impl CoreDevice<'_> {
    /// # Safety
    ///
    /// `ptr` points to a registered `struct vfio_pci_core_device` that stays alive for as long
    /// as the returned value is used.
    pub(crate) unsafe fn from_raw(ptr: *mut c_void) -> Self {
        // INVARIANT: By the safety requirement.
        Self {
            ptr,
            _lent: PhantomData,
        }
    }

    /// The `vfio_pci_core` iomap of `bar` (`vfio_pci_core_get_iomap()`) and the BAR's length,
    /// as `(address, length)`. The mapping exists from `vfio_pci_core_enable()` to
    /// `vfio_pci_core_disable()`, i.e. while the device is open; the caller keeps it no longer.
    pub(crate) fn bar_iomap(&self, bar: u8) -> Result<(usize, usize)> {
        let mut addr: *mut c_void = core::ptr::null_mut();
        let mut len: u64 = 0;
        // SAFETY: `self.ptr` is a live core device (type invariant); `addr` and `len` are valid
        // for writes.
        to_result(unsafe {
            c::vfmig_glue_bar_iomap(self.ptr, c_int::from(bar), &mut addr, &mut len)
        })?;
        Ok((addr.addr(), usize::try_from(len).map_err(|_| ENODEV)?))
    }

    /// Takes the core's `memory_lock` for reading if the device's memory space is accessible
    /// (memory decoding on, not in D3), as `vfio_pci_core` does around its own BAR accesses;
    /// `EIO` otherwise. The lock excludes resets and power-state changes until the returned
    /// guard is dropped.
    pub(crate) fn mem_access(&self) -> Result<MemAccess<'_>> {
        // SAFETY: `self.ptr` is a live core device (type invariant).
        to_result(unsafe { c::vfmig_glue_mem_begin(self.ptr) })?;
        // INVARIANT: `vfmig_glue_mem_begin()` succeeded, so the lock is held.
        Ok(MemAccess {
            ptr: self.ptr,
            _dev: PhantomData,
        })
    }
}

impl CoreDevice<'_> {
    /// The PF driver's administrative configuration of this VF (`ndo_get_vf_config` of the PF
    /// netdev, under `rtnl_lock`; the caller holds no vfmig lock). `ENODEV` if the PF has no
    /// netdev with VF ops; `EINVAL` if the PF driver reports values the state format cannot
    /// carry.
    pub(crate) fn pf_vf_config(&self) -> Result<PfVfConfig> {
        let mut c = PfVfConfigC::default();
        // SAFETY: `self.ptr` is a live core device (type invariant); `c` is valid for writes.
        to_result(unsafe { c::vfmig_glue_pf_vf_config(self.ptr, &mut c) })?;
        let cfg = PfVfConfig {
            mac: c.mac,
            vlan: c.vlan,
            vlan_proto: c.vlan_proto,
            qos: c.qos,
            spoofchk: c.spoofchk,
            trusted: c.trusted,
            link_state: c.link_state,
            min_tx_rate: c.min_tx_rate,
            max_tx_rate: c.max_tx_rate,
        };
        Ok(cfg)
    }
}

impl CoreDevice<'_> {
    /// Whether a kernel message that userspace can cause (a refused arc or restore) may be
    /// printed now (a per-device ratelimit, so that a loop of refused requests cannot flood
    /// the log).
    pub(crate) fn log_allowed(&self) -> bool {
        // SAFETY: `self.ptr` is a live core device (type invariant).
        unsafe { c::vfmig_glue_log_ratelimit(self.ptr) }
    }

    /// Reads guest memory at `iova` as the device would (`vfio_dma_rw()`): through the type1
    /// container's mappings, in the context of the process that made them. `EINVAL` if the
    /// range is not mapped, `EPERM`/`EFAULT` from the IOMMU driver.
    pub(crate) fn dma_read(&self, iova: u64, buf: &mut [u8]) -> Result {
        // SAFETY: `self.ptr` is a live core device (type invariant); `buf` is valid for writes
        // of `buf.len()` bytes for the duration of the call.
        to_result(unsafe {
            c::vfmig_glue_dma_read(self.ptr, iova, buf.as_mut_ptr().cast(), buf.len())
        })
    }
}

/// The `struct iova_bitmap` of a `log_read_and_clear` call, lent for that call.
///
/// # Invariants
///
/// `ptr` points to an `iova_bitmap` being iterated by `iova_bitmap_for_each()` for `'a`.
pub(crate) struct DirtyBitmap<'a> {
    ptr: *mut c_void,
    _lent: PhantomData<&'a ()>,
}

impl DirtyBitmap<'_> {
    /// Wraps the bitmap of a `log_read_and_clear` call.
    ///
    /// # Safety
    ///
    /// `ptr` points to an `iova_bitmap` being iterated by `iova_bitmap_for_each()` for as long
    /// as the returned value is used.
    pub(crate) unsafe fn from_raw(ptr: *mut c_void) -> Self {
        // INVARIANT: By the safety requirement.
        Self {
            ptr,
            _lent: PhantomData,
        }
    }

    /// Marks `iova..iova + len` dirty (`iova_bitmap_set()`; the bitmap ignores what lies
    /// outside its current window).
    pub(crate) fn set(&self, iova: u64, len: u64) {
        // SAFETY: `self.ptr` is a live bitmap (type invariant).
        unsafe { c::vfmig_glue_bitmap_set(self.ptr, iova, len) }
    }
}

/// Read access to a device's memory space (see [`CoreDevice::mem_access`]).
///
/// # Invariants
///
/// The `memory_lock` of the core device at `ptr` is held for reading by this value.
pub(crate) struct MemAccess<'a> {
    ptr: *mut c_void,
    _dev: PhantomData<&'a ()>,
}

impl MemAccess<'_> {
    /// The function decodes its memory space while the returned value lives: its physical
    /// PCI_COMMAND memory-enable bit is set if it was clear, and put back on drop. SR-IOV VFs
    /// ignore the bit, but QEMU's emulated igb VF decodes its BARs only with it, and a VMM
    /// clears it before loading a migrated guest's config space (vfmig writes the VF in
    /// RESUMING before that: [`crate::device`]'s arming).
    ///
    /// The caller holds the device's `state` lock, so no other holder of `memory_lock` for
    /// reading changes the bit meanwhile; the VMM's config writes of it and resets take
    /// `memory_lock` for writing.
    pub(crate) fn decoding(&self) -> MemDecode<'_> {
        // SAFETY: `self.ptr` is a live core device and its `memory_lock` is held for reading
        // (type invariant).
        let set = unsafe { c::vfmig_glue_mem_decode_on(self.ptr) };
        MemDecode { mem: self, set }
    }
}

impl Drop for MemAccess<'_> {
    fn drop(&mut self) {
        // SAFETY: The lock is held (type invariant) and the device outlives `'a`.
        unsafe { c::vfmig_glue_mem_end(self.ptr) }
    }
}

/// See [`MemAccess::decoding`].
pub(crate) struct MemDecode<'a> {
    mem: &'a MemAccess<'a>,
    /// Whether `decoding` set the bit.
    set: u16,
}

impl Drop for MemDecode<'_> {
    fn drop(&mut self) {
        // SAFETY: `mem` holds `memory_lock` of a live core device for reading (its type
        // invariant), as when the bit was set.
        unsafe { c::vfmig_glue_mem_decode_restore(self.mem.ptr, self.set) }
    }
}

/// Registers the `vfmig` PCI driver.
pub(crate) fn register_driver() -> Result {
    // SAFETY: Called once from module init; the driver structure is static in the C shell.
    to_result(unsafe { c::vfmig_glue_register_driver() })
}

/// Unregisters the `vfmig` PCI driver; every bound device is removed first.
pub(crate) fn unregister_driver() {
    // SAFETY: Called once from module exit, after a successful `register_driver()`.
    unsafe { c::vfmig_glue_unregister_driver() }
}
