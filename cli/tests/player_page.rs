//! The edge's player page (`/watch/{content}`), embedded as a customer would embed it: a page
//! on the customer's site frames it with the viewer's tokens in the URL fragment, and headless
//! Chromium plays the personalised, encrypted stream through the licence service, over HTTPS
//! (a test certificate the browser is told to trust). Sites the
//! edge does not list cannot frame it (CSP `frame-ancestors`) nor open it; a token minted for
//! other sites, an expired token, a denied subject and a player refused by the live rules
//! (too fast) each get their message, never a blank player.

mod common;

use std::net::TcpListener;
use std::sync::OnceLock;

use common::edge::{shaka_build, Edge, TestCert, Title, CONTENT};
use common::{play, s};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The customer's site: the port its embedding page is served on (by play.mjs).
fn site_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(free_port)
}

struct Served {
    title: Title,
    edge: Edge,
    cert: TestCert,
}

/// One cenc title behind an edge that lists the customer's site only, denies `mallory`, and
/// gives no clock leeway (so a token a few seconds old has expired).
fn served() -> &'static Served {
    static S: OnceLock<Served> = OnceLock::new();
    S.get_or_init(|| {
        let title = Title::package("page", "cenc", None);
        let site = format!("http://127.0.0.1:{}", site_port());
        let player = shaka_build();
        let cert = TestCert::new(title.out.parent().unwrap());
        let edge = Edge::start(
            &title,
            &[
                "--tls-cert",
                s(&cert.cert),
                "--tls-key",
                s(&cert.key),
                "--allow-origin",
                &site,
                "--player-js",
                s(&player),
                "--leeway",
                "0",
                "--deny",
                "mallory",
            ],
        );
        Served { title, edge, cert }
    })
}

/// The page URL with the viewer's tokens in the fragment.
fn watch_url(served: &Served, wm: &str, licence: &str) -> String {
    format!("{}/watch/{CONTENT}#wm={wm}&lic={licence}", served.edge.base)
}

/// Embeds `url` in an iframe of a page on the site at `port` and plays (or reads the message).
fn embed(url: &str, port: u16, seconds: &str) -> serde_json::Value {
    let port = port.to_string();
    let spki = &served().cert.spki;
    play(&["--embed", url, "--page-port", &port, "--seconds", seconds, "--trust-cert-spki", spki])
}

/// `curl` of the page with a `Referer`: (status, headers in lower case, body).
fn fetch_page(url: &str, referer: &str) -> (u16, String, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-D", "-", "--cacert", s(&served().cert.cert), "-H"])
        .arg(format!("Referer: {referer}"))
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn an_allowed_site_embeds_the_player_and_it_plays() {
    let served = served();
    let session = 3001;
    let wm = served.title.wm_token(session, &[]);
    let licence = served.title.licence_token("alice", session, &[]);
    let verdict = embed(&watch_url(served, &wm, &licence), site_port(), "10");
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert!(verdict["currentTime"].as_f64().unwrap() >= 10.0, "{verdict}");
    let licences = served.edge.log("licences.jsonl");
    assert!(
        licences.iter().any(|r| r["decision"] == "issued" && r["session"] == session),
        "{licences:?}"
    );
    let sessions = served.edge.log("sessions.jsonl");
    assert!(sessions.iter().any(|r| r["session"] == session), "{sessions:?}");
    // The tokens never reached a URL the edge saw: neither log holds them.
    for name in ["licences.jsonl", "sessions.jsonl"] {
        let text = std::fs::read_to_string(served.edge.dir.path().join(name)).unwrap();
        assert!(!text.contains(&wm[..30]) && !text.contains(&licence[..30]), "{name}");
    }
}

#[test]
fn a_site_not_on_the_list_cannot_frame_the_player() {
    let served = served();
    let wm = served.title.wm_token(3002, &[]);
    let licence = served.title.licence_token("alice", 3002, &[]);
    let verdict = embed(&watch_url(served, &wm, &licence), free_port(), "4");
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert_eq!(verdict["frameBlocked"], true, "{verdict}");
    let licences = served.edge.log("licences.jsonl");
    assert!(!licences.iter().any(|r| r["session"] == 3002), "{licences:?}");
}

#[test]
fn a_token_for_other_sites_shows_domain_not_allowed() {
    let served = served();
    let sites = ["--origin", "https://other-customer.example"];
    let wm = served.title.wm_token(3003, &sites);
    let licence = served.title.licence_token("alice", 3003, &sites);
    let verdict = embed(&watch_url(served, &wm, &licence), site_port(), "4");
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert_eq!(verdict["error"]["code"], "domain-not-allowed", "{verdict}");
    assert!(verdict["error"]["message"].as_str().unwrap().contains("domain not allowed"));
}

#[test]
fn the_page_opened_from_a_site_not_on_the_list_says_so() {
    let served = served();
    let url = format!("{}/watch/{CONTENT}", served.edge.base);
    let referer = format!("http://127.0.0.1:{}/", free_port());
    let (status, head, body) = fetch_page(&url, &referer);
    assert_eq!(status, 403);
    let ancestors = format!("frame-ancestors 'self' http://127.0.0.1:{}", site_port());
    assert!(head.contains(&ancestors), "{head}");
    assert!(body.contains("data-abmark-error=\"domain-not-allowed\"") && !body.contains("<script"));
    let (status, head, body) = fetch_page(&url, &format!("http://127.0.0.1:{}/x", site_port()));
    assert_eq!(status, 200);
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    assert!(body.contains("/watch/assets/watch.js"));
}

#[test]
fn an_expired_token_and_a_denied_subject_get_their_messages() {
    let served = served();
    let wm = served.title.wm_token(3004, &["--ttl", "1"]);
    let licence = served.title.licence_token("alice", 3004, &[]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let verdict = embed(&watch_url(served, &wm, &licence), site_port(), "4");
    assert_eq!(verdict["error"]["code"], "token-expired", "{verdict}");
    assert!(verdict["error"]["message"].as_str().unwrap().contains("expired"), "{verdict}");

    let wm = served.title.wm_token(3005, &[]);
    let licence = served.title.licence_token("mallory", 3005, &[]);
    let verdict = embed(&watch_url(served, &wm, &licence), site_port(), "4");
    assert_eq!(verdict["error"]["code"], "subject-denied", "{verdict}");
    assert!(verdict["error"]["message"].as_str().unwrap().contains("blocked"), "{verdict}");
}

/// A viewer whose player fetches faster than the edge's live rules allow (here: 4 s of credit
/// at real-time speed, less than shaka's 10-s buffer) gets the too-fast message, not a stall.
#[test]
fn a_player_fetching_faster_than_the_live_rules_allow_gets_too_fast() {
    let served = served();
    let site = format!("http://127.0.0.1:{}", site_port());
    let strict = Edge::start(
        &served.title,
        &[
            "--tls-cert",
            s(&served.cert.cert),
            "--tls-key",
            s(&served.cert.key),
            "--allow-origin",
            &site,
            "--player-js",
            s(&shaka_build()),
            "--live-rules",
            "--live-ahead",
            "4",
            "--live-speed",
            "1",
        ],
    );
    let wm = served.title.wm_token(3006, &[]);
    let licence = served.title.licence_token("alice", 3006, &[]);
    let url = format!("{}/watch/{CONTENT}#wm={wm}&lic={licence}", strict.base);
    let verdict = embed(&url, site_port(), "8");
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert_eq!(verdict["error"]["code"], "too-fast", "{verdict}");
    assert!(verdict["error"]["message"].as_str().unwrap().contains("faster"), "{verdict}");
    assert!(strict.stderr().contains("live rule too-fast: session"), "{}", strict.stderr());
}
