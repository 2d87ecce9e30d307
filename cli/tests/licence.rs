//! The ClearKey licence service of `abmark serve`, end to end over real HTTP with real
//! components: headless Chromium + shaka-player play a viewer's personalised, encrypted DASH
//! stream (manifest token + licence token); the customer's authorization backend (a real HTTP
//! server here) can refuse; a third concurrent stream over a limit of two is refused; expired
//! and tampered tokens are refused; and two `serve` processes share the limit through a real
//! Redis server.

mod common;

use common::{abmark, play, s, small_variants};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use abmark_delivery::ids::{ContentId, SessionId};
use abmark_edge::licence::token::{mint, LicenceKey};
use abmark_wm::key::WatermarkKey;

const CONTENT: &str = "film-1";

/// The fixture's variants packaged with cenc and fresh keys (CPIX out), a master key, and the
/// first KID (for hand-made licence requests).
struct Packaged {
    out: PathBuf,
    cpix: PathBuf,
    master: PathBuf,
    wm_key: PathBuf,
    kid_b64: String,
}

fn packaged() -> &'static Packaged {
    static P: OnceLock<Packaged> = OnceLock::new();
    P.get_or_init(|| package_as("licensed", None))
}

/// The same variants packaged again with other fresh keys, for another title (`film-2`).
fn other_title() -> &'static Packaged {
    static P: OnceLock<Packaged> = OnceLock::new();
    P.get_or_init(|| package_as("film-2", Some("film-2")))
}

fn package_as(name: &str, content_id: Option<&str>) -> Packaged {
    let f = small_variants();
    let out = f.dir.path().join(name);
    let cpix = f.dir.path().join(format!("{name}.cpix.xml"));
    let mut args = vec![
        "package",
        s(&f.out),
        "-o",
        s(&out),
        "--scheme",
        "cenc",
        "--generate-keys",
        "--cpix-out",
        s(&cpix),
        "--drm",
        "widevine,playready,clearkey",
        "--la-url",
        "/license",
    ];
    if let Some(id) = content_id {
        args.extend(["--content-id", id]);
    }
    let r = abmark(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let master = f.dir.path().join("master.key");
    static MASTER: std::sync::Mutex<()> = std::sync::Mutex::new(());
    {
        let _one_at_a_time = MASTER.lock().unwrap_or_else(|e| e.into_inner());
        if !master.exists() {
            assert!(abmark(&["keygen", "-o", s(&master)]).status.success());
        }
    }
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("job.json")).unwrap()).unwrap();
    let kid: Vec<u8> = job["protection"]["video"]["default_kid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let kid_b64 = common::base64(&kid, true);
    Packaged { out, cpix, master, wm_key: f.dir.path().join("wm.key"), kid_b64 }
}

/// A running `abmark serve` with the licence service, killed on drop.
struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let p = packaged();
        Server::start_for(CONTENT, &p.cpix, extra)
    }

    /// `serve` for `content`, importing the keys of `cpix`.
    fn start_for(content: &str, cpix: &std::path::Path, extra: &[&str]) -> Server {
        Server::start_with_env(content, cpix, extra, &[])
    }

    fn start_with_env(
        content: &str,
        cpix: &std::path::Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let p = packaged();
        let dir = tempfile::tempdir().unwrap();
        let (child, base) = common::spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_abmark"))
                .args(["serve", s(&p.out), "--key", s(&p.wm_key), "--listen", "127.0.0.1:0"])
                .args([
                    "--content",
                    content,
                    "--session-log",
                    s(&dir.path().join("sessions.jsonl")),
                ])
                .args(["--master-key", s(&p.master), "--keys", s(cpix)])
                .args(["--licence-log", s(&dir.path().join("licences.jsonl"))])
                .args(extra)
                .envs(env.iter().copied())
                .stderr(Stdio::inherit()),
        );
        Server { child, base, dir }
    }

    /// `GET /metrics` (answered to loopback clients, which the tests are).
    fn metrics(&self) -> String {
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let mut response = agent.get(&format!("{}/metrics", self.base)).call().unwrap();
        response.body_mut().read_to_string().unwrap()
    }

    /// `host:port` of the server.
    fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The server's resident memory (kB), from /proc.
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn log(&self) -> Vec<serde_json::Value> {
        // The log is written off the request path: give it a moment.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let text =
            std::fs::read_to_string(self.dir.path().join("licences.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn wm_token(session: u32) -> String {
    common::wm_token(&packaged().wm_key, CONTENT, session)
}

fn licence_token(subject: &str, session: u32) -> String {
    licence_token_with(subject, session, &[])
}

fn licence_token_with(subject: &str, session: u32, extra: &[&str]) -> String {
    common::licence_token(&packaged().wm_key, CONTENT, subject, session, extra)
}

/// A licence request as a browser's ClearKey CDM sends it: (status, body).
fn request_licence(base: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    request_licence_of_type(base, token, "temporary")
}

fn request_licence_of_type(
    base: &str,
    token: Option<&str>,
    session_type: &str,
) -> (u16, serde_json::Value) {
    request_licence_for(base, token, session_type, &[&packaged().kid_b64])
}

fn request_licence_for(
    base: &str,
    token: Option<&str>,
    session_type: &str,
    kids_b64: &[&str],
) -> (u16, serde_json::Value) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent
        .post(&format!("{base}/license"))
        .header("Content-Type", "application/json")
        .header("Abmark-Player", "test-player-1");
    if let Some(t) = token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    let body = serde_json::json!({ "kids": kids_b64, "type": session_type }).to_string();
    let mut response = request.send(&body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

fn play_personal(server: &Server, session: u32, licence: &str) -> serde_json::Value {
    let url = format!("{}/dash/manifest.mpd?token={}", server.base, wm_token(session));
    play(&["--url", &url, "--license", "/license", "--token", licence, "--seconds", "10"])
}

#[test]
fn chromium_plays_a_personal_encrypted_stream_with_a_licence() {
    let server = Server::start(&["--state", &tempdir_state()]);
    let licence = licence_token("alice@example.com", 4242);
    let v = play_personal(&server, 4242, &licence);
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["currentTime"].as_f64().unwrap() >= 10.0, "{v}");
    let issued: Vec<_> = server.log().into_iter().filter(|r| r["decision"] == "issued").collect();
    assert!(!issued.is_empty());
    assert_eq!(issued[0]["subject"], "alice@example.com");
    assert_eq!(issued[0]["session"], 4242);
    assert_eq!(issued[0]["content"], CONTENT);
    // Neither the licence log nor the session log holds a token or a key.
    let logs = std::fs::read_to_string(server.dir.path().join("licences.jsonl")).unwrap();
    assert!(!logs.contains(&licence[..40]));
    // Without a licence token the same player gets no key.
    let url = format!("{}/dash/manifest.mpd?token={}", server.base, wm_token(4242));
    let v = play(&["--url", &url, "--license", "/license", "--seconds", "5"]);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"]["code"], 6007, "{v}");
}

/// KIDs are public (every manifest carries them): a licence token for film-1 must never get
/// film-2's key, even from a state store both titles' keys were imported into.
#[test]
fn a_licence_for_one_title_never_gets_anothers_key() {
    let state = tempdir_state();
    let two = other_title();
    // Import film-2's keys, then serve film-1 on the same state file.
    drop(Server::start_for("film-2", &two.cpix, &["--state", &state]));
    let server = Server::start(&["--state", &state]);
    let film_1 = licence_token("mallory@example.com", 3);
    let (status, body) =
        request_licence_for(&server.base, Some(&film_1), "temporary", &[&two.kid_b64]);
    assert_eq!(status, 403, "film-2's key for a film-1 token: {body}");
    assert!(body["error"].as_str().unwrap().contains("no key"), "{body}");
    assert_eq!(request_licence(&server.base, Some(&film_1)).0, 200, "its own key still");
    // Both KIDs in one request: only film-1's key comes back.
    let kids = [two.kid_b64.as_str(), packaged().kid_b64.as_str()];
    let (status, body) = request_licence_for(&server.base, Some(&film_1), "temporary", &kids);
    assert_eq!(status, 200, "{body}");
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{body}");
    assert_eq!(keys[0]["kid"], packaged().kid_b64.trim_end_matches('='));

    // A CPIX document that names another content is refused, before anything is created, and
    // licences need --content.
    let p = packaged();
    let logs = tempfile::tempdir().unwrap();
    let (sessions, licences) = (logs.path().join("s.jsonl"), logs.path().join("l.jsonl"));
    let r = abmark(&[
        "serve",
        s(&p.out),
        "--key",
        s(&p.wm_key),
        "--listen",
        "127.0.0.1:0",
        "--content",
        "film-1",
        "--master-key",
        s(&p.master),
        "--keys",
        s(&two.cpix),
        "--state",
        &state,
        "--session-log",
        s(&sessions),
        "--licence-log",
        s(&licences),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("\"film-2\"") && err.contains("--content film-1"), "{err}");
    assert!(!sessions.exists() && !licences.exists(), "a refused start creates no log");
    let r = abmark(&[
        "serve",
        s(&p.out),
        "--key",
        s(&p.wm_key),
        "--listen",
        "127.0.0.1:0",
        "--master-key",
        s(&p.master),
        "--state",
        &state,
        "--session-log",
        s(&sessions),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("--content"), "{err}");
    assert!(!sessions.exists());
}

/// What an outsider can make the licence service hold: nothing. A request without a valid
/// token is answered before its body is read, so half-sent uploads hold no buffer; it is
/// counted, not logged; a valid token's body is capped at 16 KiB and must arrive in time.
#[test]
fn unauthenticated_requests_hold_no_memory_and_write_no_log() {
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let server = Server::start(&["--state", &tempdir_state()]);
    let head = |token: Option<&str>, length: usize| {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        format!(
            "POST /license HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {length}\r\n\r\n"
        )
    };
    // Reads the status line of the answer, or None if none comes within `wait`.
    let status_within = |stream: &mut TcpStream, wait: Duration| -> Option<String> {
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        Some(line.trim().to_owned())
    };
    // A 2-MB upload without a token is refused at once, before its body is sent.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(head(None, 2 << 20).as_bytes()).unwrap();
    stream.write_all(&[b'x'; 1024]).unwrap();
    let status = status_within(&mut stream, Duration::from_secs(5));
    assert_eq!(status.as_deref(), Some("HTTP/1.1 401 Unauthorized"));
    // 200 half-sent uploads with a bad token hold (almost) no memory.
    let before = server.rss_kb();
    let bad = "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl";
    let open: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            s.write_all(head(Some(bad), 2 << 20).as_bytes()).unwrap();
            let _ = s.write_all(&[b'x'; 16 * 1024]);
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let grown = server.rss_kb().saturating_sub(before);
    assert!(grown < 30 * 1024, "200 unauthenticated uploads grew the server by {grown} kB");
    drop(open);
    // A valid token with an oversized body: 413 without reading it.
    let token = licence_token("olivia@example.com", 11);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(head(Some(&token), 100_000).as_bytes()).unwrap();
    let status = status_within(&mut stream, Duration::from_secs(5));
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
    // ... or a body that does not arrive: 408 after the body timeout (10 s), not never.
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(head(Some(&token), 300).as_bytes()).unwrap();
    stream.write_all(b"{\"kids\":").unwrap();
    let status = status_within(&mut stream, Duration::from_secs(30));
    assert_eq!(status.as_deref(), Some("HTTP/1.1 408 Request Timeout"));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    // 300 junk requests: no log line, all counted.
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for _ in 0..300 {
        let r = agent.post(&format!("{}/license", server.base)).send("junk").unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    assert!(server.log().is_empty(), "{:?}", server.log());
    let metrics = server.metrics();
    assert!(
        metrics.contains("abmark_licence_unauthenticated_total{reason=\"missing_token\"} 301"),
        "{metrics}"
    );
    assert!(
        metrics.contains("abmark_licence_unauthenticated_total{reason=\"bad_token\"} 200"),
        "{metrics}"
    );
    assert!(metrics.contains("abmark_licence_body_refused_total 2"), "{metrics}");
    // And the service still answers.
    assert_eq!(request_licence(&server.base, Some(&token)).0, 200);
}

fn tempdir_state() -> String {
    // Each server gets its own SQLite file unless a test shares one on purpose.
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    s(&dir.path().join("state.db")).to_owned()
}

/// The customer's authorization backend: a real HTTP server that allows every subject but
/// `bob@example.com` (403), and answers `/slow` only after the service's timeout; `/redirect`
/// sends everyone to `/login`, a page that answers 200 to anything.
fn backend() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                let mut first = String::new();
                reader.read_line(&mut first).unwrap_or(0);
                loop {
                    head.clear();
                    if reader.read_line(&mut head).unwrap_or(0) == 0 || head == "\r\n" {
                        break;
                    }
                    if let Some(v) = head.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if first.contains("/slow") {
                    std::thread::sleep(std::time::Duration::from_secs(3));
                }
                let status = if first.contains("/redirect") {
                    "302 Found\r\nLocation: /login"
                } else if first.contains("/login") {
                    "200 OK"
                } else if body["subject"] == "bob@example.com" || body["content_id"] != CONTENT {
                    "403 Forbidden"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            });
        }
    });
    format!("http://{addr}")
}

/// The player page may live on another origin: preflights are answered and every answer,
/// refusals included, is readable by the page. The origin is echoed, never `*`, with
/// credentials allowed: dash.js sends its licence requests with credentials when it adds an
/// Authorization header, and browsers refuse `*` for those.
#[test]
fn any_origin_may_ask_for_a_licence_without_a_list() {
    let server = Server::start(&["--state", &tempdir_state()]);
    let url = format!("{}/license", server.base);
    let preflight = preflight(&url, "https://player.example");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(header(&preflight, "access-control-allow-origin"), "https://player.example");
    assert_eq!(header(&preflight, "access-control-allow-credentials"), "true");
    assert!(header(&preflight, "access-control-allow-methods").contains("post"));
    let headers = header(&preflight, "access-control-allow-headers");
    for h in ["authorization", "content-type", "abmark-player"] {
        assert!(headers.contains(h), "{headers}");
    }
    assert_eq!(header(&preflight, "access-control-max-age"), "600");
    let refused = agent()
        .post(&url)
        .header("Origin", "https://player.example")
        .header("Content-Type", "application/json")
        .send("{}")
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), "https://player.example");
    assert!(header(&refused, "access-control-expose-headers").contains("abmark-refusal"));
    assert_eq!(header(&refused, "abmark-refusal"), "token-missing");
    assert_eq!(header(&refused, "cache-control"), "no-store");
}

/// `--allow-origin`: CORS answers the listed sites only; a licence or a manifest asked for from
/// a page elsewhere is refused (403, `domain-not-allowed`) and the licence refusal is logged
/// with its reason; a token naming its own sites narrows the edge's list.
#[test]
fn only_allowed_sites_get_licences_and_manifests() {
    let server = Server::start(&[
        "--state",
        &tempdir_state(),
        "--allow-origin",
        "https://shop.example,https://*.customer.example",
        "--no-origin",
        "deny",
    ]);
    let url = format!("{}/license", server.base);
    let allowed = preflight(&url, "https://www.customer.example");
    assert_eq!(header(&allowed, "access-control-allow-origin"), "https://www.customer.example");
    let other = preflight(&url, "https://pirate.example");
    assert_eq!(header(&other, "access-control-allow-origin"), "");
    // Licences: the listed site gets the key, another site and a request naming none do not.
    let licence = licence_token("alice@example.com", 5);
    let ask = |origin: Option<&str>, token: &str| {
        let mut r = agent()
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Abmark-Player", "p1")
            .header("Authorization", &format!("Bearer {token}"));
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        let body = serde_json::json!({ "kids": [&packaged().kid_b64], "type": "temporary" });
        let mut response = r.send(&body.to_string()).unwrap();
        let code = header(&response, "abmark-refusal");
        let text = response.body_mut().read_to_string().unwrap();
        (response.status().as_u16(), code, text)
    };
    let (status, _, body) = ask(Some("https://shop.example"), &licence);
    assert_eq!(status, 200, "{body}");
    let (status, code, body) = ask(Some("https://pirate.example"), &licence);
    assert_eq!((status, code.as_str()), (403, "domain-not-allowed"), "{body}");
    assert!(body.contains("https://pirate.example"), "{body}");
    let (status, code, _) = ask(None, &licence);
    assert_eq!((status, code.as_str()), (403, "domain-not-allowed"));
    let refused: Vec<_> = server.log().into_iter().filter(|r| r["decision"] == "refused").collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0]["reason"].as_str().unwrap().contains("domain not allowed"));
    // A token minted for the customer's sites only fails on the shop, which the edge allows.
    let narrow = licence_token_with("bob", 6, &["--origin", "https://*.customer.example"]);
    let (status, code, _) = ask(Some("https://shop.example"), &narrow);
    assert_eq!((status, code.as_str()), (403, "domain-not-allowed"));
    let (status, _, body) = ask(Some("https://tv.customer.example"), &narrow);
    assert_eq!(status, 200, "{body}");
    // Manifests: by Origin, or by Referer when there is none (same-origin GETs, iframes).
    let mpd = format!("{}/dash/manifest.mpd?token={}", server.base, wm_token(5));
    let get = |name: &str, value: &str| {
        let response = agent().get(&mpd).header(name, value).call().unwrap();
        (response.status().as_u16(), header(&response, "abmark-refusal"))
    };
    assert_eq!(get("Origin", "https://shop.example").0, 200);
    assert_eq!(get("Referer", "https://a.customer.example/watch/1").0, 200);
    assert_eq!(get("Referer", "https://customer.example/").1, "domain-not-allowed");
    assert_eq!(get("Origin", "http://shop.example").1, "domain-not-allowed");
    let bare = agent().get(&mpd).call().unwrap();
    assert_eq!(bare.status().as_u16(), 403);
    // Segments are static and shared: CORS only, for the listed sites.
    let text = agent()
        .get(&mpd)
        .header("Origin", "https://shop.example")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let init = text.split("sourceURL=\"").nth(1).unwrap().split('"').next().unwrap();
    let media = agent()
        .get(&format!("{}{init}", server.base))
        .header("Origin", "https://shop.example")
        .call()
        .unwrap();
    assert_eq!(media.status().as_u16(), 200);
    assert_eq!(header(&media, "access-control-allow-origin"), "https://shop.example");
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// A CORS preflight for a licence POST from a page on `origin`.
fn preflight(url: &str, origin: &str) -> ureq::http::Response<ureq::Body> {
    agent()
        .options(url)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type, abmark-player")
        .call()
        .unwrap()
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    let value = r.headers().get(name).and_then(|v| v.to_str().ok());
    value.unwrap_or_default().to_ascii_lowercase()
}

/// A backend that redirects (to a login page that answers 200) has not said yes.
#[test]
fn an_authorization_backend_redirect_is_a_refusal() {
    let url = backend();
    let server =
        Server::start(&["--state", &tempdir_state(), "--auth-backend", &format!("{url}/redirect")]);
    let (status, body) =
        request_licence(&server.base, Some(&licence_token("carol@example.com", 1)));
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("302"), "{body}");
    let direct =
        Server::start(&["--state", &tempdir_state(), "--auth-backend", &format!("{url}/auth")]);
    assert_eq!(request_licence(&direct.base, Some(&licence_token("carol@example.com", 1))).0, 200);
}

#[test]
fn the_authorization_backend_decides_and_fails_closed() {
    let url = backend();
    let server =
        Server::start(&["--state", &tempdir_state(), "--auth-backend", &format!("{url}/auth")]);
    let (status, _) = request_licence(&server.base, Some(&licence_token("carol@example.com", 1)));
    assert_eq!(status, 200);
    let bob = licence_token("bob@example.com", 2);
    let (status, body) = request_licence(&server.base, Some(&bob));
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("403"), "{body}");
    // In the browser: a licence error, no playback.
    let v = play_personal(&server, 2, &bob);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"]["code"], 6007, "{v}");
    // A backend that does not answer in time refuses (fail closed).
    let slow = Server::start(&[
        "--state",
        &tempdir_state(),
        "--auth-backend",
        &format!("{url}/slow"),
        "--auth-timeout-ms",
        "500",
    ]);
    let (status, body) = request_licence(&slow.base, Some(&licence_token("carol@example.com", 1)));
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("fail closed"), "{body}");
    // And one that is not there at all.
    let down =
        Server::start(&["--state", &tempdir_state(), "--auth-backend", "http://127.0.0.1:9/auth"]);
    let (status, _) = request_licence(&down.base, Some(&licence_token("carol@example.com", 1)));
    assert_eq!(status, 403);
    let refused = down.log().into_iter().filter(|r| r["decision"] == "refused").count();
    assert_eq!(refused, 1);
}

#[test]
fn tokens_limits_and_deny_list() {
    let server = Server::start(&[
        "--state",
        &tempdir_state(),
        "--max-streams",
        "2",
        "--deny",
        "eve@example.com",
    ]);
    // Missing, tampered, expired, other-key tokens.
    assert_eq!(request_licence(&server.base, None).0, 401);
    let good = licence_token("dave@example.com", 5);
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(request_licence(&server.base, Some(&tampered)).0, 403);
    let key = abmark_files::keyfile::load_key(&packaged().wm_key).unwrap();
    let content: ContentId = CONTENT.parse().unwrap();
    let expired = mint(
        &LicenceKey::derive(&key),
        "dave@example.com",
        &content,
        SessionId(5),
        None,
        now() - 7200,
        600,
    )
    .unwrap();
    let (status, body) = request_licence(&server.base, Some(&expired));
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("expired"), "{body}");
    let other = mint(
        &LicenceKey::derive(&WatermarkKey::from_bytes([9; 32])),
        "dave@example.com",
        &content,
        SessionId(5),
        None,
        now(),
        600,
    )
    .unwrap();
    assert_eq!(request_licence(&server.base, Some(&other)).0, 403);
    let other_content = mint(
        &LicenceKey::derive(&key),
        "dave@example.com",
        &"film-2".parse().unwrap(),
        SessionId(5),
        None,
        now(),
        600,
    )
    .unwrap();
    assert_eq!(request_licence(&server.base, Some(&other_content)).0, 403);
    // Deny list.
    assert_eq!(request_licence(&server.base, Some(&licence_token("eve@example.com", 6))).0, 403);
    // Two streams per subject: a third concurrent one is refused, renewals are not.
    let (a, b, c) = (
        licence_token("frank@example.com", 7),
        licence_token("frank@example.com", 7),
        licence_token("frank@example.com", 7),
    );
    assert_eq!(request_licence(&server.base, Some(&a)).0, 200);
    assert_eq!(request_licence(&server.base, Some(&b)).0, 200);
    assert_eq!(request_licence(&server.base, Some(&a)).0, 200, "renewal");
    let (status, body) = request_licence(&server.base, Some(&c));
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("concurrent"), "{body}");
    // The browser with that third stream's token gets a licence error.
    let v = play_personal(&server, 7, &c);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"]["code"], 6007, "{v}");
    // Another subject is not affected.
    assert_eq!(request_licence(&server.base, Some(&licence_token("grace@example.com", 8))).0, 200);
    // The log says why, per authenticated request; requests refused at the token are counted
    // in the metrics, not logged (anyone could fill the log with them).
    let reasons: Vec<String> =
        server.log().iter().map(|r| r["reason"].as_str().unwrap().to_owned()).collect();
    for needle in ["deny list", "concurrent stream limit"] {
        assert!(reasons.iter().any(|r| r.contains(needle)), "{needle}: {reasons:?}");
    }
    for needle in ["no licence token", "bad signature", "expired", "another content"] {
        assert!(!reasons.iter().any(|r| r.contains(needle)), "{needle} logged: {reasons:?}");
    }
    let metrics = server.metrics();
    assert!(metrics.contains("abmark_licence_unauthenticated_total{reason=\"missing_token\"} 1"));
    assert!(metrics.contains("abmark_licence_unauthenticated_total{reason=\"bad_token\"} 4"));
}

/// A `persistent-license` needs both the operator's `--allow-persistent` and a token minted
/// with `--persistent`. Over HTTP only: Chromium's built-in `org.w3.clearkey` offers no
/// persistent sessions (`requestMediaKeySystemAccess` with `sessionTypes:
/// ["persistent-license"]` is NotSupportedError in Chromium 156), so no browser can ask.
#[test]
fn persistent_licences_need_the_policy_and_the_token() {
    let temporary = licence_token("heidi@example.com", 9);
    let persistent = licence_token_with("heidi@example.com", 9, &["--persistent"]);
    let strict = Server::start(&["--state", &tempdir_state()]);
    let (status, body) =
        request_licence_of_type(&strict.base, Some(&persistent), "persistent-license");
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("persistent"), "{body}");
    assert_eq!(request_licence_of_type(&strict.base, Some(&persistent), "temporary").0, 200);
    drop(strict);

    let open = Server::start(&["--state", &tempdir_state(), "--allow-persistent"]);
    // A token that allows only temporary sessions still gets no persistent licence.
    let (status, body) =
        request_licence_of_type(&open.base, Some(&temporary), "persistent-license");
    assert_eq!(status, 403, "{body}");
    let (status, body) =
        request_licence_of_type(&open.base, Some(&persistent), "persistent-license");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "persistent-license", "{body}");
    assert_eq!(body["keys"][0]["kid"], packaged().kid_b64.trim_end_matches('='), "{body}");
    assert_eq!(body["keys"][0]["k"].as_str().map(str::len), Some(22), "{body}");
    let decisions: Vec<(String, String)> = open
        .log()
        .iter()
        .map(|r| (r["decision"].as_str().unwrap().into(), r["reason"].as_str().unwrap().into()))
        .collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert_eq!(decisions[0].0, "refused");
    assert_eq!(decisions[1], ("issued".into(), "ok".into()));
}

/// A licence token admits one player: the same token replayed from other players gets no
/// stream, whatever the limit; a player that releases its stream (closing, reloading) frees
/// the slot at once; and with a limit, a request must name its player.
#[test]
fn a_licence_token_admits_one_player_and_a_release_frees_its_slot() {
    let server = Server::start(&["--state", &tempdir_state(), "--max-streams", "1"]);
    let ask = |token: &str, player: Option<&str>| {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut request = agent
            .post(&format!("{}/license", server.base))
            .header("Authorization", &format!("Bearer {token}"));
        if let Some(p) = player {
            request = request.header("Abmark-Player", p);
        }
        let body = serde_json::json!({ "kids": [packaged().kid_b64], "type": "temporary" });
        let mut response = request.send(body.to_string()).unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, text)
    };
    let release = |token: &str, player: &str| {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let response = agent
            .post(&format!("{}/license/release", server.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Abmark-Player", player)
            .send_empty()
            .unwrap();
        response.status().as_u16()
    };
    let token = licence_token("mallory@example.com", 13);
    assert_eq!(ask(&token, Some("player-a")).0, 200);
    // The same token from four more players: none gets a key.
    for other in ["player-b", "player-c", "player-d", "player-e"] {
        let (status, body) = ask(&token, Some(other));
        assert_eq!(status, 403, "{other}: {body}");
        assert!(body.contains("another player"), "{body}");
    }
    assert_eq!(ask(&token, Some("player-a")).0, 200, "its own player renews");
    // No player named, or a malformed one: 400.
    assert_eq!(ask(&token, None).0, 400);
    assert_eq!(ask(&token, Some("a b")).0, 400);
    // A reload: a new token for the same subject is over the limit until the old stream is
    // released; another player cannot release it, its own can.
    let reload = licence_token("mallory@example.com", 13);
    assert_eq!(ask(&reload, Some("player-f")).0, 403);
    assert_eq!(release(&token, "player-b"), 409, "not player-b's to release");
    assert_eq!(ask(&reload, Some("player-f")).0, 403);
    assert_eq!(release(&token, "player-a"), 204);
    assert_eq!(ask(&reload, Some("player-f")).0, 200);
    assert_eq!(release(&token, "player-a"), 409, "released already");
    assert_eq!(release("not-a-token", "player-a"), 403);
    let decisions: Vec<String> =
        server.log().iter().map(|r| r["decision"].as_str().unwrap().to_owned()).collect();
    assert_eq!(decisions.iter().filter(|d| *d == "released").count(), 1, "{decisions:?}");
}

/// A Redis URL with a password can come from the environment, so it is not on the command line
/// every user of the machine sees (`/proc/<pid>/cmdline`, `ps`).
#[test]
fn the_redis_url_can_stay_off_the_command_line() {
    let redis = common::Redis::start();
    let p = packaged();
    let server = Server::start_with_env(CONTENT, &p.cpix, &[], &[("ABMARK_REDIS_URL", &redis.url)]);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("redis://"));
    let (status, body) =
        request_licence(&server.base, Some(&licence_token("judy@example.com", 12)));
    assert_eq!(status, 200, "{body}");
    // The keys went to Redis, not to a SQLite file.
    let mut conn = ::redis::Client::open(redis.url.as_str()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = ::redis::cmd("KEYS").arg("abmark:keys:*").query(&mut conn).unwrap();
    assert_eq!(keys, [format!("abmark:keys:{CONTENT}")]);
}

#[test]
fn two_replicas_share_the_limit_through_redis() {
    let redis = common::Redis::start();
    let one = Server::start(&["--redis", &redis.url, "--max-streams", "2"]);
    let two = Server::start(&["--redis", &redis.url, "--max-streams", "2"]);
    let tokens: Vec<String> = (0..3).map(|_| licence_token("heidi@example.com", 9)).collect();
    assert_eq!(request_licence(&one.base, Some(&tokens[0])).0, 200);
    assert_eq!(request_licence(&two.base, Some(&tokens[1])).0, 200);
    let (status, body) = request_licence(&one.base, Some(&tokens[2]));
    assert_eq!(status, 403, "{body}");
    assert_eq!(request_licence(&two.base, Some(&tokens[2])).0, 403);
    // Both replicas still renew the admitted streams.
    assert_eq!(request_licence(&two.base, Some(&tokens[0])).0, 200);
    // And the browser plays through replica two with a fresh subject.
    let v = play_personal(&two, 10, &licence_token("ivan@example.com", 10));
    assert_eq!(v["ok"], true, "{v}");
}
