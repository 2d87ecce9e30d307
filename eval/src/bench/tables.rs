//! The report's tables and sentences as plain text cells, built once for both writers: the
//! Markdown writer and the HTML writer only choose markup. Numbers come from `summary`; nothing
//! here escapes text for any format.

use super::model::BenchReport;
use super::summary::{self, num, pct, prob, yes_no};

/// A table as text: a header row and body rows of the same width.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[&str]) -> Self {
        Table { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }
}

/// Which part of the report a section is, so the HTML page can put its charts beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Headline,
    Quality,
    Speed,
    Collusion,
    Innocent,
}

/// A titled part of the report: sentences before its tables, then the tables in order.
#[derive(Clone, Debug)]
pub struct Section {
    pub part: Part,
    pub title: &'static str,
    pub text: Vec<String>,
    pub tables: Vec<Table>,
}

/// What the quality figures compare: not the same pairs for abmark and the peers.
const QUALITY_NOTE: &str = "abmark: each variant's encoded frames against the clean encode (the \
    source through the same encoder and settings, no watermark), so the encoder's different \
    choices on marked frames count too. Peers: their marked frames against the unmarked ones, \
    before any encoding.";

/// Every section of the report, in reading order.
pub fn sections(report: &BenchReport) -> Vec<Section> {
    vec![
        Section {
            part: Part::Headline,
            title: "Headline: every attack",
            text: vec![headline_note(report)],
            tables: vec![headline(report)],
        },
        Section {
            part: Part::Quality,
            title: "Quality: each variant against the clean encode",
            text: vec![QUALITY_NOTE.to_owned()],
            tables: [Some(quality(report)), peer_quality(report)].into_iter().flatten().collect(),
        },
        Section {
            part: Part::Speed,
            title: "Speed",
            text: vec![],
            tables: [Some(speed(report)), peer_speed(report)].into_iter().flatten().collect(),
        },
        Section {
            part: Part::Collusion,
            title: "Collusion: two viewers mixed",
            text: vec![collusion_verdict(report)],
            tables: vec![collusion(report)],
        },
        Section {
            part: Part::Innocent,
            title: "Innocent copies: nobody may be named",
            text: vec![innocent_verdict(report)],
            tables: vec![innocent(report)],
        },
    ]
}

/// What was run, without the command (each writer marks that up as code).
pub fn run_line(report: &BenchReport) -> String {
    let sessions = summary::sessions_per_attack(report);
    format!(
        "{}, {}, {sessions} {} per clip and attack, a session log of {}; {} run, {} min on {}.",
        summary::count(report.clips.len(), "clip"),
        summary::count(report.attacks.len(), "attack"),
        if sessions == "1" { "session" } else { "sessions" },
        report.log_size,
        if report.quick { "quick" } else { "full" },
        num(Some(report.seconds / 60.0), 1),
        summary::count(report.cores, "core")
    )
}

fn headline_note(report: &BenchReport) -> String {
    let mut note = String::from(
        "Segments right: 2-s segments whose symbol was decided right over all scored (undecided \
         ones count as not right). Symbol error rate: wrong over decided. Named: copies whose \
         session was named, blind and against the session log. Seconds needed: median over the \
         named copies of the shortest start that names the session (named/copies when some were \
         not). False accusations: copies from which a log of others only would name someone.",
    );
    if !report.peers.is_empty() {
        note.push_str(
            " Peer columns: share of payload bits right after a majority vote over frames — not \
             the same measure (a peer carries all its bits in every frame).",
        );
    }
    note
}

pub fn headline(report: &BenchReport) -> Table {
    let mut headers = vec![
        "attack",
        "copies",
        "segments right",
        "symbol error rate",
        "worst LLR margin",
        "blind named",
        "candidate named",
        "seconds needed",
        "false accusations",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    headers.extend(report.peers.iter().map(|p| format!("{} (vote)", p.method)));
    let mut table = Table { headers, rows: Vec::new() };
    for s in summary::per_attack(report) {
        let mut row = vec![
            s.attack.clone(),
            s.copies.to_string(),
            right(&s),
            pct(s.error_rate()),
            num(s.worst_llr_margin, 1),
            format!("{}/{}", s.blind_named, s.copies),
            format!("{}/{}", s.candidate_named, s.copies),
            seconds_needed(&s),
            s.false_accusations.to_string(),
        ];
        row.extend(report.peers.iter().map(|p| pct(summary::peer_accuracy(p, &s.attack))));
        table.rows.push(row);
    }
    table
}

/// `90.0% (27/30)`, or `-` for an attack no segment was scored on.
fn right(s: &summary::AttackSummary) -> String {
    match s.right_share() {
        Some(share) => format!("{} ({}/{})", pct(Some(share)), s.correct, s.segments),
        None => "-".into(),
    }
}

fn seconds_needed(s: &summary::AttackSummary) -> String {
    let median = num(s.median_seconds_needed(), 1);
    let named = s.seconds_needed.len();
    if named == 0 || named == s.copies {
        median
    } else {
        format!("{median} ({named}/{})", s.copies)
    }
}

pub fn quality(report: &BenchReport) -> Table {
    let mut table = Table::new(&[
        "clip",
        "variant",
        "PSNR Y dB",
        "SSIM mean / min",
        "SSIMULACRA2 mean / min",
        "frames compared",
    ]);
    for clip in &report.clips {
        for q in &clip.quality {
            table.rows.push(vec![
                clip.name.clone(),
                q.variant.to_string(),
                num(Some(q.psnr_y), 2),
                format!("{} / {}", num(Some(q.ssim), 4), num(Some(q.ssim_min), 4)),
                format!("{} / {}", num(Some(q.ssimulacra2), 1), num(Some(q.ssimulacra2_min), 1)),
                format!("{} (every {})", q.frames, q.step),
            ]);
        }
    }
    table
}

fn peer_quality(report: &BenchReport) -> Option<Table> {
    if report.peers.is_empty() {
        return None;
    }
    let mut table = Table::new(&["peer", "PSNR Y dB"]);
    for p in &report.peers {
        table.rows.push(vec![p.method.clone(), num(Some(p.psnr_y), 2)]);
    }
    Some(table)
}

pub fn speed(report: &BenchReport) -> Table {
    let mut table = Table::new(&[
        "clip",
        "size",
        "embed frames/s per core",
        "variants frames/s (all cores)",
        "variants wall s",
        "detection × real time",
        "slowest copy × real time",
    ]);
    for clip in &report.clips {
        let detect = summary::detect_speed(report, &clip.name);
        table.rows.push(vec![
            clip.name.clone(),
            format!("{}x{}, {} s", clip.width, clip.height, num(Some(clip.seconds), 0)),
            num(Some(clip.embed_fps_per_core), 0),
            num(Some(clip.variants_fps), 0),
            num(Some(clip.variants_seconds), 1),
            num(detect.realtime, 1),
            num(detect.slowest, 1),
        ]);
    }
    table
}

fn peer_speed(report: &BenchReport) -> Option<Table> {
    if report.peers.is_empty() {
        return None;
    }
    let mut table = Table::new(&["peer", "embed ms/frame", "read ms/frame"]);
    for p in &report.peers {
        table.rows.push(vec![
            p.method.clone(),
            num(Some(p.embed_ms_per_frame), 1),
            num(Some(p.read_ms_per_frame), 1),
        ]);
    }
    Some(table)
}

pub fn collusion(report: &BenchReport) -> Table {
    let mut table = Table::new(&[
        "clip",
        "attack",
        "sessions",
        "share from first",
        "verdict",
        "named",
        "named a colluder",
        "colluder p",
        "innocent named",
    ]);
    for c in &report.collusion {
        let is_colluder = c.named.map(|s| yes_no(c.sessions.contains(&s)));
        table.rows.push(vec![
            c.clip.clone(),
            c.attack.clone(),
            format!("{} + {}", c.sessions[0], c.sessions[1]),
            pct(Some(c.share_first)),
            c.verdict.clone(),
            c.named.map_or("nobody".into(), |s| s.to_string()),
            is_colluder.unwrap_or("-").into(),
            format!("{} / {}", prob(Some(c.colluder_p[0])), prob(Some(c.colluder_p[1]))),
            yes_no(summary::named_innocent(c)).into(),
        ]);
    }
    table
}

/// The collusion result in one sentence, counted from the rows.
pub fn collusion_verdict(report: &BenchReport) -> String {
    let n = report.collusion.len();
    if n == 0 {
        return "No collusion copies in this run.".into();
    }
    let wrong = report.collusion.iter().filter(|c| summary::named_innocent(c)).count();
    let colluder = report
        .collusion
        .iter()
        .filter(|c| c.named.is_some_and(|s| c.sessions.contains(&s)))
        .count();
    if wrong == 0 {
        format!(
            "No innocent was named in any of the {n} collusion copies; {colluder} of them named \
             a colluder."
        )
    } else {
        format!("An innocent was named in {wrong} of the {n} collusion copies.")
    }
}

pub fn innocent(report: &BenchReport) -> Table {
    let mut table = Table::new(&["clip", "copy", "verdict", "accused"]);
    for i in &report.innocent {
        table.rows.push(vec![
            i.clip.clone(),
            i.what.clone(),
            i.verdict.clone(),
            yes_no(i.accused).into(),
        ]);
    }
    table
}

/// The innocent-copy result in one sentence, counted from the rows.
pub fn innocent_verdict(report: &BenchReport) -> String {
    let n = report.innocent.len();
    if n == 0 {
        return "No copies without a session in this run.".into();
    }
    let accused = report.innocent.iter().filter(|i| i.accused).count();
    format!("{accused} of the {n} copies that carry no session accused a session.")
}

/// Every attacked copy, for the page's detail view.
pub fn cells(report: &BenchReport) -> Table {
    let mut table = Table::new(&[
        "clip",
        "attack",
        "session",
        "copy s",
        "right / wrong / undecided",
        "worst LLR margin",
        "verdict",
        "blind named",
        "candidate named",
        "seconds needed",
        "detect s",
    ]);
    for c in &report.cells {
        table.rows.push(vec![
            c.clip.clone(),
            c.attack.clone(),
            c.session.to_string(),
            num(Some(c.copy_seconds), 1),
            format!("{} / {} / {}", c.correct, c.wrong, c.undecided),
            num(Some(c.worst_llr_margin), 1),
            c.verdict.clone(),
            yes_no(c.blind_named).into(),
            yes_no(c.candidate_named).into(),
            num(c.seconds_needed, 1),
            num(Some(c.detect_seconds), 2),
        ]);
    }
    table
}
