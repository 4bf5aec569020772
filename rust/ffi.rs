// SPDX-License-Identifier: GPL-2.0

//! The boundary with the C shell (`vfmig_glue.c`, `vfmig_glue.h`).
//!
//! This is the only file that declares foreign functions or exports functions to C. Every
//! type crossing the boundary is a plain `#[repr(C)]` mirror of a declaration in
//! `vfmig_glue.h`, whose size is asserted on both sides.

use core::{
    ffi::c_void,
    marker::PhantomData, //
};

use kernel::{
    bindings,
    error::to_result,
    ffi::c_int,
    prelude::*,
    seq_file::SeqFile,
    types::ForeignOwnable,
    uaccess::UserPtr, //
};

use crate::{
    device::{
        self,
        VfDevice, //
    },
    shared::nic::PfVfConfig,
};

/// How the C shell holds the per-device state between calls.
type DevicePtr = Pin<KBox<VfDevice>>;

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
        pub(super) fn vfmig_glue_pf_vf_config(vdev: *mut c_void, out: *mut PfVfConfigC) -> c_int;
        pub(super) fn vfmig_glue_pf_vf_apply(vdev: *mut c_void, want: *const PfVfConfigC) -> c_int;
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
    unsafe fn from_raw(ptr: *mut c_void) -> Self {
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

    /// Applies the administrator settings of `cfg` (port VLAN, QoS and protocol, spoof check,
    /// trust, Tx rates, link state; not the MAC) through the PF netdev's `ndo_set_vf_*` under
    /// `rtnl_lock`, each only where it differs from the current `ndo_get_vf_config`. The caller
    /// holds no vfmig lock. `EOPNOTSUPP` if a differing setting has no ndo.
    pub(crate) fn pf_apply(&self, cfg: &PfVfConfig) -> Result {
        let c = PfVfConfigC {
            mac: cfg.mac,
            vlan: cfg.vlan,
            vlan_proto: cfg.vlan_proto,
            qos: cfg.qos,
            spoofchk: cfg.spoofchk,
            trusted: cfg.trusted,
            link_state: cfg.link_state,
            reserved: 0,
            min_tx_rate: cfg.min_tx_rate,
            max_tx_rate: cfg.max_tx_rate,
        };
        // SAFETY: `self.ptr` is a live core device (type invariant); `c` is valid for reads for
        // the duration of the call.
        to_result(unsafe { c::vfmig_glue_pf_vf_apply(self.ptr, &c) })
    }
}

impl CoreDevice<'_> {
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

impl Drop for MemAccess<'_> {
    fn drop(&mut self) {
        // SAFETY: The lock is held (type invariant) and the device outlives `'a`.
        unsafe { c::vfmig_glue_mem_end(self.ptr) }
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
            unsafe { *rs = dev.into_foreign() };
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
    // SAFETY: By the function's safety requirement `rs` came from `into_foreign` in
    // `vfmig_rs_probe` and ownership is handed back exactly once.
    let dev = unsafe { DevicePtr::from_foreign(rs) };
    dev.remove();
}

/// Called by the C shell's `open_device` after `vfio_pci_core_enable()` (which maps the BARs)
/// and before `vfio_pci_core_finish_enable()`. On failure the C shell disables the device again
/// and the open fails.
///
/// # Safety
///
/// `rs` was returned by [`vfmig_rs_probe`] and not yet passed to [`vfmig_rs_remove`]; `vdev` is
/// the device's registered `struct vfio_pci_core_device`, being opened.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_open(rs: *mut c_void, vdev: *mut c_void) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: The caller guarantees `vdev` is live for the duration of this call.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    match dev.open(&core) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Called by the C shell's `close_device` before `vfio_pci_core_close_device()` tears down the
/// BAR mappings.
///
/// # Safety
///
/// `rs` was returned by [`vfmig_rs_probe`] and not yet passed to [`vfmig_rs_remove`].
#[no_mangle]
unsafe extern "C" fn vfmig_rs_close(rs: *mut c_void) {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    dev.close();
}

/// The `show` of the device's debugfs `state` file.
///
/// # Safety
///
/// `rs` was returned by [`vfmig_rs_probe`] and not yet passed to [`vfmig_rs_remove`]; `m` is the
/// `seq_file` being shown, not accessed by another thread during the call.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_show_state(rs: *mut c_void, m: *mut bindings::seq_file) -> c_int {
    // SAFETY: `rs` came from `into_foreign`; the C shell removes the debugfs files (which waits
    // for running `show`s) before it releases `rs`.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: By the function's safety requirement.
    let m = unsafe { SeqFile::from_raw(m) };
    dev.show_state(m);
    0
}

/// The `show` of the device's debugfs `regs` file: `-ENODEV` while the device is closed.
///
/// # Safety
///
/// As for [`vfmig_rs_show_state`]; `vdev` is the device's registered
/// `struct vfio_pci_core_device`, live for the duration of the call.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_show_regs(
    rs: *mut c_void,
    vdev: *mut c_void,
    m: *mut bindings::seq_file,
) -> c_int {
    // SAFETY: As in `vfmig_rs_show_state`.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: The caller guarantees `vdev` is live for the duration of this call.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    // SAFETY: By the function's safety requirement.
    let m = unsafe { SeqFile::from_raw(m) };
    match dev.show_regs(&core, m) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The migration features to register (`VFIO_MIGRATION_*`), 0 for none: the C shell sets
/// `migration_flags` and `mig_ops` before registering a device only if this is non-zero.
#[no_mangle]
extern "C" fn vfmig_rs_migration_flags() -> u32 {
    device::migration_features()
}

/// `migration_set_state`. Returns 1 with `*new_gen` set if the caller must return a new data fd
/// (of that generation), 0 if not, or a negative errno. In every case `*live_gen` is the
/// generation of the only data fd that still works (0: none): the caller disables older ones.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`]; `vdev` is the device's registered, open
/// `struct vfio_pci_core_device`; `new_gen` and `live_gen` are valid for writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_set_state(
    rs: *mut c_void,
    vdev: *mut c_void,
    new_state: u32,
    new_gen: *mut u64,
    live_gen: *mut u64,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: The caller guarantees `vdev` is live for the duration of this call.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    let (res, live) = dev.mig_set_state(&core, new_state);
    // SAFETY: The caller guarantees `live_gen` is valid for writes.
    unsafe { *live_gen = live };
    match res {
        Ok(Some(gen)) => {
            // SAFETY: The caller guarantees `new_gen` is valid for writes.
            unsafe { *new_gen = gen };
            1
        }
        Ok(None) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `migration_get_state`.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`]; `state` is valid for writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_get_state(rs: *mut c_void, state: *mut u32) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: The caller guarantees `state` is valid for writes.
    unsafe { *state = dev.mig_get_state() };
    0
}

/// `migration_get_data_size`.
///
/// # Safety
///
/// As for [`vfmig_rs_mig_set_state`]; `len` is valid for writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_data_size(
    rs: *mut c_void,
    vdev: *mut c_void,
    len: *mut u64,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: The caller guarantees `vdev` is live for the duration of this call.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    match dev.mig_data_size(&core) {
        Ok(n) => {
            // SAFETY: The caller guarantees `len` is valid for writes.
            unsafe { *len = n as u64 };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Converts a byte count or an error to a `ssize_t` return.
fn ssize(res: Result<usize>) -> isize {
    match res {
        Ok(n) => isize::try_from(n).unwrap_or(isize::MAX),
        Err(e) => e.to_errno() as isize,
    }
}

/// `read()` of a save data fd of generation `gen`.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`] (the C shell calls this only for a data file it has not
/// disabled, which it does before the device is closed); `buf` is a userspace pointer.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_read(
    rs: *mut c_void,
    gen: u64,
    buf: *mut c_void,
    len: usize,
) -> isize {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    ssize(dev.mig_read(gen, UserPtr::from_ptr(buf), len))
}

/// `write()` of a resume data fd of generation `gen`.
///
/// # Safety
///
/// As for [`vfmig_rs_mig_read`].
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_write(
    rs: *mut c_void,
    gen: u64,
    buf: *mut c_void,
    len: usize,
) -> isize {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    ssize(dev.mig_write(gen, UserPtr::from_ptr(buf), len))
}

/// `VFIO_MIG_GET_PRECOPY_INFO` on a data fd of generation `gen`.
///
/// # Safety
///
/// As for [`vfmig_rs_mig_read`]; `initial` and `dirty` are valid for writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_precopy_info(
    rs: *mut c_void,
    gen: u64,
    initial: *mut u64,
    dirty: *mut u64,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    match dev.mig_precopy_info(gen) {
        Ok((i, d)) => {
            // SAFETY: By the safety requirement.
            unsafe {
                *initial = i;
                *dirty = d;
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The `reset_done` PCI error handler: the function was reset.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`].
#[no_mangle]
unsafe extern "C" fn vfmig_rs_reset_done(rs: *mut c_void) {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    dev.reset_done();
}

/// `struct vfmig_range`: one logged range, first and last byte.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct RangeC {
    first: u64,
    last: u64,
}

/// The BAR0 range vfmig traps, if migration is offered and the provider traps anything.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`]; `start` and `end` are valid for writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_trap_range(rs: *mut c_void, start: *mut u32, end: *mut u32) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    match dev.trap_range() {
        Some((s, e)) => {
            // SAFETY: By the safety requirement.
            unsafe {
                *start = s;
                *end = e;
            }
            1
        }
        None => 0,
    }
}

/// A userspace write of `size` bytes of `val` at BAR0 offset `off`, inside the trapped range.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`]; `vdev` is the device's live core device, open.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_trap_write(
    rs: *mut c_void,
    vdev: *mut c_void,
    off: u32,
    size: u32,
    val: u32,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: By the safety requirement.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    match dev.trap_write(&core, off, size, val) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// A userspace read of `size` bytes at BAR0 offset `off`, inside the trapped range, into `val`.
///
/// # Safety
///
/// `rs` and `vdev` as for [`vfmig_rs_trap_write`]; `val` is valid for writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_trap_read(
    rs: *mut c_void,
    vdev: *mut c_void,
    off: u32,
    size: u32,
    val: *mut u32,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: By the safety requirement.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    match dev.trap_read(&core, off, size) {
        Ok(v) => {
            // SAFETY: By the safety requirement.
            unsafe { *val = v };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `log_start` with `n` ranges; `page_size` in/out.
///
/// # Safety
///
/// `rs` and `vdev` as for [`vfmig_rs_trap_write`]; `ranges` points to `n` ranges;
/// `page_size` is valid for reads and writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_log_start(
    rs: *mut c_void,
    vdev: *mut c_void,
    ranges: *const RangeC,
    n: u32,
    page_size: *mut u64,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: By the safety requirement.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    if ranges.is_null() || n == 0 {
        return EINVAL.to_errno();
    }
    // SAFETY: By the safety requirement, `ranges` points to `n` initialized ranges that the
    // caller does not change during the call.
    let ranges = unsafe { core::slice::from_raw_parts(ranges, n as usize) };
    let mut pairs = KVec::new();
    for r in ranges {
        if pairs.push((r.first, r.last), GFP_KERNEL).is_err() {
            return ENOMEM.to_errno();
        }
    }
    // SAFETY: By the safety requirement.
    let mut ps = unsafe { *page_size };
    match dev.log_start(&core, &pairs, &mut ps) {
        Ok(()) => {
            // SAFETY: By the safety requirement.
            unsafe { *page_size = ps };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `log_stop`.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`].
#[no_mangle]
unsafe extern "C" fn vfmig_rs_log_stop(rs: *mut c_void) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    dev.log_stop();
    0
}

/// `log_read_and_clear` of `iova..iova + len` into `bitmap`.
///
/// # Safety
///
/// `rs` and `vdev` as for [`vfmig_rs_trap_write`]; `bitmap` is the `iova_bitmap` being
/// iterated by the caller.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_log_report(
    rs: *mut c_void,
    vdev: *mut c_void,
    iova: u64,
    len: u64,
    bitmap: *mut c_void,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: By the safety requirement.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    // INVARIANT: By the safety requirement.
    let bitmap = DirtyBitmap {
        ptr: bitmap,
        _lent: PhantomData,
    };
    match dev.log_report(&core, iova, len, &bitmap) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
