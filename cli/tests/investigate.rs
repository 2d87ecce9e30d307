//! `abmark investigate serve` over real HTTP: API keys (401 without or with a wrong one, never
//! logged), the upload limit (413), `Idempotency-Key`, bad copies (garbage, empty, unknown
//! content, another video) ending as failed or done jobs while the service keeps serving,
//! concurrent submissions, the queue limit (429), a real detection of a viewer's copy naming
//! the session with its report and plot, `kill -9` mid-detection followed by a restart that
//! finishes the job, `DELETE` of a running and a queued job, the retention sweep, a copy
//! that exhausts the per-job memory limit, and HTTPS.

mod common;

use common::marked::{ffmpeg, Marked};
use common::{abmark, dataset, s, spawn_listening};

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const VIEWER: u32 = 4_242;
const CONTENT: &str = "film-1";

/// Variants of the 24-s clip (360p only: cheap), a viewer's copy, a session log of 20
/// sessions with the viewer's, a subject list naming the viewer and two others, a short copy
/// of another video.
struct Fixture {
    /// Holds the files below.
    _dir: tempfile::TempDir,
    out: PathBuf,
    key: PathBuf,
    log: PathBuf,
    suspects: PathBuf,
    viewer: PathBuf,
    other: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let source = dataset("abmark-720p-short.mp4");
        let title = Marked::of(dir.path(), source, &["--renditions", "360p"]);
        let viewer = dir.path().join("viewer.mp4");
        title.mix(VIEWER, &viewer);
        let Marked { key, out, .. } = title;
        let log = dir.path().join("sessions.jsonl");
        common::write_session_log(&log, &key, (1..20u32).map(|k| k * 7_919).chain([VIEWER]));
        let suspects = dir.path().join("suspects.txt");
        std::fs::write(
            &suspects,
            format!("# chosen before\nuser-7919\nuser-{VIEWER}\nuser-15838\n"),
        )
        .unwrap();
        let other = dir.path().join("other.mp4");
        ffmpeg(
            &["-t", "6", "-i", s(&dataset("unrelated-720p.mp4"))],
            &other,
            &["-vf", "scale=640:360", "-c:v", "libx264", "-preset", "veryfast", "-an"],
        );
        Fixture { _dir: dir, out, key, log, suspects, viewer, other }
    })
}

/// A state directory, a config and an API key.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
    key: String,
}

impl Setup {
    fn new(service: &str) -> Setup {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("investigate.toml");
        std::fs::write(
            &config,
            format!(
                "[service]\n{service}\n\n[[content]]\nid = \"{CONTENT}\"\nvariants = \"{}\"\n\
                 key = \"{}\"\nsessions = [\"{}\"]\ncandidates = \"{}\"\nalpha = 0.01\n",
                s(&f.out),
                s(&f.key),
                s(&f.log),
                s(&f.suspects)
            ),
        )
        .unwrap();
        let state = dir.path().join("state");
        let r = abmark(&["investigate", "key", "add", "analyst", "--state", s(&state)]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let key = String::from_utf8(r.stdout).unwrap().trim().to_owned();
        assert!(key.starts_with("abk_") && !key.contains('\n'), "the key alone on stdout");
        let db = std::fs::read(state.join("jobs.db")).unwrap();
        assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()), "only a hash is stored");
        Setup { dir, config, state, key }
    }

    fn start(&self) -> Service {
        self.start_with(&[])
    }

    fn start_with(&self, extra: &[&str]) -> Service {
        let stderr = self.dir.path().join("service.log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&stderr).unwrap();
        let (child, base) = spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_abmark"))
                .args(["investigate", "serve", "--config", s(&self.config)])
                .args(["--state", s(&self.state), "--listen", "127.0.0.1:0"])
                .args(extra)
                .stderr(log),
        );
        Service { child, base, stderr, key: self.key.clone() }
    }
}

/// A running service, killed (-9) on drop.
struct Service {
    child: Child,
    base: String,
    stderr: PathBuf,
    key: String,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = r.body_mut().with_config().limit(1 << 26).read_to_string().unwrap_or_default();
    Answer { status, headers, body }
}

impl Service {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get_as(&self, path: &str, key: Option<&str>) -> Answer {
        let mut req = agent().get(self.url(path));
        if let Some(k) = key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        answer(req.call().unwrap())
    }

    fn get(&self, path: &str) -> Answer {
        self.get_as(path, Some(&self.key.clone()))
    }

    fn submit(&self, content: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
        let mut req = agent()
            .post(self.url(&format!("/v1/detections?content={content}")))
            .header("Authorization", format!("Bearer {}", self.key));
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        answer(req.send(body).unwrap())
    }

    /// A submission that declares `length` bytes and sends none: the service must answer
    /// from the head alone (413, 429) without waiting for the body. The answer as text.
    fn refused_head(&self, length: u64) -> String {
        let url = self.url(&format!("/v1/detections?content={CONTENT}"));
        let auth = format!("Bearer {}", self.key);
        common::post_head_only(&url, &[("Authorization", &auth)], length)
    }

    /// Polls the job until `done(job)`; panics after ten minutes (a hang, not a speed test).
    fn wait(&self, id: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let job = self.get(&format!("/v1/detections/{id}")).json();
            if done(&job) {
                return job;
            }
            assert!(start.elapsed() < Duration::from_secs(600), "job stuck: {job}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn finished(&self, id: &str) -> serde_json::Value {
        self.wait(id, |j| !matches!(j["status"].as_str(), Some("queued" | "running")))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn one_line(reason: &serde_json::Value) -> &str {
    let r = reason.as_str().unwrap_or_else(|| panic!("no reason: {reason}"));
    assert!(!r.is_empty() && !r.contains('\n'), "one line: {r:?}");
    r
}

#[test]
fn keys_limits_idempotency_and_bad_copies_keep_the_service_serving() {
    let setup = Setup::new("max_upload_mb = 20\nqueue_limit = 16");
    let svc = setup.start();
    assert_eq!(svc.get_as("/healthz", None).status, 200);

    // Keys: missing and wrong get 401, logged without the key.
    let wrong = format!("{}x", svc.key);
    assert_eq!(svc.get_as("/v1/detections", None).status, 401);
    let r = svc.get_as("/v1/detections", Some(&wrong));
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].as_str().unwrap().contains("unknown API key"));
    let r = answer(agent().post(svc.url("/v1/detections?content=film-1")).send(&b"x"[..]).unwrap());
    assert_eq!(r.status, 401);
    assert_eq!(svc.get("/v1/detections").status, 200);
    let log = svc.log();
    assert!(log.contains("401 GET /v1/detections"), "{log}");
    assert!(!log.contains(&svc.key[4..]), "the key reached the log");

    // Over the limit: 413, nothing kept.
    let head = svc.refused_head(21 << 20);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");

    // Idempotency: the same key, the same job.
    let idem = [("Idempotency-Key", "crawler-42")];
    let a = svc.submit(CONTENT, b"not a video at all".to_vec(), &idem);
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(a.header("location"), Some(format!("/v1/detections/{id}").as_str()));
    let b = svc.submit(CONTENT, b"another body".to_vec(), &idem);
    assert_eq!(b.json()["id"], id.as_str());

    // Garbage bytes: failed, one line; the service keeps serving.
    let job = svc.finished(&id);
    assert_eq!(job["status"], "failed", "{job}");
    let reason = one_line(&job["reason"]);
    assert!(!reason.contains(s(&setup.state)), "no state path in {reason}");

    // Empty body and unknown content: failed at once, with their reasons.
    let empty = svc.submit(CONTENT, Vec::new(), &[]).json();
    assert_eq!(empty["status"], "failed");
    assert!(one_line(&empty["reason"]).contains("empty"));
    let unknown = svc.submit("film-9", b"x".to_vec(), &[]);
    assert_eq!(unknown.status, 202);
    let unknown = unknown.json();
    assert_eq!(unknown["status"], "failed");
    assert!(one_line(&unknown["reason"]).contains("unknown content id \"film-9\""));

    // Another video: done, nobody named (no match, or no watermark where the detector found
    // a likeness in a short clip), with its reason.
    let other = svc.submit(CONTENT, std::fs::read(&fixture().other).unwrap(), &[]).json();
    let other = svc.finished(other["id"].as_str().unwrap());
    assert_eq!(other["status"], "done", "{other}");
    assert_ne!(other["result"]["verdict"], "named", "{other}");
    assert!(other["result"]["accused"].is_null());
    one_line(&other["reason"]);

    // Concurrent submissions: each its own job, all run in submission order.
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let svc = &svc;
                scope.spawn(move || {
                    let r = svc.submit(CONTENT, format!("garbage {i}").into_bytes(), &[]);
                    assert_eq!(r.status, 202, "{}", r.body);
                    r.json()["id"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    for id in &ids {
        assert_eq!(svc.finished(id)["status"], "failed");
    }
    let list = svc.get("/v1/detections?limit=4").json();
    assert_eq!(list["jobs"].as_array().unwrap().len(), 4);
    let next = list["next"].as_str().expect("a next page");
    let page2 = svc.get(next).json();
    assert!(!page2["jobs"].as_array().unwrap().is_empty());
    assert_ne!(page2["jobs"][0]["id"], list["jobs"][0]["id"]);

    // The service still serves; its description and metrics are there.
    assert_eq!(svc.get_as("/healthz", None).status, 200);
    let api = svc.get_as("/v1/openapi.json", None).json();
    assert!(api["paths"]["/v1/detections/{id}"]["get"].is_object(), "{api}");
    assert!(api["components"]["securitySchemes"]["bearer"].is_object());
    let metrics = svc.get_as("/metrics", None).body;
    assert!(metrics.contains("abmark_investigate_refused_total{reason=\"auth\"} 3"), "{metrics}");
    assert!(metrics.contains("abmark_investigate_jobs{status=\"failed\"}"), "{metrics}");
    let page = svc.get_as("/", None).body;
    assert!(page.contains("Sign in"));
}

#[test]
fn a_viewers_copy_is_named_and_kill_9_mid_detection_loses_no_job() {
    let f = fixture();
    let setup = Setup::new("queue_limit = 2");
    let svc = setup.start();
    let copy = std::fs::read(&f.viewer).unwrap();
    let first = svc.submit(CONTENT, copy.clone(), &[]).json();
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["status"], "queued");
    let second = svc.submit(CONTENT, copy.clone(), &[]).json();
    // Two jobs queued or running: the queue is full.
    let third = svc.refused_head(copy.len() as u64);
    assert!(third.starts_with("HTTP/1.1 429"), "{third}");
    assert!(third.to_ascii_lowercase().contains("retry-after: 30"), "{third}");

    // Kill -9 while the first one is scoring.
    let running = svc.wait(&id, |j| j["status"] == "running" && j["stage"] != "starting");
    assert!(running["started_at"].is_string(), "{running}");
    drop(svc);

    let svc = setup.start();
    let job = svc.finished(&id);
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["attempts"], 2, "it ran again after the restart");
    let result = &job["result"];
    assert_eq!(result["verdict"], "named", "{result}");
    assert_eq!(result["accused"]["session"], VIEWER);
    assert_eq!(result["accused"]["subject"], format!("user-{VIEWER}"));
    let set = result["candidate_set"].as_str().unwrap();
    assert!(
        set.contains("20 sessions filtered to the 3 of the 3 subjects listed in suspects.txt"),
        "{set}"
    );
    assert_eq!(result["accused"]["candidates"], 3.0, "the evidence counts 3 candidates, not 20");
    assert_eq!(job["progress"], 1.0);

    let report = svc.get(&format!("/v1/detections/{id}/report.html"));
    assert_eq!(report.status, 200);
    assert!(report.body.contains(&format!("user-{VIEWER}")) && report.body.contains("<svg"));
    let svg = svc.get(&format!("/v1/detections/{id}/evidence.svg"));
    assert_eq!(svg.status, 200);
    assert!(svg.body.contains("<svg"));
    assert_eq!(svc.get_as(&format!("/v1/detections/{id}/evidence.svg"), None).status, 401);

    // The second, queued at the kill, ran too.
    let second = svc.finished(second["id"].as_str().unwrap());
    assert_eq!(second["result"]["verdict"], "named", "{second}");
    assert!(Path::new(&setup.state).join("jobs.db").is_file());
}

/// The `abmark detect` children running for job `id` (their command line names its directory).
fn detect_children(id: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmd| {
            let cmd = String::from_utf8_lossy(cmd);
            cmd.contains("detect") && cmd.contains(id)
        })
        .count()
}

#[test]
fn delete_cancels_running_and_queued_jobs_and_retention_removes_finished_ones() {
    // Retention of about 11 s: finished jobs must vanish (row and files) soon after.
    let setup = Setup::new("retention_hours = 0.003");
    let svc = setup.start();
    let copy = std::fs::read(&fixture().viewer).unwrap();

    // A running detection and a job queued behind it (one worker).
    let running = svc.submit(CONTENT, copy, &[]).json();
    let running = running["id"].as_str().unwrap().to_owned();
    let queued = svc.submit(CONTENT, b"queued garbage".to_vec(), &[]).json();
    let queued = queued["id"].as_str().unwrap().to_owned();
    svc.wait(&running, |j| j["status"] == "running" && j["stage"] != "starting");
    assert_eq!(detect_children(&running), 1, "the detection runs as a child");

    // DELETE needs a key like every job route.
    let url = svc.url(&format!("/v1/detections/{queued}"));
    assert_eq!(answer(agent().delete(&url).call().unwrap()).status, 401);

    let delete = |id: &str| {
        answer(
            agent()
                .delete(svc.url(&format!("/v1/detections/{id}")))
                .header("Authorization", format!("Bearer {}", svc.key))
                .call()
                .unwrap(),
        )
    };
    let q = delete(&queued);
    assert_eq!(q.status, 200, "{}", q.body);
    assert_eq!(q.json()["status"], "cancelled");
    let r = delete(&running);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "cancelled");
    assert_eq!(one_line(&r.json()["reason"]), "cancelled by request");
    // The child is stopped, not left to finish.
    let start = Instant::now();
    while detect_children(&running) > 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "the detection still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(delete(&running).status, 409, "already cancelled");
    assert_eq!(delete("0123456789abcdef01234567").status, 404);
    let q = svc.get(&format!("/v1/detections/{queued}")).json();
    assert_eq!(q["attempts"], 0, "a cancelled queued job never runs: {q}");
    assert_eq!(q["status"], "cancelled");

    // The worker is free again: the next job runs.
    let next = svc.submit(CONTENT, b"more garbage".to_vec(), &[]).json();
    let next = next["id"].as_str().unwrap().to_owned();
    assert_eq!(svc.finished(&next)["status"], "failed");

    // Retention: every finished job, with its files, goes; the service keeps serving.
    let jobs = setup.state.join("jobs");
    let start = Instant::now();
    for id in [&running, &queued, &next] {
        loop {
            let r = svc.get(&format!("/v1/detections/{id}"));
            if r.status == 404 {
                break;
            }
            assert_eq!(r.status, 200);
            assert!(start.elapsed() < Duration::from_secs(60), "job {id} outlived its retention");
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(!jobs.join(id).exists(), "the files of job {id} are gone too");
    }
    assert!(svc.get("/v1/detections").json()["jobs"].as_array().unwrap().is_empty());
    assert_eq!(svc.get_as("/healthz", None).status, 200);
}

/// A copy built to exhaust memory (2 s of 3840x2160, about 600 MB of peak memory in the
/// detector without a limit) fails its job under `job_memory_mb` with one line saying so; the
/// service keeps serving and the next job runs.
#[test]
fn a_copy_that_exhausts_memory_fails_its_job_under_the_memory_limit() {
    let setup = Setup::new("job_memory_mb = 384");
    let big = setup.dir.path().join("big.mp4");
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i"])
        .args(["testsrc2=size=3840x2160:rate=25:duration=2", "-c:v", "libx264"])
        .args(["-preset", "ultrafast", "-pix_fmt", "yuv420p"])
        .arg(&big)
        .status()
        .unwrap();
    assert!(st.success());
    let svc = setup.start();
    let job = svc.submit(CONTENT, std::fs::read(&big).unwrap(), &[]).json();
    let job = svc.finished(job["id"].as_str().unwrap());
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(one_line(&job["reason"]), "the detector ran out of memory (job_memory_mb = 384)");
    let next = svc.submit(CONTENT, b"garbage".to_vec(), &[]).json();
    assert_eq!(svc.finished(next["id"].as_str().unwrap())["status"], "failed");
    assert_eq!(svc.get_as("/healthz", None).status, 200);
}

/// `curl` over HTTPS trusting only `ca`: (status, body).
fn curl_https(url: &str, ca: &Path, key: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--cacert", s(ca), "-w", "\n%{http_code}"]);
    if let Some(k) = key {
        cmd.args(["-H", &format!("Authorization: Bearer {k}")]);
    }
    let out = cmd.arg(url).output().unwrap();
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

#[test]
fn the_service_speaks_https_with_a_certificate() {
    let setup = Setup::new("");
    let cert = common::edge::TestCert::new(setup.dir.path());
    let svc = setup.start_with(&["--tls-cert", s(&cert.cert), "--tls-key", s(&cert.key)]);
    assert!(svc.base.starts_with("https://127.0.0.1:"), "{}", svc.base);
    assert_eq!(curl_https(&svc.url("/healthz"), &cert.cert, None).0, 200);
    let (status, body) = curl_https(&svc.url("/v1/detections"), &cert.cert, Some(&svc.key));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"jobs\""), "{body}");
    assert_eq!(curl_https(&svc.url("/v1/detections"), &cert.cert, None).0, 401);
    // Plain HTTP to the HTTPS port gets no API answer.
    let plain = svc.base.replace("https://", "http://");
    let out = Command::new("curl").args(["-sS", "-m", "5", &format!("{plain}/healthz")]).output();
    assert!(!String::from_utf8_lossy(&out.unwrap().stdout).contains("ok"));
}

#[test]
fn chromium_signs_in_uploads_a_copy_and_reads_the_report() {
    let f = fixture();
    let setup = Setup::new("");
    let svc = setup.start();
    let modules = common::tool("browser");
    let out = Command::new("node")
        .arg(common::repo().join("tests/tools/investigate.mjs"))
        .args(["--modules", s(&modules), "--url", &svc.base, "--key", &svc.key])
        .args(["--content", CONTENT, "--file", s(&f.viewer)])
        .output()
        .unwrap();
    let page: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("investigate.mjs: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(page["ok"], true, "{page}");
    assert!(page["wrongKeyMessage"].as_str().unwrap().contains("not accepted"), "{page}");
    assert_eq!(page["uploadProgress"], 1.0, "{page}");
    assert_eq!(page["status"], "done", "{page}");
    let report = page["reportText"].as_str().unwrap();
    assert!(report.contains(&format!("user-{VIEWER}")), "{report}");
    assert_eq!(page["reportHasPlot"], true, "{page}");
    assert!(page["jobRows"].as_u64().unwrap() >= 1, "{page}");
}
