//! `eval peers`: the open-source watermarkers people compare against, on the same real clip
//! and the same attack files as abmark, run with their own code (`eval/peers/peers.py`, in a
//! virtualenv `scripts/tools.sh peers` makes).
//!
//! They are image watermarkers: each frame of a stretch of consecutive frames of the clip
//! carries the same 32 random bits. The marked frames go into one lossless video at the clip's
//! rate (so encoders see real motion, not a slide show), every
//! attack of the lists runs on it with the same FFmpeg code as abmark's attacks ([`apply`]),
//! and each attacked frame is read back. The peers have no registration: an attacked frame is
//! resized back to the original size before reading (a help they get for free); crops, pads
//! and rotations stay. Excerpt attacks are skipped: every frame carries the whole payload.
//!
//! Reported per method and attack: bit accuracy over all attacked frames, and the share of
//! frames read without a bit error; per method: luma PSNR of the marked frames and ms per
//! frame to embed and to read (one core, Python).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use crate::attack::{apply, ffmpeg, load_attacks, path};

const METHODS: [&str; 3] = ["imwatermark-dwtDct", "imwatermark-dwtDctSvd", "blind-watermark"];
const BITS: usize = 32;

#[derive(clap::Args)]
pub struct Args {
    /// The clip frames are taken from (default: the 184-s real clip).
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Consecutive frames marked, from `--start`.
    #[arg(long, default_value_t = 25)]
    frames: usize,
    /// Seconds into the clip where the frames start.
    #[arg(long, default_value_t = 30.0)]
    start: f64,
    /// Attack lists (JSON), in order (default: the core list and the robustness list).
    #[arg(long)]
    attacks: Vec<PathBuf>,
    /// Only the first N attacks of the lists.
    #[arg(long)]
    max_attacks: Option<usize>,
    /// Methods (default: all).
    #[arg(long, value_delimiter = ',')]
    methods: Vec<String>,
    #[arg(long, default_value = "target/eval-work/peers")]
    work: PathBuf,
    /// Where peers.md and peers.json go.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// What `peers.py embed` prints.
#[derive(Debug, Deserialize, Serialize, Clone)]
pub struct Embedded {
    pub method: String,
    pub frames: usize,
    pub ms_per_frame: f64,
    pub psnr_y: Option<f64>,
}

/// What `peers.py extract` prints.
#[derive(Debug, Deserialize)]
struct Extracted {
    frames: Vec<Option<String>>,
    ms_per_frame: f64,
}

/// One method under one attack.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct PeerCell {
    pub method: String,
    pub attack: String,
    pub frames: usize,
    /// Share of bits read right, over all frames (an unreadable frame counts as all wrong).
    pub bit_accuracy: f64,
    /// Share of frames with all bits right.
    pub frames_exact: f64,
    /// Share of the payload's bits right after a majority vote over all frames (every frame
    /// carries the same bits): what the peers get from the video's redundancy, as abmark gets
    /// it by accumulating a segment's frames.
    pub voted_accuracy: f64,
    pub extract_ms_per_frame: f64,
}

/// `peers.json` in the report directory; its committed copy `eval/data/peers.json` is what
/// `eval bench` reads by default.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeersReport {
    pub clip: String,
    /// Seconds into the clip of the first marked frame.
    pub start: f64,
    pub frames: usize,
    pub bits: usize,
    pub methods: Vec<Embedded>,
    pub cells: Vec<PeerCell>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::repo_root();
    let clip = args.clip.unwrap_or_else(|| root.join("datasets/cache/abmark-720p.mp4"));
    let attack_files = if args.attacks.is_empty() {
        vec![root.join("eval/attacks/core.json"), root.join("eval/attacks/robustness.json")]
    } else {
        args.attacks
    };
    let mut attacks = load_attacks(&attack_files)?;
    attacks.retain(|a| a.excerpt_seconds.is_none());
    if let Some(n) = args.max_attacks {
        attacks.truncate(n);
    }
    let methods: Vec<String> = if args.methods.is_empty() {
        METHODS.iter().map(|m| m.to_string()).collect()
    } else {
        args.methods
    };
    if let Some(m) = methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
        bail!("unknown method {m} (known: {})", METHODS.join(", "));
    }
    let report_dir = args.report.unwrap_or_else(|| root.join("eval/report"));
    let python = peers_python(&root)?;
    let script = root.join("eval/peers/peers.py");

    std::fs::create_dir_all(&args.work)?;
    let src = fresh_dir(&args.work.join("frames"))?;
    let rate =
        abmark_media::probe(&clip).with_context(|| format!("probing {}", clip.display()))?.fps;
    ffmpeg(&[
        "-ss",
        &format!("{:.3}", args.start),
        "-i",
        path(&clip),
        "-frames:v",
        &args.frames.to_string(),
        path(&src.join("%04d.png")),
    ])?;
    let (width, height) = png_size(&src.join("0001.png"))?;
    let size = format!("{width}x{height}");
    // The same payload for every method and frame, fixed for reproducibility.
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let bits: String = (0..BITS).map(|_| if rng.next_u32() & 1 == 1 { '1' } else { '0' }).collect();

    let mut report = PeersReport {
        clip: clip.display().to_string(),
        start: args.start,
        frames: args.frames,
        bits: BITS,
        methods: Vec::new(),
        cells: Vec::new(),
    };
    for method in &methods {
        eprintln!("eval peers: {method}: embedding {} frames", args.frames);
        let marked = fresh_dir(&args.work.join(format!("marked-{method}")))?;
        let out = run_python(
            &python,
            &script,
            &["embed", "--method", method, "--bits", &bits, "--src", path(&src)],
            &["--dst", path(&marked)],
        )?;
        let embedded: Embedded = serde_json::from_str(&out).context("peers.py embed output")?;
        // Unattacked: the stored frames as they are.
        let clean = extract(&python, &script, method, &marked, &size)?;
        report.cells.push(cell(method, "none (stored frames)", &clean, &bits));
        // One lossless video of the marked frames at the clip's rate, the attacks' input.
        let video = args.work.join(format!("marked-{method}.mkv"));
        ffmpeg(&[
            "-framerate",
            &format!("{rate}"),
            "-i",
            path(&marked.join("%04d.png")),
            "-c:v",
            "ffv1",
            "-pix_fmt",
            "bgr0",
            path(&video),
        ])?;
        for attack in &attacks {
            let copy = args.work.join(format!("attacked-{method}.mp4"));
            apply(attack, &video, &copy, None)?;
            let frames = fresh_dir(&args.work.join(format!("attacked-{method}")))?;
            ffmpeg(&["-i", path(&copy), path(&frames.join("%04d.png"))])?;
            let read = extract(&python, &script, method, &frames, &size)?;
            let c = cell(method, &attack.name, &read, &bits);
            eprintln!(
                "eval peers: {method:<22} {:<44} bits {:>5.1}%  exact frames {:>5.1}%  voted {:>5.1}%",
                attack.name,
                100.0 * c.bit_accuracy,
                100.0 * c.frames_exact,
                100.0 * c.voted_accuracy
            );
            report.cells.push(c);
        }
        report.methods.push(embedded);
    }
    crate::peers_report::write(&report_dir, &report)?;
    Ok(())
}

fn extract(
    python: &Path,
    script: &Path,
    method: &str,
    frames: &Path,
    size: &str,
) -> anyhow::Result<Extracted> {
    let nbits = BITS.to_string();
    let out = run_python(
        python,
        script,
        &["extract", "--method", method, "--nbits", &nbits, "--src", path(frames)],
        &["--size", size],
    )?;
    serde_json::from_str(&out).context("peers.py extract output")
}

fn cell(method: &str, attack: &str, read: &Extracted, bits: &str) -> PeerCell {
    let n = read.frames.len().max(1) as f64;
    let right = |f: &Option<String>| -> usize {
        f.as_deref().map_or(0, |got| got.chars().zip(bits.chars()).filter(|(a, b)| a == b).count())
    };
    let total: usize = read.frames.iter().map(right).sum();
    let exact = read.frames.iter().filter(|f| right(f) == bits.len()).count();
    // Per bit: frames reading it right minus frames reading it wrong (unreadable frames abstain).
    let mut votes = vec![0i64; bits.len()];
    for got in read.frames.iter().flatten() {
        for ((v, g), want) in votes.iter_mut().zip(got.chars()).zip(bits.chars()) {
            *v += if g == want { 1 } else { -1 };
        }
    }
    let voted = votes.iter().filter(|&&v| v > 0).count();
    PeerCell {
        method: method.into(),
        attack: attack.into(),
        frames: read.frames.len(),
        bit_accuracy: total as f64 / (n * bits.len() as f64),
        frames_exact: exact as f64 / n,
        voted_accuracy: voted as f64 / bits.len() as f64,
        extract_ms_per_frame: read.ms_per_frame,
    }
}

/// The peers' Python (a virtualenv with exactly the pinned packages), installed on first use.
fn peers_python(root: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new("bash")
        .arg(root.join("scripts/tools.sh"))
        .arg("peers")
        .output()
        .context("running scripts/tools.sh peers")?;
    if !out.status.success() {
        bail!("scripts/tools.sh peers failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn run_python(
    python: &Path,
    script: &Path,
    args: &[&str],
    more: &[&str],
) -> anyhow::Result<String> {
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .args(more)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "peers.py {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn png_size(p: &Path) -> anyhow::Result<(u32, u32)> {
    let dims = image::image_dimensions(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(dims)
}

fn fresh_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.to_path_buf())
}
