//! `abmark serve`, `token` and `mix` on a real clip, over real HTTP: every segment a viewer is
//! sent is the variant their session code names, in personalised-manifest mode and in the ETSI
//! TS 104 002 edge mode; FFmpeg plays the personal stream end to end; bad tokens get nothing.

mod common;

use common::marked::{Excerpt, Marked};
use common::{abmark, s};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use abmark_delivery::ids::SessionId;
use abmark_delivery::pace::find_wmpi;
use abmark_edge::token::{mint, TokenFormat, TokenKeys, WmClaims, WmPattern};
use abmark_wm::key::WatermarkKey;
use abmark_wm::payload::{pattern_bit, SessionCoder};

/// Variants of a 16-s excerpt of the real clip (8 segments, 720p and 360p), made once.
struct Fixture {
    dir: tempfile::TempDir,
    source: PathBuf,
    key: PathBuf,
    out: PathBuf,
    job: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let excerpt = Excerpt {
            clip: "abmark-720p-short.mp4",
            start: 4.0,
            seconds: 16.0,
            crf: 16,
            audio: &["-c:a", "aac"],
        };
        let Marked { source, key, out, job } = Marked::make(dir.path(), &excerpt, &[]);
        Fixture { dir, source, key, out, job }
    })
}

impl Fixture {
    fn key(&self) -> WatermarkKey {
        abmark_files::keyfile::load_key(&self.key).unwrap()
    }

    fn segments(&self) -> usize {
        self.job["segment_count"].as_u64().unwrap() as usize
    }

    fn renditions(&self) -> Vec<String> {
        let list = self.job["renditions"].as_array().unwrap();
        list.iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    }

    /// The variant of segment `i` for `session`, computed from the session code directly.
    fn expected_bits(&self, session: u32) -> Vec<u8> {
        let code = SessionCoder::new(&self.key()).unwrap().encode(session);
        (0..self.segments()).map(|i| code.bit(i % 64)).collect()
    }

    fn token(&self, session: u32, extra: &[&str]) -> String {
        let mut args = vec!["token", "--key", s(&self.key), "--session"];
        let n = session.to_string();
        args.push(&n);
        args.extend_from_slice(extra);
        let r = abmark(&args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        String::from_utf8(r.stdout).unwrap().trim().to_owned()
    }
}

/// A running `abmark serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(f: &Fixture, log: &Path, extra: &[&str]) -> Server {
        let (child, base) = common::spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_abmark"))
                .args(["serve", s(&f.out), "--key", s(&f.key), "--listen", "127.0.0.1:0"])
                .args(["--session-log", s(log)])
                .args(extra)
                .stderr(Stdio::inherit()),
        );
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// GET with an optional bearer token: (status, body).
fn get(url: &str, bearer: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = agent().get(url);
    if let Some(t) = bearer {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap();
    (status, body)
}

/// The Cache-Control header of a GET.
fn cache_control(url: &str) -> String {
    let response = agent().get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let value = response.headers().get("cache-control").and_then(|v| v.to_str().ok());
    value.unwrap_or_default().to_owned()
}

fn get_text(url: &str) -> String {
    let (status, body) = get(url, None);
    assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
    String::from_utf8(body).unwrap()
}

/// URI lines of a playlist (everything that is not a tag), plus `URI="..."` attributes of tags
/// (`#EXT-X-MAP`, `#EXT-X-MEDIA`).
fn playlist_uris(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            if let Some((_, rest)) = line.split_once("URI=\"") {
                uris.push(rest.split('"').next().unwrap_or_default().to_owned());
            }
        } else if !line.is_empty() {
            uris.push(line.to_owned());
        }
    }
    uris
}

/// `/media/<keyed name>/<rendition>/seg-<n>.m4s` -> (rendition, 0-based index).
fn parse_segment(uri: &str) -> Option<(String, usize)> {
    let parts: Vec<&str> = uri.trim_start_matches('/').split('/').collect();
    let ["media", name, rendition, file] = parts[..] else { return None };
    assert_eq!(name.len(), 22, "a keyed name, not a variant number: {uri}");
    let n: usize = file.strip_prefix("seg-")?.strip_suffix(".m4s")?.parse().ok()?;
    Some((rendition.to_owned(), n - 1))
}

/// Where a URL of the edge lives in the output: init and audio files by their own path, a video
/// segment under the variant its `wmpi` box names.
fn stored_path(uri: &str, body: &[u8]) -> PathBuf {
    if let Some((rendition, index)) = parse_segment(uri) {
        let variant = find_wmpi(body).unwrap().expect("wmpi box").variant;
        return PathBuf::from(format!("{variant}/{rendition}/seg-{}.m4s", index + 1));
    }
    match uri.trim_start_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["media", rendition, "init.mp4"] => PathBuf::from(format!("0/{rendition}/init.mp4")),
        _ => PathBuf::from(uri.trim_start_matches('/')),
    }
}

/// Three sessions whose bits over the clip differ pairwise and are not constant.
fn three_sessions(f: &Fixture) -> Vec<u32> {
    let mut chosen: Vec<(u32, Vec<u8>)> = Vec::new();
    for session in (1u32..).map(|k| k.wrapping_mul(2_654_435_761)) {
        let bits = f.expected_bits(session);
        let varied = bits.contains(&0) && bits.contains(&1);
        if varied && chosen.iter().all(|(_, b)| *b != bits) {
            chosen.push((session, bits));
        }
        if chosen.len() == 3 {
            break;
        }
    }
    chosen.into_iter().map(|(s, _)| s).collect()
}

#[test]
fn personalised_manifests_serve_each_session_its_own_variants() {
    let f = fixture();
    let log = f.dir.path().join("personal-sessions.jsonl");
    let server = Server::start(f, &log, &[]);
    let mut checked_both_variants = [false; 2];
    let mut tokens = Vec::new();
    for (n, session) in three_sessions(f).into_iter().enumerate() {
        let subject = format!("viewer-{n}");
        let token = f.token(session, &["--subject", &subject, "--content", "film"]);
        tokens.push(token.clone());
        let bits = f.expected_bits(session);
        let master = get_text(&format!("{}/hls/master.m3u8?token={token}", server.base));
        let playlists = playlist_uris(&master);
        assert_eq!(playlists.len(), f.renditions().len() + 1, "video renditions + audio");
        let mut listed = Vec::new();
        for playlist in &playlists {
            assert!(playlist.ends_with(&format!("?token={token}")), "token carried on");
            let text = get_text(&format!("{}{playlist}", server.base));
            for uri in playlist_uris(&text) {
                let (status, body) = get(&format!("{}{uri}", server.base), None);
                assert_eq!(status, 200, "{uri}");
                let on_disk = std::fs::read(f.out.join(stored_path(&uri, &body))).unwrap();
                assert_eq!(body, on_disk, "{uri} served as stored");
                let Some((rendition, index)) = parse_segment(&uri) else { continue };
                let pace = find_wmpi(&body).unwrap().expect("wmpi box");
                let variant = pace.variant;
                assert_eq!(variant, bits[index], "session {session} segment {index} ({uri})");
                assert_eq!(pace.position, Some((index % 64) as u16));
                checked_both_variants[variant as usize] = true;
                // The two variants of a segment really differ, so the check above means
                // something.
                let other =
                    f.out.join(format!("{}/{rendition}/seg-{}.m4s", 1 - variant, index + 1));
                assert_ne!(body, std::fs::read(other).unwrap());
                listed.push(uri);
            }
        }
        // DASH: the MPD lists the same per-segment URLs.
        let mpd = get_text(&format!("{}/dash/manifest.mpd?token={token}", server.base));
        for uri in &listed {
            assert!(mpd.contains(&format!("\"{uri}\"")), "MPD lists {uri} for session {session}");
        }
        assert_eq!(listed.len(), f.segments() * f.renditions().len());
    }
    assert_eq!(checked_both_variants, [true, true]);
    // Only manifests are personal: segments are cacheable by any CDN.
    let token = &tokens[0];
    let master = format!("{}/hls/master.m3u8?token={token}", server.base);
    assert!(cache_control(&master).contains("no-store"));
    let playlist = format!("{}/hls/{}.m3u8?token={token}", server.base, f.renditions()[0]);
    let first = playlist_uris(&get_text(&playlist)).into_iter().find(|u| u.contains("/seg-"));
    let segment = format!("{}{}", server.base, first.unwrap());
    assert!(cache_control(&segment).contains("immutable"), "{}", cache_control(&segment));
    // Nothing else is reachable: not the variant directories (an unwatermarked all-A stream),
    // not a name with one character changed (the other variant's cannot be derived), not the
    // output's other files.
    let rendition = &f.renditions()[0];
    let mut guessed = segment.clone().into_bytes();
    let at = server.base.len() + "/media/".len();
    guessed[at] = if guessed[at] == b'A' { b'B' } else { b'A' };
    for url in [
        format!("{}/0/{rendition}/seg-1.m4s", server.base),
        format!("{}/1/{rendition}/seg-1.m4s", server.base),
        format!("{}/0/{rendition}/init.mp4", server.base),
        String::from_utf8(guessed).unwrap(),
        format!("{}/job.json", server.base),
        format!("{}/media/..%2fjob.json", server.base),
        format!("{}/media/{rendition}/..%2f..%2fjob.json", server.base),
        format!("{}/audio/..%2fjob.json", server.base),
        format!("{}/0/{rendition}/WMPaceInfo/seg-1.m4s", server.base),
    ] {
        assert_eq!(get(&url, None).0, 404, "{url}");
    }
    drop(server);

    // The session log names each session once, with its subject; it is private.
    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 3, "{text}");
    for (n, session) in three_sessions(f).into_iter().enumerate() {
        let r = records.iter().find(|r| r["session"] == session).expect("session logged");
        assert_eq!(r["subject"], format!("viewer-{n}"));
        assert_eq!(r["content"], "film");
        assert!(r["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    for token in &tokens {
        assert!(!text.contains(&token[token.len() - 16..]), "tokens are never logged");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
}

fn past_token(f: &Fixture, session: u32) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let code = SessionCoder::new(&f.key()).unwrap().encode(session);
    let claims = WmClaims {
        version: 1,
        vendor: abmark_edge::token::ABMARK_VENDOR,
        segment_duration: None,
        pattern: WmPattern::Direct { bytes: code.to_bytes().to_vec(), bits: 64 },
        issuer: None,
        subject: None,
        audience: None,
        session: Some(SessionId(session)),
        content: None,
        origins: None,
        issued_at: now - 600,
        not_before: None,
        expires_at: now - 300,
        token_id: None,
    };
    mint(&TokenKeys::derive(&f.key()), &claims, TokenFormat::Cwt).unwrap()
}

#[test]
fn missing_bad_expired_and_tampered_tokens_get_no_manifest() {
    let f = fixture();
    let server = Server::start(f, &f.dir.path().join("refusals.jsonl"), &["--content", "film"]);
    let good = f.token(7, &["--content", "film"]);
    let master = |t: &str| get(&format!("{}/hls/master.m3u8?token={t}", server.base), None);
    let mpd = |t: &str| get(&format!("{}/dash/manifest.mpd?token={t}", server.base), None);
    assert_eq!(master(&good).0, 200);

    let (status, body) = get(&format!("{}/hls/master.m3u8", server.base), None);
    assert_eq!(status, 401);
    assert!(!String::from_utf8_lossy(&body).contains("#EXTM3U"));
    assert_eq!(get(&format!("{}/dash/manifest.mpd", server.base), None).0, 401);

    // Tampered: one character changed anywhere in the token.
    for at in [0, good.len() / 3, good.len() / 2, good.len() - 2] {
        let mut bytes = good.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bytes).unwrap();
        let (status, body) = master(&bad);
        assert_eq!(status, 403, "tampered at {at}");
        assert!(!String::from_utf8_lossy(&body).contains(&bad), "refusal never echoes the token");
        assert_eq!(mpd(&bad).0, 403);
    }
    assert_eq!(master("not-a-token").0, 403);
    assert_eq!(master(&past_token(f, 7)).0, 403, "expired");
    // Another key's token, and a valid token for other content.
    let other_key = f.dir.path().join("other.key");
    assert!(abmark(&["keygen", "-o", s(&other_key)]).status.success());
    let r = abmark(&["token", "--key", s(&other_key), "--session", "7", "--content", "film"]);
    let foreign = String::from_utf8(r.stdout).unwrap().trim().to_owned();
    assert_eq!(master(&foreign).0, 403);
    assert_eq!(master(&f.token(7, &["--content", "other-film"])).0, 403);
    assert_eq!(master(&f.token(7, &[])).0, 403, "no content claim");
    // A content id that is none is refused as the argument is read (a usage error, 64).
    for args in [
        vec!["token", "--key", s(&other_key), "--session", "7", "--content", "two words"],
        vec!["serve", s(&f.out), "--key", s(&other_key), "--content", ""],
    ] {
        let r = abmark(&args);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(64), "{stderr}");
        assert!(stderr.contains("a content id is"), "{stderr}");
    }
    // Media playlists are guarded too.
    let rendition = &f.renditions()[0];
    assert_eq!(get(&format!("{}/hls/{rendition}.m3u8", server.base), None).0, 401);
}

#[test]
fn jwt_and_indirect_tokens_give_the_same_stream_and_two_servers_agree() {
    let f = fixture();
    let a = Server::start(f, &f.dir.path().join("a.jsonl"), &[]);
    let b = Server::start(f, &f.dir.path().join("b.jsonl"), &[]);
    let session = 123_456_789;
    let rendition = &f.renditions()[0];
    let playlist = |server: &Server, t: &str| {
        get_text(&format!("{}/hls/{rendition}.m3u8?token={t}", server.base))
    };
    let cwt = f.token(session, &[]);
    let reference = playlist(&a, &cwt);
    assert_eq!(playlist(&b, &cwt), reference, "stateless: another process answers the same");
    assert_eq!(
        get_text(&format!("{}/dash/manifest.mpd?token={cwt}", a.base)),
        get_text(&format!("{}/dash/manifest.mpd?token={cwt}", b.base))
    );
    let jwt = f.token(session, &["--format", "jwt"]);
    assert_eq!(jwt.split('.').count(), 3);
    assert_eq!(playlist(&b, &jwt), reference, "JWT form");
    let indirect = f.token(session, &["--mode", "indirect"]);
    assert_eq!(playlist(&a, &indirect), reference, "indirect mode derives the same pattern");
    let other = playlist(&a, &f.token(session ^ 1, &[]));
    assert_ne!(other, reference, "another session, another stream");
}

#[test]
fn edge_mode_rewrites_each_segment_to_the_variant_of_its_wmpaceinfo_position() {
    let f = fixture();
    let server = Server::start(f, &f.dir.path().join("edge.jsonl"), &[]);
    // Neutral manifests: no token, identical for everybody, no variant in any video URL.
    let master = get_text(&format!("{}/edge/hls/master.m3u8", server.base));
    let mpd = get_text(&format!("{}/edge/dash/manifest.mpd", server.base));
    assert!(mpd.contains("/edge/segments/$RepresentationID$/seg-$Number$.m4s"), "{mpd}");
    let sessions = three_sessions(f);
    let mut served_both = [false; 2];
    for &session in &sessions {
        let token = f.token(session, &[]);
        let code = SessionCoder::new(&f.key()).unwrap().encode(session).to_bytes();
        for playlist in playlist_uris(&master) {
            let text = get_text(&format!("{}{playlist}", server.base));
            for uri in playlist_uris(&text).into_iter().filter(|u| u.starts_with("/edge/")) {
                let url = format!("{}{uri}", server.base);
                assert_eq!(get(&url, None).0, 401, "edge segments need the token");
                let response = agent()
                    .get(&url)
                    .header("Authorization", &format!("Bearer {token}"))
                    .call()
                    .unwrap();
                assert_eq!(response.status().as_u16(), 200, "{uri}");
                assert!(response.headers().get("x-abmark-variant-path").is_none(), "{uri}");
                let (status, body) = get(&url, Some(&token));
                assert_eq!(status, 200, "{uri}");
                // The origin's WMPaceInfo, from the segment's own wmpi box and from the sidecar.
                let pace = find_wmpi(&body).unwrap().expect("wmpi box");
                let position = pace.position.expect("watermarked segment");
                let bit = pattern_bit(&code, 64, u64::from(position)).unwrap();
                assert_eq!(pace.variant, bit, "session {session}: {uri} at position {position}");
                let rest = uri.strip_prefix("/edge/segments/").unwrap();
                let stored = f.out.join(format!("{bit}/{rest}"));
                assert_eq!(body, std::fs::read(&stored).unwrap(), "{uri} is {}", stored.display());
                let (rendition, file) = rest.split_once('/').unwrap();
                let sidecar = f.out.join(format!("{bit}/{rendition}/WMPaceInfo/{file}"));
                let parsed = abmark_delivery::pace::parse_sidecar(&std::fs::read(sidecar).unwrap());
                match parsed.unwrap() {
                    abmark_delivery::pace::Sidecar::Discrete(e) => {
                        assert_eq!(e[0].position, Some(position))
                    }
                    other => panic!("unexpected sidecar {other:?}"),
                }
                served_both[bit as usize] = true;
            }
        }
    }
    assert_eq!(served_both, [true, true]);
    // Tampered token: nothing.
    let mut bad = f.token(sessions[0], &[]).into_bytes();
    let mid = bad.len() / 2;
    bad[mid] = if bad[mid] == b'x' { b'y' } else { b'x' };
    let bad = String::from_utf8(bad).unwrap();
    let rendition = &f.renditions()[0];
    let url = format!("{}/edge/segments/{rendition}/seg-1.m4s", server.base);
    assert_eq!(get(&url, Some(&bad)).0, 403);
}

/// Video packet hashes of a file (stream copy, so the coded pictures themselves).
fn packet_md5s(input: &str, extra: &[&str]) -> Vec<String> {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(extra)
        .args(["-i", input, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "ffmpeg {input}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

#[test]
fn ffmpeg_plays_the_personal_stream_which_is_what_mix_writes_and_carries_the_session() {
    let f = fixture();
    let server = Server::start(f, &f.dir.path().join("play.jsonl"), &[]);
    let session = three_sessions(f)[1];
    let token = f.token(session, &[]);
    let top = f.renditions().into_iter().find(|r| r == "720p").expect("720p rendition");

    // FFmpeg plays the personalised HLS stream end to end (multivariant playlist in).
    let played = f.dir.path().join("played.mkv");
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
        .arg(format!("{}/hls/master.m3u8?token={token}", server.base))
        .args(["-map", "0", "-c", "copy"])
        .arg(&played)
        .status()
        .unwrap();
    assert!(st.success());
    let frames = f.job["frames"].as_u64().unwrap() as usize;

    // `abmark mix` writes the same coded pictures the edge served.
    let mixed = f.dir.path().join("viewer.mp4");
    let n = session.to_string();
    let r =
        abmark(&["mix", s(&f.out), "--session", &n, "--key", s(&f.key), "-o", s(&mixed), "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(summary["rendition"], top);
    assert_eq!(summary["with_audio"], true);
    let expected: String = f.expected_bits(session).iter().map(|b| (b'0' + b) as char).collect();
    assert_eq!(summary["segment_variants"], expected);
    let mixed_md5 = packet_md5s(s(&mixed), &[]);
    assert_eq!(mixed_md5.len(), frames);
    let playlist = format!("{}/hls/{top}.m3u8?token={token}", server.base);
    assert_eq!(packet_md5s(&playlist, &[]), mixed_md5, "served stream == mix output");

    // Edge mode, played by FFmpeg with the token in a header, gives the same pictures.
    let neutral = format!("{}/edge/hls/{top}.m3u8", server.base);
    let header = format!("Authorization: Bearer {token}\r\n");
    assert_eq!(packet_md5s(&neutral, &["-headers", &header]), mixed_md5, "edge mode == mix");

    // And the watermark in the mixed file reads back as the session's bits.
    let r = abmark(&["symbols", s(&mixed), "--ref", s(&f.source), "--key", s(&f.key), "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let report: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let decided: String = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| match s["symbol"].as_u64() {
            Some(b) => (b'0' + b as u8) as char,
            None => '?',
        })
        .collect();
    assert_eq!(decided, expected, "symbols detected in the mixed stream");
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    let f = fixture();
    let missing = f.dir.path().join("no-such-out");
    let r = abmark(&["serve", s(&missing), "--key", s(&f.key), "--listen", "127.0.0.1:0"]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("job.json"), "{err}");

    let dest = f.dir.path().join("never.mp4");
    let r = abmark(&[
        "mix",
        s(&f.out),
        "--session",
        "1",
        "--key",
        s(&f.key),
        "-o",
        s(&dest),
        "--rendition",
        "4k",
    ]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("no rendition '4k'"));
    assert!(!dest.exists());

    let r = abmark(&["token", "--key", s(&missing), "--session", "1"]);
    assert!(!r.status.success());
    assert!(r.stdout.is_empty(), "no token on failure");
}

/// A connection must send a complete request head within `--header-timeout`, also between
/// keep-alive requests: idle sockets and byte-a-second headers are closed, and at most
/// `--max-connections` are open at once (the rest wait until one closes).
#[test]
fn idle_and_slow_connections_are_closed_and_their_number_capped() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let f = fixture();
    let log = f.dir.path().join("connections.jsonl");
    let server = Server::start(f, &log, &["--header-timeout", "1"]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Seconds until the server closes `stream` (reads until EOF; None past `limit`).
    let closed_after = |stream: &mut TcpStream, limit: Duration| -> Option<Duration> {
        let start = Instant::now();
        stream.set_read_timeout(Some(limit)).unwrap();
        let mut sink = Vec::new();
        match stream.read_to_end(&mut sink) {
            Ok(_) => Some(start.elapsed()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(start.elapsed()),
            Err(_) => None,
        }
    };
    // Says nothing.
    let mut idle = TcpStream::connect(&addr).unwrap();
    let t = closed_after(&mut idle, Duration::from_secs(10)).expect("idle socket closed");
    assert!(t < Duration::from_secs(4), "{t:?}");
    // Sends its head a byte every 200 ms: cut off, never answered.
    let mut slow = TcpStream::connect(&addr).unwrap();
    let start = Instant::now();
    let mut cut = false;
    for b in b"GET /edge/hls/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n" {
        if slow.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let mut answer = Vec::new();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = slow.read_to_end(&mut answer);
    assert!(cut || !String::from_utf8_lossy(&answer).contains("200 OK"), "slow head answered");
    // Keep-alive: one request answered, then the idle connection is closed too.
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET /edge/hls/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let t = closed_after(&mut kept, Duration::from_secs(10)).expect("keep-alive closed");
    assert!(t < Duration::from_secs(4), "{t:?}");
    drop(server);

    // The cap: 4 idle connections take every slot; a fifth request waits until one goes.
    let server = Server::start(f, &log, &["--header-timeout", "60", "--max-connections", "4"]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut fifth = TcpStream::connect(&addr).unwrap();
    fifth
        .write_all(b"GET /edge/hls/master.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    fifth.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
    let mut first = [0u8; 12];
    assert!(fifth.read_exact(&mut first).is_err(), "answered beyond the cap");
    held.pop();
    fifth.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    fifth.read_exact(&mut first).expect("answered once a slot is free");
    assert_eq!(&first, b"HTTP/1.1 200");
}

/// An edge started with --issuer and --audience serves only WM tokens that carry both.
#[test]
fn issuer_and_audience_are_checked_when_the_edge_names_them() {
    let f = fixture();
    let log = f.dir.path().join("audience.jsonl");
    let server = Server::start(f, &log, &["--issuer", "origin-1", "--audience", "edge-eu"]);
    let status = |extra: &[&str]| {
        let token = f.token(21, extra);
        get(&format!("{}/hls/master.m3u8?token={token}", server.base), None).0
    };
    assert_eq!(status(&["--issuer", "origin-1", "--audience", "edge-eu"]), 200);
    assert_eq!(status(&[]), 403, "neither claim");
    assert_eq!(status(&["--issuer", "origin-1"]), 403, "no audience");
    assert_eq!(status(&["--issuer", "origin-1", "--audience", "edge-us"]), 403);
    assert_eq!(status(&["--issuer", "origin-2", "--audience", "edge-eu"]), 403);
}

/// The session log names a token once per client address: a token shared with someone else
/// shows up again from their address (here 127.0.0.2), while a player polling its manifest
/// from one address is logged once.
#[test]
fn a_token_is_logged_once_per_client_address() {
    let f = fixture();
    let log = f.dir.path().join("per-address.jsonl");
    let server = Server::start(f, &log, &[]);
    let token = f.token(31, &["--subject", "shared"]);
    let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let fetch_from = |source: &str| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
            let mut stream = socket.connect(addr).await.unwrap();
            let request = format!(
                "GET /hls/master.m3u8?token={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        });
    };
    for source in ["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.1"] {
        fetch_from(source);
    }
    // The log is written off the request path: give it a moment before the kill.
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    let clients: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| r["client"].as_str().unwrap().split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(clients, ["127.0.0.1", "127.0.0.2"], "{text}");
}
