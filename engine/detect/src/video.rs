//! The reference as a stream of unmarked pictures: the source file itself, or the host rebuilt
//! from the two variants of a variants output ([`abmark_media::host`]), for when the source
//! is gone. Everything after this module (the feed, registration, the timeline) sees frames and
//! a geometry, not where they came from.

use std::path::{Path, PathBuf};

use abmark_media::host::{HostDecoder, HostFrame, HostReference};
use abmark_media::{DecodedFrame, MediaError, VideoDecoder, VideoInfo};
use abmark_wm::frame::Luma;

/// Where the unmarked reference pictures come from.
#[derive(Clone, Debug)]
pub enum ReferenceVideo {
    /// The unmarked source video.
    Source(PathBuf),
    /// The mean of the two variants of a variants output (the source need not exist).
    Variants(HostReference),
}

impl From<&Path> for ReferenceVideo {
    fn from(path: &Path) -> Self {
        Self::Source(path.to_owned())
    }
}

/// Seconds of reference before an excerpt's start from which on jumping there beats decoding
/// through (a jump lands on the keyframe before, up to a GOP early).
const SEEK_FROM: f64 = 4.0;

impl ReferenceVideo {
    /// The file or directory the pictures come from (for messages).
    pub fn path(&self) -> &Path {
        match self {
            Self::Source(p) => p,
            Self::Variants(h) => h.out(),
        }
    }

    /// The reference as the detector reads it: the picture size is the geometry the copy is
    /// registered and scored in (for the variants, the top rendition's, whatever rung is
    /// decoded).
    pub fn info(&self) -> Result<VideoInfo, MediaError> {
        match self {
            Self::Source(p) => abmark_media::probe(p),
            Self::Variants(h) => {
                let mut info = h.decoder(f64::INFINITY)?.info().clone();
                (info.width, info.height) = h.geometry();
                Ok(info)
            }
        }
    }

    /// The size pictures are decoded at, when it is not the geometry ([`Self::info`]): a
    /// smaller variants rung with the same block grid.
    pub fn decoded_size(&self) -> Option<(usize, usize)> {
        match self {
            Self::Source(_) => None,
            Self::Variants(h) => Some(h.decoded_size()).filter(|&s| s != h.geometry()),
        }
    }

    /// Decodes from the keyframe at or before `from` seconds (from the start when that skips
    /// little); frames before `from` may still come and are skipped by time.
    pub(crate) fn frames_from(&self, from: f64) -> Result<ReferenceFrames, MediaError> {
        match self {
            Self::Source(path) => {
                let mut decoder = VideoDecoder::open(path)?;
                if from >= SEEK_FROM {
                    // If the container's index is wrong and the jump lands after that time,
                    // start again from the beginning (frames would be missing otherwise).
                    let late = from + 0.5 / decoder.info().fps.max(1.0);
                    if decoder.seek_before(from)?.is_some_and(|at| at > late) {
                        decoder = VideoDecoder::open(path)?;
                    }
                }
                Ok(ReferenceFrames::Source(decoder))
            }
            Self::Variants(h) => Ok(ReferenceFrames::Host(h.decoder(from)?)),
        }
    }
}

/// An open reference stream (one lives per piece read: its size does not matter).
#[allow(clippy::large_enum_variant)]
pub(crate) enum ReferenceFrames {
    Source(VideoDecoder),
    Host(HostDecoder),
}

/// One unmarked picture.
pub(crate) enum ReferenceFrame {
    Source(DecodedFrame),
    Host(HostFrame),
}

impl ReferenceFrames {
    /// The frame rate.
    pub fn fps(&self) -> f64 {
        match self {
            Self::Source(d) => d.info().fps,
            Self::Host(d) => d.info().fps,
        }
    }

    pub fn next_frame(&mut self) -> Result<Option<ReferenceFrame>, MediaError> {
        Ok(match self {
            Self::Source(d) => d.next_frame()?.map(ReferenceFrame::Source),
            Self::Host(d) => d.next_frame()?.map(ReferenceFrame::Host),
        })
    }
}

impl ReferenceFrame {
    pub fn pts(&self) -> f64 {
        match self {
            Self::Source(f) => f.pts_seconds,
            Self::Host(f) => f.pts_seconds,
        }
    }

    /// The picture at the size it was decoded (a variants rung may be smaller than the
    /// reference geometry; its block grid is the same).
    pub fn luma(&self) -> Luma<'_> {
        match self {
            Self::Source(f) => f.luma(),
            Self::Host(f) => f.luma(),
        }
    }
}
