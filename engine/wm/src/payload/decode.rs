//! Decoding a session codeword from what a detector saw: hard bits or log-likelihood ratios.
//!
//! `reed-solomon-erasure` only fills in erasures, so both decoders search over information sets
//! (4 of the 8 symbols, which determine the rest; see `coder.rs`).
//!
//! - Hard: every information set free of erased symbols proposes the codeword through those 4
//!   symbols; the one within `2 * wrong + erased <= 4` symbols of the received word wins. That
//!   radius is half the minimum distance, so at most one codeword qualifies, and whenever one
//!   exists some information set holds only correct symbols and proposes it.
//! - Soft: every information set, with Chase-style variants of its 4 hard-decision bytes
//!   (none, the least reliable bit, the second least reliable, both), proposes 70 * 4^4 = 17 920
//!   codewords; ordered-statistics decoding of order 4 on the 32 most reliable independent bit
//!   positions adds 41 449 more, for confident wrong bits scattered over many symbols. Each is
//!   scored by its correlation with the LLRs over all 64 positions. In the measurements of
//!   `docs/session-code.md` the true codeword is almost never missed when it would have won
//!   (maximum likelihood); about 0.3 ms per call in release.
//!
//! Neither decoder says whether the result is *evidence*: the caller compares the score with
//! the runner-up and with what unmarked content scores, and checks the session was issued.

use super::{
    Codeword, PayloadError, SessionCoder, CODE_BITS, CODE_SYMBOLS, DATA_SYMBOLS, PARITY_SYMBOLS,
};

/// Outcome of [`SessionCoder::decode_hard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardDecoded {
    pub session: u32,
    pub codeword: Codeword,
    /// Symbols with at least one erased bit.
    pub erased_symbols: usize,
    /// Non-erased symbols that differed from `codeword` and were corrected.
    pub corrected_symbols: usize,
}

/// One decoded codeword and how well it matches the LLRs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub session: u32,
    pub codeword: Codeword,
    /// `sum_p s_p * llr[p]` with `s_p = +1` where the codeword bit is 0 and `-1` where it is 1.
    pub score: f64,
}

/// Outcome of [`SessionCoder::decode_soft`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftDecoded {
    pub best: Candidate,
    /// The best-scoring codeword other than `best` among the candidates tried.
    pub runner_up: Option<Candidate>,
    /// Candidates generated and scored, duplicates included.
    pub candidates_tried: usize,
}

impl SessionCoder {
    /// Bounded-distance hard decoding. `received[p]` is the bit seen at position `p` (64
    /// entries), `None` where nothing was seen; a symbol with any erased bit is an erased symbol.
    /// Succeeds exactly when the received word is within `2 * wrong + erased <= 4` symbols of a
    /// codeword, and that codeword is then unique.
    pub fn decode_hard(&self, received: &[Option<u8>]) -> Result<HardDecoded, PayloadError> {
        if received.len() != CODE_BITS {
            return Err(PayloadError::WrongLength {
                what: "received bit vector",
                expected: CODE_BITS,
                got: received.len(),
            });
        }
        let mut word = 0u64;
        let mut erased_mask = 0u8;
        for (p, r) in received.iter().enumerate() {
            match *r {
                None => erased_mask |= 1 << (p / 8),
                Some(b @ (0 | 1)) => word |= u64::from(b) << (63 - p),
                Some(value) => return Err(PayloadError::InvalidBit { position: p, value }),
            }
        }
        let erased = erased_mask.count_ones() as usize;
        if erased <= PARITY_SYMBOLS {
            let word = word ^ self.mask();
            let bytes = word.to_be_bytes();
            for set in self.info_sets().iter().filter(|s| s.members & erased_mask == 0) {
                let candidate = set.complete(set.symbols.map(|j| bytes[j]));
                let diff = (candidate ^ word).to_be_bytes();
                let wrong = (0..CODE_SYMBOLS)
                    .filter(|&j| erased_mask >> j & 1 == 0 && diff[j] != 0)
                    .count();
                if 2 * wrong + erased <= PARITY_SYMBOLS {
                    return Ok(HardDecoded {
                        session: self.session_of(candidate),
                        codeword: Codeword::from_u64(candidate ^ self.mask()),
                        erased_symbols: erased,
                        corrected_symbols: wrong,
                    });
                }
            }
        }
        Err(PayloadError::Undecodable { erased })
    }

    /// Soft list decoding. `llr[p]` (64 entries) is `ln P(bit 0) / P(bit 1)` accumulated over
    /// every segment seen at position `p`, 0.0 where nothing was seen. Returns the best-scoring
    /// candidate and its best distinct rival.
    pub fn decode_soft(&self, llr: &[f64]) -> Result<SoftDecoded, PayloadError> {
        if llr.len() != CODE_BITS {
            return Err(PayloadError::WrongLength {
                what: "LLR vector",
                expected: CODE_BITS,
                got: llr.len(),
            });
        }
        if let Some(position) = llr.iter().position(|l| !l.is_finite()) {
            return Err(PayloadError::NonFiniteLlr { position });
        }
        if llr.iter().all(|&l| l == 0.0) {
            return Err(PayloadError::NoSoftInformation);
        }
        // Work on the unmasked code: where the mask bit is 1, the LLR's sign swaps meaning.
        let mut w = [0f64; CODE_BITS];
        for (p, (w, &l)) in w.iter_mut().zip(llr).enumerate() {
            *w = if (self.mask() >> (63 - p)) & 1 == 1 { -l } else { l };
        }
        let scorer = Scorer::new(&w);
        let hard = w.iter().fold(0u64, |acc, &l| acc << 1 | u64::from(l < 0.0)).to_be_bytes();
        let weak = least_reliable_bits(&w);

        let mut top = TopTwo::default();
        let mut tried = 0;
        for set in self.info_sets() {
            let base = set.complete(set.symbols.map(|j| hard[j]));
            // Per slot, the codeword changes that flip none, one or both of its weakest bits.
            let mut variants = [[0u64; 4]; DATA_SYMBOLS];
            for (k, v) in variants.iter_mut().enumerate() {
                let [b1, b2] = weak[set.symbols[k]].map(|b| set.basis[k][b]);
                *v = [0, b1, b2, b1 ^ b2];
            }
            for &v0 in &variants[0] {
                for &v1 in &variants[1] {
                    let c01 = base ^ v0 ^ v1;
                    for &v2 in &variants[2] {
                        for &v3 in &variants[3] {
                            let candidate = c01 ^ v2 ^ v3;
                            top.offer(candidate, scorer.score(candidate));
                            tried += 1;
                        }
                    }
                }
            }
        }
        tried += ordered_statistics(self, &w, &hard, &scorer, &mut top);
        let (best, best_score) = top.best.expect("every information set proposes candidates");
        let candidate = |(word, score): (u64, f64)| Candidate {
            session: self.session_of(word),
            codeword: Codeword::from_u64(word ^ self.mask()),
            score,
        };
        Ok(SoftDecoded {
            best: candidate((best, best_score)),
            runner_up: top.second.map(candidate),
            candidates_tried: tried,
        })
    }
}

/// Flips tried on the most reliable basis: every set of up to this many of its 32 positions.
pub(super) const OSD_ORDER: usize = 4;

/// Ordered-statistics candidates, which catch what the symbol-wise Chase variants cannot:
/// *confident* wrong bits spread over many symbols. Gaussian elimination over GF(2) puts the
/// generator in systematic form on the 32 most reliable linearly independent positions; the
/// hard decisions there are re-encoded, then re-encoded again with every set of up to
/// [`OSD_ORDER`] of those decisions flipped. Returns the number of candidates offered.
fn ordered_statistics(
    coder: &SessionCoder,
    w: &[f64; CODE_BITS],
    hard: &[u8; CODE_SYMBOLS],
    scorer: &Scorer,
    top: &mut TopTwo,
) -> usize {
    let data = &coder.info_sets()[0];
    let mut rows: Vec<u64> = data.basis.iter().flatten().copied().collect();
    let mut by_reliability: Vec<usize> = (0..CODE_BITS).collect();
    by_reliability.sort_by(|&a, &b| w[b].abs().total_cmp(&w[a].abs()));
    let hard = u64::from_be_bytes(*hard);
    let mut base = 0u64;
    let mut rank = 0;
    let mut pivots = Vec::with_capacity(rows.len());
    for p in by_reliability {
        let bit = 1u64 << (63 - p);
        let Some(found) = (rank..rows.len()).find(|&r| rows[r] & bit != 0) else { continue };
        rows.swap(rank, found);
        pivots.push(bit);
        let pivot = rows[rank];
        for (r, row) in rows.iter_mut().enumerate() {
            if r != rank && *row & bit != 0 {
                *row ^= pivot;
            }
        }
        rank += 1;
        if rank == rows.len() {
            break;
        }
    }
    debug_assert_eq!(rank, rows.len(), "the 32 generator rows are independent");
    // Row r now has a single 1 among the pivot positions, at its own: take the hard decisions.
    for (row, pivot) in rows.iter().zip(&pivots) {
        if hard & pivot != 0 {
            base ^= row;
        }
    }
    let mut tried = 0;
    flip_sets(&rows, base, 0, OSD_ORDER, &mut |word| {
        top.offer(word, scorer.score(word));
        tried += 1;
    });
    tried
}

/// Calls `visit` with `word` XOR every set of at most `depth` rows from `rows[from..]`.
fn flip_sets(rows: &[u64], word: u64, from: usize, depth: usize, visit: &mut impl FnMut(u64)) {
    visit(word);
    if depth == 0 {
        return;
    }
    for i in from..rows.len() {
        flip_sets(rows, word ^ rows[i], i + 1, depth - 1, visit);
    }
}

/// For each symbol, the two bits (as bit indices within the byte, 0 = least significant) with
/// the smallest |LLR|; zero LLRs, where nothing was seen, are the least reliable of all.
fn least_reliable_bits(w: &[f64; CODE_BITS]) -> [[usize; 2]; CODE_SYMBOLS] {
    let mut weak = [[0usize; 2]; CODE_SYMBOLS];
    for (j, pair) in weak.iter_mut().enumerate() {
        let mut order: [usize; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
        order.sort_by(|&a, &b| w[8 * j + a].abs().total_cmp(&w[8 * j + b].abs()));
        // Position 8j + i is bit 7 - i of the byte.
        *pair = [7 - order[0], 7 - order[1]];
    }
    weak
}

/// Correlation of a candidate with the LLRs: `score(c) = sum_p w_p - 2 * sum_{c_p = 1} w_p`,
/// the second sum read from one 256-entry table per byte.
struct Scorer {
    total: f64,
    ones: [[f64; 256]; CODE_SYMBOLS],
}

impl Scorer {
    fn new(w: &[f64; CODE_BITS]) -> Self {
        let mut ones = [[0f64; 256]; CODE_SYMBOLS];
        for (j, table) in ones.iter_mut().enumerate() {
            for v in 1..256usize {
                let low = v.trailing_zeros() as usize;
                table[v] = table[v & (v - 1)] + w[8 * j + 7 - low];
            }
        }
        Self { total: w.iter().sum(), ones }
    }

    fn score(&self, word: u64) -> f64 {
        let ones: f64 =
            word.to_be_bytes().iter().zip(&self.ones).map(|(&b, t)| t[b as usize]).sum();
        self.total - 2.0 * ones
    }
}

/// The best two distinct words seen; ties keep the earlier word.
#[derive(Default)]
struct TopTwo {
    best: Option<(u64, f64)>,
    second: Option<(u64, f64)>,
}

impl TopTwo {
    fn offer(&mut self, word: u64, score: f64) {
        match self.best {
            Some((b, _)) if b == word => {}
            Some((_, s)) if score <= s => match self.second {
                Some((w2, s2)) if w2 == word || score <= s2 => {}
                _ => self.second = Some((word, score)),
            },
            _ => {
                self.second = self.best;
                self.best = Some((word, score));
            }
        }
    }
}
