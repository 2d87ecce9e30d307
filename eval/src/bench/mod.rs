//! `eval bench`: the robustness benchmark in one run. Clips x attacks x sessions through the
//! real detector (per-segment symbol errors, worst LLR margin, blind and candidate naming,
//! seconds of copy needed, false accusations), two-viewer collusion, copies without a session,
//! the variants' quality against the clean encode (PSNR, SSIM, SSIMULACRA2), embedding and
//! detection speed, and the peers side by side, written as Markdown, JSON and one
//! self-contained HTML page with charts.
//!
//! A run is three steps, the same code in one process or as separate jobs on a cluster over a
//! shared work directory ([`run`]): [`prepare`] (variants, quality, speed, and the plan with
//! every random draw, [`plan`]), the cells ([`units`], each result saved by [`results`]), and
//! [`merge`] into the report.

mod cells;
mod clip;
mod merge;
mod peers;
mod plan;
mod prepare;
mod results;
mod run;
mod units;
mod write;

pub use run::{run, Args};

pub mod charts;
pub mod html;
pub mod markdown;
pub mod model;
pub mod quality;
mod summary;
mod tables;
#[cfg(test)]
mod testdata;
