//! The WMPaceInfo sidecar (clause 5.5.3.2) and the `WMPaceInfoEgress` header (5.5.3.3).
//!
//! Deterministic CBOR with integer keys: version 1, segments 2, fileSize 3, startRange 4,
//! segmentRegex 5, position 6, firstpart 7, lastpart 8.
//! `sidecar-discrete = {1: 1, 2: [+ {?5: text, 6: int, ?7: bool, ?8: bool}]}` and
//! `sidecar-byterange = {1: 1, 3: fileSize, 2: [+ {4: startRange, 6: int}]}`. Position -1 means
//! "not watermarked" and reads back as `None`. We write the discrete form and read both. The
//! header value is the base64url (unpadded) of a discrete sidecar with exactly one segment.

use std::collections::BTreeSet;

use ciborium::Value;

use super::{PaceError, PaceInfo};
use crate::cbor::{as_u64, b64_decode, b64_encode, canonical_map, decode_exact, encode};

/// Name of the HTTP response header carrying one segment's WMPaceInfo.
pub const EGRESS_HEADER: &str = "WMPaceInfoEgress";

const VERSION: i64 = 1;
const SEGMENTS: i64 = 2;
const FILE_SIZE: i64 = 3;
const START_RANGE: i64 = 4;
const SEGMENT_REGEX: i64 = 5;
const POSITION: i64 = 6;
const FIRST_PART: i64 = 7;
const LAST_PART: i64 = 8;

/// One `discrete-segment`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SidecarEntry {
    /// Which segment URLs this entry applies to; absent for a per-segment sidecar.
    pub segment_regex: Option<String>,
    /// Pattern position; `None` is -1, "not watermarked".
    pub position: Option<u16>,
    pub first_part: Option<bool>,
    pub last_part: Option<bool>,
}

impl From<&PaceInfo> for SidecarEntry {
    /// The sidecar entry for one segment; the variant is implied by where the sidecar lives.
    fn from(info: &PaceInfo) -> Self {
        Self {
            segment_regex: None,
            position: info.position,
            first_part: Some(info.first_part),
            last_part: Some(info.last_part),
        }
    }
}

/// A parsed sidecar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sidecar {
    Discrete(Vec<SidecarEntry>),
    /// Entries as `(startRange, position)` within a file of `file_size` bytes.
    ByteRange {
        file_size: u64,
        segments: Vec<(u64, Option<u16>)>,
    },
}

/// The discrete sidecar in deterministic CBOR. The spec wants at least one entry; an empty slice
/// yields an empty array, which `parse_sidecar` refuses.
pub fn sidecar_discrete(entries: &[SidecarEntry]) -> Vec<u8> {
    let segments = entries.iter().map(entry_value).collect();
    encode(&canonical_map(vec![
        (Value::from(VERSION), Value::from(1)),
        (Value::from(SEGMENTS), Value::Array(segments)),
    ]))
}

/// `WMPaceInfoEgress` header value for one segment.
pub fn egress_header(entry: &SidecarEntry) -> String {
    b64_encode(&sidecar_discrete(std::slice::from_ref(entry)))
}

/// Reads a `WMPaceInfoEgress` header value: a discrete sidecar with exactly one segment.
pub fn parse_egress_header(value: &str) -> Result<SidecarEntry, PaceError> {
    let bytes = b64_decode(value.trim())
        .ok_or_else(|| PaceError::malformed("WMPaceInfoEgress is not base64url"))?;
    match parse_sidecar(&bytes)? {
        Sidecar::Discrete(mut entries) if entries.len() == 1 => {
            entries.pop().ok_or_else(|| PaceError::malformed("no segment"))
        }
        _ => Err(PaceError::malformed("WMPaceInfoEgress must hold one discrete segment")),
    }
}

/// Parses either sidecar form. Unknown keys are ignored; duplicate keys are refused.
pub fn parse_sidecar(bytes: &[u8]) -> Result<Sidecar, PaceError> {
    let top = decode_exact(bytes).ok_or_else(|| PaceError::malformed("sidecar is not CBOR"))?;
    let mut version = None;
    let mut segments = None;
    let mut file_size = None;
    for (key, value) in int_map(top, "sidecar")? {
        match key {
            VERSION => version = Some(as_u64(&value).ok_or_else(|| bad_type("version"))?),
            SEGMENTS => match value {
                Value::Array(items) if !items.is_empty() => segments = Some(items),
                _ => return Err(PaceError::malformed("segments is not a non-empty array")),
            },
            FILE_SIZE => file_size = Some(as_u64(&value).ok_or_else(|| bad_type("fileSize"))?),
            _ => {}
        }
    }
    match version {
        Some(1) => {}
        Some(v) => return Err(PaceError::UnsupportedVersion(v)),
        None => return Err(PaceError::malformed("sidecar lacks a version")),
    }
    let segments = segments.ok_or_else(|| PaceError::malformed("sidecar lacks segments"))?;
    match file_size {
        None => segments
            .into_iter()
            .map(discrete_entry)
            .collect::<Result<_, _>>()
            .map(Sidecar::Discrete),
        Some(file_size) => {
            let segments = segments.into_iter().map(byterange_entry).collect::<Result<_, _>>()?;
            Ok(Sidecar::ByteRange { file_size, segments })
        }
    }
}

fn entry_value(entry: &SidecarEntry) -> Value {
    let position = entry.position.map_or(Value::from(-1), Value::from);
    let mut fields = vec![(Value::from(POSITION), position)];
    if let Some(regex) = &entry.segment_regex {
        fields.push((Value::from(SEGMENT_REGEX), Value::Text(regex.clone())));
    }
    if let Some(first) = entry.first_part {
        fields.push((Value::from(FIRST_PART), Value::Bool(first)));
    }
    if let Some(last) = entry.last_part {
        fields.push((Value::from(LAST_PART), Value::Bool(last)));
    }
    canonical_map(fields)
}

fn discrete_entry(value: Value) -> Result<SidecarEntry, PaceError> {
    let mut entry = SidecarEntry::default();
    let mut position = None;
    for (key, value) in int_map(value, "segment")? {
        match (key, value) {
            (SEGMENT_REGEX, Value::Text(s)) => entry.segment_regex = Some(s),
            (POSITION, v) => position = Some(parse_position(&v)?),
            (FIRST_PART, Value::Bool(b)) => entry.first_part = Some(b),
            (LAST_PART, Value::Bool(b)) => entry.last_part = Some(b),
            (START_RANGE, _) => {
                return Err(PaceError::malformed("startRange in a sidecar without fileSize"))
            }
            (SEGMENT_REGEX | FIRST_PART | LAST_PART, _) => return Err(bad_type("segment field")),
            _ => {}
        }
    }
    entry.position = position.ok_or_else(|| PaceError::malformed("segment lacks a position"))?;
    Ok(entry)
}

fn byterange_entry(value: Value) -> Result<(u64, Option<u16>), PaceError> {
    let mut start = None;
    let mut position = None;
    for (key, value) in int_map(value, "segment")? {
        match key {
            START_RANGE => start = Some(as_u64(&value).ok_or_else(|| bad_type("startRange"))?),
            POSITION => position = Some(parse_position(&value)?),
            _ => {}
        }
    }
    match (start, position) {
        (Some(start), Some(position)) => Ok((start, position)),
        _ => Err(PaceError::malformed("byte-range segment needs startRange and position")),
    }
}

/// `int .ge -1 .size 2`: -1 is `None`, otherwise 0..=65535.
fn parse_position(value: &Value) -> Result<Option<u16>, PaceError> {
    let Value::Integer(i) = value else { return Err(bad_type("position")) };
    match i128::from(*i) {
        -1 => Ok(None),
        p => u16::try_from(p)
            .map(Some)
            .map_err(|_| PaceError::malformed("position is outside -1..=65535")),
    }
}

/// A CBOR map with small integer keys, duplicates refused. Non-integer keys are skipped.
fn int_map(value: Value, what: &str) -> Result<Vec<(i64, Value)>, PaceError> {
    let Value::Map(entries) = value else {
        return Err(PaceError::Malformed(format!("{what} is not a CBOR map")));
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Value::Integer(key) = key else { continue };
        let Ok(key) = i64::try_from(key) else { continue };
        if !seen.insert(key) {
            return Err(PaceError::Malformed(format!("{what} repeats key {key}")));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn bad_type(field: &str) -> PaceError {
    PaceError::Malformed(format!("{field} has the wrong type"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::is_deterministic;

    fn entries() -> Vec<SidecarEntry> {
        vec![
            SidecarEntry {
                segment_regex: Some(r"seg_00001\.m4s$".into()),
                position: Some(0),
                first_part: Some(true),
                last_part: Some(false),
            },
            SidecarEntry { position: Some(33), ..Default::default() },
            SidecarEntry { position: None, last_part: Some(true), ..Default::default() },
            SidecarEntry { position: Some(u16::MAX), ..Default::default() },
        ]
    }

    #[test]
    fn discrete_round_trip_is_deterministic() {
        let bytes = sidecar_discrete(&entries());
        assert!(is_deterministic(&bytes));
        assert_eq!(sidecar_discrete(&entries()), bytes, "same input, same bytes");
        assert_eq!(parse_sidecar(&bytes).unwrap(), Sidecar::Discrete(entries()));
        // Key layout: {1: 1, 2: [{5: .., 6: 0, 7: true, 8: false}, {6: 33}, {6: -1, 8: true}, ..]}
        let Some(Value::Map(top)) = decode_exact(&bytes) else { panic!() };
        assert_eq!(top[0], (Value::from(1), Value::from(1)));
        let Value::Array(segs) = &top[1].1 else { panic!() };
        let Value::Map(first) = &segs[0] else { panic!() };
        let keys: Vec<_> = first.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, [5, 6, 7, 8].map(Value::from));
        let Value::Map(third) = &segs[2] else { panic!() };
        assert_eq!(third[0], (Value::from(6), Value::from(-1)));
    }

    #[test]
    fn byterange_example_parses() {
        // The byte-range form of clause 5.5.3.2, built from its CDDL: a 3 000 000-byte file with
        // three segments, the last one not watermarked.
        let seg = |start: u64, pos: i64| {
            Value::Map(vec![
                (Value::from(4), Value::from(start)),
                (Value::from(6), Value::from(pos)),
            ])
        };
        let sidecar = Value::Map(vec![
            (Value::from(1), Value::from(1)),
            (Value::from(2), Value::Array(vec![seg(0, 0), seg(1_000_000, 1), seg(2_000_000, -1)])),
            (Value::from(3), Value::from(3_000_000u64)),
        ]);
        assert_eq!(
            parse_sidecar(&encode(&sidecar)).unwrap(),
            Sidecar::ByteRange {
                file_size: 3_000_000,
                segments: vec![(0, Some(0)), (1_000_000, Some(1)), (2_000_000, None)],
            }
        );
    }

    #[test]
    fn egress_header_round_trip() {
        let info = PaceInfo { variant: 1, position: Some(7), first_part: true, last_part: true };
        let entry = SidecarEntry::from(&info);
        let header = egress_header(&entry);
        assert!(!header.contains('=') && !header.contains('+') && !header.contains('/'));
        assert_eq!(parse_egress_header(&header).unwrap(), entry);
        let two = b64_encode(&sidecar_discrete(&entries()));
        assert!(parse_egress_header(&two).is_err(), "exactly one segment");
        assert!(parse_egress_header("!!").is_err());
    }

    #[test]
    fn bad_sidecars_are_refused() {
        let v = |pairs: Vec<(i64, Value)>| {
            encode(&Value::Map(pairs.into_iter().map(|(k, v)| (Value::from(k), v)).collect()))
        };
        let seg = Value::Map(vec![(Value::from(6), Value::from(1))]);
        assert!(matches!(
            parse_sidecar(&v(vec![(1, Value::from(2)), (2, Value::Array(vec![seg.clone()]))])),
            Err(PaceError::UnsupportedVersion(2))
        ));
        assert!(parse_sidecar(&v(vec![(1, Value::from(1)), (2, Value::Array(vec![]))])).is_err());
        assert!(parse_sidecar(&v(vec![(2, Value::Array(vec![seg.clone()]))])).is_err());
        let bad_pos = Value::Map(vec![(Value::from(6), Value::from(-2))]);
        assert!(
            parse_sidecar(&v(vec![(1, Value::from(1)), (2, Value::Array(vec![bad_pos]))])).is_err()
        );
        let no_pos = Value::Map(vec![(Value::from(7), Value::Bool(true))]);
        assert!(
            parse_sidecar(&v(vec![(1, Value::from(1)), (2, Value::Array(vec![no_pos]))])).is_err()
        );
        let dup = v(vec![(1, Value::from(1)), (1, Value::from(1)), (2, Value::Array(vec![seg]))]);
        assert!(parse_sidecar(&dup).is_err());
        assert!(parse_sidecar(&[0xff, 0x00]).is_err());
        assert!(parse_sidecar(&[]).is_err());
    }
}
