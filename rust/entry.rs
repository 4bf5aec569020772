// SPDX-License-Identifier: GPL-2.0

//! The entry points the C shell (`vfmig_glue.c`) calls: the top layer. Each borrows the
//! per-device state the C shell holds and hands the call to [`VfDevice`]; the C-facing types
//! and the calls into C are `glue.rs`.

use core::ffi::c_void;

use kernel::{
    bindings,
    device::Device,
    ffi::c_int,
    prelude::*,
    seq_file::SeqFile,
    types::ForeignOwnable, //
};

use crate::{
    device::{
        self,
        VfDevice, //
    },
    glue::{
        CoreDevice,
        DirtyBitmap,
        PciIdent, //
    },
};

/// How the C shell holds the per-device state between calls.
type DevicePtr = Pin<KBox<VfDevice>>;

/// Called by the C shell's `probe()` before the VFIO device is registered.
///
/// On success `*rs` holds the per-device state, which the C shell hands back to
/// [`vfmig_rs_remove`] exactly once.
///
/// # Safety
///
/// `pdev` is the PCI device being probed, `ident` points to a valid `struct vfmig_pci_ident`
/// and `rs` to writable storage for a pointer.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_probe(
    pdev: *mut bindings::pci_dev,
    ident: *const PciIdent,
    rs: *mut *mut c_void,
) -> c_int {
    // SAFETY: The caller guarantees `ident` is valid for reads; `PciIdent` is plain data.
    let ident = unsafe { *ident };
    // SAFETY: The caller guarantees `pdev` is the live PCI device being probed, so its embedded
    // `struct device` is valid with a non-zero reference count for this call; `get_device`
    // takes a reference of its own (released with the `VfDevice`), and a PCI device's release
    // may run on any thread.
    let dev = unsafe { Device::get_device(core::ptr::addr_of_mut!((*pdev).dev)) };
    match VfDevice::probe(&ident, dev) {
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

/// One step of a `read()` of a save data fd of generation `gen`: up to `len` bytes of the
/// stream into the kernel buffer `buf`; the count (0 at the end) with `*start` set to their
/// position, or a negative errno (`-ENOMSG`: the PRE_COPY initial data is all read).
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_open`] (the C shell calls this only for a data file it has not
/// disabled, which it does before the device is closed); `buf` is a kernel buffer valid for
/// writes of `len` bytes; `start` is valid for writes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_read(
    rs: *mut c_void,
    gen: u64,
    buf: *mut u8,
    len: usize,
    start: *mut usize,
) -> isize {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: The caller guarantees `buf` is valid for writes of `len` bytes, and nothing else
    // accesses it during the call.
    let out = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    match dev.mig_read_chunk(gen, out) {
        Ok((n, at)) => {
            // SAFETY: The caller guarantees `start` is valid for writes.
            unsafe { *start = at };
            isize::try_from(n).unwrap_or(isize::MAX)
        }
        Err(e) => e.to_errno() as isize,
    }
}

/// The bytes a [`vfmig_rs_mig_read`] returned from `start` did not reach userspace: given back.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_mig_read`].
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_unread(rs: *mut c_void, gen: u64, start: usize) {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    dev.mig_unread(gen, start);
}

/// One step of a `write()` of a resume data fd of generation `gen`: feeds `len` bytes of the
/// kernel buffer `buf`. 0 or a negative errno.
///
/// # Safety
///
/// `rs` as for [`vfmig_rs_mig_read`]; `vdev` is the device's core device, open (its data fd is
/// not disabled) for the duration of the call; `buf` is a kernel buffer valid for reads of
/// `len` bytes.
#[no_mangle]
unsafe extern "C" fn vfmig_rs_mig_write(
    rs: *mut c_void,
    vdev: *mut c_void,
    gen: u64,
    buf: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: `rs` came from `into_foreign` and is released only after this call returns.
    let dev = unsafe { DevicePtr::borrow(rs) };
    // SAFETY: The caller guarantees `buf` is valid for reads of `len` bytes, not written during
    // the call.
    let data = unsafe { core::slice::from_raw_parts(buf, len) };
    // SAFETY: The caller guarantees `vdev` is live for the duration of this call.
    let core = unsafe { CoreDevice::from_raw(vdev) };
    match dev.mig_write_chunk(&core, gen, data) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
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
    // SAFETY: By the safety requirement.
    let bitmap = unsafe { DirtyBitmap::from_raw(bitmap) };
    match dev.log_report(&core, iova, len, &bitmap) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
