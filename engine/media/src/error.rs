//! The one error type of the media module.
//!
//! Every variant's `Display` is a single line that names the file and what failed, with FFmpeg's
//! own message at the end. The FFmpeg error is part of that line rather than a `source()`, so that
//! `anyhow`-style chains (`{:#}`) do not print it twice.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;

/// What a per-frame callback of [`super::transcode`] may fail with: any error, boxed. `?` on the
/// caller's own error type works inside the closure, and the caller gets its error back from
/// [`MediaError::Callback`] with `downcast`.
pub type FrameError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why reading, decoding, encoding or writing media failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The container could not be opened or parsed (missing file, not media, no `moov`...).
    #[error("cannot open {}: {error}", path.display())]
    Open { path: PathBuf, error: ffmpeg::Error },

    /// FFmpeg's C API takes paths as UTF-8 strings.
    #[error("cannot use {}: the path is not valid UTF-8", path.display())]
    NonUtf8Path { path: PathBuf },

    #[error("{} has no video stream", path.display())]
    NoVideoStream { path: PathBuf },

    /// The video stream declares no usable size or frame rate.
    #[error("{}: unusable video stream: {reason}", path.display())]
    BadStream { path: PathBuf, reason: String },

    #[error("{}: cannot open the {codec} decoder: {error}", path.display())]
    Decoder { path: PathBuf, codec: String, error: ffmpeg::Error },

    /// Reading the next packet from the container failed (I/O error, damaged container).
    #[error("{}: read failed after frame {frame}: {error}", path.display())]
    Read { path: PathBuf, frame: u64, error: ffmpeg::Error },

    /// The container's index lists more video frames than the file holds.
    #[error("{}: truncated: only {present} of {expected} video frames are present", path.display())]
    Truncated { path: PathBuf, present: u64, expected: u64 },

    #[error("{}: decode failed at frame {frame}: {error}", path.display())]
    Decode { path: PathBuf, frame: u64, error: ffmpeg::Error },

    /// swscale could not convert a decoded picture to 8-bit YUV 4:2:0.
    #[error("{}: cannot convert frame {frame} from {format} to yuv420p", path.display())]
    Convert { path: PathBuf, frame: u64, format: String },

    #[error("{}: no video frame could be decoded", path.display())]
    NoFrames { path: PathBuf },

    #[error("invalid encode settings for {}: {reason}", path.display())]
    Settings { path: PathBuf, reason: String },

    #[error("cannot open the H.264 encoder for {}: {error}", path.display())]
    Encoder { path: PathBuf, error: ffmpeg::Error },

    #[error("cannot write {}: encode failed at frame {frame}: {error}", path.display())]
    Encode { path: PathBuf, frame: u64, error: ffmpeg::Error },

    /// Creating, muxing into or closing the output container failed.
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: ffmpeg::Error },

    /// The output cannot hold what the source has (e.g. an audio codec MP4 does not carry).
    #[error("cannot write {}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },

    /// A file-system step around the output failed (creating the temp file beside it, renaming
    /// the finished one into place).
    #[error("cannot write {}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },

    /// The caller's per-frame callback returned an error; the output was not written.
    #[error("cannot write {}: frame callback failed at frame {frame}: {error}", path.display())]
    Callback { path: PathBuf, frame: u64, error: FrameError },
}

impl MediaError {
    /// The file the error is about (the source for reading errors, OUT for writing errors).
    pub fn path(&self) -> &Path {
        match self {
            Self::Open { path, .. }
            | Self::NonUtf8Path { path }
            | Self::NoVideoStream { path }
            | Self::BadStream { path, .. }
            | Self::Decoder { path, .. }
            | Self::Read { path, .. }
            | Self::Truncated { path, .. }
            | Self::Decode { path, .. }
            | Self::Convert { path, .. }
            | Self::NoFrames { path }
            | Self::Settings { path, .. }
            | Self::Encoder { path, .. }
            | Self::Encode { path, .. }
            | Self::Write { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Io { path, .. }
            | Self::Callback { path, .. } => path,
        }
    }
}

impl From<abmark_files::output::OutputError> for MediaError {
    fn from(e: abmark_files::output::OutputError) -> Self {
        use abmark_files::output::OutputError;
        match e {
            OutputError::Io { path, source } => Self::Io { path, error: source },
            OutputError::Exists(path) => {
                Self::Io { path, error: std::io::Error::from(std::io::ErrorKind::AlreadyExists) }
            }
        }
    }
}
