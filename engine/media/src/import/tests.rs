//! Tests of the import against FFmpeg's own reading of the same inputs (decoded pictures, AAC
//! packets, durations, cut points, A/V sync), of the rejections, and of the framing and
//! stream-description helpers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ffmpeg_next::Rational;

use super::framing::{frame, Framing};
use super::streams::{pick_frame_rate, pixel_aspect};
use super::*;
use abmark_bmff::cmaf::{self, Track};

fn dataset() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cache/abmark-720p-short.mp4");
    assert!(path.exists(), "{} is missing: fetch the datasets before the tests", path.display());
    path
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes a test input from the dataset: `ffmpeg -i DATASET <args> OUT`.
fn make_input(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let source = dataset();
    let mut all = vec!["-i", source.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push(out.to_str().unwrap());
    ffmpeg(&all);
    out
}

/// (size, md5) of every line of `ffmpeg -i <input> <args> -f framemd5 -`; `stdin` is fed to
/// `pipe:0` when given.
fn framemd5(input: &str, args: &[&str], stdin: Option<Vec<u8>>) -> Vec<(u64, String)> {
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-i", input])
        .args(args)
        .args(["-f", "framemd5", "-"])
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    let feeder = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(f) = feeder {
        f.join().unwrap();
    }
    assert!(out.status.success(), "framemd5 of {input}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            // stream, dts, pts, duration, size, hash[, S=n, side data size, hash...]: the
            // side data (AAC skip samples, from an edit list) is not part of the packet.
            let fields: Vec<&str> = l.split(',').map(str::trim).collect();
            (fields[4].parse().unwrap(), fields[5].to_owned())
        })
        .collect()
}

/// The decode span of one stream of `input` in its time base: from the first packet's
/// decode time to the end of the last packet (each packet lasts until the next one).
fn stream_duration(input: &Path, selector: &str) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", selector])
        .args(["-show_entries", "packet=dts,duration", "-of", "csv=p=0"])
        .arg(input)
        .output()
        .unwrap();
    let packets: Vec<(i64, Option<i64>)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().ok())
        })
        .collect();
    let (first, (last, last_duration)) = (packets[0].0, packets[packets.len() - 1]);
    (last + last_duration.expect("the last packet has a duration") - first) as u64
}

/// Earliest presentation time of one stream of `input`, in seconds.
fn first_pts(input: &Path, selector: &str) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", selector])
        .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(input)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim_end_matches(',').parse::<f64>().ok())
        .fold(f64::INFINITY, f64::min)
}

fn read_track(t: &ImportedTrack) -> (Vec<u8>, Vec<cmaf::Fragment>) {
    let mut all = std::fs::read(t.dir.join("init.mp4")).unwrap();
    let init = cmaf::read_init(&all).unwrap();
    assert_eq!(init.track, t.track);
    let mut fragments = Vec::new();
    for n in 1..=t.segment_durations.len() {
        let bytes = std::fs::read(t.dir.join(format!("seg-{n}.m4s"))).unwrap();
        assert_eq!(bytes.len() as u64, t.segment_bytes[n - 1]);
        let mut f = cmaf::read_fragments(&bytes).unwrap();
        assert_eq!(f.len(), 1, "one fragment per segment");
        fragments.push(f.remove(0));
        all.extend_from_slice(&bytes);
    }
    assert!(!t.dir.join(format!("seg-{}.m4s", t.segment_durations.len() + 1)).exists());
    (all, fragments)
}

/// Imports `input` and checks it against FFmpeg's view of the same file.
fn check_import(input: &Path, segment_seconds: f64, has_audio: bool) -> Imported {
    let out = tempfile::tempdir().unwrap();
    let imported = import_file(input, out.path(), segment_seconds).unwrap();
    let input_str = input.to_str().unwrap();
    assert_eq!(imported.frame_rate, Some((25, 1)));

    // Video.
    let video = imported.video.as_ref().expect("a video track");
    assert_eq!(video.kind, TrackKind::Video);
    assert_eq!(video.dir, out.path().join("video"));
    assert_eq!(video.timescale, 12800);
    assert!(video.codecs.starts_with("avc1.64"), "{}", video.codecs);
    let Track::Video(v) = &video.track else { panic!("not a video track") };
    assert_eq!((v.width, v.height, v.pixel_aspect), (1280, 720, None));
    let (bytes, fragments) = read_track(video);
    // (a) every segment starts with a sync sample; decode times are contiguous.
    let mut next = 0;
    for (n, f) in fragments.iter().enumerate() {
        assert!(f.samples[0].is_sync, "video seg-{} starts with a non-sync sample", n + 1);
        assert_eq!(f.base_media_decode_time, next);
        let d: u64 = f.samples.iter().map(|s| u64::from(s.duration)).sum();
        assert_eq!(d, video.segment_durations[n]);
        next += d;
    }
    // (b) same decoded pictures as the input.
    let expected = framemd5(input_str, &["-map", "0:v"], None);
    let got = framemd5("pipe:0", &[], Some(bytes));
    assert_eq!(got.len(), expected.len(), "video frame count");
    assert!(got == expected, "decoded video differs from the input's");
    // (c) durations add up to the input's.
    let total = stream_duration(input, "v");
    assert_eq!(video.segment_durations.iter().sum::<u64>(), total, "video duration");
    // (d) cuts at the first keyframe at or after each multiple of segment_seconds.
    let scale = f64::from(video.timescale);
    let pres = |f: &cmaf::Fragment, s: usize| {
        let decode = f.base_media_decode_time
            + f.samples[..s].iter().map(|s| u64::from(s.duration)).sum::<u64>();
        (decode as f64 + f64::from(f.samples[s].composition_offset)) / scale
    };
    let mut keyframes = Vec::new();
    for (n, f) in fragments.iter().enumerate() {
        for s in (0..f.samples.len()).filter(|&s| f.samples[s].is_sync) {
            keyframes.push((pres(f, s), n, s));
        }
    }
    let mut expected_starts = vec![keyframes[0].0];
    let mut grid = segment_seconds;
    for &(t, _, _) in &keyframes[1..] {
        if t >= grid - 1e-9 {
            expected_starts.push(t);
            grid = ((t / segment_seconds) + 1e-9).floor() * segment_seconds + segment_seconds;
        }
    }
    let starts: Vec<f64> = fragments.iter().map(|f| pres(f, 0)).collect();
    assert_eq!(starts, expected_starts, "video segment starts");
    for (n, d) in video.segment_durations.iter().enumerate() {
        println!("video seg-{}: starts {:.3} s, {:.3} s", n + 1, starts[n], *d as f64 / scale);
    }

    // Audio.
    assert_eq!(imported.audio.is_some(), has_audio);
    if let Some(audio) = &imported.audio {
        assert_eq!(audio.dir, out.path().join("audio"));
        assert_eq!(audio.codecs, "mp4a.40.2");
        assert_eq!(audio.timescale, 48000);
        let Track::Audio(a) = &audio.track else { panic!("not an audio track") };
        assert_eq!((a.sample_rate, a.channels), (48000, 2));
        assert!(a.avg_bitrate > 100_000 && a.max_bitrate >= a.avg_bitrate, "{a:?}");
        let (bytes, fragments) = read_track(audio);
        let mut next = 0;
        for (n, f) in fragments.iter().enumerate() {
            assert!(f.samples[0].is_sync);
            assert_eq!(f.base_media_decode_time, next);
            let d: u64 = f.samples.iter().map(|s| u64::from(s.duration)).sum();
            assert_eq!(d, audio.segment_durations[n]);
            next += d;
        }
        // (b) the same AAC frames, in order.
        let expected = framemd5(input_str, &["-map", "0:a", "-c", "copy"], None);
        let got = framemd5("pipe:0", &["-c", "copy"], Some(bytes));
        assert!(got == expected, "audio packets differ ({} vs {})", got.len(), expected.len());
        // (c)
        let total = stream_duration(input, "a");
        assert_eq!(audio.segment_durations.iter().sum::<u64>(), total, "audio duration");
        // (d) cut where the video is, to the nearest frame (half a frame = 512 ticks).
        assert_eq!(fragments.len(), starts.len(), "as many audio as video segments");
        for (f, video_start) in fragments.iter().zip(&starts).skip(1) {
            let start = f.base_media_decode_time as f64 / 48000.0;
            assert!((start - video_start).abs() <= 512.5 / 48000.0, "{start} vs {video_start}");
        }
        // A/V sync as in the input: the same gap between the first picture and audio frame.
        let (v0, a0) = (first_pts(input, "v"), first_pts(input, "a"));
        let origin = v0.min(a0);
        let first_audio = fragments[0].base_media_decode_time as f64 / 48000.0;
        assert!((first_audio - (a0 - origin)).abs() < 1e-6, "{first_audio} vs {a0}");
        assert!((starts[0] - (v0 - origin)).abs() < 1.0 / 12800.0, "{} vs {v0}", starts[0]);
        println!("input starts: video {v0} s, audio {a0} s; output video at {} s", starts[0]);
    }
    imported
}

#[test]
fn imports_regular_mp4() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path(), "regular.mp4", &["-t", "9", "-c", "copy"]);
    let imported = check_import(&input, 2.0, true);
    assert!(imported.video.unwrap().segment_durations.len() >= 3);
}

#[test]
fn imports_fragmented_mp4() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(
        tmp.path(),
        "fragmented.mp4",
        &["-t", "9", "-c", "copy", "-movflags", "+frag_keyframe+empty_moov+default_base_moof"],
    );
    check_import(&input, 4.0, true);
}

#[test]
fn imports_video_only() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path(), "video.mp4", &["-t", "9", "-an", "-c", "copy"]);
    check_import(&input, 3.0, false);
}

#[test]
fn imports_audio_only() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_input(tmp.path(), "audio.mp4", &["-t", "9", "-vn", "-c", "copy"]);
    let out = tempfile::tempdir().unwrap();
    let imported = import_file(&input, out.path(), 2.0).unwrap();
    assert!(imported.video.is_none() && imported.frame_rate.is_none());
    let audio = imported.audio.unwrap();
    let (bytes, fragments) = read_track(&audio);
    let expected = framemd5(input.to_str().unwrap(), &["-map", "0:a", "-c", "copy"], None);
    assert!(framemd5("pipe:0", &["-c", "copy"], Some(bytes)) == expected);
    assert_eq!(audio.segment_durations.iter().sum::<u64>(), stream_duration(&input, "a"));
    // Cut every 2 s on the grid, to the nearest frame.
    assert_eq!(fragments.len(), 5);
    for (k, f) in fragments.iter().enumerate() {
        let start = f.base_media_decode_time as f64;
        assert!((start - k as f64 * 96000.0).abs() <= 512.0, "seg-{}: {start}", k + 1);
    }
}

fn assert_rejected(input: &Path, needle: &str) {
    let out = tempfile::tempdir().unwrap();
    let err = import_file(input, out.path(), 2.0).expect_err("must be rejected").to_string();
    println!("{err}");
    assert!(err.contains(input.to_str().unwrap()), "names the file: {err}");
    assert!(err.contains(needle), "says '{needle}': {err}");
    assert!(!err.contains('\n'), "one line: {err}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn rejects_hevc_mp3_missing_and_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let hevc = make_input(
        tmp.path(),
        "hevc.mp4",
        &[
            "-t",
            "2",
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
            "-c:a",
            "copy",
        ],
    );
    assert_rejected(&hevc, "video codec hevc is not supported");
    let mp3 = make_input(tmp.path(), "mp3.mp4", &["-t", "2", "-c:v", "copy", "-c:a", "libmp3lame"]);
    assert_rejected(&mp3, "audio codec mp3 is not supported");
    assert_rejected(&tmp.path().join("absent.mp4"), "cannot open");

    let whole =
        |name: &str, args: &[&str]| std::fs::read(make_input(tmp.path(), name, args)).unwrap();
    let cut = |name: &str, bytes: &[u8], keep: usize| {
        let path = tmp.path().join(name);
        std::fs::write(&path, &bytes[..keep]).unwrap();
        path
    };
    // moov at the end (FFmpeg's default): no header.
    let plain = whole("plain.mp4", &["-t", "4", "-c", "copy"]);
    assert_rejected(&cut("plain-cut.mp4", &plain, plain.len() / 2), "cannot open");
    // moov first: the sample tables list data that is not there.
    let faststart = whole("faststart.mp4", &["-t", "4", "-c", "copy", "-movflags", "+faststart"]);
    assert_rejected(&cut("faststart-cut.mp4", &faststart, faststart.len() / 2), "truncated");
    // Fragmented, cut inside a fragment.
    let frag = whole(
        "frag.mp4",
        &["-t", "4", "-c", "copy", "-movflags", "+frag_keyframe+empty_moov+default_base_moof"],
    );
    assert_rejected(&cut("frag-cut.mp4", &frag, frag.len() * 2 / 3), "truncated");
    // Not media at all.
    let junk = tmp.path().join("junk.mp4");
    std::fs::write(&junk, b"not a movie").unwrap();
    assert_rejected(&junk, "cannot open");
}

#[test]
fn framing_becomes_four_byte_lengths() {
    // Two NAL units with 2-byte lengths.
    let two = [0, 2, 0x65, 0x88, 0, 1, 0x06];
    assert_eq!(frame(Framing::Avcc(2), &two).unwrap(), [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06]);
    let one = [2, 0x65, 0x88];
    assert_eq!(frame(Framing::Avcc(1), &one).unwrap(), [0, 0, 0, 2, 0x65, 0x88]);
    // Four-byte samples are copied as they are.
    let four = [0, 0, 0, 2, 0x41, 0x9a];
    assert_eq!(frame(Framing::Avcc(4), &four).unwrap(), four);
    // Annex B, whether declared or found under an avcC.
    let annexb = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88];
    assert_eq!(frame(Framing::AnnexB, &annexb).unwrap(), [0, 0, 0, 2, 0x65, 0x88]);
    assert_eq!(frame(Framing::Avcc(4), &annexb).unwrap(), [0, 0, 0, 2, 0x65, 0x88]);
    // Lengths past the end: damaged.
    assert!(frame(Framing::Avcc(4), &[0, 0, 0, 9, 0x65]).is_err());
    assert!(frame(Framing::Avcc(2), &[0, 2, 0x65]).is_err());
}

#[test]
fn pixel_aspect_and_frame_rate() {
    assert_eq!(pixel_aspect((1, 1)), None);
    assert_eq!(pixel_aspect((0, 1)), None);
    assert_eq!(pixel_aspect((64, 45)), Some((64, 45)));
    assert_eq!(pixel_aspect((32, 24)), Some((4, 3)));
    let r = |n, d| Rational::new(n, d);
    assert_eq!(pick_frame_rate(r(30000, 1001), r(2997, 100)), Some((30000, 1001)));
    assert_eq!(pick_frame_rate(r(90, 1), r(25, 1)), Some((25, 1)));
    assert_eq!(pick_frame_rate(r(0, 0), r(0, 0)), None);
}

#[test]
fn rejects_bad_segment_duration() {
    let out = tempfile::tempdir().unwrap();
    assert!(import_file(&dataset(), out.path(), 0.0).is_err());
    assert!(import_file(&dataset(), out.path(), f64::NAN).is_err());
}
