//! Integration tests of `abmark_bmff` on real H.264 and AAC made with the ffmpeg CLI.
//!
//! Video comes from FFmpeg's own fragmented MP4 (libx264, a closed GOP of 25 frames): its avcC
//! and samples are read back with our reader, rewritten with our writer as `init.mp4` + 25-frame
//! segments, and the concatenation must probe, decode without a message and give frames with the
//! same MD5s as FFmpeg's file. Audio comes from an ADTS stream (no container at all). The suite
//! needs only the `ffmpeg`/`ffprobe` binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use abmark_bmff::aac::{aac_codec_string, parse_audio_specific_config};
use abmark_bmff::boxes::{find_all, read_boxes, require_box, BoxRef};
use abmark_bmff::cmaf::{
    init_segment, media_segment, read_fragments, AudioTrack, Sample, Track, VideoTrack,
    SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC,
};
use abmark_bmff::h264::{
    annexb_nal_units, annexb_to_avcc, avc_codec_string, avcc_from_annexb, parse_avcc,
};
use abmark_bmff::{BmffError, FourCc};

// ---------------------------------------------------------------------------------------------
// Helpers

const FPS: u32 = 25;
const FRAMES: usize = 100;
const SEGMENT_FRAMES: usize = 25;
const X264: &str = "keyint=25:min-keyint=25:scenecut=0";

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Runs `ffmpeg -v error -y ARGS...` and fails on a non-zero exit.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `ffprobe -v error` key=value output for `entries`, and everything it printed on stderr.
fn ffprobe(path: &Path, entries: &str) -> (Vec<(String, String)>, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries", entries, "-of", "default=nw=1"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {path:?}: {}", String::from_utf8_lossy(&out.stderr));
    let pairs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (pairs, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn probe_value(pairs: &[(String, String)], key: &str) -> String {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// Decodes the whole file and returns what FFmpeg complained about (empty when clean).
fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", path_arg(path), "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The MD5 of every decoded frame, in presentation order (timestamps left out: only the
/// pictures and sounds have to match).
fn frame_md5s(path: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", path_arg(path), "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|m| m.trim().to_string()))
        .collect()
}

/// A 4 s, 25 fps, 320x240 clip as FFmpeg's fragmented MP4 with 25-frame closed GOPs.
fn encode_video(dir: &Path, name: &str, filter: &str) -> PathBuf {
    let out = dir.join(name);
    let source = format!("testsrc2=size=320x240:rate={FPS},{filter}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &source,
        "-frames:v",
        "100",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-x264-params",
        X264,
        "-f",
        "mp4",
        "-movflags",
        "+frag_keyframe+empty_moov+default_base_moof",
        path_arg(&out),
    ]);
    out
}

struct SourceVideo {
    avcc: Vec<u8>,
    timescale: u32,
    samples: Vec<Sample>,
}

fn payload_u32(b: &BoxRef<'_>, at: usize) -> u32 {
    let body = b.full_box().unwrap().body;
    u32::from_be_bytes(body[at..at + 4].try_into().unwrap())
}

/// Reads FFmpeg's avcC, timescale and samples back with our reader.
fn read_source_video(path: &Path) -> SourceVideo {
    let bytes = std::fs::read(path).unwrap();
    let top = read_boxes(&bytes).unwrap();
    let avcc =
        require_box(&top, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC").unwrap().payload().to_vec();
    let mdhd = require_box(&top, "moov/trak/mdia/mdhd").unwrap();
    assert_eq!(mdhd.full_box().unwrap().version, 0);
    let timescale = payload_u32(&mdhd, 8);
    let samples: Vec<Sample> =
        read_fragments(&bytes).unwrap().into_iter().flat_map(|f| f.samples).collect();
    SourceVideo { avcc, timescale, samples }
}

/// Shifts composition offsets so that the first frame is presented at decode time 0, as 'cmf2'
/// wants without an edit list (FFmpeg writes positive offsets and starts presentation 2 frames
/// late instead).
fn start_presentation_at_zero(samples: &mut [Sample]) {
    let mut decode = 0i64;
    let mut earliest = i64::MAX;
    for s in samples.iter() {
        earliest = earliest.min(decode + i64::from(s.composition_offset));
        decode += i64::from(s.duration);
    }
    let shift = i32::try_from(earliest).unwrap();
    for s in samples.iter_mut() {
        s.composition_offset -= shift;
    }
}

/// Writes `init` + one segment per `per_segment` samples and returns (init, segments).
fn write_cmaf(track: &Track, samples: &[Sample], per_segment: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let init = init_segment(track).unwrap();
    let mut decode_time = 0u64;
    let mut segments = Vec::new();
    for (i, chunk) in samples.chunks(per_segment).enumerate() {
        let seq = u32::try_from(i + 1).unwrap();
        segments.push(media_segment(track.track_id(), seq, decode_time, chunk).unwrap());
        decode_time += chunk.iter().map(|s| u64::from(s.duration)).sum::<u64>();
    }
    (init, segments)
}

fn concat(init: &[u8], segments: &[&[u8]]) -> Vec<u8> {
    let mut out = init.to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out
}

fn video_track(avcc: Vec<u8>, timescale: u32) -> Track {
    Track::Video(VideoTrack {
        track_id: 1,
        timescale,
        width: 320,
        height: 240,
        avcc,
        pixel_aspect: None,
    })
}

/// Splits an Annex B stream into access units (ITU-T H.264, 7.4.1.2.3): a new one starts at an
/// AUD, SPS, PPS or SEI, or at a slice with first_mb_in_slice 0 (its ue(v) starts with a 1 bit),
/// once the current one holds a picture. Returns each unit re-framed as Annex B.
fn access_units(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut units: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    let mut has_picture = false;
    for nal in annexb_nal_units(stream).unwrap() {
        let t = nal[0] & 0x1f;
        let vcl = t == 1 || t == 5;
        let starts_unit = matches!(t, 6..=9) || (vcl && nal[1] & 0x80 != 0);
        if starts_unit && has_picture {
            units.push(std::mem::take(&mut current));
            has_picture = false;
        }
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(nal);
        has_picture |= vcl;
    }
    units.push(current);
    units
}

// ---------------------------------------------------------------------------------------------
// Video

#[test]
fn video_segments_decode_like_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let source = encode_video(dir.path(), "source.mp4", "null");
    let SourceVideo { avcc, timescale, mut samples } = read_source_video(&source);
    assert_eq!(samples.len(), FRAMES);
    assert_eq!(timescale, 12800, "FFmpeg's mp4 muxer picks 12800 for 25 fps");
    start_presentation_at_zero(&mut samples);

    let track = video_track(avcc, timescale);
    let (init, segments) = write_cmaf(&track, &samples, SEGMENT_FRAMES);
    assert_eq!(segments.len(), FRAMES / SEGMENT_FRAMES);
    let out = dir.path().join("out.mp4");
    let seg_refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    let file = concat(&init, &seg_refs);
    std::fs::write(&out, &file).unwrap();

    let (probe, errors) = ffprobe(
        &out,
        "stream=codec_name,profile,width,height,nb_read_frames:format=duration,format_name",
    );
    assert_eq!(errors, "", "ffprobe complained");
    assert_eq!(probe_value(&probe, "codec_name"), "h264");
    assert_eq!(probe_value(&probe, "width"), "320");
    assert_eq!(probe_value(&probe, "height"), "240");
    assert_eq!(probe_value(&probe, "nb_read_frames"), FRAMES.to_string());
    let duration: f64 = probe_value(&probe, "duration").parse().unwrap();
    assert!((duration - 4.0).abs() < 1e-3, "duration {duration}");

    assert_eq!(decode_errors(&out), "");
    let ours = frame_md5s(&out);
    assert_eq!(ours.len(), FRAMES);
    assert_eq!(ours, frame_md5s(&source), "decoded frames differ from FFmpeg's file");

    // Our own reader gets exactly the samples back, segment by segment.
    let fragments = read_fragments(&file).unwrap();
    assert_eq!(fragments.len(), segments.len());
    for (i, f) in fragments.iter().enumerate() {
        assert_eq!(f.sequence_number, i as u32 + 1);
        assert_eq!(f.track_id, 1);
        assert_eq!(f.base_media_decode_time, (i * SEGMENT_FRAMES) as u64 * 512);
        assert_eq!(f.samples, samples[i * SEGMENT_FRAMES..(i + 1) * SEGMENT_FRAMES]);
        assert!(f.samples[0].is_sync, "segment {i} starts with an IDR");
        assert!(f.samples[1..].iter().all(|s| !s.is_sync));
    }
    assert!(samples.iter().any(|s| s.composition_offset < 0), "B-frames give negative offsets");
}

#[test]
fn annexb_packets_convert_to_ffmpegs_samples_and_avcc() {
    let dir = tempfile::tempdir().unwrap();
    let source = encode_video(dir.path(), "source.mp4", "null");
    let src = read_source_video(&source);
    let h264 = dir.path().join("source.h264");
    ffmpeg(&[
        "-i",
        path_arg(&source),
        "-c:v",
        "copy",
        "-bsf:v",
        "h264_mp4toannexb",
        "-f",
        "h264",
        path_arg(&h264),
    ]);
    let units = access_units(&std::fs::read(&h264).unwrap());
    assert_eq!(units.len(), FRAMES);

    // The bitstream filter puts SPS + PPS before every IDR: dropping them gives FFmpeg's samples.
    for (i, (unit, sample)) in units.iter().zip(&src.samples).enumerate() {
        assert_eq!(annexb_to_avcc(unit, true).unwrap(), sample.data, "access unit {i}");
    }
    let kept = annexb_to_avcc(&units[0], false).unwrap();
    assert!(kept.len() > src.samples[0].data.len(), "SPS/PPS kept when not asked to drop");

    // SPS + PPS with start codes, like libx264's global-header extradata, give FFmpeg's avcC.
    let extradata: Vec<u8> = annexb_nal_units(&units[0])
        .unwrap()
        .into_iter()
        .filter(|n| matches!(n[0] & 0x1f, 7 | 8))
        .flat_map(|n| [&[0u8, 0, 0, 1][..], n].concat())
        .collect();
    assert_eq!(avcc_from_annexb(&extradata).unwrap(), src.avcc);
    // An avcC given where Annex B was expected is passed through.
    assert_eq!(avcc_from_annexb(&src.avcc).unwrap(), src.avcc);
    assert!(avcc_from_annexb(&extradata[..extradata.len() / 2]).is_err(), "PPS missing");
}

/// The property `abmark variants` relies on: two encodes that differ only in picture content
/// share the init segment byte for byte, and any mix of their segments plays.
#[test]
fn segments_of_two_variants_are_interchangeable() {
    let dir = tempfile::tempdir().unwrap();
    let variants = [
        encode_video(dir.path(), "v0.mp4", "null"),
        encode_video(dir.path(), "v1.mp4", "eq=brightness=0.03"),
    ];
    let mut written = Vec::new();
    for path in &variants {
        let SourceVideo { avcc, timescale, mut samples } = read_source_video(path);
        start_presentation_at_zero(&mut samples);
        let durations: Vec<u32> = samples.iter().map(|s| s.duration).collect();
        written
            .push((write_cmaf(&video_track(avcc, timescale), &samples, SEGMENT_FRAMES), durations));
    }
    let ((init0, segs0), durations0) = &written[0];
    let ((init1, segs1), durations1) = &written[1];
    assert_eq!(init0, init1, "init segments must be byte-identical");
    assert_eq!(durations0, durations1);
    assert_ne!(segs0, segs1, "the variants differ in content");

    // Segments 0 and 2 from variant 0, 1 and 3 from variant 1.
    let mixed: Vec<&[u8]> =
        (0..segs0.len()).map(|i| if i % 2 == 0 { &segs0[i][..] } else { &segs1[i][..] }).collect();
    let out = dir.path().join("mixed.mp4");
    std::fs::write(&out, concat(init0, &mixed)).unwrap();
    assert_eq!(decode_errors(&out), "");
    let md5s = frame_md5s(&out);
    let per_variant = [frame_md5s(&variants[0]), frame_md5s(&variants[1])];
    for (i, md5) in md5s.iter().enumerate() {
        let segment = i / SEGMENT_FRAMES;
        assert_eq!(
            md5,
            &per_variant[segment % 2][i],
            "frame {i} comes from variant {}",
            segment % 2
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Audio

/// Splits an ADTS stream (ISO/IEC 14496-3, 1.A.2) into raw AAC frames and builds the
/// AudioSpecificConfig from the first header.
fn read_adts(stream: &[u8]) -> (Vec<u8>, u32, u16, Vec<Vec<u8>>) {
    const RATES: [u32; 13] =
        [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut config = None;
    while pos < stream.len() {
        let h = &stream[pos..pos + 7];
        assert_eq!((h[0], h[1] & 0xf0), (0xff, 0xf0), "ADTS sync word at {pos}");
        let header_len = if h[1] & 1 == 1 { 7 } else { 9 };
        let profile = h[2] >> 6;
        let rate_index = (h[2] >> 2) & 0x0f;
        let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
        let len = (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        config.get_or_insert((profile, rate_index, channels));
        frames.push(stream[pos + header_len..pos + len].to_vec());
        pos += len;
    }
    let (profile, rate_index, channels) = config.unwrap();
    let object_type = profile + 1;
    let asc =
        vec![(object_type << 3) | (rate_index >> 1), ((rate_index & 1) << 7) | (channels << 3)];
    (asc, RATES[usize::from(rate_index)], u16::from(channels), frames)
}

#[test]
fn audio_segments_decode_like_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let adts = dir.path().join("source.aac");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "4",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-f",
        "adts",
        path_arg(&adts),
    ]);
    let (asc, sample_rate, channels, frames) = read_adts(&std::fs::read(&adts).unwrap());
    assert_eq!((sample_rate, channels), (48000, 1));
    assert_eq!(aac_codec_string(&asc).unwrap(), "mp4a.40.2");
    let config = parse_audio_specific_config(&asc).unwrap();
    assert_eq!((config.sampling_frequency, config.channel_configuration), (48000, 1));

    let track = Track::Audio(AudioTrack {
        track_id: 2,
        timescale: sample_rate,
        sample_rate,
        channels,
        audio_specific_config: asc.clone(),
        max_bitrate: 128_000,
        avg_bitrate: 128_000,
    });
    let samples: Vec<Sample> = frames
        .iter()
        .map(|f| Sample { data: f.clone(), duration: 1024, composition_offset: 0, is_sync: true })
        .collect();
    let (init, segments) = write_cmaf(&track, &samples, 47);
    let seg_refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, concat(&init, &seg_refs)).unwrap();

    // The esds carries the ASC unchanged.
    let top = read_boxes(&init).unwrap();
    let esds = require_box(&top, "moov/trak/mdia/minf/stbl/stsd/mp4a/esds").unwrap();
    assert!(esds.payload().windows(asc.len() + 2).any(|w| w[0] == 0x05 && w[2..] == asc[..]));

    let (probe, errors) =
        ffprobe(&out, "stream=codec_name,profile,sample_rate,channels,nb_read_frames");
    assert_eq!(errors, "", "ffprobe complained");
    assert_eq!(probe_value(&probe, "codec_name"), "aac");
    assert_eq!(probe_value(&probe, "profile"), "LC");
    assert_eq!(probe_value(&probe, "sample_rate"), "48000");
    assert_eq!(probe_value(&probe, "channels"), "1");
    assert_eq!(probe_value(&probe, "nb_read_frames"), frames.len().to_string());
    assert_eq!(decode_errors(&out), "");
    let ours = frame_md5s(&out);
    assert_eq!(ours.len(), frames.len());
    assert_eq!(ours, frame_md5s(&adts), "decoded audio differs from the ADTS source");
}

// ---------------------------------------------------------------------------------------------
// Layout, determinism, codec strings

/// High profile, level 3.1: an avcC with a 4-byte SPS stub and a 2-byte PPS stub.
const HIGH_31_AVCC: [u8; 17] =
    [1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0x00, 0x1f, 1, 0, 2, 0x68, 0xeb];

#[test]
fn codec_strings() {
    assert_eq!(avc_codec_string(&HIGH_31_AVCC).unwrap(), "avc1.64001f");
    assert_eq!(parse_avcc(&HIGH_31_AVCC).unwrap().nal_length_size, 4);
    assert!(avc_codec_string(&HIGH_31_AVCC[..6]).is_err());
    assert_eq!(aac_codec_string(&[0x12, 0x10]).unwrap(), "mp4a.40.2");
    assert_eq!(aac_codec_string(&[0x2b, 0x92, 0x08, 0x00]).unwrap(), "mp4a.40.5");
    assert!(aac_codec_string(&[]).is_err());
    let track = video_track(HIGH_31_AVCC.to_vec(), 90000);
    assert_eq!(track.codec_string().unwrap(), "avc1.64001f");
}

#[test]
fn init_segment_is_deterministic_and_well_formed() {
    let track = video_track(HIGH_31_AVCC.to_vec(), 90000);
    let init = init_segment(&track).unwrap();
    assert_eq!(init, init_segment(&track.clone()).unwrap());

    let top = read_boxes(&init).unwrap();
    let kinds: Vec<FourCc> = top.iter().map(BoxRef::kind).collect();
    assert_eq!(kinds, [FourCc(*b"ftyp"), FourCc(*b"moov")]);
    assert_eq!(&top[0].payload()[..8], b"cmf2\0\0\0\0");
    assert_eq!(&top[0].payload()[8..], b"cmf2cmfciso6");
    let tkhd = require_box(&top, "moov/trak/tkhd").unwrap();
    assert_eq!(tkhd.full_box().unwrap().flags, 3);
    assert_eq!(payload_u32(&tkhd, 8), 1, "track id");
    let mdhd = require_box(&top, "moov/trak/mdia/mdhd").unwrap();
    assert_eq!(payload_u32(&mdhd, 8), 90000);
    assert_eq!(&mdhd.full_box().unwrap().body[16..18], &[0x55, 0xc4], "language 'und'");
    let hdlr = require_box(&top, "moov/trak/mdia/hdlr").unwrap();
    assert_eq!(&hdlr.full_box().unwrap().body[4..8], b"vide");
    let avcc = require_box(&top, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC").unwrap();
    assert_eq!(avcc.payload(), HIGH_31_AVCC);
    let trex = require_box(&top, "moov/mvex/trex").unwrap();
    assert_eq!((payload_u32(&trex, 0), payload_u32(&trex, 4)), (1, 1));
    for empty in ["stts", "stsc", "stco"] {
        let b = require_box(&top, &format!("moov/trak/mdia/minf/stbl/{empty}")).unwrap();
        assert_eq!(payload_u32(&b, 0), 0, "{empty} entry count");
    }

    // Descriptions that cannot give a valid file are refused.
    let mut bad = HIGH_31_AVCC;
    bad[4] = 0xfd; // 2-byte NAL lengths
    for broken in [
        video_track(bad.to_vec(), 90000),
        video_track(HIGH_31_AVCC.to_vec(), 0),
        Track::Video(VideoTrack { track_id: 0, ..as_video(video_track(HIGH_31_AVCC.to_vec(), 1)) }),
    ] {
        assert!(matches!(init_segment(&broken), Err(BmffError::InvalidTrack { .. })), "{broken:?}");
    }
}

fn as_video(track: Track) -> VideoTrack {
    match track {
        Track::Video(v) => v,
        Track::Audio(_) => unreachable!(),
    }
}

fn sample(len: usize, fill: u8, is_sync: bool, composition_offset: i32) -> Sample {
    Sample { data: vec![fill; len], duration: 3600, composition_offset, is_sync }
}

#[test]
fn media_segment_layout() {
    let samples = [sample(10, 1, true, 0), sample(7, 2, false, -3600), sample(5, 3, false, 7200)];
    let seg = media_segment(7, 42, 1 << 33, &samples).unwrap();
    let top = read_boxes(&seg).unwrap();
    let kinds: Vec<FourCc> = top.iter().map(BoxRef::kind).collect();
    assert_eq!(kinds, [FourCc(*b"styp"), FourCc(*b"moof"), FourCc(*b"mdat")]);
    assert_eq!(top[0].payload(), b"msdh\0\0\0\0msdhcmfscmff");

    let mfhd = require_box(&top, "moof/mfhd").unwrap();
    assert_eq!(payload_u32(&mfhd, 0), 42);
    let tfhd = require_box(&top, "moof/traf/tfhd").unwrap().full_box().unwrap();
    assert_eq!((tfhd.flags, tfhd.body), (0x02_0000, &7u32.to_be_bytes()[..]));
    let tfdt = require_box(&top, "moof/traf/tfdt").unwrap().full_box().unwrap();
    assert_eq!((tfdt.version, tfdt.body), (1, &(1u64 << 33).to_be_bytes()[..]));

    let trun_box = require_box(&top, "moof/traf/trun").unwrap();
    let trun = trun_box.full_box().unwrap();
    assert_eq!((trun.version, trun.flags), (1, 0xf01));
    assert_eq!(payload_u32(&trun_box, 0), 3);
    // data_offset, counted from the moof, lands on the first payload byte of the mdat.
    let data_offset = payload_u32(&trun_box, 4) as usize;
    let moof = top[1];
    assert_eq!(moof.offset() as usize + data_offset, top[2].offset() as usize + 8);
    let flags: Vec<u32> = (0..3).map(|i| payload_u32(&trun_box, 8 + 16 * i + 8)).collect();
    assert_eq!(flags, [SAMPLE_FLAGS_SYNC, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_NON_SYNC]);
    assert_eq!(payload_u32(&trun_box, 8 + 16 + 12) as i32, -3600);
    assert_eq!(top[2].payload().len(), 22);

    let back = read_fragments(&seg).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].track_id, back[0].base_media_decode_time), (7, 1 << 33));
    assert_eq!(back[0].samples, samples);

    assert_eq!(media_segment(1, 1, 0, &[]), Err(BmffError::EmptySegment));
}

// ---------------------------------------------------------------------------------------------
// Untrusted input

/// Walks every box the reader knows how to descend into; errors are fine, panics are not.
fn walk(boxes: &[BoxRef<'_>]) {
    for b in boxes {
        let _ = b.full_box();
        if let Ok(children) = b.children() {
            walk(&children);
        }
    }
}

fn parse_everything(bytes: &[u8]) {
    if let Ok(top) = read_boxes(bytes) {
        walk(&top);
        let _ = find_all(&top, "moof/traf/trun");
    }
    let _ = read_fragments(bytes);
    let _ = parse_avcc(bytes);
    let _ = avcc_from_annexb(bytes);
    let _ = annexb_to_avcc(bytes, true);
    let _ = parse_audio_specific_config(bytes);
}

/// xorshift64*: a fixed, dependency-free stream of test bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn reader_rejects_truncation_and_survives_damage() {
    let track = video_track(HIGH_31_AVCC.to_vec(), 90000);
    let samples = [sample(10, 1, true, 0), sample(7, 0, false, -3600), sample(5, 3, false, 7200)];
    let file =
        concat(&init_segment(&track).unwrap(), &[&media_segment(1, 1, 0, &samples).unwrap()]);
    let boundaries: Vec<usize> = {
        let top = read_boxes(&file).unwrap();
        top.iter().map(|b| b.offset() as usize + b.size()).collect()
    };

    // Every prefix: an error unless it ends exactly after a top-level box; never a panic.
    for len in 0..file.len() {
        let prefix = &file[..len];
        parse_everything(prefix);
        let ends_on_box = len == 0 || boundaries.contains(&len);
        assert_eq!(read_boxes(prefix).is_ok(), ends_on_box, "prefix of {len} bytes");
        if !ends_on_box {
            assert!(read_fragments(prefix).is_err(), "prefix of {len} bytes");
        }
    }

    // Random byte damage, and random bytes outright.
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    for _ in 0..20_000 {
        let mut damaged = file.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() % damaged.len() as u64) as usize;
            damaged[at] = rng.next() as u8;
        }
        parse_everything(&damaged);
    }
    for _ in 0..2_000 {
        let len = (rng.next() % 64) as usize;
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        parse_everything(&noise);
    }

    // A box claiming 4 GiB in a few bytes is an error, not an allocation.
    let huge = [0xff, 0xff, 0xff, 0xff, b'm', b'd', b'a', b't', 0];
    assert!(matches!(read_boxes(&huge), Err(BmffError::Truncated { .. })));
    let largesize = [0, 0, 0, 1, b'm', b'd', b'a', b't', 0xff, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(read_boxes(&largesize), Err(BmffError::Truncated { .. })));
}
