// SPDX-License-Identifier: GPL-2.0
//! inspect, check and synth: state files decoded and encoded only through
//! the shared format source (`vfmig_state`, i.e. `rust/shared/`).

use std::fmt::Write as _;

use serde_json::{json, Value};
use vfmig_state::format::{self, Accept};
use vfmig_state::nic::{self, Ring};
use vfmig_state::{
    describe_state, igb, Decoder, Error, ErrorKind, Expect, Header, Identity, NicSink, NicVfState,
    Provider, SectionHeader, Sink, Summary,
};

use crate::error::{CtlError, Exit};

/// What happened to one section during decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionStatus {
    /// Decoded and checked.
    Decoded,
    /// Unknown but OPTIONAL: skipped (still covered by the CRC).
    Skipped,
    /// Decoding stopped at this section.
    Failed,
}

impl SectionStatus {
    /// Stable name.
    pub const fn name(self) -> &'static str {
        match self {
            SectionStatus::Decoded => "decoded",
            SectionStatus::Skipped => "skipped",
            SectionStatus::Failed => "error",
        }
    }
}

/// One section as seen by the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionRec {
    /// Offset of the section header in the stream.
    pub offset: u32,
    /// The section header.
    pub hdr: SectionHeader,
    /// Outcome.
    pub status: SectionStatus,
}

/// Name of a section type (`unknown` for types this build does not know).
pub fn section_name(ty: u16, provider_id: u16) -> &'static str {
    match ty {
        nic::SECTION_RX_RING => "rx-ring",
        nic::SECTION_TX_RING => "tx-ring",
        nic::SECTION_INTERRUPTS => "interrupts",
        nic::SECTION_MAILBOX => "mailbox",
        nic::SECTION_PF_VF_CONFIG => "pf-vf-config",
        nic::SECTION_STATS => "stats",
        igb::SECTION_IGB_REGS if provider_id == igb::PROVIDER_ID => "igb-regs",
        t if format::is_provider_section(t) => "unknown-private",
        _ => "unknown",
    }
}

/// Name of a provider id.
pub fn provider_name(id: u16) -> &'static str {
    if id == igb::PROVIDER.id() {
        igb::PROVIDER.name()
    } else {
        "unknown"
    }
}

struct Recorder<'a> {
    inner: NicSink<'a>,
    header: Option<Header>,
    sections: Vec<SectionRec>,
    next: u32,
}

impl Sink for Recorder<'_> {
    fn header(&mut self, hdr: &Header) -> Result<(), Error> {
        self.header = Some(*hdr);
        self.next = u32::try_from(format::HEADER_LEN).unwrap_or(0);
        self.inner.header(hdr)
    }

    fn accept(&mut self, sec: &SectionHeader) -> Result<Accept, Error> {
        self.sections.push(SectionRec {
            offset: self.next,
            hdr: *sec,
            status: SectionStatus::Failed,
        });
        self.next = self.next.saturating_add(12).saturating_add(sec.len);
        self.inner.accept(sec)
    }

    fn section(&mut self, sec: &SectionHeader, payload: &[u8]) -> Result<(), Error> {
        self.inner.section(sec, payload)?;
        if let Some(r) = self.sections.last_mut() {
            r.status = SectionStatus::Decoded;
        }
        Ok(())
    }

    fn skipped(&mut self, sec: &SectionHeader) {
        self.inner.skipped(sec);
        if let Some(r) = self.sections.last_mut() {
            r.status = SectionStatus::Skipped;
        }
    }

    fn end(&mut self) -> Result<(), Error> {
        self.inner.end()
    }
}

/// A decoded (or partly decoded) state file.
#[derive(Debug)]
pub struct Report {
    /// Stream length in bytes.
    pub len: usize,
    /// Header, if it was valid.
    pub header: Option<Header>,
    /// Sections in stream order, up to the failing one.
    pub sections: Vec<SectionRec>,
    /// Decoded state (complete only when `error` is `None`).
    pub state: Box<NicVfState>,
    /// Summary on success.
    pub summary: Option<Summary>,
    /// First error.
    pub error: Option<Error>,
}

/// Decodes `data` with the shared decoder; `expect` checks the header
/// against a destination (None: any identity).
pub fn decode(data: &[u8], expect: Option<Expect>) -> Report {
    let mut state = Box::<NicVfState>::default();
    let (header, sections, res) = {
        let mut rec = Recorder {
            inner: NicSink::new(&mut state, &igb::PROVIDER),
            header: None,
            sections: Vec::new(),
            next: 0,
        };
        let mut d = Decoder::new(expect);
        let res = d.write(data, &mut rec).and_then(|()| d.finish(&mut rec));
        (rec.header, rec.sections, res)
    };
    let (summary, error) = match res {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    Report {
        len: data.len(),
        header,
        sections,
        state,
        summary,
        error,
    }
}

fn identity_text(i: &Identity) -> String {
    format!(
        "{:04x}:{:04x} subsys {:04x}:{:04x} rev {:02x}",
        i.vendor, i.device, i.subsys_vendor, i.subsys_device, i.revision
    )
}

/// Human table.
pub fn render_text(file: &str, r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "file: {file} ({} bytes)", r.len);
    let pid = r.header.map(|h| h.provider_id).unwrap_or(0);
    match &r.header {
        Some(h) => {
            let _ = writeln!(s, "header:");
            let _ = writeln!(s, "  format         {}.{}", h.major, h.minor);
            let _ = writeln!(s, "  identity       {}", identity_text(&h.identity));
            let _ = writeln!(
                s,
                "  provider       {} ({}) compat {:#010x}",
                h.provider_id,
                provider_name(h.provider_id),
                h.provider_compat
            );
            let _ = writeln!(s, "  flags          {:#010x}", h.flags);
            let _ = writeln!(s, "  total_len      {}", h.total_len);
            let _ = writeln!(s, "  section_count  {}", h.section_count);
        }
        None => {
            let _ = writeln!(s, "header: invalid");
        }
    }
    if !r.sections.is_empty() {
        let _ = writeln!(s, "sections:");
        let _ = writeln!(
            s,
            "  {:>6}  {:<6}  {:<15}  {:<8}  {:>4}  {:>6}  STATUS",
            "OFFSET", "TYPE", "NAME", "FLAGS", "INST", "LENGTH"
        );
        for x in &r.sections {
            let _ = writeln!(
                s,
                "  {:>6}  {:#06x}  {:<15}  {:<8}  {:>4}  {:>6}  {}",
                x.offset,
                x.hdr.ty,
                section_name(x.hdr.ty, pid),
                if x.hdr.optional() { "OPTIONAL" } else { "-" },
                x.hdr.instance,
                x.hdr.len,
                x.status.name()
            );
        }
    }
    match (&r.summary, &r.error) {
        (Some(sum), _) => {
            let _ = writeln!(s, "trailer: crc32c ok");
            let _ = writeln!(s, "state:");
            for l in describe_state(&r.state).lines() {
                let _ = writeln!(s, "  {l}");
            }
            let _ = writeln!(
                s,
                "result: valid ({} sections decoded, {} skipped)",
                sum.taken, sum.skipped
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(s, "result: INVALID: {}", vfmig_state::describe_error(e));
        }
        (None, None) => {}
    }
    s
}

/// JSON error object.
pub fn error_json(e: &Error) -> Value {
    json!({
        "kind": e.name(),
        "errno": e.errno(),
        "field": e.field.name(),
        "expected": e.expected,
        "found": e.found,
        "offset": e.offset,
        "section": e.section,
        "instance": e.instance,
        "message": e.to_string(),
    })
}

fn ring_json(r: &Ring) -> Value {
    json!({
        "queue": r.queue, "base": r.base, "len": r.len, "head": r.head, "tail": r.tail,
        "ctrl": r.ctrl, "buf_ctrl": r.buf_ctrl, "wb_addr": r.wb_addr,
    })
}

/// The decoded state as JSON.
pub fn state_json(st: &NicVfState) -> Value {
    let private: Vec<Value> = st
        .private()
        .iter()
        .map(|b| {
            let regs: Vec<Value> = if b.ty == igb::SECTION_IGB_REGS {
                igb::regs_iter(b.payload())
                    .map(|(o, v)| json!({"offset": o, "value": v}))
                    .collect()
            } else {
                Vec::new()
            };
            json!({"type": b.ty, "instance": b.instance, "flags": b.flags, "len": b.len, "regs": regs})
        })
        .collect();
    json!({
        "rx": st.rx().iter().map(ring_json).collect::<Vec<_>>(),
        "tx": st.tx().iter().map(ring_json).collect::<Vec<_>>(),
        "irq": st.irq.as_ref().map(|i| json!({
            "enabled": i.enabled, "auto_clear": i.auto_clear, "auto_mask": i.auto_mask,
            "pending": i.pending, "itr": i.itr(), "ivar": i.ivar(),
        })),
        "mailbox": st.mailbox.as_ref().map(|m| json!({"status": m.status, "mem": m.mem()})),
        "pf_vf": st.pf.as_ref().map(|p| json!({
            "mac": format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                p.mac[0], p.mac[1], p.mac[2], p.mac[3], p.mac[4], p.mac[5]),
            "vlan": p.vlan, "vlan_proto": p.vlan_proto, "qos": p.qos, "spoofchk": p.spoofchk,
            "trusted": p.trusted, "link_state": p.link_state,
            "min_tx_rate": p.min_tx_rate, "max_tx_rate": p.max_tx_rate,
        })),
        "stats": st.stats.as_ref().map(|t| json!({
            "rx_packets": t.rx_packets, "rx_octets": t.rx_octets, "tx_packets": t.tx_packets,
            "tx_octets": t.tx_octets, "rx_multicast": t.rx_multicast,
        })),
        "private": private,
    })
}

/// The whole report as JSON (shape documented in vfmigctl.rst).
pub fn render_json(file: &str, r: &Report) -> Value {
    let pid = r.header.map(|h| h.provider_id).unwrap_or(0);
    json!({
        "file": file,
        "length": r.len,
        "valid": r.error.is_none(),
        "header": r.header.map(|h| json!({
            "major": h.major, "minor": h.minor,
            "identity": {
                "vendor": h.identity.vendor, "device": h.identity.device,
                "subsys_vendor": h.identity.subsys_vendor,
                "subsys_device": h.identity.subsys_device,
                "revision": h.identity.revision,
            },
            "provider_id": h.provider_id, "provider": provider_name(h.provider_id),
            "provider_compat": h.provider_compat, "flags": h.flags,
            "total_len": h.total_len, "section_count": h.section_count,
        })),
        "sections": r.sections.iter().map(|x| json!({
            "offset": x.offset, "type": x.hdr.ty, "name": section_name(x.hdr.ty, pid),
            "flags": x.hdr.flags, "optional": x.hdr.optional(), "instance": x.hdr.instance,
            "length": x.hdr.len, "status": x.status.name(),
        })).collect::<Vec<_>>(),
        "state": if r.error.is_none() { state_json(&r.state) } else { Value::Null },
        "error": r.error.as_ref().map(error_json),
    })
}

/// Whether an error means "well formed but not loadable here" (exit 8)
/// rather than "malformed" (exit 7).
pub fn is_incompatibility(k: ErrorKind) -> bool {
    matches!(
        k,
        ErrorKind::IdentityMismatch
            | ErrorKind::ProviderCompat
            | ErrorKind::UnsupportedMajor
            | ErrorKind::UnknownFlags
            | ErrorKind::UnknownMandatorySection
    )
}

/// Outcome of `check`.
#[derive(Debug)]
pub enum CheckOutcome {
    /// The stream would load.
    Compatible(Summary),
    /// No vfmig provider for the device.
    NoProvider(Identity),
    /// Well formed, not loadable (the field that differs is in the error).
    Incompatible(Error),
    /// Malformed.
    Malformed(Error),
}

impl CheckOutcome {
    /// Exit code.
    pub fn exit(&self) -> Exit {
        match self {
            CheckOutcome::Compatible(_) => Exit::Ok,
            CheckOutcome::NoProvider(_) | CheckOutcome::Incompatible(_) => Exit::Incompatible,
            CheckOutcome::Malformed(_) => Exit::BadStream,
        }
    }

    /// One line naming the reason, e.g.
    /// `incompatible: header.device differs: stream 0x10ed, device 0x10ca`.
    pub fn message(&self, bdf: &str) -> String {
        match self {
            CheckOutcome::Compatible(s) => format!(
                "compatible: stream from {} (provider {}, format {}.{}) loads on {bdf}",
                identity_text(&s.header.identity),
                provider_name(s.header.provider_id),
                s.header.major,
                s.header.minor
            ),
            CheckOutcome::NoProvider(i) => format!(
                "incompatible: {bdf} ({}) has no vfmig provider",
                identity_text(i)
            ),
            CheckOutcome::Incompatible(e) => match e.kind {
                ErrorKind::IdentityMismatch => format!(
                    "incompatible: {} differs: stream {:#x}, device {bdf} {:#x}",
                    e.field.name(),
                    e.found,
                    e.expected
                ),
                ErrorKind::ProviderCompat => format!(
                    "incompatible: {}: stream needs {:#010x}, this build restores {:#010x}",
                    e.field.name(),
                    e.found,
                    e.expected
                ),
                ErrorKind::UnsupportedMajor => format!(
                    "incompatible: {}: stream format major {}, this build reads major {}",
                    e.field.name(),
                    e.found,
                    e.expected
                ),
                _ => format!("incompatible: {} ({})", e.field.name(), e),
            },
            CheckOutcome::Malformed(e) => format!("malformed stream: {e}"),
        }
    }
}

/// `check --json`: `{file, bdf, device_identity, compatible, outcome
/// ("compatible" | "no-provider" | "incompatible" | "malformed"), exit_code,
/// message, error}` with `error` as in `inspect --json` (null when compatible
/// or when the device has no provider).
pub fn check_json(c: &CheckOutcome, bdf: &str, file: &str, id: &Identity) -> Value {
    let (outcome, err) = match c {
        CheckOutcome::Compatible(_) => ("compatible", None),
        CheckOutcome::NoProvider(_) => ("no-provider", None),
        CheckOutcome::Incompatible(e) => ("incompatible", Some(e)),
        CheckOutcome::Malformed(e) => ("malformed", Some(e)),
    };
    json!({
        "file": file, "bdf": bdf,
        "device_identity": {
            "vendor": id.vendor, "device": id.device, "subsys_vendor": id.subsys_vendor,
            "subsys_device": id.subsys_device, "revision": id.revision,
        },
        "compatible": matches!(c, CheckOutcome::Compatible(_)),
        "outcome": outcome,
        "exit_code": c.exit().code(),
        "message": c.message(bdf),
        "error": err.map(error_json),
    })
}

/// Would `data` load on a device with `identity`?
pub fn check_stream(data: &[u8], identity: Identity) -> CheckOutcome {
    let Some(p) = crate::sysfs::provider_for(&identity) else {
        return CheckOutcome::NoProvider(identity);
    };
    let mut st = Box::<NicVfState>::default();
    match nic::decode(data, Some(nic::expect_for(identity, p)), p, &mut st) {
        Ok(s) => CheckOutcome::Compatible(s),
        Err(e) if is_incompatibility(e.kind) => CheckOutcome::Incompatible(e),
        Err(e) => CheckOutcome::Malformed(e),
    }
}

/// A synthetic but valid 82576 VF state (deterministic), for tests and
/// demos: what a freshly reset VF with two configured queue pairs saves.
pub fn synth_state() -> Box<NicVfState> {
    let mut st = Box::<NicVfState>::default();
    for q in 0..igb::NUM_QUEUES {
        let qb = u64::from(q);
        let _ = st.push_rx(Ring {
            queue: q,
            len: 0x1000,
            base: 0x1_0000_0000 + qb * 0x1000,
            head: 0,
            tail: 255,
            ctrl: 0x0201_0808,
            buf_ctrl: 0x0200_0402,
            wb_addr: 0,
        });
        let _ = st.push_tx(Ring {
            queue: q,
            len: 0x1000,
            base: 0x2_0000_0000 + qb * 0x1000,
            ctrl: 0x0201_0101,
            ..Ring::ZERO
        });
    }
    let mut irq = nic::Interrupts {
        num_vectors: igb::NUM_VECTORS,
        num_ivar: igb::NUM_IVAR,
        enabled: 0x7,
        ..nic::Interrupts::ZERO
    };
    irq.ivar[0] = 0x8181_8080;
    irq.ivar[1] = 0x82;
    st.irq = Some(irq);
    st.mailbox = Some(nic::Mailbox {
        num_dwords: igb::MAILBOX_DWORDS,
        ..nic::Mailbox::ZERO
    });
    st.pf = Some(nic::PfVfConfig {
        mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
        link_state: 1,
        ..Default::default()
    });
    st
}

/// Encodes [`synth_state`] with a header for `identity` (igb provider).
pub fn synth(identity: Identity) -> Result<Vec<u8>, CtlError> {
    let st = synth_state();
    let mut buf = vec![0u8; st.encoded_len()];
    let hdr = nic::header_for(identity, &igb::PROVIDER);
    let n = st
        .encode(&hdr, &igb::PROVIDER, &mut buf)
        .map_err(|e| CtlError::new(Exit::Failure, format!("encode: {e}")))?;
    buf.truncate(n);
    Ok(buf)
}
