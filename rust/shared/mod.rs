// SPDX-License-Identifier: GPL-2.0
//! vfmig shared definitions: the versioned VF-state stream format and the
//! VFIO migration state machine.
//!
//! This directory is the one definition compiled into both `vfmig.ko`
//! (`pub mod shared;` in `rust/vfmig_main.rs`) and the userspace crate
//! `vfmig_state` (`tools/vfmig-state`, via `#[path]`). It uses `core` only:
//! no allocation, no `unsafe`, no floating point, no panicking paths on
//! untrusted input. See `Documentation/vfmig/state-format.rst`.
//!
//! - [`format`](mod@format) holds header/section/trailer framing, the streaming
//!   [`format::Decoder`] and the [`format::Encoder`].
//! - [`nic`] holds the device-neutral NIC VF sections, the
//!   [`nic::NicVfState`] staging struct, [`nic::NicSink`] and the
//!   [`nic::Provider`] trait.
//! - [`igb`] is provider 1, the Intel 82576 VF.
//! - [`error`] holds the typed errors and their errno mapping.
//! - [`fsm`] holds the VFIO migration uAPI v2 states and
//!   `vfio_mig_get_next_state()`.
//! - [`crc32c`] is the trailer checksum.

pub mod crc32c;
pub mod error;
pub mod format;
pub mod fsm;
pub mod igb;
pub mod nic;
