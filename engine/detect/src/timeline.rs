//! Fingerprint timelines of video files, for temporal registration.

use std::path::Path;

use crate::copy::HeldFrames;
use crate::symbols::{open_at, Progress};
use crate::video::ReferenceVideo;
use abmark_media::MediaError;
use abmark_wm::detector::NearestFrames;
use abmark_wm::register::temporal::{fingerprint, Timeline};

/// Fingerprints of the reference's frames, and its frame rate.
pub fn fingerprints(
    reference: &ReferenceVideo,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Timeline, f64), MediaError> {
    let info = reference.info()?;
    let mut frames = reference.frames_from(0.0)?;
    let total = info.duration_seconds.map(|d| (d * info.fps).round() as u64);
    let mut timeline = Timeline::default();
    while let Some(frame) = frames.next_frame()? {
        timeline.push(frame.pts(), fingerprint(&frame.luma()));
        if timeline.len() % 25 == 0 {
            progress(Progress { frames: timeline.len() as u64, total });
        }
    }
    Ok((timeline, info.fps))
}

/// The fingerprints of `seconds` of `path` from time `from` (to the end when the file is
/// shorter), offering every frame decoded to `collect` (registration frames from the same
/// decode) and to `held` (the planes kept for scoring the piece without decoding it again).
pub fn fingerprints_from(
    path: &Path,
    from: f64,
    seconds: f64,
    collect: &mut NearestFrames,
    held: &mut HeldFrames,
) -> Result<Timeline, MediaError> {
    let mut decoder = open_at(path, from)?;
    let fps = decoder.info().fps;
    let mut timeline = Timeline::default();
    let next = loop {
        let Some(frame) = decoder.next_frame()? else {
            collect.end();
            break None;
        };
        if from > 0.0 && frame.pts_seconds < from {
            continue; // a jump lands on the keyframe before `from`
        }
        if frame.pts_seconds > from + seconds {
            break Some(frame);
        }
        let luma = frame.luma();
        collect.offer(frame.pts_seconds, &luma, fps);
        held.hold(frame.pts_seconds, &luma);
        timeline.push(frame.pts_seconds, fingerprint(&luma));
    };
    held.finish(decoder, next);
    Ok(timeline)
}
