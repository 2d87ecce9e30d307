//! The two protection schemes of ISO/IEC 23001-7 abmark writes, and what each implies for the
//! boxes: `cenc` (AES-128 CTR, per-sample IVs, every protected byte encrypted) and `cbcs`
//! (AES-128 CBC with a constant IV and a 1:9 block pattern for video, whole samples for audio).

use std::fmt;
use std::str::FromStr;

use crate::error::CencError;

/// A Common Encryption scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// AES-CTR (ISO/IEC 23001-7, 10.1): Widevine and PlayReady on DASH.
    Cenc,
    /// AES-CBC with pattern encryption and a constant IV (10.4): FairPlay, and modern CMAF
    /// everywhere.
    Cbcs,
}

/// Bytes of the per-sample IV abmark writes for `cenc`: 8, the size every player reads and the
/// one Shaka Packager uses (the 64-bit block counter then starts at 0 in every sample).
pub const CENC_IV_SIZE: u8 = 8;

impl Scheme {
    /// The `schm` scheme_type.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Scheme::Cenc => *b"cenc",
            Scheme::Cbcs => *b"cbcs",
        }
    }

    /// From a `schm` scheme_type; other schemes (`cens`, `cbc1`) are not supported.
    pub fn from_fourcc(code: [u8; 4]) -> Result<Self, CencError> {
        match &code {
            b"cenc" => Ok(Scheme::Cenc),
            b"cbcs" => Ok(Scheme::Cbcs),
            _ => Err(CencError::UnsupportedScheme(String::from_utf8_lossy(&code).into_owned())),
        }
    }

    /// (crypt_byte_block, skip_byte_block) of the `tenc`: 1:9 for `cbcs` video (10.4.2); for
    /// `cbcs` audio and for `cenc`, no pattern (every block of the protected range).
    pub fn pattern(self, video: bool) -> (u8, u8) {
        match (self, video) {
            (Scheme::Cbcs, true) => (1, 9),
            _ => (0, 0),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        })
    }
}

impl FromStr for Scheme {
    type Err = CencError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cenc" => Ok(Scheme::Cenc),
            "cbcs" => Ok(Scheme::Cbcs),
            other => Err(CencError::UnsupportedScheme(other.into())),
        }
    }
}
