//! Walking ISO-BMFF boxes in untrusted bytes: [`read_boxes`] lists the boxes of a byte range,
//! [`BoxRef`] gives a box's header, payload and children, [`find_box`]/[`find_all`] follow a
//! path like `"moof/traf/trun"`.
//!
//! Every size is checked against the bytes that hold it, so damaged or hostile input gives a
//! [`BmffError`], never a panic or an out-of-bounds slice.

use crate::boxes::Cursor;
use crate::{BmffError, FourCc};

/// One box inside a byte buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxRef<'a> {
    kind: FourCc,
    /// Offset of the box's first byte from the start of the buffer given to [`read_boxes`].
    offset: u64,
    header_len: usize,
    /// The whole box, header included.
    bytes: &'a [u8],
}

impl<'a> BoxRef<'a> {
    pub fn kind(&self) -> FourCc {
        self.kind
    }

    /// Offset of the box's first byte in the buffer first given to [`read_boxes`].
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The box size, header included.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// 8, 16 with a 64-bit largesize, plus 16 for a `uuid` box's extended type.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The whole box, header included.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The box body after the header.
    pub fn payload(&self) -> &'a [u8] {
        self.bytes.get(self.header_len..).unwrap_or_default()
    }

    /// Version, flags and the rest of the body of a full box (ISO/IEC 14496-12, 4.2).
    pub fn full_box(&self) -> Result<FullBox<'a>, BmffError> {
        let short = BmffError::BadBox { kind: self.kind, reason: "no version and flags".into() };
        let mut c = Cursor::new(self.payload(), short);
        let word = c.u32()?;
        Ok(FullBox {
            version: (word >> 24) as u8,
            flags: word & 0x00ff_ffff,
            body: self.payload().get(4..).unwrap_or_default(),
        })
    }

    /// The boxes inside this one, for the box types whose layout this module knows (containers,
    /// `stsd`, `dref`, `meta` and the `avc1`/`mp4a` family of sample entries); see
    /// [`BoxRef::children_after`] for others.
    pub fn children(&self) -> Result<Vec<BoxRef<'a>>, BmffError> {
        let skip =
            children_offset(self.kind).ok_or(BmffError::NotAContainer { kind: self.kind })?;
        self.children_after(skip)
    }

    /// The boxes that follow the first `skip` bytes of the payload.
    pub fn children_after(&self, skip: usize) -> Result<Vec<BoxRef<'a>>, BmffError> {
        let payload = self.payload();
        let inner = payload.get(skip..).ok_or_else(|| BmffError::Truncated {
            kind: self.kind,
            offset: self.offset,
            needed: (self.header_len + skip) as u64,
            available: self.bytes.len() as u64,
        })?;
        let inner_offset = self.offset + (self.header_len + skip) as u64;
        read_boxes_at(inner, inner_offset)
    }

    /// The 16-byte extended type of a `uuid` box.
    pub fn extended_type(&self) -> Option<&'a [u8]> {
        if self.kind == FourCc(*b"uuid") {
            self.bytes.get(self.header_len - 16..self.header_len)
        } else {
            None
        }
    }
}

/// The header fields of a full box and the body after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullBox<'a> {
    pub version: u8,
    pub flags: u32,
    pub body: &'a [u8],
}

/// Where the child boxes start inside the payload of the box types we descend into.
fn children_offset(kind: FourCc) -> Option<usize> {
    match &kind.0 {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"dinf" | b"stbl" | b"mvex" | b"moof" | b"traf"
        | b"edts" | b"udta" | b"mfra" | b"sinf" | b"schi" | b"tref" => Some(0),
        // Full box header, then a 32-bit entry count.
        b"stsd" | b"dref" => Some(8),
        b"meta" => Some(4),
        // VisualSampleEntry fixed fields (ISO/IEC 14496-12, 12.1.3): 78 bytes.
        b"avc1" | b"avc3" | b"encv" | b"hvc1" | b"hev1" => Some(78),
        // AudioSampleEntry version 0 fixed fields (12.2.3): 28 bytes.
        b"mp4a" | b"enca" => Some(28),
        _ => None,
    }
}

/// Lists the boxes that fill `bytes` from start to end.
///
/// A size of 0 means "to the end of the enclosing bytes" (ISO/IEC 14496-12, 4.2), and a size of 1
/// a 64-bit largesize after the type. A box that claims more bytes than remain is an error.
pub fn read_boxes(bytes: &[u8]) -> Result<Vec<BoxRef<'_>>, BmffError> {
    read_boxes_at(bytes, 0)
}

fn read_boxes_at(bytes: &[u8], base: u64) -> Result<Vec<BoxRef<'_>>, BmffError> {
    let mut boxes = Vec::new();
    let mut rest = bytes;
    let mut offset = base;
    while !rest.is_empty() {
        let b = read_one(rest, offset)?;
        rest = rest.get(b.size()..).unwrap_or_default();
        offset += b.size() as u64;
        boxes.push(b);
    }
    Ok(boxes)
}

fn read_one(bytes: &[u8], offset: u64) -> Result<BoxRef<'_>, BmffError> {
    let available = bytes.len() as u64;
    let short = BmffError::TruncatedHeader { offset, available };
    let mut c = Cursor::new(bytes, short);
    let size32 = c.u32()?;
    let kind = FourCc(c.u32()?.to_be_bytes());
    let truncated = |needed: u64| BmffError::Truncated { kind, offset, needed, available };
    let (size, mut header_len) = match size32 {
        0 => (available, 8),
        1 => (c.u64().map_err(|_| truncated(16))?, 16),
        n => (u64::from(n), 8),
    };
    if kind == FourCc(*b"uuid") {
        c.skip(16).map_err(|_| truncated(header_len as u64 + 16))?;
        header_len += 16;
    }
    if size < header_len as u64 {
        return Err(BmffError::BadBoxSize { kind, offset, size });
    }
    let len = usize::try_from(size).map_err(|_| truncated(size))?;
    let bytes = bytes.get(..len).ok_or_else(|| truncated(size))?;
    Ok(BoxRef { kind, offset, header_len, bytes })
}

/// The first box along `path` (box types separated by `/`, e.g. `"moov/trak/mdia/mdhd"`),
/// starting from `boxes`; `None` if there is none.
pub fn find_box<'a>(boxes: &[BoxRef<'a>], path: &str) -> Result<Option<BoxRef<'a>>, BmffError> {
    Ok(find_all(boxes, path)?.into_iter().next())
}

/// Like [`find_box`], but an absent box is an error naming the path.
pub fn require_box<'a>(boxes: &[BoxRef<'a>], path: &str) -> Result<BoxRef<'a>, BmffError> {
    find_box(boxes, path)?.ok_or_else(|| BmffError::MissingBox { path: path.into() })
}

/// Every box along `path`, in file order (e.g. the `trun` of every `moof/traf`).
pub fn find_all<'a>(boxes: &[BoxRef<'a>], path: &str) -> Result<Vec<BoxRef<'a>>, BmffError> {
    let mut level: Vec<BoxRef<'a>> = boxes.to_vec();
    let mut steps = path.split('/').filter(|s| !s.is_empty()).peekable();
    while let Some(step) = steps.next() {
        let matching = level.into_iter().filter(|b| b.kind.0 == step.as_bytes());
        if steps.peek().is_none() {
            return Ok(matching.collect());
        }
        let mut next = Vec::new();
        for b in matching {
            next.extend(b.children()?);
        }
        level = next;
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_and_largesize_boxes() {
        let mut data =
            vec![0, 0, 0, 16, b'm', b'o', b'o', b'f', 0, 0, 0, 8, b't', b'r', b'a', b'f'];
        data.extend_from_slice(&[
            0, 0, 0, 1, b'm', b'd', b'a', b't', 0, 0, 0, 0, 0, 0, 0, 18, 7, 9,
        ]);
        let top = read_boxes(&data).unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(top[1].header_len(), 16);
        assert_eq!(top[1].payload(), [7, 9]);
        let traf = require_box(&top, "moof/traf").unwrap();
        assert_eq!(traf.offset(), 8);
        assert!(find_box(&top, "moof/tfhd").unwrap().is_none());
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(matches!(
            read_boxes(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']),
            Err(BmffError::BadBoxSize { .. })
        ));
        assert!(matches!(
            read_boxes(&[0, 0, 0, 9, b'f', b'r', b'e', b'e']),
            Err(BmffError::Truncated { .. })
        ));
        assert!(matches!(read_boxes(&[0, 0, 0]), Err(BmffError::TruncatedHeader { .. })));
    }
}
