use std::path::PathBuf;

use abmark_detect::symbols::SymbolOptions;
use abmark_detect::{detect, load_session_log, DetectOptions, ReferenceInput, Stage, Verdict};
use abmark_wm::Symbol;
use anyhow::Context;

use crate::exit::Status;

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
    /// Session log of `abmark serve` (JSONL): name the best of these sessions.
    #[arg(long)]
    sessions: Option<PathBuf>,
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
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let key = super::load_key(&args.key)?;
    let ReferenceInput { source, index, positions } =
        if args.from_variants || args.rendition.is_some() {
            ReferenceInput::from_variants(&args.reference, args.rendition.as_deref())?
        } else {
            ReferenceInput::open(&args.reference, args.source.as_deref())?
        };
    let sessions = match &args.sessions {
        Some(path) => Some(load_session_log(path).context("session log")?),
        None => None,
    };
    let options = DetectOptions {
        symbols: SymbolOptions { z_threshold: args.threshold, ..Default::default() },
        alpha: args.alpha,
        ..Default::default()
    };
    let bar = crate::progress::frames(None, args.json);
    let report = detect(
        &args.copy,
        &source,
        index,
        &positions,
        &key,
        sessions.as_deref(),
        &options,
        &mut |s| {
            let (message, p) = match s {
                Stage::Reference(p) => ("fingerprinting the reference", p),
                Stage::Copy(p) => ("scoring the copy", p),
            };
            if bar.message() != message {
                bar.set_message(message);
                bar.set_length(p.total.unwrap_or(0));
            }
            bar.set_position(p.frames);
        },
    )?;
    bar.finish_and_clear();
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
    println!("{}", r.message);
}
