// SPDX-License-Identifier: GPL-2.0
//! Helpers shared by the integration tests: sample states and a raw stream
//! builder that can produce streams the encoder refuses to write.
#![allow(dead_code)]

use vfmig_state::format::{self, Header, Identity, SectionHeader, SECTION_FLAG_OPTIONAL};
use vfmig_state::igb;
use vfmig_state::nic::{self, Interrupts, Mailbox, NicVfState, PfVfConfig, Ring, Stats};
use vfmig_state::{crc32c, Expect, Provider};

/// Identity used by the samples (QEMU igbvf: subsystem 8086:0000 rev 01).
pub fn sample_identity() -> Identity {
    igb::identity(0x8086, 0x0000, 0x01)
}

/// What a destination matching the samples expects.
pub fn sample_expect() -> Expect {
    nic::expect_for(sample_identity(), &igb::PROVIDER)
}

/// Header for the samples.
pub fn sample_header() -> Header {
    nic::header_for(sample_identity(), &igb::PROVIDER)
}

/// A complete 82576 VF state with every section present.
pub fn sample_state() -> NicVfState {
    let mut st = NicVfState::default();
    for q in 0..2u32 {
        st.push_rx(Ring {
            queue: 0,
            len: 4096,
            base: 0x1_2345_0000 + u64::from(q) * 0x1000,
            head: 10 + q,
            tail: 200 + q,
            ctrl: 0x0201_0808,
            buf_ctrl: 0x0200_0402,
            wb_addr: 0,
        })
        .unwrap();
        st.push_tx(Ring {
            queue: 0,
            len: 8192,
            base: 0x2_0000_0000 + u64::from(q) * 0x2000,
            head: 5 * q,
            tail: 7 * q,
            ctrl: 0x0201_0101,
            buf_ctrl: 0,
            wb_addr: 0x3_0000_0001 + u64::from(q) * 0x10,
        })
        .unwrap();
    }
    let mut irq = Interrupts {
        enabled: 0x7,
        auto_clear: 0x3,
        auto_mask: 0x3,
        pending: 0x4,
        num_vectors: 3,
        num_ivar: 2,
        ..Interrupts::ZERO
    };
    irq.itr[0] = 0x0000_0200;
    irq.itr[1] = 0x0000_0200;
    irq.itr[2] = 0;
    irq.ivar[0] = 0x8181_8080;
    irq.ivar[1] = 0x0000_0082;
    st.irq = Some(irq);
    let mut mbx = Mailbox {
        status: 0x0000_0004,
        num_dwords: 16,
        ..Mailbox::ZERO
    };
    for (i, w) in mbx.mem.iter_mut().take(16).enumerate() {
        *w = 0x1000_0000 | u32::try_from(i).unwrap();
    }
    st.mailbox = Some(mbx);
    st.pf = Some(PfVfConfig {
        mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
        vlan: 100,
        vlan_proto: nic::ETH_P_8021Q,
        qos: 3,
        spoofchk: 1,
        trusted: 0,
        link_state: 1,
        min_tx_rate: 0,
        max_tx_rate: 1000,
    });
    st.stats = Some(Stats {
        rx_packets: 123_456,
        rx_octets: 98_765_432,
        tx_packets: 65_432,
        tx_octets: 12_345_678_901,
        rx_multicast: 42,
    });
    let mut buf = [0u8; 512];
    let n = igb::encode_regs(
        &[
            (igb::regs::ITR, 0),
            (igb::regs::VFGPRLBC, 7),
            (igb::regs::dca_rxctrl(0), 0x0000_2200),
        ],
        &mut buf,
    )
    .unwrap();
    st.push_private(igb::SECTION_IGB_REGS, 0, 0, &buf[..n])
        .unwrap();
    st
}

/// The sample state without optional content (no stats, no private block).
pub fn minimal_state() -> NicVfState {
    let mut st = sample_state();
    st.stats = None;
    st.num_private = 0;
    st.private[0] = Default::default();
    st
}

/// Encodes `st` with `hdr`.
pub fn encode(st: &NicVfState, hdr: &Header) -> Vec<u8> {
    let mut buf = vec![0u8; st.encoded_len()];
    let n = st.encode(hdr, &igb::PROVIDER, &mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

/// The sample stream.
pub fn sample_stream() -> Vec<u8> {
    encode(&sample_state(), &sample_header())
}

/// A parsed-out section of a stream.
#[derive(Clone, Debug)]
pub struct RawSection {
    /// Header (length is recomputed from the payload unless `len` is set).
    pub hdr: SectionHeader,
    /// Override for the length field.
    pub len: Option<u32>,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Splits a well-formed stream into header and sections.
pub fn split(stream: &[u8]) -> (Header, Vec<RawSection>) {
    let mut d = vfmig_state::Decoder::new(None);
    let mut sink = Collect::default();
    d.write(stream, &mut sink).unwrap();
    let sum = d.finish(&mut sink).unwrap();
    (sum.header, sink.sections)
}

/// A sink that takes every section (up to the decoder's buffer size).
#[derive(Default)]
pub struct Collect {
    /// Sections seen.
    pub sections: Vec<RawSection>,
}

impl vfmig_state::Sink for Collect {
    fn accept(&mut self, _sec: &SectionHeader) -> Result<format::Accept, vfmig_state::Error> {
        Ok(format::Accept::Take)
    }
    fn section(&mut self, sec: &SectionHeader, payload: &[u8]) -> Result<(), vfmig_state::Error> {
        self.sections.push(RawSection {
            hdr: *sec,
            len: None,
            payload: payload.to_vec(),
        });
        Ok(())
    }
}

/// Options for [`build`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Raw {
    /// Override total_len.
    pub total_len: Option<u32>,
    /// Override section_count.
    pub section_count: Option<u32>,
    /// Reserved byte 17.
    pub rsvd0: u8,
    /// Reserved word at 36.
    pub rsvd1: u32,
    /// XOR into the CRC.
    pub crc_xor: u32,
}

/// Writes a stream byte by byte (no validation): any order, any lengths.
pub fn build(h: &Header, sections: &[RawSection], o: Raw) -> Vec<u8> {
    let mut body = Vec::new();
    for s in sections {
        body.extend_from_slice(&s.hdr.ty.to_le_bytes());
        body.extend_from_slice(&s.hdr.flags.to_le_bytes());
        body.extend_from_slice(&s.hdr.instance.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        let len = s.len.unwrap_or(u32::try_from(s.payload.len()).unwrap());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&s.payload);
    }
    let total = o
        .total_len
        .unwrap_or(u32::try_from(format::HEADER_LEN + body.len() + 4).unwrap());
    let count = o
        .section_count
        .unwrap_or(u32::try_from(sections.len()).unwrap());
    let i = &h.identity;
    let mut out = Vec::new();
    out.extend_from_slice(&format::MAGIC.to_le_bytes());
    out.extend_from_slice(&h.major.to_le_bytes());
    out.extend_from_slice(&h.minor.to_le_bytes());
    out.extend_from_slice(&i.vendor.to_le_bytes());
    out.extend_from_slice(&i.device.to_le_bytes());
    out.extend_from_slice(&i.subsys_vendor.to_le_bytes());
    out.extend_from_slice(&i.subsys_device.to_le_bytes());
    out.push(i.revision);
    out.push(o.rsvd0);
    out.extend_from_slice(&h.provider_id.to_le_bytes());
    out.extend_from_slice(&h.provider_compat.to_le_bytes());
    out.extend_from_slice(&h.flags.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&o.rsvd1.to_le_bytes());
    out.extend_from_slice(&body);
    let crc = crc32c::crc32c(&out) ^ o.crc_xor;
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A section of type `ty` with `len` bytes of filler.
pub fn filler(ty: u16, flags: u16, instance: u16, len: usize) -> RawSection {
    RawSection {
        hdr: SectionHeader {
            ty,
            flags,
            instance,
            len: 0,
        },
        len: None,
        payload: (0..len).map(|i| (i as u8).wrapping_mul(31)).collect(),
    }
}

/// Inserts `s` keeping (type, instance) order.
pub fn insert_sorted(secs: &mut Vec<RawSection>, s: RawSection) {
    let key = (s.hdr.ty, s.hdr.instance);
    let at = secs
        .iter()
        .position(|x| (x.hdr.ty, x.hdr.instance) > key)
        .unwrap_or(secs.len());
    secs.insert(at, s);
}

/// Decodes with the 82576 provider; returns the state on success.
pub fn decode(
    data: &[u8],
    expect: Option<Expect>,
) -> Result<(format::Summary, Box<NicVfState>), vfmig_state::Error> {
    let mut st = Box::<NicVfState>::default();
    let s = nic::decode(data, expect, &igb::PROVIDER, &mut st)?;
    Ok((s, st))
}

/// Decodes feeding `chunk` bytes per write.
pub fn decode_chunked(
    data: &[u8],
    expect: Option<Expect>,
    chunk: usize,
) -> Result<(format::Summary, Box<NicVfState>), vfmig_state::Error> {
    let mut st = Box::<NicVfState>::default();
    let mut d = Box::new(vfmig_state::Decoder::new(expect));
    for c in data.chunks(chunk.max(1)) {
        let mut sink = nic::NicSink::new(&mut st, &igb::PROVIDER);
        d.write(c, &mut sink)?;
    }
    let mut sink = nic::NicSink::new(&mut st, &igb::PROVIDER);
    let s = d.finish(&mut sink)?;
    Ok((s, st))
}

/// Provider trait object for the 82576 VF.
pub fn provider() -> &'static dyn Provider {
    &igb::PROVIDER
}

/// Marks a section OPTIONAL.
pub const OPT: u16 = SECTION_FLAG_OPTIONAL;
