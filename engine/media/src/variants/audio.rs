//! The shared audio track: the source's AAC packets copied unchanged into CMAF segments under
//! `OUT/audio/`, cut at the same times as the video segments. Audio carries no watermark, so
//! one copy serves both variants.

use std::path::Path;

use crate::{AudioPacket, AudioTrackInfo};
use abmark_bmff::cmaf::{self, AudioTrack, Sample, Track};

use super::segmenter::Segmenter;
use super::VariantsError;
use abmark_delivery::layout::SegmentInfo;

/// The audio track as written: what job.json and the manifests say about it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AudioOutput {
    pub segments: Vec<SegmentInfo>,
    /// RFC 6381 codec string, e.g. `mp4a.40.2`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
}

pub struct AudioWriter {
    segmenter: Segmenter,
    /// Packet times are in the stream time base `tb_num / tb_den`; samples in 1/sample_rate.
    tb: (i64, i64),
    sample_rate: i64,
    segment_seconds: f64,
    next_boundary: i64,
    pub codec: String,
    pub info: AudioTrackInfo,
}

impl AudioWriter {
    pub fn new(
        dir: &Path,
        info: &AudioTrackInfo,
        segment_seconds: f64,
    ) -> Result<Self, VariantsError> {
        if info.codec != "aac" {
            return Err(VariantsError::UnsupportedAudio { codec: info.codec.clone() });
        }
        let track = Track::Audio(AudioTrack {
            track_id: 1,
            timescale: info.sample_rate,
            sample_rate: info.sample_rate,
            channels: info.channels,
            audio_specific_config: info.extradata.clone(),
            max_bitrate: info.bit_rate as u32,
            avg_bitrate: info.bit_rate as u32,
        });
        let codec = abmark_bmff::aac::aac_codec_string(&info.extradata)?;
        Ok(Self {
            segmenter: Segmenter::new(dir, 1, cmaf::init_segment(&track)?)?,
            tb: (info.time_base.0 as i64, info.time_base.1.max(1) as i64),
            sample_rate: info.sample_rate.max(1) as i64,
            segment_seconds,
            next_boundary: 0,
            codec,
            info: info.clone(),
        })
    }

    /// A packet time (stream time base) in samples.
    fn to_samples(&self, t: i64) -> i64 {
        t * self.tb.0 * self.sample_rate / self.tb.1
    }

    /// Where `packet` starts, in samples from the video's start.
    pub fn start_of(&self, packet: &AudioPacket) -> i64 {
        self.to_samples(packet.pts)
    }

    /// Where video segment `index` (from 0) starts, in samples: audio segments are cut at the
    /// first packet starting at or after it.
    pub fn boundary(&self, index: u64) -> i64 {
        (index as f64 * self.segment_seconds * self.sample_rate as f64).round() as i64
    }

    /// Adds one packet (packets before the video starts are dropped).
    pub fn push(&mut self, packet: AudioPacket) -> Result<(), VariantsError> {
        let start = self.start_of(&packet);
        if start < 0 {
            return Ok(());
        }
        let duration = match self.to_samples(packet.duration) {
            d if d > 0 => d,
            _ => 1024, // AAC-LC frame length, when the container does not say
        };
        let starts = start >= self.next_boundary;
        if starts {
            let seg = (start as f64 / self.sample_rate as f64 / self.segment_seconds).floor() + 1.0;
            self.next_boundary = self.boundary(seg as u64);
        }
        let sample = Sample {
            data: packet.data,
            duration: duration as u32,
            composition_offset: 0,
            is_sync: true,
        };
        self.segmenter.push(sample, start as u64, starts)
    }

    pub fn finish(mut self) -> Result<AudioOutput, VariantsError> {
        self.segmenter.finish()?;
        Ok(AudioOutput {
            segments: self.segmenter.segments,
            codec: self.codec,
            sample_rate: self.info.sample_rate,
            channels: self.info.channels,
        })
    }
}
