//! The CPIX key service (`abmark key-service serve`) end to end over real HTTP with real
//! components: `abmark package --cpix-url` keys the fixture through it and headless Chromium
//! plays the result through `abmark serve`'s licence service with no key file; Shaka Packager,
//! given the keys the service returned, makes a stream the same licence service unlocks;
//! refusals (no or wrong API key, another customer's content, a KID of other content, an
//! oversized or malformed body) answer the right status in one line; a repeat request gets
//! the same keys, also after the service is killed and restarted.

mod common;

use common::{abmark, play, s, small_variants};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use abmark_cenc::cpix::{read_cpix, write_cpix_request, CpixDocument, CpixRequest};
use abmark_cenc::exchange::key_request;
use abmark_cenc::{Drm, Scheme};

const PATH: &str = "/speke/v2.0/copyProtection";

/// A state store, a master key and two customers' API keys: acme may ask for `acme-*`,
/// globex for `globex-1`.
struct Setup {
    dir: tempfile::TempDir,
    state: PathBuf,
    master: PathBuf,
    acme: String,
    globex: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (state, master) = (dir.path().join("state.db"), dir.path().join("master.key"));
        assert!(abmark(&["keygen", "-o", s(&master)]).status.success());
        let add = |name: &str, pattern: &str| {
            let r = abmark(&[
                "key-service",
                "api-key",
                "add",
                name,
                "--content",
                pattern,
                "--state",
                s(&state),
            ]);
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            let out = String::from_utf8(r.stdout).unwrap();
            assert_eq!(out.lines().count(), 1, "the key alone on stdout: {out}");
            out.trim().to_owned()
        };
        let (acme, globex) = (add("acme", "acme-*"), add("globex", "globex-1"));
        // Only the hash is stored.
        let db = std::fs::read(&state).unwrap();
        assert!(!db.windows(acme.len()).any(|w| w == acme.as_bytes()));
        Setup { dir, state, master, acme, globex }
    }
}

/// A running `abmark key-service serve`, killed (-9) on drop; its stderr goes to a file.
struct KeyService {
    child: Child,
    base: String,
    stderr: PathBuf,
}

impl KeyService {
    fn start(setup: &Setup) -> KeyService {
        KeyService::start_on(setup, &["--state", s(&setup.state)])
    }

    /// On the store `store` names (`--state DB` or `--redis URL`).
    fn start_on(setup: &Setup, store: &[&str]) -> KeyService {
        let stderr = setup.dir.path().join(format!("ks-{}.log", std::process::id()));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&stderr).unwrap();
        let (child, base) = common::spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_abmark"))
                .args(["key-service", "serve", "--master-key", s(&setup.master)])
                .args(store)
                .args(["--listen", "127.0.0.1:0"])
                .stderr(log),
        );
        KeyService { child, base, stderr }
    }

    fn url(&self) -> String {
        format!("{}{PATH}", self.base)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for KeyService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` with `headers`: (status, body, X-Speke-Version).
fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String, Option<String>) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.post(url).header("Content-Type", "application/xml");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let version = response.headers().get("x-speke-version").map(|v| v.to_str().unwrap().to_owned());
    let text = response.body_mut().with_config().limit(1 << 24).read_to_string().unwrap();
    (status, text, version)
}

fn ask(ks: &KeyService, api_key: &str, request: &CpixRequest) -> (u16, String) {
    let auth = format!("Bearer {api_key}");
    let headers = [("Authorization", auth.as_str()), ("X-Speke-Version", "2.0")];
    let (status, body, version) = post(&ks.url(), &headers, write_cpix_request(request).into());
    assert_eq!(version.as_deref(), Some("2.0"), "SPEKE version header on every answer");
    (status, body)
}

fn keys_of(doc: &CpixDocument) -> Vec<(String, [u8; 16], Option<[u8; 16]>)> {
    doc.keys.iter().map(|k| (k.kid.hex(), k.key, k.explicit_iv)).collect()
}

#[test]
fn refusals_answer_their_status_in_one_line_and_never_echo_a_key() {
    let setup = Setup::new();
    let ks = KeyService::start(&setup);
    let request = key_request("acme-film", Scheme::Cenc, &[Drm::ClearKey], None).unwrap();
    let body = write_cpix_request(&request);
    let one_line = |status: u16, text: &str| {
        assert_eq!(text.lines().count(), 1, "{status}: {text:?}");
        assert!(!text.contains(&setup.acme) && !text.contains(&setup.globex), "{text}");
    };
    // No API key, a wrong one: 401.
    let (status, text, _) = post(&ks.url(), &[], body.clone().into());
    assert_eq!(status, 401, "{text}");
    one_line(status, &text);
    let wrong = format!("Bearer {}x", setup.acme);
    let (status, text, _) = post(&ks.url(), &[("Authorization", &wrong)], body.clone().into());
    assert_eq!(status, 401, "{text}");
    // X-Api-Key works as well as a bearer token.
    let (status, text, _) = post(&ks.url(), &[("X-Api-Key", &setup.acme)], body.clone().into());
    assert_eq!(status, 200, "{text}");
    // Another customer's content id: 403, and nothing is made for it.
    let theirs = key_request("globex-1", Scheme::Cenc, &[Drm::ClearKey], None).unwrap();
    let (status, text) = ask(&ks, &setup.acme, &theirs);
    assert_eq!(status, 403, "{text}");
    one_line(status, &text);
    assert!(text.contains("globex-1"), "{text}");
    // A KID already bound to other content: 409, its key is not returned.
    let mut stolen = request.clone();
    stolen.content_id = Some("acme-other".into());
    let (status, text) = ask(&ks, &setup.acme, &stolen);
    assert_eq!(status, 409, "{text}");
    one_line(status, &text);
    assert!(text.contains(&request.keys[0].kid.to_string()), "{text}");
    // Oversized (2 MiB, refused on its declared length) and malformed bodies.
    let auth = format!("Bearer {}", setup.acme);
    let answer = common::post_head_only(&ks.url(), &[("Authorization", &auth)], 2 << 20);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    one_line(413, answer.split("\r\n\r\n").nth(1).unwrap_or_default().trim_end());
    for (bad, needle) in [
        ("<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\" contentId=\"acme-1\"><cpix:Oops>", "XML"),
        ("not xml at all", "cpix:CPIX"),
        ("<!DOCTYPE c [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><c/>", "DTD"),
        ("<CPIX xmlns=\"urn:dashif:org:cpix\" contentId=\"acme-1\"/>", "no cpix:ContentKey"),
    ] {
        let (status, text, _) = post(&ks.url(), &[("Authorization", &auth)], bad.into());
        assert_eq!(status, 400, "{bad}: {text}");
        one_line(status, &text);
        assert!(text.contains(needle), "{bad}: {text}");
    }
    let (status, text, _) = post(
        &ks.url(),
        &[("Authorization", &auth), ("X-Speke-Version", "1.0")],
        body.clone().into(),
    );
    assert_eq!(status, 400, "{text}");
    // A revoked key is refused at once.
    let r = abmark(&["key-service", "api-key", "revoke", "globex", "--state", s(&setup.state)]);
    assert!(r.status.success());
    let mine = key_request("globex-1", Scheme::Cenc, &[Drm::ClearKey], None).unwrap();
    assert_eq!(ask(&ks, &setup.globex, &mine).0, 401);
    // Refusals at the API key are counted, not logged; nothing logged holds a key.
    let metrics = {
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        agent.get(&format!("{}/metrics", ks.base)).call().unwrap().body_mut().read_to_string()
    }
    .unwrap();
    assert!(metrics.contains("abmark_keyservice_unauthenticated_total{reason=\"missing_key\"} 1"));
    assert!(metrics.contains("abmark_keyservice_unauthenticated_total{reason=\"bad_key\"} 2"));
    let log = ks.log();
    assert!(!log.contains(&setup.acme[4..]) && !log.contains(&setup.globex[4..]), "{log}");
}

#[test]
fn a_repeat_request_gets_the_same_keys_also_after_a_kill() {
    let setup = Setup::new();
    let mut ks = KeyService::start(&setup);
    let all = Drm::all_for(Scheme::Cbcs);
    let request = key_request("acme-series-1", Scheme::Cbcs, &all, Some(3)).unwrap();
    let (status, text) = ask(&ks, &setup.acme, &request);
    assert_eq!(status, 200, "{text}");
    let first = read_cpix(&text).unwrap();
    assert_eq!(first.content_id.as_deref(), Some("acme-series-1"));
    assert_eq!(first.keys.len(), 6);
    assert!(first.keys.iter().all(|k| k.explicit_iv.is_some()), "cbcs: an explicitIV per key");
    assert!(first.keys.iter().all(|k| k.scheme.as_deref() == Some("cbcs")));
    // Distinct random keys and IVs, PSSH for every system with one, the periods echoed.
    let mut distinct: Vec<_> = first.keys.iter().map(|k| k.key).collect();
    distinct.dedup();
    assert_eq!(distinct.len(), 6);
    assert_eq!(first.drm_systems.len(), 6 * 3);
    assert!(first.drm_systems.iter().all(|d| d.pssh.is_some()));
    assert_eq!(first.periods.len(), 3);
    let (_, again) = ask(&ks, &setup.acme, &request);
    assert_eq!(keys_of(&read_cpix(&again).unwrap()), keys_of(&first), "idempotent");
    // kill -9: nothing is lost, the keys were stored before the answer left.
    ks.child.kill().unwrap();
    ks.child.wait().unwrap();
    drop(ks);
    let ks = KeyService::start(&setup);
    let (status, after) = ask(&ks, &setup.acme, &request);
    assert_eq!(status, 200, "{after}");
    assert_eq!(keys_of(&read_cpix(&after).unwrap()), keys_of(&first), "after a restart");
    // The store holds the keys sealed: no key's bytes appear in it.
    let db = std::fs::read(&setup.state).unwrap();
    for k in &first.keys {
        assert!(!db.windows(16).any(|w| w == k.key), "key of {} in clear", k.kid);
    }
}

/// Several key-service (and serve) replicas share keys through Redis: what one made, another
/// returns after the first is killed, bound to its content there too.
#[test]
fn the_key_service_keeps_its_keys_in_redis_too() {
    let redis = common::Redis::start();
    let setup = Setup::new();
    let r = abmark(&[
        "key-service",
        "api-key",
        "add",
        "acme",
        "--content",
        "acme-*",
        "--redis",
        &redis.url,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let key = String::from_utf8(r.stdout).unwrap().trim().to_owned();
    let request = key_request("acme-redis", Scheme::Cbcs, &[Drm::Widevine], None).unwrap();
    let one = KeyService::start_on(&setup, &["--redis", &redis.url]);
    let (status, first) = ask(&one, &key, &request);
    assert_eq!(status, 200, "{first}");
    drop(one);
    let two = KeyService::start_on(&setup, &["--redis", &redis.url]);
    let (status, again) = ask(&two, &key, &request);
    assert_eq!(status, 200, "{again}");
    let first = read_cpix(&first).unwrap();
    assert_eq!(keys_of(&read_cpix(&again).unwrap()), keys_of(&first));
    let mut stolen = request.clone();
    stolen.content_id = Some("acme-other".into());
    assert_eq!(ask(&two, &key, &stolen).0, 409);
    // The SQLite store's API keys are not this store's.
    assert_eq!(ask(&two, &setup.acme, &request).0, 401);
    // Where serve --redis finds them: sealed, under the content.
    let mut conn = ::redis::Client::open(redis.url.as_str()).unwrap().get_connection().unwrap();
    let sealed: Vec<u8> = ::redis::cmd("HGET")
        .arg("abmark:keys:acme-redis")
        .arg(first.keys[0].kid.hex())
        .query(&mut conn)
        .unwrap();
    assert_eq!(sealed.len(), 44);
    assert!(!sealed.windows(16).any(|w| w == first.keys[0].key));
}

/// A packaging run keyed by the service (`--cpix-url`), licensed by `serve` with no `--keys`.
#[test]
fn chromium_plays_what_the_key_service_keyed_through_the_licence_service() {
    let f = small_variants();
    let setup = Setup::new();
    let ks = KeyService::start(&setup);
    let out = setup.dir.path().join("packaged");
    let package = |api_key: &str, out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_abmark"))
            .args(["package", s(&f.out), "-o", s(out), "--scheme", "cenc"])
            .args(["--cpix-url", &ks.url(), "--content-id", "acme-film"])
            .args(["--drm", "widevine,playready,clearkey", "--la-url", "/license"])
            .env("ABMARK_CPIX_API_KEY", api_key)
            .output()
            .unwrap()
    };
    // A refusing service: one line with the status and its reason, nothing written.
    let refused = setup.dir.path().join("refused");
    let r = package("abk_wrong", &refused);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("HTTP 401") && err.contains("unknown API key"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!refused.exists());
    let r = package(&setup.acme, &out);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // The keys are the service's: a repeat request for the packaged KIDs would return them,
    // and serve needs no key file to license them.
    let dir = tempfile::tempdir().unwrap();
    let wm_key = f.dir.path().join("wm.key");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_abmark"))
        .args(["serve", s(&out), "--key", s(&wm_key), "--listen", "127.0.0.1:0"])
        .args(["--content", "acme-film", "--master-key", s(&setup.master)])
        .args(["--state", s(&setup.state)])
        .args(["--session-log", s(&dir.path().join("s.jsonl"))])
        .args(["--licence-log", s(&dir.path().join("l.jsonl"))])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let url =
        format!("{base}/dash/manifest.mpd?token={}", common::wm_token(&wm_key, "acme-film", 77));
    let licence = common::licence_token(&wm_key, "acme-film", "zoe@example.com", 77, &[]);
    let v = play(&["--url", &url, "--license", "/license", "--token", &licence, "--seconds", "6"]);
    // The licence log is written off the request path: give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["currentTime"].as_f64().unwrap() >= 6.0, "{v}");
    let log = std::fs::read_to_string(dir.path().join("l.jsonl")).unwrap_or_default();
    assert!(log.contains("\"issued\""), "{log}");
}

/// An independent packager (Shaka Packager) with the keys the service returned for a cbcs
/// request: its stream plays in Chromium through the same licence service.
#[test]
fn shaka_packagers_stream_from_the_services_keys_plays_through_the_licence_service() {
    let f = small_variants();
    let setup = Setup::new();
    let ks = KeyService::start(&setup);
    // One key (video and audio share it), cbcs: the answer carries its constant IV.
    let mut request = key_request("acme-shaka", Scheme::Cbcs, &[Drm::ClearKey], None).unwrap();
    request.keys.truncate(1);
    request.drm_systems.truncate(1);
    request.usage_rules.clear();
    let (status, text) = ask(&ks, &setup.acme, &request);
    assert_eq!(status, 200, "{text}");
    let doc = read_cpix(&text).unwrap();
    let key = &doc.keys[0];
    let iv = key.explicit_iv.expect("cbcs answer has an explicitIV");
    let work = tempfile::tempdir().unwrap();
    let source = f.dir.path().join("source.mp4");
    let shaka = common::tool("shaka");
    let packaged = work.path().join("shaka");
    std::fs::create_dir(&packaged).unwrap();
    let r = Command::new(&shaka)
        .current_dir(&packaged)
        .arg(format!("in={},stream=video,output=video.mp4", s(&source)))
        .arg(format!("in={},stream=audio,output=audio.mp4", s(&source)))
        .arg("--enable_raw_key_encryption")
        .args(["--keys", &format!("label=:key_id={}:key={}", key.kid.hex(), hex(&key.key))])
        .args(["--iv", &hex(&iv)])
        .args(["--protection_scheme", "cbcs", "--clear_lead", "0"])
        .args(["--protection_systems", "CommonSystem"])
        .args(["--mpd_output", "manifest.mpd"])
        .output()
        .unwrap();
    assert!(r.status.success(), "shaka: {}", String::from_utf8_lossy(&r.stderr));
    // The licence service (serve needs a variants output to start: the fixture's clear one;
    // the licence is the claim here) for acme-shaka, with no key file.
    let dir = tempfile::tempdir().unwrap();
    let wm_key = f.dir.path().join("wm.key");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_abmark"))
        .args(["serve", s(&f.out), "--key", s(&wm_key), "--listen", "127.0.0.1:0"])
        .args(["--content", "acme-shaka", "--master-key", s(&setup.master)])
        .args(["--state", s(&setup.state)])
        .args(["--session-log", s(&dir.path().join("s.jsonl"))])
        .args(["--licence-log", s(&dir.path().join("l.jsonl"))])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let licence = common::licence_token(&wm_key, "acme-shaka", "yan@example.com", 5, &[]);
    let v = play(&[
        "--dir",
        s(&packaged),
        "--manifest",
        "manifest.mpd",
        "--license",
        &format!("{base}/license"),
        "--token",
        &licence,
        "--seconds",
        "6",
    ]);
    // Without the licence service's answer the same stream does not play.
    let denied = play(&[
        "--dir",
        s(&packaged),
        "--manifest",
        "manifest.mpd",
        "--license",
        &format!("{base}/license"),
        "--seconds",
        "3",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["currentTime"].as_f64().unwrap() >= 6.0, "{v}");
    assert_eq!(denied["ok"], false, "{denied}");
    let log = std::fs::read_to_string(dir.path().join("l.jsonl")).unwrap_or_default();
    assert!(log.contains("\"issued\"") && log.contains(&key.kid.hex()), "{log}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
