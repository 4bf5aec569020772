// SPDX-License-Identifier: GPL-2.0

//! Text form of a VF state snapshot, as the debugfs `regs` file shows it.
//!
//! One line per ring, then the interrupt, mailbox, PF-side and statistics lines:
//!
//! ```text
//! rx0 base=0x0000000012340000 len=512 head=0 tail=31 ctrl=0x02000000 buf_ctrl=0x02000002 wb=0x0000000000000000
//! tx0 base=0x0000000012350000 len=512 head=0 tail=0 ctrl=0x02000000 buf_ctrl=0x00000000 wb=0x0000000000000000
//! irq enabled=0x00000000 auto_clear=0x00000000 auto_mask=0x00000000 pending=0x00000000 itr=0x00000000,0x00000000,0x00000000 ivar=0x00000000,0x00000000
//! mailbox status=0x00000000 mem=0x00000000,... (one per dword)
//! pf -
//! stats rx_packets=0 rx_octets=0 tx_packets=0 tx_octets=0 rx_multicast=0
//! ```
//!
//! Numbers that are addresses or register images are hexadecimal with `0x`, counts and indices
//! decimal. A section the snapshot does not hold prints as `-`.

use kernel::fmt;

use crate::shared::nic::{
    NicVfState,
    Ring, //
};

/// Formats a [`NicVfState`] as the `regs` file shows it.
pub(crate) struct RegsDump<'a>(pub(crate) &'a NicVfState);

/// Prints `0x`-prefixed 32-bit words separated by commas (a `core` formatting argument inside
/// [`RegsDump`]'s `write!`s).
struct Words<'a>(&'a [u32]);

impl core::fmt::Display for Words<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            if i != 0 {
                f.write_str(",")?;
            }
            write!(f, "{w:#010x}")?;
        }
        Ok(())
    }
}

fn ring(f: &mut fmt::Formatter<'_>, dir: &str, r: &Ring) -> fmt::Result {
    writeln!(
        f,
        "{dir}{} base={:#018x} len={} head={} tail={} ctrl={:#010x} buf_ctrl={:#010x} wb={:#018x}",
        r.queue, r.base, r.len, r.head, r.tail, r.ctrl, r.buf_ctrl, r.wb_addr
    )
}

impl fmt::Display for RegsDump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.0;
        for r in st.rx() {
            ring(f, "rx", r)?;
        }
        for r in st.tx() {
            ring(f, "tx", r)?;
        }
        match &st.irq {
            Some(i) => writeln!(
                f,
                "irq enabled={:#010x} auto_clear={:#010x} auto_mask={:#010x} pending={:#010x} \
                 itr={} ivar={}",
                i.enabled,
                i.auto_clear,
                i.auto_mask,
                i.pending,
                Words(i.itr()),
                Words(i.ivar())
            )?,
            None => writeln!(f, "irq -")?,
        }
        match &st.mailbox {
            Some(m) => writeln!(
                f,
                "mailbox status={:#010x} mem={}",
                m.status,
                Words(m.mem())
            )?,
            None => writeln!(f, "mailbox -")?,
        }
        match &st.pf {
            Some(p) => writeln!(
                f,
                "pf mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} vlan={} vlan_proto={:#06x} qos={} \
                 spoofchk={} trusted={} link_state={} min_tx_rate={} max_tx_rate={}",
                p.mac[0],
                p.mac[1],
                p.mac[2],
                p.mac[3],
                p.mac[4],
                p.mac[5],
                p.vlan,
                p.vlan_proto,
                p.qos,
                p.spoofchk,
                p.trusted,
                p.link_state,
                p.min_tx_rate,
                p.max_tx_rate
            )?,
            None => writeln!(f, "pf -")?,
        }
        match &st.stats {
            Some(s) => writeln!(
                f,
                "stats rx_packets={} rx_octets={} tx_packets={} tx_octets={} rx_multicast={}",
                s.rx_packets, s.rx_octets, s.tx_packets, s.tx_octets, s.rx_multicast
            ),
            None => writeln!(f, "stats -"),
        }
    }
}
