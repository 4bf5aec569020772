// SPDX-License-Identifier: GPL-2.0

//! The Intel 82576 Virtual Function (8086:10ca), as driven by igb on the PF.

use super::Provider;
use crate::ffi::PciIdent;

/// PCI vendor ID of Intel.
const PCI_VENDOR_ID_INTEL: u16 = 0x8086;
/// PCI device ID of the 82576 VF.
const PCI_DEVICE_ID_82576_VF: u16 = 0x10ca;

/// Provider for the 82576 VF.
pub(crate) struct Igb82576Vf;

impl Provider for Igb82576Vf {
    fn name(&self) -> &'static str {
        "igb-82576vf"
    }

    fn id(&self) -> u16 {
        1
    }

    fn matches(&self, ident: &PciIdent) -> bool {
        ident.vendor == PCI_VENDOR_ID_INTEL
            && ident.device == PCI_DEVICE_ID_82576_VF
            && ident.is_virtfn != 0
    }
}
