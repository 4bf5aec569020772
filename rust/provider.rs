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
}

/// All providers, tried in order.
pub(crate) static PROVIDERS: [&dyn Provider; 1] = [&igb::Igb82576Vf];

/// Finds the provider for a PCI function.
pub(crate) fn find(ident: &PciIdent) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.matches(ident))
}
