//! The report from a prepared work directory: the plan's clips, attacks and peers, then every
//! unit's result in plan order. The one-process run and a run split into cells on a cluster both
//! end here, so their reports differ only in the timing fields ([`TIMING_FIELDS`]).

use std::path::Path;

use anyhow::bail;

use super::model::{AttackInfo, BenchReport};
use super::plan::Prepared;
use super::results;

/// The report's fields that measure time or the machine, not the watermark: they differ run to
/// run and between a one-process and a cluster run. Everything else is identical. As JSON
/// paths (`[]`: every element).
pub const TIMING_FIELDS: &[&str] = &[
    "seconds",
    "cores",
    "clips[].variants_seconds",
    "clips[].variants_fps",
    "clips[].embed_fps_per_core",
    "cells[].detect_seconds",
];

/// The report of `work`'s plan and results. With `partial`, units not yet finished are left
/// out (a one-process run rewrites its report after every unit); without, every unit must be
/// there, or the error names the missing ones.
pub fn report(work: &Path, plan: &Prepared, partial: bool) -> anyhow::Result<BenchReport> {
    let mut report = BenchReport {
        command: plan.command.clone(),
        quick: plan.config.quick,
        cores: plan.cores,
        log_size: plan.config.log_size,
        clips: plan.clips.iter().map(|c| c.report.clone()).collect(),
        attacks: plan
            .config
            .attacks
            .iter()
            .map(|a| AttackInfo { name: a.name.clone(), sweep: a.sweep.clone() })
            .collect(),
        peers: plan.peers.clone(),
        ..BenchReport::default()
    };
    let mut last = plan.started_unix;
    let mut missing = Vec::new();
    let units = plan.units();
    for (number, unit) in units.iter().enumerate() {
        let Some(result) = results::load(work, plan, number, *unit)? else {
            missing.push(number);
            continue;
        };
        last = last.max(result.finished_unix);
        report.cells.extend(result.cells);
        report.collusion.extend(result.collusion);
        report.innocent.extend(result.innocent);
    }
    if !missing.is_empty() && !partial {
        let names: Vec<String> =
            missing.iter().take(5).map(|&n| results::path(work, n).display().to_string()).collect();
        bail!(
            "{} of {} cells not finished ({}{}): run eval bench --cells for them",
            missing.len(),
            units.len(),
            names.join(", "),
            if missing.len() > 5 { ", ..." } else { "" }
        );
    }
    report.seconds = last - plan.started_unix;
    Ok(report)
}

/// Copies that would name an innocent session (must be none).
pub fn accused(report: &BenchReport) -> usize {
    report.cells.iter().filter(|c| c.false_accusation).count()
        + report.collusion.iter().filter(|c| c.innocent_named).count()
        + report.innocent.iter().filter(|i| i.accused).count()
}
