//! A picture of what the watermark changes: for the flattest and the busiest region of a real
//! frame, source | marked | difference amplified 10x around mid-grey, each zoomed 2x.

use std::path::{Path, PathBuf};

use abmark_media::VideoDecoder;
use abmark_wm::frame::OwnedLuma;
use abmark_wm::key::WatermarkKey;
use abmark_wm::mask::BlockStats;
use abmark_wm::{BlockGrid, Embedder, Symbol, WatermarkParams};
use anyhow::{bail, Context};
use image::{GrayImage, Luma};

#[derive(clap::Args)]
pub struct Args {
    /// Clip to take the frame from (default: the 184-s real clip).
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Time of the frame, in seconds.
    #[arg(long, default_value_t = 13.0)]
    at: f64,
    /// Output PNG.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// Side of the square regions shown, in source pixels.
const REGION: usize = 160;
const ZOOM: usize = 2;
const GAP: usize = 8;

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::repo_root();
    let clip = args.clip.unwrap_or_else(|| root.join("datasets/cache/abmark-720p.mp4"));
    let output = args.output.unwrap_or_else(|| root.join("docs/img/invisibility.png"));
    let source = frame_at(&clip, args.at)?;
    let mut marked = source.clone();
    let key = WatermarkKey::from_bytes(*b"abmark-eval-fixed-key-0123456789");
    let mut embedder = Embedder::new(&key, source.width, source.height, WatermarkParams::default());
    embedder.embed(&mut marked.view_mut(), args.at, Symbol::Zero);

    let (flat, busy) = extreme_regions(&source);
    let rows = [flat, busy];
    let tile = REGION * ZOOM;
    let (w, h) = (3 * tile + 2 * GAP, 2 * tile + GAP);
    let mut canvas = GrayImage::from_pixel(w as u32, h as u32, Luma([255]));
    for (i, &(x0, y0)) in rows.iter().enumerate() {
        let oy = i * (tile + GAP);
        for y in 0..REGION {
            for x in 0..REGION {
                let at = (y0 + y) * source.width + x0 + x;
                let (s, m) = (source.data[at] as i32, marked.data[at] as i32);
                let diff = (128 + 10 * (m - s)).clamp(0, 255);
                for (col, v) in [s, m, diff].into_iter().enumerate() {
                    let ox = col * (tile + GAP);
                    for dy in 0..ZOOM {
                        for dx in 0..ZOOM {
                            let (px, py) = (ox + x * ZOOM + dx, oy + y * ZOOM + dy);
                            canvas.put_pixel(px as u32, py as u32, Luma([v as u8]));
                        }
                    }
                }
            }
        }
    }
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    canvas.save(&output).with_context(|| format!("writing {}", output.display()))?;
    println!(
        "wrote {} (frame at {:.2} s; flat region at {:?}, textured at {:?}; columns: source | marked | 10x difference)",
        output.display(),
        args.at,
        flat,
        busy
    );
    Ok(())
}

fn frame_at(clip: &Path, at: f64) -> anyhow::Result<OwnedLuma> {
    let mut decoder = VideoDecoder::open(clip)?;
    while let Some(frame) = decoder.next_frame()? {
        if frame.pts_seconds + 1e-6 >= at {
            let l = frame.luma();
            let mut out = OwnedLuma::new(l.width, l.height);
            for y in 0..l.height {
                out.data[y * l.width..(y + 1) * l.width].copy_from_slice(l.row(y));
            }
            return Ok(out);
        }
    }
    bail!("{} ends before {at} s", clip.display())
}

/// Top-left corners of the least and the most active REGION-sized windows (block aligned,
/// mid-grey or brighter so the flat one is not simply black).
fn extreme_regions(img: &OwnedLuma) -> ((usize, usize), (usize, usize)) {
    let grid = BlockGrid::for_frame(img.width, img.height);
    let mut stats = BlockStats::default();
    stats.compute(&img.view(), &grid);
    let n = REGION / grid.block;
    let mut best = ((f32::MAX, (0, 0)), (f32::MIN, (0, 0)));
    for r in 0..grid.rows.saturating_sub(n) {
        for c in 0..grid.cols.saturating_sub(n) {
            let (mut act, mut mean) = (0.0, 0.0);
            for rr in r..r + n {
                for cc in c..c + n {
                    act += stats.activity[[rr, cc]];
                    mean += stats.mean[[rr, cc]];
                }
            }
            let corner = (c * grid.block, r * grid.block);
            if mean / (n * n) as f32 > 70.0 && act < best.0 .0 {
                best.0 = (act, corner);
            }
            if act > best.1 .0 {
                best.1 = (act, corner);
            }
        }
    }
    (best.0 .1, best.1 .1)
}
