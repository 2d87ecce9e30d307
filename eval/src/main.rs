//! abmark's robustness benchmark.
//!
//! `eval bench` runs the whole benchmark (see [`bench`]); the other commands are its parts,
//! kept for focused runs.
//!
//! `eval attacks` marks a clip with symbol 0 and symbol 1, runs every attack of an attack file
//! (an FFmpeg filter chain plus a codec and quality, declared as data so users add their own)
//! with the real FFmpeg CLI, detects every segment of every attacked copy, checks the unmarked
//! source and an unrelated clip for false marks, and writes a Markdown table and JSON under
//! `eval/report/`.

mod attack;
mod bench;
mod leak;
mod peers;
mod peers_report;
mod report;
mod visual;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "eval", about = "abmark robustness benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The robustness benchmark: clips x attacks x sessions, collusion, quality, speed and the
    /// peers, as Markdown, JSON and a self-contained HTML page (`--quick`: a few minutes).
    /// `--prepare`, `--cells I/N` and `merge DIR` run it in parts, e.g. as cluster jobs.
    Bench(bench::Args),
    /// Per-segment symbol robustness of the watermark core against an attack list.
    Attacks(attack::Args),
    /// Zoomed PNG of a flat and a textured region: source | marked | 10x difference.
    Visual(visual::Args),
    /// Leak detection end to end: sessions x attacks, blind and session-log naming, false
    /// accusations.
    Detect(leak::Args),
    /// The open-source watermarkers (invisible-watermark, blind-watermark) on the same clip and
    /// attacks: bit accuracy, PSNR, ms per frame.
    Peers(peers::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(args).context("eval bench"),
        Command::Attacks(args) => attack::run(args).context("eval attacks"),
        Command::Detect(args) => leak::run(args).context("eval detect"),
        Command::Peers(args) => peers::run(args).context("eval peers"),
        Command::Visual(args) => visual::run(args).context("eval visual"),
    }
}

/// The repository root (eval/ is one level down).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
