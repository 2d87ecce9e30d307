//! The benchmark run: clips x attacks x sessions, collusion and innocent copies, then the
//! report. The matrix is declared by the arguments (`--quick` picks a reduced one); every copy
//! is made with the real FFmpeg CLI and read by the real detector.

use std::path::{Path, PathBuf};
use std::time::Instant;

use abmark_detect::{Candidate, DetectOptions, ReferenceVideo};
use abmark_media::host::HostReference;
use abmark_media::mix::mix;
use abmark_wm::key::WatermarkKey;
use anyhow::{bail, Context};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::cells::{self, log_with};
use super::clip::{prepare, Ladder, QualitySampling};
use super::model::{AttackInfo, BenchReport};
use super::{peers, write};
use crate::attack::{apply, ffmpeg, load_attacks, path, Attack};
use crate::leak::candidate;

#[derive(clap::Args)]
pub struct Args {
    /// A reduced matrix that runs in a few minutes: the first 100 s of the real clip at
    /// 640x360, the attacks of eval/attacks/quick.json, two sessions, one collusion.
    #[arg(long)]
    quick: bool,
    /// Clips to mark (default: the 184-s real clip).
    #[arg(long)]
    clips: Vec<PathBuf>,
    /// Attack lists (default: core, detect and robustness lists; quick: quick.json).
    #[arg(long)]
    attacks: Vec<PathBuf>,
    /// Random sessions per clip; each goes through every attack.
    #[arg(long)]
    sessions: Option<usize>,
    /// Two-viewer collusions per clip (through the first attack).
    #[arg(long)]
    collusions: Option<usize>,
    /// Sessions in the simulated session log (candidate mode).
    #[arg(long, default_value_t = 100_000)]
    log_size: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// `eval peers` JSON to show side by side (default: eval/data/peers.json if it exists;
    /// none in quick runs, whose clip is not the peers').
    #[arg(long)]
    peers: Option<PathBuf>,
    #[arg(long, default_value = "target/eval-work/bench")]
    work: PathBuf,
    /// Report path without extension (default: eval/report/benchmark, or benchmark-quick).
    #[arg(long)]
    report: Option<PathBuf>,
    /// What copies are compared with: the unmarked source, the host rebuilt from the variants
    /// (`abmark variants`' default ladder is then encoded, whose lower rung it reads), or both
    /// (every copy detected twice; the rebuilt reference's rows end in "[from variants]").
    #[arg(long, value_enum, default_value = "source")]
    reference: ReferenceMode,
    /// Run nothing: rewrite the Markdown and HTML from the report's JSON (after changing the
    /// writers, or to render a run made elsewhere).
    #[arg(long)]
    render: bool,
}

/// What the benchmark detects against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ReferenceMode {
    Source,
    Variants,
    Both,
}

/// Suffix of the rows detected against the host rebuilt from the variants, in `both` runs.
const FROM_VARIANTS: &str = " [from variants]";

/// The matrix this run covers, with defaults filled in.
struct Plan {
    clips: Vec<PathBuf>,
    attacks: Vec<Attack>,
    sessions: usize,
    collusions: usize,
    sampling: QualitySampling,
    report: PathBuf,
    peers: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = crate::repo_root();
    let plan = plan(&args, &root)?;
    if args.render {
        return render(&plan.report);
    }
    std::fs::create_dir_all(&args.work)
        .with_context(|| format!("creating {}", args.work.display()))?;
    // A fixed key: the benchmark must be reproducible run to run.
    let key = WatermarkKey::from_bytes(*b"abmark-eval-fixed-key-0123456789");
    let mut rng = ChaCha20Rng::seed_from_u64(args.seed);
    let options = DetectOptions::default();
    let mut report = BenchReport {
        command: command_line(),
        quick: args.quick,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        log_size: args.log_size,
        attacks: plan
            .attacks
            .iter()
            .map(|a| AttackInfo { name: a.name.clone(), sweep: a.sweep.clone() })
            .collect(),
        peers: match &plan.peers {
            Some(file) => peers::load(file)?,
            None => Vec::new(),
        },
        ..BenchReport::default()
    };
    let unrelated = root.join("datasets/cache/unrelated-720p.mp4");

    for clip in &plan.clips {
        let name = clip_name(clip);
        let ladder = match args.reference {
            ReferenceMode::Source => Ladder::SourceOnly,
            ReferenceMode::Variants | ReferenceMode::Both => Ladder::Default,
        };
        let (reference, clip_report) =
            prepare(clip, &name, &args.work, &key, &plan.sampling, ladder)?;
        let rebuilt = || -> anyhow::Result<ReferenceVideo> {
            Ok(ReferenceVideo::Variants(HostReference::open(&reference.out, None)?))
        };
        let views: Vec<(&str, ReferenceVideo)> = match args.reference {
            ReferenceMode::Source => vec![("", reference.video.clone())],
            ReferenceMode::Variants => vec![("", rebuilt()?)],
            ReferenceMode::Both => {
                vec![("", reference.video.clone()), (FROM_VARIANTS, rebuilt()?)]
            }
        };
        report.clips.push(clip_report);
        let coder = &reference.coder;
        let others: Vec<Candidate> =
            (0..args.log_size).map(|_| candidate(coder, rng.next_u32())).collect();
        let duration = reference.job.segment_count as f64 * reference.job.segment_seconds;
        let copy = args.work.join("copy.mp4");

        for _ in 0..plan.sessions {
            let session = rng.next_u32();
            let viewer = args.work.join("viewer.mp4");
            mix(&reference.out, &reference.job, None, &reference.choices(session), &viewer)?;
            let log = log_with(coder, &others, &[session]);
            for attack in &plan.attacks {
                apply(attack, &viewer, &copy, attack.excerpt_start(&mut rng, duration))?;
                for (suffix, video) in &views {
                    let (r, seconds) = reference.detect_with(video, &copy, &log, &options)?;
                    let row = format!("{}{suffix}", attack.name);
                    let cell =
                        cells::cell(&reference, &row, session, &r, seconds, &others, &options);
                    eprintln!(
                        "bench: {name} {session:>10} {:<44} {:>3}/{:<3} right, {} wrong, blind {}, candidate {}, {:.1} s",
                        row, cell.correct, cell.segments, cell.wrong, cell.blind_named,
                        cell.candidate_named, seconds
                    );
                    report.cells.push(cell);
                    write::all(&plan.report, &mut report, started)?;
                }
            }
        }

        for _ in 0..plan.collusions {
            let pair = [rng.next_u32(), rng.next_u32()];
            let [a, b] = pair.map(|s| reference.choices(s));
            let first: Vec<bool> = (0..a.len()).map(|_| rng.next_u32() & 1 == 0).collect();
            let mixed: Vec<u8> = first
                .iter()
                .zip(a.iter().zip(&b))
                .map(|(&f, (&x, &y))| if f { x } else { y })
                .collect();
            let viewer = args.work.join("collusion.mp4");
            mix(&reference.out, &reference.job, None, &mixed, &viewer)?;
            let attack = &plan.attacks[0];
            apply(attack, &viewer, &copy, None)?;
            let share = first.iter().filter(|&&f| f).count() as f64 / first.len().max(1) as f64;
            for (suffix, video) in &views {
                let log = log_with(coder, &others, &pair);
                let (r, _) = reference.detect_with(video, &copy, &log, &options)?;
                let row = format!("{}{suffix}", attack.name);
                let c = cells::collusion(&reference, &row, pair, share, &r, &others, &options);
                eprintln!("bench: {name} collusion {pair:?}: {} named {:?}", c.verdict, c.named);
                report.collusion.push(c);
            }
        }

        // Copies without a session: the unmarked source through the first attack, and other
        // content. Nobody of the log may be named.
        let attack = &plan.attacks[0];
        apply(attack, &reference.source, &copy, None)?;
        for (suffix, video) in &views {
            let (r, _) = reference.detect_with(video, &copy, &others, &options)?;
            let what = format!("unmarked source, {}{suffix}", attack.name);
            report.innocent.push(cells::innocent(&name, &what, &r, &others, &options));
            if unrelated.exists() {
                let (r, _) = reference.detect_with(video, &unrelated, &others, &options)?;
                let what = format!("unrelated clip{suffix}");
                report.innocent.push(cells::innocent(&name, &what, &r, &others, &options));
            }
        }
        write::all(&plan.report, &mut report, started)?;
    }
    write::all(&plan.report, &mut report, started)?;
    eprintln!(
        "bench: done in {:.0} s; report {}.{{md,html,json}}",
        report.seconds,
        plan.report.display()
    );
    let accused = report.cells.iter().filter(|c| c.false_accusation).count()
        + report.collusion.iter().filter(|c| c.innocent_named).count()
        + report.innocent.iter().filter(|i| i.accused).count();
    if accused > 0 {
        bail!("{accused} copies would name an innocent session; see {}", plan.report.display());
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

fn plan(args: &Args, root: &Path) -> anyhow::Result<Plan> {
    let cache = root.join("datasets/cache");
    let attack_files = if !args.attacks.is_empty() {
        args.attacks.clone()
    } else if args.quick {
        vec![root.join("eval/attacks/quick.json")]
    } else {
        ["core", "detect", "robustness"]
            .iter()
            .map(|f| root.join(format!("eval/attacks/{f}.json")))
            .collect()
    };
    let mut attacks = load_attacks(&attack_files)?;
    // Lists may share an attack (HEVC is in two); the matrix runs each name once.
    let mut seen = std::collections::HashSet::new();
    attacks.retain(|a| seen.insert(a.name.clone()));
    if attacks.is_empty() {
        bail!("no attacks in {}", attack_files[0].display());
    }
    let clips = if !args.clips.is_empty() {
        args.clips.clone()
    } else if args.quick {
        vec![quick_clip(&cache.join("abmark-720p.mp4"), &args.work)?]
    } else {
        vec![cache.join("abmark-720p.mp4")]
    };
    for clip in &clips {
        if !clip.exists() {
            bail!("{}: no such clip (run datasets/fetch.sh)", clip.display());
        }
    }
    let default_peers = root.join("eval/data/peers.json");
    let name = if args.quick { "benchmark-quick" } else { "benchmark" };
    Ok(Plan {
        clips,
        attacks,
        sessions: args.sessions.unwrap_or(2),
        collusions: args.collusions.unwrap_or(if args.quick { 1 } else { 2 }),
        sampling: if args.quick {
            QualitySampling { step: 50, frames: 50 }
        } else {
            QualitySampling { step: 25, frames: 200 }
        },
        report: args.report.clone().unwrap_or_else(|| root.join("eval/report").join(name)),
        peers: args
            .peers
            .clone()
            .or_else(|| (!args.quick && default_peers.exists()).then_some(default_peers)),
    })
}

/// The quick run's clip: the first 100 s of the real clip at 640x360 (kept between runs).
fn quick_clip(source: &Path, work: &Path) -> anyhow::Result<PathBuf> {
    if !source.exists() {
        bail!("{}: no such clip (run datasets/fetch.sh)", source.display());
    }
    let clip = work.join("quick-360p-100s.mp4");
    if clip.exists() {
        return Ok(clip);
    }
    std::fs::create_dir_all(work)?;
    let partial = work.join("quick-360p-100s.partial.mp4");
    ffmpeg(&[
        "-i",
        path(source),
        "-t",
        "100",
        "-vf",
        "scale=640:360",
        "-c:v",
        "libx264",
        "-crf",
        "16",
        "-preset",
        "veryfast",
        "-c:a",
        "copy",
        path(&partial),
    ])?;
    std::fs::rename(&partial, &clip)?;
    Ok(clip)
}

fn clip_name(clip: &Path) -> String {
    clip.file_stem().map_or_else(|| "clip".into(), |s| s.to_string_lossy().into_owned())
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo run -p eval --release -- {}", args.join(" "))
}
