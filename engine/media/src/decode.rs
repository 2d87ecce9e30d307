//! Decoding a file's video stream to 8-bit YUV 4:2:0 frames ([`VideoDecoder`], [`DecodedFrame`]).

use std::path::{Path, PathBuf};

use ffmpeg::codec::threading;
use ffmpeg::format::context::Input;
use ffmpeg::{decoder, frame, Packet, Rational, Rescale};
use ffmpeg_next as ffmpeg;

use super::convert::{Converter, YuvColor};
use super::probe::{open_input, video_info, video_stream_index};
use super::{MediaError, VideoInfo};
use abmark_wm::frame::{Luma, LumaMut};

/// Frame threads for the decoder: these machines have 2 cores and H.264 frame threading scales
/// well; more threads would only add latency and memory (each holds a frame in flight).
const DECODER_THREADS: usize = 2;

/// Decodes the best video stream of a file, one frame at a time, in presentation order.
///
/// Frames come out as 8-bit YUV 4:2:0 at the stream's own size: pictures already in
/// yuv420p/yuvj420p are passed through untouched (no copy); anything else (10-bit, 4:2:2, RGB...)
/// goes through swscale. Odd sizes are kept. Rotation metadata is ignored. At most a few frames
/// are in memory (FFmpeg's frame threads plus the frame handed out).
pub struct VideoDecoder {
    path: PathBuf,
    input: Input,
    stream_index: usize,
    time_base: Rational,
    decoder: decoder::Video,
    info: VideoInfo,
    converter: Converter,
    packet: Packet,
    /// Timestamp of the first frame, the origin of `pts_seconds`.
    first_ts: Option<i64>,
    last_pts_seconds: Option<f64>,
    next_index: u64,
    /// Video packets demuxed so far, to notice a truncated file (see `next_frame`).
    packets_read: u64,
    eof_sent: bool,
    finished: bool,
    /// Jumped ahead with [`VideoDecoder::seek_before`]: the packet count no longer tells a
    /// truncated file.
    seeked: bool,
    /// A frame read ahead by `seek_before`, handed out next.
    pending: Option<DecodedFrame>,
}

/// One decoded picture in 8-bit YUV 4:2:0.
pub struct DecodedFrame {
    /// 0, 1, 2... in presentation order.
    pub index: u64,
    /// Presentation time relative to the stream's first frame (a copy that starts at 1.4 s
    /// reports 0.0 for its first frame). Extrapolated at the nominal rate when a frame has no
    /// timestamp.
    pub pts_seconds: f64,
    frame: frame::Video,
}

impl VideoDecoder {
    /// Opens `path` and its best video stream's decoder (with FFmpeg's frame threading).
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        super::init();
        let input = open_input(path)?;
        Self::with_input(input, path)
    }

    /// Opens the files in `parts` read back to back as one stream (FFmpeg's `concat:`
    /// protocol): a CMAF track's init segment followed by media segments. Errors name `label`
    /// (the track's directory), not the joined list.
    pub fn open_concatenated(parts: &[PathBuf], label: &Path) -> Result<Self, MediaError> {
        super::init();
        let mut url = String::from("concat:");
        for (i, part) in parts.iter().enumerate() {
            let Some(text) = part.to_str() else {
                return Err(MediaError::NonUtf8Path { path: part.clone() });
            };
            if !part.is_file() {
                let error = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
                return Err(MediaError::Io { path: part.clone(), error });
            }
            if text.contains('|') {
                let reason = "a path with '|' cannot be read as part of a segment list".into();
                return Err(MediaError::BadStream { path: part.clone(), reason });
            }
            if i > 0 {
                url.push('|');
            }
            url.push_str(text);
        }
        let input = ffmpeg::format::input(&url)
            .map_err(|error| MediaError::Open { path: label.to_owned(), error })?;
        Self::with_input(input, label)
    }

    fn with_input(input: Input, path: &Path) -> Result<Self, MediaError> {
        let stream_index = video_stream_index(&input, path)?;
        let info = video_info(&input, stream_index, path)?;
        let stream = input
            .stream(stream_index)
            .ok_or_else(|| MediaError::NoVideoStream { path: path.to_owned() })?;
        let time_base = stream.time_base();

        let decoder_error =
            |error| MediaError::Decoder { path: path.to_owned(), codec: info.codec.clone(), error };
        let mut context = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(decoder_error)?;
        context.set_threading(threading::Config {
            kind: threading::Type::Frame,
            count: DECODER_THREADS,
            ..Default::default()
        });
        let mut opening = context.decoder();
        // Without the packet time base the decoder cannot fill best-effort timestamps reliably.
        opening.set_packet_time_base(time_base);
        let decoder = opening.video().map_err(decoder_error)?;

        // The converter works on coded pictures; rotation, if any, is applied after it.
        let (coded_w, coded_h) = if info.rotation % 180 == 90 {
            (info.height, info.width)
        } else {
            (info.width, info.height)
        };
        let converter = Converter::new(coded_w as u32, coded_h as u32);
        Ok(Self {
            path: path.to_owned(),
            input,
            stream_index,
            time_base,
            decoder,
            info,
            converter,
            packet: Packet::empty(),
            first_ts: None,
            last_pts_seconds: None,
            next_index: 0,
            packets_read: 0,
            eof_sent: false,
            finished: false,
            seeked: false,
            pending: None,
        })
    }

    /// Jumps, through the container's index, to the keyframe at or before `seconds` (relative
    /// to the first frame, like `pts_seconds`), so that decoding resumes a little before that
    /// time instead of from the start. Frames before `seconds` may still come; the caller
    /// skips them by `pts_seconds`. Returns the time of the first frame that will come next
    /// (already decoded and kept), or `None` if the decoder stayed where it was (no index, a
    /// stream without timestamps, or nothing to skip). After a jump `index` counts from an
    /// estimate (`seconds` times the nominal rate), and a cut file is no longer noticed.
    pub fn seek_before(&mut self, seconds: f64) -> Result<Option<f64>, MediaError> {
        if seconds <= 0.0 || self.finished || self.next_index > 0 {
            return Ok(None);
        }
        // The origin of `pts_seconds` is the first frame's timestamp: read it first (and keep
        // the frame, for when the decoder stays put).
        let Some(first) = self.next_frame()? else { return Ok(None) };
        let first_pts = first.pts_seconds;
        self.pending = Some(first);
        let Some(first_ts) = self.first_ts else { return Ok(None) };
        if first_pts >= seconds {
            return Ok(Some(first_pts));
        }
        let target = first_ts + (seconds / f64::from(self.time_base)).floor() as i64;
        let target_us = target.rescale(self.time_base, Rational::new(1, 1_000_000));
        // `..t`: the last keyframe at or before t (avformat_seek_file's max_ts is inclusive).
        if self.input.seek(target_us, ..target_us).is_err() {
            return Ok(None);
        }
        self.pending = None;
        self.decoder.flush();
        self.eof_sent = false;
        self.seeked = true;
        self.last_pts_seconds = None;
        self.next_index = (seconds * self.info.fps).floor().max(1.0) as u64;
        let next = self.next_frame()?;
        let at = next.as_ref().map(|f| f.pts_seconds);
        self.pending = next;
        Ok(at)
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// Next frame in presentation order, or `None` at the end (and on every call after it).
    ///
    /// Truncated files: when the container's index survived (an MP4 with its `moov` first),
    /// every frame whose data is present is returned, then [`MediaError::Truncated`] once, then
    /// `None`; when the index itself is cut off (`moov` last), [`VideoDecoder::open`] fails.
    /// Containers that declare no frame count (Matroska, MPEG-TS) just end early.
    ///
    /// An error is not fatal: calling again continues with the next packet (after a read error,
    /// with the frames still in the decoder), so a caller may skip damaged frames of a bad copy.
    pub fn next_frame(&mut self) -> Result<Option<DecodedFrame>, MediaError> {
        self.next_frame_with(&mut |_| Ok(()))
    }

    /// [`VideoDecoder::next_frame`], handing every packet of the other streams to `other` as it
    /// is read (the transcoder copies audio this way, in demuxing order).
    pub(crate) fn next_frame_with(
        &mut self,
        other: &mut dyn FnMut(&mut Packet) -> Result<(), MediaError>,
    ) -> Result<Option<DecodedFrame>, MediaError> {
        if let Some(frame) = self.pending.take() {
            return Ok(Some(frame));
        }
        if self.finished {
            return Ok(None);
        }
        let mut raw = frame::Video::empty();
        loop {
            match self.decoder.receive_frame(&mut raw) {
                Ok(()) => return self.finish_frame(raw).map(Some),
                Err(ffmpeg::Error::Eof) => {
                    self.finished = true;
                    return self.check_complete().map(|()| None);
                }
                Err(ffmpeg::Error::Other { errno: ffmpeg::error::EAGAIN }) if !self.eof_sent => {}
                // EAGAIN after EOF was sent cannot happen; treat it as the end rather than spin.
                Err(ffmpeg::Error::Other { errno: ffmpeg::error::EAGAIN }) => {
                    self.finished = true;
                    return Ok(None);
                }
                Err(error) => return Err(self.decode_error(error)),
            }
            match self.packet.read(&mut self.input) {
                Ok(()) if self.packet.stream() == self.stream_index => {
                    self.packets_read += 1;
                    if let Err(error) = self.decoder.send_packet(&self.packet) {
                        return Err(self.decode_error(error));
                    }
                }
                Ok(()) => other(&mut self.packet)?,
                Err(ffmpeg::Error::Eof) => {
                    self.eof_sent = true;
                    if let Err(error) = self.decoder.send_eof() {
                        return Err(self.decode_error(error));
                    }
                }
                Err(error) => {
                    // A container that cannot be read further is at its end: drain the frames
                    // still inside the decoder on the next calls instead of retrying the read.
                    self.eof_sent = true;
                    let _ = self.decoder.send_eof();
                    let frame = self.next_index;
                    return Err(MediaError::Read { path: self.path.clone(), frame, error });
                }
            }
        }
    }

    /// At the end: fewer video packets than the container's index lists means the file was cut.
    /// (Edit lists do not cause false alarms: trimmed packets are still demuxed, only not shown.)
    fn check_complete(&self) -> Result<(), MediaError> {
        if self.seeked {
            return Ok(());
        }
        match self.info.frame_count {
            Some(expected) if self.packets_read < expected => Err(MediaError::Truncated {
                path: self.path.clone(),
                present: self.packets_read,
                expected,
            }),
            _ => Ok(()),
        }
    }

    fn decode_error(&self, error: ffmpeg::Error) -> MediaError {
        MediaError::Decode { path: self.path.clone(), frame: self.next_index, error }
    }

    /// Numbers and times a decoded picture and brings it to yuv420p at the stream's size.
    fn finish_frame(&mut self, raw: frame::Video) -> Result<DecodedFrame, MediaError> {
        let index = self.next_index;
        let frame = self.converter.make_yuv420p(raw).ok_or_else(|| MediaError::Convert {
            path: self.path.clone(),
            frame: index,
            format: self.converter.last_source_format(),
        })?;
        let frame = match self.info.rotation {
            0 => frame,
            degrees => super::rotate::rotate(&frame, degrees),
        };
        let pts_seconds = match frame.timestamp() {
            Some(ts) => {
                let first = *self.first_ts.get_or_insert(ts);
                (ts - first) as f64 * f64::from(self.time_base)
            }
            None => self.last_pts_seconds.map_or(0.0, |last| last + 1.0 / self.info.fps),
        };
        self.last_pts_seconds = Some(pts_seconds);
        self.next_index += 1;
        Ok(DecodedFrame { index, pts_seconds, frame })
    }

    /// Colour description of the frames this decoder hands out (for the encoder's VUI).
    pub(crate) fn output_color(&self) -> YuvColor {
        YuvColor::of_output(&self.decoder)
    }

    pub(crate) fn input(&self) -> &Input {
        &self.input
    }

    pub(crate) fn stream_index(&self) -> usize {
        self.stream_index
    }
}

impl std::fmt::Debug for VideoDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoDecoder")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("next_index", &self.next_index)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DecodedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedFrame")
            .field("index", &self.index)
            .field("pts_seconds", &self.pts_seconds)
            .field("width", &self.width())
            .field("height", &self.height())
            .finish_non_exhaustive()
    }
}

impl DecodedFrame {
    pub fn width(&self) -> usize {
        self.frame.width() as usize
    }

    pub fn height(&self) -> usize {
        self.frame.height() as usize
    }

    /// The luma plane, read-only.
    pub fn luma(&self) -> Luma<'_> {
        Luma {
            data: self.frame.data(0),
            width: self.width(),
            height: self.height(),
            stride: self.frame.stride(0),
        }
    }

    /// The luma plane, writable. The decoder may still reference this picture (it is a
    /// reference frame for later ones), so the plane is first made private to this frame
    /// (a copy only when it is shared) — writing into it never corrupts later decoding.
    pub fn luma_mut(&mut self) -> LumaMut<'_> {
        // SAFETY: the frame owns a valid AVFrame; av_frame_make_writable either leaves it as is
        // or swaps in private copies of its buffers.
        let status = unsafe { ffmpeg::ffi::av_frame_make_writable(self.frame.as_mut_ptr()) };
        if status < 0 {
            // Only the allocation of the copy can fail here: abort as any failed Rust allocation.
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; 4096]>());
        }
        let (width, height, stride) = (self.width(), self.height(), self.frame.stride(0));
        LumaMut { data: self.frame.data_mut(0), width, height, stride }
    }

    /// The underlying FFmpeg frame (yuv420p), for the encoder.
    pub(crate) fn video_mut(&mut self) -> &mut frame::Video {
        &mut self.frame
    }

    /// A deep copy (own pixel buffers): the second variant of a frame.
    pub(crate) fn video_clone(&self) -> DecodedFrame {
        DecodedFrame { index: self.index, pts_seconds: self.pts_seconds, frame: self.frame.clone() }
    }

    /// The underlying FFmpeg frame, owned: for pipelines that send frames to other threads.
    pub(crate) fn into_video(self) -> frame::Video {
        self.frame
    }
}
