//! [`SegmentEncryptor`]: one track's segments encrypted one at a time, from its clear CMAF
//! header and a key — the unit the packager runs in parallel, exposed for benchmarks, fuzzing
//! and callers that stream segments themselves.

use abmark_bmff::cmaf::{read_init, Track};

use crate::boxes::TrackEncryption;
use crate::error::CencError;
use crate::keys::ContentKey;
use crate::scheme::{Scheme, CENC_IV_SIZE};
use crate::segment::{encrypt_segment, SegmentKey};
use crate::subsample::AvcParams;

/// Encrypts the media segments of one clear track.
pub struct SegmentEncryptor {
    enc: TrackEncryption,
    key: ContentKey,
    avc: Option<AvcParams>,
}

impl SegmentEncryptor {
    /// For the track of the clear CMAF header `init`, with `key` (its IV, if any, is the `cbcs`
    /// constant IV; zero otherwise).
    pub fn new(init: &[u8], scheme: Scheme, key: ContentKey) -> Result<Self, CencError> {
        let init = read_init(init)?;
        let (original_format, avc) = match &init.track {
            Track::Video(v) => (*b"avc1", Some(AvcParams::from_avcc(&v.avcc)?)),
            Track::Audio(_) => (*b"mp4a", None),
        };
        let (crypt, skip) = scheme.pattern(avc.is_some());
        let enc = TrackEncryption {
            original_format,
            scheme,
            kid: key.kid,
            iv_size: if scheme == Scheme::Cenc { CENC_IV_SIZE } else { 0 },
            constant_iv: (scheme == Scheme::Cbcs).then(|| key.iv.unwrap_or_default()),
            crypt,
            skip,
        };
        Ok(Self { enc, key, avc })
    }

    /// The track's encryption parameters (what its `tenc` says).
    pub fn encryption(&self) -> &TrackEncryption {
        &self.enc
    }

    /// One encrypted media segment (random `cenc` IVs from the operating system).
    pub fn encrypt(&mut self, segment: &[u8]) -> Result<Vec<u8>, CencError> {
        let seg = SegmentKey { enc: &self.enc, key: &self.key, group: None, keep_wmpi: true };
        encrypt_segment(segment, &seg, self.avc.as_mut(), &mut random_iv)
    }
}

/// 8 random bytes for one `cenc` sample IV.
pub(crate) fn random_iv() -> Result<[u8; 8], CencError> {
    let mut iv = [0u8; 8];
    getrandom::fill(&mut iv).map_err(|e| CencError::Random(e.to_string()))?;
    Ok(iv)
}
