//! Token tests: both forms, both modes, tampering, time, and an independent COSE check.

use ciborium::Value;
use coset::{iana, CborSerializable, CoseMac0, TaggedCborSerializable};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::claims::{
    ABM_CONTENT, ABM_ORIGINS, ABM_SESSION, CTI, EXP, IAT, ISS, WMID, WMKEYVER, WMOPID, WMPATLEN,
    WMPATTERN, WMSEGDURATION, WMVER, WMVND,
};
use super::*;
use abmark_delivery::cbor::{
    b64_decode, b64_encode, canonical_map, decode_exact, encode, is_deterministic,
};

const NOW: u64 = 1_750_000_000;

fn keys() -> TokenKeys {
    TokenKeys::derive(&WatermarkKey::from_bytes([0x42; 32]))
}

fn direct() -> WmClaims {
    WmClaims {
        version: WM_VERSION,
        vendor: ABMARK_VENDOR,
        segment_duration: Some((180_000, 90_000)),
        pattern: WmPattern::Direct { bytes: vec![0xa5, 0x3c, 0x0f, 0xe0], bits: 27 },
        issuer: Some("abmark-origin".into()),
        subject: Some("viewer-17".into()),
        audience: Some("edge".into()),
        session: Some(SessionId(17)),
        content: Some(ContentId::new("movie-1").unwrap()),
        origins: Some("https://watch.example,https://*.cdn.example:8443".parse().unwrap()),
        issued_at: NOW - 10,
        not_before: Some(NOW - 10),
        expires_at: NOW + 3600,
        token_id: Some(vec![1, 2, 3, 4]),
    }
}

fn indirect() -> WmClaims {
    WmClaims {
        pattern: WmPattern::Indirect { wmid: "wm-0017".into(), opid: 9, keyver: 3, bits: 64 },
        segment_duration: None,
        issuer: None,
        subject: None,
        audience: None,
        session: None,
        content: None,
        origins: None,
        not_before: None,
        token_id: None,
        ..direct()
    }
}

fn cwt_bytes(token: &str) -> Vec<u8> {
    b64_decode(token).unwrap()
}

/// The COSE_Mac0 of a CWT we minted, via coset's own tagged parser.
fn mac0_of(token: &str) -> CoseMac0 {
    let Value::Tag(TAG_CWT, inner) = decode_exact(&cwt_bytes(token)).unwrap() else {
        panic!("no CWT tag")
    };
    CoseMac0::from_tagged_slice(&encode(&inner)).unwrap()
}

fn reseal_mac0(mac0: CoseMac0) -> String {
    b64_encode(&mac0.to_tagged_vec().unwrap())
}

fn claim_keys(payload: &[u8]) -> Vec<i128> {
    let Value::Map(entries) = decode_exact(payload).unwrap() else { panic!("not a map") };
    entries
        .iter()
        .map(|(k, _)| match k {
            Value::Integer(i) => i128::from(*i),
            _ => panic!("non-integer key"),
        })
        .collect()
}

#[test]
fn round_trips_in_both_forms_and_modes() {
    for claims in [direct(), indirect()] {
        for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
            let token = mint(&keys(), &claims, format).unwrap();
            assert_eq!(token.contains('.'), format == TokenFormat::Jwt);
            assert!(!token.contains('='), "unpadded base64url");
            assert_eq!(verify(&keys(), &token, NOW).unwrap(), claims, "{format:?}");
        }
    }
}

#[test]
fn cwt_claim_keys_are_the_spec_integers_in_deterministic_order() {
    let token = mint(&keys(), &direct(), TokenFormat::Cwt).unwrap();
    let payload = mac0_of(&token).payload.unwrap();
    let keys_found = claim_keys(&payload);
    assert_eq!(
        keys_found,
        [
            ISS as i128,
            2,
            3,
            EXP as i128,
            5,
            IAT as i128,
            CTI as i128,
            WMVER as i128,
            WMVND as i128,
            WMPATLEN as i128,
            WMSEGDURATION as i128,
            WMPATTERN as i128,
            ABM_SESSION as i128,
            ABM_CONTENT as i128,
            ABM_ORIGINS as i128
        ]
    );
    assert_eq!(&keys_found[7..12], [300, 301, 302, 303, 304]);
    assert!(is_deterministic(&payload));
    // Sorted by encoded key bytes, which is what RFC 8949 §4.2.1 asks for.
    let encoded: Vec<Vec<u8>> =
        keys_found.iter().map(|k| encode(&Value::from(*k as i64))).collect();
    assert!(encoded.windows(2).all(|w| w[0] < w[1]));
    // Re-encoding the parsed payload reproduces it byte for byte.
    assert_eq!(encode(&decode_exact(&payload).unwrap()), payload);
    assert!(is_deterministic(&cwt_bytes(&token)), "the whole token is deterministic too");

    let token = mint(&keys(), &indirect(), TokenFormat::Cwt).unwrap();
    let found = claim_keys(&mac0_of(&token).payload.unwrap());
    assert_eq!(
        found,
        [4, 6, WMVER as i128, 301, 302, WMID as i128, WMOPID as i128, WMKEYVER as i128]
    );
}

#[test]
fn claim_value_types_match_the_spec() {
    let token = mint(&keys(), &direct(), TokenFormat::Cwt).unwrap();
    let Value::Map(entries) = decode_exact(&mac0_of(&token).payload.unwrap()).unwrap() else {
        panic!()
    };
    let get = |k: i64| entries.iter().find(|(key, _)| *key == Value::from(k)).unwrap().1.clone();
    assert_eq!(get(WMVER), Value::from(1));
    assert_eq!(get(WMVND), Value::from(171));
    assert_eq!(get(WMPATLEN), Value::from(27));
    assert_eq!(get(WMSEGDURATION), Value::Array(vec![Value::from(180_000), Value::from(90_000)]));
    assert_eq!(get(ABM_SESSION), Value::from(17));
    assert!(matches!(get(WMPATTERN), Value::Array(a) if a.len() == 3), "nested COSE_Encrypt0");
}

#[test]
fn independent_cose_check_recomputes_the_mac_by_hand() {
    let k = keys();
    let token = mint(&k, &direct(), TokenFormat::Cwt).unwrap();
    let mac0 = mac0_of(&token);
    assert_eq!(
        mac0.protected.header.alg,
        Some(coset::Algorithm::Assigned(iana::Algorithm::HMAC_256_256))
    );
    let protected = mac0.protected.original_data.clone().unwrap();
    let payload = mac0.payload.clone().unwrap();
    let structure = Value::Array(vec![
        Value::Text("MAC0".into()),
        Value::Bytes(protected),
        Value::Bytes(vec![]),
        Value::Bytes(payload),
    ]);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*k.mac).unwrap();
    mac.update(&encode(&structure));
    assert_eq!(mac.finalize().into_bytes().as_slice(), mac0.tag.as_slice());
    // And the raw MAC key is the labelled derivation of the watermark key.
    let wm = WatermarkKey::from_bytes([0x42; 32]);
    assert_eq!(k.mac, wm.derive("abmark/token/hmac-256-256/v1", &[]));
    assert_eq!(k.pattern, wm.derive("abmark/token/wmpattern-a256gcm/v1", &[]));
}

#[test]
fn cwt_and_mac0_tags_are_optional_on_input() {
    let token = mint(&keys(), &direct(), TokenFormat::Cwt).unwrap();
    let bytes = cwt_bytes(&token);
    assert_eq!(&bytes[..3], [0xd8, 61, 0xd1], "tag 61 around tag 17");
    let mac0 = mac0_of(&token);
    let only_17 = reseal_mac0(mac0.clone());
    let untagged = b64_encode(&mac0.to_vec().unwrap());
    let padded = format!("{untagged}{}", "=".repeat((4 - untagged.len() % 4) % 4));
    for t in [only_17, untagged, padded] {
        assert_eq!(verify(&keys(), &t, NOW).unwrap(), direct());
    }
}

#[test]
fn pattern_is_encrypted_and_iv_is_random() {
    let claims = WmClaims {
        pattern: WmPattern::Direct { bytes: b"SECRET-PATTERN!!".to_vec(), bits: 128 },
        ..direct()
    };
    let a = mint(&keys(), &claims, TokenFormat::Cwt).unwrap();
    let b = mint(&keys(), &claims, TokenFormat::Cwt).unwrap();
    assert_ne!(a, b, "fresh IV per mint");
    for t in [&a, &b] {
        let bytes = cwt_bytes(t);
        assert!(!bytes.windows(16).any(|w| w == b"SECRET-PATTERN!!"));
        assert_eq!(verify(&keys(), t, NOW).unwrap(), claims);
    }
    let j = mint(&keys(), &claims, TokenFormat::Jwt).unwrap();
    let payload = b64_decode(j.split('.').nth(1).unwrap()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let sealed = b64_decode(json["wmpattern"].as_str().unwrap()).unwrap();
    assert!(!sealed.windows(16).any(|w| w == b"SECRET-PATTERN!!"));
    assert!(!j.contains("SECRET"));
}

#[test]
fn any_flipped_character_is_refused() {
    for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
        let token = mint(&keys(), &direct(), format).unwrap();
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x20] {
                let mut t = bytes.to_vec();
                t[i] ^= flip;
                let Ok(t) = String::from_utf8(t) else { continue };
                match verify(&keys(), &t, NOW) {
                    Err(
                        TokenError::BadSignature
                        | TokenError::Malformed(_)
                        | TokenError::Unsupported(_),
                    ) => {}
                    other => panic!("{format:?} byte {i} flip {flip:#x}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn tampered_cbor_payload_fails_the_mac() {
    let token = mint(&keys(), &direct(), TokenFormat::Cwt).unwrap();
    let mac0 = mac0_of(&token);
    let len = mac0.payload.as_ref().unwrap().len();
    for i in 0..len {
        let mut m = mac0.clone();
        if let Some(p) = m.payload.as_mut() {
            p[i] ^= 0x01;
        }
        let err = verify(&keys(), &reseal_mac0(m), NOW).unwrap_err();
        assert!(err.is_bad_signature(), "payload byte {i}: {err:?}");
    }
    let mut m = mac0.clone();
    m.tag.truncate(16);
    assert!(verify(&keys(), &reseal_mac0(m), NOW).unwrap_err().is_bad_signature());
}

#[test]
fn wrong_key_is_a_bad_signature() {
    let other = TokenKeys::derive(&WatermarkKey::from_bytes([0x43; 32]));
    for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
        let token = mint(&keys(), &direct(), format).unwrap();
        assert!(matches!(verify(&other, &token, NOW), Err(TokenError::BadSignature)));
    }
}

#[test]
fn validity_window_is_enforced_with_leeway() {
    let c = direct();
    for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
        let token = mint(&keys(), &c, format).unwrap();
        let late = c.expires_at + DEFAULT_LEEWAY_SECS;
        let err = verify(&keys(), &token, late).unwrap_err();
        assert!(err.is_expired(), "{err:?}");
        assert!(
            matches!(err, TokenError::Expired { expired_at, now } if expired_at == c.expires_at && now == late)
        );
        assert!(verify(&keys(), &token, late - 1).is_ok(), "inside the leeway");
        assert!(verify_with_leeway(&keys(), &token, c.expires_at, 0).unwrap_err().is_expired());
        let early = c.not_before.unwrap() - DEFAULT_LEEWAY_SECS - 1;
        assert!(matches!(verify(&keys(), &token, early), Err(TokenError::NotYetValid { .. })));
        assert!(verify(&keys(), &token, early + 1).is_ok());
    }
}

#[test]
fn tokens_from_the_future_and_long_lived_ones_are_refused() {
    for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
        // Issued an hour from now, with no nbf: not valid yet.
        let mut c = direct();
        c.not_before = None;
        c.issued_at = NOW + 3600;
        c.expires_at = NOW + 7200;
        let token = mint(&keys(), &c, format).unwrap();
        assert!(matches!(verify(&keys(), &token, NOW), Err(TokenError::NotYetValid { .. })));
        assert!(verify(&keys(), &token, NOW + 3600).is_ok());
        // Minting refuses a lifetime over 7 days, and so does verifying.
        let mut long = direct();
        long.expires_at = long.issued_at + MAX_LIFETIME_SECS + 1;
        assert!(matches!(mint(&keys(), &long, format), Err(TokenError::InvalidClaims(_))));
    }
}

fn forge_jwt(header: &str, mac_key: &[u8; 32], payload_of: &str) -> String {
    let payload = payload_of.split('.').nth(1).unwrap();
    let input = format!("{}.{payload}", b64_encode(header.as_bytes()));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(mac_key).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64_encode(&mac.finalize().into_bytes()))
}

#[test]
fn jwt_alg_none_and_hs512_are_refused() {
    let k = keys();
    let good = mint(&k, &direct(), TokenFormat::Jwt).unwrap();
    let payload = good.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", b64_encode(br#"{"alg":"none","typ":"JWT"}"#));
    assert!(matches!(verify(&k, &none, NOW), Err(TokenError::Unsupported(_))));
    let hs512 = forge_jwt(r#"{"alg":"HS512","typ":"JWT"}"#, &k.mac, &good);
    assert!(matches!(verify(&k, &hs512, NOW), Err(TokenError::Unsupported(_))));
    // Header as jsonwebtoken writes it, and an equivalent in another key order still verifies.
    assert_eq!(good.split('.').next().unwrap(), b64_encode(br#"{"typ":"JWT","alg":"HS256"}"#));
    let resigned = forge_jwt(r#"{"alg":"HS256","typ":"JWT"}"#, &k.mac, &good);
    assert!(verify(&k, &resigned, NOW).is_ok());
    let untyped = forge_jwt(r#"{"alg":"HS256"}"#, &k.mac, &good);
    assert!(verify(&k, &untyped, NOW).is_ok(), "typ is optional in a WM JWT");
    let crit = forge_jwt(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, &k.mac, &good);
    assert!(matches!(verify(&k, &crit, NOW), Err(TokenError::Unsupported(_))));
}

#[test]
fn truncated_and_garbage_tokens_are_malformed() {
    for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
        let token = mint(&keys(), &direct(), format).unwrap();
        for cut in [1, 5, token.len() / 2, token.len() - 3] {
            let err = verify(&keys(), &token[..cut], NOW).unwrap_err();
            assert!(
                matches!(err, TokenError::Malformed(_) | TokenError::BadSignature),
                "{format:?} cut {cut}: {err:?}"
            );
        }
    }
    let cwt = mint(&keys(), &direct(), TokenFormat::Cwt).unwrap();
    let cut = &cwt[..cwt.len() - 8];
    assert!(matches!(verify(&keys(), cut, NOW), Err(TokenError::Malformed(_))));
    for garbage in ["", "!!!not base64!!!", "a.b", "a.b.c.d", "....", "AAAA", "%%.%%.%%"] {
        assert!(
            matches!(verify(&keys(), garbage, NOW), Err(TokenError::Malformed(_))),
            "{garbage:?}"
        );
    }
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let k = keys();
    for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
        let token = mint(&k, &direct(), format).unwrap();
        assert!(token.len() < MAX_TOKEN_BYTES / 8, "{format:?} tokens are small");
        let padded = format!("{token}{}", "A".repeat(MAX_TOKEN_BYTES));
        let err = verify(&k, &padded, NOW).unwrap_err();
        assert!(matches!(&err, TokenError::Malformed(m) if m.contains("longer")), "{err:?}");
    }
    // Mint refuses claims whose token would be refused.
    let huge = WmClaims { subject: Some("x".repeat(MAX_TOKEN_BYTES)), ..direct() };
    for format in [TokenFormat::Cwt, TokenFormat::Jwt] {
        assert!(matches!(mint(&k, &huge, format), Err(TokenError::InvalidClaims(_))));
    }
}

#[test]
fn pattern_length_must_match_wmpatlen() {
    // Mint refuses inconsistent claims.
    let too_long =
        WmClaims { pattern: WmPattern::Direct { bytes: vec![0xff], bits: 9 }, ..direct() };
    assert!(matches!(
        mint(&keys(), &too_long, TokenFormat::Cwt),
        Err(TokenError::PatternLength { bits: 9, bytes: 1 })
    ));
    // A correctly MACed CWT whose wmpatlen exceeds the pattern is refused by verify.
    let k = keys();
    let token = mint(&k, &direct(), TokenFormat::Cwt).unwrap();
    let mac0 = mac0_of(&token);
    let Value::Map(mut entries) = decode_exact(mac0.payload.as_ref().unwrap()).unwrap() else {
        panic!()
    };
    for (key, value) in entries.iter_mut() {
        if *key == Value::from(WMPATLEN) {
            *value = Value::from(40);
        }
    }
    let payload = encode(&canonical_map(entries));
    let forged = cwt::seal(&k.mac, payload).unwrap();
    assert!(matches!(
        verify(&k, &forged, NOW),
        Err(TokenError::PatternLength { bits: 40, bytes: 4 })
    ));
}

#[test]
fn plaintext_bstr_pattern_is_accepted_on_input() {
    let k = keys();
    let token = mint(&k, &direct(), TokenFormat::Cwt).unwrap();
    let mac0 = mac0_of(&token);
    let Value::Map(mut entries) = decode_exact(mac0.payload.as_ref().unwrap()).unwrap() else {
        panic!()
    };
    for (key, value) in entries.iter_mut() {
        if *key == Value::from(WMPATTERN) {
            *value = Value::Bytes(vec![0xa5, 0x3c, 0x0f, 0xe0]);
        }
    }
    let plain = cwt::seal(&k.mac, encode(&canonical_map(entries))).unwrap();
    assert_eq!(verify(&k, &plain, NOW).unwrap(), direct());
}

#[test]
fn unsupported_versions_and_missing_claims_are_refused() {
    let k = keys();
    let token = mint(&k, &indirect(), TokenFormat::Cwt).unwrap();
    let mac0 = mac0_of(&token);
    let Value::Map(entries) = decode_exact(mac0.payload.as_ref().unwrap()).unwrap() else {
        panic!()
    };
    let with = |key: i64, v: Option<Value>| {
        let mut e: Vec<_> =
            entries.iter().filter(|(kk, _)| *kk != Value::from(key)).cloned().collect();
        if let Some(v) = v {
            e.push((Value::from(key), v));
        }
        cwt::seal(&k.mac, encode(&canonical_map(e))).unwrap()
    };
    assert!(matches!(
        verify(&k, &with(WMVER, Some(Value::from(2))), NOW),
        Err(TokenError::Unsupported(_))
    ));
    assert!(matches!(verify(&k, &with(EXP, None), NOW), Err(TokenError::Malformed(_))));
    assert!(matches!(verify(&k, &with(IAT, None), NOW), Err(TokenError::Malformed(_))));
    assert!(matches!(
        verify(&k, &with(WMVND, Some(Value::from(256))), NOW),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(verify(&k, &with(WMOPID, None), NOW), Err(TokenError::Malformed(_))));
    let both = with(WMPATTERN, Some(Value::Bytes(vec![0; 8])));
    assert!(matches!(verify(&k, &both, NOW), Err(TokenError::Malformed(_))));
    // A content claim that is no content id is refused where the token is read, in both forms.
    for bad in ["", "two words", "tab\t"] {
        let cwt = with(ABM_CONTENT, Some(Value::Text(bad.into())));
        let e = verify(&k, &cwt, NOW).unwrap_err();
        assert!(matches!(&e, TokenError::Malformed(m) if m.starts_with("abm_content")), "{e}");
        let good = mint(&k, &direct(), TokenFormat::Jwt).unwrap();
        let part = |i: usize| b64_decode(good.split('.').nth(i).unwrap()).unwrap();
        let header = String::from_utf8(part(0)).unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&part(1)).unwrap();
        claims["abm_content"] = bad.into();
        let jwt =
            forge_jwt(&header, &k.mac, &format!(".{}.", b64_encode(claims.to_string().as_bytes())));
        let e = verify(&k, &jwt, NOW).unwrap_err();
        assert!(matches!(&e, TokenError::Malformed(m) if m.starts_with("abm_content")), "{e}");
    }
    // So is an origins claim that names no site pattern.
    for bad in ["", "example.com", "https://a.*.example"] {
        let cwt = with(ABM_ORIGINS, Some(Value::Text(bad.into())));
        let e = verify(&k, &cwt, NOW).unwrap_err();
        assert!(matches!(&e, TokenError::Malformed(m) if m.starts_with("abm_origins")), "{e}");
    }
    // Duplicate keys are refused even when the MAC is good.
    let mut dup = entries.clone();
    dup.push((Value::from(WMOPID), Value::from(10)));
    let dup = cwt::seal(&k.mac, encode(&Value::Map(dup))).unwrap();
    assert!(matches!(verify(&k, &dup, NOW), Err(TokenError::Malformed(_))));
}

#[test]
fn debug_and_errors_never_show_keys_or_tokens() {
    let k = keys();
    assert_eq!(format!("{k:?}"), "TokenKeys(<redacted>)");
    let token = mint(&k, &direct(), TokenFormat::Cwt).unwrap();
    let other = TokenKeys::derive(&WatermarkKey::from_bytes([1; 32]));
    for t in [token.clone(), token[..20].to_owned(), format!("{token}x")] {
        let msg = verify(&other, &t, NOW).unwrap_err().to_string();
        assert!(!msg.contains(&token[..12]) && !msg.contains('\n'), "{msg}");
    }
}

#[test]
fn mint_refuses_impossible_claims() {
    let k = keys();
    let bad = [
        WmClaims { version: 2, ..direct() },
        WmClaims { expires_at: NOW - 10, ..direct() },
        WmClaims { pattern: WmPattern::Direct { bytes: vec![], bits: 0 }, ..direct() },
        WmClaims { segment_duration: Some((1, 0)), ..direct() },
    ];
    for c in bad {
        assert!(
            matches!(mint(&k, &c, TokenFormat::Cwt), Err(TokenError::InvalidClaims(_))),
            "{c:?}"
        );
    }
}

#[test]
fn random_corruption_never_panics_or_verifies() {
    let k = keys();
    let token = mint(&k, &direct(), TokenFormat::Cwt).unwrap();
    let bytes = cwt_bytes(&token);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..=(next() % 3) {
            let i = (next() as usize) % b.len();
            b[i] = next() as u8;
        }
        b.truncate(b.len() - (next() as usize % 4));
        if b == bytes {
            continue;
        }
        assert!(verify(&k, &b64_encode(&b), NOW).is_err());
    }
    // A byte string announcing an absurd length must not allocate it.
    let mut huge = vec![0xd8, 61, 0x5b];
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(verify(&k, &b64_encode(&huge), NOW), Err(TokenError::Malformed(_))));
}
