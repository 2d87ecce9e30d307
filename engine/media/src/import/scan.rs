//! The first pass: every packet's timing, read and validated before anything is written
//! (corrupt or truncated data, missing timestamps, decode times that do not increase, damaged
//! H.264 framing), plus the first keyframe of Annex B streams that carry their parameter sets
//! there.

use std::path::Path;

use ffmpeg::format::context::Input;
use ffmpeg_next as ffmpeg;

use super::framing::{frame, Framing};
use super::streams::{next_packet, source_of, Source};
use super::{CencError, TrackKind};

/// One packet's timing, in ticks of its track's timescale.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub(super) dts: i64,
    pub(super) pts: i64,
    /// As the container states it (0 when unknown).
    pub(super) duration: i64,
    pub(super) key: bool,
    pub(super) size: u64,
}

pub(super) struct Scanned {
    /// Per source, every non-empty packet in decode order.
    pub(super) timings: Vec<Vec<Timing>>,
    /// Per source, the first keyframe's data when it is needed for the parameter sets.
    pub(super) first_key_data: Vec<Option<Vec<u8>>>,
}

pub(super) fn scan(mut ictx: Input, path: &Path, sources: &[Source]) -> Result<Scanned, CencError> {
    let mut timings: Vec<Vec<Timing>> = sources.iter().map(|_| Vec::new()).collect();
    // Every packet of each source, empty ones included (they are in the demuxer's index too).
    let mut counts = vec![0i64; sources.len()];
    let mut first_key_data: Vec<Option<Vec<u8>>> = sources.iter().map(|_| None).collect();
    let mut read = 0usize;
    while let Some(packet) = next_packet(&mut ictx, path, read)? {
        read += 1;
        let Some(i) = source_of(sources, packet.stream()) else { continue };
        counts[i] += 1;
        let source = &sources[i];
        let kind = source.kind;
        let n = timings[i].len() + 1;
        if packet.is_corrupt() {
            return Err(CencError::input(
                path,
                format!("truncated or damaged: {} packet {n} is incomplete", kind.name()),
            ));
        }
        let Some(data) = packet.data().filter(|d| !d.is_empty()) else { continue };
        let Some(dts) = packet.dts().or(packet.pts()) else {
            return Err(CencError::input(
                path,
                format!("{} packet {n} has no timestamp", kind.name()),
            ));
        };
        let pts = packet.pts().unwrap_or(dts);
        let tb = source.tb_num;
        let timing = Timing {
            dts: dts.saturating_mul(tb),
            pts: pts.saturating_mul(tb),
            duration: packet.duration().max(0).saturating_mul(tb),
            key: packet.is_key() || kind == TrackKind::Audio,
            size: data.len() as u64,
        };
        if let Some(prev) = timings[i].last() {
            if timing.dts <= prev.dts {
                return Err(CencError::input(
                    path,
                    format!("{} packet {n}: decode times do not increase", kind.name()),
                ));
            }
        }
        // Damaged H.264 framing is found here, before anything is written.
        if kind == TrackKind::Video {
            frame(source.framing, data).map_err(|what| {
                CencError::input(path, format!("{} packet {n}: {what}", kind.name()))
            })?;
        }
        if timing.key
            && source.framing == Framing::AnnexB
            && source.extradata.is_empty()
            && first_key_data[i].is_none()
        {
            first_key_data[i] = Some(data.to_vec());
        }
        timings[i].push(timing);
    }

    for (i, source) in sources.iter().enumerate() {
        let got = timings[i].len();
        let name = source.kind.name();
        if got == 0 {
            return Err(CencError::input(path, format!("the {name} stream has no packets")));
        }
        // The demuxer's index (the sample tables, after edit-list fixing; for fragments, the
        // `trun`s parsed so far) lists more samples than could be read: the data is cut off.
        // (The sample tables' own count is not used: edit lists may leave samples out.)
        let indexed = ictx
            .stream(source.index)
            // SAFETY: a live stream of the open input.
            .map(|s| unsafe { ffmpeg::ffi::avformat_index_get_entries_count(s.as_ptr()) })
            .map_or(0, i64::from);
        if counts[i] < indexed {
            return Err(CencError::input(
                path,
                format!("truncated: only {} of {indexed} {name} packets are present", counts[i]),
            ));
        }
    }
    Ok(Scanned { timings, first_key_data })
}
