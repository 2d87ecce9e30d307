//! ISO-BMFF / CMAF / CENC readers on untrusted bytes: box walking, header and fragment reading,
//! `clear_init`, whole-file decryption, and every CENC box parser on the boxes found inside.
//! Any panic, hang or runaway allocation is a bug; errors are expected.
#![no_main]

use abmark_cenc::{clear_init, decrypt_file, parse_senc, parse_seig, parse_sinf, video_subsamples, AvcParams, ContentKey, Kid};
use abmark_bmff::boxes::{read_boxes, BoxRef};
use abmark_bmff::cmaf::{self, read_fragments, read_init, Track};
use libfuzzer_sys::fuzz_target;

/// The key of the Shaka Packager seeds, so that seed decryption takes the real path.
const KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

fuzz_target!(|data: &[u8]| {
    // The box tree, walked without recursion; every box we know how to read is read.
    if let Ok(top) = read_boxes(data) {
        let mut work: Vec<BoxRef<'_>> = top.clone();
        let mut seen = 0usize;
        while let Some(b) = work.pop() {
            seen += 1;
            if seen > 100_000 {
                break;
            }
            let _ = b.payload();
            let _ = b.full_box();
            let _ = b.extended_type();
            match &b.kind().0 {
                b"sinf" => {
                    let _ = parse_sinf(b.bytes());
                }
                b"pssh" => pssh(b.bytes()),
                b"traf" => {
                    if let Ok(children) = b.children() {
                        for iv_size in [0u8, 8, 16] {
                            let _ = parse_senc(&children, iv_size);
                        }
                        let _ = parse_seig(&children);
                    }
                }
                b"avcC" => {
                    let _ = abmark_bmff::h264::parse_avcc(b.payload());
                    let _ = abmark_bmff::h264::avc_codec_string(b.payload());
                    let _ = AvcParams::from_avcc(b.payload());
                }
                _ => {}
            }
            if let Ok(children) = b.children() {
                work.extend(children);
            }
        }
        for path in ["moov/trak/mdia/minf/stbl/stsd", "moof/traf/trun", "moov/pssh"] {
            let _ = abmark_bmff::boxes::find_all(&top, path);
        }
    }

    let _ = cmaf::header_len(data);
    let init = read_init(data);
    if let Ok(init) = &init {
        if let Some(sinf) = &init.sinf {
            let _ = parse_sinf(sinf);
        }
        for p in &init.pssh {
            pssh(p);
        }
        let _ = init.track.codec_string();
    }
    let fragments = read_fragments(data);

    // Subsample maps over the real samples, with the header's avcC.
    if let (Ok(init), Ok(fragments)) = (&init, &fragments) {
        if let Track::Video(v) = &init.track {
            if let Ok(params) = AvcParams::from_avcc(&v.avcc) {
                for align in [false, true] {
                    let mut params = params.clone();
                    for s in fragments.iter().flat_map(|f| &f.samples) {
                        check_subsamples(&s.data, &mut params, align);
                    }
                }
            }
        }
    }

    let _ = clear_init(data);
    let key_for = |kid: &Kid| Some(ContentKey::new(*kid, KEY, None));
    let _ = decrypt_file(data, &key_for);
    let fixed = |_kid: &Kid| Some(ContentKey::new(Kid::from_bytes([0; 16]), [1; 16], None));
    let _ = decrypt_file(data, &fixed);
});

fn pssh(bytes: &[u8]) {
    if let Ok(p) = abmark_cenc::pssh::parse_pssh(bytes) {
        let _ = abmark_cenc::pssh::parse_widevine_data(&p.data);
        let _ = abmark_cenc::pssh::parse_playready_kids(&p.data);
    }
}

fn check_subsamples(sample: &[u8], params: &mut AvcParams, align: bool) {
    if let Ok(subs) = video_subsamples(sample, params, align) {
        let total: u64 = subs.iter().map(|s| u64::from(s.clear) + u64::from(s.protected)).sum();
        assert_eq!(total, sample.len() as u64, "subsamples do not cover the sample");
        if align {
            for s in &subs {
                assert_eq!(s.protected % 16, 0, "cenc protected run not block-aligned");
            }
        }
    }
}
