//! The benchmark's shared work, done once: the configuration from the flags, each clip's
//! variants, quality and speed ([`super::clip`]), and every random draw the cells will use,
//! written as the plan ([`super::plan`]) in the work directory.

use std::path::{Path, PathBuf};

use abmark_wm::key::WatermarkKey;
use anyhow::{bail, Context};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::clip::{prepare as prepare_clip, Ladder, QualitySampling};
use super::plan::{
    unix_now, CollusionDraw, Config, Prepared, PreparedClip, ReferenceMode, SessionDraw,
};
use super::run::Flags;
use super::{peers, results};
use crate::attack::{ffmpeg, load_attacks, path};

/// A fixed key: the benchmark must be reproducible run to run.
pub fn bench_key() -> WatermarkKey {
    WatermarkKey::from_bytes(*b"abmark-eval-fixed-key-0123456789")
}

/// Prepares `work` for the cells of the run `flags` describe; stale results of an earlier
/// preparation there are removed.
pub fn prepare(flags: &Flags, work: &Path) -> anyhow::Result<Prepared> {
    let started_unix = unix_now();
    let root = crate::repo_root();
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    let config = config(flags, &root, work)?;
    results::clear(work)?;
    let key = bench_key();
    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let sampling = QualitySampling { step: config.quality_step, frames: config.quality_frames };
    let ladder = match config.reference {
        ReferenceMode::Source => Ladder::SourceOnly,
        ReferenceMode::Variants | ReferenceMode::Both => Ladder::Default,
    };
    let mut clips = Vec::new();
    for clip in &config.clips {
        let name = clip_name(clip);
        let (reference, report) = prepare_clip(clip, &name, work, &key, &sampling, ladder)?;
        // The draws, in the order the one-process benchmark has always made them.
        let others = (0..config.log_size).map(|_| rng.next_u32()).collect();
        let duration = reference.job.segment_count as f64 * reference.job.segment_seconds;
        let sessions = (0..config.sessions)
            .map(|_| SessionDraw {
                session: rng.next_u32(),
                starts: config
                    .attacks
                    .iter()
                    .map(|a| a.excerpt_start(&mut rng, duration))
                    .collect(),
            })
            .collect();
        let collusions = (0..config.collusions)
            .map(|_| {
                let pair = [rng.next_u32(), rng.next_u32()];
                let segments = reference.choices(pair[0]).len();
                CollusionDraw {
                    pair,
                    first: (0..segments).map(|_| rng.next_u32() & 1 == 0).collect(),
                }
            })
            .collect();
        let variants = reference.out.strip_prefix(work).unwrap_or(&reference.out).to_owned();
        clips.push(PreparedClip { name, variants, report, others, sessions, collusions });
    }
    let prepared = Prepared {
        id: format!("{:.6}-{}", started_unix, std::process::id()),
        command: command(flags),
        report: flags.report.clone().unwrap_or_else(|| {
            root.join("eval/report").join(if config.quick {
                "benchmark-quick"
            } else {
                "benchmark"
            })
        }),
        started_unix,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        peers: match &config.peers {
            Some(file) => peers::load(file)?,
            None => Vec::new(),
        },
        clips,
        config,
    };
    prepared.save(work)?;
    Ok(prepared)
}

/// The matrix `flags` declare, with defaults filled in (`--quick` picks a reduced one).
fn config(flags: &Flags, root: &Path, work: &Path) -> anyhow::Result<Config> {
    let cache = root.join("datasets/cache");
    let attack_files = if !flags.attacks.is_empty() {
        flags.attacks.clone()
    } else if flags.quick {
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
    let clips = if !flags.clips.is_empty() {
        flags.clips.clone()
    } else if flags.quick {
        vec![quick_clip(&cache.join("abmark-720p.mp4"), work)?]
    } else {
        vec![cache.join("abmark-720p.mp4")]
    };
    let mut absolute = Vec::new();
    for clip in &clips {
        if !clip.exists() {
            bail!("{}: no such clip (run datasets/fetch.sh)", clip.display());
        }
        absolute.push(std::path::absolute(clip)?);
    }
    let default_peers = root.join("eval/data/peers.json");
    let unrelated = cache.join("unrelated-720p.mp4");
    Ok(Config {
        quick: flags.quick,
        clips: absolute,
        attacks,
        sessions: flags.sessions.unwrap_or(2),
        collusions: flags.collusions.unwrap_or(if flags.quick { 1 } else { 2 }),
        log_size: flags.log_size,
        seed: flags.seed,
        reference: flags.reference,
        quality_step: if flags.quick { 50 } else { 25 },
        quality_frames: if flags.quick { 50 } else { 200 },
        unrelated: unrelated.exists().then_some(unrelated),
        peers: flags
            .peers
            .clone()
            .or_else(|| (!flags.quick && default_peers.exists()).then_some(default_peers)),
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

/// The command that reproduces the report: the flags that shape the matrix, none of the paths
/// that only say where this run worked (so a run split into cells reports the same command).
fn command(flags: &Flags) -> String {
    let mut line = String::from("cargo run -p eval --release -- bench");
    let mut add = |flag: &str, value: Option<String>| {
        line.push_str(&format!(" --{flag}"));
        if let Some(v) = value {
            line.push_str(&format!(" {v}"));
        }
    };
    if flags.quick {
        add("quick", None);
    }
    for clip in &flags.clips {
        add("clips", Some(clip.display().to_string()));
    }
    for file in &flags.attacks {
        add("attacks", Some(file.display().to_string()));
    }
    if let Some(n) = flags.sessions {
        add("sessions", Some(n.to_string()));
    }
    if let Some(n) = flags.collusions {
        add("collusions", Some(n.to_string()));
    }
    if flags.log_size != super::run::DEFAULT_LOG_SIZE {
        add("log-size", Some(flags.log_size.to_string()));
    }
    if flags.seed != 1 {
        add("seed", Some(flags.seed.to_string()));
    }
    if flags.reference != ReferenceMode::Source {
        let mode = serde_json::to_value(flags.reference).ok();
        add("reference", mode.and_then(|v| v.as_str().map(str::to_owned)));
    }
    if let Some(p) = &flags.peers {
        add("peers", Some(p.display().to_string()));
    }
    line
}
