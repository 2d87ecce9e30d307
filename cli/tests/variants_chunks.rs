//! `abmark variants --chunk I/N` and `abmark variants assemble` on real clips: chunks run in a
//! shuffled order (one re-run) assemble into what the one-machine run writes (segments,
//! durations, sample counts, decode and presentation times, init segments, audio, sidecars,
//! fingerprints, manifests; quality within 0.1 dB), `detect` names a viewer of the assembled
//! output and `package` takes it; a 29.97-fps open-GOP source with B-frames split into a number
//! of chunks that does not divide its segments; and the chunk sets `assemble` must refuse
//! (missing, unfinished, another key, another source) with one line and nothing written.

mod common;

use common::{abmark, dataset, s};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use abmark_bmff::cmaf::read_fragments;

const VIEWER: u32 = 314_159;

/// The 24-s real clip (12 segments, one small rendition): the one-machine run, and the same
/// title as 3 chunks run as 2, 0, 1 and 1 again, assembled.
struct Fixture {
    dir: tempfile::TempDir,
    source: PathBuf,
    key: PathBuf,
    single: PathBuf,
    chunked: PathBuf,
    /// A copy of the finished chunks before `assemble` consumed them.
    pristine: PathBuf,
    /// `assemble` while chunk 1 was being re-run, and what OUT held after it.
    while_unfinished: (Output, Vec<String>),
    assembled: Output,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let source = dataset("abmark-720p-short.mp4");
        let key = dir.path().join("wm.key");
        assert!(abmark(&["keygen", "-o", s(&key)]).status.success());
        let single = dir.path().join("single");
        let r = abmark(&variants(&source, &single, &key, None));
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

        let chunked = dir.path().join("chunked");
        for i in [2, 0, 1] {
            run_chunk(&source, &chunked, &key, &format!("{i}/3"));
        }
        let pristine = dir.path().join("pristine");
        copy_dir(&chunked, &pristine);

        // Chunk 1 again, held still while its staging directory exists: assemble must wait.
        let mut rerun = Command::new(env!("CARGO_BIN_EXE_abmark"))
            .args(variants(&source, &chunked, &key, Some("1/3")))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let chunks = chunked.join(".chunks");
        while !listing(&chunks).iter().any(|n| n.starts_with(".1-of-3.partial-")) {
            assert!(rerun.try_wait().unwrap().is_none(), "the re-run ended early");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        signal(&rerun, "-STOP");
        let while_unfinished = (abmark(&["variants", "assemble", s(&chunked)]), listing(&chunked));
        signal(&rerun, "-CONT");
        let done = rerun.wait_with_output().unwrap();
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));

        let assembled = abmark(&["variants", "assemble", s(&chunked), "--json"]);
        Fixture { dir, source, key, single, chunked, pristine, while_unfinished, assembled }
    })
}

/// `variants SOURCE -o OUT --key KEY --renditions 360p [--chunk I/N]`.
fn variants<'a>(
    source: &'a Path,
    out: &'a Path,
    key: &'a Path,
    chunk: Option<&'a str>,
) -> Vec<&'a str> {
    let mut args =
        vec!["variants", s(source), "-o", s(out), "--key", s(key), "--renditions", "360p"];
    if let Some(c) = chunk {
        args.extend(["--chunk", c]);
    }
    args
}

fn run_chunk(source: &Path, out: &Path, key: &Path, chunk: &str) {
    let r = abmark(&variants(source, out, key, Some(chunk)));
    assert!(r.status.success(), "chunk {chunk}: {}", String::from_utf8_lossy(&r.stderr));
}

fn signal(child: &std::process::Child, sig: &str) {
    let st = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
    assert!(st.success());
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(st.success());
}

fn ffmpeg(args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg {args:?}");
}

fn job(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("job.json")).unwrap()).unwrap()
}

/// Per segment: (mfhd sequence, tfdt, sample count, total duration, sorted presentation times).
fn timing(track: &Path) -> Vec<(u32, u64, usize, u64, Vec<i64>)> {
    common::segment_files(track)
        .iter()
        .map(|seg| {
            let fragments = read_fragments(&std::fs::read(seg).unwrap()).unwrap();
            assert_eq!(fragments.len(), 1, "{}", seg.display());
            let f = &fragments[0];
            let mut decode = f.base_media_decode_time as i64;
            let mut shown = Vec::new();
            for sample in &f.samples {
                shown.push(decode + i64::from(sample.composition_offset));
                decode += i64::from(sample.duration);
            }
            shown.sort_unstable();
            let total = (decode - f.base_media_decode_time as i64) as u64;
            (f.sequence_number, f.base_media_decode_time, f.samples.len(), total, shown)
        })
        .collect()
}

/// Every track of `a` and `b` has the same segments with the same timing, and the same init
/// segment; the audio, its init and the WMPaceInfo sidecars are byte-identical.
fn assert_same_timing(a: &Path, b: &Path) {
    let (ja, jb) = (job(a), job(b));
    for field in
        ["segment_count", "segment_durations", "frames", "keyint", "timescale", "frame_rate"]
    {
        assert_eq!(ja[field], jb[field], "{field}");
    }
    let paths: Vec<&str> =
        ja["outputs"].as_array().unwrap().iter().map(|o| o["path"].as_str().unwrap()).collect();
    let paths_b: Vec<&str> =
        jb["outputs"].as_array().unwrap().iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert_eq!(paths, paths_b);
    for path in paths {
        let (ta, tb) = (a.join(path), b.join(path));
        let init = std::fs::read(ta.join("init.mp4")).unwrap();
        assert_eq!(init, std::fs::read(tb.join("init.mp4")).unwrap(), "{path}: init segments");
        let (sa, sb) = (timing(&ta), timing(&tb));
        assert!(!sa.is_empty());
        assert_eq!(sa.len(), sb.len(), "{path}: segment count");
        for (n, (x, y)) in sa.iter().zip(&sb).enumerate() {
            assert_eq!(x, y, "{path}: segment {}", n + 1);
        }
        let files = common::segment_files(&ta);
        for (n, seg) in files.iter().enumerate() {
            let name = format!("seg-{}.m4s", n + 1);
            if path == "audio" {
                assert_eq!(
                    std::fs::read(seg).unwrap(),
                    std::fs::read(tb.join(&name)).unwrap(),
                    "{path}/{name}"
                );
            } else {
                let sidecar = |t: &Path| std::fs::read(t.join("WMPaceInfo").join(&name)).unwrap();
                assert_eq!(sidecar(&ta), sidecar(&tb), "{path}: WMPaceInfo/{name}");
            }
        }
    }
    // Both variants of each rendition share one init segment.
    let init = |v: &str| std::fs::read(b.join(v).join("360p/init.mp4")).unwrap();
    assert_eq!(init("0"), init("1"));
}

/// A manifest with its bandwidth figures blanked (they follow the segments' sizes, which
/// differ between two encodes of the same frames).
fn without_bandwidths(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['=']) {
        let (head, tail) = rest.split_at(at + 1);
        out.push_str(head);
        let key_is_bandwidth = head.to_ascii_lowercase().ends_with("bandwidth=");
        rest = tail;
        if key_is_bandwidth {
            let quoted = rest.starts_with('"');
            let body = rest.trim_start_matches('"');
            let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            out.push_str(if quoted { "\"N" } else { "N" });
            rest = &body[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Mean PSNR of variant 0 of the 360p rendition against the source scaled to 360p.
fn psnr(out: &Path, source: &Path, scratch: &Path) -> f64 {
    std::fs::write(scratch, common::concat(&out.join("0/360p"))).unwrap();
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i", s(scratch), "-i", s(source)])
        .args(["-lavfi", "[1:v]scale=640:360[r];[0:v][r]psnr", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    let at = text.rfind("average:").expect("psnr line");
    text[at + 8..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn assembled_chunks_are_the_one_machine_output() {
    let f = fixture();
    assert!(f.assembled.status.success(), "{}", String::from_utf8_lossy(&f.assembled.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&f.assembled.stdout).unwrap();
    assert_eq!(printed["segment_count"], 12);
    assert_same_timing(&f.single, &f.chunked);
    assert_eq!(
        std::fs::read(f.single.join("fingerprints.bin")).unwrap(),
        std::fs::read(f.chunked.join("fingerprints.bin")).unwrap(),
        "fingerprints"
    );
    for name in ["0.m3u8", "0-360p.m3u8", "0-audio.m3u8", "0.mpd", "1.m3u8", "1-360p.m3u8", "1.mpd"]
    {
        let read = |o: &Path| without_bandwidths(&std::fs::read_to_string(o.join(name)).unwrap());
        assert_eq!(read(&f.single), read(&f.chunked), "{name}");
    }
    // The same layout, and nothing of the chunks left behind.
    assert_eq!(listing(&f.single), listing(&f.chunked));
    let (a, b) = (
        psnr(&f.single, &f.source, &f.dir.path().join("single-0.mp4")),
        psnr(&f.chunked, &f.source, &f.dir.path().join("chunked-0.mp4")),
    );
    assert!((a - b).abs() <= 0.1, "PSNR {a:.3} dB (one machine) vs {b:.3} dB (chunks)");
}

#[test]
fn a_viewer_of_the_assembled_output_is_named_and_it_packages() {
    let f = fixture();
    assert!(f.assembled.status.success(), "{}", String::from_utf8_lossy(&f.assembled.stderr));
    let viewer = f.dir.path().join("viewer.mp4");
    let n = VIEWER.to_string();
    let r = abmark(&["mix", s(&f.chunked), "--session", &n, "--key", s(&f.key), "-o", s(&viewer)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let log = f.dir.path().join("sessions.jsonl");
    common::write_session_log(&log, &f.key, [VIEWER]);
    let r = abmark(&[
        "detect",
        s(&viewer),
        "--ref",
        s(&f.chunked),
        "--key",
        s(&f.key),
        "--sessions",
        s(&log),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.stderr)));
    assert_eq!(report["verdict"], "named", "{}", report["message"]);
    assert_eq!(report["accused"]["session"], VIEWER);
    // Each chunk marked its segments with their title patterns: every decided segment, in
    // every chunk, carries the viewer's bit.
    let segments = report["segments"].as_array().unwrap();
    let decided: Vec<_> = segments.iter().filter(|seg| !seg["symbol"].is_null()).collect();
    assert!(decided.len() >= 10, "{}", report["segments"]);
    for seg in decided {
        assert_eq!(seg["symbol"], seg["expected"], "segment {}", seg["index"]);
    }
    let packaged = f.dir.path().join("packaged");
    let key = "00112233445566778899aabbccddeeff:ffeeddccbbaa99887766554433221100";
    let r =
        abmark(&["package", s(&f.chunked), "-o", s(&packaged), "--scheme", "cenc", "--key", key]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(job(&packaged)["segment_count"], 12);
}

/// 9.2 s at 29.97 fps, x264 with 3 B-frames and open GOPs every 50 frames (not on segment
/// boundaries): 276 frames, 5 segments of 60 frames (the last one short), in 3 chunks of 2, 2
/// and 1 segments.
#[test]
fn an_open_gop_29_97_source_in_chunks_that_do_not_divide_it() {
    let f = fixture();
    let dir = f.dir.path().join("ntsc");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("source.mp4");
    ffmpeg(&[
        "-i",
        s(&f.source),
        "-t",
        "9.2",
        "-r",
        "30000/1001",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-bf",
        "3",
        "-g",
        "50",
        "-x264-params",
        "open-gop=1",
        "-c:a",
        "aac",
        s(&source),
    ]);
    let single = dir.join("single");
    let r = abmark(&variants(&source, &single, &f.key, None));
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let chunked = dir.join("chunked");
    let mut frames = Vec::new();
    for i in [1, 2, 0] {
        let mut args = variants(&source, &chunked, &f.key, None);
        let spec = format!("{i}/3");
        args.extend(["--chunk", &spec, "--json"]);
        let r = abmark(&args);
        assert!(r.status.success(), "chunk {i}: {}", String::from_utf8_lossy(&r.stderr));
        let chunk: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        frames.push((
            i,
            chunk["first_segment"].as_u64().unwrap(),
            chunk["frames"].as_u64().unwrap(),
        ));
        if i > 0 {
            assert!(
                chunk["dropped_frames"].as_u64().unwrap() > 0,
                "chunk {i} started on a keyframe"
            );
        }
    }
    frames.sort_unstable();
    assert_eq!(
        frames,
        [(0, 0, 120), (1, 2, 120), (2, 4, 36)],
        "chunks (index, first segment, frames)"
    );
    let r = abmark(&["variants", "assemble", s(&chunked)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let line = String::from_utf8_lossy(&r.stdout);
    assert!(line.contains("276 frames, 5 segments"), "{line}");
    let j = job(&chunked);
    assert_eq!(j["frame_rate"], serde_json::json!([30000, 1001]));
    assert_eq!(j["keyint"], 60);
    assert_same_timing(&single, &chunked);
}

/// `assemble` on `out` fails with one line holding `needle` and exit `code`, and writes nothing.
fn assert_refused(out: &Path, needle: &str, code: i32) {
    let before = (listing(out), listing(&out.join(".chunks")));
    let r = abmark(&["variants", "assemble", s(out)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!((listing(out), listing(&out.join(".chunks"))), before, "assemble wrote something");
    assert!(!out.join("job.json").exists());
}

#[test]
fn incomplete_or_mixed_chunk_sets_are_refused_with_nothing_written() {
    let f = fixture();
    // Assembling while a chunk is being written (its staging directory present).
    let (r, after) = &f.while_unfinished;
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(66), "{err}");
    assert!(err.contains("chunk 1/3 is unfinished"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(after, &[".chunks".to_string()], "assemble wrote something");

    let copy = |name: &str| {
        let out = f.dir.path().join(name);
        copy_dir(&f.pristine, &out);
        out
    };
    let missing = copy("missing");
    std::fs::remove_dir_all(missing.join(".chunks/1-of-3")).unwrap();
    assert_refused(&missing, "chunk 1/3 is missing", 66);

    let other_key = f.dir.path().join("other.key");
    assert!(abmark(&["keygen", "-o", s(&other_key)]).status.success());
    let mixed = copy("mixed-keys");
    run_chunk(&f.source, &mixed, &other_key, "1/3");
    assert_refused(&mixed, "chunk 1/3 does not match chunk 0/3: made with another key", 65);

    // The same frames and parameters in another file: only the source fingerprint tells.
    let other = f.dir.path().join("other-source.mp4");
    ffmpeg(&["-i", s(&f.source), "-c", "copy", "-metadata", "title=another file", s(&other)]);
    let foreign = copy("other-source");
    run_chunk(&other, &foreign, &f.key, "2/3");
    assert_refused(&foreign, "chunk 2/3 does not match chunk 0/3: made from another source", 65);

    // A chunk of another split.
    let split = copy("other-split");
    run_chunk(&f.source, &split, &f.key, "3/4");
    assert_refused(&split, "split into", 65);
}
