//! CMAF / fragmented ISO-BMFF: the engine's own writer and reader of `init.mp4` + `seg-<n>.m4s`.
//!
//! Owns the bytes: the CMAF header ([`init_segment`]: `ftyp` + `moov` for one H.264 or AAC
//! track), CMAF media segments ([`media_segment`]: `styp` + `moof` + `mdat`), the H.264 framing
//! that goes with them ([`annexb_to_avcc`], [`avcc_from_annexb`]), RFC 6381 codec strings, and a
//! checked reader for untrusted boxes ([`read_boxes`], [`find_box`], [`read_fragments`]). Output
//! is a pure function of the input: the same track and samples give the same bytes, so the
//! variants of a rendition share one init segment and their segments can be swapped one for one.
//!
//! Does not own: where segments are cut, timing policy and encoding (the caller decides sample
//! durations, composition offsets and which samples form a segment), encryption policy (keys,
//! schemes; a later stage adds the CENC boxes through the same [`BoxWriter`] and sample-entry
//! hooks), manifests, and files (no I/O here).
//!
//! Map: `writer` ([`BoxWriter`], sizes patched after the body), `track` (what a header
//! describes), `init` (`ftyp`/`moov`), `init_reader` (a header back into a [`Track`]), `entry` (`avc1`/`avcC`, `mp4a`/`esds`), `segment`
//! (`styp`/`moof`/`mdat`), `avc` (Annex B, avcC, codec string), `aac` (AudioSpecificConfig),
//! `bytes` (checked cursors), `reader` (box walking), `fragment` (samples back out of `moof`s),
//! `error` ([`CmafError`]).

mod aac;
mod avc;
mod bytes;
mod entry;
mod error;
mod fragment;
mod init;
mod init_reader;
mod reader;
mod segment;
mod track;
mod writer;

pub use aac::{aac_codec_string, parse_audio_specific_config, AudioSpecificConfig};
pub use avc::{
    annexb_nal_units, annexb_to_avcc, avc_codec_string, avcc_from_annexb, parse_avcc, AvcConfig,
    NAL_LENGTH_SIZE,
};
pub use error::{CmafError, FourCc};
pub use fragment::{read_fragments, Fragment};
pub use init::{init_segment, COMPATIBLE_BRANDS, MAJOR_BRAND};
pub(crate) use init::{write_init_segment, HeaderExtras};
pub use init_reader::{header_len, read_init, InitSegment};
pub use reader::{find_all, find_box, read_boxes, require_box, BoxRef, FullBox};
pub(crate) use segment::write_media_segment;
pub use segment::{
    media_segment, Sample, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC, SAMPLE_FLAG_NON_SYNC_BIT,
    SEGMENT_COMPATIBLE_BRANDS, SEGMENT_MAJOR_BRAND,
};
pub use track::{AudioTrack, Track, VideoTrack};
pub use writer::{BoxWriter, Patch};
