//! The bit reader over escaped NAL bytes: emulation-prevention bytes are dropped as bits are
//! pulled, so a header is measured in the escaped bytes a CENC subsample map counts.

use super::{Result, SliceHeaderError};

/// `pos` is the escaped index of the next byte to load; a byte is loaded only when one of its
/// bits is consumed, so after parsing, `pos` is the escaped length of everything read.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    cur: u8,
    left: u32,
    zeros: u8,
}

impl<'a> BitReader<'a> {
    /// Reader over `data` (the bytes after the 1-byte NAL header).
    pub(super) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, cur: 0, left: 0, zeros: 0 }
    }

    /// Escaped bytes touched so far (the last one holds the last bit read).
    pub(super) fn consumed(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(super) fn load(&mut self, what: &'static str) -> Result<()> {
        let mut b = *self.data.get(self.pos).ok_or(SliceHeaderError::Truncated(what))?;
        if b == 0x03 && self.zeros >= 2 {
            self.pos += 1;
            self.zeros = 0;
            b = *self.data.get(self.pos).ok_or(SliceHeaderError::Truncated(what))?;
        }
        self.pos += 1;
        self.zeros = if b == 0 { self.zeros.saturating_add(1) } else { 0 };
        self.cur = b;
        self.left = 8;
        Ok(())
    }

    /// Reads `n <= 32` bits, most significant first.
    #[inline]
    pub(super) fn bits(&mut self, n: u32, what: &'static str) -> Result<u32> {
        if n > 32 {
            return Err(SliceHeaderError::OutOfRange { field: what, value: i64::from(n) });
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
    pub(super) fn flag(&mut self, what: &'static str) -> Result<bool> {
        Ok(self.bits(1, what)? == 1)
    }

    /// Skips `n` bits (bounded by the data: fails once the NAL unit is exhausted).
    pub(super) fn skip(&mut self, mut n: u64, what: &'static str) -> Result<()> {
        while n > 0 {
            let take = n.min(32) as u32;
            self.bits(take, what)?;
            n -= u64::from(take);
        }
        Ok(())
    }

    /// ue(v), limited to 32-bit values (at most 31 leading zeros).
    #[inline]
    pub(super) fn ue(&mut self, what: &'static str) -> Result<u32> {
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
                    return Err(SliceHeaderError::GolombTooLong(what));
                }
            } else {
                let z = rest.leading_zeros();
                lz += z;
                self.left -= z + 1;
                break;
            }
        }
        if lz > 31 {
            return Err(SliceHeaderError::GolombTooLong(what));
        }
        let suffix = self.bits(lz, what)?;
        // lz <= 31: (2^lz - 1) + suffix <= 2^32 - 2.
        Ok(((1u64 << lz) - 1 + u64::from(suffix)) as u32)
    }

    /// se(v), from a 32-bit ue(v).
    #[inline]
    pub(super) fn se(&mut self, what: &'static str) -> Result<i64> {
        let k = i64::from(self.ue(what)?);
        Ok(if k & 1 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }

    /// ue(v) that must not exceed `max`.
    #[inline]
    pub(super) fn ue_max(&mut self, max: u32, what: &'static str) -> Result<u32> {
        let v = self.ue(what)?;
        if v > max {
            return Err(SliceHeaderError::OutOfRange { field: what, value: i64::from(v) });
        }
        Ok(v)
    }

    /// se(v) that must lie in `min..=max`.
    #[inline]
    pub(super) fn se_range(&mut self, min: i64, max: i64, what: &'static str) -> Result<i64> {
        let v = self.se(what)?;
        if v < min || v > max {
            return Err(SliceHeaderError::OutOfRange { field: what, value: v });
        }
        Ok(v)
    }
}

/// Splits a NAL unit into its header byte and payload, checking the type against `expected`.
pub(super) fn nal_payload<'a>(
    nal: &'a [u8],
    ok: &[u8],
    expected: &'static str,
) -> Result<(u8, &'a [u8])> {
    let (&header, payload) =
        nal.split_first().ok_or(SliceHeaderError::Truncated("nal_unit_header"))?;
    let nal_type = header & 0x1f;
    if !ok.contains(&nal_type) {
        return Err(SliceHeaderError::WrongNalType { expected, got: nal_type });
    }
    Ok((header, payload))
}
