//! The second pass: each track's CMAF `init.mp4` and [`TrackWriter`], which copies the packets
//! (reframed) into `seg-<n>.m4s` segments as planned, holding one segment in memory at a time.

use std::path::{Path, PathBuf};

use ffmpeg::format::context::Input;
use ffmpeg_next as ffmpeg;

use abmark_bmff::cmaf::{self, AudioTrack, Sample, Track, VideoTrack};

use super::framing::{frame, Framing};
use super::plan::Plan;
use super::streams::{next_packet, source_of, Source};
use super::{CencError, ImportedTrack, TrackKind};

pub(super) struct TrackWriter {
    kind: TrackKind,
    dir: PathBuf,
    track: Track,
    codecs: String,
    framing: Framing,
    current: Vec<Sample>,
    current_segment: usize,
    /// Decode time of the first sample of `current`.
    current_start: u64,
    /// Packets of this stream seen so far (skipped ones included).
    seen: usize,
    segment_durations: Vec<u64>,
    segment_bytes: Vec<u64>,
}

/// The CMAF track of `source`, its `init.mp4` bytes and codec string (no I/O: every track is
/// checked before the first file is written).
pub(super) fn prepare_track(
    input: &Path,
    source: &Source,
    plan: &Plan,
) -> Result<(Track, Vec<u8>, String), CencError> {
    let track = match source.kind {
        TrackKind::Video => Track::Video(VideoTrack {
            track_id: 1,
            timescale: source.timescale,
            width: source.size.0,
            height: source.size.1,
            avcc: source.config.clone(),
            pixel_aspect: source.pixel_aspect,
        }),
        TrackKind::Audio => {
            let duration: u64 = plan.samples.iter().map(|s| u64::from(s.duration)).sum();
            let computed = (plan.total_bytes * 8 * u64::from(source.timescale))
                .checked_div(duration)
                .unwrap_or(0);
            let avg = if source.bit_rate > 0 { source.bit_rate } else { computed };
            let max = plan.peak_bits_per_second.max(avg);
            Track::Audio(AudioTrack {
                track_id: 1,
                timescale: source.timescale,
                sample_rate: source.sample_rate,
                channels: source.channels,
                audio_specific_config: source.config.clone(),
                max_bitrate: u32::try_from(max).unwrap_or(u32::MAX),
                avg_bitrate: u32::try_from(avg).unwrap_or(u32::MAX),
            })
        }
    };
    let bad = |e: abmark_bmff::BmffError| {
        CencError::input(input, format!("{} stream: {e}", source.kind.name()))
    };
    let init = cmaf::init_segment(&track).map_err(bad)?;
    let codecs = track.codec_string().map_err(bad)?;
    Ok((track, init, codecs))
}

impl TrackWriter {
    /// Creates the track's directory and writes `init.mp4`.
    pub(super) fn new(
        dir: &Path,
        source: &Source,
        (track, init, codecs): (Track, Vec<u8>, String),
    ) -> Result<Self, CencError> {
        let dir = dir.join(source.kind.name());
        std::fs::create_dir_all(&dir).map_err(|e| CencError::io(&dir, e))?;
        let path = dir.join("init.mp4");
        std::fs::write(&path, init).map_err(|e| CencError::io(&path, e))?;
        Ok(Self {
            kind: source.kind,
            dir,
            track,
            codecs,
            framing: source.framing,
            current: Vec::new(),
            current_segment: 0,
            current_start: 0,
            seen: 0,
            segment_durations: Vec::new(),
            segment_bytes: Vec::new(),
        })
    }

    fn push(&mut self, input: &Path, plan: &Plan, data: &[u8]) -> Result<(), CencError> {
        let n = self.seen;
        self.seen += 1;
        if n < plan.skip {
            return Ok(());
        }
        let name = self.kind.name();
        let planned = plan.samples.get(n - plan.skip).ok_or_else(|| {
            CencError::input(input, format!("more {name} packets than on the first read"))
        })?;
        let data = frame(self.framing, data)
            .map_err(|what| CencError::input(input, format!("{name} packet {}: {what}", n + 1)))?;
        if planned.segment != self.current_segment {
            self.flush()?;
            self.current_segment = planned.segment;
        }
        if self.current.is_empty() {
            self.current_start = planned.decode;
        }
        self.current.push(Sample {
            data,
            duration: planned.duration,
            composition_offset: planned.offset,
            is_sync: planned.sync,
        });
        Ok(())
    }

    fn flush(&mut self) -> Result<(), CencError> {
        if self.current.is_empty() {
            return Ok(());
        }
        let sequence = self.segment_durations.len() + 1;
        let first = self.current_start;
        let path = self.dir.join(format!("seg-{sequence}.m4s"));
        let bytes = cmaf::media_segment(1, sequence as u32, first, &self.current)
            .map_err(|e| CencError::Media { path: path.clone(), source: e })?;
        std::fs::write(&path, &bytes).map_err(|e| CencError::io(&path, e))?;
        self.segment_durations.push(self.current.iter().map(|s| u64::from(s.duration)).sum());
        self.segment_bytes.push(bytes.len() as u64);
        self.current.clear();
        Ok(())
    }

    pub(super) fn finish(self) -> ImportedTrack {
        ImportedTrack {
            kind: self.kind,
            dir: self.dir,
            timescale: self.track.timescale(),
            track: self.track,
            codecs: self.codecs,
            segment_durations: self.segment_durations,
            segment_bytes: self.segment_bytes,
        }
    }
}

pub(super) fn copy_packets(
    mut ictx: Input,
    input: &Path,
    sources: &[Source],
    plans: &[Plan],
    writers: &mut [TrackWriter],
) -> Result<(), CencError> {
    let mut read = 0usize;
    while let Some(packet) = next_packet(&mut ictx, input, read)? {
        read += 1;
        let Some(i) = source_of(sources, packet.stream()) else { continue };
        if packet.is_corrupt() {
            return Err(CencError::input(
                input,
                "changed while reading (a packet is now incomplete)",
            ));
        }
        let Some(data) = packet.data().filter(|d| !d.is_empty()) else { continue };
        writers[i].push(input, &plans[i], data)?;
    }
    for (writer, plan) in writers.iter_mut().zip(plans) {
        if writer.seen != plan.skip + plan.samples.len() {
            return Err(CencError::input(
                input,
                format!("changed while reading ({} packets differ)", writer.kind.name()),
            ));
        }
        writer.flush()?;
        debug_assert_eq!(writer.segment_durations.len(), plan.segments);
    }
    Ok(())
}
