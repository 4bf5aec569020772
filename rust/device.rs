// SPDX-License-Identifier: GPL-2.0

//! Per-VF state of a function bound to vfmig.

use kernel::prelude::*;

use crate::{
    ffi::PciIdent,
    provider::{self, Provider},
};

/// A PCI location, printed as `DDDD:BB:DD.F`.
struct Bdf {
    domain: u32,
    bus: u8,
    devfn: u8,
}

impl kernel::fmt::Display for Bdf {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{}",
            self.domain,
            self.bus,
            self.devfn >> 3,
            self.devfn & 7
        )
    }
}

/// One VF bound to vfmig.
pub(crate) struct VfDevice {
    ident: PciIdent,
    provider: &'static dyn Provider,
}

impl VfDevice {
    /// Accepts a function that some provider drives; anything else is refused with `ENODEV`
    /// (`driver_override` lets userspace offer any device to the driver).
    pub(crate) fn probe(ident: &PciIdent) -> Result<KBox<Self>> {
        let bdf = Bdf {
            domain: ident.domain,
            bus: ident.bus,
            devfn: ident.devfn,
        };
        let Some(provider) = provider::find(ident) else {
            let what = if ident.is_virtfn != 0 { "VF" } else { "PF" };
            pr_info!(
                "{}: {:04x}:{:04x} ({}) is not a function any provider drives\n",
                bdf,
                ident.vendor,
                ident.device,
                what
            );
            return Err(ENODEV);
        };
        let pf = Bdf {
            domain: ident.pf_domain,
            bus: ident.pf_bus,
            devfn: ident.pf_devfn,
        };
        pr_info!(
            "{}: VF {} of PF {}, provider {}\n",
            bdf,
            ident.vf_id,
            pf,
            provider.name()
        );
        Ok(KBox::new(
            VfDevice {
                ident: *ident,
                provider,
            },
            GFP_KERNEL,
        )?)
    }

    /// Releases the device when it is unbound.
    pub(crate) fn remove(self: KBox<Self>) {
        pr_debug!(
            "VF {} released by provider {} (id {})\n",
            self.ident.vf_id,
            self.provider.name(),
            self.provider.format().id()
        );
    }
}
