//! H.264 slice-header sizing for Common Encryption: [`slice_header_bytes`] measures the NAL
//! header plus the slice header (ITU-T H.264 7.3.3) in escaped bytes — the clear prefix a CENC packager must
//! leave in every VCL NAL unit, from the parameter sets of [`super::params`].
//!
//! Nothing here unescapes or scans a payload: the reader pulls bits straight from the escaped
//! bytes, drops an emulation-prevention `0x03` that follows two zero bytes, and stops at the
//! last header bit, so the cost is a few dozen bytes per slice whatever the slice size. Every
//! read is bounds-checked, Exp-Golomb codes are limited to 32 bits and every input-driven loop
//! is capped at its spec limit, so hostile input yields an error, never a panic.

use super::params::ceil_log2;
use super::{nal_payload, Pps, Sps};
use crate::bits::{BitReader, SyntaxError};

type Result<T> = std::result::Result<T, SyntaxError>;

/// Where slice-header parsing finds the active parameter sets.
pub trait ParameterSets {
    /// The SPS with `seq_parameter_set_id == id`, if known.
    fn sps(&self, id: u8) -> Option<&Sps>;
    /// The PPS with `pic_parameter_set_id == id`, if known.
    fn pps(&self, id: u8) -> Option<&Pps>;
}

/// Most reference-list modification / MMCO operations one slice header may carry before we
/// call it malformed (a list has at most 32 entries; MMCO lists are far shorter in practice).
const MAX_LIST_OPS: usize = 66;

const SLICE_P: u32 = 0;
const SLICE_B: u32 = 1;
const SLICE_I: u32 = 2;
const SLICE_SP: u32 = 3;
const SLICE_SI: u32 = 4;

/// ref_pic_list_modification() for one list (7.3.3.1).
fn skip_ref_pic_list_modification(r: &mut BitReader<'_>) -> Result<()> {
    if !r.flag("ref_pic_list_modification_flag")? {
        return Ok(());
    }
    for _ in 0..MAX_LIST_OPS {
        match r.ue_max(5, "modification_of_pic_nums_idc")? {
            0 | 1 => {
                r.ue("abs_diff_pic_num_minus1")?;
            }
            2 => {
                r.ue("long_term_pic_num")?;
            }
            3 => return Ok(()),
            // 4 and 5 are MVC-only (nal_unit_type 20/21).
            v => {
                return Err(SyntaxError::OutOfRange {
                    field: "modification_of_pic_nums_idc",
                    value: i64::from(v),
                })
            }
        }
    }
    Err(SyntaxError::OutOfRange {
        field: "ref_pic_list_modification operations",
        value: MAX_LIST_OPS as i64,
    })
}

/// The weights of one reference list in pred_weight_table() (7.3.3.2).
fn skip_weights(r: &mut BitReader<'_>, refs: u8, chroma: bool) -> Result<()> {
    for _ in 0..refs {
        if r.flag("luma_weight_flag")? {
            r.se_range(-128, 127, "luma_weight")?;
            r.se_range(-128, 127, "luma_offset")?;
        }
        if chroma && r.flag("chroma_weight_flag")? {
            for _ in 0..2 {
                r.se_range(-128, 127, "chroma_weight")?;
                r.se_range(-128, 127, "chroma_offset")?;
            }
        }
    }
    Ok(())
}

/// dec_ref_pic_marking() (7.3.3.3).
fn skip_dec_ref_pic_marking(r: &mut BitReader<'_>, idr: bool) -> Result<()> {
    if idr {
        r.flag("no_output_of_prior_pics_flag")?;
        r.flag("long_term_reference_flag")?;
        return Ok(());
    }
    if !r.flag("adaptive_ref_pic_marking_mode_flag")? {
        return Ok(());
    }
    for _ in 0..MAX_LIST_OPS {
        let op = r.ue_max(6, "memory_management_control_operation")?;
        if op == 0 {
            return Ok(());
        }
        if op == 1 || op == 3 {
            r.ue("difference_of_pic_nums_minus1")?;
        }
        if op == 2 {
            r.ue("long_term_pic_num")?;
        }
        if op == 3 || op == 6 {
            r.ue("long_term_frame_idx")?;
        }
        if op == 4 {
            r.ue("max_long_term_frame_idx_plus1")?;
        }
    }
    Err(SyntaxError::OutOfRange {
        field: "memory_management_control_operation count",
        value: MAX_LIST_OPS as i64,
    })
}

/// Escaped length of NAL header + slice_header() of a coded slice (`nal_unit_type` 1 or 5).
///
/// `nal` is the NAL unit as stored in the sample (header byte + escaped payload, no length
/// prefix). The byte holding the last header bit counts as header, and so does every
/// emulation-prevention byte before it; for CABAC slices the result is therefore where
/// slice_data() starts after cabac_alignment_one_bit. The result is at most `nal.len()`.
pub fn slice_header_bytes<P: ParameterSets + ?Sized>(nal: &[u8], params: &P) -> Result<usize> {
    let (header, payload) = nal_payload(nal, &[1, 5], "1 or 5 (coded slice)")?;
    let nal_ref_idc = (header >> 5) & 3;
    let idr = header & 0x1f == 5;
    let mut r = BitReader::new(payload);

    r.ue("first_mb_in_slice")?;
    let slice_type = r.ue_max(9, "slice_type")? % 5;
    let pps_id = r.ue_max(255, "pic_parameter_set_id")? as u8;
    let pps = params.pps(pps_id).ok_or(SyntaxError::UnknownPps(pps_id))?;
    let sps_id = pps.sps_id();
    let sps = params.sps(sps_id).ok_or(SyntaxError::UnknownSps { pps: pps_id, sps: sps_id })?;

    if sps.separate_colour_plane {
        r.bits(2, "colour_plane_id")?;
    }
    r.bits(u32::from(sps.log2_max_frame_num), "frame_num")?;
    let mut field_pic = false;
    if !sps.frame_mbs_only {
        field_pic = r.flag("field_pic_flag")?;
        if field_pic {
            r.flag("bottom_field_flag")?;
        }
    }
    if idr {
        r.ue_max(65535, "idr_pic_id")?;
    }
    if sps.poc_type == 0 {
        r.bits(u32::from(sps.log2_max_poc_lsb), "pic_order_cnt_lsb")?;
        if pps.bottom_field_pic_order_in_frame_present && !field_pic {
            r.se("delta_pic_order_cnt_bottom")?;
        }
    }
    if sps.poc_type == 1 && !sps.delta_pic_order_always_zero {
        r.se("delta_pic_order_cnt[0]")?;
        if pps.bottom_field_pic_order_in_frame_present && !field_pic {
            r.se("delta_pic_order_cnt[1]")?;
        }
    }
    if pps.redundant_pic_cnt_present {
        r.ue_max(127, "redundant_pic_cnt")?;
    }
    let is_b = slice_type == SLICE_B;
    let is_p = slice_type == SLICE_P || slice_type == SLICE_SP;
    if is_b {
        r.flag("direct_spatial_mv_pred_flag")?;
    }
    let mut l0 = pps.num_ref_idx_l0_default;
    let mut l1 = pps.num_ref_idx_l1_default;
    if (is_p || is_b) && r.flag("num_ref_idx_active_override_flag")? {
        l0 = r.ue_max(31, "num_ref_idx_l0_active_minus1")? as u8 + 1;
        if is_b {
            l1 = r.ue_max(31, "num_ref_idx_l1_active_minus1")? as u8 + 1;
        }
    }
    if slice_type != SLICE_I && slice_type != SLICE_SI {
        skip_ref_pic_list_modification(&mut r)?;
        if is_b {
            skip_ref_pic_list_modification(&mut r)?;
        }
    }
    if (pps.weighted_pred && is_p) || (pps.weighted_bipred_idc == 1 && is_b) {
        r.ue_max(7, "luma_log2_weight_denom")?;
        let chroma = sps.chroma_array_type != 0;
        if chroma {
            r.ue_max(7, "chroma_log2_weight_denom")?;
        }
        skip_weights(&mut r, l0, chroma)?;
        if is_b {
            skip_weights(&mut r, l1, chroma)?;
        }
    }
    if nal_ref_idc != 0 {
        skip_dec_ref_pic_marking(&mut r, idr)?;
    }
    if pps.entropy_coding_mode && slice_type != SLICE_I && slice_type != SLICE_SI {
        r.ue_max(2, "cabac_init_idc")?;
    }
    r.se("slice_qp_delta")?;
    if slice_type == SLICE_SP || slice_type == SLICE_SI {
        if slice_type == SLICE_SP {
            r.flag("sp_for_switch_flag")?;
        }
        r.se("slice_qs_delta")?;
    }
    if pps.deblocking_filter_control_present {
        // 0..=2 in base H.264; SVC extends to 6, accept its range.
        let idc = r.ue_max(6, "disable_deblocking_filter_idc")?;
        if idc != 1 {
            r.se_range(-6, 6, "slice_alpha_c0_offset_div2")?;
            r.se_range(-6, 6, "slice_beta_offset_div2")?;
        }
    }
    if pps.num_slice_groups_minus1 > 0 && (3..=5).contains(&pps.slice_group_map_type) {
        // Ceil(Log2(PicSizeInMapUnits ÷ SliceGroupChangeRate + 1)), exact division:
        // the smallest n with ceil(size / rate) <= 2^n - 1.
        let rate = u64::from(pps.slice_group_change_rate.max(1));
        let q = sps.pic_size_in_map_units.div_ceil(rate);
        let bits = ceil_log2(q + 1);
        r.bits(bits, "slice_group_change_cycle")?;
    }
    Ok(1 + r.consumed())
}
