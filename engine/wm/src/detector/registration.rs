//! Spatial registration of a piece of a copy: pick a few informative frame pairs from the start
//! of the piece and the matching times of the reference (shifted by the temporal offset), and
//! register them together (one transform per piece: re-encodes, rescales, crops and
//! letterboxing hold until the copy is edited or re-framed, which [`super::LossMonitor`] notices).
//!
//! The frames are gathered by [`NearestFrames`] from whatever pass already decodes that part of
//! the file (the detection pipeline's temporal probe for the copy, its reference feed for the
//! reference); this module never decodes.

use ndarray::s;

use crate::dsp::IntegralImage;
use crate::frame::Luma;
use crate::register::coarse::FramePair;
use crate::register::refine::register;
use crate::register::Transform;

/// The copy's geometry and how well it matched.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Fit {
    pub transform: Transform,
    /// Mean correlation of copy and reference blocks after registration (about 1 for a copy of
    /// the reference, near 0 for other content).
    pub correlation: f64,
    /// The copy is flipped left to right: its frames are read mirrored, then `transform` applies.
    pub mirrored: bool,
}

/// A plain registration at least this good is taken as is: a mirrored picture of natural
/// content correlates far worse with the original than this.
const CLEARLY_NOT_MIRRORED: f64 = 0.9;
/// The mirrored reading must beat the plain one by this much: a flip turns a poor fit into a
/// good one, not into a marginally different one.
const MIRROR_MARGIN: f64 = 0.05;

/// Seconds between candidate frames, and how many candidates per frame finally used.
const CANDIDATE_SPACING: f64 = 1.0;
const CANDIDATES_PER_PAIR: usize = 3;

/// The copy times whose frames are registration candidates, for `pairs_wanted` pairs and a
/// piece of the copy that starts at copy time `from` and shows the reference at copy time +
/// `offset`: every second from half a second into the piece, or from where the reference starts
/// if the piece starts before it. The reference times are these plus `offset`.
pub fn candidate_times(pairs_wanted: usize, from: f64, offset: f64) -> Vec<f64> {
    let first = (from + 0.5).max(0.5 - offset);
    (0..pairs_wanted.max(1) * CANDIDATES_PER_PAIR)
        .map(|k| first + k as f64 * CANDIDATE_SPACING)
        .collect()
}

/// Collects, for each of a list of times, the frame nearest to it (as an integral image, with
/// how much the frame varies: the standard deviation of a coarse pixel sample), from frames
/// offered in presentation order. Only frames next to a target time cost anything.
pub struct NearestFrames {
    times: Vec<f64>,
    next: usize,
    /// The frame just before the next target time: it may be the nearer one.
    previous: Option<(f64, IntegralImage, f64)>,
    found: Vec<(f64, IntegralImage)>,
    size: Option<(usize, usize)>,
    /// The stream ended (or was cut) before every time was served: what was found is all.
    ended: bool,
}

impl NearestFrames {
    pub fn new(times: Vec<f64>) -> Self {
        Self { times, next: 0, previous: None, found: Vec::new(), size: None, ended: false }
    }

    /// The times asked for.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// Every time has its frame, or the stream ended: nothing more will come.
    pub fn is_complete(&self) -> bool {
        self.next >= self.times.len() || self.ended
    }

    /// Says the stream ended: later times have no frame.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Whether the frame shown at `pts` would be looked at by [`NearestFrames::offer`]: only the
    /// frames next to (or past) the next target time are. A caller that must prepare a frame
    /// before offering it (rescale it) prepares only these.
    pub fn wants(&self, pts: f64, fps: f64) -> bool {
        let frame = 1.0 / fps.max(1.0);
        self.times.get(self.next).is_some_and(|&target| pts + 1.5 * frame >= target)
    }

    /// Offers the frame shown at `pts` (`fps`: the stream's nominal rate). Returns true once
    /// every time is served.
    pub fn offer(&mut self, pts: f64, luma: &Luma<'_>, fps: f64) -> bool {
        self.size.get_or_insert((luma.width, luma.height));
        let frame = 1.0 / fps.max(1.0);
        // One frame serves at most one target: the next is a second later.
        if let Some(&target) = self.times.get(self.next) {
            if pts + 0.5 * frame < target {
                // Remember only the frame just before the target; it may be the nearer one.
                if pts + 1.5 * frame >= target {
                    self.previous = Some(measure(pts, luma));
                }
                return false;
            }
            let current = measure(pts, luma);
            let chosen = match self.previous.take() {
                Some(p) if (target - p.0).abs() < (current.0 - target).abs() => p,
                _ => current,
            };
            self.found.push((chosen.2, chosen.1));
            self.next += 1;
        }
        self.next >= self.times.len()
    }

    /// The picture size (of the frames offered) and the frames found, in target order.
    pub fn into_frames(self) -> ((usize, usize), Vec<(f64, IntegralImage)>) {
        (self.size.unwrap_or((0, 0)), self.found)
    }
}

fn measure(pts: f64, luma: &Luma<'_>) -> (f64, IntegralImage, f64) {
    let mut ii = IntegralImage::new();
    ii.fill(luma);
    (pts, ii, spread(luma))
}

/// Registers the copy against the reference from the frames found near the candidate times
/// ([`candidate_times`]; the same order on both sides), as it is and, unless that already fits
/// clearly, flipped left to right (pirates flip pictures to get past content matching); the
/// better fit wins. Falls back to the identity (with correlation 0) when nothing registers.
pub fn register_frames(copy: NearestFrames, reference: NearestFrames, pairs_wanted: usize) -> Fit {
    let (_, copies) = copy.into_frames();
    let (ref_size, references) = reference.into_frames();
    let mut candidates: Vec<(f64, &IntegralImage, &IntegralImage)> =
        references.iter().zip(&copies).map(|((spread, r), (_, c))| (*spread, r, c)).collect();
    let identity = Fit {
        transform: Transform::identity(ref_size.0, ref_size.1),
        correlation: 0.0,
        mirrored: false,
    };
    // Busy frames register best; black or flat ones carry no geometry.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    candidates.truncate(pairs_wanted.max(1));
    let fit = |pairs: &[FramePair<'_>], mirrored: bool| {
        register(pairs, ref_size).map(|f| Fit {
            transform: f.transform,
            correlation: f.correlation,
            mirrored,
        })
    };
    let pairs: Vec<FramePair<'_>> =
        candidates.iter().map(|(_, reference, copy)| FramePair { reference, copy }).collect();
    let plain = fit(&pairs, false);
    if plain.is_some_and(|f| f.correlation >= CLEARLY_NOT_MIRRORED) {
        return plain.unwrap_or(identity);
    }
    let flipped: Vec<IntegralImage> =
        candidates.iter().map(|(_, _, copy)| copy.mirrored()).collect();
    let pairs: Vec<FramePair<'_>> = candidates
        .iter()
        .zip(&flipped)
        .map(|((_, reference, _), copy)| FramePair { reference, copy })
        .collect();
    let mirror = fit(&pairs, true);
    match (plain, mirror) {
        (Some(p), Some(m)) => {
            if m.correlation > p.correlation + MIRROR_MARGIN {
                m
            } else {
                p
            }
        }
        (p, m) => p.or(m).unwrap_or(identity),
    }
}

fn spread(luma: &Luma<'_>) -> f64 {
    let (mut n, mut s, mut ss) = (0f64, 0f64, 0f64);
    // Every 8th pixel of every 8th row, row by row.
    for &p in luma.array().iter().flat_map(|a| a.slice_move(s![..;8, ..;8])) {
        let p = p as f64;
        n += 1.0;
        s += p;
        ss += p * p;
    }
    if n < 2.0 {
        return 0.0;
    }
    (ss / n - (s / n).powi(2)).max(0.0).sqrt()
}
