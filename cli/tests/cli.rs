//! The `abmark` binary as a user meets it: keys, bad input, JSON output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn abmark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abmark")).args(args).output().expect("abmark runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn short_clip() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/cache/abmark-720p-short.mp4");
    assert!(p.exists(), "{} missing: run datasets/fetch.sh first", p.display());
    p
}

/// Fails unless the command failed with exactly one line on stderr containing `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    assert!(!out.status.success(), "expected failure");
    assert_ne!(out.status.code(), Some(1), "a known failure gets its own exit status");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "'{needle}' not in: {err}");
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("wm.key");
    let out = abmark(&["keygen", "-o", s(&key)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    key
}

#[test]
fn keygen_writes_a_private_key_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let before = std::fs::read(&key).unwrap();
    let again = abmark(&["keygen", "-o", s(&key)]);
    assert_one_line_error(&again, "already exists");
    assert_eq!(again.status.code(), Some(73), "an existing output");
    assert_eq!(std::fs::read(&key).unwrap(), before);
    let json = abmark(&["keygen", "-o", s(&dir.path().join("k2")), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["fingerprint"].as_str().unwrap().len(), 16);
}

#[test]
fn embed_refuses_bad_input_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let out = dir.path().join("out.mp4");

    let missing = dir.path().join("nope.mp4");
    let r = abmark(&["embed", s(&missing), "-o", s(&out), "--key", s(&key), "--symbol", "0"]);
    assert_one_line_error(&r, "nope.mp4");
    assert_eq!(r.status.code(), Some(66), "missing input");

    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video\n".repeat(100)).unwrap();
    let r = abmark(&["embed", s(&text), "-o", s(&out), "--key", s(&key), "--symbol", "0"]);
    assert_one_line_error(&r, "notes.mp4");
    assert_eq!(r.status.code(), Some(65), "not a video");

    let bytes = std::fs::read(short_clip()).unwrap();
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 5]).unwrap();
    let r = abmark(&["embed", s(&truncated), "-o", s(&out), "--key", s(&key), "--symbol", "0"]);
    assert_one_line_error(&r, "truncated.mp4");
    assert_eq!(r.status.code(), Some(65), "truncated video");

    let short_key = dir.path().join("short.key");
    std::fs::write(&short_key, [7u8; 16]).unwrap();
    // Open to others: refused before it is even read (as ssh refuses such keys).
    let embed_with = |key: &Path| {
        abmark(&["embed", s(&short_clip()), "-o", s(&out), "--key", s(key), "--symbol", "1"])
    };
    let r = embed_with(&short_key);
    assert_one_line_error(&r, "chmod 600");
    assert_eq!(r.status.code(), Some(65));
    let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600);
    std::fs::set_permissions(&short_key, private).unwrap();
    let r = abmark(&[
        "embed",
        s(&short_clip()),
        "-o",
        s(&out),
        "--key",
        s(&short_key),
        "--symbol",
        "1",
    ]);
    assert_one_line_error(&r, "short.key");
    assert_eq!(r.status.code(), Some(65), "a key file of the wrong length");
    let secret = String::from_utf8_lossy(&r.stderr).to_string();
    assert!(!secret.contains("0707"), "key bytes leaked: {secret}");

    let r = abmark(&["embed", s(&short_clip()), "-o", s(&out), "--key", s(&key), "--symbol", "2"]);
    assert_eq!(r.status.code(), Some(64), "symbol 2 is a usage error");

    // Nothing but our inputs is left behind: no output, no temp files.
    assert_eq!(entries(dir.path()), ["notes.mp4", "short.key", "truncated.mp4", "wm.key"]);
}

#[test]
fn symbols_reports_json_segments_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let clip = short_clip();
    // A 6-s excerpt, marked with symbol 0 (the CLI path end to end).
    let excerpt = dir.path().join("excerpt.mp4");
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", s(&clip), "-t", "6"])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-c:a", "copy", s(&excerpt)])
        .status()
        .unwrap();
    assert!(st.success());
    let marked = dir.path().join("marked.mp4");
    let r = abmark(&[
        "embed",
        s(&excerpt),
        "-o",
        s(&marked),
        "--key",
        s(&key),
        "--symbol",
        "0",
        "--preset",
        "veryfast",
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let embed: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(embed["frames"], 150);
    // The audio is kept.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", s(&marked)])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&probe.stdout).contains("audio"));

    let r = abmark(&["symbols", s(&marked), "--ref", s(&excerpt), "--key", s(&key), "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let segments = v["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3);
    for seg in segments {
        assert!(seg["index"].is_u64() && seg["llr"].is_f64());
        assert_eq!(seg["symbol"], 0, "{seg}");
    }

    // A different key finds nothing.
    let other = dir.path().join("other.key");
    assert!(abmark(&["keygen", "-o", s(&other)]).status.success());
    let r = abmark(&["symbols", s(&marked), "--ref", s(&excerpt), "--key", s(&other), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(v["segments"].as_array().unwrap().iter().all(|s| s["symbol"].is_null()), "{v}");

    let r = abmark(&[
        "symbols",
        s(&dir.path().join("gone.mp4")),
        "--ref",
        s(&excerpt),
        "--key",
        s(&key),
    ]);
    assert_one_line_error(&r, "gone.mp4");
}
