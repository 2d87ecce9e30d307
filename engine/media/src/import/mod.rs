//! Importing a plain MP4 for `abmark package`: any MP4, MOV or fragmented MP4 with H.264 video
//! and/or AAC audio becomes clear CMAF tracks on disk (`init.mp4` + `seg-<n>.m4s` per track,
//! written by the engine's own [`abmark_bmff::cmaf`] writer), which the per-track encryption then
//! handles exactly like an `abmark variants` output.
//!
//! Packets are copied, never decoded or re-encoded. H.264 samples are rewritten only in their
//! framing: 1- or 2-byte NAL lengths become 4-byte ones (with the avcC to match) and Annex B
//! becomes length-prefixed, because the CMAF writer requires [`abmark_bmff::h264::NAL_LENGTH_SIZE`].
//!
//! Timing. Each track keeps its stream's time base (timescale = its denominator) and exact
//! durations (a sample lasts until the next packet's decode time). CMAF has no edit lists, so
//! both tracks are put on one timeline whose origin is the earliest presentation time of any
//! kept packet (typically the AAC priming frame, which an MP4 hides with an edit list): A/V sync
//! is kept with every packet present, and the first video frame is presented at the audio
//! priming length (about 21 ms) instead of 0. Decode times start at 0; a B-frame delay before
//! that origin is absorbed by negative composition offsets (`trun` version 1), the writer's
//! convention (see [`cmaf::Sample::composition_offset`]), so offsets are `pts - dts` minus that
//! delay.
//!
//! Two passes over the file: the first reads every packet's timing (and validates it: a
//! truncated or damaged file fails here, before anything is written), the second copies the
//! packets into segments, so memory holds one segment per track, never the whole file.
//!
//! [`abmark_bmff::h264::NAL_LENGTH_SIZE`]: abmark_bmff::h264::NAL_LENGTH_SIZE
//! [`cmaf::Sample::composition_offset`]: abmark_bmff::cmaf::Sample::composition_offset

mod framing;
mod plan;
mod scan;
mod streams;
#[cfg(test)]
mod tests;
mod write;

use std::path::{Path, PathBuf};

use abmark_bmff::cmaf::Track;

use abmark_cenc::CencError;
use plan::plan;
use scan::scan;
use streams::{open, select_streams};
use write::{copy_packets, prepare_track, TrackWriter};

pub use abmark_bmff::cmaf::TrackKind;

/// One imported track.
#[derive(Debug, Clone)]
pub struct ImportedTrack {
    pub kind: TrackKind,
    /// Where `init.mp4` and `seg-<n>.m4s` (n from 1) were written.
    pub dir: PathBuf,
    /// As written into `init.mp4`.
    pub track: Track,
    /// RFC 6381 ([`Track::codec_string`]).
    pub codecs: String,
    pub timescale: u32,
    /// In `timescale` units, one per segment (the sum of its sample durations).
    pub segment_durations: Vec<u64>,
    pub segment_bytes: Vec<u64>,
}

/// What [`import_file`] wrote.
#[derive(Debug, Clone)]
pub struct Imported {
    pub video: Option<ImportedTrack>,
    pub audio: Option<ImportedTrack>,
    /// The video's frame rate (exact nominal rate, or the average for variable-rate streams).
    pub frame_rate: Option<(u32, u32)>,
}

/// Demuxes `input` (MP4/MOV/fMP4 with one H.264 video and/or one AAC audio stream; other
/// streams are ignored, with no video nor audio it is an error) and writes each track as CMAF
/// under `dir/video/` and `dir/audio/`, cutting video segments at the first keyframe at or after
/// every `segment_seconds`, and audio segments at the same times (nearest AAC frame boundary).
///
/// Every error is one line naming `input` (or the file that could not be written). Nothing is
/// written outside `dir`; nothing at all is written when the input is rejected (wrong codec,
/// missing, truncated or damaged file), since that is found by the first pass.
pub fn import_file(input: &Path, dir: &Path, segment_seconds: f64) -> Result<Imported, CencError> {
    if !(segment_seconds.is_finite() && segment_seconds > 0.0) {
        return Err(CencError::Usage(format!(
            "segment duration must be a positive number of seconds, not {segment_seconds}"
        )));
    }
    crate::init();
    let ictx = open(input)?;
    let mut sources = select_streams(&ictx, input)?;
    let frame_rate = sources.iter().find(|s| s.kind == TrackKind::Video).and_then(|s| s.frame_rate);

    // Pass 1: timing of every packet; validates the whole file before anything is written.
    let scanned = scan(ictx, input, &sources)?;
    for (source, first_key) in sources.iter_mut().zip(&scanned.first_key_data) {
        source.finish_config(input, first_key.as_deref())?;
    }
    let plans = plan(input, &sources, &scanned.timings, segment_seconds)?;

    let prepared = sources
        .iter()
        .zip(&plans)
        .map(|(source, plan)| prepare_track(input, source, plan))
        .collect::<Result<Vec<_>, _>>()?;

    // Pass 2: copy the packets into segments.
    let mut writers = Vec::with_capacity(sources.len());
    for (source, track) in sources.iter().zip(prepared) {
        writers.push(TrackWriter::new(dir, source, track)?);
    }
    copy_packets(open(input)?, input, &sources, &plans, &mut writers)?;

    let mut imported = Imported { video: None, audio: None, frame_rate };
    for writer in writers {
        let track = writer.finish();
        match track.kind {
            TrackKind::Video => imported.video = Some(track),
            TrackKind::Audio => imported.audio = Some(track),
        }
    }
    Ok(imported)
}
