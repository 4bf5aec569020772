// SPDX-License-Identifier: GPL-2.0
//! Device-neutral NIC VF sections and the staging struct they decode into.
//!
//! Generic section types (range `0x0001..=0x7FFF`) describe what every
//! SR-IOV NIC VF has: descriptor rings, interrupt moderation/masking,
//! the VF<->PF mailbox, the PF-side administrative VF configuration and
//! statistics. Queue and vector counts come from the sections themselves.
//! A [`Provider`] (one per device family, see `igb.rs`) defines the
//! provider-private sections (`0x8000..=0xFFFF`), checks their payloads and
//! checks the decoded state as a whole (e.g. "exactly 2 Rx queues").
//!
//! [`NicVfState`] is a fixed-size staging struct: [`NicSink`] fills it while
//! the [`Decoder`] runs; the caller applies it to the device only after
//! [`Decoder::finish`] succeeded.

use super::error::{Error, ErrorKind, Field};
use super::format::{
    self, Accept, Decoder, Encoder, Expect, Header, Identity, Reader, SectionHeader, Sink, Summary,
    Writer, SECTION_FLAG_OPTIONAL,
};

/// Section type: one Rx ring (instance = queue index).
pub const SECTION_RX_RING: u16 = 0x0001;
/// Section type: one Tx ring (instance = queue index).
pub const SECTION_TX_RING: u16 = 0x0002;
/// Section type: interrupt configuration.
pub const SECTION_INTERRUPTS: u16 = 0x0003;
/// Section type: VF<->PF mailbox.
pub const SECTION_MAILBOX: u16 = 0x0004;
/// Section type: PF-side VF configuration.
pub const SECTION_PF_VF_CONFIG: u16 = 0x0005;
/// Section type: statistics counters.
pub const SECTION_STATS: u16 = 0x0006;

/// Most rings of one direction a state may hold.
pub const MAX_QUEUES: usize = 16;
/// Most interrupt vectors.
pub const MAX_VECTORS: usize = 32;
/// Most interrupt-vector-allocation words.
pub const MAX_IVAR: usize = 16;
/// Most mailbox dwords.
pub const MAX_MAILBOX_DWORDS: usize = 64;
/// Most provider-private sections a state may hold.
pub const MAX_PRIVATE_BLOCKS: usize = 2;
/// Largest provider-private payload.
pub const MAX_PRIVATE_LEN: usize = 512;

/// Payload length of a ring section.
pub const RING_LEN: u32 = 40;
/// Fixed part of the interrupt section payload.
pub const INTERRUPTS_FIXED_LEN: u32 = 20;
/// Fixed part of the mailbox section payload.
pub const MAILBOX_FIXED_LEN: u32 = 8;
/// Payload length of the PF-side VF configuration section.
pub const PF_VF_CONFIG_LEN: u32 = 24;
/// Payload length of the statistics section.
pub const STATS_LEN: u32 = 40;

/// `IFLA_VF_LINK_STATE_DISABLE`, the largest valid link state.
pub const LINK_STATE_MAX: u8 = 2;
/// 802.1Q VLAN protocol.
pub const ETH_P_8021Q: u16 = 0x8100;
/// 802.1ad VLAN protocol.
pub const ETH_P_8021AD: u16 = 0x88A8;

fn len_of(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// State of one descriptor ring (Rx or Tx).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ring {
    /// Queue index (equals the section instance).
    pub queue: u16,
    /// Ring length in bytes (igb: RDLEN/TDLEN).
    pub len: u32,
    /// Ring base bus address (igb: RDBAH:RDBAL / TDBAH:TDBAL).
    pub base: u64,
    /// Head index (igb: RDH/TDH).
    pub head: u32,
    /// Tail index (igb: RDT/TDT).
    pub tail: u32,
    /// Queue control (igb: RXDCTL/TXDCTL).
    pub ctrl: u32,
    /// Buffer control (igb Rx: SRRCTL; igb Tx: 0).
    pub buf_ctrl: u32,
    /// Write-back address (igb Tx: TDWBAH:TDWBAL; igb Rx: 0).
    pub wb_addr: u64,
}

impl Ring {
    /// All-zero ring.
    pub const ZERO: Ring = Ring {
        queue: 0,
        len: 0,
        base: 0,
        head: 0,
        tail: 0,
        ctrl: 0,
        buf_ctrl: 0,
        wb_addr: 0,
    };

    fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.queue);
        w.u16(0);
        w.u32(self.len);
        w.u64(self.base);
        w.u32(self.head);
        w.u32(self.tail);
        w.u32(self.ctrl);
        w.u32(self.buf_ctrl);
        w.u64(self.wb_addr);
    }

    fn read(r: &mut Reader<'_>) -> Result<Ring, Error> {
        let queue = r.u16()?;
        let rsvd = r.u16()?;
        if rsvd != 0 {
            return Err(Error::new(ErrorKind::ReservedNonZero, Field::RingReserved)
                .values(0, u64::from(rsvd)));
        }
        Ok(Ring {
            queue,
            len: r.u32()?,
            base: r.u64()?,
            head: r.u32()?,
            tail: r.u32()?,
            ctrl: r.u32()?,
            buf_ctrl: r.u32()?,
            wb_addr: r.u64()?,
        })
    }
}

/// Interrupt configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interrupts {
    /// Enabled-cause mask (igb: EIMS as last written by the guest).
    pub enabled: u32,
    /// Auto-clear mask (igb: EIAC).
    pub auto_clear: u32,
    /// Auto-mask mask (igb: EIAM).
    pub auto_mask: u32,
    /// Causes pending at save time, to be re-raised on the target.
    pub pending: u32,
    /// Number of valid entries in `itr`.
    pub num_vectors: u16,
    /// Number of valid entries in `ivar`.
    pub num_ivar: u16,
    /// Per-vector throttling (igb: `EITR[n]`).
    pub itr: [u32; MAX_VECTORS],
    /// Vector allocation words (igb: IVAR0, IVAR_MISC).
    pub ivar: [u32; MAX_IVAR],
}

impl Default for Interrupts {
    fn default() -> Self {
        Self::ZERO
    }
}

impl Interrupts {
    /// All-zero configuration with no vectors.
    pub const ZERO: Interrupts = Interrupts {
        enabled: 0,
        auto_clear: 0,
        auto_mask: 0,
        pending: 0,
        num_vectors: 0,
        num_ivar: 0,
        itr: [0; MAX_VECTORS],
        ivar: [0; MAX_IVAR],
    };

    /// Valid throttling entries.
    pub fn itr(&self) -> &[u32] {
        self.itr
            .get(..usize::from(self.num_vectors))
            .unwrap_or(&self.itr)
    }

    /// Valid IVAR entries.
    pub fn ivar(&self) -> &[u32] {
        self.ivar
            .get(..usize::from(self.num_ivar))
            .unwrap_or(&self.ivar)
    }

    fn check(&self) -> Result<(), Error> {
        if usize::from(self.num_vectors) > MAX_VECTORS {
            return Err(Error::new(ErrorKind::InvalidValue, Field::VectorCount)
                .values(len_of(MAX_VECTORS), u64::from(self.num_vectors)));
        }
        if usize::from(self.num_ivar) > MAX_IVAR {
            return Err(Error::new(ErrorKind::InvalidValue, Field::IvarCount)
                .values(len_of(MAX_IVAR), u64::from(self.num_ivar)));
        }
        Ok(())
    }

    /// Payload length for this configuration.
    pub fn payload_len(&self) -> u32 {
        let n = u32::from(self.num_vectors).saturating_add(u32::from(self.num_ivar));
        INTERRUPTS_FIXED_LEN.saturating_add(n.saturating_mul(4))
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        self.check()?;
        w.u32(self.enabled);
        w.u32(self.auto_clear);
        w.u32(self.auto_mask);
        w.u32(self.pending);
        w.u16(self.num_vectors);
        w.u16(self.num_ivar);
        for v in self.itr() {
            w.u32(*v);
        }
        for v in self.ivar() {
            w.u32(*v);
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>, len: u32) -> Result<Interrupts, Error> {
        let mut s = Interrupts {
            enabled: r.u32()?,
            auto_clear: r.u32()?,
            auto_mask: r.u32()?,
            pending: r.u32()?,
            num_vectors: r.u16()?,
            num_ivar: r.u16()?,
            ..Interrupts::ZERO
        };
        s.check()?;
        if s.payload_len() != len {
            return Err(Error::new(ErrorKind::BadLength, Field::SectionLen)
                .values(u64::from(s.payload_len()), u64::from(len)));
        }
        let nv = usize::from(s.num_vectors);
        for slot in s.itr.iter_mut().take(nv) {
            *slot = r.u32()?;
        }
        let ni = usize::from(s.num_ivar);
        for slot in s.ivar.iter_mut().take(ni) {
            *slot = r.u32()?;
        }
        Ok(s)
    }
}

/// VF<->PF mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// Status/control word (igb: V2PMAILBOX as seen by the PF side).
    pub status: u32,
    /// Number of valid dwords in `mem`.
    pub num_dwords: u16,
    /// Mailbox memory (igb: VMBMEM, 16 dwords).
    pub mem: [u32; MAX_MAILBOX_DWORDS],
}

impl Default for Mailbox {
    fn default() -> Self {
        Self::ZERO
    }
}

impl Mailbox {
    /// Empty mailbox.
    pub const ZERO: Mailbox = Mailbox {
        status: 0,
        num_dwords: 0,
        mem: [0; MAX_MAILBOX_DWORDS],
    };

    /// Valid mailbox dwords.
    pub fn mem(&self) -> &[u32] {
        self.mem
            .get(..usize::from(self.num_dwords))
            .unwrap_or(&self.mem)
    }

    fn check(&self) -> Result<(), Error> {
        if usize::from(self.num_dwords) > MAX_MAILBOX_DWORDS {
            return Err(Error::new(ErrorKind::InvalidValue, Field::MailboxLen)
                .values(len_of(MAX_MAILBOX_DWORDS), u64::from(self.num_dwords)));
        }
        Ok(())
    }

    /// Payload length for this mailbox.
    pub fn payload_len(&self) -> u32 {
        MAILBOX_FIXED_LEN.saturating_add(u32::from(self.num_dwords).saturating_mul(4))
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        self.check()?;
        w.u16(self.num_dwords);
        w.u16(0);
        w.u32(self.status);
        for v in self.mem() {
            w.u32(*v);
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>, len: u32) -> Result<Mailbox, Error> {
        let num_dwords = r.u16()?;
        let rsvd = r.u16()?;
        if rsvd != 0 {
            return Err(
                Error::new(ErrorKind::ReservedNonZero, Field::MailboxReserved)
                    .values(0, u64::from(rsvd)),
            );
        }
        let mut m = Mailbox {
            status: r.u32()?,
            num_dwords,
            ..Mailbox::ZERO
        };
        m.check()?;
        if m.payload_len() != len {
            return Err(Error::new(ErrorKind::BadLength, Field::SectionLen)
                .values(u64::from(m.payload_len()), u64::from(len)));
        }
        for slot in m.mem.iter_mut().take(usize::from(num_dwords)) {
            *slot = r.u32()?;
        }
        Ok(m)
    }
}

/// PF-side administrative configuration of the VF (what `ip link set vf`
/// controls), applied on the target through the PF driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PfVfConfig {
    /// Administrative MAC address.
    pub mac: [u8; 6],
    /// Port VLAN id, 0..=4095 (0: none).
    pub vlan: u16,
    /// VLAN protocol: [`ETH_P_8021Q`] or [`ETH_P_8021AD`].
    pub vlan_proto: u16,
    /// VLAN priority, 0..=7.
    pub qos: u8,
    /// MAC/VLAN anti-spoof check, 0 or 1.
    pub spoofchk: u8,
    /// Trusted VF, 0 or 1.
    pub trusted: u8,
    /// `IFLA_VF_LINK_STATE_*`: 0 auto, 1 enable, 2 disable.
    pub link_state: u8,
    /// Minimum Tx rate in Mbit/s (0: none).
    pub min_tx_rate: u32,
    /// Maximum Tx rate in Mbit/s (0: unlimited).
    pub max_tx_rate: u32,
}

impl Default for PfVfConfig {
    fn default() -> Self {
        Self {
            mac: [0; 6],
            vlan: 0,
            vlan_proto: ETH_P_8021Q,
            qos: 0,
            spoofchk: 0,
            trusted: 0,
            link_state: 0,
            min_tx_rate: 0,
            max_tx_rate: 0,
        }
    }
}

impl PfVfConfig {
    fn check(&self) -> Result<(), Error> {
        let bad =
            |f: Field, max: u64, v: u64| Error::new(ErrorKind::InvalidValue, f).values(max, v);
        if self.vlan > 4095 {
            return Err(bad(Field::Vlan, 4095, u64::from(self.vlan)));
        }
        if self.vlan_proto != ETH_P_8021Q && self.vlan_proto != ETH_P_8021AD {
            return Err(bad(
                Field::VlanProto,
                u64::from(ETH_P_8021Q),
                u64::from(self.vlan_proto),
            ));
        }
        if self.qos > 7 {
            return Err(bad(Field::Qos, 7, u64::from(self.qos)));
        }
        if self.spoofchk > 1 {
            return Err(bad(Field::SpoofCheck, 1, u64::from(self.spoofchk)));
        }
        if self.trusted > 1 {
            return Err(bad(Field::Trusted, 1, u64::from(self.trusted)));
        }
        if self.link_state > LINK_STATE_MAX {
            return Err(bad(
                Field::LinkState,
                u64::from(LINK_STATE_MAX),
                u64::from(self.link_state),
            ));
        }
        if self.max_tx_rate != 0 && self.min_tx_rate > self.max_tx_rate {
            return Err(bad(
                Field::MinTxRate,
                u64::from(self.max_tx_rate),
                u64::from(self.min_tx_rate),
            ));
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        self.check()?;
        w.bytes(&self.mac);
        w.u16(self.vlan);
        w.u16(self.vlan_proto);
        w.u8(self.qos);
        w.u8(self.spoofchk);
        w.u8(self.trusted);
        w.u8(self.link_state);
        w.u16(0);
        w.u32(self.min_tx_rate);
        w.u32(self.max_tx_rate);
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<PfVfConfig, Error> {
        let mac = r.bytes::<6>()?;
        let vlan = r.u16()?;
        let vlan_proto = r.u16()?;
        let qos = r.u8()?;
        let spoofchk = r.u8()?;
        let trusted = r.u8()?;
        let link_state = r.u8()?;
        let rsvd = r.u16()?;
        if rsvd != 0 {
            return Err(Error::new(ErrorKind::ReservedNonZero, Field::PfReserved)
                .values(0, u64::from(rsvd)));
        }
        let c = PfVfConfig {
            mac,
            vlan,
            vlan_proto,
            qos,
            spoofchk,
            trusted,
            link_state,
            min_tx_rate: r.u32()?,
            max_tx_rate: r.u32()?,
        };
        c.check()?;
        Ok(c)
    }
}

/// Statistics counters as the guest saw them at save time (64-bit,
/// extended from the device's 32-bit registers by the provider).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Good packets received.
    pub rx_packets: u64,
    /// Good octets received.
    pub rx_octets: u64,
    /// Good packets transmitted.
    pub tx_packets: u64,
    /// Good octets transmitted.
    pub tx_octets: u64,
    /// Multicast packets received.
    pub rx_multicast: u64,
}

impl Stats {
    fn write(&self, w: &mut Writer<'_>) {
        w.u64(self.rx_packets);
        w.u64(self.rx_octets);
        w.u64(self.tx_packets);
        w.u64(self.tx_octets);
        w.u64(self.rx_multicast);
    }

    fn read(r: &mut Reader<'_>) -> Result<Stats, Error> {
        Ok(Stats {
            rx_packets: r.u64()?,
            rx_octets: r.u64()?,
            tx_packets: r.u64()?,
            tx_octets: r.u64()?,
            rx_multicast: r.u64()?,
        })
    }
}

/// One provider-private section, kept as raw bytes; the [`Provider`] has
/// checked them and knows their layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrivateBlock {
    /// Section type (`0x8000..=0xFFFF`).
    pub ty: u16,
    /// Section instance.
    pub instance: u16,
    /// Section flags (kept so a re-encode preserves OPTIONAL).
    pub flags: u16,
    /// Valid bytes in `data`.
    pub len: u16,
    /// Payload.
    pub data: [u8; MAX_PRIVATE_LEN],
}

impl Default for PrivateBlock {
    fn default() -> Self {
        Self::ZERO
    }
}

impl PrivateBlock {
    /// Empty block.
    pub const ZERO: PrivateBlock = PrivateBlock {
        ty: 0,
        instance: 0,
        flags: 0,
        len: 0,
        data: [0; MAX_PRIVATE_LEN],
    };

    /// The valid payload bytes.
    pub fn payload(&self) -> &[u8] {
        self.data.get(..usize::from(self.len)).unwrap_or(&self.data)
    }

    /// Replaces the payload; fails if it is longer than [`MAX_PRIVATE_LEN`].
    pub fn set_payload(&mut self, payload: &[u8]) -> Result<(), Error> {
        let dst = self.data.get_mut(..payload.len()).ok_or(
            Error::new(ErrorKind::SectionTooLarge, Field::SectionLen)
                .values(len_of(MAX_PRIVATE_LEN), len_of(payload.len())),
        )?;
        for (d, s) in dst.iter_mut().zip(payload) {
            *d = *s;
        }
        // `payload.len() <= MAX_PRIVATE_LEN` fits in u16.
        self.len = u16::try_from(payload.len()).unwrap_or(0);
        Ok(())
    }
}

/// A device family: owns a provider id, the provider-private section types
/// and the whole-state rules. Adding a device means implementing this
/// trait; the format core and the generic sections do not change.
pub trait Provider {
    /// Provider id carried in the header.
    fn id(&self) -> u16;
    /// Short name for messages.
    fn name(&self) -> &'static str;
    /// Compat word this build writes (features the saved state relies on).
    fn compat(&self) -> u32;
    /// Compat bits this build can restore (the decoder requires the
    /// stream's word to be a subset).
    fn compat_supported(&self) -> u32;
    /// Whether `ty` (provider range) is a private section this provider
    /// knows.
    fn knows_private(&self, ty: u16) -> bool;
    /// Checks a private section's payload (length and content).
    fn check_private(&self, sec: &SectionHeader, payload: &[u8]) -> Result<(), Error>;
    /// Checks a fully decoded state (queue counts, required private
    /// sections, ...). Called at the end of decoding and before encoding.
    fn check_state(&self, state: &NicVfState) -> Result<(), Error>;
}

/// Staging struct for one NIC VF's state (fixed size, no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NicVfState {
    /// Number of valid Rx rings (queues `0..num_rx`).
    pub num_rx: u16,
    /// Rx rings.
    pub rx: [Ring; MAX_QUEUES],
    /// Number of valid Tx rings (queues `0..num_tx`).
    pub num_tx: u16,
    /// Tx rings.
    pub tx: [Ring; MAX_QUEUES],
    /// Interrupt configuration (required).
    pub irq: Option<Interrupts>,
    /// Mailbox (required).
    pub mailbox: Option<Mailbox>,
    /// PF-side VF configuration (required).
    pub pf: Option<PfVfConfig>,
    /// Statistics (optional section).
    pub stats: Option<Stats>,
    /// Number of valid provider-private blocks.
    pub num_private: u16,
    /// Provider-private blocks, in stream order.
    pub private: [PrivateBlock; MAX_PRIVATE_BLOCKS],
}

impl Default for NicVfState {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl NicVfState {
    /// Empty state.
    pub const EMPTY: NicVfState = NicVfState {
        num_rx: 0,
        rx: [Ring::ZERO; MAX_QUEUES],
        num_tx: 0,
        tx: [Ring::ZERO; MAX_QUEUES],
        irq: None,
        mailbox: None,
        pf: None,
        stats: None,
        num_private: 0,
        private: [PrivateBlock::ZERO; MAX_PRIVATE_BLOCKS],
    };

    /// Resets to [`NicVfState::EMPTY`] in place (no large stack temporary).
    pub fn clear(&mut self) {
        self.num_rx = 0;
        self.num_tx = 0;
        for r in self.rx.iter_mut().chain(self.tx.iter_mut()) {
            *r = Ring::ZERO;
        }
        self.irq = None;
        self.mailbox = None;
        self.pf = None;
        self.stats = None;
        self.num_private = 0;
        for p in self.private.iter_mut() {
            *p = PrivateBlock::ZERO;
        }
    }

    /// Valid Rx rings.
    pub fn rx(&self) -> &[Ring] {
        self.rx.get(..usize::from(self.num_rx)).unwrap_or(&self.rx)
    }

    /// Valid Tx rings.
    pub fn tx(&self) -> &[Ring] {
        self.tx.get(..usize::from(self.num_tx)).unwrap_or(&self.tx)
    }

    /// Valid provider-private blocks.
    pub fn private(&self) -> &[PrivateBlock] {
        self.private
            .get(..usize::from(self.num_private))
            .unwrap_or(&self.private)
    }

    /// Appends an Rx ring (queue index = current count).
    pub fn push_rx(&mut self, mut ring: Ring) -> Result<(), Error> {
        let q = self.num_rx;
        ring.queue = q;
        let slot = self.rx.get_mut(usize::from(q)).ok_or(
            Error::new(ErrorKind::InvalidValue, Field::RxQueueCount)
                .values(len_of(MAX_QUEUES), u64::from(q).saturating_add(1)),
        )?;
        *slot = ring;
        self.num_rx = q.saturating_add(1);
        Ok(())
    }

    /// Appends a Tx ring (queue index = current count).
    pub fn push_tx(&mut self, mut ring: Ring) -> Result<(), Error> {
        let q = self.num_tx;
        ring.queue = q;
        let slot = self.tx.get_mut(usize::from(q)).ok_or(
            Error::new(ErrorKind::InvalidValue, Field::TxQueueCount)
                .values(len_of(MAX_QUEUES), u64::from(q).saturating_add(1)),
        )?;
        *slot = ring;
        self.num_tx = q.saturating_add(1);
        Ok(())
    }

    /// Appends a provider-private block.
    pub fn push_private(
        &mut self,
        ty: u16,
        instance: u16,
        flags: u16,
        payload: &[u8],
    ) -> Result<(), Error> {
        let n = self.num_private;
        let slot = self.private.get_mut(usize::from(n)).ok_or(
            Error::new(ErrorKind::InvalidValue, Field::PrivateCount)
                .values(len_of(MAX_PRIVATE_BLOCKS), u64::from(n).saturating_add(1)),
        )?;
        slot.ty = ty;
        slot.instance = instance;
        slot.flags = flags;
        slot.set_payload(payload)?;
        self.num_private = n.saturating_add(1);
        Ok(())
    }

    fn check_structure(&self) -> Result<(), Error> {
        if usize::from(self.num_rx) > MAX_QUEUES {
            return Err(Error::new(ErrorKind::InvalidValue, Field::RxQueueCount));
        }
        if usize::from(self.num_tx) > MAX_QUEUES {
            return Err(Error::new(ErrorKind::InvalidValue, Field::TxQueueCount));
        }
        if usize::from(self.num_private) > MAX_PRIVATE_BLOCKS {
            return Err(Error::new(ErrorKind::InvalidValue, Field::PrivateCount));
        }
        let missing = |ty: u16| {
            Error::new(ErrorKind::MissingSection, Field::SectionType)
                .values(u64::from(ty), 0)
                .in_section(ty, 0)
        };
        if self.num_rx == 0 {
            return Err(missing(SECTION_RX_RING));
        }
        if self.num_tx == 0 {
            return Err(missing(SECTION_TX_RING));
        }
        if self.irq.is_none() {
            return Err(missing(SECTION_INTERRUPTS));
        }
        if self.mailbox.is_none() {
            return Err(missing(SECTION_MAILBOX));
        }
        if self.pf.is_none() {
            return Err(missing(SECTION_PF_VF_CONFIG));
        }
        Ok(())
    }

    /// Exact encoded length of this state (`VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`).
    pub fn encoded_len(&self) -> usize {
        let rings = self.rx().len().saturating_add(self.tx().len());
        let mut total = format::HEADER_LEN.saturating_add(format::TRAILER_LEN);
        let mut add = |payload: u32| {
            let p = usize::try_from(payload).unwrap_or(usize::MAX);
            total = total
                .saturating_add(format::SECTION_HEADER_LEN)
                .saturating_add(p);
        };
        for _ in 0..rings {
            add(RING_LEN);
        }
        if let Some(i) = &self.irq {
            add(i.payload_len());
        }
        if let Some(m) = &self.mailbox {
            add(m.payload_len());
        }
        if self.pf.is_some() {
            add(PF_VF_CONFIG_LEN);
        }
        if self.stats.is_some() {
            add(STATS_LEN);
        }
        for p in self.private() {
            add(u32::from(p.len));
        }
        total
    }

    /// Encodes this state into `out` with a header for `identity` and
    /// `provider`; returns the stream length ([`NicVfState::encoded_len`]).
    pub fn encode(
        &self,
        header: &Header,
        provider: &dyn Provider,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_structure()?;
        provider.check_state(self)?;
        let mut e = Encoder::new(out, header);
        let ring_sec = |ty: u16, r: &Ring| SectionHeader {
            ty,
            flags: 0,
            instance: r.queue,
            len: RING_LEN,
        };
        check_queues(self.rx(), Field::RxQueueCount)?;
        check_queues(self.tx(), Field::TxQueueCount)?;
        for r in self.rx() {
            e.section(&ring_sec(SECTION_RX_RING, r), |w| {
                r.write(w);
                Ok(())
            })?;
        }
        for r in self.tx() {
            e.section(&ring_sec(SECTION_TX_RING, r), |w| {
                r.write(w);
                Ok(())
            })?;
        }
        if let Some(i) = &self.irq {
            let sec = SectionHeader {
                ty: SECTION_INTERRUPTS,
                flags: 0,
                instance: 0,
                len: i.payload_len(),
            };
            e.section(&sec, |w| i.write(w))?;
        }
        if let Some(m) = &self.mailbox {
            let sec = SectionHeader {
                ty: SECTION_MAILBOX,
                flags: 0,
                instance: 0,
                len: m.payload_len(),
            };
            e.section(&sec, |w| m.write(w))?;
        }
        if let Some(p) = &self.pf {
            let sec = SectionHeader {
                ty: SECTION_PF_VF_CONFIG,
                flags: 0,
                instance: 0,
                len: PF_VF_CONFIG_LEN,
            };
            e.section(&sec, |w| p.write(w))?;
        }
        if let Some(s) = &self.stats {
            let sec = SectionHeader {
                ty: SECTION_STATS,
                flags: SECTION_FLAG_OPTIONAL,
                instance: 0,
                len: STATS_LEN,
            };
            e.section(&sec, |w| {
                s.write(w);
                Ok(())
            })?;
        }
        for b in self.private() {
            let sec = SectionHeader {
                ty: b.ty,
                flags: b.flags,
                instance: b.instance,
                len: u32::from(b.len),
            };
            if !format::is_provider_section(b.ty) || !provider.knows_private(b.ty) {
                return Err(Error::new(ErrorKind::InvalidValue, Field::SectionType)
                    .in_section(b.ty, b.instance));
            }
            provider.check_private(&sec, b.payload())?;
            e.section(&sec, |w| {
                w.bytes(b.payload());
                Ok(())
            })?;
        }
        e.finish()
    }
}

fn check_queues(rings: &[Ring], field: Field) -> Result<(), Error> {
    for (i, r) in rings.iter().enumerate() {
        if usize::from(r.queue) != i {
            return Err(
                Error::new(ErrorKind::InvalidValue, field).values(len_of(i), u64::from(r.queue))
            );
        }
    }
    Ok(())
}

/// The header for a state saved from `identity` by `provider`.
pub fn header_for(identity: Identity, provider: &dyn Provider) -> Header {
    Header::new(identity, provider.id(), provider.compat())
}

/// What a destination with `identity` and `provider` accepts.
pub fn expect_for(identity: Identity, provider: &dyn Provider) -> Expect {
    Expect {
        identity,
        provider_id: provider.id(),
        provider_compat_supported: provider.compat_supported(),
    }
}

/// [`Sink`] that decodes generic NIC sections into a [`NicVfState`] and
/// hands provider-private sections to a [`Provider`].
///
/// The sink itself is stateless (everything lives in the staging struct),
/// so a new `NicSink` may wrap the same state for every `write()` call.
pub struct NicSink<'a> {
    /// Staging struct being filled (cleared by the header callback).
    pub state: &'a mut NicVfState,
    /// Device provider.
    pub provider: &'a dyn Provider,
}

impl<'a> NicSink<'a> {
    /// A sink staging into `state` for `provider`.
    pub fn new(state: &'a mut NicVfState, provider: &'a dyn Provider) -> Self {
        Self { state, provider }
    }
}

impl Sink for NicSink<'_> {
    fn header(&mut self, hdr: &Header) -> Result<(), Error> {
        if hdr.provider_id != self.provider.id() {
            return Err(Error::new(ErrorKind::IdentityMismatch, Field::ProviderId)
                .values(u64::from(self.provider.id()), u64::from(hdr.provider_id)));
        }
        self.state.clear();
        Ok(())
    }

    fn accept(&mut self, sec: &SectionHeader) -> Result<Accept, Error> {
        let exact = |want: u32| {
            if sec.len == want {
                Ok(Accept::Take)
            } else {
                Err(Error::new(ErrorKind::BadLength, Field::SectionLen)
                    .values(u64::from(want), u64::from(sec.len)))
            }
        };
        match sec.ty {
            SECTION_RX_RING | SECTION_TX_RING => exact(RING_LEN),
            SECTION_PF_VF_CONFIG => exact(PF_VF_CONFIG_LEN),
            SECTION_STATS => exact(STATS_LEN),
            SECTION_INTERRUPTS | SECTION_MAILBOX => {
                // Exact length is checked against the counts in the payload;
                // here only the bounds.
                let (fixed, max) = if sec.ty == SECTION_INTERRUPTS {
                    (INTERRUPTS_FIXED_LEN, 20 + 4 * (MAX_VECTORS + MAX_IVAR))
                } else {
                    (MAILBOX_FIXED_LEN, 8 + 4 * MAX_MAILBOX_DWORDS)
                };
                let max = u32::try_from(max).unwrap_or(u32::MAX);
                if sec.len < fixed || sec.len > max || sec.len & 3 != 0 {
                    return Err(Error::new(ErrorKind::BadLength, Field::SectionLen)
                        .values(u64::from(max), u64::from(sec.len)));
                }
                Ok(Accept::Take)
            }
            ty if format::is_provider_section(ty) && self.provider.knows_private(ty) => {
                if usize::try_from(sec.len).map_or(true, |l| l > MAX_PRIVATE_LEN) {
                    return Err(Error::new(ErrorKind::SectionTooLarge, Field::SectionLen)
                        .values(len_of(MAX_PRIVATE_LEN), u64::from(sec.len)));
                }
                Ok(Accept::Take)
            }
            _ => Ok(Accept::Unknown),
        }
    }

    fn section(&mut self, sec: &SectionHeader, payload: &[u8]) -> Result<(), Error> {
        let mut r = Reader::new(payload);
        let st = &mut *self.state;
        // The sections that describe the VF once are instance 0 (as the provider requires of
        // its private sections): a second one can then only be a duplicate key.
        let singleton = matches!(
            sec.ty,
            SECTION_INTERRUPTS | SECTION_MAILBOX | SECTION_PF_VF_CONFIG | SECTION_STATS
        );
        if singleton && sec.instance != 0 {
            return Err(Error::new(ErrorKind::InvalidValue, Field::SectionInstance)
                .values(0, u64::from(sec.instance)));
        }
        match sec.ty {
            SECTION_RX_RING | SECTION_TX_RING => {
                let ring = Ring::read(&mut r)?;
                let (count, field) = if sec.ty == SECTION_RX_RING {
                    (st.num_rx, Field::RxQueueCount)
                } else {
                    (st.num_tx, Field::TxQueueCount)
                };
                if ring.queue != sec.instance {
                    return Err(Error::new(ErrorKind::InvalidValue, Field::Queue)
                        .values(u64::from(sec.instance), u64::from(ring.queue)));
                }
                // Sections are strictly ordered, so contiguity means the
                // next queue is exactly the current count (no gaps).
                if ring.queue != count {
                    return Err(Error::new(ErrorKind::InvalidValue, Field::Queue)
                        .values(u64::from(count), u64::from(ring.queue)));
                }
                if sec.ty == SECTION_RX_RING {
                    st.push_rx(ring).map_err(|e| Error { field, ..e })
                } else {
                    st.push_tx(ring).map_err(|e| Error { field, ..e })
                }
            }
            SECTION_INTERRUPTS => {
                st.irq = Some(Interrupts::read(&mut r, sec.len)?);
                Ok(())
            }
            SECTION_MAILBOX => {
                st.mailbox = Some(Mailbox::read(&mut r, sec.len)?);
                Ok(())
            }
            SECTION_PF_VF_CONFIG => {
                st.pf = Some(PfVfConfig::read(&mut r)?);
                Ok(())
            }
            SECTION_STATS => {
                st.stats = Some(Stats::read(&mut r)?);
                Ok(())
            }
            _ => {
                self.provider.check_private(sec, payload)?;
                st.push_private(sec.ty, sec.instance, sec.flags, payload)
            }
        }
    }

    fn end(&mut self) -> Result<(), Error> {
        self.state.check_structure()?;
        self.provider.check_state(self.state)
    }
}

/// Decodes a complete stream in one call into `state` (tests, tools).
/// The kernel uses [`Decoder`] + [`NicSink`] across `write()` calls instead.
pub fn decode(
    data: &[u8],
    expect: Option<Expect>,
    provider: &dyn Provider,
    state: &mut NicVfState,
) -> Result<Summary, Error> {
    let mut d = Decoder::new(expect);
    let mut sink = NicSink::new(state, provider);
    d.write(data, &mut sink)?;
    d.finish(&mut sink)
}
