//! Helpers shared by the CLI integration tests: run the binary, name paths, find the real clips.
#![allow(dead_code)] // each test binary uses its own subset

pub mod edge;
pub mod slurm;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// Runs `abmark` with `args` and returns its output.
pub fn abmark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abmark")).args(args).output().expect("abmark runs")
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A clip of `datasets/cache/` (fetched by `datasets/fetch.sh`).
pub fn dataset(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/cache").join(name);
    assert!(p.exists(), "{} missing: run datasets/fetch.sh first", p.display());
    p
}

/// Variants of a 12-s excerpt of the real clip (6 segments, 720p and 360p, AAC audio), made
/// once per test binary.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub out: PathBuf,
}

pub fn small_variants() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source.mp4");
        let st = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-ss", "2", "-i"])
            .arg(dataset("abmark-720p-short.mp4"))
            .args([
                "-t", "12", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "aac",
            ])
            .arg(&source)
            .status()
            .unwrap();
        assert!(st.success());
        let key = dir.path().join("wm.key");
        assert!(abmark(&["keygen", "-o", s(&key)]).status.success());
        let out = dir.path().join("variants");
        let r = abmark(&["variants", s(&source), "-o", s(&out), "--key", s(&key)]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        Fixture { dir, out }
    })
}

/// Writes the session log the edge would have written for `sessions` (JSONL of
/// [`abmark_delivery::sessions::SessionRecord`], subject `user-N`), with `key`'s session codes.
pub fn write_session_log(path: &Path, key: &Path, sessions: impl IntoIterator<Item = u32>) {
    use abmark_delivery::ids::SessionId;
    use abmark_delivery::sessions::{SessionRecord, TokenMode};
    use std::io::Write;
    let coder =
        abmark_wm::payload::SessionCoder::new(&abmark_files::keyfile::load_key(key).unwrap())
            .unwrap();
    let mut file = std::fs::File::create(path).unwrap();
    for session in sessions {
        let pattern: String =
            coder.encode(session).to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let record = SessionRecord {
            time: "2026-11-23T00:00:00Z".into(),
            session: Some(SessionId(session)),
            subject: Some(format!("user-{session}")),
            content: None,
            client: "192.0.2.1:40000".into(),
            mode: TokenMode::Direct,
            pattern,
            pattern_bits: 64,
            expires_at: 0,
        };
        writeln!(file, "{}", serde_json::to_string(&record).unwrap()).unwrap();
    }
}

/// The track directories of an output, in job.json order (`0/720p`, ..., `audio`).
pub fn track_dirs(out: &Path) -> Vec<PathBuf> {
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("job.json")).unwrap()).unwrap();
    let outputs = job["outputs"].as_array().unwrap();
    outputs.iter().map(|o| out.join(o["path"].as_str().unwrap())).collect()
}

/// `seg-1.m4s`, `seg-2.m4s`, ... of a track directory.
pub fn segment_files(track: &Path) -> Vec<PathBuf> {
    (1..).map(|n| track.join(format!("seg-{n}.m4s"))).take_while(|p| p.exists()).collect()
}

/// init + every segment of a track, as one fMP4 byte stream.
pub fn concat(track: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(track.join("init.mp4")).unwrap();
    for seg in segment_files(track) {
        bytes.extend(std::fs::read(seg).unwrap());
    }
    bytes
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scripts/tools.sh WHAT` -> the one path it prints (installs on first use; a failed install
/// fails the test: CI must prove interop, not skip it).
pub fn tool(what: &str) -> PathBuf {
    let out = Command::new("bash").arg(repo().join("scripts/tools.sh")).arg(what).output().unwrap();
    assert!(out.status.success(), "tools.sh {what}: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// One Chromium at a time on a 2-core machine.
static BROWSER: Mutex<()> = Mutex::new(());

/// Headless Chromium + shaka-player (`tests/tools/play.mjs`) on `args` (`--dir`/`--url`,
/// `--clearkey`/`--license`/`--token`...): its one-line JSON verdict.
pub fn play(args: &[&str]) -> serde_json::Value {
    static MODULES: OnceLock<PathBuf> = OnceLock::new();
    let modules = MODULES.get_or_init(|| tool("browser"));
    let _guard = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("node")
        .arg(repo().join("tests/tools/play.mjs"))
        .arg("--modules")
        .arg(modules)
        .args(args)
        .args(["--timeout", "60"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("play.mjs: {}", String::from_utf8_lossy(&out.stderr)))
}

/// base64 (standard alphabet, padded) or base64url (unpadded), for comparing manifest text.
pub fn base64(bytes: &[u8], url: bool) -> String {
    let alphabet: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if !url {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

/// A licence token (`abmark token --licence`) for `subject`'s session `session` of `content`,
/// signed with the watermark key at `key`; `extra` adds flags (`--persistent`).
pub fn licence_token(
    key: &Path,
    content: &str,
    subject: &str,
    session: u32,
    extra: &[&str],
) -> String {
    let n = session.to_string();
    let mut args =
        vec!["token", "--licence", "--key", s(key), "--session", &n, "--subject", subject];
    args.extend(["--content", content]);
    args.extend_from_slice(extra);
    let r = abmark(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    String::from_utf8(r.stdout).unwrap().trim().to_owned()
}

/// A WM token (`abmark token`) for session `session` of `content`.
pub fn wm_token(key: &Path, content: &str, session: u32) -> String {
    let n = session.to_string();
    let r = abmark(&["token", "--key", s(key), "--session", &n, "--content", content]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    String::from_utf8(r.stdout).unwrap().trim().to_owned()
}

/// A real `redis-server` on a free loopback port (installed by `scripts/setup.sh`), killed on
/// drop.
pub struct Redis {
    child: std::process::Child,
    pub url: String,
}

impl Redis {
    pub fn start() -> Redis {
        let setup = repo().join("scripts/setup.sh");
        assert!(Command::new("bash").arg(setup).arg("redis-server").status().unwrap().success());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Redis { child, url: format!("redis://127.0.0.1:{port}/0") }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns a server command (`abmark serve`, `abmark key-service serve`) with stdout piped and
/// returns it with its base URL, read from the `listening on URL` line it prints first.
pub fn spawn_listening(command: &mut Command) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").expect("address line").to_owned();
    (child, base)
}

/// Sends only the head of a `POST` to `url` (plain HTTP) declaring a `length`-byte body, and
/// returns the answer's head and whatever body follows before the server closes or 2 s pass.
/// For refusals made on the head alone (413, 429): sending the body as well races the server,
/// which may close the connection before the client has finished writing it.
pub fn post_head_only(url: &str, headers: &[(&str, &str)], length: u64) -> String {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("a plain-HTTP URL");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).unwrap() == 1 {
        answer.push(byte[0]);
    }
    // The body, if the server sends one before closing (bounded: a refusal is one line).
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
    let mut chunk = [0u8; 4096];
    while answer.len() < 1 << 16 {
        match tcp.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}
