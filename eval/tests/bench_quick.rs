//! `eval bench --quick` end to end on the real clip (the reduced matrix the test command runs):
//! real variants, real FFmpeg attacks, the real detector. Checks what the benchmark exists to
//! show (sessions named, nobody innocent accused, the variants invisible) and that the report
//! it writes is complete and self-contained.
//!
//! Then half of the matrix's cells (task 1 of 2: the odd units) run again as a job array on a
//! real single-node Slurm cluster (`deploy/slurm/local-cluster.sh`, `deploy/slurm/bench-submit.sh
//! --prepared --tasks 1`), over the work the one-process run prepared and beside its other
//! results (as a failed task is resubmitted; the variants are not made twice and only half
//! the cells run again: the suite's time), and the report the cluster's merge job writes must
//! equal the one-process report in every field but the timing ones. A merge with a cell
//! missing or from another preparation is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_quick_benchmark_names_every_viewer_and_accuses_nobody() {
    let clip = workspace().join("datasets/cache/abmark-720p.mp4");
    assert!(clip.exists(), "{} missing: run datasets/fetch.sh first", clip.display());
    let report_dir = tempfile::tempdir().expect("temp dir");
    let stem = report_dir.path().join("quick");
    let work = workspace().join("target/eval-work/bench-quick-test");
    let output = Command::new(env!("CARGO_BIN_EXE_eval"))
        .current_dir(workspace())
        .args(["bench", "--quick", "--work"])
        .arg(&work)
        .arg("--report")
        .arg(&stem)
        .output()
        .expect("running eval");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "eval bench --quick failed:\n{stderr}");

    let json: Value = serde_json::from_slice(
        &std::fs::read(stem.with_extension("json")).expect("the JSON report"),
    )
    .expect("JSON");
    let attacks = json["attacks"].as_array().expect("attacks");
    let cells = json["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), attacks.len() * 2, "every attack for both sessions");
    for cell in cells {
        let what = format!("{} / {}", cell["attack"], cell["session"]);
        // Nothing in the quick list is meant to defeat the watermark on a 100-s copy.
        assert_eq!(cell["candidate_named"], true, "{what}: named from the session log");
        assert_eq!(cell["blind_named"], true, "{what}: named blind");
        assert_eq!(cell["false_accusation"], false, "{what}: nobody else nameable");
        assert_eq!(cell["wrong"], 0, "{what}: no segment decided wrong");
        let needed = cell["seconds_needed"].as_f64().expect("seconds needed");
        assert!(needed > 0.0 && needed <= 100.0, "{what}: {needed} s needed");
    }
    for c in json["collusion"].as_array().expect("collusion") {
        assert_eq!(c["innocent_named"], false, "collusion {}: an innocent named", c["sessions"]);
        if let Some(named) = c["named"].as_u64() {
            let colluders = c["sessions"].as_array().expect("sessions");
            assert!(colluders.iter().any(|s| s.as_u64() == Some(named)), "named {named}");
        }
    }
    let innocent = json["innocent"].as_array().expect("innocent copies");
    assert!(innocent.len() >= 2, "unmarked source and unrelated clip");
    assert!(innocent.iter().all(|i| i["accused"] == false), "{innocent:?}");

    let clip = &json["clips"][0];
    assert!(clip["embed_fps_per_core"].as_f64().unwrap_or(0.0) > 0.0);
    for q in clip["quality"].as_array().expect("quality") {
        let (psnr, s2) = (q["psnr_y"].as_f64().unwrap_or(0.0), q["ssimulacra2"].as_f64());
        assert!(psnr > 40.0, "variant {}: PSNR {psnr} dB against the clean encode", q["variant"]);
        assert!(s2.unwrap_or(0.0) > 70.0, "variant {}: SSIMULACRA2 {s2:?}", q["variant"]);
    }

    let markdown = std::fs::read_to_string(stem.with_extension("md")).expect("Markdown report");
    for attack in attacks {
        let name = attack["name"].as_str().expect("attack name");
        assert!(markdown.contains(name), "{name} missing from the Markdown report");
    }
    let html = std::fs::read_to_string(stem.with_extension("html")).expect("HTML report");
    assert!(html.matches("<svg").count() >= 3, "charts inlined in the HTML report");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "self-contained");

    the_cells_on_slurm_give_the_same_report(&work, &stem, report_dir.path());
}

/// A throwaway Slurm cluster of its own (`local-cluster.sh` under a directory of this test's),
/// taken down when dropped, whatever the test's outcome.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn script() -> PathBuf {
        workspace().join("deploy/slurm/local-cluster.sh")
    }

    fn up(dir: PathBuf) -> Cluster {
        let out = Command::new("bash")
            .arg(Self::script())
            .arg("up")
            .env("ABMARK_SLURM_DIR", &dir)
            .output()
            .expect("local-cluster.sh");
        let cluster = Cluster { dir };
        assert!(out.status.success(), "local-cluster.sh up: {}", text(&out));
        cluster
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("etc/slurm.conf")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = Command::new("bash")
            .arg(Self::script())
            .arg("down")
            .env("ABMARK_SLURM_DIR", &self.dir)
            .output();
        if let Ok(out) = out {
            if !out.status.success() {
                eprintln!("local-cluster.sh down: {}", text(&out));
            }
        }
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn eval(args: &[&str], work: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eval"))
        .current_dir(workspace())
        .args(args)
        .arg(work)
        .arg("--out")
        .arg(out)
        .output()
        .expect("running eval")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("JSON")
}

/// `value` without the fields `paths` names (`a`, `a[].b`).
fn without(mut value: Value, paths: &[String]) -> Value {
    for path in paths {
        match path.split_once("[].") {
            Some((list, field)) => {
                for item in value[list].as_array_mut().into_iter().flatten() {
                    item.as_object_mut().map(|o| o.remove(field));
                }
            }
            None => {
                value.as_object_mut().map(|o| o.remove(path.as_str()));
            }
        }
    }
    value
}

/// The first place two JSON values differ, as a path.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys().chain(y.keys()).find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, format!("{at}.{k}")),
                _ => Some(format!("{at}.{k} (only on one side)")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}[{i}]"))),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn the_cells_on_slurm_give_the_same_report(work: &Path, stem: &Path, reports: &Path) {
    let results = work.join("cells");
    let one_process: Vec<_> = std::fs::read_dir(&results).expect("the cells' results").collect();
    assert!(!one_process.is_empty(), "the one-process run left no cell results");

    let cluster = Cluster::up(workspace().join("target/slurm-bench-test"));
    let cluster_stem = reports.join("cluster");
    let started = Instant::now();
    let submitted_at = unix_now();
    let out = Command::new("bash")
        .arg(workspace().join("deploy/slurm/bench-submit.sh"))
        .args(["--prepared", "--tasks", "1", "--wait", "--json", "--out"])
        .arg(&cluster_stem)
        .arg(work)
        .arg("2")
        .env("SLURM_CONF", cluster.conf())
        .env("EVAL_BIN", env!("CARGO_BIN_EXE_eval"))
        .env("ABMARK_SLURM_POLL", "1")
        .output()
        .expect("bench-submit.sh");
    let seconds = started.elapsed().as_secs_f64();
    drop(cluster);
    assert!(out.status.success(), "bench-submit.sh on the local cluster failed: {}", text(&out));
    let submitted: Value = serde_json::from_slice(&out.stdout).expect("bench-submit.sh --json");
    assert_eq!(submitted["ok"], true, "{submitted}");
    eprintln!("bench_quick: task 1 of 2 on the single-node Slurm cluster took {seconds:.0} s");
    // The odd units are the cluster's, the even ones still the one-process run's.
    for unit in 0..4 {
        let result = read_json(&results.join(format!("unit-{unit:05}.json")));
        let finished = result["finished_unix"].as_f64().expect("finished_unix");
        assert_eq!(finished > submitted_at, unit % 2 == 1, "unit {unit} finished at {finished}");
    }

    // Merging again here reports which fields are timing ones.
    let again = reports.join("again");
    let out = eval(&["bench", "merge", "--json"], work, &again);
    assert!(out.status.success(), "eval bench merge: {}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("merge --json");
    let timing: Vec<String> = summary["timing_fields"]
        .as_array()
        .expect("timing_fields")
        .iter()
        .map(|f| f.as_str().expect("a field path").to_owned())
        .collect();
    assert!(timing.iter().any(|f| f == "cells[].detect_seconds"), "{timing:?}");

    let single = without(read_json(&stem.with_extension("json")), &timing);
    let cluster = without(read_json(&cluster_stem.with_extension("json")), &timing);
    assert_eq!(single["cells"].as_array().map(Vec::len), cluster["cells"].as_array().map(Vec::len));
    if let Some(at) = first_difference(&single, &cluster, String::new()) {
        panic!("the cluster's report differs from the one-process report at {at}");
    }
    let markdown = std::fs::read_to_string(cluster_stem.with_extension("md")).expect("Markdown");
    assert!(markdown.contains("x264 CRF 28"), "the cluster's Markdown report");
    assert!(cluster_stem.with_extension("html").exists(), "the cluster's HTML report");

    // A missing cell and a cell of another preparation are refused, and nothing is written.
    let first = results.join("unit-00000.json");
    let aside = reports.join("unit-00000.json");
    std::fs::rename(&first, &aside).expect("moving a result aside");
    let refused = reports.join("refused");
    let out = eval(&["bench", "merge"], work, &refused);
    assert!(!out.status.success(), "merged without unit 0");
    let err = text(&out);
    assert!(err.contains("not finished") && err.contains("unit-00000.json"), "{err}");
    let mut foreign = read_json(&aside);
    foreign["plan"] = Value::from("another-preparation");
    std::fs::write(&first, serde_json::to_vec(&foreign).expect("JSON")).expect("writing");
    let out = eval(&["bench", "merge"], work, &refused);
    assert!(!out.status.success(), "merged a cell of another preparation");
    assert!(text(&out).contains("from preparation another-preparation"), "{}", text(&out));
    assert!(!refused.with_extension("json").exists(), "a refused merge wrote a report");
    std::fs::rename(&aside, &first).expect("restoring the result");

    let out = Command::new(env!("CARGO_BIN_EXE_eval"))
        .args(["bench", "--cells", "2/2", "--work"])
        .arg(work)
        .output()
        .expect("running eval");
    assert!(!out.status.success() && text(&out).contains("below N"), "{}", text(&out));
}
