// SPDX-License-Identifier: GPL-2.0

//! Per-VF state of a function bound to vfmig.

use core::{
    mem::ManuallyDrop,
    sync::atomic::{
        AtomicU64,
        Ordering, //
    },
};

use kernel::{
    device::Device,
    new_mutex, new_spinlock,
    prelude::*,
    seq_file::{
        seq_print,
        SeqFile, //
    },
    sync::{
        aref::ARef,
        Mutex,
        MutexGuard,
        SpinLock, //
    },
};

use crate::{
    bar::BarMapping,
    dump::RegsDump,
    glue::{
        CoreDevice,
        PciIdent, //
    },
    provider::{self, Provider, Shadow},
    shared::nic::NicVfState,
};

mod dirty;
mod migration;
mod trap;

#[cfg(all(vfmig_kunit, CONFIG_KUNIT))]
pub(crate) use dirty::{
    emit_runs,
    heap_sort,
    PageLog,
    MAX_PENDING, //
};

pub(crate) use migration::migration_features;
#[cfg(all(vfmig_kunit, CONFIG_KUNIT))]
pub(crate) use migration::ResumeData;

/// A PCI location, printed as `DDDD:BB:DD.F`.
struct Bdf {
    domain: u32,
    bus: u8,
    devfn: u8,
}

impl kernel::fmt::Display for Bdf {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{}",
            self.domain,
            self.bus,
            self.devfn >> 3,
            self.devfn & 7
        )
    }
}

/// One VF bound to vfmig.
#[pin_data]
pub(crate) struct VfDevice {
    /// The PCI device (a reference held from probe until this is dropped at remove): the
    /// device the kernel messages name (`dev_*`).
    dev: ARef<Device>,
    ident: PciIdent,
    provider: &'static dyn Provider,
    /// What changes while the VF is bound: taken by the VFIO open/close hooks, the migration
    /// callbacks, the migration data fd's read/write and debugfs. Always taken through
    /// [`VfDevice::lock`], whose guard runs a reset deferred by [`VfDevice::reset_done`].
    #[pin]
    state: Mutex<DevState>,
    /// Set by [`VfDevice::reset_done`] when it could not take `state`: the holder of `state`
    /// brings the migration state back to RUNNING before it unlocks (as xe/mlx5 do, since
    /// the reset path holds the core's `memory_lock`, which vfmig takes under `state`).
    #[pin]
    reset_pending: SpinLock<bool>,
    /// DMA dirty logging while it runs (`device/dirty.rs`); taken before `state`.
    #[pin]
    dirty: Mutex<Option<KBox<dirty::Tracker>>>,
    /// Bumped (under `state`) whenever vfmig itself programs or resets the device (migration
    /// arcs, resets, open/close): a register view read before is stale (`device/dirty.rs`).
    regs_gen: AtomicU64,
    /// The guest's (the VMM's) accesses of the trapped BAR0 range, reads and writes, since the
    /// VF was bound: each one is a trap (a KVM exit and a `pread`/`pwrite` with a VMM).
    trapped: [AtomicU64; 2],
}

/// The mutable part of a [`VfDevice`].
struct DevState {
    /// BAR0 while the VFIO device is open (from `open_device` to `close_device`), `None` while
    /// it is closed. Dropped under the lock in [`VfDevice::close`], before `vfio_pci_core`
    /// unmaps the BAR, so every register access (made under the lock) sees a live mapping.
    bar0: Option<BarMapping>,
    /// Migration state (module parameter `migration`, on by default); RUNNING otherwise.
    mig: migration::Migration,
    /// The provider's register shadows, fed by the trapped BAR accesses (with `migration`).
    shadow: Shadow,
}

/// The `state` lock of a [`VfDevice`]. Dropping it first runs a reset that
/// [`VfDevice::reset_done`] deferred, then unlocks.
struct DevGuard<'a> {
    dev: &'a VfDevice,
    guard: ManuallyDrop<MutexGuard<'a, DevState>>,
}

impl core::ops::Deref for DevGuard<'_> {
    type Target = DevState;

    fn deref(&self) -> &DevState {
        &self.guard
    }
}

impl core::ops::DerefMut for DevGuard<'_> {
    fn deref_mut(&mut self) -> &mut DevState {
        &mut self.guard
    }
}

impl DevGuard<'_> {
    /// Runs a reset that [`VfDevice::reset_done`] left to this holder, now rather than at
    /// unlock. A trapped access calls it once it holds the core's `memory_lock`: a reset it
    /// waited for is then behind it, and the access must find the reset shadows, not have them
    /// reset over it when the lock is dropped. Returns whether there was one.
    fn settle_reset(&mut self) -> bool {
        let mut pending = self.dev.reset_pending.lock();
        if !*pending {
            return false;
        }
        *pending = false;
        drop(pending);
        if let Some(was) = self.guard.mig.function_reset() {
            dev_warn!(
                self.dev.dev,
                "reset during a migration (state {}): back to RUNNING, the transfer's data fds stop working\n",
                was.name()
            );
        }
        self.dev.provider.shadow_reset(&mut self.guard.shadow);
        self.dev.regs_changed();
        true
    }
}

impl Drop for DevGuard<'_> {
    fn drop(&mut self) {
        loop {
            if self.settle_reset() {
                continue;
            }
            let pending = self.dev.reset_pending.lock();
            if *pending {
                // `reset_done` came in between: run it before unlocking.
                continue;
            }
            // Unlock while `reset_pending` is held, so that a `reset_done` whose trylock failed
            // has set the flag before this check, or finds the mutex free after it.
            // SAFETY: `guard` is dropped exactly once, here, and not used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.guard) };
            drop(pending);
            break;
        }
    }
}

impl VfDevice {
    /// Accepts a function that some provider drives; anything else is refused with `ENODEV`
    /// (`driver_override` lets userspace offer any device to the driver).
    pub(crate) fn probe(ident: &PciIdent, dev: ARef<Device>) -> Result<Pin<KBox<Self>>> {
        let id = provider::FnId {
            vendor: ident.vendor,
            device: ident.device,
            is_virtfn: ident.is_virtfn != 0,
        };
        let Some(provider) = provider::find(&id) else {
            let what = if ident.is_virtfn != 0 { "VF" } else { "PF" };
            dev_info!(
                dev,
                "{:04x}:{:04x} ({}) is not a function any provider drives\n",
                ident.vendor,
                ident.device,
                what
            );
            return Err(ENODEV);
        };
        let pf = Bdf {
            domain: ident.pf_domain,
            bus: ident.pf_bus,
            devfn: ident.pf_devfn,
        };
        dev_info!(
            dev,
            "VF {} of PF {}, provider {}\n",
            ident.vf_id,
            pf,
            provider.name()
        );
        KBox::pin_init(
            try_pin_init!(VfDevice {
                dev,
                ident: *ident,
                provider,
                state <- new_mutex!(
                    DevState {
                        bar0: None,
                        shadow: Shadow {
                            live: migration_features() != 0 && provider.trap().is_some(),
                            ..Shadow::default()
                        },
                        mig: migration::Migration::new(),
                    },
                    "VfDevice::state"
                ),
                reset_pending <- new_spinlock!(false, "VfDevice::reset_pending"),
                dirty <- new_mutex!(None, "VfDevice::dirty"),
                regs_gen: AtomicU64::new(0),
                trapped: [AtomicU64::new(0), AtomicU64::new(0)],
            }),
            GFP_KERNEL,
        )
    }

    /// The VFIO device is being opened; `vfio_pci_core` has enabled it and mapped its BARs.
    pub(crate) fn open(&self, core: &CoreDevice<'_>) -> Result {
        let (addr, len) = core.bar_iomap(0).inspect_err(|e| {
            dev_warn!(self.dev, "BAR0 is not mapped ({:?}): refusing to open\n", e)
        })?;
        // SAFETY: `vfio_pci_core_enable()` mapped BAR0; the mapping stays until
        // `vfio_pci_core_disable()`, which the C shell calls only after `close()`, and `close()`
        // drops this value under the lock.
        let bar0 = unsafe { BarMapping::new(addr, len) };
        dev_dbg!(self.dev, "open, BAR0 {} bytes\n", bar0.size());
        let mut st = self.lock();
        st.bar0 = Some(bar0);
        st.mig.reset();
        self.regs_changed();
        // vfio_pci_core reset the function when it enabled it.
        self.provider.shadow_reset(&mut st.shadow);
        Ok(())
    }

    /// vfmig (not the guest) changed the device's registers; called with `state` held.
    fn regs_changed(&self) {
        self.regs_gen.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes the device's `state` lock (see [`DevGuard`]).
    fn lock(&self) -> DevGuard<'_> {
        DevGuard {
            dev: self,
            guard: ManuallyDrop::new(self.state.lock()),
        }
    }

    /// The PCI core reset the function (`reset_done`: VFIO_DEVICE_RESET, FLR at open/close,
    /// ...): the migration state goes back to RUNNING, every data fd stops working. Called with
    /// the core's `memory_lock` held for writing, so `state` is only tried: if it is held, its
    /// holder does the work when it unlocks.
    pub(crate) fn reset_done(&self) {
        let mut pending = self.reset_pending.lock();
        *pending = true;
        let Some(guard) = self.state.try_lock() else {
            return;
        };
        drop(pending);
        drop(DevGuard {
            dev: self,
            guard: ManuallyDrop::new(guard),
        });
    }

    /// The VFIO device is being closed; `vfio_pci_core` unmaps the BARs right after.
    pub(crate) fn close(&self) {
        // Logging ends with the device's life in userspace.
        self.log_stop();
        let mut st = self.lock();
        st.mig.reset();
        st.bar0 = None;
        drop(st);
        dev_dbg!(self.dev, "closed\n");
    }

    /// Prints the debugfs `state` file: identity, provider, open or closed, migration state.
    pub(crate) fn show_state(&self, m: &SeqFile) {
        let (open, mig, stats) = {
            let st = self.lock();
            (st.bar0.is_some(), st.mig.state(), st.mig.stats)
        };
        seq_print!(m, "provider: {}\n", self.provider.name());
        seq_print!(m, "vf_index: {}\n", self.ident.vf_id);
        seq_print!(m, "pf: {}\n", self.pf_bdf());
        seq_print!(m, "device: {}\n", if open { "open" } else { "closed" });
        if migration_features() == 0 {
            // No migration ops are registered (a MIGRATION feature query answers ENOTTY).
            seq_print!(m, "migration_state: n/a\n");
        } else {
            seq_print!(m, "migration_state: {}\n", mig.name());
            seq_print!(m, "last_error: {}", stats.last_error);
            match stats.last_error_arc {
                Some((from, to)) => seq_print!(m, " ({} -> {})\n", from.name(), to.name()),
                None => seq_print!(m, "\n"),
            }
            seq_print!(m, "saves: {}\n", stats.saves);
            seq_print!(m, "bytes_saved: {}\n", stats.bytes_saved);
            seq_print!(m, "save_ns: {}\n", stats.save_ns);
            seq_print!(m, "restores: {}\n", stats.restores);
            seq_print!(m, "bytes_restored: {}\n", stats.bytes_restored);
            seq_print!(m, "restore_ns: {}\n", stats.restore_ns);
            seq_print!(m, "restores_armed: {}\n", stats.restores_armed);
            seq_print!(m, "arm_ns: {}\n", stats.arm_ns);
            seq_print!(m, "arm_failures: {}\n", stats.arm_failures);
            seq_print!(m, "resets_in_migration: {}\n", stats.resets_in_migration);
            seq_print!(
                m,
                "trapped_reads: {}\ntrapped_writes: {}\n",
                self.trapped[0].load(Ordering::Relaxed),
                self.trapped[1].load(Ordering::Relaxed)
            );
        }
        self.show_dirty(m);
    }

    /// Prints the debugfs `regs` file: a snapshot of the VF's registers, taken now. `ENODEV`
    /// while the device is closed (its BARs are not mapped), `EIO` while its memory space is
    /// off or it is in D3.
    pub(crate) fn show_regs(&self, core: &CoreDevice<'_>, m: &SeqFile) -> Result {
        let mut snap = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        {
            let mut guard = self.lock();
            let st = &mut *guard;
            let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
            let _mem = core.mem_access()?;
            self.provider.snapshot(bar0, &mut st.shadow, &mut snap)?;
        }
        seq_print!(m, "{}", RegsDump(&snap));
        Ok(())
    }

    /// The BAR0 range trapped while the device is bound: the provider's, if migration is
    /// offered (otherwise no logging is possible and BAR0 is mapped whole).
    pub(crate) fn trap_range(&self) -> Option<(u32, u32)> {
        if migration_features() == 0 {
            return None;
        }
        self.provider.trap()
    }

    fn pf_bdf(&self) -> Bdf {
        Bdf {
            domain: self.ident.pf_domain,
            bus: self.ident.pf_bus,
            devfn: self.ident.pf_devfn,
        }
    }

    /// Releases the device when it is unbound.
    pub(crate) fn remove(self: Pin<KBox<Self>>) {
        dev_dbg!(
            self.dev,
            "VF {} released by provider {} (id {})\n",
            self.ident.vf_id,
            self.provider.name(),
            self.provider.format().id()
        );
    }
}
