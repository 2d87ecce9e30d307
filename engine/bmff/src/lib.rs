//! abmark-bmff: the ISO-BMFF container and the codec bitstream syntax, as plain functions over
//! bytes.
//!
//! - [`boxes`]: the one box reader and writer; every other module builds on it.
//! - [`cmaf`]: CMAF headers and media segments (write and read back).
//! - [`bits`]: the one bit reader (Exp-Golomb, emulation prevention).
//! - [`h264`]: NAL framing, avcC, SPS/PPS and slice headers (an HEVC module sits beside it).
//! - [`aac`]: the AudioSpecificConfig.
//!
//! May depend on: `thiserror` only. Must not: do I/O, link FFmpeg or an async runtime, or know
//! about encryption keys, manifests or watermarks (those crates add their boxes through the
//! writer's hooks). Every parser takes untrusted bytes and returns a typed error, never panics;
//! the fuzz targets in `fuzz/` drive them.

pub mod aac;
pub mod bits;
pub mod boxes;
pub mod cmaf;
mod error;
pub mod h264;

pub use error::{BmffError, FourCc};
