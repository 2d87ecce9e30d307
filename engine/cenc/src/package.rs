//! `abmark package` on an `abmark variants` output: every rendition of both variants and the
//! audio, encrypted segment by segment (in parallel), with encrypted CMAF headers carrying the
//! PSSH boxes, the WMPaceInfo sidecars copied as they are, and `job.json` and the DASH/HLS
//! manifests rewritten with the protection signalling. Written to a temporary sibling of OUT
//! and renamed into place, so a failed run leaves no half-packaged output.
//!
//! A/B invariants: both variants of a rendition get byte-identical headers (same KID, same
//! `cbcs` constant IV), so any segment of A still replaces the same segment of B. `cenc` IVs are
//! drawn at random per sample from the operating system, so no (key, IV) pair ever encrypts two
//! different plaintexts (the A and B segments of one position included).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use abmark_bmff::cmaf::{read_init, Track};
use abmark_delivery::layout::{manifests, JobFile, JobProtection, OutputEntry};
use abmark_delivery::manifest::SegmentSource;
use abmark_files::output::Staging;

use crate::boxes::TrackEncryption;
use crate::drm::{protection, pssh_boxes, DrmOptions};
use crate::encryptor::random_iv;
use crate::error::CencError;
use crate::files::copy_flat;
use crate::init::encrypted_init;
use crate::plan::KeyPlan;
use crate::rotation::KeyGroup;
use crate::scheme::{Scheme, CENC_IV_SIZE};
use crate::segment::{encrypt_segment, SegmentKey};
use crate::subsample::AvcParams;
use abmark_bmff::cmaf::TrackKind;

/// What to package and how.
#[derive(Debug, Clone)]
pub struct PackageJob {
    pub scheme: Scheme,
    pub drm: DrmOptions,
    /// Replace an existing OUT.
    pub force: bool,
    /// Keep the in-band `wmpi` box (see [`super::segment`]); sidecars are always copied.
    pub keep_wmpi: bool,
}

/// What a packaging run did.
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    pub out: String,
    pub scheme: Scheme,
    /// KIDs used (UUID form), video first.
    pub kids: Vec<String>,
    pub key_periods: usize,
    pub drm_systems: Vec<String>,
    pub segments: u64,
    pub media_bytes: u64,
    pub seconds: f64,
    /// Media bytes encrypted per second of wall time (all cores).
    pub megabytes_per_second: f64,
}

/// Packages the variants output `input` into `out`. `progress(done, total)` is called as
/// segments finish (from worker threads).
pub fn package_variants(
    input: &Path,
    out: &Path,
    plan: &KeyPlan,
    job: &PackageJob,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<PackageReport, CencError> {
    let started = Instant::now();
    let mut job_file = JobFile::load(input).map_err(|e| CencError::input(input, e.to_string()))?;
    if job_file.protection.is_some() {
        return Err(CencError::input(input, "already packaged (job.json has protection)"));
    }
    if out.starts_with(input) || input.starts_with(out) {
        return Err(CencError::Usage("OUT must be outside INPUT".into()));
    }
    let staging = Staging::begin(out, job.force)?;
    let result = build(input, staging.path(), &mut job_file, plan, job, progress);
    match result {
        Ok((segments, bytes)) => {
            staging.commit()?;
            Ok(PackageReport::new(out, job, plan, segments, bytes, started))
        }
        Err(e) => {
            staging.abandon();
            Err(e)
        }
    }
}

impl PackageReport {
    pub fn new(
        out: &Path,
        job: &PackageJob,
        plan: &KeyPlan,
        segments: u64,
        bytes: u64,
        started: Instant,
    ) -> Self {
        let seconds = started.elapsed().as_secs_f64();
        PackageReport {
            out: out.display().to_string(),
            scheme: job.scheme,
            kids: plan.all_keys().iter().map(|k| k.kid.uuid()).collect(),
            key_periods: plan.video.len(),
            drm_systems: job.drm.systems.iter().map(|d| format!("{d:?}").to_lowercase()).collect(),
            segments,
            media_bytes: bytes,
            seconds,
            megabytes_per_second: bytes as f64 / 1e6 / seconds.max(1e-9),
        }
    }
}

fn build(
    input: &Path,
    dir: &Path,
    job_file: &mut JobFile,
    plan: &KeyPlan,
    job: &PackageJob,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(u64, u64), CencError> {
    let total: u64 = job_file.outputs.iter().map(|o| o.segments.len() as u64).sum();
    let done = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let mut outputs = job_file.outputs.clone();
    for output in &mut outputs {
        let kind = output.kind;
        let sizes = package_output(input, dir, output, kind, plan, job, &|n| {
            bytes.fetch_add(n, Ordering::Relaxed);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        })?;
        for (segment, size) in output.segments.iter_mut().zip(sizes) {
            segment.bytes = size;
        }
        copy_flat(
            &input.join(&output.path).join("WMPaceInfo"),
            &dir.join(&output.path).join("WMPaceInfo"),
        )?;
    }
    job_file.outputs = outputs;
    job_file.refresh_bitrates();
    let video_segments = job_file.segment_count;
    let audio_segments = job_file.audio().map_or(0, |a| a.segments.len());
    job_file.protection = Some(JobProtection {
        video: protection(job.scheme, &plan.periods(TrackKind::Video, video_segments), &job.drm)?,
        audio: (audio_segments > 0)
            .then(|| {
                protection(job.scheme, &plan.periods(TrackKind::Audio, audio_segments), &job.drm)
            })
            .transpose()?,
    });
    job_file.write(dir)?;
    for (name, variant) in [("0", 0u8), ("1", 1u8)] {
        manifests::write(dir, job_file, name, SegmentSource::Variant(variant))?;
    }
    Ok((done.load(Ordering::Relaxed), bytes.load(Ordering::Relaxed)))
}

/// Encrypts one output directory (`0/720p`, `audio`...): header, then every segment in
/// parallel. Returns the new segment sizes.
pub fn package_output(
    input: &Path,
    dir: &Path,
    output: &OutputEntry,
    kind: TrackKind,
    plan: &KeyPlan,
    job: &PackageJob,
    segment_done: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u64>, CencError> {
    let src = input.join(&output.path);
    let dst = dir.join(&output.path);
    std::fs::create_dir_all(&dst).map_err(|e| CencError::io(&dst, e))?;
    let init_path = src.join("init.mp4");
    let init_bytes = std::fs::read(&init_path).map_err(|e| CencError::io(&init_path, e))?;
    let init = read_init(&init_bytes).map_err(|e| CencError::from(e).at(&init_path))?;
    if init.sinf.is_some() {
        return Err(CencError::input(&init_path, "already encrypted"));
    }
    let segments = output.segments.len();
    let (original_format, avc) = match &init.track {
        Track::Video(v) => (
            *b"avc1",
            Some(AvcParams::from_avcc(&v.avcc).map_err(|e| CencError::from(e).at(&init_path))?),
        ),
        Track::Audio(_) => (*b"mp4a", None),
    };
    if (kind == TrackKind::Video) != avc.is_some() {
        return Err(CencError::input(&init_path, "track type does not match job.json"));
    }
    let video = avc.is_some();
    let (crypt, skip) = job.scheme.pattern(video);
    let first = plan.key_at(kind, 0).1;
    let encryption = |kid, iv: Option<[u8; 16]>| TrackEncryption {
        original_format,
        scheme: job.scheme,
        kid,
        iv_size: if job.scheme == Scheme::Cenc { CENC_IV_SIZE } else { 0 },
        constant_iv: if job.scheme == Scheme::Cbcs { iv } else { None },
        crypt,
        skip,
    };
    let kids: Vec<_> = plan.periods(kind, segments).into_iter().map(|p| p.1).collect();
    let header = encrypted_init(
        &init.track,
        &encryption(first.kid, first.iv),
        &pssh_boxes(job.scheme, &kids, &job.drm),
    )?;
    write_file(&dst.join("init.mp4"), &header)?;

    let rotated = plan.rotate_every.is_some();
    (0..segments)
        .into_par_iter()
        .map(|index| {
            let name = format!("seg-{}.m4s", index + 1);
            let path = src.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| CencError::io(&path, e))?;
            let (_, key) = plan.key_at(kind, index);
            let enc = encryption(key.kid, key.iv);
            let group = rotated.then_some(KeyGroup {
                kid: key.kid,
                iv_size: enc.iv_size,
                constant_iv: enc.constant_iv,
                crypt,
                skip,
            });
            let mut avc = avc.clone();
            let seg_key =
                SegmentKey { enc: &enc, key, group: group.as_ref(), keep_wmpi: job.keep_wmpi };
            let encrypted = encrypt_segment(&bytes, &seg_key, avc.as_mut(), &mut random_iv)
                .map_err(|e| e.at(&path))?;
            write_file(&dst.join(&name), &encrypted)?;
            segment_done(bytes.len() as u64);
            Ok(encrypted.len() as u64)
        })
        .collect()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CencError> {
    std::fs::write(path, bytes).map_err(|e| CencError::io(path, e))
}
