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
//!
//! The same pipeline also runs on part of a title ([`chunk`]: `--chunk I/N`, a run of whole
//! segments written under `OUT/.chunks/`), and [`assemble`] puts the chunks together into the
//! output the one-machine run writes.

pub mod assemble;
mod audio;
pub mod chunk;
mod job;
pub mod ladder;
mod segmenter;
mod worker;

pub use assemble::assemble;
pub use audio::AudioOutput;
pub use chunk::{make_chunk, ChunkFile, ChunkSpec, ChunkSpecError};
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
    #[error(
        "{}: frame {frame} expected, frame {found} decoded: chunks need a constant frame rate \
         (encode this source without --chunk)",
        path.display()
    )]
    FrameTiming { path: PathBuf, frame: u64, found: u64 },
    #[error("{}: declares neither a frame count nor a duration; it cannot be split", path.display())]
    UnknownLength { path: PathBuf },
    #[error(
        "--chunk {spec}: the title has only {segments} segments; use at most that many chunks"
    )]
    TooManyChunks { spec: ChunkSpec, segments: u64 },
    #[error("{}: no chunks to assemble (run variants --chunk I/N first)", dir.display())]
    NoChunks { dir: PathBuf },
    #[error("chunk {chunk} is missing")]
    ChunkMissing { chunk: ChunkSpec },
    #[error("chunk {chunk} is unfinished ({} is still being written, or its run died: re-run the chunk)", staging.display())]
    ChunkUnfinished { chunk: ChunkSpec, staging: PathBuf },
    #[error("chunk {chunk} does not match chunk {first}: {what}")]
    ChunkMismatch { chunk: ChunkSpec, first: ChunkSpec, what: String },
    #[error("chunk {chunk}: {reason}")]
    BadChunk { chunk: ChunkSpec, reason: String },
    #[error("{}: already holds an assembled output (job.json)", out.display())]
    Assembled { out: PathBuf },
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
    let plan = Plan::new(decoder.info(), job)?;
    let whole = Span { first_segment: 0, end_segment: None };
    let workers = start_workers(&decoder, dir, &plan, whole)?;
    let encoded =
        encode_span(&mut decoder, source, workers, dir, key, &plan, whole, true, progress)?;
    if encoded.frames == 0 {
        return Err(MediaError::NoFrames { path: source.to_owned() }.into());
    }
    check_alignment(&encoded.results)?;
    let key_fingerprint = key.fingerprint();
    let job_file = job::job_file(job::JobInputs {
        source,
        key_fingerprint: &key_fingerprint,
        segment_seconds: plan.segment_seconds,
        keyint: plan.keyint,
        frame_rate: (plan.num as u32, plan.den as u32),
        timescale: plan.timescale,
        frames: encoded.frames,
        ladder: &plan.ladder,
        results: &encoded.results,
        audio: encoded.audio.as_ref(),
        encode: &plan.encode,
    });
    finish_output(dir, &job_file, &encoded.fingerprints, plan.fps())?;
    Ok(job_file)
}

/// Writes what the root of a variants output holds besides the tracks: the reference's
/// fingerprints, the HLS and DASH manifests of both variants, and job.json (last).
fn finish_output(
    dir: &Path,
    job_file: &JobFile,
    fingerprints: &Timeline,
    fps: f64,
) -> Result<(), VariantsError> {
    let fp_path = dir.join(FINGERPRINTS_FILE);
    std::fs::write(&fp_path, fingerprints.to_bytes(fps))
        .map_err(|e| VariantsError::io(&fp_path, e))?;
    manifests::write(dir, job_file, "0", SegmentSource::Variant(0))?;
    manifests::write(dir, job_file, "1", SegmentSource::Variant(1))?;
    job_file.write(dir)?;
    Ok(())
}

/// What the source and the job fix: the same for the whole title and for every chunk of it.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub ladder: Vec<Rendition>,
    /// The source's picture size, and the even size the top rung may have.
    pub source_size: (u32, u32),
    pub even_size: (u32, u32),
    /// Frame rate as numerator / denominator.
    pub num: u64,
    pub den: u64,
    /// Frames per segment (the closed GOP).
    pub keyint: u64,
    /// `keyint` frames in seconds.
    pub segment_seconds: f64,
    pub timescale: u32,
    pub frame_duration: u32,
    pub params: WatermarkParams,
    /// The job's settings with the GOP set.
    pub encode: EncodeSettings,
}

impl Plan {
    pub fn new(info: &crate::VideoInfo, job: &VariantsJob) -> Result<Self, VariantsError> {
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
        Ok(Self {
            ladder,
            source_size: (info.width as u32, info.height as u32),
            even_size: (width, height),
            num,
            den,
            keyint,
            segment_seconds,
            timescale,
            frame_duration,
            params: WatermarkParams { segment_seconds, ..Default::default() },
            encode: EncodeSettings { keyint: Some(keyint as u32), ..job.encode.clone() },
        })
    }

    /// Frames per second, as the fingerprint file records it.
    pub fn fps(&self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The time of frame `index` of the title: what the watermark and the fingerprints see.
    /// A chunk computes it from the same index as the one-machine run, so both mark a frame
    /// with the same segment's pattern and fade.
    pub fn frame_time(&self, index: u64) -> f64 {
        index as f64 * self.den as f64 / self.num as f64
    }

    /// The title's frame index of a decoded frame at `pts_seconds` (constant frame rate).
    pub fn frame_at(&self, pts_seconds: f64) -> u64 {
        (pts_seconds * self.num as f64 / self.den as f64).round().max(0.0) as u64
    }
}

/// Which segments of the title an encode covers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub first_segment: u64,
    /// One past the last segment; `None`: to the end of the source.
    pub end_segment: Option<u64>,
}

/// What an encode of a span produced, before job.json (or a chunk's chunk.json) is written.
pub(crate) struct Encoded {
    pub results: Vec<(u8, String, WorkerResult)>,
    pub frames: u64,
    pub fingerprints: Timeline,
    /// The audio, when it was copied along with the video (`interleaved_audio`).
    pub audio: Option<AudioOutput>,
    /// Frames decoded before the span's first frame and dropped (a chunk's seek overshoot).
    pub dropped: u64,
    /// The source ended (rather than the span).
    pub reached_end: bool,
}

/// The running encoders of a span: one thread per (variant, rendition), fed marked frames.
pub(crate) struct Workers {
    senders: [Vec<SyncSender<Arc<SharedFrame>>>; 2],
    handles: Vec<(u8, String, WorkerHandle)>,
}

/// Opens every encoder of `span` from `decoder`'s stream description and starts its thread.
/// Call it before the decoder has decoded or jumped anywhere: the encoders take the colour
/// description (the SPS's VUI, so the init segment) from the decoder as it was opened, the
/// same for a chunk as for the one-machine run.
pub(crate) fn start_workers(
    decoder: &VideoDecoder,
    dir: &Path,
    plan: &Plan,
    span: Span,
) -> Result<Workers, VariantsError> {
    let mut senders: [Vec<SyncSender<Arc<SharedFrame>>>; 2] = [Vec::new(), Vec::new()];
    let mut handles: Vec<(u8, String, WorkerHandle)> = Vec::new();
    for variant in [0u8, 1] {
        for r in &plan.ladder {
            let rdir = dir.join(variant.to_string()).join(&r.id);
            let settings = rendition_settings(&plan.encode, r, &plan.ladder[0]);
            let encoder = H264Encoder::open(decoder, (r.width, r.height), &settings, &rdir)?;
            let scaler =
                if (r.width, r.height) == plan.even_size && plan.even_size == plan.source_size {
                    None
                } else {
                    Some(Scaler::new(plan.source_size, (r.width, r.height), &rdir)?)
                };
            // A few frames of slack per encoder so that one slow GOP does not stall the decoder.
            let (tx, rx) = sync_channel(FRAME_QUEUE);
            senders[variant as usize].push(tx);
            let worker = Worker {
                dir: rdir,
                encoder,
                scaler,
                timescale: plan.timescale,
                frame_duration: plan.frame_duration,
                variant,
                first_segment: span.first_segment,
                first_frame: span.first_segment * plan.keyint,
            };
            handles.push((variant, r.id.clone(), std::thread::spawn(move || worker.run(rx))));
        }
    }
    Ok(Workers { senders, handles })
}

/// Decodes, marks and hands to `workers` the frames of `span`, with the audio copied along
/// when `interleaved_audio`, then waits for the encoders. The whole title numbers frames as
/// they come; a chunk (`span.first_segment > 0` or an end) numbers them by timestamp, drops
/// what the decoder gives before its first frame, and stops at its end.
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_span(
    decoder: &mut VideoDecoder,
    source: &Path,
    workers: Workers,
    dir: &Path,
    key: &WatermarkKey,
    plan: &Plan,
    span: Span,
    interleaved_audio: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Encoded, VariantsError> {
    let Workers { senders, handles } = workers;
    let chunked = span.first_segment > 0 || span.end_segment.is_some();
    let first_frame = span.first_segment * plan.keyint;
    let end_frame = span.end_segment.map(|e| e * plan.keyint);

    let audio_info = if interleaved_audio { decoder.audio_track() } else { None };
    let mut audio = match &audio_info {
        Some(a) => Some(audio::AudioWriter::new(&dir.join("audio"), a, plan.segment_seconds)?),
        None => None,
    };
    let mut embedder: Option<Embedder> = None;
    let mut frames = 0u64;
    let mut dropped = 0u64;
    let mut reached_end = false;
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
            Ok(None) => {
                reached_end = true;
                break Ok(());
            }
            Err(e) => break Err(VariantsError::from(e)),
        };
        if let Some(e) = audio_error.take() {
            break Err(e);
        }
        let index = if chunked { plan.frame_at(frame.pts_seconds) } else { frames };
        if index < first_frame {
            dropped += 1;
            continue;
        }
        if end_frame.is_some_and(|end| index >= end) {
            break Ok(());
        }
        if index != first_frame + frames {
            break Err(VariantsError::FrameTiming {
                path: source.to_owned(),
                frame: first_frame + frames,
                found: index,
            });
        }
        let pts = plan.frame_time(index);
        let e = embedder.get_or_insert_with(|| {
            Embedder::new(key, frame.width(), frame.height(), plan.params.clone())
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
    let audio = audio.map(audio::AudioWriter::finish).transpose()?;
    Ok(Encoded { results, frames, fingerprints, audio, dropped, reached_end })
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
