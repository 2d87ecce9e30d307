//! AAC: reading the AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1) far enough to check it and
//! to name the codec (RFC 6381 `mp4a.40.N`).

use crate::bits::BitReader;
use crate::BmffError;

/// samplingFrequencyIndex values 0..=12 (ISO/IEC 14496-3, Table 1.18); 13 and 14 are reserved,
/// 15 means an explicit 24-bit frequency follows.
const SAMPLING_FREQUENCIES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// The leading fields of an AudioSpecificConfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// audioObjectType: 2 is AAC-LC, 5 SBR (HE-AAC), 29 PS (HE-AAC v2).
    pub object_type: u8,
    /// The core sampling frequency (for implicitly signalled SBR, half the output rate).
    pub sampling_frequency: u32,
    /// channelConfiguration: 1 mono, 2 stereo...; 0 means a program config element says it.
    pub channel_configuration: u8,
}

fn bad(reason: &str) -> BmffError {
    BmffError::BadAudioSpecificConfig { reason: reason.into() }
}

/// Parses audioObjectType, the sampling frequency and channelConfiguration.
pub fn parse_audio_specific_config(asc: &[u8]) -> Result<AudioSpecificConfig, BmffError> {
    let mut r = BitReader::plain(asc);
    let truncated = |_: crate::bits::SyntaxError| bad("truncated");
    let mut object_type = r.bits(5, "AudioSpecificConfig").map_err(truncated)?;
    if object_type == 31 {
        // audioObjectTypeExt: escape for types 32..=95.
        object_type = 32 + r.bits(6, "AudioSpecificConfig").map_err(truncated)?;
    }
    if object_type == 0 {
        return Err(bad("audioObjectType 0 (null object)"));
    }
    let index = r.bits(4, "AudioSpecificConfig").map_err(truncated)?;
    let sampling_frequency = match index {
        15 => r.bits(24, "AudioSpecificConfig").map_err(truncated)?,
        i => *SAMPLING_FREQUENCIES
            .get(i as usize)
            .ok_or_else(|| bad("reserved samplingFrequencyIndex"))?,
    };
    if sampling_frequency == 0 {
        return Err(bad("sampling frequency 0"));
    }
    let channel_configuration = r.bits(4, "AudioSpecificConfig").map_err(truncated)? as u8;
    Ok(AudioSpecificConfig {
        object_type: object_type as u8,
        sampling_frequency,
        channel_configuration,
    })
}

/// RFC 6381 codec string of an AAC stream: `mp4a.40.` (MPEG-4 Audio, objectTypeIndication 0x40)
/// followed by the decimal audioObjectType, e.g. `mp4a.40.2` for AAC-LC.
pub fn aac_codec_string(asc: &[u8]) -> Result<String, BmffError> {
    let config = parse_audio_specific_config(asc)?;
    Ok(format!("mp4a.40.{}", config.object_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aac_lc_48k_stereo() {
        let c = parse_audio_specific_config(&[0x11, 0x90]).unwrap();
        assert_eq!(
            c,
            AudioSpecificConfig {
                object_type: 2,
                sampling_frequency: 48000,
                channel_configuration: 2
            }
        );
        assert_eq!(aac_codec_string(&[0x11, 0x90]).unwrap(), "mp4a.40.2");
    }

    #[test]
    fn escaped_object_type_and_errors() {
        // 11111 000010 (type 34) 0011 (48 kHz) 0001
        let asc = [0b1111_1000, 0b0100_0110, 0b0010_0000];
        assert_eq!(parse_audio_specific_config(&asc).unwrap().object_type, 34);
        assert!(parse_audio_specific_config(&[]).is_err());
        assert!(parse_audio_specific_config(&[0x00, 0x10]).is_err());
        assert!(parse_audio_specific_config(&[0x16, 0x90]).is_err()); // index 13
    }
}
