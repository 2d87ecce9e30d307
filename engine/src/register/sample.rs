//! Reading a picture on a grid of rectangles defined in reference coordinates.

use super::Transform;
use crate::dsp::IntegralImage;

/// A regular grid of `cols x rows` cells of `cell` reference pixels each, starting at the
/// reference origin. The watermark's block grid and the registration grids are all of this kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionGrid {
    pub cols: usize,
    pub rows: usize,
    pub cell: f64,
}

impl RegionGrid {
    /// About `target_cols` cells across a `width` x `height` reference.
    pub fn across(width: usize, height: usize, target_cols: usize) -> Self {
        let cell = width as f64 / target_cols as f64;
        Self { cols: target_cols, rows: (height as f64 / cell).floor().max(1.0) as usize, cell }
    }

    pub fn len(&self) -> usize {
        self.cols * self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Share of a cell that must fall inside the copy for it to count: edge cells that are mostly
/// outside would mix picture with whatever surrounds it.
pub const MIN_INSIDE: f32 = 0.98;

/// Mean of the copy over each grid cell mapped through `t` (`None` where the cell leaves the
/// copy). Cells are clipped to `clip` (reference width, height) so partial edge blocks of the
/// watermark grid match what the embedder saw.
pub fn sample_grid(
    copy: &IntegralImage,
    grid: &RegionGrid,
    clip: (usize, usize),
    t: &Transform,
    out: &mut Vec<Option<f32>>,
) {
    out.clear();
    for r in 0..grid.rows {
        let y0 = r as f64 * grid.cell;
        let y1 = ((r + 1) as f64 * grid.cell).min(clip.1 as f64);
        for c in 0..grid.cols {
            let x0 = c as f64 * grid.cell;
            let x1 = ((c + 1) as f64 * grid.cell).min(clip.0 as f64);
            let (cx0, cy0) = t.apply(x0, y0);
            let (cx1, cy1) = t.apply(x1, y1);
            out.push(copy.mean(cx0 as f32, cx1 as f32, cy0 as f32, cy1 as f32, MIN_INSIDE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedLuma;

    #[test]
    fn identity_sampling_gives_block_means_and_shifts_move_them() {
        let (w, h) = (64, 32);
        let mut img = OwnedLuma::new(w, h);
        for y in 0..h {
            for x in 0..w {
                img.data[y * w + x] = (x * 3 + y) as u8;
            }
        }
        let mut ii = IntegralImage::new();
        ii.fill(&img.view());
        let grid = RegionGrid { cols: 8, rows: 4, cell: 8.0 };
        let mut out = Vec::new();
        sample_grid(&ii, &grid, (w, h), &Transform::identity(w, h), &mut out);
        // Block (1, 0): x 8..16, y 0..8: mean of 3x + y = 3 * 11.5 + 3.5.
        assert!((out[1].unwrap() - 38.0).abs() < 1e-3);
        let mut shifted = Transform::identity(w, h);
        shifted.ux += 2.0;
        sample_grid(&ii, &grid, (w, h), &shifted, &mut out);
        assert!((out[1].unwrap() - 44.0).abs() < 1e-3);
        assert!(out[7].is_none(), "last column leaves the picture");
    }
}
