// SPDX-License-Identifier: GPL-2.0
//! Fuzz target: the streaming state decoder (and the FSM) on arbitrary input.
//!
//! Input layout: byte 0 = mode, byte 1 = chunk size, rest = stream.
//! mode bit 0: patch `total_len` to the stream length; bit 1: recompute the
//! trailing CRC32C (both let the fuzzer get past integrity checks and reach
//! section decoding); bit 2: also decode with a destination expectation.
//! Properties checked (any violation aborts):
//! - no panic, no out-of-bounds, no overflow (debug assertions are on);
//! - one-shot and chunked decoding give the same result;
//! - an accepted stream re-encodes to exactly `encoded_len()` bytes and
//!   decodes back to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfmig_state::format::{self, Accept, SectionHeader, Sink};
use vfmig_state::fsm::{self, Features, State};
use vfmig_state::{crc32c, igb, nic, Decoder, Error, NicSink, NicVfState};

struct Framing(u32);

impl Sink for Framing {
    fn accept(&mut self, sec: &SectionHeader) -> Result<Accept, Error> {
        Ok(if sec.ty & 1 == 0 {
            Accept::Take
        } else {
            Accept::Unknown
        })
    }
    fn section(&mut self, sec: &SectionHeader, payload: &[u8]) -> Result<(), Error> {
        assert_eq!(payload.len(), sec.len as usize);
        assert!(payload.len() <= format::MAX_SECTION_PAYLOAD);
        self.0 = self.0.wrapping_add(1);
        Ok(())
    }
}

fn chunked(
    data: &[u8],
    chunk: usize,
    expect: Option<vfmig_state::Expect>,
) -> Result<Box<NicVfState>, Error> {
    let mut st = Box::<NicVfState>::default();
    let mut d = Box::new(Decoder::new(expect));
    for c in data.chunks(chunk) {
        d.write(c, &mut NicSink::new(&mut st, &igb::PROVIDER))?;
    }
    d.finish(&mut NicSink::new(&mut st, &igb::PROVIDER))?;
    Ok(st)
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let mode = input[0];
    let chunk = usize::from(input[1]) + 1;
    let mut data = input[2..].to_vec();

    // FSM on the first bytes: must never panic, paths consist of single arcs.
    let cur = State::from_raw(u32::from(mode & 7)).unwrap();
    let tgt = State::from_raw(u32::from(input[1] & 7)).unwrap();
    let feat = Features(u32::from(input[1] >> 3));
    let mut path = [State::Error; fsm::NUM_STATES];
    if let Ok(n) = fsm::path(cur, tgt, feat, &mut path) {
        let mut at = cur;
        for &s in &path[..n] {
            assert!(fsm::is_single_arc(at, s, feat));
            at = s;
        }
    }

    if mode & 1 != 0 && data.len() >= 32 {
        let len = data.len() as u32;
        data[28..32].copy_from_slice(&len.to_le_bytes());
    }
    if mode & 2 != 0 && data.len() >= 4 {
        let n = data.len() - 4;
        let crc = crc32c::crc32c(&data[..n]);
        data[n..].copy_from_slice(&crc.to_le_bytes());
    }
    let expect = if mode & 4 != 0 {
        Some(nic::expect_for(igb::identity(0x8086, 0, 1), &igb::PROVIDER))
    } else {
        None
    };

    let mut one = Box::<NicVfState>::default();
    let r1 = nic::decode(&data, expect, &igb::PROVIDER, &mut one);
    let r2 = chunked(&data, chunk, expect);
    match (&r1, &r2) {
        (Ok(_), Ok(st2)) => assert_eq!(&*one, &**st2),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("one-shot {r1:?} vs chunked {:?}", r2.as_ref().map(|_| ())),
    }
    if let Ok(sum) = r1 {
        let need = one.encoded_len();
        let mut buf = vec![0u8; need];
        // Same header (version, flags); the encoder fills length and count.
        let hdr = sum.header;
        let n = one
            .encode(&hdr, &igb::PROVIDER, &mut buf)
            .expect("re-encode accepted state");
        assert_eq!(n, need);
        let mut back = Box::<NicVfState>::default();
        nic::decode(&buf, None, &igb::PROVIDER, &mut back).expect("decode re-encoded state");
        assert_eq!(&*back, &*one);
    }

    // Framing-only sink (takes even types, skips odd OPTIONAL ones).
    let mut f = Framing(0);
    let _ = format::decode_all(None, &data, &mut f);
});
