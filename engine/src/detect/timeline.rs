//! Fingerprint timelines of video files, for temporal registration.

use std::path::Path;

use crate::media::{MediaError, VideoDecoder};
use crate::register::temporal::{fingerprint, Timeline};
use crate::symbols::{NearestFrames, Progress};

/// Fingerprints of `path`'s frames (the first `limit_seconds` if given), and its frame rate.
pub fn fingerprints(
    path: &Path,
    limit_seconds: Option<f64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Timeline, f64), MediaError> {
    fingerprints_collecting(path, limit_seconds, None, progress)
}

/// [`fingerprints`], also offering every frame decoded to `collect` (registration frames from
/// the same decode).
pub fn fingerprints_collecting(
    path: &Path,
    limit_seconds: Option<f64>,
    mut collect: Option<&mut NearestFrames>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Timeline, f64), MediaError> {
    let mut decoder = VideoDecoder::open(path)?;
    let info = decoder.info().clone();
    let total = match limit_seconds {
        Some(s) => Some((s * info.fps).round() as u64),
        None => info.duration_seconds.map(|d| (d * info.fps).round() as u64),
    };
    let mut timeline = Timeline::default();
    loop {
        let Some(frame) = decoder.next_frame()? else {
            if let Some(c) = collect.as_deref_mut() {
                c.end();
            }
            break;
        };
        if limit_seconds.is_some_and(|limit| frame.pts_seconds > limit) {
            break;
        }
        let luma = frame.luma();
        if let Some(c) = collect.as_deref_mut() {
            c.offer(frame.pts_seconds, &luma, info.fps);
        }
        timeline.push(frame.pts_seconds, fingerprint(&luma));
        if timeline.len() % 25 == 0 {
            progress(Progress { frames: timeline.len() as u64, total });
        }
    }
    Ok((timeline, info.fps))
}
