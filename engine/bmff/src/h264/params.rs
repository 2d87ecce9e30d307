//! The SPS and PPS parsers (7.3.2.1.1, 7.3.2.2): the fields `slice_header()` depends on, and
//! the profile, chroma format and bit depths an avcC record repeats.

use super::{nal_payload, Result};
use crate::bits::{BitReader, SyntaxError};

/// The sequence parameter set fields that shape a slice header (7.3.2.1.1, up to
/// `frame_mbs_only_flag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    pub(super) id: u8,
    pub(super) profile_idc: u8,
    pub(super) chroma_format_idc: u8,
    pub(super) bit_depth_luma_minus8: u8,
    pub(super) bit_depth_chroma_minus8: u8,
    pub(super) chroma_array_type: u8,
    pub(super) separate_colour_plane: bool,
    pub(super) log2_max_frame_num: u8,
    pub(super) poc_type: u8,
    pub(super) log2_max_poc_lsb: u8,
    pub(super) delta_pic_order_always_zero: bool,
    pub(super) frame_mbs_only: bool,
    pub(super) pic_size_in_map_units: u64,
}

impl Sps {
    /// `seq_parameter_set_id` (0..=31).
    pub fn id(&self) -> u8 {
        self.id
    }

    /// `profile_idc` (66 Baseline, 77 Main, 100 High...).
    pub fn profile_idc(&self) -> u8 {
        self.profile_idc
    }

    /// `chroma_format_idc`: 1 is 4:2:0 (implied by profiles that do not code it).
    pub fn chroma_format_idc(&self) -> u8 {
        self.chroma_format_idc
    }

    /// `bit_depth_luma_minus8` (0 unless a high profile codes it).
    pub fn bit_depth_luma_minus8(&self) -> u8 {
        self.bit_depth_luma_minus8
    }

    /// `bit_depth_chroma_minus8` (0 unless a high profile codes it).
    pub fn bit_depth_chroma_minus8(&self) -> u8 {
        self.bit_depth_chroma_minus8
    }
}

/// Profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1).
pub(super) const HIGH_PROFILES: [u8; 13] =
    [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// Skips one scaling_list() of `size` coefficients (7.3.2.1.1.1).
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<()> {
    let mut last: i64 = 8;
    let mut next: i64 = 8;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se_range(-128, 127, "delta_scale")?;
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Parses an SPS NAL unit (header byte + escaped payload), stopping after
/// `frame_mbs_only_flag`; VUI and the rest are never read.
pub fn parse_sps(nal: &[u8]) -> Result<Sps> {
    let (_, payload) = nal_payload(nal, &[7], "7 (SPS)")?;
    let mut r = BitReader::new(payload);
    let profile_idc = r.bits(8, "profile_idc")? as u8;
    r.bits(16, "constraint_flags/level_idc")?;
    let id = r.ue_max(31, "seq_parameter_set_id")? as u8;
    let mut chroma_format_idc = 1u8;
    let mut separate_colour_plane = false;
    let (mut bit_depth_luma_minus8, mut bit_depth_chroma_minus8) = (0u8, 0u8);
    if HIGH_PROFILES.contains(&profile_idc) {
        chroma_format_idc = r.ue_max(3, "chroma_format_idc")? as u8;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag("separate_colour_plane_flag")?;
        }
        bit_depth_luma_minus8 = r.ue_max(6, "bit_depth_luma_minus8")? as u8;
        bit_depth_chroma_minus8 = r.ue_max(6, "bit_depth_chroma_minus8")? as u8;
        r.flag("qpprime_y_zero_transform_bypass_flag")?;
        if r.flag("seq_scaling_matrix_present_flag")? {
            let lists = if chroma_format_idc != 3 { 8 } else { 12 };
            for i in 0..lists {
                if r.flag("seq_scaling_list_present_flag")? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let log2_max_frame_num = r.ue_max(12, "log2_max_frame_num_minus4")? as u8 + 4;
    let poc_type = r.ue_max(2, "pic_order_cnt_type")? as u8;
    let mut log2_max_poc_lsb = 0u8;
    let mut delta_pic_order_always_zero = false;
    match poc_type {
        0 => log2_max_poc_lsb = r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")? as u8 + 4,
        1 => {
            delta_pic_order_always_zero = r.flag("delta_pic_order_always_zero_flag")?;
            r.se("offset_for_non_ref_pic")?;
            r.se("offset_for_top_to_bottom_field")?;
            let n = r.ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
            for _ in 0..n {
                r.se("offset_for_ref_frame")?;
            }
        }
        _ => {}
    }
    r.ue("max_num_ref_frames")?;
    r.flag("gaps_in_frame_num_value_allowed_flag")?;
    let width_mbs = u64::from(r.ue("pic_width_in_mbs_minus1")?) + 1;
    let height_map_units = u64::from(r.ue("pic_height_in_map_units_minus1")?) + 1;
    let frame_mbs_only = r.flag("frame_mbs_only_flag")?;
    let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
    Ok(Sps {
        id,
        profile_idc,
        chroma_format_idc,
        bit_depth_luma_minus8,
        bit_depth_chroma_minus8,
        chroma_array_type,
        separate_colour_plane,
        log2_max_frame_num,
        poc_type,
        log2_max_poc_lsb,
        delta_pic_order_always_zero,
        frame_mbs_only,
        pic_size_in_map_units: width_mbs * height_map_units,
    })
}

/// The picture parameter set fields that shape a slice header (7.3.2.2, up to
/// `redundant_pic_cnt_present_flag`; the optional 8x8/scaling tail is never read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pps {
    pub(super) id: u8,
    pub(super) sps_id: u8,
    pub(super) entropy_coding_mode: bool,
    pub(super) bottom_field_pic_order_in_frame_present: bool,
    pub(super) num_slice_groups_minus1: u8,
    pub(super) slice_group_map_type: u8,
    pub(super) slice_group_change_rate: u32,
    pub(super) num_ref_idx_l0_default: u8,
    pub(super) num_ref_idx_l1_default: u8,
    pub(super) weighted_pred: bool,
    pub(super) weighted_bipred_idc: u8,
    pub(super) deblocking_filter_control_present: bool,
    pub(super) redundant_pic_cnt_present: bool,
}

impl Pps {
    /// `pic_parameter_set_id` (0..=255).
    pub fn id(&self) -> u8 {
        self.id
    }

    /// `seq_parameter_set_id` this PPS refers to.
    pub fn sps_id(&self) -> u8 {
        self.sps_id
    }
}

/// Ceil(Log2(n)) for n >= 1.
pub(super) fn ceil_log2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// Parses a PPS NAL unit (header byte + escaped payload), including the slice group map
/// (skipped bit-exactly), stopping after `redundant_pic_cnt_present_flag`.
pub fn parse_pps(nal: &[u8]) -> Result<Pps> {
    let (_, payload) = nal_payload(nal, &[8], "8 (PPS)")?;
    let mut r = BitReader::new(payload);
    let id = r.ue_max(255, "pic_parameter_set_id")? as u8;
    let sps_id = r.ue_max(31, "seq_parameter_set_id")? as u8;
    let entropy_coding_mode = r.flag("entropy_coding_mode_flag")?;
    let bottom_field_pic_order_in_frame_present =
        r.flag("bottom_field_pic_order_in_frame_present_flag")?;
    let num_slice_groups_minus1 = r.ue_max(7, "num_slice_groups_minus1")? as u8;
    let mut slice_group_map_type = 0u8;
    let mut slice_group_change_rate = 1u32;
    if num_slice_groups_minus1 > 0 {
        slice_group_map_type = r.ue_max(6, "slice_group_map_type")? as u8;
        match slice_group_map_type {
            0 => {
                for _ in 0..=num_slice_groups_minus1 {
                    r.ue("run_length_minus1")?;
                }
            }
            2 => {
                for _ in 0..num_slice_groups_minus1 {
                    r.ue("top_left")?;
                    r.ue("bottom_right")?;
                }
            }
            3..=5 => {
                r.flag("slice_group_change_direction_flag")?;
                slice_group_change_rate =
                    r.ue_max(u32::MAX - 1, "slice_group_change_rate_minus1")? + 1;
            }
            6 => {
                let units = u64::from(r.ue("pic_size_in_map_units_minus1")?) + 1;
                let bits = ceil_log2(u64::from(num_slice_groups_minus1) + 1);
                // Bounded by the NAL length: skip() fails once the data runs out.
                r.skip(units * u64::from(bits), "slice_group_id")?;
            }
            _ => {}
        }
    }
    let num_ref_idx_l0_default = r.ue_max(31, "num_ref_idx_l0_default_active_minus1")? as u8 + 1;
    let num_ref_idx_l1_default = r.ue_max(31, "num_ref_idx_l1_default_active_minus1")? as u8 + 1;
    let weighted_pred = r.flag("weighted_pred_flag")?;
    let weighted_bipred_idc = r.bits(2, "weighted_bipred_idc")? as u8;
    if weighted_bipred_idc > 2 {
        return Err(SyntaxError::OutOfRange { field: "weighted_bipred_idc", value: 3 });
    }
    r.se("pic_init_qp_minus26")?;
    r.se("pic_init_qs_minus26")?;
    r.se("chroma_qp_index_offset")?;
    let deblocking_filter_control_present = r.flag("deblocking_filter_control_present_flag")?;
    r.flag("constrained_intra_pred_flag")?;
    let redundant_pic_cnt_present = r.flag("redundant_pic_cnt_present_flag")?;
    Ok(Pps {
        id,
        sps_id,
        entropy_coding_mode,
        bottom_field_pic_order_in_frame_present,
        num_slice_groups_minus1,
        slice_group_map_type,
        slice_group_change_rate,
        num_ref_idx_l0_default,
        num_ref_idx_l1_default,
        weighted_pred,
        weighted_bipred_idc,
        deblocking_filter_control_present,
        redundant_pic_cnt_present,
    })
}
