// SPDX-License-Identifier: GPL-2.0
//! The versioned vfmig state stream: header, sections, trailer.
//!
//! Layout (all integers little-endian, no implicit padding; see
//! `Documentation/vfmig/state-format.rst`):
//!
//! ```text
//! header   40 bytes  magic "VFMG", major, minor, PCI identity, provider
//!                    id + compat word, flags, total_len, section_count
//! section  12 bytes  type, flags (OPTIONAL), instance, reserved, length
//!          + length bytes of payload            (repeated section_count times)
//! trailer  4 bytes   CRC32C of every byte before it
//! ```
//!
//! This module knows framing, ordering, versioning and integrity; it does not
//! know what a section means. A [`Sink`] decides which section types it
//! understands and receives each payload once fully buffered and
//! length-checked. The [`Decoder`] is streaming (any chunking), holds one
//! fixed buffer of [`MAX_SECTION_PAYLOAD`] bytes, never allocates and never
//! panics. Nothing it hands to a sink is trustworthy before
//! [`Decoder::finish`] succeeds: sinks stage, callers commit afterwards.

use super::crc32c::Crc32c;
use super::error::{Error, ErrorKind, Field};

/// Magic: the bytes `"VFMG"` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"VFMG");
/// Format major version of this build. A different major is rejected.
pub const FORMAT_MAJOR: u16 = 1;
/// Format minor version of this build. Newer minors are accepted when every
/// section this build does not know is OPTIONAL.
pub const FORMAT_MINOR: u16 = 0;

/// Header length in bytes.
pub const HEADER_LEN: usize = 40;
/// Section header length in bytes.
pub const SECTION_HEADER_LEN: usize = 12;
/// Trailer (CRC32C) length in bytes.
pub const TRAILER_LEN: usize = 4;
/// Largest payload of a section the decoder buffers (sections a sink takes).
/// Unknown OPTIONAL sections may be larger: they are skipped, not buffered.
pub const MAX_SECTION_PAYLOAD: usize = 1024;
/// Largest accepted `total_len` (16 MiB).
pub const MAX_TOTAL_LEN: u32 = 16 << 20;
/// Largest accepted `section_count`.
pub const MAX_SECTIONS: u32 = 4096;

/// Section flag: a decoder that does not know this section type may skip it.
pub const SECTION_FLAG_OPTIONAL: u16 = 1 << 0;
/// Section flag bits defined by this minor.
pub const SECTION_FLAGS_KNOWN: u16 = SECTION_FLAG_OPTIONAL;

/// Header flag bits 0..15 are must-understand: an unknown one is rejected.
pub const HEADER_FLAGS_MANDATORY_MASK: u32 = 0x0000_FFFF;
/// Informational header flag: the stream is the initial data of a PRE_COPY
/// transfer. A later stream of the same transfer supersedes it; a destination
/// never loads such a stream as the final state.
pub const HEADER_FLAG_PRECOPY: u32 = 1 << 16;
/// Must-understand header flags defined by this minor (none yet).
pub const HEADER_FLAGS_KNOWN: u32 = 0;

/// First section type of the generic range (device-neutral sections).
pub const SECTION_GENERIC_FIRST: u16 = 0x0001;
/// Last section type of the generic range.
pub const SECTION_GENERIC_LAST: u16 = 0x7FFF;
/// First section type of the provider-private range, whose meaning is given
/// by the header's provider id.
pub const SECTION_PROVIDER_FIRST: u16 = 0x8000;

/// Whether `ty` is in the provider-private range.
pub const fn is_provider_section(ty: u16) -> bool {
    ty >= SECTION_PROVIDER_FIRST
}

/// PCI identity of the device a stream was saved from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Identity {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// PCI subsystem vendor id.
    pub subsys_vendor: u16,
    /// PCI subsystem device id.
    pub subsys_device: u16,
    /// PCI revision id.
    pub revision: u8,
}

/// The stream header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// Format major.
    pub major: u16,
    /// Format minor.
    pub minor: u16,
    /// Device identity.
    pub identity: Identity,
    /// Provider id (which device family defines the private sections).
    pub provider_id: u16,
    /// Provider compatibility word: provider features the state depends on.
    pub provider_compat: u32,
    /// Header flags.
    pub flags: u32,
    /// Length of the whole stream, header through trailer.
    pub total_len: u32,
    /// Number of sections.
    pub section_count: u32,
}

impl Header {
    /// A header of this build's version; `total_len`/`section_count` are
    /// filled in by the [`Encoder`].
    pub const fn new(identity: Identity, provider_id: u16, provider_compat: u32) -> Self {
        Self {
            major: FORMAT_MAJOR,
            minor: FORMAT_MINOR,
            identity,
            provider_id,
            provider_compat,
            flags: 0,
            total_len: 0,
            section_count: 0,
        }
    }

    fn write(&self, out: &mut Writer<'_>) {
        out.u32(MAGIC);
        out.u16(self.major);
        out.u16(self.minor);
        out.u16(self.identity.vendor);
        out.u16(self.identity.device);
        out.u16(self.identity.subsys_vendor);
        out.u16(self.identity.subsys_device);
        out.u8(self.identity.revision);
        out.u8(0);
        out.u16(self.provider_id);
        out.u32(self.provider_compat);
        out.u32(self.flags);
        out.u32(self.total_len);
        out.u32(self.section_count);
        out.u32(0);
    }
}

/// A section header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SectionHeader {
    /// Section type (0 is invalid).
    pub ty: u16,
    /// Section flags ([`SECTION_FLAG_OPTIONAL`]).
    pub flags: u16,
    /// Instance (e.g. queue index); (type, instance) is strictly increasing.
    pub instance: u16,
    /// Payload length in bytes.
    pub len: u32,
}

impl SectionHeader {
    /// Whether the OPTIONAL flag is set.
    pub const fn optional(&self) -> bool {
        self.flags & SECTION_FLAG_OPTIONAL != 0
    }
}

/// Little-endian reader over a byte slice; every read is bounds-checked and
/// fails with [`ErrorKind::BadLength`] instead of panicking.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let short = Error::new(ErrorKind::BadLength, Field::SectionLen);
        let end = self.pos.checked_add(N).ok_or(short)?;
        let s = self.buf.get(self.pos..end).ok_or(short)?;
        let a = <[u8; N]>::try_from(s).map_err(|_| short)?;
        self.pos = end;
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(u8::from_le_bytes(self.take::<1>()?))
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.take::<2>()?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take::<4>()?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take::<8>()?))
    }

    /// Reads `N` raw bytes.
    pub fn bytes<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.take::<N>()
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

/// Little-endian writer into a byte slice. Writes past the end are dropped
/// and remembered; [`Writer::finish`] then reports [`ErrorKind::NoSpace`].
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflow: false,
        }
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, data: &[u8]) {
        let end = match self.pos.checked_add(data.len()) {
            Some(e) => e,
            None => {
                self.overflow = true;
                return;
            }
        };
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                for (d, s) in dst.iter_mut().zip(data) {
                    *d = *s;
                }
                self.pos = end;
            }
            None => self.overflow = true,
        }
    }

    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends a little-endian `u64`.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Bytes written, or [`ErrorKind::NoSpace`] if any write did not fit.
    pub fn finish(&self) -> Result<usize, Error> {
        if self.overflow {
            Err(Error::new(ErrorKind::NoSpace, Field::Buffer)
                .values(0, u64::try_from(self.buf.len()).unwrap_or(u64::MAX)))
        } else {
            Ok(self.pos)
        }
    }
}

/// Size of a stream whose section payloads have the given lengths, or `None`
/// on overflow: `HEADER_LEN + sum(SECTION_HEADER_LEN + len) + TRAILER_LEN`.
pub fn stream_len(payload_lens: impl IntoIterator<Item = usize>) -> Option<usize> {
    let mut total = HEADER_LEN.checked_add(TRAILER_LEN)?;
    for l in payload_lens {
        total = total.checked_add(SECTION_HEADER_LEN)?.checked_add(l)?;
    }
    Some(total)
}

/// Writes a stream into a caller-provided buffer, section by section.
///
/// Sections must be added in strictly increasing (type, instance) order.
/// [`Encoder::finish`] fills in the header's length and count and appends
/// the CRC32C; it returns the stream length.
#[derive(Debug)]
pub struct Encoder<'a> {
    buf: &'a mut [u8],
    header: Header,
    pos: usize,
    count: u32,
    last: Option<(u16, u16)>,
    error: Option<Error>,
}

impl<'a> Encoder<'a> {
    /// Starts a stream with `header` (its `total_len` and `section_count`
    /// are ignored) into `buf`.
    pub fn new(buf: &'a mut [u8], header: &Header) -> Self {
        let error = if buf.len() < HEADER_LEN {
            Some(Error::new(ErrorKind::NoSpace, Field::Buffer))
        } else {
            None
        };
        Self {
            buf,
            header: *header,
            pos: HEADER_LEN,
            count: 0,
            last: None,
            error,
        }
    }

    /// Appends a section of exactly `len` payload bytes produced by `fill`.
    ///
    /// Fails (and poisons the encoder) on ordering violations, if `fill`
    /// does not write exactly `len` bytes, or if the buffer is too small.
    pub fn section(
        &mut self,
        sec: &SectionHeader,
        fill: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let r = self.section_inner(sec, fill);
        if let Err(e) = r {
            if self.error.is_none() {
                self.error = Some(e);
            }
        }
        r
    }

    fn section_inner(
        &mut self,
        sec: &SectionHeader,
        fill: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let here = |e: Error| e.in_section(sec.ty, sec.instance);
        if sec.ty == 0 {
            return Err(here(Error::new(
                ErrorKind::InvalidValue,
                Field::SectionType,
            )));
        }
        let key = (sec.ty, sec.instance);
        if let Some(last) = self.last {
            if key == last {
                return Err(here(Error::new(
                    ErrorKind::DuplicateSection,
                    Field::SectionType,
                )));
            }
            if key < last {
                return Err(here(Error::new(ErrorKind::OutOfOrder, Field::SectionType)));
            }
        }
        let len = usize::try_from(sec.len)
            .map_err(|_| here(Error::new(ErrorKind::BadLength, Field::SectionLen)))?;
        let no_space = here(Error::new(ErrorKind::NoSpace, Field::Buffer));
        let start = self.pos;
        let pay = start.checked_add(SECTION_HEADER_LEN).ok_or(no_space)?;
        let end = pay.checked_add(len).ok_or(no_space)?;
        let hdr_slot = self.buf.get_mut(start..pay).ok_or(no_space)?;
        let mut w = Writer::new(hdr_slot);
        w.u16(sec.ty);
        w.u16(sec.flags);
        w.u16(sec.instance);
        w.u16(0);
        w.u32(sec.len);
        w.finish()?;
        let slot = self.buf.get_mut(pay..end).ok_or(no_space)?;
        let mut w = Writer::new(slot);
        fill(&mut w).map_err(here)?;
        let written = w.finish().map_err(|_| {
            here(Error::new(ErrorKind::BadLength, Field::SectionLen).values(u64::from(sec.len), 0))
        })?;
        if written != len {
            let found = u64::try_from(written).unwrap_or(u64::MAX);
            return Err(here(
                Error::new(ErrorKind::BadLength, Field::SectionLen)
                    .values(u64::from(sec.len), found),
            ));
        }
        self.count = self.count.checked_add(1).ok_or(here(Error::new(
            ErrorKind::SectionCount,
            Field::SectionCount,
        )))?;
        self.pos = end;
        self.last = Some(key);
        Ok(())
    }

    /// Finishes the stream: writes the header and the CRC32C trailer and
    /// returns the total length.
    pub fn finish(self) -> Result<usize, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let no_space = Error::new(ErrorKind::NoSpace, Field::Buffer);
        let total = self.pos.checked_add(TRAILER_LEN).ok_or(no_space)?;
        let total32 = u32::try_from(total)
            .ok()
            .filter(|&t| t <= MAX_TOTAL_LEN)
            .ok_or(Error::new(ErrorKind::TotalTooLarge, Field::TotalLen))?;
        if self.count > MAX_SECTIONS {
            return Err(Error::new(ErrorKind::SectionCount, Field::SectionCount)
                .values(u64::from(MAX_SECTIONS), u64::from(self.count)));
        }
        let mut hdr = self.header;
        hdr.total_len = total32;
        hdr.section_count = self.count;
        let head = self.buf.get_mut(..HEADER_LEN).ok_or(no_space)?;
        let mut w = Writer::new(head);
        hdr.write(&mut w);
        w.finish()?;
        let body = self.buf.get(..self.pos).ok_or(no_space)?;
        let mut crc = Crc32c::new();
        crc.update(body);
        let tail = self.buf.get_mut(self.pos..total).ok_or(no_space)?;
        let mut w = Writer::new(tail);
        w.u32(crc.value());
        w.finish()?;
        Ok(total)
    }
}

/// What the decoder checks the header against (the destination device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// Identity the stream must carry exactly.
    pub identity: Identity,
    /// Provider id the stream must carry.
    pub provider_id: u16,
    /// Provider compat bits this build can restore; the stream's word must
    /// be a subset.
    pub provider_compat_supported: u32,
}

/// A sink's answer for a section header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// Buffer the payload and pass it to [`Sink::section`]; its length must
    /// be at most [`MAX_SECTION_PAYLOAD`].
    Take,
    /// Known, but skip the payload (it is still covered by the CRC).
    Skip,
    /// Not known: skipped if OPTIONAL, otherwise
    /// [`ErrorKind::UnknownMandatorySection`].
    Unknown,
}

/// Receives a stream's content from a [`Decoder`].
///
/// Everything a sink receives is unauthenticated until
/// [`Decoder::finish`] succeeds: stage it, commit afterwards.
pub trait Sink {
    /// Called once with the validated header, before any section.
    fn header(&mut self, _hdr: &Header) -> Result<(), Error> {
        Ok(())
    }

    /// Classifies a section (and may check its length) before its payload.
    fn accept(&mut self, sec: &SectionHeader) -> Result<Accept, Error>;

    /// A taken section's complete payload (`payload.len() == sec.len`).
    fn section(&mut self, sec: &SectionHeader, payload: &[u8]) -> Result<(), Error>;

    /// A section that was skipped (unknown OPTIONAL or [`Accept::Skip`]).
    fn skipped(&mut self, _sec: &SectionHeader) {}

    /// Called by [`Decoder::finish`] after the CRC matched: final
    /// cross-section checks (e.g. required sections present).
    fn end(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// Result of a successful decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The header.
    pub header: Header,
    /// Sections passed to the sink.
    pub taken: u32,
    /// Sections skipped.
    pub skipped: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Header,
    SectionHeader,
    Payload,
    Skip,
    Trailer,
    Done,
}

/// Streaming decoder. Feed it with [`Decoder::write`] in chunks of any size,
/// then call [`Decoder::finish`]. Memory use is fixed (about
/// [`MAX_SECTION_PAYLOAD`] bytes); after the first error every call returns
/// that error again.
#[derive(Clone, Debug)]
pub struct Decoder {
    expect: Option<Expect>,
    phase: Phase,
    buf: [u8; MAX_SECTION_PAYLOAD],
    fill: usize,
    need: usize,
    pos: u32,
    crc: Crc32c,
    header: Header,
    seen: u32,
    taken: u32,
    skipped: u32,
    last: Option<(u16, u16)>,
    cur: SectionHeader,
    cur_off: u32,
    error: Option<Error>,
}

const _: () = assert!(MAX_SECTION_PAYLOAD >= HEADER_LEN);

impl Decoder {
    /// A decoder checking the header against `expect` (`None` accepts any
    /// identity, provider and compat word, e.g. for inspection tools).
    pub const fn new(expect: Option<Expect>) -> Self {
        Self {
            expect,
            phase: Phase::Header,
            buf: [0; MAX_SECTION_PAYLOAD],
            fill: 0,
            need: HEADER_LEN,
            pos: 0,
            crc: Crc32c::new(),
            header: Header {
                major: 0,
                minor: 0,
                identity: Identity {
                    vendor: 0,
                    device: 0,
                    subsys_vendor: 0,
                    subsys_device: 0,
                    revision: 0,
                },
                provider_id: 0,
                provider_compat: 0,
                flags: 0,
                total_len: 0,
                section_count: 0,
            },
            seen: 0,
            taken: 0,
            skipped: 0,
            last: None,
            cur: SectionHeader {
                ty: 0,
                flags: 0,
                instance: 0,
                len: 0,
            },
            cur_off: 0,
            error: None,
        }
    }

    /// Resets to the initial state, keeping the expectation.
    pub fn reset(&mut self) {
        let expect = self.expect;
        *self = Self::new(expect);
    }

    /// Bytes accepted so far.
    pub const fn position(&self) -> u32 {
        self.pos
    }

    /// The declared total length once the header has been validated.
    pub fn total_len(&self) -> Option<u32> {
        if self.phase == Phase::Header {
            None
        } else {
            Some(self.header.total_len)
        }
    }

    /// The first error, if any.
    pub const fn error(&self) -> Option<Error> {
        self.error
    }

    /// Whether the complete stream (including a matching CRC) has been
    /// received.
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Done && self.error.is_none()
    }

    fn fail(&mut self, e: Error) -> Error {
        if self.error.is_none() {
            self.error = Some(e);
        }
        self.error.unwrap_or(e)
    }

    /// Consumes `data`. Either all of it is accepted, or an error is
    /// returned (and remembered). Bytes past the declared end are
    /// [`ErrorKind::TrailingData`].
    pub fn write<S: Sink + ?Sized>(&mut self, data: &[u8], sink: &mut S) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.write_inner(data, sink) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn write_inner<S: Sink + ?Sized>(
        &mut self,
        mut data: &[u8],
        sink: &mut S,
    ) -> Result<(), Error> {
        while !data.is_empty() {
            if self.phase == Phase::Done {
                // `found` is "at least one byte more", independent of how
                // the caller chunked the excess.
                return Err(Error::new(ErrorKind::TrailingData, Field::TotalLen)
                    .values(
                        u64::from(self.header.total_len),
                        u64::from(self.pos).saturating_add(1),
                    )
                    .at(self.pos));
            }
            let want = self.need.saturating_sub(self.fill);
            let take = want.min(data.len());
            if take == 0 {
                // Cannot happen: a pending unit always needs bytes.
                return Err(Error::new(ErrorKind::BadLength, Field::Stream).at(self.pos));
            }
            let now = data.get(..take).unwrap_or(&[]);
            data = data.get(take..).unwrap_or(&[]);
            if self.phase != Phase::Trailer {
                self.crc.update(now);
            }
            if self.phase != Phase::Skip {
                let end = self.fill.saturating_add(take);
                if let Some(dst) = self.buf.get_mut(self.fill..end) {
                    for (d, s) in dst.iter_mut().zip(now) {
                        *d = *s;
                    }
                } else {
                    return Err(
                        Error::new(ErrorKind::SectionTooLarge, Field::SectionLen).at(self.pos)
                    );
                }
            }
            self.fill = self.fill.saturating_add(take);
            let take32 = u32::try_from(take).unwrap_or(u32::MAX);
            self.pos = self
                .pos
                .checked_add(take32)
                .ok_or(Error::new(ErrorKind::TotalTooLarge, Field::TotalLen))?;
            if self.fill == self.need {
                self.complete(sink)?;
            }
        }
        Ok(())
    }

    fn unit(&self) -> &[u8] {
        self.buf.get(..self.fill).unwrap_or(&[])
    }

    fn start_unit(&mut self, phase: Phase, need: usize) {
        self.phase = phase;
        self.need = need;
        self.fill = 0;
    }

    fn complete<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), Error> {
        match self.phase {
            Phase::Header => {
                let hdr = self.parse_header()?;
                self.header = hdr;
                sink.header(&hdr).map_err(|e| e.at(0))?;
                self.next_after_sections_or_header()
            }
            Phase::SectionHeader => self.section_header(sink),
            Phase::Payload => {
                let sec = self.cur;
                let off = self.cur_off;
                let payload = self.buf.get(..self.fill).unwrap_or(&[]);
                sink.section(&sec, payload)
                    .map_err(|e| e.at(off).in_section(sec.ty, sec.instance))?;
                self.taken = self.taken.saturating_add(1);
                self.next_after_sections_or_header()
            }
            Phase::Skip => {
                sink.skipped(&self.cur);
                self.skipped = self.skipped.saturating_add(1);
                self.next_after_sections_or_header()
            }
            Phase::Trailer => {
                let mut r = Reader::new(self.unit());
                let found = r.u32()?;
                let want = self.crc.value();
                if found != want {
                    let off = self.header.total_len.saturating_sub(4);
                    return Err(Error::new(ErrorKind::BadCrc, Field::Crc)
                        .values(u64::from(want), u64::from(found))
                        .at(off));
                }
                self.start_unit(Phase::Done, 0);
                Ok(())
            }
            Phase::Done => Ok(()),
        }
    }

    fn parse_header(&self) -> Result<Header, Error> {
        let mut r = Reader::new(self.unit());
        let magic = r.u32()?;
        if magic != MAGIC {
            return Err(Error::new(ErrorKind::BadMagic, Field::Magic)
                .values(u64::from(MAGIC), u64::from(magic)));
        }
        let major = r.u16()?;
        if major != FORMAT_MAJOR {
            return Err(Error::new(ErrorKind::UnsupportedMajor, Field::Major)
                .values(u64::from(FORMAT_MAJOR), u64::from(major)));
        }
        let minor = r.u16()?;
        let vendor = r.u16()?;
        let device = r.u16()?;
        let subsys_vendor = r.u16()?;
        let subsys_device = r.u16()?;
        let revision = r.u8()?;
        let rsvd0 = r.u8()?;
        let provider_id = r.u16()?;
        let provider_compat = r.u32()?;
        let flags = r.u32()?;
        let total_len = r.u32()?;
        let section_count = r.u32()?;
        let rsvd1 = r.u32()?;
        if rsvd0 != 0 || rsvd1 != 0 {
            let found = if rsvd0 != 0 {
                u64::from(rsvd0)
            } else {
                u64::from(rsvd1)
            };
            return Err(
                Error::new(ErrorKind::ReservedNonZero, Field::HeaderReserved).values(0, found),
            );
        }
        let unknown = flags & HEADER_FLAGS_MANDATORY_MASK & !HEADER_FLAGS_KNOWN;
        if unknown != 0 {
            return Err(Error::new(ErrorKind::UnknownFlags, Field::HeaderFlags)
                .values(u64::from(HEADER_FLAGS_KNOWN), u64::from(flags)));
        }
        if total_len > MAX_TOTAL_LEN {
            return Err(Error::new(ErrorKind::TotalTooLarge, Field::TotalLen)
                .values(u64::from(MAX_TOTAL_LEN), u64::from(total_len)));
        }
        if section_count > MAX_SECTIONS {
            return Err(Error::new(ErrorKind::SectionCount, Field::SectionCount)
                .values(u64::from(MAX_SECTIONS), u64::from(section_count)));
        }
        // Smallest stream with this many (empty) sections; cannot overflow
        // in u64 given the bounds above.
        let min = u64::from(section_count)
            .saturating_mul(12)
            .saturating_add(44);
        if u64::from(total_len) < min {
            return Err(
                Error::new(ErrorKind::BadLength, Field::TotalLen).values(min, u64::from(total_len))
            );
        }
        let identity = Identity {
            vendor,
            device,
            subsys_vendor,
            subsys_device,
            revision,
        };
        if let Some(exp) = &self.expect {
            let checks = [
                (
                    Field::Vendor,
                    u32::from(exp.identity.vendor),
                    u32::from(vendor),
                ),
                (
                    Field::Device,
                    u32::from(exp.identity.device),
                    u32::from(device),
                ),
                (
                    Field::SubsysVendor,
                    u32::from(exp.identity.subsys_vendor),
                    u32::from(subsys_vendor),
                ),
                (
                    Field::SubsysDevice,
                    u32::from(exp.identity.subsys_device),
                    u32::from(subsys_device),
                ),
                (
                    Field::Revision,
                    u32::from(exp.identity.revision),
                    u32::from(revision),
                ),
                (
                    Field::ProviderId,
                    u32::from(exp.provider_id),
                    u32::from(provider_id),
                ),
            ];
            for (field, want, got) in checks {
                if want != got {
                    return Err(Error::new(ErrorKind::IdentityMismatch, field)
                        .values(u64::from(want), u64::from(got)));
                }
            }
            if provider_compat & !exp.provider_compat_supported != 0 {
                return Err(
                    Error::new(ErrorKind::ProviderCompat, Field::ProviderCompat).values(
                        u64::from(exp.provider_compat_supported),
                        u64::from(provider_compat),
                    ),
                );
            }
        }
        Ok(Header {
            major,
            minor,
            identity,
            provider_id,
            provider_compat,
            flags,
            total_len,
            section_count,
        })
    }

    /// Byte offset where the section area ends (start of the trailer).
    fn body_end(&self) -> u32 {
        self.header.total_len.saturating_sub(4)
    }

    /// After the header or a section: next section header or the trailer.
    fn next_after_sections_or_header(&mut self) -> Result<(), Error> {
        let body_end = self.body_end();
        if self.seen == self.header.section_count {
            if self.pos != body_end {
                return Err(Error::new(ErrorKind::BadLength, Field::TotalLen)
                    .values(
                        u64::from(self.pos).saturating_add(4),
                        u64::from(self.header.total_len),
                    )
                    .at(self.pos));
            }
            self.start_unit(Phase::Trailer, TRAILER_LEN);
        } else {
            let left = body_end.saturating_sub(self.pos);
            if left < 12 {
                return Err(Error::new(ErrorKind::SectionCount, Field::SectionCount)
                    .values(u64::from(self.header.section_count), u64::from(self.seen))
                    .at(self.pos));
            }
            self.cur_off = self.pos;
            self.start_unit(Phase::SectionHeader, SECTION_HEADER_LEN);
        }
        Ok(())
    }

    fn section_header<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), Error> {
        let off = self.cur_off;
        let mut r = Reader::new(self.unit());
        let ty = r.u16()?;
        let flags = r.u16()?;
        let instance = r.u16()?;
        let rsvd = r.u16()?;
        let len = r.u32()?;
        let sec = SectionHeader {
            ty,
            flags,
            instance,
            len,
        };
        self.cur = sec;
        let err = |k: ErrorKind, f: Field| Error::new(k, f).at(off).in_section(ty, instance);
        if rsvd != 0 {
            return Err(
                err(ErrorKind::ReservedNonZero, Field::SectionReserved).values(0, u64::from(rsvd))
            );
        }
        if ty == 0 {
            return Err(err(ErrorKind::InvalidValue, Field::SectionType));
        }
        // Unknown flag bits are an error unless a newer minor may have
        // defined them (then they are ignored, as the spec requires of any
        // future section flag).
        let newer_minor = self.header.minor > FORMAT_MINOR;
        if flags & !SECTION_FLAGS_KNOWN != 0 && !newer_minor {
            return Err(err(ErrorKind::ReservedNonZero, Field::SectionFlags)
                .values(u64::from(SECTION_FLAGS_KNOWN), u64::from(flags)));
        }
        let key = (ty, instance);
        if let Some(last) = self.last {
            if key == last {
                return Err(err(ErrorKind::DuplicateSection, Field::SectionType));
            }
            if key < last {
                return Err(err(ErrorKind::OutOfOrder, Field::SectionType)
                    .values(u64::from(last.0), u64::from(ty)));
            }
        }
        self.last = Some(key);
        self.seen = self.seen.saturating_add(1);
        let left = self.body_end().saturating_sub(self.pos);
        if len > left {
            return Err(err(ErrorKind::SectionOverrun, Field::SectionLen)
                .values(u64::from(left), u64::from(len)));
        }
        let accept = sink
            .accept(&sec)
            .map_err(|e| e.at(off).in_section(ty, instance))?;
        let ulen =
            usize::try_from(len).map_err(|_| err(ErrorKind::SectionTooLarge, Field::SectionLen))?;
        let phase = match accept {
            Accept::Take => {
                if ulen > MAX_SECTION_PAYLOAD {
                    return Err(err(ErrorKind::SectionTooLarge, Field::SectionLen).values(
                        u64::try_from(MAX_SECTION_PAYLOAD).unwrap_or(u64::MAX),
                        u64::from(len),
                    ));
                }
                Phase::Payload
            }
            Accept::Skip => Phase::Skip,
            Accept::Unknown => {
                if !sec.optional() {
                    return Err(err(ErrorKind::UnknownMandatorySection, Field::SectionType)
                        .values(0, u64::from(ty)));
                }
                Phase::Skip
            }
        };
        self.start_unit(phase, ulen);
        if ulen == 0 {
            // Empty payload: complete it now, no more bytes will come for it.
            self.complete(sink)?;
        }
        Ok(())
    }

    /// Ends the stream: succeeds only if every declared byte arrived, the
    /// CRC matched and the sink's final checks passed. Only then may the
    /// caller apply what the sink staged.
    pub fn finish<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<Summary, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.phase != Phase::Done {
            let expected = if self.phase == Phase::Header {
                44
            } else {
                self.header.total_len
            };
            let e = Error::new(ErrorKind::Truncated, Field::Stream)
                .values(u64::from(expected), u64::from(self.pos))
                .at(self.pos);
            return Err(self.fail(e));
        }
        if let Err(e) = sink.end() {
            return Err(self.fail(e.at(self.header.total_len)));
        }
        Ok(Summary {
            header: self.header,
            taken: self.taken,
            skipped: self.skipped,
        })
    }
}

/// Decodes a complete stream held in one buffer (convenience wrapper around
/// [`Decoder`]).
pub fn decode_all<S: Sink + ?Sized>(
    expect: Option<Expect>,
    data: &[u8],
    sink: &mut S,
) -> Result<Summary, Error> {
    let mut d = Decoder::new(expect);
    d.write(data, sink)?;
    d.finish(sink)
}
