//! H.264 slice-header sizing for Common Encryption: this file owns the bit reader over
//! *escaped* NAL bytes, the minimal SPS/PPS parsers (only the fields `slice_header()` depends
//! on), and [`slice_header_bytes`], which measures NAL header + slice header (ITU-T H.264
//! 7.3.3) in escaped bytes — the clear prefix a CENC packager must leave in every VCL NAL unit.
//!
//! Nothing here unescapes or scans a payload: the reader pulls bits straight from the escaped
//! bytes, drops an emulation-prevention `0x03` that follows two zero bytes, and stops at the
//! last header bit, so the cost is a few dozen bytes per slice whatever the slice size. Every
//! read is bounds-checked, Exp-Golomb codes are limited to 32 bits and every input-driven loop
//! is capped at its spec limit, so hostile input yields an error, never a panic.

/// Why a parameter set or slice header could not be measured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliceHeaderError {
    /// The NAL unit ended before the named syntax element was complete.
    #[error("NAL unit ends inside {0}")]
    Truncated(&'static str),
    /// An Exp-Golomb code had more than 31 leading zeros (value beyond 32 bits).
    #[error("Exp-Golomb code for {0} is longer than 32 bits")]
    GolombTooLong(&'static str),
    /// A syntax element was outside the range H.264 allows.
    #[error("{field} = {value} is out of range")]
    OutOfRange {
        /// The syntax element, as named in the spec.
        field: &'static str,
        /// The decoded value.
        value: i64,
    },
    /// The NAL unit is not of the type the parser expects.
    #[error("expected NAL unit type {expected}, got {got}")]
    WrongNalType {
        /// What the caller asked to parse (7 SPS, 8 PPS, 1/5 slice).
        expected: &'static str,
        /// The `nal_unit_type` found.
        got: u8,
    },
    /// A slice names a PPS that has not been seen.
    #[error("slice refers to PPS {0}, not in the avcC or the sample")]
    UnknownPps(u8),
    /// A PPS names an SPS that has not been seen.
    #[error("PPS {pps} refers to SPS {sps}, not in the avcC or the sample")]
    UnknownSps {
        /// The PPS the slice uses.
        pps: u8,
        /// The SPS that PPS refers to.
        sps: u8,
    },
}

type Result<T> = std::result::Result<T, SliceHeaderError>;

/// Bit reader over escaped NAL bytes (emulation prevention removed on the fly).
///
/// `pos` is the escaped index of the next byte to load; a byte is loaded only when one of its
/// bits is consumed, so after parsing, `pos` is the escaped length of everything read.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    cur: u8,
    left: u32,
    zeros: u8,
}

impl<'a> BitReader<'a> {
    /// Reader over `data` (the bytes after the 1-byte NAL header).
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, cur: 0, left: 0, zeros: 0 }
    }

    /// Escaped bytes touched so far (the last one holds the last bit read).
    fn consumed(&self) -> usize {
        self.pos
    }

    #[inline]
    fn load(&mut self, what: &'static str) -> Result<()> {
        let mut b = *self.data.get(self.pos).ok_or(SliceHeaderError::Truncated(what))?;
        if b == 0x03 && self.zeros >= 2 {
            self.pos += 1;
            self.zeros = 0;
            b = *self.data.get(self.pos).ok_or(SliceHeaderError::Truncated(what))?;
        }
        self.pos += 1;
        self.zeros = if b == 0 { self.zeros.saturating_add(1) } else { 0 };
        self.cur = b;
        self.left = 8;
        Ok(())
    }

    /// Reads `n <= 32` bits, most significant first.
    #[inline]
    fn bits(&mut self, n: u32, what: &'static str) -> Result<u32> {
        if n > 32 {
            return Err(SliceHeaderError::OutOfRange { field: what, value: i64::from(n) });
        }
        let mut n = n;
        let mut v: u64 = 0;
        while n > 0 {
            if self.left == 0 {
                self.load(what)?;
            }
            let take = n.min(self.left);
            let shift = self.left - take;
            let chunk = (u32::from(self.cur) >> shift) & ((1u32 << take) - 1);
            v = (v << take) | u64::from(chunk);
            self.left -= take;
            n -= take;
        }
        // n <= 32 so v fits.
        Ok(v as u32)
    }

    #[inline]
    fn flag(&mut self, what: &'static str) -> Result<bool> {
        Ok(self.bits(1, what)? == 1)
    }

    /// Skips `n` bits (bounded by the data: fails once the NAL unit is exhausted).
    fn skip(&mut self, mut n: u64, what: &'static str) -> Result<()> {
        while n > 0 {
            let take = n.min(32) as u32;
            self.bits(take, what)?;
            n -= u64::from(take);
        }
        Ok(())
    }

    /// ue(v), limited to 32-bit values (at most 31 leading zeros).
    #[inline]
    fn ue(&mut self, what: &'static str) -> Result<u32> {
        let mut lz: u32 = 0;
        loop {
            if self.left == 0 {
                self.load(what)?;
            }
            // Remaining bits of the current byte, left-aligned.
            let rest = ((u32::from(self.cur) << (8 - self.left)) & 0xff) as u8;
            if rest == 0 {
                lz += self.left;
                self.left = 0;
                if lz > 31 {
                    return Err(SliceHeaderError::GolombTooLong(what));
                }
            } else {
                let z = rest.leading_zeros();
                lz += z;
                self.left -= z + 1;
                break;
            }
        }
        if lz > 31 {
            return Err(SliceHeaderError::GolombTooLong(what));
        }
        let suffix = self.bits(lz, what)?;
        // lz <= 31: (2^lz - 1) + suffix <= 2^32 - 2.
        Ok(((1u64 << lz) - 1 + u64::from(suffix)) as u32)
    }

    /// se(v), from a 32-bit ue(v).
    #[inline]
    fn se(&mut self, what: &'static str) -> Result<i64> {
        let k = i64::from(self.ue(what)?);
        Ok(if k & 1 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }

    /// ue(v) that must not exceed `max`.
    #[inline]
    fn ue_max(&mut self, max: u32, what: &'static str) -> Result<u32> {
        let v = self.ue(what)?;
        if v > max {
            return Err(SliceHeaderError::OutOfRange { field: what, value: i64::from(v) });
        }
        Ok(v)
    }

    /// se(v) that must lie in `min..=max`.
    #[inline]
    fn se_range(&mut self, min: i64, max: i64, what: &'static str) -> Result<i64> {
        let v = self.se(what)?;
        if v < min || v > max {
            return Err(SliceHeaderError::OutOfRange { field: what, value: v });
        }
        Ok(v)
    }
}

/// Splits a NAL unit into its header byte and payload, checking the type against `expected`.
fn nal_payload<'a>(nal: &'a [u8], ok: &[u8], expected: &'static str) -> Result<(u8, &'a [u8])> {
    let (&header, payload) =
        nal.split_first().ok_or(SliceHeaderError::Truncated("nal_unit_header"))?;
    let nal_type = header & 0x1f;
    if !ok.contains(&nal_type) {
        return Err(SliceHeaderError::WrongNalType { expected, got: nal_type });
    }
    Ok((header, payload))
}

/// The sequence parameter set fields that shape a slice header (7.3.2.1.1, up to
/// `frame_mbs_only_flag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    id: u8,
    chroma_array_type: u8,
    separate_colour_plane: bool,
    log2_max_frame_num: u8,
    poc_type: u8,
    log2_max_poc_lsb: u8,
    delta_pic_order_always_zero: bool,
    frame_mbs_only: bool,
    pic_size_in_map_units: u64,
}

impl Sps {
    /// `seq_parameter_set_id` (0..=31).
    pub fn id(&self) -> u8 {
        self.id
    }
}

/// Profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1).
const HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

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
    if HIGH_PROFILES.contains(&profile_idc) {
        chroma_format_idc = r.ue_max(3, "chroma_format_idc")? as u8;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag("separate_colour_plane_flag")?;
        }
        r.ue_max(6, "bit_depth_luma_minus8")?;
        r.ue_max(6, "bit_depth_chroma_minus8")?;
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
    id: u8,
    sps_id: u8,
    entropy_coding_mode: bool,
    bottom_field_pic_order_in_frame_present: bool,
    num_slice_groups_minus1: u8,
    slice_group_map_type: u8,
    slice_group_change_rate: u32,
    num_ref_idx_l0_default: u8,
    num_ref_idx_l1_default: u8,
    weighted_pred: bool,
    weighted_bipred_idc: u8,
    deblocking_filter_control_present: bool,
    redundant_pic_cnt_present: bool,
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
fn ceil_log2(n: u64) -> u32 {
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
        return Err(SliceHeaderError::OutOfRange { field: "weighted_bipred_idc", value: 3 });
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
                return Err(SliceHeaderError::OutOfRange {
                    field: "modification_of_pic_nums_idc",
                    value: i64::from(v),
                })
            }
        }
    }
    Err(SliceHeaderError::OutOfRange {
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
    Err(SliceHeaderError::OutOfRange {
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
    let pps = params.pps(pps_id).ok_or(SliceHeaderError::UnknownPps(pps_id))?;
    let sps_id = pps.sps_id();
    let sps =
        params.sps(sps_id).ok_or(SliceHeaderError::UnknownSps { pps: pps_id, sps: sps_id })?;

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

/// Bitstream builders shared by the unit tests of this module and `subsample`.
#[cfg(test)]
pub(crate) mod testutil {
    /// RBSP bit writer (no emulation prevention; see [`escape`]).
    #[derive(Default)]
    pub(crate) struct W {
        pub(crate) bytes: Vec<u8>,
        bits: usize,
    }

    impl W {
        pub(crate) fn flag(&mut self, b: bool) -> &mut Self {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if b {
                if let Some(last) = self.bytes.last_mut() {
                    *last |= 0x80 >> (self.bits % 8);
                }
            }
            self.bits += 1;
            self
        }
        pub(crate) fn u(&mut self, n: u32, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.flag((v >> i) & 1 == 1);
            }
            self
        }
        pub(crate) fn ue(&mut self, v: u32) -> &mut Self {
            let x = u64::from(v) + 1;
            let n = 64 - x.leading_zeros();
            self.u(n - 1, 0).u(n, x)
        }
        pub(crate) fn se(&mut self, v: i64) -> &mut Self {
            let k = if v > 0 { 2 * v - 1 } else { -2 * v };
            self.ue(k as u32)
        }
        /// rbsp_trailing_bits().
        pub(crate) fn trailing(&mut self) -> &mut Self {
            self.flag(true);
            while !self.bits.is_multiple_of(8) {
                self.flag(false);
            }
            self
        }
    }

    /// Inserts emulation-prevention bytes (7.4.1).
    pub(crate) fn escape(rbsp: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(rbsp.len() + 8);
        let mut zeros = 0;
        for &b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            out.push(b);
            zeros = if b == 0 { zeros + 1 } else { 0 };
        }
        out
    }

    /// A NAL unit: header byte + escaped RBSP.
    pub(crate) fn nal(header: u8, w: &W) -> Vec<u8> {
        let mut v = vec![header];
        v.extend(escape(&w.bytes));
        v
    }

    /// A slice NAL unit whose header is `w` (left open, not byte-aligned) followed by slice
    /// data `data`; returns it with the expected escaped NAL header + slice header length.
    pub(crate) fn slice(header: u8, w: &W, data: &[u8]) -> (Vec<u8>, usize) {
        let expected = 1 + escape(&w.bytes).len();
        let mut rbsp = w.bytes.clone();
        rbsp.extend_from_slice(data);
        let mut v = vec![header];
        v.extend(escape(&rbsp));
        (v, expected)
    }

    /// SPS knobs for synthetic streams.
    #[derive(Clone)]
    pub(crate) struct SpsCfg {
        pub(crate) id: u32,
        pub(crate) profile: u8,
        pub(crate) chroma: u32,
        pub(crate) separate: bool,
        pub(crate) scaling: bool,
        pub(crate) log2_frame_num: u32,
        pub(crate) poc_type: u32,
        pub(crate) log2_poc_lsb: u32,
        pub(crate) always_zero: bool,
        pub(crate) width_mbs: u32,
        pub(crate) height_map_units: u32,
        pub(crate) frame_mbs_only: bool,
    }

    impl Default for SpsCfg {
        fn default() -> Self {
            SpsCfg {
                id: 0,
                profile: 100,
                chroma: 1,
                separate: false,
                scaling: false,
                log2_frame_num: 4,
                poc_type: 0,
                log2_poc_lsb: 6,
                always_zero: false,
                width_mbs: 80,
                height_map_units: 45,
                frame_mbs_only: true,
            }
        }
    }

    /// SPS NAL unit (header 0x67) for `c`.
    pub(crate) fn sps(c: &SpsCfg) -> Vec<u8> {
        let mut w = W::default();
        w.u(8, u64::from(c.profile)).u(8, 0).u(8, 40).ue(c.id);
        if super::HIGH_PROFILES.contains(&c.profile) {
            w.ue(c.chroma);
            if c.chroma == 3 {
                w.flag(c.separate);
            }
            w.ue(0).ue(0).flag(false).flag(c.scaling);
            if c.scaling {
                for i in 0..if c.chroma != 3 { 8 } else { 12 } {
                    let present = i % 3 != 1;
                    w.flag(present);
                    if !present {
                        continue;
                    }
                    if i == 0 {
                        // 8 -> 9 -> 11 -> 0: nextScale 0 ends the list after 3 deltas.
                        w.se(1).se(2).se(-11);
                    } else {
                        for j in 0..if i < 6 { 16 } else { 64 } {
                            w.se(if j % 2 == 0 { 5 } else { -3 });
                        }
                    }
                }
            }
        }
        w.ue(c.log2_frame_num - 4).ue(c.poc_type);
        match c.poc_type {
            0 => {
                w.ue(c.log2_poc_lsb - 4);
            }
            1 => {
                w.flag(c.always_zero).se(-1).se(2).ue(3).se(1).se(-2).se(3);
            }
            _ => {}
        }
        w.ue(4).flag(false).ue(c.width_mbs - 1).ue(c.height_map_units - 1).flag(c.frame_mbs_only);
        if !c.frame_mbs_only {
            w.flag(false);
        }
        w.flag(true).flag(false).flag(false).trailing();
        nal(0x67, &w)
    }

    /// PPS knobs for synthetic streams.
    #[derive(Clone)]
    pub(crate) struct PpsCfg {
        pub(crate) id: u32,
        pub(crate) sps_id: u32,
        pub(crate) cabac: bool,
        pub(crate) bottom_field_pic_order: bool,
        pub(crate) slice_groups_minus1: u32,
        pub(crate) map_type: u32,
        pub(crate) change_rate_minus1: u32,
        pub(crate) map_units_minus1: u32,
        pub(crate) l0: u32,
        pub(crate) l1: u32,
        pub(crate) weighted_pred: bool,
        pub(crate) bipred_idc: u64,
        pub(crate) deblock_control: bool,
        pub(crate) redundant: bool,
    }

    impl Default for PpsCfg {
        fn default() -> Self {
            PpsCfg {
                id: 0,
                sps_id: 0,
                cabac: true,
                bottom_field_pic_order: false,
                slice_groups_minus1: 0,
                map_type: 0,
                change_rate_minus1: 0,
                map_units_minus1: 0,
                l0: 1,
                l1: 1,
                weighted_pred: false,
                bipred_idc: 0,
                deblock_control: true,
                redundant: false,
            }
        }
    }

    /// PPS NAL unit (header 0x68) for `c`.
    pub(crate) fn pps(c: &PpsCfg) -> Vec<u8> {
        let mut w = W::default();
        w.ue(c.id).ue(c.sps_id).flag(c.cabac).flag(c.bottom_field_pic_order);
        w.ue(c.slice_groups_minus1);
        if c.slice_groups_minus1 > 0 {
            w.ue(c.map_type);
            match c.map_type {
                0 => {
                    for i in 0..=c.slice_groups_minus1 {
                        w.ue(10 + i);
                    }
                }
                2 => {
                    for i in 0..c.slice_groups_minus1 {
                        w.ue(i).ue(100 + i);
                    }
                }
                3..=5 => {
                    w.flag(true).ue(c.change_rate_minus1);
                }
                6 => {
                    let bits = super::ceil_log2(u64::from(c.slice_groups_minus1) + 1);
                    w.ue(c.map_units_minus1);
                    for i in 0..=c.map_units_minus1 {
                        w.u(bits, u64::from(i % (c.slice_groups_minus1 + 1)));
                    }
                }
                _ => {}
            }
        }
        w.ue(c.l0 - 1).ue(c.l1 - 1).flag(c.weighted_pred).u(2, c.bipred_idc);
        w.se(0).se(-3).se(2).flag(c.deblock_control).flag(false).flag(c.redundant);
        // transform_8x8_mode_flag etc.: never read by the parser.
        w.flag(true).flag(false).se(0).trailing();
        nal(0x68, &w)
    }

    /// avcC payload with the given NAL length size and parameter sets.
    pub(crate) fn avcc(nal_length_size: u8, sps: &[&[u8]], pps: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![1, 100, 0, 40, 0xfc | (nal_length_size - 1), 0xe0 | sps.len() as u8];
        for s in sps {
            v.extend((s.len() as u16).to_be_bytes());
            v.extend(*s);
        }
        v.push(pps.len() as u8);
        for p in pps {
            v.extend((p.len() as u16).to_be_bytes());
            v.extend(*p);
        }
        v
    }

    /// Decodes a hex string (test fixtures).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex fixture"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{escape, nal, pps, slice, sps, PpsCfg, SpsCfg, W};
    use super::*;

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
        0x00, 0x00, 0x01, 0x9a, 0, 0, 0, 0x03, 0xff, 0x12, 0, 0, 2, 0x80, 1, 2, 3, 4, 5, 6, 7, 8,
        9, 10,
    ];

    fn check(header: u8, w: &W, params: &Sets) {
        let (nal, expected) = slice(header, w, &DATA);
        assert_eq!(slice_header_bytes(&nal, params), Ok(expected));
        // The header alone suffices; one byte less does not.
        assert_eq!(slice_header_bytes(&nal[..expected], params), Ok(expected));
        assert!(matches!(
            slice_header_bytes(&nal[..expected - 1], params),
            Err(SliceHeaderError::Truncated(_))
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
        assert_eq!(r.ue("v"), Err(SliceHeaderError::GolombTooLong("v")));
        let mut r = BitReader::new(&[0; 64]);
        assert_eq!(r.ue("v"), Err(SliceHeaderError::GolombTooLong("v")));
        let mut r = BitReader::new(&[0x00, 0x01]);
        assert_eq!(r.ue("v"), Err(SliceHeaderError::Truncated("v")));
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
        let c =
            SpsCfg { poc_type: 1, always_zero: true, frame_mbs_only: false, ..SpsCfg::default() };
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
        let s =
            sets(&SpsCfg::default(), &PpsCfg { l0: 2, weighted_pred: true, ..PpsCfg::default() });
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
        assert_eq!(slice_header_bytes(&n, &s), Err(SliceHeaderError::UnknownPps(9)));
        assert_eq!(
            SliceHeaderError::UnknownPps(2).to_string(),
            "slice refers to PPS 2, not in the avcC or the sample"
        );
        let mut w = W::default();
        w.ue(0).ue(7).ue(1).u(4, 0);
        let (n, _) = slice(0x65, &w, &DATA);
        assert_eq!(
            slice_header_bytes(&n, &s),
            Err(SliceHeaderError::UnknownSps { pps: 1, sps: 2 })
        );
        let mut w = W::default();
        w.ue(0).ue(10);
        let (n, _) = slice(0x65, &w, &DATA);
        assert!(matches!(slice_header_bytes(&n, &s), Err(SliceHeaderError::OutOfRange { .. })));
        assert!(matches!(
            slice_header_bytes(&[0x06, 0x05], &s),
            Err(SliceHeaderError::WrongNalType { got: 6, .. })
        ));
        assert_eq!(
            slice_header_bytes(&[], &s),
            Err(SliceHeaderError::Truncated("nal_unit_header"))
        );
        assert!(matches!(slice_header_bytes(&[0x65], &s), Err(SliceHeaderError::Truncated(_))));
        assert!(matches!(
            parse_sps(&[0x68, 1, 2]),
            Err(SliceHeaderError::WrongNalType { got: 8, .. })
        ));
        assert!(parse_sps(&[0x67, 100, 0, 40]).is_err());
        assert!(parse_pps(&[0x68]).is_err());
        // num_slice_groups_minus1 = 8 is beyond the spec.
        let mut w = W::default();
        w.ue(0).ue(0).flag(false).flag(false).ue(8);
        assert!(matches!(parse_pps(&nal(0x68, &w)), Err(SliceHeaderError::OutOfRange { .. })));
        // Type-6 map larger than the NAL unit: fails, does not loop on.
        let mut w = W::default();
        w.ue(0).ue(0).flag(false).flag(false).ue(7).ue(6).ue(u32::MAX - 1);
        assert!(matches!(parse_pps(&nal(0x68, &w)), Err(SliceHeaderError::Truncated(_))));
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
        assert!(matches!(slice_header_bytes(&n, &s), Err(SliceHeaderError::OutOfRange { .. })));
        let mut w = W::default();
        w.ue(0).ue(5).ue(0).u(4, 1).u(6, 2).flag(false).flag(false).flag(true);
        for _ in 0..10_000 {
            w.ue(1).ue(0);
        }
        let n = nal(0x41, &w);
        assert!(matches!(slice_header_bytes(&n, &s), Err(SliceHeaderError::OutOfRange { .. })));
    }

    #[test]
    fn escape_helper_matches_spec() {
        assert_eq!(escape(&[0, 0, 0, 0, 0, 1, 0, 0, 4]), vec![0, 0, 3, 0, 0, 3, 0, 1, 0, 0, 4]);
    }
}
