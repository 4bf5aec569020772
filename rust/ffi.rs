// SPDX-License-Identifier: GPL-2.0

//! The boundary with the C shell (`vfmig_glue.c`, `vfmig_glue.h`).
//!
//! This is the only file that declares foreign functions or exports functions to C. Every
//! type crossing the boundary is a plain `#[repr(C)]` mirror of a declaration in
//! `vfmig_glue.h`, whose size is asserted on both sides.

use core::ffi::c_void;

use kernel::{
    bindings,
    error::to_result,
    ffi::c_int,
    prelude::*, //
};

use crate::device::VfDevice;

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

mod c {
    use kernel::ffi::c_int;

    extern "C" {
        pub(super) fn vfmig_glue_register_driver() -> c_int;
        pub(super) fn vfmig_glue_unregister_driver();
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

/// Called by the C shell's `probe()` before the VFIO device is registered.
///
/// On success `*rs` holds the per-device state, which the C shell hands back to
/// [`vfmig_rs_remove`] exactly once.
///
/// # Safety
///
/// `ident` points to a valid `struct vfmig_pci_ident` and `rs` to writable storage for a pointer.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_probe(
    _pdev: *mut bindings::pci_dev,
    ident: *const PciIdent,
    rs: *mut *mut c_void,
) -> c_int {
    // SAFETY: The caller guarantees `ident` is valid for reads; `PciIdent` is plain data.
    let ident = unsafe { *ident };
    match VfDevice::probe(&ident) {
        Ok(dev) => {
            // SAFETY: The caller guarantees `rs` is valid for writes.
            unsafe { *rs = KBox::into_raw(dev).cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Called by the C shell's `remove()` (or a failed `probe()`) to release the per-device state.
///
/// # Safety
///
/// `rs` was returned by a successful [`vfmig_rs_probe`] and is not used after this call.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_remove(rs: *mut c_void) {
    // SAFETY: By the function's safety requirement `rs` came from `KBox::into_raw` in
    // `vfmig_rs_probe` and ownership is handed back exactly once.
    let dev = unsafe { KBox::from_raw(rs.cast::<VfDevice>()) };
    dev.remove();
}
