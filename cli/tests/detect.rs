//! `abmark detect` on real copies of one viewer's stream: an excerpt that starts mid-segment, a
//! frame-rate change, scale + crop, turns and warps, an edited and re-framed copy, other
//! content, and a copy too short to name anyone.

mod common;

use common::marked::{ffmpeg, Excerpt, Marked};
use common::{abmark, dataset, s};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

const VIEWER: u32 = 271_828;

/// Variants of 56 s of the real clip (28 segments, 720p only), the viewer's stream (mix), and a
/// session log of 200 sessions that includes the viewer.
struct Fixture {
    dir: tempfile::TempDir,
    source: PathBuf,
    key: PathBuf,
    out: PathBuf,
    viewer: PathBuf,
    log: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let excerpt = Excerpt {
            clip: "abmark-720p.mp4",
            start: 20.0,
            seconds: 56.0,
            crf: 16,
            audio: &["-c:a", "copy"],
        };
        // One rendition: detection reads the top one (the default ladder's 360p is not used).
        let title = Marked::make(dir.path(), &excerpt, &["--renditions", "720p"]);
        let viewer = dir.path().join("viewer.mp4");
        title.mix(VIEWER, &viewer);

        // The log the edge would have written: 199 other sessions and the viewer's.
        let log = dir.path().join("sessions.jsonl");
        let Marked { source, key, out, .. } = title;
        common::write_session_log(&log, &key, (0..199u32).map(|k| k * 7_919 + 13).chain([VIEWER]));
        Fixture { dir, source, key, out, viewer, log }
    })
}

/// An attacked copy of the viewer's stream.
fn attacked(name: &str, input: &[&str], filters: &str) -> PathBuf {
    let f = fixture();
    let copy = f.dir.path().join(name);
    let mut args: Vec<&str> = input.to_vec();
    args.extend(["-i", s(&f.viewer)]);
    ffmpeg(
        &args,
        &copy,
        &["-vf", filters, "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-an"],
    );
    copy
}

fn detect(copy: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let f = fixture();
    let mut args = vec!["detect", s(copy), "--ref", s(&f.out), "--key", s(&f.key), "--json"];
    args.extend_from_slice(extra);
    let out = abmark(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

fn assert_named(report: &serde_json::Value, out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", report["message"]);
    assert_eq!(report["verdict"], "named", "{}", report["message"]);
    assert_eq!(report["accused"]["session"], VIEWER);
    assert_eq!(report["accused"]["subject"], format!("user-{VIEWER}"));
    let p = report["accused"]["false_accusation_probability"].as_f64().unwrap();
    assert!(p <= 1e-6, "innocent match probability {p}");
    assert!(report["accused"]["any_innocent_probability"].as_f64().unwrap() <= 1e-3);
    // Every decided segment agrees with the viewer's bit.
    for seg in report["segments"].as_array().unwrap() {
        if !seg["symbol"].is_null() {
            assert_eq!(seg["symbol"], seg["expected"], "segment {}", seg["index"]);
        }
    }
}

#[test]
fn an_excerpt_starting_mid_segment_is_placed_and_named() {
    let f = fixture();
    let copy = attacked("excerpt.mp4", &["-ss", "9.3", "-t", "44"], "null");
    let plot = f.dir.path().join("excerpt.svg");
    let (out, report) = detect(&copy, &["--sessions", s(&f.log), "--plot", s(&plot)]);
    let offset = report["temporal"]["offset_seconds"].as_f64().unwrap();
    // Within two frames: the per-frame reference window (±1.5 frames) takes up the rest.
    assert!((offset - 9.3).abs() <= 0.08, "offset {offset}");
    assert_named(&report, &out);
    assert_eq!(report["accused"]["mode"], "candidate");
    // The first reference segment seen is the one holding 9.3 s.
    assert_eq!(report["segments"][0]["index"], 4);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("#2a9d3a") && !svg.contains("#d62828"));
}

#[test]
fn a_frame_rate_change_is_followed() {
    let f = fixture();
    let copy = attacked("30fps.mp4", &[], "fps=30");
    let (out, report) = detect(&copy, &["--sessions", s(&f.log)]);
    assert_named(&report, &out);
    // 56 s of copy span 56 s, whatever the frame rate.
    let spanned = report["seconds_spanned"].as_f64().unwrap();
    assert!((spanned - 56.0).abs() < 1.0, "{spanned}");
    // A log without the viewer: nobody in it may be named (28 positions are plenty to rule them
    // out, and too few to name anyone blind).
    let others = f.dir.path().join("others.jsonl");
    let text = std::fs::read_to_string(&f.log).unwrap();
    let kept: Vec<&str> =
        text.lines().filter(|l| !l.contains(&format!("\"session\":{VIEWER},"))).collect();
    assert_eq!(kept.len(), 199);
    std::fs::write(&others, kept.join("\n")).unwrap();
    let (out, report) = detect(&copy, &["--sessions", s(&others)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(report["accused"].is_null(), "{}", report["message"]);
    assert_eq!(report["verdict"], "no_session", "{}", report["message"]);
    let offset = report["temporal"]["offset_seconds"].as_f64().unwrap();
    assert!(offset.abs() <= 0.08, "offset {offset}");
    assert_eq!(report["copy"]["fps"].as_f64().unwrap().round(), 30.0);
}

#[test]
fn scale_and_crop_are_undone() {
    let f = fixture();
    let copy = attacked("scaled.mp4", &["-ss", "3"], "crop=iw*0.9:ih*0.9,scale=864:486");
    let (out, report) = detect(&copy, &["--sessions", s(&f.log)]);
    assert_named(&report, &out);
    let sx = report["spatial"]["transform"]["sx"].as_f64().unwrap();
    assert!((sx - 0.75).abs() < 0.01, "scale {sx}");
}

/// A copy turned a few degrees (a camera not quite level, or a pirate dodging content
/// matching) is registered with the turn and read in full.
#[test]
fn a_turned_copy_is_named() {
    let f = fixture();
    let copy =
        attacked("turned.mp4", &["-ss", "2"], "rotate=-2.5*PI/180:fillcolor=black,scale=960:540");
    let (out, report) = detect(&copy, &["--sessions", s(&f.log)]);
    assert_named(&report, &out);
    let t = &report["spatial"]["transform"];
    let (sx, ky) = (t["sx"].as_f64().unwrap(), t["ky"].as_f64().unwrap());
    let degrees = ky.atan2(sx).to_degrees();
    assert!((degrees + 2.5).abs() < 0.25, "turn {degrees} deg: {t}");
    let text = abmark(&["detect", s(&copy), "--ref", s(&f.out), "--key", s(&f.key)]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("turned -2."));
}

/// A screen filmed at an angle: perspective, a slight turn, softer contrast, sensor noise.
#[test]
fn a_filmed_screen_is_named() {
    let copy = attacked(
        "filmed.mp4",
        &["-ss", "5"],
        "perspective=x0=W*0.02:y0=H*0.05:x1=W*0.97:y1=H*0.01:x2=W*0.03:y2=H*0.97:x3=W*0.99:\
         y3=H*0.93:sense=destination,eq=contrast=0.85:gamma=1.1,noise=alls=6",
    );
    let (out, report) = detect(&copy, &["--sessions", s(&fixture().log)]);
    assert_named(&report, &out);
    // Read through a warp: some of kx, ky, px, py (absent when zero) carry the angle.
    let t = &report["spatial"]["transform"];
    assert!(["kx", "ky", "px", "py"].iter().any(|k| t[k].is_f64()), "{}", report["spatial"]);
}

/// A thumbnail-sized copy (0.3x of the reference), below the usual scale search.
#[test]
fn a_thumbnail_copy_is_named() {
    let copy = attacked("thumbnail.mp4", &["-ss", "1"], "scale=384:216");
    let (out, report) = detect(&copy, &["--sessions", s(&fixture().log)]);
    assert_named(&report, &out);
    let sx = report["spatial"]["transform"]["sx"].as_f64().unwrap();
    assert!((sx - 0.3).abs() < 0.005, "scale {sx}");
}

/// An edited copy: an advert (other content) first, a stretch of the stream, a scene cut out
/// and another advert in its place, then the rest re-framed (cropped and blown up again). Each
/// stretch is aligned on its own, the adverts are stepped over, and both stretches count.
#[test]
fn an_edited_and_reframed_copy_is_read_piece_by_piece() {
    let f = fixture();
    let copy = f.dir.path().join("edited.mp4");
    ffmpeg(
        &["-i", s(&f.viewer), "-i", s(&dataset("unrelated-720p.mp4"))],
        &copy,
        &[
            "-filter_complex",
            "[1:v]trim=0:4,setpts=PTS-STARTPTS,scale=1280:720,setsar=1,fps=25[ad1];\
             [0:v]trim=1:21,setpts=PTS-STARTPTS,fps=25[a];\
             [1:v]trim=10:16,setpts=PTS-STARTPTS,scale=1280:720,setsar=1,fps=25[ad2];\
             [0:v]trim=27:55,setpts=PTS-STARTPTS,crop=iw*0.85:ih*0.85,scale=1280:720,fps=25[b];\
             [ad1][a][ad2][b]concat=n=4:v=1[v]",
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "26",
        ],
    );
    let (out, report) = detect(&copy, &["--sessions", s(&f.log)]);
    assert_named(&report, &out);
    let pieces = report["pieces"].as_array().unwrap();
    assert_eq!(pieces.len(), 2, "{}", report["pieces"]);
    let (a, b) = (&pieces[0], &pieces[1]);
    let num = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    // The first stretch shows reference 1 s at copy 4 s and ends at the second advert (copy
    // 24 s); it is found by the opening probe or a step or two after it.
    assert!((num(a, "offset_seconds") + 3.0).abs() < 0.1, "{a}");
    assert!(num(a, "from_seconds") <= 10.0, "{a}");
    assert!((num(a, "to_seconds") - 24.0).abs() < 1.5, "{a}");
    // The second shows reference 27 s at copy 30 s, blown up by 1/0.85.
    assert!((num(b, "offset_seconds") + 3.0).abs() < 0.1, "{b}");
    assert!(num(b, "from_seconds") >= 24.0 && num(b, "from_seconds") < 36.0, "{b}");
    assert!((b["transform"]["sx"].as_f64().unwrap() - 1.0 / 0.85).abs() < 0.01, "{b}");
    // Segments of the second stretch (reference 27-55 s) are decided too.
    let late = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["symbol"].is_u64() && s["reference_start_seconds"].as_f64().unwrap() >= 28.0)
        .count();
    assert!(late >= 8, "{late} segments decided after the advert");
}

/// Pirates flip pictures to get past content matching: the flip is found in time (mirrored
/// fingerprints) and in space, and the copy is read mirrored.
#[test]
fn a_copy_flipped_left_to_right_is_named() {
    let f = fixture();
    let copy = attacked("flipped.mp4", &["-ss", "4.6"], "hflip,scale=960:540");
    let (out, report) = detect(&copy, &["--sessions", s(&f.log)]);
    assert_named(&report, &out);
    assert_eq!(report["spatial"]["mirrored"], true, "{}", report["spatial"]);
    let text = abmark(&["detect", s(&copy), "--ref", s(&f.out), "--key", s(&f.key)]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("flipped left to right"));
}

#[test]
fn other_content_is_no_match() {
    let f = fixture();
    let (out, report) = detect(&dataset("unrelated-720p.mp4"), &["--sessions", s(&f.log)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(report["verdict"], "no_match", "{}", report["message"]);
    assert!(report["accused"].is_null());
    assert!(report["message"].as_str().unwrap().starts_with("no match to the reference"));
    // The unmarked source itself: the reference's content, but no watermark.
    let (out, report) = detect(&f.source, &["--sessions", s(&f.log)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(report["verdict"], "no_watermark", "{}", report["message"]);
}

#[test]
fn a_copy_too_short_says_how_much_more_it_needs() {
    let f = fixture();
    let copy = attacked("short.mp4", &["-ss", "21", "-t", "7"], "null");
    let (out, report) = detect(&copy, &["--sessions", s(&f.log)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(report["verdict"], "too_short", "{}", report["message"]);
    let more = report["more_seconds_needed"].as_f64().unwrap();
    // 200 candidates at alpha 1e-3 need 18 positions; 7 s shows about 4.
    assert!((20.0..=32.0).contains(&more), "{more}");
    assert!(report["accused"].is_null());
    // Blind (no log): the same copy needs far more.
    let (_, blind) = detect(&copy, &[]);
    assert!(blind["more_seconds_needed"].as_f64().unwrap() > 60.0);
}

#[test]
fn blind_mode_does_not_guess_and_bad_input_fails_in_one_line() {
    let f = fixture();
    // 28 segments (28 of 64 code bits) cannot single out one of 2^32 sessions without the log:
    // 16 codewords fit them. The detector says so rather than guessing.
    let (out, report) = detect(&f.viewer, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(report["verdict"], "too_short", "{}", report["message"]);
    assert_eq!(report["blind"]["decided"], 28);
    assert!(report["blind"]["any_innocent_probability"].as_f64().unwrap() > 1e-3);

    let missing = f.dir.path().join("nope.mp4");
    let r = abmark(&["detect", s(&missing), "--ref", s(&f.out), "--key", s(&f.key)]);
    assert_eq!(r.status.code(), Some(66), "a missing copy is a missing input");
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nope.mp4"), "{err}");

    // --candidates limits a log: without one it is a usage error, and a bad list names its line.
    let list = f.dir.path().join("suspects.txt");
    std::fs::write(&list, "# suspects\nuser-1\n").unwrap();
    let base = ["detect", s(&f.viewer), "--ref", s(&f.out), "--key", s(&f.key)];
    let r = abmark(&[&base[..], &["--candidates", s(&list)]].concat());
    assert_eq!(r.status.code(), Some(64), "{}", String::from_utf8_lossy(&r.stderr));
    let bad = f.dir.path().join("bad.txt");
    std::fs::write(&bad, "ok\nbad\u{7}subject\n").unwrap();
    let r = abmark(&[&base[..], &["--sessions", s(&f.log), "--candidates", s(&bad)]].concat());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("bad.txt") && err.contains("line 2"), "{err}");
}
