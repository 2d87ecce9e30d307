//! `eval detect`: leak detection end to end on the real clip. For each of N random sessions,
//! the viewer's exact stream (`abmark mix`'s engine call) goes through every attack (core list
//! plus the detection list: excerpts with random starts, HEVC, frame-rate change, excerpt +
//! scale + CRF 30), and `detect` must name the session — blind, and from a session log of
//! `--log-size` sessions that includes it. False accusations are counted over every attacked
//! copy scored against a log of other sessions only, over the unmarked source put through every
//! attack, and over an unrelated clip.
//!
//! The full matrix takes hours on two cores, so every finished cell is appended to
//! `WORK/cells-seed<S>.jsonl` and a rerun with the same seed skips it; each cell draws its
//! excerpt start from its own seeded stream, so a resumed run cuts the same copies. The report is
//! rewritten after every cell and says how much of the matrix it covers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use abmark_delivery::ids::SessionId;
use abmark_delivery::layout::JobFile;
use abmark_delivery::pace::PaceTable;
use abmark_detect::symbols::SegmentDecision;
use abmark_detect::{
    detect, load_fingerprints, Candidate, DetectOptions, DetectReport, Positions, Readings,
    SegmentEvidence,
};
use abmark_media::mix::{mix, session_choices};
use abmark_wm::payload::{SessionCoder, CODE_BITS};
use anyhow::Context;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use crate::attack::{apply, Attack};

#[derive(clap::Args)]
pub struct Args {
    /// A variants output of the real clip (the main job's by default).
    #[arg(long, default_value = "out/variants")]
    out: PathBuf,
    #[arg(long, default_value = "out/wm.key")]
    key: PathBuf,
    /// Attack lists (JSON), in order.
    #[arg(long, default_values = ["eval/attacks/core.json", "eval/attacks/detect.json"])]
    attacks: Vec<PathBuf>,
    /// Random sessions to test.
    #[arg(long, default_value_t = 20)]
    sessions: usize,
    /// Sessions in the simulated session log (candidate mode).
    #[arg(long, default_value_t = 100_000)]
    log_size: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only the first N attacks of the lists.
    #[arg(long)]
    max_attacks: Option<usize>,
    #[arg(long, default_value = "target/eval-work/detect")]
    work: PathBuf,
    #[arg(long, default_value = "eval/report/detect")]
    report: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Row {
    session: u32,
    attack: String,
    copy_seconds: f64,
    verdict: String,
    blind_named: bool,
    blind_any_innocent: Option<f64>,
    candidate_named: bool,
    candidate_p_innocent: Option<f64>,
    positions_decided: usize,
    wrong_segments: usize,
    /// Detections over this copy with a log of other sessions only: would anyone be named?
    false_accusation: bool,
    detect_seconds: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = abmark_files::keyfile::load_key(&args.key).context("watermark key")?;
    let coder = SessionCoder::new(&key)?;
    let job = JobFile::load(&args.out)?;
    let pace = PaceTable::load(&args.out, &job)?;
    let positions = Positions(pace.positions().to_vec());
    let index = load_fingerprints(&args.out)?;
    let source = PathBuf::from(&job.source);
    let reference = abmark_detect::ReferenceVideo::Source(source.clone());
    let mut attacks: Vec<Attack> = crate::attack::load_attacks(&args.attacks)?;
    if let Some(n) = args.max_attacks {
        attacks.truncate(n);
    }
    std::fs::create_dir_all(&args.work)?;
    let mut rng = ChaCha20Rng::seed_from_u64(args.seed);
    let sessions: Vec<u32> = (0..args.sessions).map(|_| rng.next_u32()).collect();
    // The log: the tested sessions plus random others; and a log of others only.
    let others: Vec<Candidate> =
        (0..args.log_size).map(|_| candidate(&coder, rng.next_u32())).collect();
    let options = DetectOptions::default();
    let duration = job.segment_count as f64 * 2.0;
    let cells = args.work.join(format!("cells-seed{}.jsonl", args.seed));
    let mut done = Done::load(&cells)?;
    let started = Instant::now();
    let total = attacks.len() * (sessions.len() + 1) + 1;

    // Copies that carry no session first: the unmarked source through every attack, and an
    // unrelated clip. Scored against the log of others: nobody may be named.
    let unrelated = crate::repo_root().join("datasets/cache/unrelated-720p.mp4");
    let mut plain: Vec<(String, PathBuf, Option<&Attack>)> = attacks
        .iter()
        .map(|a| (format!("unmarked source, {}", a.name), source.clone(), Some(a)))
        .collect();
    plain.push(("unrelated clip".into(), unrelated, None));
    for (i, (what, input, attack)) in plain.iter().enumerate() {
        if done.unmarked.iter().any(|u| &u.what == what) {
            continue;
        }
        let copy = args.work.join("copy.mp4");
        let input = match attack {
            Some(attack) => {
                let start = attack.excerpt_start(&mut cell_rng(args.seed, 0, i), duration);
                apply(attack, input, &copy, start)?;
                copy.as_path()
            }
            None => input.as_path(),
        };
        let r = detect(
            input,
            &reference,
            index.clone(),
            &positions,
            &key,
            Some(&others),
            &options,
            &mut |_| {},
        )?;
        let u = Unmarked {
            what: what.clone(),
            verdict: format!("{:?}", r.verdict),
            accused: r.accused.is_some() || falsely_accused(&r, &others, options.alpha),
        };
        eprintln!("{:<60} {:<12} accused {}", u.what, u.verdict, u.accused);
        done.push_unmarked(&cells, u)?;
        write_report(&args, &done, total, started.elapsed().as_secs_f64())?;
    }

    for &session in &sessions {
        if attacks.iter().all(|a| done.has(session, &a.name)) {
            continue;
        }
        let viewer = args.work.join(format!("viewer-{session}.mp4"));
        let choices = session_choices(pace.positions(), &coder.encode(session));
        mix(&args.out, &job, None, &choices, &viewer)?;
        let mut log = others.clone();
        log.push(candidate(&coder, session));
        for (i, attack) in attacks.iter().enumerate() {
            if done.has(session, &attack.name) {
                continue;
            }
            let copy = args.work.join("copy.mp4");
            let start = attack.excerpt_start(&mut cell_rng(args.seed, session, i), duration);
            apply(attack, &viewer, &copy, start)?;
            let t = Instant::now();
            let report = detect(
                &copy,
                &reference,
                index.clone(),
                &positions,
                &key,
                Some(&log),
                &options,
                &mut |_| {},
            )?;
            let seconds = t.elapsed().as_secs_f64();
            let row = row(session, attack, &report, &others, &options, seconds);
            eprintln!(
                "{session:>10} {:<40} {:<10} blind {} candidate {} ({} positions, {:.1} s)",
                attack.name,
                row.verdict,
                row.blind_named,
                row.candidate_named,
                row.positions_decided,
                seconds
            );
            done.push_row(&cells, row)?;
            write_report(&args, &done, total, started.elapsed().as_secs_f64())?;
        }
        let _ = std::fs::remove_file(&viewer);
    }
    Ok(())
}

/// Each cell's own random stream (excerpt starts), so a resumed run cuts the same copies.
fn cell_rng(seed: u64, session: u32, attack: usize) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(((session as u64) << 16) | attack as u64);
    rng
}

/// The cells finished so far (this run and earlier runs with the same seed).
#[derive(Default)]
struct Done {
    rows: Vec<Row>,
    unmarked: Vec<Unmarked>,
}

#[derive(Serialize, Deserialize)]
enum Line {
    Row(Row),
    Unmarked(Unmarked),
}

impl Done {
    fn load(path: &Path) -> anyhow::Result<Done> {
        let mut done = Done::default();
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(done);
        };
        // A line cut short by an interrupted run is simply redone.
        for line in text.lines().filter_map(|l| serde_json::from_str::<Line>(l).ok()) {
            match line {
                Line::Row(r) => done.rows.push(r),
                Line::Unmarked(u) => done.unmarked.push(u),
            }
        }
        Ok(done)
    }

    fn has(&self, session: u32, attack: &str) -> bool {
        self.rows.iter().any(|r| r.session == session && r.attack == attack)
    }

    fn append(path: &Path, line: &Line) -> anyhow::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "{}", serde_json::to_string(line)?)?;
        Ok(())
    }

    fn push_row(&mut self, path: &Path, row: Row) -> anyhow::Result<()> {
        let line = Line::Row(row);
        Self::append(path, &line)?;
        if let Line::Row(row) = line {
            self.rows.push(row);
        }
        Ok(())
    }

    fn push_unmarked(&mut self, path: &Path, u: Unmarked) -> anyhow::Result<()> {
        let line = Line::Unmarked(u);
        Self::append(path, &line)?;
        if let Line::Unmarked(u) = line {
            self.unmarked.push(u);
        }
        Ok(())
    }
}

pub(crate) fn candidate(coder: &SessionCoder, session: u32) -> Candidate {
    Candidate {
        session: Some(SessionId(session)),
        subject: None,
        pattern: coder.encode(session).to_bytes().to_vec(),
        bits: CODE_BITS,
    }
}

pub(crate) fn named(a: Option<&abmark_detect::Accusation>, session: u32, alpha: f64) -> bool {
    a.is_some_and(|a| {
        a.session == Some(SessionId(session))
            && a.any_innocent_probability <= alpha
            && a.runner_up_score.is_none_or(|r| r < a.score)
    })
}

/// The copy's readings rebuilt from the report's segments (those `keep` accepts), to score any
/// session against them the way `detect` does.
pub(crate) fn readings(report: &DetectReport, keep: impl Fn(&SegmentEvidence) -> bool) -> Readings {
    let segments: Vec<SegmentDecision> = report
        .segments
        .iter()
        .filter(|s| keep(s))
        .map(|s| SegmentDecision {
            index: s.index,
            start_seconds: s.reference_start_seconds,
            frames: s.frames,
            symbol: s.symbol,
            z: s.z,
            llr: s.llr,
            confidence: 0.0,
            p_unmarked: 0.0,
            retained: 1.0,
        })
        .collect();
    let positions: std::collections::HashMap<u64, Option<u16>> =
        report.segments.iter().map(|s| (s.index, s.position)).collect();
    Readings::new(&segments, |i| positions.get(&i).copied().flatten())
}

/// The copy's readings scored against sessions that did not receive it: the best of them must
/// not be nameable.
pub(crate) fn falsely_accused(report: &DetectReport, others: &[Candidate], alpha: f64) -> bool {
    let readings = readings(report, |_| true);
    let best = others
        .iter()
        .map(|c| readings.score(&c.pattern, c.bits))
        .max_by(|a, b| a.soft.total_cmp(&b.soft));
    best.is_some_and(|fit| {
        readings.decided() > 0 && fit.p_innocent() * others.len() as f64 <= alpha
    })
}

fn row(
    session: u32,
    attack: &Attack,
    report: &DetectReport,
    others: &[Candidate],
    options: &DetectOptions,
    seconds: f64,
) -> Row {
    let wrong_segments = report
        .segments
        .iter()
        .filter(|s| s.symbol.is_some() && s.expected.is_some() && s.symbol != s.expected)
        .count();
    Row {
        session,
        attack: attack.name.clone(),
        copy_seconds: report.seconds_spanned,
        verdict: format!("{:?}", report.verdict),
        blind_named: named(report.blind.as_ref(), session, options.alpha),
        blind_any_innocent: report.blind.as_ref().map(|a| a.any_innocent_probability),
        candidate_named: named(report.candidate.as_ref(), session, options.alpha),
        candidate_p_innocent: report.candidate.as_ref().map(|a| a.false_accusation_probability),
        positions_decided: report.positions_decided,
        wrong_segments,
        false_accusation: falsely_accused(report, others, options.alpha),
        detect_seconds: seconds,
    }
}

#[derive(Serialize, Deserialize)]
struct Unmarked {
    what: String,
    verdict: String,
    accused: bool,
}

fn write_report(args: &Args, done: &Done, total: usize, seconds: f64) -> anyhow::Result<()> {
    let (rows, unmarked) = (&done.rows, &done.unmarked);
    let cells = rows.len() + unmarked.len();
    let mut md = String::from("# Leak detection: sessions x attacks\n\n");
    md.push_str(&format!(
        "{} sessions x {} attack lists, session log of {} (+ the true session), alpha 1e-3. \
         {cells} of {total} cells done (this run: {:.0} s; cells are cached, a rerun resumes). \
         Reproduce: `cargo run -p eval --release -- detect --seed {}` after the main job.\n\n",
        args.sessions,
        args.attacks.len(),
        args.log_size,
        seconds,
        args.seed
    ));
    md.push_str("| attack | copies | blind named | candidate named | worst candidate P(innocent) | min positions | wrong segments | false accusations | detect s (mean) |\n|---|---|---|---|---|---|---|---|---|\n");
    let mut seen = std::collections::HashSet::new();
    for name in rows.iter().map(|r| r.attack.as_str()).filter(|n| seen.insert(*n)) {
        let rs: Vec<&Row> = rows.iter().filter(|r| r.attack == name).collect();
        let worst_p = rs.iter().filter_map(|r| r.candidate_p_innocent).fold(0.0, f64::max);
        md.push_str(&format!(
            "| {name} | {} | {}/{} | {}/{} | {worst_p:.1e} | {} | {} | {} | {:.1} |\n",
            rs.len(),
            rs.iter().filter(|r| r.blind_named).count(),
            rs.len(),
            rs.iter().filter(|r| r.candidate_named).count(),
            rs.len(),
            rs.iter().map(|r| r.positions_decided).min().unwrap_or(0),
            rs.iter().map(|r| r.wrong_segments).sum::<usize>(),
            rs.iter().filter(|r| r.false_accusation).count(),
            rs.iter().map(|r| r.detect_seconds).sum::<f64>() / rs.len().max(1) as f64,
        ));
    }
    let copies = rows.len() + unmarked.len();
    md.push_str(&format!(
        "\nFalse-accusation trials: {copies} copies ({} of other sessions, {} without any) x {} \
         sessions that did not receive them = {} trials; copies where one of them would be \
         named: {}.\n\n",
        rows.len(),
        unmarked.len(),
        args.log_size,
        copies * args.log_size,
        rows.iter().filter(|r| r.false_accusation).count()
            + unmarked.iter().filter(|u| u.accused).count()
    ));
    md.push_str("| copy without a session | verdict | accused |\n|---|---|---|\n");
    for u in unmarked {
        md.push_str(&format!("| {} | {} | {} |\n", u.what, u.verdict, u.accused));
    }
    if let Some(dir) = args.report.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(args.report.with_extension("md"), md)?;
    let json = serde_json::json!({ "rows": rows, "unmarked": unmarked, "cells": cells,
        "total": total, "seconds": seconds });
    std::fs::write(args.report.with_extension("json"), serde_json::to_string_pretty(&json)?)?;
    Ok(())
}
