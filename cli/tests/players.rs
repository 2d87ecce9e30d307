//! The player matrix, in headless Chromium: dash.js, hls.js and shaka-player (pinned releases,
//! `scripts/tools.sh browser`) play a viewer's personalised, encrypted stream from a real
//! `abmark serve` through its ClearKey licence service (`POST /license` with a licence token),
//! for DASH and HLS where the player reads the format, `cenc` and `cbcs`, from a page on the
//! edge's own origin and from a page on another origin that `--allow-origin` lists. Each cell
//! plays at least 10 s of media, and every video segment the browser received is the one
//! `abmark mix` says the session gets. Also the ETSI edge mode and a key-rotated output.
//!
//! One cell per test, so a failure names its cell; Chromium runs one at a time (common::play).
//! shaka-player's HLS is not a cell: it has no ClearKey key format for HLS (docs/players.md).

mod common;

use std::net::TcpListener;
use std::sync::OnceLock;

use common::edge::{fetched_video_segments, Edge, Title};
use common::play;

#[derive(Clone, Copy, PartialEq)]
enum Player {
    Shaka,
    DashJs,
    HlsJs,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Dash,
    Hls,
}

#[derive(Clone, Copy, PartialEq)]
enum Page {
    /// The page is on the edge's origin.
    Same,
    /// The page is on another origin, which the edge's `--allow-origin` lists.
    Cross,
}

/// The port the cross-origin page is served on: chosen before the edge starts, so the edge can
/// list that exact origin.
fn page_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
}

/// One packaged title and its edge per scheme, shared by the cells.
struct Served {
    title: Title,
    edge: Edge,
}

fn served(scheme: &'static str) -> &'static Served {
    static CENC: OnceLock<Served> = OnceLock::new();
    static CBCS: OnceLock<Served> = OnceLock::new();
    let cell = if scheme == "cenc" { &CENC } else { &CBCS };
    cell.get_or_init(|| {
        let title = Title::package(&format!("players-{scheme}"), scheme, None);
        let allowed = format!("http://127.0.0.1:{},https://*.customer.example", page_port());
        let edge = Edge::start(&title, &["--allow-origin", &allowed]);
        Served { title, edge }
    })
}

/// Plays one cell and checks it: >= 10 s of media, a licence issued, and the segments.
fn cell(player: Player, format: Format, scheme: &'static str, page: Page) {
    let served = served(scheme);
    // A session per cell, so each cell's segments are its own.
    let session = 1000
        + [Player::Shaka, Player::DashJs, Player::HlsJs].iter().position(|p| *p == player).unwrap()
            as u32
            * 100
        + u32::from(format == Format::Hls) * 10
        + u32::from(scheme == "cbcs") * 2
        + u32::from(page == Page::Cross);
    let wm = served.title.wm_token(session, &[]);
    let licence = served.title.licence_token("viewer", session, &[]);
    let base = &served.edge.base;
    let url = match format {
        Format::Dash => format!("{base}/dash/manifest.mpd?token={wm}"),
        Format::Hls => format!("{base}/hls/master.m3u8?token={wm}"),
    };
    let verdict = play_cell(player, page, &url, &format!("{base}/license"), &licence, &[]);
    check(&served.title, &verdict, session);
    let issued = served.edge.log("licences.jsonl");
    assert!(
        issued.iter().any(|r| r["decision"] == "issued" && r["session"] == session),
        "no licence issued to session {session}: {issued:?}"
    );
}

fn play_cell(
    player: Player,
    page: Page,
    url: &str,
    licence_url: &str,
    licence: &str,
    extra: &[&str],
) -> serde_json::Value {
    let player = match player {
        Player::Shaka => "shaka",
        Player::DashJs => "dashjs",
        Player::HlsJs => "hlsjs",
    };
    let port = page_port().to_string();
    let mut args = vec!["--player", player, "--url", url, "--license", licence_url];
    args.extend(["--token", licence, "--seconds", "10", "--playback-rate", "4", "--record"]);
    match page {
        Page::Same => args.extend(["--page-origin", "same"]),
        Page::Cross => args.extend(["--page-origin", "cross", "--page-port", &port]),
    }
    args.extend_from_slice(extra);
    play(&args)
}

/// >= 10 s played, and every video segment received is the variant `mix` names for it.
fn check(title: &Title, verdict: &serde_json::Value, session: u32) {
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert!(verdict["currentTime"].as_f64().unwrap() >= 10.0, "{verdict}");
    let licences = verdict["licenceRequests"].as_array().cloned().unwrap_or_default();
    assert!(licences.iter().any(|r| r["status"] == 200), "no licence: {verdict}");
    let expected = title.mix_variants(session);
    let fetched = fetched_video_segments(title, verdict);
    // 10 s of media in 2-s segments: at least five distinct segments.
    let numbers: std::collections::BTreeSet<usize> = fetched.iter().map(|f| f.2).collect();
    assert!(numbers.len() >= 5, "only segments {numbers:?} received");
    for (variant, rendition, number) in &fetched {
        assert_eq!(
            *variant,
            expected[number - 1],
            "segment {number} of {rendition} came from variant {variant}, mix says {}",
            expected[number - 1]
        );
    }
}

#[test]
fn shaka_dash_cenc_same_origin() {
    cell(Player::Shaka, Format::Dash, "cenc", Page::Same);
}

#[test]
fn shaka_dash_cenc_cross_origin() {
    cell(Player::Shaka, Format::Dash, "cenc", Page::Cross);
}

#[test]
fn shaka_dash_cbcs_same_origin() {
    cell(Player::Shaka, Format::Dash, "cbcs", Page::Same);
}

#[test]
fn shaka_dash_cbcs_cross_origin() {
    cell(Player::Shaka, Format::Dash, "cbcs", Page::Cross);
}

#[test]
fn dashjs_dash_cenc_same_origin() {
    cell(Player::DashJs, Format::Dash, "cenc", Page::Same);
}

#[test]
fn dashjs_dash_cenc_cross_origin() {
    cell(Player::DashJs, Format::Dash, "cenc", Page::Cross);
}

#[test]
fn dashjs_dash_cbcs_same_origin() {
    cell(Player::DashJs, Format::Dash, "cbcs", Page::Same);
}

#[test]
fn dashjs_dash_cbcs_cross_origin() {
    cell(Player::DashJs, Format::Dash, "cbcs", Page::Cross);
}

#[test]
fn hlsjs_hls_cenc_same_origin() {
    cell(Player::HlsJs, Format::Hls, "cenc", Page::Same);
}

#[test]
fn hlsjs_hls_cenc_cross_origin() {
    cell(Player::HlsJs, Format::Hls, "cenc", Page::Cross);
}

#[test]
fn hlsjs_hls_cbcs_same_origin() {
    cell(Player::HlsJs, Format::Hls, "cbcs", Page::Same);
}

#[test]
fn hlsjs_hls_cbcs_cross_origin() {
    cell(Player::HlsJs, Format::Hls, "cbcs", Page::Cross);
}

/// A page on a site the edge does not list gets no manifest (CORS and the origin check).
#[test]
fn a_page_on_another_site_does_not_play() {
    let served = served("cenc");
    let wm = served.title.wm_token(1999, &[]);
    let licence = served.title.licence_token("viewer", 1999, &[]);
    let url = format!("{}/dash/manifest.mpd?token={wm}", served.edge.base);
    let port = free_port().to_string();
    let licence_url = format!("{}/license", served.edge.base);
    let mut args = vec!["--player", "shaka", "--url", &url, "--license", &licence_url];
    args.extend(["--token", &licence, "--seconds", "4", "--page-origin", "cross"]);
    args.extend(["--page-port", &port]);
    let verdict = play(&args);
    assert_eq!(verdict["ok"], false, "{verdict}");
}

/// The ETSI edge mode: neutral manifests, and the token on every segment request (shaka).
#[test]
fn shaka_plays_the_etsi_edge_mode() {
    let served = served("cenc");
    let session = 1900;
    let wm = served.title.wm_token(session, &[]);
    let licence = served.title.licence_token("viewer", session, &[]);
    let url = format!("{}/edge/dash/manifest.mpd", served.edge.base);
    let licence_url = format!("{}/license", served.edge.base);
    let verdict =
        play_cell(Player::Shaka, Page::Same, &url, &licence_url, &licence, &["--media-token", &wm]);
    check(&served.title, &verdict, session);
}

/// A key-rotated output (a new key every 2 segments) plays through the licence service.
#[test]
fn shaka_plays_a_key_rotated_output() {
    let title = Title::package("players-rotated", "cenc", Some(2));
    let edge = Edge::start(&title, &[]);
    let session = 1901;
    let wm = title.wm_token(session, &[]);
    let licence = title.licence_token("viewer", session, &[]);
    let url = format!("{}/dash/manifest.mpd?token={wm}", edge.base);
    let verdict = play_cell(
        Player::Shaka,
        Page::Same,
        &url,
        &format!("{}/license", edge.base),
        &licence,
        &[],
    );
    check(&title, &verdict, session);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
