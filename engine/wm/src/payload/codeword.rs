//! The 64-bit session codeword and its bit layout; no keys and no coding theory here.
//!
//! Position `p` (0..64) is bit `7 - p % 8` of byte `p / 8`: big-endian, most significant bit
//! first, the order ETSI TS 104 002 uses for `wmpattern`. Symbol (byte) `j` occupies positions
//! `8j..8j + 8`, so a contiguous run of lost segments erases as few symbols as possible.

use super::{CODE_BITS, CODE_SYMBOLS};

/// A session codeword: the 8 bytes that go into an ETSI `wmpattern` with `wmpatlen` 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Codeword([u8; CODE_SYMBOLS]);

impl Codeword {
    pub fn from_bytes(b: [u8; CODE_SYMBOLS]) -> Self {
        Self(b)
    }

    pub fn to_bytes(&self) -> [u8; CODE_SYMBOLS] {
        self.0
    }

    /// The codeword as one big-endian integer: position `p` is bit `63 - p`.
    pub(crate) fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    pub(crate) fn from_u64(v: u64) -> Self {
        Self(v.to_be_bytes())
    }

    /// The bit at `position mod 64`, big-endian.
    pub fn bit(&self, position: usize) -> u8 {
        let p = position % CODE_BITS;
        (self.0[p / 8] >> (7 - p % 8)) & 1
    }

    /// The variant of each of the first `segments` segments: segment `i` carries `bit(i)`.
    pub fn segment_bits(&self, segments: usize) -> Vec<u8> {
        (0..segments).map(|i| self.bit(i)).collect()
    }

    /// Hamming distance in bits.
    pub fn distance(&self, other: &Codeword) -> u32 {
        (self.to_u64() ^ other.to_u64()).count_ones()
    }

    /// Hamming distance in symbols (bytes); at least 5 between distinct codewords.
    pub fn symbol_distance(&self, other: &Codeword) -> u32 {
        self.0.iter().zip(&other.0).filter(|(a, b)| a != b).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_big_endian_like_etsi_wmpattern() {
        let c = Codeword::from_bytes([0x0A, 0x0B, 0x0C, 0x0D, 0, 0, 0, 0x01]);
        // 0x0A = 0000_1010: positions 0..3 are 0, position 4 is 1, 5 is 0, 6 is 1, 7 is 0.
        assert_eq!([c.bit(3), c.bit(4), c.bit(5), c.bit(6), c.bit(7)], [0, 1, 0, 1, 0]);
        // 0x0B = 0000_1011 starts at position 8.
        assert_eq!([c.bit(11), c.bit(12), c.bit(14), c.bit(15)], [0, 1, 1, 1]);
        assert_eq!(c.bit(63), 1);
        assert_eq!(c.bit(64 + 4), 1);
        let bits = c.segment_bits(130);
        assert_eq!(bits.len(), 130);
        assert!((0..130).all(|i| bits[i] == c.bit(i % 64)));
        assert_eq!(Codeword::from_u64(c.to_u64()), c);
        assert_eq!((c.to_u64() >> (63 - 4)) & 1, 1, "position p is integer bit 63 - p");
    }

    #[test]
    fn distances_count_bits_and_symbols() {
        let a = Codeword::from_bytes([0; 8]);
        let b = Codeword::from_bytes([0xFF, 0, 0x01, 0, 0, 0, 0, 0x80]);
        assert_eq!(a.distance(&b), 10);
        assert_eq!(a.symbol_distance(&b), 3);
        assert_eq!(b.distance(&b), 0);
    }
}
