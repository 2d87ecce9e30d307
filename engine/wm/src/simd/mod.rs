//! Explicit SIMD for the watermark's hot kernels, and the one place that decides which
//! implementation runs.
//!
//! The kernels: the embed's add into luma (`blend_row`), the upsampler's quantisation and
//! expansion (`round_to_i16`, `expand_row`); the block statistics behind the mask and the
//! reference means (`block_columns`, `block_sums`) and the mask's smoothing (`box3`); integral
//! images, whole (`integral_row`) or only the rows a scorer reads (`add_rows`, `prefix_sums`);
//! the Pearson sums of registration and scoring (`paired_sums`); the temporal fingerprint's
//! subsampled cell sums (`sum_every_other`).
//!
//! Every kernel has a scalar twin ([`scalar`], the reference, plain Rust) and one hand-written
//! path per architecture, of which a build compiles only its own: AVX2 on x86-64 (`avx2`,
//! `std::arch` intrinsics for CPUs with AVX2 and FMA) and NEON on aarch64 (`neon`). The CPU is
//! asked once per process ([`Kernels::detect`]); the binary itself stays portable (no
//! `target-cpu` flag): an x86-64 CPU without AVX2, and any other architecture, runs the twins.
//! NEON is aarch64's baseline, so every aarch64 CPU runs the NEON paths, except `expand_row`,
//! whose NEON arm is the twin: NEON has no gather, and loading its taps lane by lane gains
//! nothing over the twin the compiler vectorises. `scripts/test-aarch64.sh` runs `tests.rs`
//! for aarch64 under qemu on an x86-64 machine.
//!
//! What each path must agree on with the twins: integer kernels bit for bit, and the float
//! kernels that compute each output on its own (`round_to_i16`, `box3`: same operations in the
//! same order) (the embed is fixed point and its output bytes are part of the variants),
//! [`Kernels::paired_sums`] to within rounding (it sums in a different order: see there).
//! `tests.rs` feeds both random inputs of awkward sizes.
//!
//! Not here: which rows go to which thread (the callers split frames into row bands with rayon),
//! and anything that is not a per-pixel or per-block loop.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
pub mod scalar;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU8, Ordering};

use crate::frame::Luma;

/// The four column sums of a band of rows that the block statistics need, each indexed by
/// pixel column (see [`scalar::block_columns`]).
pub struct ColumnSums<'a> {
    pub sampled: &'a mut [u16],
    pub all: &'a mut [u16],
    pub horizontal: &'a mut [u16],
    pub vertical: &'a mut [u16],
}

/// The sums a Pearson correlation of reference cells with the copy cells present needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedSums {
    /// Cells present in the copy.
    pub n: usize,
    pub sr: f64,
    pub sc: f64,
    pub srr: f64,
    pub scc: f64,
    pub src: f64,
}

impl PairedSums {
    /// Covariance and the two variances, each times `n`.
    pub fn centred(&self) -> (f64, f64, f64) {
        let n = self.n as f64;
        (
            self.src - self.sr * self.sc / n,
            self.srr - self.sr * self.sr / n,
            self.scc - self.sc * self.sc / n,
        )
    }
}

/// An instruction set the kernels can use. Only [`Kernels::detect`] can name AVX2 or NEON, so
/// holding a [`Kernels`] is proof that its instructions exist on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(avx2::Token),
    #[cfg(target_arch = "aarch64")]
    Neon(neon::Token),
}

/// The kernels of one instruction set. Cheap to copy; [`kernels`] gives the process-wide choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernels {
    isa: Isa,
}

impl Kernels {
    /// The scalar twins, on any CPU.
    pub fn scalar() -> Self {
        Self { isa: Isa::Scalar }
    }

    /// The fastest kernels this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = avx2::Token::detect() {
            return Self { isa: Isa::Avx2(token) };
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(token) = neon::Token::detect() {
            return Self { isa: Isa::Neon(token) };
        }
        Self::scalar()
    }

    /// A short name for reports and benchmark labels: `scalar`, `avx2` or `neon`.
    pub fn name(&self) -> &'static str {
        match self.isa {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) => "avx2",
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(_) => "neon",
        }
    }

    /// [`scalar::blend_row`]: the embed's per-pixel add.
    #[inline]
    pub fn blend_row(&self, row: &mut [u8], h0: &[i16], h1: &[i16], w0: i16, w1: i16, sign: i16) {
        match self.isa {
            Isa::Scalar => scalar::blend_row(row, h0, h1, w0, w1, sign),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.blend_row(row, h0, h1, w0, w1, sign),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.blend_row(row, h0, h1, w0, w1, sign),
        }
    }

    /// [`scalar::round_to_i16`]: the block signal quantised for the upsampler.
    #[inline]
    pub fn round_to_i16(&self, values: &[f32], scale: f32, limit: f32, out: &mut [i16]) {
        match self.isa {
            Isa::Scalar => scalar::round_to_i16(values, scale, limit, out),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.round_to_i16(values, scale, limit, out),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.round_to_i16(values, scale, limit, out),
        }
    }

    /// [`scalar::box3`]: the mask's 3x3 smoothing over the block grid.
    #[inline]
    pub fn box3(&self, src: &[f32], cols: usize, rows: usize, dst: &mut [f32]) {
        match self.isa {
            Isa::Scalar => scalar::box3(src, cols, rows, dst),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.box3(src, cols, rows, dst),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.box3(src, cols, rows, dst),
        }
    }

    /// [`scalar::expand_row`]: one grid row of the upsampler, stretched to the frame width.
    #[inline]
    pub fn expand_row(&self, out: &mut [i16], samples: &[i16], i0: &[u32], w: &[[i16; 2]]) {
        match self.isa {
            Isa::Scalar => scalar::expand_row(out, samples, i0, w),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.expand_row(out, samples, i0, w),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.expand_row(out, samples, i0, w),
        }
    }

    /// [`scalar::block_columns`] over every column: the mask's per-pixel statistics.
    #[inline]
    pub fn block_columns(&self, luma: &Luma<'_>, rows: (usize, usize), out: ColumnSums<'_>) -> u32 {
        match self.isa {
            Isa::Scalar => scalar::block_columns(luma, rows, (0, luma.width), out),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.block_columns(luma, rows, out),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.block_columns(luma, rows, out),
        }
    }

    /// [`scalar::block_sums`]: column sums to block totals.
    #[inline]
    pub fn block_sums(&self, columns: &[u16], block: usize, out: &mut [u32]) {
        match self.isa {
            Isa::Scalar => scalar::block_sums(columns, block, out),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.block_sums(columns, block, out),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.block_sums(columns, block, out),
        }
    }

    /// [`scalar::integral_row`]: one row of an integral image.
    #[inline]
    pub fn integral_row(&self, pixels: &[u8], mirrored: bool, above: &[u32], below: &mut [u32]) {
        match self.isa {
            Isa::Scalar => scalar::integral_row(pixels, mirrored, above, below),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.integral_row(pixels, mirrored, above, below),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.integral_row(pixels, mirrored, above, below),
        }
    }

    /// [`scalar::add_rows`]: integral-image rows built alone, step one.
    #[inline]
    pub fn add_rows(
        &self,
        columns: &mut [u32],
        luma: &Luma<'_>,
        rows: (usize, usize),
        mirrored: bool,
    ) {
        match self.isa {
            Isa::Scalar => scalar::add_rows(columns, luma, rows, mirrored),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.add_rows(columns, luma, rows, mirrored),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.add_rows(columns, luma, rows, mirrored),
        }
    }

    /// [`scalar::prefix_sums`]: integral-image rows built alone, step two.
    #[inline]
    pub fn prefix_sums(&self, values: &[u32], out: &mut [u32]) {
        match self.isa {
            Isa::Scalar => scalar::prefix_sums(values, out),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.prefix_sums(values, out),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.prefix_sums(values, out),
        }
    }

    /// [`scalar::paired_sums`]. The AVX2 and NEON paths keep four partial sums per quantity and
    /// add them at the end: each product is exact in f64 (two f32 mantissas fit in 53 bits), so
    /// they differ from the twin only by the rounding of the additions, relatively about 1e-15
    /// per term — far below the correlation differences any decision compares.
    #[inline]
    pub fn paired_sums(&self, reference: &[f32], copy: &[Option<f32>]) -> PairedSums {
        match self.isa {
            Isa::Scalar => scalar::paired_sums(reference, copy),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.paired_sums(reference, copy),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.paired_sums(reference, copy),
        }
    }

    /// [`scalar::sum_every_other`]: the temporal fingerprint's subsampled cell sums.
    #[inline]
    pub fn sum_every_other(&self, pixels: &[u8]) -> u64 {
        match self.isa {
            Isa::Scalar => scalar::sum_every_other(pixels),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(t) => t.sum_every_other(pixels),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(t) => t.sum_every_other(pixels),
        }
    }
}

/// The process-wide choice: 0 = not decided yet, 1 = scalar, 2 = the detected best.
static CHOICE: AtomicU8 = AtomicU8::new(0);

/// The kernels the engine uses: the CPU's best unless [`use_scalar`] said otherwise.
#[inline]
pub fn kernels() -> Kernels {
    match CHOICE.load(Ordering::Relaxed) {
        1 => Kernels::scalar(),
        _ => Kernels::detect(),
    }
}

/// Makes the whole engine run the scalar twins (`true`) or the detected best (`false`): for
/// benchmarks that compare whole frames, and for a user who suspects a SIMD path. Both give the
/// same results (see the module's first paragraph).
pub fn use_scalar(scalar: bool) {
    CHOICE.store(if scalar { 1 } else { 2 }, Ordering::Relaxed);
}
