//! abmark engine: forensic A/B watermarking, detection and secure delivery.
//!
//! Organised by the stages of the system: `frame` (plain luma views the kernels take), `key`
//! (the secret and what is derived from it), `wm` (keyed patterns, perceptual mask, embedding and
//! scoring), `register` (aligning a copy to the reference in time and space), `media`
//! (FFmpeg decode/encode) and `symbols` (the per-segment symbol detector that ties them together).

pub mod cmaf;
pub mod dsp;
pub mod frame;
pub mod key;
pub mod manifest;
pub mod mark;
pub mod media;
pub mod quality;
pub mod register;
pub mod symbols;
pub mod variants;
pub mod wm;
