//! The H.264 subsample map for Common Encryption (ISO/IEC 23001-7): this file owns the rule
//! that turns one AVCC sample into its `senc` subsample entries — which bytes stay clear and
//! which are protected — plus the parameter-set state ([`AvcParams`]) those rules need.
//!
//! Non-VCL NAL units are clear; a coded slice (types 1 and 5) keeps its length field, NAL
//! header and exact slice header clear (escaped bytes, see [`slice_header_bytes`]) and protects
//! the rest, rounded down to whole 16-byte blocks for `cenc` (`align_to_block`; the partial
//! block at the end of the NAL unit stays clear, matching Shaka Packager 3.8), not for
//! `cbcs`. Clear runs merge into the next entry; clear runs above 65535 bytes are split. The
//! walk touches only length fields and slice headers, never a slice's payload.

use abmark_bmff::bits::SyntaxError;
use abmark_bmff::h264::{parse_pps, parse_sps, slice_header_bytes, ParameterSets, Pps, Sps};

/// One `senc` subsample entry: `clear` bytes followed by `protected` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsample {
    /// BytesOfClearData.
    pub clear: u16,
    /// BytesOfProtectedData.
    pub protected: u32,
}

/// Why a sample or avcC could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum SubsampleError {
    /// The avcC payload is shorter than its own fields say.
    #[error("avcC truncated at byte {offset} reading {what}")]
    AvccTruncated {
        /// Offset in the avcC payload where data ran out.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
    /// The avcC is not a version-1 AVCDecoderConfigurationRecord or has a bad length size.
    #[error("avcC invalid: {0}")]
    AvccInvalid(String),
    /// A parameter set inside the avcC does not parse.
    #[error("avcC {kind} {index}: {source}")]
    AvccParameterSet {
        /// "SPS" or "PPS".
        kind: &'static str,
        /// Position of the set in the avcC list.
        index: usize,
        /// What went wrong.
        source: SyntaxError,
    },
    /// Fewer bytes remain than one NAL length field.
    #[error(
        "NAL unit {index} length field truncated at byte {offset} ({left} bytes left, need {need})"
    )]
    LengthTruncated {
        /// Index of the NAL unit in the sample.
        index: usize,
        /// Offset of the length field in the sample.
        offset: usize,
        /// Bytes left in the sample.
        left: usize,
        /// The NAL length size.
        need: usize,
    },
    /// A NAL length runs past the end of the sample.
    #[error("NAL unit {index} runs past the sample (len {len}, {left} left)")]
    NalPastEnd {
        /// Index of the NAL unit in the sample.
        index: usize,
        /// Its declared length.
        len: usize,
        /// Bytes left after its length field.
        left: usize,
    },
    /// A coded slice's header (or an in-band SPS/PPS) does not parse.
    #[error("NAL unit {index} (type {nal_type}) at byte {offset}: {source}")]
    Nal {
        /// Index of the NAL unit in the sample.
        index: usize,
        /// Its nal_unit_type.
        nal_type: u8,
        /// Offset of its length field in the sample.
        offset: usize,
        /// What went wrong.
        source: SyntaxError,
    },
}

/// Number of PPS ids H.264 allows.
const MAX_PPS: usize = 256;
/// Number of SPS ids H.264 allows.
const MAX_SPS: usize = 32;

/// The H.264 decoding state a subsample map needs: every SPS and PPS seen so far (from the
/// avcC, then updated by in-band parameter sets) and the AVCC NAL length size.
#[derive(Debug, Clone)]
pub struct AvcParams {
    nal_length_size: usize,
    sps: Vec<Option<Sps>>,
    pps: Vec<Option<Pps>>,
}

impl ParameterSets for AvcParams {
    fn sps(&self, id: u8) -> Option<&Sps> {
        self.sps.get(usize::from(id)).and_then(Option::as_ref)
    }

    fn pps(&self, id: u8) -> Option<&Pps> {
        self.pps.get(usize::from(id)).and_then(Option::as_ref)
    }
}

/// Big-endian cursor over the avcC payload.
struct Avcc<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Avcc<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SubsampleError> {
        let out = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end))
            .ok_or(SubsampleError::AvccTruncated { offset: self.pos, what })?;
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, SubsampleError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<usize, SubsampleError> {
        let b = self.bytes(2, what)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
}

impl AvcParams {
    /// Reads an avcC box payload (AVCDecoderConfigurationRecord, ISO/IEC 14496-15 5.3.3.1):
    /// the NAL length size and every SPS and PPS it lists. Trailing high-profile extension
    /// fields are ignored.
    pub fn from_avcc(avcc: &[u8]) -> Result<AvcParams, SubsampleError> {
        let mut c = Avcc { data: avcc, pos: 0 };
        let version = c.u8("configurationVersion")?;
        if version != 1 {
            return Err(SubsampleError::AvccInvalid(format!(
                "configurationVersion {version}, expected 1"
            )));
        }
        c.bytes(3, "profile/compatibility/level")?;
        let nal_length_size = usize::from(c.u8("lengthSizeMinusOne")? & 3) + 1;
        if nal_length_size == 3 {
            return Err(SubsampleError::AvccInvalid("NAL length size 3".into()));
        }
        let mut params =
            AvcParams { nal_length_size, sps: vec![None; MAX_SPS], pps: vec![None; MAX_PPS] };
        let num_sps = usize::from(c.u8("numOfSequenceParameterSets")? & 0x1f);
        for index in 0..num_sps {
            let len = c.u16("sequenceParameterSetLength")?;
            let nal = c.bytes(len, "sequenceParameterSetNALUnit")?;
            let sps = parse_sps(nal).map_err(|source| SubsampleError::AvccParameterSet {
                kind: "SPS",
                index,
                source,
            })?;
            let id = usize::from(sps.id());
            params.sps[id] = Some(sps);
        }
        let num_pps = usize::from(c.u8("numOfPictureParameterSets")?);
        for index in 0..num_pps {
            let len = c.u16("pictureParameterSetLength")?;
            let nal = c.bytes(len, "pictureParameterSetNALUnit")?;
            let pps = parse_pps(nal).map_err(|source| SubsampleError::AvccParameterSet {
                kind: "PPS",
                index,
                source,
            })?;
            let id = usize::from(pps.id());
            params.pps[id] = Some(pps);
        }
        Ok(params)
    }

    /// Size in bytes (1, 2 or 4) of the big-endian length in front of every NAL unit.
    pub fn nal_length_size(&self) -> usize {
        self.nal_length_size
    }
}

/// AES block size: `cenc` protects whole blocks only when `align_to_block` is set.
const BLOCK: usize = 16;

/// Appends `clear` + `protected` as entries, splitting clear runs above `u16::MAX` into
/// `{65535, 0}` entries. Skips an all-zero entry.
fn push(out: &mut Vec<Subsample>, mut clear: usize, protected: u32) {
    const MAX: usize = u16::MAX as usize;
    while clear > MAX {
        out.push(Subsample { clear: u16::MAX, protected: 0 });
        clear -= MAX;
    }
    if clear > 0 || protected > 0 {
        // clear <= MAX here.
        out.push(Subsample { clear: clear as u16, protected });
    }
}

/// The subsample entries of one AVCC video sample; they add up to `sample.len()` exactly.
///
/// Non-VCL NAL units are clear; a coded slice (type 1 or 5) is clear up to the end of its
/// slice header (length field + NAL header + header, escaped bytes) and protected after it.
/// With `align_to_block` (`cenc`) the protected run, which starts right after the header, is
/// rounded down to a multiple of 16 and the remaining partial block at the *end* of the NAL
/// unit stays clear, as Shaka Packager 3.8 does (a slice with under 16 bytes after its header
/// is all clear); without it (`cbcs`) everything after the header is protected. Clear bytes
/// accumulate into the next entry; a trailing clear run becomes `{clear, 0}`. In-band SPS and
/// PPS NAL units update `params` for the slices after them. An empty sample gives no entries.
pub fn video_subsamples(
    sample: &[u8],
    params: &mut AvcParams,
    align_to_block: bool,
) -> Result<Vec<Subsample>, SubsampleError> {
    let n = params.nal_length_size;
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut clear = 0usize;
    let mut index = 0usize;
    while pos < sample.len() {
        let rest = sample.get(pos..).unwrap_or_default();
        let (len_field, body) = match rest.split_at_checked(n) {
            Some(split) => split,
            None => {
                return Err(SubsampleError::LengthTruncated {
                    index,
                    offset: pos,
                    left: rest.len(),
                    need: n,
                })
            }
        };
        let len = len_field.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let nal =
            body.get(..len).ok_or(SubsampleError::NalPastEnd { index, len, left: body.len() })?;
        let nal_type = nal.first().map_or(0, |h| h & 0x1f);
        let nal_err = |source| SubsampleError::Nal { index, nal_type, offset: pos, source };
        match nal_type {
            1 | 5 => {
                // header <= len: the reader never leaves the NAL unit.
                let header = slice_header_bytes(nal, &*params).map_err(nal_err)?.min(len);
                let mut protected = len - header;
                // cenc: whole blocks right after the header; the partial block at the end of
                // the NAL unit stays clear and joins the next entry (Shaka Packager 3.x).
                let tail = if align_to_block { protected % BLOCK } else { 0 };
                protected -= tail;
                clear += n + header;
                if protected > 0 {
                    // len came from at most 4 bytes, so it fits u32.
                    push(&mut out, clear, protected as u32);
                    clear = 0;
                }
                clear += tail;
            }
            7 => {
                let sps = parse_sps(nal).map_err(nal_err)?;
                let id = usize::from(sps.id());
                if let Some(slot) = params.sps.get_mut(id) {
                    *slot = Some(sps);
                }
                clear += n + len;
            }
            8 => {
                let pps = parse_pps(nal).map_err(nal_err)?;
                let id = usize::from(pps.id());
                if let Some(slot) = params.pps.get_mut(id) {
                    *slot = Some(pps);
                }
                clear += n + len;
            }
            _ => clear += n + len,
        }
        pos += n + len;
        index += 1;
    }
    push(&mut out, clear, 0);
    Ok(out)
}

#[cfg(test)]
mod tests;
