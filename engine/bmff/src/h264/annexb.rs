//! H.264 framing: Annex B byte streams to length-prefixed samples, the avcC record
//! (AVCDecoderConfigurationRecord of ISO/IEC 14496-15) built from parameter sets, and the
//! RFC 6381 codec string.
//!
//! Why this exists: FFmpeg 5.1's libx264 wrapper with `AV_CODEC_FLAG_GLOBAL_HEADER` gives Annex B
//! everywhere. Its extradata is SPS + PPS with 4-byte start codes (no SEI: the x264 version SEI is
//! held back and prepended to the first packet), and every packet is Annex B (start codes; the
//! first one starts with that SEI). FFmpeg's own mp4 muxer converts both on the way out; our
//! writer does it here.

use super::parse_sps;
use crate::boxes::Cursor;
use crate::BmffError;

/// NAL unit types (ITU-T H.264, Table 7-1) that matter for framing.
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;
const NAL_SPS_EXT: u8 = 13;

/// The NAL length field size our samples use (`lengthSizeMinusOne` = 3): 4 bytes fits any NAL
/// unit and is what FFmpeg, x264 and every packager write.
pub const NAL_LENGTH_SIZE: u8 = 4;

fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?.windows(3).position(|w| w == [0, 0, 1]).map(|p| p + from)
}

/// Splits an Annex B byte stream (ITU-T H.264, Annex B) into NAL units, without start codes.
///
/// Accepts 3- and 4-byte start codes and leading/trailing zero bytes (a NAL unit never ends in a
/// zero byte, so trailing zeros belong to the next start code). Anything other than zeros before
/// the first start code means the input is not Annex B (length-prefixed data passed by mistake,
/// for instance) and is an error rather than silently dropped.
pub fn annexb_nal_units(data: &[u8]) -> Result<Vec<&[u8]>, BmffError> {
    let first = find_start_code(data, 0)
        .ok_or_else(|| BmffError::NotAnnexB { reason: "no start code".into() })?;
    if data.get(..first).is_some_and(|lead| lead.iter().any(|&b| b != 0)) {
        return Err(BmffError::NotAnnexB { reason: "data before the first start code".into() });
    }
    let mut nals = Vec::new();
    let mut begin = first + 3;
    loop {
        let next = find_start_code(data, begin);
        let end = next.unwrap_or(data.len());
        let nal = data.get(begin..end).unwrap_or_default();
        let used = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        if let Some(nal) = nal.get(..used).filter(|n| !n.is_empty()) {
            nals.push(nal);
        }
        match next {
            Some(n) => begin = n + 3,
            None => break,
        }
    }
    Ok(nals)
}

/// Converts one access unit from Annex B to AVCC: each NAL unit prefixed by its 4-byte length
/// ([`NAL_LENGTH_SIZE`]), the sample format of an `avc1` track (ISO/IEC 14496-15, AVC sample
/// structure).
///
/// `drop_parameter_sets` removes SPS, SPS extension, PPS and access unit delimiters: in an `avc1`
/// track the parameter sets live in the avcC of the sample entry (14496-15: for `avc1`
/// they are not to be repeated in samples; CMAF's AVC media profiles use `avc1` with out-of-band
/// parameter sets), and AUDs carry nothing a sample needs. With libx264 and a global header the
/// packets hold no parameter sets anyway; without one x264 repeats them before each IDR.
pub fn annexb_to_avcc(data: &[u8], drop_parameter_sets: bool) -> Result<Vec<u8>, BmffError> {
    let nals = annexb_nal_units(data)?;
    let mut out = Vec::with_capacity(data.len() + 4 * nals.len());
    for nal in nals {
        let t = nal_type(nal);
        if drop_parameter_sets && matches!(t, Some(NAL_SPS | NAL_PPS | NAL_AUD | NAL_SPS_EXT)) {
            continue;
        }
        let len = u32::try_from(nal.len())
            .map_err(|_| BmffError::TooLarge { what: "NAL unit length", bits: 32 })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(nal);
    }
    Ok(out)
}

/// Builds an avcC record (ISO/IEC 14496-15, AVCDecoderConfigurationRecord) from codec extradata.
///
/// Annex B extradata (what FFmpeg's libx264 gives with a global header: SPS and PPS with start
/// codes) is converted; other NAL units in it (SEI) are ignored. Extradata that already is an
/// avcC record (first byte 1, the configurationVersion) is checked and returned unchanged.
pub fn avcc_from_annexb(extradata: &[u8]) -> Result<Vec<u8>, BmffError> {
    if extradata.first() == Some(&1) {
        parse_avcc(extradata)?;
        return Ok(extradata.to_vec());
    }
    let nals = annexb_nal_units(extradata)?;
    let of_type =
        |t: u8| -> Vec<&[u8]> { nals.iter().copied().filter(|n| nal_type(n) == Some(t)).collect() };
    let (sps, pps, sps_ext) = (of_type(NAL_SPS), of_type(NAL_PPS), of_type(NAL_SPS_EXT));
    let first_sps = *sps.first().ok_or_else(|| bad_avcc("no SPS in the extradata"))?;
    if pps.is_empty() {
        return Err(bad_avcc("no PPS in the extradata"));
    }
    // numOfSequenceParameterSets is 5 bits; the other counts are 8 bits.
    if sps.len() > 31 || pps.len() > 255 || sps_ext.len() > 255 {
        return Err(bad_avcc("too many parameter sets"));
    }
    let [_, profile, compat, level, ..] = *first_sps else {
        return Err(BmffError::BadParameterSet { reason: "SPS shorter than 4 bytes".into() });
    };

    let mut out = vec![1, profile, compat, level, 0xfc | (NAL_LENGTH_SIZE - 1)];
    out.push(0xe0 | sps.len() as u8);
    push_parameter_sets(&mut out, &sps)?;
    out.push(pps.len() as u8);
    push_parameter_sets(&mut out, &pps)?;
    // The chroma/bit-depth extension. 14496-15 lists profiles 100, 110, 122 and 144; FFmpeg's
    // mp4 muxer writes it for every profile but Baseline, Main and Extended, and we follow FFmpeg
    // so that our avcC is byte-identical to its (readers skip trailing bytes they do not expect).
    if !matches!(profile, 66 | 77 | 88) {
        let sps = parse_sps(first_sps)
            .map_err(|e| BmffError::BadParameterSet { reason: e.to_string() })?;
        out.push(0xfc | sps.chroma_format_idc());
        out.push(0xf8 | sps.bit_depth_luma_minus8());
        out.push(0xf8 | sps.bit_depth_chroma_minus8());
        out.push(sps_ext.len() as u8);
        push_parameter_sets(&mut out, &sps_ext)?;
    }
    Ok(out)
}

fn push_parameter_sets(out: &mut Vec<u8>, sets: &[&[u8]]) -> Result<(), BmffError> {
    for set in sets {
        let len = u16::try_from(set.len())
            .map_err(|_| BmffError::TooLarge { what: "parameter set length", bits: 16 })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(set);
    }
    Ok(())
}

fn bad_avcc(reason: &str) -> BmffError {
    BmffError::BadAvcc { reason: reason.into() }
}

/// The fields of an avcC record this module needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    pub profile_idc: u8,
    /// `profile_compatibility`: the constraint_set flags byte of the SPS.
    pub profile_compatibility: u8,
    pub level_idc: u8,
    /// Bytes of the length prefix before each NAL unit in samples (1, 2 or 4).
    pub nal_length_size: u8,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
}

/// Parses an avcC record (ISO/IEC 14496-15, AVCDecoderConfigurationRecord) up to its PPS; the
/// optional chroma extension after it is not needed and not checked.
pub fn parse_avcc(avcc: &[u8]) -> Result<AvcConfig, BmffError> {
    let mut c = Cursor::new(avcc, bad_avcc("truncated"));
    if c.u8()? != 1 {
        return Err(bad_avcc("configurationVersion is not 1"));
    }
    let (profile_idc, profile_compatibility, level_idc) = (c.u8()?, c.u8()?, c.u8()?);
    let nal_length_size = (c.u8()? & 0x03) + 1;
    if nal_length_size == 3 {
        return Err(bad_avcc("lengthSizeMinusOne is 2 (3-byte lengths are not allowed)"));
    }
    let sps_count = c.u8()? & 0x1f;
    let sps = (0..sps_count).map(|_| parameter_set(&mut c)).collect::<Result<Vec<_>, _>>()?;
    let pps_count = c.u8()?;
    let pps = (0..pps_count).map(|_| parameter_set(&mut c)).collect::<Result<Vec<_>, _>>()?;
    if sps.is_empty() || pps.is_empty() {
        return Err(bad_avcc("no SPS or no PPS"));
    }
    Ok(AvcConfig { profile_idc, profile_compatibility, level_idc, nal_length_size, sps, pps })
}

fn parameter_set(c: &mut Cursor<'_>) -> Result<Vec<u8>, BmffError> {
    let len = c.u16()?;
    Ok(c.take(usize::from(len))?.to_vec())
}

/// RFC 6381 codec string of an avcC: `avc1.PPCCLL`, the profile, compatibility and level bytes
/// in hex (e.g. High 3.1 -> `avc1.64001f`).
pub fn avc_codec_string(avcc: &[u8]) -> Result<String, BmffError> {
    let c = parse_avcc(avcc)?;
    Ok(format!("avc1.{:02x}{:02x}{:02x}", c.profile_idc, c.profile_compatibility, c.level_idc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_mixed_start_codes_and_trims_zeros() {
        let data = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 0, 1, 0x41, 0x9a, 0];
        let nals = annexb_nal_units(&data).unwrap();
        assert_eq!(nals, [&[0x09, 0xf0][..], &[0x65, 0x88], &[0x41, 0x9a]]);
        let avcc = annexb_to_avcc(&data, true).unwrap();
        assert_eq!(avcc, [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 2, 0x41, 0x9a]);
    }

    #[test]
    fn rejects_non_annexb() {
        assert!(annexb_nal_units(&[0, 0, 0, 5, 0x65, 1, 2, 3, 4]).is_err());
        assert!(annexb_nal_units(&[7, 0, 0, 1, 0x65]).is_err());
    }
}
