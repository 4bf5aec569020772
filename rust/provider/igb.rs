// SPDX-License-Identifier: GPL-2.0

//! The Intel 82576 Virtual Function (8086:10ca), as driven by igb on the PF.

use super::Provider;
use crate::{
    ffi::PciIdent,
    shared::{
        igb::{
            self,
            DEVICE_82576_VF,
            VENDOR_INTEL, //
        },
        nic, //
    },
};

/// Provider for the 82576 VF.
pub(crate) struct Igb82576Vf;

impl Provider for Igb82576Vf {
    fn name(&self) -> &'static str {
        "igb-82576vf"
    }

    fn format(&self) -> &'static dyn nic::Provider {
        &igb::PROVIDER
    }

    fn matches(&self, ident: &PciIdent) -> bool {
        ident.vendor == VENDOR_INTEL && ident.device == DEVICE_82576_VF && ident.is_virtfn != 0
    }
}
