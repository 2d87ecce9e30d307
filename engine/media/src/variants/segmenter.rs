//! Cutting an encoded stream into CMAF segments and writing them: `init.mp4` once, then
//! `seg-<n>.m4s` (n from 1) each time a new segment starts.
//!
//! Video is cut at IDR frames, which the encoder places exactly every segment (closed GOPs,
//! fixed keyint, no scene cuts), so segment n holds the same frames in both variants. Audio is
//! cut by time at the same boundaries. Each finished segment is recorded (duration, samples,
//! bytes) so that the two variants can be compared and manifests written.
//!
//! Video segments also publish their WMPaceInfo (ETSI TS 104 002 5.5): which variant they are
//! and which position of a viewer's WM pattern picks them (segment `i` -> `i mod 64`, the
//! session code's layout, see `abmark_wm::payload`). It goes in a `wmpi` box between `styp` and
//! `moof` and in a sidecar file `WMPaceInfo/seg-<n>.m4s` beside the segment (the EdgeWorkers
//! convention), so that an edge can choose a variant without opening segments.

use std::path::{Path, PathBuf};

use crate::EncodedPacket;
use abmark_bmff::cmaf::{self, Sample};
use abmark_delivery::layout::SegmentInfo;
use abmark_delivery::pace::{sidecar_discrete, wmpi_box, PaceInfo, SidecarEntry};
use abmark_wm::payload::position_of_segment;

use super::VariantsError;

/// Writes one track's segments into `dir`.
pub struct Segmenter {
    dir: PathBuf,
    track_id: u32,
    current: Vec<Sample>,
    current_start: u64,
    next_start: u64,
    pub segments: Vec<SegmentInfo>,
    pub init: Vec<u8>,
    /// The variant whose WMPaceInfo video segments publish; `None` for audio.
    pace_variant: Option<u8>,
    /// Segments of the title before the first one written here (a chunk's place in it).
    first_segment: u64,
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
            pace_variant: None,
            first_segment: 0,
        })
    }

    /// Numbers segments from `first_segment + 1` (names, `mfhd`, WMPaceInfo positions): a
    /// chunk writes its segments as they are numbered in the whole title.
    pub fn numbered_from(mut self, first_segment: u64) -> Self {
        self.first_segment = first_segment;
        self
    }

    /// The title-wide index (from 0) of the next segment to be written.
    fn next_index(&self) -> u64 {
        self.first_segment + self.segments.len() as u64
    }

    /// Publishes WMPaceInfo for `variant` with every segment (video tracks).
    pub fn with_pace_info(mut self, variant: u8) -> Self {
        self.pace_variant = Some(variant);
        self
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
        let sequence = u32::try_from(self.next_index() + 1)
            .map_err(|_| abmark_bmff::BmffError::TooLarge { what: "segment number", bits: 32 })?;
        let mut bytes =
            cmaf::media_segment(self.track_id, sequence, self.current_start, &self.current)?;
        let name = format!("seg-{sequence}.m4s");
        if let Some(variant) = self.pace_variant {
            bytes = self.publish_pace_info(&name, variant, bytes)?;
        }
        let path = self.dir.join(&name);
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

impl Segmenter {
    /// Writes the sidecar of segment file `name` and returns the segment with its `wmpi` box.
    fn publish_pace_info(
        &self,
        name: &str,
        variant: u8,
        segment: Vec<u8>,
    ) -> Result<Vec<u8>, VariantsError> {
        let position = position_of_segment(self.next_index()) as u16;
        let info =
            PaceInfo { variant, position: Some(position), first_part: true, last_part: true };
        let dir = self.dir.join("WMPaceInfo");
        std::fs::create_dir_all(&dir).map_err(|e| VariantsError::io(&dir, e))?;
        let entry = SidecarEntry {
            segment_regex: None,
            position: Some(position),
            first_part: Some(true),
            last_part: Some(true),
        };
        let path = dir.join(name);
        std::fs::write(&path, sidecar_discrete(&[entry]))
            .map_err(|e| VariantsError::io(&path, e))?;
        let wmpi = wmpi_box(&info).map_err(|e| VariantsError::Pace(e.to_string()))?;
        Ok(cmaf::insert_after_styp(&segment, &[&wmpi]))
    }
}

/// Turns encoder packets (timestamps in frames, decode order) into CMAF video samples.
pub struct VideoSamples {
    frame_duration: u32,
    /// Added to every dts so that the first decode time is 0 (x264's B-frame delay makes the
    /// first dts negative).
    shift: Option<i64>,
    /// Frames of the title before the encoder's first one (a chunk's start): decode times are
    /// the title's, as the one-machine run writes them.
    first_frame: u64,
}

impl VideoSamples {
    pub fn new(frame_duration: u32, first_frame: u64) -> Self {
        Self { frame_duration, shift: None, first_frame }
    }

    /// The sample, its decode time, and whether it opens a segment (an IDR).
    pub fn sample(&mut self, packet: &EncodedPacket) -> Result<(Sample, u64, bool), VariantsError> {
        let shift = *self.shift.get_or_insert(-packet.dts);
        let decode = (packet.dts + shift).max(0) as u64;
        let d = self.frame_duration as i64;
        let sample = Sample {
            data: abmark_bmff::h264::annexb_to_avcc(&packet.data, true)?,
            duration: self.frame_duration,
            // Presentation = decode + offset; the IDR that opens a segment has offset 0, so a
            // segment's decode start is also its presentation start.
            composition_offset: ((packet.pts - packet.dts - shift) * d) as i32,
            is_sync: packet.keyframe,
        };
        let decode = decode + self.first_frame;
        Ok((sample, decode * self.frame_duration as u64, packet.keyframe))
    }
}
