//! Resizing yuv420p frames for a rendition ladder (swscale, bicubic), into a reused frame.

use std::path::{Path, PathBuf};

use ffmpeg::format::Pixel;
use ffmpeg::frame;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;

use super::MediaError;

/// A scaler from one size to another; owns its output frame so that scaling does not allocate.
pub struct Scaler {
    context: scaling::Context,
    out: frame::Video,
    label: PathBuf,
}

// SAFETY: the swscale context is only used through `&mut self`, so from one thread at a time,
// and holds no thread-affine state.
unsafe impl Send for Scaler {}

impl Scaler {
    /// A bicubic yuv420p scaler; `label` names the output in errors.
    pub fn new(from: (u32, u32), to: (u32, u32), label: &Path) -> Result<Self, MediaError> {
        let context = scaling::Context::get(
            Pixel::YUV420P,
            from.0,
            from.1,
            Pixel::YUV420P,
            to.0,
            to.1,
            scaling::Flags::BICUBIC,
        )
        .map_err(|error| MediaError::Settings {
            path: label.to_owned(),
            reason: format!("cannot scale {}x{} to {}x{}: {error}", from.0, from.1, to.0, to.1),
        })?;
        let out = frame::Video::new(Pixel::YUV420P, to.0, to.1);
        Ok(Self { context, out, label: label.to_owned() })
    }

    /// Scales `input` (frame number `index`) into the scaler's own frame and returns it.
    pub(crate) fn scale(
        &mut self,
        input: &frame::Video,
        index: u64,
    ) -> Result<&mut frame::Video, MediaError> {
        self.context.run(input, &mut self.out).map_err(|_| MediaError::Convert {
            path: self.label.clone(),
            frame: index,
            format: "yuv420p (rescale)".into(),
        })?;
        Ok(&mut self.out)
    }
}
