//! `abmark variants assemble OUT`: the chunks under `OUT/.chunks/` become the output the
//! one-machine run writes, in place.
//!
//! First every check, with nothing written: all N chunks present and finished (no staging
//! directory of a run still going or dead), each made from the same source (fingerprint), key
//! (fingerprint), ladder, segment duration and encoder settings as chunk 0, covering the
//! title's segments without gap or overlap, every file listed in its `chunk.json` present with
//! its size, init segments byte-identical across chunks, each chunk's first segment numbered
//! and timed (`mfhd`, `tfdt`) where the title needs it. Any failure is one line naming the
//! chunk. Then the output is built in a staging directory inside OUT: video segments, sidecars
//! and init segments are hard-linked from the chunks (copied where the file system cannot link:
//! the chunks wrote them with their title numbers and decode times already), audio segments
//! are renumbered through the box reader and writer, fingerprints are joined, and job.json and
//! the manifests are written from the joined segment lists by the same code as the one-machine
//! run. Finally the staged entries are renamed into OUT, job.json last (it is what readers open
//! first, so an interrupted assemble leaves no output that looks finished), and `.chunks/` is
//! removed.

use std::path::{Path, PathBuf};

use abmark_bmff::cmaf;
use abmark_delivery::layout::{JobFile, SegmentInfo, FINGERPRINTS_FILE};
use abmark_wm::register::temporal::Timeline;

use super::audio::AudioOutput;
use super::chunk::{ChunkFile, ChunkSpec, CHUNKS_DIR};
use super::worker::WorkerResult;
use super::{check_alignment, finish_output, job, VariantsError};
use crate::EncodeSettings;

/// Checks the chunks of `out` and writes the assembled output in place; returns its job.json.
pub fn assemble(out: &Path) -> Result<JobFile, VariantsError> {
    if out.join("job.json").exists() {
        return Err(VariantsError::Assembled { out: out.to_owned() });
    }
    let chunks_dir = out.join(CHUNKS_DIR);
    let chunks = load_chunks(&chunks_dir)?;
    check_chunks(&chunks_dir, &chunks)?;

    let staging = abmark_files::output::Staging::begin(&out.join(".assembly"), true)?;
    let job_file = match write_output(&chunks_dir, &chunks, staging.path()) {
        Ok(job_file) => job_file,
        Err(e) => {
            staging.abandon();
            return Err(e);
        }
    };
    if let Err(e) = move_into(staging.path(), out) {
        staging.abandon();
        return Err(e);
    }
    staging.abandon();
    // The chunks' files now live on as the output's (hard links) or were copied.
    let _ = std::fs::remove_dir_all(&chunks_dir);
    Ok(job_file)
}

/// Every chunk of one split, in order, or the first reason there is none to assemble.
fn load_chunks(chunks_dir: &Path) -> Result<Vec<ChunkFile>, VariantsError> {
    let entries = match std::fs::read_dir(chunks_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VariantsError::NoChunks { dir: chunks_dir.to_owned() })
        }
        Err(e) => return Err(VariantsError::io(chunks_dir, e)),
    };
    let mut finished: Vec<ChunkSpec> = Vec::new();
    let mut unfinished: Vec<(ChunkSpec, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| VariantsError::io(chunks_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(spec) = ChunkSpec::from_dir_name(&name) {
            finished.push(spec);
        } else if let Some(spec) = name
            .strip_prefix('.')
            .and_then(|n| n.split_once(".partial-"))
            .and_then(|(n, _)| ChunkSpec::from_dir_name(n))
        {
            unfinished.push((spec, entry.path()));
        }
    }
    finished.sort_by_key(|s| (s.count, s.index));
    let Some(&first) = finished.first().or(unfinished.first().map(|u| &u.0)) else {
        return Err(VariantsError::NoChunks { dir: chunks_dir.to_owned() });
    };
    let count = first.count;
    let first = ChunkSpec { index: 0, count };
    if let Some(other) =
        finished.iter().chain(unfinished.iter().map(|u| &u.0)).find(|s| s.count != count)
    {
        let what = format!("split into {} chunks, not {count}", other.count);
        return Err(VariantsError::ChunkMismatch { chunk: *other, first, what });
    }
    if let Some((spec, staging)) = unfinished.into_iter().min_by_key(|u| u.0.index) {
        return Err(VariantsError::ChunkUnfinished { chunk: spec, staging });
    }
    let mut chunks = Vec::new();
    for index in 0..count {
        let spec = ChunkSpec { index, count };
        if !finished.contains(&spec) {
            return Err(VariantsError::ChunkMissing { chunk: spec });
        }
        let dir = chunks_dir.join(spec.dir_name());
        let chunk = ChunkFile::load(&dir)
            .map_err(|reason| VariantsError::BadChunk { chunk: spec, reason })?;
        if chunk.chunk != spec {
            let reason = format!("its chunk.json says chunk {}", chunk.chunk);
            return Err(VariantsError::BadChunk { chunk: spec, reason });
        }
        chunks.push(chunk);
    }
    Ok(chunks)
}

/// The first field in which two serialisable values differ, as `name: a vs b`.
fn difference<T: serde::Serialize>(a: &T, b: &T) -> Option<String> {
    let (a, b) = (serde_json::to_value(a).ok()?, serde_json::to_value(b).ok()?);
    match (&a, &b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => x
            .iter()
            .find(|(k, v)| y.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}: {v} vs {}", y.get(k).cloned().unwrap_or_default())),
        _ => (a != b).then(|| format!("{a} vs {b}")),
    }
}

/// Same source, key and settings as chunk 0; contiguous segments; files present and sound.
fn check_chunks(chunks_dir: &Path, chunks: &[ChunkFile]) -> Result<(), VariantsError> {
    let head = &chunks[0];
    let mut next_segment = 0;
    for c in chunks {
        let mismatch =
            |what: String| VariantsError::ChunkMismatch { chunk: c.chunk, first: head.chunk, what };
        let bad = |reason: String| VariantsError::BadChunk { chunk: c.chunk, reason };
        if c.key_fingerprint != head.key_fingerprint {
            return Err(mismatch(format!(
                "made with another key (fingerprint {} vs {})",
                c.key_fingerprint, head.key_fingerprint
            )));
        }
        if let Some(d) = difference(&c.source_fingerprint, &head.source_fingerprint) {
            return Err(mismatch(format!("made from another source ({d})")));
        }
        if let Some(d) = difference(&c.settings, &head.settings) {
            return Err(mismatch(format!("made with other settings ({d})")));
        }
        if c.planned_segments != head.planned_segments {
            return Err(mismatch("planned on another segment count".into()));
        }
        let (first, end) = c.chunk.segments(c.planned_segments);
        if c.first_segment != first || first != next_segment {
            return Err(bad(format!("starts at segment {}, not {next_segment}", c.first_segment)));
        }
        let keyint = c.settings.keyint;
        match end {
            Some(end) if c.segment_count() != end - first || c.frames != (end - first) * keyint => {
                return Err(bad(format!(
                    "holds {} segments ({} frames), not {}",
                    c.segment_count(),
                    c.frames,
                    end - first
                )))
            }
            None if !c.reached_end => {
                return Err(bad("did not reach the end of the source".into()))
            }
            _ => {}
        }
        next_segment = first + c.segment_count();
        let expected: Vec<String> = [0u8, 1]
            .iter()
            .flat_map(|v| c.settings.ladder.iter().map(move |r| format!("{v}/{}", r.id)))
            .collect();
        let paths: Vec<&str> = c.outputs.iter().map(|o| o.path.as_str()).collect();
        if paths != expected.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(bad(format!("holds tracks {paths:?}, not {expected:?}")));
        }
        if c.audio.is_some() != head.audio.is_some() {
            return Err(mismatch("one has audio and the other not".into()));
        }
        check_files(chunks_dir, c, head)?;
    }
    Ok(())
}

/// Every listed file is there with its size; init segments equal chunk 0's; the first segment
/// of each track carries its title number and decode time.
fn check_files(chunks_dir: &Path, c: &ChunkFile, head: &ChunkFile) -> Result<(), VariantsError> {
    let dir = chunks_dir.join(c.chunk.dir_name());
    let head_dir = chunks_dir.join(head.chunk.dir_name());
    let bad = |reason: String| VariantsError::BadChunk { chunk: c.chunk, reason };
    let read =
        |path: &Path| std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())));
    let frame_duration = u64::from(c.settings.timescale) * u64::from(c.settings.frame_rate.1)
        / u64::from(c.settings.frame_rate.0.max(1));
    let mut tracks: Vec<(String, &[SegmentInfo], u64)> = c
        .outputs
        .iter()
        .map(|o| (o.path.clone(), o.segments.as_slice(), c.first_segment))
        .collect();
    if let Some(a) = &c.audio {
        tracks.push(("audio".into(), a.segments.as_slice(), 0));
    }
    for (path, segments, first) in tracks {
        let track = dir.join(&path);
        if read(&track.join("init.mp4"))? != read(&head_dir.join(&path).join("init.mp4"))? {
            return Err(VariantsError::ChunkMismatch {
                chunk: c.chunk,
                first: head.chunk,
                what: format!("the init segments of {path} differ"),
            });
        }
        for (k, s) in segments.iter().enumerate() {
            let file = track.join(format!("seg-{}.m4s", first + k as u64 + 1));
            let size = std::fs::metadata(&file).map(|m| m.len());
            if size.as_ref().ok() != Some(&s.bytes) {
                return Err(bad(format!("{} is missing or not {} bytes", file.display(), s.bytes)));
            }
            if path != "audio"
                && !track
                    .join("WMPaceInfo")
                    .join(format!("seg-{}.m4s", first + k as u64 + 1))
                    .is_file()
            {
                return Err(bad(format!(
                    "{path}: WMPaceInfo sidecar of segment {} is missing",
                    first + k as u64 + 1
                )));
            }
        }
        if path != "audio" {
            let file = track.join(format!("seg-{}.m4s", first + 1));
            let fragments = cmaf::read_fragments(&read(&file)?)
                .map_err(|e| bad(format!("{}: {e}", file.display())))?;
            let want = (first as u32 + 1, c.first_frame * frame_duration);
            let got = fragments.first().map(|f| (f.sequence_number, f.base_media_decode_time));
            if got != Some(want) {
                return Err(bad(format!(
                    "{}: numbered and timed {got:?}, not {want:?} (sequence, tfdt)",
                    file.display()
                )));
            }
        }
    }
    Ok(())
}

/// Builds the whole output in `staging` from the checked chunks.
fn write_output(
    chunks_dir: &Path,
    chunks: &[ChunkFile],
    staging: &Path,
) -> Result<JobFile, VariantsError> {
    let head = &chunks[0];
    let dirs: Vec<PathBuf> = chunks.iter().map(|c| chunks_dir.join(c.chunk.dir_name())).collect();
    let mut results: Vec<(u8, String, WorkerResult)> = Vec::new();
    for (k, output) in head.outputs.iter().enumerate() {
        let target = staging.join(&output.path);
        std::fs::create_dir_all(target.join("WMPaceInfo"))
            .map_err(|e| VariantsError::io(&target, e))?;
        link(&dirs[0].join(&output.path).join("init.mp4"), &target.join("init.mp4"))?;
        let mut segments = Vec::new();
        for (c, dir) in chunks.iter().zip(&dirs) {
            let track = dir.join(&output.path);
            for (j, s) in c.outputs[k].segments.iter().enumerate() {
                let name = format!("seg-{}.m4s", c.first_segment + j as u64 + 1);
                link(&track.join(&name), &target.join(&name))?;
                link(
                    &track.join("WMPaceInfo").join(&name),
                    &target.join("WMPaceInfo").join(&name),
                )?;
                segments.push(s.clone());
            }
        }
        let init = std::fs::read(target.join("init.mp4"))
            .map_err(|e| VariantsError::io(&target.join("init.mp4"), e))?;
        let (v, id) = output.path.split_once('/').unwrap_or(("0", &output.path));
        let variant = if v == "1" { 1 } else { 0 };
        results.push((
            variant,
            id.to_owned(),
            WorkerResult { init, segments, codec: output.codec.clone() },
        ));
    }
    check_alignment(&results)?;
    let audio = match &head.audio {
        Some(a) => Some(join_audio(chunks, &dirs, staging, a)?),
        None => None,
    };

    let mut fingerprints = Timeline::default();
    for dir in &dirs {
        let path = dir.join(FINGERPRINTS_FILE);
        let bytes = std::fs::read(&path).map_err(|e| VariantsError::io(&path, e))?;
        let (part, _) = Timeline::from_bytes(&bytes).map_err(|reason| {
            VariantsError::io(&path, std::io::Error::new(std::io::ErrorKind::InvalidData, reason))
        })?;
        for (t, p) in part.times.into_iter().zip(part.prints) {
            fingerprints.push(t, p);
        }
    }

    let s = &head.settings;
    let encode = EncodeSettings {
        crf: s.crf,
        preset: s.preset.clone(),
        keyint: Some(s.keyint as u32),
        threads: None,
        bitrate_kbps: s.bitrate_kbps,
    };
    let key_fingerprint = head.key_fingerprint.clone();
    let job_file = job::job_file(job::JobInputs {
        source: Path::new(&head.source),
        key_fingerprint: &key_fingerprint,
        segment_seconds: s.segment_seconds,
        keyint: s.keyint,
        frame_rate: s.frame_rate,
        timescale: s.timescale,
        frames: chunks.iter().map(|c| c.frames).sum(),
        ladder: &s.ladder,
        results: &results,
        audio: audio.as_ref(),
        encode: &encode,
    });
    let fps = f64::from(s.frame_rate.0) / f64::from(s.frame_rate.1.max(1));
    finish_output(staging, &job_file, &fingerprints, fps)?;
    Ok(job_file)
}

/// The chunks' audio segments, numbered through the title (`mfhd` rewritten by the box reader
/// and writer: the samples, decode times and bytes are otherwise those the chunk wrote).
fn join_audio(
    chunks: &[ChunkFile],
    dirs: &[PathBuf],
    staging: &Path,
    head: &AudioOutput,
) -> Result<AudioOutput, VariantsError> {
    let target = staging.join("audio");
    std::fs::create_dir_all(&target).map_err(|e| VariantsError::io(&target, e))?;
    link(&dirs[0].join("audio").join("init.mp4"), &target.join("init.mp4"))?;
    let mut segments = Vec::new();
    for (c, dir) in chunks.iter().zip(dirs) {
        let Some(audio) = &c.audio else { continue };
        for k in 0..audio.segments.len() {
            let from = dir.join("audio").join(format!("seg-{}.m4s", k + 1));
            let number = segments.len() as u32 + 1;
            let to = target.join(format!("seg-{number}.m4s"));
            let bytes = std::fs::read(&from).map_err(|e| VariantsError::io(&from, e))?;
            let renumbered = renumber(&bytes, number)?;
            std::fs::write(&to, &renumbered).map_err(|e| VariantsError::io(&to, e))?;
            segments
                .push(SegmentInfo { bytes: renumbered.len() as u64, ..audio.segments[k].clone() });
        }
    }
    Ok(AudioOutput { segments, ..head.clone() })
}

/// A one-fragment media segment with `mfhd` sequence number `number`.
fn renumber(segment: &[u8], number: u32) -> Result<Vec<u8>, VariantsError> {
    let fragments = cmaf::read_fragments(segment)?;
    let [f] = fragments.as_slice() else {
        return Err(abmark_bmff::BmffError::BadBox {
            kind: abmark_bmff::FourCc(*b"moof"),
            reason: format!("{} fragments in an audio segment, not 1", fragments.len()),
        }
        .into());
    };
    if f.sequence_number == number {
        return Ok(segment.to_vec());
    }
    Ok(cmaf::media_segment(f.track_id, number, f.base_media_decode_time, &f.samples)?)
}

/// Hard-links `from` to `to` (the chunk's file becomes the output's without a copy), or copies
/// it where the file system cannot link.
fn link(from: &Path, to: &Path) -> Result<(), VariantsError> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ()).map_err(|e| VariantsError::io(from, e))
}

/// Renames every entry of `staging` into `out`, job.json last; leftovers of an interrupted
/// assemble (same names, no job.json) are replaced.
fn move_into(staging: &Path, out: &Path) -> Result<(), VariantsError> {
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(staging)
        .map_err(|e| VariantsError::io(staging, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort_by_key(|n| n == "job.json");
    for name in names {
        let (from, to) = (staging.join(&name), out.join(&name));
        if to.is_dir() {
            std::fs::remove_dir_all(&to).map_err(|e| VariantsError::io(&to, e))?;
        }
        std::fs::rename(&from, &to).map_err(|e| VariantsError::io(&to, e))?;
    }
    Ok(())
}
