use super::testutil::{escape, nal, pps, slice, sps, PpsCfg, SpsCfg, W};
use super::*;
use crate::bits::{BitReader, SyntaxError};

/// Parameter sets by id, for tests.
#[derive(Default)]
struct Sets {
    sps: Vec<Sps>,
    pps: Vec<Pps>,
}

impl ParameterSets for Sets {
    fn sps(&self, id: u8) -> Option<&Sps> {
        self.sps.iter().find(|s| s.id == id)
    }
    fn pps(&self, id: u8) -> Option<&Pps> {
        self.pps.iter().find(|p| p.id == id)
    }
}

fn sets(s: &SpsCfg, p: &PpsCfg) -> Sets {
    Sets { sps: vec![parse_sps(&sps(s)).unwrap()], pps: vec![parse_pps(&pps(p)).unwrap()] }
}

/// Slice data after the header: arbitrary, with zeros that force emulation prevention.
const DATA: [u8; 24] = [
    0x00, 0x00, 0x01, 0x9a, 0, 0, 0, 0x03, 0xff, 0x12, 0, 0, 2, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
];

fn check(header: u8, w: &W, params: &Sets) {
    let (nal, expected) = slice(header, w, &DATA);
    assert_eq!(slice_header_bytes(&nal, params), Ok(expected));
    // The header alone suffices; one byte less does not.
    assert_eq!(slice_header_bytes(&nal[..expected], params), Ok(expected));
    assert!(matches!(
        slice_header_bytes(&nal[..expected - 1], params),
        Err(SyntaxError::Truncated(_))
    ));
}

#[test]
fn reader_skips_emulation_prevention_and_counts_it() {
    let mut r = BitReader::new(&[0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x03, 0xff]);
    assert_eq!(r.bits(24, "x"), Ok(1));
    assert_eq!(r.consumed(), 4);
    // 00 00 03 03: the first 03 is emulation prevention, the second is data.
    assert_eq!(r.bits(16, "x"), Ok(0));
    assert_eq!(r.bits(8, "x"), Ok(3));
    assert_eq!(r.consumed(), 8);
    assert_eq!(r.bits(8, "x"), Ok(0xff));
    assert!(r.bits(1, "x").is_err());
}

#[test]
fn exp_golomb_limits() {
    // 31 leading zeros: largest 32-bit value.
    let mut w = W::default();
    w.ue(u32::MAX - 1).se(-7).se(7).ue(0);
    let mut r = BitReader::new(&w.bytes);
    assert_eq!(r.ue("v"), Ok(u32::MAX - 1));
    assert_eq!(r.se("v"), Ok(-7));
    assert_eq!(r.se("v"), Ok(7));
    assert_eq!(r.ue("v"), Ok(0));
    // 32 leading zeros is rejected, without reading on.
    let mut r = BitReader::new(&[0, 0, 0, 0, 0x80]);
    assert_eq!(r.ue("v"), Err(SyntaxError::GolombTooLong("v")));
    let mut r = BitReader::new(&[0; 64]);
    assert_eq!(r.ue("v"), Err(SyntaxError::GolombTooLong("v")));
    let mut r = BitReader::new(&[0x00, 0x01]);
    assert_eq!(r.ue("v"), Err(SyntaxError::Truncated("v")));
}

#[test]
fn sps_fields_high_profile_scaling_lists() {
    for chroma in [1, 3] {
        let c = SpsCfg { id: 3, chroma, scaling: true, log2_frame_num: 9, ..SpsCfg::default() };
        let s = parse_sps(&sps(&c)).unwrap();
        assert_eq!(s.id, 3);
        assert_eq!(s.chroma_array_type, chroma as u8);
        assert_eq!(s.log2_max_frame_num, 9);
        assert_eq!(s.log2_max_poc_lsb, 6);
        assert!(s.frame_mbs_only);
        assert_eq!(s.pic_size_in_map_units, 80 * 45);
    }
    let c = SpsCfg { profile: 66, chroma: 3, scaling: true, ..SpsCfg::default() };
    // Baseline: no chroma_format_idc in the bitstream (defaults to 4:2:0).
    assert_eq!(parse_sps(&sps(&c)).unwrap().chroma_array_type, 1);
    let c = SpsCfg { profile: 244, chroma: 3, separate: true, ..SpsCfg::default() };
    let s = parse_sps(&sps(&c)).unwrap();
    assert!(s.separate_colour_plane);
    assert_eq!(s.chroma_array_type, 0);
    let c = SpsCfg { poc_type: 1, always_zero: true, frame_mbs_only: false, ..SpsCfg::default() };
    let s = parse_sps(&sps(&c)).unwrap();
    assert_eq!((s.poc_type, s.delta_pic_order_always_zero, s.frame_mbs_only), (1, true, false));
}

#[test]
fn pps_slice_group_maps_are_skipped() {
    for map_type in 0..=6 {
        let c = PpsCfg {
            id: 200,
            sps_id: 31,
            slice_groups_minus1: 2,
            map_type,
            change_rate_minus1: 9,
            map_units_minus1: 395,
            l0: 3,
            l1: 2,
            bipred_idc: 1,
            redundant: true,
            ..PpsCfg::default()
        };
        let p = parse_pps(&pps(&c)).unwrap();
        assert_eq!((p.id, p.sps_id, p.slice_group_map_type), (200, 31, map_type as u8));
        assert_eq!((p.num_ref_idx_l0_default, p.num_ref_idx_l1_default), (3, 2));
        assert_eq!((p.weighted_bipred_idc, p.deblocking_filter_control_present), (1, true));
        assert!(p.redundant_pic_cnt_present);
        let rate = if (3..=5).contains(&map_type) { 10 } else { 1 };
        assert_eq!(p.slice_group_change_rate, rate);
    }
}

/// IDR I slice, frame_num and POC LSB 16 zero bits each: the header itself needs
/// emulation prevention, and the 0x03 bytes count as header.
#[test]
fn emulation_prevention_inside_header_is_counted() {
    let s = sets(
        &SpsCfg { log2_frame_num: 16, log2_poc_lsb: 16, ..SpsCfg::default() },
        &PpsCfg::default(),
    );
    let mut w = W::default();
    // idr_pic_id 8191: 13 leading zeros, so 29 zero bits run from bit 9 of the payload.
    w.ue(0).ue(7).ue(0).u(16, 0).ue(8191).u(16, 0).u(2, 0).se(0).ue(0).se(0).se(0);
    let (nal, expected) = slice(0x65, &w, &DATA);
    let rbsp_bytes = 1 + w.bytes.len();
    assert!(expected > rbsp_bytes, "fixture must contain emulation prevention");
    assert_eq!(nal[..expected].windows(3).filter(|x| x == &[0, 0, 3]).count(), 2);
    check(0x65, &w, &s);
}

/// SP field slice with POC type 1, redundant_pic_cnt, list modification with long-term
/// entries, every MMCO kind, CABAC, SP fields and deblocking offsets.
#[test]
fn sp_field_slice_poc_type_1() {
    let s = sets(
        &SpsCfg { poc_type: 1, frame_mbs_only: false, log2_frame_num: 7, ..SpsCfg::default() },
        &PpsCfg { id: 4, bottom_field_pic_order: true, redundant: true, ..PpsCfg::default() },
    );
    for field in [false, true] {
        let mut w = W::default();
        w.ue(17).ue(8).ue(4).u(7, 99).flag(field);
        if field {
            w.flag(true);
        }
        w.se(-5);
        if !field {
            w.se(3); // delta_pic_order_cnt[1]
        }
        w.ue(1); // redundant_pic_cnt
        w.flag(true).ue(2); // override: 3 refs
        w.flag(true).ue(0).ue(4).ue(1).ue(0).ue(2).ue(7).ue(3); // list modification
        w.flag(true).ue(1).ue(3).ue(2).ue(1).ue(3).ue(0).ue(1).ue(6).ue(0).ue(4).ue(2);
        w.ue(5).ue(0); // MMCO 5, end
        w.ue(1).se(-3).flag(true).se(2); // cabac_init_idc, qp, sp_for_switch, qs
        w.ue(0).se(-2).se(3); // deblocking
        check(0x41, &w, &s);
    }
}

/// B slice with explicit weights (weighted_bipred_idc 1): ChromaArrayType 0 (separate
/// planes, colour_plane_id present) has no chroma weights, 4:2:0 with scaling lists has.
#[test]
fn b_slice_pred_weight_table() {
    for separate in [true, false] {
        let sc = if separate {
            SpsCfg { profile: 244, chroma: 3, separate: true, ..SpsCfg::default() }
        } else {
            SpsCfg { scaling: true, ..SpsCfg::default() }
        };
        let s = sets(&sc, &PpsCfg { l0: 2, l1: 1, bipred_idc: 1, ..PpsCfg::default() });
        let mut w = W::default();
        w.ue(0).ue(6).ue(0);
        if separate {
            w.u(2, 2);
        }
        w.u(4, 3).u(6, 12).flag(true).flag(false); // frame_num, poc lsb, direct, no override
        w.flag(false).flag(true).ue(1).ue(0).ue(3); // list 0 as is, list 1 modified
        w.ue(5);
        if !separate {
            w.ue(4);
        }
        for (luma, chroma) in [(true, true), (false, true), (true, false)] {
            w.flag(luma);
            if luma {
                w.se(-20).se(7);
            }
            if !separate {
                w.flag(chroma);
                if chroma {
                    w.se(1).se(-1).se(127).se(-128);
                }
            }
        }
        w.ue(2).se(4).ue(1); // cabac_init_idc, qp, deblocking off (no offsets)
        check(0x01, &w, &s);
    }
}

/// P slice, weighted_pred_flag, default ref count; and a non-reference CAVLC P slice
/// with no deblocking control.
#[test]
fn p_slices() {
    let s = sets(&SpsCfg::default(), &PpsCfg { l0: 2, weighted_pred: true, ..PpsCfg::default() });
    let mut w = W::default();
    w.ue(3600).ue(5).ue(0).u(4, 1).u(6, 2).flag(false).flag(false);
    w.ue(6).ue(0).flag(true).se(64).se(-3).flag(true).se(0).se(0).se(0).se(0);
    w.flag(false).flag(false); // second ref: no luma, no chroma weights
    w.flag(false).ue(0).se(-12).ue(2); // MMCO off, cabac_init_idc, qp, deblock idc 2
    w.se(6).se(-6);
    check(0x61, &w, &s);

    let p = PpsCfg { cabac: false, deblock_control: false, ..PpsCfg::default() };
    let s = sets(&SpsCfg { poc_type: 2, ..SpsCfg::default() }, &p);
    let mut w = W::default();
    w.ue(0).ue(0).ue(0).u(4, 9).flag(true).ue(0).flag(false).se(1);
    check(0x01, &w, &s);
}

/// slice_group_change_cycle: Ceil(Log2(396 ÷ 10 + 1)) = 6 bits, Ceil(Log2(396 ÷ 396 + 1))
/// = 1 bit, Ceil(Log2(396 ÷ 1 + 1)) = 9 bits.
#[test]
fn slice_group_change_cycle() {
    for (rate, bits) in [(10, 6), (396, 1), (1, 9), (400, 1), (132, 2)] {
        let s = sets(
            &SpsCfg { width_mbs: 22, height_map_units: 18, ..SpsCfg::default() },
            &PpsCfg {
                slice_groups_minus1: 1,
                map_type: 4,
                change_rate_minus1: rate - 1,
                ..PpsCfg::default()
            },
        );
        let mut w = W::default();
        w.ue(0).ue(7).ue(0).u(4, 0).ue(0).u(6, 0).flag(false).flag(false);
        w.se(0).ue(1).u(bits, 1);
        check(0x65, &w, &s);
    }
}

#[test]
fn errors() {
    let s = sets(&SpsCfg::default(), &PpsCfg { id: 1, sps_id: 2, ..PpsCfg::default() });
    let mut w = W::default();
    w.ue(0).ue(7).ue(9).u(4, 0).ue(0).u(6, 0).flag(false).flag(false).se(0).ue(1);
    let (n, _) = slice(0x65, &w, &DATA);
    assert_eq!(slice_header_bytes(&n, &s), Err(SyntaxError::UnknownPps(9)));
    assert_eq!(
        SyntaxError::UnknownPps(2).to_string(),
        "slice refers to PPS 2, not in the avcC or the sample"
    );
    let mut w = W::default();
    w.ue(0).ue(7).ue(1).u(4, 0);
    let (n, _) = slice(0x65, &w, &DATA);
    assert_eq!(slice_header_bytes(&n, &s), Err(SyntaxError::UnknownSps { pps: 1, sps: 2 }));
    let mut w = W::default();
    w.ue(0).ue(10);
    let (n, _) = slice(0x65, &w, &DATA);
    assert!(matches!(slice_header_bytes(&n, &s), Err(SyntaxError::OutOfRange { .. })));
    assert!(matches!(
        slice_header_bytes(&[0x06, 0x05], &s),
        Err(SyntaxError::WrongNalType { got: 6, .. })
    ));
    assert_eq!(slice_header_bytes(&[], &s), Err(SyntaxError::Truncated("nal_unit_header")));
    assert!(matches!(slice_header_bytes(&[0x65], &s), Err(SyntaxError::Truncated(_))));
    assert!(matches!(parse_sps(&[0x68, 1, 2]), Err(SyntaxError::WrongNalType { got: 8, .. })));
    assert!(parse_sps(&[0x67, 100, 0, 40]).is_err());
    assert!(parse_pps(&[0x68]).is_err());
    // num_slice_groups_minus1 = 8 is beyond the spec.
    let mut w = W::default();
    w.ue(0).ue(0).flag(false).flag(false).ue(8);
    assert!(matches!(parse_pps(&nal(0x68, &w)), Err(SyntaxError::OutOfRange { .. })));
    // Type-6 map larger than the NAL unit: fails, does not loop on.
    let mut w = W::default();
    w.ue(0).ue(0).flag(false).flag(false).ue(7).ue(6).ue(u32::MAX - 1);
    assert!(matches!(parse_pps(&nal(0x68, &w)), Err(SyntaxError::Truncated(_))));
}

/// Endless MMCO / list-modification runs stop at the operation cap, not the data.
#[test]
fn operation_loops_are_bounded() {
    let s = sets(&SpsCfg::default(), &PpsCfg::default());
    let mut w = W::default();
    w.ue(0).ue(5).ue(0).u(4, 1).u(6, 2).flag(false).flag(true);
    for _ in 0..10_000 {
        w.ue(0).ue(0);
    }
    let n = nal(0x41, &w);
    assert!(matches!(slice_header_bytes(&n, &s), Err(SyntaxError::OutOfRange { .. })));
    let mut w = W::default();
    w.ue(0).ue(5).ue(0).u(4, 1).u(6, 2).flag(false).flag(false).flag(true);
    for _ in 0..10_000 {
        w.ue(1).ue(0);
    }
    let n = nal(0x41, &w);
    assert!(matches!(slice_header_bytes(&n, &s), Err(SyntaxError::OutOfRange { .. })));
}

#[test]
fn escape_helper_matches_spec() {
    assert_eq!(escape(&[0, 0, 0, 0, 0, 1, 0, 0, 4]), vec![0, 0, 3, 0, 0, 3, 0, 1, 0, 0, 4]);
}
