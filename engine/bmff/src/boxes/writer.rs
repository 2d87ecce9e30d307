//! [`BoxWriter`]: the byte sink every box function writes into.
//!
//! A box is written header first with a zero size, then its body, then the size is patched in:
//! no box needs to know its size in advance, so each box is one small function that calls the
//! functions of its children (the way gst-plugins-rs `fmp4mux` composes boxes). Fields that are
//! only known later (a `trun` data offset, later a `saio` offset) are reserved with
//! [`BoxWriter::reserve_u32`] and filled with [`BoxWriter::patch_u32`].

use crate::{BmffError, FourCc};

/// A growing buffer of big-endian ISO-BMFF fields with nested boxes.
///
/// Writing never fails midway: a box that grows past the 32-bit size field is remembered and
/// reported by [`BoxWriter::finish`], so box functions stay free of `?` noise.
#[derive(Debug, Default)]
pub struct BoxWriter {
    buf: Vec<u8>,
    /// The first box whose size did not fit 32 bits.
    oversized: Option<FourCc>,
}

/// Where a 32-bit field was reserved, to be filled in by [`BoxWriter::patch_u32`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a reserved field stays zero unless patched"]
pub struct Patch(usize);

impl BoxWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes written so far: box offsets (for `trun` data offsets) are measured with this.
    pub fn position(&self) -> usize {
        self.buf.len()
    }

    /// Writes a box of type `kind` whose body is what `body` writes, and returns what `body`
    /// returns (e.g. a [`Patch`] reserved inside it).
    pub fn boxed<T>(&mut self, kind: &[u8; 4], body: impl FnOnce(&mut Self) -> T) -> T {
        let start = self.buf.len();
        self.u32(0);
        self.bytes(kind);
        let out = body(self);
        self.close(start, kind);
        out
    }

    /// Writes a full box (ISO/IEC 14496-12, 4.2: a box with an 8-bit version and 24-bit flags
    /// after the header).
    pub fn full_box<T>(
        &mut self,
        kind: &[u8; 4],
        version: u8,
        flags: u32,
        body: impl FnOnce(&mut Self) -> T,
    ) -> T {
        self.boxed(kind, |w| {
            w.u8(version);
            w.u24(flags);
            body(w)
        })
    }

    fn close(&mut self, start: usize, kind: &[u8; 4]) {
        let size = self.buf.len() - start;
        match u32::try_from(size) {
            Ok(size) => self.put_u32_at(start, size),
            Err(_) => {
                self.oversized.get_or_insert(FourCc(*kind));
            }
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// The low 24 bits of `v` (full-box flags, `bufferSizeDB`); higher bits are dropped.
    pub fn u24(&mut self, v: u32) {
        let b = v.to_be_bytes();
        self.buf.extend_from_slice(&b[1..]);
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    pub fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Reserves a 32-bit field (written as zero) to be filled later.
    pub fn reserve_u32(&mut self) -> Patch {
        let at = self.buf.len();
        self.u32(0);
        Patch(at)
    }

    /// Fills a field reserved by [`BoxWriter::reserve_u32`] on this writer.
    pub fn patch_u32(&mut self, patch: Patch, v: u32) {
        self.put_u32_at(patch.0, v);
    }

    fn put_u32_at(&mut self, at: usize, v: u32) {
        // `at` always comes from this writer's own earlier writes, and the buffer only grows.
        if let Some(slot) = self.buf.get_mut(at..at + 4) {
            slot.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// The bytes written, or the first box that outgrew its 32-bit size.
    pub fn finish(self) -> Result<Vec<u8>, BmffError> {
        match self.oversized {
            None => Ok(self.buf),
            Some(kind) => Err(BmffError::BoxTooLarge { kind }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_patched_for_nested_boxes() {
        let mut w = BoxWriter::new();
        w.boxed(b"moov", |w| {
            w.full_box(b"mvhd", 1, 0x00_0203, |w| w.u16(7));
        });
        let bytes = w.finish().unwrap();
        assert_eq!(
            bytes,
            [
                0, 0, 0, 22, b'm', b'o', b'o', b'v', //
                0, 0, 0, 14, b'm', b'v', b'h', b'd', 1, 0, 2, 3, 0, 7
            ]
        );
    }

    #[test]
    fn patches_fill_reserved_fields() {
        let mut w = BoxWriter::new();
        let p = w.boxed(b"free", |w| w.reserve_u32());
        w.patch_u32(p, 0xdead_beef);
        assert_eq!(w.finish().unwrap()[8..], [0xde, 0xad, 0xbe, 0xef]);
    }
}
