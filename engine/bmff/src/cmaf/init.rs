//! The CMAF header (ISO/IEC 23000-19, CMAF header): `ftyp` + `moov` for one track, with empty
//! sample tables and an `mvex` that announces fragments.
//!
//! The bytes depend only on the [`Track`]: creation and modification times are 0 (ISO/IEC
//! 14496-12 allows it, and CMAF switching needs byte-identical headers across the variants of a
//! rendition), no encoder names or dates are written.

use super::entry::{audio_sample_entry, visual_sample_entry};
use super::track::Track;
use crate::boxes::BoxWriter;
use crate::BmffError;

/// `ftyp` major brand: 'cmf2', the CMAF structural brand of ISO/IEC 23000-19 (2nd edition). Its
/// main constraint over 'cmfc', no edit list in video tracks, is one this writer never breaks: it
/// writes no `edts`, and B-frame delay is absorbed by negative composition offsets in version 1
/// `trun`s instead (see [`super::Sample::composition_offset`]). Every fragment also has a
/// `tfdt` and default-base-is-moof, as CMAF requires.
pub const MAJOR_BRAND: [u8; 4] = *b"cmf2";

/// `ftyp` compatible brands: 'cmf2' and 'cmfc' (CMAF track structural brands) and 'iso6'
/// (ISO/IEC 14496-12 with `styp`, `tfdt`, version 1 `trun`). No 'mp41'/'isom': nothing here
/// needs the older brands, and CMAF players look for 'cmfc'. Media profile brands ('cfhd',
/// 'caac'...) are left out because they also constrain colour, frame rate and loudness, which
/// this writer cannot check.
pub const COMPATIBLE_BRANDS: [[u8; 4]; 3] = [*b"cmf2", *b"cmfc", *b"iso6"];

/// 16.16 unity matrix of `mvhd`/`tkhd` (ISO/IEC 14496-12, 8.2.2.3: no transformation).
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// 'und' (undetermined) as ISO-639-2/T packed in three 5-bit letters, each minus 0x60.
const LANGUAGE_UND: u16 =
    ((b'u' as u16 - 0x60) << 10) | ((b'n' as u16 - 0x60) << 5) | (b'd' as u16 - 0x60);

/// tkhd flags (ISO/IEC 14496-12, 8.3.2.3): track_enabled | track_in_movie.
const TKHD_ENABLED_IN_MOVIE: u32 = 0x3;

/// Writes the initialization segment of one track: `ftyp`, then `moov` with `mvhd`, one `trak`
/// and `mvex/trex`. Fails only on a track description that cannot be valid (track ID 0, an avcC
/// without 4-byte NAL lengths, a malformed AudioSpecificConfig...).
pub fn init_segment(track: &Track) -> Result<Vec<u8>, BmffError> {
    write_init_segment(track, &HeaderExtras::NONE)
}

/// What Common Encryption (ISO/IEC 23001-7) adds to a CMAF header; the encryption stage fills
/// it, [`init_segment`] writes none.
pub struct HeaderExtras<'a> {
    /// Replaces `avc1`/`mp4a` (CENC: `encv`/`enca`).
    pub sample_entry_kind: Option<&'a [u8; 4]>,
    /// Written at the end of the sample entry (CENC: `sinf` with `frma`, `schm`, `schi/tenc`).
    pub in_sample_entry: &'a dyn Fn(&mut BoxWriter),
    /// Written at the end of `moov` (CENC: `pssh`).
    pub in_moov: &'a dyn Fn(&mut BoxWriter),
}

impl HeaderExtras<'_> {
    const NONE: HeaderExtras<'static> =
        HeaderExtras { sample_entry_kind: None, in_sample_entry: &|_| {}, in_moov: &|_| {} };
}

pub fn write_init_segment(track: &Track, extras: &HeaderExtras<'_>) -> Result<Vec<u8>, BmffError> {
    track.validate()?;
    let mut w = BoxWriter::new();
    ftyp(&mut w);
    w.boxed(b"moov", |w| {
        mvhd(w, track);
        trak(w, track, extras);
        w.boxed(b"mvex", |w| trex(w, track));
        (extras.in_moov)(w);
    });
    w.finish()
}

fn ftyp(w: &mut BoxWriter) {
    w.boxed(b"ftyp", |w| {
        w.bytes(&MAJOR_BRAND);
        w.u32(0); // minor_version
        for brand in &COMPATIBLE_BRANDS {
            w.bytes(brand);
        }
    });
}

/// Movie header, version 0: duration 0 because the duration of a fragmented movie is that of
/// its fragments (14496-12, 8.8.1), known only to the manifest.
fn mvhd(w: &mut BoxWriter, track: &Track) {
    w.full_box(b"mvhd", 0, 0, |w| {
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(track.timescale());
        w.u32(0); // duration
        w.u32(0x0001_0000); // rate 1.0
        w.u16(0x0100); // volume 1.0
        w.zeros(2 + 8); // reserved
        matrix(w);
        w.zeros(24); // pre_defined
        w.u32(track.track_id().saturating_add(1)); // next_track_ID
    });
}

fn matrix(w: &mut BoxWriter) {
    for v in UNITY_MATRIX {
        w.u32(v);
    }
}

fn trak(w: &mut BoxWriter, track: &Track, extras: &HeaderExtras<'_>) {
    w.boxed(b"trak", |w| {
        tkhd(w, track);
        w.boxed(b"mdia", |w| {
            mdhd(w, track);
            hdlr(w, track);
            w.boxed(b"minf", |w| {
                media_header(w, track);
                w.boxed(b"dinf", dref);
                stbl(w, track, extras);
            });
        });
    });
}

/// Track header, version 0. Width and height are the display size in 16.16: the coded size,
/// widened by the pixel aspect ratio when one is given.
fn tkhd(w: &mut BoxWriter, track: &Track) {
    w.full_box(b"tkhd", 0, TKHD_ENABLED_IN_MOVIE, |w| {
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(track.track_id());
        w.u32(0); // reserved
        w.u32(0); // duration: see mvhd
        w.zeros(8); // reserved
        w.u16(0); // layer
        w.u16(0); // alternate_group
        w.u16(if matches!(track, Track::Audio(_)) { 0x0100 } else { 0 }); // volume
        w.u16(0); // reserved
        matrix(w);
        let (width, height) = match track {
            Track::Video(v) => {
                let (h, s) = v.pixel_aspect.unwrap_or((1, 1));
                let width = (u64::from(v.width) << 16) * u64::from(h) / u64::from(s.max(1));
                (u32::try_from(width).unwrap_or(u32::MAX), u32::from(v.height) << 16)
            }
            Track::Audio(_) => (0, 0),
        };
        w.u32(width);
        w.u32(height);
    });
}

fn mdhd(w: &mut BoxWriter, track: &Track) {
    w.full_box(b"mdhd", 0, 0, |w| {
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(track.timescale());
        w.u32(0); // duration
        w.u16(LANGUAGE_UND);
        w.u16(0); // pre_defined
    });
}

fn hdlr(w: &mut BoxWriter, track: &Track) {
    let (handler, name): (&[u8; 4], &[u8]) = match track {
        Track::Video(_) => (b"vide", b"VideoHandler\0"),
        Track::Audio(_) => (b"soun", b"SoundHandler\0"),
    };
    w.full_box(b"hdlr", 0, 0, |w| {
        w.u32(0); // pre_defined
        w.bytes(handler);
        w.zeros(12); // reserved
        w.bytes(name); // a null-terminated UTF-8 string
    });
}

fn media_header(w: &mut BoxWriter, track: &Track) {
    match track {
        // vmhd flags are 1 by definition (14496-12, 12.1.2.2).
        Track::Video(_) => w.full_box(b"vmhd", 0, 1, |w| {
            w.u16(0); // graphicsmode: copy
            w.zeros(6); // opcolor
        }),
        Track::Audio(_) => w.full_box(b"smhd", 0, 0, |w| {
            w.u16(0); // balance: centre
            w.u16(0); // reserved
        }),
    }
}

/// One `url ` entry with flags 1: the media data is in the same file as the movie box (for
/// CMAF, in the segments that follow this header).
fn dref(w: &mut BoxWriter) {
    w.full_box(b"dref", 0, 0, |w| {
        w.u32(1); // entry_count
        w.full_box(b"url ", 0, 1, |_| {});
    });
}

/// Sample table with the one sample entry and empty tables: every sample is described by the
/// fragments (a CMAF header holds no samples).
fn stbl(w: &mut BoxWriter, track: &Track, extras: &HeaderExtras<'_>) {
    w.boxed(b"stbl", |w| {
        w.full_box(b"stsd", 0, 0, |w| {
            w.u32(1); // entry_count
            let extra = |w: &mut BoxWriter| (extras.in_sample_entry)(w);
            match track {
                Track::Video(v) => {
                    let kind = extras.sample_entry_kind.unwrap_or(b"avc1");
                    visual_sample_entry(w, kind, v, extra);
                }
                Track::Audio(a) => {
                    let kind = extras.sample_entry_kind.unwrap_or(b"mp4a");
                    audio_sample_entry(w, kind, a, extra);
                }
            }
        });
        w.full_box(b"stts", 0, 0, |w| w.u32(0));
        w.full_box(b"stsc", 0, 0, |w| w.u32(0));
        w.full_box(b"stsz", 0, 0, |w| {
            w.u32(0); // sample_size
            w.u32(0); // sample_count
        });
        w.full_box(b"stco", 0, 0, |w| w.u32(0));
    });
}

/// Track extends: sample description 1 by default and no other defaults, because every `trun`
/// this module writes carries duration, size and flags per sample.
fn trex(w: &mut BoxWriter, track: &Track) {
    w.full_box(b"trex", 0, 0, |w| {
        w.u32(track.track_id());
        w.u32(1); // default_sample_description_index
        w.u32(0); // default_sample_duration
        w.u32(0); // default_sample_size
        w.u32(0); // default_sample_flags
    });
}
