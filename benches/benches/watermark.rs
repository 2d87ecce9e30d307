//! Watermark work per 1920x1080 frame: embed (mask + pattern + add), per-frame detection
//! (reference reduction + copy integral image + sampling at the registered blocks + tone fit +
//! accumulation; no decoding), the temporal fingerprint, and spatial registration.
//!
//! Frames come from [`abmark_benches::frames::real`] (a real clip, scaled to 1080p if needed).
//! `frame-1080p-per-core` runs each item on one core (a 1-thread rayon pool) once with the scalar
//! twins and once with the CPU's SIMD kernels (`abmark_wm::simd::use_scalar`), timed in CPU time
//! of the process ([`ProcessCpuTime`]: the machine is shared). `frame-1080p-all-cores` times the
//! SIMD kernels on every core in wall time.

use std::time::Duration;

use abmark_benches::cpu_time::ProcessCpuTime;
use abmark_benches::frames;
use abmark_wm::detector::{FrameScorer, ReferenceReducer};
use abmark_wm::dsp::IntegralImage;
use abmark_wm::frame::OwnedLuma;
use abmark_wm::key::WatermarkKey;
use abmark_wm::register::coarse::{estimate, FramePair, USUAL};
use abmark_wm::register::refine::register;
use abmark_wm::register::temporal::fingerprint;
use abmark_wm::register::Transform;
use abmark_wm::simd::{use_scalar, Kernels};
use abmark_wm::{BlockGrid, Embedder, Symbol, WatermarkParams};
use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

/// Frames, their marked copies, and an embedder for them.
struct Setup {
    key: WatermarkKey,
    params: WatermarkParams,
    grid: BlockGrid,
    src: Vec<OwnedLuma>,
    marked: Vec<OwnedLuma>,
    embedder: Embedder,
}

fn setup() -> Setup {
    let key = WatermarkKey::from_bytes([42; 32]);
    let params = WatermarkParams::default();
    let src = frames::real(5);
    let (w, h) = (src[0].width, src[0].height);
    // A marked copy of each frame, mid-segment.
    let mut embedder = Embedder::new(&key, w, h, params.clone());
    let marked = src
        .iter()
        .map(|f| {
            let mut m = f.clone();
            embedder.embed(&mut m.view_mut(), 1.0, Symbol::One);
            m
        })
        .collect();
    Setup { key, params, grid: BlockGrid::for_frame(w, h), src, marked, embedder }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool")
}

/// Embed and per-frame detection with the kernels now selected, on `threads` threads.
/// `install` inside the timed closure: criterion's state cannot move into the pool. Its
/// overhead is a few microseconds against work of a millisecond.
fn per_frame<M: Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    s: &mut Setup,
    label: &str,
    threads: usize,
) {
    let pool = pool(threads);
    let mut frame = s.src[0].clone();
    let embedder = &mut s.embedder;
    group.bench_function(format!("embed/{label}"), |b| {
        b.iter(|| pool.install(|| embedder.embed(&mut frame.view_mut(), 1.0, Symbol::Zero)))
    });
    let (w, h) = (s.grid.width, s.grid.height);
    let mut reducer = ReferenceReducer::new(s.grid);
    let mut scorer = FrameScorer::new(&s.key, s.grid, s.params.clone(), Transform::identity(w, h));
    let (reference_frame, copy_frame) = (&s.src[1], &s.marked[1]);
    group.bench_function(format!("detect-per-frame/{label}"), |b| {
        b.iter(|| {
            pool.install(|| {
                let reference = reducer.reduce(&reference_frame.view(), 1.0);
                scorer.add(&copy_frame.view(), std::slice::from_ref(&reference));
            })
        })
    });
}

fn per_core(c: &mut Criterion<ProcessCpuTime>) {
    let mut s = setup();
    let mut group = c.benchmark_group("frame-1080p-per-core");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for kernels in [Kernels::scalar(), Kernels::detect()] {
        use_scalar(kernels == Kernels::scalar());
        let name = kernels.name();
        per_frame(&mut group, &mut s, name, 1);
        let copy = &s.marked[2];
        group.bench_function(format!("fingerprint/{name}"), |b| {
            b.iter(|| fingerprint(&copy.view()))
        });
    }
    use_scalar(false);
    let mut frame = s.src[0].clone();
    s.embedder.prepare(&frame.view(), 1.0);
    group.sample_size(10);
    group.bench_function("embed-reference-kernel", |b| {
        b.iter(|| s.embedder.apply_reference(&mut frame.view_mut(), Symbol::Zero))
    });
    group.finish();
}

fn all_cores(c: &mut Criterion) {
    let mut s = setup();
    let mut group = c.benchmark_group("frame-1080p-all-cores");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    per_frame(
        &mut group,
        &mut s,
        &format!("{}/{threads}-cores", Kernels::detect().name()),
        threads,
    );

    let (w, h) = (s.grid.width, s.grid.height);
    let ii = |img: &OwnedLuma| {
        let mut ii = IntegralImage::new();
        ii.fill(&img.view());
        ii
    };
    let refs: Vec<IntegralImage> = s.src.iter().map(ii).collect();
    let copies: Vec<IntegralImage> = s.marked.iter().map(ii).collect();
    let pairs: Vec<FramePair<'_>> =
        refs.iter().zip(&copies).map(|(reference, copy)| FramePair { reference, copy }).collect();
    group.sample_size(10);
    group.bench_function("register-coarse-5-pairs", |b| b.iter(|| estimate(&pairs, (w, h), USUAL)));
    group.bench_function("register-5-pairs", |b| b.iter(|| register(&pairs, (w, h))));
    group.finish();
}

criterion_group! {
    name = per_core_benches;
    config = Criterion::default().with_measurement(ProcessCpuTime);
    targets = per_core
}
criterion_group!(all_core_benches, all_cores);
criterion_main!(per_core_benches, all_core_benches);
