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

/// Reads the packets of `track` from `path` on their own, starting a little before `from_seconds`
/// (relative to the video's start) through the container's index, and hands each to `each`
/// until it answers `false` or the stream ends. A chunk of `variants` copies its share of the
/// audio this way, without decoding video: the other streams are discarded by the demuxer.
pub fn read_audio_packets(
    path: &std::path::Path,
    track: &AudioTrackInfo,
    from_seconds: f64,
    each: &mut dyn FnMut(AudioPacket) -> bool,
) -> Result<(), super::MediaError> {
    super::init();
    let mut input = super::probe::open_input(path)?;
    // SAFETY: `input` owns its format context and streams; setting `discard` on a stream before
    // reading is how FFmpeg's own tools skip the streams they do not want.
    unsafe {
        let ctx = input.as_mut_ptr();
        for i in 0..(*ctx).nb_streams as usize {
            let stream = *(*ctx).streams.add(i);
            if i != track.stream_index {
                (*stream).discard = ffmpeg::ffi::AVDiscard::AVDISCARD_ALL;
            }
        }
    }
    // One second of slack: an index entry at or before the time is wanted, and the caller
    // keeps only the packets it needs by time.
    let (tb_num, tb_den) = (i64::from(track.time_base.0), i64::from(track.time_base.1.max(1)));
    let start_seconds = track.video_start as f64 * tb_num as f64 / tb_den as f64;
    let seconds = start_seconds + from_seconds - 1.0;
    if from_seconds > 0.0 && seconds > 0.0 {
        let target = (seconds * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
        // Without an index the demuxer stays at the start: slower, same packets.
        let _ = input.seek(target, ..target);
    }
    let mut packet = Packet::empty();
    loop {
        match packet.read(&mut input) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => return Ok(()),
            Err(error) => {
                return Err(super::MediaError::Read { path: path.to_owned(), frame: 0, error })
            }
        }
        if packet.stream() != track.stream_index {
            continue;
        }
        let (Some(pts), Some(data)) = (packet.pts(), packet.data()) else { continue };
        let audio = AudioPacket {
            data: data.to_vec(),
            pts: pts - track.video_start,
            duration: packet.duration(),
        };
        if !each(audio) {
            return Ok(());
        }
    }
}
