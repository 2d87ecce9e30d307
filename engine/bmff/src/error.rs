//! The crate's error type, and the four-character code it names boxes with.

use std::fmt;

/// A box type or brand: four bytes, usually printable ASCII (ISO/IEC 14496-12, 4.2 "Object
/// structure").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourCc(pub [u8; 4]);

impl FourCc {
    pub const fn new(code: &[u8; 4]) -> Self {
        Self(*code)
    }
}

impl From<&[u8; 4]> for FourCc {
    fn from(code: &[u8; 4]) -> Self {
        Self(*code)
    }
}

/// Printable bytes as themselves, anything else as `\xNN`: box types come from untrusted input and
/// end up in one-line error messages.
impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{self}'")
    }
}

/// Why writing or reading ISO-BMFF / CMAF bytes failed. Every message is one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BmffError {
    /// A box header or body runs past the end of the bytes that hold it.
    #[error("box '{kind}' at byte {offset}: truncated: needs {needed} bytes, {available} left")]
    Truncated { kind: FourCc, offset: u64, needed: u64, available: u64 },

    /// Fewer than 8 bytes remain where a box header should start.
    #[error("box header at byte {offset}: truncated: {available} bytes left")]
    TruncatedHeader { offset: u64, available: u64 },

    /// A declared box size smaller than the box's own header.
    #[error("box '{kind}' at byte {offset}: size {size} is smaller than its header")]
    BadBoxSize { kind: FourCc, offset: u64, size: u64 },

    /// A box whose children were asked for, but whose layout this module does not know.
    #[error("box '{kind}' is not a container this reader knows")]
    NotAContainer { kind: FourCc },

    /// A box that must be present is not.
    #[error("missing box {path}")]
    MissingBox { path: String },

    /// A full box with a version this reader does not implement.
    #[error("box '{kind}': unsupported version {version}")]
    UnsupportedVersion { kind: FourCc, version: u8 },

    /// A box whose fields are inconsistent (counts past the body, offsets outside the data...).
    #[error("box '{kind}': {reason}")]
    BadBox { kind: FourCc, reason: String },

    /// A value does not fit the field ISO-BMFF gives it (a 32-bit size or offset...).
    #[error("{what} does not fit its {bits}-bit field")]
    TooLarge { what: &'static str, bits: u8 },

    /// A written box outgrew the 32-bit size field (4 GiB).
    #[error("box '{kind}' is larger than 4 GiB")]
    BoxTooLarge { kind: FourCc },

    /// The track description cannot produce a valid initialization segment.
    #[error("invalid track: {reason}")]
    InvalidTrack { reason: String },

    /// A media segment needs at least one sample (a CMAF fragment holds one or more).
    #[error("a media segment needs at least one sample")]
    EmptySegment,

    /// The bytes are not an Annex B byte stream (no start code where one must be).
    #[error("not an Annex B byte stream: {reason}")]
    NotAnnexB { reason: String },

    /// An AVCDecoderConfigurationRecord (ISO/IEC 14496-15) that cannot be used.
    #[error("bad avcC record: {reason}")]
    BadAvcc { reason: String },

    /// A sequence or picture parameter set that cannot be used.
    #[error("bad H.264 parameter set: {reason}")]
    BadParameterSet { reason: String },

    /// An AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1) that cannot be used.
    #[error("bad AudioSpecificConfig: {reason}")]
    BadAudioSpecificConfig { reason: String },
}
