// SPDX-License-Identifier: GPL-2.0

//! vfmig: live migration for virtual machines that own an SR-IOV NIC Virtual Function.
//!
//! The module binds to a VF as a vfio-pci variant driver. This crate owns the device logic:
//! which functions are accepted, which device provider drives them and (as the driver grows)
//! their migration state. The C shell in `vfmig_glue.c` holds only the `pci_driver` and the
//! VFIO ops tables that `vfio_pci_core` requires to be C; the boundary is `ffi.rs`.

use kernel::prelude::*;

mod bar;
mod device;
mod dump;
mod ffi;
mod provider;
mod selftest;
pub mod shared;

module! {
    type: VfmigModule,
    name: "vfmig",
    authors: ["vfmig developers"],
    description: "VFIO PCI variant driver with live migration for SR-IOV NIC virtual functions",
    license: "GPL",
    params: {
        experimental_migration: bool {
            default: false,
            description: "Offer VFIO migration (STOP_COPY, P2P): first cut, see Documentation/vfmig/design.rst",
        },
    },
}

/// The loaded module: holds the registration of the `vfmig` PCI driver.
struct VfmigModule;

impl kernel::Module for VfmigModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        ffi::register_driver()?;
        let migration = if device::migration_features() != 0 {
            "on (experimental)"
        } else {
            "off"
        };
        pr_info!(
            "registered for {} device provider(s), migration {}\n",
            provider::PROVIDERS.len(),
            migration
        );
        Ok(VfmigModule)
    }
}

impl Drop for VfmigModule {
    fn drop(&mut self) {
        ffi::unregister_driver();
    }
}
