//! Small, bounded counters the collector keeps per session and per subject: distinct values,
//! values active at the same time, events in a sliding window, and the fastest run of K events.
//! Each has a cap, so a hostile log cannot grow one entry without limit; past the cap a count
//! saturates (it is already far beyond anything honest).

use std::collections::VecDeque;

/// Distinct 64/128-bit keys, counted up to [`Distinct::CAP`].
#[derive(Clone, Debug, Default)]
pub struct Distinct(Vec<u128>);

impl Distinct {
    pub const CAP: usize = 256;

    pub fn insert(&mut self, key: u128) {
        if self.0.len() < Self::CAP && !self.0.contains(&key) {
            self.0.push(key);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Keys in use at the same time: the most runs of activity ever covering one instant. A key's
/// run lasts from a sighting to its last sighting with no gap over `window` ms. Each
/// observation at `t` counts the runs covering `t - window` (by then every key alive at that
/// instant has been seen again, as players fetch every few seconds). A phone handing over from
/// one network to the next is one at a time (the old run ends where the new one begins); two
/// players fetching with one token are two.
#[derive(Clone, Debug, Default)]
pub struct AtOnce {
    /// (key, first time of its current run, last time seen).
    runs: Vec<(u128, i64, i64)>,
    pub max: u32,
}

impl AtOnce {
    const CAP: usize = 64;

    pub fn observe(&mut self, key: u128, t: i64, window: i64) {
        match self.runs.iter().position(|(k, _, _)| *k == key) {
            Some(i) => {
                let run = &mut self.runs[i];
                if t - run.2 > window {
                    run.1 = t;
                }
                run.2 = run.2.max(t);
            }
            None => {
                if self.runs.len() == Self::CAP {
                    // Full: the longest quiet key makes room.
                    if let Some(i) = (0..self.runs.len()).min_by_key(|i| self.runs[*i].2) {
                        self.runs.swap_remove(i);
                    }
                }
                self.runs.push((key, t, t));
            }
        }
        let instant = t - window;
        let covering = self
            .runs
            .iter()
            .filter(|(_, first, last)| *first <= instant && instant <= *last)
            .count();
        self.max = self.max.max(covering.max(1) as u32);
    }
}

/// Events in a sliding window of `window` ms: the most ever inside it.
#[derive(Clone, Debug, Default)]
pub struct Burst {
    times: VecDeque<i64>,
    pub max: u32,
}

impl Burst {
    const CAP: usize = 4096;

    pub fn observe(&mut self, t: i64, window: i64) {
        while self.times.front().is_some_and(|f| *f < t - window) {
            self.times.pop_front();
        }
        if self.times.len() == Self::CAP {
            self.times.pop_front();
        }
        self.times.push_back(t);
        self.max = self.max.max(self.times.len() as u32);
    }
}

/// Run lengths whose fastest fetch time [`Fastest`] tracks.
pub const RUNS: [usize; 6] = [16, 32, 64, 128, 256, 512];

/// The shortest time (ms) in which K new events happened, for each K of [`RUNS`]: how fast a
/// session fetched K segments it had not fetched before.
#[derive(Clone, Debug)]
pub struct Fastest {
    /// Times relative to `origin`, the last `RUNS[last]` of them.
    times: VecDeque<u32>,
    origin: i64,
    pub best: [Option<u32>; RUNS.len()],
}

impl Fastest {
    pub fn new(origin: i64) -> Self {
        Fastest { times: VecDeque::new(), origin, best: [None; RUNS.len()] }
    }

    pub fn observe(&mut self, t: i64) {
        let rel = u32::try_from((t - self.origin).max(0)).unwrap_or(u32::MAX);
        if self.times.len() == RUNS[RUNS.len() - 1] {
            self.times.pop_front();
        }
        self.times.push_back(rel);
        let n = self.times.len();
        for (i, k) in RUNS.iter().enumerate() {
            if n >= *k {
                // Out-of-order lines cannot make a negative span.
                let span = rel.saturating_sub(self.times[n - k]);
                self.best[i] = Some(self.best[i].map_or(span, |b| b.min(span)));
            }
        }
    }
}

/// Gaps between consecutive events on a log scale (quarter-octaves from 50 ms to ~15 min):
/// enough to find a session's typical gap, in 176 bytes.
#[derive(Clone, Debug)]
pub struct Gaps([u32; Gaps::BINS]);

impl Default for Gaps {
    fn default() -> Self {
        Gaps([0; Gaps::BINS])
    }
}

impl Gaps {
    const BINS: usize = 44;
    const FIRST_MS: f64 = 50.0;

    pub fn observe(&mut self, gap_ms: i64) {
        if gap_ms <= 0 {
            return;
        }
        let bin = (4.0 * (gap_ms as f64 / Self::FIRST_MS).log2()).floor().max(0.0) as usize;
        self.0[bin.min(Self::BINS - 1)] += 1;
    }

    pub fn count(&self) -> u32 {
        self.0.iter().sum()
    }

    /// The median gap in ms (the centre of its bin), or `None` without gaps.
    pub fn median_ms(&self) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let mut seen = 0;
        for (i, c) in self.0.iter().enumerate() {
            seen += c;
            if 2 * seen >= total {
                return Some(Self::FIRST_MS * 2f64.powf((i as f64 + 0.5) / 4.0));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_once_counts_overlapping_runs_not_handovers() {
        // A phone moving through four networks, a few seconds on each, then staying.
        let mut a = AtOnce::default();
        let mut t = 0;
        for key in [0u128, 1, 2, 3] {
            for _ in 0..3 {
                a.observe(key, t, 60_000);
                t += 2_000;
            }
        }
        for _ in 0..100 {
            a.observe(3, t, 60_000);
            t += 2_000;
        }
        assert_eq!(a.max, 1);
        // The same, while a TV at home keeps playing: two at once, never more.
        let mut b = AtOnce::default();
        let mut t = 0;
        for step in 0..200 {
            b.observe(9, t, 60_000);
            let phone = if step < 60 { step / 20 } else { 3 };
            b.observe(phone, t + 1_000, 60_000);
            t += 2_000;
        }
        assert_eq!(b.max, 2);
        // Three players on one token, fetching in turn.
        let mut c = AtOnce::default();
        for step in 0..300 {
            c.observe((step % 3) as u128, step * 1_000, 60_000);
        }
        assert_eq!(c.max, 3);
    }

    #[test]
    fn burst_counts_events_within_the_window() {
        let mut b = Burst::default();
        for t in [0, 10, 20, 1000, 1005] {
            b.observe(t, 100);
        }
        assert_eq!(b.max, 3);
    }

    #[test]
    fn fastest_run_of_k() {
        let mut f = Fastest::new(1000);
        // 16 events 1 s apart, then 16 events 10 ms apart.
        for i in 0..16 {
            f.observe(1000 + i * 1000);
        }
        assert_eq!(f.best[0], Some(15_000));
        for i in 0..16 {
            f.observe(100_000 + i * 10);
        }
        assert_eq!(f.best[0], Some(150));
        assert_eq!(f.best[1], Some(100_150 - 1000));
        assert_eq!(f.best[2], None);
    }

    #[test]
    fn gaps_median_lands_in_the_right_bin() {
        let mut g = Gaps::default();
        for _ in 0..10 {
            g.observe(2000);
        }
        g.observe(100);
        let m = g.median_ms().unwrap();
        assert!((m / 2000.0 - 1.0).abs() < 0.1, "{m}");
    }
}
