//! HLS and DASH manifests for a variants output, from its job.json.
//!
//! `write(OUT, job, "0", Variant(0))` writes `0.m3u8` (multivariant), `0-<rendition>.m3u8` and
//! `0-audio.m3u8` (media playlists) and `0.mpd` at the output root, all pointing into
//! `0/<rendition>/` and `audio/`. A per-segment source gives the mixed manifests of a viewer
//! (segment i from variant bit i); the personalised edge builds on the same call.

use std::path::Path;

use super::{JobFile, LayoutError};
use crate::manifest::{
    dash_mpd, hls_audio_playlist, hls_multivariant, hls_video_playlist, AudioRendition, AudioTrack,
    PathScheme, Presentation, SegmentSource, Timeline, VideoRendition,
};

/// The manifest model of a variants output.
pub fn presentation(job: &JobFile) -> Presentation {
    let mut video: Vec<VideoRendition> = job
        .renditions
        .iter()
        .map(|r| VideoRendition {
            id: r.id.clone(),
            width: r.width,
            height: r.height,
            bandwidth: r.peak_bitrate.min(u32::MAX as u64) as u32,
            average_bandwidth: Some(r.bitrate.min(u32::MAX as u64) as u32),
            codecs: r.codecs.clone(),
            frame_rate: job.frame_rate,
        })
        .collect();
    // Manifests conventionally list the lowest rendition first.
    video.sort_by_key(|r| r.height);
    let audio = job.audio().map(|o| {
        let rate = o.meta.sample_rate.unwrap_or(48_000);
        let seconds: f64 = o.segments.iter().map(|s| s.duration as f64 / rate as f64).sum();
        let bytes: u64 = o.segments.iter().map(|s| s.bytes).sum();
        let peak = o
            .segments
            .iter()
            .map(|s| (s.bytes as f64 * 8.0 * rate as f64 / s.duration.max(1) as f64) as u32)
            .max()
            .unwrap_or(0);
        AudioTrack {
            rendition: AudioRendition {
                id: "audio".into(),
                bandwidth: peak,
                average_bandwidth: Some((bytes as f64 * 8.0 / seconds.max(1e-9)) as u32),
                codecs: o.meta.codecs.clone().unwrap_or_else(|| "mp4a.40.2".into()),
                sample_rate: rate,
                channels: o.meta.channels.unwrap_or(2),
            },
            timeline: Timeline {
                timescale: rate,
                segment_durations: o.segments.iter().map(|s| s.duration).collect(),
            },
            protection: job.protection.as_ref().and_then(|p| p.audio.clone()),
        }
    });
    Presentation {
        video,
        timeline: Timeline {
            timescale: job.timescale,
            segment_durations: job.segment_durations.clone(),
        },
        audio,
        protection: job.protection.as_ref().map(|p| p.video.clone()),
    }
}

/// Writes the HLS and DASH manifests called `name` into `dir` (the output root).
pub fn write(
    dir: &Path,
    job: &JobFile,
    name: &str,
    source: SegmentSource<'_>,
) -> Result<(), LayoutError> {
    let p = presentation(job);
    let scheme = PathScheme::variant_dirs();
    let mut files =
        vec![(format!("{name}.m3u8"), hls_multivariant(&p, |id| format!("{name}-{id}.m3u8"))?)];
    for r in &p.video {
        files.push((
            format!("{name}-{}.m3u8", r.id),
            hls_video_playlist(&p, &r.id, &scheme, source)?,
        ));
    }
    if p.audio.is_some() {
        files.push((format!("{name}-audio.m3u8"), hls_audio_playlist(&p, &scheme)?));
    }
    files.push((format!("{name}.mpd"), dash_mpd(&p, &scheme, source)?));
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| LayoutError::io(&path, e))?;
    }
    Ok(())
}
