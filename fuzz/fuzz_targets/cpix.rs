//! CPIX reader on untrusted XML, both halves of a key exchange: every document `read_cpix`
//! (an answer) or `read_cpix_request` (a request, as the key service reads one from any API
//! key holder) accepts must survive its writer followed by its reader unchanged (a failed
//! round trip is a bug in the reader or the writer).
#![no_main]

use abmark_cenc::cpix::{read_cpix, read_cpix_request, write_cpix, write_cpix_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let xml = String::from_utf8_lossy(data);
    if let Ok(request) = read_cpix_request(&xml) {
        let written = write_cpix_request(&request);
        let again = match read_cpix_request(&written) {
            Ok(r) => r,
            Err(e) => panic!("write_cpix_request output does not read back: {e}\n{written}"),
        };
        assert!(again == request, "request round trip changed:\n{request:#?}\n---\n{again:#?}");
        assert_eq!(write_cpix_request(&again), written, "write_cpix_request is not stable");
    }
    let Ok(doc) = read_cpix(&xml) else { return };
    let written = write_cpix(&doc);
    let again = match read_cpix(&written) {
        Ok(d) => d,
        Err(e) => panic!("write_cpix output does not read back: {e}\n--- written ---\n{written}"),
    };
    assert!(again == doc, "CPIX round trip changed the document:\n{doc:#?}\n---\n{again:#?}");
    assert_eq!(write_cpix(&again), written, "write_cpix is not stable over a round trip");
});
