//! The ClearKey licence request body (`POST /license`, read once the token verifies): any bytes
//! to `parse_request`. An accepted request names 1 to MAX_KIDS KIDs and came from at most
//! MAX_REQUEST_BYTES bytes.
#![no_main]

use abmark_edge::licence::clearkey::{parse_request, MAX_KIDS, MAX_REQUEST_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = parse_request(data) else { return };
    assert!(data.len() <= MAX_REQUEST_BYTES);
    assert!(!request.kids.is_empty() && request.kids.len() <= MAX_KIDS);
});
