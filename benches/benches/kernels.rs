//! Each SIMD kernel of `abmark_wm::simd` against its scalar twin, over one 1920x1080 frame's
//! worth of work, on one core: the add of the embed (1080 rows), the upsampler's expansion
//! (90 grid rows) and the quantisation before it (160x90), the block statistics' column sums
//! (90 bands of 12 rows) and block totals (90 x 4 arrays), the mask's 3x3 smoothing (160x90),
//! an integral image (1080 rows), or only the 182 rows a scorer reads, the Pearson sums over the
//! 160x90 block grid, and the fingerprint's subsampled cell sums (the central 60 % of every
//! second row). Synthetic textured frames: the kernels'
//! speed does not depend on the picture. Times are CPU time of the process ([`ProcessCpuTime`]).

use std::time::Duration;

use abmark_benches::cpu_time::ProcessCpuTime;
use abmark_benches::frames::{synthetic, HEIGHT, WIDTH};
use abmark_wm::simd::{ColumnSums, Kernels};
use criterion::{criterion_group, criterion_main, Criterion};

/// Grid of the watermark at 1080p: 12-pixel blocks, 160 x 90.
const BLOCK: usize = 12;
const COLS: usize = WIDTH / BLOCK;
const ROWS: usize = HEIGHT / BLOCK;

/// The upsampler's taps along x: first sample and both weights in sixteenths.
fn taps() -> (Vec<u32>, Vec<[i16; 2]>) {
    (0..WIDTH)
        .map(|x| {
            let u = ((x as f64 + 0.5) / BLOCK as f64 - 0.5).max(0.0);
            let i0 = (u.floor() as usize).min(COLS - 1);
            let w1 = if i0 + 1 >= COLS { 0 } else { ((u - i0 as f64) * 16.0).round() as i16 };
            (i0 as u32, [16 - w1, w1])
        })
        .unzip()
}

fn bench(c: &mut Criterion<ProcessCpuTime>) {
    let frame = synthetic(3);
    let luma = frame.view();
    // A smooth signal in the upsampler's ranges: Q4 samples and Q8 expanded rows.
    let q4: Vec<i16> = (0..COLS * ROWS).map(|i| ((i as f32 * 0.37).sin() * 100.0) as i16).collect();
    let expanded: Vec<i16> =
        (0..ROWS * WIDTH).map(|i| ((i as f32 * 0.011).sin() * 1700.0) as i16).collect();
    let (i0, weights) = taps();
    // Block means of the frame and a noisy copy of them with 2 % of the cells missing.
    let reference: Vec<f32> = (0..COLS * ROWS)
        .map(|i| frame.data[(i / COLS) * BLOCK * WIDTH + (i % COLS) * BLOCK] as f32)
        .collect();
    let copy: Vec<Option<f32>> = reference
        .iter()
        .enumerate()
        .map(|(i, r)| (i % 50 != 7).then_some(r * 0.9 + 12.0 + ((i * 7919) % 13) as f32 * 0.1))
        .collect();

    let mut group = c.benchmark_group("kernels-1080p");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for k in [Kernels::scalar(), Kernels::detect()] {
        let name = k.name();
        let mut plane = frame.clone();
        let mut sign = 1;
        group.bench_function(format!("blend_row/{name}"), |b| {
            b.iter(|| {
                sign = -sign;
                for (y, row) in plane.data.chunks_exact_mut(WIDTH).enumerate() {
                    let (r, w1) = (y / BLOCK, (y % BLOCK * 16 / BLOCK) as i16);
                    let h0 = &expanded[r * WIDTH..(r + 1) * WIDTH];
                    let h1 = &expanded[(r + 1).min(ROWS - 1) * WIDTH..][..WIDTH];
                    k.blend_row(row, h0, h1, 16 - w1, w1, sign);
                }
            })
        });
        let mut out = vec![0i16; ROWS * WIDTH];
        group.bench_function(format!("expand_row/{name}"), |b| {
            b.iter(|| {
                for (r, row) in out.chunks_exact_mut(WIDTH).enumerate() {
                    k.expand_row(row, &q4[r * COLS..(r + 1) * COLS], &i0, &weights);
                }
            })
        });
        let mut columns = vec![0u16; 4 * WIDTH];
        group.bench_function(format!("block_columns/{name}"), |b| {
            b.iter(|| {
                let mut rows = 0;
                for r in 0..ROWS {
                    columns.fill(0);
                    let (sampled, rest) = columns.split_at_mut(WIDTH);
                    let (all, rest) = rest.split_at_mut(WIDTH);
                    let (horizontal, vertical) = rest.split_at_mut(WIDTH);
                    let sums = ColumnSums { sampled, all, horizontal, vertical };
                    rows += k.block_columns(&luma, (r * BLOCK, (r + 1) * BLOCK), sums);
                }
                rows
            })
        });
        let sums: Vec<u16> = (0..4 * WIDTH).map(|i| ((i * 37) % 3000) as u16).collect();
        let mut totals = vec![0u32; 4 * COLS];
        group.bench_function(format!("block_sums/{name}"), |b| {
            b.iter(|| {
                for _ in 0..ROWS {
                    for (c, t) in sums.chunks_exact(WIDTH).zip(totals.chunks_exact_mut(COLS)) {
                        k.block_sums(c, BLOCK, t);
                    }
                }
            })
        });
        let signal: Vec<f32> = q4.iter().map(|&q| q as f32 / 16.3).collect();
        let mut quantised = vec![0i16; COLS * ROWS];
        group.bench_function(format!("round_to_i16/{name}"), |b| {
            b.iter(|| k.round_to_i16(&signal, 16.0, 112.0, &mut quantised))
        });
        let mut smooth = vec![0f32; COLS * ROWS];
        group.bench_function(format!("box3/{name}"), |b| {
            b.iter(|| k.box3(&reference, COLS, ROWS, &mut smooth))
        });
        let w1 = WIDTH + 1;
        let mut table = vec![0u32; w1 * (HEIGHT + 1)];
        group.bench_function(format!("integral_row/{name}"), |b| {
            b.iter(|| {
                for y in 0..HEIGHT {
                    let (above, below) = table.split_at_mut((y + 1) * w1);
                    k.integral_row(luma.row(y), false, &above[y * w1..], &mut below[..w1]);
                }
            })
        });
        // The rows a 1080p scorer reads: two per block edge.
        let rows_read: Vec<usize> =
            (0..=ROWS).flat_map(|r| [r * BLOCK, r * BLOCK + 1]).filter(|&r| r <= HEIGHT).collect();
        let mut column_sums = vec![0u32; WIDTH];
        group.bench_function(format!("add_rows+prefix_sums/{name}"), |b| {
            b.iter(|| {
                column_sums.fill(0);
                let mut added = 0;
                for &r in &rows_read {
                    k.add_rows(&mut column_sums, &luma, (added, r), false);
                    added = r;
                    k.prefix_sums(&column_sums, &mut table[r * w1 + 1..(r + 1) * w1]);
                }
            })
        });
        group.bench_function(format!("paired_sums/{name}"), |b| {
            b.iter(|| k.paired_sums(&reference, &copy))
        });
        // The fingerprint's region: the central 60 %, every second row, four cells per row.
        let (x0, y0, rw, rh) = (WIDTH / 5, HEIGHT / 5, WIDTH * 3 / 5, HEIGHT * 3 / 5);
        group.bench_function(format!("sum_every_other/{name}"), |b| {
            b.iter(|| {
                let mut total = 0;
                for y in (y0..y0 + rh).step_by(2) {
                    for cell in luma.row(y)[x0..x0 + rw].chunks(rw / 4) {
                        total += k.sum_every_other(cell);
                    }
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ProcessCpuTime);
    targets = bench
}
criterion_main!(benches);
