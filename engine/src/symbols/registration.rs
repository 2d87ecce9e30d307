//! Spatial registration of a whole copy: pick a few informative frame pairs from the start of
//! the copy and the matching times of the reference (shifted by the temporal offset), and register them together (one transform per copy: re-encodes, rescales, crops
//! and letterboxing are fixed for the whole file).

use std::path::Path;

use crate::dsp::IntegralImage;
use crate::media::{MediaError, VideoDecoder};
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
}

/// Seconds between candidate frames, and how many candidates per frame finally used.
const CANDIDATE_SPACING: f64 = 1.0;
const CANDIDATES_PER_PAIR: usize = 3;

pub fn register_files(
    copy: &Path,
    reference: &Path,
    pairs_wanted: usize,
    offset: f64,
) -> Result<Fit, MediaError> {
    // Copy times whose reference time (copy time + offset) is inside the reference.
    let first = (0.5f64).max(0.5 - offset);
    let times: Vec<f64> = (0..pairs_wanted.max(1) * CANDIDATES_PER_PAIR)
        .map(|k| first + k as f64 * CANDIDATE_SPACING)
        .collect();
    let ref_times: Vec<f64> = times.iter().map(|t| t + offset).collect();
    let (_, copies) = frames_near(copy, &times)?;
    let (ref_size, references) = frames_near(reference, &ref_times)?;
    let mut candidates: Vec<(f64, &IntegralImage, &IntegralImage)> =
        references.iter().zip(&copies).map(|((spread, r), (_, c))| (*spread, r, c)).collect();
    let identity = Fit { transform: Transform::identity(ref_size.0, ref_size.1), correlation: 0.0 };
    // Busy frames register best; black or flat ones carry no geometry.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    candidates.truncate(pairs_wanted.max(1));
    let pairs: Vec<FramePair<'_>> =
        candidates.iter().map(|(_, reference, copy)| FramePair { reference, copy }).collect();
    Ok(register(&pairs, ref_size)
        .map(|f| Fit { transform: f.transform, correlation: f.correlation })
        .unwrap_or(identity))
}

/// The picture size, and for each target time the integral image of the frame nearest to it
/// with a measure of how much the frame varies (standard deviation of a coarse pixel sample).
type Candidates = ((usize, usize), Vec<(f64, IntegralImage)>);

fn frames_near(path: &Path, times: &[f64]) -> Result<Candidates, MediaError> {
    let mut decoder = VideoDecoder::open(path)?;
    let size = (decoder.info().width, decoder.info().height);
    let mut out = Vec::with_capacity(times.len());
    let mut previous: Option<(f64, IntegralImage, f64)> = None;
    let mut next_time = times.iter().peekable();
    while let Some(&&target) = next_time.peek() {
        let Some(frame) = decoder.next_frame()? else { break };
        let luma = frame.luma();
        if frame.pts_seconds + 0.5 / decoder.info().fps.max(1.0) < target {
            // Remember only the frame just before the target; it may be the nearer one.
            if frame.pts_seconds + 1.5 / decoder.info().fps.max(1.0) >= target {
                let mut ii = IntegralImage::new();
                ii.fill(&luma);
                previous = Some((frame.pts_seconds, ii, spread(&luma)));
            }
            continue;
        }
        let mut ii = IntegralImage::new();
        ii.fill(&luma);
        let current = (frame.pts_seconds, ii, spread(&luma));
        let chosen = match previous.take() {
            Some(p) if (target - p.0).abs() < (current.0 - target).abs() => p,
            _ => current,
        };
        out.push((chosen.2, chosen.1));
        next_time.next();
    }
    Ok((size, out))
}

fn spread(luma: &crate::frame::Luma<'_>) -> f64 {
    let (mut n, mut s, mut ss) = (0f64, 0f64, 0f64);
    for y in (0..luma.height).step_by(8) {
        for &p in luma.row(y).iter().step_by(8) {
            let p = p as f64;
            n += 1.0;
            s += p;
            ss += p * p;
        }
    }
    if n < 2.0 {
        return 0.0;
    }
    (ss / n - (s / n).powi(2)).max(0.0).sqrt()
}
