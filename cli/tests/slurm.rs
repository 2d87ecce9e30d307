//! `deploy/slurm/` on a real single-node Slurm cluster (Debian's slurmctld, slurmd and munge,
//! brought up and taken down by each test through `deploy/slurm/local-cluster.sh`): the
//! variants job array of the 24-s real clip assembles into what one machine makes; a chunk
//! cancelled mid-way (`scancel` of one array task) and resubmitted gives the same final
//! output; the detect array names each copy's session.

mod common;

use common::slurm::Cluster;
use common::{abmark, concat, dataset, s, track_dirs};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Chunks of the job array: 12 segments of the 24-s clip, 4 per chunk.
const CHUNKS: &str = "3";
/// A small ladder keeps the encodes cheap on a 2-core machine.
const LADDER: &str = "360p,180p";

/// The key and the one-machine run of the clip, made once.
struct Work {
    dir: tempfile::TempDir,
    source: PathBuf,
    key: PathBuf,
    single: PathBuf,
}

fn work() -> &'static Work {
    static W: OnceLock<Work> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // An absolute path without `..`, which submit.sh passes on unchanged: job.json records
        // the source's path as given, so both runs must be given the same.
        let source = std::fs::canonicalize(dataset("abmark-720p-short.mp4")).unwrap();
        let key = dir.path().join("wm.key");
        assert!(abmark(&["keygen", "-o", s(&key)]).status.success());
        let single = dir.path().join("single");
        let r = abmark(&[
            "variants",
            s(&source),
            "-o",
            s(&single),
            "--key",
            s(&key),
            "--renditions",
            LADDER,
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        Work { dir, source, key, single }
    })
}

/// The same job as a Slurm array of 3 chunks and the dependent assembly, on a cluster of its
/// own (down again before this returns), made once.
fn cluster_run() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let w = work();
        let cluster = Cluster::up();
        let out = w.dir.path().join("cluster");
        let r = cluster
            .script("submit.sh", &submit_args(w, &out, &["--wait", "--json"]))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "submit.sh: {stderr}");
        let outcome: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(outcome["ok"], true, "{outcome} {stderr}");
        assert_eq!(outcome["n"], 3);
        assert!(cluster.squeue("%i").is_empty(), "jobs left: {:?}", cluster.squeue("%i %T"));
        // Three chunk logs and one assembly log, each saying where it ran.
        let logs: Vec<_> = std::fs::read_dir(outcome["logs"].as_str().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(logs.iter().filter(|l| l.starts_with("variants-")).count(), 3, "{logs:?}");
        assert_eq!(logs.iter().filter(|l| l.starts_with("assemble-")).count(), 1, "{logs:?}");
        out
    })
}

/// submit.sh's arguments for the clip into `out`, `flags` first.
fn submit_args<'a>(w: &'a Work, out: &'a Path, flags: &[&'a str]) -> Vec<&'a str> {
    let mut args = flags.to_vec();
    args.extend([s(&w.source), s(out), CHUNKS, "--key", s(&w.key), "--", "--renditions", LADDER]);
    args
}

#[test]
fn the_job_array_assembles_what_one_machine_makes() {
    let w = work();
    let out = cluster_run();
    assert_same_output(&w.single, out, Exact::Structure);
}

#[test]
fn a_chunk_cancelled_mid_way_and_resubmitted_gives_the_same_output() {
    let w = work();
    let cluster = Cluster::up();
    let out = w.dir.path().join("cancelled");
    // One chunk at a time, so chunk 1 is caught while it encodes.
    let submit = cluster
        .script("submit.sh", &submit_args(w, &out, &["--wait", "--throttle", "1"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let task = loop {
        let running = cluster.squeue("%i %T");
        if let Some(line) = running.iter().find(|l| l.ends_with("_1 RUNNING")) {
            break line.split(' ').next().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(150), "chunk 1 never ran: {running:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(1000));
    let st = cluster.command("scancel").arg(&task).status().unwrap();
    assert!(st.success(), "scancel {task}");
    let r = submit.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "the run with a cancelled chunk succeeded: {stderr}");
    assert!(stderr.contains(&format!("{task} CANCELLED")), "{stderr}");
    // The assembly was cancelled with its dependency, not left pending; nothing final exists.
    assert!(cluster.squeue("%i").is_empty(), "jobs left: {:?}", cluster.squeue("%i %T"));
    assert!(!out.join("job.json").exists(), "a final output without chunk 1");
    // Assembling by hand now is refused in one line, and writes nothing either.
    let r = abmark(&["variants", "assemble", s(&out)]);
    let message = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "assembled without chunk 1");
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(!out.join("job.json").exists());

    let r = cluster
        .script("submit.sh", &submit_args(w, &out, &["--wait", "--chunks", "1"]))
        .output()
        .unwrap();
    assert!(r.status.success(), "resubmitting chunk 1: {}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("(chunks 1 of 3)"), "{stdout}");
    // The same chunks of the same job: the same bytes as the uninterrupted cluster run.
    assert_same_output(cluster_run(), &out, Exact::Bytes);
}

#[test]
fn the_detect_array_names_each_copys_session() {
    let w = work();
    let cluster = Cluster::up();
    let dir = w.dir.path().join("detect");
    std::fs::create_dir_all(&dir).unwrap();
    let sessions = [1_234, 98_765];
    let mut list = String::from("# two viewers' copies\n");
    for session in sessions {
        let copy = dir.join(format!("viewer-{session}.mp4"));
        let n = session.to_string();
        let r = abmark(&["mix", s(&w.single), "--session", &n, "--key", s(&w.key), "-o", s(&copy)]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        list.push_str(&format!("{}\n\n", copy.display()));
    }
    let list_file = dir.join("copies.txt");
    std::fs::write(&list_file, &list).unwrap();
    let log = dir.join("sessions.jsonl");
    // Few candidates: the 24-s copy carries 12 positions of the session code, enough to name
    // one of four sessions but not one of twenty.
    common::write_session_log(&log, &w.key, [7_919, 15_838].into_iter().chain(sessions));
    let results = dir.join("results");

    // Bad input first: refused in one line before anything is submitted.
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, format!("{}\n", dir.join("missing.mp4").display())).unwrap();
    let r = cluster
        .script(
            "submit-detect.sh",
            &[s(&bad), s(&results), "--ref", s(&w.single), "--key", s(&w.key)],
        )
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(message.contains("missing.mp4"), "{message}");
    assert!(!results.exists(), "results made for a refused list");
    assert!(cluster.squeue("%i").is_empty());

    let r = cluster
        .script(
            "submit-detect.sh",
            &[
                "--wait",
                "--json",
                s(&list_file),
                s(&results),
                "--ref",
                s(&w.single),
                "--key",
                s(&w.key),
                "--",
                "--sessions",
                s(&log),
            ],
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "submit-detect.sh: {stderr}");
    let outcome: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(outcome["ok"], true, "{outcome} {stderr}");
    assert_eq!(outcome["copies"], 2);
    // One report per copy and nothing else (no temporary file left behind).
    let mut names: Vec<_> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".slurm-logs")
        .collect();
    names.sort();
    assert_eq!(names, ["viewer-1234.mp4.json", "viewer-98765.mp4.json"]);
    for session in sessions {
        let report: serde_json::Value = serde_json::from_slice(
            &std::fs::read(results.join(format!("viewer-{session}.mp4.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(report["verdict"], "named", "{}", report["message"]);
        assert_eq!(report["accused"]["session"], session, "{}", report["message"]);
    }
}

/// How closely two variants outputs of the same job must agree.
#[derive(Clone, Copy, PartialEq)]
enum Exact {
    /// Every file byte for byte.
    Bytes,
    /// What a user relies on: the same files, init segments, audio and reference fingerprints
    /// byte for byte; the same samples with the same decode and presentation times and
    /// keyframes in every track; job.json and the manifests equal except for the encoded sizes
    /// and bitrates (x264's rate control and B-frame placement start afresh at each chunk).
    Structure,
}

fn assert_same_output(a: &Path, b: &Path, exact: Exact) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>(), "file lists");
    for (name, bytes) in &fa {
        let other = &fb[name];
        let byte_equal = exact == Exact::Bytes
            || name.ends_with("init.mp4")
            || name.starts_with("audio/")
            || name == "fingerprints.bin";
        if byte_equal {
            assert!(bytes == other, "{name} differs");
        } else if name == "job.json" {
            assert_eq!(job_shape(bytes), job_shape(other), "job.json");
        } else if name.ends_with(".m3u8") || name.ends_with(".mpd") {
            assert_eq!(without_bandwidths(bytes), without_bandwidths(other), "{name}");
        }
    }
    if exact == Exact::Structure {
        let tracks = track_dirs(a);
        assert!(tracks.len() >= 5, "{tracks:?}"); // 2 variants x 2 renditions + audio
        for track in tracks {
            let rel = track.strip_prefix(a).unwrap();
            let what = format!("samples of {}", rel.display());
            assert_same_samples(&samples(&track), &samples(&b.join(rel)), &what);
        }
    }
}

/// Every file under `dir` by its path relative to `dir`.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                into.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut all = BTreeMap::new();
    walk(dir, dir, &mut all);
    all
}

/// job.json without what depends on the encoded bytes: segment sizes and bitrates.
fn job_shape(bytes: &[u8]) -> serde_json::Value {
    let mut job: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    for r in job["renditions"].as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        r.remove("bitrate");
        r.remove("peak_bitrate");
    }
    for o in job["outputs"].as_array_mut().unwrap() {
        for seg in o["segments"].as_array_mut().unwrap() {
            seg.as_object_mut().unwrap().remove("bytes");
        }
    }
    job
}

/// A manifest with every bandwidth figure (HLS `BANDWIDTH=`, `AVERAGE-BANDWIDTH=`; DASH
/// `bandwidth="`) replaced by `#`.
fn without_bandwidths(bytes: &[u8]) -> String {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = ["BANDWIDTH=", "bandwidth=\""]
        .iter()
        .filter_map(|k| rest.find(k).map(|i| i + k.len()))
        .min()
    {
        out.push_str(&rest[..at]);
        rest = rest[at..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('#');
    }
    out.push_str(rest);
    out
}

/// A track's samples as FFmpeg reads them (init + every segment): decode times, durations and
/// keyframes in decode order, and the presentation times as a set. The order in which frames
/// are presented within a GOP (where x264 put its B-frames) may differ: each chunk's encoder
/// decides it from the frames it sees.
#[derive(Debug, PartialEq)]
struct Samples {
    dts: Vec<i64>,
    durations: Vec<i64>,
    keyframes: Vec<usize>,
    pts_sorted: Vec<i64>,
}

fn samples(track: &Path) -> Samples {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), concat(track)).unwrap();
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "packet=pts,dts,duration,flags", "-of", "csv=p=0"])
        .arg(file.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "ffprobe {}: {}",
        track.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let mut all = Samples { dts: vec![], durations: vec![], keyframes: vec![], pts_sorted: vec![] };
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        // FFmpeg has no duration for the first AAC packet ("N/A"): kept as a value of its own.
        let num = |k: usize| match f[k] {
            "N/A" => i64::MIN,
            v => v.parse::<i64>().unwrap_or_else(|_| panic!("{line}")),
        };
        all.pts_sorted.push(num(0));
        all.dts.push(num(1));
        all.durations.push(num(2));
        if f[3].starts_with('K') {
            all.keyframes.push(i);
        }
    }
    all.pts_sorted.sort_unstable();
    assert!(all.dts.len() > 100, "{}: {} samples", track.display(), all.dts.len());
    all
}

/// Equal samples, or a panic naming the first difference (not two dumps of every sample).
fn assert_same_samples(a: &Samples, b: &Samples, what: &str) {
    let fields = [
        ("decode times", &a.dts, &b.dts),
        ("durations", &a.durations, &b.durations),
        ("presentation times", &a.pts_sorted, &b.pts_sorted),
    ];
    for (name, x, y) in fields {
        assert_eq!(x.len(), y.len(), "{what}: number of samples");
        if let Some(i) = (0..x.len()).find(|&i| x[i] != y[i]) {
            panic!("{what}: {name} differ at sample {i}: {} vs {}", x[i], y[i]);
        }
    }
    assert_eq!(a.keyframes, b.keyframes, "{what}: keyframe positions");
}
