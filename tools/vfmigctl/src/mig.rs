// SPDX-License-Identifier: GPL-2.0
//! save, restore and dirty: the migration uAPI v2 driven step by step along
//! the path `vfmig_state::fsm` computes (the same table the VFIO core uses),
//! so every arc, its data fd and any failure are visible.

use std::fs::File;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use vfio_bindings::bindings::vfio as v;
use vfmig_state::fsm::{self, NUM_STATES};
use vfmig_state::{Features, State};

use crate::device::{features_text, os_msg, precopy_info, Device};
use crate::error::{CtlError, Exit, Result};

/// Progress lines on stderr (at most every 200 ms, and a final one).
#[derive(Debug)]
pub struct Progress {
    quiet: bool,
    last: Option<Instant>,
}

impl Progress {
    /// A reporter; `quiet` silences it.
    pub fn new(quiet: bool) -> Self {
        Self { quiet, last: None }
    }

    /// A one-off line.
    pub fn say(&self, msg: &str) {
        if !self.quiet {
            eprintln!("vfmigctl: {msg}");
        }
    }

    /// Byte progress of `what`; printed if `done` or 200 ms passed.
    pub fn bytes(&mut self, what: &str, n: u64, total: Option<u64>, done: bool) {
        if self.quiet {
            return;
        }
        let now = Instant::now();
        if !done
            && self
                .last
                .is_some_and(|l| now.duration_since(l) < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(now);
        match total {
            Some(t) if t > 0 => eprintln!(
                "vfmigctl: {what}: {n} / ~{t} bytes ({}%)",
                n.saturating_mul(100) / t
            ),
            _ => eprintln!("vfmigctl: {what}: {n} bytes"),
        }
    }
}

/// The device's migration state machine as seen from userspace.
#[derive(Debug)]
pub struct Walk<'a> {
    dev: &'a Device,
    /// Advertised features.
    pub features: Features,
    /// Current state.
    pub cur: State,
    /// The data fd of the current stream, if one is open.
    pub data: Option<File>,
}

impl<'a> Walk<'a> {
    /// Reads features and the current state; fails with
    /// [`Exit::NoMigration`] when the driver has no migration support.
    pub fn new(dev: &'a Device) -> Result<Self> {
        let features = dev.migration_flags()?;
        if !features.is_valid() {
            return Err(CtlError::new(
                Exit::NoMigration,
                format!(
                    "{}: driver advertises migration flags {} without STOP_COPY",
                    dev.bdf,
                    features_text(features)
                ),
            ));
        }
        let cur = dev.state()?;
        if cur == State::Error {
            return Err(CtlError::new(
                Exit::Transition,
                format!(
                    "{}: device is in ERROR state; only VFIO_DEVICE_RESET leaves it",
                    dev.bdf
                ),
            ));
        }
        Ok(Self {
            dev,
            features,
            cur,
            data: None,
        })
    }

    /// Moves to `target` one arc at a time along [`fsm::path`], keeping the
    /// data fd an arc returns.
    pub fn goto(&mut self, target: State, prog: &Progress) -> Result<()> {
        let mut steps = [State::Error; NUM_STATES];
        let n = fsm::path(self.cur, target, self.features, &mut steps).map_err(|e| {
            CtlError::new(
                Exit::Transition,
                format!(
                    "{}: no path {} -> {} with features {}: {}",
                    self.dev.bdf,
                    self.cur.name(),
                    target.name(),
                    features_text(self.features),
                    e.name()
                ),
            )
        })?;
        for &next in steps.iter().take(n) {
            let from = self.cur;
            match self.dev.set_state(next) {
                Ok(fd) => {
                    prog.say(&format!("{} -> {}", from.name(), next.name()));
                    if let Some(f) = fd {
                        if !fsm::creates_data_fd(from, next) {
                            prog.say(&format!(
                                "warning: arc {} -> {} returned a data fd the uAPI does not define",
                                from.name(),
                                next.name()
                            ));
                        }
                        self.data = Some(f);
                    } else if fsm::creates_data_fd(from, next) {
                        return Err(CtlError::new(
                            Exit::Transition,
                            format!(
                                "{} -> {}: driver returned no data fd",
                                from.name(),
                                next.name()
                            ),
                        ));
                    }
                    self.cur = next;
                }
                Err(e) => {
                    let now = self
                        .dev
                        .state()
                        .map(|s| s.name().to_string())
                        .unwrap_or_else(|_| "unknown".into());
                    return Err(CtlError::with_os(
                        Exit::Transition,
                        format!(
                            "{}: transition {} -> {} failed: {}; device is now in {now}",
                            self.dev.bdf,
                            from.name(),
                            next.name(),
                            os_msg("MIG_DEVICE_STATE", &e)
                        ),
                        &e,
                    ));
                }
            }
        }
        Ok(())
    }

    fn data_file(&mut self) -> Result<&mut File> {
        self.data
            .as_mut()
            .ok_or_else(|| CtlError::new(Exit::Transition, "no migration data fd is open"))
    }
}

/// What `save` did.
#[derive(Debug, Default)]
pub struct SaveReport {
    /// Bytes read in PRE_COPY.
    pub precopy_bytes: u64,
    /// Bytes read in STOP_COPY.
    pub stopcopy_bytes: u64,
    /// Final device state.
    pub final_state: Option<State>,
}

/// Options of `save`.
#[derive(Clone, Copy, Debug)]
pub struct SaveOpts {
    /// Use PRE_COPY when the device offers it.
    pub precopy: bool,
    /// Return to RUNNING afterwards (else leave it in STOP).
    pub resume: bool,
}

fn read_until(
    src: &mut File,
    out: &mut impl Write,
    stop_on_enomsg: bool,
    what: &str,
    total: Option<u64>,
    prog: &mut Progress,
) -> Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut n: u64 = 0;
    loop {
        match src.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                out.write_all(buf.get(..k).unwrap_or(&[]))
                    .map_err(|e| CtlError::os("write output", &e))?;
                n = n.saturating_add(u64::try_from(k).unwrap_or(0));
                prog.bytes(what, n, total, false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // PRE_COPY: -ENOMSG marks a temporary end of the stream.
            Err(e) if stop_on_enomsg && e.raw_os_error() == Some(libc::ENOMSG) => break,
            Err(e) => {
                return Err(CtlError::with_os(
                    Exit::Transition,
                    os_msg(&format!("read migration data ({what})"), &e),
                    &e,
                ))
            }
        }
    }
    prog.bytes(what, n, total, true);
    Ok(n)
}

/// Reports which device, path, features and state a walk starts from.
fn announce(dev: &Device, w: &Walk<'_>, prog: &mut Progress) {
    prog.say(&format!(
        "{} via {} ({}): features {}, state {}",
        dev.bdf,
        dev.via.name(),
        dev.node,
        features_text(w.features),
        w.cur.name()
    ));
}

/// Saves the device state into `out`: RUNNING -> (PRE_COPY) -> STOP_COPY,
/// read to the end, then STOP (and RUNNING with `resume`).
pub fn save(
    dev: &Device,
    out: &mut impl Write,
    opts: SaveOpts,
    prog: &mut Progress,
) -> Result<SaveReport> {
    let mut w = Walk::new(dev)?;
    announce(dev, &w, prog);
    let total = dev.data_size().ok();
    let mut rep = SaveReport::default();
    if opts.precopy && State::PreCopy.supported_by(w.features) && w.cur == State::Running {
        w.goto(State::PreCopy, prog)?;
        if let Ok((init, dirty)) = precopy_info(w.data_file()?) {
            prog.say(&format!(
                "pre-copy: initial {init} bytes, dirty {dirty} bytes"
            ));
        }
        // The initial data is a complete earlier snapshot (flagged PRECOPY) that the
        // stop-copy stream supersedes: a VMM forwards it to warm up the target, the file
        // keeps only the final state.
        rep.precopy_bytes = read_until(
            w.data_file()?,
            &mut io::sink(),
            true,
            "pre-copy",
            None,
            prog,
        )?;
    }
    w.goto(State::StopCopy, prog)?;
    rep.stopcopy_bytes = read_until(w.data_file()?, out, false, "stop-copy", total, prog)?;
    w.goto(State::Stop, prog)?;
    w.data = None;
    if opts.resume {
        w.goto(State::Running, prog)?;
    }
    rep.final_state = Some(w.cur);
    Ok(rep)
}

/// Options of `restore`.
#[derive(Clone, Copy, Debug)]
pub struct RestoreOpts {
    /// Leave the device in STOP after loading (else RUNNING).
    pub stay_stopped: bool,
}

/// Loads `data` (already checked against the device): RESUMING, write,
/// STOP (the driver validates here), RUNNING.
pub fn restore(dev: &Device, data: &[u8], opts: RestoreOpts, prog: &mut Progress) -> Result<State> {
    let mut w = Walk::new(dev)?;
    announce(dev, &w, prog);
    w.goto(State::Resuming, prog)?;
    let total = u64::try_from(data.len()).ok();
    let mut sent: u64 = 0;
    for chunk in data.chunks(64 << 10) {
        w.data_file()?.write_all(chunk).map_err(|e| {
            CtlError::with_os(
                Exit::Transition,
                os_msg(&format!("write migration data at byte {sent}"), &e),
                &e,
            )
        })?;
        sent = sent.saturating_add(u64::try_from(chunk.len()).unwrap_or(0));
        prog.bytes("resuming", sent, total, false);
    }
    prog.bytes("resuming", sent, total, true);
    w.goto(State::Stop, prog).map_err(|e| CtlError {
        msg: format!("{} (the driver rejected the loaded state)", e.msg),
        ..e
    })?;
    w.data = None;
    if !opts.stay_stopped {
        w.goto(State::Running, prog)?;
    }
    Ok(w.cur)
}

/// One `--range IOVA:LEN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IovaRange {
    /// Start.
    pub iova: u64,
    /// Length in bytes.
    pub len: u64,
}

fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    let (body, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else {
        body.parse().ok()?
    };
    v.checked_mul(mult)
}

/// Parses `IOVA:LEN` (hex with `0x` or decimal; LEN may end in K, M, G).
pub fn parse_range(s: &str) -> std::result::Result<IovaRange, String> {
    let (a, l) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}': expected IOVA:LEN, e.g. 0x100000:2M"))?;
    let iova = parse_num(a).ok_or_else(|| format!("'{a}' is not a number"))?;
    let len = parse_num(l).ok_or_else(|| format!("'{l}' is not a length"))?;
    if len == 0 {
        return Err(format!("'{s}': length is 0"));
    }
    iova.checked_add(len)
        .ok_or_else(|| format!("'{s}': range wraps around"))?;
    Ok(IovaRange { iova, len })
}

/// Runs of set bits in a dirty bitmap as (iova, length) ranges.
pub fn dirty_runs(bitmap: &[u64], base: u64, page: u64, pages: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut start: Option<u64> = None;
    for p in 0..pages {
        let word = bitmap
            .get(usize::try_from(p / 64).unwrap_or(usize::MAX))
            .copied()
            .unwrap_or(0);
        let set = word & (1u64 << (p % 64)) != 0;
        match (set, start) {
            (true, None) => start = Some(p),
            (false, Some(s)) => {
                out.push((base + s * page, (p - s) * page));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((base + s * page, (pages - s) * page));
    }
    out
}

/// Options of `dirty`.
#[derive(Clone, Debug)]
pub struct DirtyOpts {
    /// Ranges to track.
    pub ranges: Vec<IovaRange>,
    /// Tracking granularity.
    pub page_size: u64,
    /// Time between reports.
    pub interval: Duration,
    /// Number of reports.
    pub count: u32,
}

/// One range of one `DMA_LOGGING_REPORT` round of `dirty`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirtyReport {
    /// Report number, from 1.
    pub round: u32,
    /// The tracked range's IOVA.
    pub iova: u64,
    /// The tracked range's length.
    pub len: u64,
    /// Tracking page size.
    pub page_size: u64,
    /// Dirty runs: (IOVA, length in bytes).
    pub runs: Vec<(u64, u64)>,
}

impl DirtyReport {
    /// Number of dirty pages in the range.
    pub fn dirty_pages(&self) -> u64 {
        self.runs
            .iter()
            .map(|(_, l)| l / self.page_size.max(1))
            .sum()
    }
}

/// Text form of `dirty`'s reports (what it prints without `--json`).
pub fn dirty_text(reports: &[DirtyReport]) -> String {
    let mut s = String::new();
    for r in reports {
        s.push_str(&format!(
            "report {}: range {:#x}+{:#x}: {} dirty page(s)\n",
            r.round,
            r.iova,
            r.len,
            r.dirty_pages()
        ));
        for &(a, l) in &r.runs {
            s.push_str(&format!(
                "  {:#018x}-{:#018x} ({} pages)\n",
                a,
                a.saturating_add(l).saturating_sub(1),
                l / r.page_size.max(1)
            ));
        }
    }
    s
}

/// JSON form of `dirty`'s reports: an array of
/// `{round, iova, length, page_size, dirty_pages, runs: [{iova, length, pages}]}`.
pub fn dirty_json(reports: &[DirtyReport]) -> serde_json::Value {
    serde_json::Value::Array(
        reports
            .iter()
            .map(|r| {
                serde_json::json!({
                    "round": r.round, "iova": r.iova, "length": r.len,
                    "page_size": r.page_size, "dirty_pages": r.dirty_pages(),
                    "runs": r.runs.iter().map(|&(a, l)| serde_json::json!({
                        "iova": a, "length": l, "pages": l / r.page_size.max(1),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// Starts DMA logging on `ranges`, appends the dirty ranges to `reports`
/// `count` times every `interval`, stops logging. On an error, `reports`
/// holds the rounds completed before it.
pub fn dirty(
    dev: &Device,
    o: &DirtyOpts,
    reports: &mut Vec<DirtyReport>,
    prog: &Progress,
) -> Result<()> {
    let start_feat = v::VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
    if let Err(e) = dev.probe(start_feat, v::VFIO_DEVICE_FEATURE_SET) {
        return Err(if e.raw_os_error() == Some(libc::ENOTTY) {
            CtlError::new(
                Exit::NoMigration,
                format!(
                    "{}: driver offers no DMA dirty tracking when opened via {} (ENOTTY){}",
                    dev.bdf,
                    dev.via.name(),
                    if dev.via.name() == "group" {
                        ""
                    } else {
                        ": vfmig's software tracker needs a type1 container (--via group)"
                    }
                ),
            )
            .errno(libc::ENOTTY)
        } else {
            CtlError::os("probe VFIO_DEVICE_FEATURE_DMA_LOGGING_START", &e)
        });
    }
    if !o.page_size.is_power_of_two() {
        return Err(CtlError::new(
            Exit::Usage,
            "--page-size must be a power of two",
        ));
    }
    let ranges: Vec<v::vfio_device_feature_dma_logging_range> = o
        .ranges
        .iter()
        .map(|r| v::vfio_device_feature_dma_logging_range {
            iova: r.iova,
            length: r.len,
        })
        .collect();
    let mut ctl = v::vfio_device_feature_dma_logging_control {
        page_size: o.page_size,
        num_ranges: u32::try_from(ranges.len()).unwrap_or(u32::MAX),
        __reserved: 0,
        ranges: ranges.as_ptr() as usize as u64,
    };
    dev.feature(start_feat | v::VFIO_DEVICE_FEATURE_SET, &mut ctl)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EOPNOTSUPP) {
                CtlError::new(
                    Exit::NoMigration,
                    format!(
                        "{}: DMA logging is not possible when opened via {} (EOPNOTSUPP): \
                         the driver's software tracker needs a type1 container (--via group)",
                        dev.bdf,
                        dev.via.name()
                    ),
                )
                .errno(libc::EOPNOTSUPP)
            } else {
                CtlError::with_os(Exit::Failure, os_msg("DMA_LOGGING_START", &e), &e)
            }
        })?;
    prog.say(&format!(
        "DMA logging started on {} range(s), page size {}",
        ranges.len(),
        o.page_size
    ));
    let result = (|| -> Result<()> {
        for round in 1..=o.count {
            std::thread::sleep(o.interval);
            for r in &o.ranges {
                let pages = r.len.div_ceil(o.page_size);
                let words = usize::try_from(pages.div_ceil(64)).unwrap_or(usize::MAX);
                let mut bitmap = vec![0u64; words];
                let mut rep = v::vfio_device_feature_dma_logging_report {
                    iova: r.iova,
                    length: r.len,
                    page_size: o.page_size,
                    bitmap: bitmap.as_mut_ptr() as usize as u64,
                };
                dev.feature(
                    v::VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT | v::VFIO_DEVICE_FEATURE_GET,
                    &mut rep,
                )
                .map_err(|e| {
                    CtlError::with_os(
                        Exit::Failure,
                        os_msg("DMA_LOGGING_REPORT (treat all memory as dirty)", &e),
                        &e,
                    )
                })?;
                reports.push(DirtyReport {
                    round,
                    iova: r.iova,
                    len: r.len,
                    page_size: o.page_size,
                    runs: dirty_runs(&bitmap, r.iova, o.page_size, pages),
                });
            }
        }
        Ok(())
    })();
    let mut none = [0u8; 0];
    let stop = dev.feature(
        v::VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP | v::VFIO_DEVICE_FEATURE_SET,
        &mut none,
    );
    result?;
    stop.map_err(|e| CtlError::with_os(Exit::Failure, os_msg("DMA_LOGGING_STOP", &e), &e))?;
    prog.say("DMA logging stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(
            parse_range("0x100000:2M"),
            Ok(IovaRange {
                iova: 0x10_0000,
                len: 2 << 20
            })
        );
        assert_eq!(parse_range("4096:4096").map(|r| r.len), Ok(4096));
        assert!(parse_range("0x1000").is_err());
        assert!(parse_range("0x1000:0").is_err());
        assert!(parse_range("0xffffffffffffffff:2").is_err());
    }

    #[test]
    fn runs_from_bitmap() {
        // pages 1,2 and 63,64 dirty
        let bm = [0b110u64 | 1 << 63, 1];
        assert_eq!(
            dirty_runs(&bm, 0x1000, 0x1000, 70),
            vec![(0x2000, 0x2000), (0x1000 + 63 * 0x1000, 0x2000)]
        );
        assert_eq!(dirty_runs(&[!0], 0, 4096, 3), vec![(0, 3 * 4096)]);
    }
}
