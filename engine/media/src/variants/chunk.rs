//! One chunk of a title (`abmark variants SRC -o OUT --chunk I/N`): a run of whole segments,
//! both variants and every rendition, encoded on its own so that N machines sharing OUT can
//! split a title between them.
//!
//! The title's M segments (`ceil(frames / keyint)`, from the frame count or duration the source
//! declares) are split into N runs of nearly equal length, `[ceil(I*M/N), ceil((I+1)*M/N))`;
//! the last chunk runs to the end of the source. A chunk jumps through the source's index to a keyframe
//! a little before its first frame, numbers decoded frames by timestamp and drops those before
//! its start, so it marks every frame with the pattern and fade of the frame's index in the
//! title, exactly as the one-machine run does. Its segments are written as they are numbered in
//! the title (names, `mfhd`, `tfdt`, WMPaceInfo positions), so assembling moves them without
//! rewriting them. Its share of the audio (packets starting between its first segment's start
//! and the next chunk's) is read on its own, without decoding video, and numbered locally:
//! `assemble` renumbers those small segments.
//!
//! Written all or nothing into `OUT/.chunks/I-of-N/` (a staging sibling renamed into place,
//! `chunk.json` inside saying what it holds). Each chunk writes only its own directory, so chunks
//! can run at once on machines sharing OUT; a re-run replaces only its own chunk.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audio::{AudioOutput, AudioWriter};
use super::{check_alignment, encode_span, start_workers, Plan, Span, VariantsError, VariantsJob};
use crate::{AudioPacket, VideoDecoder};
use abmark_delivery::layout::{SegmentInfo, FINGERPRINTS_FILE};
use abmark_wm::key::WatermarkKey;

/// Where chunks live inside OUT until `assemble`.
pub const CHUNKS_DIR: &str = ".chunks";
/// What a chunk directory holds, written last.
pub const CHUNK_FILE: &str = "chunk.json";
/// How far before its first frame a chunk asks the index for a keyframe: an index may list
/// decode times, which run a few frames ahead of presentation times with B-frames. Should the
/// jump still land after the start, the chunk decodes from the beginning instead.
const SEEK_MARGIN_SECONDS: f64 = 0.25;

/// Chunk `index` (from 0) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSpec {
    pub index: u32,
    pub count: u32,
}

/// `--chunk` that is not `I/N` with `0 <= I < N`.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not I/N with 0 <= I < N (e.g. 2/8)")]
pub struct ChunkSpecError(String);

impl std::str::FromStr for ChunkSpec {
    type Err = ChunkSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ChunkSpecError(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for ChunkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ChunkSpec {
    /// The chunk's directory name under `OUT/.chunks/`.
    pub fn dir_name(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }

    /// Parses a directory name written by [`ChunkSpec::dir_name`].
    pub fn from_dir_name(name: &str) -> Option<Self> {
        let (i, n) = name.split_once("-of-")?;
        format!("{i}/{n}").parse().ok()
    }

    /// The segments `[first, end)` of a title of `segments` this chunk encodes: runs of
    /// `ceil` or `floor` of segments / N, never empty, the first of the longer length, the
    /// last of the shorter (it also holds the title's short last segment). Its end is open:
    /// it runs to the end of the source.
    pub fn segments(&self, segments: u64) -> (u64, Option<u64>) {
        let (i, n) = (u64::from(self.index), u64::from(self.count));
        let first = (i * segments).div_ceil(n);
        let end = (i + 1 < n).then(|| ((i + 1) * segments).div_ceil(n));
        (first, end)
    }

    pub fn is_last(&self) -> bool {
        self.index + 1 == self.count
    }
}

/// What identifies the source without reading all of it (a film is gigabytes, and every chunk
/// would read it whole): its size, a SHA-256 of its first, middle and last MiB, and its video
/// and audio stream parameters. Two files that differ only inside the unsampled bytes, with
/// the same size and parameters, are not told apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceFingerprint {
    pub bytes: u64,
    pub sampled_sha256: String,
    pub width: usize,
    pub height: usize,
    pub frame_rate: (i32, i32),
    pub frames: u64,
    pub codec: String,
    pub audio: Option<String>,
}

/// The settings every chunk of a title must share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkSettings {
    pub segment_seconds: f64,
    pub keyint: u64,
    pub frame_rate: (u32, u32),
    pub timescale: u32,
    pub ladder: Vec<super::Rendition>,
    pub crf: f32,
    pub bitrate_kbps: Option<u32>,
    pub preset: String,
    /// The abmark and libavcodec builds: another x264 may code the same frames differently.
    pub encoder_build: String,
}

/// One (variant, rendition) track of a chunk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkOutput {
    /// `0/720p`, `1/360p`, ...
    pub path: String,
    pub codec: String,
    pub segments: Vec<SegmentInfo>,
}

/// `OUT/.chunks/I-of-N/chunk.json`: what a finished chunk holds and what it was made from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkFile {
    pub chunk: ChunkSpec,
    /// The source as this chunk's machine named it.
    pub source: String,
    pub source_fingerprint: SourceFingerprint,
    pub key_fingerprint: String,
    pub settings: ChunkSettings,
    /// The title's segment count the split was planned on (from the source's declared length).
    pub planned_segments: u64,
    /// The title index of the chunk's first segment and its first frame.
    pub first_segment: u64,
    pub first_frame: u64,
    pub frames: u64,
    /// Frames decoded before the first one and dropped: the cost of starting mid-title.
    pub dropped_frames: u64,
    /// The chunk ran to the end of the source.
    pub reached_end: bool,
    pub outputs: Vec<ChunkOutput>,
    /// This chunk's share of the audio, numbered from 1.
    pub audio: Option<AudioOutput>,
}

impl ChunkFile {
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join(CHUNK_FILE);
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not a chunk file ({e})", path.display()))
    }

    pub fn segment_count(&self) -> u64 {
        self.outputs.first().map_or(0, |o| o.segments.len() as u64)
    }
}

/// Encodes chunk `spec` of `source` into `OUT/.chunks/I-of-N/` (replacing an earlier run of the
/// same chunk); OUT is created if missing.
pub fn make_chunk(
    source: &Path,
    out: &Path,
    key: &WatermarkKey,
    job: &VariantsJob,
    spec: ChunkSpec,
    progress: &mut dyn FnMut(u64),
) -> Result<ChunkFile, VariantsError> {
    if out.join("job.json").exists() {
        return Err(VariantsError::Assembled { out: out.to_owned() });
    }
    let chunks = out.join(CHUNKS_DIR);
    std::fs::create_dir_all(&chunks).map_err(|e| VariantsError::io(&chunks, e))?;
    let staging = abmark_files::output::Staging::begin(&chunks.join(spec.dir_name()), true)?;
    match build_chunk(source, staging.path(), key, job, spec, progress) {
        Ok(chunk) => {
            staging.commit()?;
            Ok(chunk)
        }
        Err(e) => {
            staging.abandon();
            Err(e)
        }
    }
}

fn build_chunk(
    source: &Path,
    dir: &Path,
    key: &WatermarkKey,
    job: &VariantsJob,
    spec: ChunkSpec,
    progress: &mut dyn FnMut(u64),
) -> Result<ChunkFile, VariantsError> {
    let mut decoder = VideoDecoder::open(source)?;
    let info = decoder.info().clone();
    let plan = Plan::new(&info, job)?;
    let frames = info
        .frame_count
        .or_else(|| info.duration_seconds.map(|d| (d * info.fps).round() as u64))
        .filter(|&f| f > 0)
        .ok_or_else(|| VariantsError::UnknownLength { path: source.to_owned() })?;
    let planned = frames.div_ceil(plan.keyint);
    if u64::from(spec.count) > planned {
        return Err(VariantsError::TooManyChunks { spec, segments: planned });
    }
    let (first_segment, end_segment) = spec.segments(planned);
    let span = Span { first_segment, end_segment };
    let first_frame = first_segment * plan.keyint;

    // Encoders first, from the decoder as opened (see `start_workers`); then the jump.
    let workers = start_workers(&decoder, dir, &plan, span)?;
    let start = plan.frame_time(first_frame);
    let half_frame = 0.5 / plan.fps();
    if let Some(at) = decoder.seek_before(start - SEEK_MARGIN_SECONDS)? {
        if at > start + half_frame {
            // The index led past the chunk's start: decode from the beginning instead.
            decoder = VideoDecoder::open(source)?;
        }
    }
    let encoded =
        encode_span(&mut decoder, source, workers, dir, key, &plan, span, false, progress)?;
    if encoded.frames == 0 {
        let reason = format!(
            "no frames from frame {first_frame} on: the source is shorter than it declares"
        );
        return Err(VariantsError::BadChunk { chunk: spec, reason });
    }
    if let Some(end) = end_segment {
        if encoded.reached_end {
            let reason = format!(
                "the source ended at frame {}, before the chunk's end (frame {}): it declares more frames than it holds",
                first_frame + encoded.frames,
                end * plan.keyint
            );
            return Err(VariantsError::BadChunk { chunk: spec, reason });
        }
    }
    check_alignment(&encoded.results)?;

    let audio = match decoder.audio_track() {
        Some(track) => Some(copy_audio(source, dir, &track, &plan, span)?),
        None => None,
    };
    let fp_path = dir.join(FINGERPRINTS_FILE);
    std::fs::write(&fp_path, encoded.fingerprints.to_bytes(plan.fps()))
        .map_err(|e| VariantsError::io(&fp_path, e))?;

    let outputs = encoded
        .results
        .iter()
        .map(|(v, id, r)| ChunkOutput {
            path: format!("{v}/{id}"),
            codec: r.codec.clone(),
            segments: r.segments.clone(),
        })
        .collect();
    let chunk = ChunkFile {
        chunk: spec,
        source: source.display().to_string(),
        source_fingerprint: fingerprint_source(source, &info, frames, decoder.audio_track())?,
        key_fingerprint: key.fingerprint(),
        settings: settings(&plan),
        planned_segments: planned,
        first_segment,
        first_frame,
        frames: encoded.frames,
        dropped_frames: encoded.dropped,
        reached_end: encoded.reached_end,
        outputs,
        audio,
    };
    let path = dir.join(CHUNK_FILE);
    let text = serde_json::to_vec_pretty(&chunk).map_err(|e| VariantsError::io(&path, e.into()))?;
    std::fs::write(&path, text).map_err(|e| VariantsError::io(&path, e))?;
    Ok(chunk)
}

/// Copies the audio packets that start in the chunk's time range into `dir/audio/`: from the
/// start of its first segment to the start of the next chunk's (the last chunk: to the end).
fn copy_audio(
    source: &Path,
    dir: &Path,
    track: &crate::AudioTrackInfo,
    plan: &Plan,
    span: Span,
) -> Result<AudioOutput, VariantsError> {
    let mut writer = AudioWriter::new(&dir.join("audio"), track, plan.segment_seconds)?;
    let from = writer.boundary(span.first_segment);
    let to = span.end_segment.map(|e| writer.boundary(e));
    let mut error = None;
    let from_seconds = plan.frame_time(span.first_segment * plan.keyint);
    crate::read_audio_packets(source, track, from_seconds, &mut |packet: AudioPacket| {
        let start = writer.start_of(&packet);
        if to.is_some_and(|to| start >= to) {
            return false;
        }
        if start >= from {
            if let Err(e) = writer.push(packet) {
                error = Some(e);
                return false;
            }
        }
        true
    })?;
    if let Some(e) = error {
        return Err(e);
    }
    writer.finish()
}

fn settings(plan: &Plan) -> ChunkSettings {
    let v = ffmpeg_next::codec::version();
    ChunkSettings {
        segment_seconds: plan.segment_seconds,
        keyint: plan.keyint,
        frame_rate: (plan.num as u32, plan.den as u32),
        timescale: plan.timescale,
        ladder: plan.ladder.clone(),
        crf: plan.encode.crf,
        bitrate_kbps: plan.encode.bitrate_kbps,
        preset: plan.encode.preset.clone(),
        encoder_build: format!(
            "abmark {}, libavcodec {}.{}.{}",
            env!("CARGO_PKG_VERSION"),
            v >> 16,
            (v >> 8) & 0xff,
            v & 0xff
        ),
    }
}

/// Bytes hashed at each of the source's start, middle and end.
const SAMPLE_BYTES: u64 = 1 << 20;

fn fingerprint_source(
    source: &Path,
    info: &crate::VideoInfo,
    frames: u64,
    audio: Option<crate::AudioTrackInfo>,
) -> Result<SourceFingerprint, VariantsError> {
    let io = |e| VariantsError::io(source, e);
    let mut file = std::fs::File::open(source).map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    let mut hash = Sha256::new();
    let mut buf = Vec::new();
    // A small file is hashed whole.
    let (starts, len) = if bytes <= 3 * SAMPLE_BYTES {
        (vec![0], bytes)
    } else {
        (vec![0, bytes / 2 - SAMPLE_BYTES / 2, bytes - SAMPLE_BYTES], SAMPLE_BYTES)
    };
    for start in starts {
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        buf.clear();
        (&mut file).take(len).read_to_end(&mut buf).map_err(io)?;
        hash.update(&buf);
    }
    Ok(SourceFingerprint {
        bytes,
        sampled_sha256: hex::encode(hash.finalize()),
        width: info.width,
        height: info.height,
        frame_rate: info.frame_rate,
        frames,
        codec: info.codec.clone(),
        audio: audio.map(|a| format!("{} {} Hz {} ch", a.codec, a.sample_rate, a.channels)),
    })
}

/// The chunk directory of `spec` in OUT.
pub fn chunk_dir(out: &Path, spec: ChunkSpec) -> PathBuf {
    out.join(CHUNKS_DIR).join(spec.dir_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_splits() {
        let s: ChunkSpec = "2/8".parse().unwrap();
        assert_eq!((s.index, s.count), (2, 8));
        assert_eq!(s.to_string(), "2/8");
        assert_eq!(ChunkSpec::from_dir_name(&s.dir_name()), Some(s));
        for bad in ["3/3", "1/0", "x/2", "2", "-1/3", ""] {
            assert!(bad.parse::<ChunkSpec>().is_err(), "{bad}");
        }
        // 12 segments in 5 chunks: chunk I starts at ceil(12 I / 5), so runs of 3 or 2,
        // contiguous, none empty, the last one open (to the end of the source).
        let runs: Vec<_> = (0..5).map(|i| ChunkSpec { index: i, count: 5 }.segments(12)).collect();
        assert_eq!(runs, [(0, Some(3)), (3, Some(5)), (5, Some(8)), (8, Some(10)), (10, None)]);
    }

    /// A fresh embedder on frame k marks it exactly as one that marked frames 0..k first:
    /// the pattern and fade come from the frame's time alone, so a chunk that starts at frame
    /// k marks what the one-machine run marks.
    #[test]
    fn marking_depends_on_the_frame_index_alone() {
        use abmark_wm::frame::{Luma, LumaMut};
        use abmark_wm::{Embedder, Symbol, WatermarkParams};
        let key = WatermarkKey::from_bytes([7; 32]);
        let (w, h) = (320usize, 180usize);
        let params = WatermarkParams { segment_seconds: 2.0, ..Default::default() };
        let frame = |k: usize| -> Vec<u8> {
            (0..w * h).map(|i| ((i * 31 + k * 17 + (i / w) * 7) % 251) as u8).collect()
        };
        let mark = |e: &mut Embedder, k: usize| -> Vec<u8> {
            let mut px = frame(k);
            let t = k as f64 / 25.0;
            e.prepare(&Luma { data: &px, width: w, height: h, stride: w }, t);
            e.apply(&mut LumaMut { data: &mut px, width: w, height: h, stride: w }, Symbol::One);
            px
        };
        let mut whole = Embedder::new(&key, w, h, params.clone());
        let from_start: Vec<Vec<u8>> = (0..60).map(|k| mark(&mut whole, k)).collect();
        for k in [49, 50, 51, 59] {
            let mut chunk = Embedder::new(&key, w, h, params.clone());
            assert_eq!(mark(&mut chunk, k), from_start[k], "frame {k}");
        }
    }
}
