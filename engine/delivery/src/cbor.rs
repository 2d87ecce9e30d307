//! Deterministically encoded CBOR (RFC 8949 §4.2.1) shared by the token claims and the
//! WMPaceInfo sidecar, plus the unpadded base64url both use on the wire.
//!
//! `ciborium` already writes every integer, length and tag in its shortest form; what it leaves to
//! us is map key order, which `canonical_map` fixes by sorting on the encoded key bytes. Decoding
//! accepts any well-formed CBOR (other implementations may not be deterministic, and the MAC covers
//! the bytes as sent), but refuses trailing data.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use ciborium::Value;

/// base64url (RFC 4648 §5): written without padding, read with or without it. Non-zero trailing
/// bits are refused, so every token has exactly one spelling.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn b64_encode(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64URL.decode(text).ok()
}

/// Encodes a value we built ourselves.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Serialising a `Value` into a `Vec` has no failure path: the writer is infallible and
    // `Value`'s `Serialize` never raises a custom error.
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into a Vec cannot fail");
    out
}

/// Decodes exactly one CBOR item; `None` if the bytes are not CBOR or carry data after the item.
pub fn decode_exact(bytes: &[u8]) -> Option<Value> {
    let mut rest = bytes;
    // ciborium's `from_reader` zeroes a 4 KiB scratch buffer per call, a tenth of the edge's
    // work per manifest request (two decodes per token). The scratch only holds one text or
    // byte string at a time; longer ones are allocated instead, so a small one is enough.
    let mut scratch = [0u8; 256];
    let value = ciborium::de::from_reader_with_buffer::<Value, _>(&mut rest, &mut scratch).ok()?;
    rest.is_empty().then_some(value)
}

/// A map whose entries are ordered by the bytewise order of their encoded keys (RFC 8949
/// §4.2.1): for integer keys, 0..23, then larger positive integers, then -1, -2, ...
pub fn canonical_map(mut entries: Vec<(Value, Value)>) -> Value {
    entries.sort_by_cached_key(|(k, _)| encode(k));
    Value::Map(entries)
}

/// The value with every nested map re-ordered canonically.
pub fn canonicalize(value: Value) -> Value {
    match value {
        Value::Map(entries) => canonical_map(
            entries.into_iter().map(|(k, v)| (canonicalize(k), canonicalize(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(canonicalize).collect()),
        Value::Tag(tag, inner) => Value::Tag(tag, Box::new(canonicalize(*inner))),
        other => other,
    }
}

/// Whether `bytes` is one CBOR item already in deterministic encoding: decoding and re-encoding
/// with sorted maps and shortest heads reproduces it byte for byte.
pub fn is_deterministic(bytes: &[u8]) -> bool {
    decode_exact(bytes).is_some_and(|v| encode(&canonicalize(v)) == bytes)
}

/// Unsigned integer value, if `value` is one.
pub fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_encoded_bytes() {
        let map = canonical_map(vec![
            (Value::from(-65538), Value::Null),
            (Value::from(300), Value::Null),
            (Value::from(-1), Value::Null),
            (Value::from(6), Value::Null),
            (Value::from(24), Value::Null),
        ]);
        let Value::Map(entries) = map else { panic!("not a map") };
        let keys: Vec<i128> = entries
            .iter()
            .map(|(k, _)| match k {
                Value::Integer(i) => i128::from(*i),
                _ => panic!("non-integer key"),
            })
            .collect();
        assert_eq!(keys, [6, 24, 300, -1, -65538]);
    }

    #[test]
    fn unsorted_and_indefinite_encodings_are_not_deterministic() {
        // {2: 0, 1: 0} (unsorted) and the sorted {1: 0, 2: 0}.
        let unsorted = encode(&Value::Map(vec![
            (Value::from(2), Value::from(0)),
            (Value::from(1), Value::from(0)),
        ]));
        assert!(!is_deterministic(&unsorted));
        assert!(is_deterministic(&encode(&canonicalize(decode_exact(&unsorted).unwrap()))));
        // An indefinite-length byte string holding one chunk.
        assert!(!is_deterministic(&[0x5f, 0x41, 0x00, 0xff]));
        assert!(decode_exact(&[0x01, 0x02]).is_none(), "trailing data refused");
    }

    #[test]
    fn base64url_is_unpadded_out_and_lenient_in() {
        assert_eq!(b64_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64_decode("-_8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(b64_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(b64_decode("-_9").is_none(), "non-zero trailing bits refused");
        assert!(b64_decode("+/8").is_none(), "standard alphabet refused");
    }
}
