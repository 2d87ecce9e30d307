//! Planning from the first pass's timings: the shared timeline origin, each sample's decode
//! time, duration, composition offset and segment (video cut at the first keyframe at or after
//! each multiple of the segment duration, audio at the nearest frame boundary to the same
//! times), and the byte counts the audio bit rates come from.

use std::path::Path;

use super::scan::Timing;
use super::streams::Source;
use super::{CencError, TrackKind};

/// One sample as it will be written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planned {
    pub(super) decode: u64,
    pub(super) duration: u32,
    pub(super) offset: i32,
    pub(super) sync: bool,
    /// Index of the segment it goes in (0-based).
    pub(super) segment: usize,
}

pub(super) struct Plan {
    /// Leading packets left out (video before its first keyframe: nothing can decode them).
    pub(super) skip: usize,
    pub(super) samples: Vec<Planned>,
    pub(super) segments: usize,
    /// Peak bits in any one second of decode time.
    pub(super) peak_bits_per_second: u64,
    pub(super) total_bytes: u64,
}

/// Floor of `ticks * to / from` (a time moved between timescales, rounded down).
fn rescale_floor(ticks: i64, from: u32, to: u32) -> i64 {
    (i128::from(ticks) * i128::from(to)).div_euclid(i128::from(from)) as i64
}

pub(super) fn plan(
    path: &Path,
    sources: &[Source],
    timings: &[Vec<Timing>],
    segment_seconds: f64,
) -> Result<Vec<Plan>, CencError> {
    // Kept packets: video from its first keyframe.
    let mut kept: Vec<(usize, &[Timing])> = Vec::new();
    for (source, t) in sources.iter().zip(timings) {
        let skip = match source.kind {
            TrackKind::Video => t
                .iter()
                .position(|p| p.key)
                .ok_or_else(|| CencError::input(path, "the video stream has no keyframe"))?,
            TrackKind::Audio => 0,
        };
        kept.push((skip, &t[skip..]));
    }

    // The shared origin: the earliest presentation time of any kept packet, as (ticks, scale).
    let mut origin: Option<(i64, u32)> = None;
    for (source, (_, t)) in sources.iter().zip(&kept) {
        let first = t.iter().map(|p| p.pts).min().unwrap_or(0);
        let earlier = origin.is_none_or(|(o, scale)| {
            i128::from(first) * i128::from(scale) < i128::from(o) * i128::from(source.timescale)
        });
        if earlier {
            origin = Some((first, source.timescale));
        }
    }
    let (origin_ticks, origin_scale) = origin.unwrap_or((0, 1));

    let mut plans = Vec::with_capacity(sources.len());
    let mut video_cuts: Option<Vec<(i64, u32)>> = None;
    // Video first: audio is cut where the video was.
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| sources[i].kind != TrackKind::Video);
    let mut by_index: Vec<Option<Plan>> = sources.iter().map(|_| None).collect();
    for i in order {
        let source = &sources[i];
        let (skip, t) = kept[i];
        let scale = source.timescale;
        let name = source.kind.name();
        let t0 = rescale_floor(origin_ticks, origin_scale, scale);
        // Decode times start at 0: shifted by the origin when the first packet decodes after
        // it, else by the first decode time (the B-frame delay goes into the offsets).
        let shift = t0.min(t[0].dts);
        let default_duration = match (source.kind, source.frame_rate) {
            (TrackKind::Video, Some((num, den))) => {
                (i64::from(scale) * i64::from(den) / i64::from(num).max(1)).max(1)
            }
            (TrackKind::Audio, _) if source.sample_rate > 0 => {
                (1024 * i64::from(scale) / i64::from(source.sample_rate)).max(1)
            }
            _ => 1,
        };
        let mut samples = Vec::with_capacity(t.len());
        let mut previous_duration = None;
        let too_large = |what: &str, n: usize| {
            CencError::input(
                path,
                format!("{name} packet {}: {what} does not fit 32 bits", skip + n + 1),
            )
        };
        for (n, p) in t.iter().enumerate() {
            let duration = match t.get(n + 1) {
                Some(next) => next.dts - p.dts,
                None if p.duration > 0 => p.duration,
                None => previous_duration.unwrap_or(default_duration),
            };
            previous_duration = Some(duration);
            let decode = p.dts - shift;
            let offset = (p.pts - t0) - decode;
            samples.push(Planned {
                decode: decode as u64,
                duration: u32::try_from(duration).map_err(|_| too_large("duration", n))?,
                offset: i32::try_from(offset).map_err(|_| too_large("composition offset", n))?,
                sync: p.key,
                segment: 0,
            });
        }
        let presentation =
            |n: usize, s: &[Planned]| -> i64 { s[n].decode as i64 + i64::from(s[n].offset) };

        match source.kind {
            TrackKind::Video => {
                // A new segment at the first keyframe at or after each multiple of the segment
                // duration (the grid continues after the cut, so segments do not drift).
                let step = segment_seconds * f64::from(scale);
                let mut boundary = 1.0f64;
                let mut segment = 0;
                let mut cuts = Vec::new();
                for n in 0..samples.len() {
                    let pres = presentation(n, &samples);
                    if n > 0 && samples[n].sync && pres as f64 >= boundary * step - 1e-6 {
                        segment += 1;
                        cuts.push((pres, scale));
                        boundary = (pres as f64 / step + 1e-9).floor() + 1.0;
                    }
                    samples[n].segment = segment;
                }
                video_cuts = Some(cuts);
            }
            TrackKind::Audio => {
                let end = presentation(samples.len() - 1, &samples)
                    + i64::from(samples[samples.len() - 1].duration);
                let cuts: Vec<(i64, u32)> = match &video_cuts {
                    Some(cuts) => cuts.clone(),
                    None => {
                        let mut grid = Vec::new();
                        let mut k = 1u64;
                        loop {
                            let at = (k as f64 * segment_seconds * f64::from(scale)).round() as i64;
                            if at >= end {
                                break;
                            }
                            grid.push((at, scale));
                            k += 1;
                        }
                        grid
                    }
                };
                // Each cut at the frame boundary nearest to it; cuts at or past the end, or on
                // the same boundary as the previous one, are dropped.
                let starts: Vec<i64> =
                    (0..samples.len()).map(|n| presentation(n, &samples)).collect();
                let mut first_of_segment = Vec::new();
                for (at, at_scale) in cuts {
                    let at = rescale_floor(at, at_scale, scale);
                    let nearest = match starts.binary_search(&at) {
                        Ok(n) => n,
                        Err(n) => {
                            let after = starts.get(n).copied().unwrap_or(end);
                            if n > 0 && at - starts[n - 1] <= after - at {
                                n - 1
                            } else {
                                n
                            }
                        }
                    };
                    if nearest == 0 || nearest >= samples.len() {
                        continue;
                    }
                    if first_of_segment.last().is_some_and(|&last| nearest <= last) {
                        continue;
                    }
                    first_of_segment.push(nearest);
                }
                let mut segment = 0;
                for (n, sample) in samples.iter_mut().enumerate() {
                    if first_of_segment.get(segment) == Some(&n) {
                        segment += 1;
                    }
                    sample.segment = segment;
                }
            }
        }

        let total_bytes: u64 = t.iter().map(|p| p.size).sum();
        let mut per_second: Vec<u64> = Vec::new();
        for (p, s) in t.iter().zip(&samples) {
            let second = (s.decode / u64::from(scale)) as usize;
            if per_second.len() <= second {
                per_second.resize(second + 1, 0);
            }
            per_second[second] += p.size * 8;
        }
        let segments = samples.last().map_or(0, |s| s.segment + 1);
        by_index[i] = Some(Plan {
            skip,
            samples,
            segments,
            peak_bits_per_second: per_second.into_iter().max().unwrap_or(0),
            total_bytes,
        });
    }
    for p in by_index {
        plans.push(p.expect("every source planned"));
    }
    Ok(plans)
}
