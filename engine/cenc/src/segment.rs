//! One CMAF media segment (`styp`? + other boxes + one `moof` with one `traf` + `mdat`)
//! encrypted or decrypted: the samples are re-read, (de)ciphered, and written back through the
//! engine's own CMAF writer with the sample auxiliary information boxes added (or removed).
//!
//! Boxes that are neither `styp`, `moof`, `mdat` nor `sidx` — such as the `wmpi` box of ETSI TS
//! 104 002 that every abmark variant segment carries — keep their place right after `styp`;
//! `sidx` is dropped because sizes change.

use abmark_bmff::boxes::{find_all, read_boxes};
use abmark_bmff::cmaf::{insert_after_styp, read_fragments, write_media_segment, Sample};
use abmark_bmff::FourCc;

use crate::boxes::{parse_senc, write_sample_info, SampleInfo, TrackEncryption};
use crate::crypt::SampleCipher;
use crate::error::CencError;
use crate::keys::{ContentKey, Kid};
use crate::rotation::{write_seig, KeyGroup};
use crate::scheme::{Scheme, CENC_IV_SIZE};
use crate::subsample::{video_subsamples, AvcParams, Subsample};

/// The key of one segment: the track's encryption parameters for this segment's key period,
/// the key itself, and the `seig` group to write when keys rotate.
pub(crate) struct SegmentKey<'a> {
    pub enc: &'a TrackEncryption,
    pub key: &'a ContentKey,
    pub group: Option<&'a KeyGroup>,
    /// Keep the ETSI `wmpi` box in the segment. Browsers' MSE parsers (Chromium's among them)
    /// refuse unknown top-level boxes, so delivery copies drop it by default; the WMPaceInfo
    /// sidecars carry the same information for the edge.
    pub keep_wmpi: bool,
}

/// A media segment split into what is rewritten and what passes through.
struct Parts<'a> {
    extras: Vec<&'a [u8]>,
    fragment: abmark_bmff::cmaf::Fragment,
    traf: Vec<abmark_bmff::boxes::BoxRef<'a>>,
}

fn split(bytes: &[u8]) -> Result<Parts<'_>, CencError> {
    let top = read_boxes(bytes)?;
    let moofs = top.iter().filter(|b| b.kind() == FourCc(*b"moof")).count();
    if moofs != 1 {
        return Err(CencError::Usage(format!(
            "a media segment needs exactly one moof, found {moofs}"
        )));
    }
    let extras = top
        .iter()
        .filter(|b| !matches!(&b.kind().0, b"styp" | b"moof" | b"mdat" | b"sidx" | b"free"))
        .map(|b| b.bytes())
        .collect();
    let mut fragments = read_fragments(bytes)?;
    if fragments.len() != 1 {
        return Err(CencError::Usage(format!(
            "one track per segment is supported, found {} track fragments",
            fragments.len()
        )));
    }
    let traf =
        find_all(&top, "moof/traf")?.first().map(|t| t.children()).transpose()?.unwrap_or_default();
    Ok(Parts { extras, fragment: fragments.remove(0), traf })
}

/// `styp` of the rewritten segment, then the passed-through boxes, then `moof` + `mdat`.
fn assemble(written: Vec<u8>, extras: &[&[u8]]) -> Vec<u8> {
    if extras.is_empty() {
        return written;
    }
    insert_after_styp(&written, extras)
}

/// Encrypts every sample of one media segment; `avc` holds a video track's parameter sets
/// (`None` for audio: whole-sample encryption). `ivs` gives the per-sample IVs of `cenc`.
pub(crate) fn encrypt_segment(
    bytes: &[u8],
    seg: &SegmentKey<'_>,
    mut avc: Option<&mut AvcParams>,
    ivs: &mut dyn FnMut() -> Result<[u8; 8], CencError>,
) -> Result<Vec<u8>, CencError> {
    let Parts { mut extras, mut fragment, .. } = split(bytes)?;
    if !seg.keep_wmpi {
        extras.retain(|b| b.get(4..8) != Some(b"wmpi"));
    }
    let enc = seg.enc;
    let with_subsamples = avc.is_some();
    let mut infos = Vec::with_capacity(fragment.samples.len());
    for sample in &mut fragment.samples {
        let subsamples = match avc.as_deref_mut() {
            Some(params) => video_subsamples(&sample.data, params, enc.scheme == Scheme::Cenc)?,
            None => Vec::new(),
        };
        let (cipher, iv) = match enc.scheme {
            Scheme::Cenc => {
                let iv = ivs()?;
                let mut block = [0u8; 16];
                block[..8].copy_from_slice(&iv);
                let cipher = SampleCipher::Ctr { key: seg.key.key(), iv: block };
                (cipher, iv[..usize::from(CENC_IV_SIZE)].to_vec())
            }
            Scheme::Cbcs => (
                SampleCipher::Cbc {
                    key: seg.key.key(),
                    iv: enc.constant_iv.unwrap_or_default(),
                    crypt: enc.crypt,
                    skip: enc.skip,
                },
                Vec::new(),
            ),
        };
        cipher.encrypt(&mut sample.data, &subsamples)?;
        infos.push(SampleInfo { iv, subsamples });
    }
    let count = fragment.samples.len() as u32;
    let written = write_media_segment(
        fragment.track_id,
        fragment.sequence_number,
        fragment.base_media_decode_time,
        &fragment.samples,
        &|w, moof_start| {
            if let Some(group) = seg.group {
                write_seig(w, group, count);
            }
            write_sample_info(w, moof_start, &infos, with_subsamples)
        },
    )?;
    Ok(assemble(written, &extras))
}

/// Decrypts one media segment of a track described by `enc`, with the key of its KID (or of
/// the KID its `seig` sample group names, for rotated keys).
pub(crate) fn decrypt_segment(
    bytes: &[u8],
    enc: &TrackEncryption,
    key_for: &dyn Fn(&Kid) -> Option<ContentKey>,
) -> Result<Vec<u8>, CencError> {
    let Parts { extras, mut fragment, traf } = split(bytes)?;
    let group = super::rotation::parse_seig(&traf)?;
    let (kid, iv_size, constant_iv) = match &group {
        Some(g) => (g.kid, g.iv_size, g.constant_iv.or(enc.constant_iv)),
        None => (enc.kid, enc.iv_size, enc.constant_iv),
    };
    let key = key_for(&kid).ok_or(CencError::MissingKey { kid })?;
    let infos = parse_senc(&traf, iv_size)?.unwrap_or_default();
    if !infos.is_empty() && infos.len() != fragment.samples.len() {
        return Err(CencError::Usage(format!(
            "senc describes {} samples, the fragment has {}",
            infos.len(),
            fragment.samples.len()
        )));
    }
    let empty = SampleInfo::default();
    for (i, sample) in fragment.samples.iter_mut().enumerate() {
        let info = infos.get(i).unwrap_or(&empty);
        let cipher = match enc.scheme {
            Scheme::Cenc => {
                let mut block = [0u8; 16];
                let n = info.iv.len().min(16);
                if n == 0 {
                    return Err(CencError::Usage(format!("sample {i} has no IV in senc")));
                }
                block[..n].copy_from_slice(&info.iv[..n]);
                SampleCipher::Ctr { key: key.key(), iv: block }
            }
            Scheme::Cbcs => {
                let iv = if info.iv.is_empty() {
                    constant_iv.unwrap_or_default()
                } else {
                    let mut b = [0u8; 16];
                    let n = info.iv.len().min(16);
                    b[..n].copy_from_slice(&info.iv[..n]);
                    b
                };
                SampleCipher::Cbc { key: key.key(), iv, crypt: enc.crypt, skip: enc.skip }
            }
        };
        let subsamples: &[Subsample] = &info.subsamples;
        cipher.decrypt(&mut sample.data, subsamples).map_err(|e| {
            CencError::Usage(format!("sample {i} of segment {}: {e}", fragment.sequence_number))
        })?;
    }
    let written = write_media_segment(
        fragment.track_id,
        fragment.sequence_number,
        fragment.base_media_decode_time,
        &fragment.samples,
        &|_, _| {},
    )?;
    Ok(assemble(written, &extras))
}

/// The samples of a segment, for tests and checks that compare clear media.
pub fn segment_samples(bytes: &[u8]) -> Result<Vec<Sample>, CencError> {
    Ok(read_fragments(bytes)?.into_iter().flat_map(|f| f.samples).collect())
}
