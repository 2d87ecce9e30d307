//! The informed detector's per-frame work, with no I/O: reference frames reduced to block means
//! and masks ([`ReferenceReducer`]), copy frames scored against them into per-segment matched
//! filters ([`FrameScorer`]), "the alignment is lost here" ([`LossMonitor`]), and the spatial
//! registration of a piece from a few frame pairs ([`NearestFrames`], [`register_frames`]).
//! Which frames to decode, and when, is the detection pipeline's (`abmark-detect`).

mod reference;
mod registration;
mod scorer;
mod tracking;

pub use reference::{region_grid, Reference, ReferenceReducer};
pub use registration::{candidate_times, register_frames, Fit, NearestFrames};
pub use scorer::FrameScorer;
pub use tracking::{LossMonitor, ALIGNED_CORRELATION};
