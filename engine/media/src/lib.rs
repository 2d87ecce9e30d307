//! abmark-media: FFmpeg decode and encode, and the pipelines that need them: everything abmark
//! does with media files goes through here.
//!
//! This crate owns the FFmpeg libraries (through `ffmpeg-next`): opening and describing files
//! ([`probe`]), decoding a video stream to 8-bit YUV 4:2:0 frames whose luma the watermark
//! kernels see ([`VideoDecoder`]), and the one-pass mark-and-re-encode of a file to H.264/MP4 with
//! its audio copied ([`transcode`]). Nothing outside it touches FFmpeg types. On top of those:
//! [`variants`] (one decode, two watermarked encodes, aligned CMAF), [`mark`] (one symbol over
//! a whole file), [`mix`] (the exact stream one viewer receives, as one MP4), and [`import`] +
//! [`package_file`] (any H.264/AAC MP4 into clear CMAF tracks, then the packager).
//!
//! May depend on: `ffmpeg-next`, the format crates (`abmark-bmff`, `abmark-delivery`,
//! `abmark-cenc`), the core (`abmark-wm`), `abmark-files`. Must not: serve HTTP or hold
//! detection logic (that is `abmark-detect`).
//!
//! FFmpeg never prints: [`init`] silences its log, and every failure comes back as a
//! [`MediaError`] naming the file. Decoded frames are turned upright by the
//! stream's rotation metadata, as players show them (`rotate`).

mod audio;
mod convert;
mod decode;
mod encode;
mod error;
mod h264_encoder;
pub mod host;
pub mod import;
pub mod mark;
pub mod mix;
pub mod package_file;
mod probe;
mod remux;
mod rotate;
mod scale;
mod shared;
mod transcode;
pub mod variants;

pub use audio::{read_audio_packets, AudioPacket, AudioTrackInfo};
pub use decode::{DecodedFrame, VideoDecoder};
pub use encode::EncodeSettings;
pub use error::{FrameError, MediaError};
pub use h264_encoder::{EncodedPacket, H264Encoder};
pub use probe::{probe, VideoInfo};
pub use remux::remux;
pub use scale::Scaler;
pub use shared::SharedFrame;
pub use transcode::{transcode, TranscodeStats};

use std::path::Path;

use ffmpeg_next as ffmpeg;

use abmark_files::output::TempFile;

/// Initialises FFmpeg once and silences its logging (a library must not write to stderr).
/// Idempotent and cheap; every entry point of this module calls it, so callers need not.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // On FFmpeg 5+ this only fills ffmpeg-next's error-message table and cannot fail; the
        // Result exists for older FFmpeg versions.
        let _ = ffmpeg::init();
        ffmpeg::log::set_level(ffmpeg::log::Level::Quiet);
    });
}

/// The temporary sibling an FFmpeg muxer writes `out` into (FFmpeg takes paths as UTF-8).
fn temp_output(out: &Path) -> Result<TempFile, MediaError> {
    if out.to_str().is_none() {
        return Err(MediaError::NonUtf8Path { path: out.to_owned() });
    }
    Ok(TempFile::beside(out)?)
}
