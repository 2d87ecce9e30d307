//! The `wmpi` ISO-BMFF box (clause 5.5.3.4): a top-level box after `styp` and before `moof`.
//!
//! Payload, 5 bytes: `version = 1 (u8) | variant (u8) | 1 | position (15 bits) | 1 | firstpart |
//! lastpart | 5 reserved zero bits`. The two fixed 1 bits stop the payload from emulating a start
//! code. The 15-bit position cannot hold -1, so "not watermarked" is written as 0x7FFF; real
//! positions run 0..=0x7FFE. Readers check version and both emulation bits and ignore the
//! reserved bits.

use abmark_bmff::boxes::{read_boxes, BoxWriter};
use abmark_bmff::FourCc;

use super::{PaceError, PaceInfo, MAX_WMPI_POSITION};

/// Box type.
const WMPI: [u8; 4] = *b"wmpi";
/// Length of the box payload.
pub const WMPI_PAYLOAD_LEN: usize = 5;
/// The 15-bit position value that stands for -1 ("not watermarked").
pub const WMPI_NOT_WATERMARKED: u16 = 0x7FFF;
const VERSION: u8 = 1;
const EMULATION_1: u16 = 0x8000;
const EMULATION_2: u8 = 0x80;
const FIRST_PART: u8 = 0x40;
const LAST_PART: u8 = 0x20;

/// The whole 13-byte box: 32-bit size, `wmpi`, payload.
pub fn wmpi_box(info: &PaceInfo) -> Result<Vec<u8>, PaceError> {
    let position = match info.position {
        Some(p) if p > MAX_WMPI_POSITION => return Err(PaceError::PositionOutOfRange(p)),
        Some(p) => p,
        None => WMPI_NOT_WATERMARKED,
    };
    let flags = EMULATION_2
        | if info.first_part { FIRST_PART } else { 0 }
        | if info.last_part { LAST_PART } else { 0 };
    let mut w = BoxWriter::new();
    w.boxed(&WMPI, |w| {
        w.u8(VERSION);
        w.u8(info.variant);
        w.u16(EMULATION_1 | position);
        w.u8(flags);
    });
    // 13 bytes: far below the 32-bit size limit, so finishing cannot fail.
    w.finish().map_err(|e| PaceError::Malformed(e.to_string()))
}

/// Reads a `wmpi` payload (the box body, without size and type).
pub fn parse_wmpi_payload(payload: &[u8]) -> Result<PaceInfo, PaceError> {
    let version = *payload.first().ok_or_else(|| PaceError::malformed("empty wmpi payload"))?;
    if version != VERSION {
        return Err(PaceError::UnsupportedVersion(version.into()));
    }
    let [_, variant, hi, lo, flags] = payload else {
        return Err(PaceError::Malformed(format!(
            "wmpi payload is {} bytes, not {WMPI_PAYLOAD_LEN}",
            payload.len()
        )));
    };
    let word = u16::from_be_bytes([*hi, *lo]);
    if word & EMULATION_1 == 0 || flags & EMULATION_2 == 0 {
        return Err(PaceError::malformed("wmpi emulation-prevention bits are not set"));
    }
    let position = word & !EMULATION_1;
    Ok(PaceInfo {
        variant: *variant,
        position: (position != WMPI_NOT_WATERMARKED).then_some(position),
        first_part: flags & FIRST_PART != 0,
        last_part: flags & LAST_PART != 0,
    })
}

/// Walks the top-level boxes of a segment (the crate-wide box reader checks every size) and
/// reads its `wmpi`, if any; more than one `wmpi` is an error.
pub fn find_wmpi(segment: &[u8]) -> Result<Option<PaceInfo>, PaceError> {
    let boxes = read_boxes(segment).map_err(|e| PaceError::Malformed(e.to_string()))?;
    let mut found = None;
    for b in boxes.iter().filter(|b| b.kind() == FourCc(WMPI)) {
        if found.is_some() {
            return Err(PaceError::malformed("segment holds more than one wmpi box"));
        }
        found = Some(parse_wmpi_payload(b.payload())?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(position: Option<u16>) -> PaceInfo {
        PaceInfo { variant: 1, position, first_part: true, last_part: false }
    }

    fn plain_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    fn segment_with(wmpi: Option<&PaceInfo>) -> Vec<u8> {
        let mut seg = plain_box(b"styp", b"msdh\0\0\0\0msdhmsix");
        if let Some(i) = wmpi {
            seg.extend(wmpi_box(i).unwrap());
        }
        let mfhd = plain_box(b"mfhd", &[0, 0, 0, 0, 0, 0, 0, 7]);
        seg.extend(plain_box(b"moof", &mfhd));
        seg.extend(plain_box(b"mdat", &[0xab; 64]));
        seg
    }

    #[test]
    fn round_trips_and_layout() {
        for (pos, word) in
            [(Some(0), 0x8000u16), (Some(33), 0x8021), (Some(0x7FFE), 0xFFFE), (None, 0xFFFF)]
        {
            for (first, last) in [(false, false), (true, false), (false, true), (true, true)] {
                let i = PaceInfo { variant: 1, position: pos, first_part: first, last_part: last };
                let b = wmpi_box(&i).unwrap();
                assert_eq!(b.len(), 13);
                assert_eq!(&b[..8], [0, 0, 0, 13, b'w', b'm', b'p', b'i']);
                assert_eq!(b[8], 1, "version");
                assert_eq!(b[9], 1, "variant");
                assert_eq!(u16::from_be_bytes([b[10], b[11]]), word);
                assert_eq!(b[12] & 0x80, 0x80, "emulation_2");
                assert_eq!(b[12] & 0x1f, 0, "reserved");
                assert_eq!(b[12] & 0x40 != 0, first);
                assert_eq!(b[12] & 0x20 != 0, last);
                assert_eq!(parse_wmpi_payload(&b[8..]).unwrap(), i);
            }
        }
        assert!(matches!(
            wmpi_box(&info(Some(0x7FFF))),
            Err(PaceError::PositionOutOfRange(0x7FFF))
        ));
    }

    #[test]
    fn payload_checks() {
        let good = wmpi_box(&info(Some(5))).unwrap();
        let payload = &good[8..];
        let mut v = payload.to_vec();
        v[0] = 2;
        assert!(matches!(parse_wmpi_payload(&v), Err(PaceError::UnsupportedVersion(2))));
        let mut v = payload.to_vec();
        v[2] &= 0x7f;
        assert!(matches!(parse_wmpi_payload(&v), Err(PaceError::Malformed(_))));
        let mut v = payload.to_vec();
        v[4] &= 0x7f;
        assert!(matches!(parse_wmpi_payload(&v), Err(PaceError::Malformed(_))));
        assert!(parse_wmpi_payload(&payload[..4]).is_err());
        assert!(parse_wmpi_payload(&[]).is_err());
        let mut long = payload.to_vec();
        long.push(0);
        assert!(parse_wmpi_payload(&long).is_err());
    }

    #[test]
    fn finds_the_box_in_a_segment() {
        let i = info(Some(33));
        assert_eq!(find_wmpi(&segment_with(Some(&i))).unwrap(), Some(i));
        assert_eq!(find_wmpi(&segment_with(None)).unwrap(), None);
        assert_eq!(find_wmpi(&[]).unwrap(), None);
        // A 64-bit largesize mdat and a size-0 last box are walked too.
        let mut seg = segment_with(None);
        seg.extend(wmpi_box(&i).unwrap());
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(16u64 + 4).to_be_bytes());
        large.extend_from_slice(&[1, 2, 3, 4]);
        seg.extend(large);
        seg.extend(0u32.to_be_bytes());
        seg.extend_from_slice(b"free");
        seg.extend_from_slice(&[0; 9]);
        assert_eq!(find_wmpi(&seg).unwrap(), Some(i));
        let mut twice = segment_with(Some(&i));
        twice.extend(wmpi_box(&i).unwrap());
        assert!(find_wmpi(&twice).is_err());
    }

    #[test]
    fn corrupt_sizes_are_errors_not_panics() {
        let seg = segment_with(Some(&info(Some(1))));
        for cut in 1..seg.len() {
            // Cutting anywhere before the end either still parses a prefix or is an error.
            let _ = find_wmpi(&seg[..cut]);
        }
        assert!(find_wmpi(&seg[..seg.len() - 1]).is_err(), "truncated mdat");
        let mut huge = seg.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(find_wmpi(&huge).is_err());
        let mut tiny = seg.clone();
        tiny[..4].copy_from_slice(&3u32.to_be_bytes());
        assert!(find_wmpi(&tiny).is_err());
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(find_wmpi(&large).is_err());
        let mut large_small = 1u32.to_be_bytes().to_vec();
        large_small.extend_from_slice(b"mdat");
        large_small.extend_from_slice(&8u64.to_be_bytes());
        assert!(find_wmpi(&large_small).is_err(), "largesize below 16");
        assert!(find_wmpi(&[0, 0, 0]).is_err());
        // A wmpi box with the wrong payload length.
        assert!(find_wmpi(&plain_box(b"wmpi", &[1, 0, 0x80])).is_err());
    }
}
