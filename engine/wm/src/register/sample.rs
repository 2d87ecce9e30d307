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
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>, Vec<f64>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
    }
    // The transform is separable (copy x from reference x, copy y from reference y), so
    // neighbouring cells share their edges in the copy too: look each edge crossing up once.
    SCRATCH.with_borrow_mut(|(xs, ys, table)| {
        let x_of = |x: f64| t.apply(x, 0.0).0 as f32;
        let y_of = |y: f64| t.apply(0.0, y).1 as f32;
        if t.is_separable()
            && shared_edges(grid.cols, grid.cell, clip.0 as f64, x_of, xs)
            && shared_edges(grid.rows, grid.cell, clip.1 as f64, y_of, ys)
        {
            copy.grid_means(xs, ys, MIN_INSIDE, table, out);
        } else {
            sample_cells(copy, grid, clip, t, out);
        }
    });
}

/// The integral-image rows [`sample_grid`] reads from a copy `copy_height` pixels high, when
/// it reads the cells through their shared edges (a separable transform, no inner edge clipped):
/// then a scorer may build only those rows ([`IntegralImage::fill_rows_only`]). `None` when it
/// reads cell by cell, anywhere in the table.
pub fn rows_read(
    grid: &RegionGrid,
    clip: (usize, usize),
    t: &Transform,
    copy_height: usize,
) -> Option<Vec<usize>> {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let x_of = |x: f64| t.apply(x, 0.0).0 as f32;
    let y_of = |y: f64| t.apply(0.0, y).1 as f32;
    (t.is_separable()
        && shared_edges(grid.cols, grid.cell, clip.0 as f64, x_of, &mut xs)
        && shared_edges(grid.rows, grid.cell, clip.1 as f64, y_of, &mut ys))
    .then(|| IntegralImage::rows_read(&ys, copy_height))
}

/// The copy coordinates of the `n + 1` cell edges along one axis (the last clipped to `clip`).
/// False if clipping cut an inner edge too, so cells no longer share edges.
fn shared_edges(
    n: usize,
    cell: f64,
    clip: f64,
    map: impl Fn(f64) -> f32,
    edges: &mut Vec<f32>,
) -> bool {
    edges.clear();
    for k in 0..=n {
        let at = k as f64 * cell;
        let clipped = if k == 0 { at } else { at.min(clip) };
        if k < n && k > 0 && clipped != at {
            return false;
        }
        edges.push(map(clipped));
    }
    true
}

/// [`sample_grid`] one cell at a time (any grid).
fn sample_cells(
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
            if t.is_separable() {
                let (cx0, cy0) = t.apply(x0, y0);
                let (cx1, cy1) = t.apply(x1, y1);
                out.push(copy.mean(cx0 as f32, cx1 as f32, cy0 as f32, cy1 as f32, MIN_INSIDE));
            } else {
                out.push(warped_cell_mean(copy, t, (x0, x1), (y0, y1)));
            }
        }
    }
}

/// Mean of the copy over a cell under a rotating or projective transform: the box centred
/// where the cell's centre lands, as wide and as tall as the mapped cell is across its middle.
/// The small angles of a copy (a few degrees) turn an 8-pixel block by a fraction of a pixel at
/// its corners, far below the watermark's smallest period, so an upright box reads it as well.
fn warped_cell_mean(
    copy: &IntegralImage,
    t: &Transform,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Option<f32> {
    let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (cx, cy) = t.apply(mx, my);
    let half = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).hypot(a.1 - b.1) / 2.0) as f32;
    let hw = half(t.apply(x0, my), t.apply(x1, my));
    let hh = half(t.apply(mx, y0), t.apply(mx, y1));
    let (cx, cy) = (cx as f32, cy as f32);
    copy.mean(cx - hw, cx + hw, cy - hh, cy + hh, MIN_INSIDE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedLuma;

    #[test]
    fn shared_edge_sampling_equals_per_cell_sampling() {
        let (w, h) = (71, 45);
        let mut img = OwnedLuma::new(w, h);
        for (i, p) in img.data.iter_mut().enumerate() {
            *p = (i * 53 % 241) as u8;
        }
        let mut ii = IntegralImage::new();
        ii.fill(&img.view());
        // A grid whose last cells are clipped by the reference size, and one that is not.
        for (grid, clip) in [
            (RegionGrid { cols: 10, rows: 6, cell: 8.0 }, (75, 44)),
            (RegionGrid { cols: 7, rows: 4, cell: 9.5 }, (80, 50)),
        ] {
            for t in [
                Transform::identity(clip.0, clip.1),
                Transform::axis_aligned(0.73, 0.81, (37.5, 22.0), (30.2, 19.7)),
                Transform::axis_aligned(1.4, 1.25, (37.5, 22.0), (41.0, 20.3)),
            ] {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                sample_grid(&ii, &grid, clip, &t, &mut fast);
                sample_cells(&ii, &grid, clip, &t, &mut slow);
                assert_eq!(fast.len(), grid.len());
                let bits =
                    |v: &[Option<f32>]| v.iter().map(|m| m.map(f32::to_bits)).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&slow), "{grid:?} {t:?}");
            }
        }
        // A clip that cuts an inner edge: cells no longer share edges, per-cell path.
        let grid = RegionGrid { cols: 10, rows: 6, cell: 8.0 };
        let mut edges = Vec::new();
        assert!(!shared_edges(grid.cols, grid.cell, 60.0, |x| x as f32, &mut edges));
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        let t = Transform::identity(60, 44);
        sample_grid(&ii, &grid, (60, 44), &t, &mut fast);
        sample_cells(&ii, &grid, (60, 44), &t, &mut slow);
        assert_eq!(fast, slow);
    }

    #[test]
    fn sampling_from_the_rows_read_equals_sampling_from_the_full_table() {
        let (w, h) = (83, 57);
        let mut img = OwnedLuma::new(w, h);
        for (i, p) in img.data.iter_mut().enumerate() {
            *p = (i * 29 % 251) as u8;
        }
        let mut full = IntegralImage::new();
        full.fill(&img.view());
        let grid = RegionGrid { cols: 10, rows: 7, cell: 8.0 };
        let clip = (80, 56);
        for t in [
            Transform::identity(clip.0, clip.1),
            Transform::axis_aligned(0.73, 0.81, (40.0, 28.0), (31.2, 22.7)),
            Transform::axis_aligned(1.3, 1.1, (40.0, 28.0), (45.0, 25.5)),
        ] {
            let rows = rows_read(&grid, clip, &t, h).expect("separable, shared edges");
            assert!(rows.len() < h, "{} rows of {h}", rows.len());
            let mut part = IntegralImage::new();
            part.fill_rows_only(&img.view(), false, &rows);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            sample_grid(&part, &grid, clip, &t, &mut a);
            sample_grid(&full, &grid, clip, &t, &mut b);
            let bits =
                |v: &[Option<f32>]| v.iter().map(|m| m.map(f32::to_bits)).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{t:?}");
        }
        let mut turned = Transform::identity(clip.0, clip.1);
        turned.kx = 0.01;
        assert!(rows_read(&grid, clip, &turned, h).is_none());
    }

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
