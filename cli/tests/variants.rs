//! `abmark variants` on a real clip: aligned, interchangeable A/B outputs, playable when mixed,
//! carrying their symbols; and all-or-nothing behaviour on bad input and interruption.

mod common;

use common::marked::{Excerpt, Marked};
use common::{abmark, s};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A 12-s excerpt of the real clip (6 segments), made once.
struct Fixture {
    dir: tempfile::TempDir,
    source: PathBuf,
    key: PathBuf,
    out: PathBuf,
    job: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let excerpt = Excerpt {
            clip: "abmark-720p-short.mp4",
            start: 0.0,
            seconds: 12.0,
            crf: 16,
            audio: &["-c:a", "copy"],
        };
        let Marked { source, key, out, job } = Marked::make(dir.path(), &excerpt, &[]);
        Fixture { dir, source, key, out, job }
    })
}

fn ffprobe(args: &[&str], input: &Path) -> String {
    let o = Command::new("ffprobe").args(["-v", "error"]).args(args).arg(input).output().unwrap();
    assert!(
        o.status.success(),
        "ffprobe {}: {}",
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// init + one segment as a standalone file, for ffprobe.
fn standalone(dir: &Path, n: usize, into: &Path) -> PathBuf {
    let mut bytes = std::fs::read(dir.join("init.mp4")).unwrap();
    bytes.extend(std::fs::read(dir.join(format!("seg-{n}.m4s"))).unwrap());
    std::fs::write(into, bytes).unwrap();
    into.to_owned()
}

#[test]
fn variants_are_aligned_segment_for_segment() {
    let f = fixture();
    assert_eq!(f.job["segment_count"], 6);
    assert!(f.job["key_fingerprint"].as_str().unwrap().len() == 16);
    let renditions: Vec<String> = f.job["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(renditions, ["720p", "360p"]);
    for r in &renditions {
        let (a, b) = (f.out.join("0").join(r), f.out.join("1").join(r));
        assert_eq!(
            std::fs::read(a.join("init.mp4")).unwrap(),
            std::fs::read(b.join("init.mp4")).unwrap(),
            "{r}: init segments differ"
        );
        for n in 1..=6 {
            let mut frames = Vec::new();
            for (v, dir) in [(0, &a), (1, &b)] {
                let file = standalone(dir, n, &f.dir.path().join(format!("probe-{v}.mp4")));
                let probe = ffprobe(
                    &[
                        "-select_streams",
                        "v",
                        "-show_entries",
                        "frame=key_frame,pict_type,pts",
                        "-of",
                        "csv=p=0",
                    ],
                    &file,
                );
                let lines: Vec<&str> = probe.lines().filter(|l| !l.trim().is_empty()).collect();
                assert!(lines[0].starts_with("1,"), "{r} v{v} seg {n} starts with {}", lines[0]);
                assert!(lines[0].contains(",I"), "{r} v{v} seg {n}: not an I frame: {}", lines[0]);
                frames.push(lines.len());
            }
            assert_eq!(frames[0], 50, "{r} seg {n}: frames");
            assert_eq!(frames[0], frames[1], "{r} seg {n}: frame counts differ");
        }
    }
    // job.json agrees: same durations and sample counts across variants.
    let outputs = f.job["outputs"].as_array().unwrap();
    let seg = |path: &str| outputs.iter().find(|o| o["path"] == path).unwrap()["segments"].clone();
    for r in &renditions {
        let (a, b) = (seg(&format!("0/{r}")), seg(&format!("1/{r}")));
        for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
            assert_eq!(
                (x["duration"].clone(), x["samples"].clone()),
                (y["duration"].clone(), y["samples"].clone())
            );
        }
    }
    let meta = outputs.iter().find(|o| o["path"] == "1/360p").unwrap()["meta"].clone();
    assert_eq!(
        (meta["width"].as_u64(), meta["height"].as_u64(), meta["wm_symbol"].as_u64()),
        (Some(640), Some(360), Some(1))
    );
    assert!(f.out.join("audio/init.mp4").exists());
    // The key itself is nowhere in OUT.
    let key = std::fs::read(&f.key).unwrap();
    let job_text = std::fs::read(f.out.join("job.json")).unwrap();
    assert!(!job_text.windows(key.len()).any(|w| w == key.as_slice()));
}

#[test]
fn mixed_playlists_decode_without_errors() {
    use abmark_delivery::layout::{manifests, JobFile};
    use abmark_delivery::manifest::SegmentSource;
    let f = fixture();
    // Segment i from variant i % 2, the way a viewer's personalised manifest mixes them.
    let job: JobFile = serde_json::from_value(f.job.clone()).unwrap();
    let bits: Vec<u8> = (0..job.segment_count).map(|i| (i % 2) as u8).collect();
    manifests::write(&f.out, &job, "mixed-alternating", SegmentSource::PerSegment(&bits)).unwrap();
    let playlist = std::fs::read_to_string(f.out.join("mixed-alternating-720p.m3u8")).unwrap();
    assert!(playlist.contains("0/720p/seg-1.m4s") && playlist.contains("1/720p/seg-2.m4s"));
    // FFmpeg 5.1's DASH demuxer needs an absolute manifest path to resolve segment URLs.
    assert!(f.out.is_absolute());
    for manifest in ["mixed-alternating.m3u8", "mixed-alternating.mpd"] {
        let path = f.out.join(manifest);
        assert!(path.exists(), "{manifest} missing");
        let o = Command::new("ffmpeg")
            .args(["-hide_banner", "-v", "error", "-nostdin", "-i"])
            .arg(&path)
            .args(["-f", "null", "-"])
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{manifest}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn each_variant_carries_its_symbol() {
    let f = fixture();
    for v in [0u8, 1] {
        let dir = f.out.join(v.to_string()).join("720p");
        let mut bytes = std::fs::read(dir.join("init.mp4")).unwrap();
        for n in 1..=6 {
            bytes.extend(std::fs::read(dir.join(format!("seg-{n}.m4s"))).unwrap());
        }
        let copy = f.dir.path().join(format!("variant-{v}.mp4"));
        std::fs::write(&copy, bytes).unwrap();
        let r = abmark(&["symbols", s(&copy), "--ref", s(&f.source), "--key", s(&f.key), "--json"]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let report: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        let segments = report["segments"].as_array().unwrap();
        assert_eq!(segments.len(), 6);
        for seg in segments {
            assert_eq!(seg["symbol"], v, "variant {v}: {seg}");
        }
    }
}

#[test]
fn refuses_bad_sources_and_existing_output_and_leaves_nothing() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Audio only: no video stream.
    let audio = dir.path().join("audio.m4a");
    let st = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            "2",
        ])
        .arg(&audio)
        .status()
        .unwrap();
    assert!(st.success());
    let r = abmark(&["variants", s(&audio), "-o", s(&out), "--key", s(&f.key)]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("no video stream"));
    // Truncated source.
    let bytes = std::fs::read(&f.source).unwrap();
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let r = abmark(&["variants", s(&truncated), "-o", s(&out), "--key", s(&f.key)]);
    assert!(!r.status.success(), "truncated source accepted");
    assert_eq!(String::from_utf8_lossy(&r.stderr).trim_end().lines().count(), 1);
    assert!(!out.exists(), "OUT left behind");
    // Existing OUT without --force.
    std::fs::create_dir(&out).unwrap();
    let r = abmark(&["variants", s(&f.source), "-o", s(&out), "--key", s(&f.key)]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("--force"));
    // Only what we made ourselves remains.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["audio.m4a", "out", "truncated.mp4"]);
}

#[test]
fn an_interrupted_run_leaves_no_output() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_abmark"))
        .args(["variants", s(&f.source), "-o", s(&out), "--key", s(&f.key), "--preset", "medium"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until work has visibly started (the staging directory exists), then kill it hard.
    let started = std::time::Instant::now();
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "an interrupted run produced OUT");
    // The next run cleans up the dead run's staging directory and succeeds.
    let r = abmark(&[
        "variants",
        s(&f.source),
        "-o",
        s(&out),
        "--key",
        s(&f.key),
        "--renditions",
        "360p",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out"]);
}
