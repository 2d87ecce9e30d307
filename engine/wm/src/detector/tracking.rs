//! Noticing that a copy has stopped showing the reference where the detector expects it.
//!
//! A copy is aligned once, at its start: one temporal offset and one picture geometry. Pirated
//! copies are edited, though — a scene cut out, an advert or an intro put in, the picture
//! re-framed half way (a cropped second part, a player window resized during a screen
//! recording). From that point on every frame is read against the wrong reference frame or at
//! the wrong place. The scorer measures, per frame, how well the registered copy blocks
//! correlate with the reference frame they were matched to: about 1 while the alignment holds,
//! through any re-encode, rescale, noise or tone change (0.98 and more under x264 CRF 35 at
//! 640x360 with noise), and 0.6 or less once the copy shows something else or is framed
//! differently. [`LossMonitor`] watches that figure over a second of frames and says when the
//! alignment is gone, so the leak detector can align the rest of the copy afresh.

use std::collections::VecDeque;

/// The alignment holds while the median block correlation over a second stays at or above
/// this; the measured gap is 0.98 (aligned, harshest attack seen) against 0.6 (re-framed).
pub const ALIGNED_CORRELATION: f64 = 0.8;
/// Seconds of informative frames the median is taken over.
const WINDOW_SECONDS: f64 = 1.0;
/// Fewest informative frames in a window, whatever the frame rate.
const MIN_WINDOW: usize = 10;

/// Watches the per-frame block correlations of one aligned piece of a copy.
pub struct LossMonitor {
    size: usize,
    /// (copy time, correlation) of the latest informative frames.
    window: VecDeque<(f64, f64)>,
    /// A full window has been aligned: only an alignment that held can be lost (a copy that
    /// never lined up is left to the registration's own verdict).
    armed: bool,
    scratch: Vec<f64>,
}

impl LossMonitor {
    pub fn new(fps: f64) -> Self {
        let size = ((fps * WINDOW_SECONDS).round() as usize).max(MIN_WINDOW);
        Self { size, window: VecDeque::with_capacity(size), armed: false, scratch: Vec::new() }
    }

    /// Takes the frame at copy time `t` and its block correlation (`None`: too flat to tell).
    /// Returns the copy time where the alignment was lost — the first frame of the window that
    /// lost it — once a full window's median falls below [`ALIGNED_CORRELATION`].
    pub fn observe(&mut self, t: f64, correlation: Option<f64>) -> Option<f64> {
        let c = correlation?;
        if self.window.len() == self.size {
            self.window.pop_front();
        }
        self.window.push_back((t, c));
        if self.window.len() < self.size {
            return None;
        }
        self.scratch.clear();
        self.scratch.extend(self.window.iter().map(|w| w.1));
        let mid = self.scratch.len() / 2;
        let median = *self.scratch.select_nth_unstable_by(mid, f64::total_cmp).1;
        if median >= ALIGNED_CORRELATION {
            self.armed = true;
            return None;
        }
        if !self.armed {
            return None;
        }
        // The first frame of the window that fell below the line: where the edit is.
        self.window.iter().find(|w| w.1 < ALIGNED_CORRELATION).map(|w| w.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        m: &mut LossMonitor,
        from: usize,
        to: usize,
        c: impl Fn(usize) -> Option<f64>,
    ) -> Option<f64> {
        (from..to).find_map(|i| m.observe(i as f64 / 25.0, c(i)))
    }

    #[test]
    fn an_alignment_that_holds_is_never_lost() {
        let mut m = LossMonitor::new(25.0);
        // Aligned frames with the spread of a harsh re-encode, and flat frames between them.
        let lost = run(&mut m, 0, 5000, |i| match i % 50 {
            0..=9 => None,
            k => Some(0.97 + 0.0006 * k as f64),
        });
        assert_eq!(lost, None);
        // A few badly matched frames (a flash, a scene cut) do not make a loss.
        let lost = run(&mut m, 5000, 6000, |i| Some(if i % 25 < 8 { 0.2 } else { 0.99 }));
        assert_eq!(lost, None);
    }

    #[test]
    fn an_edit_is_found_where_it_starts() {
        let mut m = LossMonitor::new(25.0);
        let lost = run(&mut m, 0, 2000, |i| Some(if i < 1000 { 0.99 } else { 0.5 }));
        let t = lost.expect("the edit at frame 1000 is noticed");
        assert!((t - 40.0).abs() < 1e-9, "{t}");
    }

    #[test]
    fn a_copy_that_never_lined_up_is_not_reported_lost() {
        let mut m = LossMonitor::new(30.0);
        assert_eq!(run(&mut m, 0, 3000, |_| Some(0.4)), None);
    }
}
