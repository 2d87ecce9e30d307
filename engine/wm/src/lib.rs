//! abmark-wm: the watermark core, pure computation over luma planes.
//!
//! A frame is marked on a coarse *block grid* (about 160 blocks across, whatever the resolution):
//! the key and segment index give a smooth band-limited pattern on that grid ([`pattern`]), the
//! frame's own texture and brightness give a per-block strength ([`mask`]), and their product is
//! upsampled bilinearly and added to the luma plane ([`embed`]). Symbol 0 adds the pattern and
//! symbol 1 subtracts it (antipodal: the two symbols are as far apart as the distortion budget
//! allows). Detection is informed: the copy, brought to the reference's geometry, minus the
//! reference, is accumulated on the same grid over a segment and correlated with the pattern
//! ([`score`]). Nothing here knows about files, codecs or HTTP.
//!
//! Rooms: `frame` (plain luma views), `dsp` (FFT, integral images), `key` (the secret and its
//! derivations), `pattern`, `mask`, `embed`, `upsample`, `score` (the watermark itself),
//! `register` (a copy's geometry, tone and time offset against the reference), `detector` (the
//! informed detector's per-frame work), `payload` (session index <-> 64-bit session code),
//! `quality` (PSNR / SSIM), `simd` (the hot per-pixel kernels: AVX2 paths beside their scalar
//! twins, chosen at run time).
//!
//! May depend on: numeric and RustCrypto crates, rayon. Must not: open files or sockets, link
//! FFmpeg or an async runtime. It takes planes and returns statistics, so a batch job, a player
//! or a test can run it without media files.

pub mod detector;
pub mod dsp;
pub mod embed;
pub mod frame;
pub mod grid;
pub mod key;
pub mod mask;
mod params;
pub mod pattern;
pub mod payload;
pub mod quality;
pub mod register;
pub mod score;
pub mod simd;
mod upsample;

pub use embed::Embedder;
pub use grid::BlockGrid;
pub use params::{Symbol, WatermarkParams};
pub use pattern::{Pattern, PatternBank};
pub use score::{SegmentAccumulator, SegmentScore};
