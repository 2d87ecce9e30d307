//! A clip made ready for the matrix: both variants built with the same code and settings as
//! `abmark variants` (timed), the clean encode they are judged against, the variants' picture
//! quality, and how fast one core embeds. Everything lands under the clip's own work directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use abmark_media::mix::mix;
use abmark_media::variants::{make_variants, VariantsJob};
use abmark_media::{transcode, EncodeSettings, VideoDecoder};
use abmark_wm::frame::LumaMut;
use abmark_wm::key::WatermarkKey;
use abmark_wm::{Embedder, Symbol, WatermarkParams};
use anyhow::Context;

use super::cells::Reference;
use super::model::ClipReport;
use super::quality;

/// `abmark variants`' defaults: the benchmark measures what users get.
fn encode_settings() -> EncodeSettings {
    EncodeSettings { crf: 20.0, preset: "veryfast".into(), ..Default::default() }
}

/// How the variants' quality is sampled: every `step`-th frame, at most `frames` of them.
pub struct QualitySampling {
    pub step: usize,
    pub frames: usize,
}

/// Which renditions the clip's variants get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ladder {
    /// The source's size only.
    SourceOnly,
    /// `abmark variants`' default ladder (the source's size and half of it).
    Default,
}

/// Builds the variants of `source` under `work/NAME/`, measures them, and returns the clip as
/// the detector will see it.
pub fn prepare(
    source: &Path,
    name: &str,
    work: &Path,
    key: &WatermarkKey,
    sampling: &QualitySampling,
    ladder: Ladder,
) -> anyhow::Result<(Reference, ClipReport)> {
    let dir = work.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = dir.join("variants");
    let height = abmark_media::probe(source)?.height;
    let job = VariantsJob {
        segment_seconds: 2.0,
        // One rendition, the source's size: the lower rung would only double the encode time
        // (unless the reference is rebuilt from the variants, which reads the lower rung).
        renditions: match ladder {
            Ladder::SourceOnly => Some(format!("{}p", height & !1)),
            Ladder::Default => None,
        },
        encode: encode_settings(),
        force: true,
    };
    eprintln!("bench: {name}: variants");
    let started = Instant::now();
    let job_file = make_variants(source, &out, key, &job, &mut |_| {})
        .with_context(|| format!("variants of {}", source.display()))?;
    let variants_seconds = started.elapsed().as_secs_f64();

    eprintln!("bench: {name}: clean encode and variant quality");
    let clean = dir.join("clean.mp4");
    let settings = EncodeSettings { keyint: Some(job_file.keyint as u32), ..encode_settings() };
    transcode(source, &clean, &settings, &mut |_| {}, |_, _, _| Ok(()))
        .with_context(|| format!("clean encode of {}", source.display()))?;
    let variant_files: Vec<PathBuf> =
        (0..2u8).map(|v| dir.join(format!("variant-{v}.mp4"))).collect();
    for (v, file) in variant_files.iter().enumerate() {
        mix(&out, &job_file, None, &vec![v as u8; job_file.segment_count], file)?;
    }
    let quality = quality::compare(
        &clean,
        &[(0, &variant_files[0]), (1, &variant_files[1])],
        sampling.step,
        sampling.frames,
    )?;

    let (width, height) = job_file
        .renditions
        .first()
        .map(|r| (r.width, r.height))
        .context("variants output without a rendition")?;
    let report = ClipReport {
        name: name.to_owned(),
        width,
        height,
        seconds: job_file.frames as f64 * f64::from(job_file.frame_rate.1)
            / f64::from(job_file.frame_rate.0.max(1)),
        frames: job_file.frames,
        segments: job_file.segment_count,
        variants_seconds,
        variants_fps: job_file.frames as f64 / variants_seconds,
        embed_fps_per_core: embed_fps_per_core(source, key, job_file.segment_seconds)?,
        quality,
    };
    let reference = Reference::open(name, &out, key)?;
    Ok((reference, report))
}

/// Frames per second one core marks: mask, pattern and apply for both symbols' worth of work as
/// `variants` does it (one prepare, two applies), on the clip's first frames held in memory, so
/// that neither decoding nor encoding is counted.
fn embed_fps_per_core(
    source: &Path,
    key: &WatermarkKey,
    segment_seconds: f64,
) -> anyhow::Result<f64> {
    const FRAMES: usize = 100;
    let mut decoder = VideoDecoder::open(source)?;
    let mut frames: Vec<(Vec<u8>, f64)> = Vec::with_capacity(FRAMES);
    let (mut width, mut height) = (0, 0);
    while frames.len() < FRAMES {
        let Some(frame) = decoder.next_frame()? else { break };
        let luma = frame.luma();
        (width, height) = (luma.width, luma.height);
        let mut plane = Vec::with_capacity(width * height);
        for y in 0..height {
            plane.extend_from_slice(luma.row(y));
        }
        frames.push((plane, frame.pts_seconds));
    }
    anyhow::ensure!(!frames.is_empty(), "{}: no frames to embed", source.display());
    let params = WatermarkParams { segment_seconds, ..Default::default() };
    let mut embedder = Embedder::new(key, width, height, params);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut second = vec![0u8; width * height];
    let seconds = pool.install(|| {
        let started = Instant::now();
        for (plane, pts) in &mut frames {
            second.copy_from_slice(plane);
            let mut a = LumaMut { data: plane, width, height, stride: width };
            embedder.embed(&mut a, *pts, Symbol::Zero);
            let mut b = LumaMut { data: &mut second, width, height, stride: width };
            embedder.apply(&mut b, Symbol::One);
        }
        started.elapsed().as_secs_f64()
    });
    Ok(frames.len() as f64 / seconds)
}
