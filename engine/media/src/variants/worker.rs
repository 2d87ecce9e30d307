//! One (variant, rendition) encode on its own thread: scale the marked frame if the rendition
//! is smaller than the source, encode with libx264, cut into CMAF segments.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use crate::{H264Encoder, Scaler, SharedFrame};
use abmark_bmff::cmaf::{self, Track, VideoTrack};

use super::segmenter::{Segmenter, VideoSamples};
use super::VariantsError;
use abmark_delivery::layout::SegmentInfo;

/// What a finished worker hands back.
pub struct WorkerResult {
    pub init: Vec<u8>,
    pub segments: Vec<SegmentInfo>,
    pub codec: String,
}

pub struct Worker {
    pub dir: PathBuf,
    pub encoder: H264Encoder,
    pub scaler: Option<Scaler>,
    pub timescale: u32,
    pub frame_duration: u32,
    /// Which variant this encoder writes (0 = A, 1 = B): published in WMPaceInfo.
    pub variant: u8,
    /// Where the first frame sent sits in the title: segment index and frame index (a chunk's
    /// start; 0 and 0 for the whole title).
    pub first_segment: u64,
    pub first_frame: u64,
}

impl Worker {
    /// Consumes frames until the sender hangs up, then flushes.
    pub fn run(
        mut self,
        frames: Receiver<Arc<SharedFrame>>,
    ) -> Result<WorkerResult, VariantsError> {
        let (width, height) = self.encoder.size();
        let avcc = abmark_bmff::h264::avcc_from_annexb(&self.encoder.extradata())?;
        let codec = abmark_bmff::h264::avc_codec_string(&avcc)?;
        let track = Track::Video(VideoTrack {
            track_id: 1,
            timescale: self.timescale,
            width: width as u16,
            height: height as u16,
            avcc,
            pixel_aspect: None,
        });
        let mut segmenter = Segmenter::new(&self.dir, 1, cmaf::init_segment(&track)?)?
            .with_pace_info(self.variant)
            .numbered_from(self.first_segment);
        let mut samples = VideoSamples::new(self.frame_duration, self.first_frame);
        let mut packets = Vec::new();
        for (index, frame) in frames.into_iter().enumerate() {
            let index = index as u64;
            let mut local = frame.reference();
            match self.scaler.as_mut() {
                Some(scaler) => self.encoder.encode(scaler.scale(&local, index)?, &mut packets)?,
                None => self.encoder.encode(&mut local, &mut packets)?,
            }
            drop(frame);
            write(&mut segmenter, &mut samples, &mut packets)?;
        }
        self.encoder.finish(&mut packets)?;
        write(&mut segmenter, &mut samples, &mut packets)?;
        segmenter.finish()?;
        Ok(WorkerResult { init: segmenter.init, segments: segmenter.segments, codec })
    }
}

fn write(
    segmenter: &mut Segmenter,
    samples: &mut VideoSamples,
    packets: &mut Vec<crate::EncodedPacket>,
) -> Result<(), VariantsError> {
    for packet in packets.drain(..) {
        let (sample, decode_time, starts) = samples.sample(&packet)?;
        segmenter.push(sample, decode_time, starts)?;
    }
    Ok(())
}
