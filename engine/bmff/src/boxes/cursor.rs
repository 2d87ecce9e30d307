//! [`Cursor`]: big-endian fields read front to back from untrusted bytes. Running out of input is
//! an error value, never a panic. Bit-packed syntax has its own reader ([`crate::bits`]).

use crate::BmffError;

/// Reads big-endian fields front to back; a read past the end returns the error given at
/// construction, so each parser reports shortage in its own terms.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    short: BmffError,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8], short: BmffError) -> Self {
        Self { data, pos: 0, short }
    }

    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], BmffError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.short.clone())?;
        let out = self.data.get(self.pos..end).ok_or_else(|| self.short.clone())?;
        self.pos = end;
        Ok(out)
    }

    pub fn skip(&mut self, n: usize) -> Result<(), BmffError> {
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BmffError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, BmffError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, BmffError> {
        self.array().map(u16::from_be_bytes)
    }

    pub fn u32(&mut self) -> Result<u32, BmffError> {
        self.array().map(u32::from_be_bytes)
    }

    pub fn i32(&mut self) -> Result<i32, BmffError> {
        self.array().map(i32::from_be_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, BmffError> {
        self.array().map(u64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short() -> BmffError {
        BmffError::BadParameterSet { reason: "short".into() }
    }

    #[test]
    fn cursor_reports_shortage() {
        let mut c = Cursor::new(&[1, 2, 3], short());
        assert_eq!(c.u16().unwrap(), 0x0102);
        assert_eq!(c.u16(), Err(short()));
        assert_eq!(c.u8().unwrap(), 3);
    }
}
