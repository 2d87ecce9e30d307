//! Marked titles for the tests, made one way: an excerpt of a real clip re-encoded as the
//! source, a new watermark key, `abmark variants` of it, and viewers' streams (`abmark mix`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{abmark, dataset, s};

/// Runs `ffmpeg -y INPUT... ARGS... OUTPUT` quietly; panics naming the output on failure.
pub fn ffmpeg(input: &[&str], output: &Path, args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(input)
        .args(args)
        .arg(output)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg -> {}", output.display());
}

/// Which part of which clip becomes the source, and how it is encoded.
pub struct Excerpt<'a> {
    /// A clip of `datasets/cache/`.
    pub clip: &'a str,
    pub start: f64,
    pub seconds: f64,
    /// x264 CRF of the source (low: a clean mezzanine).
    pub crf: u32,
    /// FFmpeg's audio arguments, e.g. `["-c:a", "copy"]`, `["-c:a", "aac"]` or `["-an"]`.
    pub audio: &'a [&'a str],
}

/// A source, its key and its variants output, all in one directory.
pub struct Marked {
    pub source: PathBuf,
    pub key: PathBuf,
    pub out: PathBuf,
    /// What `variants --json` printed (job.json).
    pub job: serde_json::Value,
}

impl Marked {
    /// In `dir`: `excerpt` as `source.mp4`, a new `wm.key`, and `abmark variants` with
    /// `variants_args` (e.g. `--renditions 360p`) into `out/`.
    pub fn make(dir: &Path, excerpt: &Excerpt, variants_args: &[&str]) -> Marked {
        let source = dir.join("source.mp4");
        let (start, seconds) = (excerpt.start.to_string(), excerpt.seconds.to_string());
        let crf = excerpt.crf.to_string();
        let clip = dataset(excerpt.clip);
        let mut args = vec!["-c:v", "libx264", "-preset", "veryfast", "-crf", &crf];
        args.extend_from_slice(excerpt.audio);
        ffmpeg(&["-ss", &start, "-t", &seconds, "-i", s(&clip)], &source, &args);
        Marked::of(dir, source, variants_args)
    }

    /// In `dir`: a new `wm.key` and `abmark variants SOURCE` with `variants_args` into `out/`.
    pub fn of(dir: &Path, source: PathBuf, variants_args: &[&str]) -> Marked {
        let key = dir.join("wm.key");
        assert!(abmark(&["keygen", "-o", s(&key)]).status.success());
        let out = dir.join("out");
        let mut args = vec!["variants", s(&source), "-o", s(&out), "--key", s(&key), "--json"];
        args.extend_from_slice(variants_args);
        let r = abmark(&args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let job = serde_json::from_slice(&r.stdout).unwrap();
        Marked { source, key, out, job }
    }

    /// `abmark mix`: the stream `session` receives, as one file at `to`.
    pub fn mix(&self, session: u32, to: &Path) {
        let n = session.to_string();
        let r = abmark(&["mix", s(&self.out), "--session", &n, "--key", s(&self.key), "-o", s(to)]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
}
