//! abmark-charts: how abmark's HTML reports look, shared by the benchmark (`eval bench`) and
//! the piracy analytics (`abmark analytics --html`), so both pages have one style and one
//! drawing kit.
//!
//! - [`bars`]: the shared colours, fonts, a legend strip and horizontal bar panels (plotters,
//!   SVG backend).
//! - [`page`]: the page's CSS, HTML escaping, tables, and SVG rendering of stacked panels.
//!
//! May depend on: plotters (SVG only), quick-xml (escaping), anyhow. Must not: know what a
//! report measures, open files, or fetch anything: pages are one self-contained file.

pub mod bars;
pub mod page;
