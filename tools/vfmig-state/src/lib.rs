// SPDX-License-Identifier: GPL-2.0
//! Userspace build of the vfmig shared state format and migration FSM.
//!
//! The format itself lives in `rust/shared/` and is compiled unchanged into
//! the kernel module; this crate only includes it and adds std-only helpers
//! (a deterministic text rendering used by the golden tests and by
//! `vfmigctl`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[path = "../../../rust/shared/mod.rs"]
pub mod shared;

pub use shared::error::{Error, ErrorKind, Field};
pub use shared::format::{
    Decoder, Encoder, Expect, Header, Identity, SectionHeader, Sink, Summary,
};
pub use shared::fsm::{next_state, Features, State};
pub use shared::nic::{NicSink, NicVfState, Provider};
pub use shared::{crc32c, error, format, fsm, igb, nic};

use std::fmt::Write as _;

/// Renders a header as stable `key: value` lines.
pub fn describe_header(h: &Header) -> String {
    let mut s = String::new();
    let i = &h.identity;
    let _ = writeln!(s, "format: {}.{}", h.major, h.minor);
    let _ = writeln!(
        s,
        "identity: {:04x}:{:04x} subsys {:04x}:{:04x} rev {:02x}",
        i.vendor, i.device, i.subsys_vendor, i.subsys_device, i.revision
    );
    let _ = writeln!(
        s,
        "provider: {} compat {:#010x}",
        h.provider_id, h.provider_compat
    );
    let _ = writeln!(s, "flags: {:#010x}", h.flags);
    let _ = writeln!(s, "total_len: {}", h.total_len);
    let _ = writeln!(s, "section_count: {}", h.section_count);
    s
}

/// Renders a decoded NIC VF state as stable text (one fact per line).
pub fn describe_state(st: &NicVfState) -> String {
    let mut s = String::new();
    for (name, rings) in [("rx", st.rx()), ("tx", st.tx())] {
        for r in rings {
            let _ = writeln!(
                s,
                "{name}[{}]: base {:#018x} len {:#x} head {} tail {} ctrl {:#010x} buf_ctrl {:#010x} wb {:#018x}",
                r.queue, r.base, r.len, r.head, r.tail, r.ctrl, r.buf_ctrl, r.wb_addr
            );
        }
    }
    if let Some(i) = &st.irq {
        let _ = writeln!(
            s,
            "irq: enabled {:#010x} auto_clear {:#010x} auto_mask {:#010x} pending {:#010x}",
            i.enabled, i.auto_clear, i.auto_mask, i.pending
        );
        let _ = writeln!(s, "irq.itr: {:08x?}", i.itr());
        let _ = writeln!(s, "irq.ivar: {:08x?}", i.ivar());
    }
    if let Some(m) = &st.mailbox {
        let _ = writeln!(s, "mailbox: status {:#010x} mem {:08x?}", m.status, m.mem());
    }
    if let Some(p) = &st.pf {
        let m = p.mac;
        let _ = writeln!(
            s,
            "pf_vf: mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} vlan {} proto {:#06x} qos {} spoofchk {} trusted {} link_state {} min_tx {} max_tx {}",
            m[0], m[1], m[2], m[3], m[4], m[5], p.vlan, p.vlan_proto, p.qos, p.spoofchk,
            p.trusted, p.link_state, p.min_tx_rate, p.max_tx_rate
        );
    }
    if let Some(t) = &st.stats {
        let _ = writeln!(
            s,
            "stats: rx_packets {} rx_octets {} tx_packets {} tx_octets {} rx_multicast {}",
            t.rx_packets, t.rx_octets, t.tx_packets, t.tx_octets, t.rx_multicast
        );
    }
    for b in st.private() {
        let _ = write!(
            s,
            "private[{:#06x}/{}]: flags {:#06x} len {}",
            b.ty, b.instance, b.flags, b.len
        );
        if b.ty == igb::SECTION_IGB_REGS {
            for (off, val) in igb::regs_iter(b.payload()) {
                let _ = write!(s, " {off:#06x}={val:#010x}");
            }
        }
        s.push('\n');
    }
    s
}

/// Renders an error in the form the tools print.
pub fn describe_error(e: &Error) -> String {
    format!("error (errno {}): {}", e.errno(), e)
}

/// Decodes `data` with the 82576 VF provider and no identity check and
/// renders the result (header, state, or the error) as stable text.
pub fn describe_stream(data: &[u8], expect: Option<Expect>) -> String {
    let mut st = Box::<NicVfState>::default();
    match nic::decode(data, expect, &igb::PROVIDER, &mut st) {
        Ok(sum) => {
            let mut s = describe_header(&sum.header);
            let _ = writeln!(s, "sections: taken {} skipped {}", sum.taken, sum.skipped);
            s.push_str(&describe_state(&st));
            s
        }
        Err(e) => describe_error(&e) + "\n",
    }
}
