//! Marking a whole file: decode, embed one symbol into every frame, encode, keep the audio.
//!
//! The single-symbol path of the system (the variants stage builds both symbols from one decode
//! on top of the same [`Embedder`]). Optionally measures, frame by frame, what the watermark
//! alone costs in quality (marked vs decoded source, before encoding).

use std::path::Path;

use crate::{transcode, EncodeSettings, MediaError};
use abmark_wm::key::WatermarkKey;
use abmark_wm::quality;
use abmark_wm::{Embedder, Symbol, WatermarkParams};

/// What marking a file did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MarkReport {
    pub frames: u64,
    pub seconds_of_video: f64,
    pub width: usize,
    pub height: usize,
    pub symbol: u8,
    pub key_fingerprint: String,
    /// Mean and worst per-frame luma PSNR / SSIM of marked vs source frames (when measured).
    pub quality: Option<QualitySummary>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct QualitySummary {
    /// Mean of per-frame PSNR over frames the watermark changed.
    pub psnr_mean: f64,
    /// PSNR of the mean squared error over all frames (the "global" PSNR).
    pub psnr_global: f64,
    pub psnr_min: f64,
    pub ssim_mean: f64,
    pub ssim_min: f64,
    /// Frames left untouched by the fade (segment edges): excluded from the PSNR figures, whose
    /// value would be infinite.
    pub unchanged_frames: u64,
}

/// What to embed and how to encode it.
#[derive(Clone, Debug)]
pub struct MarkJob {
    pub symbol: Symbol,
    pub params: WatermarkParams,
    pub encode: EncodeSettings,
    /// Measure PSNR and SSIM of every marked frame against its source frame.
    pub measure_quality: bool,
}

/// Embeds `job.symbol` into every frame of `source`, writing an H.264 MP4 with the source's audio.
pub fn mark_file(
    source: &Path,
    out: &Path,
    key: &WatermarkKey,
    job: &MarkJob,
    progress: &mut dyn FnMut(u64),
) -> Result<MarkReport, MediaError> {
    let (symbol, params, measure_quality) = (job.symbol, &job.params, job.measure_quality);
    let mut embedder: Option<Embedder> = None;
    let mut original: Vec<u8> = Vec::new();
    let mut q = QualityAccumulator::default();
    let stats = transcode(source, out, &job.encode, progress, |_index, pts, mut luma| {
        let e = embedder
            .get_or_insert_with(|| Embedder::new(key, luma.width, luma.height, params.clone()));
        if measure_quality {
            original.clear();
            original.extend_from_slice(luma.data);
        }
        e.embed(&mut luma, pts, symbol);
        if measure_quality {
            let before = abmark_wm::frame::Luma { data: &original, ..luma.as_luma() };
            q.add(&before, &luma.as_luma());
        }
        Ok(())
    })?;
    Ok(MarkReport {
        frames: stats.frames,
        seconds_of_video: stats.seconds_of_video,
        width: stats.width,
        height: stats.height,
        symbol: symbol.bit(),
        key_fingerprint: key.fingerprint(),
        quality: measure_quality.then(|| q.summary()),
    })
}

#[derive(Default)]
struct QualityAccumulator {
    sse: f64,
    pixels: f64,
    psnr: Vec<f64>,
    ssim: Vec<f64>,
    unchanged: u64,
}

impl QualityAccumulator {
    fn add(&mut self, a: &abmark_wm::frame::Luma<'_>, b: &abmark_wm::frame::Luma<'_>) {
        let sse = quality::sse(a, b) as f64;
        let pixels = (a.width * a.height) as f64;
        self.sse += sse;
        self.pixels += pixels;
        if sse > 0.0 {
            self.psnr.push(quality::psnr_of_mse(sse / pixels));
        } else {
            self.unchanged += 1;
        }
        self.ssim.push(quality::ssim(a, b));
    }

    fn summary(&self) -> QualitySummary {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        QualitySummary {
            psnr_mean: mean(&self.psnr),
            psnr_global: quality::psnr_of_mse(self.sse / self.pixels.max(1.0)),
            psnr_min: min(&self.psnr),
            ssim_mean: mean(&self.ssim),
            ssim_min: min(&self.ssim),
            unchanged_frames: self.unchanged,
        }
    }
}
