//! Reading a CMAF header back into a [`Track`]: the inverse of [`super::init_segment`], for
//! headers this module wrote and for other muxers' (FFmpeg's, Shaka Packager's) fragmented MP4.
//!
//! Encrypted sample entries (`encv`/`enca`, ISO/IEC 23001-7) are read through their `frma`
//! (original format) like the clear entry they wrap; the protection boxes themselves (`sinf`,
//! `pssh`) are handed back as bytes for the encryption stage to interpret, so this module stays
//! free of any key or scheme logic.

use super::track::{AudioTrack, Track, VideoTrack};
use crate::boxes::Cursor;
use crate::boxes::{find_all, read_boxes, require_box, BoxRef};
use crate::{BmffError, FourCc};

/// What a CMAF header says about its one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSegment {
    pub track: Track,
    /// The sample entry's four-character code as written (`avc1`, `encv`, `mp4a`, `enca`...).
    pub sample_entry: FourCc,
    /// The whole `sinf` box of an encrypted sample entry.
    pub sinf: Option<Vec<u8>>,
    /// Every `pssh` box of the `moov`, whole.
    pub pssh: Vec<Vec<u8>>,
}

/// Reads the one track of a CMAF header (`ftyp` + `moov`; anything after the `moov`, such as
/// fragments, is ignored). Refuses headers with several tracks and codecs other than H.264 and
/// AAC, naming what it found.
pub fn read_init(bytes: &[u8]) -> Result<InitSegment, BmffError> {
    let top = read_boxes_until_moof(bytes)?;
    let traks = find_all(&top, "moov/trak")?;
    let trak = match traks.as_slice() {
        [one] => *one,
        [] => return Err(BmffError::MissingBox { path: "moov/trak".into() }),
        more => {
            return Err(BmffError::InvalidTrack {
                reason: format!(
                    "{} tracks in one header; one track per file is supported",
                    more.len()
                ),
            })
        }
    };
    let trak = [trak];
    let track_id = track_id(require_box(&trak, "trak/tkhd")?)?;
    let timescale = timescale(require_box(&trak, "trak/mdia/mdhd")?)?;
    let stsd = require_box(&trak, "trak/mdia/minf/stbl/stsd")?;
    let entry =
        *stsd.children()?.first().ok_or(BmffError::MissingBox { path: "stsd entry".into() })?;
    let children = entry.children().map_err(|_| unsupported(entry.kind()))?;
    let sinf = children.iter().find(|b| b.kind() == FourCc(*b"sinf")).copied();
    let format = match sinf {
        Some(s) => {
            let frma = require_box(&[s], "sinf/frma")?;
            let payload = frma.payload();
            let code: [u8; 4] = payload
                .get(..4)
                .and_then(|p| p.try_into().ok())
                .ok_or(bad(frma.kind(), "truncated"))?;
            FourCc(code)
        }
        None => entry.kind(),
    };
    let track = match &format.0 {
        b"avc1" | b"avc3" => Track::Video(video(entry, &children, track_id, timescale)?),
        b"mp4a" => Track::Audio(audio(entry, &children, track_id, timescale)?),
        _ => return Err(unsupported(format)),
    };
    let pssh = find_all(&top, "moov/pssh")?.iter().map(|b| b.bytes().to_vec()).collect();
    Ok(InitSegment {
        track,
        sample_entry: entry.kind(),
        sinf: sinf.map(|s| s.bytes().to_vec()),
        pssh,
    })
}

/// The top-level boxes up to the first `moof` (a whole fragmented file may follow the header).
fn read_boxes_until_moof(bytes: &[u8]) -> Result<Vec<BoxRef<'_>>, BmffError> {
    let end = header_len(bytes);
    read_boxes(bytes.get(..end).unwrap_or(bytes))
}

/// Bytes of the leading boxes that precede the first `moof` or `mdat` (box headers only are
/// read here; [`read_boxes`] checks them properly afterwards).
pub fn header_len(bytes: &[u8]) -> usize {
    let mut pos = 0usize;
    while let Some(h) = bytes.get(pos..pos + 8) {
        let size = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if &h[4..8] == b"moof" || &h[4..8] == b"mdat" || size < 8 {
            break;
        }
        pos = pos.saturating_add(size);
    }
    pos.min(bytes.len())
}

fn bad(kind: FourCc, reason: &str) -> BmffError {
    BmffError::BadBox { kind, reason: reason.into() }
}

fn unsupported(kind: FourCc) -> BmffError {
    BmffError::InvalidTrack {
        reason: format!("codec '{kind}': only H.264 (avc1/avc3) and AAC (mp4a) are supported"),
    }
}

fn track_id(tkhd: BoxRef<'_>) -> Result<u32, BmffError> {
    let fb = tkhd.full_box()?;
    let mut c = Cursor::new(fb.body, bad(tkhd.kind(), "truncated"));
    c.skip(if fb.version == 1 { 16 } else { 8 })?;
    c.u32()
}

fn timescale(mdhd: BoxRef<'_>) -> Result<u32, BmffError> {
    let fb = mdhd.full_box()?;
    let mut c = Cursor::new(fb.body, bad(mdhd.kind(), "truncated"));
    c.skip(if fb.version == 1 { 16 } else { 8 })?;
    c.u32()
}

fn video(
    entry: BoxRef<'_>,
    children: &[BoxRef<'_>],
    track_id: u32,
    timescale: u32,
) -> Result<VideoTrack, BmffError> {
    let mut c = Cursor::new(entry.payload(), bad(entry.kind(), "truncated"));
    c.skip(24)?; // SampleEntry header, pre_defined and reserved fields
    let (width, height) = (c.u16()?, c.u16()?);
    let avcc = children
        .iter()
        .find(|b| b.kind() == FourCc(*b"avcC"))
        .ok_or(BmffError::MissingBox { path: format!("{}/avcC", entry.kind()) })?;
    let pixel_aspect = match children.iter().find(|b| b.kind() == FourCc(*b"pasp")) {
        Some(p) => {
            let mut c = Cursor::new(p.payload(), bad(p.kind(), "truncated"));
            Some((c.u32()?, c.u32()?))
        }
        None => None,
    };
    Ok(VideoTrack {
        track_id,
        timescale,
        width,
        height,
        avcc: avcc.payload().to_vec(),
        pixel_aspect,
    })
}

fn audio(
    entry: BoxRef<'_>,
    children: &[BoxRef<'_>],
    track_id: u32,
    timescale: u32,
) -> Result<AudioTrack, BmffError> {
    let mut c = Cursor::new(entry.payload(), bad(entry.kind(), "truncated"));
    c.skip(16)?; // SampleEntry header + reserved
    let channels = c.u16()?;
    c.skip(6)?; // samplesize, pre_defined, reserved
    let rate_field = c.u32()? >> 16;
    let esds = children
        .iter()
        .find(|b| b.kind() == FourCc(*b"esds"))
        .ok_or(BmffError::MissingBox { path: format!("{}/esds", entry.kind()) })?;
    let (asc, max_bitrate, avg_bitrate) = parse_esds(esds.full_box()?.body, esds.kind())?;
    // The entry's 16.16 field is what the writer wrote (0 above 65535 Hz): the config then.
    let sample_rate = match rate_field {
        0 => crate::aac::parse_audio_specific_config(&asc)?.sampling_frequency,
        r => r,
    };
    Ok(AudioTrack {
        track_id,
        timescale,
        sample_rate,
        channels,
        audio_specific_config: asc,
        max_bitrate,
        avg_bitrate,
    })
}

/// The AudioSpecificConfig and bitrates out of an ES_Descriptor (ISO/IEC 14496-1, 7.2.6.5).
fn parse_esds(body: &[u8], kind: FourCc) -> Result<(Vec<u8>, u32, u32), BmffError> {
    let short = || bad(kind, "truncated descriptor");
    let (tag, es) = descriptor(body).ok_or_else(short)?;
    if tag != 0x03 {
        return Err(bad(kind, "no ES_Descriptor"));
    }
    let mut c = Cursor::new(es, short());
    c.skip(2)?; // ES_ID
    let flags = c.u8()?;
    if flags & 0x80 != 0 {
        c.skip(2)?; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        let n = c.u8()? as usize;
        c.skip(n)?; // URL
    }
    if flags & 0x20 != 0 {
        c.skip(2)?; // OCR_ES_Id
    }
    let rest = c.take(c.remaining())?;
    let (tag, config) = descriptor(rest).ok_or_else(short)?;
    if tag != 0x04 {
        return Err(bad(kind, "no DecoderConfigDescriptor"));
    }
    let mut c = Cursor::new(config, short());
    c.skip(5)?; // objectTypeIndication, streamType, bufferSizeDB
    let (max, avg) = (c.u32()?, c.u32()?);
    let rest = c.take(c.remaining())?;
    let (tag, asc) = descriptor(rest).ok_or_else(short)?;
    if tag != 0x05 {
        return Err(bad(kind, "no DecoderSpecificInfo"));
    }
    Ok((asc.to_vec(), max, avg))
}

/// One descriptor: its tag and body (expandable size, ISO/IEC 14496-1, 8.3.3).
fn descriptor(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let tag = *bytes.first()?;
    let mut len = 0usize;
    let mut pos = 1;
    for _ in 0..4 {
        let b = *bytes.get(pos)?;
        pos += 1;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some((tag, bytes.get(pos..pos.checked_add(len)?)?));
        }
    }
    None
}
