//! Content-protection signalling in manifests: what a DASH `ContentProtection` element and an
//! HLS `EXT-X-KEY` / `EXT-X-SESSION-KEY` tag say about an encrypted track. Public data only —
//! scheme, key IDs, PSSH boxes, licence URLs; keys never pass through here.
//!
//! The encryption stage ([`crate::cenc`]) fills a [`Protection`] per track; the DASH and HLS
//! writers render it.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::ids::Kid;

/// How one track is encrypted, as its manifests announce it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Protection {
    /// `cenc` or `cbcs`.
    pub scheme: String,
    /// The KID of the track's `tenc` (DASH `cenc:default_KID`).
    pub default_kid: Kid,
    /// One entry per DRM system signalled.
    pub systems: Vec<DrmSignal>,
    /// Key periods of a rotated track (first segment index and its KID, in order); empty when
    /// one key covers the track.
    #[serde(default)]
    pub periods: Vec<KeyPeriod>,
}

/// A key period of key rotation: from segment `first_segment` (0-based) on, `kid` is in use.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyPeriod {
    pub first_segment: usize,
    pub kid: Kid,
    /// The HLS key tags of this period (one per system signalled in HLS).
    pub hls: Vec<HlsKey>,
}

/// One DRM system's signalling.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DrmSignal {
    pub system_id: [u8; 16],
    /// DASH `ContentProtection@value`: "Widevine", "MSPR 2.0", "ClearKey1.0"...
    pub name: String,
    /// Whole `pssh` box, for DASH `cenc:pssh`.
    pub pssh: Option<Vec<u8>>,
    /// PlayReady Object, for DASH `mspr:pro`.
    pub playready_pro: Option<Vec<u8>>,
    /// Licence server (DASH-IF `dashif:Laurl`; ClearKey).
    pub license_url: Option<String>,
    /// Whether DASH lists this system (FairPlay is HLS-only).
    pub dash: bool,
    /// The HLS key tag of this system, if HLS signals it.
    pub hls: Option<HlsKey>,
}

/// The attributes of one HLS `EXT-X-KEY` (RFC 8216 4.3.2.4).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HlsKey {
    /// `SAMPLE-AES` (cbcs) or `SAMPLE-AES-CTR` (cenc).
    pub method: String,
    pub uri: String,
    pub keyformat: String,
    pub keyformat_versions: String,
    /// 0x-prefixed hex of the KID, for KEYID (optional in HLS; FairPlay players use it).
    pub key_id: Option<String>,
}

/// Standard base64 (with padding), as DASH `cenc:pssh` and HLS `data:` URIs carry binary.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl HlsKey {
    /// The attribute list after `#EXT-X-KEY:` / `#EXT-X-SESSION-KEY:`. Values come from the
    /// packager (URIs it built, base64, hex), never contain a quote; a quote is dropped anyway.
    pub fn attributes(&self) -> String {
        let clean = |s: &str| s.replace(['"', '\n', '\r'], "");
        let mut out = format!("METHOD={},URI=\"{}\"", self.method, clean(&self.uri));
        if let Some(id) = &self.key_id {
            let _ = write!(out, ",KEYID={}", clean(id));
        }
        let _ = write!(
            out,
            ",KEYFORMAT=\"{}\",KEYFORMATVERSIONS=\"{}\"",
            clean(&self.keyformat),
            clean(&self.keyformat_versions)
        );
        out
    }
}

impl Protection {
    /// The HLS key tags in force from segment `index` on, if a new period starts there (index 0
    /// always gets the track's tags).
    pub fn hls_keys_at(&self, index: usize) -> Option<Vec<&HlsKey>> {
        if self.periods.is_empty() {
            return (index == 0)
                .then(|| self.systems.iter().filter_map(|s| s.hls.as_ref()).collect());
        }
        self.periods.iter().find(|p| p.first_segment == index).map(|p| p.hls.iter().collect())
    }
}
