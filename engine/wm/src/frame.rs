//! Plain views of an 8-bit luma plane: the only picture type the watermark kernels see.
//!
//! Decoded frames come from FFmpeg with arbitrary strides (rows padded for SIMD); the kernels take
//! a borrowed view with an explicit stride so that no frame is ever copied just to be marked or
//! scored. Chroma is never touched by the watermark, so only luma has a type here.
//!
//! [`Luma::array`] shows the same plane as an ndarray `ArrayView2` (rows x columns, the row
//! stride kept), for code that slices rectangles or steps through a plane. The kernels keep the
//! plain row slices underneath: `Luma` stays the type they take, with public fields that FFmpeg
//! frames fill directly.

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

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

    /// The plane as a `height x width` array view over the same bytes (its rows `stride`
    /// apart), or `None` when the fields describe rows that do not fit in `data`.
    pub fn array(&self) -> Option<ArrayView2<'a, u8>> {
        let shape = (self.height, self.width).strides((self.stride, 1));
        ArrayView2::from_shape(shape, self.data).ok()
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

    /// [`Luma::array`], writable.
    pub fn array_mut(&mut self) -> Option<ArrayViewMut2<'_, u8>> {
        let shape = (self.height, self.width).strides((self.stride, 1));
        ArrayViewMut2::from_shape(shape, &mut *self.data).ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    #[test]
    fn array_views_keep_the_stride_and_skip_the_padding() {
        // 3 rows of 4 pixels, 6 bytes apart: the last two bytes of each row are padding.
        let mut data: Vec<u8> = (0..16).collect();
        let luma = Luma::new(&data, 4, 3, 6).expect("layout");
        let a = luma.array().expect("fits");
        assert_eq!(a.dim(), (3, 4));
        assert_eq!(a[[2, 3]], 15);
        assert_eq!(a.slice(s![1.., 1..3]).iter().copied().collect::<Vec<_>>(), [7, 8, 13, 14]);
        let padded = Luma { stride: 7, ..luma };
        assert!(padded.array().is_none(), "rows past the data");
        let mut plane = LumaMut::new(&mut data, 4, 3, 6).expect("layout");
        plane.array_mut().expect("fits").column_mut(0).fill(99);
        assert_eq!(&data[..8], &[99, 1, 2, 3, 4, 5, 99, 7]);
    }
}
