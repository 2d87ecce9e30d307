//! Temporal registration: where in the reference a copy starts.
//!
//! A leaked copy is often an excerpt that starts anywhere, at another frame rate. Every frame is
//! reduced to a compact fingerprint — a 4×4 grid of mean grey levels over the central 60 % of
//! the picture, normalised to zero mean and unit length — which survives re-encoding, scaling,
//! tone changes, moderate crops and letterboxing (bars stay outside the central region). The
//! offset between copy time and reference time is the one whose mapped frame pairs agree best
//! on average (the mean of per-pair fingerprint correlations), searched over every reference
//! frame. Dropped or duplicated frames do not matter here: the per-frame reference window of
//! the symbol detector absorbs them once the offset is known. An offset holds for a piece of the
//! copy: the leak detector probes again where an edit breaks it (`detect::pieces`).

use crate::frame::Luma;
use crate::simd::kernels;

/// Cells per side of the fingerprint grid.
const CELLS: usize = 4;
pub const FINGERPRINT_LEN: usize = CELLS * CELLS;
/// The fingerprinted region: the central 60 % of width and height.
const REGION: f64 = 0.6;
/// Frames whose cells vary less than this (grey levels, RMS) carry no layout: skipped.
const MIN_SPREAD: f32 = 2.0;

/// One frame's fingerprint, or `None` for a flat frame (black, fades).
pub type Fingerprint = Option<[f32; FINGERPRINT_LEN]>;

/// The fingerprint of a frame.
pub fn fingerprint(luma: &Luma<'_>) -> Fingerprint {
    let (w, h) = (luma.width, luma.height);
    if w < CELLS * 2 || h < CELLS * 2 {
        return None;
    }
    let x0 = ((1.0 - REGION) / 2.0 * w as f64) as usize;
    let y0 = ((1.0 - REGION) / 2.0 * h as f64) as usize;
    let (rw, rh) = ((REGION * w as f64) as usize, (REGION * h as f64) as usize);
    // Every second row and column is plenty for means of ~20 000-pixel cells. The sampled
    // columns of one cell are a run: find each cell's first and last once, then sum each run of
    // each sampled row with one kernel call.
    let mut runs = [(0usize, 0usize); CELLS];
    let mut run_len = [0u64; CELLS];
    for x in (x0..x0 + rw).step_by(2) {
        let cx = ((x - x0) * CELLS / rw).min(CELLS - 1);
        if run_len[cx] == 0 {
            runs[cx].0 = x;
        }
        runs[cx].1 = x + 1;
        run_len[cx] += 1;
    }
    let k = kernels();
    let mut sums = [0u64; FINGERPRINT_LEN];
    let mut counts = [0u64; FINGERPRINT_LEN];
    for y in (y0..y0 + rh).step_by(2) {
        let cy = ((y - y0) * CELLS / rh).min(CELLS - 1);
        let row = luma.row(y);
        for cx in (0..CELLS).filter(|&cx| run_len[cx] > 0) {
            sums[cy * CELLS + cx] += k.sum_every_other(&row[runs[cx].0..runs[cx].1]);
            counts[cy * CELLS + cx] += run_len[cx];
        }
    }
    let mut f = [0f32; FINGERPRINT_LEN];
    for i in 0..FINGERPRINT_LEN {
        f[i] = sums[i] as f32 / counts[i].max(1) as f32;
    }
    normalise(f)
}

fn normalise(mut f: [f32; FINGERPRINT_LEN]) -> Fingerprint {
    let mean = f.iter().sum::<f32>() / FINGERPRINT_LEN as f32;
    f.iter_mut().for_each(|v| *v -= mean);
    let norm = f.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm / (FINGERPRINT_LEN as f32).sqrt() < MIN_SPREAD {
        return None;
    }
    f.iter_mut().for_each(|v| *v /= norm);
    Some(f)
}

/// Fingerprints of a video's frames in order, with their times (seconds from the first frame).
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub times: Vec<f64>,
    pub prints: Vec<Fingerprint>,
}

impl Timeline {
    pub fn push(&mut self, time: f64, print: Fingerprint) {
        self.times.push(time);
        self.prints.push(print);
    }

    /// The fingerprints the left-right mirror of these frames would have (each grid row
    /// reversed): how a flipped copy is matched against an unflipped reference.
    pub fn mirrored(&self) -> Timeline {
        let flip = |p: &Fingerprint| {
            p.map(|f| {
                let mut m = f;
                for row in m.chunks_exact_mut(CELLS) {
                    row.reverse();
                }
                m
            })
        };
        Timeline { times: self.times.clone(), prints: self.prints.iter().map(flip).collect() }
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Time of the last frame, if any.
    pub fn last_time(&self) -> Option<f64> {
        self.times.last().copied()
    }

    /// The frames from time `from` up to `to` (inclusive).
    pub fn window(&self, from: f64, to: f64) -> Timeline {
        let keep = |t: &f64| *t >= from && *t <= to;
        let (times, prints) = self
            .times
            .iter()
            .zip(&self.prints)
            .filter(|(t, _)| keep(t))
            .map(|(t, p)| (*t, *p))
            .unzip();
        Timeline { times, prints }
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Fingerprinted (non-flat) frames.
    pub fn informative(&self) -> usize {
        self.prints.iter().filter(|p| p.is_some()).count()
    }

    /// The file form, with the video's frame rate: a magic line, then little-endian
    /// `u32 frames, f64 fps`, and per frame `f64 time, u8 present, 16 x f32`.
    pub fn to_bytes(&self, fps: f64) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 12 + self.len() * (9 + 4 * FINGERPRINT_LEN));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        out.extend_from_slice(&fps.to_le_bytes());
        for (t, p) in self.times.iter().zip(&self.prints) {
            out.extend_from_slice(&t.to_le_bytes());
            out.push(u8::from(p.is_some()));
            for v in p.unwrap_or([0.0; FINGERPRINT_LEN]) {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads [`Timeline::to_bytes`]'s form back: the timeline and the frame rate.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Timeline, f64), &'static str> {
        let rest = bytes.strip_prefix(MAGIC).ok_or("not an abmark fingerprint file")?;
        let mut r = rest;
        let mut take = |n: usize| -> Result<&[u8], &'static str> {
            if r.len() < n {
                return Err("truncated fingerprint file");
            }
            let (head, tail) = r.split_at(n);
            r = tail;
            Ok(head)
        };
        let arr8 = |b: &[u8]| -> [u8; 8] { b.try_into().unwrap_or([0; 8]) };
        let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| "bad count")?) as usize;
        let fps = f64::from_le_bytes(arr8(take(8)?));
        if !(fps.is_finite() && fps > 0.0) {
            return Err("bad frame rate in fingerprint file");
        }
        let mut timeline = Timeline::default();
        for _ in 0..count {
            let time = f64::from_le_bytes(arr8(take(8)?));
            let present = take(1)?[0] == 1;
            let mut f = [0f32; FINGERPRINT_LEN];
            for v in f.iter_mut() {
                *v = f32::from_le_bytes(take(4)?.try_into().map_err(|_| "bad value")?);
            }
            timeline.push(time, present.then_some(f));
        }
        Ok((timeline, fps))
    }
}

const MAGIC: &[u8] = b"abmark fingerprints v1\n";

/// The offset found: reference time = copy time + `offset_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct TemporalFit {
    pub offset_seconds: f64,
    /// Mean fingerprint correlation of the mapped frame pairs (1 = identical layouts; unrelated
    /// video scores near 0).
    pub correlation: f64,
    /// The best correlation at offsets more than a second away from the chosen one: how unique
    /// the match is.
    pub runner_up: f64,
    /// Copy frames that took part (non-flat, mapped inside the reference).
    pub frames: usize,
}

/// Searches the reference frame `k` (`reference.times[k]`) that the copy's first frame shows,
/// over every `k` such that at least half of the copy window lands inside the reference.
/// `reference` must be a constant-rate timeline (`fps`) starting at time 0. `None` when no
/// offset maps enough informative frame pairs.
pub fn find_offset(copy: &Timeline, reference: &Timeline, fps: f64) -> Option<TemporalFit> {
    let pairs: Vec<(f64, &[f32; FINGERPRINT_LEN])> = copy
        .times
        .iter()
        .zip(&copy.prints)
        .filter_map(|(&t, p)| p.as_ref().map(|p| (t, p)))
        .collect();
    if pairs.len() < 8 || reference.is_empty() || fps <= 0.0 {
        return None;
    }
    let start = copy.times.first().copied().unwrap_or(0.0);
    let n_ref = reference.len() as i64;
    // Candidate offsets: the copy's first frame shows reference frame k, k in [-len/2, n_ref).
    let span = ((pairs.last().map_or(0.0, |p| p.0) - start) * fps).ceil() as i64;
    let mut scores: Vec<(f64, f64, usize)> = Vec::new();
    for k in (-span / 2)..n_ref {
        let offset = k as f64 / fps - start;
        let (mut sum, mut n) = (0f64, 0usize);
        for &(t, p) in &pairs {
            let j = ((t + offset) * fps).round() as i64;
            if j < 0 || j >= n_ref {
                continue;
            }
            if let Some(r) = &reference.prints[j as usize] {
                sum += f64::from(p.iter().zip(r).map(|(a, b)| a * b).sum::<f32>());
                n += 1;
            }
        }
        if n * 2 >= pairs.len() && n >= 8 {
            scores.push((offset, sum / n as f64, n));
        }
    }
    let best = scores.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let runner_up = scores
        .iter()
        .filter(|s| (s.0 - best.0).abs() > 1.0)
        .map(|s| s.1)
        .fold(f64::NEG_INFINITY, f64::max);
    Some(TemporalFit {
        offset_seconds: best.0,
        correlation: best.1,
        runner_up: if runner_up.is_finite() { runner_up } else { 0.0 },
        frames: best.2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fingerprint as first written, one sampled pixel at a time: the oracle for the
    /// run-by-run sums above.
    fn fingerprint_per_pixel(luma: &Luma<'_>) -> Fingerprint {
        let (w, h) = (luma.width, luma.height);
        if w < CELLS * 2 || h < CELLS * 2 {
            return None;
        }
        let x0 = ((1.0 - REGION) / 2.0 * w as f64) as usize;
        let y0 = ((1.0 - REGION) / 2.0 * h as f64) as usize;
        let (rw, rh) = ((REGION * w as f64) as usize, (REGION * h as f64) as usize);
        let mut sums = [0u64; FINGERPRINT_LEN];
        let mut counts = [0u64; FINGERPRINT_LEN];
        for y in (y0..y0 + rh).step_by(2) {
            let cy = ((y - y0) * CELLS / rh).min(CELLS - 1);
            let row = luma.row(y);
            for x in (x0..x0 + rw).step_by(2) {
                let cx = ((x - x0) * CELLS / rw).min(CELLS - 1);
                sums[cy * CELLS + cx] += u64::from(row[x]);
                counts[cy * CELLS + cx] += 1;
            }
        }
        let mut f = [0f32; FINGERPRINT_LEN];
        for i in 0..FINGERPRINT_LEN {
            f[i] = sums[i] as f32 / counts[i].max(1) as f32;
        }
        normalise(f)
    }

    #[test]
    fn run_sums_equal_the_per_pixel_fingerprint() {
        use rand_chacha::rand_core::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for (w, h, stride) in
            [(1920, 1080, 1920), (1280, 720, 1344), (97, 61, 101), (8, 8, 8), (33, 9, 40)]
        {
            let mut data = vec![0u8; (h - 1) * stride + w];
            rng.fill_bytes(&mut data);
            let luma = Luma::new(&data, w, h, stride).expect("layout");
            let (fast, slow) = (fingerprint(&luma), fingerprint_per_pixel(&luma));
            let bits = |p: Fingerprint| p.map(|f| f.map(f32::to_bits));
            assert_eq!(bits(fast), bits(slow), "{w}x{h} stride {stride}");
        }
    }

    #[test]
    fn a_flipped_frame_has_the_mirrored_fingerprint() {
        use crate::frame::OwnedLuma;
        let (w, h) = (96, 64);
        let (mut img, mut flipped) = (OwnedLuma::new(w, h), OwnedLuma::new(w, h));
        for y in 0..h {
            for x in 0..w {
                let v = (40.0 + 1.5 * x as f64 + 40.0 * ((x * y) as f64 / 300.0).sin()) as u8;
                img.data[y * w + x] = v;
                flipped.data[y * w + (w - 1 - x)] = v;
            }
        }
        let mut t = Timeline::default();
        t.push(0.0, fingerprint(&img.view()));
        let mirrored = t.mirrored().prints[0].unwrap();
        let direct = fingerprint(&flipped.view()).unwrap();
        let plain = t.prints[0].unwrap();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!(dot(&mirrored, &direct) > 0.99, "{}", dot(&mirrored, &direct));
        assert!(
            dot(&plain, &direct) < 0.5,
            "the layout is not symmetric: {}",
            dot(&plain, &direct)
        );
    }

    /// A synthetic "video": a random layout per 40-frame scene, drifting a little per frame.
    fn frame_print(i: usize) -> Fingerprint {
        let scene = (i / 40) as u64;
        let mut f = [0f32; FINGERPRINT_LEN];
        for (c, v) in f.iter_mut().enumerate() {
            let h = (scene * 64 + c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            let base = (h % 160) as f32;
            *v = 40.0 + base + 6.0 * (i as f32 * 0.3 + c as f32).sin();
        }
        normalise(f)
    }

    fn timeline(frames: std::ops::Range<usize>, fps: f64, t0: f64) -> Timeline {
        let mut t = Timeline::default();
        for (k, i) in frames.enumerate() {
            t.push(t0 + k as f64 / fps, frame_print(i));
        }
        t
    }

    #[test]
    fn finds_the_offset_of_an_excerpt() {
        let reference = timeline(0..2000, 25.0, 0.0);
        let copy = timeline(737..1500, 25.0, 0.0);
        let fit = find_offset(&copy, &reference, 25.0).unwrap();
        assert!((fit.offset_seconds - 737.0 / 25.0).abs() < 1e-9, "{fit:?}");
        assert!(fit.correlation > 0.999 && fit.runner_up < fit.correlation - 0.05, "{fit:?}");
    }

    #[test]
    fn finds_the_offset_across_a_frame_rate_change() {
        let reference = timeline(0..2000, 25.0, 0.0);
        // The same excerpt at 30 fps: copy frame k shows reference frame 500 + round(k*25/30).
        let mut copy = Timeline::default();
        for k in 0..600 {
            let i = 500 + (k as f64 * 25.0 / 30.0).round() as usize;
            copy.push(k as f64 / 30.0, frame_print(i));
        }
        let fit = find_offset(&copy, &reference, 25.0).unwrap();
        assert!((fit.offset_seconds - 20.0).abs() <= 1.0 / 25.0, "{fit:?}");
    }

    #[test]
    fn unrelated_or_flat_content_does_not_match() {
        let reference = timeline(0..2000, 25.0, 0.0);
        let mut other = Timeline::default();
        for k in 0..500 {
            let mut f = [0f32; FINGERPRINT_LEN];
            for (c, v) in f.iter_mut().enumerate() {
                *v = 100.0 + 50.0 * ((k * 13 + c * 29) as f32 * 1.7).sin();
            }
            other.push(k as f64 / 25.0, normalise(f));
        }
        let fit = find_offset(&other, &reference, 25.0).unwrap();
        assert!(fit.correlation < 0.5, "{fit:?}");
        let mut flat = Timeline::default();
        for k in 0..500 {
            flat.push(k as f64 / 25.0, normalise([90.0; FINGERPRINT_LEN]));
        }
        assert!(find_offset(&flat, &reference, 25.0).is_none());
    }

    #[test]
    fn timelines_survive_their_file_form() {
        let t = timeline(0..300, 25.0, 0.0);
        let bytes = t.to_bytes(25.0);
        let (back, fps) = Timeline::from_bytes(&bytes).unwrap();
        assert_eq!(fps, 25.0);
        assert_eq!(back.times, t.times);
        assert_eq!(back.prints, t.prints);
        assert!(Timeline::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        assert!(Timeline::from_bytes(b"something else").is_err());
    }

    #[test]
    fn fingerprint_ignores_tone_and_scale() {
        let (w, h) = (320usize, 180usize);
        let make = |w: usize, h: usize, gain: f32, bias: f32| {
            let mut data = vec![0u8; w * h];
            for y in 0..h {
                for x in 0..w {
                    let v = 60.0 + 120.0 * (x as f32 / w as f32) * (y as f32 / h as f32);
                    data[y * w + x] = (v * gain + bias).clamp(0.0, 255.0) as u8;
                }
            }
            data
        };
        let a = make(w, h, 1.0, 0.0);
        let b = make(w / 2, h / 2, 0.8, 20.0);
        let fa = fingerprint(&Luma::new(&a, w, h, w).unwrap()).unwrap();
        let fb = fingerprint(&Luma::new(&b, w / 2, h / 2, w / 2).unwrap()).unwrap();
        let corr: f32 = fa.iter().zip(&fb).map(|(x, y)| x * y).sum();
        assert!(corr > 0.99, "{corr}");
        let black = vec![16u8; w * h];
        assert!(fingerprint(&Luma::new(&black, w, h, w).unwrap()).is_none());
    }
}
