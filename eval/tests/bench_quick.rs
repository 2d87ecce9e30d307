//! `eval bench --quick` end to end on the real clip (the reduced matrix the test command runs):
//! real variants, real FFmpeg attacks, the real detector. Checks what the benchmark exists to
//! show (sessions named, nobody innocent accused, the variants invisible) and that the report
//! it writes is complete and self-contained.

use std::path::{Path, PathBuf};
use std::process::Command;

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
}
