//! Helpers shared by the CLI integration tests: run the binary, name paths, find the real clips.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `abmark` with `args` and returns its output.
pub fn abmark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abmark")).args(args).output().expect("abmark runs")
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A clip of `datasets/cache/` (fetched by `datasets/fetch.sh`).
pub fn dataset(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/cache").join(name);
    assert!(p.exists(), "{} missing: run datasets/fetch.sh first", p.display());
    p
}
