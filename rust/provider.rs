// SPDX-License-Identifier: GPL-2.0

//! Device providers: one per kind of VF that vfmig can migrate.
//!
//! A provider recognises its functions and (in later stages) knows how to quiesce, snapshot
//! and restore them. The driver core never names a device; adding a device is adding a
//! provider to [`PROVIDERS`].

use kernel::prelude::*;

use crate::{
    bar::BarMapping,
    ffi::PciIdent,
    shared::nic, //
};

mod igb;

/// What every device provider implements.
pub(crate) trait Provider: Sync {
    /// Short name, shown in logs and debugfs.
    fn name(&self) -> &'static str;

    /// The rules of this device's saved state (provider id, compatibility word, private
    /// sections), shared with the userspace tools (`rust/shared/`).
    fn format(&self) -> &'static dyn nic::Provider;

    /// Whether `ident` is a function this provider drives.
    fn matches(&self, ident: &PciIdent) -> bool;

    /// Reads the VF's guest-visible state from its BAR0 into `state` (cleared first): what the
    /// BAR shows faithfully, with the rest left at zero/`None` for the sources named in the
    /// provider (shadows, PF side). The device is not quiesced: a consistent snapshot of a
    /// running VF is the caller's business (issue 4 stops it first).
    fn snapshot(&self, bar0: &BarMapping, state: &mut nic::NicVfState) -> Result;

    /// Stops the VF's DMA (RUNNING -> RUNNING_P2P): saves the guest's queue controls into
    /// `saved`, clears every queue's enable and waits (bounded) until the queues read back
    /// disabled and nothing is left to send. `ETIMEDOUT` if the device does not stop.
    fn quiesce(&self, bar0: &BarMapping, saved: &mut QueueCtl) -> Result;

    /// Restarts the VF (RUNNING_P2P -> RUNNING): writes the queue controls in `saved` back,
    /// then rewrites the tails, which restarts reception and transmission.
    fn unquiesce(&self, bar0: &BarMapping, saved: &QueueCtl) -> Result;

    /// Programs a decoded, validated state into a stopped VF (RESUMING -> STOP): every queue
    /// is left disabled with its registers set, and the queue controls to enable on RUNNING
    /// are returned in `ctl` (written by [`Provider::unquiesce`]). An error means the VF may be
    /// partly programmed: the caller resets it ([`Provider::reset`]).
    fn restore(&self, bar0: &BarMapping, state: &nic::NicVfState, ctl: &mut QueueCtl) -> Result;

    /// Resets the VF through its own BAR (a function-level software reset), leaving it as any
    /// reset leaves it.
    fn reset(&self, bar0: &BarMapping) -> Result;
}

/// The guest's queue control registers, saved while vfmig holds the queues disabled.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QueueCtl {
    /// Rx queue controls, per queue.
    pub(crate) rx: [u32; nic::MAX_QUEUES],
    /// Tx queue controls, per queue.
    pub(crate) tx: [u32; nic::MAX_QUEUES],
}

/// All providers, tried in order.
pub(crate) static PROVIDERS: [&dyn Provider; 1] = [&igb::Igb82576Vf];

/// Finds the provider for a PCI function.
pub(crate) fn find(ident: &PciIdent) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.matches(ident))
}
