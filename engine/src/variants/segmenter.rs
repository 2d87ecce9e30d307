//! Cutting an encoded stream into CMAF segments and writing them: `init.mp4` once, then
//! `seg-<n>.m4s` (n from 1) each time a new segment starts.
//!
//! Video is cut at IDR frames, which the encoder places exactly every segment (closed GOPs,
//! fixed keyint, no scene cuts), so segment n holds the same frames in both variants. Audio is
//! cut by time at the same boundaries. Each finished segment is recorded (duration, samples,
//! bytes) so that the two variants can be compared and manifests written.

use std::path::{Path, PathBuf};

use crate::cmaf::{self, Sample};
use crate::media::EncodedPacket;

use super::VariantsError;

/// What one written segment holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentInfo {
    /// Duration in the track's timescale.
    pub duration: u64,
    pub samples: u32,
    pub bytes: u64,
}

/// Writes one track's segments into `dir`.
pub struct Segmenter {
    dir: PathBuf,
    track_id: u32,
    current: Vec<Sample>,
    current_start: u64,
    next_start: u64,
    pub segments: Vec<SegmentInfo>,
    pub init: Vec<u8>,
}

impl Segmenter {
    /// Creates `dir` and writes `init.mp4` into it.
    pub fn new(dir: &Path, track_id: u32, init: Vec<u8>) -> Result<Self, VariantsError> {
        std::fs::create_dir_all(dir).map_err(|e| VariantsError::io(dir, e))?;
        let path = dir.join("init.mp4");
        std::fs::write(&path, &init).map_err(|e| VariantsError::io(&path, e))?;
        Ok(Self {
            dir: dir.to_owned(),
            track_id,
            current: Vec::new(),
            current_start: 0,
            next_start: 0,
            segments: Vec::new(),
            init,
        })
    }

    /// Adds a sample whose decode time is `decode_time`; `starts_segment` closes the current
    /// segment first.
    pub fn push(
        &mut self,
        sample: Sample,
        decode_time: u64,
        starts_segment: bool,
    ) -> Result<(), VariantsError> {
        if starts_segment && !self.current.is_empty() {
            self.flush()?;
        }
        if self.current.is_empty() {
            self.current_start = decode_time;
        }
        self.next_start = decode_time + sample.duration as u64;
        self.current.push(sample);
        Ok(())
    }

    /// Writes the last segment.
    pub fn finish(&mut self) -> Result<(), VariantsError> {
        if !self.current.is_empty() {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), VariantsError> {
        let sequence = self.segments.len() as u32 + 1;
        let bytes =
            cmaf::media_segment(self.track_id, sequence, self.current_start, &self.current)?;
        let path = self.dir.join(format!("seg-{sequence}.m4s"));
        std::fs::write(&path, &bytes).map_err(|e| VariantsError::io(&path, e))?;
        self.segments.push(SegmentInfo {
            duration: self.next_start - self.current_start,
            samples: self.current.len() as u32,
            bytes: bytes.len() as u64,
        });
        self.current.clear();
        Ok(())
    }
}

/// Turns encoder packets (timestamps in frames, decode order) into CMAF video samples.
pub struct VideoSamples {
    frame_duration: u32,
    /// Added to every dts so that the first decode time is 0 (x264's B-frame delay makes the
    /// first dts negative).
    shift: Option<i64>,
}

impl VideoSamples {
    pub fn new(frame_duration: u32) -> Self {
        Self { frame_duration, shift: None }
    }

    /// The sample, its decode time, and whether it opens a segment (an IDR).
    pub fn sample(&mut self, packet: &EncodedPacket) -> Result<(Sample, u64, bool), VariantsError> {
        let shift = *self.shift.get_or_insert(-packet.dts);
        let decode = (packet.dts + shift).max(0) as u64;
        let d = self.frame_duration as i64;
        let sample = Sample {
            data: cmaf::annexb_to_avcc(&packet.data, true)?,
            duration: self.frame_duration,
            // Presentation = decode + offset; the IDR that opens a segment has offset 0, so a
            // segment's decode start is also its presentation start.
            composition_offset: ((packet.pts - packet.dts - shift) * d) as i32,
            is_sync: packet.keyframe,
        };
        Ok((sample, decode * self.frame_duration as u64, packet.keyframe))
    }
}
