//! Encode-time variants: one decode of the source, two watermarked encodes, aligned segments.
//!
//! Every decoded frame is marked once at the source resolution ([`abmark_wm::Embedder`]
//! prepares the signal once; symbol 0 adds it to one copy, symbol 1 subtracts it from another),
//! then each (variant, rendition) pair scales and encodes on its own thread with identical
//! libx264 settings: closed GOPs of exactly one segment, no scene-cut keyframes. Segments are
//! cut at the IDRs and written as CMAF ([`abmark_bmff::cmaf`]) under `OUT/<variant>/<rendition>/`,
//! audio once under `OUT/audio/`. Before OUT appears, the two variants are checked to be
//! interchangeable segment for segment (identical init segments, durations and sample counts):
//! a misaligned output is an error, never a result. Work happens in a temporary sibling
//! directory renamed to OUT at the end.

mod audio;
mod job;
pub mod ladder;
mod segmenter;
mod worker;

pub use ladder::{default_ladder, parse_ladder, LadderError, Rendition};

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::{EncodeSettings, H264Encoder, MediaError, Scaler, SharedFrame, VideoDecoder};
use abmark_bmff::BmffError;
use abmark_delivery::layout::{manifests, JobFile, LayoutError, FINGERPRINTS_FILE};
use abmark_delivery::manifest::{ManifestError, SegmentSource};
use abmark_wm::key::WatermarkKey;
use abmark_wm::register::temporal::{fingerprint, Timeline};
use abmark_wm::{Embedder, Symbol, WatermarkParams};
use worker::{Worker, WorkerResult};

/// Frames queued per encoder thread (shared buffers: a queued frame costs no copy).
const FRAME_QUEUE: usize = 8;

/// A running (variant, rendition) encode.
type WorkerHandle = JoinHandle<Result<WorkerResult, VariantsError>>;

/// What to produce.
#[derive(Clone, Debug)]
pub struct VariantsJob {
    /// Requested segment duration; the actual one is a whole number of frames (see job.json).
    pub segment_seconds: f64,
    /// `None`: the default ladder (source size and half of it).
    pub renditions: Option<String>,
    /// CRF and preset; the GOP is set here.
    pub encode: EncodeSettings,
    /// Replace an existing OUT.
    pub force: bool,
}

/// Why `variants` failed. One line each; nothing is left at OUT.
#[derive(Debug, thiserror::Error)]
pub enum VariantsError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Cmaf(#[from] BmffError),
    #[error("--renditions: {0}")]
    Ladder(#[from] LadderError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Output(#[from] abmark_files::output::OutputError),
    #[error("source audio is {codec}; only AAC is copied into the CMAF audio track")]
    UnsupportedAudio { codec: String },
    #[error("variants of {rendition} are not interchangeable: {reason}")]
    Misaligned { rendition: String, reason: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("WMPaceInfo: {0}")]
    Pace(String),
    #[error("an encoder thread stopped unexpectedly")]
    WorkerLost,
}

impl VariantsError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_owned(), source }
    }
}

/// Builds both variants of `source` into `out`; returns what job.json records.
pub fn make_variants(
    source: &Path,
    out: &Path,
    key: &WatermarkKey,
    job: &VariantsJob,
    progress: &mut dyn FnMut(u64),
) -> Result<JobFile, VariantsError> {
    let staging = abmark_files::output::Staging::begin(out, job.force)?;
    let result = build(source, staging.path(), key, job, progress);
    match result {
        Ok(job_file) => {
            staging.commit()?;
            Ok(job_file)
        }
        Err(e) => {
            staging.abandon();
            Err(e)
        }
    }
}

fn build(
    source: &Path,
    dir: &Path,
    key: &WatermarkKey,
    job: &VariantsJob,
    progress: &mut dyn FnMut(u64),
) -> Result<JobFile, VariantsError> {
    let mut decoder = VideoDecoder::open(source)?;
    let info = decoder.info().clone();
    let (width, height) = (info.width as u32 & !1, info.height as u32 & !1);
    let ladder = match &job.renditions {
        Some(spec) => parse_ladder(spec, width, height)?,
        None => default_ladder(width, height),
    };
    // A segment is a whole number of frames; the watermark switches exactly at its IDRs.
    let (num, den) = (info.frame_rate.0.max(1) as u64, info.frame_rate.1.max(1) as u64);
    let keyint = ((job.segment_seconds * num as f64 / den as f64).round() as u64).max(1);
    let segment_seconds = keyint as f64 * den as f64 / num as f64;
    let (timescale, frame_duration) = timescale_for(num, den);
    let params = WatermarkParams { segment_seconds, ..Default::default() };
    let encode = EncodeSettings { keyint: Some(keyint as u32), ..job.encode.clone() };

    // One thread per (variant, rendition).
    let mut senders: [Vec<SyncSender<Arc<SharedFrame>>>; 2] = [Vec::new(), Vec::new()];
    let mut handles: Vec<(u8, String, WorkerHandle)> = Vec::new();
    for variant in [0u8, 1] {
        for r in &ladder {
            let rdir = dir.join(variant.to_string()).join(&r.id);
            let settings = rendition_settings(&encode, r, &ladder[0]);
            let encoder = H264Encoder::open(&decoder, (r.width, r.height), &settings, &rdir)?;
            let scaler = if (r.width, r.height) == (width, height)
                && (width, height) == (info.width as u32, info.height as u32)
            {
                None
            } else {
                Some(Scaler::new(
                    (info.width as u32, info.height as u32),
                    (r.width, r.height),
                    &rdir,
                )?)
            };
            // A few frames of slack per encoder so that one slow GOP does not stall the decoder.
            let (tx, rx) = sync_channel(FRAME_QUEUE);
            senders[variant as usize].push(tx);
            let worker = Worker { dir: rdir, encoder, scaler, timescale, frame_duration, variant };
            handles.push((variant, r.id.clone(), std::thread::spawn(move || worker.run(rx))));
        }
    }

    let audio_info = decoder.audio_track();
    let mut audio = match &audio_info {
        Some(a) => Some(audio::AudioWriter::new(&dir.join("audio"), a, segment_seconds)?),
        None => None,
    };
    let mut embedder: Option<Embedder> = None;
    let mut frames = 0u64;
    let mut audio_error = None;
    let mut fingerprints = Timeline::default();
    let fed = loop {
        let next = decoder.next_frame_with_audio(audio_info.as_ref(), &mut |packet| {
            if let Some(a) = audio.as_mut() {
                if let Err(e) = a.push(packet) {
                    audio_error.get_or_insert(e);
                }
            }
        });
        let mut frame = match next {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(VariantsError::from(e)),
        };
        if let Some(e) = audio_error.take() {
            break Err(e);
        }
        let pts = frames as f64 * den as f64 / num as f64;
        let e = embedder.get_or_insert_with(|| {
            Embedder::new(key, frame.width(), frame.height(), params.clone())
        });
        e.prepare(&frame.luma(), pts);
        // The detector's index of the reference: where in it a leaked excerpt starts.
        fingerprints.push(pts, fingerprint(&frame.luma()));
        let mut zero = frame.video_clone();
        e.apply(&mut zero.luma_mut(), Symbol::Zero);
        e.apply(&mut frame.luma_mut(), Symbol::One);
        let shared = [
            Arc::new(SharedFrame::new(zero.into_video())),
            Arc::new(SharedFrame::new(frame.into_video())),
        ];
        if send_all(&senders, &shared).is_err() {
            break Err(VariantsError::WorkerLost);
        }
        frames += 1;
        progress(frames);
    };
    drop(senders);
    let mut results = Vec::new();
    let mut first_error = fed.err();
    for (variant, id, handle) in handles {
        match handle.join() {
            Ok(Ok(r)) => results.push((variant, id, r)),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(VariantsError::WorkerLost);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if frames == 0 {
        return Err(MediaError::NoFrames { path: source.to_owned() }.into());
    }
    let audio = audio.map(audio::AudioWriter::finish).transpose()?;
    check_alignment(&results)?;
    let job_file = job::job_file(job::JobInputs {
        source,
        key,
        segment_seconds,
        keyint,
        frame_rate: (num as u32, den as u32),
        timescale,
        frames,
        ladder: &ladder,
        results: &results,
        audio: audio.as_ref(),
        encode: &encode,
    });
    let fp_path = dir.join(FINGERPRINTS_FILE);
    std::fs::write(&fp_path, fingerprints.to_bytes(num as f64 / den as f64))
        .map_err(|e| VariantsError::io(&fp_path, e))?;
    manifests::write(dir, &job_file, "0", SegmentSource::Variant(0))?;
    manifests::write(dir, &job_file, "1", SegmentSource::Variant(1))?;
    job_file.write(dir)?;
    Ok(job_file)
}

fn send_all(
    senders: &[Vec<SyncSender<Arc<SharedFrame>>>; 2],
    frames: &[Arc<SharedFrame>; 2],
) -> Result<(), ()> {
    for (variant, txs) in senders.iter().enumerate() {
        for tx in txs {
            tx.send(Arc::clone(&frames[variant])).map_err(|_| ())?;
        }
    }
    Ok(())
}

/// The top rendition's settings, with a bitrate (if any) scaled to this rendition's pixels.
fn rendition_settings(encode: &EncodeSettings, r: &Rendition, top: &Rendition) -> EncodeSettings {
    let share = (r.width as f64 * r.height as f64) / (top.width as f64 * top.height as f64);
    EncodeSettings {
        bitrate_kbps: encode.bitrate_kbps.map(|k| ((k as f64 * share).round() as u32).max(1)),
        ..encode.clone()
    }
}

/// A timescale in which one frame lasts a whole number of ticks: 90 kHz when it divides evenly
/// (25, 30, 50, 60, 29.97 fps...), else the frame rate's numerator.
fn timescale_for(num: u64, den: u64) -> (u32, u32) {
    if (90_000 * den).is_multiple_of(num) {
        (90_000, (90_000 * den / num) as u32)
    } else {
        (num as u32, den as u32)
    }
}

/// Variant 0 and 1 of every rendition must be interchangeable segment for segment.
fn check_alignment(results: &[(u8, String, WorkerResult)]) -> Result<(), VariantsError> {
    for (variant, id, a) in results.iter().filter(|r| r.0 == 0) {
        let Some((_, _, b)) = results.iter().find(|r| r.0 != *variant && &r.1 == id) else {
            continue;
        };
        let bad = |reason: String| Err(VariantsError::Misaligned { rendition: id.clone(), reason });
        if a.init != b.init {
            return bad("init segments differ".into());
        }
        if a.segments.len() != b.segments.len() {
            return bad(format!("{} vs {} segments", a.segments.len(), b.segments.len()));
        }
        for (i, (x, y)) in a.segments.iter().zip(&b.segments).enumerate() {
            if (x.duration, x.samples) != (y.duration, y.samples) {
                return bad(format!("segment {} differs in duration or sample count", i + 1));
            }
        }
    }
    Ok(())
}
