// SPDX-License-Identifier: GPL-2.0
//! The parts of the VFIO and iommufd uAPI that `vfio-bindings` 0.7 lacks.
//!
//! `vfio-bindings` is bindgen output, which has every structure and flag of
//! `include/uapi/linux/vfio.h` this tool uses but no ioctl request numbers
//! (bindgen drops the function-like `_IO()` macros), and it does not cover
//! `include/uapi/linux/iommufd.h`. Only those are defined here, from the
//! Linux 7.3 headers; the request numbers are composed by rustix's
//! `opcode::none` (`_IO()`), the size asserts pin the layouts.
//! (`iommufd-bindings` is not used: it is Apache-2.0 only, which GPL-2.0
//! code cannot link.)

use rustix::ioctl::{opcode, Opcode};
use vfio_bindings::bindings::vfio as v;

/// `_IO(type, nr)`: rustix's `opcode::none`. Every VFIO and iommufd request
/// number is below 256 (`VFIO_BASE` + 21 at most, `IOMMUFD_CMD_BASE` + 1);
/// the asserts below fail the build if one were not.
const fn io(ty: u8, nr: u32) -> Opcode {
    assert!(nr <= u8::MAX as u32);
    opcode::none(ty, nr as u8)
}

/// `VFIO_TYPE` (`';'`).
pub const VFIO_TYPE: u8 = v::VFIO_TYPE;
/// `VFIO_BASE`.
pub const VFIO_BASE: u32 = v::VFIO_BASE;

/// `VFIO_GET_API_VERSION` = `_IO(VFIO_TYPE, VFIO_BASE + 0)` (vfio.h:112).
pub const VFIO_GET_API_VERSION: Opcode = io(VFIO_TYPE, VFIO_BASE);
/// `VFIO_CHECK_EXTENSION` = `_IO(VFIO_TYPE, VFIO_BASE + 1)` (vfio.h:121).
pub const VFIO_CHECK_EXTENSION: Opcode = io(VFIO_TYPE, VFIO_BASE + 1);
/// `VFIO_SET_IOMMU` = `_IO(VFIO_TYPE, VFIO_BASE + 2)` (vfio.h:134).
pub const VFIO_SET_IOMMU: Opcode = io(VFIO_TYPE, VFIO_BASE + 2);
/// `VFIO_GROUP_GET_STATUS` = `_IO(VFIO_TYPE, VFIO_BASE + 3)` (vfio.h:153).
pub const VFIO_GROUP_GET_STATUS: Opcode = io(VFIO_TYPE, VFIO_BASE + 3);
/// `VFIO_GROUP_SET_CONTAINER` = `_IO(VFIO_TYPE, VFIO_BASE + 4)` (vfio.h:167).
pub const VFIO_GROUP_SET_CONTAINER: Opcode = io(VFIO_TYPE, VFIO_BASE + 4);
/// `VFIO_GROUP_GET_DEVICE_FD` = `_IO(VFIO_TYPE, VFIO_BASE + 6)` (vfio.h:194).
pub const VFIO_GROUP_GET_DEVICE_FD: Opcode = io(VFIO_TYPE, VFIO_BASE + 6);
/// `VFIO_DEVICE_GET_INFO` = `_IO(VFIO_TYPE, VFIO_BASE + 7)` (vfio.h:223).
pub const VFIO_DEVICE_GET_INFO: Opcode = io(VFIO_TYPE, VFIO_BASE + 7);
/// `VFIO_DEVICE_FEATURE` = `_IO(VFIO_TYPE, VFIO_BASE + 17)` (vfio.h:903).
pub const VFIO_DEVICE_FEATURE: Opcode = io(VFIO_TYPE, VFIO_BASE + 17);
/// `VFIO_DEVICE_BIND_IOMMUFD` = `_IO(VFIO_TYPE, VFIO_BASE + 18)` (vfio.h:940).
pub const VFIO_DEVICE_BIND_IOMMUFD: Opcode = io(VFIO_TYPE, VFIO_BASE + 18);
/// `VFIO_DEVICE_ATTACH_IOMMUFD_PT` = `_IO(VFIO_TYPE, VFIO_BASE + 19)` (vfio.h:980).
pub const VFIO_DEVICE_ATTACH_IOMMUFD_PT: Opcode = io(VFIO_TYPE, VFIO_BASE + 19);
/// `VFIO_MIG_GET_PRECOPY_INFO` = `_IO(VFIO_TYPE, VFIO_BASE + 21)` (vfio.h:1322), on the data fd.
pub const VFIO_MIG_GET_PRECOPY_INFO: Opcode = io(VFIO_TYPE, VFIO_BASE + 21);

/// `IOMMUFD_TYPE` (`';'`, iommufd.h).
pub const IOMMUFD_TYPE: u8 = b';';
/// `IOMMUFD_CMD_DESTROY` (iommufd.h, `enum { IOMMUFD_CMD_BASE = 0x80, ... }`).
pub const IOMMUFD_CMD_DESTROY: u32 = 0x80;
/// `IOMMUFD_CMD_IOAS_ALLOC`.
pub const IOMMUFD_CMD_IOAS_ALLOC: u32 = 0x81;
/// `IOMMU_DESTROY` = `_IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)` (iommufd.h:74).
pub const IOMMU_DESTROY: Opcode = io(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY);
/// `IOMMU_IOAS_ALLOC` = `_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)` (iommufd.h:90).
pub const IOMMU_IOAS_ALLOC: Opcode = io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC);

/// `struct iommu_destroy` (iommufd.h:70).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IommuDestroy {
    /// `sizeof(struct iommu_destroy)`.
    pub size: u32,
    /// Object to destroy.
    pub id: u32,
}

/// `struct iommu_ioas_alloc` (iommufd.h:85).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IommuIoasAlloc {
    /// `sizeof(struct iommu_ioas_alloc)`.
    pub size: u32,
    /// Must be 0.
    pub flags: u32,
    /// Output: the new IOAS id.
    pub out_ioas_id: u32,
}

const _: () = assert!(core::mem::size_of::<IommuDestroy>() == 8);
const _: () = assert!(core::mem::size_of::<IommuIoasAlloc>() == 12);
// The vfio-bindings structures this tool passes to the kernel, against the
// 7.3 header (bindgen asserts them too; these make a binding bump visible).
const _: () = assert!(core::mem::size_of::<v::vfio_device_feature>() == 8);
const _: () = assert!(core::mem::size_of::<v::vfio_device_feature_migration>() == 8);
const _: () = assert!(core::mem::size_of::<v::vfio_device_feature_mig_state>() == 8);
const _: () = assert!(core::mem::size_of::<v::vfio_device_feature_mig_data_size>() == 8);
const _: () = assert!(core::mem::size_of::<v::vfio_precopy_info>() == 24);
const _: () = assert!(core::mem::size_of::<v::vfio_device_feature_dma_logging_control>() == 24);
const _: () = assert!(core::mem::size_of::<v::vfio_device_feature_dma_logging_range>() == 16);
const _: () = assert!(core::mem::size_of::<v::vfio_device_feature_dma_logging_report>() == 32);
const _: () = assert!(core::mem::size_of::<v::vfio_device_bind_iommufd>() == 24);
const _: () = assert!(core::mem::size_of::<v::vfio_device_attach_iommufd_pt>() == 16);
const _: () = assert!(core::mem::size_of::<v::vfio_group_status>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_header() {
        // _IO(';', 100 + n) = 0x3b00 | (100 + n)
        let n = |o: Opcode| u64::from(o);
        assert_eq!(n(VFIO_GET_API_VERSION), 0x3b64);
        assert_eq!(n(VFIO_CHECK_EXTENSION), 0x3b65);
        assert_eq!(n(VFIO_SET_IOMMU), 0x3b66);
        assert_eq!(n(VFIO_GROUP_GET_STATUS), 0x3b67);
        assert_eq!(n(VFIO_GROUP_SET_CONTAINER), 0x3b68);
        assert_eq!(n(VFIO_GROUP_GET_DEVICE_FD), 0x3b6a);
        assert_eq!(n(VFIO_DEVICE_GET_INFO), 0x3b6b);
        assert_eq!(n(VFIO_DEVICE_FEATURE), 0x3b75);
        assert_eq!(n(VFIO_DEVICE_BIND_IOMMUFD), 0x3b76);
        assert_eq!(n(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0x3b77);
        assert_eq!(n(VFIO_MIG_GET_PRECOPY_INFO), 0x3b79);
        assert_eq!(n(IOMMU_DESTROY), 0x3b80);
        assert_eq!(n(IOMMU_IOAS_ALLOC), 0x3b81);
    }
}
