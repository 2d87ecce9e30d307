//! The simulator's ground truth (one JSON line per subject: its label) and how a ranking is
//! measured against it: precision and recall of the flagged subjects, and precision of the top
//! k where k is the number of abusers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::score::Analysis;

/// What a simulated subject was.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Honest,
    /// Fetched whole titles far faster than real time and/or across the ladder.
    Ripper,
    /// Shared a token, or the account, with other people at the same time.
    Sharer,
    /// Played non-stop from a server, several channels at once.
    Restreamer,
}

/// One line of the labels file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabelRecord {
    pub subject: String,
    pub label: Label,
    /// How this subject behaved (for reading misses), e.g. `ladder 1x`.
    #[serde(default)]
    pub detail: String,
}

/// A ranking measured against the labels.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Evaluation {
    pub subjects: usize,
    pub abusers: usize,
    pub flagged: usize,
    pub flagged_abusers: usize,
    /// Flagged abusers / flagged (1 when nobody is flagged).
    pub precision: f64,
    /// Flagged abusers / abusers (1 when there are none).
    pub recall: f64,
    /// Abusers among the top `abusers` of the ranking.
    pub precision_at_k: f64,
    /// Per label: (label, subjects, flagged).
    pub by_label: Vec<(Label, usize, usize)>,
    /// Honest subjects flagged, with their reasons' codes, for reading.
    pub false_flags: Vec<String>,
    /// Abusers not flagged, with their detail.
    pub misses: Vec<String>,
}

/// Measures `analysis` against `labels` (subjects missing from the labels count as honest).
pub fn evaluate(analysis: &Analysis, labels: &[LabelRecord]) -> Evaluation {
    let label: HashMap<&str, &LabelRecord> =
        labels.iter().map(|l| (l.subject.as_str(), l)).collect();
    let is_abuser = |s: &str| label.get(s).is_some_and(|l| l.label != Label::Honest);
    let abusers = labels.iter().filter(|l| l.label != Label::Honest).count();
    let flagged: Vec<&str> =
        analysis.subjects.iter().filter(|s| s.flagged).map(|s| s.subject.as_str()).collect();
    let flagged_abusers = flagged.iter().filter(|s| is_abuser(s)).count();
    let top = analysis.subjects.iter().take(abusers).filter(|s| is_abuser(&s.subject)).count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let mut by_label: Vec<(Label, usize, usize)> = Vec::new();
    for kind in [Label::Honest, Label::Ripper, Label::Sharer, Label::Restreamer] {
        let of_kind = labels.iter().filter(|l| l.label == kind);
        let n = of_kind.clone().count();
        let found = of_kind.filter(|l| flagged.contains(&l.subject.as_str())).count();
        by_label.push((kind, n, found));
    }
    let false_flags = analysis
        .subjects
        .iter()
        .filter(|s| s.flagged && !is_abuser(&s.subject))
        .map(|s| {
            let codes: Vec<String> = s
                .reasons
                .iter()
                .filter(|r| r.raised)
                .map(|r| format!("{} ({})", crate::report::suspects::code_name(r.code), r.text))
                .collect();
            format!("{}: {}", s.subject, codes.join("; "))
        })
        .collect();
    let misses = labels
        .iter()
        .filter(|l| l.label != Label::Honest && !flagged.contains(&l.subject.as_str()))
        .map(|l| format!("{} ({:?}, {})", l.subject, l.label, l.detail))
        .collect();
    Evaluation {
        subjects: labels.len(),
        abusers,
        flagged: flagged.len(),
        flagged_abusers,
        precision: ratio(flagged_abusers, flagged.len()),
        recall: ratio(flagged_abusers, abusers),
        precision_at_k: ratio(top, abusers),
        by_label,
        false_flags,
        misses,
    }
}
