//! `--plot`: the per-segment scores of a copy against the accused session's bits, as an SVG a
//! person can read at a glance (and attach to a takedown notice).
//!
//! One bar per segment, its height the score `z` (up: symbol 0, down: symbol 1). The accused
//! session's expected bit is drawn as a small tick on the side the bar should point to. Bars are
//! green when the decided symbol is the expected one, red when it is the other, grey when
//! undecided; dashed lines mark the decision threshold.

use std::fmt::Write as _;
use std::path::Path;

use super::DetectReport;
use abmark_files::output::{write_atomic, OutputError};
use abmark_wm::Symbol;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 360.0;
const MARGIN: f64 = 40.0;

/// The SVG text of `report`'s segments.
pub fn svg(report: &DetectReport, threshold: f64) -> String {
    let segments = &report.segments;
    let zmax = segments.iter().map(|s| s.z.abs()).fold(threshold * 1.5, f64::max);
    let plot_w = WIDTH - 2.0 * MARGIN;
    let mid = HEIGHT / 2.0;
    let scale = (HEIGHT / 2.0 - MARGIN) / zmax;
    let step = plot_w / segments.len().max(1) as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = quick_xml::escape::escape(report.message.as_str());
    let _ = writeln!(s, r#"<text x="{MARGIN}" y="20">{title}</text>"#);
    for (y, label) in
        [(mid - threshold * scale, "+z\u{2080}"), (mid + threshold * scale, "\u{2212}z\u{2080}")]
    {
        let _ = writeln!(
            s,
            r##"<line x1="{MARGIN}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#888" stroke-dasharray="4 3"/>"##,
            WIDTH - MARGIN
        );
        if !label.is_empty() {
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{:.1}" fill="#666">{label}</text>"##,
                WIDTH - 150.0,
                y - 4.0
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<line x1="{MARGIN}" x2="{}" y1="{mid}" y2="{mid}" stroke="black"/>"#,
        WIDTH - MARGIN
    );
    for (i, seg) in segments.iter().enumerate() {
        let x = MARGIN + i as f64 * step;
        let h = seg.z * scale;
        let colour = match (seg.symbol, seg.expected) {
            (Some(a), Some(b)) if a == b => "#2a9d3a",
            (Some(_), Some(_)) => "#d62828",
            _ => "#aaaaaa",
        };
        let (y, height) = if h >= 0.0 { (mid - h, h) } else { (mid, -h) };
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{height:.1}" fill="{colour}"><title>segment {} z {:.2}</title></rect>"#,
            x + step * 0.1,
            step * 0.8,
            seg.index,
            seg.z
        );
        if let Some(bit) = seg.expected {
            let ty = if bit == Symbol::Zero { mid - 6.0 } else { mid + 2.0 };
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{ty:.1}" width="{:.1}" height="4" fill="black"/>"#,
                x + step * 0.3,
                step * 0.4
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="{}">segments (index in the reference) · bar: z (up = symbol 0) · tick: accused session's bit · dashed: ±z₀ decision threshold · green = agrees, red = disagrees, grey = undecided</text>"#,
        HEIGHT - 10.0
    );
    s.push_str("</svg>\n");
    s
}

/// Writes the plot to `path` (temp file, then rename).
pub fn write_svg(report: &DetectReport, path: &Path, threshold: f64) -> Result<(), OutputError> {
    write_atomic(path, svg(report, threshold).as_bytes(), true)
}
