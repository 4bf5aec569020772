// SPDX-License-Identifier: GPL-2.0
//! The guest's mailbox requests (`SECTION_IGB_MBX`): what is recorded from the messages the
//! guest sends, the payload's layout, and the payloads a decoder refuses.
#![allow(unreachable_pub)]

mod common;

use common::*;
use vfmig_state::format::SectionHeader;
use vfmig_state::igb::{self, msg, MbxRequests, MBX_MSG_DWORDS, MBX_PAYLOAD_LEN};
use vfmig_state::nic::Provider;
use vfmig_state::{ErrorKind, Field};

fn m(words: &[u32]) -> [u32; MBX_MSG_DWORDS] {
    let mut out = [0u32; MBX_MSG_DWORDS];
    out[..words.len()].copy_from_slice(words);
    out
}

#[test]
fn records_the_requests_that_matter() {
    let mut r = MbxRequests::default();
    assert!(r.is_empty());
    // 3 hashes: words 1 and 2 (the upper half of word 2 is not part of the message).
    assert!(r.record(&m(&[
        msg::SET_MULTICAST | 3 << 16,
        0x0002_0001,
        0xdead_0003,
        0x77
    ])));
    assert_eq!(
        &r.multicast[..4],
        &[msg::SET_MULTICAST | 3 << 16, 0x0002_0001, 0x3, 0]
    );
    // A later list replaces the earlier one.
    assert!(r.record(&m(&[msg::SET_MULTICAST | 1 << 16, 0x55])));
    assert_eq!(&r.multicast[..3], &[msg::SET_MULTICAST | 1 << 16, 0x55, 0]);
    // VLANs: added once, removed, a repeat is ignored.
    for vid in [100u32, 200, 100, 300] {
        assert!(r.record(&m(&[msg::SET_VLAN | 1 << 16, vid])));
    }
    assert!(r.record(&m(&[msg::SET_VLAN, 200])));
    assert_eq!(r.vlans(), &[100, 300]);
    assert!(r.record(&m(&[msg::SET_LPE, 9018])));
    assert!(r.record(&m(&[msg::SET_PROMISC | 2 << 16])));
    assert_eq!((r.lpe, r.promisc), (9018, msg::SET_PROMISC | 2 << 16));
    // Other messages are not kept; a list longer than igbvf sends is not either.
    assert!(!r.record(&m(&[0x01])));
    assert!(!r.record(&m(&[0x02, 1, 2])));
    assert!(!r.record(&m(&[msg::SET_MULTICAST | 31 << 16])));
    assert_eq!(&r.multicast[..2], &[msg::SET_MULTICAST | 1 << 16, 0x55]);
}

#[test]
fn vlan_list_is_bounded() {
    let mut r = MbxRequests::default();
    for vid in 1..=40u32 {
        r.record(&m(&[msg::SET_VLAN | 1 << 16, vid]));
    }
    assert_eq!(r.vlans().len(), igb::MBX_MAX_VLANS);
    assert_eq!(r.vlans()[31], 32);
}

#[test]
fn round_trips_and_is_checked() {
    let mut r = MbxRequests::default();
    r.record(&m(&[msg::SET_MULTICAST | 2 << 16, 0x0004_0003]));
    r.record(&m(&[msg::SET_VLAN | 1 << 16, 4095]));
    r.record(&m(&[msg::SET_LPE, 1522]));
    let mut buf = [0u8; MBX_PAYLOAD_LEN];
    assert_eq!(r.encode(&mut buf).unwrap(), MBX_PAYLOAD_LEN);
    assert_eq!(MbxRequests::decode(&buf).unwrap(), r);
    let sec = SectionHeader {
        ty: igb::SECTION_IGB_MBX,
        flags: 1,
        instance: 0,
        len: MBX_PAYLOAD_LEN as u32,
    };
    igb::PROVIDER.check_private(&sec, &buf).unwrap();
    assert_eq!(
        igb::PROVIDER
            .check_private(&SectionHeader { instance: 1, ..sec }, &buf)
            .unwrap_err()
            .field,
        Field::SectionInstance
    );

    let bad = |f: &dyn Fn(&mut [u8])| {
        let mut b = buf;
        f(&mut b);
        MbxRequests::decode(&b).unwrap_err()
    };
    // Unknown flag, too many VLANs, a VLAN id past 4095, a stale entry past the count.
    assert_eq!(bad(&|b| b[0] = 0x08).field, Field::MbxFlags);
    assert_eq!(bad(&|b| b[2] = 33).field, Field::MbxVlanCount);
    let vl = 4 + 4 * MBX_MSG_DWORDS + 8;
    assert_eq!(bad(&|b| b[vl + 1] = 0x10).field, Field::MbxVlan);
    assert_eq!(bad(&|b| b[vl + 2] = 1).field, Field::MbxVlan);
    // A multicast message of another type, or one without its flag.
    assert_eq!(bad(&|b| b[4] = 0x07).field, Field::MbxMessage);
    assert_eq!(bad(&|b| b[0] &= !1).field, Field::MbxMessage);
    // Promisc data without the flag; a wrong length.
    assert_eq!(bad(&|b| b[vl - 4] = 0x06).field, Field::MbxMessage);
    let e = MbxRequests::decode(&buf[..MBX_PAYLOAD_LEN - 1]).unwrap_err();
    assert_eq!((e.kind, e.field), (ErrorKind::BadLength, Field::SectionLen));
}

#[test]
fn optional_section_decodes_with_a_state() {
    // A full state plus the requests section decodes; the block is kept for the provider.
    let mut st = sample_state();
    let mut r = MbxRequests::default();
    r.record(&m(&[msg::SET_VLAN | 1 << 16, 7]));
    let mut buf = [0u8; MBX_PAYLOAD_LEN];
    r.encode(&mut buf).unwrap();
    st.push_private(igb::SECTION_IGB_MBX, 0, 1, &buf).unwrap();
    let bytes = encode(&st, &sample_header());
    let (_, back) = decode(&bytes, Some(sample_expect())).unwrap();
    let blk = back
        .private()
        .iter()
        .find(|p| p.ty == igb::SECTION_IGB_MBX)
        .expect("requests block");
    assert_eq!(MbxRequests::decode(blk.payload()).unwrap().vlans(), &[7]);
}
