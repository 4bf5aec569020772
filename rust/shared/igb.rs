// SPDX-License-Identifier: GPL-2.0
//! Provider 1: Intel 82576 Virtual Function (8086:10ca), as driven by Linux
//! `igbvf` and emulated by QEMU's `igb`.
//!
//! Generic sections carry 2 Rx and 2 Tx rings, 3 MSI-X vectors (EITR[0..3])
//! with IVAR0 and IVAR_MISC, and the 16-dword mailbox. Two private sections,
//! both instance 0 and neither required: [`SECTION_IGB_MBX`], the guest's
//! mailbox requests (written OPTIONAL when there are any), and
//! [`SECTION_IGB_REGS`], a sorted list of (VF BAR offset, value) pairs for
//! the VF registers listed in [`PRIVATE_REGS`] (validated when present; this
//! build never writes it and the module ignores it on restore).

use super::error::{Error, ErrorKind, Field};
use super::format::{Identity, Reader, SectionHeader, Writer};
use super::nic::{NicVfState, Provider};

/// Provider id of the 82576 VF.
pub const PROVIDER_ID: u16 = 1;
/// PCI vendor id (Intel).
pub const VENDOR_INTEL: u16 = 0x8086;
/// PCI device id of the 82576 VF.
pub const DEVICE_82576_VF: u16 = 0x10CA;

/// Compat bit: layout 1 of the generic sections and [`SECTION_IGB_REGS`]
/// (interrupt state is the shadow of what the guest wrote, not a BAR read).
pub const COMPAT_V1: u32 = 1 << 0;
/// Compat bits this build writes.
pub const COMPAT_CURRENT: u32 = COMPAT_V1;
/// Compat bits this build can restore.
pub const COMPAT_SUPPORTED: u32 = COMPAT_V1;

/// Rx and Tx queues of one VF.
pub const NUM_QUEUES: u16 = 2;
/// MSI-X vectors of one VF.
pub const NUM_VECTORS: u16 = 3;
/// IVAR words (IVAR0, IVAR_MISC).
pub const NUM_IVAR: u16 = 2;
/// VMBMEM dwords.
pub const MAILBOX_DWORDS: u16 = 16;

/// Private section: extra VF registers as (offset, value) pairs.
/// Payload: `u16 count, u16 reserved(0), count x { u32 offset, u32 value }`,
/// offsets strictly increasing and from [`PRIVATE_REGS`].
pub const SECTION_IGB_REGS: u16 = 0x8001;
/// Private section: what the guest asked of the PF through the mailbox besides its MAC (the
/// last multicast list, the VLANs it added, large frames, promiscuous modes), replayed on the
/// target. Written with the `OPTIONAL` flag: a destination that does not know it skips it.
pub const SECTION_IGB_MBX: u16 = 0x8002;
/// Most VLANs recorded in [`SECTION_IGB_MBX`] (the 82576 has 32 VLAN pool filters).
pub const MBX_MAX_VLANS: usize = 32;
/// Dwords of a recorded mailbox message (the VF mailbox size).
pub const MBX_MSG_DWORDS: usize = 16;
/// Payload length of [`SECTION_IGB_MBX`].
pub const MBX_PAYLOAD_LEN: usize = 4 + 4 * MBX_MSG_DWORDS + 4 + 4 + 2 * MBX_MAX_VLANS;
/// `mbx_requests.flags`: `multicast` holds the last `E1000_VF_SET_MULTICAST` message.
pub const MBX_HAS_MULTICAST: u16 = 1 << 0;
/// `mbx_requests.flags`: `lpe` holds the last `E1000_VF_SET_LPE` frame size.
pub const MBX_HAS_LPE: u16 = 1 << 1;
/// `mbx_requests.flags`: `promisc` holds the last `E1000_VF_SET_PROMISC` message word.
pub const MBX_HAS_PROMISC: u16 = 1 << 2;
/// Mailbox message types (`igbvf/mbx.h`).
pub mod msg {
    /// `E1000_VF_SET_MULTICAST`: word 0 bits 23:16 the count, then the hashes as 16-bit
    /// values from word 1.
    pub const SET_MULTICAST: u32 = 0x03;
    /// `E1000_VF_SET_VLAN`: word 0 bit 16 add (else remove), word 1 the VLAN id.
    pub const SET_VLAN: u32 = 0x04;
    /// `E1000_VF_SET_LPE`: word 1 the largest frame.
    pub const SET_LPE: u32 = 0x05;
    /// `E1000_VF_SET_PROMISC`: word 0 bits 31:16 the modes.
    pub const SET_PROMISC: u32 = 0x06;
    /// Most multicast hashes a message carries (igbvf's limit).
    pub const MAX_MULTICAST: u32 = 30;
}
/// Most entries in [`SECTION_IGB_REGS`].
pub const MAX_REGS: usize = 32;

/// VF BAR0 register offsets (`drivers/net/ethernet/intel/igbvf/regs.h`).
pub mod regs {
    /// Device control.
    pub const CTRL: u32 = 0x0000;
    /// Device status.
    pub const STATUS: u32 = 0x0008;
    /// Interrupt throttling rate (legacy).
    pub const ITR: u32 = 0x00C4;
    /// Mailbox memory, 16 dwords.
    pub const VMBMEM: u32 = 0x0800;
    /// VF-to-PF mailbox control/status.
    pub const V2PMAILBOX: u32 = 0x0C40;
    /// Good packets received.
    pub const VFGPRC: u32 = 0x0F10;
    /// Good packets transmitted.
    pub const VFGPTC: u32 = 0x0F14;
    /// Good octets received.
    pub const VFGORC: u32 = 0x0F18;
    /// Good octets transmitted.
    pub const VFGOTC: u32 = 0x0F34;
    /// Multicast packets received.
    pub const VFMPRC: u32 = 0x0F3C;
    /// Good loopback packets received.
    pub const VFGPRLBC: u32 = 0x0F40;
    /// Good loopback packets transmitted.
    pub const VFGPTLBC: u32 = 0x0F44;
    /// Good loopback octets received.
    pub const VFGORLBC: u32 = 0x0F48;
    /// Good loopback octets transmitted.
    pub const VFGOTLBC: u32 = 0x0F50;
    /// Extended interrupt cause set.
    pub const EICS: u32 = 0x1520;
    /// Extended interrupt mask set/read.
    pub const EIMS: u32 = 0x1524;
    /// Extended interrupt mask clear.
    pub const EIMC: u32 = 0x1528;
    /// Extended interrupt auto clear.
    pub const EIAC: u32 = 0x152C;
    /// Extended interrupt auto mask.
    pub const EIAM: u32 = 0x1530;
    /// Extended interrupt cause read.
    pub const EICR: u32 = 0x1580;
    /// Interrupt vector allocation.
    pub const IVAR0: u32 = 0x1700;
    /// Interrupt vector allocation for other causes.
    pub const IVAR_MISC: u32 = 0x1740;

    /// Per-queue stride of ring registers. The per-queue helpers below are
    /// valid for `n < 4` (the 82576 VF has 2 queues) and never panic.
    pub const QUEUE_STRIDE: u32 = 0x100;

    /// EITR for vector `n`.
    pub const fn eitr(n: u32) -> u32 {
        0x1680u32.wrapping_add(n.wrapping_mul(4))
    }
    /// RDBAL for queue `n` (n < 4).
    pub const fn rdbal(n: u32) -> u32 {
        0x2800u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// RDBAH for queue `n`.
    pub const fn rdbah(n: u32) -> u32 {
        0x2804u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// RDLEN for queue `n`.
    pub const fn rdlen(n: u32) -> u32 {
        0x2808u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// SRRCTL for queue `n`.
    pub const fn srrctl(n: u32) -> u32 {
        0x280Cu32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// RDH for queue `n`.
    pub const fn rdh(n: u32) -> u32 {
        0x2810u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// DCA_RXCTRL for queue `n`.
    pub const fn dca_rxctrl(n: u32) -> u32 {
        0x2814u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// RDT for queue `n`.
    pub const fn rdt(n: u32) -> u32 {
        0x2818u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// RXDCTL for queue `n`.
    pub const fn rxdctl(n: u32) -> u32 {
        0x2828u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TDBAL for queue `n`.
    pub const fn tdbal(n: u32) -> u32 {
        0x3800u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TDBAH for queue `n`.
    pub const fn tdbah(n: u32) -> u32 {
        0x3804u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TDLEN for queue `n`.
    pub const fn tdlen(n: u32) -> u32 {
        0x3808u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TDH for queue `n`.
    pub const fn tdh(n: u32) -> u32 {
        0x3810u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// DCA_TXCTRL for queue `n`.
    pub const fn dca_txctrl(n: u32) -> u32 {
        0x3814u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TDT for queue `n`.
    pub const fn tdt(n: u32) -> u32 {
        0x3818u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TXDCTL for queue `n`.
    pub const fn txdctl(n: u32) -> u32 {
        0x3828u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TDWBAL for queue `n`.
    pub const fn tdwbal(n: u32) -> u32 {
        0x3838u32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
    /// TDWBAH for queue `n`.
    pub const fn tdwbah(n: u32) -> u32 {
        0x383Cu32.wrapping_add(QUEUE_STRIDE.wrapping_mul(n))
    }
}

/// Registers allowed in [`SECTION_IGB_REGS`], ascending.
pub const PRIVATE_REGS: [u32; 9] = [
    regs::ITR,
    regs::VFGPRLBC,
    regs::VFGPTLBC,
    regs::VFGORLBC,
    regs::VFGOTLBC,
    regs::dca_rxctrl(0),
    regs::dca_rxctrl(1),
    regs::dca_txctrl(0),
    regs::dca_txctrl(1),
];

/// The 82576 VF identity with the given subsystem ids and revision.
pub const fn identity(subsys_vendor: u16, subsys_device: u16, revision: u8) -> Identity {
    Identity {
        vendor: VENDOR_INTEL,
        device: DEVICE_82576_VF,
        subsys_vendor,
        subsys_device,
        revision,
    }
}

/// Payload length of a [`SECTION_IGB_REGS`] section with `n` entries.
pub const fn regs_payload_len(n: usize) -> usize {
    n.saturating_mul(8).saturating_add(4)
}

/// Encodes `(offset, value)` pairs as a [`SECTION_IGB_REGS`] payload into
/// `out`; returns the payload length. The pairs must satisfy the same rules
/// the decoder checks.
pub fn encode_regs(pairs: &[(u32, u32)], out: &mut [u8]) -> Result<usize, Error> {
    let count = u16::try_from(pairs.len())
        .ok()
        .filter(|&c| usize::from(c) <= MAX_REGS)
        .ok_or(Error::new(ErrorKind::InvalidValue, Field::RegCount))?;
    let mut w = Writer::new(out);
    w.u16(count);
    w.u16(0);
    for &(off, val) in pairs {
        w.u32(off);
        w.u32(val);
    }
    let n = w.finish()?;
    check_regs(out.get(..n).unwrap_or(&[]))?;
    Ok(n)
}

/// Iterates the `(offset, value)` pairs of a checked [`SECTION_IGB_REGS`]
/// payload (stops at the first malformed entry).
pub fn regs_iter(payload: &[u8]) -> impl Iterator<Item = (u32, u32)> + '_ {
    let body = payload.get(4..).unwrap_or(&[]);
    body.chunks_exact(8).map(|c| {
        let mut r = Reader::new(c);
        let off = r.u32().unwrap_or(0);
        let val = r.u32().unwrap_or(0);
        (off, val)
    })
}

fn check_regs(payload: &[u8]) -> Result<(), Error> {
    let mut r = Reader::new(payload);
    let count = r.u16()?;
    let rsvd = r.u16()?;
    if rsvd != 0 {
        return Err(
            Error::new(ErrorKind::ReservedNonZero, Field::RegReserved).values(0, u64::from(rsvd))
        );
    }
    let n = usize::from(count);
    if n > MAX_REGS {
        return Err(Error::new(ErrorKind::InvalidValue, Field::RegCount)
            .values(u64::try_from(MAX_REGS).unwrap_or(0), u64::from(count)));
    }
    let want = regs_payload_len(n);
    if payload.len() != want {
        return Err(Error::new(ErrorKind::BadLength, Field::SectionLen).values(
            u64::try_from(want).unwrap_or(u64::MAX),
            u64::try_from(payload.len()).unwrap_or(u64::MAX),
        ));
    }
    let mut last: Option<u32> = None;
    for _ in 0..n {
        let off = r.u32()?;
        let _val = r.u32()?;
        if !PRIVATE_REGS.contains(&off) {
            return Err(
                Error::new(ErrorKind::InvalidValue, Field::RegOffset).values(0, u64::from(off))
            );
        }
        if let Some(l) = last {
            if off <= l {
                return Err(Error::new(ErrorKind::OutOfOrder, Field::RegOffset)
                    .values(u64::from(l), u64::from(off)));
            }
        }
        last = Some(off);
    }
    Ok(())
}

/// What the guest asked of the PF through the mailbox ([`SECTION_IGB_MBX`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MbxRequests {
    /// [`MBX_HAS_MULTICAST`], [`MBX_HAS_LPE`], [`MBX_HAS_PROMISC`].
    pub flags: u16,
    /// Number of valid entries in `vlans`.
    pub vlan_count: u16,
    /// The last `E1000_VF_SET_MULTICAST` message, as sent (zero if none).
    pub multicast: [u32; MBX_MSG_DWORDS],
    /// The last `E1000_VF_SET_LPE` frame size (zero if none).
    pub lpe: u32,
    /// Word 0 of the last `E1000_VF_SET_PROMISC` message (zero if none).
    pub promisc: u32,
    /// The VLAN ids the guest added and did not remove, in the order added.
    pub vlans: [u16; MBX_MAX_VLANS],
}

impl MbxRequests {
    /// Whether the guest asked for nothing.
    pub fn is_empty(&self) -> bool {
        self.flags == 0 && self.vlan_count == 0
    }

    /// The VLANs.
    pub fn vlans(&self) -> &[u16] {
        self.vlans
            .get(..usize::from(self.vlan_count))
            .unwrap_or(&self.vlans)
    }

    /// Records a message the guest sends (`msg` as in VMBMEM). Returns whether it was one of
    /// the requests kept; a full VLAN list drops the addition (the PF refuses it too).
    pub fn record(&mut self, m: &[u32; MBX_MSG_DWORDS]) -> bool {
        let ty = m[0] & 0xffff;
        match ty {
            msg::SET_MULTICAST => {
                let count = (m[0] >> 16) & 0xff;
                if count > msg::MAX_MULTICAST {
                    return false;
                }
                self.multicast = [0; MBX_MSG_DWORDS];
                // The hashes end in word 1 + count / 2; words past them are not part of it.
                let words = 1 + (count as usize).div_ceil(2);
                for (d, s) in self.multicast.iter_mut().zip(m.iter()).take(words) {
                    *d = *s;
                }
                if count % 2 == 1 {
                    if let Some(w) = self.multicast.get_mut(words.saturating_sub(1)) {
                        *w &= 0xffff;
                    }
                }
                self.multicast[0] = msg::SET_MULTICAST | (count << 16);
                self.flags |= MBX_HAS_MULTICAST;
                true
            }
            msg::SET_VLAN => {
                let vid = (m[1] & 0xfff) as u16;
                let add = m[0] & (1 << 16) != 0;
                let n = usize::from(self.vlan_count).min(MBX_MAX_VLANS);
                let pos = self
                    .vlans
                    .get(..n)
                    .and_then(|l| l.iter().position(|v| *v == vid));
                match (add, pos) {
                    (true, None) => {
                        // A full list drops the addition (the PF refuses it too).
                        if let Some(slot) = self.vlans.get_mut(n) {
                            *slot = vid;
                            self.vlan_count = self.vlan_count.saturating_add(1);
                        }
                    }
                    (false, Some(i)) => {
                        if let Some(rest) = self.vlans.get_mut(i..n) {
                            rest.rotate_left(1);
                            if let Some(last) = rest.last_mut() {
                                *last = 0;
                            }
                        }
                        self.vlan_count = self.vlan_count.saturating_sub(1);
                    }
                    _ => {}
                }
                true
            }
            msg::SET_LPE => {
                self.lpe = m[1];
                self.flags |= MBX_HAS_LPE;
                true
            }
            msg::SET_PROMISC => {
                self.promisc = m[0];
                self.flags |= MBX_HAS_PROMISC;
                true
            }
            _ => false,
        }
    }

    /// The payload of a [`SECTION_IGB_MBX`] section.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        w.u16(self.flags);
        w.u16(self.vlan_count);
        for v in self.multicast {
            w.u32(v);
        }
        w.u32(self.lpe);
        w.u32(self.promisc);
        for v in self.vlans {
            w.u16(v);
        }
        w.finish()
    }

    /// Decodes and checks a [`SECTION_IGB_MBX`] payload.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        if payload.len() != MBX_PAYLOAD_LEN {
            return Err(Error::new(ErrorKind::BadLength, Field::SectionLen).values(
                u64::try_from(MBX_PAYLOAD_LEN).unwrap_or(0),
                u64::try_from(payload.len()).unwrap_or(u64::MAX),
            ));
        }
        let mut r = Reader::new(payload);
        let mut m = Self {
            flags: r.u16()?,
            vlan_count: r.u16()?,
            ..Self::default()
        };
        for v in m.multicast.iter_mut() {
            *v = r.u32()?;
        }
        m.lpe = r.u32()?;
        m.promisc = r.u32()?;
        for v in m.vlans.iter_mut() {
            *v = r.u16()?;
        }
        let bad = |f: Field, want: u64, got: u64| {
            Error::new(ErrorKind::InvalidValue, f).values(want, got)
        };
        let known = MBX_HAS_MULTICAST | MBX_HAS_LPE | MBX_HAS_PROMISC;
        if m.flags & !known != 0 {
            return Err(bad(Field::MbxFlags, u64::from(known), u64::from(m.flags)));
        }
        let n = usize::from(m.vlan_count);
        if n > MBX_MAX_VLANS {
            return Err(bad(Field::MbxVlanCount, 32, u64::from(m.vlan_count)));
        }
        for (i, v) in m.vlans.iter().enumerate() {
            if (i < n && *v > 4095) || (i >= n && *v != 0) {
                return Err(bad(Field::MbxVlan, 0, u64::from(*v)));
            }
        }
        let mc_ok = if m.flags & MBX_HAS_MULTICAST != 0 {
            m.multicast[0] & 0xff00_ffff == msg::SET_MULTICAST
                && (m.multicast[0] >> 16) & 0xff <= msg::MAX_MULTICAST
        } else {
            m.multicast.iter().all(|v| *v == 0)
        };
        if !mc_ok {
            return Err(bad(
                Field::MbxMessage,
                u64::from(msg::SET_MULTICAST),
                u64::from(m.multicast[0]),
            ));
        }
        let lpe_ok = m.flags & MBX_HAS_LPE != 0 || m.lpe == 0;
        let promisc_ok = if m.flags & MBX_HAS_PROMISC != 0 {
            m.promisc & 0xffff == msg::SET_PROMISC
        } else {
            m.promisc == 0
        };
        if !lpe_ok || !promisc_ok {
            return Err(bad(Field::MbxMessage, 0, u64::from(m.promisc)));
        }
        Ok(m)
    }
}

/// The 82576 VF provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Igb82576Vf;

/// The provider instance.
pub static PROVIDER: Igb82576Vf = Igb82576Vf;

impl Provider for Igb82576Vf {
    fn id(&self) -> u16 {
        PROVIDER_ID
    }

    fn name(&self) -> &'static str {
        "intel-82576-vf"
    }

    fn compat(&self) -> u32 {
        COMPAT_CURRENT
    }

    fn compat_supported(&self) -> u32 {
        COMPAT_SUPPORTED
    }

    fn knows_private(&self, ty: u16) -> bool {
        ty == SECTION_IGB_REGS || ty == SECTION_IGB_MBX
    }

    fn check_private(&self, sec: &SectionHeader, payload: &[u8]) -> Result<(), Error> {
        if sec.ty != SECTION_IGB_REGS && sec.ty != SECTION_IGB_MBX {
            return Err(Error::new(ErrorKind::InvalidValue, Field::SectionType)
                .values(u64::from(SECTION_IGB_REGS), u64::from(sec.ty)));
        }
        if sec.instance != 0 {
            return Err(Error::new(ErrorKind::InvalidValue, Field::SectionInstance)
                .values(0, u64::from(sec.instance)));
        }
        if sec.ty == SECTION_IGB_MBX {
            return MbxRequests::decode(payload).map(|_| ());
        }
        check_regs(payload)
    }

    fn check_state(&self, st: &NicVfState) -> Result<(), Error> {
        let bad = |f: Field, want: u16, got: u16| {
            Error::new(ErrorKind::InvalidValue, f).values(u64::from(want), u64::from(got))
        };
        if st.num_rx != NUM_QUEUES {
            return Err(bad(Field::RxQueueCount, NUM_QUEUES, st.num_rx));
        }
        if st.num_tx != NUM_QUEUES {
            return Err(bad(Field::TxQueueCount, NUM_QUEUES, st.num_tx));
        }
        if let Some(irq) = &st.irq {
            if irq.num_vectors != NUM_VECTORS {
                return Err(bad(Field::VectorCount, NUM_VECTORS, irq.num_vectors));
            }
            if irq.num_ivar != NUM_IVAR {
                return Err(bad(Field::IvarCount, NUM_IVAR, irq.num_ivar));
            }
        }
        if let Some(m) = &st.mailbox {
            if m.num_dwords != MAILBOX_DWORDS {
                return Err(bad(Field::MailboxLen, MAILBOX_DWORDS, m.num_dwords));
            }
        }
        Ok(())
    }
}
