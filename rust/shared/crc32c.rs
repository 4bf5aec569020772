// SPDX-License-Identifier: GPL-2.0
//! CRC32C (Castagnoli) used by the vfmig state stream trailer.
//!
//! Reflected polynomial `0x82F63B78`, initial value `0xFFFF_FFFF`, final XOR
//! `0xFFFF_FFFF` (the same CRC as the kernel's `crc32c()` of `~0` followed by a
//! final inversion, iSCSI, ext4 metadata). The table is computed at compile
//! time; the code uses only `core` and cannot panic.

/// Reflected CRC32C polynomial.
pub const POLY: u32 = 0x82F6_3B78;

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0usize;
    while i < 256 {
        // `i < 256` so the value fits in u32 losslessly.
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// Incremental CRC32C state.
///
/// Feed bytes with [`Crc32c::update`] in any chunking; [`Crc32c::value`] gives
/// the finished checksum of everything fed so far without consuming the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32c {
    state: u32,
}

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32c {
    /// A fresh CRC over zero bytes.
    pub const fn new() -> Self {
        Self { state: 0xFFFF_FFFF }
    }

    /// Feeds `data` into the CRC.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = self.state;
        for &b in data {
            let idx = usize::from((c as u8) ^ b);
            // `idx` is at most 255 and the table has 256 entries.
            let t = TABLE.get(idx).copied().unwrap_or(0);
            c = t ^ (c >> 8);
        }
        self.state = c;
    }

    /// The CRC32C of all bytes fed so far.
    pub const fn value(&self) -> u32 {
        !self.state
    }
}

/// One-shot CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = Crc32c::new();
    c.update(data);
    c.value()
}
