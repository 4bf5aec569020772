// SPDX-License-Identifier: GPL-2.0

//! In-kernel tests (KUnit), compiled only into the test build `vfmig_kunit.ko` (`make kunit`,
//! `--cfg vfmig_kunit`), whose suites run when it is loaded on a kernel with `CONFIG_KUNIT`.
//!
//! They prove that the shared state format compiled into the module behaves as the userspace
//! build does: the committed golden vectors decode in-kernel, re-encode to the same bytes, and
//! corruption is refused with the errno the driver will return.
//!
//! `vfmig_dump` pins the text form of a register snapshot (the debugfs `regs` file) that the guest
//! tests parse.

use kernel::prelude::*;

/// What several suites use: the committed golden stream and the identity it was saved from.
#[cfg(CONFIG_KUNIT)]
mod fixtures {
    use crate::shared::{
        format::{
            Expect,
            Identity, //
        },
        igb,
        nic::Provider,
    };

    /// A complete 82576 VF state (2 Rx + 2 Tx rings, interrupts, mailbox, PF-side config,
    /// statistics, private registers), as committed for the host tests.
    pub(super) static GOLDEN_FULL: &[u8] =
        include_bytes!("../tools/vfmig-state/tests/golden/igb-v1.0-full.bin");

    /// `EBADMSG`, as a stream error's errno.
    pub(super) const EBADMSG: i32 = 74;
    /// `ENODEV`, as a stream error's errno.
    pub(super) const ENODEV: i32 = 19;

    /// The identity of the device the golden vectors were saved from.
    pub(super) fn identity() -> Identity {
        Identity {
            vendor: igb::VENDOR_INTEL,
            device: igb::DEVICE_82576_VF,
            subsys_vendor: 0x8086,
            subsys_device: 0,
            revision: 1,
        }
    }

    /// What a device with [`identity`] expects.
    pub(super) fn expect() -> Expect {
        Expect {
            identity: identity(),
            provider_id: igb::PROVIDER.id(),
            provider_compat_supported: igb::PROVIDER.compat_supported(),
        }
    }
}

#[kunit_tests(vfmig_shared)]
mod tests {
    use kernel::prelude::*;

    use crate::shared::{
        error::Error as StateError,
        format::{
            Decoder,
            Expect, //
        },
        fsm::{
            next_state,
            Features,
            State, //
        },
        igb,
        nic::{
            header_for,
            NicSink,
            NicVfState, //
        },
    };

    use super::fixtures::{
        expect,
        identity,
        EBADMSG,
        ENODEV,
        GOLDEN_FULL, //
    };

    /// A stream saved from another device (8086:10cb).
    static GOLDEN_OTHER: &[u8] =
        include_bytes!("../tools/vfmig-state/tests/golden/other-device.bin");

    /// Feeds `data` to a fresh decoder in chunks of `chunk` bytes, as `write()` would.
    fn decode(
        data: &[u8],
        chunk: usize,
        expect: Option<Expect>,
        state: &mut NicVfState,
    ) -> Result<core::result::Result<u32, StateError>> {
        let mut dec = KBox::new(Decoder::new(expect), GFP_KERNEL)?;
        Ok(feed(&mut dec, data, chunk, state))
    }

    fn feed(
        dec: &mut Decoder,
        data: &[u8],
        chunk: usize,
        state: &mut NicVfState,
    ) -> core::result::Result<u32, StateError> {
        for part in data.chunks(chunk) {
            dec.write(part, &mut NicSink::new(state, &igb::PROVIDER))?;
        }
        let sum = dec.finish(&mut NicSink::new(state, &igb::PROVIDER))?;
        Ok(sum.taken)
    }

    #[test]
    fn golden_decodes_and_reencodes_identically() -> Result {
        let mut st = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        for chunk in [1, 7, 64, 4096] {
            let taken = decode(GOLDEN_FULL, chunk, Some(expect()), &mut st)?.map_err(|_| EINVAL)?;
            assert_eq!(taken, 9);
        }
        assert_eq!(st.num_rx, 2);
        assert_eq!(st.num_tx, 2);
        assert_eq!(st.rx[0].base, 0x1_2345_0000);
        assert_eq!(st.encoded_len(), GOLDEN_FULL.len());

        let mut out = KVec::from_elem(0u8, st.encoded_len(), GFP_KERNEL)?;
        let n = st
            .encode(
                &header_for(identity(), &igb::PROVIDER),
                &igb::PROVIDER,
                &mut out,
            )
            .map_err(|_| EINVAL)?;
        assert_eq!(n, GOLDEN_FULL.len());
        assert!(out[..] == *GOLDEN_FULL);
        Ok(())
    }

    #[test]
    fn corruption_is_refused_with_ebadmsg() -> Result {
        let mut st = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        let mut bad = KVec::new();
        bad.extend_from_slice(GOLDEN_FULL, GFP_KERNEL)?;
        // A bit flip inside the first ring's payload: only the CRC can catch it.
        bad[60] ^= 0x10;
        let err = decode(&bad, 13, Some(expect()), &mut st)?.err();
        assert_eq!(err.map(|e| e.errno()), Some(EBADMSG));
        // Truncation.
        let err = decode(&GOLDEN_FULL[..GOLDEN_FULL.len() - 1], 13, None, &mut st)?.err();
        assert_eq!(err.map(|e| e.errno()), Some(EBADMSG));
        Ok(())
    }

    #[test]
    fn other_device_is_refused_with_enodev() -> Result {
        let mut st = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        let err = decode(GOLDEN_OTHER, 5, Some(expect()), &mut st)?.err();
        assert_eq!(err.map(|e| e.errno()), Some(ENODEV));
        Ok(())
    }

    #[test]
    fn fsm_walks_like_the_vfio_core() {
        let all = Features(Features::STOP_COPY | Features::P2P | Features::PRE_COPY);
        assert_eq!(
            next_state(State::Running, State::StopCopy, all).ok(),
            Some(State::RunningP2p)
        );
        assert_eq!(
            next_state(State::RunningP2p, State::StopCopy, all).ok(),
            Some(State::Stop)
        );
        assert_eq!(
            next_state(State::Stop, State::StopCopy, all).ok(),
            Some(State::StopCopy)
        );
        assert!(next_state(State::Error, State::Running, all).is_err());
    }
}

#[kunit_tests(vfmig_dump)]
mod dump_tests {
    use kernel::{
        prelude::*,
        str::CString, //
    };

    use crate::{
        dump::RegsDump,
        shared::nic::{
            Interrupts,
            Mailbox,
            NicVfState,
            Ring,
            Stats, //
        },
    };

    /// The debugfs `regs` text of a snapshot: what the guest test parses.
    #[test]
    fn regs_dump_format() -> Result {
        let mut st = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        let rx = Ring {
            len: 512,
            base: 0x1_2345_6780,
            head: 3,
            tail: 31,
            ctrl: 0x0200_0000,
            buf_ctrl: 0x0200_0002,
            ..Ring::ZERO
        };
        st.push_rx(rx).map_err(|_| EINVAL)?;
        let tx = Ring {
            len: 1024,
            base: 0xfeed_0000,
            head: 5,
            tail: 7,
            ctrl: 0x0200_0000,
            wb_addr: 0xbeef_0001,
            ..Ring::ZERO
        };
        st.push_tx(tx).map_err(|_| EINVAL)?;
        let mut irq = Interrupts {
            auto_clear: 7,
            num_vectors: 3,
            num_ivar: 2,
            ..Interrupts::ZERO
        };
        irq.itr[1] = 0x1f4;
        st.irq = Some(irq);
        let mut mbx = Mailbox {
            num_dwords: 2,
            ..Mailbox::ZERO
        };
        mbx.mem[0] = 0x8000_0001;
        st.mailbox = Some(mbx);
        st.stats = Some(Stats {
            rx_packets: 1,
            rx_octets: 60,
            tx_packets: 2,
            tx_octets: 120,
            rx_multicast: 0,
        });

        let text = CString::try_from_fmt(fmt!("{}", RegsDump(&st)))?;
        let want: &[u8] = b"\
rx0 base=0x0000000123456780 len=512 head=3 tail=31 ctrl=0x02000000 buf_ctrl=0x02000002 wb=0x0000000000000000
tx0 base=0x00000000feed0000 len=1024 head=5 tail=7 ctrl=0x02000000 buf_ctrl=0x00000000 wb=0x00000000beef0001
irq enabled=0x00000000 auto_clear=0x00000007 auto_mask=0x00000000 pending=0x00000000 itr=0x00000000,0x000001f4,0x00000000 ivar=0x00000000,0x00000000
mailbox status=0x00000000 mem=0x80000001,0x00000000
pf -
stats rx_packets=1 rx_octets=60 tx_packets=2 tx_octets=120 rx_multicast=0
";
        assert!(text.to_bytes() == want);
        Ok(())
    }

    /// An empty state prints every section as absent.
    #[test]
    fn regs_dump_empty() -> Result {
        let st = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        let text = CString::try_from_fmt(fmt!("{}", RegsDump(&st)))?;
        assert!(text.to_bytes() == b"irq -\nmailbox -\npf -\nstats -\n");
        Ok(())
    }
}

#[kunit_tests(vfmig_dirty)]
mod dirty_tests {
    use kernel::prelude::*;

    use crate::device::{
        emit_runs,
        heap_sort,
        PageLog, //
    };

    const MIB: u64 = 1 << 20;

    /// The page numbers a report of pages `first..=last` would give, as sorted distinct pages.
    fn report(log: &mut PageLog, first: u64, last: u64, clear: bool) -> Result<KVec<u64>> {
        let mut pages = KVVec::new();
        let mut runs = KVec::new();
        if clear {
            log.take(first, last, &mut pages, &mut runs)?;
        } else {
            log.peek(first, last, &mut pages, &mut runs)?;
        }
        let mut out = KVec::new();
        let mut err = Ok(());
        emit_runs(&mut pages, &runs, |p, n| {
            for q in p..p + n {
                if out.last() != Some(&q) && out.push(q, GFP_KERNEL).is_err() {
                    err = Err(ENOMEM);
                }
            }
        });
        err?;
        heap_sort(&mut out);
        let mut n = 0;
        for i in 0..out.len() {
            if n == 0 || out[n - 1] != out[i] {
                out[n] = out[i];
                n += 1;
            }
        }
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn heap_sort_sorts() -> Result {
        let mut v = [9u64, 1, 8, 1, 0, u64::MAX, 7, 3, 3];
        heap_sort(&mut v);
        assert_eq!(v, [0, 1, 1, 3, 3, 7, 8, 9, u64::MAX]);
        let mut e: [u64; 0] = [];
        heap_sort(&mut e);
        let mut r = [(5u64, 6u64), (1, 9), (1, 2)];
        heap_sort(&mut r);
        assert_eq!(r, [(1, 2), (1, 9), (5, 6)]);
        Ok(())
    }

    #[test]
    fn page_size_agreed() -> Result {
        let r = [(0, MIB - 1)];
        assert_eq!(PageLog::new(&r, 4096)?.page_size(), 4096);
        assert_eq!(PageLog::new(&r, 2 * MIB)?.page_size(), 2 * MIB);
        // Below 4 KiB or not a power of two: rounded up.
        assert_eq!(PageLog::new(&r, 512)?.page_size(), 4096);
        assert_eq!(PageLog::new(&r, 12288)?.page_size(), 16384);
        assert_eq!(PageLog::new(&r, 0)?.page_size(), 4096);
        assert!(PageLog::new(&r, u64::MAX).is_err());
        assert!(PageLog::new(&[], 4096).is_err());
        Ok(())
    }

    #[test]
    fn ranges_merge_and_cover() -> Result {
        // Adjacent ranges merge; a window across both is covered, one past them is not.
        let log = PageLog::new(
            &[
                (2 * MIB, 3 * MIB - 1),
                (MIB, 2 * MIB - 1),
                (8 * MIB, 9 * MIB - 1),
            ],
            4096,
        )?;
        assert_eq!(log.num_ranges(), 2);
        assert!(log.covers(MIB >> 12, (3 * MIB - 1) >> 12));
        assert!(!log.covers(MIB >> 12, (3 * MIB) >> 12));
        assert!(!log.covers((3 * MIB) >> 12, (8 * MIB) >> 12));
        assert!(log.covers((8 * MIB) >> 12, (8 * MIB) >> 12));
        Ok(())
    }

    #[test]
    fn marks_only_logged_pages() -> Result {
        let mut log = PageLog::new(&[(MIB, 2 * MIB - 1)], 4096)?;
        // A buffer straddling the range's start: only the page inside is logged.
        log.mark(MIB - 100, 2048);
        // Outside entirely.
        log.mark(0, 4096);
        log.mark(3 * MIB, 16384);
        // Inside, across two pages, twice.
        log.mark(MIB + 4096 + 2048, 4096);
        log.mark(MIB + 4096 + 2048, 4096);
        let got = report(&mut log, MIB >> 12, (2 * MIB - 1) >> 12, true)?;
        let want = [MIB >> 12, (MIB >> 12) + 1, (MIB >> 12) + 2];
        assert_eq!(&got[..], &want[..]);
        // Cleared by the report.
        assert!(report(&mut log, MIB >> 12, (2 * MIB - 1) >> 12, true)?.is_empty());
        // A length that runs off the end of the address space is clipped, not wrapped: with a
        // range at the top of the address space, only its last page is logged, and a wrapped
        // length would have logged page 0 of the first range too.
        let top = u64::MAX >> 12;
        let mut log = PageLog::new(&[(0, MIB - 1), (u64::MAX - (MIB - 1), u64::MAX)], 4096)?;
        log.mark(u64::MAX - 10, 100);
        assert_eq!(&report(&mut log, top - 255, top, true)?[..], &[top][..]);
        assert!(report(&mut log, 0, (MIB - 1) >> 12, true)?.is_empty());
        Ok(())
    }

    #[test]
    fn take_clears_only_the_window() -> Result {
        let mut log = PageLog::new(&[(0, 4 * MIB - 1)], 4096)?;
        for p in [1u64, 5, 300, 700, 1000] {
            log.mark(p << 12, 1);
        }
        // Peek leaves everything; take of 0..=400 clears 1, 5, 300 only.
        assert_eq!(&report(&mut log, 0, 400, false)?[..], &[1, 5, 300][..]);
        assert_eq!(&report(&mut log, 0, 400, true)?[..], &[1, 5, 300][..]);
        assert_eq!(&report(&mut log, 0, 1023, true)?[..], &[700, 1000][..]);
        assert_eq!(log.pending(), 0);
        Ok(())
    }

    #[test]
    fn overflow_reports_everything_once() -> Result {
        let mut log = PageLog::new(&[(0, MIB - 1), (4 * MIB, 5 * MIB - 1)], 4096)?;
        log.mark(4096, 1);
        log.overflow();
        assert!(log.overflowed());
        // A window inside the first range: all of it, then nothing left there.
        let got = report(&mut log, 16, 31, true)?;
        assert_eq!(got.len(), 16);
        assert!(report(&mut log, 16, 31, true)?.is_empty());
        // The rest of both ranges is still dirty.
        assert_eq!(report(&mut log, 0, 255, true)?.len(), 256 - 16);
        assert_eq!(report(&mut log, 1024, 1279, true)?.len(), 256);
        assert!(!log.overflowed());
        Ok(())
    }

    #[test]
    fn marks_after_an_overflow() -> Result {
        let mut log = PageLog::new(&[(0, MIB - 1)], 4096)?;
        log.overflow();
        // Inside what is still reported wholesale: nothing to keep, nothing lost.
        log.mark(8 << 12, 3 << 12);
        assert_eq!(report(&mut log, 0, 255, false)?.len(), 256);
        // A window reported since: a mark there must be kept, across the wholesale edge too.
        assert_eq!(report(&mut log, 0, 15, true)?.len(), 16);
        log.mark(14 << 12, 4 << 12);
        let got = report(&mut log, 0, 15, true)?;
        assert_eq!(&got[..], &[14, 15]);
        assert_eq!(report(&mut log, 16, 17, true)?.len(), 2);
        Ok(())
    }

    #[test]
    fn too_many_pages_fall_back_to_all() -> Result {
        let mut log = PageLog::new(&[(0, 1024 * MIB - 1)], 4096)?;
        // Distinct pages beyond the bound: no page may be lost.
        let n = crate::device::MAX_PENDING as u64 + 10;
        for p in 0..n {
            log.mark(p << 12, 1);
        }
        assert!(log.overflowed());
        let got = report(&mut log, 0, n - 1, true)?;
        assert_eq!(got.len() as u64, n);
        Ok(())
    }
}

#[kunit_tests(vfmig_resume)]
mod resume_tests {
    //! A resume transfer is one or more complete streams back to back (PRE_COPY's initial data,
    //! then the final state): the driver loads the last complete one.
    use kernel::prelude::*;

    use crate::{
        device::ResumeData,
        shared::{
            format::{
                Decoder,
                Identity,
                HEADER_FLAG_PRECOPY, //
            },
            igb,
            nic::{
                header_for,
                NicSink,
                NicVfState, //
            },
        },
    };

    use super::fixtures::{
        expect,
        identity,
        EBADMSG,
        ENODEV,
        GOLDEN_FULL, //
    };

    /// The golden state with Rx queue 0's tail set to `tail`, encoded for `id`, flagged as
    /// pre-copy data if `precopy`.
    fn stream(tail: u32, precopy: bool, id: Identity) -> Result<KVec<u8>> {
        let mut st = KBox::new(NicVfState::EMPTY, GFP_KERNEL)?;
        let mut dec = KBox::new(Decoder::new(None), GFP_KERNEL)?;
        dec.write(GOLDEN_FULL, &mut NicSink::new(&mut st, &igb::PROVIDER))
            .map_err(|_| EINVAL)?;
        dec.finish(&mut NicSink::new(&mut st, &igb::PROVIDER))
            .map_err(|_| EINVAL)?;
        st.rx[0].tail = tail;
        let mut h = header_for(id, &igb::PROVIDER);
        if precopy {
            h.flags |= HEADER_FLAG_PRECOPY;
        }
        let mut out = KVec::from_elem(0u8, st.encoded_len(), GFP_KERNEL)?;
        st.encode(&h, &igb::PROVIDER, &mut out)
            .map_err(|_| EINVAL)?;
        Ok(out)
    }

    /// Feeds the concatenation of `parts` in `chunk`-byte writes and finishes: the loaded Rx
    /// queue 0 tail, or the errno.
    fn transfer(parts: &[&[u8]], chunk: usize) -> Result<core::result::Result<u32, i32>> {
        let mut all = KVec::new();
        for p in parts {
            all.extend_from_slice(p, GFP_KERNEL)?;
        }
        let mut rd = ResumeData::new(expect())?;
        for c in all.chunks(chunk) {
            if let Err(e) = rd.feed(c, &igb::PROVIDER) {
                return Ok(Err(e.to_errno()));
            }
        }
        Ok(match rd.final_state(&igb::PROVIDER) {
            Ok(st) => Ok(st.rx[0].tail),
            Err(e) => Err(e.to_errno()),
        })
    }

    #[test]
    fn truncated_transfer_can_be_completed() -> Result {
        // RESUMING -> STOP on a truncated transfer fails and leaves it as it was: the rest of
        // the stream may still come, and the end be tried again.
        let pre = stream(5, true, identity())?;
        let fin = stream(9, false, identity())?;
        let cut = fin.len() - 3;
        let mut rd = ResumeData::new(expect())?;
        rd.feed(&pre, &igb::PROVIDER)?;
        rd.feed(&fin[..cut], &igb::PROVIDER)?;
        assert_eq!(
            rd.final_state(&igb::PROVIDER).err().map(|e| e.to_errno()),
            Some(-EBADMSG)
        );
        rd.feed(&fin[cut..], &igb::PROVIDER)?;
        assert_eq!(rd.final_state(&igb::PROVIDER)?.rx[0].tail, 9);
        // Asking again gives the same state.
        assert_eq!(rd.final_state(&igb::PROVIDER)?.rx[0].tail, 9);
        Ok(())
    }

    #[test]
    fn the_first_precopy_stream_is_taken_once() -> Result {
        // The pre-copy data arms the VF once a transfer, as soon as it is complete; a transfer
        // that ends there is still truncated, and the final stream is loaded as always.
        let pre = stream(5, true, identity())?;
        let fin = stream(9, false, identity())?;
        let mut rd = ResumeData::new(expect())?;
        rd.feed(&pre[..pre.len() - 1], &igb::PROVIDER)?;
        assert!(rd.take_precopy().is_none());
        rd.feed(&pre[pre.len() - 1..], &igb::PROVIDER)?;
        assert_eq!(rd.take_precopy().map(|st| st.rx[0].tail), Some(5));
        assert!(rd.take_precopy().is_none());
        assert_eq!(
            rd.final_state(&igb::PROVIDER).err().map(|e| e.to_errno()),
            Some(-EBADMSG)
        );
        rd.feed(&pre, &igb::PROVIDER)?;
        assert!(rd.take_precopy().is_none());
        rd.feed(&fin, &igb::PROVIDER)?;
        assert_eq!(rd.final_state(&igb::PROVIDER)?.rx[0].tail, 9);
        Ok(())
    }

    #[test]
    fn last_complete_stream_is_loaded() -> Result {
        let pre = stream(5, true, identity())?;
        let fin = stream(9, false, identity())?;
        for chunk in [1, 7, 40, 64, 4096] {
            assert_eq!(transfer(&[&pre, &fin], chunk)?, Ok(9));
            // Several pre-copy streams before the final one; a final one alone.
            assert_eq!(transfer(&[&pre, &pre, &fin], chunk)?, Ok(9));
            assert_eq!(transfer(&[&fin], chunk)?, Ok(9));
        }
        Ok(())
    }

    #[test]
    fn truncated_transfers_are_refused() -> Result {
        let pre = stream(5, true, identity())?;
        let fin = stream(9, false, identity())?;
        for chunk in [1, 64, 4096] {
            // Pre-copy data only: no final state.
            assert_eq!(transfer(&[&pre], chunk)?, Err(-EBADMSG));
            // A final stream cut short after complete ones: not the older state.
            assert_eq!(
                transfer(&[&pre, &fin[..fin.len() - 1]], chunk)?,
                Err(-EBADMSG)
            );
            assert_eq!(transfer(&[&fin, &fin[..40]], chunk)?, Err(-EBADMSG));
            // Nothing at all.
            assert_eq!(transfer(&[], chunk)?, Err(-EBADMSG));
        }
        Ok(())
    }

    #[test]
    fn wrong_device_is_refused_during_precopy() -> Result {
        let other = Identity {
            device: 0x10cb,
            ..identity()
        };
        let pre = stream(5, true, other)?;
        // Refused by the write that completes the header, long before STOP_COPY.
        let mut rd = ResumeData::new(expect())?;
        let e = rd
            .feed(&pre[..40], &igb::PROVIDER)
            .err()
            .map(|e| e.to_errno());
        assert_eq!(e, Some(-ENODEV));
        // A corrupt pre-copy stream is refused when it completes.
        let mut bad = stream(5, true, identity())?;
        bad[60] ^= 1;
        assert_eq!(transfer(&[&bad], 4096)?, Err(-EBADMSG));
        Ok(())
    }
}
