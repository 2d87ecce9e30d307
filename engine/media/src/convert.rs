//! Bringing decoded pictures to 8-bit YUV 4:2:0 at the stream's size, and the colour description
//! that goes with the result.

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::util::color;
use ffmpeg::{decoder, frame};
use ffmpeg_next as ffmpeg;

/// Converts decoded pictures to yuv420p at a fixed size, creating the swscale context only when a
/// picture needs it (the common yuv420p case is a pass-through with no copy).
pub(crate) struct Converter {
    width: u32,
    height: u32,
    scaler: Option<Scaler>,
    last_source: Pixel,
}

/// `scaling::Context` is not `Send` only because it wraps a raw pointer; an SwsContext has no
/// thread affinity, and it is only ever used through `&mut`, so moving it between threads is
/// sound. This keeps [`super::VideoDecoder`] `Send`.
struct Scaler {
    context: scaling::Context,
    source: (Pixel, u32, u32),
}

// SAFETY: see the comment on `Scaler`: exclusive access only, no thread-local state.
unsafe impl Send for Scaler {}

impl Converter {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        Self { width, height, scaler: None, last_source: Pixel::None }
    }

    /// Name of the pixel format last seen, for error messages.
    pub(crate) fn last_source_format(&self) -> String {
        pixel_name(self.last_source)
    }

    /// `raw` itself when it already is 8-bit 4:2:0 at the target size, else a converted copy
    /// carrying the same timestamps and metadata. `None` when swscale refuses the conversion.
    pub(crate) fn make_yuv420p(&mut self, mut raw: frame::Video) -> Option<frame::Video> {
        let format = raw.format();
        self.last_source = format;
        let same_size = raw.width() == self.width && raw.height() == self.height;
        if same_size && matches!(format, Pixel::YUV420P | Pixel::YUVJ420P) && positive_strides(&raw)
        {
            if format == Pixel::YUVJ420P {
                // Same layout; the deprecated "J" format only meant full range, which the range
                // field says just as well (and x264 wants plain yuv420p).
                raw.set_format(Pixel::YUV420P);
                raw.set_color_range(color::Range::JPEG);
            }
            return Some(raw);
        }
        self.scale(&raw)
    }

    fn scale(&mut self, raw: &frame::Video) -> Option<frame::Video> {
        let source = (raw.format(), raw.width(), raw.height());
        if self.scaler.as_ref().is_none_or(|s| s.source != source) {
            let context = scaling::Context::get(
                source.0,
                source.1,
                source.2,
                Pixel::YUV420P,
                self.width,
                self.height,
                scaling::Flags::BICUBIC,
            )
            .ok()?;
            self.scaler = Some(Scaler { context, source });
        }
        let scaler = self.scaler.as_mut()?;
        let mut out = frame::Video::new(Pixel::YUV420P, self.width, self.height);
        // SAFETY: reading the plane pointer of a frame we own; null means allocation failed.
        if unsafe { (*out.as_ptr()).data[0].is_null() } {
            return None;
        }
        scaler.context.run(raw, &mut out).ok()?;
        // SAFETY: both frames are valid; this copies timestamps, colour fields and side data.
        if unsafe { ffmpeg::ffi::av_frame_copy_props(out.as_mut_ptr(), raw.as_ptr()) } < 0 {
            return None;
        }
        let color = YuvColor::after_swscale(source.0, &YuvColor::of_frame(raw));
        color.apply(&mut out);
        Some(out)
    }
}

/// The colour description of yuv420p pictures, as written into the H.264 VUI.
#[derive(Clone, Copy, Debug)]
pub(crate) struct YuvColor {
    pub range: color::Range,
    pub space: color::Space,
    pub primaries: color::Primaries,
    pub transfer: color::TransferCharacteristic,
}

impl YuvColor {
    fn of_frame(f: &frame::Video) -> Self {
        Self {
            range: f.color_range(),
            space: f.color_space(),
            primaries: f.color_primaries(),
            transfer: f.color_transfer_characteristic(),
        }
    }

    /// What the frames a decoder's pictures become after [`Converter`] look like, from the
    /// stream's declared format and colours (the encoder is configured before any frame).
    pub(crate) fn of_output(decoder: &decoder::Video) -> Self {
        let declared = Self {
            range: decoder.color_range(),
            space: decoder.color_space(),
            primaries: decoder.color_primaries(),
            transfer: decoder.color_transfer_characteristic(),
        };
        match decoder.format() {
            Pixel::YUVJ420P => Self { range: color::Range::JPEG, ..declared },
            Pixel::YUV420P | Pixel::None => declared,
            other => Self::after_swscale(other, &declared),
        }
    }

    /// swscale maps the "J" (full-range) formats to limited range, converts RGB with BT.601
    /// limited-range coefficients, and leaves other YUV values in their range.
    fn after_swscale(source: Pixel, before: &Self) -> Self {
        if is_rgb(source) {
            Self {
                range: color::Range::MPEG,
                space: color::Space::SMPTE170M,
                primaries: color::Primaries::Unspecified,
                transfer: color::TransferCharacteristic::Unspecified,
            }
        } else if pixel_name(source).starts_with("yuvj") {
            Self { range: color::Range::MPEG, ..*before }
        } else {
            *before
        }
    }

    fn apply(&self, f: &mut frame::Video) {
        f.set_color_range(self.range);
        f.set_color_space(self.space);
        f.set_color_primaries(self.primaries);
        f.set_color_transfer_characteristic(self.transfer);
    }
}

fn pixel_name(format: Pixel) -> String {
    format.descriptor().map_or_else(|| "an unknown pixel format".into(), |d| d.name().into())
}

fn is_rgb(format: Pixel) -> bool {
    format.descriptor().is_some_and(|d| {
        // SAFETY: descriptors are static tables inside libavutil.
        let flags = unsafe { (*d.as_ptr()).flags };
        flags & ffmpeg::ffi::AV_PIX_FMT_FLAG_RGB as u64 != 0
    })
}

/// Decoders never produce bottom-up pictures, but a negative line size would make the plane
/// slices below invalid, so such a picture goes through swscale, which handles it.
fn positive_strides(f: &frame::Video) -> bool {
    // SAFETY: reading line sizes of a frame we own.
    let linesize = unsafe { (*f.as_ptr()).linesize };
    linesize[..3].iter().all(|&l| l > 0)
}
