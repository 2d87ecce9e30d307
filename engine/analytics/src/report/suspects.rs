//! The flagged subjects as a deny-list file (`abmark_delivery::deny`, the format the edge and
//! the licence service re-read live), each under its reasons as comments.

use abmark_delivery::deny::{render, DenyEntry};

use crate::score::Analysis;

/// The deny-list text of every flagged subject, strongest first.
pub fn suspects(analysis: &Analysis, header: &str) -> String {
    let reasons: Vec<Vec<String>> = analysis
        .subjects
        .iter()
        .filter(|s| s.flagged)
        .map(|s| {
            let mut lines = vec![format!("score {:.1}", s.score)];
            lines.extend(
                s.reasons
                    .iter()
                    .filter(|r| r.raised)
                    .map(|r| format!("{}: {} (z {:.1})", code_name(r.code), r.text, r.z)),
            );
            lines
        })
        .collect();
    let entries: Vec<DenyEntry<'_>> = analysis
        .subjects
        .iter()
        .filter(|s| s.flagged)
        .zip(&reasons)
        .map(|(s, r)| DenyEntry { subject: &s.subject, reasons: r })
        .collect();
    render(header, &entries)
}

/// A code as JSON names it (`token-sharing`).
pub fn code_name(code: crate::score::Code) -> String {
    serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
