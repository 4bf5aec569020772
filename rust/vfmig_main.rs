// SPDX-License-Identifier: GPL-2.0

//! vfmig: live migration for virtual machines that own an SR-IOV NIC Virtual Function.
//!
//! The module binds to a VF as a vfio-pci variant driver. This crate owns the device logic:
//! which functions are accepted, which device provider drives them and (as the driver grows)
//! their migration state. The C shell in `vfmig_glue.c` holds only the `pci_driver` and the
//! VFIO ops tables that `vfio_pci_core` requires to be C; the boundary is `entry.rs` (what C
//! calls, the top layer) and `glue.rs` (the C-facing types and calls into C, the bottom layer).

use kernel::prelude::*;

mod bar;
mod device;
mod dump;
mod entry;
mod glue;
mod provider;
// The KUnit suites, only in the test build (`make kunit`, `--cfg vfmig_kunit`): the production
// vfmig.ko carries none, so loading it on a `CONFIG_KUNIT=y` kernel runs no test and does not
// taint the kernel (TAINT_TEST).
#[cfg(vfmig_kunit)]
mod selftest;
pub mod shared;

/// The module declaration, once for both builds of these sources: vfmig.ko, and the test build
/// (`build/kunit/vfmig_kunit.ko`, loaded only by the project's tests: vfmig's KUnit suites in a
/// module of its own name, which drives no device).
macro_rules! vfmig_module {
    ($name:tt, $description:tt) => {
        module! {
            type: VfmigModule,
            name: $name,
            authors: ["vfmig developers"],
            description: $description,
            license: "GPL",
            params: {
                migration: bool {
                    default: true,
                    description: "Offer VFIO migration (STOP_COPY, P2P, PRE_COPY) and DMA dirty logging, trapping BAR0 (default on); 0: VFIO access exactly as vfio-pci, no migration (Documentation/vfmig/operation.rst)",
                },
                pf_mismatch_warn: bool {
                    default: false,
                    description: "Let a restore proceed when the source's PF administrator settings (VLAN, QoS, spoof check, trust, rates, link state) differ from the target's, with a warning; they are never set from the stream (default: refuse with EPERM)",
                },
            },
        }
    };
}

#[cfg(not(vfmig_kunit))]
vfmig_module!(
    "vfmig",
    "VFIO PCI variant driver with live migration for SR-IOV NIC virtual functions"
);
#[cfg(vfmig_kunit)]
vfmig_module!(
    "vfmig_kunit",
    "KUnit suites of vfmig (test build: loading it runs them and taints the kernel; drives no device)"
);

/// The loaded module: holds the registration of the `vfmig` PCI driver.
struct VfmigModule;

impl kernel::Module for VfmigModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if cfg!(vfmig_kunit) {
            pr_info!("KUnit suites of vfmig only; no PCI driver registered\n");
            return Ok(VfmigModule);
        }
        glue::register_driver()?;
        let migration = if device::migration_features() != 0 {
            "on"
        } else {
            "off (migration=0)"
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
        if !cfg!(vfmig_kunit) {
            glue::unregister_driver();
        }
    }
}
