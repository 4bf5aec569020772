// SPDX-License-Identifier: GPL-2.0
//! Exhaustive check of `fsm::next_state` against the kernel's own table.
//!
//! `KERNEL_TABLES` below is copied verbatim from Linux 7.3.4
//! `drivers/vfio/vfio_main.c`, function `vfio_mig_get_next_state()`
//! (`vfio_from_fsm_table` and `state_flags_table`). The test parses that C
//! text, runs the kernel's algorithm on it and compares with the shared
//! implementation for every (current, target, feature set).
#![allow(unreachable_pub)]

use std::collections::{BTreeSet, HashMap};
use vfmig_state::fsm::{self, Features, State, ALL_STATES, DATA_FD_ARCS};

/// Verbatim from linux-7.3.4/drivers/vfio/vfio_main.c.
const KERNEL_TABLES: &str = r#"
	static const u8 vfio_from_fsm_table[VFIO_DEVICE_NUM_STATES][VFIO_DEVICE_NUM_STATES] = {
		[VFIO_DEVICE_STATE_STOP] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RESUMING,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
		[VFIO_DEVICE_STATE_RUNNING] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
		[VFIO_DEVICE_STATE_PRE_COPY] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
		[VFIO_DEVICE_STATE_STOP_COPY] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
		[VFIO_DEVICE_STATE_RESUMING] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RESUMING,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
		[VFIO_DEVICE_STATE_RUNNING_P2P] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_RUNNING,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_STOP,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
		[VFIO_DEVICE_STATE_ERROR] = {
			[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_ERROR,
			[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
		},
	};

	static const unsigned int state_flags_table[VFIO_DEVICE_NUM_STATES] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_MIGRATION_STOP_COPY,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_MIGRATION_STOP_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY] =
			VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_MIGRATION_STOP_COPY |
						   VFIO_MIGRATION_P2P |
						   VFIO_MIGRATION_PRE_COPY,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_MIGRATION_STOP_COPY,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_MIGRATION_STOP_COPY,
		[VFIO_DEVICE_STATE_RUNNING_P2P] =
			VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
		[VFIO_DEVICE_STATE_ERROR] = ~0U,
	};
"#;

const VFIO_MIGRATION_STOP_COPY: u32 = 1 << 0;
const VFIO_MIGRATION_P2P: u32 = 1 << 1;
const VFIO_MIGRATION_PRE_COPY: u32 = 1 << 2;

fn state_value(name: &str) -> u32 {
    // include/uapi/linux/vfio.h, enum vfio_device_mig_state
    match name.trim() {
        "VFIO_DEVICE_STATE_ERROR" => 0,
        "VFIO_DEVICE_STATE_STOP" => 1,
        "VFIO_DEVICE_STATE_RUNNING" => 2,
        "VFIO_DEVICE_STATE_STOP_COPY" => 3,
        "VFIO_DEVICE_STATE_RESUMING" => 4,
        "VFIO_DEVICE_STATE_RUNNING_P2P" => 5,
        "VFIO_DEVICE_STATE_PRE_COPY" => 6,
        "VFIO_DEVICE_STATE_PRE_COPY_P2P" => 7,
        other => panic!("unknown state {other:?}"),
    }
}

fn flags_value(expr: &str) -> u32 {
    let expr = expr.trim();
    if expr == "~0U" {
        return !0;
    }
    expr.split('|')
        .map(|t| match t.trim() {
            "VFIO_MIGRATION_STOP_COPY" => VFIO_MIGRATION_STOP_COPY,
            "VFIO_MIGRATION_P2P" => VFIO_MIGRATION_P2P,
            "VFIO_MIGRATION_PRE_COPY" => VFIO_MIGRATION_PRE_COPY,
            other => panic!("unknown flag {other:?}"),
        })
        .fold(0, |a, b| a | b)
}

struct Kernel {
    table: [[u32; 8]; 8],
    flags: [u32; 8],
}

/// Parses the verbatim C initialisers.
fn parse() -> Kernel {
    let (fsm_part, flags_part) = KERNEL_TABLES
        .split_once("state_flags_table")
        .expect("both tables present");
    let mut table = [[u32::MAX; 8]; 8];
    let mut row: Option<usize> = None;
    for line in fsm_part.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix('[') {
            let (idx, rhs) = rest.split_once(']').unwrap();
            let rhs = rhs.trim().trim_start_matches('=').trim();
            if rhs == "{" {
                row = Some(state_value(idx) as usize);
            } else {
                let v = state_value(rhs.trim_end_matches(','));
                let r = row.expect("entry inside a row");
                assert_eq!(
                    table[r][state_value(idx) as usize],
                    u32::MAX,
                    "entry set twice"
                );
                table[r][state_value(idx) as usize] = v;
            }
        }
    }
    // Joined so multi-line initialisers parse.
    let joined: String = flags_part
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let body = joined
        .split_once('{')
        .unwrap()
        .1
        .split_once("};")
        .unwrap()
        .0;
    let mut flags = [u32::MAX; 8];
    let mut seen = 0;
    for ent in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (idx, expr) = ent.split_once('=').unwrap();
        let idx = idx.trim().trim_start_matches('[').trim_end_matches(']');
        flags[state_value(idx) as usize] = flags_value(expr);
        seen += 1;
    }
    assert_eq!(seen, 8);
    for r in &table {
        for v in r {
            assert_ne!(*v, u32::MAX, "table incomplete");
        }
    }
    Kernel { table, flags }
}

/// The kernel's algorithm, transcribed line by line (returns Err(-EINVAL)).
fn kernel_next(k: &Kernel, cur: u32, new: u32, migration_flags: u32) -> Result<u32, i32> {
    const EINVAL: i32 = 22;
    let n = k.table.len() as u32;
    if cur >= n || (k.flags[cur as usize] & migration_flags) != k.flags[cur as usize] {
        return Err(-EINVAL);
    }
    if new >= n || (k.flags[new as usize] & migration_flags) != k.flags[new as usize] {
        return Err(-EINVAL);
    }
    let mut next = k.table[cur as usize][new as usize];
    while next != 0 && (k.flags[next as usize] & migration_flags) != k.flags[next as usize] {
        next = k.table[next as usize][new as usize];
    }
    if next != 0 {
        Ok(next)
    } else {
        Err(-EINVAL)
    }
}

fn feature_sets() -> Vec<u32> {
    // Every combination of the three defined bits (including sets without
    // STOP_COPY, which the core refuses at registration), plus unknown bits.
    let mut v: Vec<u32> = (0..8).collect();
    v.extend([8, 8 | 7, 0xffff_fff0 | 5, u32::MAX]);
    v
}

#[test]
fn next_state_matches_kernel_table_exhaustively() {
    let k = parse();
    let mut checked = 0;
    for f in feature_sets() {
        for cur in 0..8u32 {
            for new in 0..8u32 {
                let want = kernel_next(&k, cur, new, f);
                let got = fsm::next_state(
                    State::from_raw(cur).unwrap(),
                    State::from_raw(new).unwrap(),
                    Features(f),
                );
                match (want, got) {
                    (Ok(w), Ok(g)) => assert_eq!(w, g.raw(), "cur {cur} new {new} flags {f:#x}"),
                    (Err(w), Err(g)) => assert_eq!(-w, g.errno()),
                    (w, g) => {
                        panic!("cur {cur} new {new} flags {f:#x}: kernel {w:?}, shared {g:?}")
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 64 * feature_sets().len());
    // Out-of-range raw states are not states at all (kernel: -EINVAL).
    assert_eq!(State::from_raw(8), None);
    assert_eq!(State::from_raw(u32::MAX), None);
    assert!(kernel_next(&k, 8, 1, 7).is_err());
    assert!(kernel_next(&k, 1, 8, 7).is_err());
}

#[test]
fn state_flags_match_kernel() {
    let k = parse();
    for s in ALL_STATES {
        assert_eq!(
            s.required_features(),
            k.flags[s.raw() as usize],
            "{}",
            s.name()
        );
        assert_eq!(State::from_raw(s.raw()), Some(s));
    }
}

/// Single arcs a driver must implement, as listed in the comment above the
/// kernel's table (and in include/uapi/linux/vfio.h), per feature set.
fn legal_arcs(f: u32) -> BTreeSet<(State, State)> {
    use State::*;
    let p2p = f & VFIO_MIGRATION_P2P != 0;
    let pre = f & VFIO_MIGRATION_PRE_COPY != 0;
    let mut s = BTreeSet::new();
    s.extend([
        (Resuming, Stop),
        (Stop, Resuming),
        (Stop, StopCopy),
        (StopCopy, Stop),
    ]);
    if p2p {
        s.extend([
            (Running, RunningP2p),
            (RunningP2p, Running),
            (RunningP2p, Stop),
            (Stop, RunningP2p),
        ]);
    } else {
        s.extend([(Running, Stop), (Stop, Running)]);
    }
    if pre && !p2p {
        s.extend([(Running, PreCopy), (PreCopy, Running), (PreCopy, StopCopy)]);
    }
    if pre && p2p {
        s.extend([
            (PreCopy, Running),
            (PreCopy, PreCopyP2p),
            (PreCopyP2p, PreCopy),
            (PreCopyP2p, RunningP2p),
            (PreCopyP2p, StopCopy),
            (Running, PreCopy),
            (RunningP2p, PreCopyP2p),
        ]);
    }
    s
}

#[test]
fn single_arcs_are_exactly_the_legal_uapi_arcs() {
    for f in 0..8u32 {
        if f & VFIO_MIGRATION_STOP_COPY == 0 {
            // Not a valid device; no state is supported, so no arcs.
            for a in ALL_STATES {
                for b in ALL_STATES {
                    assert!(!fsm::is_single_arc(a, b, Features(f)));
                }
            }
            continue;
        }
        let mut got = BTreeSet::new();
        for a in ALL_STATES {
            for b in ALL_STATES {
                if fsm::is_single_arc(a, b, Features(f)) {
                    got.insert((a, b));
                }
            }
        }
        assert_eq!(got, legal_arcs(f), "feature set {f:#x}");
    }
}

#[test]
fn every_path_is_made_of_single_arcs() {
    for f in 0..8u32 {
        let feat = Features(f);
        for a in ALL_STATES {
            for b in ALL_STATES {
                let mut path = [State::Error; fsm::NUM_STATES];
                match fsm::path(a, b, feat, &mut path) {
                    Ok(n) => {
                        let mut at = a;
                        for &s in &path[..n] {
                            assert!(fsm::is_single_arc(at, s, feat), "{at:?}->{s:?} f={f}");
                            at = s;
                        }
                        assert_eq!(at, b);
                        assert!(n <= 5);
                    }
                    Err(_) => assert!(fsm::next_state(a, b, feat).is_err()),
                }
            }
        }
    }
    // Spot checks from the kernel comment (all features).
    let all = Features(7);
    let mut p = [State::Error; 8];
    let n = fsm::path(State::Running, State::StopCopy, Features(3), &mut p).unwrap();
    assert_eq!(&p[..n], &[State::RunningP2p, State::Stop, State::StopCopy]);
    let n = fsm::path(State::Resuming, State::PreCopy, all, &mut p).unwrap();
    assert_eq!(
        &p[..n],
        &[
            State::Stop,
            State::RunningP2p,
            State::Running,
            State::PreCopy
        ]
    );
    assert!(fsm::next_state(State::StopCopy, State::PreCopy, all).is_err());
    assert!(fsm::next_state(State::StopCopy, State::PreCopyP2p, all).is_err());
    // Without P2P, RUNNING -> STOP is direct.
    assert_eq!(
        fsm::next_state(State::Running, State::Stop, Features(1)),
        Ok(State::Stop)
    );
}

#[test]
fn data_fd_arcs() {
    use State::*;
    let want: HashMap<(State, State), ()> = [
        ((Stop, StopCopy), ()),
        ((Running, PreCopy), ()),
        ((RunningP2p, PreCopyP2p), ()),
        ((Stop, Resuming), ()),
    ]
    .into_iter()
    .collect();
    assert_eq!(DATA_FD_ARCS.len(), 4);
    for a in ALL_STATES {
        for b in ALL_STATES {
            assert_eq!(fsm::creates_data_fd(a, b), want.contains_key(&(a, b)));
        }
    }
    // Each data-fd arc is a single arc for some valid feature set.
    for (a, b) in DATA_FD_ARCS {
        assert!((0..8).any(|f| fsm::is_single_arc(a, b, Features(f))));
    }
}
