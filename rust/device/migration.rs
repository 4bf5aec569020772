// SPDX-License-Identifier: GPL-2.0

//! VFIO migration uAPI v2 for a VF (module parameter `migration`, on by default).
//!
//! The driver implements single arcs; [`VfDevice::mig_set_state`] walks a multi-step request
//! with the shared state machine ([`fsm::next_state`], identical to the kernel's
//! `vfio_mig_get_next_state()`):
//!
//! * RUNNING -> RUNNING_P2P: the provider saves the guest's queue controls and disables every
//!   queue (bounded wait); RUNNING_P2P -> RUNNING writes them back and rewrites the tails.
//! * RUNNING_P2P <-> STOP: nothing to do (the VF has no peer-to-peer traffic of its own).
//! * STOP -> STOP_COPY: snapshot + encode once into a buffer that the data fd streams;
//!   STOP_COPY -> STOP drops it.
//! * STOP -> RESUMING: a streaming decoder and a staging state; the data fd feeds it, and the
//!   first complete pre-copy stream arms the target ([`VfDevice::arm`]: the PF-side part of
//!   the restore, done before the downtime);
//!   RESUMING -> STOP applies the staged state only if the whole stream is valid and the
//!   source's PF administrator settings match the target's ([`verify_pf`]; they are never
//!   set from the stream: they are the host's policy, not the stream owner's): the provider
//!   programs the VF (queues disabled) and rebuilds its PF-side MAC, Rx/Tx enables and the
//!   guest's requests through the VF's own mailbox, where the PF driver judges each of them
//!   (unless the arming still holds).
//!
//! A failed arc leaves the device in the last state reached, unchanged, wherever the device
//! was not touched or could be put back ([`Failed::Kept`]; as `mlx5vf_pci_set_device_state`
//! does); only an arc that leaves the device in an unknown state ends in ERROR
//! ([`Failed::Lost`]), which only a reset leaves (back to RUNNING, through `reset_done`).
//!
//! # Locking
//!
//! Lock order, outermost first:
//!
//! 1. the C shell's `migf_lock` (the current data file of a device; held by set_state and
//!    close_device; `rtnl_lock`, for the PF's view, and the dirty tracker's `dirty`, stopped at
//!    close, are taken under it);
//! 2. a data file's own `lock` (guards its `disabled` flag, hence the device's life for a
//!    read/write; set_state and close_device take it under `migf_lock` to disable a stale file;
//!    read/write hold it across each chunk's call into Rust, never across a user copy; the
//!    write that arms the target holds it across the mailbox conversation, whose waits are
//!    bounded);
//! 3. [`VfDevice`]'s `state` mutex (this module's state, the BAR mapping);
//! 4. the core's `memory_lock`, read side ([`CoreDevice::mem_access`]);
//! 5. `reset_pending` (a spinlock, innermost).
//!
//! `reset_done` runs with `memory_lock` held for writing, so it only *tries* `state` and
//! otherwise leaves the work to the holder (see [`super::DevGuard`]). The C shell copies a data
//! fd's bytes to/from userspace through a 4 KiB kernel buffer with no lock held, so no page
//! fault is taken under any vfmig lock and a reader stalled in one holds up nobody. `rtnl_lock` (the PF-side configuration, [`CoreDevice::pf_vf_config`]) is taken before
//! `state`, never under it.

use kernel::{
    prelude::*,
    time::{
        Instant,
        Monotonic, //
    },
};

use super::{
    DevState,
    VfDevice, //
};
use crate::{
    glue::{
        CoreDevice,
        MemAccess, //
    },
    provider::QueueCtl,
    shared::{
        format::{
            Decoder,
            Expect,
            Identity,
            HEADER_FLAG_PRECOPY,
            HEADER_LEN, //
        },
        fsm::{
            self,
            Features,
            State, //
        },
        nic::{
            self,
            NicSink,
            NicVfState,
            PfVfConfig, //
        },
    },
};

/// How a failed arc left the device.
pub(super) enum Failed {
    /// The device is as it was before the arc (never touched, or put back): the migration
    /// state stays what it was.
    Kept(Error),
    /// The device state is unknown: ERROR until a reset.
    Lost(Error),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed::Kept(e)
    }
}

impl From<kernel::alloc::AllocError> for Failed {
    fn from(_: kernel::alloc::AllocError) -> Self {
        Failed::Kept(ENOMEM)
    }
}

/// The migration features the module offers: STOP_COPY, P2P and PRE_COPY with `migration=1`
/// (the default), none with `migration=0` (then no migration ops are registered and the
/// MIGRATION feature answers `ENOTTY`).
pub(crate) fn migration_features() -> u32 {
    if crate::module_parameters::migration.value() {
        Features::STOP_COPY | Features::P2P | Features::PRE_COPY
    } else {
        0
    }
}

/// The saved stream(s) of a device in PRE_COPY(_P2P) or STOP_COPY. Only ever appended to
/// (PRE_COPY_P2P -> STOP_COPY appends the final stream): a reader's position stays valid
/// across every arc of the data fd's life.
struct SaveData {
    buf: KVec<u8>,
    /// Bytes already read, `<= buf.len()`.
    pos: usize,
}

impl SaveData {
    /// Bytes not read yet.
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

/// The restore in progress of a device in RESUMING.
pub(crate) struct ResumeData {
    dec: KBox<Decoder>,
    staging: KBox<NicVfState>,
    /// The last complete stream received (a resume transfer is one or more complete streams
    /// back to back, e.g. PRE_COPY's initial data, then the final state), and whether it was
    /// marked as pre-copy data.
    last: Option<(KBox<NicVfState>, bool)>,
    /// The pre-copy initial data the VF's PF side was armed with ([`Provider::arm`]), for the
    /// final restore to compare with.
    ///
    /// [`Provider::arm`]: crate::provider::Provider::arm
    armed: Option<KBox<NicVfState>>,
    /// Whether this transfer's pre-copy data was already taken for arming (once a transfer).
    arm_taken: bool,
    /// A state buffer for the next completed stream while `last` has none to give: allocated
    /// before a write feeds anything, so that a completed stream never fails for memory after
    /// its bytes were taken.
    spare: Option<KBox<NicVfState>>,
}

impl ResumeData {
    /// A resume transfer into a device expecting `expect`.
    pub(crate) fn new(expect: Expect) -> Result<Self> {
        Ok(Self {
            dec: KBox::new(Decoder::new(Some(expect)), GFP_KERNEL)?,
            staging: KBox::new(NicVfState::EMPTY, GFP_KERNEL)?,
            last: None,
            armed: None,
            arm_taken: false,
            spare: None,
        })
    }

    /// Feeds `data`, which may end or start streams anywhere: each stream gets no byte past its
    /// declared end, and is validated as soon as it is complete. A stream error is returned at
    /// once (and again by every later call).
    pub(crate) fn feed(&mut self, mut data: &[u8], fmt: &'static dyn nic::Provider) -> Result {
        if self.last.is_none() && self.spare.is_none() {
            self.spare = Some(KBox::new(NicVfState::EMPTY, GFP_KERNEL)?);
        }
        while !data.is_empty() {
            if self.dec.is_complete() {
                self.rotate(fmt)?;
            }
            let pos = self.dec.position() as usize;
            let end = self.dec.total_len().map_or(HEADER_LEN, |t| t as usize);
            let k = data.len().min(end.saturating_sub(pos).max(1));
            let (now, later) = data.split_at(k);
            let mut sink = NicSink::new(&mut self.staging, fmt);
            self.dec.write(now, &mut sink).map_err(stream_err)?;
            data = later;
        }
        if self.dec.is_complete() {
            self.rotate(fmt)?;
        }
        Ok(())
    }

    /// The first complete pre-copy stream of this transfer, if it is the last one received and
    /// none was taken before: taken out of the transfer, to arm the VF with. The transfer then
    /// has no complete stream, which is what a pre-copy stream counts as at its end anyway
    /// ([`ResumeData::final_state`]: `EBADMSG`).
    pub(crate) fn take_precopy(&mut self) -> Option<KBox<NicVfState>> {
        if self.arm_taken || !matches!(self.last, Some((_, true))) {
            return None;
        }
        self.arm_taken = true;
        self.last.take().map(|(state, _)| state)
    }

    /// The error that stopped the transfer's decoder, if one did (every later write and the
    /// end of the transfer fail with its errno).
    fn stream_error(&self) -> Option<StreamError> {
        self.dec.error().map(StreamError)
    }

    /// The end of the transfer (RESUMING -> STOP): the state to load, the last complete
    /// stream. A partial stream after it, no stream at all, or a last stream flagged as
    /// pre-copy initial data is a truncated transfer (`EBADMSG`); other stream errors give
    /// their errno. A truncated transfer leaves the transfer as it was: more data may follow
    /// and the end be tried again. (The KUnit suites' entry; the driver uses
    /// `final_and_armed`.)
    #[cfg(all(vfmig_kunit, CONFIG_KUNIT))]
    pub(crate) fn final_state(&mut self, fmt: &'static dyn nic::Provider) -> Result<&NicVfState> {
        self.final_and_armed(fmt).map(|(state, _)| state)
    }

    /// [`ResumeData::final_state`], and the pre-copy state the VF was armed with, if it was.
    fn final_and_armed(
        &mut self,
        fmt: &'static dyn nic::Provider,
    ) -> Result<(&NicVfState, Option<&NicVfState>)> {
        if let Some(e) = self.dec.error() {
            return Err(stream_err(e));
        }
        if self.dec.position() != 0 {
            if !self.dec.is_complete() {
                return Err(EBADMSG);
            }
            self.rotate(fmt)?;
        }
        match &self.last {
            Some((state, false)) => Ok((state, self.armed.as_deref())),
            _ => Err(EBADMSG),
        }
    }

    /// The stream in `dec` is complete: validates it across sections, keeps it as the last
    /// one and starts the next.
    fn rotate(&mut self, fmt: &'static dyn nic::Provider) -> Result {
        let mut sink = NicSink::new(&mut self.staging, fmt);
        let summary = self.dec.finish(&mut sink).map_err(stream_err)?;
        let precopy = summary.header.flags & HEADER_FLAG_PRECOPY != 0;
        let next = match (self.last.take(), self.spare.take()) {
            (Some((mut b, _)), spare) => {
                self.spare = spare;
                *b = NicVfState::EMPTY;
                b
            }
            (None, Some(b)) => b,
            (None, None) => KBox::new(NicVfState::EMPTY, GFP_KERNEL)?,
        };
        let done = core::mem::replace(&mut self.staging, next);
        self.last = Some((done, precopy));
        self.dec.reset();
        Ok(())
    }
}

/// What the debugfs `state` file reports about the last operations.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MigStats {
    /// Errno of the last failed arc (0: none failed since the device was bound).
    pub(super) last_error: i32,
    /// The arc that failed last, as `(from, to)`.
    pub(super) last_error_arc: Option<(State, State)>,
    /// Length of the last saved stream.
    pub(super) bytes_saved: u64,
    /// Bytes written to the last resume data fd.
    pub(super) bytes_restored: u64,
    /// Duration of the last save (STOP -> STOP_COPY: snapshot and encoding), in ns.
    pub(super) save_ns: i64,
    /// Duration of the last restore (RESUMING -> STOP: validation, the PF-side check and
    /// programming the VF), in ns.
    pub(super) restore_ns: i64,
    /// Duration of the last arming from pre-copy data (the PF handshake done during
    /// RESUMING, see [`VfDevice::arm`]), in ns.
    pub(super) arm_ns: i64,
    /// Completed saves and restores.
    pub(super) saves: u64,
    /// See `saves`.
    pub(super) restores: u64,
    /// Restores whose PF side was done before the final data, from the pre-copy data.
    pub(super) restores_armed: u64,
    /// Armings that failed (the final restore then did all).
    pub(super) arm_failures: u64,
    /// Resets of the function (PCI core: `VFIO_DEVICE_RESET`, FLR) that ended a migration state
    /// other than RUNNING.
    pub(super) resets_in_migration: u64,
}

/// The migration state of one VF (under [`VfDevice`]'s `state` lock).
pub(super) struct Migration {
    state: State,
    /// Generation of the data fd: bumped when one is created and when the state that created
    /// it is left (or on reset), so a stale fd's read/write fails with `ENODEV`.
    gen: u64,
    /// The guest's queue controls while vfmig holds the queues disabled (RUNNING_P2P, STOP,
    /// STOP_COPY), or the restored ones to enable on RUNNING.
    queues: Option<QueueCtl>,
    save: Option<SaveData>,
    resume: Option<ResumeData>,
    /// Figures for debugfs; kept across resets.
    pub(super) stats: MigStats,
    /// When a reset during a migration was last warned about (one warning per
    /// [`RESET_WARN_INTERVAL_NS`] at most: userspace can reset at will).
    last_reset_warn: Option<Instant<Monotonic>>,
}

/// The least time between two warnings of a reset during a migration, per device.
const RESET_WARN_INTERVAL_NS: i64 = 5_000_000_000;

impl Migration {
    pub(super) fn new() -> Self {
        Self {
            state: State::Running,
            gen: 0,
            queues: None,
            save: None,
            resume: None,
            stats: MigStats {
                last_error: 0,
                last_error_arc: None,
                bytes_saved: 0,
                bytes_restored: 0,
                save_ns: 0,
                restore_ns: 0,
                arm_ns: 0,
                saves: 0,
                restores: 0,
                restores_armed: 0,
                arm_failures: 0,
                resets_in_migration: 0,
            },
            last_reset_warn: None,
        }
    }

    /// The PCI core reset the function: [`Migration::reset`], counted when it ended a migration
    /// state other than RUNNING. Returns that state if a warning of it is due now.
    pub(super) fn function_reset(&mut self) -> Option<State> {
        let was = self.state;
        self.reset();
        if was == State::Running {
            return None;
        }
        self.stats.resets_in_migration += 1;
        if self
            .last_reset_warn
            .is_some_and(|t| t.elapsed().as_nanos() < RESET_WARN_INTERVAL_NS)
        {
            return None;
        }
        self.last_reset_warn = Some(Instant::<Monotonic>::now());
        Some(was)
    }

    /// The device was reset (or opened/closed): RUNNING, no data fd, nothing held.
    pub(super) fn reset(&mut self) {
        self.state = State::Running;
        self.queues = None;
        self.drop_data();
    }

    pub(super) fn state(&self) -> State {
        self.state
    }

    /// The guest's queue controls while vfmig holds the queues disabled (quiesced, or restored
    /// and not running yet): the queues that run again on RUNNING. The dirty tracker counts
    /// them as enabled ([`super::dirty`]), so what they own is logged before vfmig itself
    /// re-enables them.
    pub(super) fn held_queues(&self) -> Option<&QueueCtl> {
        self.queues.as_ref()
    }

    /// See [`Migration::held_queues`]: the guest's accesses of a queue control register go to
    /// these words while vfmig holds the queues (`trap.rs`).
    pub(super) fn held_queues_mut(&mut self) -> Option<&mut QueueCtl> {
        self.queues.as_mut()
    }

    /// Ends the current data fd's life.
    fn drop_data(&mut self) {
        self.save = None;
        self.resume = None;
        self.gen = self.gen.wrapping_add(1);
    }

    /// Starts a data fd's life; its generation.
    fn new_gen(&mut self) -> u64 {
        self.gen = self.gen.wrapping_add(1).max(1);
        self.gen
    }

    /// The generation of the data fd that works now, 0 if none does.
    fn live_gen(&self) -> u64 {
        if self.save.is_some() || self.resume.is_some() {
            self.gen
        } else {
            0
        }
    }
}

/// A stream error as a kernel error (its documented errno).
fn stream_err(e: crate::shared::error::Error) -> Error {
    Error::from_errno(-e.errno())
}

/// A stream error as the kernel messages print it: what failed, the field and both values
/// (the decoder's own text, as `vfmigctl inspect` prints it).
struct StreamError(crate::shared::error::Error);

impl kernel::fmt::Display for StreamError {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl VfDevice {
    fn identity(&self) -> Identity {
        Identity {
            vendor: self.ident.vendor,
            device: self.ident.device,
            subsys_vendor: self.ident.subsystem_vendor,
            subsys_device: self.ident.subsystem_device,
            revision: self.ident.revision,
        }
    }

    /// The core's `memory_lock` for an arc that touches the device. A reset that ran while
    /// this held `state` and waited for the lock (its work left to the holder, see
    /// [`super::DevGuard`]) came first: the arc is not made on the reset VF but fails with
    /// `EAGAIN`, and the unlock applies the reset (RUNNING, data fds dead).
    fn arc_access<'a>(&self, core: &'a CoreDevice<'_>) -> Result<MemAccess<'a>> {
        let mem = core.mem_access()?;
        if *self.reset_pending.lock() {
            return Err(EAGAIN);
        }
        Ok(mem)
    }

    /// `migration_set_state`: moves to `target` one arc at a time. On failure the state is
    /// the last one reached (see [`Failed`]).
    pub(crate) fn mig_set_state(
        &self,
        core: &CoreDevice<'_>,
        target: u32,
    ) -> (Result<Option<u64>>, u64) {
        let features = Features(migration_features());
        let Some(target) = State::from_raw(target) else {
            return (Err(EINVAL), self.lock().mig.live_gen());
        };
        // The PF-side configuration is read before `state` is taken (rtnl_lock is outside it),
        // and only by the arcs that need it: a save records it, RESUMING -> STOP checks the
        // target's against the stream's. The C shell's migf_lock keeps other set_state calls
        // out meanwhile; a reset in between only makes the read unneeded.
        let from = self.lock().mig.state;
        let pf = if needs_pf_config(from, target) {
            Some(core.pf_vf_config())
        } else {
            None
        };
        // A restore reprograms the rings: while logging runs, what the restored rings own must
        // be logged before the device can run them. So a walk from RESUMING holds the tracker
        // (taken before `state`, as always), stops after RESUMING -> STOP, logs what the
        // restored queues own (the queues are still held disabled: no DMA meanwhile), then
        // walks on.
        let mut dirty = (from == State::Resuming).then(|| self.dirty.lock());
        loop {
            let logging = dirty.as_ref().is_some_and(|d| d.is_some());
            let mut restored = false;
            let mut st = self.lock();
            self.regs_changed();
            let res = self.walk(
                &mut st,
                core,
                target,
                features,
                pf.as_ref(),
                logging,
                &mut restored,
            );
            let live = st.mig.live_gen();
            let reached = st.mig.state == target;
            drop(st);
            if restored {
                if let Some(t) = dirty.as_mut().and_then(|d| d.as_deref_mut()) {
                    self.log_rescan(core, t);
                }
            }
            if !restored || res.is_err() || reached {
                return (res, live);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        st: &mut DevState,
        core: &CoreDevice<'_>,
        target: State,
        features: Features,
        pf: Option<&Result<PfVfConfig>>,
        stop_after_restore: bool,
        restored: &mut bool,
    ) -> Result<Option<u64>> {
        let mut new_file = None;
        while st.mig.state != target {
            let cur = st.mig.state;
            let next = fsm::next_state(cur, target, features).map_err(|_| EINVAL)?;
            if new_file.is_some() {
                // A data fd only comes from the last arc of a path (never with these features).
                return Err(EINVAL);
            }
            match self.arc(st, core, cur, next, pf) {
                Ok(f) => {
                    st.mig.state = next;
                    new_file = f;
                    if (cur, next) == (State::Resuming, State::Stop) && stop_after_restore {
                        *restored = true;
                        return Ok(new_file);
                    }
                }
                Err(Failed::Kept(e)) => {
                    // Userspace can repeat a refused arc at will: ratelimited.
                    if core.log_allowed() {
                        dev_info!(
                            self.dev,
                            "migration {} -> {} failed ({:?}): state stays {}\n",
                            cur.name(),
                            next.name(),
                            e,
                            cur.name()
                        );
                    }
                    st.mig.stats.last_error = e.to_errno();
                    st.mig.stats.last_error_arc = Some((cur, next));
                    return Err(e);
                }
                Err(Failed::Lost(e)) => {
                    // Not ratelimited: it needs the device to fail being put back, and the test
                    // harness fails a run on this line.
                    dev_warn!(
                        self.dev,
                        "migration {} -> {} failed ({:?}), device state unknown: ERROR until reset\n",
                        cur.name(),
                        next.name(),
                        e
                    );
                    st.mig.state = State::Error;
                    st.mig.queues = None;
                    st.mig.drop_data();
                    st.mig.stats.last_error = e.to_errno();
                    st.mig.stats.last_error_arc = Some((cur, next));
                    return Err(e);
                }
            }
        }
        Ok(new_file)
    }

    /// Snapshots the VF (with the guest's queue controls if vfmig holds the queues disabled)
    /// and its PF-side configuration `pf`, and encodes the state stream; `precopy` marks it as
    /// PRE_COPY initial data ([`HEADER_FLAG_PRECOPY`]).
    fn encode_state(
        &self,
        st: &mut DevState,
        core: &CoreDevice<'_>,
        pf: Option<&Result<PfVfConfig>>,
        precopy: bool,
    ) -> Result<KVec<u8>> {
        let fmt = self.provider.format();
        let t0 = Instant::<Monotonic>::now();
        let pf = match pf {
            Some(Ok(pf)) => *pf,
            Some(Err(e)) => {
                if core.log_allowed() {
                    dev_info!(
                        self.dev,
                        "save: the PF's view of the VF is not readable ({:?})\n",
                        e
                    );
                }
                return Err(*e);
            }
            None => return Err(EINVAL),
        };
        let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
        let mut snap = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        {
            let _mem = self.arc_access(core)?;
            self.provider.snapshot(bar0, &mut st.shadow, &mut snap)?;
        }
        // The queues are disabled by vfmig since RUNNING -> RUNNING_P2P: save the
        // guest's controls, not what the registers read now.
        if let Some(q) = &st.mig.queues {
            let nrx = usize::from(snap.num_rx);
            for (r, ctl) in snap.rx.iter_mut().zip(q.rx.iter()).take(nrx) {
                r.ctrl = *ctl;
            }
            let ntx = usize::from(snap.num_tx);
            for (r, ctl) in snap.tx.iter_mut().zip(q.tx.iter()).take(ntx) {
                r.ctrl = *ctl;
            }
        }
        snap.pf = Some(pf);
        let len = snap.encoded_len();
        let mut buf = KVec::from_elem(0u8, len, GFP_KERNEL)?;
        let mut header = nic::header_for(self.identity(), fmt);
        if precopy {
            header.flags |= HEADER_FLAG_PRECOPY;
        }
        let n = snap.encode(&header, fmt, &mut buf).map_err(stream_err)?;
        if n != len {
            return Err(EINVAL);
        }
        st.mig.stats.bytes_saved = len as u64;
        st.mig.stats.save_ns = t0.elapsed().as_nanos();
        Ok(buf)
    }

    /// One arc `from -> to`; a new data fd's generation if the arc creates one.
    fn arc(
        &self,
        st: &mut DevState,
        core: &CoreDevice<'_>,
        from: State,
        to: State,
        pf: Option<&Result<PfVfConfig>>,
    ) -> Result<Option<u64>, Failed> {
        let fmt = self.provider.format();
        match (from, to) {
            (State::Running, State::RunningP2p) | (State::PreCopy, State::PreCopyP2p) => {
                let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
                let _mem = self.arc_access(core)?;
                let mut q = QueueCtl::default();
                if let Err(e) = self.provider.quiesce(bar0, &mut q) {
                    // The device did not stop: give the guest its queues back and stay.
                    return match self.provider.unquiesce(bar0, &q) {
                        Ok(()) => Err(Failed::Kept(e)),
                        Err(_) => Err(Failed::Lost(e)),
                    };
                }
                st.mig.queues = Some(q);
                Ok(None)
            }
            (State::RunningP2p, State::Running) | (State::PreCopyP2p, State::PreCopy) => {
                if let Some(q) = st.mig.queues {
                    let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
                    let _mem = self.arc_access(core)?;
                    // Fails only before it writes anything.
                    self.provider.unquiesce(bar0, &q)?;
                    st.mig.queues = None;
                }
                Ok(None)
            }
            (State::RunningP2p, State::Stop) | (State::Stop, State::RunningP2p) => Ok(None),
            (State::Stop, State::StopCopy)
            | (State::Running, State::PreCopy)
            | (State::RunningP2p, State::PreCopyP2p) => {
                // A new data transfer session: the stream of a snapshot taken now. In PRE_COPY
                // the VF runs: that stream is the "initial data", superseded by the one
                // appended on PRE_COPY_P2P -> STOP_COPY (the target applies the last
                // complete stream it received). The snapshot only reads the device.
                let buf = self.encode_state(st, core, pf, to != State::StopCopy)?;
                st.mig.save = Some(SaveData { buf, pos: 0 });
                st.mig.stats.saves += 1;
                Ok(Some(st.mig.new_gen()))
            }
            (State::PreCopyP2p, State::StopCopy) => {
                // The final stream follows what was not read yet, on the same data fd: it is
                // appended, so a reader's position stays valid.
                let last = self.encode_state(st, core, pf, false)?;
                let save = st.mig.save.as_mut().ok_or(EINVAL)?;
                save.buf.extend_from_slice(&last, GFP_KERNEL)?;
                st.mig.stats.saves += 1;
                Ok(None)
            }
            (State::PreCopy, State::Running) | (State::PreCopyP2p, State::RunningP2p) => {
                // The session ends; the VF goes on.
                st.mig.drop_data();
                Ok(None)
            }
            (State::StopCopy, State::Stop) => {
                st.mig.drop_data();
                Ok(None)
            }
            (State::Stop, State::Resuming) => {
                let expect = nic::expect_for(self.identity(), fmt);
                st.mig.resume = Some(ResumeData::new(expect)?);
                st.mig.stats.bytes_restored = 0;
                Ok(Some(st.mig.new_gen()))
            }
            (State::Resuming, State::Stop) => self.restore(st, core, pf),
            _ => Err(Failed::Kept(EINVAL)),
        }
    }

    /// RESUMING -> STOP: loads the last complete stream of the transfer into the VF. Refused,
    /// with the transfer and the device as they were, if the stream is incomplete or invalid,
    /// or if the source's PF administrator settings differ from the target's
    /// ([`VfDevice::verify_pf`]). A VF left partly programmed is reset: RESUMING again if the
    /// reset went through, ERROR if not.
    fn restore(
        &self,
        st: &mut DevState,
        core: &CoreDevice<'_>,
        pf: Option<&Result<PfVfConfig>>,
    ) -> Result<Option<u64>, Failed> {
        let fmt = self.provider.format();
        let t0 = Instant::<Monotonic>::now();
        // Userspace can repeat a refused restore at will: its messages are ratelimited.
        let log = core.log_allowed();
        let resume = st.mig.resume.as_mut().ok_or(EINVAL)?;
        if let Err(e) = resume.final_and_armed(fmt).map(|_| ()) {
            if log {
                match resume.stream_error() {
                    Some(why) => dev_info!(
                        self.dev,
                        "restore refused: {} ({:?}), device untouched\n",
                        why,
                        e
                    ),
                    None => dev_info!(
                        self.dev,
                        "restore refused: no complete final stream in the transfer ({:?}), device untouched\n",
                        e
                    ),
                }
            }
            return Err(e.into());
        }
        // Again, now that it holds: it returns what it returned above.
        let (staging, armed) = resume.final_and_armed(fmt)?;
        self.verify_pf(staging.pf.as_ref(), pf, log)?;
        let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
        let _mem = self.arc_access(core)?;
        // The arming counts only if the target's PF still shows the armed MAC (an
        // administrator may have set another since, which the PF tells the VF nothing of).
        let target_mac = match pf {
            Some(Ok(t)) => Some(t.mac),
            _ => None,
        };
        let armed = armed.filter(|a| a.pf.as_ref().map(|p| p.mac) == target_mac);
        let mut q = QueueCtl::default();
        let restored = self
            .provider
            .restore(bar0, staging, armed, &mut st.shadow, &mut q);
        // An attempt that reached the VF uses the arming up, whatever its outcome (a failed
        // one resets the VF, and the PF forgets a VF on its reset); a refusal before that
        // (an incomplete transfer, other PF settings, EAGAIN) keeps it.
        if let Some(resume) = st.mig.resume.as_mut() {
            resume.armed = None;
        }
        let armed_held = match restored {
            Ok(held) => held,
            Err(e) => {
                // Partly programmed: leave the VF as a reset leaves it.
                if log {
                    dev_warn!(
                        self.dev,
                        "restore failed while programming the VF ({:?}): resetting the VF\n",
                        e
                    );
                }
                self.provider.shadow_reset(&mut st.shadow);
                return match self.provider.reset(bar0) {
                    Ok(()) => Err(Failed::Kept(e)),
                    Err(_) => Err(Failed::Lost(e)),
                };
            }
        };
        st.mig.queues = Some(q);
        st.mig.drop_data();
        st.mig.stats.restores += 1;
        st.mig.stats.restores_armed += u64::from(armed_held);
        st.mig.stats.restore_ns = t0.elapsed().as_nanos();
        Ok(None)
    }

    /// Checks the source's PF administrator settings `src` (from the stream) against the
    /// target's `dst` (the PF driver's `ndo_get_vf_config`, read before this arc). They are the
    /// host orchestrator's, never the stream's to set: a difference refuses the restore with
    /// `EPERM`, naming the setting and both values, unless `pf_mismatch_warn=1` makes it a
    /// warning. The MAC is not compared: it goes through the VF's own mailbox, where the PF
    /// driver applies its policy (an administrator MAC on the target refuses another one).
    fn verify_pf(
        &self,
        src: Option<&PfVfConfig>,
        dst: Option<&Result<PfVfConfig>>,
        log: bool,
    ) -> Result {
        let warn_only = crate::module_parameters::pf_mismatch_warn.value();
        let Some(src) = src else {
            return Ok(());
        };
        let dst = match dst {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                if log {
                    dev_err!(
                        self.dev,
                        "restore refused: the target's PF settings are not readable ({:?})\n",
                        e
                    );
                }
                return Err(*e);
            }
            None => return Err(EINVAL),
        };
        let mut mismatch = false;
        for (name, s, d) in pf_settings(src, dst) {
            if s == d {
                continue;
            }
            mismatch = true;
            if !log {
                continue;
            }
            if warn_only {
                dev_warn!(
                    self.dev,
                    "restore: PF setting {} differs: source {}, target {} (pf_mismatch_warn=1: the target's is kept)\n",
                    name,
                    s,
                    d
                );
            } else {
                dev_err!(
                    self.dev,
                    "restore refused: PF setting {} differs: source {}, target {} (set it on the target's PF first)\n",
                    name,
                    s,
                    d
                );
            }
        }
        if mismatch && !warn_only {
            return Err(EPERM);
        }
        Ok(())
    }

    /// `migration_get_state`.
    pub(crate) fn mig_get_state(&self) -> u32 {
        self.lock().mig.state.raw()
    }

    /// `migration_get_data_size`: the exact length of the stream STOP_COPY produces (of the
    /// stream being read, in STOP_COPY). Its layout does not depend on register values, so a
    /// fresh snapshot with a placeholder PF section has the same length.
    pub(crate) fn mig_data_size(&self, core: &CoreDevice<'_>) -> Result<usize> {
        let mut guard = self.lock();
        let st = &mut *guard;
        if let Some(save) = &st.mig.save {
            if matches!(st.mig.state, State::PreCopy | State::PreCopyP2p) {
                // What is left of the initial data, then a final stream as long as the
                // initial one (the layout does not depend on register values).
                return save
                    .remaining()
                    .checked_add(save.buf.len())
                    .ok_or(EOVERFLOW);
            }
            // STOP_COPY: the stream's whole length, as other drivers report the state size.
            return Ok(save.buf.len());
        }
        let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
        let mut snap = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        {
            let _mem = core.mem_access()?;
            self.provider.snapshot(bar0, &mut st.shadow, &mut snap)?;
        }
        snap.pf = Some(PfVfConfig::default());
        Ok(snap.encoded_len())
    }

    /// `VFIO_MIG_GET_PRECOPY_INFO` on the data fd of generation `gen`: `(initial_bytes,
    /// dirty_bytes)`. The initial data is the stream of the snapshot taken on entering
    /// PRE_COPY, counted down as it is read; `dirty_bytes` is always 0: nothing more can be
    /// read before STOP_COPY (the final stream is made there), and the uAPI defines both
    /// zero as the temporary end of the stream, when `read()` gives `ENOMSG`. The final
    /// stream's length is what `MIG_DATA_SIZE` adds. `EINVAL` outside the PRE_COPY states,
    /// `ENODEV` for a stale fd.
    pub(crate) fn mig_precopy_info(&self, gen: u64) -> Result<(u64, u64)> {
        let st = self.lock();
        if !matches!(st.mig.state, State::PreCopy | State::PreCopyP2p) {
            return Err(EINVAL);
        }
        if gen == 0 || st.mig.live_gen() != gen {
            return Err(ENODEV);
        }
        let save = st.mig.save.as_ref().ok_or(EINVAL)?;
        Ok((save.remaining() as u64, 0))
    }

    /// One step of a `read()` of the data fd of generation `gen`: copies the next bytes of the
    /// saved stream (at most `out.len()`) into `out` and returns how many, and the stream
    /// position they start at (for [`VfDevice::mig_unread`]). 0 at the end of the stream;
    /// `ENOMSG` in the PRE_COPY states when the initial data is all read (the final stream comes
    /// in STOP_COPY). The C shell copies to userspace without any lock held.
    pub(crate) fn mig_read_chunk(&self, gen: u64, out: &mut [u8]) -> Result<(usize, usize)> {
        let mut st = self.lock();
        if gen == 0 || st.mig.live_gen() != gen {
            return Err(ENODEV);
        }
        let precopy = matches!(st.mig.state, State::PreCopy | State::PreCopyP2p);
        let save = st.mig.save.as_mut().ok_or(ENODEV)?;
        let start = save.pos;
        let rest = save.buf.get(start..).unwrap_or(&[]);
        let n = rest.len().min(out.len());
        if n == 0 {
            return if precopy && !out.is_empty() {
                Err(ENOMSG)
            } else {
                Ok((0, start))
            };
        }
        out.get_mut(..n)
            .ok_or(EINVAL)?
            .copy_from_slice(rest.get(..n).ok_or(EINVAL)?);
        save.pos = start.checked_add(n).ok_or(EOVERFLOW)?;
        Ok((n, start))
    }

    /// The bytes a [`VfDevice::mig_read_chunk`] handed out from `start` could not be copied to
    /// userspace: gives them back, so that a retry reads them. The buffer is only ever appended
    /// to while its data fd lives, so `start` still names them; a position that moved on (a
    /// concurrent reader of the same fd) or a stale fd is left alone.
    pub(crate) fn mig_unread(&self, gen: u64, start: usize) {
        let mut st = self.lock();
        if gen == 0 || st.mig.live_gen() != gen {
            return;
        }
        if let Some(save) = st.mig.save.as_mut() {
            if start <= save.pos && start <= save.buf.len() {
                save.pos = start;
            }
        }
    }

    /// One step of a `write()` of the data fd of generation `gen`: feeds `data` (copied from
    /// userspace by the C shell, without any lock held) to the decoder; a stream error is
    /// returned at once (and again by every later write and by RESUMING -> STOP). The first
    /// pre-copy stream of the transfer, once complete and valid, arms the VF
    /// ([`VfDevice::arm`]).
    pub(crate) fn mig_write_chunk(&self, core: &CoreDevice<'_>, gen: u64, data: &[u8]) -> Result {
        let mut guard = self.lock();
        let st = &mut *guard;
        if gen == 0 || st.mig.live_gen() != gen {
            return Err(ENODEV);
        }
        let fmt = self.provider.format();
        let resume = st.mig.resume.as_mut().ok_or(ENODEV)?;
        let refused_before = resume.stream_error().is_some();
        if let Err(e) = resume.feed(data, fmt) {
            // Once per transfer (later writes repeat the error), and ratelimited: userspace
            // can start transfers at will.
            if let (false, Some(why)) = (refused_before, resume.stream_error()) {
                if core.log_allowed() {
                    dev_info!(self.dev, "restore data refused: {} ({:?})\n", why, e);
                }
            }
            return Err(e);
        }
        st.mig.stats.bytes_restored += data.len() as u64;
        if let Some(pre) = resume.take_precopy() {
            self.arm(st, core, pre);
        }
        Ok(())
    }

    /// RESUMING, the pre-copy initial data `pre` complete and valid: does now, while the
    /// source still runs, the part of the restore that waits for the PF (its handshake through
    /// the VF's mailbox, [`Provider::arm`]), so that the final restore, during the guest's
    /// downtime, only checks that it still holds. The PF administrator settings are not
    /// looked at here: nothing of them is set, and RESUMING -> STOP checks them as always.
    /// A failure only means the final restore does the whole work: it is not the write's.
    ///
    /// [`Provider::arm`]: crate::provider::Provider::arm
    fn arm(&self, st: &mut DevState, core: &CoreDevice<'_>, pre: KBox<NicVfState>) {
        let t0 = Instant::<Monotonic>::now();
        let res = match (st.bar0.as_ref(), self.arc_access(core)) {
            // The VMM has not loaded the guest's config space yet: the VF's memory enable may
            // be clear (see `MemAccess::decoding`).
            (Some(bar0), Ok(mem)) => {
                let _decode = mem.decoding();
                self.provider.arm(bar0, &pre, &mut st.shadow)
            }
            (None, _) => Err(ENODEV),
            (_, Err(e)) => Err(e),
        };
        match res {
            Ok(()) => {
                st.mig.stats.arm_ns = t0.elapsed().as_nanos();
                if let Some(resume) = st.mig.resume.as_mut() {
                    resume.armed = Some(pre);
                }
            }
            Err(e) => {
                st.mig.stats.arm_failures += 1;
                if core.log_allowed() {
                    dev_info!(
                        self.dev,
                        "restore: arming from the pre-copy data failed ({:?}): the final restore does all\n",
                        e
                    );
                }
            }
        }
    }
}

/// Whether an arc on the way from `from` to `target` reads the PF's view of the VF: a save
/// records it, RESUMING -> STOP checks it.
fn needs_pf_config(from: State, target: State) -> bool {
    matches!(target, State::StopCopy | State::PreCopy | State::PreCopyP2p)
        || from == State::Resuming
}

/// The PF administrator settings a restore checks, as `(name, source, target)`: all but the
/// MAC.
fn pf_settings(src: &PfVfConfig, dst: &PfVfConfig) -> [(&'static str, u32, u32); 8] {
    [
        ("vlan", src.vlan.into(), dst.vlan.into()),
        ("vlan_proto", src.vlan_proto.into(), dst.vlan_proto.into()),
        ("qos", src.qos.into(), dst.qos.into()),
        ("spoofchk", src.spoofchk.into(), dst.spoofchk.into()),
        ("trust", src.trusted.into(), dst.trusted.into()),
        ("link_state", src.link_state.into(), dst.link_state.into()),
        ("min_tx_rate", src.min_tx_rate, dst.min_tx_rate),
        ("max_tx_rate", src.max_tx_rate, dst.max_tx_rate),
    ]
}
