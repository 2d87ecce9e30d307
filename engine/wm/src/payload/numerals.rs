//! The 32-bit session index as an FF1 numeral string (radix 2), held in a `u32`.
//!
//! FF1 itself (the Feistel rounds, the AES-based PRF, the round constants) is the `fpe` crate's;
//! this file only implements its [`NumeralString`] extension point for our one shape of input:
//! 32 binary numerals, numeral 1 the most significant bit of the integer (the order the spec
//! states and `docs/session-code.md` fixes). `fpe`'s own `BinaryNumeralString` does the
//! same arithmetic with byte vectors and big integers, a dozen heap allocations per round; in
//! radix 2, `NUM` of a half is just its bits and `mod 2^m` a mask, so here each round is a few
//! integer operations. A test checks this type against `fpe`'s `FlexibleNumeralString` on
//! random inputs, and `coder.rs` pins pairs computed before it existed.
//!
//! Depends on `fpe`'s traits only.

use fpe::ff1::{NumeralString, Operations};

/// The radix these numeral strings are valid for.
const RADIX: u32 = 2;

/// 32 binary numerals: numeral 1 is bit 31 of the value, numeral 32 is bit 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Bits32(pub u32);

/// One half of a [`Bits32`] during the rounds: `NUM_2` of the half (its bits, first numeral
/// most significant) and how many numerals it has (16 each for 32 numerals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Half {
    value: u32,
    numerals: usize,
}

/// `STR^b_256(x)`: the low `b` bytes of `x`, big-endian (FF1 asks for `b = 2` on 16 numerals).
pub(super) struct BeBytes {
    bytes: [u8; 8],
    len: usize,
}

impl AsRef<[u8]> for BeBytes {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - self.len..]
    }
}

impl Half {
    fn mask(m: usize) -> u32 {
        if m >= 32 {
            u32::MAX
        } else {
            (1u32 << m) - 1
        }
    }

    /// The low 32 bits of `NUM_256(s)`: all that matters modulo `2^m` for `m <= 32`, because
    /// `2^m` divides `2^64` and the fold wraps modulo `2^64`.
    fn num_low(s: impl Iterator<Item = u8>) -> u32 {
        s.fold(0u64, |acc, byte| acc << 8 | u64::from(byte)) as u32
    }
}

impl Operations for Half {
    type Bytes = BeBytes;

    fn numeral_count(&self) -> usize {
        self.numerals
    }

    fn to_be_bytes(&self, radix: u32, b: usize) -> BeBytes {
        debug_assert_eq!(radix, RADIX);
        // b = ceil(numerals / 8) <= 4 here; FF1 never asks for fewer bytes than the value needs.
        assert!(b <= 8, "FF1 asked for {b} bytes of a {}-numeral half", self.numerals);
        BeBytes { bytes: u64::from(self.value).to_be_bytes(), len: b }
    }

    fn add_mod_exp(self, other: impl Iterator<Item = u8>, radix: u32, m: usize) -> Self {
        debug_assert_eq!(radix, RADIX);
        let value = self.value.wrapping_add(Self::num_low(other)) & Self::mask(m);
        Half { value, numerals: m }
    }

    fn sub_mod_exp(self, other: impl Iterator<Item = u8>, radix: u32, m: usize) -> Self {
        debug_assert_eq!(radix, RADIX);
        let value = self.value.wrapping_sub(Self::num_low(other)) & Self::mask(m);
        Half { value, numerals: m }
    }
}

impl NumeralString for Bits32 {
    type Ops = Half;

    fn is_valid(&self, radix: u32) -> bool {
        radix == RADIX
    }

    fn numeral_count(&self) -> usize {
        32
    }

    /// `A = X[1..16]` (the high bits), `B = X[17..32]` (the low bits).
    fn split(&self) -> (Half, Half) {
        (Half { value: self.0 >> 16, numerals: 16 }, Half { value: self.0 & 0xFFFF, numerals: 16 })
    }

    fn concat(a: Half, b: Half) -> Self {
        debug_assert_eq!(a.numerals + b.numerals, 32);
        Bits32(a.value << b.numerals | b.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::Aes256;
    use fpe::ff1::{FlexibleNumeralString, FF1};

    /// `fpe`'s generic numeral string: one `u16` numeral per bit, most significant first.
    fn flexible(x: u32) -> FlexibleNumeralString {
        (0..32).map(|i| ((x >> (31 - i)) & 1) as u16).collect::<Vec<u16>>().into()
    }

    fn from_flexible(s: FlexibleNumeralString) -> u32 {
        Vec::<u16>::from(s).iter().fold(0u32, |acc, &b| acc << 1 | u32::from(b))
    }

    #[test]
    fn matches_fpes_generic_numeral_string_on_random_inputs() {
        let mut state = 0x0bad_cafe_f00d_u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state
        };
        for _ in 0..8 {
            let mut key = [0u8; 32];
            for chunk in key.chunks_mut(8) {
                chunk.copy_from_slice(&next().to_le_bytes());
            }
            let ff1 = FF1::<Aes256>::new(&key, 2).expect("radix 2");
            let mut inputs = vec![0u32, 1, 0xFFFF, 0x1_0000, u32::MAX];
            inputs.extend((0..60).map(|_| (next() >> 32) as u32));
            for x in inputs {
                let want = from_flexible(ff1.encrypt(&[], &flexible(x)).expect("encrypt"));
                let got = ff1.encrypt(&[], &Bits32(x)).expect("encrypt").0;
                assert_eq!(got, want, "encrypt {x:#x}");
                let back = ff1.decrypt(&[], &Bits32(got)).expect("decrypt").0;
                assert_eq!(back, x, "decrypt {got:#x}");
                assert_eq!(from_flexible(ff1.decrypt(&[], &flexible(got)).expect("decrypt")), x);
            }
        }
    }

    #[test]
    fn halves_and_bytes() {
        let (a, b) = Bits32(0xABCD_1234).split();
        assert_eq!((a.value, b.value, a.numerals, b.numerals), (0xABCD, 0x1234, 16, 16));
        assert_eq!(a.to_be_bytes(2, 2).as_ref(), [0xAB, 0xCD]);
        assert_eq!(b.to_be_bytes(2, 3).as_ref(), [0, 0x12, 0x34]);
        assert_eq!(Bits32::concat(a, b), Bits32(0xABCD_1234));
        // (0xABCD + 0x..01_0003) mod 2^16 and (0x1234 - 0x..FF_1235) mod 2^16.
        let s = [0x77, 0, 0, 0, 0, 0x01, 0, 3];
        assert_eq!(a.add_mod_exp(s.into_iter(), 2, 16).value, 0xABD0);
        let s = [0x77, 0, 0, 0, 0, 0xFF, 0x12, 0x35];
        assert_eq!(b.sub_mod_exp(s.into_iter(), 2, 16).value, 0xFFFF);
        assert!(!Bits32(0).is_valid(10));
    }
}
