//! `abmark package` and `abmark decrypt` on a real variants output: both schemes decrypt with
//! FFmpeg to the clear frames and with `abmark decrypt` to the clear bytes, A/B segments stay
//! interchangeable, no (key, IV) pair repeats, manifests signal every DRM system, keys rotate,
//! and bad input fails cleanly.

mod common;

use common::{abmark, concat, s, segment_files, track_dirs, Fixture};

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use abmark_bmff::boxes::{find_all, read_boxes};
use abmark_cenc::{clear_init, parse_seig, parse_senc, segment_samples};
use abmark_delivery::pace::find_wmpi;

const KID: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "00112233445566778899aabbccddeeff";

fn fixture() -> &'static Fixture {
    common::small_variants()
}

fn package(name: &str, extra: &[&str]) -> PathBuf {
    let f = fixture();
    let out = f.dir.path().join(name);
    let mut args = vec!["package", s(&f.out), "-o", s(&out), "--json"];
    args.extend_from_slice(extra);
    let r = abmark(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    out
}

/// FFmpeg's framemd5 of an fMP4 stream fed through a pipe (FFmpeg 5.1 misreads multi-fragment
/// encrypted files when seeking), optionally decrypting with `key`.
fn framemd5(bytes: &[u8], key: Option<&str>) -> String {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"]);
    if let Some(key) = key {
        cmd.args(["-decryption_key", key]);
    }
    cmd.args(["-i", "pipe:0", "-f", "framemd5", "-"]);
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // Keep the per-frame lines (stream, dts, pts, duration, size, hash).
    text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
}

#[test]
fn both_schemes_decrypt_to_the_clear_frames_and_bytes() {
    let f = fixture();
    for scheme in ["cenc", "cbcs"] {
        let key_arg = format!("{KID}:{KEY}");
        // With the in-band wmpi box kept, the round trip is byte for byte.
        let packaged = package(
            &format!("pk-{scheme}"),
            &["--scheme", scheme, "--key", &key_arg, "--keep-wmpi"],
        );
        let clear_tracks = track_dirs(&f.out);
        for (clear, enc) in clear_tracks.iter().zip(track_dirs(&packaged)) {
            // Encrypted for real: no media segment is left as it was.
            for (a, b) in segment_files(clear).iter().zip(segment_files(&enc)) {
                assert_ne!(
                    std::fs::read(a).unwrap(),
                    std::fs::read(&b).unwrap(),
                    "{}",
                    b.display()
                );
            }
            // FFmpeg (an independent CENC implementation) gets the clear frames back.
            let want = framemd5(&concat(clear), None);
            assert!(want.lines().count() > 100 || clear.ends_with("audio"), "{want}");
            assert_eq!(framemd5(&concat(&enc), Some(KEY)), want, "{scheme} {}", enc.display());
        }
        // abmark decrypt restores every byte of every segment and header.
        let back = f.dir.path().join(format!("back-{scheme}"));
        let r = abmark(&["decrypt", s(&packaged), "-o", s(&back), "--key", &key_arg]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        for (clear, round) in clear_tracks.iter().zip(track_dirs(&back)) {
            assert_eq!(
                std::fs::read(clear.join("init.mp4")).unwrap(),
                std::fs::read(round.join("init.mp4")).unwrap()
            );
            for (a, b) in segment_files(clear).iter().zip(segment_files(&round)) {
                assert_eq!(
                    std::fs::read(a).unwrap(),
                    std::fs::read(&b).unwrap(),
                    "{}",
                    b.display()
                );
            }
        }
    }
}

#[test]
fn variants_stay_interchangeable_and_keep_their_pace_sidecars() {
    let packaged = package("pk-ab", &["--scheme", "cbcs", "--key", &format!("{KID}:{KEY}")]);
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(packaged.join("job.json")).unwrap()).unwrap();
    for r in job["renditions"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let (a, b) = (packaged.join("0").join(id), packaged.join("1").join(id));
        // One header serves both variants: same KID, same constant IV, same bytes.
        assert_eq!(
            std::fs::read(a.join("init.mp4")).unwrap(),
            std::fs::read(b.join("init.mp4")).unwrap()
        );
        for (i, seg) in segment_files(&a).iter().enumerate() {
            let bytes = std::fs::read(seg).unwrap();
            // Browsers refuse the unknown top-level box: delivery copies drop it by default...
            assert!(find_wmpi(&bytes).unwrap().is_none(), "{}", seg.display());
            // ...and the edge reads the sidecars, copied as they were.
            let sidecar =
                Path::new("0").join(id).join("WMPaceInfo").join(format!("seg-{}.m4s", i + 1));
            assert_eq!(
                std::fs::read(packaged.join(&sidecar)).unwrap(),
                std::fs::read(common::small_variants().out.join(&sidecar)).unwrap()
            );
        }
    }
}

/// Every (KID, IV) pair of a cenc output, over both variants, every rendition and the audio.
#[test]
fn no_key_and_iv_pair_encrypts_two_plaintexts() {
    let packaged = package("pk-ivs", &["--scheme", "cenc", "--key", &format!("{KID}:{KEY}")]);
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut samples = 0;
    for track in track_dirs(&packaged) {
        let (_, enc) = clear_init(&std::fs::read(track.join("init.mp4")).unwrap()).unwrap();
        let enc = enc.unwrap();
        assert_eq!(enc.iv_size, 8);
        for seg in segment_files(&track) {
            let bytes = std::fs::read(&seg).unwrap();
            let top = read_boxes(&bytes).unwrap();
            let traf = find_all(&top, "moof/traf").unwrap()[0].children().unwrap();
            // saio points exactly at the first senc record.
            let saio = traf.iter().find(|b| &b.kind().0 == b"saio").unwrap();
            let senc = traf.iter().find(|b| &b.kind().0 == b"senc").unwrap();
            let moof = top.iter().find(|b| &b.kind().0 == b"moof").unwrap();
            let body = saio.full_box().unwrap().body;
            let offset = u32::from_be_bytes(body[4..8].try_into().unwrap()) as u64;
            assert_eq!(moof.offset() + offset, senc.offset() + 16, "{}", seg.display());
            for info in parse_senc(&traf, enc.iv_size).unwrap().unwrap() {
                let mut pair = enc.kid.as_bytes().to_vec();
                pair.extend(&info.iv);
                assert!(seen.insert(pair), "IV reused in {}", seg.display());
                samples += 1;
            }
        }
    }
    assert!(samples > 1000, "{samples}");
}

#[test]
fn manifests_signal_every_drm_system() {
    let packaged = package(
        "pk-manifest",
        &[
            "--scheme",
            "cbcs",
            "--key",
            &format!("{KID}:{KEY}"),
            "--la-url",
            "https://licence.example/clearkey",
        ],
    );
    let mpd = std::fs::read_to_string(packaged.join("0.mpd")).unwrap();
    assert!(mpd.contains(r#"schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs" cenc:default_KID="01234567-89ab-cdef-0123-456789abcdef""#), "{mpd}");
    for system in [
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
        "9a04f079-9840-4286-ab92-e65be0885f95",
        "e2719d58-a985-b3c9-781a-b030af78d30e",
    ] {
        assert!(mpd.contains(&format!("urn:uuid:{system}")), "{system}");
    }
    assert!(mpd.contains("<mspr:pro>") && mpd.contains("<cenc:pssh>"), "{mpd}");
    assert!(mpd.contains("<dashif:Laurl>https://licence.example/clearkey</dashif:Laurl>"), "{mpd}");
    // dash.js fails on the W3C ClearKey element (docs/players.md): ClearKey is DASH-IF's only.
    assert!(!mpd.contains("1077efec"), "{mpd}");
    let hls = std::fs::read_to_string(packaged.join("0-720p.m3u8")).unwrap();
    let key_line = hls
        .lines()
        .position(|l| l.starts_with("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://"))
        .expect("FairPlay key");
    let map_line = hls.lines().position(|l| l.starts_with("#EXT-X-MAP")).unwrap();
    assert!(key_line < map_line);
    assert!(hls.contains("KEYFORMAT=\"com.apple.streamingkeydelivery\""));
    assert!(hls.contains("KEYFORMAT=\"com.microsoft.playready\""));
    let kid_b64 = common::base64(&hex::decode(KID).unwrap(), false);
    let clearkey = format!(
        "URI=\"data:text/plain;base64,{kid_b64}\",KEYID=0x{KID},KEYFORMAT=\"org.w3.clearkey\""
    );
    assert!(hls.contains(&clearkey), "{hls}");
    let master = std::fs::read_to_string(packaged.join("0.m3u8")).unwrap();
    assert!(master.contains("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES"), "{master}");
    // Keys never land in the output.
    for entry in walk(&packaged) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!contains(&bytes, &hex::decode(KEY).unwrap()), "{}", entry.display());
        assert!(!contains(&bytes, KEY.as_bytes()), "{}", entry.display());
    }
}

#[test]
fn generated_rotating_keys_go_to_a_private_cpix_and_decrypt_back() {
    let f = fixture();
    let cpix = f.dir.path().join("keys.cpix.xml");
    let packaged = package(
        "pk-rotate",
        &["--scheme", "cenc", "--generate-keys", "--rotate-every", "2", "--cpix-out", s(&cpix)],
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&cpix).unwrap().permissions().mode() & 0o777, 0o600);
    let video = packaged.join("0/720p");
    let mut kids = Vec::new();
    for seg in segment_files(&video) {
        let bytes = std::fs::read(&seg).unwrap();
        let top = read_boxes(&bytes).unwrap();
        let traf = find_all(&top, "moof/traf").unwrap()[0].children().unwrap();
        kids.push(parse_seig(&traf).unwrap().expect("seig group").kid);
    }
    assert_eq!(kids.len(), 6);
    assert_eq!(kids[0], kids[1]);
    assert_ne!(kids[1], kids[2]);
    assert_ne!(kids[2], kids[4]);
    let hls = std::fs::read_to_string(packaged.join("0-720p.m3u8")).unwrap();
    assert_eq!(hls.matches("#EXT-X-KEY:METHOD=SAMPLE-AES-CTR").count() % 3, 0);
    assert!(hls.matches("#EXT-X-KEY:").count() >= 3 * 2, "{hls}");
    // The CPIX written is a key service's document too: its ContentKeyPeriodList and usage
    // rules drive the same rotation when packaging again from it.
    let again =
        package("pk-rotate-cpix", &["--scheme", "cbcs", "--cpix", s(&cpix), "--rotate-every", "2"]);
    for (seg, kid) in segment_files(&again.join("0/720p")).iter().zip(&kids) {
        let bytes = std::fs::read(seg).unwrap();
        let top = read_boxes(&bytes).unwrap();
        let traf = find_all(&top, "moof/traf").unwrap()[0].children().unwrap();
        assert_eq!(&parse_seig(&traf).unwrap().unwrap().kid, kid, "{}", seg.display());
    }
    let back = f.dir.path().join("back-rotate");
    let r = abmark(&["decrypt", s(&packaged), "-o", s(&back), "--cpix", s(&cpix)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for (a, b) in
        segment_files(&f.out.join("0/720p")).iter().zip(segment_files(&back.join("0/720p")))
    {
        assert_eq!(
            segment_samples(&std::fs::read(a).unwrap()).unwrap(),
            segment_samples(&std::fs::read(b).unwrap()).unwrap()
        );
    }
}

#[test]
fn bad_input_fails_in_one_line_and_leaves_nothing() {
    let f = fixture();
    let out = f.dir.path().join("pk-bad");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--key".into(), format!("{KID}:0011")], "key"),
        (vec!["--key".into(), format!("{KID}:{KEY}"), "--drm".into(), "nagra".into()], "nagra"),
        (vec!["--key".into(), format!("{KID}:{KEY}"), "--scheme".into(), "cens".into()], "cens"),
        (vec!["--generate-keys".into()], "--cpix-out"),
        (
            vec!["--generate-keys".into(), "--cpix-out".into(), s(&out.join("k.xml")).into()],
            "inside OUT",
        ),
        // The same through `..` from the input, which a lexical comparison misses.
        (
            vec![
                "--generate-keys".into(),
                "--cpix-out".into(),
                s(&f.out.join("..").join("pk-bad").join("0").join("keys.xml")).into(),
            ],
            "inside OUT",
        ),
        // Or inside the input (the unencrypted variants a CDN may serve too).
        (
            vec!["--generate-keys".into(), "--cpix-out".into(), s(&f.out.join("k.xml")).into()],
            "inside the input",
        ),
        (
            vec![
                "--key".into(),
                format!("{KID}:{KEY}"),
                "--scheme".into(),
                "cenc".into(),
                "--drm".into(),
                "fairplay".into(),
            ],
            "cbcs",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["package".to_string(), s(&f.out).into(), "-o".into(), s(&out).into()];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = abmark(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!err.contains(KEY) && !err.contains("0011"), "{err}");
        assert!(!out.exists(), "{args:?} left {}", out.display());
    }
    // A corrupt CPIX document and a truncated segment.
    let bad_cpix = f.dir.path().join("bad.xml");
    std::fs::write(
        &bad_cpix,
        "<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\"><cpix:ContentKeyList>",
    )
    .unwrap();
    let r = abmark(&["package", s(&f.out), "-o", s(&out), "--cpix", s(&bad_cpix)]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("bad.xml"));
    let broken = f.dir.path().join("broken");
    copy_tree(&f.out, &broken);
    let seg = broken.join("0/720p/seg-3.m4s");
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &bytes[..bytes.len() / 2]).unwrap();
    let r = abmark(&["package", s(&broken), "-o", s(&out), "--key", &format!("{KID}:{KEY}")]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("seg-3.m4s"), "{err}");
    assert!(!out.exists());
    // A key for another KID is refused by naming the KID it lacks.
    let packaged = package("pk-wrongkey", &["--key", &format!("{KID}:{KEY}")]);
    let r = abmark(&[
        "decrypt",
        s(&packaged),
        "-o",
        s(&f.dir.path().join("wk")),
        "--key",
        &format!("{}:{KEY}", "f".repeat(32)),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("no key for KID 0123456789abcdef0123456789abcdef"), "{err}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Decoded-picture hashes of the video of an fMP4 byte stream.
fn picture_hashes(input: &[u8]) -> Vec<String> {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i", "pipe:0", "-map", "0:v"])
        .args(["-f", "framemd5", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().unwrap().trim().to_owned())
        .collect()
}

#[test]
fn a_plain_mp4_file_is_packaged_too() {
    let f = fixture();
    let source = f.dir.path().join("source.mp4");
    let out = f.dir.path().join("pk-file");
    let key_arg = format!("{KID}:{KEY}");
    let r = abmark(&["package", s(&source), "-o", s(&out), "--scheme", "cenc", "--key", &key_arg]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for name in [
        "manifest.mpd",
        "master.m3u8",
        "video.m3u8",
        "audio.m3u8",
        "video/init.mp4",
        "audio/seg-1.m4s",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert!(mpd.contains("cenc:default_KID=\"01234567-89ab-cdef-0123-456789abcdef\""), "{mpd}");
    // FFmpeg decrypts the video track to the source's pictures, every one of them.
    let decrypted = framemd5(&concat(&out.join("video")), Some(KEY));
    let from_file: Vec<&str> =
        decrypted.lines().map(|l| l.rsplit(',').next().unwrap().trim()).collect();
    // (A plain MP4 keeps its index at the end: FFmpeg reads it from the file, not a pipe.)
    let want: Vec<String> = {
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i", s(&source)])
            .args(["-map", "0:v", "-f", "framemd5", "-"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit(',').next().unwrap().trim().to_owned())
            .collect()
    };
    assert_eq!(want.len(), 300, "12 s at 25 fps");
    // framemd5 above stream-copies nothing: it decodes, so these are picture hashes too.
    assert_eq!(from_file, want);
    // abmark decrypt takes a track directory as well.
    let back = f.dir.path().join("pk-file-back");
    let r = abmark(&["decrypt", s(&out.join("video")), "-o", s(&back), "--key", &key_arg]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(picture_hashes(&concat(&back)), want);
    // A file FFmpeg cannot take as H.264/AAC is refused in one line, naming it.
    let hevc = f.dir.path().join("hevc.mp4");
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", s(&source), "-t", "1"])
        .args(["-c:v", "libx265", "-x265-params", "log-level=error", "-an", s(&hevc)])
        .status()
        .unwrap();
    assert!(st.success());
    let bad_out = f.dir.path().join("pk-hevc");
    let r = abmark(&["package", s(&hevc), "-o", s(&bad_out), "--key", &key_arg]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("hevc.mp4") && err.trim().lines().count() == 1, "{err}");
    assert!(!bad_out.exists());
}

#[test]
fn a_key_services_pssh_passes_through() {
    use abmark_cenc::cpix::{write_cpix, ContentKey as CpixKey, CpixDocument, DrmSystem};
    use abmark_cenc::pssh::{pssh_box, widevine_pssh_data, WIDEVINE};
    let f = fixture();
    let kid = abmark_cenc::Kid::parse(KID).unwrap();
    let key: [u8; 16] = hex::decode(KEY).unwrap().try_into().unwrap();
    // What a Widevine key service would send: its own init data (here, a content id we would
    // never write ourselves).
    let data = widevine_pssh_data(&[kid], Some(b"from-the-key-service"), *b"cenc");
    let supplied = pssh_box(&WIDEVINE, &[], &data);
    let doc = CpixDocument {
        content_id: Some("film-1".into()),
        keys: vec![CpixKey { kid, key, explicit_iv: None, scheme: Some("cenc".into()) }],
        drm_systems: vec![DrmSystem {
            kid,
            system_id: WIDEVINE,
            pssh: Some(supplied.clone()),
            content_protection_data: None,
            hls_signaling: Vec::new(),
            uri_ext_x_key: None,
        }],
        periods: Vec::new(),
        usage_rules: Vec::new(),
    };
    let cpix = f.dir.path().join("key-service.cpix.xml");
    std::fs::write(&cpix, write_cpix(&doc)).unwrap();
    let out = package("pk-passthrough", &["--scheme", "cenc", "--cpix", s(&cpix)]);
    let init = std::fs::read(out.join("0/720p/init.mp4")).unwrap();
    assert!(contains(&init, &supplied), "the supplied Widevine PSSH is in the header");
    let mpd = std::fs::read_to_string(out.join("0.mpd")).unwrap();
    assert!(
        mpd.contains(&format!("<cenc:pssh>{}</cenc:pssh>", common::base64(&supplied, false))),
        "{mpd}"
    );
    // Systems the key service said nothing about are still signalled by us.
    assert!(mpd.contains("urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95"));
    // And the keys it sent decrypt the output.
    let v = framemd5(&concat(&out.join("0/720p")), Some(KEY));
    assert_eq!(v, framemd5(&concat(&f.out.join("0/720p")), None));
}

/// `decrypt` of a packaged directory someone else made: job.json names only the layout's own
/// paths, and a file that is a symlink (to anything the user can read) is not copied into the
/// output. Nothing is written outside `-o`, and nothing at `-o` on failure.
#[test]
fn decrypting_a_hostile_directory_writes_nowhere_else() {
    let f = fixture();
    let packaged = package("pk-hostile-src", &["--key", &format!("{KID}:{KEY}")]);
    let key = format!("{KID}:{KEY}");
    let decrypt =
        |input: &Path, out: &Path| abmark(&["decrypt", s(input), "-o", s(out), "--key", &key]);
    // job.json pointing a track outside the output.
    let escaping = f.dir.path().join("pk-hostile-path");
    copy_tree(&packaged, &escaping);
    let job_path = escaping.join("job.json");
    let mut job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&job_path).unwrap()).unwrap();
    let victim = f.dir.path().join("escaped");
    job["outputs"][0]["path"] =
        format!("../../{}", victim.file_name().unwrap().to_str().unwrap()).into();
    std::fs::write(&job_path, serde_json::to_vec(&job).unwrap()).unwrap();
    let out = f.dir.path().join("pk-hostile-out");
    let r = decrypt(&escaping, &out);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("not part of the layout"), "{err}");
    assert!(!out.exists() && !victim.exists());
    // A sidecar that is a symlink to a private file.
    let linking = f.dir.path().join("pk-hostile-link");
    copy_tree(&packaged, &linking);
    let secret = f.dir.path().join("secret.txt");
    std::fs::write(&secret, "not for the output").unwrap();
    let sidecars = std::fs::read_dir(linking.join("0/720p/WMPaceInfo")).unwrap();
    let sidecar = sidecars.map(|e| e.unwrap().path()).next().expect("a WMPaceInfo sidecar");
    std::fs::remove_file(&sidecar).unwrap();
    std::os::unix::fs::symlink(&secret, &sidecar).unwrap();
    let r = decrypt(&linking, &out);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("not a regular file"), "{err}");
    assert!(!out.exists());
    // The untouched copy still decrypts.
    assert!(decrypt(&packaged, &out).status.success());
}
