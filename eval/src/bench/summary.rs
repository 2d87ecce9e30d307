//! Figures derived from a [`BenchReport`] that the tables and the charts both show: sums per
//! attack, detection speed per clip, a peer's accuracy on an attack, who a collusion copy named,
//! and the number formats. It computes and formats numbers; it lays out nothing.

use super::model::{BenchReport, CellReport, CollusionReport, PeerMethod};

/// One attack over every clip and session it ran on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttackSummary {
    pub attack: String,
    /// Attacked copies (cells).
    pub copies: usize,
    pub segments: usize,
    pub correct: usize,
    pub wrong: usize,
    pub undecided: usize,
    /// The weakest segment over all copies (None: no copy had a finite margin).
    pub worst_llr_margin: Option<f64>,
    pub blind_named: usize,
    pub candidate_named: usize,
    /// `seconds_needed` of the copies candidate mode named, in cell order.
    pub seconds_needed: Vec<f64>,
    pub false_accusations: usize,
}

impl AttackSummary {
    fn add(&mut self, cell: &CellReport) {
        self.copies += 1;
        self.segments += cell.segments;
        self.correct += cell.correct;
        self.wrong += cell.wrong;
        self.undecided += cell.undecided;
        if let Some(m) = finite(cell.worst_llr_margin) {
            self.worst_llr_margin = Some(self.worst_llr_margin.map_or(m, |w| w.min(m)));
        }
        self.blind_named += usize::from(cell.blind_named);
        self.candidate_named += usize::from(cell.candidate_named);
        self.seconds_needed.extend(cell.seconds_needed.and_then(finite));
        self.false_accusations += usize::from(cell.false_accusation);
    }

    /// Segments decided right over segments scored; undecided ones count as not right.
    pub fn right_share(&self) -> Option<f64> {
        ratio(self.correct as f64, self.segments as f64)
    }

    /// Wrong over decided: how often a decision, once made, is wrong.
    pub fn error_rate(&self) -> Option<f64> {
        ratio(self.wrong as f64, (self.correct + self.wrong) as f64)
    }

    pub fn median_seconds_needed(&self) -> Option<f64> {
        median(&self.seconds_needed)
    }
}

/// One summary per attack name, in `report.attacks` order; attacks that only appear in cells
/// follow in the order first seen, so no cell is silently left out of the headline. A name listed
/// twice (two attack files share an attack) gets one row: cells cannot tell the two apart.
pub fn per_attack(report: &BenchReport) -> Vec<AttackSummary> {
    let mut out: Vec<AttackSummary> = Vec::new();
    let names =
        report.attacks.iter().map(|a| &a.name).chain(report.cells.iter().map(|c| &c.attack));
    for name in names {
        if !out.iter().any(|s| s.attack == *name) {
            out.push(AttackSummary { attack: name.clone(), ..Default::default() });
        }
    }
    for cell in &report.cells {
        if let Some(s) = out.iter_mut().find(|s| s.attack == cell.attack) {
            s.add(cell);
        }
    }
    out
}

/// How fast the detector read one clip's copies, as multiples of the copies' own duration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DetectSpeed {
    /// Sum of copy seconds over sum of detect seconds.
    pub realtime: Option<f64>,
    /// The slowest single copy's factor.
    pub slowest: Option<f64>,
}

pub fn detect_speed(report: &BenchReport, clip: &str) -> DetectSpeed {
    // Cells without a positive detect time would divide by zero, and a copy that was never
    // placed in the reference (no match) spans no seconds: neither says anything about speed.
    let timed = report
        .cells
        .iter()
        .filter(|c| c.clip == clip && c.detect_seconds > 0.0 && c.copy_seconds > 0.0);
    let (mut copy, mut detect, mut slowest) = (0.0, 0.0, None::<f64>);
    for cell in timed {
        copy += cell.copy_seconds;
        detect += cell.detect_seconds;
        if let Some(f) = finite(cell.copy_seconds / cell.detect_seconds) {
            slowest = Some(slowest.map_or(f, |s| s.min(f)));
        }
    }
    DetectSpeed { realtime: ratio(copy, detect), slowest }
}

/// The peer's share (0..1) of payload bits right after majority vote on `attack`, if it ran it.
pub fn peer_accuracy(peer: &PeerMethod, attack: &str) -> Option<f64> {
    peer.accuracy.iter().find(|(a, _)| a == attack).and_then(|(_, v)| finite(*v))
}

/// Did this collusion copy name someone who did not collude? Checked against the sessions as
/// well as the runner's own flag, so a wrong flag cannot hide a wrong name.
pub fn named_innocent(c: &CollusionReport) -> bool {
    c.innocent_named || c.named.is_some_and(|s| !c.sessions.contains(&s))
}

/// Attacked copies per clip and attack: `3`, or `2–3` when the matrix was uneven.
pub fn sessions_per_attack(report: &BenchReport) -> String {
    let mut counts: Vec<((&str, &str), usize)> = Vec::new();
    for cell in &report.cells {
        let key = (cell.clip.as_str(), cell.attack.as_str());
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let min = counts.iter().map(|(_, n)| *n).min().unwrap_or(0);
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    if min == max {
        min.to_string()
    } else {
        format!("{min}–{max}")
    }
}

/// `1 clip`, `2 clips`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    if den > 0.0 {
        finite(num / den)
    } else {
        None
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// A share (0..1) as a percentage with one decimal. Never rounds an error away or a
/// shortfall up: 0.0004 shows as `<0.1%`, 0.9996 as `>99.9%`.
pub fn pct(share: Option<f64>) -> String {
    let Some(p) = share.and_then(finite).map(|s| s * 100.0) else { return "-".into() };
    if p > 0.0 && p < 0.05 {
        "<0.1%".into()
    } else if (99.95..100.0).contains(&p) {
        ">99.9%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// A probability bound, `3.2e-12`.
pub fn prob(p: Option<f64>) -> String {
    p.and_then(finite).map_or("-".into(), |p| format!("{p:.1e}"))
}

/// A plain number with `decimals` places, `-` when missing or not finite.
pub fn num(x: Option<f64>, decimals: usize) -> String {
    x.and_then(finite).map_or("-".into(), |x| format!("{x:.decimals$}"))
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_attack_name_and_none_left_out() {
        let mut report = crate::bench::testdata::report();
        let listed = report.attacks.len();
        report.attacks.push(report.attacks[1].clone());
        report.cells[0].attack = "unlisted".into();
        let rows = per_attack(&report);
        assert_eq!(rows.len(), listed + 1);
        let crf28 = rows.iter().find(|s| s.attack == "crf 28");
        assert_eq!(crf28.map(|s| (s.copies, s.correct, s.segments)), Some((2, 17, 20)));
        assert_eq!(rows.last().map(|s| (s.attack.as_str(), s.copies)), Some(("unlisted", 1)));
    }

    #[test]
    fn detection_speed_skips_untimed_copies() {
        let mut report = crate::bench::testdata::report();
        report.cells[0].detect_seconds = 0.0;
        let speed = detect_speed(&report, "clip-a");
        assert_eq!(speed.realtime.map(|x| (x * 10.0).round()), Some(200.0));
        // A copy never placed in the reference spans 0 s: not a speed of 0x.
        let mut unplaced = report.cells[1].clone();
        unplaced.copy_seconds = 0.0;
        report.cells.push(unplaced);
        assert_eq!(detect_speed(&report, "clip-a"), speed);
        assert_eq!(detect_speed(&report, "nowhere"), DetectSpeed::default());
    }

    #[test]
    fn formats_do_not_hide_errors() {
        assert_eq!(pct(Some(0.0)), "0.0%");
        assert_eq!(pct(Some(0.0004)), "<0.1%");
        assert_eq!(pct(Some(0.9996)), ">99.9%");
        assert_eq!(pct(Some(1.0)), "100.0%");
        assert_eq!(pct(Some(f64::NAN)), "-");
        assert_eq!(prob(Some(3.2e-12)), "3.2e-12");
        assert_eq!(prob(None), "-");
        assert_eq!(median(&[3.0, 1.0, 2.0, f64::NAN]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
