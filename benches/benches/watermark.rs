//! Watermark kernels on 1920x1080 frames: embed (mask + pattern + add), per-frame detection
//! (reference reduction + copy sampling + tone fit + accumulation), and spatial registration.
//!
//! Frames are real: the first frames of `datasets/cache/abmark-1080p.mp4` (run
//! `datasets/fetch.sh --with-1080p`); a synthetic textured frame stands in when it is missing,
//! and the bench says so. Each kernel is timed on one core (a 1-thread rayon pool) and on all.

use std::path::Path;

use abmark_media::VideoDecoder;
use abmark_wm::detector::{FrameScorer, ReferenceReducer};
use abmark_wm::dsp::IntegralImage;
use abmark_wm::frame::OwnedLuma;
use abmark_wm::key::WatermarkKey;
use abmark_wm::register::coarse::FramePair;
use abmark_wm::register::refine::register;
use abmark_wm::register::Transform;
use abmark_wm::{BlockGrid, Embedder, Symbol, WatermarkParams};
use criterion::{criterion_group, criterion_main, Criterion};

const CLIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/cache/abmark-1080p.mp4");

fn frames(n: usize) -> Vec<OwnedLuma> {
    let real = VideoDecoder::open(Path::new(CLIP)).ok().map(|mut d| {
        let mut out = Vec::new();
        // Skip the first seconds: take busy frames spread over the clip's start.
        while let Ok(Some(f)) = d.next_frame() {
            if f.index % 25 == 12 {
                let l = f.luma();
                let mut o = OwnedLuma::new(l.width, l.height);
                for y in 0..l.height {
                    o.data[y * l.width..(y + 1) * l.width].copy_from_slice(l.row(y));
                }
                out.push(o);
            }
            if out.len() == n {
                break;
            }
        }
        out
    });
    match real {
        Some(v) if v.len() == n => v,
        _ => {
            eprintln!("note: {CLIP} missing, benchmarking synthetic frames");
            (0..n).map(|i| synthetic(1920, 1080, i)).collect()
        }
    }
}

fn synthetic(w: usize, h: usize, seed: usize) -> OwnedLuma {
    let mut img = OwnedLuma::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let v = 120.0
                + 50.0 * ((x + seed * 7) as f32 / 41.0).sin() * (y as f32 / 29.0).cos()
                + ((x * 131 + y * 71 + seed) % 23) as f32;
            img.data[y * w + x] = v as u8;
        }
    }
    img
}

fn pools() -> Vec<(&'static str, rayon::ThreadPool)> {
    let all = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    let many = rayon::ThreadPoolBuilder::new().num_threads(all).build().expect("pool");
    vec![("1-core", one), (if all == 2 { "2-cores" } else { "all-cores" }, many)]
}

fn bench(c: &mut Criterion) {
    let key = WatermarkKey::from_bytes([42; 32]);
    let params = WatermarkParams::default();
    let src = frames(5);
    let (w, h) = (src[0].width, src[0].height);
    let grid = BlockGrid::for_frame(w, h);

    // A marked copy of each frame, mid-segment.
    let mut embedder = Embedder::new(&key, w, h, params.clone());
    let marked: Vec<OwnedLuma> = src
        .iter()
        .map(|f| {
            let mut m = f.clone();
            embedder.embed(&mut m.view_mut(), 1.0, Symbol::One);
            m
        })
        .collect();

    let mut group = c.benchmark_group("watermark-1080p");
    // `install` inside the timed closure: criterion's state cannot move into the pool. Its
    // overhead is a few microseconds against kernels of milliseconds.
    for (name, pool) in pools() {
        let mut frame = src[0].clone();
        group.bench_function(format!("embed/{name}"), |b| {
            b.iter(|| pool.install(|| embedder.embed(&mut frame.view_mut(), 1.0, Symbol::Zero)))
        });
        let mut reducer = ReferenceReducer::new(grid);
        let mut scorer = FrameScorer::new(&key, grid, params.clone(), Transform::identity(w, h));
        group.bench_function(format!("detect-per-frame/{name}"), |b| {
            b.iter(|| {
                pool.install(|| {
                    let reference = reducer.reduce(&src[1].view(), 1.0);
                    scorer.add(&marked[1].view(), std::slice::from_ref(&reference));
                })
            })
        });
    }
    let mut frame = src[0].clone();
    embedder.prepare(&frame.view(), 1.0);
    group.sample_size(10);
    group.bench_function("embed-reference-kernel/1-core", |b| {
        b.iter(|| embedder.apply_reference(&mut frame.view_mut(), Symbol::Zero))
    });

    let ii = |img: &OwnedLuma| {
        let mut ii = IntegralImage::new();
        ii.fill(&img.view());
        ii
    };
    let refs: Vec<IntegralImage> = src.iter().map(ii).collect();
    let copies: Vec<IntegralImage> = marked.iter().map(ii).collect();
    let pairs: Vec<FramePair<'_>> =
        refs.iter().zip(&copies).map(|(reference, copy)| FramePair { reference, copy }).collect();
    group.bench_function("register-coarse-5-pairs/all-cores", |b| {
        b.iter(|| {
            abmark_wm::register::coarse::estimate(
                &pairs,
                (w, h),
                abmark_wm::register::coarse::USUAL,
            )
        })
    });
    group.bench_function("register-5-pairs/all-cores", |b| b.iter(|| register(&pairs, (w, h))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
