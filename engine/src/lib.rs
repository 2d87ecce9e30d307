//! abmark engine: forensic A/B watermarking, detection and secure delivery.
//!
//! Organised by the stages of the system, upstream first:
//! - `frame`, `dsp`: plain luma views and the FFT / integral-image building blocks.
//! - `key`: the watermark secret and what is derived from it.
//! - `wm`: keyed patterns, perceptual mask, embedding and scoring.
//! - `media`: FFmpeg decode (normalised to upright 8-bit 4:2:0), x264 encode, scaling, audio.
//! - `mark`, `quality`: marking a whole file with one symbol, and what it costs in PSNR/SSIM.
//! - `cmaf`, `manifest`: our ISO-BMFF segments and the HLS/DASH text that points at them.
//! - `cenc`: Common Encryption (cenc/cbcs) of those segments, DRM signalling, CPIX, decryption.
//! - `variants`: the encode-time pipeline that writes both watermark variants, aligned.
//! - `mix`: the exact stream one viewer receives (segment i from variant bit i), as one MP4.
//! - `payload`: session index -> keyed, Reed-Solomon-coded 64-bit session code, and back.
//! - `serve`: the HTTP edge: personalised manifests, ETSI edge mode, the session log.
//! - `token`, `pace`: ETSI TS 104 002 WM tokens (CWT/JWT) and WMPaceInfo (sidecar, `wmpi` box).
//! - `register`: bringing a copy back to the reference's geometry and tone.
//! - `symbols`: the per-segment symbol detector that ties registration and scoring together.
//! - `detect`: leak detection: temporal registration, symbols, session code, evidence.

pub mod cenc;
pub mod cmaf;
pub mod detect;
pub mod dsp;
pub mod frame;
pub mod jsonl;
pub mod key;
pub mod licence;
pub mod manifest;
pub mod mark;
pub mod media;
pub mod mix;
pub mod output;
pub mod pace;
pub mod payload;
pub mod quality;
pub mod register;
pub mod serve;
pub mod symbols;
pub mod token;
pub mod variants;
pub mod wm;
