//! The edge watching its viewers, against a real `abmark serve` over HTTP: the access log
//! (`--access-log`), the deny-list file re-read while serving (`--deny-list`), the live rules
//! against ripping (`--live-rules`), the request counters of `/metrics`, and the loop from the
//! access log through `abmark analytics --suspects` back to the deny list.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::edge::{Edge, Title, CONTENT};
use common::s;

fn title() -> &'static Title {
    static T: OnceLock<Title> = OnceLock::new();
    T.get_or_init(|| Title::package("watched", "cenc", None))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// An answer: status, `Abmark-Refusal`, `Retry-After`, body.
struct Answer {
    status: u16,
    refusal: String,
    retry_after: String,
    body: Vec<u8>,
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let header = |name: &str| {
        let v = response.headers().get(name).and_then(|v| v.to_str().ok());
        v.unwrap_or_default().to_owned()
    };
    let (refusal, retry_after) = (header("abmark-refusal"), header("retry-after"));
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap();
    Answer { status, refusal, retry_after, body }
}

fn get(url: &str, bearer: Option<&str>) -> Answer {
    let mut request = agent().get(url);
    if let Some(t) = bearer {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    read(request.call().unwrap_or_else(|e| panic!("GET {url}: {e}")))
}

/// `POST /license` for the title's video KID with `token`.
fn licence(edge: &Edge, token: &str) -> Answer {
    let body = serde_json::json!({ "kids": [title().video_kid_b64()], "type": "temporary" });
    let response = agent()
        .post(&format!("{}/license", edge.base))
        .header("Authorization", &format!("Bearer {token}"))
        .send(body.to_string())
        .unwrap();
    read(response)
}

/// Waits (up to a minute: this is a bound, not a timing claim) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "never happened: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Writes `text` to `path` through a rename, as `abmark analytics --suspects` does.
fn write_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn metrics(edge: &Edge) -> String {
    let answer = get(&format!("{}/metrics", edge.base), None);
    assert_eq!(answer.status, 200);
    String::from_utf8(answer.body).unwrap()
}

/// The value of one sample line of the metrics (`name{labels}`), 0 when absent.
fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// The personal video segment URIs of an HLS media playlist.
fn segment_uris(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("/media/") && l.ends_with(".m4s"))
        .map(String::from)
        .collect()
}

#[test]
fn the_access_log_names_each_request_of_a_session() {
    let t = title();
    let logs = tempfile::tempdir().unwrap();
    let access = logs.path().join("access.jsonl");
    let edge = Edge::start(t, &["--access-log", s(&access), "--trusted-proxy", "127.0.0.1"]);
    let session = 4242;
    let token = t.wm_token(session, &["--subject", "alice"]);
    let lic = t.licence_token("alice", session, &[]);
    let expected = t.mix_variants(session);
    let top = t.renditions()[0].clone();
    let base = &edge.base;

    // Personal mode: manifest, playlist, then the segments it lists, with the token alongside.
    assert_eq!(get(&format!("{base}/hls/master.m3u8?token={token}"), None).status, 200);
    let playlist = get(&format!("{base}/hls/{top}.m3u8?token={token}"), None);
    assert_eq!(playlist.status, 200);
    let uris = segment_uris(&String::from_utf8(playlist.body).unwrap());
    assert_eq!(uris.len(), expected.len());
    for uri in &uris {
        assert_eq!(get(&format!("{base}{uri}"), Some(&token)).status, 200, "{uri}");
    }
    assert_eq!(get(&format!("{base}/media/{top}/init.mp4"), None).status, 200);
    // Edge mode: the token picks the variant of each neutral segment.
    for n in 1..=expected.len() {
        let url = format!("{base}/edge/segments/{top}/seg-{n}.m4s");
        assert_eq!(get(&url, Some(&token)).status, 200);
    }
    assert_eq!(licence(&edge, &lic).status, 200);
    // Behind a trusted proxy, the viewer's forwarded address is the client.
    let forwarded = agent()
        .get(&format!("{base}/dash/manifest.mpd?token={token}"))
        .header("X-Forwarded-For", "203.0.113.7")
        .call()
        .unwrap();
    assert_eq!(forwarded.status().as_u16(), 200);
    // Refused at the token: counted, never logged.
    assert_eq!(get(&format!("{base}/hls/master.m3u8"), None).status, 401);
    assert_eq!(get(&format!("{base}/hls/master.m3u8?token=x{token}"), None).status, 403);

    // Manifest, playlist, init; segments twice; licence; the forwarded MPD.
    let want = 3 + 2 * expected.len() + 2;
    wait_until("every line on disk", || jsonl(&access).len() >= want);
    let records = jsonl(&access);
    assert_eq!(records.len(), want, "{records:#?}");
    let text = std::fs::read_to_string(&access).unwrap();
    assert!(!text.contains(&token) && !text.contains(&lic), "no token in the log");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&access).unwrap().permissions().mode() & 0o777, 0o600);

    let (proxied, records): (Vec<_>, Vec<_>) =
        records.into_iter().partition(|r| r["client"] == "203.0.113.7");
    assert_eq!(proxied.len(), 1, "{proxied:?}");
    assert_eq!(
        (proxied[0]["kind"].as_str(), proxied[0]["session"].as_u64()),
        (Some("manifest"), Some(4242))
    );
    for r in &records {
        assert_eq!(r["status"], 200, "{r}");
        assert!(r["bytes"].as_u64().unwrap() > 0, "{r}");
        assert!(r["client"].as_str().unwrap().starts_with("127.0.0.1:"), "{r}");
        assert!(r["user_agent"].as_str().unwrap().starts_with("ureq"), "{r}");
        assert!(r["time"].as_str().unwrap().ends_with('Z'), "{r}");
        if r["kind"] != "init" {
            assert_eq!(r["session"], session, "{r}");
            assert_eq!(r["subject"], "alice", "{r}");
            assert_eq!(r["content"], CONTENT, "{r}");
        }
    }
    let kinds: Vec<&str> = records.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for kind in ["manifest", "playlist", "init", "licence"] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kind}: {kinds:?}");
    }
    let segments: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["kind"] == "segment").collect();
    assert_eq!(segments.len(), 2 * expected.len());
    for r in segments {
        let i = r["segment"].as_u64().unwrap() as usize;
        assert_eq!(r["rendition"], top.as_str());
        assert_eq!(r["variant"].as_u64().unwrap() as u8, expected[i], "segment {i}: {r}");
    }

    let m = metrics(&edge);
    assert_eq!(sample(&m, "abmark_requests_total{kind=\"manifest\",status=\"2xx\"}"), 2);
    assert_eq!(sample(&m, "abmark_requests_total{kind=\"manifest\",status=\"4xx\"}"), 2);
    let segs = sample(&m, "abmark_requests_total{kind=\"segment\",status=\"2xx\"}");
    assert_eq!(segs as usize, 2 * expected.len());
    assert_eq!(sample(&m, "abmark_requests_total{kind=\"licence\",status=\"2xx\"}"), 1);
    assert!(m.contains("abmark_access_log_lines_dropped_total 0"), "{m}");
}

#[test]
fn a_subject_on_the_deny_list_file_is_refused_while_serving_and_served_again() {
    let t = title();
    let files = tempfile::tempdir().unwrap();
    let deny = files.path().join("deny.txt");
    write_by_rename(&deny, "# suspects\n");
    let edge = Edge::start(t, &["--deny-list", s(&deny)]);
    let top = t.renditions()[0].clone();
    let (alice, bob) =
        (t.wm_token(7001, &["--subject", "alice"]), t.wm_token(7002, &["--subject", "bob"]));
    let (alice_lic, bob_lic) =
        (t.licence_token("alice", 7001, &[]), t.licence_token("bob", 7002, &[]));
    let base = edge.base.clone();
    let manifest = |token: &str| get(&format!("{base}/dash/manifest.mpd?token={token}"), None);
    let segment = |token: &str| get(&format!("{base}/edge/segments/{top}/seg-2.m4s"), Some(token));
    assert_eq!(manifest(&alice).status, 200);
    assert_eq!(licence(&edge, &alice_lic).status, 200);

    write_by_rename(&deny, "# suspects\n# token used from 9 networks\nalice\n");
    wait_until("alice refused", || manifest(&alice).status == 403);
    let refused = manifest(&alice);
    assert_eq!(refused.refusal, "subject-denied");
    let refused = segment(&alice);
    assert_eq!((refused.status, refused.refusal.as_str()), (403, "subject-denied"));
    let refused = licence(&edge, &alice_lic);
    assert_eq!((refused.status, refused.refusal.as_str()), (403, "subject-denied"));
    let json: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(json["code"], "subject-denied");
    let playlist = get(&format!("{base}/hls/{top}.m3u8?token={alice}"), None);
    assert_eq!(playlist.status, 403);
    // Others are served.
    assert_eq!(manifest(&bob).status, 200);
    assert_eq!(segment(&bob).status, 200);
    assert_eq!(licence(&edge, &bob_lic).status, 200);

    // A file that does not parse keeps the list it replaces, and says where it broke.
    write_by_rename(&deny, "bob\nbad\u{7}subject\n");
    wait_until("the broken file reported", || edge.stderr().contains("deny.txt: line 2"));
    assert_eq!(manifest(&alice).status, 403);
    assert_eq!(manifest(&bob).status, 200);
    assert_eq!(licence(&edge, &bob_lic).status, 200);

    // Taken off the list: served again, licences included.
    write_by_rename(&deny, "# nobody\n");
    wait_until("alice served again", || manifest(&alice).status == 200);
    assert_eq!(segment(&alice).status, 200);
    assert_eq!(licence(&edge, &alice_lic).status, 200);

    let m = metrics(&edge);
    assert!(sample(&m, "abmark_denied_total{service=\"edge\"}") >= 3, "{m}");
    assert_eq!(sample(&m, "abmark_denied_total{service=\"licence\"}"), 1, "{m}");
    assert!(m.contains("abmark_deny_list_subjects 0"), "{m}");
    let licences = edge.log("licences.jsonl");
    assert!(licences.iter().any(|l| l["subject"] == "alice" && l["decision"] == "refused"));
}

#[test]
fn a_deny_list_file_that_is_missing_or_broken_at_start_is_refused() {
    let t = title();
    let files = tempfile::tempdir().unwrap();
    let missing = files.path().join("none.txt");
    let broken = files.path().join("broken.txt");
    std::fs::write(&broken, format!("ok\n{}\n", "x".repeat(300))).unwrap();
    for (file, says) in [(&missing, "none.txt"), (&broken, "broken.txt: line 2")] {
        let r = common::abmark(&[
            "serve",
            s(&t.out),
            "--key",
            s(&t.wm_key),
            "--listen",
            "127.0.0.1:0",
            "--session-log",
            s(&files.path().join("sessions.jsonl")),
            "--deny-list",
            s(file),
        ]);
        assert!(!r.status.success());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(says) && err.lines().count() == 1, "{err}");
        assert!(!files.path().join("sessions.jsonl").exists(), "nothing created");
    }
}

#[test]
fn live_rules_refuse_a_ripper_and_serve_a_viewer_at_real_time_pace() {
    let t = title();
    let logs = tempfile::tempdir().unwrap();
    let access: PathBuf = logs.path().join("access.jsonl");
    // Scaled down to the 12-s fixture (six 2-s segments): 4 s of content ahead, earned at twice
    // real time. A viewer fetching one segment a second stays within it however slow the
    // machine (slower only earns more); fetching all six at once needs 4 s to stay within it.
    let rule = ["--live-rules", "--live-ahead", "4", "--live-speed", "2", "--live-block", "600"];
    let mut args = rule.to_vec();
    args.extend(["--access-log", s(&access)]);
    let edge = Edge::start(t, &args);
    let renditions = t.renditions();
    let (top, low) = (&renditions[0], &renditions[renditions.len() - 1]);
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.out.join("job.json")).unwrap()).unwrap();
    let segments = job["segment_count"].as_u64().unwrap() as usize;
    let base = &edge.base;
    let url = |rendition: &str, n: usize| format!("{base}/edge/segments/{rendition}/seg-{n}.m4s");

    let ripper = t.wm_token(9001, &["--subject", "ripper"]);
    let statuses: Vec<Answer> = (1..=segments).map(|n| get(&url(top, n), Some(&ripper))).collect();
    assert_eq!(statuses[0].status, 200);
    let refused = statuses.iter().find(|a| a.status != 200).expect("the ripper was refused");
    assert_eq!((refused.status, refused.refusal.as_str()), (429, "too-fast"));
    assert!(refused.retry_after.parse::<u64>().unwrap() > 0);
    // Refused further segments, already fetched ones too, in any rendition.
    assert_eq!(get(&url(low, 1), Some(&ripper)).status, 429);

    let viewer = t.wm_token(9002, &["--subject", "viewer"]);
    for n in 1..=segments {
        assert_eq!(get(&url(top, n), Some(&viewer)).status, 200, "segment {n}");
        if n == 3 {
            // A rendition switch re-fetches what is buffered: free.
            for m in 1..=n {
                assert_eq!(get(&url(low, m), Some(&viewer)).status, 200, "switch {m}");
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }

    wait_until("the ripper's stderr line", || edge.stderr().contains("live rule too-fast"));
    assert!(edge.stderr().contains("subject ripper"), "{}", edge.stderr());
    let m = metrics(&edge);
    assert!(sample(&m, "abmark_live_rule_refused_total{rule=\"too_fast\"}") >= 2, "{m}");
    assert_eq!(sample(&m, "abmark_live_rule_sessions_blocked_total{rule=\"too_fast\"}"), 1);
    wait_until("the refusals logged", || {
        jsonl(&access).iter().any(|r| r["subject"] == "ripper" && r["status"] == 429)
    });
    let records = jsonl(&access);
    assert!(records.iter().all(|r| r["subject"] != "viewer" || r["status"] == 200));
}

/// The whole loop on a real edge: viewers and one token shared across six networks leave their
/// access log; `abmark analytics` reads it as written, flags the sharer alone and writes the
/// suspects file; the edge, watching that file as its deny list, refuses the sharer while it
/// keeps serving everyone else.
#[test]
fn analytics_flags_a_shared_token_from_the_access_log_and_the_edge_then_refuses_it() {
    let t = title();
    let files = tempfile::tempdir().unwrap();
    let access = files.path().join("access.jsonl");
    let suspects = files.path().join("suspects.txt");
    write_by_rename(&suspects, "# nobody yet\n");
    let edge = Edge::start(
        t,
        &["--access-log", s(&access), "--trusted-proxy", "127.0.0.1", "--deny-list", s(&suspects)],
    );
    let top = t.renditions()[0].clone();
    let base = edge.base.clone();
    // One viewer's visit from `address`: the playlist and its first `segments` segments.
    let watch = |token: &str, address: &str, segments: usize| {
        let playlist = agent()
            .get(&format!("{base}/hls/{top}.m3u8?token={token}"))
            .header("X-Forwarded-For", address)
            .call()
            .unwrap();
        let playlist = read(playlist);
        assert_eq!(playlist.status, 200);
        let uris = segment_uris(&String::from_utf8(playlist.body).unwrap());
        for uri in uris.iter().take(segments) {
            let r = agent()
                .get(&format!("{base}{uri}"))
                .header("Authorization", &format!("Bearer {token}"))
                .header("X-Forwarded-For", address)
                .call()
                .unwrap();
            assert_eq!(read(r).status, 200, "{uri}");
        }
    };
    let honest: Vec<String> =
        (1..=12u32).map(|v| t.wm_token(v, &["--subject", &format!("viewer-{v}")])).collect();
    for (v, token) in honest.iter().enumerate() {
        // A viewer may come back from a second address of its home network.
        watch(token, &format!("198.51.{v}.10"), 4);
        watch(token, &format!("198.51.{v}.11"), 2);
    }
    // Sharing is use from several networks over the same stretch of time, not a hand-over
    // from one to the next (a phone leaving the home Wi-Fi): analytics counts the networks
    // whose use spans a whole minute together (without a minute's pause). So the six watch
    // three times, half a minute apart.
    let shared = t.wm_token(99, &["--subject", "sharer"]);
    for round in 0..3 {
        if round > 0 {
            std::thread::sleep(Duration::from_secs(31));
        }
        for net in 0..6 {
            watch(&shared, &format!("203.0.{}.20", 113 + net), 2);
        }
    }
    let lines = 12 * 8 + 3 * 6 * 3;
    wait_until("every line on disk", || jsonl(&access).len() >= lines);

    let r = common::abmark(&[
        "analytics",
        "--access",
        s(&access),
        "--suspects",
        s(&suspects),
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let json: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(json["inputs"][0]["records"], lines, "{json:#}");
    assert_eq!(json["sessions_seen"], 13, "{json:#}");
    assert_eq!(json["subjects_flagged"], 1, "{json:#}");
    assert_eq!(json["subjects"][0]["subject"], "sharer", "{json:#}");
    let session = &json["sessions"][0];
    assert_eq!((session["session"].as_u64(), session["flagged"].as_bool()), (Some(99), Some(true)));
    let sharing = session["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "token-sharing" && r["raised"] == true)
        .unwrap_or_else(|| panic!("token sharing raised: {session:#}"));
    assert_eq!(sharing["value"], 6.0, "six networks within a minute");
    let deny = abmark_delivery::deny::DenyList::parse(&std::fs::read_to_string(&suspects).unwrap())
        .unwrap();
    assert_eq!(deny.subjects().collect::<Vec<_>>(), ["sharer"]);

    // The edge picks the file up: the sharer is refused, the viewers are not.
    wait_until("the sharer refused", || {
        get(&format!("{base}/hls/{top}.m3u8?token={shared}"), None).status == 403
    });
    assert_eq!(get(&format!("{base}/hls/{top}.m3u8?token={}", honest[0]), None).status, 200);
}
