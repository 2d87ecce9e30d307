//! Opening a container and describing its video stream ([`VideoInfo`]).

use std::path::Path;

use ffmpeg::format::context::Input;
use ffmpeg::format::stream::Disposition;
use ffmpeg::{media, Rational};
use ffmpeg_next as ffmpeg;

use super::MediaError;

/// What [`probe`] (and [`super::VideoDecoder::info`]) report about a file's video stream.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    /// Size of the pictures as shown: the coded size, turned by `rotation`.
    pub width: usize,
    pub height: usize,
    /// Clockwise quarter turns from the stream's display matrix, in degrees (0, 90, 180, 270).
    /// The decoder applies it, so frames come out upright, as players show them.
    pub rotation: u16,
    /// `frame_rate` as a number.
    pub fps: f64,
    /// The rate frames are numbered and re-encoded at: the stream's exact rate
    /// (`r_frame_rate`) when it agrees with the average within 1%, otherwise the average rate
    /// (variable-frame-rate sources).
    pub frame_rate: (i32, i32),
    /// From the stream, else from the container; `None` when neither knows.
    pub duration_seconds: Option<f64>,
    /// As declared by the container (MP4 does, Matroska does not); `None` when unknown.
    pub frame_count: Option<u64>,
    /// FFmpeg's codec name, e.g. `h264`.
    pub codec: String,
    pub has_audio: bool,
}

/// Opens `path` and describes its best video stream, without decoding anything.
pub fn probe(path: &Path) -> Result<VideoInfo, MediaError> {
    super::init();
    let input = open_input(path)?;
    let stream = video_stream_index(&input, path)?;
    video_info(&input, stream, path)
}

/// Opens a container for reading. Guards FFmpeg's path conversion, which panics on non-UTF-8.
pub(crate) fn open_input(path: &Path) -> Result<Input, MediaError> {
    if path.to_str().is_none() {
        return Err(MediaError::NonUtf8Path { path: path.to_owned() });
    }
    ffmpeg::format::input(path).map_err(|error| MediaError::Open { path: path.to_owned(), error })
}

/// Index of the stream FFmpeg ranks best among the real video streams (cover art is not video).
pub(crate) fn video_stream_index(input: &Input, path: &Path) -> Result<usize, MediaError> {
    input
        .streams()
        .best(media::Type::Video)
        .filter(|s| !s.disposition().contains(Disposition::ATTACHED_PIC))
        .map(|s| s.index())
        .ok_or_else(|| MediaError::NoVideoStream { path: path.to_owned() })
}

/// Describes stream `index` of `input` (which must be a video stream).
pub(crate) fn video_info(
    input: &Input,
    index: usize,
    path: &Path,
) -> Result<VideoInfo, MediaError> {
    let bad = |reason: &str| MediaError::BadStream { path: path.to_owned(), reason: reason.into() };
    let stream = input.stream(index).ok_or_else(|| bad("stream vanished"))?;
    let params = stream.parameters();
    // SAFETY: `params` points at the stream's live AVCodecParameters; we only read two ints.
    let (width, height) = unsafe {
        let p = params.as_ptr();
        ((*p).width, (*p).height)
    };
    if width <= 0 || height <= 0 {
        return Err(bad("unknown picture size"));
    }
    let frame_rate = pick_frame_rate(stream.rate(), stream.avg_frame_rate())
        .ok_or_else(|| bad("unknown frame rate"))?;

    let tb = stream.time_base();
    let duration_seconds = if stream.duration() > 0 && tb.denominator() > 0 {
        Some(stream.duration() as f64 * f64::from(tb))
    } else if input.duration() > 0 {
        Some(input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE))
    } else {
        None
    };
    let frame_count = u64::try_from(stream.frames()).ok().filter(|&n| n > 0);
    let has_audio = input.streams().any(|s| s.parameters().medium() == media::Type::Audio);
    let rotation = super::rotate::stream_rotation(&stream);
    let (width, height) = if rotation % 180 == 90 { (height, width) } else { (width, height) };

    Ok(VideoInfo {
        width: width as usize,
        height: height as usize,
        rotation,
        fps: f64::from(frame_rate),
        frame_rate: (frame_rate.numerator(), frame_rate.denominator()),
        duration_seconds,
        frame_count,
        codec: params.id().name().to_owned(),
        has_audio,
    })
}

/// The exact nominal rate when the stream is constant-rate, else the average.
///
/// `r_frame_rate` is exact for constant-rate streams (e.g. 30000/1001) while the average can be
/// slightly off (it is derived from the duration); for variable-rate streams `r_frame_rate` is
/// only a timestamp granularity (often far above the real rate), so the average is used.
fn pick_frame_rate(real: Rational, average: Rational) -> Option<Rational> {
    let valid = |r: Rational| r.numerator() > 0 && r.denominator() > 0;
    match (valid(real), valid(average)) {
        (true, true) => {
            let (r, a) = (f64::from(real), f64::from(average));
            Some(if (r - a).abs() <= 0.01 * a { real } else { average })
        }
        (true, false) => Some(real),
        (false, true) => Some(average),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rate_prefers_exact_rate_when_close() {
        let exact = Rational::new(30000, 1001);
        let avg = Rational::new(2997, 100);
        assert_eq!(pick_frame_rate(exact, avg), Some(exact));
        // VFR: r_frame_rate is a timebase granularity, far from the average.
        let vfr_real = Rational::new(90, 1);
        assert_eq!(pick_frame_rate(vfr_real, avg), Some(avg));
        assert_eq!(pick_frame_rate(Rational::new(0, 0), avg), Some(avg));
        assert_eq!(pick_frame_rate(Rational::new(0, 1), Rational::new(0, 0)), None);
    }
}
