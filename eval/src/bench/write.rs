//! Saving the report: JSON (for tools), Markdown (for people and the README) and the
//! self-contained HTML page, each written to a temporary name and renamed, so a reader never
//! sees half a report. Rewritten after every unit of a one-process run: an interrupted run leaves what it
//! measured.

use std::path::Path;

use anyhow::Context;

use super::model::BenchReport;
use super::{html, markdown};

pub fn all(stem: &Path, report: &BenchReport) -> anyhow::Result<()> {
    if let Some(dir) = stem.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    atomic(&stem.with_extension("json"), &serde_json::to_string_pretty(report)?)?;
    rendered(stem, report)
}

/// The Markdown and HTML views of `report`.
pub fn rendered(stem: &Path, report: &BenchReport) -> anyhow::Result<()> {
    atomic(&stem.with_extension("md"), &markdown::markdown(report))?;
    atomic(&stem.with_extension("html"), &html::html(report)?)?;
    Ok(())
}

fn atomic(to: &Path, text: &str) -> anyhow::Result<()> {
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, text).with_context(|| format!("writing {}", to.display()))?;
    std::fs::rename(&partial, to).with_context(|| format!("writing {}", to.display()))?;
    Ok(())
}
