//! Opening the input and choosing its streams: the MP4/MOV check, the H.264 and AAC stream
//! picked for import and what each becomes as a CMAF track ([`Source`]: time base, framing,
//! picture size, pixel aspect, frame rate, audio parameters, the avcC or AudioSpecificConfig),
//! and reading packets, shared by both passes.

use std::path::Path;

use ffmpeg::format::context::Input;
use ffmpeg::format::stream::Disposition;
use ffmpeg::{codec, media, Packet, Rational};
use ffmpeg_next as ffmpeg;

use abmark_bmff::h264::NAL_LENGTH_SIZE;

use super::framing::Framing;
use super::{CencError, TrackKind};

pub(super) fn open(path: &Path) -> Result<Input, CencError> {
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

/// One selected input stream and what its CMAF track will be.
pub(super) struct Source {
    pub(super) kind: TrackKind,
    pub(super) index: usize,
    /// Packet timestamps are in `tb_num / timescale` seconds; ticks = timestamp * tb_num.
    pub(super) tb_num: i64,
    pub(super) timescale: u32,
    pub(super) framing: Framing,
    pub(super) extradata: Vec<u8>,
    pub(super) frame_rate: Option<(u32, u32)>,
    /// Video: width, height, pixel aspect. Audio: unused.
    pub(super) size: (u16, u16),
    pub(super) pixel_aspect: Option<(u32, u32)>,
    /// Audio: sample rate, channels, bit rate from the codec parameters.
    pub(super) sample_rate: u32,
    pub(super) channels: u16,
    pub(super) bit_rate: u64,
    /// The avcC (4-byte lengths) or AudioSpecificConfig, once known.
    pub(super) config: Vec<u8>,
}

/// The first H.264 and the first AAC stream (FFmpeg's best of each medium when it has the right
/// codec). A video or audio stream in another codec is an error rather than silently dropped.
pub(super) fn select_streams(ictx: &Input, path: &Path) -> Result<Vec<Source>, CencError> {
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
                    let config = abmark_bmff::h264::parse_avcc(&source.extradata)
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
    pub(super) fn finish_config(
        &mut self,
        path: &Path,
        first_key: Option<&[u8]>,
    ) -> Result<(), CencError> {
        let bad =
            |what: String| CencError::input(path, format!("{} stream: {what}", self.kind.name()));
        match self.framing {
            Framing::Audio => {
                let asc = abmark_bmff::aac::parse_audio_specific_config(&self.extradata)
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
                self.config = abmark_bmff::h264::avcc_from_annexb(from)
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
pub(super) fn pixel_aspect((num, den): (i32, i32)) -> Option<(u32, u32)> {
    let (num, den) = (u32::try_from(num).ok()?, u32::try_from(den).ok()?);
    if num == 0 || den == 0 || num == den {
        return None;
    }
    let g = gcd(num, den);
    Some((num / g, den / g))
}

/// The exact nominal rate when it agrees with the average within 1%, else the average (as
/// `media::probe` does).
pub(super) fn pick_frame_rate(real: Rational, average: Rational) -> Option<(u32, u32)> {
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

/// Which source, if any, reads stream `index`.
pub(super) fn source_of(sources: &[Source], index: usize) -> Option<usize> {
    sources.iter().position(|s| s.index == index)
}

/// Reads the next packet; `None` at the end. Errors name the packets read so far.
pub(super) fn next_packet(
    ictx: &mut Input,
    path: &Path,
    read: usize,
) -> Result<Option<Packet>, CencError> {
    let mut packet = Packet::empty();
    match packet.read(ictx) {
        Ok(()) => Ok(Some(packet)),
        Err(ffmpeg::Error::Eof) => Ok(None),
        Err(e) => Err(CencError::input(path, format!("read failed after {read} packets: {e}"))),
    }
}
