// SPDX-License-Identifier: GPL-2.0
//! Errors of vfmigctl and its documented exit codes
//! (`Documentation/vfmig/vfmigctl.rst`, "Exit codes").

use std::fmt;
use std::io;

/// Process exit codes. Stable: scripts and the guest tests rely on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success (for `check`: the stream would load).
    Ok = 0,
    /// 1: any other failure (I/O, unexpected kernel error).
    Failure = 1,
    /// 2: bad command line (clap's own code).
    Usage = 2,
    /// 3: no such PCI device, or not bound to vfmig / a VFIO driver.
    NotBound = 3,
    /// 4: permission denied opening a VFIO or iommufd node.
    Permission = 4,
    /// 5: IOMMU group not viable, or the device is busy (opened elsewhere).
    NotViable = 5,
    /// 6: the driver offers no migration / dirty tracking (`ENOTTY`).
    NoMigration = 6,
    /// 7: the state file is malformed (bad magic, CRC, truncated, ...).
    BadStream = 7,
    /// 8: the state file is well formed but would not load on this device
    ///    (identity, provider, format major or compat word differ).
    Incompatible = 8,
    /// 9: the device refused a migration state transition or data transfer.
    Transition = 9,
}

impl Exit {
    /// The numeric exit code.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// Stable name (JSON output, docs).
    pub const fn name(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Failure => "failure",
            Exit::Usage => "usage",
            Exit::NotBound => "not-bound",
            Exit::Permission => "permission",
            Exit::NotViable => "not-viable",
            Exit::NoMigration => "no-migration",
            Exit::BadStream => "bad-stream",
            Exit::Incompatible => "incompatible",
            Exit::Transition => "transition",
        }
    }
}

/// An error with the exit code it maps to and a message naming the cause.
#[derive(Debug)]
pub struct CtlError {
    /// Exit code.
    pub exit: Exit,
    /// Human-readable cause.
    pub msg: String,
    /// The errno behind the error, when a system call failed (`--json` names it).
    pub errno: Option<i32>,
}

impl CtlError {
    /// An error with an explicit exit code.
    pub fn new(exit: Exit, msg: impl Into<String>) -> Self {
        Self {
            exit,
            msg: msg.into(),
            errno: None,
        }
    }

    /// An error with an explicit exit code caused by the OS error `e`
    /// (its errno is kept for `--json`).
    pub fn with_os(exit: Exit, msg: impl Into<String>, e: &io::Error) -> Self {
        Self {
            errno: e.raw_os_error(),
            ..Self::new(exit, msg)
        }
    }

    /// The same error, recording `errno` as its cause.
    pub fn errno(mut self, errno: i32) -> Self {
        self.errno = Some(errno);
        self
    }

    /// The error as the one JSON document `--json` prints:
    /// `{"error": {"exit_code", "exit", "errno", "errno_value", "message"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "exit_code": self.exit.code(),
                "exit": self.exit.name(),
                "errno": self.errno.map(errno_name),
                "errno_value": self.errno,
                "message": self.msg,
            }
        })
    }

    /// Maps an OS error from `what` (e.g. "open /dev/vfio/7") to an exit
    /// code by errno.
    pub fn os(what: &str, e: &io::Error) -> Self {
        let exit = match e.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => Exit::Permission,
            Some(libc::EBUSY) => Exit::NotViable,
            Some(libc::ENOTTY) => Exit::NoMigration,
            Some(libc::ENOENT) | Some(libc::ENODEV) => Exit::NotBound,
            _ => Exit::Failure,
        };
        let hint = match exit {
            Exit::Permission => " (no permission: run as root or grant access to the VFIO nodes)",
            Exit::NotViable => " (busy: the device or group is already open, e.g. by a VMM)",
            _ => "",
        };
        Self::with_os(exit, format!("{what}: {}{hint}", errno_text(e)), e)
    }
}

/// "ENOTTY (Inappropriate ioctl for device)" style text of an OS error.
pub fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{} ({})", errno_name(n), io::Error::from_raw_os_error(n)),
        None => e.to_string(),
    }
}

/// Symbolic name of the errno values the VFIO uAPI returns.
pub fn errno_name(n: i32) -> String {
    let s = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ENOTTY => "ENOTTY",
        libc::E2BIG => "E2BIG",
        libc::EFBIG => "EFBIG",
        libc::ENOMSG => "ENOMSG",
        libc::EPROTO => "EPROTO",
        libc::EBADMSG => "EBADMSG",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => return format!("errno {n}"),
    };
    s.to_string()
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for CtlError {}

/// Result alias.
pub type Result<T> = std::result::Result<T, CtlError>;
