//! Exact durations and their decimal spellings.
//!
//! Durations stay rational (`ticks / timescale`) until they are written, and are written with
//! integer arithmetic only, so the same input gives the same bytes on every platform and no
//! float rounding can make an EXTINF disagree with the SegmentTimeline it came from.

use std::num::NonZeroU32;

/// A non-negative duration of exactly `ticks / timescale` seconds. Compares by value, so
/// `2/1 == 4/2`.
#[derive(Clone, Copy, Debug)]
pub struct Seconds {
    ticks: u128,
    timescale: NonZeroU32,
}

/// How a duration that does not end within six decimals is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// To the nearest microsecond, halves up: what a segment's own duration is written with.
    Nearest,
    /// Up to the next microsecond: for bounds (a presentation's end, a buffer size) that must
    /// not come out shorter than the media.
    Up,
}

const MICROS: u128 = 1_000_000;

impl Ord for Seconds {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // a/ta vs b/tb as a*tb vs b*ta; a timeline total times a u32 stays far inside u128.
        let lhs = self.ticks.saturating_mul(u128::from(other.timescale.get()));
        let rhs = other.ticks.saturating_mul(u128::from(self.timescale.get()));
        lhs.cmp(&rhs)
    }
}

impl PartialOrd for Seconds {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Seconds {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Seconds {}

impl Seconds {
    pub fn new(ticks: u128, timescale: NonZeroU32) -> Self {
        Seconds { ticks, timescale }
    }

    pub fn ticks(self) -> u128 {
        self.ticks
    }

    pub fn timescale(self) -> NonZeroU32 {
        self.timescale
    }

    fn micros(self, rounding: Rounding) -> u128 {
        let ts = u128::from(self.timescale.get());
        // A timeline's total is a sum of u64s, far below u128::MAX / 10^6 for any real list;
        // saturating keeps even an absurd one from wrapping.
        let scaled = self.ticks.saturating_mul(MICROS);
        match rounding {
            Rounding::Nearest => scaled.saturating_add(ts / 2) / ts,
            Rounding::Up => scaled.div_ceil(ts),
        }
    }

    /// Whole seconds, rounded to the nearest integer with halves up: the rounding RFC 8216
    /// 4.3.3.1 applies when comparing EXTINF durations with EXT-X-TARGETDURATION.
    pub fn round_whole(self) -> u128 {
        let ts = u128::from(self.timescale.get());
        self.ticks.saturating_add(ts / 2) / ts
    }

    /// The decimal spelling: at least 3 and at most 6 decimals, trailing zeros past the third
    /// dropped (`2.000`, `2.002`, `0.033367`). Three decimals matches the millisecond
    /// precision players work in; six keeps 1001-based frame rates from drifting visibly.
    pub fn decimal(self, rounding: Rounding) -> String {
        let micros = self.micros(rounding);
        let whole = micros / MICROS;
        let mut frac = micros % MICROS;
        let mut digits = 6;
        while digits > 3 && frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        format!("{whole}.{frac:0digits$}")
    }

    /// ISO 8601 duration in seconds only (`PT184.000S`), as `xs:duration` in the MPD. Rounded
    /// up so that an MPD bound never ends before the media does.
    pub fn iso8601(self) -> String {
        format!("PT{}S", self.decimal(Rounding::Up))
    }
}

/// `num / den` with three decimals, rounded to the nearest thousandth: HLS FRAME-RATE
/// ("rounded to three decimal places", RFC 8216 4.3.4.2). `den` must be non-zero.
pub(crate) fn three_decimals(num: u32, den: u32) -> String {
    let den = u64::from(den.max(1));
    let thousandths = (u64::from(num) * 1000 + den / 2) / den;
    format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ticks: u128, timescale: u32) -> Seconds {
        Seconds::new(ticks, NonZeroU32::new(timescale).expect("test timescales are non-zero"))
    }

    #[test]
    fn decimals_are_exact_when_short_and_cut_at_six() {
        assert_eq!(s(25_600, 12_800).decimal(Rounding::Nearest), "2.000");
        assert_eq!(s(180_180, 90_000).decimal(Rounding::Nearest), "2.002");
        assert_eq!(s(1, 8).decimal(Rounding::Nearest), "0.125");
        assert_eq!(s(1, 16).decimal(Rounding::Nearest), "0.0625");
        assert_eq!(s(1001, 30_000).decimal(Rounding::Nearest), "0.033367");
        assert_eq!(s(1, 3).decimal(Rounding::Nearest), "0.333333");
        assert_eq!(s(1, 3).decimal(Rounding::Up), "0.333334");
        assert_eq!(s(0, 3).decimal(Rounding::Up), "0.000");
    }

    #[test]
    fn compares_by_value() {
        assert_eq!(s(2, 1), s(4, 2));
        assert!(s(25_601, 12_800) > s(2, 1));
        assert_eq!(s(1, 3).max(s(1, 2)), s(1, 2));
    }

    #[test]
    fn iso8601_rounds_up() {
        assert_eq!(s(184, 1).iso8601(), "PT184.000S");
        assert_eq!(s(2, 3).iso8601(), "PT0.666667S");
    }

    #[test]
    fn whole_seconds_round_half_up() {
        assert_eq!(s(2_499_999, 1_000_000).round_whole(), 2);
        assert_eq!(s(2_500_000, 1_000_000).round_whole(), 3);
        assert_eq!(s(1_984, 1_000).round_whole(), 2);
    }

    #[test]
    fn frame_rates_have_three_decimals() {
        assert_eq!(three_decimals(25, 1), "25.000");
        assert_eq!(three_decimals(30_000, 1001), "29.970");
        assert_eq!(three_decimals(24_000, 1001), "23.976");
        assert_eq!(three_decimals(60_000, 1001), "59.940");
    }
}
