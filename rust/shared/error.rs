// SPDX-License-Identifier: GPL-2.0
//! Typed errors of the state format, with a stable name, the kernel errno
//! they map to, and the field that failed.

/// What went wrong. Each kind maps to one kernel errno ([`ErrorKind::errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The stream does not start with the vfmig magic (`EBADMSG`).
    BadMagic,
    /// The stream's format major differs from this build's (`EPROTO`).
    UnsupportedMajor,
    /// PCI identity or provider id differ from the destination (`ENODEV`).
    IdentityMismatch,
    /// The stream needs provider features this build lacks (`EOPNOTSUPP`).
    ProviderCompat,
    /// A must-understand header flag is unknown (`EOPNOTSUPP`).
    UnknownFlags,
    /// A section the decoder does not know is not OPTIONAL (`EOPNOTSUPP`).
    UnknownMandatorySection,
    /// A reserved field or flag bit is not zero (`EINVAL`).
    ReservedNonZero,
    /// A length is inconsistent with the format or another length (`EINVAL`).
    BadLength,
    /// A section extends past the end of the section area (`EINVAL`).
    SectionOverrun,
    /// The number of sections disagrees with the header (`EINVAL`).
    SectionCount,
    /// Two sections have the same type and instance (`EINVAL`).
    DuplicateSection,
    /// Sections are not in strictly increasing (type, instance) order (`EINVAL`).
    OutOfOrder,
    /// A field holds a value outside its documented range (`EINVAL`).
    InvalidValue,
    /// A section the schema requires is absent (`EINVAL`).
    MissingSection,
    /// A section payload is larger than the decoder's buffer (`E2BIG`).
    SectionTooLarge,
    /// The declared total length exceeds [`super::format::MAX_TOTAL_LEN`] (`EFBIG`).
    TotalTooLarge,
    /// The stream ended before its declared total length (`EBADMSG`).
    Truncated,
    /// The trailing CRC32C does not match (`EBADMSG`).
    BadCrc,
    /// Bytes were written after the end of the stream (`EBADMSG`).
    TrailingData,
    /// The encoder's output buffer is too small (`ENOSPC`).
    NoSpace,
}

/// Positive errno values used by [`ErrorKind::errno`] (Linux generic numbers).
pub mod errno {
    /// Argument list too long.
    pub const E2BIG: i32 = 7;
    /// No such device.
    pub const ENODEV: i32 = 19;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// File too large.
    pub const EFBIG: i32 = 27;
    /// No space left on device.
    pub const ENOSPC: i32 = 28;
    /// Protocol error.
    pub const EPROTO: i32 = 71;
    /// Bad message.
    pub const EBADMSG: i32 = 74;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = 95;
}

impl ErrorKind {
    /// The positive kernel errno this kind maps to (return `-errno`).
    pub const fn errno(self) -> i32 {
        match self {
            ErrorKind::BadMagic
            | ErrorKind::Truncated
            | ErrorKind::BadCrc
            | ErrorKind::TrailingData => errno::EBADMSG,
            ErrorKind::UnsupportedMajor => errno::EPROTO,
            ErrorKind::IdentityMismatch => errno::ENODEV,
            ErrorKind::ProviderCompat
            | ErrorKind::UnknownFlags
            | ErrorKind::UnknownMandatorySection => errno::EOPNOTSUPP,
            ErrorKind::ReservedNonZero
            | ErrorKind::BadLength
            | ErrorKind::SectionOverrun
            | ErrorKind::SectionCount
            | ErrorKind::DuplicateSection
            | ErrorKind::OutOfOrder
            | ErrorKind::InvalidValue
            | ErrorKind::MissingSection => errno::EINVAL,
            ErrorKind::SectionTooLarge => errno::E2BIG,
            ErrorKind::TotalTooLarge => errno::EFBIG,
            ErrorKind::NoSpace => errno::ENOSPC,
        }
    }

    /// A stable, lower-case, hyphenated name (for logs and tests).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::BadMagic => "bad-magic",
            ErrorKind::UnsupportedMajor => "unsupported-major",
            ErrorKind::IdentityMismatch => "identity-mismatch",
            ErrorKind::ProviderCompat => "provider-compat",
            ErrorKind::UnknownFlags => "unknown-flags",
            ErrorKind::UnknownMandatorySection => "unknown-mandatory-section",
            ErrorKind::ReservedNonZero => "reserved-nonzero",
            ErrorKind::BadLength => "bad-length",
            ErrorKind::SectionOverrun => "section-overrun",
            ErrorKind::SectionCount => "section-count",
            ErrorKind::DuplicateSection => "duplicate-section",
            ErrorKind::OutOfOrder => "out-of-order",
            ErrorKind::InvalidValue => "invalid-value",
            ErrorKind::MissingSection => "missing-section",
            ErrorKind::SectionTooLarge => "section-too-large",
            ErrorKind::TotalTooLarge => "total-too-large",
            ErrorKind::Truncated => "truncated",
            ErrorKind::BadCrc => "bad-crc",
            ErrorKind::TrailingData => "trailing-data",
            ErrorKind::NoSpace => "no-space",
        }
    }
}

macro_rules! fields {
    ($($(#[$m:meta])* $v:ident => $n:literal,)*) => {
        /// The field an [`Error`] refers to.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Field {
            $($(#[$m])* $v,)*
        }

        impl Field {
            /// Stable dotted name of the field, e.g. `header.major`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Field::$v => $n,)*
                }
            }
        }
    };
}

fields! {
    /// The stream as a whole (no single field).
    Stream => "stream",
    /// Header magic.
    Magic => "header.magic",
    /// Header format major.
    Major => "header.major",
    /// Header format minor.
    Minor => "header.minor",
    /// PCI vendor id.
    Vendor => "header.vendor",
    /// PCI device id.
    Device => "header.device",
    /// PCI subsystem vendor id.
    SubsysVendor => "header.subsys_vendor",
    /// PCI subsystem device id.
    SubsysDevice => "header.subsys_device",
    /// PCI revision id.
    Revision => "header.revision",
    /// Header reserved bytes.
    HeaderReserved => "header.reserved",
    /// Provider id.
    ProviderId => "header.provider_id",
    /// Provider compatibility word.
    ProviderCompat => "header.provider_compat",
    /// Header flags.
    HeaderFlags => "header.flags",
    /// Header total length.
    TotalLen => "header.total_len",
    /// Header section count.
    SectionCount => "header.section_count",
    /// Section type.
    SectionType => "section.type",
    /// Section flags.
    SectionFlags => "section.flags",
    /// Section instance.
    SectionInstance => "section.instance",
    /// Section reserved field.
    SectionReserved => "section.reserved",
    /// Section payload length.
    SectionLen => "section.length",
    /// Trailer CRC32C.
    Crc => "trailer.crc32c",
    /// Ring queue index.
    Queue => "ring.queue",
    /// Ring reserved field.
    RingReserved => "ring.reserved",
    /// Number of Rx rings.
    RxQueueCount => "state.rx_queues",
    /// Number of Tx rings.
    TxQueueCount => "state.tx_queues",
    /// Interrupt vector count.
    VectorCount => "irq.num_vectors",
    /// Interrupt IVAR word count.
    IvarCount => "irq.num_ivar",
    /// Mailbox dword count.
    MailboxLen => "mailbox.num_dwords",
    /// Mailbox reserved field.
    MailboxReserved => "mailbox.reserved",
    /// PF-side VF VLAN id.
    Vlan => "pf_vf.vlan",
    /// PF-side VF VLAN protocol.
    VlanProto => "pf_vf.vlan_proto",
    /// PF-side VF VLAN QoS.
    Qos => "pf_vf.qos",
    /// PF-side VF spoof check.
    SpoofCheck => "pf_vf.spoofchk",
    /// PF-side VF trust.
    Trusted => "pf_vf.trusted",
    /// PF-side VF link state.
    LinkState => "pf_vf.link_state",
    /// PF-side VF reserved field.
    PfReserved => "pf_vf.reserved",
    /// PF-side VF minimum Tx rate.
    MinTxRate => "pf_vf.min_tx_rate",
    /// Number of provider-private blocks.
    PrivateCount => "state.private_blocks",
    /// Provider register block count.
    RegCount => "regs.count",
    /// Provider register block reserved field.
    RegReserved => "regs.reserved",
    /// Provider register offset.
    RegOffset => "regs.offset",
    /// The flags of the guest's mailbox requests.
    MbxFlags => "mbx_requests.flags",
    /// The number of VLANs the guest asked for.
    MbxVlanCount => "mbx_requests.vlan_count",
    /// A VLAN id the guest asked for.
    MbxVlan => "mbx_requests.vlan",
    /// A recorded mailbox message.
    MbxMessage => "mbx_requests.message",
    /// Encoder output buffer.
    Buffer => "output",
}

/// A decode or encode failure: kind, field and, where meaningful, the
/// expected and found values and where in the stream it was detected.
///
/// `offset` is the stream offset of the unit being processed: 0 for the
/// header, the section header's offset for anything about a section, the
/// trailer's offset for the CRC, the current length for truncation.
/// `section`/`instance` are the section's type and instance (0 outside one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Which field.
    pub field: Field,
    /// The value the decoder wanted (0 if not meaningful).
    pub expected: u64,
    /// The value it found (0 if not meaningful).
    pub found: u64,
    /// Stream offset of the failing unit.
    pub offset: u32,
    /// Section type of the failing section, 0 outside a section.
    pub section: u16,
    /// Section instance of the failing section.
    pub instance: u16,
}

impl Error {
    /// An error of `kind` about `field`, with no values or location yet.
    pub const fn new(kind: ErrorKind, field: Field) -> Self {
        Self {
            kind,
            field,
            expected: 0,
            found: 0,
            offset: 0,
            section: 0,
            instance: 0,
        }
    }

    /// Sets the expected and found values.
    pub const fn values(mut self, expected: u64, found: u64) -> Self {
        self.expected = expected;
        self.found = found;
        self
    }

    /// Sets the stream offset.
    pub const fn at(mut self, offset: u32) -> Self {
        self.offset = offset;
        self
    }

    /// Sets the section type and instance.
    pub const fn in_section(mut self, section: u16, instance: u16) -> Self {
        self.section = section;
        self.instance = instance;
        self
    }

    /// The positive kernel errno ([`ErrorKind::errno`]).
    pub const fn errno(&self) -> i32 {
        self.kind.errno()
    }

    /// Stable name of the kind ([`ErrorKind::name`]).
    pub const fn name(&self) -> &'static str {
        self.kind.name()
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} at offset {}: {} (expected {:#x}, found {:#x})",
            self.kind.name(),
            self.offset,
            self.field.name(),
            self.expected,
            self.found
        )?;
        if self.section != 0 {
            write!(f, " in section {:#06x}/{}", self.section, self.instance)?;
        }
        Ok(())
    }
}
