//! The boxes Common Encryption adds (ISO/IEC 23001-7, section 8), written and read back:
//! `sinf` (`frma`, `schm`, `schi/tenc`) in the sample entry, and per fragment the sample
//! auxiliary information: `saiz` (sizes), `saio` (where it is) and `senc` (the IVs and
//! subsample maps themselves), plus the `seig` sample group of key rotation.
//!
//! `saio` must point exactly at the first IV/subsample record inside `senc` (a known source
//! of player failures): [`write_sample_info`] writes `saio` with a reserved offset and patches it
//! once `senc` is placed, measuring from the `moof` start because every fragment abmark writes
//! is default-base-is-moof.

use abmark_bmff::boxes::{find_box, read_boxes, BoxRef, BoxWriter};
use abmark_bmff::{BmffError, FourCc};

use crate::error::CencError;
use crate::keys::Kid;
use crate::scheme::Scheme;
use crate::subsample::Subsample;

/// What a track's `sinf` says: the scheme and the `tenc` defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEncryption {
    /// The clear sample entry type (`frma`): `avc1`, `mp4a`...
    pub original_format: [u8; 4],
    pub scheme: Scheme,
    pub kid: Kid,
    /// Per-sample IV bytes in `senc`: 8 or 16 for `cenc`, 0 for `cbcs` (constant IV).
    pub iv_size: u8,
    pub constant_iv: Option<[u8; 16]>,
    /// Pattern in 16-byte blocks; (0, 0) = no pattern.
    pub crypt: u8,
    pub skip: u8,
}

/// `sinf` = `frma` + `schm` + `schi/tenc`.
pub(crate) fn write_sinf(w: &mut BoxWriter, enc: &TrackEncryption) {
    w.boxed(b"sinf", |w| {
        w.boxed(b"frma", |w| w.bytes(&enc.original_format));
        w.full_box(b"schm", 0, 0, |w| {
            w.bytes(&enc.scheme.fourcc());
            w.u32(0x0001_0000); // scheme_version 1.0
        });
        w.boxed(b"schi", |w| write_tenc(w, enc));
    });
}

/// `tenc` (8.2): version 1 when a pattern is used (`cbcs`), else version 0.
fn write_tenc(w: &mut BoxWriter, enc: &TrackEncryption) {
    let version = u8::from(enc.scheme == Scheme::Cbcs);
    w.full_box(b"tenc", version, 0, |w| {
        w.u8(0); // reserved
        w.u8(if version == 1 { (enc.crypt << 4) | (enc.skip & 0x0f) } else { 0 });
        w.u8(1); // default_isProtected
        w.u8(enc.iv_size);
        w.bytes(enc.kid.as_bytes());
        if enc.iv_size == 0 {
            let iv = enc.constant_iv.unwrap_or_default();
            w.u8(16);
            w.bytes(&iv);
        }
    });
}

/// Reads a whole `sinf` box back.
pub fn parse_sinf(sinf: &[u8]) -> Result<TrackEncryption, CencError> {
    let top = read_boxes(sinf)?;
    let frma = find_box(&top, "sinf/frma")?.ok_or(missing("sinf/frma"))?;
    let schm = find_box(&top, "sinf/schm")?.ok_or(missing("sinf/schm"))?;
    let tenc = find_box(&top, "sinf/schi/tenc")?.ok_or(missing("sinf/schi/tenc"))?;
    let original_format = four(frma.payload()).ok_or_else(|| bad(&frma, "truncated"))?;
    let scheme =
        Scheme::from_fourcc(four(schm.full_box()?.body).ok_or_else(|| bad(&schm, "truncated"))?)?;
    let fb = tenc.full_box()?;
    let b = fb.body;
    if b.len() < 20 {
        return Err(bad(&tenc, "truncated").into());
    }
    let (crypt, skip) = if fb.version >= 1 { (b[1] >> 4, b[1] & 0x0f) } else { (0, 0) };
    let iv_size = b[3];
    if !matches!(iv_size, 0 | 8 | 16) {
        return Err(bad(&tenc, "per-sample IV size must be 0, 8 or 16").into());
    }
    let mut kid = [0u8; 16];
    kid.copy_from_slice(&b[4..20]);
    let kid = Kid::from_bytes(kid);
    let constant_iv = if iv_size == 0 && b[2] != 0 {
        let n = *b.get(20).ok_or_else(|| bad(&tenc, "no constant IV"))? as usize;
        let iv = b
            .get(21..21 + n)
            .filter(|_| n == 8 || n == 16)
            .ok_or_else(|| bad(&tenc, "bad constant IV"))?;
        let mut out = [0u8; 16];
        out[..n].copy_from_slice(iv);
        Some(out)
    } else {
        None
    };
    Ok(TrackEncryption { original_format, scheme, kid, iv_size, constant_iv, crypt, skip })
}

fn four(b: &[u8]) -> Option<[u8; 4]> {
    b.get(..4)?.try_into().ok()
}

fn missing(path: &str) -> BmffError {
    BmffError::MissingBox { path: path.into() }
}

fn bad(b: &BoxRef<'_>, reason: &str) -> BmffError {
    BmffError::BadBox { kind: b.kind(), reason: reason.into() }
}

/// One sample's auxiliary information: its IV (empty with a constant IV) and subsample map
/// (empty = the whole sample is protected).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SampleInfo {
    pub iv: Vec<u8>,
    pub subsamples: Vec<Subsample>,
}

impl SampleInfo {
    fn size(&self, with_subsamples: bool) -> usize {
        self.iv.len() + if with_subsamples { 2 + 6 * self.subsamples.len() } else { 0 }
    }
}

/// `saiz`, `saio` and `senc` for one track fragment, in that order, inside the `traf` being
/// written; `moof_start` is the writer position of the enclosing `moof`.
pub(crate) fn write_sample_info(
    w: &mut BoxWriter,
    moof_start: usize,
    samples: &[SampleInfo],
    with_subsamples: bool,
) {
    let sizes: Vec<usize> = samples.iter().map(|s| s.size(with_subsamples)).collect();
    let uniform = sizes.first().filter(|&&f| sizes.iter().all(|&s| s == f)).copied();
    if uniform == Some(0) {
        // No IVs (constant IV) and no subsamples (whole-sample audio): there is no auxiliary
        // information to point at. A `saiz` with default size 0 would announce a size table
        // that is not there, so only the `senc` sample count is written, as Shaka Packager
        // does for `cbcs` audio.
        w.full_box(b"senc", 0, 0, |w| w.u32(samples.len() as u32));
        return;
    }
    w.full_box(b"saiz", 0, 0, |w| match uniform {
        Some(size) => {
            w.u8(size.min(255) as u8);
            w.u32(samples.len() as u32);
        }
        None => {
            w.u8(0);
            w.u32(samples.len() as u32);
            for &s in &sizes {
                w.u8(s.min(255) as u8);
            }
        }
    });
    let offset = w.full_box(b"saio", 0, 0, |w| {
        w.u32(1); // entry_count: all of the fragment's information is contiguous in senc
        w.reserve_u32()
    });
    let senc_start = w.position();
    w.full_box(b"senc", 0, if with_subsamples { 0x2 } else { 0 }, |w| {
        w.u32(samples.len() as u32);
        for s in samples {
            w.bytes(&s.iv);
            if with_subsamples {
                w.u16(s.subsamples.len() as u16);
                for sub in &s.subsamples {
                    w.u16(sub.clear);
                    w.u32(sub.protected);
                }
            }
        }
    });
    // senc header (size, type, version+flags) and sample_count precede the first record.
    let first_record = senc_start + 16 - moof_start;
    w.patch_u32(offset, first_record as u32);
}

/// More samples than any real track fragment holds (10 minutes at 1000 frames/s).
const MAX_FRAGMENT_SAMPLES: u64 = 600_000;

/// The `senc` records of one `traf` (children given), for a track whose per-sample IV size is
/// `iv_size`. `None` when the fragment has no `senc`.
pub fn parse_senc(traf: &[BoxRef<'_>], iv_size: u8) -> Result<Option<Vec<SampleInfo>>, CencError> {
    let Some(senc) = traf.iter().find(|b| b.kind() == FourCc(*b"senc")) else {
        return Ok(None);
    };
    let fb = senc.full_box()?;
    if fb.flags & 0x1 != 0 {
        return Err(
            bad(senc, "override of the track's encryption parameters is not supported").into()
        );
    }
    let b = fb.body;
    let count = read_u32(b, 0).ok_or_else(|| bad(senc, "truncated"))? as usize;
    let iv = usize::from(iv_size);
    // Each record has at least the IV (and a 2-byte count with subsamples): bound the count.
    let min_record = iv + if fb.flags & 0x2 != 0 { 2 } else { 0 };
    if min_record > 0 && count > b.len() / min_record {
        return Err(bad(senc, "sample_count runs past the box").into());
    }
    // With nothing per sample (constant IV, no subsamples) the body cannot bound the count:
    // a fragment's samples can, and no real fragment has a million of them. (Found by
    // fuzzing: a count of 2^32 - 1 looped and allocated for minutes.)
    let samples_in_traf: u64 = traf
        .iter()
        .filter(|b| b.kind() == FourCc(*b"trun"))
        .filter_map(|t| t.full_box().ok().and_then(|f| read_u32(f.body, 0)))
        .map(u64::from)
        .sum();
    if count as u64 > samples_in_traf.clamp(1, MAX_FRAGMENT_SAMPLES) && min_record == 0 {
        return Err(bad(senc, "sample_count exceeds the fragment's samples").into());
    }
    let mut pos = 4usize;
    let mut out = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let iv_bytes = b.get(pos..pos + iv).ok_or_else(|| bad(senc, "truncated IV"))?.to_vec();
        pos += iv;
        let mut subsamples = Vec::new();
        if fb.flags & 0x2 != 0 {
            let n =
                read_u16(b, pos).ok_or_else(|| bad(senc, "truncated subsample count"))? as usize;
            pos += 2;
            if n * 6 > b.len().saturating_sub(pos) {
                return Err(bad(senc, "subsamples run past the box").into());
            }
            for _ in 0..n {
                let clear = read_u16(b, pos).ok_or_else(|| bad(senc, "truncated"))?;
                let protected = read_u32(b, pos + 2).ok_or_else(|| bad(senc, "truncated"))?;
                subsamples.push(Subsample { clear, protected });
                pos += 6;
            }
        }
        out.push(SampleInfo { iv: iv_bytes, subsamples });
    }
    Ok(Some(out))
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_senc_count_without_per_sample_data_is_bounded_by_the_fragment() {
        // Found by fuzzing: traf { senc v0, flags 0, sample_count 2^32 - 1 } with a constant IV
        // (iv_size 0) used to loop and allocate for minutes.
        let bomb =
            hex::decode("0000001874726166000000107365 6e6300000000ffffffff".replace(' ', ""))
                .unwrap();
        let top = read_boxes(&bomb).unwrap();
        let children = top[0].children().unwrap();
        assert!(parse_senc(&children, 0).is_err());
        // A real cbcs-audio fragment: trun of 3 samples, senc counting 3 with nothing per sample.
        let mut w = BoxWriter::new();
        w.boxed(b"traf", |w| {
            w.full_box(b"trun", 0, 0, |w| w.u32(3));
            w.full_box(b"senc", 0, 0, |w| w.u32(3));
        });
        let bytes = w.finish().unwrap();
        let top = read_boxes(&bytes).unwrap();
        let infos = parse_senc(&top[0].children().unwrap(), 0).unwrap().unwrap();
        assert_eq!(infos.len(), 3);
    }
}
