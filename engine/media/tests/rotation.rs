//! Rotation metadata: frames come out upright, exactly as FFmpeg's CLI autorotates them.

use std::path::Path;
use std::process::Command;

use abmark_media::{probe, VideoDecoder};

fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn rotated_sources_decode_upright_like_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        s(&plain),
    ]);
    for degrees in [90u16, 180, 270] {
        let rotated = dir.path().join(format!("rot{degrees}.mp4"));
        // `rotate` metadata becomes the stream's display matrix in MP4.
        ffmpeg(&[
            "-i",
            s(&plain),
            "-c",
            "copy",
            "-metadata:s:v:0",
            &format!("rotate={degrees}"),
            s(&rotated),
        ]);
        let info = probe(&rotated).unwrap();
        // FFmpeg's `rotate` tag and the display turn players apply run in opposite senses
        // (the tag says how the camera was turned); what counts is the picture players show.
        assert_eq!(info.rotation, (360 - degrees) % 360, "rotation read from the display matrix");
        let expected_size = if degrees == 180 { (320, 240) } else { (240, 320) };
        assert_eq!((info.width, info.height), expected_size);
        // FFmpeg's CLI applies the rotation by default: its first frame is the reference.
        // (yuv420p, luma plane first: `gray` would rescale the range.)
        let raw = ffmpeg(&[
            "-i",
            s(&rotated),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ]);
        let reference = &raw[..expected_size.0 * expected_size.1];
        let mut decoder = VideoDecoder::open(&rotated).unwrap();
        let frame = decoder.next_frame().unwrap().unwrap();
        let luma = frame.luma();
        assert_eq!((luma.width, luma.height), expected_size);
        let ours: Vec<u8> = (0..luma.height).flat_map(|y| luma.row(y).to_vec()).collect();
        assert!(
            ours == *reference,
            "{degrees} degrees: frame differs from FFmpeg's autorotated frame"
        );
    }
}
