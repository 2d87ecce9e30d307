//! `abmark analytics` end to end: labelled traffic from `analytics simulate` (two different
//! configurations), ranked with precision and recall floors, the JSON, HTML and deny-list
//! outputs checked; bad input refused with the file and line; and the session and licence logs a
//! real `abmark serve` writes read as they are.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use abmark_delivery::deny::DenyList;
use common::edge::{Edge, Title};
use common::{abmark, s};

fn simulate(dir: &Path, args: &[&str]) {
    let mut all = vec!["analytics", "simulate", "--out", s(dir)];
    all.extend_from_slice(args);
    let r = abmark(&all);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for name in ["sessions.jsonl", "licences.jsonl", "access.jsonl", "labels.jsonl"] {
        assert!(dir.join(name).exists(), "{name}");
    }
}

fn logs(dir: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, name) in [
        ("--sessions", "sessions.jsonl"),
        ("--licences", "licences.jsonl"),
        ("--access", "access.jsonl"),
    ] {
        args.push(flag.to_owned());
        args.push(s(&dir.join(name)).to_owned());
    }
    args
}

fn analytics(args: &[String]) -> (serde_json::Value, std::process::Output) {
    let mut all = vec!["analytics".to_owned()];
    all.extend_from_slice(args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let r = abmark(&all);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let json = serde_json::from_slice(&r.stdout).unwrap_or(serde_json::Value::Null);
    (json, r)
}

/// Simulates, ranks, and checks precision, recall and every output file.
fn ranks_simulated_traffic(simulate_args: &[&str], precision: f64, recall: f64) {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    simulate(&sim, simulate_args);
    let (html, suspects) = (dir.path().join("report.html"), dir.path().join("suspects.txt"));
    let mut args = logs(&sim);
    args.extend(["--json", "--labels", s(&sim.join("labels.jsonl"))].map(String::from));
    args.extend(["--html".into(), s(&html).into(), "--suspects".into(), s(&suspects).into()]);
    let (json, _) = analytics(&args);
    let e = &json["evaluation"];
    let (p, r) = (e["precision"].as_f64().unwrap(), e["recall"].as_f64().unwrap());
    assert!(p >= precision && r >= recall, "precision {p}, recall {r}: {e:#}");
    assert!(e["abusers"].as_u64().unwrap() >= 5, "too few abusers to measure: {e}");

    // Every flagged subject has reasons with numbers.
    let flagged: BTreeSet<String> = json["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["flagged"] == true)
        .map(|s| {
            let raised: Vec<_> =
                s["reasons"].as_array().unwrap().iter().filter(|r| r["raised"] == true).collect();
            assert!(!raised.is_empty(), "{s}");
            for r in raised {
                assert!(r["z"].as_f64().unwrap() >= 4.0 && !r["text"].as_str().unwrap().is_empty());
            }
            s["subject"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(flagged.len() as u64, json["subjects_flagged"].as_u64().unwrap());

    // The deny list is exactly the flagged subjects, with reasons as comments.
    let text = std::fs::read_to_string(&suspects).unwrap();
    let list = DenyList::parse(&text).unwrap();
    assert_eq!(list.subjects().map(str::to_owned).collect::<BTreeSet<_>>(), flagged);
    assert!(text.contains("# score "), "{text}");

    // The report is one self-contained page with charts.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.matches("<svg").count() >= 2);
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("<link"));
    let first = flagged.iter().next().unwrap();
    assert!(page.contains(first.as_str()), "{first} missing from the report");
}

#[test]
fn ranks_the_standard_simulation() {
    ranks_simulated_traffic(&["--viewers", "400", "--seed", "11", "--hours", "12"], 0.8, 0.8);
}

/// A configuration unlike the one analytics was developed on: 6-s segments, three renditions,
/// long buffers, big CGNAT pools, mostly mobile viewers, other abuse proportions.
#[test]
fn ranks_a_different_service() {
    let args = ["--viewers", "500", "--seed", "12", "--hours", "12", "--profile", "other"];
    ranks_simulated_traffic(&args, 0.8, 0.8);
}

#[test]
fn the_same_seed_gives_the_same_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    simulate(&a, &["--viewers", "30", "--seed", "5", "--hours", "2"]);
    simulate(&b, &["--viewers", "30", "--seed", "5", "--hours", "2"]);
    for name in ["access.jsonl", "labels.jsonl"] {
        assert_eq!(std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap());
    }
}

#[test]
fn bad_lines_are_named_skipped_on_request_and_a_cut_last_line_is_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    simulate(&sim, &["--viewers", "20", "--seed", "3", "--hours", "1"]);
    let access = std::fs::read_to_string(sim.join("access.jsonl")).unwrap();
    let mut lines: Vec<&str> = access.lines().collect();
    lines.insert(1, "{not json");
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();

    let r = abmark(&["analytics", "--access", s(&broken), "--json"]);
    assert_eq!(r.status.code(), Some(65), "bad input status");
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("broken.jsonl, line 2:"), "{err}");
    assert!(r.stdout.is_empty());

    let html = dir.path().join("r.html");
    let r = abmark(&["analytics", "--access", s(&broken), "--html", s(&html)]);
    assert!(!r.status.success() && !html.exists(), "no report from a refused log");

    let (json, _) = analytics(&[
        "--access".into(),
        s(&broken).into(),
        "--skip-bad-lines".into(),
        "--json".into(),
    ]);
    assert_eq!(json["inputs"][0]["skipped"], 1);
    assert!(json["inputs"][0]["first_skipped"].as_str().unwrap().starts_with("line 2:"));

    // A live log caught mid-line: the cut line is counted, not fatal.
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, format!("{}\n{}", lines[0], &lines[2][..lines[2].len() / 2])).unwrap();
    let (json, _) = analytics(&["--access".into(), s(&cut).into(), "--json".into()]);
    assert_eq!(json["inputs"][0]["truncated"], 1);
    assert_eq!(json["inputs"][0]["records"], 1);

    let r = abmark(&["analytics", "--json"]);
    assert_eq!(r.status.code(), Some(64), "no logs is a usage error");
    let r = abmark(&["analytics", "--access", s(&dir.path().join("missing.jsonl"))]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("missing.jsonl"));
}

/// The session and licence logs of a real `abmark serve`: honest subjects take one licence
/// each; one subject replays its licence token from many players and is refused at the stream
/// limit each time. Analytics reads both logs as written and flags that subject alone.
#[test]
fn reads_the_logs_a_real_edge_writes() {
    let title = Title::package("analytics", "cenc", None);
    let edge = Edge::start(&title, &["--max-streams", "1"]);
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(title.out.join("job.json")).unwrap()).unwrap();
    let kid: Vec<u8> = job["protection"]["video"]["default_kid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let body = serde_json::json!({ "kids": [common::base64(&kid, true)], "type": "temporary" });
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let licence = |token: &str, player: &str| {
        agent
            .post(&format!("{}/license", edge.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Abmark-Player", player)
            .send(body.to_string())
            .unwrap()
            .status()
            .as_u16()
    };
    for v in 0..8u32 {
        let wm = title.wm_token(v, &[]);
        let manifest = agent.get(&format!("{}/dash/manifest.mpd?token={wm}", edge.base)).call();
        assert_eq!(manifest.unwrap().status().as_u16(), 200);
        let token = title.licence_token(&format!("viewer-{v}"), v, &[]);
        assert_eq!(licence(&token, "tv"), 200);
    }
    let greedy = title.licence_token("greedy@example.com", 100, &[]);
    assert_eq!(licence(&greedy, "player-0"), 200);
    for p in 1..=6 {
        assert_eq!(licence(&greedy, &format!("player-{p}")), 403);
    }
    let refused: Vec<_> = edge.log("licences.jsonl");
    assert_eq!(refused.iter().filter(|r| r["decision"] == "refused").count(), 6);

    let suspects = edge.dir.path().join("suspects.txt");
    let (json, _) = analytics(&[
        "--sessions".into(),
        s(&edge.dir.path().join("sessions.jsonl")).into(),
        "--licences".into(),
        s(&edge.dir.path().join("licences.jsonl")).into(),
        "--suspects".into(),
        s(&suspects).into(),
        "--json".into(),
    ]);
    assert_eq!(json["inputs"][0]["records"], 8, "{json:#}");
    assert_eq!(json["inputs"][1]["records"], 15, "{json:#}");
    assert_eq!(json["subjects_flagged"], 1, "{json:#}");
    let top = &json["subjects"][0];
    assert_eq!(top["subject"], "greedy@example.com");
    let limit = top["reasons"].as_array().unwrap().iter().find(|r| r["code"] == "stream-limit");
    assert_eq!(limit.expect("stream-limit raised")["value"], 6.0);
    let list = DenyList::parse(&std::fs::read_to_string(&suspects).unwrap()).unwrap();
    assert_eq!(list.subjects().collect::<Vec<_>>(), ["greedy@example.com"]);
}
