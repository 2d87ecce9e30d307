//! What an initialization segment describes: one video or audio track ([`Track`]), and the checks
//! that keep a bad description from becoming a file that only fails in the player.

use crate::aac::{aac_codec_string, parse_audio_specific_config};
use crate::h264::{avc_codec_string, parse_avcc, NAL_LENGTH_SIZE};
use crate::BmffError;

/// An H.264 video track. Samples are AVCC (4-byte NAL lengths), parameter sets in `avcc` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTrack {
    /// Non-zero (ISO/IEC 14496-12, 8.3.2.3: track_ID 0 is not allowed).
    pub track_id: u32,
    /// Ticks per second of sample durations and decode times (e.g. 12800 for 25 fps, like FFmpeg,
    /// or 90000).
    pub timescale: u32,
    pub width: u16,
    pub height: u16,
    /// AVCDecoderConfigurationRecord with 4-byte NAL lengths, e.g. from [`crate::h264::avcc_from_annexb`]
    /// applied to FFmpeg's libx264 extradata.
    pub avcc: Vec<u8>,
    /// `Some((h_spacing, v_spacing))` writes a `pasp` box (ISO/IEC 14496-12, 12.1.4) and scales
    /// the `tkhd` display width; `None` means square pixels and writes none.
    pub pixel_aspect: Option<(u32, u32)>,
}

/// An AAC audio track. Samples are raw AAC frames (no ADTS header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioTrack {
    pub track_id: u32,
    /// Ticks per second; the sample rate, so that a 1024-sample AAC frame lasts 1024 ticks.
    pub timescale: u32,
    pub sample_rate: u32,
    pub channels: u16,
    /// AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1): the AAC encoder's extradata.
    pub audio_specific_config: Vec<u8>,
    /// Bits per second, for the DecoderConfigDescriptor (0 if unknown).
    pub max_bitrate: u32,
    pub avg_bitrate: u32,
}

/// One CMAF track: a CMAF track holds exactly one media stream (ISO/IEC 23000-19, "CMAF track").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Track {
    Video(VideoTrack),
    Audio(AudioTrack),
}

/// Which medium a track carries: the one track-kind type of abmark (job files, key plans,
/// imports). Written as `"video"` / `"audio"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Video,
    Audio,
}

impl TrackKind {
    /// `"video"` or `"audio"`: directory names, manifest ids, log fields.
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        }
    }
}

impl std::fmt::Display for TrackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Track {
    /// Video or audio.
    pub fn kind(&self) -> TrackKind {
        match self {
            Track::Video(_) => TrackKind::Video,
            Track::Audio(_) => TrackKind::Audio,
        }
    }

    pub fn track_id(&self) -> u32 {
        match self {
            Track::Video(v) => v.track_id,
            Track::Audio(a) => a.track_id,
        }
    }

    pub fn timescale(&self) -> u32 {
        match self {
            Track::Video(v) => v.timescale,
            Track::Audio(a) => a.timescale,
        }
    }

    /// RFC 6381 codec string for HLS `CODECS` and DASH `@codecs`.
    pub fn codec_string(&self) -> Result<String, BmffError> {
        match self {
            Track::Video(v) => avc_codec_string(&v.avcc),
            Track::Audio(a) => aac_codec_string(&a.audio_specific_config),
        }
    }

    /// Checks everything the init segment writer relies on.
    pub(crate) fn validate(&self) -> Result<(), BmffError> {
        let invalid = |reason: &str| Err(BmffError::InvalidTrack { reason: reason.into() });
        if self.track_id() == 0 {
            return invalid("track_id 0 is reserved");
        }
        if self.timescale() == 0 {
            return invalid("timescale 0");
        }
        match self {
            Track::Video(v) => {
                if v.width == 0 || v.height == 0 {
                    return invalid("zero width or height");
                }
                if v.pixel_aspect.is_some_and(|(h, v)| h == 0 || v == 0) {
                    return invalid("zero pixel aspect spacing");
                }
                let config = parse_avcc(&v.avcc)?;
                if config.nal_length_size != NAL_LENGTH_SIZE {
                    return invalid("the avcC must declare 4-byte NAL lengths");
                }
            }
            Track::Audio(a) => {
                if a.sample_rate == 0 || a.channels == 0 {
                    return invalid("zero sample rate or channel count");
                }
                // Real configs are 2 to a few dozen bytes; the limit keeps every esds descriptor
                // length in one byte.
                if a.audio_specific_config.len() > 100 {
                    return invalid("AudioSpecificConfig longer than 100 bytes");
                }
                parse_audio_specific_config(&a.audio_specific_config)?;
            }
        }
        Ok(())
    }
}
