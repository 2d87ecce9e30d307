//! 1920x1080 luma frames for the watermark benchmarks.
//!
//! Per-frame benchmarks want real pictures: the first busy frames of
//! `datasets/cache/abmark-1080p.mp4` when it exists (`datasets/fetch.sh --with-1080p`), else
//! those of the 720p clip (`datasets/fetch.sh`) scaled to 1080p bilinearly, else synthetic
//! ones. Per-kernel benchmarks take [`synthetic`] frames: the kernels' speed does not depend on
//! the picture. Whatever is used is said on stderr.

use std::path::Path;

use abmark_media::VideoDecoder;
use abmark_wm::frame::{Luma, OwnedLuma};

const CLIP_1080P: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/cache/abmark-1080p.mp4");
const CLIP_720P: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/cache/abmark-720p.mp4");

pub const WIDTH: usize = 1920;
pub const HEIGHT: usize = 1080;

/// `n` real 1080p frames (see the module doc), or synthetic ones when no clip is there.
pub fn real(n: usize) -> Vec<OwnedLuma> {
    for clip in [CLIP_1080P, CLIP_720P] {
        if let Some(frames) = decode(Path::new(clip), n) {
            eprintln!("note: benchmarking frames of {clip}, at {WIDTH}x{HEIGHT}");
            return frames;
        }
    }
    eprintln!("note: no clip in datasets/cache, benchmarking synthetic frames");
    (0..n).map(synthetic).collect()
}

/// One frame a second (frame 12 of every 25), scaled to 1080p if it is not already.
fn decode(clip: &Path, n: usize) -> Option<Vec<OwnedLuma>> {
    let mut decoder = VideoDecoder::open(clip).ok()?;
    let mut out = Vec::new();
    while let Ok(Some(f)) = decoder.next_frame() {
        if f.index % 25 == 12 {
            out.push(to_1080p(&f.luma()));
        }
        if out.len() == n {
            return Some(out);
        }
    }
    None
}

/// Bilinear resampling to 1920x1080 (pixel centres aligned), or a plain copy at that size.
fn to_1080p(l: &Luma<'_>) -> OwnedLuma {
    let mut o = OwnedLuma::new(WIDTH, HEIGHT);
    let (sx, sy) = (l.width as f32 / WIDTH as f32, l.height as f32 / HEIGHT as f32);
    let coord = |i: usize, s: f32, len: usize| {
        let u = ((i as f32 + 0.5) * s - 0.5).clamp(0.0, (len - 1) as f32);
        let i0 = u as usize;
        (i0, (i0 + 1).min(len - 1), u - i0 as f32)
    };
    for y in 0..HEIGHT {
        let (y0, y1, fy) = coord(y, sy, l.height);
        let (r0, r1) = (l.row(y0), l.row(y1));
        for x in 0..WIDTH {
            let (x0, x1, fx) = coord(x, sx, l.width);
            let top = r0[x0] as f32 + (r0[x1] as f32 - r0[x0] as f32) * fx;
            let bottom = r1[x0] as f32 + (r1[x1] as f32 - r1[x0] as f32) * fx;
            o.data[y * WIDTH + x] = (top + (bottom - top) * fy).round() as u8;
        }
    }
    o
}

/// A textured 1080p frame: smooth waves, edges and fine noise, varied by `seed`.
pub fn synthetic(seed: usize) -> OwnedLuma {
    let mut img = OwnedLuma::new(WIDTH, HEIGHT);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let v = 120.0
                + 50.0 * ((x + seed * 7) as f32 / 41.0).sin() * (y as f32 / 29.0).cos()
                + ((x * 131 + y * 71 + seed) % 23) as f32;
            img.data[y * WIDTH + x] = v as u8;
        }
    }
    img
}
