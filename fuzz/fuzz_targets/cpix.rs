//! CPIX reader on untrusted XML; every document it accepts must survive `write_cpix` followed
//! by `read_cpix` unchanged (a failed round trip is a bug in the reader or the writer).
#![no_main]

use abmark_cenc::cpix::{read_cpix, write_cpix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let xml = String::from_utf8_lossy(data);
    let Ok(doc) = read_cpix(&xml) else { return };
    let written = write_cpix(&doc);
    let again = match read_cpix(&written) {
        Ok(d) => d,
        Err(e) => panic!("write_cpix output does not read back: {e}\n--- written ---\n{written}"),
    };
    assert!(again == doc, "CPIX round trip changed the document:\n{doc:#?}\n---\n{again:#?}");
    assert_eq!(write_cpix(&again), written, "write_cpix is not stable over a round trip");
});
