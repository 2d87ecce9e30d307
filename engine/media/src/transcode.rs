//! The one-pass decode → per-frame luma edit → H.264 encode of a whole file ([`transcode`]), and
//! the all-or-nothing handling of the output file.

use std::path::Path;

use super::encode::Mp4Writer;
use super::{EncodeSettings, FrameError, MediaError, VideoDecoder};
use abmark_wm::frame::LumaMut;

/// What a finished [`transcode`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct TranscodeStats {
    pub frames: u64,
    /// `frames` at the output frame rate.
    pub seconds_of_video: f64,
    /// The encoded size: the source's, less the last column/row when odd (H.264 4:2:0 cannot
    /// code odd sizes).
    pub width: usize,
    pub height: usize,
}

/// Decodes SOURCE's video, lets `per_frame` edit each frame's luma, encodes H.264 and copies the
/// first audio stream, writing an MP4 at `out`.
///
/// * Video: libx264, yuv420p, the source's size (less the last column/row when odd), constant
///   frame rate at [`super::VideoInfo::frame_rate`]. Frames are numbered consecutively and
///   timed `index / rate`: a variable-frame-rate source is re-timed to its average rate (no frame
///   is dropped or duplicated), so its audio may drift against the video.
/// * `per_frame(index, pts_seconds, luma)`: `pts_seconds` is the frame's time in OUT
///   (`index / rate`), which for constant-rate sources is also its source time relative to the
///   first frame. Returning an error aborts the transcode with [`MediaError::Callback`].
/// * `progress(frames_done)` is called after each frame is handed to the encoder.
/// * Audio: the first audio stream is copied unchanged, shifted so that it keeps its sync with
///   the video when the source's video does not start at 0.
/// * All or nothing: the file is written to a temp sibling (`.NAME.partial-PID-N`) and renamed
///   to `out` only on success; on any error the temp file is removed and `out` is untouched.
/// * Rotation metadata is not carried over (the output is stored as decoded).
pub fn transcode<F>(
    source: &Path,
    out: &Path,
    settings: &EncodeSettings,
    progress: &mut dyn FnMut(u64),
    mut per_frame: F,
) -> Result<TranscodeStats, MediaError>
where
    F: FnMut(u64, f64, LumaMut<'_>) -> Result<(), FrameError>,
{
    super::init();
    let temp = super::temp_output(out)?;
    let mut decoder = VideoDecoder::open(source)?;
    let fps = decoder.info().fps;
    let mut writer = Mp4Writer::create(temp.path(), out, &decoder, settings)?;
    let (width, height) = writer.size();

    let mut frames = 0u64;
    loop {
        // A `let` so that the closure's borrow of `writer` ends before the body uses it.
        let next = decoder.next_frame_with(&mut |packet| writer.copy_packet(packet))?;
        let Some(mut frame) = next else { break };
        let index = frames;
        let video = frame.video_mut();
        // Odd-sized sources lose their last column/row: narrowing the frame is enough, the
        // buffers stay as they are.
        video.set_width(width);
        video.set_height(height);
        let pts_seconds = index as f64 / fps;
        per_frame(index, pts_seconds, frame.luma_mut()).map_err(|error| MediaError::Callback {
            path: out.to_owned(),
            frame: index,
            error,
        })?;
        writer.encode(frame.video_mut(), index)?;
        frames += 1;
        progress(frames);
    }
    if frames == 0 {
        return Err(MediaError::NoFrames { path: source.to_owned() });
    }
    writer.finish(frames)?;
    // Dropping the writer closes the file before it is renamed.
    drop(writer);
    temp.persist(out)?;
    Ok(TranscodeStats {
        frames,
        seconds_of_video: frames as f64 / fps,
        width: width as usize,
        height: height as usize,
    })
}
