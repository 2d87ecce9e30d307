//! The packager against third-party implementations, installed by `scripts/tools.sh`: Shaka
//! Packager decrypts what we encrypt and we decrypt what it encrypts (both schemes, identical
//! samples); pymp4 reads our box tree and pywidevine our Widevine PSSH; headless Chromium with
//! shaka-player plays our DASH through EME ClearKey, and refuses a wrong key.

mod common;

use common::{abmark, concat, play, repo, s, small_variants, tool, track_dirs};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use abmark_bmff::cmaf::{read_fragments, Sample};
use abmark_cenc::segment_samples;

const KID: &str = "5e2b7a4c0d1f4a3b9c8d7e6f5a4b3c2d";
const KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn cached(cell: &'static OnceLock<PathBuf>, what: &str) -> &'static Path {
    cell.get_or_init(|| tool(what))
}

fn shaka() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    cached(&P, "shaka")
}

fn python() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    cached(&P, "python")
}

/// Our output of the shared fixture for `scheme`, packaged once per scheme.
fn packaged(scheme: &str) -> PathBuf {
    let f = small_variants();
    let out = f.dir.path().join(format!("interop-{scheme}"));
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !out.exists() {
        let key = format!("{KID}:{KEY}");
        let r = abmark(&["package", s(&f.out), "-o", s(&out), "--scheme", scheme, "--key", &key]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    out
}

fn samples_of_file(bytes: &[u8]) -> Vec<Sample> {
    read_fragments(bytes).unwrap().into_iter().flat_map(|f| f.samples).collect()
}

fn data(samples: &[Sample]) -> Vec<&[u8]> {
    samples.iter().map(|s| s.data.as_slice()).collect()
}

fn run_shaka(args: &[String]) {
    let out = Command::new(shaka()).args(args).output().unwrap();
    assert!(out.status.success(), "packager {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn shaka_packager_decrypts_ours_and_we_decrypt_shakas() {
    let f = small_variants();
    let work = tempfile::tempdir().unwrap();
    let keys = format!("label=:key_id={KID}:key={KEY}");
    for scheme in ["cenc", "cbcs"] {
        let ours = packaged(scheme);
        for (clear_track, enc_track) in track_dirs(&f.out).iter().zip(track_dirs(&ours)) {
            if !clear_track.ends_with("0/720p") && !clear_track.ends_with("audio") {
                continue;
            }
            let stream = if clear_track.ends_with("audio") { "audio" } else { "video" };
            let clear = samples_of_file(&concat(clear_track));
            // Ours -> Shaka's raw-key decryption.
            let enc_file = work.path().join(format!("ours-{scheme}-{stream}.mp4"));
            std::fs::write(&enc_file, concat(&enc_track)).unwrap();
            let shaka_clear = work.path().join(format!("shaka-clear-{scheme}-{stream}.mp4"));
            run_shaka(&[
                format!("in={},stream={stream},output={}", s(&enc_file), s(&shaka_clear)),
                "--enable_raw_key_decryption".into(),
                "--keys".into(),
                keys.clone(),
            ]);
            let back = samples_of_file(&std::fs::read(&shaka_clear).unwrap());
            assert_eq!(data(&back), data(&clear), "Shaka decrypting our {scheme} {stream}");
            // Shaka's encryption -> `abmark decrypt`.
            let clear_file = work.path().join(format!("clear-{stream}.mp4"));
            std::fs::write(&clear_file, concat(clear_track)).unwrap();
            let shaka_enc = work.path().join(format!("shaka-{scheme}-{stream}.mp4"));
            run_shaka(&[
                format!("in={},stream={stream},output={}", s(&clear_file), s(&shaka_enc)),
                "--enable_raw_key_encryption".into(),
                "--keys".into(),
                keys.clone(),
                "--protection_scheme".into(),
                scheme.into(),
                "--clear_lead".into(),
                "0".into(),
            ]);
            let shaka_bytes = std::fs::read(&shaka_enc).unwrap();
            assert_ne!(
                data(&samples_of_file(&shaka_bytes)),
                data(&clear),
                "Shaka encrypted nothing"
            );
            let ours_clear = work.path().join(format!("ours-clear-{scheme}-{stream}.mp4"));
            let r = abmark(&[
                "decrypt",
                s(&shaka_enc),
                "-o",
                s(&ours_clear),
                "--key",
                &format!("{KID}:{KEY}"),
            ]);
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            let ours_back = segment_samples(&std::fs::read(&ours_clear).unwrap()).unwrap();
            assert_eq!(
                data(&ours_back),
                data(&clear),
                "abmark decrypting Shaka's {scheme} {stream}"
            );
        }
    }
}

fn json_of(out: std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every box of a tree (depth first), as pymp4 / mp4_tree.py reports it.
fn boxes(tree: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&serde_json::Value> = tree["boxes"].as_array().unwrap().iter().collect();
    while let Some(b) = stack.pop() {
        if let Some(children) = b["children"].as_array() {
            stack.extend(children);
        }
        out.push(b);
    }
    out
}

#[test]
fn pymp4_and_pywidevine_read_what_we_write() {
    for scheme in ["cenc", "cbcs"] {
        let track = packaged(scheme).join("0/720p");
        let out = Command::new(python())
            .arg(repo().join("tests/tools/mp4_tree.py"))
            .arg(track.join("init.mp4"))
            .arg(track.join("seg-2.m4s"))
            .output()
            .unwrap();
        let tree = json_of(out);
        let files = tree["files"].as_array().unwrap();
        let init = boxes(&files[0]);
        let find = |list: &[&serde_json::Value], t: &str| -> Vec<serde_json::Value> {
            list.iter().filter(|b| b["type"] == t).map(|b| (*b).clone()).collect()
        };
        let tenc = &find(&init, "tenc")[0];
        assert_eq!(tenc["pymp4"], "ok", "{tenc}");
        assert_eq!(tenc["default_kid"].as_str().unwrap().replace('-', ""), KID);
        assert_eq!(find(&init, "schm")[0]["scheme_type"], scheme);
        assert_eq!(find(&init, "frma")[0]["original_format"], "avc1");
        if scheme == "cenc" {
            assert_eq!(tenc["default_per_sample_iv_size"], 8);
        } else {
            assert_eq!(tenc["default_per_sample_iv_size"], 0);
            assert_eq!(tenc["default_crypt_byte_block"], 1);
            assert_eq!(tenc["default_skip_byte_block"], 9);
        }
        let pssh = find(&init, "pssh");
        let systems: Vec<&str> = pssh.iter().map(|p| p["system"].as_str().unwrap()).collect();
        for wanted in ["widevine", "playready", "common"] {
            assert!(systems.contains(&wanted), "{systems:?}");
        }
        let segment = boxes(&files[1]);
        let traf = &find(&segment, "traf")[0];
        assert_eq!(traf["saio_points_to_senc_samples"], true, "{traf}");
        let senc = &find(&segment, "senc")[0];
        let trun = &find(&segment, "trun")[0];
        assert_eq!(senc["sample_count"], trun["sample_count"]);
        assert_eq!(find(&segment, "saiz")[0]["sample_count"], trun["sample_count"]);
        // pywidevine on our Widevine PSSH.
        let widevine = pssh.iter().find(|p| p["system"] == "widevine").unwrap();
        let out = Command::new(python())
            .arg(repo().join("tests/tools/wv_pssh.py"))
            .arg(widevine["box_b64"].as_str().unwrap())
            .output()
            .unwrap();
        let wv = json_of(out);
        assert_eq!(wv["system"], "widevine");
        assert_eq!(wv["key_ids"], serde_json::json!([KID]));
        assert_eq!(wv["protection_scheme"], scheme);
        assert_eq!(wv["widevine_roundtrip_exact"], true);
    }
}

fn play_dir(dir: &Path, manifest: &str, kid_key: &str) -> serde_json::Value {
    play(&["--dir", s(dir), "--manifest", manifest, "--clearkey", kid_key, "--seconds", "5"])
}

#[test]
fn chromium_plays_our_dash_through_clearkey() {
    for scheme in ["cenc", "cbcs"] {
        let out = packaged(scheme);
        let v = play_dir(&out, "0.mpd", &format!("{KID}:{KEY}"));
        assert_eq!(v["ok"], true, "{scheme}: {v}");
        assert!(v["currentTime"].as_f64().unwrap() >= 5.0, "{v}");
        assert!(v["error"].is_null(), "{v}");
        // Any MP4 packaged directly plays too.
        let f = small_variants();
        let file_out = f.dir.path().join(format!("interop-file-{scheme}"));
        let key = format!("{KID}:{KEY}");
        let source = f.dir.path().join("source.mp4");
        let r =
            abmark(&["package", s(&source), "-o", s(&file_out), "--scheme", scheme, "--key", &key]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let v = play_dir(&file_out, "manifest.mpd", &key);
        assert_eq!(v["ok"], true, "{scheme} file: {v}");
        let wrong = play_dir(&out, "1.mpd", &format!("{KID}:{}", "0".repeat(32)));
        assert_eq!(wrong["ok"], false, "{scheme}: a wrong key played: {wrong}");
        assert_eq!(wrong["error"]["code"], 3016, "{wrong}");
    }
}
