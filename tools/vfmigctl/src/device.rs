// SPDX-License-Identifier: GPL-2.0
//! Opening a VF through VFIO as a VMM does, and the device-feature calls of
//! the migration uAPI v2 on it.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use vfio_bindings::bindings::vfio as v;
use vfmig_state::{Features, State};

use crate::error::{errno_text, CtlError, Exit, Result};
use crate::sys;
use crate::sysfs::Sysfs;
use crate::uapi;

/// How to reach the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// iommufd cdev when `/dev/vfio/devices/vfioN` and `/dev/iommu` exist, else group.
    Auto,
    /// `/dev/vfio/devices/vfioN` bound to `/dev/iommu`, attached to a new IOAS.
    Cdev,
    /// Legacy `/dev/vfio/vfio` type1 container + `/dev/vfio/GROUP`.
    Group,
}

impl Via {
    /// Name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Via::Auto => "auto",
            Via::Cdev => "cdev",
            Via::Group => "group",
        }
    }
}

/// An open VFIO device. Dropping it closes the device (and its container
/// or iommufd), which the VFIO core treats like a VMM exiting.
#[derive(Debug)]
pub struct Device {
    /// PCI address.
    pub bdf: String,
    /// Path actually used (never `Auto`).
    pub via: Via,
    /// Node that was opened (`/dev/vfio/devices/vfio0`, `/dev/vfio/7`).
    pub node: String,
    fd: File,
    _keep: Vec<File>,
}

fn open_rw(p: &str) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .map_err(|e| CtlError::os(&format!("open {p}"), &e))
}

/// `VFIO_TYPE1v2_IOMMU` as an integer ioctl argument.
fn type1v2() -> usize {
    usize::try_from(v::VFIO_TYPE1v2_IOMMU).unwrap_or(usize::MAX)
}

fn arg_size<T>() -> u32 {
    u32::try_from(core::mem::size_of::<T>()).unwrap_or(u32::MAX)
}

impl Device {
    /// Opens `bdf` (already checked to be bound to a VFIO driver).
    pub fn open(sysfs: &Sysfs, dev_root: &Path, bdf: &str, via: Via) -> Result<Device> {
        let cdev = sysfs.vfio_cdev(bdf);
        let cdev_node = cdev
            .as_ref()
            .map(|n| dev_root.join("vfio/devices").join(n))
            .filter(|p| p.exists());
        let iommu = dev_root.join("iommu");
        let via = match via {
            Via::Auto if cdev_node.is_some() && iommu.exists() => Via::Cdev,
            Via::Auto => Via::Group,
            other => other,
        };
        match via {
            Via::Cdev => {
                let node = cdev_node.ok_or_else(|| {
                    CtlError::new(
                        Exit::NotBound,
                        format!("{bdf} has no VFIO cdev (vfio-dev/vfioN) under /dev/vfio/devices; try --via group"),
                    )
                })?;
                Self::open_cdev(bdf, &node.to_string_lossy(), &iommu.to_string_lossy())
            }
            _ => {
                let group = sysfs.iommu_group(bdf).ok_or_else(|| {
                    CtlError::new(Exit::NotBound, format!("{bdf} has no IOMMU group"))
                })?;
                let g = dev_root.join("vfio").join(group.to_string());
                let c = dev_root.join("vfio/vfio");
                Self::open_group(bdf, &g.to_string_lossy(), &c.to_string_lossy())
            }
        }
    }

    fn open_cdev(bdf: &str, node: &str, iommu: &str) -> Result<Device> {
        let fd = open_rw(node)?;
        let ictx = open_rw(iommu)?;
        let mut bind = v::vfio_device_bind_iommufd {
            argsz: arg_size::<v::vfio_device_bind_iommufd>(),
            iommufd: std::os::fd::AsRawFd::as_raw_fd(&ictx),
            ..Default::default()
        };
        sys::ioctl_struct(&fd, &mut bind)
            .map_err(|e| CtlError::os(&format!("VFIO_DEVICE_BIND_IOMMUFD {node}"), &e))?;
        let mut alloc = uapi::IommuIoasAlloc {
            size: arg_size::<uapi::IommuIoasAlloc>(),
            ..Default::default()
        };
        sys::ioctl_struct(&ictx, &mut alloc).map_err(|e| CtlError::os("IOMMU_IOAS_ALLOC", &e))?;
        let mut attach = v::vfio_device_attach_iommufd_pt {
            argsz: arg_size::<v::vfio_device_attach_iommufd_pt>(),
            pt_id: alloc.out_ioas_id,
            ..Default::default()
        };
        sys::ioctl_struct(&fd, &mut attach)
            .map_err(|e| CtlError::os("VFIO_DEVICE_ATTACH_IOMMUFD_PT", &e))?;
        Ok(Device {
            bdf: bdf.into(),
            via: Via::Cdev,
            node: node.into(),
            fd,
            _keep: vec![ictx],
        })
    }

    fn open_group(bdf: &str, group: &str, container: &str) -> Result<Device> {
        let cont = open_rw(container)?;
        let ver =
            sys::get_api_version(&cont).map_err(|e| CtlError::os("VFIO_GET_API_VERSION", &e))?;
        if u32::try_from(ver).ok() != Some(v::VFIO_API_VERSION) {
            return Err(CtlError::new(
                Exit::Failure,
                format!("VFIO API version {ver}, expected {}", v::VFIO_API_VERSION),
            ));
        }
        let has = sys::check_extension(&cont, type1v2()).unwrap_or(0);
        if has <= 0 {
            return Err(CtlError::new(
                Exit::Failure,
                "the VFIO container does not support VFIO_TYPE1v2_IOMMU",
            ));
        }
        let grp = open_rw(group)?;
        let mut st = v::vfio_group_status {
            argsz: arg_size::<v::vfio_group_status>(),
            ..Default::default()
        };
        sys::ioctl_struct(&grp, &mut st).map_err(|e| CtlError::os("VFIO_GROUP_GET_STATUS", &e))?;
        if st.flags & v::VFIO_GROUP_FLAGS_VIABLE == 0 {
            return Err(CtlError::new(
                Exit::NotViable,
                format!("IOMMU group {group} is not viable: every device in the group must be bound to a VFIO driver or unbound"),
            ));
        }
        sys::group_set_container(&grp, &cont)
            .map_err(|e| CtlError::os("VFIO_GROUP_SET_CONTAINER", &e))?;
        sys::set_iommu(&cont, type1v2())
            .map_err(|e| CtlError::os("VFIO_SET_IOMMU(TYPE1v2)", &e))?;
        let name = CString::new(bdf).map_err(|_| CtlError::new(Exit::Usage, "bad address"))?;
        let fd = sys::group_get_device_fd(&grp, &name)
            .map_err(|e| CtlError::os(&format!("VFIO_GROUP_GET_DEVICE_FD {bdf}"), &e))?;
        Ok(Device {
            bdf: bdf.into(),
            via: Via::Group,
            node: group.into(),
            fd,
            _keep: vec![grp, cont],
        })
    }

    /// `VFIO_DEVICE_FEATURE` on this device.
    pub fn feature<T: Copy>(&self, flags: u32, data: &mut T) -> io::Result<()> {
        sys::device_feature(&self.fd, flags, data)
    }

    /// Whether `feature` is supported for `ops` (GET/SET), via PROBE.
    pub fn probe(&self, feature: u32, ops: u32) -> io::Result<()> {
        let mut none = [0u8; 0];
        sys::device_feature(
            &self.fd,
            feature | ops | v::VFIO_DEVICE_FEATURE_PROBE,
            &mut none,
        )
    }

    /// `VFIO_DEVICE_FEATURE_MIGRATION` (GET): the migration flags.
    /// `ENOTTY` (no `mig_ops`) becomes [`Exit::NoMigration`].
    pub fn migration_flags(&self) -> Result<Features> {
        let mut m = v::vfio_device_feature_migration::default();
        match self.feature(
            v::VFIO_DEVICE_FEATURE_MIGRATION | v::VFIO_DEVICE_FEATURE_GET,
            &mut m,
        ) {
            Ok(()) => Ok(Features(u32::try_from(m.flags).unwrap_or(u32::MAX))),
            Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => Err(CtlError::with_os(
                Exit::NoMigration,
                format!("{}: driver offers no migration (ENOTTY)", self.bdf),
                &e,
            )),
            Err(e) => Err(CtlError::os("VFIO_DEVICE_FEATURE_MIGRATION", &e)),
        }
    }

    /// `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` (GET).
    pub fn state(&self) -> Result<State> {
        let mut s = v::vfio_device_feature_mig_state::default();
        self.feature(
            v::VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE | v::VFIO_DEVICE_FEATURE_GET,
            &mut s,
        )
        .map_err(|e| CtlError::os("get VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE", &e))?;
        State::from_raw(s.device_state).ok_or_else(|| {
            CtlError::new(
                Exit::Failure,
                format!("device reports unknown state {}", s.device_state),
            )
        })
    }

    /// `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` (SET) to `to`; returns the new
    /// data fd when the arc creates one.
    pub fn set_state(&self, to: State) -> io::Result<Option<File>> {
        sys::mig_set_state(&self.fd, to.raw())
    }

    /// `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE` (GET): estimated STOP_COPY bytes.
    pub fn data_size(&self) -> io::Result<u64> {
        let mut d = v::vfio_device_feature_mig_data_size::default();
        self.feature(
            v::VFIO_DEVICE_FEATURE_MIG_DATA_SIZE | v::VFIO_DEVICE_FEATURE_GET,
            &mut d,
        )?;
        Ok(d.stop_copy_length)
    }
}

/// `VFIO_MIG_GET_PRECOPY_INFO` on a pre-copy data fd: (initial, dirty) bytes.
pub fn precopy_info(data: &File) -> io::Result<(u64, u64)> {
    let mut i = v::vfio_precopy_info {
        argsz: arg_size::<v::vfio_precopy_info>(),
        ..Default::default()
    };
    sys::ioctl_struct(data, &mut i)?;
    Ok((i.initial_bytes, i.dirty_bytes))
}

/// Renders feature flags as `STOP_COPY|P2P|PRE_COPY`.
pub fn features_text(f: Features) -> String {
    let mut v = Vec::new();
    for (bit, n) in [
        (Features::STOP_COPY, "STOP_COPY"),
        (Features::P2P, "P2P"),
        (Features::PRE_COPY, "PRE_COPY"),
    ] {
        if f.0 & bit != 0 {
            v.push(n);
        }
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join("|")
    }
}

/// Message for a failed OS call that names the errno.
pub fn os_msg(what: &str, e: &io::Error) -> String {
    format!("{what}: {}", errno_text(e))
}
