//! The crate graph as built must be the one `docs/architecture.md` draws, and the crates that
//! must stay free of FFmpeg, an HTTP server or an async runtime must not reach one through any
//! dependency. Both are read from cargo itself (`cargo metadata`, `cargo tree`), so a new `use`
//! of a crate the architecture forbids fails here, not in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo).args(args).current_dir(workspace()).output().expect("cargo runs");
    assert!(out.status.success(), "cargo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The `crate -> deps` lines between the crate-graph markers of docs/architecture.md.
fn documented() -> Graph {
    let doc = std::fs::read_to_string(workspace().join("docs/architecture.md")).unwrap();
    const BEGIN: &str = "<!-- crate-graph:begin -->";
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find("<!-- crate-graph:end -->").expect("end marker");
    doc[start..end]
        .lines()
        .filter_map(|line| line.split_once("->"))
        .map(|(name, deps)| {
            (name.trim().to_owned(), deps.split_whitespace().map(str::to_owned).collect())
        })
        .collect()
}

/// Normal (not dev, not build) dependencies of each workspace member on other members.
fn built() -> Graph {
    let json = cargo(&["metadata", "--format-version", "1", "--no-deps"]);
    let meta: serde_json::Value = serde_json::from_str(&json).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<String> =
        packages.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|name| members.contains(name))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

#[test]
fn the_documented_crate_graph_is_the_built_one() {
    let (doc, built) = (documented(), built());
    assert!(doc.len() >= 8, "docs/architecture.md lists {} crates", doc.len());
    assert_eq!(doc, built, "docs/architecture.md (left) and cargo metadata (right) disagree");
}

/// Every package (any version) in the normal-dependency tree of `krate`.
fn tree(krate: &str) -> BTreeSet<String> {
    cargo(&["tree", "--locked", "-e", "normal", "-p", krate, "--prefix", "none"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn pure_crates_reach_no_codec_server_or_runtime() {
    let codec = ["ffmpeg-sys-next", "ffmpeg-next"];
    let server = ["tokio", "axum", "hyper", "tower-http"];
    let rules: [(&str, &[&[&str]]); 7] = [
        ("abmark-bmff", &[&codec, &server]),
        ("abmark-wm", &[&codec, &server]),
        ("abmark-files", &[&codec, &server]),
        ("abmark-delivery", &[&codec, &server]),
        ("abmark-cenc", &[&codec, &server]),
        ("abmark-edge", &[&codec]),
        // The detection service runs the detector as a child process: no codec in it.
        ("abmark-investigate", &[&codec, &["abmark-detect", "abmark-media"]]),
    ];
    for (krate, forbidden) in rules {
        let deps = tree(krate);
        assert!(deps.contains(krate), "cargo tree of {krate} lists the crate itself");
        for name in forbidden.iter().flat_map(|list| list.iter()) {
            assert!(!deps.contains(*name), "{krate} depends on {name}");
        }
    }
    // The check can fail: the crates that do use FFmpeg and a runtime show them.
    assert!(tree("abmark-media").contains("ffmpeg-sys-next"));
    assert!(tree("abmark-edge").contains("tokio"));
}
