//! CMAF media segments (ISO/IEC 23000-19, "CMAF segment" and "CMAF fragment"): `styp` + one
//! fragment (`moof` + `mdat`) of one track.
//!
//! The layout is the same for every segment with the same sample count: all per-sample values
//! are in the `trun`, nothing is defaulted in `tfhd`/`trex`. So two variants of a rendition whose
//! samples have equal counts and durations give segments that differ only in sample sizes and
//! payload, and any segment of one can replace the same segment of the other.

use crate::boxes::BoxWriter;
use crate::BmffError;

/// `styp` brands (ISO/IEC 14496-12, 8.16.2). 'msdh' is the DASH media segment brand (ISO/IEC
/// 23009-1, "Media Segment"); 'msix' would claim a `sidx` index, which we do not write. 'cmfs'
/// and 'cmff' (ISO/IEC 23000-19, CMAF brands) say the segment is a CMAF segment and, holding
/// exactly one fragment, a CMAF fragment too.
pub const SEGMENT_MAJOR_BRAND: [u8; 4] = *b"msdh";
pub const SEGMENT_COMPATIBLE_BRANDS: [[u8; 4]; 3] = [*b"msdh", *b"cmfs", *b"cmff"];

/// One media sample (an access unit or an AAC frame) and its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Video: AVCC, each NAL unit prefixed by its 4-byte length (see [`crate::h264::annexb_to_avcc`]).
    /// Audio: one raw AAC frame.
    pub data: Vec<u8>,
    /// In the track's timescale.
    pub duration: u32,
    /// Composition (presentation) time minus decode time, in the track's timescale. Signed (`trun`
    /// version 1), so that with B-frames the first frame can be presented at its decode time
    /// (offset = pts - dts - the encoder's initial delay) without an edit list, which 'cmf2'
    /// forbids in video tracks. FFmpeg 5.1's demuxer still reports such a stream as starting at
    /// the delay (it adds the largest negative offset back); browsers take the offsets as written.
    pub composition_offset: i32,
    /// A sync sample (IDR picture; every AAC frame): can start decoding.
    pub is_sync: bool,
}

/// tfhd flag (14496-12, 8.8.7.1): sample data offsets count from the start of the `moof`, so a
/// segment is self-contained and can be moved or swapped as a unit.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

/// trun flags (14496-12, 8.8.8.1).
const TRUN_DATA_OFFSET: u32 = 0x00_0001;
const TRUN_SAMPLE_DURATION: u32 = 0x00_0100;
const TRUN_SAMPLE_SIZE: u32 = 0x00_0200;
const TRUN_SAMPLE_FLAGS: u32 = 0x00_0400;
const TRUN_COMPOSITION_OFFSET: u32 = 0x00_0800;

/// Sample flags (14496-12, 8.8.3.1): sample_depends_on = 2 (depends on no other sample) for sync
/// samples; sample_depends_on = 1 and sample_is_non_sync_sample for the rest.
pub const SAMPLE_FLAGS_SYNC: u32 = 0x0200_0000;
pub const SAMPLE_FLAGS_NON_SYNC: u32 = 0x0101_0000;

/// The `sample_is_non_sync_sample` bit of sample flags.
pub const SAMPLE_FLAG_NON_SYNC_BIT: u32 = 0x0001_0000;

/// Writes one media segment: `styp`, `moof` (`mfhd`, `traf` with `tfhd`, `tfdt`, `trun`) and
/// `mdat` holding the samples in order.
///
/// `sequence_number` goes in `mfhd` (usually the segment number, counting from 1);
/// `base_media_decode_time` is the decode time of the first sample in the track's timescale,
/// i.e. the sum of all earlier sample durations. Fails on an empty sample list or on sizes that
/// do not fit their fields (a sample or segment over 4 GiB).
pub fn media_segment(
    track_id: u32,
    sequence_number: u32,
    base_media_decode_time: u64,
    samples: &[Sample],
) -> Result<Vec<u8>, BmffError> {
    write_media_segment(track_id, sequence_number, base_media_decode_time, samples, &|_, _| {})
}

/// [`media_segment`] with boxes appended to the `traf` after the `trun` by `in_traf`, which gets
/// the writer and the position of the `moof`'s first byte (CENC: `senc`, and `saiz`/`saio`,
/// whose offset counts from the `moof` like the `trun` data offset).
pub fn write_media_segment(
    track_id: u32,
    sequence_number: u32,
    base_media_decode_time: u64,
    samples: &[Sample],
    in_traf: &dyn Fn(&mut BoxWriter, usize),
) -> Result<Vec<u8>, BmffError> {
    if samples.is_empty() {
        return Err(BmffError::EmptySegment);
    }
    let sample_count = u32::try_from(samples.len())
        .map_err(|_| BmffError::TooLarge { what: "sample count", bits: 32 })?;
    let mut sizes = Vec::with_capacity(samples.len());
    for s in samples {
        sizes.push(
            u32::try_from(s.data.len())
                .map_err(|_| BmffError::TooLarge { what: "sample size", bits: 32 })?,
        );
    }
    let payload: u64 = sizes.iter().map(|&s| u64::from(s)).sum();

    let mut w = BoxWriter::new();
    styp(&mut w);
    let moof_start = w.position();
    let data_offset = w.boxed(b"moof", |w| {
        mfhd(w, sequence_number);
        w.boxed(b"traf", |w| {
            tfhd(w, track_id);
            tfdt(w, base_media_decode_time);
            let data_offset = trun(w, sample_count, samples, &sizes);
            in_traf(w, moof_start);
            data_offset
        })
    });

    // mdat (14496-12, 8.1.1) with a 64-bit largesize only when the 32-bit size overflows.
    match u32::try_from(payload + 8) {
        Ok(size) => {
            w.u32(size);
            w.bytes(b"mdat");
        }
        Err(_) => {
            w.u32(1);
            w.bytes(b"mdat");
            w.u64(payload + 16);
        }
    }
    // data_offset: from the first byte of the moof (default-base-is-moof) to the first sample.
    // The field is a signed 32-bit integer: an offset past i32::MAX cannot be written.
    let offset = i32::try_from(w.position() - moof_start)
        .map_err(|_| BmffError::TooLarge { what: "trun data_offset", bits: 32 })?;
    w.patch_u32(data_offset, offset.unsigned_abs());
    for s in samples {
        w.bytes(&s.data);
    }
    w.finish()
}

fn styp(w: &mut BoxWriter) {
    w.boxed(b"styp", |w| {
        w.bytes(&SEGMENT_MAJOR_BRAND);
        w.u32(0); // minor_version
        for brand in &SEGMENT_COMPATIBLE_BRANDS {
            w.bytes(brand);
        }
    });
}

fn mfhd(w: &mut BoxWriter, sequence_number: u32) {
    w.full_box(b"mfhd", 0, 0, |w| w.u32(sequence_number));
}

/// Track fragment header (14496-12, 8.8.7): only the track ID and default-base-is-moof, which
/// CMAF requires in place of base_data_offset (23000-19, TrackFragmentHeaderBox constraints).
fn tfhd(w: &mut BoxWriter, track_id: u32) {
    w.full_box(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, |w| w.u32(track_id));
}

/// Track fragment decode time (14496-12, 8.8.12), version 1 (64-bit): a 32-bit time at 90 kHz
/// wraps after 13 hours.
fn tfdt(w: &mut BoxWriter, base_media_decode_time: u64) {
    w.full_box(b"tfdt", 1, 0, |w| w.u64(base_media_decode_time));
}

/// Track run (14496-12, 8.8.8), version 1 (signed composition offsets), with every per-sample
/// field present. Returns the reserved data_offset field, patched once the `moof` size is known.
fn trun(
    w: &mut BoxWriter,
    sample_count: u32,
    samples: &[Sample],
    sizes: &[u32],
) -> crate::boxes::Patch {
    let flags = TRUN_DATA_OFFSET
        | TRUN_SAMPLE_DURATION
        | TRUN_SAMPLE_SIZE
        | TRUN_SAMPLE_FLAGS
        | TRUN_COMPOSITION_OFFSET;
    w.full_box(b"trun", 1, flags, |w| {
        w.u32(sample_count);
        let data_offset = w.reserve_u32();
        for (s, &size) in samples.iter().zip(sizes) {
            w.u32(s.duration);
            w.u32(size);
            w.u32(if s.is_sync { SAMPLE_FLAGS_SYNC } else { SAMPLE_FLAGS_NON_SYNC });
            w.i32(s.composition_offset);
        }
        data_offset
    })
}

/// `styp` + `extras` + the rest of a media segment: where TS 104 002 puts `wmpi` and where a
/// rewritten segment keeps the boxes it passes through. Data offsets count from the `moof`
/// (default-base-is-moof), so nothing inside moves. A segment that does not open with a
/// well-formed `styp` gets the extras first.
pub fn insert_after_styp(segment: &[u8], extras: &[&[u8]]) -> Vec<u8> {
    let styp_len = segment
        .get(..8)
        .filter(|h| &h[4..8] == b"styp")
        .map(|h| u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize)
        .filter(|&n| n <= segment.len())
        .unwrap_or(0);
    let extra: usize = extras.iter().map(|e| e.len()).sum();
    let mut out = Vec::with_capacity(segment.len() + extra);
    out.extend_from_slice(&segment[..styp_len]);
    for e in extras {
        out.extend_from_slice(e);
    }
    out.extend_from_slice(&segment[styp_len..]);
    out
}
