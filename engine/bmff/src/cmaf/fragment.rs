//! Reading movie fragments back into [`Sample`]s: `moof/traf` (`tfhd`, `tfdt`, `trun`) resolved
//! against `trex` defaults and the sample data they point at.
//!
//! Used by the tests to check what the writer produced and to take samples out of other muxers'
//! fragmented MP4 (FFmpeg's), and by later stages that re-read segments (encryption, checks that
//! variants are swappable). It reads any conforming single- or multi-track fragment whose data
//! offsets are moof-relative or explicit, which covers CMAF and FFmpeg's `+default_base_moof`.

use std::collections::HashMap;

use super::segment::{Sample, SAMPLE_FLAG_NON_SYNC_BIT};
use crate::boxes::Cursor;
use crate::boxes::{find_all, read_boxes, require_box, BoxRef};
use crate::{BmffError, FourCc};

/// The samples of one track fragment (`traf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// From `mfhd`.
    pub sequence_number: u32,
    pub track_id: u32,
    /// From `tfdt`; without one, the sum of the durations of this track's earlier fragments.
    pub base_media_decode_time: u64,
    pub samples: Vec<Sample>,
}

/// Defaults that a `trex` (ISO/IEC 14496-12, 8.8.3) or `tfhd` (8.8.7) supplies.
#[derive(Debug, Clone, Copy, Default)]
struct Defaults {
    duration: Option<u32>,
    size: Option<u32>,
    flags: Option<u32>,
}

/// Reads every track fragment of every top-level `moof` in `bytes` (an init segment followed by
/// media segments, a whole fragmented MP4, or media segments alone), in file order. `trex`
/// defaults are taken from a `moov` in the same bytes when there is one.
pub fn read_fragments(bytes: &[u8]) -> Result<Vec<Fragment>, BmffError> {
    let top = read_boxes(bytes)?;
    let mut trex = HashMap::new();
    for b in find_all(&top, "moov/mvex/trex")? {
        let fb = b.full_box()?;
        let mut c = Cursor::new(fb.body, bad(b.kind(), "truncated"));
        let track_id = c.u32()?;
        c.u32()?; // default_sample_description_index
        let d = Defaults { duration: Some(c.u32()?), size: Some(c.u32()?), flags: Some(c.u32()?) };
        trex.insert(track_id, d);
    }

    let mut next_decode_time: HashMap<u32, u64> = HashMap::new();
    let mut fragments = Vec::new();
    for moof in top.iter().filter(|b| b.kind() == FourCc(*b"moof")) {
        let mfhd = require_box(&[*moof], "moof/mfhd")?.full_box()?;
        let sequence_number = Cursor::new(mfhd.body, bad(FourCc(*b"mfhd"), "truncated")).u32()?;
        for (index, traf) in find_all(&[*moof], "moof/traf")?.into_iter().enumerate() {
            let fragment =
                read_traf(bytes, moof, traf, index, sequence_number, &trex, &next_decode_time)?;
            let total: u64 = fragment.samples.iter().map(|s| u64::from(s.duration)).sum();
            next_decode_time
                .insert(fragment.track_id, fragment.base_media_decode_time.saturating_add(total));
            fragments.push(fragment);
        }
    }
    Ok(fragments)
}

fn bad(kind: FourCc, reason: &str) -> BmffError {
    BmffError::BadBox { kind, reason: reason.into() }
}

fn read_traf(
    file: &[u8],
    moof: &BoxRef<'_>,
    traf: BoxRef<'_>,
    index: usize,
    sequence_number: u32,
    trex: &HashMap<u32, Defaults>,
    next_decode_time: &HashMap<u32, u64>,
) -> Result<Fragment, BmffError> {
    let children = traf.children()?;
    let tfhd_box = require_box(&children, "tfhd")?;
    let tfhd = tfhd_box.full_box()?;
    let mut c = Cursor::new(tfhd.body, bad(tfhd_box.kind(), "truncated"));
    let track_id = c.u32()?;
    // tfhd flags (8.8.7.1): base-data-offset, sample-description-index, default duration, size
    // and flags, duration-is-empty, default-base-is-moof.
    let base_data_offset = if tfhd.flags & 0x01 != 0 { Some(c.u64()?) } else { None };
    if tfhd.flags & 0x02 != 0 {
        c.u32()?;
    }
    let from_trex = trex.get(&track_id).copied().unwrap_or_default();
    let defaults = Defaults {
        duration: if tfhd.flags & 0x08 != 0 { Some(c.u32()?) } else { from_trex.duration },
        size: if tfhd.flags & 0x10 != 0 { Some(c.u32()?) } else { from_trex.size },
        flags: if tfhd.flags & 0x20 != 0 { Some(c.u32()?) } else { from_trex.flags },
    };
    // Data offsets count from base_data_offset, else from the moof (default-base-is-moof, or the
    // first traf of a moof). A later traf without either would continue after the previous
    // traf's data, which no CMAF or FFmpeg file uses: refused rather than guessed.
    let base = match base_data_offset {
        Some(b) => b,
        None if tfhd.flags & 0x02_0000 != 0 || index == 0 => moof.offset(),
        None => return Err(bad(tfhd_box.kind(), "implicit base offset after the first traf")),
    };

    let base_media_decode_time = match find_all(&children, "tfdt")?.first() {
        Some(b) => {
            let fb = b.full_box()?;
            let mut c = Cursor::new(fb.body, bad(b.kind(), "truncated"));
            match fb.version {
                0 => u64::from(c.u32()?),
                1 => c.u64()?,
                v => return Err(BmffError::UnsupportedVersion { kind: b.kind(), version: v }),
            }
        }
        None => next_decode_time.get(&track_id).copied().unwrap_or(0),
    };

    let mut samples = Vec::new();
    let mut data_pos = base;
    for trun in find_all(&children, "trun")? {
        data_pos = read_trun(file, trun, base, data_pos, &defaults, &mut samples)?;
    }
    Ok(Fragment { sequence_number, track_id, base_media_decode_time, samples })
}

/// Appends the samples of one `trun` (8.8.8) and returns where the next run's data would start.
fn read_trun(
    file: &[u8],
    trun: BoxRef<'_>,
    base: u64,
    data_pos: u64,
    defaults: &Defaults,
    samples: &mut Vec<Sample>,
) -> Result<u64, BmffError> {
    let kind = trun.kind();
    let fb = trun.full_box()?;
    if fb.version > 1 {
        return Err(BmffError::UnsupportedVersion { kind, version: fb.version });
    }
    let mut c = Cursor::new(fb.body, bad(kind, "truncated"));
    let count = c.u32()?;
    let mut pos = match fb.flags & 0x01 {
        0 => data_pos,
        _ => base
            .checked_add_signed(i64::from(c.i32()?))
            .ok_or_else(|| bad(kind, "data offset before the file start"))?,
    };
    let first_flags = if fb.flags & 0x04 != 0 { Some(c.u32()?) } else { None };
    let (has_duration, has_size) = (fb.flags & 0x100 != 0, fb.flags & 0x200 != 0);
    let (has_flags, has_offset) = (fb.flags & 0x400 != 0, fb.flags & 0x800 != 0);
    // Bound the count before looping over it: by the body when samples have fields there, else
    // by the file size (a run of defaulted empty samples could otherwise claim 2^32 of them).
    let fields = [has_duration, has_size, has_flags, has_offset].iter().filter(|&&b| b).count();
    let max_count = match fields {
        0 => file.len(),
        n => c.remaining() / (4 * n),
    };
    if usize::try_from(count).map_or(true, |n| n > max_count) {
        return Err(bad(kind, "sample_count runs past the box"));
    }
    for i in 0..count {
        let duration = field(has_duration, &mut c, defaults.duration, kind, "sample duration")?;
        let size = field(has_size, &mut c, defaults.size, kind, "sample size")?;
        let flags = if has_flags {
            c.u32()?
        } else {
            first_flags.filter(|_| i == 0).or(defaults.flags).unwrap_or(0)
        };
        let composition_offset = match (has_offset, fb.version) {
            (false, _) => 0,
            (true, 0) => i32::try_from(c.u32()?)
                .map_err(|_| bad(kind, "unsigned composition offset above 2^31"))?,
            (true, _) => c.i32()?,
        };
        let end = pos.checked_add(u64::from(size)).ok_or_else(|| bad(kind, "data overflow"))?;
        let data = usize::try_from(pos)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(a, b)| file.get(a..b))
            .ok_or_else(|| bad(kind, "sample data outside the bytes read"))?;
        samples.push(Sample {
            data: data.to_vec(),
            duration,
            composition_offset,
            is_sync: flags & SAMPLE_FLAG_NON_SYNC_BIT == 0,
        });
        pos = end;
    }
    Ok(pos)
}

/// A per-sample field when the trun has it, else the default, else an error naming it.
fn field(
    present: bool,
    c: &mut Cursor<'_>,
    default: Option<u32>,
    kind: FourCc,
    what: &str,
) -> Result<u32, BmffError> {
    if present {
        c.u32()
    } else {
        default.ok_or_else(|| bad(kind, &format!("no {what} in the trun, tfhd or trex")))
    }
}
