use super::*;
use abmark_bmff::h264::testutil::{avcc, hex, pps, slice, sps, PpsCfg, SpsCfg, W};

/// Real streams packaged by Shaka Packager 3.8 (cbcs): (name, avcC payload, slice NAL
/// prefixes cut exactly at the clear header bytes Shaka chose: NAL header + slice header).
const SHAKA_SLICES: &[(&str, &str, &[&str])] = &[
    (
        "default",
        concat!(
            "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000668eae3",
            "cb22c0fdf8f800",
        ),
        &["65888403ff", "419a226c57", "019e41791dff", "419bb834a4c2899bff", "419b943e4c29a265ff"],
    ),
    (
        "cavlc",
        concat!(
            "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000668cae3",
            "cb22c0fdf8f800",
        ),
        &["65888403eb", "419a226c2e", "019e41783b80", "419b943e4c29a24bfb", "419a2234a4c023d6"],
    ),
    (
        "baseline",
        "0142c01fffe100196742c01fd9005005bb011000000300100000030320f183248001000568cb83cb20",
        &["6588845f", "419a38bb", "419a5413bf", "65888202ff"],
    ),
    (
        "weighted",
        concat!(
            "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000668ebe3",
            "cb22c0fdf8f800",
        ),
        &[
            "65888403ff",
            "419a226c57",
            "019e41791dff",
            "419bb849a8416c994c144cdf",
            "419b9449e10e8994c14d133f",
        ],
    ),
    (
        "weighted_cavlc",
        concat!(
            "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000668cbe3",
            "cb22c0fdf8f800",
        ),
        &[
            "65888403eb",
            "6500398888400fe8",
            "419a226c2e",
            "41003989b9449e10e8994c14d1227f",
            "41003989bf949e10f26530511389ef",
        ],
    ),
    (
        "slices4",
        concat!(
            "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000668ebe3",
            "cb22c0fdf8f800",
        ),
        &[
            "65888403ff",
            "65006e222100ff",
            "6500398888400fff",
            "410015426ee126a105b265305137ff",
            "41003989b9449e10e8994c14d1313f",
        ],
    ),
    (
        "interlaced",
        concat!(
            "01640020ffe1001a67640020acd940500bbf2e0220000003002000000643e2c5b2c001000668fba3",
            "cb22c0fdf8f800",
        ),
        &["6588820b3f", "419a215e57", "019e40df91df", "419bac5b4b64a266ff", "419b8a5bf44a6899ff"],
    ),
    (
        "interlaced_cavlc",
        concat!(
            "01640020ffe1001a67640020acd940500bbf2e0220000003002000000643e2c5b2c001000668dba3",
            "cb22c0fdf8f800",
        ),
        &["6588820b3d", "419a215e2e", "019e40df83b8", "419bac5b4b64a24dec", "419b8a5bf44a6893fb"],
    ),
    (
        "bframes0",
        concat!(
            "0164001fffe100186764001facb200a00b760220000003002000000641e3064901000668ebc3cb22",
            "c0fdf8f800",
        ),
        &[
            "6588845f",
            "419a3b15ff",
            "419a4f0864ca6127",
            "419a727843c994c093ff",
            "419a927843c994c093ff",
        ],
    ),
    (
        "pyramid",
        concat!(
            "01640028ffe1001b67640028ac562405005bb011000003000100000300320f1831898001000668e8",
            "8e3cb22cfdf8f800",
        ),
        &[
            "65888201ff",
            "419a11362bff",
            "019e20bc8eff",
            "419a3a227c1074b6b6a4ca600028e8467f",
            "419a6ca27c107fd2d93298000a128d9fff",
        ],
    ),
    (
        "pyramid16",
        concat!(
            "01640032ffe1001b67640032ac7204005005bb011000000300100000030320f183184601000668e8",
            "438f2c8bfdf8f800",
        ),
        &[
            "658881007f",
            "419a084d8aff",
            "019e102f23bf",
            "419ace48fd40815555555555f9329800000300ae6f",
            "419adec8fd408155555555555e4ca6000003002b9bff",
            "419af7878102aaaaaaaaaaaab2653000000300507327",
        ],
    ),
    (
        "yuv444_cqm",
        concat!(
            "01f4001fffe1001a67f4001f919b280a00b76022000003000200000300641e30632c01000868ebe3",
            "c44c000440fff8f800",
        ),
        &[
            "65888403ff",
            "419a226c57",
            "019e41791dff",
            "419bb849a8416c994c144cdf",
            "419b9449e10e8994c14d133f",
        ],
    ),
    (
        "hi422_10",
        concat!(
            "017a001fffe1001a677a001fb6cd9405005bb011000003000100000300320f18319601000768ebe3",
            "cb3002c0fefafa00",
        ),
        &[
            "65888403ff",
            "419a226c57",
            "019e41791dff",
            "419b943f44c0a6899fff",
            "419bda34b64c0a262fff",
        ],
    ),
    (
        "lossless",
        concat!(
            "01f4001fffe1001967f4001f91d6805005bb011000000300100000030320f1832a01000568ce01af",
            "20fff8f800",
        ),
        &["658884a0", "419a229f", "419a4297"],
    ),
    (
        "gray",
        concat!(
            "0164001fffe1001a6764001ff365014016ec05b2000003000200000300641e30632c01000668ebe3",
            "cb22c0fcf8f800",
        ),
        &[
            "658884017f",
            "419a22695f",
            "019e4179087f",
            "419bb849a8416c9532899bff",
            "419b9449e10e895329a265ff",
        ],
    ),
    (
        "cqm444",
        concat!(
            "01f4001fffe1001a67f4001f919b280a00b76022000003000200000300641e30632c01004c68ebe3",
            "c44e53322466d99223342008508021252233644919b6c89248cdb6d912492446db6cc92488db6649",
            "11b3224a4466c892336d9124919b6db22492488db6d9924911b6cc922366440110fff8f800",
        ),
        &[
            "65888403ff",
            "419a226c57",
            "019e41791dff",
            "419bb849a8416c994c144cdf",
            "419b9449e10e8994c14d137f",
        ],
    ),
    (
        "smax",
        concat!(
            "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000568cbec",
            "b22cfdf8f800",
        ),
        &[
            "6588840025ef",
            "650808840077",
            "6504e221001def",
            "410012226e5127843a26530534484be9",
            "410013e86e5127843a26530534484392",
        ],
    ),
    (
        "intra_refresh",
        concat!(
            "0164001fffe1001a6764001fac764014016ec044000003000400000300c83c60c65801000568ef8f",
            "2c8bfdf8f800",
        ),
        &["65888100ff", "419a08862bff", "019e10511dff", "419a2a8d132b93ff", "419a3b8d132b93ff"],
    ),
    (
        "abmark",
        concat!(
            "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000568ef86",
            "f2c0fdf8f800",
        ),
        &["658884017f", "419a221893ff", "019e414477", "419a443441180ba3127f", "419aa939329a263fff"],
    ),
];

/// Every recorded slice measures exactly Shaka's clear header; cut one byte short it is
/// an error, and bytes after the header are never needed.
#[test]
fn shaka_slice_headers() {
    let mut count = 0;
    for (name, avcc, slices) in SHAKA_SLICES {
        let params = AvcParams::from_avcc(&hex(avcc)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(params.nal_length_size(), 4, "{name}");
        for s in *slices {
            let nal = hex(s);
            assert_eq!(slice_header_bytes(&nal, &params), Ok(nal.len()), "{name} {s}");
            assert!(slice_header_bytes(&nal[..nal.len() - 1], &params).is_err(), "{name} {s}");
            let mut longer = nal.clone();
            longer.extend([0u8, 0, 3, 0xff, 0x80]);
            assert_eq!(slice_header_bytes(&longer, &params), Ok(nal.len()), "{name} {s}");
            count += 1;
        }
    }
    assert!(count > 80);
}

fn entries(v: &[(u16, u32)]) -> Vec<Subsample> {
    v.iter().map(|&(clear, protected)| Subsample { clear, protected }).collect()
}

/// Whole samples with the `senc` entries Shaka Packager 3.8 wrote for them (cenc and
/// cbcs): 12 small CABAC slices (noDeblock_tiny sample 1), 6 CAVLC B slices
/// (tiny_cavlc sample 7).
#[test]
fn shaka_whole_samples() {
    // (avcC, sample, Shaka cenc entries, Shaka cbcs entries)
    type Case = (&'static str, &'static str, &'static [(u16, u32)], &'static [(u16, u32)]);
    let cases: [Case; 2] = [
        (
            concat!(
                "0164000cffe1001a6764000cacd941419f9f011000000300100000030320f14299600100",
                "0568ebec",
                "b22cfdf8f800",
            ),
            "00000008419a216c420b0cd80000000a410a9a216c424bb91e960000000b410526885b11cbdaa7ea80\
             0000000b4107a6885b118b6fc210c000000017410289a216c420bf658f4a3160da04d700ba2ede89ed\
             b300000021410329a216c4727eed9413341387a43c940a1e395503a05c4191626d8dd4798042000000\
             1b4103c9a216c420bf6cd24e447658df2419f7e8338986d6d25125e80000001141011a6885b1082f4d\
             54409211341c67c00000000c4101426885b1082f4f78d3400000000c41016a6885b1082f383282c000\
             00000c4101926885b1082f1984b6600000000f4101ba6885b1092f62b5df80f32412",
            &[(94, 16), (22, 16), (91, 0)],
            &[
                (10, 2),
                (11, 3),
                (11, 4),
                (11, 4),
                (12, 15),
                (11, 26),
                (12, 19),
                (12, 9),
                (12, 4),
                (12, 4),
                (12, 4),
                (12, 7),
            ],
        ),
        (
            concat!(
                "0164000bffe1001c6764000bacd9428dbff0010000f1000003000100000300320f142996",
                "01000568",
                "cbecb22cfdf8f800",
            ),
            "00000007019ea66a032e2e0000000801167a99a80cb8b800000008010a9ea66a032e2e00000008010f\
             9ea66a032e2e00000009010527a99a80cb8b8000000009010667a99a80cb8b80",
            &[(73, 0)],
            &[(10, 1), (11, 1), (11, 1), (11, 1), (12, 1), (12, 1)],
        ),
    ];
    for (avcc, sample, cenc, cbcs) in cases {
        let mut params = AvcParams::from_avcc(&hex(avcc)).unwrap();
        let sample = hex(sample);
        assert_eq!(video_subsamples(&sample, &mut params, true).unwrap(), entries(cenc));
        assert_eq!(video_subsamples(&sample, &mut params, false).unwrap(), entries(cbcs));
    }
}

/// A real avcC ("default" above) and an AVCC sample built from `(nal_type_or_slice, len)`.
/// Slices reuse the recorded IDR header `65888403ff` (5 bytes) padded with data.
fn build(n: usize, nals: &[(u8, usize)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(t, len) in nals {
        let nal: Vec<u8> = if t == 5 {
            let mut v = hex("65888403ff");
            v.resize(len, 0xa5);
            v
        } else {
            let mut v = vec![0xa5u8; len];
            v[0] = t;
            v
        };
        out.extend(&(len as u32).to_be_bytes()[4 - n..]);
        out.extend(nal);
    }
    out
}

fn default_params(n: u8) -> AvcParams {
    let mut a = hex(SHAKA_SLICES[0].1);
    a[4] = 0xfc | (n - 1);
    AvcParams::from_avcc(&a).unwrap()
}

fn total(v: &[Subsample]) -> usize {
    v.iter().map(|s| usize::from(s.clear) + s.protected as usize).sum()
}

#[test]
fn merge_align_and_split_rules() {
    let mut p = default_params(4);
    // SEI + IDR: SEI, length fields, NAL header and 4 header bytes merge in front.
    let s = build(4, &[(6, 686), (5, 105)]);
    assert_eq!(video_subsamples(&s, &mut p, false).unwrap(), entries(&[(699, 100)]));
    // cenc: 96 protected right after the header, the 4-byte tail stays clear.
    assert_eq!(video_subsamples(&s, &mut p, true).unwrap(), entries(&[(699, 96), (4, 0)]));
    // Exactly 16 after the header; then 15 (all clear, merges into what follows).
    let s = build(4, &[(5, 21), (5, 20), (5, 37), (6, 3)]);
    assert_eq!(
        video_subsamples(&s, &mut p, true).unwrap(),
        entries(&[(9, 16), (4 + 20 + 9, 32), (7, 0)])
    );
    assert_eq!(
        video_subsamples(&s, &mut p, false).unwrap(),
        entries(&[(9, 16), (9, 15), (9, 32), (7, 0)])
    );
    // A clear run over 65535 bytes is split into {65535, 0} entries.
    let s = build(4, &[(12, 140_000), (5, 1000), (12, 70_000)]);
    assert_eq!(
        video_subsamples(&s, &mut p, false).unwrap(),
        entries(&[(65535, 0), (65535, 0), (8943, 995), (65535, 0), (4469, 0)])
    );
    // Empty sample: no entries. Zero-length NAL units are clear length fields.
    assert_eq!(video_subsamples(&[], &mut p, true).unwrap(), vec![]);
    let s = [0u8, 0, 0, 0];
    assert_eq!(video_subsamples(&s, &mut p, true).unwrap(), entries(&[(4, 0)]));
    // 1- and 2-byte length fields.
    for n in [1u8, 2] {
        let mut p = default_params(n);
        let s = build(usize::from(n), &[(9, 2), (5, 200)]);
        let c = 2 + 2 * u16::from(n) + 5;
        assert_eq!(video_subsamples(&s, &mut p, false).unwrap(), entries(&[(c, 195)]));
        assert_eq!(video_subsamples(&s, &mut p, true).unwrap(), entries(&[(c, 192), (3, 0)]));
    }
}

/// Deterministic pseudo-random samples: entries always sum to the sample length, no
/// zero-length entries, no cenc protected run that is not whole blocks.
#[test]
fn entries_cover_the_sample() {
    let mut p = default_params(4);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let mut nals = Vec::new();
        for _ in 0..(x % 6) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = [1u8, 5, 6, 9, 12][(x % 5) as usize];
            let t = if t == 1 { 5 } else { t };
            let len = 5 + (x >> 8) as usize % if x.is_multiple_of(7) { 80_000 } else { 300 };
            nals.push((t, len));
        }
        let s = build(4, &nals);
        for align in [false, true] {
            let v = video_subsamples(&s, &mut p, align).unwrap();
            assert_eq!(total(&v), s.len());
            assert!(v.iter().all(|e| e.clear > 0 || e.protected > 0));
            if align {
                assert!(v.iter().all(|e| e.protected % 16 == 0));
            }
        }
    }
}

/// A PPS carried in the sample is used by the slices after it, and kept for later
/// samples; an in-band SPS/PPS pair replaces what the avcC had.
#[test]
fn in_band_parameter_sets() {
    let sps0 = sps(&SpsCfg::default());
    let pps_plain = pps(&PpsCfg { deblock_control: false, ..PpsCfg::default() });
    let pps_deblock = pps(&PpsCfg::default());
    // IDR I slice with deblocking fields (read only under pps_deblock).
    let mut w = W::default();
    w.ue(0).ue(7).ue(0).u(4, 0).ue(0).u(6, 0).flag(false).flag(false).se(-2);
    let short = 1 + w.bytes.len();
    w.ue(0).se(1).se(-1);
    let (nal, long) = slice(0x65, &w, &[0x55; 64]);
    assert_ne!(short, long);
    let len_prefixed = |nal: &[u8]| {
        let mut v = (nal.len() as u32).to_be_bytes().to_vec();
        v.extend(nal);
        v
    };

    // avcC without a PPS: the slice alone fails, with PPS in band it works.
    let mut p = AvcParams::from_avcc(&avcc(4, &[&sps0], &[])).unwrap();
    let err = video_subsamples(&len_prefixed(&nal), &mut p, false).unwrap_err();
    assert!(err.to_string().contains("slice refers to PPS 0, not in the avcC or the sample"));
    let mut s = len_prefixed(&pps_deblock);
    s.extend(len_prefixed(&nal));
    let hdr = 4 + pps_deblock.len() + 4 + long;
    let expect = entries(&[(hdr as u16, (nal.len() - long) as u32)]);
    assert_eq!(video_subsamples(&s, &mut p, false).unwrap(), expect);
    // ...and the PPS stays known for the next sample.
    let v = video_subsamples(&len_prefixed(&nal), &mut p, false).unwrap();
    assert_eq!(v, entries(&[(4 + long as u16, (nal.len() - long) as u32)]));

    // In-band PPS replaces the avcC's PPS 0 (header length changes accordingly).
    let mut p = AvcParams::from_avcc(&avcc(4, &[&sps0], &[&pps_deblock])).unwrap();
    let mut s = len_prefixed(&sps0);
    s.extend(len_prefixed(&pps_plain));
    s.extend(len_prefixed(&nal));
    let clear = 4 + sps0.len() + 4 + pps_plain.len() + 4 + short;
    let expect = entries(&[(clear as u16, (nal.len() - short) as u32)]);
    assert_eq!(video_subsamples(&s, &mut p, false).unwrap(), expect);
}

#[test]
fn malformed_input_is_an_error() {
    let mut p = default_params(4);
    let mut s = build(4, &[(6, 10), (5, 900)]);
    // Length says 1200, 900 left.
    s[14..18].copy_from_slice(&1200u32.to_be_bytes());
    let e = video_subsamples(&s, &mut p, false).unwrap_err();
    assert_eq!(e.to_string(), "NAL unit 1 runs past the sample (len 1200, 900 left)");
    // Length field cut short.
    let e = video_subsamples(&[0, 0, 0, 1, 9, 0, 0], &mut p, false).unwrap_err();
    assert!(matches!(e, SubsampleError::LengthTruncated { index: 1, offset: 5, left: 2, need: 4 }));
    // Slice header cut short (NAL is just its header byte and one more).
    let e = video_subsamples(&[0, 0, 0, 2, 0x65, 0x88], &mut p, false).unwrap_err();
    assert!(matches!(
        e,
        SubsampleError::Nal { index: 0, nal_type: 5, source: SyntaxError::Truncated(_), .. }
    ));
    // Unknown PPS 3 (slice: first_mb 0, slice_type 7, pps 3).
    let e = video_subsamples(&[0, 0, 0, 3, 0x65, 0x88, 0x20], &mut p, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "NAL unit 0 (type 5) at byte 0: slice refers to PPS 3, not in the avcC or the sample"
    );
    // Garbage in-band SPS.
    let e = video_subsamples(&[0, 0, 0, 2, 0x67, 0x64], &mut p, false).unwrap_err();
    assert!(matches!(e, SubsampleError::Nal { nal_type: 7, .. }));
    // avcC problems.
    let good = hex(SHAKA_SLICES[0].1);
    assert!(matches!(AvcParams::from_avcc(&[]), Err(SubsampleError::AvccTruncated { .. })));
    assert!(matches!(
        // Cut into the PPS (the last 4 bytes are the ignored high-profile extension).
        AvcParams::from_avcc(&good[..good.len() - 5]),
        Err(SubsampleError::AvccTruncated { .. })
    ));
    let mut bad = good.clone();
    bad[0] = 0;
    assert!(matches!(AvcParams::from_avcc(&bad), Err(SubsampleError::AvccInvalid(_))));
    let mut bad = good.clone();
    bad[4] = 0xfe;
    assert!(matches!(AvcParams::from_avcc(&bad), Err(SubsampleError::AvccInvalid(_))));
    let mut bad = good;
    bad[8] = 0x68; // SPS slot holding a PPS
    assert!(matches!(
        AvcParams::from_avcc(&bad),
        Err(SubsampleError::AvccParameterSet { kind: "SPS", .. })
    ));
}

/// Mutated real samples never panic; whatever is accepted still covers the sample.
#[test]
fn mutations_never_panic() {
    let base = build(4, &[(6, 30), (5, 300), (5, 40)]);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut s = base.clone();
        for _ in 0..1 + x % 4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x >> 16) as usize % s.len();
            s[i] = (x >> 40) as u8;
        }
        if x.is_multiple_of(5) {
            s.truncate((x >> 24) as usize % s.len());
        }
        let mut p = default_params(4);
        for align in [false, true] {
            if let Ok(v) = video_subsamples(&s, &mut p, align) {
                assert_eq!(total(&v), s.len());
            }
        }
    }
}
