//! The prepared benchmark: what `eval bench --prepare` leaves in the work directory for the
//! cells to read (`DIR/bench-plan.json`), and the list of units of work it splits into.
//!
//! Everything random is drawn here, once, in the order the one-process benchmark always drew
//! it (per clip: the session log, then each session and its excerpt starts, then each
//! collusion's pair and mix), and written down. A cell never draws: whichever machine runs it,
//! in whatever order, it cuts the same copies. The plan also carries the configuration (clips,
//! attacks, counts, seed, reference mode) every result file repeats, so `merge` can refuse a
//! result of another run. It depends on the benchmark's model and attacks, not on any engine.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::model::{ClipReport, PeerMethod};
use crate::attack::Attack;

/// The plan's file name inside the work directory.
pub const PLAN_FILE: &str = "bench-plan.json";

/// What the detector compares copies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReferenceMode {
    Source,
    Variants,
    Both,
}

/// The matrix, with every default filled in: equal configurations give equal reports (timings
/// aside).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    pub quick: bool,
    /// The clips as the cells open them (the same path on every machine: a shared file system).
    pub clips: Vec<PathBuf>,
    pub attacks: Vec<Attack>,
    pub sessions: usize,
    pub collusions: usize,
    pub log_size: usize,
    pub seed: u64,
    pub reference: ReferenceMode,
    /// Variant quality sampling: every `quality_step`-th frame, at most `quality_frames`.
    pub quality_step: usize,
    pub quality_frames: usize,
    /// Other content, for the copies without a session (None: not on this machine).
    pub unrelated: Option<PathBuf>,
    pub peers: Option<PathBuf>,
}

impl Config {
    /// Compares as the JSON every file carries (attacks hold no float that JSON changes).
    pub fn same_as(&self, other: &Config) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

/// One viewer: the session and, per attack in order, its excerpt start (None: whole copy).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionDraw {
    pub session: u32,
    pub starts: Vec<Option<f64>>,
}

/// Two viewers and, per segment, whether the first one's variant is taken.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CollusionDraw {
    pub pair: [u32; 2],
    pub first: Vec<bool>,
}

/// A clip made ready: where its variants are and everything its cells draw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PreparedClip {
    pub name: String,
    /// The variants output, relative to the work directory.
    pub variants: PathBuf,
    pub report: ClipReport,
    /// The simulated session log's other sessions.
    pub others: Vec<u32>,
    pub sessions: Vec<SessionDraw>,
    pub collusions: Vec<CollusionDraw>,
}

/// `DIR/bench-plan.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Prepared {
    /// Names this preparation: results carry it, and a new `--prepare` makes older ones stale.
    pub id: String,
    pub config: Config,
    /// The command that reproduces the report (the configuration's flags, no paths of the run).
    pub command: String,
    /// Where the report goes unless `merge --out` says otherwise (path without extension).
    pub report: PathBuf,
    /// When the preparation started (seconds since the Unix epoch): the run's wall time is
    /// measured from here to the last cell's end.
    pub started_unix: f64,
    /// Logical cores of the machine that prepared (and timed the variants).
    pub cores: usize,
    pub peers: Vec<PeerMethod>,
    pub clips: Vec<PreparedClip>,
}

/// One independent piece of the matrix: its result is one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// One session's stream through one attack (every reference view).
    Session {
        clip: usize,
        session: usize,
        attack: usize,
    },
    Collusion {
        clip: usize,
        collusion: usize,
    },
    /// The unmarked source and the unrelated clip.
    Innocent {
        clip: usize,
    },
}

impl Prepared {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let file = dir.join(PLAN_FILE);
        let text = std::fs::read(&file).with_context(|| {
            format!("reading {} (run eval bench --prepare first)", file.display())
        })?;
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", file.display()))
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let file = dir.join(PLAN_FILE);
        abmark_files::output::write_atomic(&file, &serde_json::to_vec(self)?, true)
            .with_context(|| format!("writing {}", file.display()))
    }

    /// Every unit, in the order the report lists their results.
    pub fn units(&self) -> Vec<Unit> {
        let mut units = Vec::new();
        for (c, clip) in self.clips.iter().enumerate() {
            for session in 0..clip.sessions.len() {
                for attack in 0..self.config.attacks.len() {
                    units.push(Unit::Session { clip: c, session, attack });
                }
            }
            for collusion in 0..clip.collusions.len() {
                units.push(Unit::Collusion { clip: c, collusion });
            }
            units.push(Unit::Innocent { clip: c });
        }
        units
    }
}

/// `--cells I/N`: the units whose number is I modulo N (round robin, so that every share gets
/// a mix of attacks and sessions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellShare {
    pub index: usize,
    pub count: usize,
}

impl CellShare {
    pub const ALL: CellShare = CellShare { index: 0, count: 1 };

    pub fn holds(&self, unit: usize) -> bool {
        unit % self.count == self.index
    }
}

impl std::str::FromStr for CellShare {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let (i, n) = s.split_once('/').context("expected I/N, e.g. 0/8")?;
        let index: usize = i.trim().parse().with_context(|| format!("'{i}' is not a number"))?;
        let count: usize = n.trim().parse().with_context(|| format!("'{n}' is not a number"))?;
        if count == 0 {
            bail!("N must be at least 1");
        }
        if index >= count {
            bail!("I must be below N (0-based: 0/{count} to {}/{count})", count - 1);
        }
        Ok(CellShare { index, count })
    }
}

/// Seconds since the Unix epoch, as a float.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_shares_parse_and_cover_every_unit_once() {
        let shares: Vec<CellShare> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for unit in 0..10 {
            assert_eq!(shares.iter().filter(|s| s.holds(unit)).count(), 1, "unit {unit}");
        }
        assert!(CellShare::ALL.holds(7));
    }

    #[test]
    fn bad_cell_shares_say_why() {
        for (text, why) in [
            ("3/3", "below N"),
            ("0/0", "at least 1"),
            ("1", "I/N"),
            ("a/2", "'a' is not a number"),
        ] {
            let err = text.parse::<CellShare>().expect_err(text);
            assert!(format!("{err:#}").contains(why), "{text}: {err:#}");
        }
    }
}
