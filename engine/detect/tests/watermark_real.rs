//! The watermark core on real media, end to end through the real FFmpeg: mark the 24-s real
//! clip with the engine, attack the result with the FFmpeg CLI, and check every segment's
//! decision. Needs `datasets/fetch.sh` to have run (scripts/test.sh does it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use abmark_detect::symbols::{detect_symbols, SymbolOptions, SymbolReport};
use abmark_media::mark::{mark_file, MarkJob};
use abmark_media::EncodeSettings;
use abmark_wm::key::WatermarkKey;
use abmark_wm::{Symbol, WatermarkParams};

const KEY: [u8; 32] = *b"integration-test-key-0123456789a";

fn dataset(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cache").join(name);
    assert!(path.exists(), "{} missing: run datasets/fetch.sh first", path.display());
    path
}

/// The short real clip marked with symbol 1 (made once per test binary).
fn marked() -> &'static (tempfile::TempDir, PathBuf) {
    static MARKED: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    MARKED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("marked-1.mp4");
        let job = MarkJob {
            symbol: Symbol::One,
            params: WatermarkParams::default(),
            encode: EncodeSettings {
                crf: 18.0,
                preset: "veryfast".into(),
                keyint: Some(50),
                ..Default::default()
            },
            measure_quality: true,
        };
        let report = mark_file(
            &dataset("abmark-720p-short.mp4"),
            &out,
            &WatermarkKey::from_bytes(KEY),
            &job,
            &mut |_| {},
        )
        .expect("marking the real clip");
        let q = report.quality.expect("quality measured");
        assert_eq!(report.frames, 600);
        assert!(q.psnr_mean >= 46.0 && q.psnr_min >= 44.0, "invisibility: {q:?}");
        assert!(q.ssim_min >= 0.995, "ssim: {q:?}");
        (dir, out)
    })
}

fn attack(input: &Path, name: &str, filter: Option<&str>, crf: u32) -> PathBuf {
    let out = marked().0.path().join(format!("{name}.mp4"));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"]).arg(input);
    if let Some(f) = filter {
        cmd.args(["-vf", f]);
    }
    let crf = crf.to_string();
    cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-crf", &crf, "-an"]).arg(&out);
    assert!(cmd.status().expect("ffmpeg runs").success(), "ffmpeg attack {name} failed");
    out
}

fn detect(copy: &Path) -> SymbolReport {
    detect_symbols(
        copy,
        &dataset("abmark-720p-short.mp4"),
        &WatermarkKey::from_bytes(KEY),
        &SymbolOptions::default(),
        &mut |_| {},
    )
    .expect("detection runs")
}

fn assert_all(report: &SymbolReport, symbol: Symbol, what: &str) {
    assert_eq!(report.segments.len(), 12, "{what}: segments");
    for s in &report.segments {
        assert_eq!(s.symbol, Some(symbol), "{what}: segment {} z {:.2}", s.index, s.z);
    }
}

#[test]
fn survives_crf28_and_downscale() {
    let copy = attack(&marked().1, "crf28-480p", Some("scale=854:480"), 28);
    let report = detect(&copy);
    assert!((report.transform.sx - 854.0 / 1280.0).abs() < 0.002, "{:?}", report.transform);
    assert_all(&report, Symbol::One, "CRF 28 + 854x480");
}

#[test]
fn survives_frame_rate_change_crop_and_tone() {
    let copy = attack(
        &marked().1,
        "fps30-crop-gamma",
        Some("fps=30,crop=iw*0.9:ih*0.9,eq=gamma=1.15:contrast=0.92"),
        23,
    );
    let report = detect(&copy);
    assert!((report.copy.fps - 30.0).abs() < 0.01);
    assert_all(&report, Symbol::One, "30 fps + crop + gamma");
}

#[test]
fn unmarked_and_unrelated_copies_give_no_symbols() {
    let source = dataset("abmark-720p-short.mp4");
    let reencoded = attack(&source, "unmarked", None, 23);
    let unmarked = detect(&reencoded);
    assert!(unmarked.match_correlation > 0.95);
    assert_eq!(unmarked.decided(), 0, "unmarked source: {:?}", unmarked.segments);
    let unrelated = detect(&dataset("unrelated-720p.mp4"));
    assert!(unrelated.match_correlation < 0.8, "unrelated matched {}", unrelated.match_correlation);
    assert_eq!(unrelated.decided(), 0, "unrelated clip: {:?}", unrelated.segments);
}
