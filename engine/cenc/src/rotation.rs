//! Key rotation inside one track: the `seig` sample group (ISO/IEC 23001-7, 6 and 8.2.4 —
//! `CencSampleEncryptionInformationGroupEntry`) that lets each fragment name its own KID (and
//! `cbcs` constant IV), overriding the `tenc` defaults. Every rotated segment carries one
//! `sgpd` with one entry and an `sbgp` mapping all its samples to it, so each segment is
//! self-describing and A/B segments stay interchangeable.

use abmark_bmff::boxes::{BoxRef, BoxWriter};
use abmark_bmff::{BmffError, FourCc};

use crate::error::CencError;
use crate::keys::Kid;

/// The encryption parameters a fragment's samples use instead of the `tenc` defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGroup {
    pub kid: Kid,
    pub iv_size: u8,
    pub constant_iv: Option<[u8; 16]>,
    pub crypt: u8,
    pub skip: u8,
}

/// Index 1 of the fragment-local group descriptions (0x10000 flags "local", 14496-12 8.9.4).
const LOCAL_GROUP_1: u32 = 0x0001_0001;

/// `sbgp` + `sgpd` of grouping type `seig` for a fragment of `sample_count` samples.
pub(crate) fn write_seig(w: &mut BoxWriter, group: &KeyGroup, sample_count: u32) {
    w.full_box(b"sbgp", 0, 0, |w| {
        w.bytes(b"seig");
        w.u32(1); // entry_count
        w.u32(sample_count);
        w.u32(LOCAL_GROUP_1);
    });
    let constant = group.iv_size == 0;
    let length = 20 + if constant { 17 } else { 0 };
    w.full_box(b"sgpd", 1, 0, |w| {
        w.bytes(b"seig");
        w.u32(length); // default_length
        w.u32(1); // entry_count
        w.u8(0); // reserved
        w.u8((group.crypt << 4) | (group.skip & 0x0f));
        w.u8(1); // isProtected
        w.u8(group.iv_size);
        w.bytes(group.kid.as_bytes());
        if constant {
            w.u8(16);
            w.bytes(&group.constant_iv.unwrap_or_default());
        }
    });
}

/// The `seig` group of a track fragment (its `traf` children), if it has one. Only fragments
/// whose samples all belong to one group are supported (what abmark and Shaka Packager write).
pub fn parse_seig(traf: &[BoxRef<'_>]) -> Result<Option<KeyGroup>, CencError> {
    let Some(sgpd) = traf
        .iter()
        .find(|b| b.kind() == FourCc(*b"sgpd") && b.payload().get(4..8) == Some(b"seig"))
    else {
        return Ok(None);
    };
    let bad = |reason: &str| BmffError::BadBox { kind: sgpd.kind(), reason: reason.into() };
    let fb = sgpd.full_box()?;
    let b = fb.body;
    // grouping_type, [default_length (v1)], [default_sample_description_index (v2+)], count.
    let mut pos = 4 + if fb.version >= 1 { 4 } else { 0 } + if fb.version >= 2 { 4 } else { 0 };
    let count = b.get(pos..pos + 4).ok_or_else(|| bad("truncated"))?;
    if u32::from_be_bytes([count[0], count[1], count[2], count[3]]) == 0 {
        return Ok(None);
    }
    pos += 4;
    if fb.version == 1 && b.get(4..8) == Some(&[0, 0, 0, 0]) {
        pos += 4; // description_length of a variable-length entry
    }
    let e = b.get(pos..pos + 20).ok_or_else(|| bad("truncated seig entry"))?;
    let mut kid = [0u8; 16];
    kid.copy_from_slice(&e[4..20]);
    let kid = Kid::from_bytes(kid);
    let iv_size = e[3];
    let constant_iv = if iv_size == 0 && e[2] != 0 {
        let n = *b.get(pos + 20).ok_or_else(|| bad("no constant IV"))? as usize;
        let iv = b
            .get(pos + 21..pos + 21 + n)
            .filter(|_| n == 8 || n == 16)
            .ok_or_else(|| bad("bad constant IV"))?;
        let mut out = [0u8; 16];
        out[..n].copy_from_slice(iv);
        Some(out)
    } else {
        None
    };
    Ok(Some(KeyGroup { kid, iv_size, constant_iv, crypt: e[1] >> 4, skip: e[1] & 0x0f }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use abmark_bmff::boxes::read_boxes;

    #[test]
    fn seig_round_trips() {
        for group in [
            KeyGroup {
                kid: Kid::from_bytes([3; 16]),
                iv_size: 8,
                constant_iv: None,
                crypt: 0,
                skip: 0,
            },
            KeyGroup {
                kid: Kid::from_bytes([4; 16]),
                iv_size: 0,
                constant_iv: Some([9; 16]),
                crypt: 1,
                skip: 9,
            },
        ] {
            let mut w = BoxWriter::new();
            w.boxed(b"traf", |w| write_seig(w, &group, 50));
            let bytes = w.finish().unwrap();
            let top = read_boxes(&bytes).unwrap();
            let children = top[0].children().unwrap();
            assert_eq!(parse_seig(&children).unwrap(), Some(group));
        }
    }
}
