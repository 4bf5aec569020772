// SPDX-License-Identifier: GPL-2.0
//! The only module of vfmigctl with `unsafe`: `ioctl(2)` calls (through
//! rustix's `ioctl`) and taking ownership of file descriptors the kernel
//! returns. Everything else works on the safe wrappers below.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, RawFd};

use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};
use vfio_bindings::bindings::vfio::{self, vfio_device_feature};

use crate::uapi;

/// One VFIO/iommufd request: its number and its argument (an integer, a
/// pointer to a `T`, or a C string). VFIO requests are `_IO()` numbers that
/// do not encode the argument's size or direction, so rustix's
/// `Getter`/`Updater` patterns, which derive both from the opcode, and its
/// `IntegerSetter`, which drops the return value (`VFIO_GET_API_VERSION`,
/// `VFIO_GROUP_GET_DEVICE_FD` return their result), do not fit: this is
/// rustix's own `Ioctl` trait with the return value kept.
struct Request<'a, T> {
    op: Opcode,
    arg: *mut c_void,
    _arg: PhantomData<&'a mut T>,
}

// SAFETY: `opcode` is the request the caller named; `as_ptr` is the argument
// the request is defined with (see each constructor's caller); the output is
// the ioctl's return value, nothing is read back through the pointer here
// (the kernel wrote into the caller's `T`, which `IS_MUTATING` declares).
unsafe impl<T> Ioctl for Request<'_, T> {
    type Output = c_int;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        self.op
    }

    fn as_ptr(&mut self) -> *mut c_void {
        self.arg
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _arg: *mut c_void) -> rustix::io::Result<c_int> {
        Ok(out)
    }
}

fn call<T>(fd: &impl AsFd, r: Request<'_, T>) -> io::Result<c_int> {
    // SAFETY: every `Request` is built by the functions below, each of which
    // documents why its argument is what the request expects.
    unsafe { rustix::ioctl::ioctl(fd, r) }.map_err(io::Error::from)
}

/// `ioctl(fd, request, arg)` with an integer argument; returns the result.
fn ioctl_val(fd: &impl AsFd, request: Opcode, arg: usize) -> io::Result<c_int> {
    call::<()>(
        fd,
        Request {
            op: request,
            // An integer argument in the pointer slot, as rustix's IntegerSetter does; the
            // kernel does not dereference it.
            arg: std::ptr::without_provenance_mut(arg),
            _arg: PhantomData,
        },
    )
}

/// `ioctl(fd, request, &mut arg)`, where `T` is the `#[repr(C)]` structure
/// `request` reads and writes.
fn ioctl_mut<T>(fd: &impl AsFd, request: Opcode, arg: &mut T) -> io::Result<c_int> {
    let p: *mut T = arg;
    // `arg` is a live, exclusively borrowed `T` for the whole call (this function's borrow);
    // the callers in this module pair each request with the structure it is defined with
    // (`StructIoctl`, uapi/vfio-bindings), of which the kernel copies no more than its fixed
    // size, bounded by the `argsz`/`size` field the caller set.
    call(
        fd,
        Request::<T> {
            op: request,
            arg: p.cast(),
            _arg: PhantomData,
        },
    )
}

/// `ioctl(fd, request, string)` for requests taking a C string
/// (`VFIO_GROUP_GET_DEVICE_FD`).
fn ioctl_str(fd: &impl AsFd, request: Opcode, s: &CStr) -> io::Result<c_int> {
    // `s` is a NUL-terminated string that outlives the call; the kernel only reads it
    // (strndup_user), so the cast to *mut is never written through.
    call::<u8>(
        fd,
        Request {
            op: request,
            arg: s.as_ptr().cast_mut().cast(),
            _arg: PhantomData,
        },
    )
}

/// Takes ownership of a file descriptor the kernel just returned (device
/// fd, migration data fd).
fn file_from_new_fd(fd: RawFd) -> io::Result<File> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: `fd` was returned by a successful ioctl that installs a new
    // file descriptor for the caller; nothing else owns or closes it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// A request whose argument is the `#[repr(C)]` structure `Self`: the only pairings of request
/// and argument type the rest of the tool can name. The kernel reads and writes no more of it
/// than the request's own structure (VFIO and iommufd copy their fixed minimum size, bounded
/// by the `argsz`/`size` field the caller sets, never more).
///
/// # Safety
///
/// `OPCODE` must be the request defined with `Self` as its argument, so that the kernel reads
/// and writes no more than a `Self` and puts only valid values into it (plain integer fields).
pub(crate) unsafe trait StructIoctl {
    /// The request taking `Self`.
    const OPCODE: Opcode;
}

// SAFETY: the request's argument is this structure (include/uapi/linux/vfio.h / iommufd.h),
// all of whose fields are integers.
unsafe impl StructIoctl for vfio::vfio_device_bind_iommufd {
    const OPCODE: Opcode = uapi::VFIO_DEVICE_BIND_IOMMUFD;
}

// SAFETY: the request's argument is this structure (include/uapi/linux/vfio.h / iommufd.h),
// all of whose fields are integers.
unsafe impl StructIoctl for vfio::vfio_device_attach_iommufd_pt {
    const OPCODE: Opcode = uapi::VFIO_DEVICE_ATTACH_IOMMUFD_PT;
}

// SAFETY: the request's argument is this structure (include/uapi/linux/vfio.h / iommufd.h),
// all of whose fields are integers.
unsafe impl StructIoctl for vfio::vfio_group_status {
    const OPCODE: Opcode = uapi::VFIO_GROUP_GET_STATUS;
}

// SAFETY: the request's argument is this structure (include/uapi/linux/vfio.h / iommufd.h),
// all of whose fields are integers.
unsafe impl StructIoctl for vfio::vfio_precopy_info {
    const OPCODE: Opcode = uapi::VFIO_MIG_GET_PRECOPY_INFO;
}

// SAFETY: the request's argument is this structure (include/uapi/linux/vfio.h / iommufd.h),
// all of whose fields are integers.
unsafe impl StructIoctl for uapi::IommuIoasAlloc {
    const OPCODE: Opcode = uapi::IOMMU_IOAS_ALLOC;
}

/// `ioctl(fd, T::OPCODE, &mut arg)`: the request defined with `T`.
pub(crate) fn ioctl_struct<T: StructIoctl>(fd: &impl AsFd, arg: &mut T) -> io::Result<c_int> {
    ioctl_mut(fd, T::OPCODE, arg)
}

/// `VFIO_GET_API_VERSION` on a container.
pub(crate) fn get_api_version(container: &File) -> io::Result<c_int> {
    ioctl_val(container, uapi::VFIO_GET_API_VERSION, 0)
}

/// `VFIO_CHECK_EXTENSION(ext)` on a container: > 0 if supported.
pub(crate) fn check_extension(container: &File, ext: usize) -> io::Result<c_int> {
    ioctl_val(container, uapi::VFIO_CHECK_EXTENSION, ext)
}

/// `VFIO_SET_IOMMU(iommu_type)` on a container.
pub(crate) fn set_iommu(container: &File, iommu_type: usize) -> io::Result<c_int> {
    ioctl_val(container, uapi::VFIO_SET_IOMMU, iommu_type)
}

/// `VFIO_GROUP_SET_CONTAINER`: puts `group` into `container`.
pub(crate) fn group_set_container(group: &File, container: &File) -> io::Result<()> {
    let mut fd = container.as_raw_fd();
    ioctl_mut(group, uapi::VFIO_GROUP_SET_CONTAINER, &mut fd).map(|_| ())
}

/// `VFIO_GROUP_GET_DEVICE_FD(name)`: the device's fd, owned.
pub(crate) fn group_get_device_fd(group: &File, name: &CStr) -> io::Result<File> {
    let raw = ioctl_str(group, uapi::VFIO_GROUP_GET_DEVICE_FD, name)?;
    file_from_new_fd(raw)
}

/// `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` (SET) to `state`: the new data fd, owned, when the
/// arc creates one.
pub(crate) fn mig_set_state(dev: &File, state: u32) -> io::Result<Option<File>> {
    let mut s = vfio::vfio_device_feature_mig_state {
        device_state: state,
        data_fd: -1,
    };
    device_feature(
        dev,
        vfio::VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE | vfio::VFIO_DEVICE_FEATURE_SET,
        &mut s,
    )?;
    if s.data_fd >= 0 {
        // The kernel installed `data_fd` for this call (the feature's SET returns the arc's
        // new data fd there, -1 untouched otherwise).
        file_from_new_fd(s.data_fd).map(Some)
    } else {
        Ok(None)
    }
}

/// A `VFIO_DEVICE_FEATURE` argument: the header followed by the feature's
/// payload, laid out as `struct vfio_device_feature` with `data[]` = `T`.
#[repr(C)]
struct FeatureBuf<T> {
    hdr: vfio_device_feature,
    data: T,
}

/// `VFIO_DEVICE_FEATURE` with `flags` (feature | GET/SET/PROBE) and payload
/// `data` (in and out).
pub(crate) fn device_feature<T: Copy>(dev: &File, flags: u32, data: &mut T) -> io::Result<()> {
    // The payload starts right after the 8-byte header (`data[]` at offset 8).
    debug_assert_eq!(
        core::mem::offset_of!(FeatureBuf<T>, data),
        core::mem::size_of::<vfio_device_feature>()
    );
    let size = core::mem::size_of::<FeatureBuf<T>>();
    let mut buf = FeatureBuf {
        hdr: vfio_device_feature {
            argsz: u32::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
            flags,
            ..Default::default()
        },
        data: *data,
    };
    ioctl_mut(dev, uapi::VFIO_DEVICE_FEATURE, &mut buf)?;
    *data = buf.data;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_writes_the_argument_and_returns_errno() {
        let p = std::env::temp_dir().join(format!("vfmigctl-sys-{}", std::process::id()));
        std::fs::write(&p, b"0123456789").unwrap();
        let f = File::open(&p).unwrap();
        // FIONREAD (asm-generic/ioctls.h): bytes left to read, written into the int argument.
        const FIONREAD: Opcode = 0x541b;
        let mut n: c_int = -1;
        assert_eq!(ioctl_mut(&f, FIONREAD, &mut n).unwrap(), 0);
        assert_eq!(n, 10);
        // A VFIO request on a regular file: the kernel's errno comes back.
        let e = ioctl_val(&f, uapi::VFIO_GET_API_VERSION, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        let e = ioctl_str(&f, uapi::VFIO_GROUP_GET_DEVICE_FD, c"0000:00:00.0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        let _ = std::fs::remove_file(&p);
    }
}
