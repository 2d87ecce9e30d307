//! Plain views of an 8-bit luma plane: the only picture type the watermark kernels see.
//!
//! Decoded frames come from FFmpeg with arbitrary strides (rows padded for SIMD); the kernels take
//! a borrowed view with an explicit stride so that no frame is ever copied just to be marked or
//! scored. Chroma is never touched by the watermark, so only luma has a type here.

/// A read-only 8-bit luma plane: `height` rows of `width` pixels, rows `stride` bytes apart.
#[derive(Clone, Copy, Debug)]
pub struct Luma<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
}

/// A mutable 8-bit luma plane, same layout as [`Luma`].
#[derive(Debug)]
pub struct LumaMut<'a> {
    pub data: &'a mut [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
}

impl<'a> Luma<'a> {
    /// Wraps `data`, checking that every row fits. Returns `None` when the layout is inconsistent.
    pub fn new(data: &'a [u8], width: usize, height: usize, stride: usize) -> Option<Self> {
        layout_fits(data.len(), width, height, stride).then_some(Self {
            data,
            width,
            height,
            stride,
        })
    }

    /// Row `y` (exactly `width` pixels).
    #[inline]
    pub fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }
}

impl<'a> LumaMut<'a> {
    /// Wraps `data`, checking that every row fits. Returns `None` when the layout is inconsistent.
    pub fn new(data: &'a mut [u8], width: usize, height: usize, stride: usize) -> Option<Self> {
        layout_fits(data.len(), width, height, stride).then_some(Self {
            data,
            width,
            height,
            stride,
        })
    }

    /// A read-only view of the same plane.
    pub fn as_luma(&self) -> Luma<'_> {
        Luma { data: self.data, width: self.width, height: self.height, stride: self.stride }
    }
}

fn layout_fits(len: usize, width: usize, height: usize, stride: usize) -> bool {
    width > 0 && height > 0 && stride >= width && (height - 1) * stride + width <= len
}

/// A tightly packed luma image owned by the caller (tests, benchmarks, synthetic frames).
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedLuma {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

impl OwnedLuma {
    pub fn new(width: usize, height: usize) -> Self {
        Self { data: vec![0; width * height], width, height }
    }
    pub fn view(&self) -> Luma<'_> {
        Luma { data: &self.data, width: self.width, height: self.height, stride: self.width }
    }
    pub fn view_mut(&mut self) -> LumaMut<'_> {
        LumaMut { data: &mut self.data, width: self.width, height: self.height, stride: self.width }
    }
}
