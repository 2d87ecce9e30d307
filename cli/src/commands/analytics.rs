//! `abmark analytics`: ranks subjects and sessions by evidence of abuse in the delivery logs
//! (`abmark_analytics`), prints the ranking (text or `--json`), and writes the HTML report and
//! the deny list of flagged subjects; `abmark analytics simulate` writes labelled test traffic.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use abmark_analytics::collect::Concurrency;
use abmark_analytics::labels::{evaluate, Evaluation};
use abmark_analytics::report::{html::html, suspects::suspects};
use abmark_analytics::simulate::{self, Config, Outputs};
use abmark_analytics::{analyse, Analysis, Collector, Options};
use abmark_files::output::{write_atomic, Staging};
use anyhow::Context;
use clap::{Subcommand, ValueEnum};

use crate::exit::UsageError;
use crate::progress;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Sub {
    /// Write labelled test traffic: the three logs and labels.jsonl (who was an abuser).
    Simulate(SimulateArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Session log(s) of `serve --session-log` (repeat for several files).
    #[arg(long)]
    sessions: Vec<PathBuf>,
    /// Licence log(s) of `serve --licence-log`.
    #[arg(long)]
    licences: Vec<PathBuf>,
    /// Access log(s) of `serve --access-log`.
    #[arg(long)]
    access: Vec<PathBuf>,
    /// Print the ranking as JSON.
    #[arg(long)]
    json: bool,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "REPORT")]
    html: Option<PathBuf>,
    /// Write the flagged subjects here as a deny list (the edge re-reads it live).
    #[arg(long, value_name = "FILE")]
    suspects: Option<PathBuf>,
    /// Skip lines that do not parse (counted and reported) instead of stopping at the first.
    #[arg(long)]
    skip_bad_lines: bool,
    /// The titles' segment duration; estimated from the fetches when not given.
    #[arg(long, value_parser = super::positive)]
    segment_seconds: Option<f64>,
    /// Unflagged subjects and sessions listed after the flagged ones.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Measure the ranking against a simulation's labels.jsonl (precision and recall).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Profile {
    /// 2-s segments, 4 renditions, 30-s buffers, small NATs, 2% rippers, 2% sharers, 1% restreamers.
    Standard,
    /// 6-s segments, 3 renditions, 2-min buffers, big CGNAT pools, mostly mobile, 1% rippers,
    /// 5% sharers, 0.5% restreamers.
    Other,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Output directory (created all at once).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1000)]
    viewers: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, value_enum, default_value = "standard")]
    profile: Profile,
    /// Simulated hours (default: the profile's, 24).
    #[arg(long, value_parser = super::positive)]
    hours: Option<f64>,
    #[arg(long, value_parser = super::positive)]
    segment_seconds: Option<f64>,
    #[arg(long)]
    ripper_share: Option<f64>,
    #[arg(long)]
    sharer_share: Option<f64>,
    #[arg(long)]
    restreamer_share: Option<f64>,
    /// Viewers per public address on average.
    #[arg(long, value_parser = super::positive)]
    nat_size: Option<f64>,
    /// Replace OUT if it exists.
    #[arg(long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Some(Sub::Simulate(s)) => run_simulate(s),
        None => run_analytics(args.run),
    }
}

#[derive(serde::Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    analysis: &'a Analysis,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluation: Option<&'a Evaluation>,
}

fn run_analytics(a: RunArgs) -> anyhow::Result<()> {
    if a.sessions.is_empty() && a.licences.is_empty() && a.access.is_empty() {
        return Err(
            UsageError("give at least one of --sessions, --licences, --access".into()).into()
        );
    }
    let labels = match &a.labels {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("labels {}", path.display()))?;
            let labels = simulate::parse_labels(&text)
                .map_err(|e| anyhow::anyhow!("labels {}: {e}", path.display()))?;
            Some(labels)
        }
        None => None,
    };
    let mut collector = Collector::new(if !a.access.is_empty() {
        Concurrency::Access
    } else if !a.licences.is_empty() {
        Concurrency::Licences
    } else {
        Concurrency::Sessions
    });
    let bar = progress::counter(None, "logs", a.json);
    // Session and licence logs first: the access log's windows then see their sightings.
    for path in &a.sessions {
        bar.set_message(path.display().to_string());
        collector.read_sessions(path, open(path)?, a.skip_bad_lines)?;
        bar.inc(1);
    }
    for path in &a.licences {
        bar.set_message(path.display().to_string());
        collector.read_licences(path, open(path)?, a.skip_bad_lines)?;
        bar.inc(1);
    }
    for path in &a.access {
        bar.set_message(path.display().to_string());
        collector.read_access(path, open(path)?, a.skip_bad_lines)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let options = Options { segment_seconds: a.segment_seconds, top: a.top };
    let analysis = analyse(collector, &options);
    let evaluation = labels.as_ref().map(|l| evaluate(&analysis, l));
    let command = command_line();
    if let Some(path) = &a.html {
        let page = html(&analysis, &command).context("drawing the report")?;
        write_atomic(path, page.as_bytes(), true).context("HTML report")?;
    }
    if let Some(path) = &a.suspects {
        let header = format!(
            "abmark analytics: {} flagged subjects of {}\n{command}",
            analysis.subjects_flagged, analysis.subjects_seen
        );
        write_atomic(path, suspects(&analysis, &header).as_bytes(), true).context("suspects")?;
    }
    if a.json {
        return super::print_json(&Output { analysis: &analysis, evaluation: evaluation.as_ref() });
    }
    print_text(&analysis, evaluation.as_ref());
    Ok(())
}

fn open(path: &Path) -> anyhow::Result<BufReader<File>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    args.join(" ")
}

fn print_text(analysis: &Analysis, evaluation: Option<&Evaluation>) {
    for input in &analysis.inputs {
        let mut note = String::new();
        if input.skipped > 0 {
            note += &format!(
                ", {} bad lines skipped (first: {})",
                input.skipped,
                input.first_skipped.clone().unwrap_or_default()
            );
        }
        if input.truncated > 0 {
            note += ", last line cut short (skipped)";
        }
        println!("{}: {} records{note}", input.path, input.records);
    }
    println!(
        "{} of {} subjects flagged, {} of {} sessions",
        analysis.subjects_flagged,
        analysis.subjects_seen,
        analysis.sessions_flagged,
        analysis.sessions_seen
    );
    for (i, s) in analysis.subjects.iter().filter(|s| s.flagged).enumerate() {
        println!("{:>4}. {}  score {:.1}", i + 1, s.subject, s.score);
        for r in s.reasons.iter().filter(|r| r.raised) {
            println!(
                "        {}: {} (z {:.1})",
                abmark_analytics::report::suspects::code_name(r.code),
                r.text,
                r.z
            );
        }
    }
    if let Some(e) = evaluation {
        println!(
            "against the labels: precision {:.3}, recall {:.3}, precision of the top {} {:.3}",
            e.precision, e.recall, e.abusers, e.precision_at_k
        );
    }
}

fn run_simulate(a: SimulateArgs) -> anyhow::Result<()> {
    let mut config = match a.profile {
        Profile::Standard => Config::standard(a.viewers, a.seed),
        Profile::Other => Config::other(a.viewers, a.seed),
    };
    let share = |v: Option<f64>, name: &str| -> anyhow::Result<Option<f64>> {
        match v {
            Some(s) if !(0.0..=1.0).contains(&s) => {
                Err(UsageError(format!("--{name} is a share from 0 to 1")).into())
            }
            other => Ok(other),
        }
    };
    if let Some(h) = a.hours {
        config.hours = h;
    }
    if let Some(d) = a.segment_seconds {
        config.segment_seconds = d;
    }
    if let Some(s) = share(a.ripper_share, "ripper-share")? {
        config.ripper_share = s;
    }
    if let Some(s) = share(a.sharer_share, "sharer-share")? {
        config.sharer_share = s;
    }
    if let Some(s) = share(a.restreamer_share, "restreamer-share")? {
        config.restreamer_share = s;
    }
    if let Some(n) = a.nat_size {
        config.nat_size = n;
    }
    if config.ripper_share + config.sharer_share + config.restreamer_share > 1.0 {
        return Err(UsageError("the abuser shares add up to more than 1".into()).into());
    }
    let staging = Staging::begin(&a.out, a.force).context("simulation output")?;
    let dir = staging.path().to_owned();
    let create = |name: &str| -> anyhow::Result<BufWriter<File>> {
        let path = dir.join(name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    };
    let (mut s, mut l, mut x, mut y) = (
        create("sessions.jsonl")?,
        create("licences.jsonl")?,
        create("access.jsonl")?,
        create("labels.jsonl")?,
    );
    let bar = progress::counter(None, "access lines", a.json);
    let outputs = Outputs { sessions: &mut s, licences: &mut l, access: &mut x, labels: &mut y };
    let written = simulate::simulate(&config, outputs, |n| bar.set_position(n));
    bar.finish_and_clear();
    let finished = written.and_then(|w| {
        for f in [&mut s, &mut l, &mut x, &mut y] {
            f.flush()?;
        }
        Ok(w)
    });
    let written = match finished {
        Ok(w) => w,
        Err(e) => {
            staging.abandon();
            return Err(anyhow::Error::new(e).context("writing the simulation"));
        }
    };
    staging.commit().context("simulation output")?;
    if a.json {
        return super::print_json(&written);
    }
    println!(
        "{}: {} subjects ({} abusers); {} access, {} session, {} licence lines",
        a.out.display(),
        written.subjects,
        written.abusers,
        written.access_lines,
        written.session_lines,
        written.licence_lines
    );
    Ok(())
}
