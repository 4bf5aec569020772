// SPDX-License-Identifier: GPL-2.0

//! The 82576 VF's BAR0 register file, defined once.
//!
//! Offsets and bits from `drivers/net/ethernet/intel/igbvf/regs.h`, `defines.h` and `mbx.h`
//! (TDWBAL/TDWBAH, absent from igbvf, from `drivers/net/ethernet/intel/igb/e1000_regs.h`: the
//! VF's queue registers have the PF's per-queue layout). Per-queue registers are *relative*
//! registers: one definition, instantiated at [`RxQ0`]/[`RxQ1`] and [`TxQ0`]/[`TxQ1`]. Per-vector
//! and mailbox registers are register *arrays*.
//!
//! Registers without named fields are plain 32-bit values (addresses, lengths, indices,
//! counters): read them with `into_raw()`.

// The map is complete on purpose: the snapshot uses the ring, interrupt, mailbox and statistics
// registers; quiesce and restore (issue 4) use the rest (CTRL.RST, EIMC, EICS, V2PMAILBOX).
#![allow(dead_code)]

use kernel::io::{
    register,
    register::RegisterBase, //
};

/// Smallest BAR0 of an 82576 VF (16 KiB); every register below lies inside it, which
/// [`kernel::io::Io::read`] checks at build time.
pub(crate) const BAR0_SIZE: usize = 0x4000;
/// Distance between the register blocks of two queues.
pub(crate) const QUEUE_STRIDE: usize = 0x100;
/// MSI-X vectors of one VF (EITR entries).
pub(crate) const NUM_VECTORS: usize = 3;
/// Dwords of VF<->PF mailbox memory.
pub(crate) const MAILBOX_DWORDS: usize = 16;

/// The BAR0 range vfmig traps (never mapped into userspace while migration is offered): all of
/// it. The queue registers (0x2000-0x3fff), whose tails hand buffers to the device, for the
/// dirty tracker; the interrupt registers (0x1000-0x1fff) and the mailbox and counters
/// (0x0000-0x0fff) for the shadows that keep the guest's view across a migration.
pub(crate) const TRAP_START: u32 = 0x0000;
/// End of the trapped BAR0 range.
pub(crate) const TRAP_END: u32 = 0x4000;
/// Offset of Rx queue 0's register block.
pub(crate) const RX_BASE: u32 = 0x2800;
/// Offset of Tx queue 0's register block.
pub(crate) const TX_BASE: u32 = 0x3800;
/// Offsets inside an Rx queue's block (checked against the definitions below).
pub(crate) const RX_RDBAL: u32 = 0x00;
/// See [`RX_RDBAL`].
pub(crate) const RX_RDBAH: u32 = 0x04;
/// See [`RX_RDBAL`].
pub(crate) const RX_RDLEN: u32 = 0x08;
/// See [`RX_RDBAL`].
pub(crate) const RX_SRRCTL: u32 = 0x0C;
/// See [`RX_RDBAL`].
pub(crate) const RX_RDH: u32 = 0x10;
/// See [`RX_RDBAL`].
pub(crate) const RX_RDT: u32 = 0x18;
/// See [`RX_RDBAL`].
pub(crate) const RX_RXDCTL: u32 = 0x28;
/// Offsets inside a Tx queue's block (checked against the definitions below).
pub(crate) const TX_TDBAL: u32 = 0x00;
/// See [`TX_TDBAL`].
pub(crate) const TX_TDBAH: u32 = 0x04;
/// See [`TX_TDBAL`].
pub(crate) const TX_TDLEN: u32 = 0x08;
/// See [`TX_TDBAL`].
pub(crate) const TX_TDT: u32 = 0x18;
/// See [`TX_TDBAL`].
pub(crate) const TX_TXDCTL: u32 = 0x28;
/// See [`TX_TDBAL`].
pub(crate) const TX_TDWBAL: u32 = 0x38;
/// See [`TX_TDBAL`].
pub(crate) const TX_TDWBAH: u32 = 0x3C;
/// Valid bits of a ring length register (a superset of what QEMU's igb and the datasheet
/// keep: the tracker may only over-estimate a ring).
pub(crate) const DLEN_MASK: u32 = 0x000F_FFF0;
/// Valid bits of a ring base low register.
pub(crate) const DBAL_MASK: u32 = !0xF;
/// Valid bits of a head or tail register.
pub(crate) const DESC_INDEX_MASK: u32 = 0xFFFF;

/// Base family of the per-queue Rx registers.
pub(crate) struct RxQueue;
/// Base family of the per-queue Tx registers.
pub(crate) struct TxQueue;

/// Rx queue 0.
pub(crate) struct RxQ0;
impl RegisterBase<RxQueue> for RxQ0 {
    const BASE: usize = 0x2800;
}

/// Rx queue 1.
pub(crate) struct RxQ1;
impl RegisterBase<RxQueue> for RxQ1 {
    const BASE: usize = 0x2800 + QUEUE_STRIDE;
}

/// Tx queue 0.
pub(crate) struct TxQ0;
impl RegisterBase<TxQueue> for TxQ0 {
    const BASE: usize = 0x3800;
}

/// Tx queue 1.
pub(crate) struct TxQ1;
impl RegisterBase<TxQueue> for TxQ1 {
    const BASE: usize = 0x3800 + QUEUE_STRIDE;
}

register! {
    /// Device control (`E1000_CTRL`). Reads 0 on QEMU's igb.
    pub(crate) CTRL(u32) @ 0x0000 {
        /// VF software reset: clears the queue enables, leaves ring registers untouched.
        26:26 rst => bool;
    }

    /// Device status (`E1000_STATUS`), read-only.
    pub(crate) STATUS(u32) @ 0x0008 {
        /// Link up.
        1:1 lu => bool;
    }
}

// Interrupts: three MSI-X vectors, one cause bit each.
register! {
    /// Extended interrupt cause set (`E1000_EICS`), write-only: raises causes.
    pub(crate) EICS(u32) @ 0x1520 {
        /// One bit per vector.
        2:0 causes;
    }

    /// Extended interrupt mask set/read (`E1000_EIMS`).
    pub(crate) EIMS(u32) @ 0x1524 {
        /// One bit per vector.
        2:0 causes;
    }

    /// Extended interrupt mask clear (`E1000_EIMC`), write-only.
    pub(crate) EIMC(u32) @ 0x1528 {
        /// One bit per vector.
        2:0 causes;
    }

    /// Extended interrupt auto clear (`E1000_EIAC`).
    pub(crate) EIAC(u32) @ 0x152C {
        /// One bit per vector.
        2:0 causes;
    }

    /// Extended interrupt auto mask (`E1000_EIAM`).
    pub(crate) EIAM(u32) @ 0x1530 {
        /// One bit per vector.
        2:0 causes;
    }

    /// Extended interrupt cause read (`E1000_EICR`); read-to-clear on silicon.
    pub(crate) EICR(u32) @ 0x1580 {
        /// One bit per vector.
        2:0 causes;
    }

    /// Interrupt throttling per vector (`E1000_EITR(n)`).
    pub(crate) EITR(u32)[NUM_VECTORS, stride = 4] @ 0x1680 {}

    /// Interrupt vector allocation for the queues (`E1000_IVAR0`).
    pub(crate) IVAR0(u32) @ 0x1700 {}

    /// Interrupt vector allocation for other causes (`E1000_IVAR_MISC`).
    pub(crate) IVAR_MISC(u32) @ 0x1740 {}
}

// Rx queue q: base 0x2800 + q * 0x100.
register! {
    /// Rx descriptor ring base, low 32 bits (`E1000_RDBAL(q)`).
    pub(crate) RDBAL(u32) @ RxQueue + 0x00 {}

    /// Rx descriptor ring base, high 32 bits (`E1000_RDBAH(q)`).
    pub(crate) RDBAH(u32) @ RxQueue + 0x04 {}

    /// Rx descriptor ring length in bytes (`E1000_RDLEN(q)`).
    pub(crate) RDLEN(u32) @ RxQueue + 0x08 {}

    /// Split and replication Rx control (`E1000_SRRCTL(q)`).
    pub(crate) SRRCTL(u32) @ RxQueue + 0x0C {
        /// Drop packets when no descriptor is available.
        31:31 drop_en => bool;
        /// Descriptor type (1: advanced one-buffer, 5: header split always).
        27:25 desctype;
        /// Header buffer size in 64-byte units.
        13:8 bsizehdr;
        /// Packet buffer size in 1 KiB units.
        6:0 bsizepkt;
    }

    /// Rx descriptor head (`E1000_RDH(q)`).
    pub(crate) RDH(u32) @ RxQueue + 0x10 {}

    /// Rx descriptor tail (`E1000_RDT(q)`).
    pub(crate) RDT(u32) @ RxQueue + 0x18 {}

    /// Rx descriptor control (`E1000_RXDCTL(q)`).
    pub(crate) RXDCTL(u32) @ RxQueue + 0x28 {
        /// Queue enable.
        25:25 enable => bool;
    }
}

// Tx queue q: base 0x3800 + q * 0x100.
register! {
    /// Tx descriptor ring base, low 32 bits (`E1000_TDBAL(q)`).
    pub(crate) TDBAL(u32) @ TxQueue + 0x00 {}

    /// Tx descriptor ring base, high 32 bits (`E1000_TDBAH(q)`).
    pub(crate) TDBAH(u32) @ TxQueue + 0x04 {}

    /// Tx descriptor ring length in bytes (`E1000_TDLEN(q)`).
    pub(crate) TDLEN(u32) @ TxQueue + 0x08 {}

    /// Tx descriptor head (`E1000_TDH(q)`).
    pub(crate) TDH(u32) @ TxQueue + 0x10 {}

    /// Tx descriptor tail (`E1000_TDT(q)`).
    pub(crate) TDT(u32) @ TxQueue + 0x18 {}

    /// Tx descriptor control (`E1000_TXDCTL(q)`).
    pub(crate) TXDCTL(u32) @ TxQueue + 0x28 {
        /// Queue enable.
        25:25 enable => bool;
    }

    /// Tx head write-back address, low 32 bits (`E1000_TDWBAL(q)`).
    pub(crate) TDWBAL(u32) @ TxQueue + 0x38 {
        /// Write the head to this address instead of setting DD in descriptors.
        0:0 enable => bool;
    }

    /// Tx head write-back address, high 32 bits (`E1000_TDWBAH(q)`).
    pub(crate) TDWBAH(u32) @ TxQueue + 0x3C {}
}

// VF<->PF mailbox.
register! {
    /// Mailbox memory shared with the PF (`E1000_VMBMEM(0)`, 16 dwords).
    pub(crate) VMBMEM(u32)[MAILBOX_DWORDS] @ 0x0800 {}

    /// VF-to-PF mailbox control/status (`E1000_V2PMAILBOX(0)`). Reading it clears PFSTS,
    /// PFACK and RSTD: never read it outside the mailbox protocol.
    pub(crate) V2PMAILBOX(u32) @ 0x0C40 {
        /// PF has indicated reset done (read-to-clear).
        7:7 rstd => bool;
        /// PF has reset indication.
        6:6 rsti => bool;
        /// PF acked the previous VF message (read-to-clear).
        5:5 pfack => bool;
        /// PF wrote a message in the mailbox (read-to-clear).
        4:4 pfsts => bool;
        /// PF owns the mailbox buffer.
        3:3 pfu => bool;
        /// VF owns the mailbox buffer.
        2:2 vfu => bool;
        /// Ack a PF message received.
        1:1 ack => bool;
        /// Request for the PF: a message is in the mailbox.
        0:0 req => bool;
    }
}

/// The read-to-clear bits of [`V2PMAILBOX`] (PFSTS, PFACK, RSTD).
pub(crate) const MBX_R2C_MASK: u32 =
    V2PMAILBOX::PFSTS_MASK | V2PMAILBOX::PFACK_MASK | V2PMAILBOX::RSTD_MASK;

/// VF-to-PF mailbox messages and reply flags (`igbvf/mbx.h`, igb's `e1000_mbx.h`), in the first
/// mailbox dword.
pub(crate) mod msg {
    /// `E1000_VF_RESET`: the PF resets its view of the VF, enables its Rx/Tx (VFRE/VFTE) and
    /// answers with the MAC it holds for it (ACK) or none (NACK).
    pub(crate) const VF_RESET: u32 = 0x01;
    /// `E1000_VF_SET_MAC_ADDR`: the VF's MAC (dwords 1..3, packed bytes).
    pub(crate) const VF_SET_MAC_ADDR: u32 = 0x02;
    /// `E1000_VT_MSGTYPE_ACK`: the PF carried the message out.
    pub(crate) const ACK: u32 = 0x8000_0000;
    /// `E1000_VT_MSGTYPE_NACK`: the PF refused the message.
    pub(crate) const NACK: u32 = 0x4000_0000;
    /// `E1000_VT_MSGTYPE_CTS`: the PF is clear to send (set after a reset message).
    pub(crate) const CTS: u32 = 0x2000_0000;
    /// Dwords of the reset reply and of a SET_MAC_ADDR message (message word + 6 MAC bytes).
    pub(crate) const MAC_MSG_DWORDS: usize = 3;
}

// Statistics (32-bit, wrapping, not clear-on-read).
register! {
    /// Good packets received (`E1000_VFGPRC`).
    pub(crate) VFGPRC(u32) @ 0x0F10 {}

    /// Good packets transmitted (`E1000_VFGPTC`).
    pub(crate) VFGPTC(u32) @ 0x0F14 {}

    /// Good octets received (`E1000_VFGORC`).
    pub(crate) VFGORC(u32) @ 0x0F18 {}

    /// Good octets transmitted (`E1000_VFGOTC`).
    pub(crate) VFGOTC(u32) @ 0x0F34 {}

    /// Multicast packets received (`E1000_VFMPRC`).
    pub(crate) VFMPRC(u32) @ 0x0F3C {}
}

// The offsets above are the ones of the shared state format's register list (`rust/shared`),
// which the userspace tools use: one set of numbers.
mod check {
    use super::*;
    use crate::shared::igb::regs as shared;
    use kernel::io::register::{
        Register,
        RegisterArray, //
    };

    const fn off<T: Register>() -> u32 {
        T::OFFSET as u32
    }

    const fn rx<B: RegisterBase<RxQueue>>() -> u32 {
        B::BASE as u32
    }

    const fn tx<B: RegisterBase<TxQueue>>() -> u32 {
        B::BASE as u32
    }

    const _: () = {
        assert!(off::<CTRL>() == shared::CTRL);
        assert!(off::<STATUS>() == shared::STATUS);
        assert!(off::<EICS>() == shared::EICS);
        assert!(off::<EIMS>() == shared::EIMS);
        assert!(off::<EIMC>() == shared::EIMC);
        assert!(off::<EIAC>() == shared::EIAC);
        assert!(off::<EIAM>() == shared::EIAM);
        assert!(off::<EICR>() == shared::EICR);
        assert!(off::<EITR>() == shared::eitr(0));
        assert!(<EITR as RegisterArray>::STRIDE as u32 == shared::eitr(1) - shared::eitr(0));
        assert!(off::<IVAR0>() == shared::IVAR0);
        assert!(off::<IVAR_MISC>() == shared::IVAR_MISC);
        assert!(off::<VMBMEM>() == shared::VMBMEM);
        assert!(off::<V2PMAILBOX>() == shared::V2PMAILBOX);
        assert!(off::<VFGPRC>() == shared::VFGPRC);
        assert!(off::<VFGPTC>() == shared::VFGPTC);
        assert!(off::<VFGORC>() == shared::VFGORC);
        assert!(off::<VFGOTC>() == shared::VFGOTC);
        assert!(off::<VFMPRC>() == shared::VFMPRC);
        assert!(QUEUE_STRIDE as u32 == shared::QUEUE_STRIDE);
        assert!(rx::<RxQ0>() == RX_BASE && tx::<TxQ0>() == TX_BASE);
        assert!(off::<RDBAL>() == RX_RDBAL && off::<RDBAH>() == RX_RDBAH);
        assert!(off::<RDLEN>() == RX_RDLEN && off::<SRRCTL>() == RX_SRRCTL);
        assert!(off::<RDH>() == RX_RDH && off::<RDT>() == RX_RDT);
        assert!(off::<RXDCTL>() == RX_RXDCTL && off::<TXDCTL>() == TX_TXDCTL);
        assert!(off::<TDBAL>() == TX_TDBAL && off::<TDBAH>() == TX_TDBAH);
        assert!(off::<TDLEN>() == TX_TDLEN && off::<TDT>() == TX_TDT);
        assert!(off::<TDWBAL>() == TX_TDWBAL && off::<TDWBAH>() == TX_TDWBAH);
        // Every queue register lies inside the trapped range, and the trap is whole pages.
        assert!(TRAP_START == 0 && TRAP_END as usize == BAR0_SIZE);
        assert!(rx::<RxQ0>() + off::<RDBAL>() == shared::rdbal(0));
        assert!(rx::<RxQ1>() + off::<RDBAL>() == shared::rdbal(1));
        assert!(rx::<RxQ0>() + off::<RDBAH>() == shared::rdbah(0));
        assert!(rx::<RxQ0>() + off::<RDLEN>() == shared::rdlen(0));
        assert!(rx::<RxQ0>() + off::<SRRCTL>() == shared::srrctl(0));
        assert!(rx::<RxQ0>() + off::<RDH>() == shared::rdh(0));
        assert!(rx::<RxQ0>() + off::<RDT>() == shared::rdt(0));
        assert!(rx::<RxQ0>() + off::<RXDCTL>() == shared::rxdctl(0));
        assert!(tx::<TxQ0>() + off::<TDBAL>() == shared::tdbal(0));
        assert!(tx::<TxQ1>() + off::<TDBAL>() == shared::tdbal(1));
        assert!(tx::<TxQ0>() + off::<TDBAH>() == shared::tdbah(0));
        assert!(tx::<TxQ0>() + off::<TDLEN>() == shared::tdlen(0));
        assert!(tx::<TxQ0>() + off::<TDH>() == shared::tdh(0));
        assert!(tx::<TxQ0>() + off::<TDT>() == shared::tdt(0));
        assert!(tx::<TxQ0>() + off::<TXDCTL>() == shared::txdctl(0));
        assert!(tx::<TxQ0>() + off::<TDWBAL>() == shared::tdwbal(0));
        assert!(tx::<TxQ0>() + off::<TDWBAH>() == shared::tdwbah(0));
        // The last register of the last queue lies inside the smallest BAR0.
        assert!(tx::<TxQ1>() + off::<TDWBAH>() + 4 <= BAR0_SIZE as u32);
        // Bit positions from igbvf's defines.h / mbx.h.
        assert!(CTRL::RST_MASK == 0x0400_0000);
        assert!(RXDCTL::ENABLE_MASK == 0x0200_0000);
        assert!(TXDCTL::ENABLE_MASK == 0x0200_0000);
        assert!(V2PMAILBOX::REQ_MASK == 0x01);
        assert!(V2PMAILBOX::ACK_MASK == 0x02);
        assert!(V2PMAILBOX::VFU_MASK == 0x04);
        assert!(V2PMAILBOX::PFU_MASK == 0x08);
        assert!(V2PMAILBOX::PFSTS_MASK == 0x10);
        assert!(V2PMAILBOX::PFACK_MASK == 0x20);
        assert!(V2PMAILBOX::RSTI_MASK == 0x40);
        assert!(V2PMAILBOX::RSTD_MASK == 0x80);
    };
}
