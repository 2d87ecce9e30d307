//! Tests of `abmark_delivery::manifest`: HLS playlists and DASH MPDs.
//!
//! Two kinds: structural checks of the text (HLS read back line by line, the MPD parsed back
//! with quick-xml and walked as a tree), and a real-player check in which FFmpeg itself cuts a
//! small fMP4 ladder into `0/` and `1/` (different pictures, byte-identical init segments) and
//! then plays our per-variant and mixed HLS and DASH manifests; its decoded frames must be
//! those of the variant each segment was taken from. That one needs the `ffmpeg` and `ffprobe`
//! CLIs (with libx264).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use abmark_delivery::manifest::{
    dash_mpd, hls_audio_playlist, hls_media_playlist, hls_multivariant, hls_video_playlist,
    AudioRendition, AudioTrack, ManifestError, PathScheme, Presentation, SegmentSource, Timeline,
    VideoRendition,
};
use quick_xml::events::Event;

// ---------------------------------------------------------------------------------------------
// Helpers: fixtures, an HLS line reader and a small XML tree

fn video(id: &str, width: u32, height: u32, bandwidth: u32) -> VideoRendition {
    VideoRendition {
        id: id.to_owned(),
        width,
        height,
        bandwidth,
        average_bandwidth: Some(bandwidth / 2),
        codecs: "avc1.64001f".to_owned(),
        frame_rate: (30_000, 1001),
    }
}

/// Two renditions, 5 segments of 2.002 s (60 frames at 29.97) and a last of 0.667 s, with AAC
/// audio whose segments end 1024-sample frames after the video's.
fn presentation() -> Presentation {
    Presentation {
        video: vec![video("360p", 640, 360, 1_200_000), video("720p", 1280, 720, 3_500_000)],
        timeline: Timeline {
            timescale: 30_000,
            segment_durations: vec![60_060, 60_060, 60_060, 60_060, 60_060, 20_020],
        },
        audio: Some(AudioTrack {
            rendition: AudioRendition {
                id: "aac".to_owned(),
                bandwidth: 130_000,
                average_bandwidth: Some(128_000),
                codecs: "mp4a.40.2".to_owned(),
                sample_rate: 48_000,
                channels: 2,
            },
            timeline: Timeline {
                timescale: 48_000,
                segment_durations: vec![96_256, 96_256, 96_256, 96_256, 96_256, 32_768],
            },
            protection: None,
        }),
        protection: None,
    }
}

const ALTERNATE: [u8; 6] = [0, 1, 0, 1, 0, 1];

/// The tags (`#EXT...`) of a playlist as (name, value) and its URI lines, in order.
struct Playlist {
    tags: Vec<(String, String)>,
    uris: Vec<String>,
}

fn read_playlist(text: &str) -> Playlist {
    assert!(text.starts_with("#EXTM3U\n"), "a playlist starts with #EXTM3U");
    assert!(!text.contains('\r'), "lines end with LF only");
    let mut out = Playlist { tags: vec![], uris: vec![] };
    for line in text.lines().skip(1) {
        assert!(!line.is_empty(), "no blank lines");
        if let Some(tag) = line.strip_prefix('#') {
            let (name, value) = tag.split_once(':').unwrap_or((tag, ""));
            out.tags.push((name.to_owned(), value.to_owned()));
        } else {
            out.uris.push(line.to_owned());
        }
    }
    out
}

impl Playlist {
    fn values(&self, name: &str) -> Vec<&str> {
        self.tags.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    fn one(&self, name: &str) -> &str {
        let values = self.values(name);
        assert_eq!(values.len(), 1, "exactly one {name}");
        values[0]
    }
}

/// An RFC 8216 attribute list, quotes kept off the values (commas inside quotes respected).
fn attributes(list: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').expect("NAME=value");
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            (&quoted[..end], quoted[end + 1..].strip_prefix(',').unwrap_or(""))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        assert!(out.insert(name.to_owned(), value.to_owned()).is_none(), "{name} twice");
        rest = after;
    }
    out
}

/// An EXTINF value in whole microseconds (the writer prints 3 to 6 decimals).
fn extinf_micros(value: &str) -> u64 {
    let number = value.strip_suffix(',').expect("EXTINF ends with a comma");
    let (whole, frac) = number.split_once('.').expect("decimal EXTINF");
    assert!((3..=6).contains(&frac.len()), "3 to 6 decimals: {number}");
    let frac = format!("{frac:0<6}");
    whole.parse::<u64>().expect("digits") * 1_000_000 + frac.parse::<u64>().expect("digits")
}

#[derive(Debug)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, key: &str) -> &str {
        self.attrs.get(key).map(String::as_str).unwrap_or_else(|| panic!("{}@{key}", self.name))
    }

    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn child(&self, name: &str) -> &Node {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "one {name} in {}", self.name);
        found[0]
    }
}

/// Parses XML into a tree of elements (text is only whitespace in an MPD and is dropped).
fn parse_xml(text: &str) -> Node {
    fn node(start: &quick_xml::events::BytesStart<'_>) -> Node {
        let mut attrs = BTreeMap::new();
        for attr in start.attributes() {
            let attr = attr.expect("well-formed attribute");
            let key = attr.key.as_ref().to_owned();
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .expect("valid escapes")
                .into_owned();
            attrs.insert(key, value);
        }
        let name = start.name().as_ref().to_owned();
        Node { name, attrs, children: vec![] }
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> =
        vec![Node { name: "#doc".into(), attrs: BTreeMap::new(), children: vec![] }];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => stack.push(node(&start)),
            Event::Empty(start) => {
                let n = node(&start);
                stack.last_mut().expect("open parent").children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().expect("open element");
                stack.last_mut().expect("open parent").children.push(n);
            }
            Event::Text(t) => assert!(t.trim().is_empty(), "no text content"),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element closed");
    let mut doc = stack.pop().expect("document");
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.pop().expect("root")
}

// ---------------------------------------------------------------------------------------------
// HLS

#[test]
fn media_playlist_golden() {
    let timeline = Timeline { timescale: 12_800, segment_durations: vec![25_600, 25_600, 15_360] };
    let text =
        hls_media_playlist(&timeline, "0/240p/init.mp4", |i| format!("0/240p/seg-{}.m4s", i + 1))
            .expect("valid timeline");
    let expected = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"0/240p/init.mp4\"
#EXTINF:2.000,
0/240p/seg-1.m4s
#EXTINF:2.000,
0/240p/seg-2.m4s
#EXTINF:1.200,
0/240p/seg-3.m4s
#EXT-X-ENDLIST
";
    assert_eq!(text, expected);
}

#[test]
fn target_duration_follows_the_rfc_rounding_rule() {
    // RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer <= TARGETDURATION.
    for (durations, target) in [
        (vec![2_002_000u64, 2_002_000, 667_000], 2u64), // 2.002 rounds to 2
        (vec![2_499_999, 1_000_000], 2),
        (vec![2_500_000, 1_000_000], 3), // halves round up
        (vec![1_000_000, 6_400_000, 2_000_000], 6),
        (vec![300_000], 1), // never 0
    ] {
        let timeline = Timeline { timescale: 1_000_000, segment_durations: durations.clone() };
        let text =
            hls_media_playlist(&timeline, "init.mp4", |i| format!("s{i}.m4s")).expect("valid");
        let playlist = read_playlist(&text);
        let got: u64 = playlist.one("EXT-X-TARGETDURATION").parse().expect("integer");
        assert_eq!(got, target, "{durations:?}");
        for value in playlist.values("EXTINF") {
            let micros = extinf_micros(value);
            assert!((micros + 500_000) / 1_000_000 <= got, "{value} rounds above {got}");
        }
        assert_eq!(playlist.values("EXTINF").len(), durations.len());
    }
}

#[test]
fn mixed_video_playlist_takes_each_segment_from_its_variant() {
    let p = presentation();
    let scheme = PathScheme::variant_dirs();
    let text = hls_video_playlist(&p, "720p", &scheme, SegmentSource::PerSegment(&ALTERNATE))
        .expect("valid");
    let playlist = read_playlist(&text);
    assert_eq!(playlist.one("EXT-X-VERSION"), "7");
    assert_eq!(playlist.one("EXT-X-PLAYLIST-TYPE"), "VOD");
    assert_eq!(playlist.one("EXT-X-MEDIA-SEQUENCE"), "1");
    assert_eq!(playlist.one("EXT-X-MAP"), "URI=\"0/720p/init.mp4\"");
    assert_eq!(playlist.values("EXT-X-ENDLIST").len(), 1);
    assert_eq!(playlist.tags.last().map(|(n, _)| n.as_str()), Some("EXT-X-ENDLIST"));
    let expected: Vec<String> =
        ALTERNATE.iter().enumerate().map(|(i, v)| format!("{v}/720p/seg-{}.m4s", i + 1)).collect();
    assert_eq!(playlist.uris, expected);
    let extinf = playlist.values("EXTINF");
    assert_eq!(extinf, ["2.002,", "2.002,", "2.002,", "2.002,", "2.002,", "0.667333,"]);
    let target: u64 = playlist.one("EXT-X-TARGETDURATION").parse().expect("integer");
    assert!(extinf.iter().all(|v| (extinf_micros(v) + 500_000) / 1_000_000 <= target));

    // One variant throughout, and a scheme seen from a subdirectory.
    let up = scheme.with_prefix("../").expect("literal prefix");
    let text = hls_video_playlist(&p, "360p", &up, SegmentSource::Variant(1)).expect("valid");
    let playlist = read_playlist(&text);
    assert_eq!(playlist.one("EXT-X-MAP"), "URI=\"../1/360p/init.mp4\"");
    assert_eq!(playlist.uris[5], "../1/360p/seg-6.m4s");
}

#[test]
fn audio_playlist_uses_the_audio_timeline() {
    let text = hls_audio_playlist(&presentation(), &PathScheme::variant_dirs()).expect("valid");
    let playlist = read_playlist(&text);
    assert_eq!(playlist.one("EXT-X-MAP"), "URI=\"audio/init.mp4\"");
    assert_eq!(playlist.uris.first().map(String::as_str), Some("audio/seg-1.m4s"));
    assert_eq!(playlist.values("EXTINF")[0], "2.005333,");
    assert_eq!(playlist.values("EXTINF")[5], "0.682667,");
}

#[test]
fn multivariant_lists_every_rendition_with_the_audio_group() {
    let text = hls_multivariant(&presentation(), |id| format!("v0-{id}.m3u8")).expect("valid");
    let expected = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"aac\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"v0-aac.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=1330000,AVERAGE-BANDWIDTH=728000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=29.970,AUDIO=\"audio\"
v0-360p.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3630000,AVERAGE-BANDWIDTH=1878000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970,AUDIO=\"audio\"
v0-720p.m3u8
";
    assert_eq!(text, expected);
    let playlist = read_playlist(&text);
    let media = attributes(playlist.one("EXT-X-MEDIA"));
    assert_eq!(media["GROUP-ID"], "audio");
    for stream in playlist.values("EXT-X-STREAM-INF") {
        let attrs = attributes(stream);
        assert_eq!(attrs["AUDIO"], media["GROUP-ID"]);
        assert_eq!(attrs["CODECS"], "avc1.64001f,mp4a.40.2");
    }

    // Without audio: no group, video-only codecs and bandwidth.
    let mut p = presentation();
    p.audio = None;
    let playlist = read_playlist(&hls_multivariant(&p, |id| format!("{id}.m3u8")).expect("valid"));
    assert!(playlist.values("EXT-X-MEDIA").is_empty());
    let attrs = attributes(playlist.values("EXT-X-STREAM-INF")[0]);
    assert_eq!(attrs["BANDWIDTH"], "1200000");
    assert_eq!(attrs["CODECS"], "avc1.64001f");
    assert!(!attrs.contains_key("AUDIO"));
}

// ---------------------------------------------------------------------------------------------
// DASH

fn timeline_runs(timeline: &Node) -> Vec<(u64, u64)> {
    timeline
        .all("S")
        .iter()
        .map(|s| {
            assert!(!s.attrs.contains_key("t"), "segments follow on from 0");
            let d = s.attr("d").parse().expect("integer d");
            let r = s.attrs.get("r").map_or(0, |r| r.parse().expect("integer r"));
            (d, r)
        })
        .collect()
}

#[test]
fn per_variant_mpd_uses_one_segment_template_per_adaptation_set() {
    let p = presentation();
    let text = dash_mpd(&p, &PathScheme::variant_dirs(), SegmentSource::Variant(1)).expect("valid");
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MPD "));
    let mpd = parse_xml(&text);
    assert_eq!(mpd.name, "MPD");
    assert_eq!(mpd.attr("xmlns"), "urn:mpeg:dash:schema:mpd:2011");
    assert_eq!(mpd.attr("type"), "static");
    assert_eq!(mpd.attr("profiles"), "urn:mpeg:dash:profile:isoff-live:2011");
    // Audio is the longer track: 5 * 96256 + 32768 samples at 48 kHz = 10.709333... s.
    assert_eq!(mpd.attr("mediaPresentationDuration"), "PT10.709334S");
    assert_eq!(mpd.attr("minBufferTime"), "PT2.005334S");
    assert_eq!(mpd.attr("maxSegmentDuration"), "PT2.005334S");

    let period = mpd.child("Period");
    let sets = period.all("AdaptationSet");
    assert_eq!(sets.len(), 2);
    let v = sets[0];
    assert_eq!(v.attr("contentType"), "video");
    assert_eq!(v.attr("mimeType"), "video/mp4");
    assert_eq!(v.attr("segmentAlignment"), "true");
    assert_eq!(v.attr("startWithSAP"), "1");
    assert_eq!(v.attr("maxWidth"), "1280");
    assert_eq!(v.attr("maxFrameRate"), "30000/1001");
    let template = v.child("SegmentTemplate");
    assert_eq!(template.attr("timescale"), "30000");
    assert_eq!(template.attr("initialization"), "1/$RepresentationID$/init.mp4");
    assert_eq!(template.attr("media"), "1/$RepresentationID$/seg-$Number$.m4s");
    assert_eq!(template.attr("startNumber"), "1");
    assert_eq!(timeline_runs(template.child("SegmentTimeline")), [(60_060, 4), (20_020, 0)]);
    let reps = v.all("Representation");
    let ids: Vec<&str> = reps.iter().map(|r| r.attr("id")).collect();
    assert_eq!(ids, ["360p", "720p"]);
    assert_eq!(reps[1].attr("bandwidth"), "3500000");
    assert_eq!(reps[1].attr("width"), "1280");
    assert_eq!(reps[1].attr("height"), "720");
    assert_eq!(reps[1].attr("codecs"), "avc1.64001f");
    assert_eq!(reps[1].attr("frameRate"), "30000/1001");
    assert!(reps.iter().all(|r| r.children.is_empty()), "addressing is inherited");

    let a = sets[1];
    assert_eq!(a.attr("contentType"), "audio");
    assert_eq!(a.attr("mimeType"), "audio/mp4");
    let template = a.child("SegmentTemplate");
    assert_eq!(template.attr("timescale"), "48000");
    assert_eq!(template.attr("initialization"), "audio/init.mp4");
    assert_eq!(template.attr("media"), "audio/seg-$Number$.m4s");
    assert_eq!(timeline_runs(template.child("SegmentTimeline")), [(96_256, 4), (32_768, 0)]);
    let rep = a.child("Representation");
    assert_eq!(rep.attr("audioSamplingRate"), "48000");
    assert_eq!(rep.attr("codecs"), "mp4a.40.2");
    let channels = rep.child("AudioChannelConfiguration");
    assert_eq!(
        channels.attr("schemeIdUri"),
        "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
    );
    assert_eq!(channels.attr("value"), "2");
}

#[test]
fn mixed_mpd_lists_every_segment_url() {
    let p = presentation();
    let text = dash_mpd(&p, &PathScheme::variant_dirs(), SegmentSource::PerSegment(&ALTERNATE))
        .expect("valid");
    let mpd = parse_xml(&text);
    assert_eq!(mpd.attr("profiles"), "urn:mpeg:dash:profile:isoff-main:2011");
    let sets = mpd.child("Period").all("AdaptationSet");
    assert!(sets[0].all("SegmentTemplate").is_empty());
    for rep in sets[0].all("Representation") {
        let id = rep.attr("id");
        let list = rep.child("SegmentList");
        assert_eq!(list.attr("timescale"), "30000");
        // Schema order: Initialization, SegmentTimeline, SegmentURL...
        let order: Vec<&str> = list.children.iter().map(|c| c.name.as_str()).take(2).collect();
        assert_eq!(order, ["Initialization", "SegmentTimeline"]);
        assert_eq!(list.child("Initialization").attr("sourceURL"), format!("0/{id}/init.mp4"));
        // One `S` per segment, never `@r`: dash.js pairs the n-th `S`, not the n-th segment, with
        // the n-th `SegmentURL` (mpd_xml.rs).
        let one_each =
            [(60_060, 0), (60_060, 0), (60_060, 0), (60_060, 0), (60_060, 0), (20_020, 0)];
        assert_eq!(timeline_runs(list.child("SegmentTimeline")), one_each);
        let urls: Vec<&str> = list.all("SegmentURL").iter().map(|u| u.attr("media")).collect();
        let expected: Vec<String> = ALTERNATE
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{v}/{id}/seg-{}.m4s", i + 1))
            .collect();
        assert_eq!(urls, expected);
    }
    // Audio is shared, so it stays templated.
    assert_eq!(sets[1].child("SegmentTemplate").attr("media"), "audio/seg-$Number$.m4s");

    // Choices that agree everywhere are one variant: the template form.
    let same = [1u8; 6];
    let collapsed =
        dash_mpd(&p, &PathScheme::variant_dirs(), SegmentSource::PerSegment(&same)).expect("valid");
    let per_variant =
        dash_mpd(&p, &PathScheme::variant_dirs(), SegmentSource::Variant(1)).expect("valid");
    assert_eq!(collapsed, per_variant);
}

#[test]
fn mpd_escapes_paths_and_dollars() {
    let scheme = PathScheme::new(
        "https://cdn.example/a&b/{variant}/{rendition}/init.mp4?t='x'",
        "https://cdn.example/a&b/{variant}/{rendition}/$seg-{number}.m4s?t='x'",
        "audio/init.mp4",
        "audio/seg-{number}.m4s",
    )
    .expect("valid scheme");
    let p = presentation();
    let text = dash_mpd(&p, &scheme, SegmentSource::Variant(0)).expect("valid");
    assert!(text.contains("a&amp;b"), "& escaped");
    assert!(!text.contains("a&b"));
    let mpd = parse_xml(&text);
    let template = mpd.child("Period").all("AdaptationSet")[0].child("SegmentTemplate");
    assert_eq!(
        template.attr("media"),
        "https://cdn.example/a&b/0/$RepresentationID$/$$seg-$Number$.m4s?t='x'"
    );
    let mixed = dash_mpd(&p, &scheme, SegmentSource::PerSegment(&ALTERNATE)).expect("valid");
    let mpd = parse_xml(&mixed);
    let rep = mpd.child("Period").all("AdaptationSet")[0].all("Representation")[0];
    let urls = rep.child("SegmentList").all("SegmentURL");
    // A SegmentURL is a plain URL: no template identifiers, so `$` stays single.
    assert_eq!(urls[1].attr("media"), "https://cdn.example/a&b/1/360p/$seg-2.m4s?t='x'");
}

#[test]
fn output_is_deterministic() {
    let p = presentation();
    let scheme = PathScheme::variant_dirs();
    let mixed = SegmentSource::PerSegment(&ALTERNATE);
    assert_eq!(dash_mpd(&p, &scheme, mixed), dash_mpd(&p.clone(), &scheme, mixed));
    assert_eq!(
        hls_video_playlist(&p, "360p", &scheme, mixed),
        hls_video_playlist(&p.clone(), "360p", &scheme.clone(), mixed)
    );
}

// ---------------------------------------------------------------------------------------------
// Invalid input

#[test]
fn invalid_input_is_a_typed_error() {
    let scheme = PathScheme::variant_dirs();
    let one = SegmentSource::Variant(0);
    let with = |edit: fn(&mut Presentation)| {
        let mut p = presentation();
        edit(&mut p);
        dash_mpd(&p, &scheme, one).expect_err("invalid")
    };
    assert_eq!(with(|p| p.timeline.timescale = 0), ManifestError::ZeroTimescale { what: "video" });
    assert_eq!(
        with(|p| p.timeline.segment_durations.clear()),
        ManifestError::EmptyTimeline { what: "video" }
    );
    assert_eq!(
        with(|p| p.timeline.segment_durations[2] = 0),
        ManifestError::ZeroDuration { what: "video", index: 2 }
    );
    assert_eq!(
        with(|p| p.audio.as_mut().expect("audio").timeline.timescale = 0),
        ManifestError::ZeroTimescale { what: "audio" }
    );
    assert_eq!(with(|p| p.video.clear()), ManifestError::NoVideo);
    assert_eq!(
        with(|p| p.video[1].id = "360p".into()),
        ManifestError::DuplicateRenditionId { id: "360p".into() }
    );
    assert_eq!(
        with(|p| p.audio.as_mut().expect("audio").rendition.id = "720p".into()),
        ManifestError::DuplicateRenditionId { id: "720p".into() }
    );
    for bad in ["", "..", "a b", "a/b", "q\"", "$x"] {
        let mut p = presentation();
        p.video[0].id = bad.into();
        assert_eq!(
            hls_multivariant(&p, |id| format!("{id}.m3u8")),
            Err(ManifestError::BadRenditionId { id: bad.into() })
        );
    }
    assert_eq!(
        with(|p| p.video[0].codecs = "avc1.64001f,mp4a".into()),
        ManifestError::BadCodecs { id: "360p".into(), codecs: "avc1.64001f,mp4a".into() }
    );
    assert_eq!(
        with(|p| p.video[0].frame_rate = (25, 0)),
        ManifestError::ZeroField { id: "360p".into(), field: "frame rate" }
    );

    let p = presentation();
    assert_eq!(
        dash_mpd(&p, &scheme, SegmentSource::PerSegment(&[0, 1])),
        Err(ManifestError::ChoiceCount { expected: 6, got: 2 })
    );
    assert_eq!(
        hls_video_playlist(&p, "1080p", &scheme, one),
        Err(ManifestError::UnknownRendition { id: "1080p".into() })
    );
    let mut silent = presentation();
    silent.audio = None;
    assert_eq!(hls_audio_playlist(&silent, &scheme), Err(ManifestError::NoAudio));
    for uri in ["", "#x", "a\nb", "a\"b"] {
        let timeline = &p.timeline;
        assert_eq!(
            hls_media_playlist(timeline, "init.mp4", |_| uri.to_owned()),
            Err(ManifestError::BadUri { uri: uri.into() })
        );
        assert!(matches!(
            hls_multivariant(&p, |_| uri.to_owned()),
            Err(ManifestError::BadUri { .. })
        ));
    }
}

#[test]
fn path_schemes_are_checked() {
    let ok = ["{variant}/{rendition}/init.mp4", "{variant}/{rendition}/seg-{number}.m4s"];
    let audio = ["audio/init.mp4", "audio/seg-{number}.m4s"];
    assert!(PathScheme::new(ok[0], ok[1], audio[0], audio[1]).is_ok());
    let bad = [
        [ok[0], "{variant}/{rendition}/seg.m4s", audio[0], audio[1]], // no {number}
        [ok[0], "{variant}/seg-{number}.m4s", audio[0], audio[1]],    // no {rendition}
        ["{variant}/{rendition}/{number}.mp4", ok[1], audio[0], audio[1]], // init with number
        [ok[0], ok[1], "{variant}/audio/init.mp4", audio[1]],         // audio per variant
        [ok[0], ok[1], audio[0], "audio/seg-{n}.m4s"],                // unknown placeholder
        [ok[0], ok[1], audio[0], "audio/seg {number}.m4s"],           // space
        [ok[0], ok[1], audio[0], "audio/seg-{number.m4s"],            // unclosed
        [ok[0], ok[1], audio[0], "audio/#seg-{number}.m4s"],          // fragment
    ];
    for [a, b, c, d] in bad {
        assert!(
            matches!(PathScheme::new(a, b, c, d), Err(ManifestError::BadPathTemplate { .. })),
            "{a} {b} {c} {d}"
        );
    }
    let scheme = PathScheme::variant_dirs();
    assert!(scheme.with_prefix("{variant}/").is_err());
    assert_eq!(scheme.video_segment(1, "720p", 0), "1/720p/seg-1.m4s");
    assert_eq!(scheme.audio_init("aac"), "audio/init.mp4");
}

// ---------------------------------------------------------------------------------------------
// A real player: FFmpeg plays what we write

/// Runs a tool with `args` split on whitespace; returns (success, stdout, stderr).
fn run(tool: &str, args: &str, dir: &Path) -> (bool, String, String) {
    let out = Command::new(tool)
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the {tool} CLI runs: {e}"));
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (out.status.success(), text(out.stdout), text(out.stderr))
}

fn ffmpeg(args: &str, dir: &Path) {
    let (ok, _, err) = run("ffmpeg", &format!("-hide_banner -loglevel error -y {args}"), dir);
    assert!(ok, "ffmpeg {args} failed: {err}");
}

const SECONDS: &str = "5.2"; // 130 frames at 25 fps: segments of 50, 50 and 30 frames
const FRAMES: usize = 130;
const RENDITIONS: [(&str, u32, u32); 2] = [("240p", 320, 240), ("120p", 160, 120)];

/// Lets FFmpeg's own HLS muxer cut CMAF fMP4 segments into `dir/<subdir>/` as `init.mp4` and
/// `seg-<n>.m4s`; `input` is the lavfi source and codec options.
fn cut(dir: &Path, subdir: &str, input: &str) {
    std::fs::create_dir_all(dir.join(subdir)).expect("mkdir");
    ffmpeg(
        &format!(
            "{input} -t {SECONDS} -fflags +bitexact -flags +bitexact -f hls -hls_segment_type fmp4 \
             -hls_time 2 -hls_playlist_type vod -hls_fmp4_init_filename init.mp4 \
             -hls_segment_filename {subdir}/seg-%d.m4s -start_number 1 {subdir}/ffmpeg.m3u8"
        ),
        dir,
    );
}

/// (timescale, duration) of the media in one segment: init + segment probed together, from the
/// earliest presentation time to the end of the latest frame.
fn segment_duration(dir: &Path, init: &str, segment: &str) -> (u32, u64) {
    let mut bytes = std::fs::read(dir.join(init)).expect("init");
    bytes.extend(std::fs::read(dir.join(segment)).expect("segment"));
    let joined = dir.join("probe.mp4");
    std::fs::write(&joined, bytes).expect("write");
    let args =
        "-v error -show_entries stream=time_base:packet=pts,duration -of default=nw=1 probe.mp4";
    let (ok, out, err) = run("ffprobe", args, dir);
    assert!(ok, "ffprobe {segment}: {err}");
    let (mut timescale, mut start, mut end) = (0, u64::MAX, 0);
    let mut pts = 0;
    for line in out.lines() {
        match line.split_once('=') {
            Some(("time_base", tb)) => {
                timescale = tb.trim_start_matches("1/").parse().expect("1/N")
            }
            Some(("pts", v)) => {
                pts = v.parse().expect("pts");
                start = start.min(pts);
            }
            Some(("duration", v)) => {
                if let Ok(d) = v.parse::<u64>() {
                    end = end.max(pts + d);
                }
            }
            _ => {}
        }
    }
    (timescale, end - start)
}

fn timeline_of(dir: &Path, subdir: &str) -> Timeline {
    let mut durations = vec![];
    let mut timescale = 0;
    for n in 1.. {
        let segment = format!("{subdir}/seg-{n}.m4s");
        if !dir.join(&segment).exists() {
            break;
        }
        let (ts, d) = segment_duration(dir, &format!("{subdir}/init.mp4"), &segment);
        timescale = ts;
        durations.push(d);
    }
    Timeline { timescale, segment_durations: durations }
}

/// Peak segment bit rate of `subdir`'s segments under `timeline`.
fn peak_bandwidth(dir: &Path, subdir: &str, timeline: &Timeline) -> u32 {
    let rates = timeline.segment_durations.iter().enumerate().map(|(i, &d)| {
        let bytes =
            std::fs::metadata(dir.join(format!("{subdir}/seg-{}.m4s", i + 1))).expect("seg").len();
        bytes * 8 * u64::from(timeline.timescale) / d
    });
    u32::try_from(rates.max().expect("segments")).expect("fits")
}

/// `avc1.PPCCLL` from the init segment's avcC (profile, constraints, level: RFC 6381 3.3).
fn avc1_codecs(init: &Path) -> String {
    let bytes = std::fs::read(init).expect("init");
    let at = bytes.windows(4).position(|w| w == b"avcC").expect("an avcC box");
    let config = &bytes[at + 4..at + 8];
    format!("avc1.{:02x}{:02x}{:02x}", config[1], config[2], config[3])
}

/// MD5 of every decoded frame of video stream `stream` (or audio, `a:0`) of `manifest`.
fn frame_md5s(dir: &Path, manifest: &str, stream: &str) -> Vec<String> {
    let (ok, out, err) =
        run("ffmpeg", &format!("-v error -i {manifest} -map 0:{stream} -f framemd5 -"), dir);
    assert!(ok && err.is_empty(), "decoding {manifest} {stream}: {err}");
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().expect("md5 column").trim().to_owned())
        .collect()
}

#[test]
fn ffmpeg_plays_per_variant_and_mixed_manifests() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    // Two variants with different pictures, encoded alike so their init segments are equal.
    let x264 = "-c:v libx264 -preset veryfast -pix_fmt yuv420p \
                -x264-params keyint=50:min-keyint=50:scenecut=0 -an";
    for (variant, source) in [(0, "testsrc2"), (1, "testsrc")] {
        for (id, w, h) in RENDITIONS {
            cut(
                dir,
                &format!("{variant}/{id}"),
                &format!("-f lavfi -i {source}=size={w}x{h}:rate=25 {x264}"),
            );
        }
    }
    cut(dir, "audio", "-f lavfi -i sine=frequency=440:sample_rate=48000 -c:a aac -b:a 64k -vn");
    for (id, _, _) in RENDITIONS {
        let init = |v: u8| std::fs::read(dir.join(format!("{v}/{id}/init.mp4"))).expect("init");
        assert_eq!(init(0), init(1), "{id}: init segments must be byte-identical to mix");
    }

    let timeline = timeline_of(dir, "0/240p");
    assert_eq!(timeline.segment_durations.len(), 3);
    for (id, _, _) in RENDITIONS {
        for v in 0..2 {
            assert_eq!(timeline_of(dir, &format!("{v}/{id}")), timeline, "{v}/{id}: one timeline");
        }
    }
    let audio_timeline = timeline_of(dir, "audio");
    let video = RENDITIONS
        .iter()
        .map(|&(id, width, height)| VideoRendition {
            id: id.to_owned(),
            width,
            height,
            bandwidth: (0..2)
                .map(|v| peak_bandwidth(dir, &format!("{v}/{id}"), &timeline))
                .max()
                .expect("2"),
            average_bandwidth: None,
            codecs: avc1_codecs(&dir.join(format!("0/{id}/init.mp4"))),
            frame_rate: (25, 1),
        })
        .collect();
    let p = Presentation {
        video,
        audio: Some(AudioTrack {
            rendition: AudioRendition {
                id: "aac".to_owned(),
                bandwidth: peak_bandwidth(dir, "audio", &audio_timeline),
                average_bandwidth: None,
                codecs: "mp4a.40.2".to_owned(),
                sample_rate: 48_000,
                channels: 1,
            },
            timeline: audio_timeline,
            protection: None,
        }),
        protection: None,
        timeline,
    };

    // Manifests at the output root: HLS media playlists beside the multivariant playlist.
    let scheme = PathScheme::variant_dirs();
    let choices = [0u8, 1, 0];
    let sources = [
        ("v0", SegmentSource::Variant(0)),
        ("v1", SegmentSource::Variant(1)),
        ("mixed", SegmentSource::PerSegment(&choices)),
    ];
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).expect("write");
    for (name, source) in sources {
        for (id, _, _) in RENDITIONS {
            write(
                &format!("{name}-{id}.m3u8"),
                hls_video_playlist(&p, id, &scheme, source).expect("ok"),
            );
        }
        write(&format!("{name}-aac.m3u8"), hls_audio_playlist(&p, &scheme).expect("ok"));
        write(
            &format!("{name}.m3u8"),
            hls_multivariant(&p, |id| format!("{name}-{id}.m3u8")).expect("ok"),
        );
        write(&format!("{name}.mpd"), dash_mpd(&p, &scheme, source).expect("ok"));
    }

    for manifest in ["mixed.m3u8", "mixed.mpd"] {
        // The plain player run: success and not a word on stderr.
        let (ok, _, err) = run("ffmpeg", &format!("-v error -i {manifest} -f null -"), dir);
        assert!(ok && err.is_empty(), "ffmpeg -i {manifest} -f null -: {err}");
    }
    for (stream, (id, _, _)) in RENDITIONS.iter().enumerate() {
        let stream = format!("v:{stream}");
        let v0 = frame_md5s(dir, "v0.m3u8", &stream);
        let v1 = frame_md5s(dir, "v1.m3u8", &stream);
        assert_eq!(v0.len(), FRAMES, "{id}: every frame of variant 0");
        assert_eq!(v1.len(), FRAMES);
        assert!(
            v0.iter().zip(&v1).all(|(a, b)| a != b),
            "{id}: the variants differ in every frame"
        );
        assert_eq!(frame_md5s(dir, "v0.mpd", &stream), v0, "{id}: DASH template = HLS, variant 0");
        assert_eq!(frame_md5s(dir, "v1.mpd", &stream), v1, "{id}: DASH template = HLS, variant 1");
        // Segments of 50, 50, 30 frames; frame k is from the variant its segment was chosen from.
        let expected: Vec<String> = (0..FRAMES)
            .map(|k| if choices[k / 50] == 0 { v0[k].clone() } else { v1[k].clone() })
            .collect();
        assert_eq!(frame_md5s(dir, "mixed.m3u8", &stream), expected, "{id}: mixed HLS");
        assert_eq!(frame_md5s(dir, "mixed.mpd", &stream), expected, "{id}: mixed DASH");
    }
    let audio = frame_md5s(dir, "v0.m3u8", "a:0");
    assert!(audio.len() > 200, "5.2 s of AAC frames: {}", audio.len());
    assert_eq!(frame_md5s(dir, "mixed.mpd", "a:0"), audio, "the shared audio plays alike");
}
