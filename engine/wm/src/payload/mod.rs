//! Session code: which variant (0 or 1) each segment of one viewer's stream is served from.
//!
//! A viewer's session index (`u32`) becomes a 64-bit [`Codeword`] in three keyed steps
//! ([`SessionCoder::encode`]): FF1 format-preserving encryption of the 32 bits, a systematic
//! Reed-Solomon RS(8, 4) code over GF(2^8) (4 data bytes, 4 parity bytes, minimum distance 5
//! symbols), and an XOR mask. Segment `i` carries bit `i mod 64` of the codeword
//! ([`position_of_segment`]); bit value 0 means variant 0, 1 means variant 1. The codeword's 8
//! bytes are exactly an ETSI TS 104 002 `wmpattern` with `wmpatlen` 64, bits big-endian.
//!
//! Detection goes the other way: per-position hard bits ([`SessionCoder::decode_hard`],
//! bounded-distance, `2 * wrong + erased <= 4` symbols) or accumulated log-likelihood ratios
//! ([`SessionCoder::decode_soft`], list decoding that returns the best codeword and its nearest
//! rival with their correlation scores). Deciding whether a score is evidence, and whether the
//! decoded session was ever issued, belongs to the caller: every 32-bit value decrypts to *some*
//! session, which is what makes a collusion-forged codeword decode to a random, unissued index.
//!
//! Map: `codeword.rs` holds the bit layout, `coder.rs` the key-derived coder and encoding,
//! `numerals.rs` the session index as FF1's numeral string, `decode.rs` both decoders. The
//! normative description is `docs/session-code.md`.

mod coder;
mod codeword;
mod decode;
mod numerals;
#[cfg(test)]
mod tests;

pub use coder::SessionCoder;
pub use codeword::Codeword;
pub use decode::{Candidate, HardDecoded, SoftDecoded};

/// Bits in a session codeword, and so the period of the segment-to-bit mapping.
pub const CODE_BITS: usize = 64;
/// Reed-Solomon data symbols (bytes): the 32 encrypted bits of the session index.
pub const DATA_SYMBOLS: usize = 4;
/// Reed-Solomon parity symbols (bytes).
pub const PARITY_SYMBOLS: usize = 4;
/// All symbols of a codeword.
pub const CODE_SYMBOLS: usize = DATA_SYMBOLS + PARITY_SYMBOLS;
/// Minimum Hamming distance of the code, in symbols (MDS: parity + 1).
pub const MIN_SYMBOL_DISTANCE: usize = PARITY_SYMBOLS + 1;

/// Why a session code could not be built or decoded. Messages never quote key material.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("session code: cannot set up the {what}: {reason}")]
    Setup { what: &'static str, reason: String },
    #[error("session code: {what} holds {got} values; expected {expected}")]
    WrongLength { what: &'static str, expected: usize, got: usize },
    #[error("session code: bit at position {position} is {value}; a bit is 0 or 1")]
    InvalidBit { position: usize, value: u8 },
    #[error("session code: log-likelihood ratio at position {position} is not finite")]
    NonFiniteLlr { position: usize },
    #[error("session code: no soft information (all {CODE_BITS} log-likelihood ratios are zero)")]
    NoSoftInformation,
    #[error(
        "session code: too many erased or wrong symbols to decode ({erased} of {CODE_SYMBOLS} \
         symbols erased; decoding needs 2 * wrong + erased <= {PARITY_SYMBOLS})"
    )]
    Undecodable { erased: usize },
}

/// The codeword position carried by a segment: the code repeats every [`CODE_BITS`] segments.
pub fn position_of_segment(segment_index: u64) -> usize {
    (segment_index % CODE_BITS as u64) as usize
}

/// Bit `position mod pattern_bits` of a foreign ETSI `wmpattern`, big-endian (position 0 is the
/// most significant bit of `pattern[0]`). `None` when `pattern_bits` is 0 or exceeds the bits
/// `pattern` holds.
pub fn pattern_bit(pattern: &[u8], pattern_bits: usize, position: u64) -> Option<u8> {
    if pattern_bits == 0 || pattern_bits > pattern.len().saturating_mul(8) {
        return None;
    }
    let p = (position % pattern_bits as u64) as usize;
    Some((pattern[p / 8] >> (7 - p % 8)) & 1)
}
