//! The attack matrix for the watermark core: clip x symbol x attack, every segment scored.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use abmark_detect::symbols::{detect_symbols, SegmentDecision, SymbolOptions, SymbolReport};
use abmark_media::mark::{mark_file, MarkJob, MarkReport};
use abmark_media::EncodeSettings;
use abmark_wm::key::WatermarkKey;
use abmark_wm::{Symbol, WatermarkParams};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::report;

#[derive(clap::Args)]
pub struct Args {
    /// The clip to mark (default: the 184-s real clip).
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Clip of other content for the false-mark check (default: the unrelated real clip).
    #[arg(long)]
    unrelated: Option<PathBuf>,
    /// Attack list (JSON).
    #[arg(long)]
    attacks: Option<PathBuf>,
    /// Only the first N seconds of the clip (0 = all).
    #[arg(long, default_value_t = 0.0)]
    seconds: f64,
    /// Working directory for marked and attacked files.
    #[arg(long, default_value = "target/eval-work")]
    work: PathBuf,
    /// Where the Markdown and JSON report go.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// One attack: an optional FFmpeg filter chain, then a re-encode.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Attack {
    pub name: String,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default = "default_codec")]
    pub codec: String,
    pub crf: u32,
    /// Keep only this many seconds, from a random start (leak detection: excerpts).
    #[serde(default)]
    pub excerpt_seconds: Option<f64>,
    /// Where this attack sits on a chart axis, e.g. `{"axis": "crf", "value": 28}`.
    #[serde(default)]
    pub sweep: Option<crate::bench::model::Sweep>,
}

impl Attack {
    /// A random start for the excerpt within a clip of `duration` seconds, if this attack cuts
    /// one (never on a frame boundary on purpose: real excerpts start anywhere).
    pub fn excerpt_start(
        &self,
        rng: &mut impl rand_chacha::rand_core::Rng,
        duration: f64,
    ) -> Option<f64> {
        let keep = self.excerpt_seconds?;
        let room = (duration - keep).max(0.0);
        Some((rng.next_u32() as f64 / u32::MAX as f64) * room)
    }
}

fn default_codec() -> String {
    "libx264".into()
}

/// The outcome of one attacked copy.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub attack: String,
    pub symbol: u8,
    pub segments: usize,
    pub correct: usize,
    pub wrong: usize,
    pub undecided: usize,
    /// Smallest z in the direction of the true symbol (the worst segment).
    pub worst_z: f64,
    /// LLR of that worst segment, in the direction of the true symbol.
    pub worst_llr: f64,
    pub median_z: f64,
    pub match_correlation: f64,
    pub detect_seconds: f64,
}

/// False-mark check on a copy that carries no watermark.
#[derive(Clone, Debug, Serialize)]
pub struct Unmarked {
    pub what: String,
    pub segments: usize,
    pub decided: usize,
    pub max_abs_z: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::repo_root();
    let cache = root.join("datasets/cache");
    let clip = args.clip.unwrap_or_else(|| cache.join("abmark-720p.mp4"));
    let unrelated = args.unrelated.unwrap_or_else(|| cache.join("unrelated-720p.mp4"));
    let attacks_file = args.attacks.unwrap_or_else(|| root.join("eval/attacks/core.json"));
    let report_dir = args.report.unwrap_or_else(|| root.join("eval/report"));
    let attacks: Vec<Attack> = serde_json::from_slice(
        &std::fs::read(&attacks_file)
            .with_context(|| format!("reading {}", attacks_file.display()))?,
    )
    .with_context(|| format!("parsing {}", attacks_file.display()))?;
    std::fs::create_dir_all(&args.work)?;

    // A fixed key: the benchmark must be reproducible run to run.
    let key = WatermarkKey::from_bytes(*b"abmark-eval-fixed-key-0123456789");
    let source = if args.seconds > 0.0 {
        let cut = args.work.join("source.mp4");
        ffmpeg(&["-i", path(&clip), "-t", &args.seconds.to_string(), "-c", "copy", path(&cut)])?;
        cut
    } else {
        clip.clone()
    };

    let params = WatermarkParams::default();
    let mut marks: Vec<MarkReport> = Vec::new();
    let mut cells = Vec::new();
    for symbol in [Symbol::Zero, Symbol::One] {
        let marked = args.work.join(format!("marked-{}.mp4", symbol.bit()));
        let job = MarkJob {
            symbol,
            params: params.clone(),
            encode: EncodeSettings {
                crf: 18.0,
                preset: "veryfast".into(),
                keyint: Some(50),
                ..Default::default()
            },
            measure_quality: true,
        };
        let _ = std::fs::remove_file(&marked);
        eprintln!("eval: marking {} with symbol {}", source.display(), symbol.bit());
        marks.push(mark_file(&source, &marked, &key, &job, &mut |_| {})?);
        for (i, attack) in attacks.iter().enumerate() {
            let copy = args.work.join(format!("attacked-{}-{i}.mp4", symbol.bit()));
            apply(attack, &marked, &copy, None)?;
            let started = Instant::now();
            let report = detect(&copy, &source, &key)?;
            let cell = score(attack, symbol, &report, started.elapsed().as_secs_f64());
            eprintln!(
                "eval: {:<32} symbol {}: {}/{} correct, worst z {:.2}",
                attack.name, cell.symbol, cell.correct, cell.segments, cell.worst_z
            );
            cells.push(cell);
            let _ = std::fs::remove_file(&copy);
        }
    }

    // False marks: the unmarked source after a plain re-encode, and unrelated content.
    let reencoded = args.work.join("unmarked.mp4");
    apply(
        &Attack {
            name: "unmarked".into(),
            filter: None,
            codec: default_codec(),
            crf: 23,
            excerpt_seconds: None,
            sweep: None,
        },
        &source,
        &reencoded,
        None,
    )?;
    let unmarked = vec![
        unmarked_check("unmarked source (x264 CRF 23)", &detect(&reencoded, &source, &key)?),
        unmarked_check("unrelated clip", &detect(&unrelated, &source, &key)?),
    ];
    let stem = attacks_file.file_stem().map(|s| s.to_string_lossy().into_owned());
    report::write(
        &report_dir,
        stem.as_deref().unwrap_or("core"),
        &source,
        &marks,
        &cells,
        &unmarked,
    )?;
    if cells.iter().any(|c| c.wrong > 0 || c.undecided > 0) {
        bail!("some segments were not decided correctly; see {}", report_dir.display());
    }
    Ok(())
}

fn detect(copy: &Path, reference: &Path, key: &WatermarkKey) -> anyhow::Result<SymbolReport> {
    Ok(detect_symbols(copy, reference, key, &SymbolOptions::default(), &mut |_| {})?)
}

/// Encoder threads of every attack (see [`apply`]).
const ATTACK_THREADS: &str = "4";

pub fn apply(
    attack: &Attack,
    input: &Path,
    output: &Path,
    start: Option<f64>,
) -> anyhow::Result<()> {
    let crf = attack.crf.to_string();
    let (ss, t) =
        (start.map(|s| format!("{s:.3}")), attack.excerpt_seconds.map(|t| format!("{t}")));
    let mut args: Vec<&str> = Vec::new();
    if let (Some(ss), Some(t)) = (&ss, &t) {
        args.extend(["-ss", ss.as_str(), "-t", t.as_str()]);
    }
    args.extend(["-i", path(input)]);
    if let Some(filter) = &attack.filter {
        args.extend(["-vf", filter.as_str()]);
    }
    args.extend(["-c:v", attack.codec.as_str(), "-crf", &crf, "-pix_fmt", "yuv420p", "-an"]);
    // A fixed encoder thread count, not one per CPU: x264's output depends on it, and a
    // benchmark cell must cut the same copy on any machine of a cluster (a task sees its own
    // share of CPUs) as in the one-process run.
    args.extend(["-threads", ATTACK_THREADS]);
    if attack.codec == "libx264" || attack.codec == "libx265" {
        args.extend(["-preset", "veryfast"]);
    }
    match attack.codec.as_str() {
        "libx265" => args.extend(["-x265-params", "log-level=error"]),
        // Constant quality in libvpx needs a zero target bitrate; realtime speed keeps the
        // benchmark's run time sane (quality per CRF is what is measured, not VP9's best).
        "libvpx-vp9" => args.extend(["-b:v", "0", "-deadline", "realtime", "-cpu-used", "8"]),
        "libsvtav1" => args.extend(["-preset", "10"]),
        _ => {}
    }
    args.push(path(output));
    ffmpeg(&args).with_context(|| format!("attack '{}'", attack.name))
}

/// The attacks of several attack files, in order.
pub fn load_attacks(files: &[PathBuf]) -> anyhow::Result<Vec<Attack>> {
    let mut attacks = Vec::new();
    for file in files {
        let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        attacks.extend(
            serde_json::from_slice::<Vec<Attack>>(&text)
                .with_context(|| format!("parsing {}", file.display()))?,
        );
    }
    Ok(attacks)
}

pub(crate) fn ffmpeg(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        // SVT-AV1 prints its banner and settings on stderr unless told not to.
        .env("SVT_LOG", "1")
        .args(args)
        .status()
        .context("running ffmpeg")?;
    if !status.success() {
        bail!("ffmpeg {} failed ({status})", args.join(" "));
    }
    Ok(())
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// The segments that hold at least half a segment of frames. A clip cut with `--seconds` ends a
/// frame or two into a new segment, which can never be decided and is not a segment of the cut.
fn full_segments(r: &SymbolReport) -> Vec<&SegmentDecision> {
    let longest = r.segments.iter().map(|s| s.frames).max().unwrap_or(0);
    r.segments.iter().filter(|s| s.frames * 2 >= longest).collect()
}

fn score(attack: &Attack, symbol: Symbol, r: &SymbolReport, seconds: f64) -> Cell {
    let sign = symbol.sign() as f64;
    let truth = symbol;
    let segments = full_segments(r);
    let worst = segments.iter().min_by(|a, b| (a.z * sign).total_cmp(&(b.z * sign)));
    Cell {
        attack: attack.name.clone(),
        symbol: truth.bit(),
        segments: segments.len(),
        correct: segments.iter().filter(|s| s.symbol == Some(truth)).count(),
        wrong: segments.iter().filter(|s| s.symbol.is_some_and(|b| b != truth)).count(),
        undecided: segments.iter().filter(|s| s.symbol.is_none()).count(),
        worst_z: worst.map_or(0.0, |s| s.z * sign),
        worst_llr: worst.map_or(0.0, |s| s.llr * sign),
        median_z: r.signal_z,
        match_correlation: r.match_correlation,
        detect_seconds: seconds,
    }
}

fn unmarked_check(what: &str, r: &SymbolReport) -> Unmarked {
    let segments = full_segments(r);
    Unmarked {
        what: what.into(),
        segments: segments.len(),
        decided: segments.iter().filter(|s| s.symbol.is_some()).count(),
        max_abs_z: segments.iter().map(|s| s.z.abs()).fold(0.0, f64::max),
    }
}
