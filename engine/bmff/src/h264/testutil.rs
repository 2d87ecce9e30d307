/// RBSP bit writer (no emulation prevention; see [`escape`]).
#[derive(Default)]
pub struct W {
    pub bytes: Vec<u8>,
    bits: usize,
}

impl W {
    pub fn flag(&mut self, b: bool) -> &mut Self {
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
    pub fn u(&mut self, n: u32, v: u64) -> &mut Self {
        for i in (0..n).rev() {
            self.flag((v >> i) & 1 == 1);
        }
        self
    }
    pub fn ue(&mut self, v: u32) -> &mut Self {
        let x = u64::from(v) + 1;
        let n = 64 - x.leading_zeros();
        self.u(n - 1, 0).u(n, x)
    }
    pub fn se(&mut self, v: i64) -> &mut Self {
        let k = if v > 0 { 2 * v - 1 } else { -2 * v };
        self.ue(k as u32)
    }
    /// rbsp_trailing_bits().
    pub fn trailing(&mut self) -> &mut Self {
        self.flag(true);
        while !self.bits.is_multiple_of(8) {
            self.flag(false);
        }
        self
    }
}

/// Inserts emulation-prevention bytes (7.4.1).
pub fn escape(rbsp: &[u8]) -> Vec<u8> {
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
pub fn nal(header: u8, w: &W) -> Vec<u8> {
    let mut v = vec![header];
    v.extend(escape(&w.bytes));
    v
}

/// A slice NAL unit whose header is `w` (left open, not byte-aligned) followed by slice
/// data `data`; returns it with the expected escaped NAL header + slice header length.
pub fn slice(header: u8, w: &W, data: &[u8]) -> (Vec<u8>, usize) {
    let expected = 1 + escape(&w.bytes).len();
    let mut rbsp = w.bytes.clone();
    rbsp.extend_from_slice(data);
    let mut v = vec![header];
    v.extend(escape(&rbsp));
    (v, expected)
}

/// SPS knobs for synthetic streams.
#[derive(Clone)]
pub struct SpsCfg {
    pub id: u32,
    pub profile: u8,
    pub chroma: u32,
    pub separate: bool,
    pub scaling: bool,
    pub log2_frame_num: u32,
    pub poc_type: u32,
    pub log2_poc_lsb: u32,
    pub always_zero: bool,
    pub width_mbs: u32,
    pub height_map_units: u32,
    pub frame_mbs_only: bool,
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
pub fn sps(c: &SpsCfg) -> Vec<u8> {
    let mut w = W::default();
    w.u(8, u64::from(c.profile)).u(8, 0).u(8, 40).ue(c.id);
    if super::params::HIGH_PROFILES.contains(&c.profile) {
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
pub struct PpsCfg {
    pub id: u32,
    pub sps_id: u32,
    pub cabac: bool,
    pub bottom_field_pic_order: bool,
    pub slice_groups_minus1: u32,
    pub map_type: u32,
    pub change_rate_minus1: u32,
    pub map_units_minus1: u32,
    pub l0: u32,
    pub l1: u32,
    pub weighted_pred: bool,
    pub bipred_idc: u64,
    pub deblock_control: bool,
    pub redundant: bool,
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
pub fn pps(c: &PpsCfg) -> Vec<u8> {
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
                let bits = super::params::ceil_log2(u64::from(c.slice_groups_minus1) + 1);
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
pub fn avcc(nal_length_size: u8, sps: &[&[u8]], pps: &[&[u8]]) -> Vec<u8> {
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
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex fixture"))
        .collect()
}
