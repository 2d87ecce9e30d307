//! Sample framing: how a track's samples are framed in the input ([`Framing`]) and their
//! rewriting into CMAF samples (AAC unchanged; H.264 with 4-byte NAL lengths, from 1- or 2-byte
//! lengths or from Annex B start codes).

/// How the samples of a track are framed in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// Raw AAC frames, copied unchanged.
    Audio,
    /// Length-prefixed NAL units with lengths of this many bytes (1, 2 or 4).
    Avcc(u8),
    /// Start codes (and parameter sets from the extradata or the first keyframe).
    AnnexB,
}

/// One input sample as a CMAF sample: AAC unchanged; H.264 with 4-byte NAL lengths.
pub(super) fn frame(framing: Framing, data: &[u8]) -> Result<Vec<u8>, String> {
    match framing {
        Framing::Audio => Ok(data.to_vec()),
        Framing::AnnexB => abmark_bmff::h264::annexb_to_avcc(data, true).map_err(|e| e.to_string()),
        Framing::Avcc(size) => match relength(data, usize::from(size)) {
            Some(out) => Ok(out),
            // Some muxers store Annex B samples under an avcC: convert rather than copy garbage.
            None if data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1]) => {
                abmark_bmff::h264::annexb_to_avcc(data, true).map_err(|e| e.to_string())
            }
            None => Err("NAL unit lengths do not add up to the sample size (damaged data)".into()),
        },
    }
}

/// Re-prefixes every NAL unit of a length-prefixed sample with a 4-byte length, checking that
/// the lengths walk the sample exactly. `None` if they do not.
fn relength(data: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 8);
    let mut pos = 0;
    while pos < data.len() {
        let prefix = data.get(pos..pos + size)?;
        let len = prefix.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        let nal = data.get(pos + size..pos + size + len)?;
        // Zero-length units (padding some muxers leave) carry nothing: dropped.
        if !nal.is_empty() {
            out.extend_from_slice(&(len as u32).to_be_bytes());
            out.extend_from_slice(nal);
        }
        pos += size + len;
    }
    (!out.is_empty()).then_some(out)
}
