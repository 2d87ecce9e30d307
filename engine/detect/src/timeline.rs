//! Fingerprint timelines of video files, for temporal registration.

use std::path::Path;

use crate::symbols::{open_at, Progress};
use abmark_media::{MediaError, VideoDecoder};
use abmark_wm::detector::NearestFrames;
use abmark_wm::register::temporal::{fingerprint, Timeline};

/// Fingerprints of `path`'s frames (the first `limit_seconds` if given), and its frame rate.
pub fn fingerprints(
    path: &Path,
    limit_seconds: Option<f64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Timeline, f64), MediaError> {
    let mut decoder = VideoDecoder::open(path)?;
    let info = decoder.info().clone();
    let total = match limit_seconds {
        Some(s) => Some((s * info.fps).round() as u64),
        None => info.duration_seconds.map(|d| (d * info.fps).round() as u64),
    };
    let mut timeline = Timeline::default();
    while let Some(frame) = decoder.next_frame()? {
        if limit_seconds.is_some_and(|limit| frame.pts_seconds > limit) {
            break;
        }
        timeline.push(frame.pts_seconds, fingerprint(&frame.luma()));
        if timeline.len() % 25 == 0 {
            progress(Progress { frames: timeline.len() as u64, total });
        }
    }
    Ok((timeline, info.fps))
}

/// The fingerprints of `seconds` of `path` from time `from` (to the end when the file is
/// shorter), offering every frame decoded to `collect` (registration frames from the same
/// decode).
pub fn fingerprints_from(
    path: &Path,
    from: f64,
    seconds: f64,
    collect: &mut NearestFrames,
) -> Result<Timeline, MediaError> {
    let mut decoder = open_at(path, from)?;
    let fps = decoder.info().fps;
    let mut timeline = Timeline::default();
    loop {
        let Some(frame) = decoder.next_frame()? else {
            collect.end();
            break;
        };
        if from > 0.0 && frame.pts_seconds < from {
            continue; // a jump lands on the keyframe before `from`
        }
        if frame.pts_seconds > from + seconds {
            break;
        }
        let luma = frame.luma();
        collect.offer(frame.pts_seconds, &luma, fps);
        timeline.push(frame.pts_seconds, fingerprint(&luma));
    }
    Ok(timeline)
}
