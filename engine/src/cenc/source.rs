//! Importing a plain MP4 for `abmark package`: any MP4, MOV or fragmented MP4 with H.264 video
//! and/or AAC audio becomes clear CMAF tracks on disk (`init.mp4` + `seg-<n>.m4s` per track,
//! written by the engine's own [`crate::cmaf`] writer), which the per-track encryption then
//! handles exactly like an `abmark variants` output.
//!
//! Packets are copied, never decoded or re-encoded. H.264 samples are rewritten only in their
//! framing: 1- or 2-byte NAL lengths become 4-byte ones (with the avcC to match) and Annex B
//! becomes length-prefixed, because the CMAF writer requires [`cmaf::NAL_LENGTH_SIZE`].
//!
//! Timing. Each track keeps its stream's time base (timescale = its denominator) and exact
//! durations (a sample lasts until the next packet's decode time). CMAF has no edit lists, so
//! both tracks are put on one timeline whose origin is the earliest presentation time of any
//! kept packet (typically the AAC priming frame, which an MP4 hides with an edit list): A/V sync
//! is kept with every packet present, and the first video frame is presented at the audio
//! priming length (about 21 ms) instead of 0. Decode times start at 0; a B-frame delay before
//! that origin is absorbed by negative composition offsets (`trun` version 1), the writer's
//! convention (see [`cmaf::Sample::composition_offset`]), so offsets are `pts - dts` minus that
//! delay.
//!
//! Two passes over the file: the first reads every packet's timing (and validates it: a
//! truncated or damaged file fails here, before anything is written), the second copies the
//! packets into segments, so memory holds one segment per track, never the whole file.

use std::path::{Path, PathBuf};

use ffmpeg::format::context::Input;
use ffmpeg::format::stream::Disposition;
use ffmpeg::{codec, media, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::cmaf::{self, AudioTrack, Sample, Track, VideoTrack, NAL_LENGTH_SIZE};

use super::error::CencError;

/// Which medium an imported track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
}

impl TrackKind {
    fn name(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        }
    }
}

/// One imported track.
#[derive(Debug, Clone)]
pub struct ImportedTrack {
    pub kind: TrackKind,
    /// Where `init.mp4` and `seg-<n>.m4s` (n from 1) were written.
    pub dir: PathBuf,
    /// As written into `init.mp4`.
    pub track: Track,
    /// RFC 6381 ([`Track::codec_string`]).
    pub codecs: String,
    pub timescale: u32,
    /// In `timescale` units, one per segment (the sum of its sample durations).
    pub segment_durations: Vec<u64>,
    pub segment_bytes: Vec<u64>,
}

/// What [`import_file`] wrote.
#[derive(Debug, Clone)]
pub struct Imported {
    pub video: Option<ImportedTrack>,
    pub audio: Option<ImportedTrack>,
    /// The video's frame rate (exact nominal rate, or the average for variable-rate streams).
    pub frame_rate: Option<(u32, u32)>,
}

/// Demuxes `input` (MP4/MOV/fMP4 with one H.264 video and/or one AAC audio stream; other
/// streams are ignored, with no video nor audio it is an error) and writes each track as CMAF
/// under `dir/video/` and `dir/audio/`, cutting video segments at the first keyframe at or after
/// every `segment_seconds`, and audio segments at the same times (nearest AAC frame boundary).
///
/// Every error is one line naming `input` (or the file that could not be written). Nothing is
/// written outside `dir`; nothing at all is written when the input is rejected (wrong codec,
/// missing, truncated or damaged file), since that is found by the first pass.
pub fn import_file(input: &Path, dir: &Path, segment_seconds: f64) -> Result<Imported, CencError> {
    if !(segment_seconds.is_finite() && segment_seconds > 0.0) {
        return Err(CencError::Usage(format!(
            "segment duration must be a positive number of seconds, not {segment_seconds}"
        )));
    }
    crate::media::init();
    let ictx = open(input)?;
    let mut sources = select_streams(&ictx, input)?;
    let frame_rate = sources.iter().find(|s| s.kind == TrackKind::Video).and_then(|s| s.frame_rate);

    // Pass 1: timing of every packet; validates the whole file before anything is written.
    let scanned = scan(ictx, input, &sources)?;
    for (source, first_key) in sources.iter_mut().zip(&scanned.first_key_data) {
        source.finish_config(input, first_key.as_deref())?;
    }
    let plans = plan(input, &sources, &scanned.timings, segment_seconds)?;

    let prepared = sources
        .iter()
        .zip(&plans)
        .map(|(source, plan)| prepare_track(input, source, plan))
        .collect::<Result<Vec<_>, _>>()?;

    // Pass 2: copy the packets into segments.
    let mut writers = Vec::with_capacity(sources.len());
    for (source, track) in sources.iter().zip(prepared) {
        writers.push(TrackWriter::new(dir, source, track)?);
    }
    copy_packets(open(input)?, input, &sources, &plans, &mut writers)?;

    let mut imported = Imported { video: None, audio: None, frame_rate };
    for writer in writers {
        let track = writer.finish();
        match track.kind {
            TrackKind::Video => imported.video = Some(track),
            TrackKind::Audio => imported.audio = Some(track),
        }
    }
    Ok(imported)
}

// ---------------------------------------------------------------------------------------------
// Opening and choosing streams.

fn open(path: &Path) -> Result<Input, CencError> {
    if path.to_str().is_none() {
        return Err(CencError::input(path, "the path is not valid UTF-8 (FFmpeg needs UTF-8)"));
    }
    let ictx = ffmpeg::format::input(path)
        .map_err(|e| CencError::input(path, format!("cannot open as media: {e}")))?;
    let format = ictx.format().name().to_owned();
    if !format.split(',').any(|n| n == "mov" || n == "mp4") {
        return Err(CencError::input(
            path,
            format!("not an MP4/MOV file (FFmpeg reads it as {format})"),
        ));
    }
    Ok(ictx)
}

/// How the samples of a track are framed in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Raw AAC frames, copied unchanged.
    Audio,
    /// Length-prefixed NAL units with lengths of this many bytes (1, 2 or 4).
    Avcc(u8),
    /// Start codes (and parameter sets from the extradata or the first keyframe).
    AnnexB,
}

/// One selected input stream and what its CMAF track will be.
struct Source {
    kind: TrackKind,
    index: usize,
    /// Packet timestamps are in `tb_num / timescale` seconds; ticks = timestamp * tb_num.
    tb_num: i64,
    timescale: u32,
    framing: Framing,
    extradata: Vec<u8>,
    frame_rate: Option<(u32, u32)>,
    /// Video: width, height, pixel aspect. Audio: unused.
    size: (u16, u16),
    pixel_aspect: Option<(u32, u32)>,
    /// Audio: sample rate, channels, bit rate from the codec parameters.
    sample_rate: u32,
    channels: u16,
    bit_rate: u64,
    /// The avcC (4-byte lengths) or AudioSpecificConfig, once known.
    config: Vec<u8>,
}

/// The first H.264 and the first AAC stream (FFmpeg's best of each medium when it has the right
/// codec). A video or audio stream in another codec is an error rather than silently dropped.
fn select_streams(ictx: &Input, path: &Path) -> Result<Vec<Source>, CencError> {
    let mut sources = Vec::new();
    for (medium, kind, id, wanted) in [
        (media::Type::Video, TrackKind::Video, codec::Id::H264, "H.264"),
        (media::Type::Audio, TrackKind::Audio, codec::Id::AAC, "AAC"),
    ] {
        let candidates: Vec<_> = ictx
            .streams()
            .filter(|s| s.parameters().medium() == medium)
            .filter(|s| !s.disposition().contains(Disposition::ATTACHED_PIC))
            .collect();
        let best = ictx.streams().best(medium).map(|s| s.index());
        let chosen = candidates
            .iter()
            .filter(|s| s.parameters().id() == id)
            .min_by_key(|s| (Some(s.index()) != best, s.index()));
        match (chosen, candidates.first()) {
            (Some(stream), _) => sources.push(describe(stream, kind, path)?),
            (None, Some(other)) => {
                return Err(CencError::input(
                    path,
                    format!(
                        "{} codec {} is not supported (only {wanted} is)",
                        kind.name(),
                        other.parameters().id().name()
                    ),
                ))
            }
            (None, None) => {}
        }
    }
    if sources.is_empty() {
        return Err(CencError::input(path, "has no video nor audio stream"));
    }
    Ok(sources)
}

fn describe(
    stream: &ffmpeg::Stream<'_>,
    kind: TrackKind,
    path: &Path,
) -> Result<Source, CencError> {
    let bad = |what: String| CencError::input(path, format!("{} stream: {what}", kind.name()));
    let tb = stream.time_base();
    let (tb_num, tb_den) = (tb.numerator(), tb.denominator());
    if tb_num <= 0 || tb_den <= 0 {
        return Err(bad(format!("unusable time base {tb_num}/{tb_den}")));
    }
    let params = stream.parameters();
    // SAFETY: `params` points at the stream's live AVCodecParameters; only plain fields and the
    // extradata buffer (extradata_size bytes) are read.
    let (width, height, sar, sample_rate, channels, bit_rate, extradata) = unsafe {
        let p = &*params.as_ptr();
        let extradata = if p.extradata.is_null() || p.extradata_size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
        };
        let sar = p.sample_aspect_ratio;
        let stream_sar = (*stream.as_ptr()).sample_aspect_ratio;
        let sar = if sar.num > 0 && sar.den > 0 { sar } else { stream_sar };
        (
            p.width,
            p.height,
            (sar.num, sar.den),
            p.sample_rate,
            p.ch_layout.nb_channels,
            p.bit_rate,
            extradata,
        )
    };
    let mut source = Source {
        kind,
        index: stream.index(),
        tb_num: i64::from(tb_num),
        timescale: tb_den as u32,
        framing: Framing::Audio,
        extradata,
        frame_rate: None,
        size: (0, 0),
        pixel_aspect: None,
        sample_rate: sample_rate.max(0) as u32,
        channels: channels.max(0) as u16,
        bit_rate: bit_rate.max(0) as u64,
        config: Vec::new(),
    };
    match kind {
        TrackKind::Video => {
            let size = |v: i32| u16::try_from(v).ok().filter(|&v| v > 0);
            let (Some(w), Some(h)) = (size(width), size(height)) else {
                return Err(bad(format!("unusable picture size {width}x{height}")));
            };
            source.size = (w, h);
            source.pixel_aspect = pixel_aspect(sar);
            source.frame_rate = pick_frame_rate(stream.rate(), stream.avg_frame_rate());
            source.framing = match source.extradata.first() {
                Some(1) => {
                    let config = cmaf::parse_avcc(&source.extradata)
                        .map_err(|e| bad(format!("bad avcC: {e}")))?;
                    Framing::Avcc(config.nal_length_size)
                }
                _ => Framing::AnnexB,
            };
        }
        TrackKind::Audio => {
            if source.extradata.is_empty() {
                return Err(bad("AAC without an AudioSpecificConfig".into()));
            }
        }
    }
    Ok(source)
}

impl Source {
    /// Builds the avcC / checks the AudioSpecificConfig, once the first keyframe is known
    /// (Annex B streams without extradata carry their parameter sets there).
    fn finish_config(&mut self, path: &Path, first_key: Option<&[u8]>) -> Result<(), CencError> {
        let bad =
            |what: String| CencError::input(path, format!("{} stream: {what}", self.kind.name()));
        match self.framing {
            Framing::Audio => {
                let asc = cmaf::parse_audio_specific_config(&self.extradata)
                    .map_err(|e| bad(e.to_string()))?;
                if self.sample_rate == 0 {
                    self.sample_rate = asc.sampling_frequency;
                }
                if self.channels == 0 {
                    self.channels = u16::from(asc.channel_configuration);
                }
                if self.sample_rate == 0 || self.channels == 0 {
                    return Err(bad("unknown sample rate or channel count".into()));
                }
                self.config = self.extradata.clone();
            }
            Framing::Avcc(length_size) => {
                let mut avcc = self.extradata.clone();
                if length_size != NAL_LENGTH_SIZE {
                    // Byte 4: 6 reserved bits (all ones) and lengthSizeMinusOne.
                    avcc[4] = 0xfc | (NAL_LENGTH_SIZE - 1);
                }
                self.config = avcc;
            }
            Framing::AnnexB => {
                let from = if self.extradata.is_empty() {
                    first_key.ok_or_else(|| {
                        bad("no parameter sets (no extradata, no keyframe)".into())
                    })?
                } else {
                    &self.extradata
                };
                self.config = cmaf::avcc_from_annexb(from)
                    .map_err(|e| bad(format!("no usable SPS/PPS: {e}")))?;
            }
        }
        Ok(())
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `Some((h, v))` for a known, non-square sample aspect ratio, reduced.
fn pixel_aspect((num, den): (i32, i32)) -> Option<(u32, u32)> {
    let (num, den) = (u32::try_from(num).ok()?, u32::try_from(den).ok()?);
    if num == 0 || den == 0 || num == den {
        return None;
    }
    let g = gcd(num, den);
    Some((num / g, den / g))
}

/// The exact nominal rate when it agrees with the average within 1%, else the average (as
/// `media::probe` does).
fn pick_frame_rate(real: Rational, average: Rational) -> Option<(u32, u32)> {
    let valid = |r: Rational| r.numerator() > 0 && r.denominator() > 0;
    let rate = match (valid(real), valid(average)) {
        (true, true) => {
            let (r, a) = (f64::from(real), f64::from(average));
            if (r - a).abs() <= 0.01 * a {
                real
            } else {
                average
            }
        }
        (true, false) => real,
        (false, true) => average,
        (false, false) => return None,
    };
    Some((rate.numerator() as u32, rate.denominator() as u32))
}

// ---------------------------------------------------------------------------------------------
// Pass 1: timing.

/// One packet's timing, in ticks of its track's timescale.
#[derive(Debug, Clone, Copy)]
struct Timing {
    dts: i64,
    pts: i64,
    /// As the container states it (0 when unknown).
    duration: i64,
    key: bool,
    size: u64,
}

struct Scanned {
    /// Per source, every non-empty packet in decode order.
    timings: Vec<Vec<Timing>>,
    /// Per source, the first keyframe's data when it is needed for the parameter sets.
    first_key_data: Vec<Option<Vec<u8>>>,
}

/// Which source, if any, reads stream `index`.
fn source_of(sources: &[Source], index: usize) -> Option<usize> {
    sources.iter().position(|s| s.index == index)
}

/// Reads the next packet; `None` at the end. Errors name the packets read so far.
fn next_packet(ictx: &mut Input, path: &Path, read: usize) -> Result<Option<Packet>, CencError> {
    let mut packet = Packet::empty();
    match packet.read(ictx) {
        Ok(()) => Ok(Some(packet)),
        Err(ffmpeg::Error::Eof) => Ok(None),
        Err(e) => Err(CencError::input(path, format!("read failed after {read} packets: {e}"))),
    }
}

fn scan(mut ictx: Input, path: &Path, sources: &[Source]) -> Result<Scanned, CencError> {
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

// ---------------------------------------------------------------------------------------------
// Planning: decode times, durations, offsets and segments.

/// One sample as it will be written.
#[derive(Debug, Clone, Copy)]
struct Planned {
    decode: u64,
    duration: u32,
    offset: i32,
    sync: bool,
    /// Index of the segment it goes in (0-based).
    segment: usize,
}

struct Plan {
    /// Leading packets left out (video before its first keyframe: nothing can decode them).
    skip: usize,
    samples: Vec<Planned>,
    segments: usize,
    /// Peak bits in any one second of decode time.
    peak_bits_per_second: u64,
    total_bytes: u64,
}

/// Floor of `ticks * to / from` (a time moved between timescales, rounded down).
fn rescale_floor(ticks: i64, from: u32, to: u32) -> i64 {
    (i128::from(ticks) * i128::from(to)).div_euclid(i128::from(from)) as i64
}

fn plan(
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

// ---------------------------------------------------------------------------------------------
// Pass 2: copying.

struct TrackWriter {
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
fn prepare_track(
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
    let bad =
        |e: cmaf::CmafError| CencError::input(input, format!("{} stream: {e}", source.kind.name()));
    let init = cmaf::init_segment(&track).map_err(bad)?;
    let codecs = track.codec_string().map_err(bad)?;
    Ok((track, init, codecs))
}

impl TrackWriter {
    /// Creates the track's directory and writes `init.mp4`.
    fn new(
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

    fn finish(self) -> ImportedTrack {
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

fn copy_packets(
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

/// One input sample as a CMAF sample: AAC unchanged; H.264 with 4-byte NAL lengths.
fn frame(framing: Framing, data: &[u8]) -> Result<Vec<u8>, String> {
    match framing {
        Framing::Audio => Ok(data.to_vec()),
        Framing::AnnexB => cmaf::annexb_to_avcc(data, true).map_err(|e| e.to_string()),
        Framing::Avcc(size) => match relength(data, usize::from(size)) {
            Some(out) => Ok(out),
            // Some muxers store Annex B samples under an avcC: convert rather than copy garbage.
            None if data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1]) => {
                cmaf::annexb_to_avcc(data, true).map_err(|e| e.to_string())
            }
            None => Err("NAL unit lengths do not add up to the sample size (damaged data)".into()),
        },
    }
}

/// Re-prefixes every NAL unit of a length-prefixed sample with a 4-byte length, checking that
/// the lengths walk the sample exactly. `None` if they do not.
fn relength(data: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 8);
    let mut pos = 0;
    while pos < data.len() {
        let prefix = data.get(pos..pos + size)?;
        let len = prefix.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        let nal = data.get(pos + size..pos + size + len)?;
        // Zero-length units (padding some muxers leave) carry nothing: dropped.
        if !nal.is_empty() {
            out.extend_from_slice(&(len as u32).to_be_bytes());
            out.extend_from_slice(nal);
        }
        pos += size + len;
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::*;

    fn dataset() -> PathBuf {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/cache/abmark-720p-short.mp4");
        assert!(
            path.exists(),
            "{} is missing: fetch the datasets before the tests",
            path.display()
        );
        path
    }

    fn ffmpeg(args: &[&str]) {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg runs");
        assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Makes a test input from the dataset: `ffmpeg -i DATASET <args> OUT`.
    fn make_input(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
        let out = dir.join(name);
        let source = dataset();
        let mut all = vec!["-i", source.to_str().unwrap()];
        all.extend_from_slice(args);
        all.push(out.to_str().unwrap());
        ffmpeg(&all);
        out
    }

    /// (size, md5) of every line of `ffmpeg -i <input> <args> -f framemd5 -`; `stdin` is fed to
    /// `pipe:0` when given.
    fn framemd5(input: &str, args: &[&str], stdin: Option<Vec<u8>>) -> Vec<(u64, String)> {
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-i", input])
            .args(args)
            .args(["-f", "framemd5", "-"])
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ffmpeg runs");
        let feeder = stdin.map(|bytes| {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
        let out = child.wait_with_output().unwrap();
        if let Some(f) = feeder {
            f.join().unwrap();
        }
        assert!(
            out.status.success(),
            "framemd5 of {input}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                // stream, dts, pts, duration, size, hash[, S=n, side data size, hash...]: the
                // side data (AAC skip samples, from an edit list) is not part of the packet.
                let fields: Vec<&str> = l.split(',').map(str::trim).collect();
                (fields[4].parse().unwrap(), fields[5].to_owned())
            })
            .collect()
    }

    /// The decode span of one stream of `input` in its time base: from the first packet's
    /// decode time to the end of the last packet (each packet lasts until the next one).
    fn stream_duration(input: &Path, selector: &str) -> u64 {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", selector])
            .args(["-show_entries", "packet=dts,duration", "-of", "csv=p=0"])
            .arg(input)
            .output()
            .unwrap();
        let packets: Vec<(i64, Option<i64>)> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].parse().unwrap(), f[1].parse().ok())
            })
            .collect();
        let (first, (last, last_duration)) = (packets[0].0, packets[packets.len() - 1]);
        (last + last_duration.expect("the last packet has a duration") - first) as u64
    }

    /// Earliest presentation time of one stream of `input`, in seconds.
    fn first_pts(input: &Path, selector: &str) -> f64 {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", selector])
            .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
            .arg(input)
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.trim_end_matches(',').parse::<f64>().ok())
            .fold(f64::INFINITY, f64::min)
    }

    fn read_track(t: &ImportedTrack) -> (Vec<u8>, Vec<cmaf::Fragment>) {
        let mut all = std::fs::read(t.dir.join("init.mp4")).unwrap();
        let init = cmaf::read_init(&all).unwrap();
        assert_eq!(init.track, t.track);
        let mut fragments = Vec::new();
        for n in 1..=t.segment_durations.len() {
            let bytes = std::fs::read(t.dir.join(format!("seg-{n}.m4s"))).unwrap();
            assert_eq!(bytes.len() as u64, t.segment_bytes[n - 1]);
            let mut f = cmaf::read_fragments(&bytes).unwrap();
            assert_eq!(f.len(), 1, "one fragment per segment");
            fragments.push(f.remove(0));
            all.extend_from_slice(&bytes);
        }
        assert!(!t.dir.join(format!("seg-{}.m4s", t.segment_durations.len() + 1)).exists());
        (all, fragments)
    }

    /// Imports `input` and checks it against FFmpeg's view of the same file.
    fn check_import(input: &Path, segment_seconds: f64, has_audio: bool) -> Imported {
        let out = tempfile::tempdir().unwrap();
        let imported = import_file(input, out.path(), segment_seconds).unwrap();
        let input_str = input.to_str().unwrap();
        assert_eq!(imported.frame_rate, Some((25, 1)));

        // Video.
        let video = imported.video.as_ref().expect("a video track");
        assert_eq!(video.kind, TrackKind::Video);
        assert_eq!(video.dir, out.path().join("video"));
        assert_eq!(video.timescale, 12800);
        assert!(video.codecs.starts_with("avc1.64"), "{}", video.codecs);
        let Track::Video(v) = &video.track else { panic!("not a video track") };
        assert_eq!((v.width, v.height, v.pixel_aspect), (1280, 720, None));
        let (bytes, fragments) = read_track(video);
        // (a) every segment starts with a sync sample; decode times are contiguous.
        let mut next = 0;
        for (n, f) in fragments.iter().enumerate() {
            assert!(f.samples[0].is_sync, "video seg-{} starts with a non-sync sample", n + 1);
            assert_eq!(f.base_media_decode_time, next);
            let d: u64 = f.samples.iter().map(|s| u64::from(s.duration)).sum();
            assert_eq!(d, video.segment_durations[n]);
            next += d;
        }
        // (b) same decoded pictures as the input.
        let expected = framemd5(input_str, &["-map", "0:v"], None);
        let got = framemd5("pipe:0", &[], Some(bytes));
        assert_eq!(got.len(), expected.len(), "video frame count");
        assert!(got == expected, "decoded video differs from the input's");
        // (c) durations add up to the input's.
        let total = stream_duration(input, "v");
        assert_eq!(video.segment_durations.iter().sum::<u64>(), total, "video duration");
        // (d) cuts at the first keyframe at or after each multiple of segment_seconds.
        let scale = f64::from(video.timescale);
        let pres = |f: &cmaf::Fragment, s: usize| {
            let decode = f.base_media_decode_time
                + f.samples[..s].iter().map(|s| u64::from(s.duration)).sum::<u64>();
            (decode as f64 + f64::from(f.samples[s].composition_offset)) / scale
        };
        let mut keyframes = Vec::new();
        for (n, f) in fragments.iter().enumerate() {
            for s in (0..f.samples.len()).filter(|&s| f.samples[s].is_sync) {
                keyframes.push((pres(f, s), n, s));
            }
        }
        let mut expected_starts = vec![keyframes[0].0];
        let mut grid = segment_seconds;
        for &(t, _, _) in &keyframes[1..] {
            if t >= grid - 1e-9 {
                expected_starts.push(t);
                grid = ((t / segment_seconds) + 1e-9).floor() * segment_seconds + segment_seconds;
            }
        }
        let starts: Vec<f64> = fragments.iter().map(|f| pres(f, 0)).collect();
        assert_eq!(starts, expected_starts, "video segment starts");
        for (n, d) in video.segment_durations.iter().enumerate() {
            println!("video seg-{}: starts {:.3} s, {:.3} s", n + 1, starts[n], *d as f64 / scale);
        }

        // Audio.
        assert_eq!(imported.audio.is_some(), has_audio);
        if let Some(audio) = &imported.audio {
            assert_eq!(audio.dir, out.path().join("audio"));
            assert_eq!(audio.codecs, "mp4a.40.2");
            assert_eq!(audio.timescale, 48000);
            let Track::Audio(a) = &audio.track else { panic!("not an audio track") };
            assert_eq!((a.sample_rate, a.channels), (48000, 2));
            assert!(a.avg_bitrate > 100_000 && a.max_bitrate >= a.avg_bitrate, "{a:?}");
            let (bytes, fragments) = read_track(audio);
            let mut next = 0;
            for (n, f) in fragments.iter().enumerate() {
                assert!(f.samples[0].is_sync);
                assert_eq!(f.base_media_decode_time, next);
                let d: u64 = f.samples.iter().map(|s| u64::from(s.duration)).sum();
                assert_eq!(d, audio.segment_durations[n]);
                next += d;
            }
            // (b) the same AAC frames, in order.
            let expected = framemd5(input_str, &["-map", "0:a", "-c", "copy"], None);
            let got = framemd5("pipe:0", &["-c", "copy"], Some(bytes));
            assert!(got == expected, "audio packets differ ({} vs {})", got.len(), expected.len());
            // (c)
            let total = stream_duration(input, "a");
            assert_eq!(audio.segment_durations.iter().sum::<u64>(), total, "audio duration");
            // (d) cut where the video is, to the nearest frame (half a frame = 512 ticks).
            assert_eq!(fragments.len(), starts.len(), "as many audio as video segments");
            for (f, video_start) in fragments.iter().zip(&starts).skip(1) {
                let start = f.base_media_decode_time as f64 / 48000.0;
                assert!((start - video_start).abs() <= 512.5 / 48000.0, "{start} vs {video_start}");
            }
            // A/V sync as in the input: the same gap between the first picture and audio frame.
            let (v0, a0) = (first_pts(input, "v"), first_pts(input, "a"));
            let origin = v0.min(a0);
            let first_audio = fragments[0].base_media_decode_time as f64 / 48000.0;
            assert!((first_audio - (a0 - origin)).abs() < 1e-6, "{first_audio} vs {a0}");
            assert!((starts[0] - (v0 - origin)).abs() < 1.0 / 12800.0, "{} vs {v0}", starts[0]);
            println!("input starts: video {v0} s, audio {a0} s; output video at {} s", starts[0]);
        }
        imported
    }

    #[test]
    fn imports_regular_mp4() {
        let tmp = tempfile::tempdir().unwrap();
        let input = make_input(tmp.path(), "regular.mp4", &["-t", "9", "-c", "copy"]);
        let imported = check_import(&input, 2.0, true);
        assert!(imported.video.unwrap().segment_durations.len() >= 3);
    }

    #[test]
    fn imports_fragmented_mp4() {
        let tmp = tempfile::tempdir().unwrap();
        let input = make_input(
            tmp.path(),
            "fragmented.mp4",
            &["-t", "9", "-c", "copy", "-movflags", "+frag_keyframe+empty_moov+default_base_moof"],
        );
        check_import(&input, 4.0, true);
    }

    #[test]
    fn imports_video_only() {
        let tmp = tempfile::tempdir().unwrap();
        let input = make_input(tmp.path(), "video.mp4", &["-t", "9", "-an", "-c", "copy"]);
        check_import(&input, 3.0, false);
    }

    #[test]
    fn imports_audio_only() {
        let tmp = tempfile::tempdir().unwrap();
        let input = make_input(tmp.path(), "audio.mp4", &["-t", "9", "-vn", "-c", "copy"]);
        let out = tempfile::tempdir().unwrap();
        let imported = import_file(&input, out.path(), 2.0).unwrap();
        assert!(imported.video.is_none() && imported.frame_rate.is_none());
        let audio = imported.audio.unwrap();
        let (bytes, fragments) = read_track(&audio);
        let expected = framemd5(input.to_str().unwrap(), &["-map", "0:a", "-c", "copy"], None);
        assert!(framemd5("pipe:0", &["-c", "copy"], Some(bytes)) == expected);
        assert_eq!(audio.segment_durations.iter().sum::<u64>(), stream_duration(&input, "a"));
        // Cut every 2 s on the grid, to the nearest frame.
        assert_eq!(fragments.len(), 5);
        for (k, f) in fragments.iter().enumerate() {
            let start = f.base_media_decode_time as f64;
            assert!((start - k as f64 * 96000.0).abs() <= 512.0, "seg-{}: {start}", k + 1);
        }
    }

    fn assert_rejected(input: &Path, needle: &str) {
        let out = tempfile::tempdir().unwrap();
        let err = import_file(input, out.path(), 2.0).expect_err("must be rejected").to_string();
        println!("{err}");
        assert!(err.contains(input.to_str().unwrap()), "names the file: {err}");
        assert!(err.contains(needle), "says '{needle}': {err}");
        assert!(!err.contains('\n'), "one line: {err}");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing written");
    }

    #[test]
    fn rejects_hevc_mp3_missing_and_truncated() {
        let tmp = tempfile::tempdir().unwrap();
        let hevc = make_input(
            tmp.path(),
            "hevc.mp4",
            &[
                "-t",
                "2",
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error",
                "-c:a",
                "copy",
            ],
        );
        assert_rejected(&hevc, "video codec hevc is not supported");
        let mp3 =
            make_input(tmp.path(), "mp3.mp4", &["-t", "2", "-c:v", "copy", "-c:a", "libmp3lame"]);
        assert_rejected(&mp3, "audio codec mp3 is not supported");
        assert_rejected(&tmp.path().join("absent.mp4"), "cannot open");

        let whole =
            |name: &str, args: &[&str]| std::fs::read(make_input(tmp.path(), name, args)).unwrap();
        let cut = |name: &str, bytes: &[u8], keep: usize| {
            let path = tmp.path().join(name);
            std::fs::write(&path, &bytes[..keep]).unwrap();
            path
        };
        // moov at the end (FFmpeg's default): no header.
        let plain = whole("plain.mp4", &["-t", "4", "-c", "copy"]);
        assert_rejected(&cut("plain-cut.mp4", &plain, plain.len() / 2), "cannot open");
        // moov first: the sample tables list data that is not there.
        let faststart =
            whole("faststart.mp4", &["-t", "4", "-c", "copy", "-movflags", "+faststart"]);
        assert_rejected(&cut("faststart-cut.mp4", &faststart, faststart.len() / 2), "truncated");
        // Fragmented, cut inside a fragment.
        let frag = whole(
            "frag.mp4",
            &["-t", "4", "-c", "copy", "-movflags", "+frag_keyframe+empty_moov+default_base_moof"],
        );
        assert_rejected(&cut("frag-cut.mp4", &frag, frag.len() * 2 / 3), "truncated");
        // Not media at all.
        let junk = tmp.path().join("junk.mp4");
        std::fs::write(&junk, b"not a movie").unwrap();
        assert_rejected(&junk, "cannot open");
    }

    #[test]
    fn framing_becomes_four_byte_lengths() {
        // Two NAL units with 2-byte lengths.
        let two = [0, 2, 0x65, 0x88, 0, 1, 0x06];
        assert_eq!(
            frame(Framing::Avcc(2), &two).unwrap(),
            [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06]
        );
        let one = [2, 0x65, 0x88];
        assert_eq!(frame(Framing::Avcc(1), &one).unwrap(), [0, 0, 0, 2, 0x65, 0x88]);
        // Four-byte samples are copied as they are.
        let four = [0, 0, 0, 2, 0x41, 0x9a];
        assert_eq!(frame(Framing::Avcc(4), &four).unwrap(), four);
        // Annex B, whether declared or found under an avcC.
        let annexb = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88];
        assert_eq!(frame(Framing::AnnexB, &annexb).unwrap(), [0, 0, 0, 2, 0x65, 0x88]);
        assert_eq!(frame(Framing::Avcc(4), &annexb).unwrap(), [0, 0, 0, 2, 0x65, 0x88]);
        // Lengths past the end: damaged.
        assert!(frame(Framing::Avcc(4), &[0, 0, 0, 9, 0x65]).is_err());
        assert!(frame(Framing::Avcc(2), &[0, 2, 0x65]).is_err());
    }

    #[test]
    fn pixel_aspect_and_frame_rate() {
        assert_eq!(pixel_aspect((1, 1)), None);
        assert_eq!(pixel_aspect((0, 1)), None);
        assert_eq!(pixel_aspect((64, 45)), Some((64, 45)));
        assert_eq!(pixel_aspect((32, 24)), Some((4, 3)));
        let r = |n, d| Rational::new(n, d);
        assert_eq!(pick_frame_rate(r(30000, 1001), r(2997, 100)), Some((30000, 1001)));
        assert_eq!(pick_frame_rate(r(90, 1), r(25, 1)), Some((25, 1)));
        assert_eq!(pick_frame_rate(r(0, 0), r(0, 0)), None);
    }

    #[test]
    fn rejects_bad_segment_duration() {
        let out = tempfile::tempdir().unwrap();
        assert!(import_file(&dataset(), out.path(), 0.0).is_err());
        assert!(import_file(&dataset(), out.path(), f64::NAN).is_err());
    }
}
