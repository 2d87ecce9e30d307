//! A packet-level H.264 encoder: frames in, Annex B access units out, for writers that do their
//! own muxing (the CMAF writer of `abmark variants`).
//!
//! SPS and PPS go to the encoder's extradata (the global-header flag), never in-band, so that
//! the init segment carries them and two encoders with identical settings produce identical
//! init segments. Timestamps are in frames: the encoder's time base is one frame period.

use std::path::Path;

use ffmpeg::{frame, picture, Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::encode::{open_x264, x264_options};
use super::{EncodeSettings, MediaError, VideoDecoder};

/// One encoded access unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedPacket {
    /// Annex B NAL units (start codes), as libx264 emits them.
    pub data: Vec<u8>,
    /// Presentation and decode time, in frames.
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
}

/// libx264 behind FFmpeg's encode API, frame rate fixed, closed GOPs when asked.
pub struct H264Encoder {
    encoder: ffmpeg::encoder::Video,
    /// Name used in errors (the output this encoder feeds).
    label: std::path::PathBuf,
    width: u32,
    height: u32,
    frames: u64,
}

impl H264Encoder {
    /// Opens libx264 for `size` frames at the decoder's frame rate and colour description.
    pub fn open(
        decoder: &VideoDecoder,
        size: (u32, u32),
        settings: &EncodeSettings,
        label: &Path,
    ) -> Result<Self, MediaError> {
        let options = x264_options(settings, label)?;
        let info = decoder.info();
        let rate = Rational::new(info.frame_rate.0, info.frame_rate.1);
        let encoder = open_x264(decoder, size, rate, true, settings.threads, options, label)?;
        Ok(Self { encoder, label: label.to_owned(), width: size.0, height: size.1, frames: 0 })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// SPS and PPS as FFmpeg's libx264 wrapper exports them (Annex B).
    pub fn extradata(&self) -> Vec<u8> {
        // SAFETY: reading the opened codec context's extradata buffer, which it owns and keeps
        // for its lifetime; the size comes from the same context.
        unsafe {
            let ctx = self.encoder.as_ptr();
            let (ptr, len) = ((*ctx).extradata, (*ctx).extradata_size);
            if ptr.is_null() || len <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(ptr, len as usize).to_vec()
            }
        }
    }

    /// Encodes the next frame (yuv420p at [`H264Encoder::size`]); finished packets are appended.
    pub(crate) fn encode(
        &mut self,
        frame: &mut frame::Video,
        out: &mut Vec<EncodedPacket>,
    ) -> Result<(), MediaError> {
        frame.set_pts(Some(self.frames as i64));
        // A decoder's picture type would be taken by libx264 as a forced frame type.
        frame.set_kind(picture::Type::None);
        let index = self.frames;
        self.encoder.send_frame(frame).map_err(|error| self.error(index, error))?;
        self.frames += 1;
        self.drain(out)
    }

    /// Flushes the encoder: the remaining packets are appended.
    pub fn finish(&mut self, out: &mut Vec<EncodedPacket>) -> Result<(), MediaError> {
        let index = self.frames;
        self.encoder.send_eof().map_err(|error| self.error(index, error))?;
        self.drain(out)
    }

    fn drain(&mut self, out: &mut Vec<EncodedPacket>) -> Result<(), MediaError> {
        let mut packet = Packet::empty();
        loop {
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => out.push(EncodedPacket {
                    data: packet.data().map(<[u8]>::to_vec).unwrap_or_default(),
                    pts: packet.pts().unwrap_or(0),
                    dts: packet.dts().unwrap_or(0),
                    keyframe: packet.is_key(),
                }),
                Err(ffmpeg::Error::Other { errno: ffmpeg::error::EAGAIN })
                | Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(error) => return Err(self.error(self.frames, error)),
            }
        }
    }

    fn error(&self, frame: u64, error: ffmpeg::Error) -> MediaError {
        MediaError::Encode { path: self.label.clone(), frame, error }
    }
}
