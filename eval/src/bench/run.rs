//! `eval bench`'s command line and its three ways to run, one code path: the one-process run is
//! prepare ([`super::prepare`]), every unit ([`super::units`]), merge ([`super::merge`]); a
//! cluster runs the same steps as separate jobs (`--prepare`, `--cells I/N`, `merge DIR`) over a
//! shared work directory, so the two reports cannot drift apart.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::model::BenchReport;
use super::plan::{CellShare, Prepared, ReferenceMode};
use super::{merge, prepare, units, write};

pub const DEFAULT_LOG_SIZE: usize = 100_000;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    flags: Flags,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Checks that every cell of a prepared work directory finished under its plan, then writes
    /// the report (the same one the one-process run writes).
    Merge {
        /// The work directory `--prepare` made and the cells filled.
        work: PathBuf,
        /// Report path without extension (default: the one the preparation was given).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print a JSON summary on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// The matrix and where the run works.
#[derive(clap::Args)]
pub struct Flags {
    /// A reduced matrix that runs in a few minutes: the first 100 s of the real clip at
    /// 640x360, the attacks of eval/attacks/quick.json, two sessions, one collusion.
    #[arg(long)]
    pub quick: bool,
    /// Clips to mark (default: the 184-s real clip).
    #[arg(long)]
    pub clips: Vec<PathBuf>,
    /// Attack lists (default: core, detect and robustness lists; quick: quick.json).
    #[arg(long)]
    pub attacks: Vec<PathBuf>,
    /// Random sessions per clip; each goes through every attack.
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Two-viewer collusions per clip (through the first attack).
    #[arg(long)]
    pub collusions: Option<usize>,
    /// Sessions in the simulated session log (candidate mode).
    #[arg(long, default_value_t = DEFAULT_LOG_SIZE)]
    pub log_size: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `eval peers` JSON to show side by side (default: eval/data/peers.json if it exists;
    /// none in quick runs, whose clip is not the peers').
    #[arg(long)]
    pub peers: Option<PathBuf>,
    /// Working directory: the variants, the plan, the cells' results (shared by every machine
    /// of a cluster run, at the same path).
    #[arg(long, default_value = "target/eval-work/bench")]
    pub work: PathBuf,
    /// Report path without extension (default: eval/report/benchmark, or benchmark-quick).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// What copies are compared with: the unmarked source, the host rebuilt from the variants
    /// (`abmark variants`' default ladder is then encoded, whose lower rung it reads), or both
    /// (every copy detected twice; the rebuilt reference's rows end in "[from variants]").
    #[arg(long, value_enum, default_value = "source")]
    pub reference: ReferenceMode,
    /// Only the shared work, for cells to run elsewhere: each clip's variants, quality and
    /// speed, and the plan (every random draw) in --work.
    #[arg(long, conflicts_with_all = ["cells", "render"])]
    pub prepare: bool,
    /// Only share I of N (0-based) of the prepared matrix's cells, read from --work's plan (the
    /// matrix flags are the plan's); each cell's result is written atomically under --work.
    #[arg(long, value_name = "I/N", conflicts_with_all = [
        "quick", "clips", "attacks", "sessions", "collusions", "log_size", "seed", "peers",
        "report", "reference", "render",
    ])]
    pub cells: Option<CellShare>,
    /// Run nothing: rewrite the Markdown and HTML from the report's JSON (after changing the
    /// writers, or to render a run made elsewhere).
    #[arg(long)]
    pub render: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let flags = args.flags;
    if let Some(Action::Merge { work, out, json }) = args.action {
        let plan = Prepared::load(&work)?;
        let stem = out.unwrap_or_else(|| plan.report.clone());
        return finish(&work, &plan, &stem, json);
    }
    if flags.render {
        let stem = flags.report.clone().unwrap_or_else(|| {
            let name = if flags.quick { "benchmark-quick" } else { "benchmark" };
            crate::repo_root().join("eval/report").join(name)
        });
        return render(&stem);
    }
    let work = &flags.work;
    if let Some(share) = flags.cells {
        let plan = Prepared::load(work)?;
        return units::run(work, &plan, share, &mut |_| Ok(()));
    }
    let prepared = prepare::prepare(&flags, work)?;
    if flags.prepare {
        eprintln!(
            "bench: prepared {} ({} cells); run eval bench --cells I/N --work {0}, then eval bench merge {0}",
            work.display(),
            prepared.units().len()
        );
        return Ok(());
    }
    // The plan as the cells and merge of a cluster run read it: from its file (JSON does not
    // give every float back bit for bit, and the reports must not differ by that).
    let plan = Prepared::load(work)?;
    // One process: every unit, the report rewritten after each (an interrupted run leaves what
    // it measured), then the complete report.
    units::run(work, &plan, CellShare::ALL, &mut |_| {
        write::all(&plan.report, &merge::report(work, &plan, true)?)
    })?;
    finish(work, &plan, &plan.report, false)
}

/// Merges `work` into the report at `stem`; fails if any copy would name an innocent.
fn finish(work: &Path, plan: &Prepared, stem: &Path, json: bool) -> anyhow::Result<()> {
    let report = merge::report(work, plan, false)?;
    write::all(stem, &report)?;
    let accused = merge::accused(&report);
    if json {
        let summary = serde_json::json!({
            "report": stem,
            "cells": report.cells.len(),
            "collusion": report.collusion.len(),
            "innocent": report.innocent.len(),
            "accused": accused,
            "seconds": report.seconds,
            "timing_fields": merge::TIMING_FIELDS,
        });
        println!("{summary}");
    }
    eprintln!("bench: done in {:.0} s; report {}.{{md,html,json}}", report.seconds, stem.display());
    if accused > 0 {
        bail!("{accused} copies would name an innocent session; see {}", stem.display());
    }
    Ok(())
}

fn render(stem: &Path) -> anyhow::Result<()> {
    let json = stem.with_extension("json");
    let text = std::fs::read(&json).with_context(|| format!("reading {}", json.display()))?;
    let report: BenchReport =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", json.display()))?;
    write::rendered(stem, &report)
}
