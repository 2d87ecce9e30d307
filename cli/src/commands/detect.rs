use std::io::Write as _;
use std::path::{Path, PathBuf};

use abmark_delivery::deny::DenyList;
use abmark_detect::symbols::SymbolOptions;
use abmark_detect::Verdict;
use abmark_detect::{candidates, detect, CandidateSources, DetectOptions, ReferenceInput, Stage};
use abmark_wm::Symbol;
use anyhow::{bail, Context};

use crate::exit::{Status, UsageError};

#[derive(clap::Args)]
pub struct Args {
    /// The pirated copy (anything FFmpeg decodes).
    copy: PathBuf,
    /// The variants output (its job.json names the source) or the unmarked source itself.
    #[arg(long = "ref")]
    reference: PathBuf,
    /// The unmarked source, when job.json's path does not lead to it. Without it, and when the
    /// source named in job.json is gone, the reference is rebuilt from the variants.
    #[arg(long, conflicts_with = "from_variants")]
    source: Option<PathBuf>,
    /// Rebuild the reference from the variants output even when its source is found (faster;
    /// --ref must be a variants output).
    #[arg(long)]
    from_variants: bool,
    /// The rendition to rebuild the reference from (default: the smallest with the top
    /// rendition's watermark grid).
    #[arg(long, value_name = "ID")]
    rendition: Option<String>,
    /// Watermark key file.
    #[arg(long)]
    key: PathBuf,
    /// Session log of `abmark serve` (JSONL): name the best of these sessions. Repeat for
    /// several logs.
    #[arg(long, value_name = "FILE")]
    sessions: Vec<PathBuf>,
    /// Licence log of `abmark serve` (JSONL): its sessions are candidates too. Repeatable.
    #[arg(long, value_name = "FILE")]
    licences: Vec<PathBuf>,
    /// Limit the logs' candidates to these subjects (one per line, `#` comments: the deny-list
    /// format `abmark analytics --suspects` writes), chosen before the copy was seen. Fewer
    /// candidates make the evidence against a named session stronger.
    #[arg(long, value_name = "FILE")]
    candidates: Option<PathBuf>,
    /// Name a session only when the chance that any innocent one matches as well is below this.
    #[arg(long, default_value_t = 1e-3, value_parser = super::positive)]
    alpha: f64,
    /// Decide a segment only when |z| reaches this.
    #[arg(long, default_value_t = 4.5, value_parser = super::positive)]
    threshold: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write an SVG plot of per-segment scores against the accused session's bits.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Report progress as JSON lines on stderr (`{"stage":"copy","frames":N,"total":M}`, one
    /// per percent) instead of a progress bar: for programs that run detect (the detection
    /// service).
    #[arg(long)]
    progress_json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let key = super::load_key(&args.key)?;
    let ReferenceInput { source, index, positions } =
        if args.from_variants || args.rendition.is_some() {
            ReferenceInput::from_variants(&args.reference, args.rendition.as_deref())?
        } else {
            ReferenceInput::open(&args.reference, args.source.as_deref())?
        };
    let subjects = match &args.candidates {
        Some(path) => Some(load_subjects(path)?),
        None => None,
    };
    if subjects.is_some() && args.sessions.is_empty() && args.licences.is_empty() {
        bail!(UsageError(
            "--candidates limits the logs' sessions: give --sessions or --licences".into()
        ));
    }
    let coder = abmark_wm::payload::SessionCoder::new(&key).context("session code")?;
    let sources = CandidateSources {
        sessions: &args.sessions,
        licences: &args.licences,
        subjects: args.candidates.as_deref().zip(subjects.as_ref()),
    };
    let candidates = candidates::gather(&sources, &coder)?;
    let options = DetectOptions {
        symbols: SymbolOptions { z_threshold: args.threshold, ..Default::default() },
        alpha: args.alpha,
        ..Default::default()
    };
    let bar = crate::progress::frames(None, args.json || args.progress_json);
    let mut lines = ProgressLines::default();
    let mut report = detect(
        &args.copy,
        &source,
        index,
        &positions,
        &key,
        candidates.as_ref().map(|c| c.list.as_slice()),
        &options,
        &mut |s| {
            let (message, p) = match s {
                Stage::Reference(p) => ("fingerprinting the reference", p),
                Stage::Copy(p) => ("scoring the copy", p),
            };
            if args.progress_json {
                lines.report(s);
            }
            if bar.message() != message {
                bar.set_message(message);
                bar.set_length(p.total.unwrap_or(0));
            }
            bar.set_position(p.frames);
        },
    )?;
    bar.finish_and_clear();
    report.candidate_set = candidates.map(|c| c.description);
    if let Some(path) = &args.plot {
        abmark_detect::plot::write_svg(&report, path, args.threshold)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        super::print_json(&report)?;
    } else {
        print_text(&report);
    }
    // Ran fine but named nobody: a distinct status for scripts (the message says why).
    Ok(if report.verdict == Verdict::Named { Status::Success } else { Status::NamedNobody })
}

fn print_text(r: &abmark_detect::DetectReport) {
    if let Some(t) = &r.temporal {
        println!(
            "copy placed at {:+.2} s of the reference (fingerprint correlation {:.3}, next best {:.3})",
            t.offset_seconds, t.correlation, t.runner_up
        );
    }
    if let Some(s) = &r.spatial {
        let t = &s.transform;
        let (ox, oy) = t.offsets();
        let warp = if t.is_separable() {
            String::new()
        } else {
            format!(
                ", turned {:+.2} deg, perspective ({:+.3}, {:+.3})",
                t.rotation_degrees(),
                t.px,
                t.py
            )
        };
        println!(
            "geometry: {}scale {:.4} x {:.4}, offset ({ox:.1}, {oy:.1}){warp}, block correlation {:.3}",
            if s.mirrored { "flipped left to right, " } else { "" },
            t.sx,
            t.sy,
            s.correlation
        );
    }
    // More than one piece, or one that starts late (an opening that is not of the reference).
    if r.pieces.len() > 1 || r.pieces.first().is_some_and(|p| p.from_seconds > 0.0) {
        let n = r.pieces.len();
        println!("edited copy, read in {n} piece{}:", if n == 1 { "" } else { "s" });
        for p in &r.pieces {
            println!(
                "  copy {:7.2}-{:7.2} s  at reference {:+8.2} s  scale {:.3} x {:.3}{}  correlation {:.3}",
                p.from_seconds,
                p.to_seconds,
                p.offset_seconds,
                p.transform.sx,
                p.transform.sy,
                if p.mirrored { " flipped" } else { "" },
                p.correlation
            );
        }
    }
    if !r.segments.is_empty() {
        println!(
            "{} segments ({:.1} s of copy), {} code positions decided",
            r.segments_used, r.seconds_spanned, r.positions_decided
        );
        println!("segment  position  frames        z  decided  expected");
        for s in &r.segments {
            let bit = |b: Option<Symbol>| b.map_or("-".to_owned(), |b| b.to_string());
            let position = s.position.map_or("-".to_owned(), |p| p.to_string());
            println!(
                "{:>7}  {:>8}  {:>6}  {:>7.2}  {:>7}  {:>8}",
                s.index,
                position,
                s.frames,
                s.z,
                bit(s.symbol),
                bit(s.expected)
            );
        }
    }
    for a in [&r.blind, &r.candidate].into_iter().flatten() {
        println!(
            "{} decoding: session {} agrees on {} of {} positions (innocent match probability {:.2e}, any of {:.0e}: {:.2e})",
            a.mode,
            a.session.map_or("?".to_owned(), |s| s.to_string()),
            a.agree,
            a.decided,
            a.false_accusation_probability,
            a.candidates,
            a.any_innocent_probability
        );
    }
    if let Some(set) = &r.candidate_set {
        println!("candidates: {set}");
    }
    println!("{}", r.message);
}

/// The subject list of `--candidates` (the deny-list format), naming the file on error.
fn load_subjects(path: &Path) -> anyhow::Result<DenyList> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    DenyList::parse(&text).with_context(|| format!("{}", path.display()))
}

/// `--progress-json`: one JSON line on stderr per stage change and per percent of a stage
/// (every 100 frames when the total is unknown), so a parent process can show progress.
#[derive(Default)]
struct ProgressLines {
    last: Option<(&'static str, u64)>,
}

impl ProgressLines {
    fn report(&mut self, stage: Stage) {
        let (name, p) = match stage {
            Stage::Reference(p) => ("reference", p),
            Stage::Copy(p) => ("copy", p),
        };
        let step = match p.total {
            Some(total) if total > 0 => p.frames * 100 / total,
            _ => p.frames / 100,
        };
        if self.last == Some((name, step)) {
            return;
        }
        self.last = Some((name, step));
        let line = serde_json::json!({ "stage": name, "frames": p.frames, "total": p.total });
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}
