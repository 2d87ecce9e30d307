//! The codec syntax of `abmark-bmff` and the WMPaceInfo readers of `abmark-delivery`, fed
//! directly: byte 0 picks the reader, the rest is its input.
//!
//! - 0: an Annex B stream split into NAL units; each SPS/PPS parsed, each slice measured
//!   against the parameter sets seen so far (the measure never exceeds the NAL unit);
//!   `avcc_from_annexb` on the whole stream, and a record it builds must parse back.
//! - 1: an AudioSpecificConfig.
//! - 2: a media segment searched for its `wmpi` box; a WMPaceInfo sidecar; the egress header.
#![no_main]

use abmark_bmff::aac::parse_audio_specific_config;
use abmark_bmff::h264::{
    annexb_nal_units, avcc_from_annexb, parse_avcc, parse_pps, parse_sps, slice_header_bytes,
    ParameterSets, Pps, Sps,
};
use abmark_delivery::pace::{find_wmpi, parse_egress_header, parse_sidecar};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Seen {
    sps: Vec<Sps>,
    pps: Vec<Pps>,
}

impl ParameterSets for Seen {
    fn sps(&self, id: u8) -> Option<&Sps> {
        self.sps.iter().rev().find(|s| s.id() == id)
    }
    fn pps(&self, id: u8) -> Option<&Pps> {
        self.pps.iter().rev().find(|p| p.id() == id)
    }
}

fuzz_target!(|data: &[u8]| {
    let [which, rest @ ..] = data else { return };
    match which % 3 {
        0 => h264(rest),
        1 => {
            let _ = parse_audio_specific_config(rest);
        }
        _ => {
            let _ = find_wmpi(rest);
            let _ = parse_sidecar(rest);
            let _ = parse_egress_header(&String::from_utf8_lossy(rest));
        }
    }
});

fn h264(stream: &[u8]) {
    let Ok(nals) = annexb_nal_units(stream) else { return };
    let mut seen = Seen::default();
    for nal in nals {
        match nal.first().map(|h| h & 0x1f) {
            Some(7) => seen.sps.extend(parse_sps(nal).ok()),
            Some(8) => seen.pps.extend(parse_pps(nal).ok()),
            Some(1 | 5) => {
                if let Ok(n) = slice_header_bytes(nal, &seen) {
                    assert!(n <= nal.len(), "slice header of {n} bytes in a {}-byte NAL", nal.len());
                }
            }
            _ => {}
        }
    }
    if let Ok(avcc) = avcc_from_annexb(stream) {
        assert!(parse_avcc(&avcc).is_ok(), "an avcC we built does not parse back");
    }
}
