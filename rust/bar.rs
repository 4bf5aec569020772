// SPDX-License-Identifier: GPL-2.0

//! The BAR mapping of an open device.
//!
//! `vfio_pci_core` owns the BARs: `vfio_pci_core_enable()` requests and iomaps them and
//! `vfio_pci_core_disable()` (from `vfio_pci_core_close_device()`) unmaps them. vfmig uses that
//! mapping (`vfio_pci_core_get_iomap()`) instead of a second one, so a [`BarMapping`] exists only
//! between `open_device` and `close_device`: [`crate::device::VfDevice`] creates it in its open
//! hook and drops it, under its lock, in its close hook before the core unmaps the BAR. Register
//! access borrows the mapping ([`BarMapping::io`]), so no access can outlive it.

use kernel::{
    io::{
        Io,
        Mmio,
        MmioRaw,
        Region, //
    },
    prelude::*,
};

/// A BAR of an open device, as mapped by `vfio_pci_core`.
///
/// # Invariants
///
/// `addr..addr + len` is an `__iomem` mapping of the whole BAR that stays valid for as long as
/// this value exists.
pub(crate) struct BarMapping {
    addr: usize,
    len: usize,
}

impl BarMapping {
    /// Wraps the mapping of a BAR.
    ///
    /// # Safety
    ///
    /// `addr..addr + len` is an `__iomem` mapping that stays valid until the returned value is
    /// dropped.
    pub(crate) unsafe fn new(addr: usize, len: usize) -> Self {
        // INVARIANT: By the safety requirement.
        Self { addr, len }
    }

    /// Length of the BAR in bytes.
    pub(crate) fn size(&self) -> usize {
        self.len
    }

    /// Reads the 32-bit register at byte `off` (4-byte aligned, inside the BAR).
    pub(crate) fn read32(&self, off: usize) -> Result<u32> {
        self.io::<4>()?.try_read32(off)
    }

    /// Reads `size` (1, 2 or 4) bytes at byte `off` (aligned to `size`, inside the BAR).
    pub(crate) fn read_sized(&self, off: usize, size: u32) -> Result<u32> {
        let io = self.io::<4>()?;
        match size {
            1 => io.try_read8(off).map(u32::from),
            2 => io.try_read16(off).map(u32::from),
            4 => io.try_read32(off),
            _ => Err(EINVAL),
        }
    }

    /// Writes `size` (1, 2 or 4) bytes of `val` at byte `off` (aligned to `size`, inside the
    /// BAR), as `vfio_pci_core` forwards a userspace access of that size.
    pub(crate) fn write_sized(&self, off: usize, size: u32, val: u32) -> Result {
        let io = self.io::<4>()?;
        match size {
            1 => io.try_write8(val as u8, off),
            2 => io.try_write16(val as u16, off),
            4 => io.try_write32(val, off),
            _ => Err(EINVAL),
        }
    }

    /// An I/O view of the BAR for register access, checked at build time against the `SIZE`
    /// bytes a provider relies on. Fails with `ENODEV` if the BAR is smaller than `SIZE` (or not
    /// 4-byte aligned): not the device the provider knows.
    pub(crate) fn io<const SIZE: usize>(&self) -> Result<Mmio<'_, Region<SIZE>>> {
        let raw = MmioRaw::<Region<SIZE>>::new_region(self.addr, self.len).map_err(|_| ENODEV)?;
        // SAFETY: By the type invariant the mapping is valid while `self` exists, and the
        // returned view borrows `self`.
        Ok(unsafe { Mmio::from_raw(raw) })
    }
}
