//! The keyed session coder: FF1 encryption, Reed-Solomon RS(8, 4) and the mask, and encoding.
//!
//! Both secrets come from the watermark key by purpose label, so the coder is fully determined
//! by the key. Besides the codec, the coder precomputes, for each of the 70 information sets (4
//! of the 8 symbols, from which the Reed-Solomon erasure decoder recovers the rest), the
//! GF(2)-linear map from those 4 bytes to the whole codeword. The code is linear, so one XOR per
//! set bit replaces a call into the codec; the decoders in `decode.rs` try tens of thousands of
//! candidates and rely on this. The maps are built *with* the codec's own `reconstruct` and a
//! test checks them against it on random words.

use aes::Aes256;
use fpe::ff1::FF1;
use reed_solomon_erasure::galois_8::ReedSolomon;

use super::numerals::Bits32;
use super::{Codeword, PayloadError, CODE_SYMBOLS, DATA_SYMBOLS, PARITY_SYMBOLS};
use crate::key::WatermarkKey;

const FF1_LABEL: &str = "abmark/session-code/ff1/v1";
const MASK_LABEL: &str = "abmark/session-code/mask/v1";

/// Four symbols of the code that determine the other four, with the map that completes them.
pub(super) struct InfoSet {
    /// The symbols (byte indices 0..8) in increasing order.
    pub symbols: [usize; DATA_SYMBOLS],
    /// Bit `j` set when symbol `j` belongs to the set.
    pub members: u8,
    /// `basis[k][b]`: the unmasked codeword, as a big-endian `u64`, whose symbols in this set are
    /// all zero except `symbols[k]`, which is `1 << b`.
    pub basis: [[u64; 8]; DATA_SYMBOLS],
}

impl InfoSet {
    /// The unique unmasked codeword whose symbols in this set are `values`.
    pub fn complete(&self, values: [u8; DATA_SYMBOLS]) -> u64 {
        let mut word = 0;
        for (basis, mut v) in self.basis.iter().zip(values) {
            while v != 0 {
                word ^= basis[v.trailing_zeros() as usize];
                v &= v - 1;
            }
        }
        word
    }
}

/// Turns session indices into codewords and back, under one watermark key. Cheap to share:
/// build it once per key and use it from any thread.
pub struct SessionCoder {
    ff1: FF1<Aes256>,
    /// The XOR mask as a big-endian `u64` (byte 0 in the top bits, like [`Codeword::to_u64`]).
    mask: u64,
    rs: ReedSolomon,
    info_sets: Vec<InfoSet>,
}

impl SessionCoder {
    pub fn new(key: &WatermarkKey) -> Result<Self, PayloadError> {
        let ff1 = FF1::<Aes256>::new(&key.derive(FF1_LABEL, &[]), 2)
            .map_err(|e| PayloadError::Setup { what: "FF1 cipher", reason: format!("{e:?}") })?;
        let derived = key.derive(MASK_LABEL, &[]);
        let mut mask = [0u8; CODE_SYMBOLS];
        mask.copy_from_slice(&derived[..CODE_SYMBOLS]);
        let rs = ReedSolomon::new(DATA_SYMBOLS, PARITY_SYMBOLS).map_err(|e| {
            PayloadError::Setup { what: "Reed-Solomon codec", reason: e.to_string() }
        })?;
        let info_sets = build_info_sets(&rs)?;
        Ok(Self { ff1, mask: u64::from_be_bytes(mask), rs, info_sets })
    }

    /// The codeword for `session`.
    pub fn encode(&self, session: u32) -> Codeword {
        let mut shards = [[0u8; 1]; CODE_SYMBOLS];
        for (shard, byte) in shards.iter_mut().zip(self.encrypt(session).to_be_bytes()) {
            shard[0] = byte;
        }
        self.rs.encode(&mut shards).expect("eight one-byte shards fit the RS(8, 4) codec");
        Codeword::from_u64(u64::from_be_bytes(shards.map(|s| s[0])) ^ self.mask)
    }

    pub(super) fn mask(&self) -> u64 {
        self.mask
    }

    pub(super) fn info_sets(&self) -> &[InfoSet] {
        &self.info_sets
    }

    /// The session of an unmasked codeword: its data symbols (bytes 0..4), decrypted.
    pub(super) fn session_of(&self, unmasked: u64) -> u32 {
        self.decrypt((unmasked >> 32) as u32)
    }

    /// FF1 over the 32-numeral binary string of `x`, most significant bit first.
    fn encrypt(&self, x: u32) -> u32 {
        self.ff1.encrypt(&[], &Bits32(x)).expect("32 binary numerals suit FF1").0
    }

    fn decrypt(&self, y: u32) -> u32 {
        self.ff1.decrypt(&[], &Bits32(y)).expect("32 binary numerals suit FF1").0
    }
}

/// Every 4-of-8 information set, in lexicographic order, with its completion map taken from the
/// codec's own erasure decoder.
fn build_info_sets(rs: &ReedSolomon) -> Result<Vec<InfoSet>, PayloadError> {
    let mut sets = Vec::with_capacity(70);
    for members in 0u16..256 {
        let members = members as u8;
        if members.count_ones() as usize != DATA_SYMBOLS {
            continue;
        }
        let mut symbols = [0; DATA_SYMBOLS];
        for (slot, j) in (0..CODE_SYMBOLS).filter(|j| members >> j & 1 == 1).enumerate() {
            symbols[slot] = j;
        }
        let mut basis = [[0u64; 8]; DATA_SYMBOLS];
        for (k, row) in basis.iter_mut().enumerate() {
            for (b, word) in row.iter_mut().enumerate() {
                let mut shards = [([0u8; 1], false); CODE_SYMBOLS];
                for &j in &symbols {
                    shards[j].1 = true;
                }
                shards[symbols[k]].0[0] = 1 << b;
                rs.reconstruct(&mut shards).map_err(|e| PayloadError::Setup {
                    what: "Reed-Solomon information sets",
                    reason: e.to_string(),
                })?;
                *word = u64::from_be_bytes(shards.map(|s| s.0[0]));
            }
        }
        sets.push(InfoSet { symbols, members, basis });
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fpe::ff1::FlexibleNumeralString;

    fn coder() -> SessionCoder {
        SessionCoder::new(&WatermarkKey::from_bytes([0x42; 32])).expect("coder")
    }

    #[test]
    fn ff1_bit_order_matches_the_generic_numeral_string() {
        // FlexibleNumeralString takes the numerals explicitly: numeral 1 = most significant bit.
        let c = coder();
        let ff1 =
            FF1::<Aes256>::new(&WatermarkKey::from_bytes([0x42; 32]).derive(FF1_LABEL, &[]), 2)
                .expect("radix 2");
        for x in [0u32, 1, 0x8000_0000, 0xDEAD_BEEF, u32::MAX] {
            let bits: Vec<u16> = (0..32).map(|i| ((x >> (31 - i)) & 1) as u16).collect();
            let y: Vec<u16> =
                ff1.encrypt(&[], &FlexibleNumeralString::from(bits)).expect("encrypt").into();
            let expected = y.iter().fold(0u32, |acc, &b| acc << 1 | b as u32);
            assert_eq!(c.encrypt(x), expected, "x = {x:#x}");
            assert_eq!(c.decrypt(expected), x);
        }
    }

    #[test]
    fn ff1_pairs_pinned_before_the_numeral_strings_changed() {
        // Computed with `fpe`'s `BinaryNumeralString` (commit 38bdca1, before `Bits32`): session
        // codes already issued and logged must encrypt and decrypt exactly the same.
        let keys = [[0x42u8; 32], [0x07; 32]];
        let inputs = [0u32, 1, 7919, 0x8000_0000, 0x0001_0000, 0xDEAD_BEEF, 123_456_789, u32::MAX];
        let got: Vec<Vec<u32>> = keys
            .iter()
            .map(|k| {
                let c = SessionCoder::new(&WatermarkKey::from_bytes(*k)).expect("coder");
                inputs
                    .iter()
                    .map(|&x| {
                        let y = c.encrypt(x);
                        assert_eq!(c.decrypt(y), x, "round trip of {x:#x}");
                        y
                    })
                    .collect()
            })
            .collect();
        let expected: [[u32; 8]; 2] = [
            [
                0x8df2_9397,
                0xa147_484c,
                0xa6a8_de1e,
                0xa184_4673,
                0x4d54_71a5,
                0x194d_e924,
                0x24a2_15e1,
                0x4a95_ba56,
            ],
            [
                0x8338_206e,
                0x5c78_044d,
                0x9373_100c,
                0x268a_0390,
                0x54cf_d722,
                0x765c_a4ea,
                0xbdbc_6c23,
                0xa43d_5c85,
            ],
        ];
        assert_eq!(got, expected.map(Vec::from).to_vec(), "{got:#x?}");
    }

    #[test]
    fn code_is_systematic_and_info_sets_match_the_codec() {
        let c = coder();
        assert_eq!(c.info_sets().len(), 70);
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..200 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let session = (state >> 32) as u32;
            let word = c.encode(session).to_u64() ^ c.mask();
            assert_eq!((word >> 32) as u32, c.encrypt(session), "data symbols come first");
            let bytes = word.to_be_bytes();
            for set in c.info_sets() {
                // The linear map and the codec's own erasure decoder agree on every set.
                assert_eq!(set.complete(set.symbols.map(|j| bytes[j])), word);
                let mut shards = [([0u8; 1], false); CODE_SYMBOLS];
                for &j in &set.symbols {
                    shards[j] = ([bytes[j]], true);
                }
                c.rs.reconstruct(&mut shards).expect("reconstruct");
                assert_eq!(u64::from_be_bytes(shards.map(|s| s.0[0])), word);
            }
            assert_eq!(c.session_of(word), session);
        }
    }

    #[test]
    fn known_answer_pins_the_format() {
        // A fixed test key (not a production key): any change to labels, bit order, field or
        // generator matrix changes these bytes and must come with a new spec version.
        let c = coder();
        let got: Vec<String> =
            [0u32, 1, u32::MAX].iter().map(|&s| hex::encode(c.encode(s).to_bytes())).collect();
        assert_eq!(
            got,
            ["deeb6619cf7020a8", "f25ebdc26c3bc831", "198c4fd8f6448d40"],
            "spec change?"
        );
    }

    #[test]
    fn parity_matrix_matches_the_spec() {
        // docs/session-code.md: parity symbol 4 + r = XOR over c of P[r][c] * d_c in GF(2^8).
        const P: [[u8; 4]; 4] = [
            [0x1b, 0x1c, 0x12, 0x14],
            [0x1c, 0x1b, 0x14, 0x12],
            [0x12, 0x14, 0x1b, 0x1c],
            [0x14, 0x12, 0x1c, 0x1b],
        ];
        let rs = ReedSolomon::new(DATA_SYMBOLS, PARITY_SYMBOLS).expect("codec");
        let mul = reed_solomon_erasure::galois_8::mul;
        let mut state = 7u32;
        for _ in 0..100 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let data = state.to_be_bytes();
            let mut shards = [[0u8; 1]; CODE_SYMBOLS];
            for (shard, d) in shards.iter_mut().zip(data) {
                shard[0] = d;
            }
            rs.encode(&mut shards).expect("encode");
            for (r, row) in P.iter().enumerate() {
                let parity = row.iter().zip(data).fold(0, |acc, (&p, d)| acc ^ mul(p, d));
                assert_eq!(shards[DATA_SYMBOLS + r][0], parity);
            }
        }
        // The field: x^8 + x^4 + x^3 + x^2 + 1, so x * x^7 = x^4 + x^3 + x^2 + 1.
        assert_eq!(mul(0x02, 0x80), 0x1d);
    }
}
