//! Helpers shared by the CLI integration tests: run the binary, name paths, find the real clips.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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

/// Variants of a 12-s excerpt of the real clip (6 segments, 720p and 360p, AAC audio), made
/// once per test binary.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub out: PathBuf,
}

pub fn small_variants() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source.mp4");
        let st = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-ss", "2", "-i"])
            .arg(dataset("abmark-720p-short.mp4"))
            .args([
                "-t", "12", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "aac",
            ])
            .arg(&source)
            .status()
            .unwrap();
        assert!(st.success());
        let key = dir.path().join("wm.key");
        assert!(abmark(&["keygen", "-o", s(&key)]).status.success());
        let out = dir.path().join("variants");
        let r = abmark(&["variants", s(&source), "-o", s(&out), "--key", s(&key)]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        Fixture { dir, out }
    })
}

/// The track directories of an output, in job.json order (`0/720p`, ..., `audio`).
pub fn track_dirs(out: &Path) -> Vec<PathBuf> {
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("job.json")).unwrap()).unwrap();
    let outputs = job["outputs"].as_array().unwrap();
    outputs.iter().map(|o| out.join(o["path"].as_str().unwrap())).collect()
}

/// `seg-1.m4s`, `seg-2.m4s`, ... of a track directory.
pub fn segment_files(track: &Path) -> Vec<PathBuf> {
    (1..).map(|n| track.join(format!("seg-{n}.m4s"))).take_while(|p| p.exists()).collect()
}

/// init + every segment of a track, as one fMP4 byte stream.
pub fn concat(track: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(track.join("init.mp4")).unwrap();
    for seg in segment_files(track) {
        bytes.extend(std::fs::read(seg).unwrap());
    }
    bytes
}
