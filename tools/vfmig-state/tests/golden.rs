// SPDX-License-Identifier: GPL-2.0
//! Golden vectors: committed `.bin` streams and their expected decode.
//!
//! Each case is generated from code; the test checks that the generator
//! still produces the committed bytes (format stability) and that decoding
//! the committed bytes gives the committed text. To regenerate deliberately
//! (after a reviewed format change), run
//! `VFMIG_REGEN_GOLDEN=1 cargo test --test golden`.
#![allow(unreachable_pub)]

mod common;

use common::*;
use std::path::PathBuf;
use vfmig_state::describe_stream;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// (name, bytes). Decoded with the sample destination's expectation.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let (h, secs) = split(&sample_stream());
    let mut v = vec![
        ("igb-v1.0-full", sample_stream()),
        (
            "igb-v1.0-minimal",
            encode(&minimal_state(), &sample_header()),
        ),
    ];
    let mut newer = h;
    newer.minor = 7;
    let mut s = secs.clone();
    insert_sorted(&mut s, filler(0x0040, OPT, 0, 24));
    insert_sorted(&mut s, filler(0x8100, OPT, 3, 16));
    v.push((
        "igb-v1.7-unknown-optional",
        build(&newer, &s, Raw::default()),
    ));
    let mut s = secs.clone();
    insert_sorted(&mut s, filler(0x0040, 0, 0, 24));
    v.push((
        "igb-v1.7-unknown-mandatory",
        build(&newer, &s, Raw::default()),
    ));
    let mut major2 = h;
    major2.major = 2;
    v.push(("igb-v2.0-major", build(&major2, &secs, Raw::default())));
    let mut other = h;
    other.identity.device = 0x10ed; // 82599 VF
    v.push(("other-device", build(&other, &secs, Raw::default())));
    v.push((
        "bad-crc",
        build(
            &h,
            &secs,
            Raw {
                crc_xor: 0xdead_beef,
                ..Raw::default()
            },
        ),
    ));
    let full = sample_stream();
    v.push(("truncated", full[..full.len() / 2].to_vec()));
    v
}

#[test]
fn golden_vectors() {
    let regen = std::env::var_os("VFMIG_REGEN_GOLDEN").is_some();
    let d = dir();
    let mut failures = Vec::new();
    for (name, bytes) in cases() {
        let bin = d.join(format!("{name}.bin"));
        let txt = d.join(format!("{name}.txt"));
        let text = describe_stream(&bytes, Some(sample_expect()));
        if regen {
            std::fs::write(&bin, &bytes).unwrap();
            std::fs::write(&txt, &text).unwrap();
            continue;
        }
        let committed = std::fs::read(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let want =
            std::fs::read_to_string(&txt).unwrap_or_else(|e| panic!("{}: {e}", txt.display()));
        if committed != bytes {
            failures.push(format!(
                "{name}: generator output differs from committed {}",
                bin.display()
            ));
        }
        let got = describe_stream(&committed, Some(sample_expect()));
        if got != want {
            failures.push(format!(
                "{name}: decode differs\n--- want\n{want}--- got\n{got}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn golden_outcomes() {
    // Independent of the text format: what each vector must decode to.
    let d = dir();
    let read = |n: &str| std::fs::read(d.join(format!("{n}.bin"))).unwrap();
    use vfmig_state::ErrorKind::*;
    let exp = Some(sample_expect());
    assert_eq!(
        *decode(&read("igb-v1.0-full"), exp).unwrap().1,
        sample_state()
    );
    assert_eq!(
        *decode(&read("igb-v1.0-minimal"), exp).unwrap().1,
        minimal_state()
    );
    let (sum, st) = decode(&read("igb-v1.7-unknown-optional"), exp).unwrap();
    assert_eq!((sum.header.minor, sum.skipped, *st), (7, 2, sample_state()));
    let k = |n: &str| decode(&read(n), exp).unwrap_err().kind;
    assert_eq!(k("igb-v1.7-unknown-mandatory"), UnknownMandatorySection);
    assert_eq!(k("igb-v2.0-major"), UnsupportedMajor);
    assert_eq!(k("other-device"), IdentityMismatch);
    assert_eq!(k("bad-crc"), BadCrc);
    assert_eq!(k("truncated"), Truncated);
}
