//! Writing an [`Mpd`] as XML with quick-xml, which escapes every attribute value.
//!
//! Element and attribute order follow the MPD schema's sequences (ISO/IEC 23009-1 Annex B):
//! in a Representation, AudioChannelConfiguration precedes the segment addressing; in a
//! SegmentList, Initialization, then SegmentTimeline, then the SegmentURLs.

use std::fmt;
use std::io;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::dash::{
    AdaptationSet, Content, Mpd, Representation, RepresentationMedia, SegmentList, SegmentTemplate,
    TimelineEntry,
};
use uuid::Uuid;

use super::protection::{base64, Protection};

const MPD_NAMESPACE: &str = "urn:mpeg:dash:schema:mpd:2011";
/// ISO/IEC 23001-7 11.2: `cenc:default_KID`, `cenc:pssh`.
const CENC_NAMESPACE: &str = "urn:mpeg:cenc:2013";
/// PlayReady's DASH content protection (`mspr:pro`).
const MSPR_NAMESPACE: &str = "urn:microsoft:playready";
/// DASH-IF content protection (`dashif:Laurl`, DASH-IF IOP 7.7.6).
const DASHIF_NAMESPACE: &str = "https://dashif.org/CPS";
/// ISO/IEC 23009-1 5.8.5.2: the common-encryption descriptor.
const MP4_PROTECTION_SCHEME: &str = "urn:mpeg:dash:mp4protection:2011";
/// ISO/IEC 23009-1 5.8.5.4: the value is the channel count.
const CHANNEL_CONFIGURATION_SCHEME: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";

type Attrs = Vec<(&'static str, String)>;

struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    fn tag(name: &'static str, attrs: &Attrs) -> BytesStart<'static> {
        let mut start = BytesStart::new(name);
        for (key, value) in attrs {
            // `(&str, &str)` attributes are escaped by quick-xml (`&`, `<`, `>`, quotes, CR).
            start.push_attribute((*key, value.as_str()));
        }
        start
    }

    fn start(&mut self, name: &'static str, attrs: Attrs) -> io::Result<()> {
        self.w.write_event(Event::Start(Self::tag(name, &attrs)))
    }

    fn end(&mut self, name: &'static str) -> io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }

    /// `<name>text</name>`, the text escaped by quick-xml.
    fn text_element(&mut self, name: &'static str, text: &str) -> io::Result<()> {
        self.start(name, Vec::new())?;
        self.w.write_event(Event::Text(BytesText::new(text)))?;
        self.end(name)
    }

    fn empty(&mut self, name: &'static str, attrs: Attrs) -> io::Result<()> {
        self.w.write_event(Event::Empty(Self::tag(name, &attrs)))
    }
}

/// DASH FrameRateType: `25` or `30000/1001`.
fn frame_rate((num, den): (u32, u32)) -> String {
    if den == 1 {
        num.to_string()
    } else {
        format!("{num}/{den}")
    }
}

fn write_mpd(x: &mut Xml, mpd: &Mpd) -> io::Result<()> {
    x.w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut attrs: Attrs = vec![("xmlns", MPD_NAMESPACE.to_owned())];
    if mpd.adaptation_sets.iter().any(|s| s.protection.is_some()) {
        attrs.extend([
            ("xmlns:cenc", CENC_NAMESPACE.to_owned()),
            ("xmlns:mspr", MSPR_NAMESPACE.to_owned()),
            ("xmlns:dashif", DASHIF_NAMESPACE.to_owned()),
        ]);
    }
    attrs.extend([
        ("profiles", mpd.profiles.join(",")),
        ("type", "static".to_owned()),
        ("mediaPresentationDuration", mpd.media_presentation_duration.iso8601()),
        ("maxSegmentDuration", mpd.max_segment_duration.iso8601()),
        ("minBufferTime", mpd.min_buffer_time.iso8601()),
    ]);
    x.start("MPD", attrs)?;
    // One Period from 0; its duration is the presentation's.
    x.start("Period", vec![("id", "0".to_owned()), ("start", "PT0.000S".to_owned())])?;
    for set in &mpd.adaptation_sets {
        write_adaptation_set(x, set)?;
    }
    x.end("Period")?;
    x.end("MPD")
}

fn write_adaptation_set(x: &mut Xml, set: &AdaptationSet) -> io::Result<()> {
    let mut attrs: Attrs = vec![("id", set.id.to_string())];
    match set.content {
        Content::Video { max_width, max_height, max_frame_rate } => attrs.extend([
            ("contentType", "video".to_owned()),
            ("mimeType", "video/mp4".to_owned()),
            ("maxWidth", max_width.to_string()),
            ("maxHeight", max_height.to_string()),
            ("maxFrameRate", frame_rate(max_frame_rate)),
        ]),
        Content::Audio => attrs
            .extend([("contentType", "audio".to_owned()), ("mimeType", "audio/mp4".to_owned())]),
    }
    // Segment boundaries fall at the same times in every Representation, and each segment
    // starts with a closed-GOP IDR (SAP type 1), so players may switch at any boundary.
    attrs.extend([("segmentAlignment", "true".to_owned()), ("startWithSAP", "1".to_owned())]);
    x.start("AdaptationSet", attrs)?;
    if let Some(protection) = &set.protection {
        write_content_protection(x, protection)?;
    }
    if let Some(template) = &set.segment_template {
        write_segment_template(x, template)?;
    }
    for representation in &set.representations {
        write_representation(x, representation)?;
    }
    x.end("AdaptationSet")
}

/// The mp4protection descriptor with the default KID, then one element per DRM system
/// (ISO/IEC 23009-1 5.8.4.1; DASH-IF IOP 7.7). They precede the segment addressing.
fn write_content_protection(x: &mut Xml, p: &Protection) -> io::Result<()> {
    x.empty(
        "ContentProtection",
        vec![
            ("schemeIdUri", MP4_PROTECTION_SCHEME.to_owned()),
            ("value", p.scheme.clone()),
            ("cenc:default_KID", p.default_kid.uuid()),
        ],
    )?;
    for s in p.systems.iter().filter(|s| s.dash) {
        let attrs = vec![
            ("schemeIdUri", Uuid::from_bytes(s.system_id).urn().to_string()),
            ("value", s.name.clone()),
        ];
        if s.pssh.is_none() && s.playready_pro.is_none() && s.license_url.is_none() {
            x.empty("ContentProtection", attrs)?;
            continue;
        }
        x.start("ContentProtection", attrs)?;
        if let Some(url) = &s.license_url {
            // `Laurl`, capitalised as DASH-IF IOP spells it: shaka matches the name exactly.
            x.text_element("dashif:Laurl", url)?;
        }
        if let Some(pssh) = &s.pssh {
            x.text_element("cenc:pssh", &base64(pssh))?;
        }
        if let Some(pro) = &s.playready_pro {
            x.text_element("mspr:pro", &base64(pro))?;
        }
        x.end("ContentProtection")?;
    }
    Ok(())
}

fn write_representation(x: &mut Xml, r: &Representation) -> io::Result<()> {
    let mut attrs: Attrs = vec![
        ("id", r.id.clone()),
        ("bandwidth", r.bandwidth.to_string()),
        ("codecs", r.codecs.clone()),
    ];
    let channels = match r.media {
        RepresentationMedia::Video { width, height, frame_rate: rate } => {
            attrs.extend([
                ("width", width.to_string()),
                ("height", height.to_string()),
                ("frameRate", frame_rate(rate)),
            ]);
            None
        }
        RepresentationMedia::Audio { sample_rate, channels } => {
            attrs.push(("audioSamplingRate", sample_rate.to_string()));
            Some(channels)
        }
    };
    if channels.is_none() && r.segment_list.is_none() {
        return x.empty("Representation", attrs);
    }
    x.start("Representation", attrs)?;
    if let Some(channels) = channels {
        x.empty(
            "AudioChannelConfiguration",
            vec![
                ("schemeIdUri", CHANNEL_CONFIGURATION_SCHEME.to_owned()),
                ("value", channels.to_string()),
            ],
        )?;
    }
    if let Some(list) = &r.segment_list {
        write_segment_list(x, list)?;
    }
    x.end("Representation")
}

fn write_segment_template(x: &mut Xml, t: &SegmentTemplate) -> io::Result<()> {
    x.start(
        "SegmentTemplate",
        vec![
            ("timescale", t.timescale.to_string()),
            ("initialization", t.initialization.clone()),
            ("media", t.media.clone()),
            ("startNumber", t.start_number.to_string()),
        ],
    )?;
    write_timeline(x, &t.timeline)?;
    x.end("SegmentTemplate")
}

fn write_segment_list(x: &mut Xml, list: &SegmentList) -> io::Result<()> {
    x.start("SegmentList", vec![("timescale", list.timescale.to_string())])?;
    x.empty("Initialization", vec![("sourceURL", list.initialization.clone())])?;
    // One `S` per segment, never `@r`: dash.js (5.x) pairs the n-th `S` element, not the n-th
    // segment, with the n-th `SegmentURL`, so every repeat of an `S@r` would fetch the first
    // URL of the run. Valid either way; this form plays everywhere.
    let one_each: Vec<TimelineEntry> = list
        .timeline
        .iter()
        .flat_map(|e| (0..=e.repeat).map(|_| TimelineEntry { duration: e.duration, repeat: 0 }))
        .collect();
    write_timeline(x, &one_each)?;
    for media in &list.media {
        x.empty("SegmentURL", vec![("media", media.clone())])?;
    }
    x.end("SegmentList")
}

fn write_timeline(x: &mut Xml, entries: &[TimelineEntry]) -> io::Result<()> {
    x.start("SegmentTimeline", Vec::new())?;
    for entry in entries {
        let mut attrs: Attrs = vec![("d", entry.duration.to_string())];
        if entry.repeat > 0 {
            attrs.push(("r", entry.repeat.to_string()));
        }
        x.empty("S", attrs)?;
    }
    x.end("SegmentTimeline")
}

impl fmt::Display for Mpd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut x = Xml { w: Writer::new_with_indent(Vec::new(), b' ', 2) };
        // Writing into a Vec cannot fail; should it, it surfaces as a formatting error.
        write_mpd(&mut x, self).map_err(|_| fmt::Error)?;
        let mut bytes = x.w.into_inner();
        bytes.push(b'\n');
        // Every piece written came from a `&str`, so the bytes are UTF-8; lossy never loses.
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}
