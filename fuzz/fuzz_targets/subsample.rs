//! The H.264 subsample map: `AvcParams::from_avcc` on a prefix of the input, then
//! `video_subsamples` on the rest, with and without 16-byte alignment (`cenc` / `cbcs`). When a
//! map is returned its entries must add up to the sample length exactly, and with alignment
//! every protected run must be whole AES blocks.
//!
//! Input layout: byte 0 and 1 (big-endian) = length of the avcC prefix, then the avcC, then one
//! AVCC sample (or several, each introduced by a 2-byte big-endian length, when byte 0's top bit
//! is set: exercises in-band SPS/PPS updates across samples).
#![no_main]

use abmark_cenc::{video_subsamples, AvcParams};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else { return };
    let multi = a & 0x80 != 0;
    let avcc_len = usize::from(u16::from_be_bytes([a & 0x7f, *b])).min(rest.len());
    let (avcc, samples) = rest.split_at(avcc_len);
    let Ok(params) = AvcParams::from_avcc(avcc) else { return };
    let n = params.nal_length_size();
    assert!(matches!(n, 1 | 2 | 4), "nal_length_size {n}");
    let samples = split_samples(samples, multi);
    for align in [false, true] {
        let mut params = params.clone();
        for sample in &samples {
            let Ok(subs) = video_subsamples(sample, &mut params, align) else { continue };
            let total: u64 =
                subs.iter().map(|s| u64::from(s.clear) + u64::from(s.protected)).sum();
            assert_eq!(total, sample.len() as u64, "entries do not add up (align {align})");
            assert!(sample.is_empty() || !subs.is_empty(), "non-empty sample without entries");
            for s in &subs {
                assert!(s.clear > 0 || s.protected > 0, "all-zero entry");
                if align {
                    assert_eq!(s.protected % 16, 0, "cenc protected run not whole blocks");
                }
            }
        }
    }
});

fn split_samples(mut bytes: &[u8], multi: bool) -> Vec<&[u8]> {
    if !multi {
        return vec![bytes];
    }
    let mut out = Vec::new();
    while let [a, b, rest @ ..] = bytes {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
        let (s, r) = rest.split_at(len);
        out.push(s);
        bytes = r;
    }
    out
}
