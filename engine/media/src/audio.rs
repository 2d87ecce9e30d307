//! The source's audio track as our own muxers need it: which stream, its codec configuration
//! and timing, so that `variants` can copy AAC packets into CMAF audio segments unchanged.

use ffmpeg::{media, Packet, Rescale};
use ffmpeg_next as ffmpeg;

use super::VideoDecoder;

/// The first audio stream of a source.
#[derive(Clone, Debug)]
pub struct AudioTrackInfo {
    pub stream_index: usize,
    /// FFmpeg's codec name (`aac`, `mp3`, `opus`...).
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// Codec configuration (for AAC: the AudioSpecificConfig).
    pub extradata: Vec<u8>,
    pub bit_rate: u64,
    /// Stream time base as (numerator, denominator).
    pub time_base: (i32, i32),
    /// Start of the video stream in this stream's time base: audio times are taken relative to
    /// it so that audio and video share one timeline starting at 0.
    pub video_start: i64,
}

/// One demuxed audio packet, timed relative to the video's start.
#[derive(Clone, Debug)]
pub struct AudioPacket {
    pub data: Vec<u8>,
    /// Presentation time and duration in the stream's time base, relative to the video start.
    pub pts: i64,
    pub duration: i64,
}

impl VideoDecoder {
    /// The first audio stream, if the source has one.
    pub fn audio_track(&self) -> Option<AudioTrackInfo> {
        let input = self.input();
        let stream = input.streams().find(|s| s.parameters().medium() == media::Type::Audio)?;
        let params = stream.parameters();
        // SAFETY: reading plain fields of the stream's live codec parameters.
        let (sample_rate, channels, bit_rate, extradata) = unsafe {
            let p = &*params.as_ptr();
            let extradata = if p.extradata.is_null() || p.extradata_size <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
            };
            (
                p.sample_rate.max(0) as u32,
                p.ch_layout.nb_channels.max(0) as u16,
                p.bit_rate.max(0) as u64,
                extradata,
            )
        };
        let tb = stream.time_base();
        let video_start = input
            .stream(self.stream_index())
            .filter(|v| v.start_time() != ffmpeg::ffi::AV_NOPTS_VALUE)
            .map_or(0, |v| v.start_time().rescale(v.time_base(), tb));
        Some(AudioTrackInfo {
            stream_index: stream.index(),
            codec: params.id().name().to_string(),
            sample_rate,
            channels,
            extradata,
            bit_rate,
            time_base: (tb.numerator(), tb.denominator()),
            video_start,
        })
    }

    /// Like `next_frame`, handing every demuxed packet of `audio`'s stream to `on_audio`.
    pub fn next_frame_with_audio(
        &mut self,
        audio: Option<&AudioTrackInfo>,
        on_audio: &mut dyn FnMut(AudioPacket),
    ) -> Result<Option<super::DecodedFrame>, super::MediaError> {
        let wanted = audio.map(|a| (a.stream_index, a.video_start));
        self.next_frame_with(&mut |packet: &mut Packet| {
            if let Some((index, start)) = wanted {
                if packet.stream() == index {
                    if let (Some(pts), Some(data)) = (packet.pts(), packet.data()) {
                        on_audio(AudioPacket {
                            data: data.to_vec(),
                            pts: pts - start,
                            duration: packet.duration(),
                        });
                    }
                }
            }
            Ok(())
        })
    }
}
