//! Sample entries of the `stsd` box: `avc1` with `avcC` (ISO/IEC 14496-15) and `mp4a` with
//! `esds` (ISO/IEC 14496-14, 5.6).
//!
//! Each entry writer takes its four-character code and a closure for extra child boxes, because
//! Common Encryption (ISO/IEC 23001-7) reuses the same layout under `encv`/`enca` with a `sinf`
//! box appended.

use super::track::{AudioTrack, VideoTrack};
use crate::boxes::BoxWriter;

/// Writes a VisualSampleEntry (ISO/IEC 14496-12, 12.1.3) of type `kind` for an H.264 track:
/// the fixed fields, `avcC`, the optional `pasp`, then whatever `extra` adds.
pub(crate) fn visual_sample_entry(
    w: &mut BoxWriter,
    kind: &[u8; 4],
    track: &VideoTrack,
    extra: impl FnOnce(&mut BoxWriter),
) {
    w.boxed(kind, |w| {
        sample_entry_header(w);
        w.u16(0); // pre_defined
        w.u16(0); // reserved
        w.zeros(12); // pre_defined[3]
        w.u16(track.width);
        w.u16(track.height);
        w.u32(0x0048_0000); // horizresolution: 72 dpi, the value the spec fixes
        w.u32(0x0048_0000); // vertresolution
        w.u32(0); // reserved
        w.u16(1); // frame_count: one frame per sample

        // compressorname: a Pascal string in 32 bytes; left empty so that the init segment
        // depends on nothing but the stream parameters.
        w.zeros(32);
        w.u16(0x0018); // depth: colour, no alpha
        w.i16(-1); // pre_defined
        w.boxed(b"avcC", |w| w.bytes(&track.avcc));
        if let Some((h_spacing, v_spacing)) = track.pixel_aspect {
            w.boxed(b"pasp", |w| {
                w.u32(h_spacing);
                w.u32(v_spacing);
            });
        }
        extra(w);
    });
}

/// Writes an AudioSampleEntry (ISO/IEC 14496-12, 12.2.3, version 0) of type `kind` for AAC:
/// the fixed fields, `esds`, then whatever `extra` adds.
pub(crate) fn audio_sample_entry(
    w: &mut BoxWriter,
    kind: &[u8; 4],
    track: &AudioTrack,
    extra: impl FnOnce(&mut BoxWriter),
) {
    w.boxed(kind, |w| {
        sample_entry_header(w);
        w.zeros(8); // reserved
        w.u16(track.channels);
        w.u16(16); // samplesize
        w.u16(0); // pre_defined
        w.u16(0); // reserved

        // samplerate is 16.16 fixed point. Rates above 65535 Hz do not fit; 0 is what FFmpeg and
        // gst write then, and decoders take the rate from the AudioSpecificConfig anyway.
        let rate = u16::try_from(track.sample_rate).map_or(0, |r| u32::from(r) << 16);
        w.u32(rate);
        esds(w, track);
        extra(w);
    });
}

/// The SampleEntry fields every entry starts with (ISO/IEC 14496-12, 8.5.2.2).
fn sample_entry_header(w: &mut BoxWriter) {
    w.zeros(6); // reserved
    w.u16(1); // data_reference_index: the one `url ` entry of `dref`
}

/// MPEG-4 descriptor tags (ISO/IEC 14496-1, 7.2.2.1).
const ES_DESCRIPTOR: u8 = 0x03;
const DECODER_CONFIG_DESCRIPTOR: u8 = 0x04;
const DECODER_SPECIFIC_INFO: u8 = 0x05;
const SL_CONFIG_DESCRIPTOR: u8 = 0x06;

/// objectTypeIndication of MPEG-4 Audio (ISO/IEC 14496-1, Table 5): AAC of any object type,
/// the type itself being in the AudioSpecificConfig.
const OBJECT_TYPE_MPEG4_AUDIO: u8 = 0x40;
/// streamType 0x05 (AudioStream) << 2, upStream 0, reserved 1.
const STREAM_TYPE_AUDIO: u8 = (0x05 << 2) | 0x01;

/// The `esds` box: an ES_Descriptor (ISO/IEC 14496-1, 7.2.6.5) holding the decoder config with
/// the AudioSpecificConfig, as ISO/IEC 14496-14, 5.6 stores it.
fn esds(w: &mut BoxWriter, track: &AudioTrack) {
    let mut decoder_config = vec![OBJECT_TYPE_MPEG4_AUDIO, STREAM_TYPE_AUDIO];
    decoder_config.extend_from_slice(&[0, 0, 0]); // bufferSizeDB: unknown
    decoder_config.extend_from_slice(&track.max_bitrate.to_be_bytes());
    decoder_config.extend_from_slice(&track.avg_bitrate.to_be_bytes());
    descriptor(&mut decoder_config, DECODER_SPECIFIC_INFO, &track.audio_specific_config);

    // ES_ID 0: ISO/IEC 14496-14, 3.1.2 says it is 0 in a file (the track ID takes its place).
    // Flags 0: no stream dependence, no URL, no OCR stream, priority 0.
    let mut es = vec![0, 0, 0];
    descriptor(&mut es, DECODER_CONFIG_DESCRIPTOR, &decoder_config);
    // SLConfigDescriptor predefined = 2: the one value 14496-14 allows in files.
    descriptor(&mut es, SL_CONFIG_DESCRIPTOR, &[0x02]);

    w.full_box(b"esds", 0, 0, |w| {
        let mut body = Vec::new();
        descriptor(&mut body, ES_DESCRIPTOR, &es);
        w.bytes(&body);
    });
}

/// Appends a descriptor: tag, expandable size (7 bits per byte, high bit = more follows;
/// ISO/IEC 14496-1, 8.3.3), body. Track validation keeps bodies far below the 2^28 limit.
fn descriptor(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    let len = body.len();
    let groups = (1..4).take_while(|g| len >> (7 * g) != 0).count() + 1;
    for g in (0..groups).rev() {
        let more = if g > 0 { 0x80 } else { 0 };
        out.push(more | ((len >> (7 * g)) & 0x7f) as u8);
    }
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_sizes_use_expandable_encoding() {
        let mut out = Vec::new();
        descriptor(&mut out, 5, &[0xaa; 3]);
        assert_eq!(out, [5, 3, 0xaa, 0xaa, 0xaa]);
        let mut out = Vec::new();
        descriptor(&mut out, 4, &[0; 200]);
        assert_eq!(out[..3], [4, 0x81, 0x48]);
        assert_eq!(out.len(), 203);
    }
}
