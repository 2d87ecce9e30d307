//! The ciphers of ISO/IEC 23001-7 applied to one sample's protected ranges, with RustCrypto's
//! AES (`aes`, AES-NI when the CPU has it) in the `ctr` and `cbc` modes.
//!
//! - `cenc` (10.1): one AES-CTR keystream per sample, counter block = IV (8 bytes, then a 64-bit
//!   block counter from 0), running on across the sample's protected ranges as if they were
//!   one contiguous buffer.
//! - `cbcs` (10.4): AES-CBC restarted with the constant IV at every subsample; in each protected
//!   range, blocks are encrypted `crypt` at a time then left clear `skip` at a time (1:9 for
//!   video; no pattern, every block, for audio), the CBC chain running over the encrypted blocks
//!   only; a trailing partial block stays clear.

use aes::Aes128;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, StreamCipher};

use crate::error::CencError;
use crate::subsample::Subsample;

type Ctr = ctr::Ctr64BE<Aes128>;
type CbcEnc = cbc::Encryptor<Aes128>;
type CbcDec = cbc::Decryptor<Aes128>;

/// How one sample is (de)ciphered: the scheme's cipher with its IV.
#[derive(Clone, Copy)]
pub(crate) enum SampleCipher<'a> {
    /// AES-CTR with this initial counter block (an 8-byte IV zero-extended).
    Ctr { key: &'a [u8; 16], iv: [u8; 16] },
    /// AES-CBC with the constant IV and a (crypt, skip) pattern in blocks; (0, 0) = every block.
    Cbc { key: &'a [u8; 16], iv: [u8; 16], crypt: u8, skip: u8 },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Encrypt,
    Decrypt,
}

impl SampleCipher<'_> {
    /// Encrypts the protected ranges of `data` in place. No subsamples = the whole sample.
    pub(crate) fn encrypt(
        &self,
        data: &mut [u8],
        subsamples: &[Subsample],
    ) -> Result<(), CencError> {
        self.apply(data, subsamples, Direction::Encrypt)
    }

    /// Decrypts the protected ranges of `data` in place.
    pub(crate) fn decrypt(
        &self,
        data: &mut [u8],
        subsamples: &[Subsample],
    ) -> Result<(), CencError> {
        self.apply(data, subsamples, Direction::Decrypt)
    }

    fn apply(
        &self,
        data: &mut [u8],
        subsamples: &[Subsample],
        dir: Direction,
    ) -> Result<(), CencError> {
        let covered: u64 =
            subsamples.iter().map(|s| u64::from(s.clear) + u64::from(s.protected)).sum();
        if !subsamples.is_empty() && covered != data.len() as u64 {
            return Err(CencError::SubsampleMismatch { covered, sample: data.len() as u64 });
        }
        match *self {
            SampleCipher::Ctr { key, iv } => {
                // CTR is its own inverse: the same keystream either way.
                let mut ctr = Ctr::new(&(*key).into(), &iv.into());
                for range in protected_ranges(data, subsamples) {
                    ctr.apply_keystream(range);
                }
            }
            SampleCipher::Cbc { key, iv, crypt, skip } => {
                for range in protected_ranges(data, subsamples) {
                    cbc_pattern(key, &iv, crypt, skip, range, dir);
                }
            }
        }
        Ok(())
    }
}

/// The protected byte ranges of a sample, in order (all of it without subsamples).
fn protected_ranges<'d>(data: &'d mut [u8], subsamples: &[Subsample]) -> Vec<&'d mut [u8]> {
    if subsamples.is_empty() {
        return vec![data];
    }
    let mut out = Vec::with_capacity(subsamples.len());
    let mut rest = data;
    for s in subsamples {
        let (_, tail) = rest.split_at_mut(usize::from(s.clear));
        let (protected, tail) = tail.split_at_mut(s.protected as usize);
        if !protected.is_empty() {
            out.push(protected);
        }
        rest = tail;
    }
    out
}

/// One `cbcs` protected range: CBC from the constant IV over the pattern's encrypted blocks.
fn cbc_pattern(
    key: &[u8; 16],
    iv: &[u8; 16],
    crypt: u8,
    skip: u8,
    range: &mut [u8],
    dir: Direction,
) {
    let (crypt, skip) = match (crypt, skip) {
        (0, 0) => (1usize, 0usize),
        (c, s) => (usize::from(c), usize::from(s)),
    };
    let period = crypt + skip;
    let blocks = range.chunks_exact_mut(16).enumerate().filter(|(i, _)| i % period < crypt);
    match dir {
        Direction::Encrypt => {
            let mut cbc = CbcEnc::new(&(*key).into(), &(*iv).into());
            for (_, block) in blocks {
                if let Ok(block) = block.try_into() {
                    cbc.encrypt_block(block);
                }
            }
        }
        Direction::Decrypt => {
            let mut cbc = CbcDec::new(&(*key).into(), &(*iv).into());
            for (_, block) in blocks {
                if let Ok(block) = block.try_into() {
                    cbc.decrypt_block(block);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    fn sample() -> Vec<u8> {
        (0..1000u32).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn ctr_round_trips_and_leaves_clear_bytes_alone() {
        let subs =
            [Subsample { clear: 37, protected: 480 }, Subsample { clear: 3, protected: 480 }];
        let cipher = SampleCipher::Ctr { key: &KEY, iv: [9; 16] };
        let mut data = sample();
        cipher.encrypt(&mut data, &subs).unwrap();
        assert_eq!(data[..37], sample()[..37]);
        assert_eq!(data[517..520], sample()[517..520]);
        assert_ne!(data[37..517], sample()[37..517]);
        cipher.decrypt(&mut data, &subs).unwrap();
        assert_eq!(data, sample());
    }

    #[test]
    fn ctr_keystream_runs_across_subsamples() {
        // Two protected ranges of one sample = one keystream over their concatenation.
        let cipher = SampleCipher::Ctr { key: &KEY, iv: [1; 16] };
        let mut split = vec![0u8; 40];
        cipher
            .encrypt(
                &mut split,
                &[Subsample { clear: 0, protected: 20 }, Subsample { clear: 0, protected: 20 }],
            )
            .unwrap();
        let mut whole = vec![0u8; 40];
        cipher.encrypt(&mut whole, &[]).unwrap();
        assert_eq!(split, whole);
    }

    #[test]
    fn cbcs_pattern_encrypts_one_block_in_ten_and_keeps_the_tail_clear() {
        let subs = [Subsample { clear: 10, protected: 990 }];
        let cipher = SampleCipher::Cbc { key: &KEY, iv: [5; 16], crypt: 1, skip: 9 };
        let mut data = sample();
        cipher.encrypt(&mut data, &subs).unwrap();
        let orig = sample();
        for (b, (enc, clear)) in data[10..].chunks(16).zip(orig[10..].chunks(16)).enumerate() {
            let encrypted = enc != clear;
            assert_eq!(encrypted, b % 10 == 0 && enc.len() == 16, "block {b}");
        }
        cipher.decrypt(&mut data, &subs).unwrap();
        assert_eq!(data, orig);
    }

    #[test]
    fn cbcs_restarts_the_chain_at_each_subsample() {
        let cipher = SampleCipher::Cbc { key: &KEY, iv: [5; 16], crypt: 0, skip: 0 };
        let mut data = vec![7u8; 64];
        cipher
            .encrypt(
                &mut data,
                &[Subsample { clear: 0, protected: 32 }, Subsample { clear: 0, protected: 32 }],
            )
            .unwrap();
        assert_eq!(data[..32], data[32..]);
    }

    #[test]
    fn subsamples_must_cover_the_sample() {
        let cipher = SampleCipher::Ctr { key: &KEY, iv: [0; 16] };
        let err =
            cipher.decrypt(&mut [0u8; 10], &[Subsample { clear: 4, protected: 4 }]).unwrap_err();
        assert!(err.to_string().contains("8"), "{err}");
    }
}
