//! WMPaceInfo (ETSI TS 104 002 clause 5.5): which variant a segment is, and which pattern
//! position it carries, told to the edge that picks segments per viewer.
//!
//! Map of the module:
//! - `wmpi`: the 13-byte top-level `wmpi` box written into every segment, and the scan that
//!   finds it again.
//! - `sidecar`: the CBOR sidecar file (discrete and byte-range forms) and the
//!   `WMPaceInfoEgress` HTTP header value.
//! - `table`: the position of every segment of a variants output, read back from its sidecars.
//!
//! Not here: deciding positions (the encoder does) or reading the token (the edge does).

mod sidecar;
mod table;
mod wmpi;

pub use sidecar::{
    egress_header, parse_egress_header, parse_sidecar, sidecar_discrete, Sidecar, SidecarEntry,
    EGRESS_HEADER,
};
pub use table::PaceTable;
pub use wmpi::{find_wmpi, parse_wmpi_payload, wmpi_box, WMPI_NOT_WATERMARKED, WMPI_PAYLOAD_LEN};

/// Largest pattern position a `wmpi` box can carry: 15 bits, with 0x7FFF reserved for -1.
pub const MAX_WMPI_POSITION: u16 = 0x7FFE;

/// WMPaceInfo for one segment (clause 5.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaceInfo {
    /// Which A/B variant this segment is (0 or 1 for abmark).
    pub variant: u8,
    /// Zero-based index into the pattern; `None` is the spec's -1, "not watermarked". In a `wmpi`
    /// box at most `MAX_WMPI_POSITION`.
    pub position: Option<u16>,
    /// The segment is the first part of a segment split into parts.
    pub first_part: bool,
    /// The segment is the last part of a segment split into parts.
    pub last_part: bool,
}

/// Why WMPaceInfo could not be written or read. Messages describe the fault, not the bytes.
#[derive(Debug, thiserror::Error)]
pub enum PaceError {
    /// Bytes that are not the structure they claim to be.
    #[error("malformed WMPaceInfo: {0}")]
    Malformed(String),
    /// A version other than 1.
    #[error("unsupported WMPaceInfo version {0}")]
    UnsupportedVersion(u64),
    /// A position the target form cannot carry.
    #[error("pattern position {0} does not fit a wmpi box (at most 32766)")]
    PositionOutOfRange(u16),
}

impl PaceError {
    pub fn malformed(what: &str) -> Self {
        Self::Malformed(what.to_owned())
    }
}
