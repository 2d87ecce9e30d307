//! Fine registration: adjust scale (per axis) and position until the copy, read at the
//! reference's cells, correlates best with the reference.
//!
//! A pattern search (try a step up and down in each parameter, keep improvements, halve steps
//! that fail) on the mean correlation coefficient over several frames, on a grid of about 200
//! cells across. Direct and derivative-free: it converges from the coarse estimate to a few
//! hundredths of a pixel, and the correlation it ends on doubles as the match quality
//! ("does this copy show the reference at all?").

use super::sample::{sample_grid, RegionGrid};
use super::Transform;
#[cfg(test)]
use crate::dsp::IntegralImage;

use super::coarse::FramePair;

const FINE_COLS: usize = 200;

/// The refined transform and the mean correlation coefficient it reaches (-1..1).
#[derive(Clone, Copy, Debug)]
pub struct FineFit {
    pub transform: Transform,
    pub correlation: f64,
}

/// Precomputed reference cells, so each trial only reads the copies.
pub struct Refiner<'a> {
    pairs: &'a [FramePair<'a>],
    grid: RegionGrid,
    ref_size: (usize, usize),
    reference: Vec<Vec<f32>>,
    scratch: Vec<Option<f32>>,
}

impl<'a> Refiner<'a> {
    pub fn new(pairs: &'a [FramePair<'a>], ref_size: (usize, usize)) -> Self {
        Self::with_cols(pairs, ref_size, FINE_COLS)
    }

    /// A refiner on a grid of about `cols` cells across the reference.
    pub fn with_cols(pairs: &'a [FramePair<'a>], ref_size: (usize, usize), cols: usize) -> Self {
        let grid = RegionGrid::across(ref_size.0, ref_size.1, cols);
        let identity = Transform::identity(ref_size.0, ref_size.1);
        let mut scratch = Vec::new();
        let reference = pairs
            .iter()
            .map(|p| {
                sample_grid(p.reference, &grid, ref_size, &identity, &mut scratch);
                scratch.iter().map(|v| v.unwrap_or(0.0)).collect()
            })
            .collect();
        Self { pairs, grid, ref_size, reference, scratch }
    }

    /// Reference pixels per grid cell.
    pub fn cell(&self) -> f64 {
        self.grid.cell
    }

    /// Mean over frames of the correlation between reference cells and copy cells under `t`.
    /// Needs at least a quarter of the cells inside the copy, else scores -1.
    pub fn score(&mut self, t: &Transform) -> f64 {
        let mut total = 0.0;
        for (pair, reference) in self.pairs.iter().zip(&self.reference) {
            sample_grid(pair.copy, &self.grid, self.ref_size, t, &mut self.scratch);
            total += correlation(reference, &self.scratch, self.grid.len() / 4);
        }
        total / self.pairs.len().max(1) as f64
    }

    /// Pattern search from `start`.
    pub fn refine(&mut self, start: Transform) -> FineFit {
        // Parameters: ln sx, ln sy, ux, uy. Steps start at 2 % and 2 cells' worth of pixels.
        let cell = self.grid.cell;
        let mut params = [start.sx.ln(), start.sy.ln(), start.ux, start.uy];
        let mut steps = [0.02, 0.02, 2.0 * cell * start.sx, 2.0 * cell * start.sy];
        let min_steps = [1e-4, 1e-4, 0.03, 0.03];
        let build = |p: &[f64; 4]| Transform {
            sx: p[0].exp(),
            sy: p[1].exp(),
            ux: p[2],
            uy: p[3],
            ..start
        };
        let mut best = self.score(&build(&params));
        pattern_search(&mut params, &mut steps, &min_steps, 400, &mut best, |p| {
            self.score(&build(p))
        });
        FineFit { transform: build(&params), correlation: best }
    }
}

/// Derivative-free pattern search, maximising `score`: try a step up and down in each
/// parameter, keep the first improvement, halve the step of a parameter that found none; stop
/// when every step is below its minimum or after `rounds` rounds. `best` holds the score of
/// `params` on entry and of the result on return.
pub(super) fn pattern_search<const N: usize>(
    params: &mut [f64; N],
    steps: &mut [f64; N],
    min_steps: &[f64; N],
    rounds: usize,
    best: &mut f64,
    mut score: impl FnMut(&[f64; N]) -> f64,
) {
    for _ in 0..rounds {
        let mut moved = false;
        for i in 0..N {
            if steps[i] < min_steps[i] {
                continue;
            }
            let mut improved = false;
            for dir in [1.0, -1.0] {
                let mut trial = *params;
                trial[i] += dir * steps[i];
                let s = score(&trial);
                if s > *best {
                    *best = s;
                    *params = trial;
                    improved = true;
                    break;
                }
            }
            if improved {
                moved = true;
            } else {
                steps[i] *= 0.5;
            }
        }
        if !moved && steps.iter().zip(min_steps).all(|(s, m)| s < m) {
            break;
        }
    }
}

/// Pearson correlation over the cells present in `copy`; -1 when fewer than `min_cells`.
fn correlation(reference: &[f32], copy: &[Option<f32>], min_cells: usize) -> f64 {
    let sums = PairedSums::of(reference, copy);
    if sums.n < min_cells.max(2) {
        return -1.0;
    }
    let (cov, vr, vc) = sums.centred();
    if vr <= 0.0 || vc <= 0.0 {
        return 0.0;
    }
    cov / (vr * vc).sqrt()
}

pub(crate) use crate::simd::PairedSums;

impl PairedSums {
    /// The sums over the cells present in `copy` ([`crate::simd::Kernels::paired_sums`]).
    pub(crate) fn of(reference: &[f32], copy: &[Option<f32>]) -> Self {
        crate::simd::kernels().paired_sums(reference, copy)
    }
}

/// Below this fine correlation the usual scale range is taken to have missed, and the
/// thumbnail range is searched as well (the better fit wins). Copies in range register at 0.8
/// and above, even through heavy noise and re-encoding.
const TRY_SMALL_BELOW: f64 = 0.5;

/// Coarse then fine: the transform mapping the reference onto the copies of `pairs` —
/// scale and shift first, then, only if it clearly helps, rotation, shear and perspective
/// ([`super::warp`]).
pub fn register(pairs: &[FramePair<'_>], ref_size: (usize, usize)) -> Option<FineFit> {
    use super::coarse::{estimate, SMALL, USUAL};
    let mut refiner = Refiner::new(pairs, ref_size);
    let usual = estimate(pairs, ref_size, USUAL).map(|c| refiner.refine(c.transform));
    let fit = match usual {
        Some(f) if f.correlation >= TRY_SMALL_BELOW => f,
        usual => {
            let small = estimate(pairs, ref_size, SMALL).map(|c| refiner.refine(c.transform));
            match (usual, small) {
                (Some(u), Some(s)) if s.correlation > u.correlation => s,
                (u, s) => u.or(s)?,
            }
        }
    };
    Some(super::warp::refine_warp(pairs, ref_size, &mut refiner, fit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedLuma;

    /// A picture with structure at many scales and no periodicity: random overlapping
    /// rectangles and discs on a gradient (periodic test scenes alias the shift search).
    fn scene(w: usize, h: usize, seed: f32) -> OwnedLuma {
        let mut state = (seed.to_bits() as u64) * 2654435761 + 12345;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut img = OwnedLuma::new(w, h);
        for y in 0..h {
            for x in 0..w {
                img.data[y * w + x] = (60 + x * 80 / w + y * 40 / h) as u8;
            }
        }
        for _ in 0..120 {
            let (cx, cy, rw, rh, v) =
                (next(w), next(h), 4 + next(60), 4 + next(60), next(256) as u8);
            let disc = next(2) == 0;
            for y in cy.saturating_sub(rh)..(cy + rh).min(h) {
                for x in cx.saturating_sub(rw)..(cx + rw).min(w) {
                    let (dx, dy) =
                        ((x as f32 - cx as f32) / rw as f32, (y as f32 - cy as f32) / rh as f32);
                    if !disc || dx * dx + dy * dy < 1.0 {
                        img.data[y * w + x] = v;
                    }
                }
            }
        }
        img
    }

    /// Renders the copy a transform describes, by bilinear sampling of the reference.
    fn warp(src: &OwnedLuma, t: &Transform, w: usize, h: usize) -> OwnedLuma {
        let mut out = OwnedLuma::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (rx, ry) = invert(t, x as f64 + 0.5, y as f64 + 0.5);
                let (rx, ry) = (rx - 0.5, ry - 0.5);
                if rx < 0.0
                    || ry < 0.0
                    || rx >= (src.width - 1) as f64
                    || ry >= (src.height - 1) as f64
                {
                    out.data[y * w + x] = 16;
                    continue;
                }
                let (x0, y0) = (rx as usize, ry as usize);
                let (fx, fy) = (rx - x0 as f64, ry - y0 as f64);
                let p = |xx: usize, yy: usize| src.data[yy * src.width + xx] as f64;
                let v = p(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + p(x0 + 1, y0) * fx * (1.0 - fy)
                    + p(x0, y0 + 1) * (1.0 - fx) * fy
                    + p(x0 + 1, y0 + 1) * fx * fy;
                out.data[y * w + x] = v.round() as u8;
            }
        }
        out
    }

    /// The reference point `t` maps to copy point `(x, y)`: Newton's method from the
    /// axis-aligned guess (exact at once for axis-aligned transforms).
    fn invert(t: &Transform, x: f64, y: f64) -> (f64, f64) {
        let mut p = ((x - t.ux) / t.sx + t.cx, (y - t.uy) / t.sy + t.cy);
        for _ in 0..8 {
            let (fx, fy) = t.apply(p.0, p.1);
            let (ex, ey) = (fx - x, fy - y);
            if ex.abs() + ey.abs() < 1e-9 {
                break;
            }
            let h = 1e-3;
            let (ax, ay) = t.apply(p.0 + h, p.1);
            let (bx, by) = t.apply(p.0, p.1 + h);
            let (j00, j10, j01, j11) = ((ax - fx) / h, (ay - fy) / h, (bx - fx) / h, (by - fy) / h);
            let det = j00 * j11 - j01 * j10;
            p.0 -= (j11 * ex - j01 * ey) / det;
            p.1 -= (-j10 * ex + j00 * ey) / det;
        }
        p
    }

    fn check(truth: Transform, copy_size: (usize, usize)) {
        let (w, h) = (640, 360);
        let refs: Vec<OwnedLuma> = (0..3).map(|i| scene(w, h, i as f32 * 1.7)).collect();
        let copies: Vec<OwnedLuma> =
            refs.iter().map(|r| warp(r, &truth, copy_size.0, copy_size.1)).collect();
        let ii = |img: &OwnedLuma| {
            let mut ii = IntegralImage::new();
            ii.fill(&img.view());
            ii
        };
        let ref_ii: Vec<IntegralImage> = refs.iter().map(ii).collect();
        let copy_ii: Vec<IntegralImage> = copies.iter().map(ii).collect();
        let pairs: Vec<FramePair<'_>> = ref_ii
            .iter()
            .zip(&copy_ii)
            .map(|(reference, copy)| FramePair { reference, copy })
            .collect();
        let fit = register(&pairs, (w, h)).expect("a fit");
        let t = fit.transform;
        // Compare where the reference corners land.
        for (x, y) in [(0.0, 0.0), (w as f64, h as f64), (w as f64, 0.0)] {
            let (a, b) = (t.apply(x, y), truth.apply(x, y));
            assert!(
                (a.0 - b.0).abs() < 0.6 && (a.1 - b.1).abs() < 0.6,
                "corner ({x},{y}) -> {a:?}, truth {b:?}; fit {t:?} corr {}",
                fit.correlation
            );
        }
        assert!(fit.correlation > 0.95, "correlation {}", fit.correlation);
    }

    #[test]
    fn recovers_downscale() {
        let mut t = Transform::identity(640, 360);
        (t.sx, t.sy, t.ux, t.uy) = (0.5, 0.5, 160.0, 90.0);
        check(t, (320, 180));
    }

    #[test]
    fn recovers_crop_and_rescale() {
        // Crop 5 % per side, scale back to full size: scale 1/0.9 about the centre.
        let mut t = Transform::identity(640, 360);
        (t.sx, t.sy) = (1.0 / 0.9, 1.0 / 0.9);
        check(t, (640, 360));
    }

    #[test]
    fn recovers_thumbnail_below_the_usual_scale_range() {
        // 640x360 shown at 192x108: 0.3x, below the usual search range.
        let mut t = Transform::identity(640, 360);
        (t.sx, t.sy, t.ux, t.uy) = (0.3, 0.3, 96.0, 54.0);
        check(t, (192, 108));
    }

    #[test]
    fn recovers_rotation() {
        for degrees in [2.0f64, -3.0] {
            let mut t = Transform::identity(640, 360);
            let a = degrees.to_radians();
            (t.sx, t.sy, t.kx, t.ky) =
                (0.9 * a.cos(), 0.9 * a.cos(), -0.9 * a.sin(), 0.9 * a.sin());
            check(t, (640, 360));
        }
    }

    #[test]
    fn recovers_perspective_of_a_filmed_screen() {
        // Slightly rotated, the right side further away, seen from a little above.
        let mut t = Transform::identity(640, 360);
        (t.sx, t.sy, t.kx, t.ky, t.px, t.py) = (0.92, 0.9, -0.01, 0.025, 0.04, -0.03);
        (t.ux, t.uy) = (322.0, 178.0);
        check(t, (640, 360));
    }

    #[test]
    fn upright_copies_keep_a_separable_transform() {
        let mut t = Transform::identity(640, 360);
        (t.sx, t.sy, t.ux, t.uy) = (0.75, 0.7, 330.0, 250.0);
        let (w, h) = (640, 360);
        let r = scene(w, h, 3.1);
        let c = warp(&r, &t, 720, 480);
        let (mut ri, mut ci) = (IntegralImage::new(), IntegralImage::new());
        ri.fill(&r.view());
        ci.fill(&c.view());
        let pairs = [FramePair { reference: &ri, copy: &ci }];
        let fit = register(&pairs, (w, h)).expect("a fit");
        assert!(fit.transform.is_separable(), "{:?}", fit.transform);
    }

    #[test]
    fn recovers_letterbox_with_shift_and_aspect() {
        // Scaled 0.75 x 0.7 into a bigger canvas, off centre.
        let mut t = Transform::identity(640, 360);
        (t.sx, t.sy, t.ux, t.uy) = (0.75, 0.7, 330.0, 250.0);
        check(t, (720, 480));
    }
}
