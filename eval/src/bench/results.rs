//! One file per finished unit of the matrix, `DIR/cells/unit-NNNNN.json`, written atomically:
//! a cell that dies leaves nothing that looks finished, and a rerun replaces its own files only.
//! Each file repeats the plan's id and configuration, so `merge` can tell a stale or foreign
//! result from a good one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::model::{CellReport, CollusionReport, InnocentReport};
use super::plan::{Config, Prepared, Unit};

const CELLS_DIR: &str = "cells";

/// What one unit measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitResult {
    /// The plan's id and configuration this was run under.
    pub plan: String,
    pub config: Config,
    /// The unit's number in [`Prepared::units`], and the unit itself.
    pub number: usize,
    pub unit: Unit,
    /// When it finished (seconds since the Unix epoch).
    pub finished_unix: f64,
    pub cells: Vec<CellReport>,
    pub collusion: Vec<CollusionReport>,
    pub innocent: Vec<InnocentReport>,
}

pub fn path(work: &Path, number: usize) -> PathBuf {
    work.join(CELLS_DIR).join(format!("unit-{number:05}.json"))
}

pub fn save(work: &Path, result: &UnitResult) -> anyhow::Result<()> {
    let dir = work.join(CELLS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = path(work, result.number);
    abmark_files::output::write_atomic(&file, &serde_json::to_vec_pretty(result)?, true)
        .with_context(|| format!("writing {}", file.display()))
}

/// The result of unit `number`, checked against the plan (None: not there yet).
pub fn load(
    work: &Path,
    plan: &Prepared,
    number: usize,
    unit: Unit,
) -> anyhow::Result<Option<UnitResult>> {
    let file = path(work, number);
    let text = match std::fs::read(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let result: UnitResult =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", file.display()))?;
    if result.plan != plan.id {
        bail!(
            "{}: from preparation {}, not {} (the one in {}): rerun its cells",
            file.display(),
            result.plan,
            plan.id,
            super::plan::PLAN_FILE
        );
    }
    if !result.config.same_as(&plan.config) {
        bail!("{}: made with another configuration than the plan's", file.display());
    }
    if result.number != number || result.unit != unit {
        bail!(
            "{}: holds unit {} {:?}, expected {number} {unit:?}",
            file.display(),
            result.number,
            result.unit
        );
    }
    Ok(Some(result))
}

/// Removes every result (a new preparation makes them stale).
pub fn clear(work: &Path) -> anyhow::Result<()> {
    let dir = work.join(CELLS_DIR);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}
