// SPDX-License-Identifier: GPL-2.0
//! PCI facts from sysfs: VFs and their PF, driver, IOMMU group, VFIO nodes
//! and the identity a state stream is checked against.

use std::fs;
use std::path::{Path, PathBuf};

use vfmig_state::{igb, Identity, Provider};

use crate::error::{CtlError, Exit, Result};

/// A sysfs tree (`/sys`, or a fake one in tests).
#[derive(Clone, Debug)]
pub struct Sysfs {
    root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Self::new("/sys")
    }
}

/// Normalises a PCI address: `3:00.1` / `00:03.1` become `0000:00:03.1`.
pub fn normalize_bdf(s: &str) -> Result<String> {
    let bad = || {
        CtlError::new(
            Exit::Usage,
            format!("'{s}' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)"),
        )
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (dom, bus, devfn) = match parts.as_slice() {
        [d, b, df] => (*d, *b, *df),
        [b, df] => ("0000", *b, *df),
        _ => return Err(bad()),
    };
    let (dev, func) = devfn.split_once('.').ok_or_else(bad)?;
    let hex = |t: &str, max: u32| {
        u32::from_str_radix(t, 16)
            .ok()
            .filter(|&v| v <= max && !t.is_empty())
            .ok_or_else(bad)
    };
    Ok(format!(
        "{:04x}:{:02x}:{:02x}.{:x}",
        hex(dom, 0xffff)?,
        hex(bus, 0xff)?,
        hex(dev, 0x1f)?,
        hex(func, 7)?
    ))
}

/// The vfmig provider for a PCI identity (by vendor and device id), if any.
pub fn provider_for(id: &Identity) -> Option<&'static dyn Provider> {
    match (id.vendor, id.device) {
        (igb::VENDOR_INTEL, igb::DEVICE_82576_VF) => Some(&igb::PROVIDER),
        _ => None,
    }
}

/// One VF as `list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VfInfo {
    /// VF address.
    pub bdf: String,
    /// Its PF's address.
    pub pf: String,
    /// Index under the PF (`virtfnN`).
    pub index: Option<u32>,
    /// Vendor and device id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Bound driver.
    pub driver: Option<String>,
    /// IOMMU group number.
    pub iommu_group: Option<u32>,
    /// VFIO cdev name (`vfioN`) when bound to a VFIO driver.
    pub vfio_cdev: Option<String>,
}

impl VfInfo {
    /// "vfio (vfmig)", "vfio", "kernel (igbvf)", "unbound".
    pub fn binding(&self) -> String {
        match (&self.driver, &self.vfio_cdev) {
            (None, _) => "unbound".into(),
            (Some(d), _) if d == "vfmig" => "vfmig (vfio)".into(),
            (Some(d), Some(_)) => format!("{d} (vfio, no vfmig)"),
            (Some(d), None) if d.starts_with("vfio") => format!("{d} (vfio)"),
            (Some(d), None) => format!("{d} (host kernel driver)"),
        }
    }
}

impl Sysfs {
    /// A tree rooted at `root` (normally `/sys`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `/sys/bus/pci/devices/BDF`.
    pub fn dev_path(&self, bdf: &str) -> PathBuf {
        self.root.join("bus/pci/devices").join(bdf)
    }

    /// Fails with [`Exit::NotBound`] unless the device exists.
    pub fn require(&self, bdf: &str) -> Result<()> {
        if self.dev_path(bdf).exists() {
            Ok(())
        } else {
            Err(CtlError::new(
                Exit::NotBound,
                format!(
                    "no PCI device {bdf} (not in {})",
                    self.dev_path("").display()
                ),
            )
            .errno(libc::ENODEV))
        }
    }

    fn read_hex(&self, bdf: &str, attr: &str) -> Result<u32> {
        let p = self.dev_path(bdf).join(attr);
        let s = fs::read_to_string(&p)
            .map_err(|e| CtlError::os(&format!("read {}", p.display()), &e))?;
        let t = s.trim();
        u32::from_str_radix(t.trim_start_matches("0x"), 16).map_err(|_| {
            CtlError::new(
                Exit::Failure,
                format!("{}: '{t}' is not a hex number", p.display()),
            )
        })
    }

    fn read_u16(&self, bdf: &str, attr: &str) -> Result<u16> {
        let v = self.read_hex(bdf, attr)?;
        u16::try_from(v)
            .map_err(|_| CtlError::new(Exit::Failure, format!("{bdf}/{attr}: {v:#x} out of range")))
    }

    /// The identity a stream saved from this device carries (vendor,
    /// device, subsystem vendor/device, revision).
    pub fn identity(&self, bdf: &str) -> Result<Identity> {
        self.require(bdf)?;
        let rev = self.read_hex(bdf, "revision")?;
        Ok(Identity {
            vendor: self.read_u16(bdf, "vendor")?,
            device: self.read_u16(bdf, "device")?,
            subsys_vendor: self.read_u16(bdf, "subsystem_vendor")?,
            subsys_device: self.read_u16(bdf, "subsystem_device")?,
            revision: u8::try_from(rev).map_err(|_| {
                CtlError::new(
                    Exit::Failure,
                    format!("{bdf}/revision: {rev:#x} out of range"),
                )
            })?,
        })
    }

    fn link_name(&self, p: &Path) -> Option<String> {
        fs::read_link(p)
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
    }

    /// Bound driver name.
    pub fn driver(&self, bdf: &str) -> Option<String> {
        self.link_name(&self.dev_path(bdf).join("driver"))
    }

    /// IOMMU group number.
    pub fn iommu_group(&self, bdf: &str) -> Option<u32> {
        self.link_name(&self.dev_path(bdf).join("iommu_group"))
            .and_then(|n| n.parse().ok())
    }

    /// VFIO device cdev name (`vfioN` under `vfio-dev/`).
    pub fn vfio_cdev(&self, bdf: &str) -> Option<String> {
        let dir = fs::read_dir(self.dev_path(bdf).join("vfio-dev")).ok()?;
        let mut names: Vec<String> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("vfio"))
            .collect();
        names.sort();
        names.into_iter().next()
    }

    /// PF of a VF.
    pub fn physfn(&self, bdf: &str) -> Option<String> {
        self.link_name(&self.dev_path(bdf).join("physfn"))
    }

    /// `N` such that `PF/virtfnN` points at `vf`.
    pub fn vf_index(&self, pf: &str, vf: &str) -> Option<u32> {
        let dir = fs::read_dir(self.dev_path(pf)).ok()?;
        for e in dir.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_prefix("virtfn") {
                if self.link_name(&e.path()).as_deref() == Some(vf) {
                    return n.parse().ok();
                }
            }
        }
        None
    }

    /// All SR-IOV VFs (devices with a `physfn` link), sorted by address.
    pub fn list_vfs(&self) -> Vec<VfInfo> {
        let mut out = Vec::new();
        let Ok(dir) = fs::read_dir(self.root.join("bus/pci/devices")) else {
            return out;
        };
        let mut bdfs: Vec<String> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        bdfs.sort();
        for bdf in bdfs {
            let Some(pf) = self.physfn(&bdf) else {
                continue;
            };
            out.push(VfInfo {
                index: self.vf_index(&pf, &bdf),
                vendor: self.read_u16(&bdf, "vendor").unwrap_or(0),
                device: self.read_u16(&bdf, "device").unwrap_or(0),
                driver: self.driver(&bdf),
                iommu_group: self.iommu_group(&bdf),
                vfio_cdev: self.vfio_cdev(&bdf),
                pf,
                bdf,
            });
        }
        out
    }

    /// vfmig's debugfs `state` file of `bdf` (`/sys/kernel/debug/vfio/BDF/vfmig/state`, in VFIO
    /// core's directory of the device, created by `rust/vfmig_glue.c`), as its `key: value`
    /// lines in order; `None` if it cannot be read
    /// (debugfs not mounted, not root, not bound to vfmig).
    pub fn vfmig_debugfs_state(&self, bdf: &str) -> Option<Vec<(String, String)>> {
        let p = self.vfmig_debugfs_path(bdf);
        let s = fs::read_to_string(p).ok()?;
        Some(
            s.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    /// Path of vfmig's debugfs `state` file of `bdf`.
    pub fn vfmig_debugfs_path(&self, bdf: &str) -> PathBuf {
        self.root
            .join("kernel/debug/vfio")
            .join(bdf)
            .join("vfmig/state")
    }

    /// Fails unless the device is bound to vfmig (or, with `any_driver`,
    /// to any VFIO driver), naming what it is bound to instead.
    pub fn require_vfio(&self, bdf: &str, any_driver: bool) -> Result<String> {
        self.require(bdf)?;
        let drv = self.driver(bdf);
        let is_vfio = self.vfio_cdev(bdf).is_some()
            || drv
                .as_deref()
                .is_some_and(|d| d == "vfmig" || d.starts_with("vfio"));
        match drv {
            Some(d) if d == "vfmig" => Ok(d),
            Some(d) if any_driver && is_vfio => Ok(d),
            Some(d) if is_vfio => Err(CtlError::new(
                Exit::NotBound,
                format!("{bdf} is bound to {d}, not vfmig (use --any-driver to try another VFIO driver)"),
            )),
            Some(d) => Err(CtlError::new(
                Exit::NotBound,
                format!("{bdf} is bound to {d}, not vfmig: echo vfmig > /sys/bus/pci/devices/{bdf}/driver_override, unbind and reprobe"),
            )),
            None => Err(CtlError::new(
                Exit::NotBound,
                format!("{bdf} is not bound to vfmig (no driver): echo vfmig > /sys/bus/pci/devices/{bdf}/driver_override; echo {bdf} > /sys/bus/pci/drivers_probe"),
            )),
        }
    }
}
