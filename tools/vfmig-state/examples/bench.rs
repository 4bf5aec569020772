// SPDX-License-Identifier: GPL-2.0
//! `make bench`, host part: cost and size of the VF-state stream with the shared format code
//! (the same source the module compiles). Prints a table; asserts nothing about speed.

use std::hint::black_box;
use std::time::Instant;

use vfmig_state::{format::Decoder, igb, nic, NicSink, NicVfState};

const GOLDEN: &[u8] = include_bytes!("../tests/golden/igb-v1.0-full.bin");
const ROUNDS: usize = 20_000;

/// Median and 99th percentile of `f`'s run time in nanoseconds over `ROUNDS` runs.
fn measure(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..1000 {
        f();
    }
    let mut ns: Vec<u128> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos()
        })
        .collect();
    ns.sort_unstable();
    let at = |q: usize| ns[(ns.len() - 1) * q / 100] as f64;
    (at(50), at(99))
}

fn decode_in(chunk: usize, st: &mut NicVfState) {
    let mut d = Decoder::new(None);
    for part in GOLDEN.chunks(chunk) {
        d.write(part, &mut NicSink::new(st, &igb::PROVIDER))
            .expect("golden vector decodes");
    }
    d.finish(&mut NicSink::new(st, &igb::PROVIDER))
        .expect("golden vector decodes");
}

fn main() {
    let mut st = Box::new(NicVfState::EMPTY);
    decode_in(GOLDEN.len(), &mut st);
    let header = nic::header_for(
        vfmig_state::Identity {
            vendor: igb::VENDOR_INTEL,
            device: igb::DEVICE_82576_VF,
            subsys_vendor: 0x8086,
            subsys_device: 0,
            revision: 1,
        },
        &igb::PROVIDER,
    );
    let mut out = vec![0u8; st.encoded_len()];

    println!("state format (host, release build, {ROUNDS} rounds each)");
    println!(
        "  full 82576 VF state: {} bytes ({} Rx + {} Tx rings, interrupts, mailbox, PF-side config, stats, private registers)",
        st.encoded_len(),
        st.num_rx,
        st.num_tx
    );
    println!(
        "  memory: decoder {} bytes, staging state {} bytes (fixed, whatever the stream)",
        std::mem::size_of::<Decoder>(),
        std::mem::size_of::<NicVfState>()
    );
    println!("  {:<32} {:>10} {:>10}", "operation", "median", "p99");
    let row = |name: &str, (p50, p99): (f64, f64)| {
        println!(
            "  {name:<32} {:>8.2} us {:>7.2} us",
            p50 / 1000.0,
            p99 / 1000.0
        )
    };
    row(
        "exact size (MIG_DATA_SIZE)",
        measure(|| {
            black_box(black_box(&*st).encoded_len());
        }),
    );
    row(
        "encode",
        measure(|| {
            black_box(
                st.encode(&header, &igb::PROVIDER, &mut out)
                    .expect("encodes"),
            );
        }),
    );
    let mut scratch = Box::new(NicVfState::EMPTY);
    for chunk in [GOLDEN.len(), 64, 16, 1] {
        let name = if chunk >= GOLDEN.len() {
            "decode + validate, one write".to_string()
        } else {
            format!("decode + validate, {chunk}-byte writes")
        };
        row(&name, measure(|| decode_in(chunk, &mut scratch)));
    }
}
