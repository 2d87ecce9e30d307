//! `abmark detect` when the source is gone: the reference is rebuilt from the variants output
//! alone (the mean of its two variants, at the default ladder's half-size rung), and a damaged
//! segment of it fails in one line.

mod common;

use common::marked::{ffmpeg, Excerpt, Marked};
use common::{abmark, s};

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const VIEWER: u32 = 314_159;

/// Variants (the default ladder: 720p and 360p) of 44 s of the real clip whose source was then
/// deleted, a mixed and attacked copy of one viewer's stream, and a session log of 100 sessions.
struct Fixture {
    dir: tempfile::TempDir,
    key: PathBuf,
    out: PathBuf,
    copy: PathBuf,
    log: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let excerpt = Excerpt {
            clip: "abmark-720p.mp4",
            start: 30.0,
            seconds: 44.0,
            crf: 16,
            audio: &["-an"],
        };
        let title = Marked::make(dir.path(), &excerpt, &[]);
        std::fs::remove_file(&title.source).unwrap();
        let viewer = dir.path().join("viewer.mp4");
        title.mix(VIEWER, &viewer);
        let Marked { key, out, .. } = title;
        let copy = dir.path().join("copy.mp4");
        ffmpeg(
            &["-i", s(&viewer)],
            &copy,
            &["-vf", "scale=854:480", "-c:v", "libx264", "-preset", "veryfast", "-crf", "28"],
        );
        let log = dir.path().join("sessions.jsonl");
        common::write_session_log(&log, &key, (0..99u32).map(|k| k * 104_729 + 7).chain([VIEWER]));
        Fixture { dir, key, out, copy, log }
    })
}

#[test]
fn a_copy_is_named_from_the_variants_output_alone() {
    let f = fixture();
    let r = abmark(&[
        "detect",
        s(&f.copy),
        "--ref",
        s(&f.out),
        "--key",
        s(&f.key),
        "--sessions",
        s(&f.log),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.stderr)));
    assert_eq!(r.status.code(), Some(0), "{}", report["message"]);
    assert_eq!(report["verdict"], "named", "{}", report["message"]);
    assert_eq!(report["accused"]["session"], VIEWER);
    // Registered in the top rendition's geometry (1280x720, centre 640,360), whatever rung the
    // reference was rebuilt from: 854x480 is two thirds of it.
    let transform = &report["spatial"]["transform"];
    assert_eq!(transform["cx"], 640.0, "{transform}");
    let scale = transform["sx"].as_f64().unwrap();
    assert!((scale - 854.0 / 1280.0).abs() < 0.01, "{transform}");
    let segments = report["segments"].as_array().unwrap();
    let decided: Vec<_> = segments.iter().filter(|seg| !seg["symbol"].is_null()).collect();
    // 22 segments of 2 s; every one of them decided, and right.
    assert_eq!(decided.len(), 22, "{}", report["segments"]);
    for seg in decided {
        assert_eq!(seg["symbol"], seg["expected"], "segment {}", seg["index"]);
        assert!(seg["z"].as_f64().unwrap().abs() > 10.0, "segment {}", seg);
    }
}

#[test]
fn a_damaged_segment_of_the_variants_fails_in_one_line() {
    let f = fixture();
    // A copy of the output whose variant 1 lost the end of a 360p segment.
    let damaged = f.dir.path().join("damaged");
    let st = Command::new("cp").arg("-r").arg(&f.out).arg(&damaged).status().unwrap();
    assert!(st.success());
    let segment = damaged.join("1/360p/seg-3.m4s");
    let bytes = std::fs::read(&segment).unwrap();
    std::fs::write(&segment, &bytes[..bytes.len() / 3]).unwrap();
    let r = abmark(&["detect", s(&f.copy), "--ref", s(&damaged), "--key", s(&f.key)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{err}");
    assert_ne!(r.status.code(), Some(2), "an unreadable reference is no verdict: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("damaged"), "{err}");
    assert!(r.stdout.is_empty(), "{}", String::from_utf8_lossy(&r.stdout));
}
