// SPDX-License-Identifier: GPL-2.0

//! Software DMA dirty-page logging (`VFIO_DEVICE_FEATURE_DMA_LOGGING_*`).
//!
//! The VF has no dirty tracker, so vfmig derives the pages it may write from what the guest
//! hands it (Documentation/vfmig/dirty-tracking.rst):
//!
//! * the provider's doorbell registers are trapped ([`Provider::trap`]: never mapped into
//!   userspace while migration is offered), so every buffer handed to the device is seen by
//!   [`VfDevice::logged_write`] (called by the BAR trap, `trap.rs`) *before* the write
//!   reaches the device: the new descriptors are read with `vfio_dma_rw()` and the buffers
//!   they name are logged;
//! * while vfmig itself holds the queues disabled (quiesced, or restored and not running
//!   yet), the queues it will enable again count as enabled, so START and REPORT in
//!   RUNNING_P2P, STOP or STOP_COPY log what they own before vfmig re-enables them;
//! * each report first takes the logged pages of the reported window, then logs again
//!   everything the device may still write (buffers it owns, descriptor rings, head write-back
//!   words, [`DmaView`]), so a buffer owned across a report is reported again by the next one.
//!
//! Hence every page the device writes after START is in the next report that follows the write
//! (zero false negatives); pages handed to the device but not (yet) written are false positives.
//!
//! The log is a set of 4 KiB page numbers, bounded by [`MAX_PENDING`]; past the bound (or when a
//! descriptor cannot be read) it falls back to "every logged page is dirty" until reported.
//!
//! # Locking
//!
//! `dirty` (this module's mutex) is taken before [`VfDevice`]'s `state`; `vfio_dma_rw()`
//! (which takes the IOMMU driver's lock and may fault in user pages) runs under `dirty` only,
//! never under `state` or the core's `memory_lock`.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use super::{
    trap::merge,
    VfDevice, //
};
use crate::{
    glue::{
        CoreDevice,
        DirtyBitmap, //
    },
    provider::{
        BufRing,
        DmaView,
        Posted, //
    },
};

/// Log granule: 4 KiB pages.
pub(crate) const PAGE_SHIFT: u32 = 12;
/// Most page numbers the log holds between two reports before it falls back to "all dirty".
pub(crate) const MAX_PENDING: usize = 1 << 16;
/// Bytes of descriptors read per `vfio_dma_rw()` call.
const DESC_CHUNK: usize = 4096;
/// Largest descriptor the tracker reads.
const MAX_DESC_SIZE: u32 = 64;

/// Counters of one logging session, shown in debugfs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LogStats {
    /// Trapped register writes.
    pub(crate) trap_writes: u64,
    /// Descriptors read (posted ones and rescans).
    pub(crate) descs_read: u64,
    /// Full rescans of the device's DMA view.
    pub(crate) scans: u64,
    /// `log_read_and_clear` calls.
    pub(crate) reports: u64,
    /// Pages reported dirty (4 KiB units, before the bitmap's rounding).
    pub(crate) reported_pages: u64,
    /// Falls back to "every logged page is dirty".
    pub(crate) overflows: u64,
    /// Descriptor reads that failed (each one is an overflow).
    pub(crate) dma_errors: u64,
    /// Most pages held at once.
    pub(crate) max_pending: u64,
}

/// The logged ranges and the pages logged since they were last reported: pure bookkeeping.
pub(crate) struct PageLog {
    /// Logged page runs `(first, last)`, inclusive, sorted, disjoint and not adjacent.
    ranges: KVec<(u64, u64)>,
    /// Logged page numbers, unsorted beyond `sorted`, possibly repeated.
    pages: KVVec<u64>,
    /// `pages[..sorted]` is sorted and free of repeats.
    sorted: usize,
    /// Page runs logged wholesale (after an overflow), inclusive, sorted, disjoint.
    all: KVec<(u64, u64)>,
    /// Room for `all` reserved at start: a run is split only while room is left (otherwise it
    /// stays whole and is reported again: an over-report, never a miss).
    all_cap: usize,
    /// The page size agreed with userspace at START.
    page_size: u64,
    /// Counters.
    pub(crate) stats: LogStats,
}

/// Sorts `v` in place (heapsort: no recursion, no allocation, `O(n log n)`; the core library's
/// sorts carry panic paths that objtool does not know as `noreturn`).
pub(crate) fn heap_sort<T: Ord + Copy>(v: &mut [T]) {
    fn sift_down<T: Ord + Copy>(v: &mut [T], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child] < v[child + 1] {
                child += 1;
            }
            if v[root] >= v[child] {
                return;
            }
            v.swap(root, child);
            root = child;
        }
    }
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift_down(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// The page number holding `iova`.
fn pfn(iova: u64) -> u64 {
    iova >> PAGE_SHIFT
}

impl PageLog {
    /// A log over `ranges` (`(first byte, last byte)` pairs, as the core's interval tree holds
    /// them; disjoint, which the core checked). `page_size` is the hint from userspace; the
    /// return value's page size is the one agreed (a power of two of at least 4 KiB).
    pub(crate) fn new(ranges: &[(u64, u64)], page_size: u64) -> Result<Self> {
        if ranges.is_empty() {
            return Err(EINVAL);
        }
        let page_size = page_size
            .max(1 << PAGE_SHIFT)
            .checked_next_power_of_two()
            .ok_or(EINVAL)?;
        let mut runs = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
        for &(first, last) in ranges {
            if last < first {
                return Err(EINVAL);
            }
            runs.push((pfn(first), pfn(last)), GFP_KERNEL)?;
        }
        heap_sort(&mut runs);
        // Merge overlapping and adjacent runs (ranges sharing a page after rounding to 4 KiB).
        let mut n = 0;
        for i in 0..runs.len() {
            let r = runs[i];
            if n > 0 && runs[n - 1].1.saturating_add(1) >= r.0 {
                runs[n - 1].1 = runs[n - 1].1.max(r.1);
            } else {
                runs[n] = r;
                n += 1;
            }
        }
        runs.truncate(n);
        let all_cap = 2 * n + 64;
        Ok(Self {
            ranges: runs,
            pages: KVVec::with_capacity(256, GFP_KERNEL)?,
            sorted: 0,
            all: KVec::with_capacity(all_cap, GFP_KERNEL)?,
            all_cap,
            page_size,
            stats: LogStats::default(),
        })
    }

    /// The page size agreed at START.
    pub(crate) fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Number of merged logged ranges.
    pub(crate) fn num_ranges(&self) -> usize {
        self.ranges.len()
    }

    /// Pages logged now (counting repeats not yet folded).
    pub(crate) fn pending(&self) -> usize {
        self.pages.len()
    }

    /// Whether the log is in its "all dirty" fallback.
    pub(crate) fn overflowed(&self) -> bool {
        !self.all.is_empty()
    }

    /// Bytes of memory the log holds.
    pub(crate) fn memory(&self) -> usize {
        self.ranges.capacity() * core::mem::size_of::<(u64, u64)>()
            + self.pages.capacity() * core::mem::size_of::<u64>()
            + self.all.capacity() * core::mem::size_of::<(u64, u64)>()
    }

    /// Whether every page of `first..=last` is logged.
    pub(crate) fn covers(&self, first: u64, last: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < first);
        self.ranges
            .get(i)
            .is_some_and(|r| r.0 <= first && last <= r.1)
    }

    /// The logged run holding `page`, if any.
    fn range_of(&self, page: u64) -> Option<(u64, u64)> {
        let i = self.ranges.partition_point(|r| r.1 < page);
        self.ranges.get(i).copied().filter(|r| r.0 <= page)
    }

    /// Logs the pages of `iova..iova + len` that lie in a logged range.
    pub(crate) fn mark(&mut self, iova: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = pfn(iova);
        let last = pfn(iova.saturating_add(len - 1));
        let mut p = first;
        while p <= last {
            let Some(r) = self.range_of(p) else {
                // Skip to the next logged run, if it starts inside the area.
                let i = self.ranges.partition_point(|r| r.1 < p);
                match self.ranges.get(i) {
                    Some(r) if r.0 <= last => p = r.0,
                    _ => return,
                }
                continue;
            };
            let end = r.1.min(last);
            // Pages already reported wholesale (after an overflow) need no entry: a guest that
            // keeps naming millions of pages then costs no more work until the next REPORT.
            let wholesale = self.all.iter().any(|&(a, b)| a <= p && end <= b);
            while p <= end && !wholesale {
                self.push(p);
                p += 1;
            }
            if end == u64::MAX {
                return;
            }
            p = end + 1;
        }
    }

    /// Adds one page, folding repeats or falling back to "all dirty" when full.
    fn push(&mut self, page: u64) {
        if self.pages.len() >= MAX_PENDING {
            self.fold();
            if self.pages.len() >= MAX_PENDING / 2 {
                self.overflow();
            }
        }
        if self.pages.push(page, GFP_KERNEL).is_err() {
            self.overflow();
            return;
        }
        self.stats.max_pending = self.stats.max_pending.max(self.pages.len() as u64);
    }

    /// The index range of the (folded) pages inside `first..=last`.
    fn window(&self, first: u64, last: u64) -> (usize, usize) {
        (
            self.pages.partition_point(|&p| p < first),
            self.pages.partition_point(|&p| p <= last),
        )
    }

    /// Sorts the pages and drops repeats.
    fn fold(&mut self) {
        if self.sorted == self.pages.len() {
            return;
        }
        heap_sort(&mut self.pages);
        let mut n = 0;
        for i in 0..self.pages.len() {
            if n == 0 || self.pages[n - 1] != self.pages[i] {
                self.pages[n] = self.pages[i];
                n += 1;
            }
        }
        self.pages.truncate(n);
        self.sorted = n;
    }

    /// Falls back to "every logged page is dirty" (needs no allocation: `all` has room for the
    /// ranges since START).
    pub(crate) fn overflow(&mut self) {
        self.stats.overflows += 1;
        self.pages.clear();
        self.sorted = 0;
        self.all.clear();
        for &r in self.ranges.iter() {
            // Cannot fail: `all_cap` > number of ranges.
            if self.all.push(r, GFP_KERNEL).is_err() {
                break;
            }
        }
    }

    /// Moves the logged pages of `first..=last` to `out` (page numbers) and `runs` (page runs),
    /// clearing them from the log.
    pub(crate) fn take(
        &mut self,
        first: u64,
        last: u64,
        out: &mut KVVec<u64>,
        runs: &mut KVec<(u64, u64)>,
    ) -> Result {
        self.peek(first, last, out, runs)?;
        self.fold();
        let (lo, hi) = self.window(first, last);
        let len = self.pages.len();
        self.pages.copy_within(hi..len, lo);
        self.pages.truncate(len - (hi - lo));
        self.sorted = self.pages.len();
        // Cut first..=last out of the wholesale runs where room allows.
        let mut i = 0;
        while i < self.all.len() {
            let (a, b) = self.all[i];
            if b < first || a > last {
                i += 1;
                continue;
            }
            let left = (a < first).then(|| (a, first - 1));
            let right = (b > last).then(|| (last + 1, b));
            match (left, right) {
                (None, None) => {
                    self.all.remove(i).map_err(|_| EINVAL)?;
                }
                (Some(l), None) => {
                    self.all[i] = l;
                    i += 1;
                }
                (None, Some(r)) => {
                    self.all[i] = r;
                    i += 1;
                }
                (Some(l), Some(r)) => {
                    if self.all.len() < self.all_cap {
                        self.all[i] = l;
                        self.all
                            .insert_within_capacity(i + 1, r)
                            .map_err(|_| ENOMEM)?;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Copies the logged pages of `first..=last` to `out` and `runs`, leaving the log as is.
    pub(crate) fn peek(
        &mut self,
        first: u64,
        last: u64,
        out: &mut KVVec<u64>,
        runs: &mut KVec<(u64, u64)>,
    ) -> Result {
        self.fold();
        let (lo, hi) = self.window(first, last);
        out.extend_from_slice(&self.pages[lo..hi], GFP_KERNEL)?;
        for &(a, b) in self.all.iter() {
            if b >= first && a <= last {
                runs.push((a.max(first), b.min(last)), GFP_KERNEL)?;
            }
        }
        Ok(())
    }
}

/// Calls `set(first_page, pages)` for each run of consecutive pages in `pages` (sorted in
/// place; repeats allowed) and in `runs`. Returns the number of distinct pages in `pages`.
pub(crate) fn emit_runs(
    pages: &mut [u64],
    runs: &[(u64, u64)],
    mut set: impl FnMut(u64, u64),
) -> u64 {
    heap_sort(pages);
    let mut count = 0;
    let mut i = 0;
    while i < pages.len() {
        let start = pages[i];
        let mut end = start;
        i += 1;
        while i < pages.len() && (pages[i] == end || pages[i] == end + 1) {
            end = pages[i];
            i += 1;
        }
        count += end - start + 1;
        set(start, end - start + 1);
    }
    for &(a, b) in runs {
        set(a, b - a + 1);
    }
    count
}

/// A logging session of one device.
pub(super) struct Tracker {
    log: PageLog,
    /// Bounce buffer for descriptors.
    scratch: KVec<u8>,
    /// The device's whole DMA view as last read or as the guest's writes since changed it, and
    /// the `regs_gen` it was read at: doorbells work from it instead of reading registers.
    cache: Option<(DmaView, u64)>,
}

impl Tracker {
    /// Logs the buffers named by descriptors `from..to` (modulo `ring.count`) of `ring`, as
    /// the device will read them. Out-of-range indexes mean the whole ring.
    fn scan_ring(&mut self, core: &CoreDevice<'_>, ring: &BufRing, from: u32, to: u32) {
        let (count, size) = (ring.count, ring.desc_size);
        // A disabled queue writes nothing; enabling it is a trapped write that rescans.
        if !ring.enabled || count == 0 || size == 0 || size > MAX_DESC_SIZE || from == to {
            return;
        }
        let (mut idx, mut left) = if from >= count || to >= count {
            (0, count)
        } else {
            (from, (to + count - from) % count)
        };
        let per_chunk = (DESC_CHUNK as u32) / size;
        while left > 0 {
            let k = left.min(count - idx).min(per_chunk);
            let bytes = (k * size) as usize;
            let iova = ring.base.wrapping_add(u64::from(idx) * u64::from(size));
            let buf = &mut self.scratch[..bytes];
            if core.dma_read(iova, buf).is_err() {
                // The descriptors cannot be read: the device might write anywhere it is let.
                self.log.stats.dma_errors += 1;
                self.log.overflow();
                return;
            }
            self.log.stats.descs_read += u64::from(k);
            for d in self.scratch[..bytes].chunks_exact(size as usize) {
                for b in ring.bufs.iter().filter(|b| b.len != 0) {
                    let off = b.offset as usize;
                    let Some(raw) = d.get(off..off + 8) else {
                        continue;
                    };
                    let mut a = [0u8; 8];
                    a.copy_from_slice(raw);
                    self.log.mark(u64::from_le_bytes(a), b.len);
                }
            }
            idx = (idx + k) % count;
            left -= k;
        }
    }

    /// Logs everything `view` says the device may write: its areas and the buffers of the
    /// descriptors it owns.
    fn scan(&mut self, core: &CoreDevice<'_>, view: &DmaView) {
        self.log.stats.scans += 1;
        for &(iova, len) in view.areas.iter() {
            self.log.mark(iova, len);
        }
        for ring in view.rings.iter() {
            self.scan_ring(core, ring, ring.head, ring.tail);
        }
    }
}

/// The pages `iova..iova + len` as an inclusive page run; `EINVAL` if empty or overflowing.
fn page_run(iova: u64, len: u64) -> Result<(u64, u64)> {
    let end = iova
        .checked_add(len.checked_sub(1).ok_or(EINVAL)?)
        .ok_or(EINVAL)?;
    Ok((pfn(iova), pfn(end)))
}

impl VfDevice {
    /// The device's DMA view now (under `state` and the core's `memory_lock`) and the
    /// `regs_gen` it was read at; with `only`, the part a write of that register can change.
    fn dma_view(&self, core: &CoreDevice<'_>, only: Option<u32>) -> Result<(DmaView, u64)> {
        let st = self.lock();
        let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
        let _mem = core.mem_access()?;
        let mut v = DmaView::default();
        self.provider
            .dma_view(bar0, only, st.mig.held_queues(), &mut v)?;
        Ok((v, self.regs_gen.load(Ordering::Acquire)))
    }

    /// `log_start`: starts logging `ranges` (`(first, last)` bytes); `page_size` is the hint in
    /// and the page size chosen out. `EBUSY` if logging already runs.
    pub(crate) fn log_start(
        &self,
        core: &CoreDevice<'_>,
        ranges: &[(u64, u64)],
        page_size: &mut u64,
    ) -> Result {
        if self.provider.trap().is_none() || super::migration_features() == 0 {
            return Err(EOPNOTSUPP);
        }
        let mut dirty = self.dirty.lock();
        if dirty.is_some() {
            return Err(EBUSY);
        }
        let log = PageLog::new(ranges, *page_size)?;
        let mut scratch = KVec::with_capacity(DESC_CHUNK, GFP_KERNEL)?;
        scratch.resize(DESC_CHUNK, 0, GFP_KERNEL)?;
        let mut t = KBox::new(
            Tracker {
                log,
                scratch,
                cache: None,
            },
            GFP_KERNEL,
        )?;
        // Whatever the device owns already may be written from now on.
        let view = self.dma_view(core, None)?;
        t.scan(core, &view.0);
        t.cache = Some(view);
        *page_size = t.log.page_size();
        *dirty = Some(t);
        Ok(())
    }

    /// Logs again everything the device may write now (a rescan of its DMA view), into the
    /// running session `t` (whose `dirty` lock the caller holds): at each REPORT, after a
    /// write that moves a ring, after vfmig itself reprogrammed the rings (a restore).
    pub(super) fn log_rescan(&self, core: &CoreDevice<'_>, t: &mut Tracker) {
        match self.dma_view(core, None) {
            Ok(v) => {
                t.scan(core, &v.0);
                t.cache = Some(v);
            }
            // The registers cannot be read (memory space off, D3): assume the worst.
            Err(_) => {
                t.log.overflow();
                t.cache = None;
            }
        }
    }

    /// `log_stop`: stops logging (nothing to do if it does not run).
    pub(crate) fn log_stop(&self) {
        *self.dirty.lock() = None;
    }

    /// `log_read_and_clear` of `iova..iova + len`: reports and clears the logged pages there,
    /// then logs again what the device may still write. `EINVAL` if logging does not run or
    /// the window is not inside the logged ranges.
    pub(crate) fn log_report(
        &self,
        core: &CoreDevice<'_>,
        iova: u64,
        len: u64,
        bitmap: &DirtyBitmap<'_>,
    ) -> Result {
        let mut dirty = self.dirty.lock();
        let Some(t) = &mut *dirty else {
            return Err(EINVAL);
        };
        let (first, last) = page_run(iova, len)?;
        if !t.log.covers(first, last) {
            return Err(EINVAL);
        }
        t.log.stats.reports += 1;
        let mut pages = KVVec::new();
        let mut runs = KVec::new();
        t.log.take(first, last, &mut pages, &mut runs)?;
        self.log_rescan(core, t);
        // The pages taken above are out of the log: from here on the report may not fail. If
        // what the rescan logged cannot be gathered (no memory), the whole window is reported
        // (an over-report; the rescan's pages stay logged for the next report too).
        if t.log.peek(first, last, &mut pages, &mut runs).is_err() {
            t.log.stats.overflows += 1;
            bitmap.set(
                first << PAGE_SHIFT,
                (last - first + 1).saturating_mul(1 << PAGE_SHIFT),
            );
            t.log.stats.reported_pages += last - first + 1;
            return Ok(());
        }
        let n = emit_runs(&mut pages, &runs, |p, n| {
            bitmap.set(p << PAGE_SHIFT, n << PAGE_SHIFT)
        });
        t.log.stats.reported_pages += n;
        Ok(())
    }

    /// A trapped write of a register that can change where the device writes memory
    /// ([`Provider::dma_register`](crate::provider::Provider::dma_register)): `size` (1, 2 or 4)
    /// bytes of `val` at BAR0 offset `off`. Logs what it hands to the device (if logging runs),
    /// then writes the register. `dirty` is held across the write even when logging does not
    /// run, so that a START either sees the write's effect in its scan or sees the write.
    pub(super) fn logged_write(
        &self,
        core: &CoreDevice<'_>,
        off: u32,
        size: u32,
        val: u32,
    ) -> Result {
        let mut dirty = self.dirty.lock();
        let reg = off & !3;
        let Some(t) = dirty.as_deref_mut() else {
            return self.bar_write(core, off, size, val, None).map(|_| ());
        };
        t.log.stats.trap_writes += 1;
        // A doorbell works from the kept view while no one but the guest (whose writes all come
        // through here) changed the registers; anything else reads them.
        let doorbell = size == 4 && self.provider.is_doorbell(reg);
        let gen_now = self.regs_gen.load(Ordering::Acquire);
        let (before, old, gen) = match t.cache {
            Some((v, g)) if doorbell && g == gen_now => (v, 0, g),
            _ => {
                let st = self.lock();
                let bar0 = st.bar0.as_ref().ok_or(ENODEV)?;
                let _mem = core.mem_access()?;
                let mut v = DmaView::default();
                self.provider.dma_view(
                    bar0,
                    (!doorbell).then_some(reg),
                    st.mig.held_queues(),
                    &mut v,
                )?;
                let old = bar0.read32(reg as usize)?;
                (v, old, self.regs_gen.load(Ordering::Acquire))
            }
        };
        let mut after = before;
        let posted = self
            .provider
            .trapped_write(&mut after, reg, old, merge(old, off, size, val));
        match posted {
            Posted::Nothing => {}
            Posted::Slots { ring, from, to } => {
                if let Some(r) = after.rings.get(ring) {
                    t.scan_ring(core, r, from, to);
                }
            }
            Posted::Rescan => {
                t.scan(core, &before);
                t.scan(core, &after);
            }
        }
        if !self.bar_write(core, off, size, val, Some(gen))? {
            // vfmig reprogrammed the device between the view and the write (a migration arc or
            // a reset raced with the guest): what was logged may not be what the device uses.
            t.log.overflow();
            t.cache = None;
            return Ok(());
        }
        if posted == Posted::Rescan {
            // What the device really took (it may mask bits differently than assumed).
            self.log_rescan(core, t);
        } else if doorbell {
            t.cache = Some((after, gen));
        }
        Ok(())
    }

    /// Prints the logging part of the debugfs `state` file.
    pub(crate) fn show_dirty(&self, m: &kernel::seq_file::SeqFile) {
        use kernel::seq_file::seq_print;
        // Only tried: the tracker can be held as long as a descriptor read waits on the VMM's
        // memory (a userfaultfd page), and a reader of debugfs must not wait for the VMM.
        let Some(dirty) = self.dirty.try_lock() else {
            seq_print!(m, "dirty_logging: busy\n");
            return;
        };
        let Some(t) = &*dirty else {
            seq_print!(m, "dirty_logging: off\n");
            return;
        };
        let s = t.log.stats;
        seq_print!(m, "dirty_logging: on\n");
        seq_print!(m, "dirty_page_size: {}\n", t.log.page_size());
        seq_print!(m, "dirty_ranges: {}\n", t.log.num_ranges());
        seq_print!(m, "dirty_pending_pages: {}\n", t.log.pending());
        seq_print!(m, "dirty_overflowed: {}\n", u8::from(t.log.overflowed()));
        seq_print!(
            m,
            "dirty_memory_bytes: {}\n",
            t.log.memory() + t.scratch.capacity() + core::mem::size_of::<Tracker>()
        );
        seq_print!(m, "dirty_trap_writes: {}\n", s.trap_writes);
        seq_print!(m, "dirty_descs_read: {}\n", s.descs_read);
        seq_print!(m, "dirty_scans: {}\n", s.scans);
        seq_print!(m, "dirty_reports: {}\n", s.reports);
        seq_print!(m, "dirty_reported_pages: {}\n", s.reported_pages);
        seq_print!(m, "dirty_overflows: {}\n", s.overflows);
        seq_print!(m, "dirty_dma_errors: {}\n", s.dma_errors);
        seq_print!(m, "dirty_max_pending: {}\n", s.max_pending);
    }
}
