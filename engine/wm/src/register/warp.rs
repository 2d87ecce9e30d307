//! Warp refinement: rotation, shear and perspective on top of the axis-aligned fit.
//!
//! A copy filmed off a screen, or turned a degree or two to get past content matching, no
//! longer maps rows to rows, and an axis-aligned fit that is right at the centre is pixels off
//! at the corners. Starting from the fit of [`super::refine`], a pattern search over all eight
//! parameters of the homography ([`Transform`]) maximises the same correlation, on a coarser
//! grid: a warped grid is read cell by cell rather than edge by edge, so each trial costs more.
//! The search runs only when a first step in a warp parameter already raises the correlation,
//! and its result is kept only when it raises it by [`MIN_GAIN`]: an upright copy keeps its
//! exact axis-aligned transform (and its fast, separable sampling) and pays for eight trials.

use super::coarse::FramePair;
use super::refine::{pattern_search, FineFit, Refiner};
use super::Transform;

/// Cells across the reference while searching the warp.
const WARP_COLS: usize = 100;
/// Correlation a warp must add to be adopted; fitting four more parameters to thousands of
/// cells gains far less than this by chance.
const MIN_GAIN: f64 = 0.005;
/// Search rounds at most per pass (each tries every parameter once or twice).
const ROUNDS: usize = 150;
/// First steps of the warp parameters (for `kx`, `ky`: about 0.6 degrees of rotation).
const FIRST_WARP_STEP: f64 = 0.01;
/// Rotations tried before the search, degrees: a search one parameter at a time can settle
/// on a shear-and-perspective compromise for a turned picture, so it starts from the best turn.
const MAX_TURN_DEGREES: f64 = 6.0;
const TURN_STEP_DEGREES: f64 = 0.5;

/// `fit` with rotation, shear and perspective added if they clearly improve it. `fine` is the
/// refiner `fit` was found with; the returned correlation is on its grid, comparable with
/// `fit.correlation`.
pub fn refine_warp(
    pairs: &[FramePair<'_>],
    ref_size: (usize, usize),
    fine: &mut Refiner<'_>,
    fit: FineFit,
) -> FineFit {
    let mut coarse = Refiner::with_cols(pairs, ref_size, WARP_COLS);
    let t0 = fit.transform;
    let start = coarse.score(&t0);
    let build = |p: &[f64; 8]| Transform {
        sx: p[0].exp(),
        sy: p[1].exp(),
        ux: p[2],
        uy: p[3],
        kx: p[4],
        ky: p[5],
        px: p[6],
        py: p[7],
        ..t0
    };
    let upright = [t0.sx.ln(), t0.sy.ln(), t0.ux, t0.uy, t0.kx, t0.ky, t0.px, t0.py];

    // The best turn, and whether any warp parameter helps at all.
    let turns = (MAX_TURN_DEGREES / TURN_STEP_DEGREES).round() as i32;
    let mut params = upright;
    let mut best = start;
    for k in (-turns..=turns).filter(|&k| k != 0) {
        let a = (k as f64 * TURN_STEP_DEGREES).to_radians();
        let mut trial = upright;
        (trial[4], trial[5]) = (-a.sin() * t0.sy, a.sin() * t0.sx);
        let s = coarse.score(&build(&trial));
        if s > best {
            (best, params) = (s, trial);
        }
    }
    let helps = best > start
        || (6..8).any(|i| {
            [1.0, -1.0].iter().any(|dir| {
                let mut trial = upright;
                trial[i] += dir * FIRST_WARP_STEP;
                coarse.score(&build(&trial)) > start
            })
        });
    if !helps {
        return fit;
    }

    // Affine first (rotation and shear are common, perspective less so and it couples with
    // everything), then all eight. Each stage runs twice: a pattern search shrinks a step that
    // fails while other parameters are still far off, and fresh steps recover from that.
    let cell = coarse.cell();
    let w = FIRST_WARP_STEP;
    let first = [0.01, 0.01, cell * t0.sx, cell * t0.sy, w, w, w, w];
    let min_steps = [1e-4, 1e-4, 0.03, 0.03, 5e-5, 5e-5, 1e-4, 1e-4];
    for free in [6, 8] {
        for scale in [1.0, 0.5] {
            let mut steps = first.map(|s| s * scale);
            // Parameters not yet free get a step below their minimum: never tried.
            steps.iter_mut().skip(free).for_each(|s| *s = 0.0);
            pattern_search(&mut params, &mut steps, &min_steps, ROUNDS, &mut best, |p| {
                coarse.score(&build(p))
            });
        }
    }
    if best < start + MIN_GAIN {
        return fit;
    }
    let warped = build(&params);
    let correlation = fine.score(&warped);
    if correlation > fit.correlation {
        FineFit { transform: warped, correlation }
    } else {
        fit
    }
}
