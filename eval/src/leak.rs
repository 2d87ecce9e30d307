//! `eval detect`: leak detection end to end on the real clip. For each of N random sessions,
//! the viewer's exact stream (`abmark mix`'s engine call) goes through every attack (core list
//! plus the detection list: excerpts with random starts, HEVC, frame-rate change, excerpt +
//! scale + CRF 30), and `detect` must name the session — blind, and from a session log of
//! `--log-size` sessions that includes it. False accusations are counted over every attacked
//! copy scored against a log of other sessions only, and over the unmarked source and an
//! unrelated clip.

use std::path::{Path, PathBuf};
use std::time::Instant;

use abmark_engine::detect::{
    detect, load_fingerprints, Candidate, DetectOptions, DetectReport, Positions, Readings,
};
use abmark_engine::key::WatermarkKey;
use abmark_engine::mix::{mix, session_choices};
use abmark_engine::payload::{SessionCoder, CODE_BITS};
use abmark_engine::serve::PaceTable;
use abmark_engine::symbols::SegmentDecision;
use abmark_engine::variants::JobFile;
use anyhow::Context;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

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

#[derive(Clone, Debug, Serialize)]
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
    let key = WatermarkKey::load(&args.key).context("watermark key")?;
    let coder = SessionCoder::new(&key)?;
    let job = JobFile::load(&args.out)?;
    let pace = PaceTable::load(&args.out, &job)?;
    let positions = Positions(pace.positions().to_vec());
    let index = load_fingerprints(&args.out)?;
    let source = PathBuf::from(&job.source);
    let mut attacks: Vec<Attack> = Vec::new();
    for file in &args.attacks {
        let text = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
        attacks.extend(serde_json::from_slice::<Vec<Attack>>(&text)?);
    }
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
    let started = Instant::now();
    let mut rows = Vec::new();
    for &session in &sessions {
        let viewer = args.work.join(format!("viewer-{session}.mp4"));
        let choices = session_choices(pace.positions(), &coder.encode(session));
        mix(&args.out, &job, None, &choices, &viewer)?;
        let mut log = others.clone();
        log.push(candidate(&coder, session));
        for attack in &attacks {
            let copy = args.work.join("copy.mp4");
            let start = attack.excerpt_start(&mut rng, job.segment_count as f64 * 2.0);
            apply(attack, &viewer, &copy, start)?;
            let t = Instant::now();
            let report = detect(
                &copy,
                &source,
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
            rows.push(row);
        }
    }
    let unmarked = verdicts(
        &[&source, &crate::repo_root().join("datasets/cache/unrelated-720p.mp4")],
        &source,
        &index,
        &positions,
        &key,
        &others,
        &options,
    )?;
    write_report(&args, &rows, &unmarked, started.elapsed().as_secs_f64())
}

fn candidate(coder: &SessionCoder, session: u32) -> Candidate {
    Candidate {
        session: Some(session),
        subject: None,
        pattern: coder.encode(session).to_bytes().to_vec(),
        bits: CODE_BITS,
    }
}

fn named(a: Option<&abmark_engine::detect::Accusation>, session: u32, alpha: f64) -> bool {
    a.is_some_and(|a| {
        a.session == Some(session)
            && a.any_innocent_probability <= alpha
            && a.runner_up_score.is_none_or(|r| r < a.score)
    })
}

/// The copy's readings rebuilt from the report, scored against sessions that did not receive
/// it: the best of them must not be nameable.
fn falsely_accused(report: &DetectReport, others: &[Candidate], alpha: f64) -> bool {
    let segments: Vec<SegmentDecision> = report
        .segments
        .iter()
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
    let readings = Readings::new(&segments, |i| positions.get(&i).copied().flatten());
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

#[derive(Serialize)]
struct Unmarked {
    what: String,
    verdict: String,
    accused: bool,
}

#[allow(clippy::too_many_arguments)]
fn verdicts(
    copies: &[&Path],
    source: &Path,
    index: &Option<(abmark_engine::register::temporal::Timeline, f64)>,
    positions: &Positions,
    key: &WatermarkKey,
    log: &[Candidate],
    options: &DetectOptions,
) -> anyhow::Result<Vec<Unmarked>> {
    let mut out = Vec::new();
    for copy in copies {
        let r =
            detect(copy, source, index.clone(), positions, key, Some(log), options, &mut |_| {})?;
        out.push(Unmarked {
            what: copy.display().to_string(),
            verdict: format!("{:?}", r.verdict),
            accused: r.accused.is_some(),
        });
    }
    Ok(out)
}

fn write_report(
    args: &Args,
    rows: &[Row],
    unmarked: &[Unmarked],
    seconds: f64,
) -> anyhow::Result<()> {
    let mut md = String::from("# Leak detection: sessions x attacks\n\n");
    md.push_str(&format!(
        "{} sessions, {} attacked copies, session log of {} (+ the true session), alpha 1e-3; \
         run took {:.0} s. Reproduce: `cargo run -p eval --release -- detect` after the main job.\n\n",
        args.sessions,
        rows.len(),
        args.log_size,
        seconds
    ));
    md.push_str("| attack | copies | blind named | candidate named | worst candidate P(innocent) | min positions | wrong segments | false accusations | detect s (mean) |\n|---|---|---|---|---|---|---|---|---|\n");
    let mut names: Vec<&str> = rows.iter().map(|r| r.attack.as_str()).collect();
    names.dedup();
    let mut seen = std::collections::HashSet::new();
    for name in names.into_iter().filter(|n| seen.insert(*n)) {
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
    md.push_str(&format!(
        "\nFalse-accusation trials: {} copies × {} sessions that did not receive them = {} \
         trials; copies where one of them would be named: {}.\n\n",
        rows.len(),
        args.log_size,
        rows.len() * args.log_size,
        rows.iter().filter(|r| r.false_accusation).count()
    ));
    md.push_str("| copy without a session | verdict | accused |\n|---|---|---|\n");
    for u in unmarked {
        md.push_str(&format!("| {} | {} | {} |\n", u.what, u.verdict, u.accused));
    }
    if let Some(dir) = args.report.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(args.report.with_extension("md"), md)?;
    let json = serde_json::json!({ "rows": rows, "unmarked": unmarked, "seconds": seconds });
    std::fs::write(args.report.with_extension("json"), serde_json::to_string_pretty(&json)?)?;
    Ok(())
}
