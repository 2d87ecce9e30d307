//! Reading registration frames from a file nobody else decodes: [`open_at`] positions a decoder
//! at a copy time through the container's index, [`frames_near`] feeds a
//! [`NearestFrames`] from there. The registration itself is the core's
//! ([`abmark_wm::detector`]).

use std::path::Path;

use abmark_media::{MediaError, VideoDecoder};
use abmark_wm::detector::NearestFrames;

/// Opens `path` for reading from copy time `from`: through the container's index when that
/// lands at or before `from`, else (no index, or a wrong one) from the start. Frames before
/// `from` may still come; callers skip them by time.
pub fn open_at(path: &Path, from: f64) -> Result<VideoDecoder, MediaError> {
    let mut decoder = VideoDecoder::open(path)?;
    if from <= 0.0 {
        return Ok(decoder);
    }
    match decoder.seek_before(from)? {
        Some(at) if at > from => VideoDecoder::open(path),
        _ => Ok(decoder),
    }
}

/// Decodes `path` from copy time `from` until `collect` is complete.
pub fn frames_near(path: &Path, from: f64, collect: &mut NearestFrames) -> Result<(), MediaError> {
    let mut decoder = open_at(path, from)?;
    let fps = decoder.info().fps;
    while !collect.is_complete() {
        let Some(frame) = decoder.next_frame()? else {
            collect.end();
            break;
        };
        collect.offer(frame.pts_seconds, &frame.luma(), fps);
    }
    Ok(())
}
