// SPDX-License-Identifier: GPL-2.0

//! The trapped part of BAR0 ([`Provider::trap`](crate::provider::Provider::trap)): while migration is offered it is never
//! mapped into userspace, so every guest access comes through here. Reads go through the
//! provider's shadows; writes feed the shadows and, for the registers that move the device's
//! DMA, the dirty tracker ([`VfDevice::logged_write`], `dirty.rs`) before they reach the device.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use super::VfDevice;
use crate::glue::CoreDevice;

/// Merges a sub-dword write of `size` bytes at byte `off` into the dword value `old`.
pub(super) fn merge(old: u32, off: u32, size: u32, val: u32) -> u32 {
    let shift = (off & 3) * 8;
    let mask = match size {
        1 => 0xff_u32,
        2 => 0xffff,
        _ => return val,
    } << shift;
    (old & !mask) | ((val << shift) & mask)
}

impl VfDevice {
    /// A write of `size` (1, 2 or 4) bytes of `val` at BAR0 offset `off`, inside the trapped
    /// range.
    pub(crate) fn trap_write(
        &self,
        core: &CoreDevice<'_>,
        off: u32,
        size: u32,
        val: u32,
    ) -> Result {
        self.check_trapped(off, size)?;
        self.trapped[1].fetch_add(1, Ordering::Relaxed);
        if self.provider.dma_register(off & !3) {
            return self.logged_write(core, off, size, val);
        }
        self.bar_write(core, off, size, val, None).map(|_| ())
    }

    /// `EINVAL` unless `size` (1, 2 or 4) bytes at `off` are an aligned access inside the
    /// trapped range.
    fn check_trapped(&self, off: u32, size: u32) -> Result {
        let (start, end) = self.provider.trap().ok_or(EINVAL)?;
        let past_end = off.checked_add(size).is_none_or(|e| e > end);
        if !matches!(size, 1 | 2 | 4) || off % size != 0 || off < start || past_end {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Writes a register of BAR0 (under `state` and the core's `memory_lock`), feeding the
    /// provider's shadows. With `gen`, whether `regs_gen` was still `gen` when writing.
    pub(super) fn bar_write(
        &self,
        core: &CoreDevice<'_>,
        off: u32,
        size: u32,
        val: u32,
        gen: Option<u64>,
    ) -> Result<bool> {
        let mut guard = self.lock();
        let _mem = core.mem_access()?;
        // A reset that ran while this waited for `memory_lock` came first: apply it first.
        guard.settle_reset();
        let st = &mut *guard;
        let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
        let shift = (off & 3) * 8;
        let mask = match size {
            1 => 0xff_u32 << shift,
            2 => 0xffff_u32 << shift,
            _ => u32::MAX,
        };
        let fresh = gen.is_none_or(|g| g == self.regs_gen.load(Ordering::Acquire));
        // While vfmig holds the queues disabled, a queue control is the held word, not the
        // device's: the guest cannot restart DMA vfmig stopped, and what it writes is what
        // RUNNING enables.
        if let Some(held) = st.mig.held_queues_mut() {
            if let Some(w) = self.provider.held_ctl(held, off & !3) {
                *w = (*w & !mask) | ((val << shift) & mask);
                return Ok(fresh);
            }
            self.provider.held_write(held, off & !3, mask, val << shift);
        }
        self.provider
            .shadow_write(&mut st.shadow, off & !3, mask, val << shift);
        bar0.write_sized(off as usize, size, val)?;
        Ok(fresh)
    }

    /// A read of `size` (1, 2 or 4) bytes at BAR0 offset `off`, inside the trapped range,
    /// through the provider's shadows.
    pub(crate) fn trap_read(&self, core: &CoreDevice<'_>, off: u32, size: u32) -> Result<u32> {
        self.check_trapped(off, size)?;
        self.trapped[0].fetch_add(1, Ordering::Relaxed);
        let mut guard = self.lock();
        let _mem = core.mem_access()?;
        guard.settle_reset();
        let st = &mut *guard;
        let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
        // Reads of a queue control show the device (disabled while vfmig holds the queues); a
        // write goes to the held word (`bar_write`), so a guest's read-modify-write keeps the
        // guest's intent for RUNNING.
        self.provider.trapped_read(bar0, &mut st.shadow, off, size)
    }
}
