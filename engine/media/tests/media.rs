//! Integration tests of `abmark_media` on real files made with the ffmpeg CLI.
//!
//! Every test makes its own small clips in a temp dir (a few seconds of 320x240 `testsrc2`), so
//! the suite needs only the `ffmpeg`/`ffprobe` binaries. The real 720p clip from
//! `datasets/cache` is used when present and skipped with a note otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use abmark_media::{probe, transcode, EncodeSettings, MediaError, TranscodeStats, VideoDecoder};
use abmark_wm::frame::Luma;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Splits a command line on whitespace; temp paths have none (checked).
fn words(args: &str) -> Vec<&str> {
    args.split_whitespace().collect()
}

fn arg(path: &Path) -> &str {
    let s = path.to_str().expect("temp paths are UTF-8");
    assert!(!s.contains(char::is_whitespace), "{s:?} would be split");
    s
}

/// Runs `ffmpeg ARGS OUTPUT`.
fn ffmpeg(args: &str, output: &Path) {
    let status = Command::new("ffmpeg")
        .args(words("-hide_banner -loglevel error -y"))
        .args(words(args))
        .arg(output)
        .status()
        .expect("the ffmpeg CLI runs");
    assert!(status.success(), "ffmpeg {args} {} failed", output.display());
}

/// Runs `ffprobe -v error ARGS PATH` and returns its output.
fn ffprobe(path: &Path, args: &str) -> String {
    let out = Command::new("ffprobe")
        .args(words("-v error"))
        .args(words(args))
        .arg(path)
        .output()
        .expect("the ffprobe CLI runs");
    assert!(out.status.success(), "ffprobe {args} {} failed", path.display());
    String::from_utf8(out.stdout).expect("ffprobe prints UTF-8")
}

/// The first line of `ffprobe -of csv=p=0 -show_entries ENTRIES` (TS files add a program line).
fn probe_value(path: &Path, entries: &str) -> String {
    let text = ffprobe(path, &format!("-of csv=p=0 -show_entries {entries}"));
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned()
}

/// A `seconds`-long 25 fps 320x240 testsrc2 clip encoded with `video`, plus a sine in `audio`
/// (an encoder name; empty: no audio).
fn clip(dir: &Path, name: &str, seconds: u32, video: &str, audio: &str) -> PathBuf {
    let path = dir.join(name);
    let sine =
        if audio.is_empty() { String::new() } else { format!("-f lavfi -i sine -c:a {audio}") };
    let source = "-f lavfi -i testsrc2=size=320x240:rate=25";
    ffmpeg(&format!("{source} {sine} -t {seconds} {video}"), &path);
    path
}

fn h264_clip(dir: &Path, name: &str, seconds: u32, audio: &str) -> PathBuf {
    clip(dir, name, seconds, "-c:v libx264 -pix_fmt yuv420p", audio)
}

/// Copies `source`'s streams into a new container at `dest` (format from its extension).
fn remux(source: &Path, dest: &Path, extra: &str) {
    ffmpeg(&format!("-i {} -c copy {extra}", arg(source)), dest);
}

fn mean(luma: Luma<'_>) -> f64 {
    let sum: u64 =
        (0..luma.height).map(|y| luma.row(y).iter().map(|&v| u64::from(v)).sum::<u64>()).sum();
    sum as f64 / (luma.width * luma.height) as f64
}

struct Decoded {
    pts: Vec<f64>,
    means: Vec<f64>,
    size: (usize, usize),
}

/// Decodes every frame, checking the running index and the luma layout on the way.
fn decode_all(path: &Path) -> Decoded {
    let mut decoder = VideoDecoder::open(path).expect("decoder opens");
    let mut out = Decoded { pts: vec![], means: vec![], size: (0, 0) };
    while let Some(frame) = decoder.next_frame().expect("frame decodes") {
        assert_eq!(frame.index, out.pts.len() as u64);
        let luma = frame.luma();
        assert_eq!((luma.width, luma.height), (frame.width(), frame.height()));
        assert!(luma.stride >= luma.width);
        assert!(luma.data.len() >= (luma.height - 1) * luma.stride + luma.width);
        out.size = (frame.width(), frame.height());
        out.pts.push(frame.pts_seconds);
        out.means.push(mean(luma));
    }
    out
}

fn average(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn identity(
    _: u64,
    _: f64,
    _: abmark_wm::frame::LumaMut<'_>,
) -> Result<(), abmark_media::FrameError> {
    Ok(())
}

fn run_identity(
    source: &Path,
    out: &Path,
    settings: &EncodeSettings,
) -> Result<TranscodeStats, MediaError> {
    transcode(source, out, settings, &mut |_| {}, identity)
}

fn fast(keyint: Option<u32>) -> EncodeSettings {
    EncodeSettings { preset: "veryfast".into(), keyint, ..Default::default() }
}

/// Indices (in presentation order) of the frames ffprobe reports as keyframes, and the count.
fn keyframes(path: &Path) -> (Vec<usize>, usize) {
    let text = ffprobe(path, "-select_streams v:0 -show_entries frame=key_frame -of flat");
    let flags: Vec<bool> = text
        .lines()
        .filter_map(|l| l.split_once(".key_frame="))
        .map(|(_, v)| v.trim() == "1")
        .collect();
    let keys = (0..flags.len()).filter(|&i| flags[i]).collect();
    (keys, flags.len())
}

/// `codec_name,codec_type` of every stream.
fn streams(path: &Path) -> Vec<String> {
    let text = ffprobe(path, "-show_entries stream=codec_type,codec_name -of csv=p=0");
    text.lines().map(str::to_owned).collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_one_line(e: &MediaError, path: &Path) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text:?}");
    assert!(text.contains(&path.display().to_string()), "{text:?} names {}", path.display());
}

// ---------------------------------------------------------------------------------------------
// Probe and decode

#[test]
fn decoders_and_frames_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<VideoDecoder>();
    send::<abmark_media::DecodedFrame>();
    send::<MediaError>();
}

#[test]
fn probe_reports_stream_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let with_audio = h264_clip(dir.path(), "a.mp4", 3, "aac");
    let info = probe(&with_audio).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    assert_eq!(info.frame_rate, (25, 1));
    assert!((info.fps - 25.0).abs() < 1e-9);
    assert_eq!(info.frame_count, Some(75));
    let duration = info.duration_seconds.unwrap();
    assert!((duration - 3.0).abs() < 0.05, "{duration}");
    assert_eq!(info.codec, "h264");
    assert!(info.has_audio);

    let silent = h264_clip(dir.path(), "v.mp4", 1, "");
    let info = probe(&silent).unwrap();
    assert!(!info.has_audio);
    assert_eq!(info.frame_count, Some(25));
}

#[test]
fn decode_gives_every_frame_with_pts() {
    let dir = tempfile::tempdir().unwrap();
    let path = h264_clip(dir.path(), "a.mp4", 3, "aac");
    let decoded = decode_all(&path);
    assert_eq!(decoded.pts.len(), 75);
    assert_eq!(decoded.size, (320, 240));
    for (i, &pts) in decoded.pts.iter().enumerate() {
        assert!((pts - i as f64 * 0.04).abs() < 1e-6, "frame {i} at {pts}");
    }
    let mut decoder = VideoDecoder::open(&path).unwrap();
    assert_eq!(decoder.info().frame_count, Some(75));
    while decoder.next_frame().unwrap().is_some() {}
    assert!(decoder.next_frame().unwrap().is_none(), "stays at the end");
}

#[test]
fn pts_are_relative_to_the_first_frame() {
    // MPEG-TS starts its clock at ~1.4 s.
    let dir = tempfile::tempdir().unwrap();
    let mp4 = h264_clip(dir.path(), "a.mp4", 2, "aac");
    let ts = dir.path().join("a.ts");
    remux(&mp4, &ts, "");
    let start: f64 = probe_value(&ts, "stream=start_time -select_streams v:0").parse().unwrap();
    assert!(start > 1.0, "the TS starts late ({start})");
    let decoded = decode_all(&ts);
    assert_eq!(decoded.pts.len(), 50);
    assert_eq!(decoded.pts[0], 0.0);
    assert!((decoded.pts[1] - 0.04).abs() < 1e-6);
    assert!((decoded.pts[49] - 1.96).abs() < 1e-6);
}

#[test]
fn writing_luma_does_not_disturb_later_decoding() {
    // Decoded pictures are reference frames of later ones; luma_mut must not write into them.
    let dir = tempfile::tempdir().unwrap();
    let path = h264_clip(dir.path(), "a.mp4", 2, "");
    let plain = decode_all(&path);
    let mut decoder = VideoDecoder::open(&path).unwrap();
    let mut means = vec![];
    while let Some(mut frame) = decoder.next_frame().unwrap() {
        means.push(mean(frame.luma()));
        frame.luma_mut().data.fill(0);
        assert_eq!(mean(frame.luma()), 0.0);
    }
    assert_eq!(means, plain.means);
}

#[test]
fn ten_bit_422_decodes_to_8_bit_420() {
    let dir = tempfile::tempdir().unwrap();
    let reference = clip(dir.path(), "8.mp4", 2, "-c:v libx264 -crf 10 -pix_fmt yuv420p", "");
    let deep = clip(dir.path(), "10.mp4", 2, "-c:v libx264 -crf 10 -pix_fmt yuv422p10le", "");
    assert_eq!(probe_value(&deep, "stream=pix_fmt"), "yuv422p10le");
    let a = decode_all(&reference);
    let b = decode_all(&deep);
    assert_eq!(b.size, (320, 240));
    assert_eq!(b.pts.len(), 50);
    for (i, (x, y)) in a.means.iter().zip(&b.means).enumerate() {
        assert!((x - y).abs() < 1.0, "frame {i}: 8-bit mean {x}, from 10-bit {y}");
    }
    let out = dir.path().join("out.mp4");
    let stats = run_identity(&deep, &out, &fast(None)).unwrap();
    assert_eq!(stats.frames, 50);
    assert_eq!(probe_value(&out, "stream=pix_fmt"), "yuv420p");
}

#[test]
fn odd_sizes_decode_at_their_size_and_encode_one_smaller() {
    let dir = tempfile::tempdir().unwrap();
    // 4:4:4 H.264 goes through swscale; FFV1 4:2:0 is passed through as decoded.
    let scale = "-vf scale=321:241";
    let h264 =
        clip(dir.path(), "odd.mp4", 1, &format!("{scale} -c:v libx264 -pix_fmt yuv444p"), "");
    let ffv1 = clip(dir.path(), "odd.mkv", 1, &format!("{scale} -c:v ffv1 -pix_fmt yuv420p"), "");
    for source in [h264, ffv1] {
        let info = probe(&source).unwrap();
        assert_eq!((info.width, info.height), (321, 241));
        let decoded = decode_all(&source);
        assert_eq!(decoded.size, (321, 241));
        assert_eq!(decoded.pts.len(), 25);
        let out = source.with_extension("out.mp4");
        let stats = run_identity(&source, &out, &fast(None)).unwrap();
        assert_eq!((stats.width, stats.height, stats.frames), (320, 240, 25));
        assert_eq!(probe_value(&out, "stream=width,height"), "320,240");
    }
}

// ---------------------------------------------------------------------------------------------
// Transcode

#[test]
fn identity_transcode_keeps_frames_audio_and_fixed_keyframes() {
    let dir = tempfile::tempdir().unwrap();
    let source = h264_clip(dir.path(), "a.mp4", 3, "aac");
    let out = dir.path().join("out.mp4");
    let mut progress = vec![];
    let mut seen = vec![];
    let stats =
        transcode(&source, &out, &fast(Some(10)), &mut |n| progress.push(n), |i, pts, luma| {
            assert_eq!((luma.width, luma.height), (320, 240));
            seen.push((i, pts));
            Ok(())
        })
        .unwrap();
    assert_eq!(stats.frames, 75);
    assert!((stats.seconds_of_video - 3.0).abs() < 1e-9);
    assert_eq!(progress, (1..=75).collect::<Vec<u64>>());
    for (k, &(i, pts)) in seen.iter().enumerate() {
        assert_eq!(i, k as u64);
        assert!((pts - k as f64 * 0.04).abs() < 1e-9);
    }

    assert_eq!(streams(&out), ["h264,video", "aac,audio"]);
    let audio: f64 = probe_value(&out, "stream=duration -select_streams a:0").parse().unwrap();
    assert!((audio - 3.0).abs() < 0.1, "audio lasts {audio} s");
    let (keys, count) = keyframes(&out);
    assert_eq!(count, 75);
    assert_eq!(keys, (0..75).step_by(10).collect::<Vec<_>>());

    let info = probe(&out).unwrap();
    assert_eq!(info.frame_rate, (25, 1));
    assert_eq!(info.frame_count, Some(75));
    let (a, b) = (decode_all(&source), decode_all(&out));
    assert_eq!(b.pts.len(), 75);
    assert!((average(&a.means) - average(&b.means)).abs() < 0.5);
    assert_eq!(files_in(dir.path()), ["a.mp4", "out.mp4"], "no temp file left");
}

#[test]
fn luma_edits_show_up_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let source = h264_clip(dir.path(), "a.mp4", 2, "");
    let out = dir.path().join("plus10.mp4");
    let settings = EncodeSettings { preset: "veryfast".into(), ..Default::default() };
    transcode(&source, &out, &settings, &mut |_| {}, |_, _, luma| {
        for y in 0..luma.height {
            let row = &mut luma.data[y * luma.stride..y * luma.stride + luma.width];
            row.iter_mut().for_each(|v| *v = v.saturating_add(10));
        }
        Ok(())
    })
    .unwrap();
    let (a, b) = (decode_all(&source), decode_all(&out));
    assert_eq!(a.pts.len(), b.pts.len());
    let shift = average(&b.means) - average(&a.means);
    assert!((9.0..10.5).contains(&shift), "mean luma moved by {shift}");
}

#[test]
fn variable_frame_rate_is_numbered_at_the_average_rate() {
    // 25 frames at 25 fps then 50 frames at 50 fps: 75 frames in 2 s (millisecond timestamps).
    let dir = tempfile::tempdir().unwrap();
    let vfr = "-vf settb=1/1000,setpts='if(lt(N,25),N/25,1+(N-25)/50)/TB' \
               -fps_mode passthrough -enc_time_base 1:1000 -c:v libx264";
    let source = clip(dir.path(), "vfr.mp4", 2, vfr, "");
    let decoded = decode_all(&source);
    assert_eq!(decoded.pts.len(), 75);
    assert!((decoded.pts[30] - (1.0 + 5.0 / 50.0)).abs() < 1e-3, "{}", decoded.pts[30]);
    let info = probe(&source).unwrap();
    // About 75 frames / 2 s (FFmpeg's average also counts the last frames' durations).
    assert!((36.0..38.0).contains(&info.fps), "average rate {}", info.fps);

    let out = dir.path().join("cfr.mp4");
    let stats = run_identity(&source, &out, &fast(None)).unwrap();
    assert_eq!(stats.frames, 75);
    let out_info = probe(&out).unwrap();
    assert_eq!(out_info.frame_count, Some(75));
    assert!((out_info.fps - info.fps).abs() < 1e-6);
    let pts = decode_all(&out).pts;
    assert!((pts[30] - 30.0 / info.fps).abs() < 1e-3, "constant rate: {}", pts[30]);
}

#[test]
fn transcode_of_a_late_starting_ts_keeps_audio() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = h264_clip(dir.path(), "a.mp4", 2, "aac");
    let ts = dir.path().join("a.ts");
    remux(&mp4, &ts, "");
    let out = dir.path().join("out.mp4");
    assert_eq!(run_identity(&ts, &out, &fast(None)).unwrap().frames, 50);
    assert_eq!(streams(&out), ["h264,video", "aac,audio"]);
    let info = probe(&out).unwrap();
    assert!((info.duration_seconds.unwrap() - 2.0).abs() < 0.1);
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn unreadable_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.mp4");
    let e = probe(&missing).unwrap_err();
    assert!(matches!(e, MediaError::Open { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("cannot open {}: No such file or directory", missing.display())
    );
    assert!(VideoDecoder::open(&missing).is_err());

    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "these are not the frames you are looking for\n".repeat(50)).unwrap();
    let e = VideoDecoder::open(&text).unwrap_err();
    assert!(matches!(e, MediaError::Open { .. }), "{e:?}");
    assert_one_line(&e, &text);

    let audio_only = dir.path().join("sine.m4a");
    ffmpeg("-f lavfi -i sine -t 1 -c:a aac", &audio_only);
    let e = probe(&audio_only).unwrap_err();
    assert_eq!(e.path(), audio_only);
    assert_eq!(e.to_string(), format!("{} has no video stream", audio_only.display()));

    // FFmpeg takes UTF-8 paths; others are refused instead of panicking inside ffmpeg-next.
    use std::os::unix::ffi::OsStrExt;
    let odd_name = dir.path().join(std::ffi::OsStr::from_bytes(b"\xff.mp4"));
    let e = probe(&odd_name).unwrap_err();
    assert!(matches!(e, MediaError::NonUtf8Path { .. }), "{e:?}");
}

fn truncate(source: &Path, dest: &Path) {
    let bytes = std::fs::read(source).unwrap();
    std::fs::write(dest, &bytes[..bytes.len() * 40 / 100]).unwrap();
}

#[test]
fn truncated_files_fail_or_end_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let whole = h264_clip(dir.path(), "a.mp4", 3, "aac");

    // moov at the end (FFmpeg's default): the index is gone, the file cannot be opened.
    let cut = dir.path().join("cut.mp4");
    truncate(&whole, &cut);
    let e = VideoDecoder::open(&cut).unwrap_err();
    assert!(matches!(e, MediaError::Open { .. }), "{e:?}");
    assert_one_line(&e, &cut);

    // moov first: the frames present decode, then the truncation is reported once.
    let faststart = dir.path().join("fs.mp4");
    remux(&whole, &faststart, "-movflags +faststart");
    let cut_fs = dir.path().join("cut_fs.mp4");
    truncate(&faststart, &cut_fs);
    let mut decoder = VideoDecoder::open(&cut_fs).unwrap();
    let mut frames = 0;
    let error = loop {
        match decoder.next_frame() {
            Ok(Some(_)) => frames += 1,
            Ok(None) => panic!("the truncation went unnoticed after {frames} frames"),
            Err(e) => break e,
        }
    };
    assert!(frames > 0 && frames < 75, "{frames} frames");
    match &error {
        MediaError::Truncated { present, expected, .. } => {
            assert_eq!((*present, *expected), (frames, 75));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_one_line(&error, &cut_fs);
    assert!(decoder.next_frame().unwrap().is_none());

    // Transcoding a truncated file fails and leaves nothing behind.
    let out = dir.path().join("out.mp4");
    let e = run_identity(&cut_fs, &out, &fast(None)).unwrap_err();
    assert!(matches!(e, MediaError::Truncated { .. }), "{e:?}");
    assert!(!out.exists());
}

#[derive(Debug)]
struct Abort(u64);

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped at {}", self.0)
    }
}

impl std::error::Error for Abort {}

#[test]
fn failed_transcodes_leave_out_untouched_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = h264_clip(dir.path(), "a.mp4", 2, "aac");
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, "previous output").unwrap();

    let e = transcode(&source, &out, &fast(None), &mut |_| {}, |i, _, _| {
        if i == 10 {
            return Err(Box::new(Abort(i)) as _);
        }
        Ok(())
    })
    .unwrap_err();
    assert_one_line(&e, &out);
    match e {
        MediaError::Callback { frame, error, .. } => {
            assert_eq!(frame, 10);
            assert_eq!(error.downcast::<Abort>().unwrap().0, 10);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous output");
    assert_eq!(files_in(dir.path()), ["a.mp4", "out.mp4"]);

    let bad = EncodeSettings { preset: "warp-speed".into(), ..Default::default() };
    let e = run_identity(&source, &out, &bad).unwrap_err();
    assert!(matches!(e, MediaError::Settings { .. }), "{e:?}");
    let e = run_identity(&source, &out, &fast(Some(0))).unwrap_err();
    assert!(matches!(e, MediaError::Settings { .. }), "{e:?}");

    let nowhere = dir.path().join("no/such/dir/out.mp4");
    let e = run_identity(&source, &nowhere, &fast(None)).unwrap_err();
    // The temporary file beside the output cannot be made: a file-system error naming the output.
    assert!(matches!(e, MediaError::Io { .. }), "{e:?}");
    assert!(e.to_string().starts_with(&format!("cannot write {}: ", nowhere.display())), "{e}");
    assert!(!e.to_string().contains("partial"), "{e}");

    // PCM audio (as in many MOV/MKV masters) cannot be copied into MP4.
    let pcm = clip(dir.path(), "pcm.mkv", 1, "-c:v libx264", "pcm_s16le");
    assert_eq!(streams(&pcm), ["h264,video", "pcm_s16le,audio"]);
    let e = run_identity(&pcm, &out, &fast(None)).unwrap_err();
    assert!(matches!(e, MediaError::Unsupported { .. }), "{e:?}");
    std::fs::remove_file(&pcm).unwrap();

    let e = run_identity(&dir.path().join("missing.mp4"), &out, &fast(None)).unwrap_err();
    assert!(matches!(e, MediaError::Open { .. }), "{e:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous output");
    assert_eq!(files_in(dir.path()), ["a.mp4", "out.mp4"]);
}

// ---------------------------------------------------------------------------------------------
// The real clip (made by datasets/fetch.sh; optional)

#[test]
fn real_720p_clip_decodes_completely() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cache/abmark-720p-short.mp4");
    if !path.exists() {
        println!("note: {} is missing (run datasets/fetch.sh); skipping", path.display());
        return;
    }
    let info = probe(&path).unwrap();
    assert_eq!((info.width, info.height), (1280, 720));
    let expected = info.frame_count.expect("MP4 declares its frame count");
    let start = std::time::Instant::now();
    let decoded = decode_all(&path);
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(decoded.pts.len() as u64, expected);
    let last = decoded.pts[decoded.pts.len() - 1];
    assert!((last - (expected - 1) as f64 / info.fps).abs() < 1e-3, "last pts {last}");
    println!(
        "decoded {expected} frames of 720p in {seconds:.2} s ({:.0} frames/s)",
        expected as f64 / seconds
    );
}

/// `seek_before` lands on a keyframe at or before the time asked, and from there hands out
/// exactly the frames (times and pictures) a decode from the start gives; a file whose first
/// timestamp is not 0, MP4 and Matroska.
#[test]
fn seeking_before_a_time_gives_the_same_frames_as_decoding_through() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("gop1s.mp4");
    ffmpeg(
        "-f lavfi -i testsrc2=size=320x240:rate=25 -t 8 -c:v libx264 -pix_fmt yuv420p \
         -g 25 -keyint_min 25 -sc_threshold 0 -output_ts_offset 1.4",
        &mp4,
    );
    let mkv = dir.path().join("gop1s.mkv");
    remux(&mp4, &mkv, "");
    for path in [&mp4, &mkv] {
        let all = decode_all(path);
        for target in [2.0, 5.3, 7.9] {
            let mut decoder = VideoDecoder::open(path).unwrap();
            let at = decoder.seek_before(target).unwrap().expect("an index to seek with");
            assert!(at <= target + 1e-9 && at > target - 1.0 - 1e-9, "{target}: at {at}");
            let start =
                all.pts.iter().position(|&p| (p - at).abs() < 1e-6).expect("a frame at `at`");
            let mut n = 0;
            while let Some(frame) = decoder.next_frame().unwrap() {
                assert!(
                    (frame.pts_seconds - all.pts[start + n]).abs() < 1e-6,
                    "{}",
                    path.display()
                );
                assert_eq!(mean(frame.luma()), all.means[start + n], "{}", path.display());
                n += 1;
            }
            assert_eq!(start + n, all.pts.len(), "{}: every later frame", path.display());
            // Only before the first frame is read.
            assert_eq!(decoder.seek_before(1.0).unwrap(), None);
        }
        let mut decoder = VideoDecoder::open(path).unwrap();
        assert_eq!(decoder.seek_before(0.0).unwrap(), None);
        assert_eq!(decoder.next_frame().unwrap().unwrap().pts_seconds, 0.0);
    }
}
