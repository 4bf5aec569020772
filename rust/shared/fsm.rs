// SPDX-License-Identifier: GPL-2.0
//! The VFIO migration uAPI v2 device state machine.
//!
//! States and feature flags are the values of `enum vfio_device_mig_state`
//! and `VFIO_MIGRATION_*` in `include/uapi/linux/vfio.h`. [`next_state`]
//! reproduces `vfio_mig_get_next_state()` of `drivers/vfio/vfio_main.c`
//! (Linux 7.3) exactly: the VFIO core uses it to break a requested
//! transition into the single arcs that a variant driver implements, and
//! `vfmigctl` uses it to show the path a request will take.

/// A VFIO migration device state (`enum vfio_device_mig_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum State {
    /// `VFIO_DEVICE_STATE_ERROR`: left only by `VFIO_DEVICE_RESET`.
    Error = 0,
    /// `VFIO_DEVICE_STATE_STOP`.
    Stop = 1,
    /// `VFIO_DEVICE_STATE_RUNNING`.
    Running = 2,
    /// `VFIO_DEVICE_STATE_STOP_COPY`.
    StopCopy = 3,
    /// `VFIO_DEVICE_STATE_RESUMING`.
    Resuming = 4,
    /// `VFIO_DEVICE_STATE_RUNNING_P2P`.
    RunningP2p = 5,
    /// `VFIO_DEVICE_STATE_PRE_COPY`.
    PreCopy = 6,
    /// `VFIO_DEVICE_STATE_PRE_COPY_P2P`.
    PreCopyP2p = 7,
}

/// Number of states (`VFIO_DEVICE_STATE_NR`).
pub const NUM_STATES: usize = 8;

/// All states, indexed by their uAPI value.
pub const ALL_STATES: [State; NUM_STATES] = [
    State::Error,
    State::Stop,
    State::Running,
    State::StopCopy,
    State::Resuming,
    State::RunningP2p,
    State::PreCopy,
    State::PreCopyP2p,
];

impl State {
    /// The state with uAPI value `v`, or `None` if `v >= VFIO_DEVICE_STATE_NR`.
    pub const fn from_raw(v: u32) -> Option<State> {
        Some(match v {
            0 => State::Error,
            1 => State::Stop,
            2 => State::Running,
            3 => State::StopCopy,
            4 => State::Resuming,
            5 => State::RunningP2p,
            6 => State::PreCopy,
            7 => State::PreCopyP2p,
            _ => return None,
        })
    }

    /// The uAPI value of this state.
    pub const fn raw(self) -> u32 {
        self as u32
    }

    /// The uAPI name without the `VFIO_DEVICE_STATE_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            State::Error => "ERROR",
            State::Stop => "STOP",
            State::Running => "RUNNING",
            State::StopCopy => "STOP_COPY",
            State::Resuming => "RESUMING",
            State::RunningP2p => "RUNNING_P2P",
            State::PreCopy => "PRE_COPY",
            State::PreCopyP2p => "PRE_COPY_P2P",
        }
    }

    const fn idx(self) -> usize {
        match self {
            State::Error => 0,
            State::Stop => 1,
            State::Running => 2,
            State::StopCopy => 3,
            State::Resuming => 4,
            State::RunningP2p => 5,
            State::PreCopy => 6,
            State::PreCopyP2p => 7,
        }
    }

    /// Feature flags a device must advertise for this state to exist
    /// (`state_flags_table` in `vfio_mig_get_next_state()`); `ERROR` needs
    /// all bits, so it is never a valid current or target state.
    pub const fn required_features(self) -> u32 {
        match self {
            State::Stop | State::Running | State::StopCopy | State::Resuming => Features::STOP_COPY,
            State::PreCopy => Features::STOP_COPY | Features::PRE_COPY,
            State::PreCopyP2p => Features::STOP_COPY | Features::P2P | Features::PRE_COPY,
            State::RunningP2p => Features::STOP_COPY | Features::P2P,
            State::Error => !0u32,
        }
    }

    /// Whether a device advertising `features` supports this state.
    pub const fn supported_by(self, features: Features) -> bool {
        let req = self.required_features();
        req & features.0 == req
    }
}

/// Migration feature flags (`VFIO_DEVICE_FEATURE_MIGRATION` `flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Features(pub u32);

impl Features {
    /// `VFIO_MIGRATION_STOP_COPY`: mandatory for every migratable device.
    pub const STOP_COPY: u32 = 1 << 0;
    /// `VFIO_MIGRATION_P2P`: RUNNING_P2P exists.
    pub const P2P: u32 = 1 << 1;
    /// `VFIO_MIGRATION_PRE_COPY`: PRE_COPY exists (PRE_COPY_P2P with P2P).
    pub const PRE_COPY: u32 = 1 << 2;

    /// Whether the core accepts this set at registration (STOP_COPY set).
    pub const fn is_valid(self) -> bool {
        self.0 & Self::STOP_COPY != 0
    }
}

/// Why [`next_state`] refused a request; the kernel returns `-EINVAL` for all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsmError {
    /// The current state is not supported by the feature set (the kernel
    /// also `WARN`s: the driver is in a state it does not implement).
    InvalidCurrent,
    /// The target state is not supported by the feature set (or is ERROR).
    InvalidTarget,
    /// No path exists (from ERROR, or STOP_COPY to a pre-copy state).
    Blocked,
}

impl FsmError {
    /// Positive kernel errno (`EINVAL`).
    pub const fn errno(self) -> i32 {
        22
    }

    /// Stable name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            FsmError::InvalidCurrent => "invalid-current-state",
            FsmError::InvalidTarget => "invalid-target-state",
            FsmError::Blocked => "blocked-transition",
        }
    }
}

use State::{
    Error as E, PreCopy as PC, PreCopyP2p as PCP, Resuming as RS, Running as RN, RunningP2p as RP,
    Stop as ST, StopCopy as SC,
};

/// `vfio_from_fsm_table` of Linux 7.3, `TABLE[cur][target]`, indexed by uAPI
/// value (ERROR, STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY,
/// PRE_COPY_P2P).
const TABLE: [[State; NUM_STATES]; NUM_STATES] = [
    // from ERROR
    [E, E, E, E, E, E, E, E],
    // from STOP
    [E, ST, RP, SC, RS, RP, RP, RP],
    // from RUNNING
    [E, RP, RN, RP, RP, RP, PC, RP],
    // from STOP_COPY
    [E, ST, ST, SC, ST, ST, E, E],
    // from RESUMING
    [E, ST, ST, ST, RS, ST, ST, ST],
    // from RUNNING_P2P
    [E, ST, RN, ST, ST, RP, RN, PCP],
    // from PRE_COPY
    [E, RN, RN, PCP, RN, RN, PC, PCP],
    // from PRE_COPY_P2P
    [E, RP, RP, SC, RP, RP, PC, PCP],
];

fn table(cur: State, target: State) -> State {
    TABLE
        .get(cur.idx())
        .and_then(|row| row.get(target.idx()))
        .copied()
        .unwrap_or(State::Error)
}

/// The next single step from `cur` towards `target` for a device advertising
/// `features`; identical to `vfio_mig_get_next_state()` of Linux 7.3.
///
/// Returns `Ok(cur)` when `cur == target` (and both are supported).
pub fn next_state(cur: State, target: State, features: Features) -> Result<State, FsmError> {
    if !cur.supported_by(features) {
        return Err(FsmError::InvalidCurrent);
    }
    if !target.supported_by(features) {
        return Err(FsmError::InvalidTarget);
    }
    let mut next = table(cur, target);
    // Each hop moves strictly closer to `target` in the kernel's table; the
    // bound only guards against a corrupted table (never loops forever).
    let mut hops = 0;
    while next != State::Error && !next.supported_by(features) && hops < NUM_STATES {
        next = table(next, target);
        hops += 1;
    }
    if next == State::Error || !next.supported_by(features) {
        Err(FsmError::Blocked)
    } else {
        Ok(next)
    }
}

/// Whether `from -> to` is a single arc the driver must implement for a
/// device advertising `features`, i.e. the VFIO core may call the driver's
/// `migration_set_state` for it.
pub fn is_single_arc(from: State, to: State, features: Features) -> bool {
    from != to && next_state(from, to, features) == Ok(to)
}

/// The arcs on which the driver returns a new migration data file
/// (`data_fd`): the saving arcs open the stream that later states share,
/// STOP -> RESUMING opens the stream the destination writes.
pub const DATA_FD_ARCS: [(State, State); 4] = [
    (State::Stop, State::StopCopy),
    (State::Running, State::PreCopy),
    (State::RunningP2p, State::PreCopyP2p),
    (State::Stop, State::Resuming),
];

/// Whether the single arc `from -> to` creates a data fd.
pub fn creates_data_fd(from: State, to: State) -> bool {
    DATA_FD_ARCS.iter().any(|&(f, t)| f == from && t == to)
}

/// Walks from `cur` to `target` like the VFIO core, writing each step into
/// `out`; returns the number of steps (0 when `cur == target`).
///
/// Fails with the first [`FsmError`], or [`FsmError::Blocked`] if `out` is
/// too short (a path never has more than [`NUM_STATES`] steps).
pub fn path(
    cur: State,
    target: State,
    features: Features,
    out: &mut [State],
) -> Result<usize, FsmError> {
    let mut at = cur;
    let mut n = 0usize;
    // `next_state` also validates `cur` and `target` when they are equal.
    next_state(cur, target, features)?;
    while at != target {
        let next = next_state(at, target, features)?;
        let slot = out.get_mut(n).ok_or(FsmError::Blocked)?;
        *slot = next;
        n = n.checked_add(1).ok_or(FsmError::Blocked)?;
        at = next;
    }
    Ok(n)
}
