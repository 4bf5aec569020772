// SPDX-License-Identifier: GPL-2.0
//! Property-based tests: round trips of arbitrary valid states, arbitrary
//! chunking, arbitrary bytes never panic, arbitrary corruption is rejected.
#![allow(unreachable_pub)]

mod common;

use common::*;
use proptest::prelude::*;
use vfmig_state::nic::{self, Interrupts, Mailbox, NicVfState, PfVfConfig, Ring, Stats};
use vfmig_state::{format, igb, Decoder, NicSink};

fn ring() -> impl Strategy<Value = Ring> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(|(len, base, head, tail, ctrl, buf_ctrl, wb_addr)| Ring {
            queue: 0,
            len,
            base,
            head,
            tail,
            ctrl,
            buf_ctrl,
            wb_addr,
        })
}

fn pf() -> impl Strategy<Value = PfVfConfig> {
    (
        any::<[u8; 6]>(),
        0u16..=4095,
        prop_oneof![Just(nic::ETH_P_8021Q), Just(nic::ETH_P_8021AD)],
        0u8..=7,
        0u8..=1,
        0u8..=1,
        0u8..=2,
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(mac, vlan, vlan_proto, qos, spoofchk, trusted, link_state, a, b)| {
                let (min_tx_rate, max_tx_rate) = if b == 0 { (a, 0) } else { (a.min(b), b) };
                PfVfConfig {
                    mac,
                    vlan,
                    vlan_proto,
                    qos,
                    spoofchk,
                    trusted,
                    link_state,
                    min_tx_rate,
                    max_tx_rate,
                }
            },
        )
}

fn regs() -> impl Strategy<Value = Vec<(u32, u32)>> {
    (
        proptest::sample::subsequence(igb::PRIVATE_REGS.to_vec(), 0..=igb::PRIVATE_REGS.len()),
        any::<[u32; 9]>(),
    )
        .prop_map(|(offs, vals)| offs.into_iter().zip(vals).collect())
}

prop_compose! {
    fn igb_state()(
        rx in proptest::array::uniform2(ring()),
        tx in proptest::array::uniform2(ring()),
        masks in any::<[u32; 4]>(),
        itr in any::<[u32; 3]>(),
        ivar in any::<[u32; 2]>(),
        mbx_status in any::<u32>(),
        mbx in any::<[u32; 16]>(),
        pf in pf(),
        stats in proptest::option::of(any::<[u64; 5]>()),
        regs in proptest::option::of(regs()),
    ) -> NicVfState {
        let mut st = NicVfState::default();
        for r in rx { st.push_rx(r).unwrap(); }
        for r in tx { st.push_tx(r).unwrap(); }
        let mut i = Interrupts { enabled: masks[0], auto_clear: masks[1], auto_mask: masks[2], pending: masks[3],
            num_vectors: 3, num_ivar: 2, ..Interrupts::ZERO };
        i.itr[..3].copy_from_slice(&itr);
        i.ivar[..2].copy_from_slice(&ivar);
        st.irq = Some(i);
        let mut m = Mailbox { status: mbx_status, num_dwords: 16, ..Mailbox::ZERO };
        m.mem[..16].copy_from_slice(&mbx);
        st.mailbox = Some(m);
        st.pf = Some(pf);
        st.stats = stats.map(|s| Stats { rx_packets: s[0], rx_octets: s[1], tx_packets: s[2], tx_octets: s[3], rx_multicast: s[4] });
        if let Some(regs) = regs {
            let mut buf = [0u8; 512];
            let n = igb::encode_regs(&regs, &mut buf).unwrap();
            st.push_private(igb::SECTION_IGB_REGS, 0, 0, &buf[..n]).unwrap();
        }
        st
    }
}

fn decode_in_chunks(data: &[u8], cuts: &[usize]) -> Result<Box<NicVfState>, vfmig_state::Error> {
    let mut st = Box::<NicVfState>::default();
    let mut d = Box::new(Decoder::new(Some(sample_expect())));
    let mut rest = data;
    for &c in cuts {
        let c = c.min(rest.len());
        let (a, b) = rest.split_at(c);
        d.write(a, &mut NicSink::new(&mut st, &igb::PROVIDER))?;
        rest = b;
    }
    d.write(rest, &mut NicSink::new(&mut st, &igb::PROVIDER))?;
    d.finish(&mut NicSink::new(&mut st, &igb::PROVIDER))?;
    Ok(st)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(st in igb_state(), cuts in proptest::collection::vec(0usize..64, 0..40)) {
        let bytes = encode(&st, &sample_header());
        prop_assert_eq!(bytes.len(), st.encoded_len());
        let (sum, got) = decode(&bytes, Some(sample_expect())).unwrap();
        prop_assert_eq!(&*got, &st);
        prop_assert_eq!(sum.header.total_len as usize, bytes.len());
        // Re-encoding the decoded state is byte-identical (canonical form).
        prop_assert_eq!(encode(&got, &sample_header()), bytes.clone());
        // Any chunking gives the same state.
        let got2 = decode_in_chunks(&bytes, &cuts).unwrap();
        prop_assert_eq!(&*got2, &st);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600),
                                    cuts in proptest::collection::vec(0usize..64, 0..20)) {
        let a = decode(&data, None).map(|(_, s)| s);
        let b = decode_in_chunks(&data, &cuts);
        // Same verdict whatever the chunking (the expectation differs, so
        // compare only in the accept case for a).
        if let Ok(b) = b { prop_assert_eq!(a.unwrap(), b); }
    }

    #[test]
    fn header_prefixed_garbage_never_panics(st in igb_state(), tail in proptest::collection::vec(any::<u8>(), 0..400), keep in 0usize..600) {
        let mut bytes = encode(&st, &sample_header());
        bytes.truncate(keep.min(bytes.len()));
        bytes.extend_from_slice(&tail);
        let one = decode(&bytes, Some(sample_expect())).map(|(_, s)| s);
        let many = decode_in_chunks(&bytes, &[1, 2, 3, 5, 8, 13, 21, 34]);
        prop_assert_eq!(one, many);
    }

    #[test]
    fn any_corruption_is_rejected(st in igb_state(), pos in any::<prop::sample::Index>(), x in 1u8..=255) {
        let mut bytes = encode(&st, &sample_header());
        let i = pos.index(bytes.len());
        bytes[i] ^= x;
        prop_assert!(decode(&bytes, Some(sample_expect())).is_err());
    }

    #[test]
    fn unknown_optional_sections_are_skipped(st in igb_state(), ty in 0x0007u16..=0xffff, inst in any::<u16>(), len in 0usize..3000) {
        prop_assume!(ty != igb::SECTION_IGB_REGS);
        let (mut h, mut secs) = split(&encode(&st, &sample_header()));
        h.minor = 9;
        insert_sorted(&mut secs, filler(ty, OPT, inst, len));
        let bytes = build(&h, &secs, Raw::default());
        let (sum, got) = decode(&bytes, Some(sample_expect())).unwrap();
        prop_assert_eq!(sum.skipped, 1);
        prop_assert_eq!(&*got, &st);
        // The same section without OPTIONAL is refused.
        secs.iter_mut().filter(|s| s.hdr.ty == ty && s.hdr.instance == inst).for_each(|s| s.hdr.flags = 0);
        let e = decode(&build(&h, &secs, Raw::default()), Some(sample_expect())).unwrap_err();
        prop_assert_eq!(e.kind, vfmig_state::ErrorKind::UnknownMandatorySection);
        prop_assert!(format::stream_len([len]).is_some());
    }
}
