//! Writing H.264 (libx264) video plus a stream-copied audio track into an MP4 ([`Mp4Writer`]),
//! and the knobs of that encode ([`EncodeSettings`]).

use std::path::{Path, PathBuf};

use ffmpeg::codec::threading;
use ffmpeg::format::context::Output;
use ffmpeg::{
    codec, encoder, format, frame, media, picture, Dictionary, Packet, Rational, Rescale,
};
use ffmpeg_next as ffmpeg;

use super::{MediaError, VideoDecoder};

/// How [`super::transcode`] encodes the video.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodeSettings {
    /// x264 constant rate factor (lower is better quality; 18 is visually transparent).
    pub crf: f32,
    /// x264 preset name (`ultrafast` ... `veryslow`).
    pub preset: String,
    /// `Some(n)`: a closed GOP with a keyframe exactly every `n` frames and no scene-cut
    /// keyframes, so that segments can be cut at fixed frame numbers. `None`: x264's defaults.
    pub keyint: Option<u32>,
    /// Encoder threads; `None` lets x264 choose from the core count.
    pub threads: Option<usize>,
    /// `Some(kbit/s)`: average-bitrate mode with a VBV of 1.5x peak and 2 s of buffer, instead
    /// of constant quality (`crf` is then ignored).
    pub bitrate_kbps: Option<u32>,
}

impl Default for EncodeSettings {
    fn default() -> Self {
        Self { crf: 18.0, preset: "medium".into(), keyint: None, threads: None, bitrate_kbps: None }
    }
}

/// An MP4 being written: the H.264 encoder, its output stream and the optional audio copy.
pub(crate) struct Mp4Writer {
    /// OUT, the name errors report (the bytes go to a temp sibling until the end).
    out: PathBuf,
    octx: Output,
    encoder: encoder::Video,
    video_ost: usize,
    encoder_tb: Rational,
    video_ost_tb: Rational,
    audio: Option<AudioCopy>,
    width: u32,
    height: u32,
}

/// Where the copied audio stream comes from and goes to, and the shift that keeps it in sync with
/// the video (whose output timeline starts at 0).
struct AudioCopy {
    ist: usize,
    ost: usize,
    ist_tb: Rational,
    ost_tb: Rational,
    /// Start of the source's video stream, in `ist_tb` units.
    offset: i64,
}

impl Mp4Writer {
    /// Creates the MP4 at `file` (reported as `out`), opens libx264 for the decoder's frames and
    /// writes the header.
    pub(crate) fn create(
        file: &Path,
        out: &Path,
        decoder: &VideoDecoder,
        settings: &EncodeSettings,
    ) -> Result<Self, MediaError> {
        let options = x264_options(settings, out)?;
        let write_error = |error| MediaError::Write { path: out.to_owned(), error };
        let info = decoder.info();
        // H.264 4:2:0 cannot code odd sizes (its cropping works in 2-pixel units): drop the last
        // column/row of odd-sized sources.
        let width = info.width as u32 & !1;
        let height = info.height as u32 & !1;
        if width == 0 || height == 0 {
            let reason = format!("{}x{} is too small for H.264", info.width, info.height);
            return Err(MediaError::Settings { path: out.to_owned(), reason });
        }
        let rate = Rational::new(info.frame_rate.0, info.frame_rate.1);

        // The format is named because the temp file's name has no .mp4 extension.
        let mut octx = format::output_as(file, "mp4").map_err(write_error)?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let encoder = open_x264(
            decoder,
            (width, height),
            rate,
            global_header,
            settings.threads,
            options,
            out,
        )?;
        let video_ost = octx.add_stream(encoder.codec()).map_err(write_error)?.index();
        let encoder_tb = rate.invert();

        // Only the opened encoder knows its extradata (SPS/PPS): copy parameters after opening.
        let mut ost =
            octx.stream_mut(video_ost).ok_or(ffmpeg::Error::StreamNotFound).map_err(write_error)?;
        ost.set_parameters(&encoder);
        ost.set_time_base(encoder_tb);
        ost.set_avg_frame_rate(rate);

        let audio = add_audio_copy(&mut octx, decoder, out)?;
        octx.write_header().map_err(write_error)?;

        // The muxer may have replaced the time bases we suggested.
        let ost_tb = |octx: &Output, i: usize| octx.stream(i).map(|s| s.time_base());
        let video_ost_tb = ost_tb(&octx, video_ost).unwrap_or(encoder_tb);
        let audio =
            audio.map(|a| AudioCopy { ost_tb: ost_tb(&octx, a.ost).unwrap_or(a.ost_tb), ..a });
        Ok(Self {
            out: out.to_owned(),
            octx,
            encoder,
            video_ost,
            encoder_tb,
            video_ost_tb,
            audio,
            width,
            height,
        })
    }

    /// The encoded size: the source's, less the last column/row when odd.
    pub(crate) fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Muxes a demuxed packet if it belongs to the copied audio stream; ignores other streams.
    pub(crate) fn copy_packet(&mut self, packet: &mut Packet) -> Result<(), MediaError> {
        let Some(a) = &self.audio else { return Ok(()) };
        if packet.stream() != a.ist {
            return Ok(());
        }
        packet.set_pts(packet.pts().map(|t| t - a.offset));
        packet.set_dts(packet.dts().map(|t| t - a.offset));
        packet.rescale_ts(a.ist_tb, a.ost_tb);
        packet.set_stream(a.ost);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut self.octx)
            .map_err(|error| MediaError::Write { path: self.out.clone(), error })
    }

    /// Encodes output frame `index` (a yuv420p frame at [`Mp4Writer::size`]).
    pub(crate) fn encode(
        &mut self,
        frame: &mut frame::Video,
        index: u64,
    ) -> Result<(), MediaError> {
        // Constant frame rate: the encoder's time base is one frame, so the pts is the index.
        frame.set_pts(Some(index as i64));
        // The decoder's picture type would be taken as a forced frame type by libx264.
        frame.set_kind(picture::Type::None);
        self.encoder.send_frame(frame).map_err(|error| self.encode_error(index, error))?;
        self.drain(index)
    }

    /// Flushes the encoder and finishes the file (the caller then drops the writer to close it).
    pub(crate) fn finish(&mut self, frames: u64) -> Result<(), MediaError> {
        self.encoder.send_eof().map_err(|error| self.encode_error(frames, error))?;
        self.drain(frames)?;
        self.octx
            .write_trailer()
            .map_err(|error| MediaError::Write { path: self.out.clone(), error })
    }

    fn drain(&mut self, index: u64) -> Result<(), MediaError> {
        let mut packet = Packet::empty();
        loop {
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {}
                Err(ffmpeg::Error::Other { errno: ffmpeg::error::EAGAIN })
                | Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(error) => return Err(self.encode_error(index, error)),
            }
            packet.set_stream(self.video_ost);
            // libx264 leaves the duration unset; without it MP4 gives the last frame no time.
            packet.set_duration(1);
            packet.rescale_ts(self.encoder_tb, self.video_ost_tb);
            packet.set_position(-1);
            packet
                .write_interleaved(&mut self.octx)
                .map_err(|error| MediaError::Write { path: self.out.clone(), error })?;
        }
    }

    fn encode_error(&self, frame: u64, error: ffmpeg::Error) -> MediaError {
        MediaError::Encode { path: self.out.clone(), frame, error }
    }
}

/// Opens libx264 for yuv420p frames of `size` at constant `rate` (time base: one frame).
pub(crate) fn open_x264(
    decoder: &VideoDecoder,
    (width, height): (u32, u32),
    rate: Rational,
    global_header: bool,
    threads: Option<usize>,
    options: Dictionary,
    out: &Path,
) -> Result<encoder::Video, MediaError> {
    let error = |error| MediaError::Encoder { path: out.to_owned(), error };
    let codec =
        encoder::find_by_name("libx264").ok_or(ffmpeg::Error::EncoderNotFound).map_err(error)?;
    let mut context = codec::context::Context::new_with_codec(codec);
    context.set_threading(threading::Config {
        kind: threading::Type::Frame,
        // 0 is "auto"; FFmpeg's own default (1) would make x264 single-threaded.
        count: threads.unwrap_or(0),
        ..Default::default()
    });
    let mut enc = context.encoder().video().map_err(error)?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(rate.invert());
    enc.set_frame_rate(Some(rate));
    if let Some(stream) = decoder.input().stream(decoder.stream_index()) {
        let sar = sample_aspect_ratio(&stream);
        if sar.numerator() > 0 {
            enc.set_aspect_ratio(sar);
        }
    }
    let color = decoder.output_color();
    enc.set_color_range(color.range);
    enc.set_colorspace(color.space);
    enc.set_color_primaries(color.primaries);
    enc.set_color_transfer_characteristic(color.transfer);
    // MP4 keeps SPS/PPS in the sample description, not in-band: only formats that ask for it
    // get the global-header flag.
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    enc.open_with(options).map_err(error)
}

const X264_PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// The libx264 private options: rate control, preset and the fixed closed GOP.
pub(crate) fn x264_options(
    settings: &EncodeSettings,
    out: &Path,
) -> Result<Dictionary<'static>, MediaError> {
    let invalid = |reason: String| MediaError::Settings { path: out.to_owned(), reason };
    if !settings.crf.is_finite() || !(0.0..=51.0).contains(&settings.crf) {
        return Err(invalid(format!("crf {} is outside 0..=51", settings.crf)));
    }
    // Checked here because x264 reports a bad preset by printing to stderr itself.
    if !X264_PRESETS.contains(&settings.preset.as_str()) {
        let reason = format!(
            "unknown x264 preset {:?} (one of {})",
            settings.preset,
            X264_PRESETS.join(", ")
        );
        return Err(invalid(reason));
    }
    let mut options = Dictionary::new();
    options.set("preset", &settings.preset);
    let mut params = Vec::new();
    match settings.bitrate_kbps {
        Some(0) => return Err(invalid("bitrate must be at least 1 kbit/s".into())),
        Some(k) => {
            params.push(format!("bitrate={k}:vbv-maxrate={}:vbv-bufsize={}", k + k / 2, 2 * k))
        }
        None => options.set("crf", &settings.crf.to_string()),
    }
    match settings.keyint {
        Some(0) => return Err(invalid("keyint must be at least 1".into())),
        Some(n) => params.push(format!("keyint={n}:min-keyint={n}:scenecut=0:open-gop=0")),
        None => {}
    }
    if !params.is_empty() {
        options.set("x264-params", &params.join(":"));
    }
    Ok(options)
}

/// Adds a stream-copy of the source's first audio stream, if it has one.
fn add_audio_copy(
    octx: &mut Output,
    decoder: &VideoDecoder,
    out: &Path,
) -> Result<Option<AudioCopy>, MediaError> {
    let input = decoder.input();
    let Some(ist) = input.streams().find(|s| s.parameters().medium() == media::Type::Audio) else {
        return Ok(None);
    };
    let params = ist.parameters();
    // SAFETY: the output format descriptor is static; the query only reads it.
    let supported = unsafe {
        ffmpeg::ffi::avformat_query_codec(
            octx.format().as_ptr(),
            params.id().into(),
            ffmpeg::ffi::FF_COMPLIANCE_NORMAL,
        )
    };
    if supported == 0 {
        let reason = format!("MP4 cannot carry the source's {} audio", params.id().name());
        return Err(MediaError::Unsupported { path: out.to_owned(), reason });
    }
    let mut ost = octx
        .add_stream(encoder::find(codec::Id::None))
        .map_err(|error| MediaError::Write { path: out.to_owned(), error })?;
    ost.set_parameters(params);
    // SAFETY: writing a plain field of the stream's own parameters. The source container's tag
    // (e.g. from Matroska) may be invalid in MP4; 0 lets the muxer pick the right one.
    unsafe { (*ost.parameters().as_mut_ptr()).codec_tag = 0 };
    ost.set_time_base(ist.time_base());

    let video = input.stream(decoder.stream_index());
    let offset = video
        .filter(|v| v.start_time() != ffmpeg::ffi::AV_NOPTS_VALUE)
        .map_or(0, |v| v.start_time().rescale(v.time_base(), ist.time_base()));
    Ok(Some(AudioCopy {
        ist: ist.index(),
        ost: ost.index(),
        ist_tb: ist.time_base(),
        ost_tb: ist.time_base(),
        offset,
    }))
}

fn sample_aspect_ratio(stream: &format::stream::Stream) -> Rational {
    // SAFETY: reading one field of the stream's live codec parameters.
    let sar = unsafe { (*stream.parameters().as_ptr()).sample_aspect_ratio };
    Rational::from(sar)
}
