//! `abmark package FILE`: any MP4 or fragmented MP4 with H.264 and AAC (not only an abmark
//! variants output) packaged the same way. The file is first imported as clear CMAF tracks
//! ([`crate::import`]: packets copied, 2-s segments cut at keyframes) in a scratch directory
//! inside the staging area, then each track is encrypted exactly as a variants rendition is,
//! and DASH and HLS manifests are written for the one rendition:
//!
//! `OUT/video/init.mp4`, `OUT/video/seg-<n>.m4s`, `OUT/audio/…`, `OUT/manifest.mpd`,
//! `OUT/master.m3u8`, `OUT/video.m3u8`, `OUT/audio.m3u8`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use abmark_delivery::layout::{OutputEntry, SegmentInfo};
use abmark_delivery::manifest::{
    dash_mpd, hls_audio_playlist, hls_multivariant, hls_video_playlist, AudioRendition, AudioTrack,
    PathScheme, Presentation, SegmentSource, Timeline, VideoRendition,
};
use abmark_files::output::Staging;

use abmark_bmff::cmaf::TrackKind;
use abmark_cenc::{package_output, protection, CencError, KeyPlan, PackageJob, PackageReport};

use crate::import::{import_file, ImportedTrack};

/// Segment length of imported files, in seconds (cut at the next keyframe).
pub const FILE_SEGMENT_SECONDS: f64 = 2.0;

/// Packages the MP4 file `input` into the directory `out`.
pub fn package_file(
    input: &Path,
    out: &Path,
    plan: &KeyPlan,
    job: &PackageJob,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<PackageReport, CencError> {
    let started = Instant::now();
    let staging = Staging::begin(out, job.force)?;
    match build(input, staging.path(), plan, job, progress) {
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

fn build(
    input: &Path,
    dir: &Path,
    plan: &KeyPlan,
    job: &PackageJob,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(u64, u64), CencError> {
    let clear = dir.join(".clear");
    let imported = import_file(input, &clear, FILE_SEGMENT_SECONDS)?;
    let tracks: Vec<(&ImportedTrack, TrackKind)> = [
        imported.video.as_ref().map(|t| (t, TrackKind::Video)),
        imported.audio.as_ref().map(|t| (t, TrackKind::Audio)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let total: u64 = tracks.iter().map(|(t, _)| t.segment_durations.len() as u64).sum();
    let (done, bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut sizes = Vec::new();
    for (track, kind) in &tracks {
        let name = kind.name();
        let entry = OutputEntry {
            path: name.into(),
            kind: *kind,
            meta: Default::default(),
            segments: track
                .segment_durations
                .iter()
                .zip(&track.segment_bytes)
                .map(|(&duration, &bytes)| SegmentInfo { duration, samples: 0, bytes })
                .collect(),
        };
        sizes.push(package_output(&clear, dir, &entry, *kind, plan, job, &|n| {
            bytes.fetch_add(n, Ordering::Relaxed);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        })?);
    }
    std::fs::remove_dir_all(&clear).map_err(|e| CencError::io(&clear, e))?;
    write_manifests(dir, &tracks, &sizes, imported.frame_rate, plan, job)?;
    Ok((done.load(Ordering::Relaxed), bytes.load(Ordering::Relaxed)))
}

/// Peak and mean bit rate of a track from its encrypted segment sizes.
fn bitrates(track: &ImportedTrack, sizes: &[u64]) -> (u32, u32) {
    let seconds = |d: u64| d as f64 / f64::from(track.timescale.max(1));
    let total: f64 = track.segment_durations.iter().map(|&d| seconds(d)).sum();
    let bytes: u64 = sizes.iter().sum();
    let peak = track
        .segment_durations
        .iter()
        .zip(sizes)
        .map(|(&d, &b)| (b as f64 * 8.0 / seconds(d).max(1e-9)) as u64)
        .max()
        .unwrap_or(0);
    let mean = (bytes as f64 * 8.0 / total.max(1e-9)) as u64;
    (peak.min(u64::from(u32::MAX)) as u32, mean.min(u64::from(u32::MAX)) as u32)
}

fn write_manifests(
    dir: &Path,
    tracks: &[(&ImportedTrack, TrackKind)],
    sizes: &[Vec<u64>],
    frame_rate: Option<(u32, u32)>,
    plan: &KeyPlan,
    job: &PackageJob,
) -> Result<(), CencError> {
    let manifest_error =
        |e: abmark_delivery::manifest::ManifestError| CencError::Usage(e.to_string());
    let mut video = Vec::new();
    let mut timeline = None;
    let mut audio = None;
    let mut video_protection = None;
    for ((track, kind), sizes) in tracks.iter().zip(sizes) {
        let (peak, mean) = bitrates(track, sizes);
        let t = Timeline {
            timescale: track.timescale,
            segment_durations: track.segment_durations.clone(),
        };
        let periods = plan.periods(*kind, t.segment_durations.len());
        let signal = protection(job.scheme, &periods, &job.drm)?;
        match &track.track {
            abmark_bmff::cmaf::Track::Video(v) => {
                video.push(VideoRendition {
                    id: "video".into(),
                    width: u32::from(v.width),
                    height: u32::from(v.height),
                    bandwidth: peak,
                    average_bandwidth: Some(mean),
                    codecs: track.codecs.clone(),
                    frame_rate: frame_rate.unwrap_or((25, 1)),
                });
                timeline = Some(t);
                video_protection = Some(signal);
            }
            abmark_bmff::cmaf::Track::Audio(a) => {
                audio = Some(AudioTrack {
                    rendition: AudioRendition {
                        id: "audio".into(),
                        bandwidth: peak,
                        average_bandwidth: Some(mean),
                        codecs: track.codecs.clone(),
                        sample_rate: a.sample_rate,
                        channels: a.channels,
                    },
                    timeline: t,
                    protection: Some(signal),
                });
            }
        }
    }
    let Some(timeline) = timeline else {
        return Err(CencError::Usage(
            "the input has no H.264 video: audio-only packaging needs a video track for the manifests".into(),
        ));
    };
    let p = Presentation { video, timeline, audio, protection: video_protection };
    let scheme = PathScheme::new(
        "{rendition}/init.mp4",
        "{rendition}/seg-{number}.m4s",
        "audio/init.mp4",
        "audio/seg-{number}.m4s",
    )
    .map_err(manifest_error)?;
    let source = SegmentSource::Variant(0);
    let mut files = vec![
        ("manifest.mpd".to_owned(), dash_mpd(&p, &scheme, source).map_err(manifest_error)?),
        (
            "master.m3u8".to_owned(),
            hls_multivariant(&p, |id| format!("{id}.m3u8")).map_err(manifest_error)?,
        ),
        (
            "video.m3u8".to_owned(),
            hls_video_playlist(&p, "video", &scheme, source).map_err(manifest_error)?,
        ),
    ];
    if p.audio.is_some() {
        files.push((
            "audio.m3u8".to_owned(),
            hls_audio_playlist(&p, &scheme).map_err(manifest_error)?,
        ));
    }
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| CencError::io(&path, e))?;
    }
    Ok(())
}
