//! A decoded frame shared read-only between encoder threads.

use ffmpeg::frame;
use ffmpeg_next as ffmpeg;

/// A yuv420p frame that several threads read (one per rendition of a variant). Each takes a
/// cheap reference that shares the pixel buffers (no pixel copy).
pub struct SharedFrame(frame::Video);

// SAFETY: the frame is never written after it is wrapped; readers only call av_frame_ref on
// it, which reads the source frame and bumps atomic buffer reference counts.
unsafe impl Sync for SharedFrame {}
unsafe impl Send for SharedFrame {}

impl SharedFrame {
    pub(crate) fn new(frame: frame::Video) -> Self {
        Self(frame)
    }

    /// A new frame referencing the same buffers (no pixel copy), owned by the caller.
    pub(crate) fn reference(&self) -> frame::Video {
        let mut out = frame::Video::empty();
        // SAFETY: both frames are valid AVFrames; av_frame_ref only reads the source. If it
        // fails (out of memory) the empty frame stays empty and the encoder reports an error.
        unsafe {
            ffmpeg::ffi::av_frame_ref(out.as_mut_ptr(), self.0.as_ptr());
        }
        out
    }
}
