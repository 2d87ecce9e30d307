//! The reference side of detection: a reference frame reduced to what scoring needs (block
//! means and the embedder's mask).

use crate::frame::Luma;
use crate::mask::{mask_from_stats, BlockStats};
use crate::register::RegionGrid;
use crate::BlockGrid;

/// One reference frame as the scorer sees it.
pub struct Reference {
    pub pts: f64,
    /// Mean luma of each watermark block, read exactly as copy blocks are read.
    pub means: Vec<f32>,
    /// The mask the embedder computed for this frame.
    pub mask: Vec<f32>,
}

/// The watermark grid as registration cells (same blocks, clipped at the frame edge).
pub fn region_grid(grid: &BlockGrid) -> RegionGrid {
    RegionGrid { cols: grid.cols, rows: grid.rows, cell: grid.block as f64 }
}

/// Turns reference frames into [`Reference`]s, reusing its buffers.
pub struct ReferenceReducer {
    grid: BlockGrid,
    stats: BlockStats,
    scratch: Vec<f32>,
}

impl ReferenceReducer {
    pub fn new(grid: BlockGrid) -> Self {
        Self { grid, stats: BlockStats::default(), scratch: Vec::new() }
    }

    pub fn reduce(&mut self, luma: &Luma<'_>, pts: f64) -> Reference {
        let mut out = Reference { pts, means: Vec::new(), mask: Vec::new() };
        self.reduce_into(luma, pts, &mut out);
        out
    }

    /// Like [`ReferenceReducer::reduce`], reusing `out`'s buffers.
    pub fn reduce_into(&mut self, luma: &Luma<'_>, pts: f64, out: &mut Reference) {
        self.stats.compute(luma, &self.grid);
        mask_from_stats(&self.stats, &self.grid, &mut out.mask, &mut self.scratch);
        out.means.clear();
        out.means.extend(self.stats.full_mean.iter());
        out.pts = pts;
    }
}
