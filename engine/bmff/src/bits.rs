//! The one bit reader of the codec syntax: bits most significant first, Exp-Golomb codes
//! (ITU-T H.264 9.1, H.265 9.2), over the *escaped* bytes of a NAL unit (emulation-prevention
//! bytes are dropped as bits are pulled, so a header is measured in the escaped bytes a CENC
//! subsample map counts) or over plain bytes (an AAC AudioSpecificConfig).
//!
//! Every read is bounds-checked and names the syntax element it was reading, so hostile input
//! gives a [`SyntaxError`], never a panic.

/// Why codec syntax (parameter sets, slice headers, decoder configurations) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// The data ended before the named syntax element was complete.
    #[error("data ends inside {0}")]
    Truncated(&'static str),
    /// An Exp-Golomb code had more than 31 leading zeros (value beyond 32 bits).
    #[error("Exp-Golomb code for {0} is longer than 32 bits")]
    GolombTooLong(&'static str),
    /// A syntax element was outside the range the specification allows.
    #[error("{field} = {value} is out of range")]
    OutOfRange {
        /// The syntax element, as named in the spec.
        field: &'static str,
        /// The decoded value.
        value: i64,
    },
    /// The NAL unit is not of the type the parser expects.
    #[error("expected NAL unit type {expected}, got {got}")]
    WrongNalType {
        /// What the caller asked to parse (7 SPS, 8 PPS, 1/5 slice).
        expected: &'static str,
        /// The `nal_unit_type` found.
        got: u8,
    },
    /// A slice names a PPS that has not been seen.
    #[error("slice refers to PPS {0}, not in the avcC or the sample")]
    UnknownPps(u8),
    /// A PPS names an SPS that has not been seen.
    #[error("PPS {pps} refers to SPS {sps}, not in the avcC or the sample")]
    UnknownSps {
        /// The PPS the slice uses.
        pps: u8,
        /// The SPS that PPS refers to.
        sps: u8,
    },
}

type Result<T> = std::result::Result<T, SyntaxError>;

/// `pos` is the escaped index of the next byte to load; a byte is loaded only when one of its
/// bits is consumed, so after parsing, `pos` is the escaped length of everything read.
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    cur: u8,
    left: u32,
    zeros: u8,
    /// Drop emulation-prevention bytes (NAL payloads); off for plain bit strings.
    escaped: bool,
}

impl<'a> BitReader<'a> {
    /// Reader over escaped NAL bytes (the bytes after the NAL unit header).
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, cur: 0, left: 0, zeros: 0, escaped: true }
    }

    /// Reader over plain bytes, where `00 00 03` is data (an AudioSpecificConfig, an avcC).
    pub fn plain(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, cur: 0, left: 0, zeros: 0, escaped: false }
    }

    /// Escaped bytes touched so far (the last one holds the last bit read).
    pub fn consumed(&self) -> usize {
        self.pos
    }

    #[inline]
    fn load(&mut self, what: &'static str) -> Result<()> {
        let mut b = *self.data.get(self.pos).ok_or(SyntaxError::Truncated(what))?;
        if self.escaped && b == 0x03 && self.zeros >= 2 {
            self.pos += 1;
            self.zeros = 0;
            b = *self.data.get(self.pos).ok_or(SyntaxError::Truncated(what))?;
        }
        self.pos += 1;
        self.zeros = if b == 0 { self.zeros.saturating_add(1) } else { 0 };
        self.cur = b;
        self.left = 8;
        Ok(())
    }

    /// Reads `n <= 32` bits, most significant first.
    #[inline]
    pub fn bits(&mut self, n: u32, what: &'static str) -> Result<u32> {
        if n > 32 {
            return Err(SyntaxError::OutOfRange { field: what, value: i64::from(n) });
        }
        let mut n = n;
        let mut v: u64 = 0;
        while n > 0 {
            if self.left == 0 {
                self.load(what)?;
            }
            let take = n.min(self.left);
            let shift = self.left - take;
            let chunk = (u32::from(self.cur) >> shift) & ((1u32 << take) - 1);
            v = (v << take) | u64::from(chunk);
            self.left -= take;
            n -= take;
        }
        // n <= 32 so v fits.
        Ok(v as u32)
    }

    #[inline]
    pub fn flag(&mut self, what: &'static str) -> Result<bool> {
        Ok(self.bits(1, what)? == 1)
    }

    /// Skips `n` bits (bounded by the data: fails once the NAL unit is exhausted).
    pub fn skip(&mut self, mut n: u64, what: &'static str) -> Result<()> {
        while n > 0 {
            let take = n.min(32) as u32;
            self.bits(take, what)?;
            n -= u64::from(take);
        }
        Ok(())
    }

    /// ue(v), limited to 32-bit values (at most 31 leading zeros).
    #[inline]
    pub fn ue(&mut self, what: &'static str) -> Result<u32> {
        let mut lz: u32 = 0;
        loop {
            if self.left == 0 {
                self.load(what)?;
            }
            // Remaining bits of the current byte, left-aligned.
            let rest = ((u32::from(self.cur) << (8 - self.left)) & 0xff) as u8;
            if rest == 0 {
                lz += self.left;
                self.left = 0;
                if lz > 31 {
                    return Err(SyntaxError::GolombTooLong(what));
                }
            } else {
                let z = rest.leading_zeros();
                lz += z;
                self.left -= z + 1;
                break;
            }
        }
        if lz > 31 {
            return Err(SyntaxError::GolombTooLong(what));
        }
        let suffix = self.bits(lz, what)?;
        // lz <= 31: (2^lz - 1) + suffix <= 2^32 - 2.
        Ok(((1u64 << lz) - 1 + u64::from(suffix)) as u32)
    }

    /// se(v), from a 32-bit ue(v).
    #[inline]
    pub fn se(&mut self, what: &'static str) -> Result<i64> {
        let k = i64::from(self.ue(what)?);
        Ok(if k & 1 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }

    /// ue(v) that must not exceed `max`.
    #[inline]
    pub fn ue_max(&mut self, max: u32, what: &'static str) -> Result<u32> {
        let v = self.ue(what)?;
        if v > max {
            return Err(SyntaxError::OutOfRange { field: what, value: i64::from(v) });
        }
        Ok(v)
    }

    /// se(v) that must lie in `min..=max`.
    #[inline]
    pub fn se_range(&mut self, min: i64, max: i64, what: &'static str) -> Result<i64> {
        let v = self.se(what)?;
        if v < min || v > max {
            return Err(SyntaxError::OutOfRange { field: what, value: v });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_codes() {
        // 1 | 010 | 011 | 00100 | 0001000 -> 0, 1, 2, 3, 7
        let data = [0b1010_0110, 0b0100_0001, 0b0000_0000];
        let mut r = BitReader::plain(&data);
        let got: Vec<u32> = (0..5).map(|_| r.ue("v").unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 7]);
        assert!(r.ue("v").is_err());
    }

    #[test]
    fn plain_bytes_keep_what_looks_like_emulation_prevention() {
        let mut r = BitReader::plain(&[0x00, 0x00, 0x03, 0x01]);
        assert_eq!(r.bits(32, "x"), Ok(0x0000_0301));
        let mut r = BitReader::new(&[0x00, 0x00, 0x03, 0x01]);
        assert_eq!(r.bits(24, "x"), Ok(0x00_0001));
    }
}
