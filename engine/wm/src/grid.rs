//! The block grid a frame is marked and scored on.
//!
//! The grid depends only on the frame size: blocks are square, about 1/160 of the width, so that
//! a pattern has the same look (blobs a few percent of the picture wide) at every resolution, and
//! the detector, working in the reference's geometry, rebuilds the same grid from the reference size.

/// Number of blocks across a frame we aim for.
const TARGET_COLS: usize = 160;

/// Square blocks of `block` pixels; `cols` x `rows` of them cover the frame (the last row and
/// column may be partial).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockGrid {
    pub width: usize,
    pub height: usize,
    pub block: usize,
    pub cols: usize,
    pub rows: usize,
}

impl BlockGrid {
    /// The grid for a `width` x `height` frame.
    pub fn for_frame(width: usize, height: usize) -> Self {
        let block = ((width as f64 / TARGET_COLS as f64).round() as usize).max(2);
        Self { width, height, block, cols: width.div_ceil(block), rows: height.div_ceil(block) }
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.cols * self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixel rectangle `[x0, x1) x [y0, y1)` of block `(c, r)`, clipped to the frame.
    pub fn block_rect(&self, c: usize, r: usize) -> (usize, usize, usize, usize) {
        let x0 = c * self.block;
        let y0 = r * self.block;
        (x0, (x0 + self.block).min(self.width), y0, (y0 + self.block).min(self.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_cover_common_sizes() {
        let g = BlockGrid::for_frame(1920, 1080);
        assert_eq!((g.block, g.cols, g.rows), (12, 160, 90));
        let g = BlockGrid::for_frame(1280, 720);
        assert_eq!((g.block, g.cols, g.rows), (8, 160, 90));
        let g = BlockGrid::for_frame(321, 241);
        assert_eq!(g.block, 2);
        assert!(g.cols * g.block >= 321 && g.rows * g.block >= 241);
    }
}
