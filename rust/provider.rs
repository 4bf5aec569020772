// SPDX-License-Identifier: GPL-2.0

//! Device providers: one per kind of VF that vfmig can migrate.
//!
//! A provider recognises its functions and (in later stages) knows how to quiesce, snapshot
//! and restore them. The driver core never names a device; adding a device is adding a
//! provider to [`PROVIDERS`].

use kernel::prelude::*;

use crate::{
    bar::BarMapping,
    shared::nic, //
};

mod igb;

/// What every device provider implements.
pub(crate) trait Provider: Sync {
    /// Short name, shown in logs and debugfs: the provider name of the saved-state format
    /// (`rust/shared/`), so the module, the stream and the tools use one name per provider.
    fn name(&self) -> &'static str {
        self.format().name()
    }

    /// The rules of this device's saved state (provider id, compatibility word, private
    /// sections), shared with the userspace tools (`rust/shared/`).
    fn format(&self) -> &'static dyn nic::Provider;

    /// Whether `id` is a function this provider drives.
    fn matches(&self, id: &FnId) -> bool;

    /// Reads the VF's guest-visible state from its BAR0 and `shadow` into `state` (cleared
    /// first); the PF side is left `None` (the caller adds it). Registers with read side effects
    /// keep what they hand out in `shadow`, so the guest still gets it. The device is not
    /// quiesced: a consistent snapshot of a running VF is the caller's business.
    fn snapshot(
        &self,
        bar0: &BarMapping,
        shadow: &mut Shadow,
        state: &mut nic::NicVfState,
    ) -> Result;

    /// Stops the VF's DMA (RUNNING -> RUNNING_P2P): saves the guest's queue controls into
    /// `saved`, clears every queue's enable and waits (bounded) until the queues read back
    /// disabled and nothing is left to send. `ETIMEDOUT` if the device does not stop.
    fn quiesce(&self, bar0: &BarMapping, saved: &mut QueueCtl) -> Result;

    /// Restarts the VF (RUNNING_P2P -> RUNNING): writes the queue controls in `saved` back,
    /// then rewrites the tails, which restarts reception and transmission, then raises the
    /// interrupt causes in `saved.kick` (after a restore: no interrupt is lost).
    fn unquiesce(&self, bar0: &BarMapping, saved: &QueueCtl) -> Result;

    /// Programs a decoded, validated state into a stopped VF (RESUMING -> STOP): every queue
    /// is left disabled with its registers set, and the queue controls to enable on RUNNING
    /// are returned in `ctl` (written by [`Provider::unquiesce`]). `armed` is the pre-copy
    /// state [`Provider::arm`] was given, if it succeeded and the caller found nothing against
    /// it: if it still holds for `state`, it is not redone. Every call uses the arming up.
    /// Returns whether the armed PF side held (nothing of it redone). An error means the VF may
    /// be partly programmed: the caller resets it ([`Provider::reset`]).
    fn restore(
        &self,
        bar0: &BarMapping,
        state: &nic::NicVfState,
        armed: Option<&nic::NicVfState>,
        shadow: &mut Shadow,
        ctl: &mut QueueCtl,
    ) -> Result<bool>;

    /// RESUMING, before the final data: does for `state` (a validated pre-copy stream) the
    /// part of [`Provider::restore`] that waits for others (the PF's side of the VF, through
    /// the VF's mailbox, where the PF driver judges each request), so that the final restore,
    /// in the guest's downtime, only checks that it still holds and programs the registers.
    /// Leaves the VF's own registers as they were; records in `shadow` what it needs to tell
    /// later whether the arming still holds (a VF reset, a message of the VMM, a PF reset in
    /// between undo it). An error leaves nothing armed: the final restore then does the whole
    /// work.
    fn arm(&self, bar0: &BarMapping, state: &nic::NicVfState, shadow: &mut Shadow) -> Result;

    /// Resets the VF through its own BAR (a function-level software reset), leaving it as any
    /// reset leaves it; waits (bounded) for the reset to complete, `ETIMEDOUT` if it does not.
    fn reset(&self, bar0: &BarMapping) -> Result;

    /// The function was reset: brings `shadow` to what the guest must see after a reset.
    fn shadow_reset(&self, shadow: &mut Shadow);

    /// A guest read of `size` (1, 2 or 4) bytes at `off` inside [`Provider::trap`]: reads the
    /// register and applies the shadows (read-to-clear bits kept for the guest, counters
    /// continued, write-only effects).
    fn trapped_read(
        &self,
        bar0: &BarMapping,
        shadow: &mut Shadow,
        off: u32,
        size: u32,
    ) -> Result<u32>;

    /// A guest write inside [`Provider::trap`] is about to store the bytes `mask` of `val` in
    /// the 32-bit register at `reg` (4-byte aligned): updates `shadow`.
    fn shadow_write(&self, shadow: &mut Shadow, reg: u32, mask: u32, val: u32);

    /// The queue control register `reg` (4-byte aligned) while vfmig holds the queues disabled
    /// (RUNNING_P2P, STOP, ... until RUNNING): `Some(&mut word)` of `held`, the control that
    /// [`Provider::unquiesce`] writes back, if `reg` is one; `None` otherwise. A guest write of
    /// such a register then goes to this word instead of the device (reads still show the
    /// device), so the guest can neither restart DMA vfmig stopped nor have a disable it wrote
    /// undone on RUNNING.
    fn held_ctl<'a>(&self, held: &'a mut QueueCtl, reg: u32) -> Option<&'a mut u32>;

    /// A guest write of the bytes `mask` of `val` to `reg` (4-byte aligned, not a queue
    /// control) while vfmig holds the queues: updates `held` for what the write does to the
    /// queues anyway. A function reset disables every queue, so RUNNING must not enable again
    /// the queues the guest's own reset stopped.
    fn held_write(&self, held: &mut QueueCtl, reg: u32, mask: u32, val: u32);

    /// Whether a write of `reg` can change where the device writes memory (see
    /// [`Provider::trapped_write`]); the dirty tracker looks at no other write.
    fn dma_register(&self, reg: u32) -> bool;

    /// Whether `reg` is a doorbell: a 32-bit write of it changes nothing in the [`DmaView`]
    /// but its ring's tail, whatever the register values (so the tracker may work from the
    /// view it keeps instead of reading the registers on every doorbell).
    fn is_doorbell(&self, reg: u32) -> bool;

    /// The BAR0 byte range `start..end` whose writes vfmig must see to log the device's DMA
    /// writes (the doorbells that hand buffers to the device), or `None` if the provider needs
    /// no trap. While migration is offered this range is never mapped into userspace.
    fn trap(&self) -> Option<(u32, u32)>;

    /// Reads from BAR0 where the device may write guest memory now (see [`DmaView`]). With
    /// `only == Some(reg)`, only the part that a write of register `reg` can change needs to be
    /// filled (the rest may stay empty): what a trapped write looks at, kept cheap because it
    /// runs on every doorbell. With `held`, vfmig holds the queues disabled and will write
    /// these controls back on RUNNING ([`Provider::unquiesce`]): a queue whose control in
    /// `held` enables it counts as enabled, so that what it owns is logged before it runs.
    fn dma_view(
        &self,
        bar0: &BarMapping,
        only: Option<u32>,
        held: Option<&QueueCtl>,
        view: &mut DmaView,
    ) -> Result;

    /// A write inside [`Provider::trap`] is about to change the 32-bit register at `reg` (4-byte
    /// aligned) from `old` to `new`: updates `view` to what the device will use after the write
    /// and says what the write hands to the device.
    fn trapped_write(&self, view: &mut DmaView, reg: u32, old: u32, new: u32) -> Posted;
}

/// Most descriptor rings a provider describes in a [`DmaView`].
pub(crate) const MAX_BUF_RINGS: usize = 4;
/// Most always-written areas a provider describes in a [`DmaView`].
pub(crate) const MAX_AREAS: usize = 8;

/// A buffer address inside a descriptor: a little-endian 64-bit IOVA at byte `offset`, naming a
/// buffer of which the device may write up to `len` bytes (`len == 0`: no such buffer).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BufField {
    /// Byte offset of the address in the descriptor.
    pub(crate) offset: u32,
    /// Bytes the device may write at the address.
    pub(crate) len: u64,
}

/// A descriptor ring whose descriptors from `head` up to (not including) `tail`, modulo
/// `count`, are owned by the device and name buffers it may write (an Rx ring).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BufRing {
    /// IOVA of descriptor 0.
    pub(crate) base: u64,
    /// Descriptors in the ring; 0: no ring.
    pub(crate) count: u32,
    /// Bytes per descriptor (at most 64).
    pub(crate) desc_size: u32,
    /// First descriptor owned by the device.
    pub(crate) head: u32,
    /// First descriptor not owned by the device.
    pub(crate) tail: u32,
    /// The buffers each descriptor names.
    pub(crate) bufs: [BufField; 2],
    /// Whether the queue is enabled: a disabled queue writes nothing (its registers may hold
    /// stale values, e.g. after a VF reset, which leaves them).
    pub(crate) enabled: bool,
}

/// Where a device may write guest memory by DMA, as its registers say at one moment: rings of
/// descriptors naming buffers, and areas it may write at any time (descriptor rings, which
/// receive write-backs, and head write-back words). Device-neutral: the dirty tracker
/// (`device/dirty.rs`) works from this alone.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DmaView {
    /// Rings whose device-owned descriptors name buffers the device may write.
    pub(crate) rings: [BufRing; MAX_BUF_RINGS],
    /// `(iova, length)` areas the device may write at any time (of enabled queues only);
    /// length 0: unused.
    pub(crate) areas: [(u64, u64); MAX_AREAS],
}

/// What a trapped register write hands to the device ([`Provider::trapped_write`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Posted {
    /// Nothing the device may write changes.
    Nothing,
    /// Descriptors `from..to` (modulo the ring's count) of ring `ring` become the device's: a
    /// tail (doorbell) write.
    Slots {
        /// Index into [`DmaView::rings`].
        ring: usize,
        /// First new descriptor (the old tail).
        from: u32,
        /// The new tail.
        to: u32,
    },
    /// A ring or area moves or changes shape: everything is looked at again, before and after
    /// the write.
    Rescan,
}

/// The guest's queue control registers, saved while vfmig holds the queues disabled.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QueueCtl {
    /// Rx queue controls, per queue.
    pub(crate) rx: [u32; nic::MAX_QUEUES],
    /// Tx queue controls, per queue.
    pub(crate) tx: [u32; nic::MAX_QUEUES],
    /// Interrupt causes to raise when the VF runs again (after a restore).
    pub(crate) kick: u32,
}

/// Words of a [`Shadow`].
pub(crate) const SHADOW_WORDS: usize = 48;

/// What a provider keeps for registers whose hardware value is not what the guest must see:
/// write-only effects (an interrupt mask set and cleared through two registers), read-to-clear
/// bits vfmig consumed, counters that cannot be preset. Kept per bound VF under its `state`
/// lock, fed by the trapped BAR accesses, saved and restored with the state. The meaning of
/// each word is the provider's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shadow {
    /// The provider's words.
    pub(crate) words: [u32; SHADOW_WORDS],
    /// Whether the guest's BAR accesses go through the shadows (the BAR is trapped). If not, a
    /// provider must not consume what the guest would read (read-to-clear bits).
    pub(crate) live: bool,
    /// A provider-private section kept from the trapped accesses (e.g. a record of what the
    /// guest asked of the PF), saved with the state when not empty.
    pub(crate) block: nic::PrivateBlock,
}

impl Default for Shadow {
    fn default() -> Self {
        Self {
            words: [0; SHADOW_WORDS],
            live: false,
            block: nic::PrivateBlock::ZERO,
        }
    }
}

/// What a provider is told of a PCI function to decide whether it drives it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FnId {
    /// PCI vendor ID.
    pub(crate) vendor: u16,
    /// PCI device ID.
    pub(crate) device: u16,
    /// Whether the function is an SR-IOV VF.
    pub(crate) is_virtfn: bool,
}

/// All providers, tried in order.
pub(crate) static PROVIDERS: [&dyn Provider; 1] = [&igb::Igb82576Vf];

/// Finds the provider for a PCI function.
pub(crate) fn find(id: &FnId) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.matches(id))
}
