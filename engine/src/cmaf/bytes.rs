//! Checked readers over untrusted bytes: [`Cursor`] for big-endian fields and [`BitReader`] for
//! the bit-packed syntax of H.264 parameter sets and AAC configs. Running out of input is an
//! error value, never a panic.

use super::error::CmafError;

/// Reads big-endian fields front to back; a read past the end returns the error given at
/// construction, so each parser reports shortage in its own terms.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    short: CmafError,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8], short: CmafError) -> Self {
        Self { data, pos: 0, short }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CmafError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.short.clone())?;
        let out = self.data.get(self.pos..end).ok_or_else(|| self.short.clone())?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), CmafError> {
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CmafError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CmafError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, CmafError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, CmafError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, CmafError> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, CmafError> {
        self.array().map(u64::from_be_bytes)
    }
}

/// Reads bits most-significant first, with Exp-Golomb codes (ITU-T H.264, 9.1).
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
    short: CmafError,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8], short: CmafError) -> Self {
        Self { data, bit: 0, short }
    }

    pub(crate) fn bit(&mut self) -> Result<u32, CmafError> {
        let byte = self.data.get(self.bit / 8).ok_or_else(|| self.short.clone())?;
        let v = (byte >> (7 - self.bit % 8)) & 1;
        self.bit += 1;
        Ok(u32::from(v))
    }

    /// `n` bits (at most 32) as an unsigned number.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, CmafError> {
        let mut v = 0u32;
        for _ in 0..n.min(32) {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    /// `ue(v)`: unsigned Exp-Golomb. Codes longer than 31 leading zeros are refused: no H.264
    /// syntax element we read is that large, so such input is damage.
    pub(crate) fn ue(&mut self) -> Result<u32, CmafError> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(self.short.clone());
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)).try_into().unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short() -> CmafError {
        CmafError::BadParameterSet { reason: "short".into() }
    }

    #[test]
    fn cursor_reports_shortage() {
        let mut c = Cursor::new(&[1, 2, 3], short());
        assert_eq!(c.u16().unwrap(), 0x0102);
        assert_eq!(c.u16(), Err(short()));
        assert_eq!(c.u8().unwrap(), 3);
    }

    #[test]
    fn exp_golomb_codes() {
        // 1 | 010 | 011 | 00100 | 0001000 -> 0, 1, 2, 3, 7
        let data = [0b1010_0110, 0b0100_0001, 0b0000_0000];
        let mut r = BitReader::new(&data, short());
        let got: Vec<u32> = (0..5).map(|_| r.ue().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 7]);
        assert!(r.ue().is_err());
    }
}
