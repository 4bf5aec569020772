// SPDX-License-Identifier: GPL-2.0
//! The only module of vfmigctl with `unsafe`: `ioctl(2)` calls (through
//! rustix's `ioctl`) and taking ownership of file descriptors the kernel
//! returns. Everything else works on the safe wrappers below.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, FromRawFd, RawFd};

use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};
use vfio_bindings::bindings::vfio::vfio_device_feature;

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
pub(crate) fn ioctl_val(fd: &impl AsFd, request: Opcode, arg: usize) -> io::Result<c_int> {
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
pub(crate) fn ioctl_mut<T>(fd: &impl AsFd, request: Opcode, arg: &mut T) -> io::Result<c_int> {
    let p: *mut T = arg;
    // `arg` is a live, exclusively borrowed `T` for the duration of the call (the borrow is
    // held by `Request`); every caller passes the structure the request is defined with
    // (uapi/vfio-bindings), whose size the kernel bounds by the `argsz`/`size` field the
    // caller set.
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
pub(crate) fn ioctl_str(fd: &impl AsFd, request: Opcode, s: &CStr) -> io::Result<c_int> {
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
