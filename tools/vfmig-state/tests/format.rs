// SPDX-License-Identifier: GPL-2.0
//! Format, compatibility and corruption tests for the shared state stream.
#![allow(unreachable_pub)]

mod common;

use common::*;
use vfmig_state::error::errno;
use vfmig_state::format::{self, Accept, Decoder, Encoder, Expect, Header, SectionHeader, Sink};
use vfmig_state::{crc32c, igb, nic, Error, ErrorKind, Field, NicVfState};

fn kind(r: Result<impl Sized, Error>) -> ErrorKind {
    match r {
        Ok(_) => panic!("decode unexpectedly succeeded"),
        Err(e) => e.kind,
    }
}

fn err<T>(r: Result<T, Error>) -> Error {
    match r {
        Ok(_) => panic!("decode unexpectedly succeeded"),
        Err(e) => e,
    }
}

#[test]
fn crc32c_check_value() {
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c::crc32c(b""), 0);
    let mut c = crc32c::Crc32c::new();
    c.update(b"1234");
    c.update(b"56789");
    assert_eq!(c.value(), 0xE306_9283);
}

#[test]
fn round_trip_sample() {
    let st = sample_state();
    let bytes = sample_stream();
    assert_eq!(bytes.len(), st.encoded_len());
    let (sum, got) = decode(&bytes, Some(sample_expect())).unwrap();
    assert_eq!(*got, st);
    // 2 Rx + 2 Tx rings, interrupts, mailbox, PF config, stats, igb regs.
    assert_eq!(sum.header.section_count, 9);
    assert_eq!(sum.taken, 9);
    assert_eq!(sum.skipped, 0);
    assert_eq!(sum.header.total_len as usize, bytes.len());
    let (_, got) = decode(&encode(&minimal_state(), &sample_header()), None).unwrap();
    assert_eq!(*got, minimal_state());
}

#[test]
fn layout_is_little_endian_and_fixed() {
    let b = sample_stream();
    assert_eq!(&b[0..4], b"VFMG");
    assert_eq!(&b[4..6], &1u16.to_le_bytes());
    assert_eq!(&b[6..8], &0u16.to_le_bytes());
    assert_eq!(&b[8..10], &0x8086u16.to_le_bytes());
    assert_eq!(&b[10..12], &0x10cau16.to_le_bytes());
    assert_eq!(&b[18..20], &igb::PROVIDER_ID.to_le_bytes());
    assert_eq!(&b[28..32], &(b.len() as u32).to_le_bytes());
    // First section: Rx ring 0, 40-byte payload.
    assert_eq!(&b[40..42], &nic::SECTION_RX_RING.to_le_bytes());
    assert_eq!(&b[44..46], &0u16.to_le_bytes());
    assert_eq!(&b[48..52], &40u32.to_le_bytes());
    let crc = crc32c::crc32c(&b[..b.len() - 4]);
    assert_eq!(&b[b.len() - 4..], &crc.to_le_bytes());
}

#[test]
fn every_chunk_size_gives_identical_results() {
    let good = sample_stream();
    let want = decode(&good, Some(sample_expect())).unwrap();
    let mut bad = good.clone();
    bad[200] ^= 0x10;
    let want_bad = err(decode(&bad, Some(sample_expect())));
    // Excess bytes after a complete stream (found by the fuzzer: the error
    // once depended on the chunking of the excess).
    let mut long = good.clone();
    long.extend_from_slice(&[0u8; 117]);
    let want_long = err(decode(&long, Some(sample_expect())));
    assert_eq!(want_long.kind, ErrorKind::TrailingData);
    for chunk in 1..=long.len() {
        assert_eq!(
            err(decode_chunked(&long, Some(sample_expect()), chunk)),
            want_long,
            "chunk {chunk}"
        );
    }
    for chunk in 1..=good.len() {
        let got = decode_chunked(&good, Some(sample_expect()), chunk).unwrap();
        assert_eq!(got.0, want.0, "chunk {chunk}");
        assert_eq!(got.1, want.1, "chunk {chunk}");
        assert_eq!(
            err(decode_chunked(&bad, Some(sample_expect()), chunk)),
            want_bad,
            "chunk {chunk}"
        );
    }
}

#[test]
fn truncation_at_every_offset() {
    let good = sample_stream();
    for cut in 0..good.len() {
        let e = err(decode(&good[..cut], Some(sample_expect())));
        assert_eq!(e.kind, ErrorKind::Truncated, "cut at {cut}: {e}");
        assert_eq!(e.errno(), errno::EBADMSG);
        assert_eq!(e.found, cut as u64);
        // Chunked delivery of the same prefix agrees.
        let e2 = err(decode_chunked(&good[..cut], Some(sample_expect()), 7));
        assert_eq!(e2, e);
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let good = sample_stream();
    let n = good.len();
    for byte in 0..n {
        for bit in 0..8 {
            let mut b = good.clone();
            b[byte] ^= 1 << bit;
            let e = err(decode(&b, Some(sample_expect())));
            let k = e.kind;
            match byte {
                0..=3 => assert_eq!(k, ErrorKind::BadMagic),
                4..=5 => assert_eq!(k, ErrorKind::UnsupportedMajor),
                6..=7 => assert_eq!(k, ErrorKind::BadCrc, "minor flip is only caught by the CRC"),
                8..=16 => assert_eq!(k, ErrorKind::IdentityMismatch, "byte {byte}"),
                17 => assert_eq!(k, ErrorKind::ReservedNonZero),
                18..=19 => assert_eq!(k, ErrorKind::IdentityMismatch),
                // Clearing the one set bit (COMPAT_V1) leaves a subset.
                20 if bit == 0 => assert_eq!(k, ErrorKind::BadCrc),
                20..=23 => assert_eq!(k, ErrorKind::ProviderCompat),
                24..=25 => assert_eq!(k, ErrorKind::UnknownFlags),
                26..=27 => assert_eq!(k, ErrorKind::BadCrc),
                28..=31 => assert!(
                    matches!(
                        k,
                        ErrorKind::Truncated
                            | ErrorKind::TrailingData
                            | ErrorKind::BadLength
                            | ErrorKind::TotalTooLarge
                            | ErrorKind::SectionCount
                            | ErrorKind::SectionOverrun
                            | ErrorKind::BadCrc
                    ),
                    "total_len flip at {byte}.{bit}: {e}"
                ),
                32..=35 => assert!(
                    matches!(k, ErrorKind::SectionCount | ErrorKind::BadLength),
                    "count flip {byte}.{bit}: {e}"
                ),
                36..=39 => assert_eq!(k, ErrorKind::ReservedNonZero),
                _ if byte >= n - 4 => assert_eq!(k, ErrorKind::BadCrc),
                _ => assert_ne!(e.errno(), 0),
            }
            // Without identity checks, identity/provider-compat flips are
            // still caught, by the sink (provider id) or by the CRC.
            let e = err(decode(&b, None));
            if (8..=16).contains(&byte) || (20..=23).contains(&byte) {
                assert_eq!(e.kind, ErrorKind::BadCrc);
            }
            if (18..=19).contains(&byte) {
                assert_eq!(
                    (e.kind, e.field),
                    (ErrorKind::IdentityMismatch, Field::ProviderId)
                );
            }
        }
    }
}

#[test]
fn any_single_byte_change_is_rejected() {
    let good = sample_stream();
    for byte in 0..good.len() {
        for v in [0x00u8, 0xff, 0x80, 0x01] {
            if good[byte] == v {
                continue;
            }
            let mut b = good.clone();
            b[byte] = v;
            assert!(decode(&b, None).is_err(), "byte {byte} = {v:#x} accepted");
        }
    }
}

#[test]
fn bad_crc() {
    let (h, secs) = split(&sample_stream());
    let b = build(
        &h,
        &secs,
        Raw {
            crc_xor: 1,
            ..Raw::default()
        },
    );
    let e = err(decode(&b, None));
    assert_eq!((e.kind, e.field), (ErrorKind::BadCrc, Field::Crc));
    assert_eq!(e.expected ^ e.found, 1);
    assert_eq!(e.offset as usize, b.len() - 4);
    assert_eq!(e.errno(), errno::EBADMSG);
    // And the rebuilt stream without corruption is byte-identical.
    assert_eq!(build(&h, &secs, Raw::default()), sample_stream());
}

#[test]
fn oversized_and_overlapping_lengths() {
    let (h, secs) = split(&sample_stream());
    // A section length running into the trailer.
    let mut s = secs.clone();
    let last = s.len() - 1;
    s[last].len = Some(s[last].payload.len() as u32 + 1);
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::SectionOverrun, Field::SectionLen)
    );
    // A section length swallowing the next section (framing only).
    let mut s = secs.clone();
    s[0].len = Some(40 + 12 + 40);
    let b = build(&h, &s, Raw::default());
    let e = err(format::decode_all(None, &b, &mut Collect::default()));
    assert_eq!(e.kind, ErrorKind::SectionCount, "{e}");
    // ... and the NIC schema rejects the wrong ring length right away.
    let e = err(decode(&b, None));
    assert_eq!((e.kind, e.field), (ErrorKind::BadLength, Field::SectionLen));
    assert_eq!((e.expected, e.found), (40, 92));
    // A section shorter than its schema.
    let mut s = secs.clone();
    s[0].payload.pop();
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(e.kind, ErrorKind::BadLength);
    // total_len larger or smaller than the sections: inconsistent
    let n = build(&h, &secs, Raw::default()).len() as u32;
    // (the mismatch shows after the last section: pos + 4 != total_len).
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                total_len: Some(n + 8),
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!(
        (e.kind, e.field, e.expected, e.found),
        (
            ErrorKind::BadLength,
            Field::TotalLen,
            u64::from(n),
            u64::from(n + 8)
        )
    );
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                total_len: Some(n - 4),
                ..Raw::default()
            },
        ),
        None,
    ));
    assert!(
        matches!(e.kind, ErrorKind::SectionOverrun | ErrorKind::SectionCount),
        "{e}"
    );
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                total_len: Some(u32::MAX),
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!(
        (e.kind, e.errno()),
        (ErrorKind::TotalTooLarge, errno::EFBIG)
    );
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                total_len: Some(43),
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!((e.kind, e.field), (ErrorKind::BadLength, Field::TotalLen));
    // Section count larger / smaller than the sections present.
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                section_count: Some(10),
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!(e.kind, ErrorKind::SectionCount);
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                section_count: Some(8),
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!((e.kind, e.field), (ErrorKind::BadLength, Field::TotalLen));
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                section_count: Some(5000),
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!(e.kind, ErrorKind::SectionCount);
    // A taken section larger than the decoder's buffer: E2BIG, nothing buffered.
    let big = vec![filler(0x7000, 0, 0, format::MAX_SECTION_PAYLOAD + 1)];
    let e = err(format::decode_all(
        None,
        &build(&h, &big, Raw::default()),
        &mut Collect::default(),
    ));
    assert_eq!(
        (e.kind, e.errno()),
        (ErrorKind::SectionTooLarge, errno::E2BIG)
    );
    // A provider block larger than the staging slot.
    let mut s = secs.clone();
    s.last_mut().unwrap().payload = vec![0; nic::MAX_PRIVATE_LEN + 4];
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(e.kind, ErrorKind::SectionTooLarge);
}

#[test]
fn duplicate_and_out_of_order_sections() {
    let (h, secs) = split(&sample_stream());
    let mut s = secs.clone();
    s.insert(1, secs[0].clone());
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.errno()),
        (ErrorKind::DuplicateSection, errno::EINVAL)
    );
    assert_eq!((e.section, e.instance), (nic::SECTION_RX_RING, 0));
    let mut s = secs.clone();
    s.swap(0, 1);
    let b = build(&h, &s, Raw::default());
    // Framing alone sees (1,1) then (1,0).
    let e = err(format::decode_all(None, &b, &mut Collect::default()));
    assert_eq!(
        (e.kind, e.section, e.instance),
        (ErrorKind::OutOfOrder, nic::SECTION_RX_RING, 0)
    );
    // The NIC schema already refuses Rx ring 1 before ring 0.
    let e = err(decode(&b, None));
    assert_eq!((e.kind, e.field), (ErrorKind::InvalidValue, Field::Queue));
    let mut s = secs.clone();
    s.swap(4, 5); // interrupts <-> mailbox
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(e.kind, ErrorKind::OutOfOrder);
    let mut s = secs.clone();
    let stats = s.remove(7);
    s.insert(0, stats);
    assert_eq!(
        kind(decode(&build(&h, &s, Raw::default()), None)),
        ErrorKind::OutOfOrder
    );
}

fn newer(minor: u16) -> Header {
    let mut h = sample_header();
    h.minor = minor;
    h
}

#[test]
fn newer_minor_with_unknown_optional_sections_is_accepted() {
    let (_, mut secs) = split(&sample_stream());
    insert_sorted(&mut secs, filler(0x0042, OPT, 0, 33));
    insert_sorted(&mut secs, filler(0x7fff, OPT, 9, 5000)); // larger than the buffer: skipped
    insert_sorted(&mut secs, filler(0x9000, OPT, 0, 0)); // unknown provider section
    insert_sorted(&mut secs, filler(nic::SECTION_RX_RING, OPT, 7, 1)); // unknown? no: known type
    secs.retain(|s| !(s.hdr.ty == nic::SECTION_RX_RING && s.hdr.instance == 7));
    let b = build(&newer(7), &secs, Raw::default());
    let (sum, st) = decode(&b, Some(sample_expect())).unwrap();
    assert_eq!(sum.header.minor, 7);
    assert_eq!(sum.skipped, 3);
    assert_eq!(*st, sample_state());
    // Unknown section flag bits are ignored in a newer minor ...
    let mut s2 = secs.clone();
    s2[0].hdr.flags |= 0x8000;
    assert!(decode(&build(&newer(7), &s2, Raw::default()), None).is_ok());
    // ... and rejected in this minor.
    let e = err(decode(&build(&newer(0), &s2, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::ReservedNonZero, Field::SectionFlags)
    );
    // Streaming an accepted newer stream in small chunks works too.
    assert!(decode_chunked(&b, Some(sample_expect()), 3).is_ok());
}

#[test]
fn unknown_mandatory_section_is_rejected() {
    let (_, mut secs) = split(&sample_stream());
    insert_sorted(&mut secs, filler(0x0042, 0, 0, 8));
    let e = err(decode(&build(&newer(3), &secs, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field, e.found),
        (ErrorKind::UnknownMandatorySection, Field::SectionType, 0x42)
    );
    assert_eq!(e.errno(), errno::EOPNOTSUPP);
    assert_eq!(e.section, 0x42);
    // Same in the current minor and in the provider range.
    let (_, mut secs) = split(&sample_stream());
    insert_sorted(&mut secs, filler(0x80ff, 0, 0, 8));
    let e = err(decode(
        &build(&sample_header(), &secs, Raw::default()),
        None,
    ));
    assert_eq!(e.kind, ErrorKind::UnknownMandatorySection);
}

#[test]
fn other_major_is_rejected() {
    let (_, secs) = split(&sample_stream());
    for major in [0u16, 2, 0xffff] {
        let mut h = sample_header();
        h.major = major;
        let e = err(decode(
            &build(&h, &secs, Raw::default()),
            Some(sample_expect()),
        ));
        assert_eq!(
            (e.kind, e.field),
            (ErrorKind::UnsupportedMajor, Field::Major)
        );
        assert_eq!((e.expected, e.found), (1, u64::from(major)));
        assert_eq!(e.errno(), errno::EPROTO);
    }
}

#[test]
fn identity_mismatch_names_the_field() {
    let bytes = sample_stream();
    let base = sample_expect();
    type Tweak = fn(&mut Expect);
    let cases: [(Tweak, Field); 6] = [
        (|e| e.identity.vendor = 0x1234, Field::Vendor),
        (|e| e.identity.device = 0x10ed, Field::Device),
        (|e| e.identity.subsys_vendor = 0x1af4, Field::SubsysVendor),
        (|e| e.identity.subsys_device = 0x1100, Field::SubsysDevice),
        (|e| e.identity.revision = 2, Field::Revision),
        (|e| e.provider_id = 2, Field::ProviderId),
    ];
    for (f, field) in cases {
        let mut exp = base;
        f(&mut exp);
        let e = err(decode(&bytes, Some(exp)));
        assert_eq!((e.kind, e.field), (ErrorKind::IdentityMismatch, field));
        assert_eq!(e.errno(), errno::ENODEV);
        assert_ne!(e.expected, e.found);
    }
}

#[test]
fn provider_compat_superset_rule() {
    let (_, secs) = split(&sample_stream());
    let mut h = sample_header();
    h.provider_compat = igb::COMPAT_V1 | 0x8000_0000;
    let e = err(decode(
        &build(&h, &secs, Raw::default()),
        Some(sample_expect()),
    ));
    assert_eq!(
        (e.kind, e.field, e.errno()),
        (
            ErrorKind::ProviderCompat,
            Field::ProviderCompat,
            errno::EOPNOTSUPP
        )
    );
    // A subset (here: no bits) is fine.
    h.provider_compat = 0;
    assert!(decode(&build(&h, &secs, Raw::default()), Some(sample_expect())).is_ok());
}

#[test]
fn header_flags_and_reserved_fields() {
    let (_, secs) = split(&sample_stream());
    let mut h = sample_header();
    h.flags = 1;
    let e = err(decode(&build(&h, &secs, Raw::default()), None));
    assert_eq!(
        (e.kind, e.errno()),
        (ErrorKind::UnknownFlags, errno::EOPNOTSUPP)
    );
    h.flags = 1 << 16; // informational bits are ignored
    assert!(decode(&build(&h, &secs, Raw::default()), None).is_ok());
    let h = sample_header();
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                rsvd0: 1,
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::ReservedNonZero, Field::HeaderReserved)
    );
    let e = err(decode(
        &build(
            &h,
            &secs,
            Raw {
                rsvd1: 1,
                ..Raw::default()
            },
        ),
        None,
    ));
    assert_eq!(e.kind, ErrorKind::ReservedNonZero);
    // Section reserved field and ring reserved field.
    let mut b = build(&h, &secs, Raw::default());
    b[46] = 1;
    let n = b.len();
    let crc = crc32c::crc32c(&b[..n - 4]);
    b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    let e = err(decode(&b, None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::ReservedNonZero, Field::SectionReserved)
    );
    let mut s = secs.clone();
    s[0].payload[2] = 1;
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::ReservedNonZero, Field::RingReserved)
    );
    // Section type 0.
    let mut s = secs.clone();
    s.insert(0, filler(0, OPT, 0, 4));
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::InvalidValue, Field::SectionType)
    );
}

#[test]
fn schema_and_provider_rules() {
    let h = sample_header();
    let (_, secs) = split(&sample_stream());
    // Missing mandatory-by-schema section (mailbox).
    let s: Vec<_> = secs
        .iter()
        .filter(|s| s.hdr.ty != nic::SECTION_MAILBOX)
        .cloned()
        .collect();
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.section),
        (ErrorKind::MissingSection, nic::SECTION_MAILBOX)
    );
    // Queue gap: Tx ring 1 without ring 0.
    let s: Vec<_> = secs
        .iter()
        .filter(|s| !(s.hdr.ty == nic::SECTION_TX_RING && s.hdr.instance == 0))
        .cloned()
        .collect();
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field, e.expected, e.found),
        (ErrorKind::InvalidValue, Field::Queue, 0, 1)
    );
    // Queue index in payload differs from instance.
    let mut s = secs.clone();
    s[1].payload[0] = 0;
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!((e.kind, e.field), (ErrorKind::InvalidValue, Field::Queue));
    // Provider: 82576 has exactly two Rx queues.
    let mut st = sample_state();
    st.push_rx(Default::default()).unwrap();
    let mut buf = vec![0u8; st.encoded_len()];
    let e = err(st.encode(&h, &igb::PROVIDER, &mut buf));
    assert_eq!(
        (e.kind, e.field, e.found),
        (ErrorKind::InvalidValue, Field::RxQueueCount, 3)
    );
    let mut s = secs.clone();
    let mut extra = s[1].clone();
    extra.hdr.instance = 2;
    extra.payload[0] = 2;
    s.insert(2, extra);
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::InvalidValue, Field::RxQueueCount)
    );
    // PF-side values out of range.
    for (off, v, field) in [
        (6usize, 0x10u8, Field::Vlan), // vlan high byte -> 0x1064
        (10, 8, Field::Qos),
        (11, 2, Field::SpoofCheck),
        (12, 2, Field::Trusted),
        (13, 3, Field::LinkState),
        (8, 0x01, Field::VlanProto),
        (14, 1, Field::PfReserved),
    ] {
        let mut s = secs.clone();
        let pf = s
            .iter_mut()
            .find(|s| s.hdr.ty == nic::SECTION_PF_VF_CONFIG)
            .unwrap();
        let at = if off == 6 { 7 } else { off };
        pf.payload[at] = v;
        let e = err(decode(&build(&h, &s, Raw::default()), None));
        assert_eq!(e.field, field, "{e}");
        assert_eq!(e.section, nic::SECTION_PF_VF_CONFIG);
    }
    // Interrupt counts inconsistent with the section length.
    let mut s = secs.clone();
    let irq = s
        .iter_mut()
        .find(|s| s.hdr.ty == nic::SECTION_INTERRUPTS)
        .unwrap();
    irq.payload[16] = 4;
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!((e.kind, e.field), (ErrorKind::BadLength, Field::SectionLen));
    // Private register block: offset not allowed, unsorted.
    let mut s = secs.clone();
    let p = s.last_mut().unwrap();
    p.payload[4..8].copy_from_slice(&0x2800u32.to_le_bytes());
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::InvalidValue, Field::RegOffset)
    );
    let mut s = secs.clone();
    let p = s.last_mut().unwrap();
    p.payload[4..8].copy_from_slice(&igb::regs::dca_txctrl(1).to_le_bytes());
    let e = err(decode(&build(&h, &s, Raw::default()), None));
    assert_eq!((e.kind, e.field), (ErrorKind::OutOfOrder, Field::RegOffset));
    // Wrong provider id (no Expect): the NIC sink still refuses it.
    let mut h2 = h;
    h2.provider_id = 7;
    let e = err(decode(&build(&h2, &secs, Raw::default()), None));
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::IdentityMismatch, Field::ProviderId)
    );
}

#[test]
fn singleton_sections_are_instance_zero() {
    let h = sample_header();
    let (_, secs) = split(&sample_stream());
    for ty in [
        nic::SECTION_INTERRUPTS,
        nic::SECTION_MAILBOX,
        nic::SECTION_PF_VF_CONFIG,
        nic::SECTION_STATS,
    ] {
        let i = secs.iter().position(|s| s.hdr.ty == ty).unwrap();
        let off = 40
            + secs[..i]
                .iter()
                .map(|s| 12 + s.payload.len())
                .sum::<usize>();
        // Alone at another instance.
        let mut s = secs.clone();
        s[i].hdr.instance = 5;
        let e = err(decode(&build(&h, &s, Raw::default()), None));
        assert_eq!(
            (e.kind, e.field, e.expected, e.found),
            (ErrorKind::InvalidValue, Field::SectionInstance, 0, 5),
            "type {ty:#x}"
        );
        assert_eq!((e.section, e.instance, e.offset as usize), (ty, 5, off));
        // A second one after instance 0 (once accepted, the last one winning).
        let mut s = secs.clone();
        let mut extra = s[i].clone();
        extra.hdr.instance = 1;
        s.insert(i + 1, extra);
        let e = err(decode(&build(&h, &s, Raw::default()), None));
        assert_eq!(
            (e.kind, e.field, e.section, e.instance),
            (ErrorKind::InvalidValue, Field::SectionInstance, ty, 1)
        );
        // Twice at instance 0: a duplicate key.
        let mut s = secs.clone();
        let extra = s[i].clone();
        s.insert(i + 1, extra);
        let e = err(decode(&build(&h, &s, Raw::default()), None));
        assert_eq!(e.kind, ErrorKind::DuplicateSection);
    }
}

#[test]
fn errors_are_sticky_and_trailing_data_rejected() {
    let good = sample_stream();
    let mut st = Box::<NicVfState>::default();
    let mut d = Box::new(Decoder::new(None));
    let mut sink = nic::NicSink::new(&mut st, &igb::PROVIDER);
    d.write(&good, &mut sink).unwrap();
    assert!(d.is_complete());
    let e = d.write(&[0], &mut sink).unwrap_err();
    assert_eq!(
        (e.kind, e.errno()),
        (ErrorKind::TrailingData, errno::EBADMSG)
    );
    assert_eq!(d.write(&[], &mut sink).unwrap_err(), e);
    assert_eq!(d.finish(&mut sink).unwrap_err(), e);
    d.reset();
    d.write(&good, &mut sink).unwrap();
    d.finish(&mut sink).unwrap();
    // An empty stream is truncated; a stream with garbage is bad magic.
    let mut d = Box::new(Decoder::new(None));
    assert_eq!(d.finish(&mut sink).unwrap_err().kind, ErrorKind::Truncated);
    let mut d = Box::new(Decoder::new(None));
    assert_eq!(
        d.write(&[0u8; 64], &mut sink).unwrap_err().kind,
        ErrorKind::BadMagic
    );
}

#[test]
fn staging_is_reset_by_a_new_stream() {
    let mut st = Box::new(sample_state());
    st.num_rx = 1;
    nic::decode(
        &encode(&minimal_state(), &sample_header()),
        None,
        &igb::PROVIDER,
        &mut st,
    )
    .unwrap();
    assert_eq!(*st, minimal_state());
}

#[test]
fn encoder_size_and_no_space() {
    let st = sample_state();
    let h = sample_header();
    let need = st.encoded_len();
    let mut buf = vec![0u8; need + 16];
    assert_eq!(st.encode(&h, &igb::PROVIDER, &mut buf).unwrap(), need);
    for short in 0..need {
        let mut buf = vec![0u8; short];
        let e = st.encode(&h, &igb::PROVIDER, &mut buf).unwrap_err();
        assert_eq!(
            (e.kind, e.errno()),
            (ErrorKind::NoSpace, errno::ENOSPC),
            "size {short}"
        );
    }
    // The generic size function agrees.
    let (_, secs) = split(&sample_stream());
    assert_eq!(
        format::stream_len(secs.iter().map(|s| s.payload.len())),
        Some(need)
    );
}

#[test]
fn encoder_refuses_bad_order_and_bad_lengths() {
    let mut buf = [0u8; 256];
    let mut e = Encoder::new(&mut buf, &sample_header());
    let sec = |ty, instance, len| SectionHeader {
        ty,
        flags: 0,
        instance,
        len,
    };
    e.section(&sec(5, 1, 4), |w| {
        w.u32(1);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        e.section(&sec(5, 1, 0), |_| Ok(())).unwrap_err().kind,
        ErrorKind::DuplicateSection
    );
    let mut e = Encoder::new(&mut buf, &sample_header());
    e.section(&sec(5, 1, 0), |_| Ok(())).unwrap();
    assert_eq!(
        e.section(&sec(5, 0, 0), |_| Ok(())).unwrap_err().kind,
        ErrorKind::OutOfOrder
    );
    let mut e = Encoder::new(&mut buf, &sample_header());
    assert_eq!(
        e.section(&sec(5, 0, 8), |w| {
            w.u32(0);
            Ok(())
        })
        .unwrap_err()
        .kind,
        ErrorKind::BadLength
    );
    assert_eq!(
        e.finish().unwrap_err().kind,
        ErrorKind::BadLength,
        "encoder is poisoned"
    );
    let mut e = Encoder::new(&mut buf, &sample_header());
    assert_eq!(
        e.section(&sec(5, 0, 4), |w| {
            w.u64(0);
            Ok(())
        })
        .unwrap_err()
        .kind,
        ErrorKind::BadLength
    );
    // An empty stream (no sections) is valid framing; the NIC schema rejects it.
    let n = Encoder::new(&mut buf, &sample_header()).finish().unwrap();
    assert_eq!(n, 44);
    assert!(format::decode_all(None, &buf[..n], &mut Collect::default()).is_ok());
    let e = err(decode(&buf[..n], None));
    assert_eq!(e.kind, ErrorKind::MissingSection);
}

/// A sink that fails on a given section, to check error location.
struct FailOn(u16);
impl Sink for FailOn {
    fn accept(&mut self, _s: &SectionHeader) -> Result<Accept, Error> {
        Ok(Accept::Take)
    }
    fn section(&mut self, s: &SectionHeader, _p: &[u8]) -> Result<(), Error> {
        if s.ty == self.0 {
            Err(Error::new(ErrorKind::InvalidValue, Field::Stream))
        } else {
            Ok(())
        }
    }
}

#[test]
fn sink_errors_carry_location() {
    let b = sample_stream();
    let e = err(format::decode_all(
        None,
        &b,
        &mut FailOn(nic::SECTION_TX_RING),
    ));
    assert_eq!((e.section, e.instance), (nic::SECTION_TX_RING, 0));
    // Two Rx rings (52 bytes each) after the 40-byte header.
    assert_eq!(e.offset, 40 + 2 * 52);
}

#[test]
fn errno_mapping_is_distinct_where_it_matters() {
    assert_eq!(ErrorKind::UnsupportedMajor.errno(), 71);
    assert_eq!(ErrorKind::IdentityMismatch.errno(), 19);
    assert_eq!(ErrorKind::UnknownMandatorySection.errno(), 95);
    assert_eq!(ErrorKind::BadCrc.errno(), 74);
    assert_eq!(ErrorKind::Truncated.errno(), 74);
    assert_eq!(ErrorKind::DuplicateSection.errno(), 22);
    assert_eq!(ErrorKind::SectionTooLarge.errno(), 7);
    assert_eq!(ErrorKind::TotalTooLarge.errno(), 27);
    assert_eq!(ErrorKind::BadCrc.name(), "bad-crc");
    let s = format!(
        "{}",
        Error::new(ErrorKind::IdentityMismatch, Field::Device).values(0x10ca, 0x10ed)
    );
    assert!(
        s.contains("identity-mismatch") && s.contains("header.device") && s.contains("0x10ed"),
        "{s}"
    );
}
