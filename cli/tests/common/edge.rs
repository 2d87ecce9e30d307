//! An encrypted, personalised title behind a real `abmark serve` with its licence service, for
//! the tests that play it in browsers (players.rs, player_page.rs): the fixture's variants
//! packaged with fresh keys, a master key, tokens, and what `abmark mix` says a session gets.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{abmark, s, small_variants};

/// The content id every title here is served as.
pub const CONTENT: &str = "film-1";

/// The fixture's variants packaged with `scheme` (and key rotation every `rotate` segments),
/// ClearKey signalled, keys in a CPIX document, plus a master key for the licence service.
pub struct Title {
    pub out: PathBuf,
    pub cpix: PathBuf,
    pub master: PathBuf,
    pub wm_key: PathBuf,
}

impl Title {
    pub fn package(name: &str, scheme: &str, rotate: Option<u32>) -> Title {
        let f = small_variants();
        let out = f.dir.path().join(name);
        let cpix = f.dir.path().join(format!("{name}.cpix.xml"));
        let every = rotate.map(|n| n.to_string());
        let mut args = vec![
            "package",
            s(&f.out),
            "-o",
            s(&out),
            "--scheme",
            scheme,
            "--generate-keys",
            "--cpix-out",
            s(&cpix),
            "--drm",
            "widevine,playready,clearkey",
            "--content-id",
            CONTENT,
        ];
        if let Some(n) = &every {
            args.extend(["--rotate-every", n]);
        }
        let r = abmark(&args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let master = f.dir.path().join(format!("{name}.master.key"));
        assert!(abmark(&["keygen", "-o", s(&master)]).status.success());
        Title { out, cpix, master, wm_key: f.dir.path().join("wm.key") }
    }

    /// A WM token (manifests) for `session`, with extra `abmark token` arguments.
    pub fn wm_token(&self, session: u32, extra: &[&str]) -> String {
        let n = session.to_string();
        let mut args = vec!["token", "--key", s(&self.wm_key), "--session", &n];
        args.extend(["--content", CONTENT]);
        args.extend_from_slice(extra);
        run_token(&args)
    }

    /// A licence token for `subject` watching as `session`.
    pub fn licence_token(&self, subject: &str, session: u32, extra: &[&str]) -> String {
        let n = session.to_string();
        let mut args = vec!["token", "--licence", "--key", s(&self.wm_key), "--session", &n];
        args.extend(["--subject", subject, "--content", CONTENT]);
        args.extend_from_slice(extra);
        run_token(&args)
    }

    /// The video track's default KID, base64url, as a ClearKey licence request names it.
    pub fn video_kid_b64(&self) -> String {
        let job: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.out.join("job.json")).unwrap()).unwrap();
        let kid: Vec<u8> = job["protection"]["video"]["default_kid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect();
        super::base64(&kid, true)
    }

    /// The video rendition ids, in job.json order.
    pub fn renditions(&self) -> Vec<String> {
        let job: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.out.join("job.json")).unwrap()).unwrap();
        let list = job["renditions"].as_array().unwrap();
        list.iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    }

    /// `abmark mix --json` of `session`: the variant (0/1) of each video segment. Mix reads
    /// the clear variants this title was packaged from (FFmpeg cannot read the encrypted ones;
    /// packaging keeps the segments and their WMPaceInfo).
    pub fn mix_variants(&self, session: u32) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let n = session.to_string();
        let mixed = dir.path().join("viewer.mp4");
        let r = abmark(&[
            "mix",
            s(&small_variants().out),
            "--session",
            &n,
            "--key",
            s(&self.wm_key),
            "-o",
            s(&mixed),
            "--json",
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        v["segment_variants"].as_str().unwrap().bytes().map(|b| b - b'0').collect()
    }

    /// Every video segment file of the packaged output by the SHA-256 of its bytes:
    /// (variant, rendition, segment number).
    pub fn video_segments_by_hash(&self) -> HashMap<String, (u8, String, usize)> {
        let mut map = HashMap::new();
        for variant in [0u8, 1] {
            let dir = self.out.join(variant.to_string());
            for rendition in std::fs::read_dir(&dir).unwrap() {
                let rendition = rendition.unwrap().path();
                let name = rendition.file_name().unwrap().to_string_lossy().into_owned();
                for (i, seg) in super::segment_files(&rendition).into_iter().enumerate() {
                    let hash = sha256_hex(&std::fs::read(&seg).unwrap());
                    map.insert(hash, (variant, name.clone(), i + 1));
                }
            }
        }
        map
    }
}

fn run_token(args: &[&str]) -> String {
    let r = abmark(args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    String::from_utf8(r.stdout).unwrap().trim().to_owned()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A running `abmark serve` of a [`Title`] with its licence service; killed on drop.
pub struct Edge {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Edge {
    pub fn start(title: &Title, extra: &[&str]) -> Edge {
        let dir = tempfile::tempdir().unwrap();
        let (child, base) = super::spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_abmark"))
                .args([
                    "serve",
                    s(&title.out),
                    "--key",
                    s(&title.wm_key),
                    "--listen",
                    "127.0.0.1:0",
                ])
                .args(["--content", CONTENT])
                .args(["--session-log", s(&dir.path().join("sessions.jsonl"))])
                .args(["--master-key", s(&title.master), "--keys", s(&title.cpix)])
                .args(["--state", s(&dir.path().join("state.db"))])
                .args(["--licence-log", s(&dir.path().join("licences.jsonl"))])
                .args(extra)
                // A file, not a pipe nobody reads: a chatty server must never block on stderr.
                .stderr(Stdio::from(std::fs::File::create(dir.path().join("stderr.txt")).unwrap())),
        );
        Edge { child, base, dir }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    /// The lines of one of the edge's JSONL logs (`sessions.jsonl`, `licences.jsonl`).
    pub fn log(&self, name: &str) -> Vec<serde_json::Value> {
        // Logs are written off the request path: give them a moment.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// shaka-player's compiled build, as `serve --player-js` takes it.
pub fn shaka_build() -> PathBuf {
    let modules = super::tool("browser");
    let js = modules.join("node_modules/shaka-player/dist/shaka-player.compiled.js");
    assert!(js.is_file(), "{} missing", js.display());
    js
}

/// The requests a `play.mjs --record` run made for video segments: (variant, rendition,
/// number) of each, by matching the bytes received against the packaged files.
pub fn fetched_video_segments(
    title: &Title,
    verdict: &serde_json::Value,
) -> Vec<(u8, String, usize)> {
    let by_hash = title.video_segments_by_hash();
    let requests = verdict["requests"].as_array().cloned().unwrap_or_default();
    requests
        .iter()
        .filter_map(|r| r["sha256"].as_str())
        .filter_map(|h| by_hash.get(h).cloned())
        .collect()
}

/// A self-signed certificate for `https://127.0.0.1` (EC P-256, made with the openssl CLI) and
/// the base64 SHA-256 of its public key, which Chromium is told to trust
/// (`play.mjs --trust-cert-spki`).
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub spki: String,
}

impl TestCert {
    pub fn new(dir: &std::path::Path) -> TestCert {
        let cert = dir.join("edge.pem");
        let key = dir.join("edge.key");
        let r = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
            .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", s(&key), "-out", s(&cert)])
            .output()
            .unwrap();
        assert!(r.status.success(), "openssl: {}", String::from_utf8_lossy(&r.stderr));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let sh = format!(
            "openssl x509 -pubkey -noout -in '{}' | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64",
            cert.display()
        );
        let r = Command::new("sh").args(["-c", &sh]).output().unwrap();
        assert!(r.status.success());
        TestCert { cert, key, spki: String::from_utf8(r.stdout).unwrap().trim().to_owned() }
    }
}
