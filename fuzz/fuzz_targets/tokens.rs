//! The token parsers a client reaches before it is authenticated: the WM token (CWT, and the
//! JWT form) and the licence token (JWT), on any string. None may panic, and none may accept a
//! string that was not minted with the key: the keys here are fixed and no input is signed.
#![no_main]

use abmark_delivery::ids::ContentId;
use abmark_edge::licence::token::{verify as verify_licence, LicenceKey};
use abmark_edge::token::{verify_with_leeway, TokenKeys};
use abmark_wm::key::WatermarkKey;
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_750_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let key = WatermarkKey::from_bytes([0x42; 32]);
    let content = ContentId::new("film-1").expect("a content id");
    // Accepting an unsigned string would be a forgery: the fuzzer cannot compute the MAC.
    assert!(verify_with_leeway(&TokenKeys::derive(&key), token, NOW, 60).is_err());
    assert!(verify_licence(&LicenceKey::derive(&key), token, Some(&content), NOW).is_err());
    assert!(verify_licence(&LicenceKey::derive(&key), token, None, NOW).is_err());
});
