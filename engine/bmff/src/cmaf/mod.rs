//! CMAF / fragmented ISO-BMFF: the engine's own writer and reader of `init.mp4` + `seg-<n>.m4s`.
//!
//! Owns the bytes: the CMAF header ([`init_segment`]: `ftyp` + `moov` for one H.264 or AAC
//! track), CMAF media segments ([`media_segment`]: `styp` + `moof` + `mdat`), and reading both
//! back ([`read_init`], [`read_fragments`]) through the crate's one box reader. Output
//! is a pure function of the input: the same track and samples give the same bytes, so the
//! variants of a rendition share one init segment and their segments can be swapped one for one.
//!
//! Does not own: where segments are cut, timing policy and encoding (the caller decides sample
//! durations, composition offsets and which samples form a segment), encryption policy (keys,
//! schemes; the packager adds the CENC boxes through the same [`BoxWriter`] and the
//! [`HeaderExtras`] / [`write_media_segment`] hooks), manifests, and files (no I/O here).
//!
//! Map: `track` (what a header describes), `init` (`ftyp`/`moov`), `init_reader` (a header back
//! into a [`Track`]), `entry` (`avc1`/`avcC`, `mp4a`/`esds`), `segment` (`styp`/`moof`/`mdat`),
//! `fragment` (samples back out of `moof`s).

mod entry;
mod fragment;
mod init;
mod init_reader;
mod segment;
mod track;

pub use fragment::{read_fragments, Fragment};
pub use init::{init_segment, write_init_segment, HeaderExtras, COMPATIBLE_BRANDS, MAJOR_BRAND};
pub use init_reader::{header_len, read_init, InitSegment};
pub use segment::{
    insert_after_styp, media_segment, write_media_segment, Sample, SAMPLE_FLAGS_NON_SYNC,
    SAMPLE_FLAGS_SYNC, SAMPLE_FLAG_NON_SYNC_BIT, SEGMENT_COMPATIBLE_BRANDS, SEGMENT_MAJOR_BRAND,
};
pub use track::{AudioTrack, Track, TrackKind, VideoTrack};
