// SPDX-License-Identifier: GPL-2.0
//! The only module of vfmigctl with `unsafe`: `ioctl(2)` calls and taking
//! ownership of file descriptors the kernel returns. Everything else works
//! on the safe wrappers below.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use vfio_bindings::bindings::vfio::vfio_device_feature;

use crate::uapi;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn req(r: u64) -> libc::Ioctl {
    // Request numbers are `_IO()` values below 2^16; `Ioctl` is c_ulong on
    // glibc and c_int on musl, both hold them.
    libc::Ioctl::try_from(r).unwrap_or(0)
}

/// `ioctl(fd, request, arg)` with an integer argument; returns the result.
pub(crate) fn ioctl_val(
    fd: &impl AsRawFd,
    request: u64,
    arg: libc::c_ulong,
) -> io::Result<libc::c_int> {
    // SAFETY: `request` takes an integer argument (or none); the kernel does
    // not dereference it as a pointer, so no memory of ours is touched.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req(request), arg) })
}

/// `ioctl(fd, request, &mut arg)`, where `T` is the `#[repr(C)]` structure
/// `request` reads and writes.
pub(crate) fn ioctl_mut<T>(
    fd: &impl AsRawFd,
    request: u64,
    arg: &mut T,
) -> io::Result<libc::c_int> {
    let p: *mut T = arg;
    // SAFETY: `arg` is a live, exclusively borrowed `T`; every caller passes
    // the structure the request is defined with (uapi/vfio-bindings), whose
    // size the kernel bounds by the `argsz`/`size` field set by the caller.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req(request), p) })
}

/// `ioctl(fd, request, string)` for requests taking a C string
/// (`VFIO_GROUP_GET_DEVICE_FD`).
pub(crate) fn ioctl_str(fd: &impl AsRawFd, request: u64, s: &CStr) -> io::Result<libc::c_int> {
    // SAFETY: `s` is a NUL-terminated string that outlives the call; the
    // kernel only reads it (strndup_user).
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req(request), s.as_ptr()) })
}

/// Takes ownership of a file descriptor the kernel just returned (device
/// fd, migration data fd).
pub(crate) fn file_from_new_fd(fd: RawFd) -> io::Result<File> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: `fd` was returned by a successful ioctl that installs a new
    // file descriptor for the caller; nothing else owns or closes it.
    Ok(unsafe { File::from_raw_fd(fd) })
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
