// SPDX-License-Identifier: GPL-2.0

//! The Intel 82576 Virtual Function (8086:10ca), as driven by igb on the PF.

use kernel::{
    io::{
        poll::read_poll_timeout,
        register::{
            Array,
            RegisterBase,
            WithBase, //
        },
        Io,
        Mmio,
        Region, //
    },
    prelude::*,
    time::Delta,
};

use super::{
    BufField,
    BufRing,
    DmaView,
    FnId,
    Posted,
    Provider,
    QueueCtl,
    Shadow, //
};
use crate::{
    bar::BarMapping,
    shared::{
        igb::{
            self,
            DEVICE_82576_VF,
            VENDOR_INTEL, //
        },
        nic::{
            self,
            Interrupts,
            Mailbox,
            NicVfState,
            Ring,
            Stats, //
        },
    },
};

mod regs;

use regs::{
    RxQ0,
    RxQ1,
    RxQueue,
    TxQ0,
    TxQ1,
    TxQueue,
    BAR0_SIZE, //
};

/// BAR0 of an 82576 VF.
type Bar0<'a> = Mmio<'a, Region<BAR0_SIZE>>;

/// Provider for the 82576 VF.
pub(crate) struct Igb82576Vf;

impl Provider for Igb82576Vf {
    fn format(&self) -> &'static dyn nic::Provider {
        &igb::PROVIDER
    }

    fn matches(&self, id: &FnId) -> bool {
        id.vendor == VENDOR_INTEL && id.device == DEVICE_82576_VF && id.is_virtfn
    }

    fn snapshot(&self, bar: &BarMapping, sh: &mut Shadow, st: &mut NicVfState) -> Result {
        let io = bar.io::<BAR0_SIZE>()?;
        st.clear();
        // Two queues each way; the pushes cannot fail (`nic::MAX_QUEUES` is larger).
        for ring in [rx_ring::<RxQ0>(io), rx_ring::<RxQ1>(io)] {
            st.push_rx(ring).map_err(|_| EINVAL)?;
        }
        for ring in [tx_ring::<TxQ0>(io), tx_ring::<TxQ1>(io)] {
            st.push_tx(ring).map_err(|_| EINVAL)?;
        }
        st.irq = Some(interrupts(io, sh)?);
        let mbx = mailbox(io, sh)?;
        // A reply the guest has not read yet still decides a pending request.
        resolve_pending(sh, mbx.mem[0]);
        st.mailbox = Some(mbx);
        st.stats = Some(stats(io, sh));
        // What the guest asked of the PF through the mailbox, for the target to repeat.
        if sh.block.ty == igb::SECTION_IGB_MBX {
            st.push_private(sh.block.ty, 0, sh.block.flags, sh.block.payload())
                .map_err(|_| EINVAL)?;
        }
        // The PF-side VF configuration (MAC, VLAN, spoof check, trust, rate, link state) is not
        // in the VF BAR: the migration code fills it from the PF driver's `ndo_get_vf_config`
        // (`CoreDevice::pf_vf_config`) when it saves; `restore` sets its MAC through the
        // mailbox, and the migration code checks the rest against the target's (never sets it).
        st.pf = None;
        Ok(())
    }

    fn quiesce(&self, bar: &BarMapping, saved: &mut QueueCtl) -> Result {
        let io = bar.io::<BAR0_SIZE>()?;
        *saved = QueueCtl::default();
        saved.rx[0] = rx_disable::<RxQ0>(io);
        saved.rx[1] = rx_disable::<RxQ1>(io);
        saved.tx[0] = tx_disable::<TxQ0>(io);
        saved.tx[1] = tx_disable::<TxQ1>(io);
        // QEMU completes a queue disable at once and transmits synchronously inside the TDT
        // write; silicon finishes in-flight descriptors first (datasheet: poll the enable bit).
        let tx_was_on = [
            saved.tx[0] & regs::TXDCTL::ENABLE_MASK != 0,
            saved.tx[1] & regs::TXDCTL::ENABLE_MASK != 0,
        ];
        read_poll_timeout(
            || Ok(quiescent(io, tx_was_on)),
            |done: &bool| *done,
            Delta::from_micros(50),
            Delta::from_millis(QUIESCE_TIMEOUT_MS),
        )
        .map(|_| ())
    }

    fn unquiesce(&self, bar: &BarMapping, saved: &QueueCtl) -> Result {
        let io = bar.io::<BAR0_SIZE>()?;
        rx_enable::<RxQ0>(io, saved.rx[0]);
        rx_enable::<RxQ1>(io, saved.rx[1]);
        tx_enable::<TxQ0>(io, saved.tx[0]);
        tx_enable::<TxQ1>(io, saved.tx[1]);
        if saved.kick != 0 {
            // One interrupt on each vector the guest had enabled: whatever was raised on the
            // source before it stopped is looked at (the driver polls its rings).
            io.write_reg(regs::EICS::from(saved.kick));
        }
        Ok(())
    }

    fn restore(
        &self,
        bar: &BarMapping,
        st: &NicVfState,
        armed: Option<&NicVfState>,
        sh: &mut Shadow,
        ctl: &mut QueueCtl,
    ) -> Result<bool> {
        let io = bar.io::<BAR0_SIZE>()?;
        // The decoder checked the counts (`igb::PROVIDER.check_state`): two queues each way,
        // NUM_VECTORS vectors, MAILBOX_DWORDS dwords.
        let (Some(irq), Some(mbx)) = (&st.irq, &st.mailbox) else {
            return Err(EINVAL);
        };
        let (rx, tx) = (st.rx(), st.tx());
        let (Some(rx0), Some(rx1), Some(tx0), Some(tx1)) =
            (rx.first(), rx.get(1), tx.first(), tx.get(1))
        else {
            return Err(EINVAL);
        };
        // First the PF side of the VF (igb-migration.rst, "PF-side state and the mailbox"), the
        // part the PF may refuse (an administrator MAC on the target refuses another one), so
        // that a refusal leaves the VF's registers as they were. If the pre-copy data armed it
        // (`arm`) with the same MAC and requests, and the PF has said nothing since (no reset,
        // no message: the mailbox status shows neither), it holds and is not redone.
        // "Nothing since": no VF reset and no message of the VMM since (`ARMED`, cleared by
        // both), and no PF reset or PF message: RSTI (live), or RSTD/PFSTS, in the register now
        // or consumed since the arming by another reader (a snapshot, a trapped read), which
        // keeps them in the shadow (`MBX_R2C`, cleared by `arm`). Each attempt uses the arming
        // up: a failed one resets the VF, which the PF answers by forgetting it.
        let was_armed = core::mem::replace(&mut sh.words[sh_idx::ARMED], 0) == 1;
        let armed_held = was_armed && armed.is_some_and(|a| pf_side_key(a) == pf_side_key(st)) && {
            let v = io.read(regs::V2PMAILBOX).into_raw() | sh.words[sh_idx::MBX_R2C];
            v & (regs::V2PMAILBOX::RSTI_MASK
                | regs::V2PMAILBOX::RSTD_MASK
                | regs::V2PMAILBOX::PFSTS_MASK)
                == 0
        };
        if !armed_held {
            with_mbx_mem_kept_on_error(io, || pf_side(io, st))?;
        }
        // Then the VF's own registers, every queue disabled.
        *ctl = QueueCtl::default();
        ctl.rx[0] = rx_program::<RxQ0>(io, rx0);
        ctl.rx[1] = rx_program::<RxQ1>(io, rx1);
        ctl.tx[0] = tx_program::<TxQ0>(io, tx0);
        ctl.tx[1] = tx_program::<TxQ1>(io, tx1);
        // The interrupt registers that read back what the guest wrote.
        io.write_reg(regs::EIAC::from(irq.auto_clear));
        io.write_reg(regs::EIAM::from(irq.auto_mask));
        for (n, v) in irq.itr().iter().enumerate() {
            io.try_write(regs::EITR::try_at(n).ok_or(EINVAL)?, regs::EITR::from(*v))?;
        }
        // The vector allocation and the enabled mask as the guest left them (the shadows the
        // guest reads them from), and one interrupt per enabled vector on RUNNING.
        let ivar = irq.ivar();
        let (ivar0, ivar_misc) = (
            ivar.first().copied().unwrap_or(0),
            ivar.get(1).copied().unwrap_or(0),
        );
        io.write_reg(regs::IVAR0::from(ivar0));
        io.write_reg(regs::IVAR_MISC::from(ivar_misc));
        io.write_reg(regs::EIMC::from(u32::MAX));
        io.write_reg(regs::EIMS::from(irq.enabled));
        sh.words[sh_idx::EIMS] = irq.enabled;
        sh.words[sh_idx::IVAR0] = ivar0;
        sh.words[sh_idx::IVAR_MISC] = ivar_misc;
        ctl.kick = irq.enabled;
        keep_mbx_requests(sh, &state_requests(st));
        // Nothing the target's guest sent is waiting for an answer.
        sh.words[sh_idx::MBX_PENDING] = 0;
        // Then the mailbox memory the guest left (the handshake overwrote it).
        for (n, v) in mbx.mem().iter().enumerate() {
            io.try_write(
                regs::VMBMEM::try_at(n).ok_or(EINVAL)?,
                regs::VMBMEM::from(*v),
            )?;
        }
        // The read-to-clear status bits the guest had not read yet: its next read gets them.
        sh.words[sh_idx::MBX_R2C] = mbx.status & regs::MBX_R2C_MASK;
        // The counters go on from the source's values.
        if let Some(s) = &st.stats {
            for (i, (reg, saved)) in STAT_REGS.iter().zip(stat_values(s)).enumerate() {
                let hw = bar.read32(*reg as usize)?;
                sh.words[sh_idx::STATS + i] = lo32(saved).wrapping_sub(hw);
            }
        }
        // The administrator settings in `st.pf` are the host's: checked against the target's
        // by the migration code before this, never set.
        Ok(armed_held)
    }

    fn arm(&self, bar: &BarMapping, st: &NicVfState, sh: &mut Shadow) -> Result {
        let io = bar.io::<BAR0_SIZE>()?;
        sh.words[sh_idx::ARMED] = 0;
        // The conversation overwrites the mailbox memory: put back in any case, the VF's own
        // registers are the final restore's.
        let before = mbx_mem(io)?;
        let res = pf_side(io, st);
        put_mbx_mem(io, &before)?;
        res?;
        // From here, a PF reset or message the VF's mailbox status shows counts against the
        // arming (`restore`), whoever reads it first. What was kept for the guest before is
        // not needed: RESUMING has no guest, and the restore sets it from the stream.
        sh.words[sh_idx::MBX_R2C] = 0;
        sh.words[sh_idx::ARMED] = 1;
        Ok(())
    }

    fn reset(&self, bar: &BarMapping) -> Result {
        let io = bar.io::<BAR0_SIZE>()?;
        io.write_reg(regs::CTRL::zeroed().with_rst(true));
        // RST clears itself when the reset is done (igbvf's e1000_reset_hw_vf waits for it).
        read_poll_timeout(
            || Ok(io.read(regs::CTRL).rst()),
            |rst: &bool| !*rst,
            Delta::from_micros(10),
            Delta::from_millis(RESET_TIMEOUT_MS),
        )
        .map(|_| ())
    }

    fn trap(&self) -> Option<(u32, u32)> {
        Some((regs::TRAP_START, regs::TRAP_END))
    }

    fn shadow_reset(&self, sh: &mut Shadow) {
        // A function reset masks every interrupt and clears the vector allocation, and the PF
        // forgets what the VF asked for (VFLR); the counters and the mailbox bits the guest
        // has not read stay.
        sh.words[sh_idx::EIMS] = 0;
        sh.words[sh_idx::IVAR0] = 0;
        sh.words[sh_idx::IVAR_MISC] = 0;
        sh.words[sh_idx::MBX_PENDING] = 0;
        sh.words[sh_idx::ARMED] = 0;
        sh.block = nic::PrivateBlock::ZERO;
    }

    fn trapped_read(&self, bar: &BarMapping, sh: &mut Shadow, off: u32, size: u32) -> Result<u32> {
        use crate::shared::igb::regs as r;
        let reg = off & !3;
        let full = match reg {
            r::EIMS => sh.words[sh_idx::EIMS],
            r::IVAR0 => sh.words[sh_idx::IVAR0],
            r::IVAR_MISC => sh.words[sh_idx::IVAR_MISC],
            // The guest reads the PF's reply: a pending request it ACKs is recorded.
            r::VMBMEM => {
                let v = bar.read32(reg as usize)?;
                resolve_pending(sh, v);
                v
            }
            r::V2PMAILBOX => {
                let v = bar.read32(reg as usize)? | sh.words[sh_idx::MBX_R2C];
                // A PF event the VMM reads (and so takes) undoes an arming (`restore`).
                if v & (regs::V2PMAILBOX::RSTI_MASK
                    | regs::V2PMAILBOX::RSTD_MASK
                    | regs::V2PMAILBOX::PFSTS_MASK)
                    != 0
                {
                    sh.words[sh_idx::ARMED] = 0;
                }
                // Handed to the guest if its read covers the status byte; kept otherwise.
                sh.words[sh_idx::MBX_R2C] = if off == reg {
                    0
                } else {
                    v & regs::MBX_R2C_MASK
                };
                v
            }
            _ => match STAT_REGS.iter().position(|s| *s == reg) {
                Some(i) => bar
                    .read32(reg as usize)?
                    .wrapping_add(sh.words[sh_idx::STATS + i]),
                None => return bar.read_sized(off as usize, size),
            },
        };
        let shift = (off & 3) * 8;
        Ok(match size {
            1 => (full >> shift) & 0xff,
            2 => (full >> shift) & 0xffff,
            _ => full,
        })
    }

    fn shadow_write(&self, sh: &mut Shadow, reg: u32, mask: u32, val: u32) {
        use crate::shared::igb::regs as r;
        let v = val & mask;
        match reg {
            r::EIMS => sh.words[sh_idx::EIMS] |= v,
            r::EIMC => sh.words[sh_idx::EIMS] &= !v,
            r::IVAR0 => sh.words[sh_idx::IVAR0] = (sh.words[sh_idx::IVAR0] & !mask) | v,
            r::IVAR_MISC => sh.words[sh_idx::IVAR_MISC] = (sh.words[sh_idx::IVAR_MISC] & !mask) | v,
            // A VF software reset masks every interrupt; the PF forgets the VF's requests.
            r::CTRL if v & regs::CTRL::RST_MASK != 0 => {
                sh.words[sh_idx::EIMS] = 0;
                sh.words[sh_idx::MBX_PENDING] = 0;
                sh.words[sh_idx::ARMED] = 0;
                sh.block = nic::PrivateBlock::ZERO;
            }
            _ if (r::VMBMEM..r::VMBMEM + 4 * igb::MBX_MSG_DWORDS as u32).contains(&reg) => {
                // A guest that writes the mailbox memory before reading the PF's reply can no
                // longer be told an ACK from its own write: what is pending is dropped.
                sh.words[sh_idx::MBX_PENDING] = 0;
                let i = sh_idx::VMBMEM + ((reg - r::VMBMEM) / 4) as usize;
                if let Some(w) = sh.words.get_mut(i) {
                    *w = (*w & !mask) | v;
                }
            }
            // The guest sends a message (REQ). A request the target must repeat is kept as
            // pending, and recorded only once the PF has ACKed it (`resolve_pending`): what
            // the PF refused is not the guest's to have on the target either.
            r::V2PMAILBOX if v & regs::V2PMAILBOX::REQ_MASK != 0 => {
                let mut m = [0u32; igb::MBX_MSG_DWORDS];
                for (d, s) in m.iter_mut().zip(sh.words.iter().skip(sh_idx::VMBMEM)) {
                    *d = *s;
                }
                sh.words[sh_idx::MBX_PENDING] = 0;
                // Whatever it asks, the PF's side of the VF may not be what was armed any more.
                sh.words[sh_idx::ARMED] = 0;
                if m[0] & 0xffff == regs::msg::VF_RESET {
                    // The PF forgets everything the VF asked for on its reset message.
                    sh.block = nic::PrivateBlock::ZERO;
                } else if igb::MbxRequests::default().record(&m) {
                    for (d, s) in sh.words.iter_mut().skip(sh_idx::PENDING_MSG).zip(m) {
                        *d = s;
                    }
                    sh.words[sh_idx::MBX_PENDING] = 1;
                }
            }
            _ => {}
        }
    }

    fn held_ctl<'a>(&self, held: &'a mut QueueCtl, reg: u32) -> Option<&'a mut u32> {
        let stride = regs::QUEUE_STRIDE as u32;
        let queue = |base: u32, ctl: u32| (0..2u32).find(|&q| reg == base + q * stride + ctl);
        if let Some(q) = queue(regs::RX_BASE, regs::RX_RXDCTL) {
            return held.rx.get_mut(q as usize);
        }
        if let Some(q) = queue(regs::TX_BASE, regs::TX_TXDCTL) {
            return held.tx.get_mut(q as usize);
        }
        None
    }

    fn held_write(&self, held: &mut QueueCtl, reg: u32, mask: u32, val: u32) {
        if reg == crate::shared::igb::regs::CTRL && val & mask & regs::CTRL::RST_MASK != 0 {
            // A VF software reset disables the queues and masks every interrupt.
            for ctl in held.rx.iter_mut() {
                *ctl &= !regs::RXDCTL::ENABLE_MASK;
            }
            for ctl in held.tx.iter_mut() {
                *ctl &= !regs::TXDCTL::ENABLE_MASK;
            }
            held.kick = 0;
        }
    }

    fn dma_register(&self, reg: u32) -> bool {
        // The queue registers, and CTRL (a VF software reset disables the queues).
        queue_register(reg) || reg == crate::shared::igb::regs::CTRL
    }

    fn is_doorbell(&self, reg: u32) -> bool {
        let stride = regs::QUEUE_STRIDE as u32;
        (0..2).any(|q| {
            reg == regs::RX_BASE + q * stride + regs::RX_RDT
                || reg == regs::TX_BASE + q * stride + regs::TX_TDT
        })
    }

    fn dma_view(
        &self,
        bar: &BarMapping,
        only: Option<u32>,
        held: Option<&QueueCtl>,
        view: &mut DmaView,
    ) -> Result {
        let io = bar.io::<BAR0_SIZE>()?;
        *view = DmaView::default();
        // Rings 0 and 1 are the Rx queues; areas 0/1 their descriptor rings, 2/3 the Tx
        // descriptor rings, 4/5 the Tx head write-back words (see `trapped_write`). A queue
        // register write changes only the queue whose register block holds it.
        let only = only.filter(|r| queue_register(*r));
        let stride = regs::QUEUE_STRIDE as u32;
        let block = |base: u32, q: u32| {
            only.is_none_or(|r| (base + q * stride..base + (q + 1) * stride).contains(&r))
        };
        let rx_held = |q: usize| held.is_some_and(|h| regs::RXDCTL::from(h.rx[q]).enable());
        let tx_held = |q: usize| held.is_some_and(|h| regs::TXDCTL::from(h.tx[q]).enable());
        if block(regs::RX_BASE, 0) {
            view.rings[0] = rx_view::<RxQ0>(io, rx_held(0));
            view.areas[0] = ring_area(&view.rings[0]);
        }
        if block(regs::RX_BASE, 1) {
            view.rings[1] = rx_view::<RxQ1>(io, rx_held(1));
            view.areas[1] = ring_area(&view.rings[1]);
        }
        if block(regs::TX_BASE, 0) {
            (view.areas[2], view.areas[4]) = tx_view::<TxQ0>(io, tx_held(0));
        }
        if block(regs::TX_BASE, 1) {
            (view.areas[3], view.areas[5]) = tx_view::<TxQ1>(io, tx_held(1));
        }
        Ok(())
    }

    fn trapped_write(&self, view: &mut DmaView, reg: u32, old: u32, new: u32) -> Posted {
        let stride = regs::QUEUE_STRIDE as u32;
        if (regs::RX_BASE..regs::RX_BASE + 2 * stride).contains(&reg) {
            let q = ((reg - regs::RX_BASE) / stride) as usize;
            let r = &mut view.rings[q];
            match (reg - regs::RX_BASE) % stride {
                regs::RX_RDT => {
                    let from = r.tail;
                    r.tail = new & regs::DESC_INDEX_MASK;
                    return Posted::Slots {
                        ring: q,
                        from,
                        to: r.tail,
                    };
                }
                regs::RX_RDBAL => {
                    r.base = (r.base & !0xffff_ffff) | u64::from(new & regs::DBAL_MASK)
                }
                regs::RX_RDBAH => r.base = (r.base & 0xffff_ffff) | (u64::from(new) << 32),
                regs::RX_RDLEN => r.count = (new & regs::DLEN_MASK) / RX_DESC_SIZE,
                regs::RX_RDH => r.head = new & regs::DESC_INDEX_MASK,
                regs::RX_SRRCTL => r.bufs = rx_bufs(regs::SRRCTL::from(new)),
                regs::RX_RXDCTL => r.enabled = regs::RXDCTL::from(new).enable(),
                _ => return Posted::Nothing,
            }
            view.areas[q] = ring_area(r);
            return if old == new {
                Posted::Nothing
            } else {
                Posted::Rescan
            };
        }
        if (regs::TX_BASE..regs::TX_BASE + 2 * stride).contains(&reg) {
            // The Tx queue registers that move what the device writes: the ring (descriptor
            // write-back), the head write-back address and the enable. The tail hands over
            // buffers the device only reads. The areas of the new configuration are logged by
            // the rescan after the write, before any report can run (`dirty.rs`).
            return match (reg - regs::TX_BASE) % stride {
                regs::TX_TDBAL
                | regs::TX_TDBAH
                | regs::TX_TDLEN
                | regs::TX_TDWBAL
                | regs::TX_TDWBAH
                | regs::TX_TXDCTL
                    if old != new =>
                {
                    Posted::Rescan
                }
                _ => Posted::Nothing,
            };
        }
        // A VF software reset disables every queue: look again after it.
        if reg == crate::shared::igb::regs::CTRL && new & regs::CTRL::RST_MASK != 0 {
            return Posted::Rescan;
        }
        Posted::Nothing
    }
}

/// Whether `reg` is in the register block of an Rx or Tx queue.
fn queue_register(reg: u32) -> bool {
    let end = 2 * regs::QUEUE_STRIDE as u32;
    (regs::RX_BASE..regs::RX_BASE + end).contains(&reg)
        || (regs::TX_BASE..regs::TX_BASE + end).contains(&reg)
}

/// Bytes per Rx descriptor (legacy and advanced formats alike).
const RX_DESC_SIZE: u32 = 16;
/// Bytes per Tx descriptor.
const TX_DESC_SIZE: u64 = 16;

/// The buffers an Rx descriptor names under `srrctl`: the packet buffer address at offset 0 in
/// every format, and with a header-split descriptor type the header buffer address at offset
/// 8. A size field of 0 leaves the size to the PF's RCTL: assume the largest (16 KiB packet,
/// 4 KiB header), so the tracker can only over-report.
fn rx_bufs(srrctl: regs::SRRCTL) -> [BufField; 2] {
    let pkt = match u64::from(srrctl.bsizepkt()) {
        0 => 16 * 1024,
        kib => kib * 1024,
    };
    let hdr = match u64::from(srrctl.bsizehdr()) {
        0 => 4096,
        units => units * 64,
    };
    let split = matches!(srrctl.desctype().get(), 2..=5);
    [
        BufField {
            offset: 0,
            len: pkt,
        },
        BufField {
            offset: 8,
            len: if split { hdr } else { 0 },
        },
    ]
}

/// The descriptor ring of `r` as an always-written area (descriptor write-back); none while
/// the queue is disabled.
fn ring_area(r: &BufRing) -> (u64, u64) {
    if !r.enabled {
        return (0, 0);
    }
    (r.base, u64::from(r.count) * u64::from(r.desc_size))
}

/// Rx queue `B` as a buffer ring (from the same register reads as the snapshot, [`rx_ring`]);
/// enabled if RXDCTL says so or `held` (vfmig holds it disabled and enables it on RUNNING).
fn rx_view<B: RegisterBase<RxQueue>>(io: Bar0<'_>, held: bool) -> BufRing {
    let r = rx_ring::<B>(io);
    BufRing {
        base: r.base,
        count: (r.len & regs::DLEN_MASK) / RX_DESC_SIZE,
        desc_size: RX_DESC_SIZE,
        head: r.head & regs::DESC_INDEX_MASK,
        tail: r.tail & regs::DESC_INDEX_MASK,
        bufs: rx_bufs(regs::SRRCTL::from(r.buf_ctrl)),
        enabled: held || regs::RXDCTL::from(r.ctrl).enable(),
    }
}

/// Tx queue `B`: its descriptor ring and its head write-back word (if enabled) as always-written
/// areas; none while the queue is disabled, unless `held` (vfmig holds it disabled and enables
/// it on RUNNING; from the snapshot's register reads, [`tx_ring`]).
fn tx_view<B: RegisterBase<TxQueue>>(io: Bar0<'_>, held: bool) -> ((u64, u64), (u64, u64)) {
    let r = tx_ring::<B>(io);
    if !held && !regs::TXDCTL::from(r.ctrl).enable() {
        return ((0, 0), (0, 0));
    }
    let len = u64::from(r.len & regs::DLEN_MASK);
    let ring = (r.base, len - len % TX_DESC_SIZE);
    let wb_on = regs::TDWBAL::from(lo32(r.wb_addr)).enable();
    (ring, (r.wb_addr & !3, if wb_on { 4 } else { 0 }))
}

/// Bound on the wait for a VF software reset to complete in [`Provider::reset`].
const RESET_TIMEOUT_MS: i64 = 10;

/// Bound on the wait for the queues to stop in [`Provider::quiesce`].
const QUIESCE_TIMEOUT_MS: i64 = 100;

/// Bound on each wait of the mailbox protocol (the PF answers from its interrupt handler).
const MBX_TIMEOUT_MS: i64 = 1000;
/// Polling interval of the mailbox waits.
const MBX_POLL_US: i64 = 200;

/// The VF side of the VF<->PF mailbox (`igbvf/mbx.c`), driven by vfmig while the guest cannot
/// use it. V2PMAILBOX's PFSTS/PFACK/RSTD clear when read, so the bits seen are kept in `r2c`
/// until consumed (as igbvf's `v2p_mailbox`).
struct VfMbx<'a> {
    io: Bar0<'a>,
    r2c: u32,
}

impl<'a> VfMbx<'a> {
    fn new(io: Bar0<'a>) -> Self {
        Self { io, r2c: 0 }
    }

    /// V2PMAILBOX with the read-to-clear bits seen earlier and not yet consumed.
    fn status(&mut self) -> u32 {
        let v = self.io.read(regs::V2PMAILBOX).into_raw() | self.r2c;
        self.r2c |= v & regs::MBX_R2C_MASK;
        v
    }

    /// Whether any bit of `mask` is set; consumes them.
    fn take(&mut self, mask: u32) -> bool {
        let v = self.status();
        self.r2c &= !mask;
        v & mask != 0
    }

    /// Waits (bounded) for a bit of `mask`, consuming it; `ETIMEDOUT` if it does not come.
    fn wait(&mut self, mask: u32) -> Result {
        read_poll_timeout(
            || Ok(self.take(mask)),
            |seen: &bool| *seen,
            Delta::from_micros(MBX_POLL_US),
            Delta::from_millis(MBX_TIMEOUT_MS),
        )
        .map(|_| ())
    }

    /// Takes the buffer for the VF (VFU), bounded; `EBUSY` if the PF keeps it.
    fn lock(&mut self) -> Result {
        let vfu = regs::V2PMAILBOX::zeroed().with_vfu(true);
        read_poll_timeout(
            || {
                self.io.write_reg(vfu);
                Ok(self.status() & regs::V2PMAILBOX::VFU_MASK != 0)
            },
            |owned: &bool| *owned,
            Delta::from_micros(MBX_POLL_US),
            Delta::from_millis(MBX_TIMEOUT_MS),
        )
        .map(|_| ())
        .map_err(|_| EBUSY)
    }

    /// Sends `msg` (REQ) and waits for the PF's ACK.
    fn write(&mut self, msg: &[u32]) -> Result {
        self.lock()?;
        // Stale events: the buffer is about to be overwritten.
        self.take(regs::V2PMAILBOX::PFACK_MASK | regs::V2PMAILBOX::PFSTS_MASK);
        for (n, v) in msg.iter().enumerate() {
            self.io.try_write(
                regs::VMBMEM::try_at(n).ok_or(EINVAL)?,
                regs::VMBMEM::from(*v),
            )?;
        }
        // REQ alone also releases VFU.
        self.io.write_reg(regs::V2PMAILBOX::zeroed().with_req(true));
        self.wait(regs::V2PMAILBOX::PFACK_MASK)
    }

    /// Waits for the PF's message (PFSTS), reads it into `msg` and ACKs it (releasing the
    /// buffer).
    fn read(&mut self, msg: &mut [u32]) -> Result {
        self.wait(regs::V2PMAILBOX::PFSTS_MASK)?;
        self.lock()?;
        for (n, slot) in msg.iter_mut().enumerate() {
            *slot = self
                .io
                .try_read(regs::VMBMEM::try_at(n).ok_or(EINVAL)?)?
                .into_raw();
        }
        self.io.write_reg(regs::V2PMAILBOX::zeroed().with_ack(true));
        Ok(())
    }

    /// Sends `msg` and reads the PF's reply into it; the reply's message type without CTS.
    fn call(&mut self, msg: &mut [u32]) -> Result<u32> {
        self.write(msg)?;
        self.read(msg)?;
        Ok(msg.first().copied().unwrap_or(0) & !regs::msg::CTS)
    }
}

/// The packed MAC bytes in mailbox dwords 1..3 (little endian, as igb reads them).
fn mac_words(mac: &[u8; 6]) -> [u32; 2] {
    [
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        u32::from_le_bytes([mac[4], mac[5], 0, 0]),
    ]
}

/// The MAC in mailbox dwords 1..3 of `msg`.
fn words_mac(msg: &[u32; regs::msg::MAC_MSG_DWORDS]) -> [u8; 6] {
    let a = msg[1].to_le_bytes();
    let b = msg[2].to_le_bytes();
    [a[0], a[1], a[2], a[3], b[0], b[1]]
}

/// What of a state the PF side of the VF is made from ([`pf_side`]): the MAC and the guest's
/// recorded requests.
fn pf_side_key(st: &NicVfState) -> (Option<[u8; 6]>, igb::MbxRequests) {
    (st.pf.as_ref().map(|pf| pf.mac), state_requests(st))
}

/// The guest's recorded mailbox requests in a state (none if it has no such section).
fn state_requests(st: &NicVfState) -> igb::MbxRequests {
    st.private()
        .iter()
        .find(|b| b.ty == igb::SECTION_IGB_MBX)
        .map(mbx_requests)
        .unwrap_or_default()
}

/// The PF side of the VF for `st` (igb-migration.rst, "PF-side state and the mailbox"): every
/// VF reset or FLR makes igb forget a guest-chosen MAC and keep the VF's Rx/Tx (VFRE/VFTE) off
/// until the VF sends E1000_VF_RESET. The queues are disabled and the guest is not running
/// (RESUMING), so nobody else uses the mailbox: send the reset message, then the saved MAC, as
/// the guest's driver did at probe, then what the guest asked of the PF besides its MAC (only
/// what the source's PF ACKed), as the guest asked it; the PF judges each one. Nothing to do
/// for a state without the PF section. Overwrites the mailbox memory.
fn pf_side(io: Bar0<'_>, st: &NicVfState) -> Result {
    let Some(pf) = &st.pf else {
        return Ok(());
    };
    pf_handshake(io, &pf.mac)?;
    replay_requests(io, &state_requests(st))
}

/// The mailbox memory (VMBMEM).
fn mbx_mem(io: Bar0<'_>) -> Result<[u32; igb::MBX_MSG_DWORDS]> {
    let mut mem = [0u32; igb::MBX_MSG_DWORDS];
    for (n, w) in mem.iter_mut().enumerate() {
        *w = io
            .try_read(regs::VMBMEM::try_at(n).ok_or(EINVAL)?)?
            .into_raw();
    }
    Ok(mem)
}

/// Writes the mailbox memory (VMBMEM).
fn put_mbx_mem(io: Bar0<'_>, mem: &[u32; igb::MBX_MSG_DWORDS]) -> Result {
    for (n, w) in mem.iter().enumerate() {
        io.try_write(
            regs::VMBMEM::try_at(n).ok_or(EINVAL)?,
            regs::VMBMEM::from(*w),
        )?;
    }
    Ok(())
}

/// Runs `f`, which overwrites the mailbox memory; if it fails, puts the memory back as it was.
fn with_mbx_mem_kept_on_error(io: Bar0<'_>, f: impl FnOnce() -> Result) -> Result {
    let before = mbx_mem(io)?;
    if let Err(e) = f() {
        put_mbx_mem(io, &before)?;
        return Err(e);
    }
    Ok(())
}

/// Rebuilds the PF's view of the VF from the kernel, through the VF's own mailbox: the reset
/// message (igb_vf_reset_msg: VFRE/VFTE on, CTS), then `mac` with E1000_VF_SET_MAC_ADDR unless
/// the PF already answered the reset with it (an administrator-set MAC) or `mac` is zero.
/// `EAGAIN` if the PF stays in reset, `ETIMEDOUT`/`EBUSY` if it does not answer, `EPROTO` for
/// an unexpected reply, `EPERM` if it refuses the MAC.
fn pf_handshake(io: Bar0<'_>, mac: &[u8; 6]) -> Result {
    use regs::msg;
    let mut mbx = VfMbx::new(io);
    // igbvf: nothing is sent while the PF signals a reset in progress (RSTI).
    read_poll_timeout(
        || Ok(mbx.status() & regs::V2PMAILBOX::RSTI_MASK == 0),
        |done: &bool| *done,
        Delta::from_micros(MBX_POLL_US),
        Delta::from_millis(MBX_TIMEOUT_MS),
    )
    .map_err(|_| EAGAIN)?;
    mbx.r2c &= !regs::V2PMAILBOX::RSTD_MASK;

    let mut m = [0u32; msg::MAC_MSG_DWORDS];
    m[0] = msg::VF_RESET;
    let held = match mbx.call(&mut m)? {
        t if t == msg::VF_RESET | msg::ACK => Some(words_mac(&m)),
        t if t == msg::VF_RESET | msg::NACK => None,
        t => {
            pr_info!("igb: unexpected reset reply {:#010x}\n", t);
            return Err(EPROTO);
        }
    };
    if *mac == [0u8; 6] || held.as_ref() == Some(mac) {
        return Ok(());
    }
    let [w1, w2] = mac_words(mac);
    let mut m = [msg::VF_SET_MAC_ADDR, w1, w2];
    match mbx.call(&mut m)? {
        t if t == msg::VF_SET_MAC_ADDR | msg::ACK => Ok(()),
        t => {
            // Userspace can repeat this at will (the migration code reports the EPERM).
            pr_debug!("igb: SET_MAC_ADDR refused by the PF ({:#010x})\n", t);
            Err(EPERM)
        }
    }
}

/// Sends the guest's recorded requests through the VF's mailbox (after the reset handshake):
/// the multicast list, each VLAN, the large-frame size, the promiscuous modes. A NACK is the PF's
/// answer to the guest too (it refused the same request on the source): logged, not an error.
fn replay_requests(io: Bar0<'_>, rq: &igb::MbxRequests) -> Result {
    let mut mbx = VfMbx::new(io);
    let mut send = |msg: &mut [u32]| -> Result {
        let ty = msg.first().copied().unwrap_or(0) & 0xffff;
        let reply = mbx.call(msg)?;
        if reply & regs::msg::NACK != 0 {
            pr_debug!(
                "igb: the PF refused replayed request {:#x} ({:#010x})\n",
                ty,
                reply
            );
        } else if reply & 0xffff != ty || reply & regs::msg::ACK == 0 {
            pr_info!(
                "igb: unexpected reply {:#010x} to replayed request {:#x}\n",
                reply,
                ty
            );
            return Err(EPROTO);
        }
        Ok(())
    };
    if rq.flags & igb::MBX_HAS_MULTICAST != 0 {
        let count = ((rq.multicast[0] >> 16) & 0xff) as usize;
        let words = (1 + count.div_ceil(2)).min(igb::MBX_MSG_DWORDS);
        let mut m = rq.multicast;
        send(m.get_mut(..words).ok_or(EINVAL)?)?;
    }
    for vid in rq.vlans() {
        send(&mut [igb::msg::SET_VLAN | 1 << 16, u32::from(*vid)])?;
    }
    if rq.flags & igb::MBX_HAS_LPE != 0 {
        send(&mut [igb::msg::SET_LPE, rq.lpe])?;
    }
    if rq.flags & igb::MBX_HAS_PROMISC != 0 {
        send(&mut [rq.promisc])?;
    }
    Ok(())
}

/// Whether every queue reads back disabled and each Tx queue that was enabled has sent what
/// it was given (head == tail).
fn quiescent(io: Bar0<'_>, tx_was_on: [bool; 2]) -> bool {
    use regs::{
        RXDCTL,
        TDH,
        TDT,
        TXDCTL, //
    };
    let rx_off = !io.read(RXDCTL::of::<RxQ0>()).enable() && !io.read(RXDCTL::of::<RxQ1>()).enable();
    let tx_off = !io.read(TXDCTL::of::<TxQ0>()).enable() && !io.read(TXDCTL::of::<TxQ1>()).enable();
    let drained = |on: bool, head: u32, tail: u32| !on || head == tail;
    rx_off
        && tx_off
        && drained(
            tx_was_on[0],
            io.read(TDH::of::<TxQ0>()).into_raw(),
            io.read(TDT::of::<TxQ0>()).into_raw(),
        )
        && drained(
            tx_was_on[1],
            io.read(TDH::of::<TxQ1>()).into_raw(),
            io.read(TDT::of::<TxQ1>()).into_raw(),
        )
}

/// Saves Rx queue `B`'s control and clears its enable; returns the saved value.
fn rx_disable<B: RegisterBase<RxQueue>>(io: Bar0<'_>) -> u32 {
    let ctl = io.read(regs::RXDCTL::of::<B>());
    io.write(WithBase::of::<B>(), ctl.with_enable(false));
    ctl.into_raw()
}

/// Saves Tx queue `B`'s control and clears its enable; returns the saved value.
fn tx_disable<B: RegisterBase<TxQueue>>(io: Bar0<'_>) -> u32 {
    let ctl = io.read(regs::TXDCTL::of::<B>());
    io.write(WithBase::of::<B>(), ctl.with_enable(false));
    ctl.into_raw()
}

/// Writes Rx queue `B`'s control back, then its tail (which restarts reception).
fn rx_enable<B: RegisterBase<RxQueue>>(io: Bar0<'_>, ctl: u32) {
    io.write(WithBase::of::<B>(), regs::RXDCTL::from(ctl));
    let tail = io.read(regs::RDT::of::<B>());
    io.write(WithBase::of::<B>(), tail);
}

/// Writes Tx queue `B`'s control back, then its tail (which restarts transmission).
fn tx_enable<B: RegisterBase<TxQueue>>(io: Bar0<'_>, ctl: u32) {
    io.write(WithBase::of::<B>(), regs::TXDCTL::from(ctl));
    let tail = io.read(regs::TDT::of::<B>());
    io.write(WithBase::of::<B>(), tail);
}

/// The low 32 bits of an address.
fn lo32(v: u64) -> u32 {
    (v & 0xffff_ffff) as u32
}

/// The high 32 bits of an address.
fn hi32(v: u64) -> u32 {
    (v >> 32) as u32
}

/// Programs Rx queue `B` from `r` with the queue disabled (igb-migration.rst: base, length and
/// SRRCTL, then head, then tail); returns the control to write when the VF runs.
fn rx_program<B: RegisterBase<RxQueue>>(io: Bar0<'_>, r: &Ring) -> u32 {
    use regs::{
        RDBAH,
        RDBAL,
        RDH,
        RDLEN,
        RDT,
        RXDCTL,
        SRRCTL, //
    };
    let ctl = RXDCTL::from(r.ctrl);
    io.write(WithBase::of::<B>(), ctl.with_enable(false));
    io.write(WithBase::of::<B>(), RDBAL::from(lo32(r.base)));
    io.write(WithBase::of::<B>(), RDBAH::from(hi32(r.base)));
    io.write(WithBase::of::<B>(), RDLEN::from(r.len));
    io.write(WithBase::of::<B>(), SRRCTL::from(r.buf_ctrl));
    io.write(WithBase::of::<B>(), RDH::from(r.head));
    io.write(WithBase::of::<B>(), RDT::from(r.tail));
    r.ctrl
}

/// Programs Tx queue `B` from `r` with the queue disabled (base, length, head write-back, then
/// head, then tail; a disabled queue does not transmit); returns the control to write when the
/// VF runs.
fn tx_program<B: RegisterBase<TxQueue>>(io: Bar0<'_>, r: &Ring) -> u32 {
    use regs::{
        TDBAH,
        TDBAL,
        TDH,
        TDLEN,
        TDT,
        TDWBAH,
        TDWBAL,
        TXDCTL, //
    };
    let ctl = TXDCTL::from(r.ctrl);
    io.write(WithBase::of::<B>(), ctl.with_enable(false));
    io.write(WithBase::of::<B>(), TDBAL::from(lo32(r.base)));
    io.write(WithBase::of::<B>(), TDBAH::from(hi32(r.base)));
    io.write(WithBase::of::<B>(), TDLEN::from(r.len));
    io.write(WithBase::of::<B>(), TDWBAL::from(lo32(r.wb_addr)));
    io.write(WithBase::of::<B>(), TDWBAH::from(hi32(r.wb_addr)));
    io.write(WithBase::of::<B>(), TDH::from(r.head));
    io.write(WithBase::of::<B>(), TDT::from(r.tail));
    r.ctrl
}

/// Joins the two halves of a 64-bit address.
fn addr64(hi: u32, lo: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Reads the ring registers of Rx queue `B`.
fn rx_ring<B: RegisterBase<RxQueue>>(io: Bar0<'_>) -> Ring {
    use regs::{
        RDBAH,
        RDBAL,
        RDH,
        RDLEN,
        RDT,
        RXDCTL,
        SRRCTL, //
    };
    Ring {
        // Set by `NicVfState::push_rx`.
        queue: 0,
        len: io.read(RDLEN::of::<B>()).into_raw(),
        base: addr64(
            io.read(RDBAH::of::<B>()).into_raw(),
            io.read(RDBAL::of::<B>()).into_raw(),
        ),
        head: io.read(RDH::of::<B>()).into_raw(),
        tail: io.read(RDT::of::<B>()).into_raw(),
        ctrl: io.read(RXDCTL::of::<B>()).into_raw(),
        buf_ctrl: io.read(SRRCTL::of::<B>()).into_raw(),
        wb_addr: 0,
    }
}

/// Reads the ring registers of Tx queue `B`.
fn tx_ring<B: RegisterBase<TxQueue>>(io: Bar0<'_>) -> Ring {
    use regs::{
        TDBAH,
        TDBAL,
        TDH,
        TDLEN,
        TDT,
        TDWBAH,
        TDWBAL,
        TXDCTL, //
    };
    Ring {
        // Set by `NicVfState::push_tx`.
        queue: 0,
        len: io.read(TDLEN::of::<B>()).into_raw(),
        base: addr64(
            io.read(TDBAH::of::<B>()).into_raw(),
            io.read(TDBAL::of::<B>()).into_raw(),
        ),
        head: io.read(TDH::of::<B>()).into_raw(),
        tail: io.read(TDT::of::<B>()).into_raw(),
        ctrl: io.read(TXDCTL::of::<B>()).into_raw(),
        buf_ctrl: 0,
        wb_addr: addr64(
            io.read(TDWBAH::of::<B>()).into_raw(),
            io.read(TDWBAL::of::<B>()).into_raw(),
        ),
    }
}

/// Indexes of the 82576 VF's words in a [`Shadow`].
mod sh_idx {
    /// The effective interrupt mask: EIMS writes set, EIMC writes clear (QEMU's EIMS reads
    /// back the last write, silicon's the mask: the guest reads this).
    pub(super) const EIMS: usize = 0;
    /// IVAR0 as the guest wrote it (QEMU ORs VF IVAR writes into the PF's IVAR).
    pub(super) const IVAR0: usize = 1;
    /// IVAR_MISC as the guest wrote it.
    pub(super) const IVAR_MISC: usize = 2;
    /// V2PMAILBOX read-to-clear bits vfmig consumed, for the guest's next read.
    pub(super) const MBX_R2C: usize = 3;
    /// Offsets added to the counters of [`super::STAT_REGS`] (five words).
    pub(super) const STATS: usize = 4;
    /// 1 while the request in `PENDING_MSG` waits for the PF's answer, else 0.
    pub(super) const MBX_PENDING: usize = 9;
    /// 1 from a successful `arm` until anything may have changed the PF's side of the VF
    /// since (a VF reset, a message the VMM sent, a restore attempt), else 0.
    pub(super) const ARMED: usize = 10;
    /// VMBMEM as the guest wrote it (16 words): the message it sends with REQ.
    pub(super) const VMBMEM: usize = 16;
    /// A request the guest sent that the record keeps once the PF ACKs it (16 words).
    pub(super) const PENDING_MSG: usize = 32;
}

/// The PF's reply word `w0` (VMBMEM word 0, as the guest or a snapshot reads it) decides the
/// pending request of `sh`: recorded if it ACKs the request's type, dropped if it NACKs it,
/// kept pending otherwise (no reply yet, or another message).
fn resolve_pending(sh: &mut Shadow, w0: u32) {
    if sh.words[sh_idx::MBX_PENDING] == 0 {
        return;
    }
    let mut m = [0u32; igb::MBX_MSG_DWORDS];
    for (d, s) in m.iter_mut().zip(sh.words.iter().skip(sh_idx::PENDING_MSG)) {
        *d = *s;
    }
    if w0 & 0xffff != m[0] & 0xffff {
        return;
    }
    if w0 & regs::msg::NACK != 0 {
        sh.words[sh_idx::MBX_PENDING] = 0;
    } else if w0 & regs::msg::ACK != 0 {
        sh.words[sh_idx::MBX_PENDING] = 0;
        let mut rq = mbx_requests(&sh.block);
        if rq.record(&m) {
            keep_mbx_requests(sh, &rq);
        }
    }
}

/// The statistics counters, in [`Stats`] order (`stat_values`).
const STAT_REGS: [u32; 5] = {
    use crate::shared::igb::regs as r;
    [r::VFGPRC, r::VFGORC, r::VFGPTC, r::VFGOTC, r::VFMPRC]
};
const _: () = assert!(sh_idx::STATS + STAT_REGS.len() <= sh_idx::MBX_PENDING);
const _: () = assert!(sh_idx::MBX_PENDING < sh_idx::VMBMEM);
const _: () = assert!(sh_idx::VMBMEM + igb::MBX_MSG_DWORDS <= sh_idx::PENDING_MSG);
const _: () = assert!(sh_idx::PENDING_MSG + igb::MBX_MSG_DWORDS <= super::SHADOW_WORDS);

/// The guest's mailbox requests kept in `sh` (none if nothing was recorded).
fn mbx_requests(block: &nic::PrivateBlock) -> igb::MbxRequests {
    if block.ty != igb::SECTION_IGB_MBX {
        return igb::MbxRequests::default();
    }
    igb::MbxRequests::decode(block.payload()).unwrap_or_default()
}

/// Keeps `rq` as the shadow's private block (cleared when empty).
fn keep_mbx_requests(sh: &mut Shadow, rq: &igb::MbxRequests) {
    sh.block = nic::PrivateBlock::ZERO;
    if rq.is_empty() {
        return;
    }
    let mut buf = [0u8; igb::MBX_PAYLOAD_LEN];
    if let Ok(n) = rq.encode(&mut buf) {
        sh.block.ty = igb::SECTION_IGB_MBX;
        sh.block.flags = crate::shared::format::SECTION_FLAG_OPTIONAL;
        if sh.block.set_payload(buf.get(..n).unwrap_or(&[])).is_err() {
            sh.block = nic::PrivateBlock::ZERO;
        }
    }
}

/// The counters of `s` in [`STAT_REGS`] order.
fn stat_values(s: &Stats) -> [u64; 5] {
    [
        s.rx_packets,
        s.rx_octets,
        s.tx_packets,
        s.tx_octets,
        s.rx_multicast,
    ]
}

/// Reads the interrupt registers that read back what the guest wrote, and the shadows.
fn interrupts(io: Bar0<'_>, sh: &Shadow) -> Result<Interrupts> {
    let mut irq = Interrupts {
        num_vectors: igb::NUM_VECTORS,
        num_ivar: igb::NUM_IVAR,
        // EIAC, EIAM and EITR read back as written (QEMU keeps the VF's PVTEIAC/PVTEIAM and
        // maps EITR onto PF EITR registers; the OR-ed copies in the PF's EIAC/EIAM are a side
        // effect that a restore has to mind). The guest test checks the read-back.
        auto_clear: io.read(regs::EIAC).into_raw(),
        auto_mask: io.read(regs::EIAM).into_raw(),
        // The effective mask from the shadow of EIMS/EIMC writes.
        enabled: sh.words[sh_idx::EIMS],
        // EICR reads back only what was written to it on QEMU and is read-to-clear on silicon:
        // never read here. Instead the target raises every enabled vector once when it runs
        // (`QueueCtl::kick`), which covers any cause pending on the source.
        pending: 0,
        ..Interrupts::ZERO
    };
    for (n, slot) in irq
        .itr
        .iter_mut()
        .take(usize::from(igb::NUM_VECTORS))
        .enumerate()
    {
        *slot = io
            .try_read(regs::EITR::try_at(n).ok_or(EINVAL)?)?
            .into_raw();
    }
    // IVAR0 and IVAR_MISC writes are OR-ed into the PF's IVAR registers on QEMU: the guest's
    // own values come from the shadow.
    irq.ivar[0] = sh.words[sh_idx::IVAR0];
    irq.ivar[1] = sh.words[sh_idx::IVAR_MISC];
    Ok(irq)
}

/// Reads the mailbox memory and status. Reading V2PMAILBOX clears PFSTS, PFACK and RSTD: the
/// bits read are kept in the shadow for the guest's next read (as igbvf keeps them in
/// `v2p_mailbox`).
fn mailbox(io: Bar0<'_>, sh: &mut Shadow) -> Result<Mailbox> {
    // Without the trap the guest reads V2PMAILBOX itself: leave its bits alone (status 0).
    let status = if sh.live {
        io.read(regs::V2PMAILBOX).into_raw() | sh.words[sh_idx::MBX_R2C]
    } else {
        0
    };
    sh.words[sh_idx::MBX_R2C] = status & regs::MBX_R2C_MASK;
    let mut mbx = Mailbox {
        num_dwords: igb::MAILBOX_DWORDS,
        status,
        ..Mailbox::ZERO
    };
    for (n, slot) in mbx
        .mem
        .iter_mut()
        .take(usize::from(igb::MAILBOX_DWORDS))
        .enumerate()
    {
        *slot = io
            .try_read(regs::VMBMEM::try_at(n).ok_or(EINVAL)?)?
            .into_raw();
    }
    Ok(mbx)
}

/// Reads the statistics counters as the guest sees them: 32-bit, wrapping and read-only on
/// the device, continued across a migration by the offsets in the shadow (the target's
/// counters start wherever they are; the guest reads them plus the offset).
fn stats(io: Bar0<'_>, sh: &Shadow) -> Stats {
    let v = |hw: u32, i: usize| u64::from(hw.wrapping_add(sh.words[sh_idx::STATS + i]));
    Stats {
        rx_packets: v(io.read(regs::VFGPRC).into_raw(), 0),
        rx_octets: v(io.read(regs::VFGORC).into_raw(), 1),
        tx_packets: v(io.read(regs::VFGPTC).into_raw(), 2),
        tx_octets: v(io.read(regs::VFGOTC).into_raw(), 3),
        rx_multicast: v(io.read(regs::VFMPRC).into_raw(), 4),
    }
}

// The register map and the shared format agree on the VF's shape.
const _: () = assert!(regs::NUM_VECTORS == igb::NUM_VECTORS as usize);
const _: () = assert!(regs::MAILBOX_DWORDS == igb::MAILBOX_DWORDS as usize);

// Only in the test build (`make kunit`): the production module carries no KUnit suite.
#[cfg(vfmig_kunit)]
#[kunit_tests(vfmig_igb)]
mod tests {
    //! The 82576 VF provider's register logic that needs no device: the shadows fed by
    //! trapped writes and what a trapped write hands to the device (the dirty tracker's view).
    use kernel::prelude::*;

    use super::{
        regs,
        sh_idx,
        Igb82576Vf, //
    };
    use crate::{
        provider::{
            BufRing,
            DmaView,
            Posted,
            Provider,
            Shadow, //
        },
        shared::igb::regs as r,
    };

    #[test]
    fn eims_shadow_is_the_effective_mask() -> Result {
        let p = Igb82576Vf;
        let mut sh = Shadow::default();
        p.shadow_write(&mut sh, r::EIMS, u32::MAX, 0x7);
        p.shadow_write(&mut sh, r::EIMC, u32::MAX, 0x4);
        assert_eq!(sh.words[sh_idx::EIMS], 0x3);
        // A byte write sets only the bits of its byte.
        p.shadow_write(&mut sh, r::EIMS, 0xff00, 0x0400);
        assert_eq!(sh.words[sh_idx::EIMS], 0x403);
        // A VF software reset masks everything; other CTRL writes do not.
        p.shadow_write(&mut sh, r::CTRL, u32::MAX, 0);
        assert_eq!(sh.words[sh_idx::EIMS], 0x403);
        p.shadow_write(&mut sh, r::CTRL, u32::MAX, regs::CTRL::RST_MASK);
        assert_eq!(sh.words[sh_idx::EIMS], 0);
        Ok(())
    }

    #[test]
    fn ivar_shadow_keeps_partial_writes() -> Result {
        let p = Igb82576Vf;
        let mut sh = Shadow::default();
        p.shadow_write(&mut sh, r::IVAR0, u32::MAX, 0x0000_8180);
        p.shadow_write(&mut sh, r::IVAR0, 0x00ff_0000, 0x0082_0000);
        assert_eq!(sh.words[sh_idx::IVAR0], 0x0082_8180);
        p.shadow_write(&mut sh, r::IVAR_MISC, u32::MAX, 0x82);
        assert_eq!(sh.words[sh_idx::IVAR_MISC], 0x82);
        // A function reset clears the allocation and the mask, keeps counters and mailbox bits.
        sh.words[sh_idx::MBX_R2C] = 0x10;
        sh.words[sh_idx::STATS] = 1234;
        p.shadow_reset(&mut sh);
        assert_eq!(sh.words[sh_idx::IVAR0], 0);
        assert_eq!(sh.words[sh_idx::IVAR_MISC], 0);
        assert_eq!(sh.words[sh_idx::MBX_R2C], 0x10);
        assert_eq!(sh.words[sh_idx::STATS], 1234);
        Ok(())
    }

    /// The guest sends `msg` through the trapped mailbox: VMBMEM writes, then REQ.
    fn send(p: &Igb82576Vf, sh: &mut Shadow, msg: &[u32]) {
        for (i, w) in msg.iter().enumerate() {
            p.shadow_write(sh, r::VMBMEM + 4 * i as u32, u32::MAX, *w);
        }
        p.shadow_write(sh, r::V2PMAILBOX, u32::MAX, regs::V2PMAILBOX::REQ_MASK);
    }

    /// The guest sends `msg` and reads the PF's reply `reply` (word 0).
    fn call(p: &Igb82576Vf, sh: &mut Shadow, msg: &[u32], reply: u32) {
        send(p, sh, msg);
        super::resolve_pending(sh, reply);
    }

    const ACK: u32 = regs::msg::ACK;
    const NACK: u32 = regs::msg::NACK;

    #[test]
    fn mailbox_requests_are_recorded() -> Result {
        let p = Igb82576Vf;
        let mut sh = Shadow::default();
        call(&p, &mut sh, &[0x03 | 1 << 16, 0xfb0], 0x03 | 1 << 16 | ACK);
        call(&p, &mut sh, &[0x04 | 1 << 16, 100], 0x04 | 1 << 16 | ACK);
        // The MAC and unknown messages are not the record's.
        call(&p, &mut sh, &[0x02, 1, 2], 0x02 | ACK);
        // Acking a PF message (no REQ) records nothing.
        p.shadow_write(&mut sh, r::VMBMEM, u32::MAX, 0x05);
        p.shadow_write(&mut sh, r::V2PMAILBOX, u32::MAX, regs::V2PMAILBOX::ACK_MASK);
        let rq = super::mbx_requests(&sh.block);
        assert_eq!(rq.multicast[..2], [0x03 | 1 << 16, 0xfb0]);
        assert_eq!(rq.vlans(), &[100]);
        assert_eq!(rq.flags, crate::shared::igb::MBX_HAS_MULTICAST);
        // The guest's reset message makes the PF forget everything: so does the record.
        send(&p, &mut sh, &[0x01]);
        assert!(super::mbx_requests(&sh.block).is_empty());
        call(&p, &mut sh, &[0x05, 9018], 0x05 | ACK);
        assert_eq!(super::mbx_requests(&sh.block).lpe, 9018);
        p.shadow_write(&mut sh, r::CTRL, u32::MAX, regs::CTRL::RST_MASK);
        assert!(super::mbx_requests(&sh.block).is_empty());
        Ok(())
    }

    #[test]
    fn a_reset_while_held_disables_the_held_queues() -> Result {
        let p = Igb82576Vf;
        let en = regs::RXDCTL::ENABLE_MASK | 0x10;
        let mut held = crate::provider::QueueCtl {
            rx: [en; crate::shared::nic::MAX_QUEUES],
            tx: [regs::TXDCTL::ENABLE_MASK | 0x10; crate::shared::nic::MAX_QUEUES],
            kick: 1,
        };
        // Another register, or CTRL without RST: the queues stay as the guest left them.
        p.held_write(&mut held, r::EIMS, u32::MAX, u32::MAX);
        p.held_write(&mut held, r::CTRL, u32::MAX, 0);
        assert_eq!(held.rx[0], en);
        // The guest's VF reset: RUNNING must not enable them again.
        p.held_write(&mut held, r::CTRL, u32::MAX, regs::CTRL::RST_MASK);
        assert!(held.rx.iter().all(|c| *c == 0x10));
        assert!(held.tx.iter().all(|c| *c == 0x10));
        assert_eq!(held.kick, 0);
        Ok(())
    }

    #[test]
    fn only_acked_requests_are_recorded() -> Result {
        let p = Igb82576Vf;
        let mut sh = Shadow::default();
        // NACKed (a VLAN the port VLAN forbids, promiscuous mode without trust): not kept.
        call(&p, &mut sh, &[0x04 | 1 << 16, 7], 0x04 | 1 << 16 | NACK);
        call(&p, &mut sh, &[0x06 | 1 << 17], 0x06 | NACK);
        assert!(super::mbx_requests(&sh.block).is_empty());
        // No reply yet, or a reply to another message: still pending, not kept.
        send(&p, &mut sh, &[0x04 | 1 << 16, 8]);
        super::resolve_pending(&mut sh, 0);
        super::resolve_pending(&mut sh, 0x02 | ACK);
        assert!(super::mbx_requests(&sh.block).is_empty());
        // The ACK records it, once.
        super::resolve_pending(&mut sh, 0x04 | 1 << 16 | ACK);
        super::resolve_pending(&mut sh, 0x04 | 1 << 16 | ACK);
        assert_eq!(super::mbx_requests(&sh.block).vlans(), &[8]);
        // A new request replaces an unanswered one.
        send(&p, &mut sh, &[0x04 | 1 << 16, 9]);
        call(&p, &mut sh, &[0x05, 1522], 0x04 | 1 << 16 | ACK);
        assert_eq!(super::mbx_requests(&sh.block).vlans(), &[8]);
        assert_eq!(super::mbx_requests(&sh.block).lpe, 0);
        // A reset drops what is pending.
        send(&p, &mut sh, &[0x04 | 1 << 16, 10]);
        p.shadow_write(&mut sh, r::CTRL, u32::MAX, regs::CTRL::RST_MASK);
        super::resolve_pending(&mut sh, 0x04 | 1 << 16 | ACK);
        assert!(super::mbx_requests(&sh.block).is_empty());
        Ok(())
    }

    /// Rx queue 0 enabled, 64 descriptors at 0x10000, head 3, tail 10, 2 KiB buffers.
    fn view() -> DmaView {
        let mut v = DmaView::default();
        v.rings[0] = BufRing {
            base: 0x10000,
            count: 64,
            desc_size: 16,
            head: 3,
            tail: 10,
            bufs: super::rx_bufs(regs::SRRCTL::from(0x0200_0002)),
            enabled: true,
        };
        v
    }

    #[test]
    fn doorbell_hands_over_the_new_descriptors() -> Result {
        let p = Igb82576Vf;
        let mut v = view();
        // RDT of queue 0: 10 -> 20 (wrapping values are masked to 16 bits).
        let posted = p.trapped_write(&mut v, regs::RX_BASE + regs::RX_RDT, 10, 0x1_0014);
        assert_eq!(
            posted,
            Posted::Slots {
                ring: 0,
                from: 10,
                to: 20
            }
        );
        assert_eq!(v.rings[0].tail, 20);
        // Queue 1's doorbell names ring 1.
        let posted = p.trapped_write(&mut v, regs::RX_BASE + 0x100 + regs::RX_RDT, 0, 4);
        assert_eq!(
            posted,
            Posted::Slots {
                ring: 1,
                from: 0,
                to: 4
            }
        );
        // A Tx doorbell hands over buffers the device only reads.
        let posted = p.trapped_write(&mut v, regs::TX_BASE + 0x18, 0, 4);
        assert_eq!(posted, Posted::Nothing);
        Ok(())
    }

    #[test]
    fn ring_changes_rescan_with_the_new_shape() -> Result {
        let p = Igb82576Vf;
        let mut v = view();
        // A new length: count follows the datasheet/QEMU mask, the ring area follows.
        let posted = p.trapped_write(&mut v, regs::RX_BASE + regs::RX_RDLEN, 1024, 2048 + 5);
        assert_eq!(posted, Posted::Rescan);
        assert_eq!(v.rings[0].count, 128);
        assert_eq!(v.areas[0], (0x10000, 2048));
        // The same value again changes nothing.
        let posted = p.trapped_write(&mut v, regs::RX_BASE + regs::RX_RDLEN, 2048, 2048);
        assert_eq!(posted, Posted::Nothing);
        // Disabling the queue: no ring area; enabling it again: rescan.
        let posted = p.trapped_write(&mut v, regs::RX_BASE + regs::RX_RXDCTL, 0x0200_0000, 0);
        assert_eq!(posted, Posted::Rescan);
        assert!(!v.rings[0].enabled);
        assert_eq!(v.areas[0], (0, 0));
        // Header split: the header buffer at descriptor offset 8 counts too.
        let posted = p.trapped_write(&mut v, regs::RX_BASE + regs::RX_SRRCTL, 2, 0x0A00_0402);
        assert_eq!(posted, Posted::Rescan);
        assert_eq!(v.rings[0].bufs[0].len, 2048);
        assert_eq!(v.rings[0].bufs[1].offset, 8);
        assert_eq!(v.rings[0].bufs[1].len, 256);
        // A packet buffer size of 0 is the PF's choice: assume the largest.
        let posted = p.trapped_write(&mut v, regs::RX_BASE + regs::RX_SRRCTL, 2, 0x0200_0000);
        assert_eq!(posted, Posted::Rescan);
        assert_eq!(v.rings[0].bufs[0].len, 16 * 1024);
        assert_eq!(v.rings[0].bufs[1].len, 0);
        // Registers outside the queue blocks are not the tracker's.
        assert!(!p.dma_register(r::EIMS));
        assert!(p.dma_register(regs::TX_BASE + 0x100 + regs::TX_TDWBAL));
        // A VF software reset is looked at; the tails are doorbells, other registers are not.
        assert!(p.dma_register(r::CTRL));
        let mut v = view();
        let rst = regs::CTRL::RST_MASK;
        assert_eq!(p.trapped_write(&mut v, r::CTRL, 0, rst), Posted::Rescan);
        assert_eq!(p.trapped_write(&mut v, r::CTRL, 0, 0), Posted::Nothing);
        assert!(p.is_doorbell(regs::RX_BASE + regs::RX_RDT));
        assert!(p.is_doorbell(regs::TX_BASE + 0x100 + regs::TX_TDT));
        assert!(!p.is_doorbell(regs::RX_BASE + regs::RX_RDH));
        Ok(())
    }
}
