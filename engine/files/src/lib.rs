//! abmark-files: how abmark writes files. Every output appears all at once or not at all
//! ([`output`]: staged directories, temporary files renamed into place), logs are appended JSON
//! Lines from a background thread ([`jsonl`]), and the watermark key lives in its own 0600 file
//! ([`keyfile`]).
//!
//! May depend on: `abmark-wm` (for the key type), serde. Must not: know any media format,
//! codec or protocol.

pub mod jsonl;
pub mod keyfile;
pub mod output;
