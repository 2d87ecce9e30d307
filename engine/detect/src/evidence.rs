//! From per-segment symbol scores to an accused session and the probability that the accusation
//! is wrong.
//!
//! Each decided segment (|z| over the threshold) reads one bit of the session code at its
//! WMPaceInfo position. Segments at the same position (64 segments apart) read the same bit and
//! are merged (a disagreement erases the position). A candidate — the blind decoder's best guess,
//! or each session of the session log — is scored two ways:
//! - **soft**: the sum over segments of `±llr` by the candidate's bit, to rank candidates;
//! - **hard**: `k` agreements out of the `n` decided positions, for the evidence. A session that
//!   did not receive this copy holds, at each position, a bit that is a fair coin relative to the
//!   copy's (the codeword is keyed and masked), so it agrees with at least `k` of `n` positions
//!   with probability `P = Σ_{j≥k} C(n,j) 2^-n` — the false-accusation probability of one
//!   innocent session. Over `N` candidates (the log's sessions, or 2^32 for a blind decode) the
//!   chance that any innocent matches this well is at most `N·P`; a session is named only when
//!   that bound is below `alpha`. (The coin model is exact for positions within any 4 of the 8
//!   code symbols and conservative enough beyond; the empirical check is in the tests.)

use crate::symbols::SegmentDecision;
use abmark_wm::payload::{pattern_bit, SessionCoder, CODE_BITS};

/// One code position as the copy shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PositionReading {
    pub position: u16,
    /// Sum of the LLRs of its segments (ln P(bit 0) / P(bit 1)).
    pub llr: f64,
    /// The bit its decided segments agree on; `None` if none is decided or they disagree.
    pub bit: Option<u8>,
    pub segments: usize,
}

/// The copy's reading of every position it covers.
#[derive(Clone, Debug, Default)]
pub struct Readings {
    pub positions: Vec<PositionReading>,
}

impl Readings {
    /// Merges `segments` by position; `position_of(segment index)` is the published WMPaceInfo
    /// position (`None`: not watermarked, skipped).
    pub fn new(segments: &[SegmentDecision], position_of: impl Fn(u64) -> Option<u16>) -> Self {
        let mut by_position: std::collections::BTreeMap<u16, (f64, Vec<u8>, usize)> =
            Default::default();
        for s in segments {
            let Some(p) = position_of(s.index) else { continue };
            let entry = by_position.entry(p).or_default();
            entry.0 += s.llr;
            entry.2 += 1;
            if let Some(b) = s.symbol {
                entry.1.push(b.bit());
            }
        }
        let positions = by_position
            .into_iter()
            .map(|(position, (llr, bits, segments))| {
                let bit = match bits.first() {
                    Some(&b) if bits.iter().all(|&x| x == b) => Some(b),
                    _ => None,
                };
                PositionReading { position, llr, bit, segments }
            })
            .collect();
        Readings { positions }
    }

    /// Positions with a decided bit.
    pub fn decided(&self) -> usize {
        self.positions.iter().filter(|p| p.bit.is_some()).count()
    }

    /// LLR per code position (0 where unseen), for the blind decoder. Only our 64-bit layout.
    pub fn llr_vector(&self) -> Vec<f64> {
        let mut llr = vec![0.0; CODE_BITS];
        for p in &self.positions {
            if let Some(slot) = llr.get_mut(usize::from(p.position)) {
                *slot += p.llr;
            }
        }
        llr
    }

    /// How a candidate pattern fits: soft score and hard agreements.
    pub fn score(&self, pattern: &[u8], bits: usize) -> Fit {
        let (mut soft, mut agree, mut decided) = (0.0, 0usize, 0usize);
        for p in &self.positions {
            let Some(b) = pattern_bit(pattern, bits, u64::from(p.position)) else { continue };
            soft += if b == 0 { p.llr } else { -p.llr };
            if let Some(seen) = p.bit {
                decided += 1;
                agree += usize::from(seen == b);
            }
        }
        Fit { soft, agree, decided }
    }
}

/// A candidate's fit to the copy.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Fit {
    pub soft: f64,
    /// Decided positions whose bit matches the candidate's.
    pub agree: usize,
    pub decided: usize,
}

impl Fit {
    /// Probability that one innocent session agrees at least this well.
    pub fn p_innocent(&self) -> f64 {
        binomial_tail(self.decided, self.agree)
    }
}

/// `P(X >= k)` for `X ~ Binomial(n, 1/2)`.
pub fn binomial_tail(n: usize, k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    // Sum C(n, j) / 2^n for j >= k, building C(n, j) in f64 (exact enough up to n in the
    // hundreds; the terms are summed from the smallest).
    let mut c = 1.0f64; // C(n, n)
    let mut sum = 0.0;
    for j in (k..=n).rev() {
        sum += c;
        // C(n, j-1) = C(n, j) * j / (n - j + 1)
        c = c * j as f64 / (n - j + 1) as f64;
    }
    sum * 0.5f64.powi(n as i32)
}

/// How many more decided positions would let a perfectly matching candidate reach `alpha` over
/// `candidates` innocents, given `decided` already; 0 if already enough. Capped by the code length.
pub fn positions_needed(decided: usize, candidates: f64, alpha: f64) -> usize {
    let needed = ((candidates / alpha).log2()).ceil().max(0.0) as usize;
    needed.saturating_sub(decided)
}

/// The blind decoder's best session for the readings, with its fit.
pub fn blind(readings: &Readings, coder: &SessionCoder) -> Option<(u32, [u8; 8], Fit)> {
    if readings.decided() == 0 {
        return None;
    }
    let decoded = coder.decode_soft(&readings.llr_vector()).ok()?;
    let bytes = decoded.best.codeword.to_bytes();
    Some((decoded.best.session, bytes, readings.score(&bytes, CODE_BITS)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use abmark_wm::key::WatermarkKey;

    fn segment(index: u64, z: f64) -> SegmentDecision {
        SegmentDecision {
            index,
            start_seconds: index as f64 * 2.0,
            frames: 50,
            symbol: abmark_wm::score::decide(z, 4.5),
            z,
            llr: 2.0 * 10.0 * z,
            confidence: 1.0,
            p_unmarked: abmark_wm::score::p_unmarked(z),
            retained: 1.0,
        }
    }

    /// The segments a copy of `session` would show for `indices`, with true z of +-12.
    fn copy_of(
        coder: &SessionCoder,
        session: u32,
        indices: std::ops::Range<u64>,
    ) -> Vec<SegmentDecision> {
        let code = coder.encode(session);
        indices
            .map(|i| segment(i, if code.bit((i % 64) as usize) == 0 { 12.0 } else { -12.0 }))
            .collect()
    }

    #[test]
    fn binomial_tail_matches_known_values() {
        assert_eq!(binomial_tail(10, 0), 1.0);
        assert!((binomial_tail(10, 10) - 1.0 / 1024.0).abs() < 1e-15);
        assert!((binomial_tail(4, 2) - 11.0 / 16.0).abs() < 1e-15);
        assert!((binomial_tail(64, 64) - 2f64.powi(-64)).abs() < 1e-30);
        assert_eq!(binomial_tail(3, 4), 0.0);
    }

    #[test]
    fn blind_decoding_names_the_session_of_a_long_excerpt() {
        let coder = SessionCoder::new(&WatermarkKey::from_bytes([7; 32])).unwrap();
        let segments = copy_of(&coder, 31337, 17..92);
        let readings = Readings::new(&segments, |i| Some((i % 64) as u16));
        assert_eq!(readings.decided(), 64);
        let (session, _, fit) = blind(&readings, &coder).unwrap();
        assert_eq!(session, 31337);
        assert_eq!((fit.agree, fit.decided), (64, 64));
        assert!(fit.p_innocent() * 2f64.powi(32) < 1e-9);
    }

    #[test]
    fn innocent_sessions_agree_like_coins() {
        // Empirical check of the evidence model: a copy of one session against many others.
        let coder = SessionCoder::new(&WatermarkKey::from_bytes([9; 32])).unwrap();
        let segments = copy_of(&coder, 5, 0..30);
        let readings = Readings::new(&segments, |i| Some((i % 64) as u16));
        let n = readings.decided();
        assert_eq!(n, 30);
        let trials = 20_000u32;
        let (mut at_least_20, mut mean) = (0u32, 0f64);
        for other in 1000..1000 + trials {
            let fit = readings.score(&coder.encode(other).to_bytes(), 64);
            mean += fit.agree as f64 / trials as f64;
            at_least_20 += u32::from(fit.agree >= 20);
        }
        assert!((mean - 15.0).abs() < 0.2, "mean agreement {mean}");
        let expected = binomial_tail(30, 20) * trials as f64; // ~ 0.049 * 20000
        let seen = at_least_20 as f64;
        assert!((seen - expected).abs() < 4.0 * expected.sqrt() + 5.0, "{seen} vs {expected}");
    }

    #[test]
    fn disagreeing_segments_at_one_position_erase_it() {
        let segments = vec![segment(3, 10.0), segment(67, -10.0), segment(4, 9.0)];
        let r = Readings::new(&segments, |i| Some((i % 64) as u16));
        assert_eq!(r.positions.len(), 2);
        assert_eq!(r.positions[0].bit, None);
        assert_eq!(r.positions[1].bit, Some(0));
        assert_eq!(r.decided(), 1);
    }

    #[test]
    fn positions_needed_counts_bits_of_evidence() {
        // 1e5 candidates at alpha 1e-3 need ceil(log2(1e8)) = 27 positions.
        assert_eq!(positions_needed(0, 1e5, 1e-3), 27);
        assert_eq!(positions_needed(30, 1e5, 1e-3), 0);
        assert_eq!(positions_needed(10, 2f64.powi(32), 1e-3), 32 + 10 - 10);
    }
}
