//! CMAF headers of encrypted tracks: the clear header's track with its sample entry renamed
//! `encv`/`enca` and a `sinf` appended, and the DRM systems' `pssh` boxes at the end of the
//! `moov`; and the way back, a clear header from an encrypted one.

use abmark_bmff::cmaf::{init_segment, read_init, write_init_segment, HeaderExtras, Track};

use crate::boxes::{parse_sinf, write_sinf, TrackEncryption};
use crate::error::CencError;

/// The encrypted CMAF header of `track`.
pub(crate) fn encrypted_init(
    track: &Track,
    enc: &TrackEncryption,
    pssh: &[Vec<u8>],
) -> Result<Vec<u8>, CencError> {
    let kind: &[u8; 4] = match track {
        Track::Video(_) => b"encv",
        Track::Audio(_) => b"enca",
    };
    let extras = HeaderExtras {
        sample_entry_kind: Some(kind),
        in_sample_entry: &|w| write_sinf(w, enc),
        in_moov: &|w| {
            for b in pssh {
                w.bytes(b);
            }
        },
    };
    Ok(write_init_segment(track, &extras)?)
}

/// A clear header and the track's encryption parameters from an encrypted header; `None` for
/// the parameters when the header is clear already.
pub fn clear_init(bytes: &[u8]) -> Result<(Vec<u8>, Option<TrackEncryption>), CencError> {
    let init = read_init(bytes)?;
    let enc = init.sinf.as_deref().map(parse_sinf).transpose()?;
    Ok((init_segment(&init.track)?, enc))
}
