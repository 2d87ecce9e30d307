//! `abmark serve --tls-cert --tls-key` and `--trusted-proxy`, as a real process on the real
//! clip: HTTPS over HTTP/1.1 and HTTP/2 (curl, trusting a test CA made here with the openssl
//! CLI), the certificate swapped under a running server, refused certificate and key files,
//! plain HTTP unchanged, and the client address the session log records behind a proxy.

mod common;

use common::{abmark, s, small_variants};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A running `abmark serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    fn start(name: &str, extra: &[&str]) -> Server {
        let f = small_variants();
        let log = f.dir.path().join(format!("{name}-sessions.jsonl"));
        let listen =
            if extra.contains(&"--listen") { &[][..] } else { &["--listen", "127.0.0.1:0"] };
        let (child, base) = common::spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_abmark"))
                .args(["serve", s(&f.out), "--key", s(&wm_key())])
                .args(listen)
                .args(["--session-log", s(&log)])
                .args(extra)
                .stderr(Stdio::inherit()),
        );
        Server { child, base, log }
    }

    fn port(&self) -> &str {
        self.base.rsplit(':').next().unwrap()
    }

    /// The `client` of every session-log line, in order (after giving the writer a moment).
    fn logged_clients(&self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(300));
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|r| r["client"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wm_key() -> PathBuf {
    small_variants().dir.path().join("wm.key")
}

fn token(session: u32) -> String {
    let r = abmark(&["token", "--key", s(&wm_key()), "--session", &session.to_string()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    String::from_utf8(r.stdout).unwrap().trim().to_owned()
}

/// An answer as curl saw it.
struct Answer {
    status: u16,
    version: String,
    body: Vec<u8>,
}

/// `curl URL` with `args` (TLS options, headers, `--http2` ...).
fn curl(url: &str, args: &[&str]) -> Answer {
    static N: AtomicUsize = AtomicUsize::new(0);
    let out =
        small_variants().dir.path().join(format!("curl-{}", N.fetch_add(1, Ordering::Relaxed)));
    let r = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", s(&out), "-w", "%{http_code} %{http_version}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs");
    assert!(r.status.success(), "curl {url}: {}", String::from_utf8_lossy(&r.stderr));
    let written = String::from_utf8(r.stdout).unwrap();
    let (status, version) = written.split_once(' ').unwrap();
    let body = std::fs::read(&out).unwrap_or_default();
    Answer { status: status.parse().unwrap(), version: version.to_owned(), body }
}

fn openssl(args: &[&str]) {
    let r = Command::new("openssl").args(args).output().expect("openssl runs");
    assert!(r.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&r.stderr));
}

/// The key encodings the edge reads.
#[derive(Clone, Copy)]
enum KeyKind {
    EcPkcs8,
    EcSec1,
    RsaPkcs1,
}

/// A test CA and the server certificates it signs, in one directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (ca, ca_key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=abmark test CA",
            "-days",
            "2",
            "-keyout",
            s(&ca_key),
            "-out",
            s(&ca),
        ]);
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        Pki { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A new server certificate `name.pem` and its key `name.key` (mode 0600).
    fn server(&self, name: &str, kind: KeyKind) -> (PathBuf, PathBuf) {
        let p = |ext: &str| self.dir.path().join(format!("{name}.{ext}"));
        let (cert, key, csr) = (p("pem"), p("key"), p("csr"));
        match kind {
            KeyKind::EcPkcs8 => openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                s(&key),
            ]),
            KeyKind::EcSec1 => {
                openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", s(&key)])
            }
            KeyKind::RsaPkcs1 => openssl(&["genrsa", "-traditional", "-out", s(&key), "2048"]),
        }
        let head = std::fs::read_to_string(&key).unwrap();
        let expected = match kind {
            KeyKind::EcPkcs8 => "-----BEGIN PRIVATE KEY-----",
            KeyKind::EcSec1 => "-----BEGIN EC PRIVATE KEY-----",
            KeyKind::RsaPkcs1 => "-----BEGIN RSA PRIVATE KEY-----",
        };
        assert!(head.starts_with(expected), "{name}: {}", head.lines().next().unwrap_or(""));
        set_mode(&key, 0o600);
        openssl(&[
            "req",
            "-new",
            "-key",
            s(&key),
            "-subj",
            &format!("/CN={name}"),
            "-out",
            s(&csr),
        ]);
        let ca_key = self.dir.path().join("ca.key");
        let ext = self.dir.path().join("server.ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            s(&csr),
            "-CA",
            s(&self.ca()),
            "-CAkey",
            s(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            s(&ext),
            "-out",
            s(&cert),
        ]);
        (cert, key)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// SHA-256 fingerprint of a PEM certificate.
fn fingerprint(pem: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(pem).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not a certificate: {}", String::from_utf8_lossy(pem));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The fingerprint of the certificate the server at `port` presents to a new connection.
fn served_fingerprint(port: &str) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", "localhost"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    fingerprint(&out.stdout)
}

/// Puts `from` at `to` the way a deploy should: a temporary sibling, then a rename.
fn replace(from: &Path, to: &Path) {
    let temp = to.with_extension("tmp");
    std::fs::copy(from, &temp).unwrap();
    set_mode(&temp, 0o600);
    std::fs::rename(&temp, to).unwrap();
}

/// The first `SegmentURL@media` of an MPD.
fn first_segment(mpd: &str) -> String {
    let (_, rest) = mpd.split_once("<SegmentURL media=\"").expect("a SegmentURL");
    rest.split('"').next().unwrap().to_owned()
}

#[test]
fn https_serves_the_personal_stream_over_http1_and_http2() {
    let pki = Pki::new();
    let (cert, key) = pki.server("edge", KeyKind::EcPkcs8);
    let server = Server::start("https", &["--tls-cert", s(&cert), "--tls-key", s(&key)]);
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);
    let mpd_url = format!("{}/dash/manifest.mpd?token={}", server.base, token(11));
    let ca = pki.ca();
    let mut segments = Vec::new();
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let tls = ["--cacert", s(&ca), flag];
        let mpd = curl(&mpd_url, &tls);
        assert_eq!((mpd.status, mpd.version.as_str()), (200, version), "MPD over {flag}");
        let mpd = String::from_utf8(mpd.body).unwrap();
        assert!(mpd.contains("<MPD"), "{mpd}");
        let segment = curl(&format!("{}{}", server.base, first_segment(&mpd)), &tls);
        assert_eq!((segment.status, segment.version.as_str()), (200, version));
        assert!(
            segment.body.len() > 1000 && [&b"styp"[..], b"moof"].contains(&&segment.body[4..8]),
            "a CMAF segment"
        );
        segments.push(segment.body);
    }
    assert_eq!(segments[0], segments[1], "the same viewer gets the same bytes either way");
    // Without the CA the certificate is not trusted: curl verifies, so the above proved it.
    let r = Command::new("curl").args(["-sS", "--max-time", "10", &mpd_url]).output().unwrap();
    assert!(!r.status.success(), "an untrusted certificate must fail verification");
    assert!(server.logged_clients().iter().all(|c| c.starts_with("127.0.0.1:")));
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let pki = Pki::new();
    let live = tempfile::tempdir().unwrap();
    let (cert, key) = (live.path().join("fullchain.pem"), live.path().join("privkey.pem"));
    let first = pki.server("first", KeyKind::EcPkcs8);
    replace(&first.0, &cert);
    replace(&first.1, &key);
    let server = Server::start("reload", &["--tls-cert", s(&cert), "--tls-key", s(&key)]);
    let port = server.port().to_owned();
    let fp = |p: &Path| fingerprint(&std::fs::read(p).unwrap());
    assert_eq!(served_fingerprint(&port), fp(&first.0));
    let mpd_url = format!("{}/dash/manifest.mpd?token={}", server.base, token(12));
    let works = || {
        let answer = curl(&mpd_url, &["--cacert", s(&pki.ca()), "--http2"]);
        assert_eq!(answer.status, 200);
    };
    let serves = |wanted: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while served_fingerprint(&port) != wanted {
            assert!(Instant::now() < deadline, "still not serving {wanted}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };

    // A renewal with another key type (RSA, PKCS#1), chain first and key after, as certbot
    // switches its links one by one.
    let second = pki.server("second", KeyKind::RsaPkcs1);
    replace(&second.0, &cert);
    std::thread::sleep(Duration::from_millis(300));
    replace(&second.1, &key);
    serves(&fp(&second.0));
    works();

    // A broken replacement (the key of another certificate) changes nothing.
    let third = pki.server("third", KeyKind::EcPkcs8);
    replace(&third.0, &cert);
    std::thread::sleep(Duration::from_secs(4)); // several polls
    assert_eq!(served_fingerprint(&port), fp(&second.0));
    works();

    // A good pair afterwards is served again (an SEC1 key this time).
    let fourth = pki.server("fourth", KeyKind::EcSec1);
    replace(&fourth.0, &cert);
    replace(&fourth.1, &key);
    serves(&fp(&fourth.0));
    works();
}

#[test]
fn without_tls_the_edge_still_speaks_plain_http() {
    let server = Server::start("plain", &[]);
    assert!(server.base.starts_with("http://127.0.0.1:"), "{}", server.base);
    let mpd = curl(&format!("{}/dash/manifest.mpd?token={}", server.base, token(13)), &[]);
    assert_eq!((mpd.status, mpd.version.as_str()), (200, "1.1"));
    let https = server.base.replace("http://", "https://");
    let r = Command::new("curl").args(["-sSk", "--max-time", "10", &https]).output().unwrap();
    assert!(!r.status.success(), "no TLS without --tls-cert");
}

#[test]
fn bad_certificate_or_key_files_stop_the_start_with_one_line() {
    let pki = Pki::new();
    let (cert, key) = pki.server("good", KeyKind::EcPkcs8);
    let (other_cert, _) = pki.server("other", KeyKind::EcPkcs8);
    let dir = pki.dir.path();
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    set_mode(&not_pem, 0o600);
    let open_key = dir.join("open.key");
    std::fs::copy(&key, &open_key).unwrap();
    set_mode(&open_key, 0o644);
    let missing = dir.join("missing.pem");
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_body = key_text.lines().nth(1).unwrap().to_owned();
    let cases: [(&Path, &Path, &str); 6] = [
        (&missing, &key, "missing.pem"),
        (&cert, &missing, "missing.pem"),
        (&not_pem, &key, "no PEM certificate"),
        (&cert, &not_pem, "no unencrypted PEM private key"),
        (&other_cert, &key, "does not belong to the certificate"),
        (&cert, &open_key, "open to other users (mode 644)"),
    ];
    let f = small_variants();
    for (c, k, why) in cases {
        let log = dir.join("never.jsonl");
        let r = abmark(&[
            "serve",
            s(&f.out),
            "--key",
            s(&wm_key()),
            "--listen",
            "127.0.0.1:0",
            "--session-log",
            s(&log),
            "--tls-cert",
            s(c),
            "--tls-key",
            s(k),
        ]);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{why}: started");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(why), "{why}: {stderr}");
        assert!(!stderr.contains(&key_body), "key material in {stderr}");
        assert!(r.stdout.is_empty(), "nothing listened");
        assert!(!log.exists(), "nothing created");
    }
    // One without the other is a usage error.
    let r = abmark(&["serve", s(&f.out), "--key", s(&wm_key()), "--tls-cert", s(&cert)]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("--tls-key"));
}

#[test]
fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
    let proxied = Server::start("proxied", &["--trusted-proxy", "127.0.0.1/32"]);
    let mpd = |server: &Server, session: u32, args: &[&str]| {
        let url = format!("{}/dash/manifest.mpd?token={}", server.base, token(session));
        assert_eq!(curl(&url, args).status, 200);
    };
    mpd(&proxied, 21, &["-H", "X-Forwarded-For: 198.51.100.9, 203.0.113.7"]);
    mpd(&proxied, 22, &["-H", "Forwarded: for=\"[2001:db8::1]:4711\";proto=https"]);
    // A peer outside the trusted network (127.0.0.2) names itself, whatever it claims.
    mpd(&proxied, 23, &["--interface", "127.0.0.2", "-H", "X-Forwarded-For: 203.0.113.8"]);
    // A malformed header from the proxy: the proxy is all we know.
    mpd(&proxied, 24, &["-H", "X-Forwarded-For: 203.0.113.7, not-an-address"]);
    let clients = proxied.logged_clients();
    assert_eq!(clients.len(), 4, "{clients:?}");
    assert_eq!(clients[0], "203.0.113.7");
    assert_eq!(clients[1], "[2001:db8::1]:4711");
    assert!(clients[2].starts_with("127.0.0.2:"), "{clients:?}");
    assert!(clients[3].starts_with("127.0.0.1:"), "{clients:?}");

    let direct = Server::start("direct", &[]);
    mpd(&direct, 25, &["-H", "X-Forwarded-For: 203.0.113.7"]);
    mpd(&direct, 26, &["-H", "Forwarded: for=203.0.113.7"]);
    let clients = direct.logged_clients();
    assert_eq!(clients.len(), 2, "{clients:?}");
    assert!(clients.iter().all(|c| c.starts_with("127.0.0.1:")), "{clients:?}");

    // /metrics goes by the TCP peer: a trusted loopback proxy forwarding a remote viewer is
    // still loopback, and a remote peer trusted to forward cannot claim to be loopback.
    let metrics = format!("{}/metrics", proxied.base);
    assert_eq!(curl(&metrics, &["-H", "X-Forwarded-For: 203.0.113.7"]).status, 200);
    let Some(outside) = non_loopback_address() else {
        panic!("this test needs a non-loopback IPv4 address on the machine");
    };
    let open = Server::start("open", &["--listen", "0.0.0.0:0", "--trusted-proxy", "0.0.0.0/0"]);
    let url = format!("http://{outside}:{}/metrics", open.port());
    let forged = ["--interface", &outside, "-H", "X-Forwarded-For: 127.0.0.1"];
    assert_eq!(curl(&url, &forged).status, 404);
    let forged = ["--interface", &outside, "-H", "Forwarded: for=127.0.0.1"];
    assert_eq!(curl(&url, &forged).status, 404);
}

/// An IPv4 address of this machine other than loopback (the source of a route outwards; no
/// packet is sent).
fn non_loopback_address() -> Option<String> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
}

/// Silent connections do not hold a connection slot: one that never starts its handshake, and
/// an HTTP/2 one that sends nothing after it (hyper has no HTTP/2 idle timeout of its own), are
/// closed after --header-timeout.
#[test]
fn silent_tls_and_http2_connections_are_closed() {
    let pki = Pki::new();
    let (cert, key) = pki.server("idle", KeyKind::EcPkcs8);
    let server = Server::start(
        "idle",
        &["--tls-cert", s(&cert), "--tls-key", s(&key), "--header-timeout", "1"],
    );
    let started = Instant::now();
    let mut tcp = std::net::TcpStream::connect(format!("127.0.0.1:{}", server.port())).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let read = std::io::Read::read(&mut tcp, &mut [0u8; 16]);
    assert!(matches!(read, Ok(0)), "closed, not timed out: {read:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // s_client keeps the connection open as long as its stdin is: only the edge can end it.
    let started = Instant::now();
    let mut client = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", server.port()), "-alpn", "h2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = client.stdin.take();
    while client.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = client.kill();
            panic!("an idle HTTP/2 connection stayed open");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stdin);
    let out = client.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("ALPN protocol: h2"), "{out}");
}
