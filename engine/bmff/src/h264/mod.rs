//! H.264 (ITU-T H.264 / ISO/IEC 14496-10) bitstream syntax: the framing of NAL units (Annex B
//! start codes, length prefixes, the avcC record of ISO/IEC 14496-15 and the RFC 6381 codec
//! string: `annexb`), the sequence and picture parameter sets (`params`) and the slice header
//! (`slice_header`: how many bytes a CENC packager leaves clear).
//!
//! One parser per structure: the packager, the CMAF writer and the tests all read parameter sets
//! here. An HEVC module would sit beside this one, on the same [`crate::bits::BitReader`].

mod annexb;
mod params;
mod slice_header;

/// Bitstream writers for tests of this crate and of the packager (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
pub mod testutil;

#[cfg(test)]
mod tests;

pub use annexb::{
    annexb_nal_units, annexb_to_avcc, avc_codec_string, avcc_from_annexb, parse_avcc, AvcConfig,
    NAL_LENGTH_SIZE,
};
pub use params::{parse_pps, parse_sps, Pps, Sps};
pub use slice_header::{slice_header_bytes, ParameterSets};

use crate::bits::SyntaxError;

type Result<T> = std::result::Result<T, SyntaxError>;

/// Splits a NAL unit into its header byte and payload, checking the type against `expected`.
pub fn nal_payload<'a>(nal: &'a [u8], ok: &[u8], expected: &'static str) -> Result<(u8, &'a [u8])> {
    let (&header, payload) = nal.split_first().ok_or(SyntaxError::Truncated("nal_unit_header"))?;
    let nal_type = header & 0x1f;
    if !ok.contains(&nal_type) {
        return Err(SyntaxError::WrongNalType { expected, got: nal_type });
    }
    Ok((header, payload))
}
