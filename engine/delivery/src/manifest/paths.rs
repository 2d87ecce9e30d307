//! Where a segment's bytes live, relative to the manifest that lists them.
//!
//! The caller owns the layout: a [`PathScheme`] holds four templates (video and audio, init and
//! media) with `{variant}`, `{rendition}` and `{number}` placeholders. Templates rather than
//! closures because DASH needs the pattern itself (`SegmentTemplate@media` with `$Number$`), not
//! just its values. A [`SegmentSource`] says which variant each video segment comes from.

use std::fmt;

use super::error::ManifestError;

/// Number of the first segment file (`seg-1.m4s`), and so also DASH `@startNumber` and HLS
/// EXT-X-MEDIA-SEQUENCE, which keeps every manifest's segment numbers equal to the file names.
pub const FIRST_SEGMENT_NUMBER: u64 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variant,
    Rendition,
    Number,
}

/// A relative (or absolute) URI with placeholders: `{variant}` (the variant's number, `0`/`1`),
/// `{rendition}` (the rendition id) and `{number}` (the segment number, from
/// [`FIRST_SEGMENT_NUMBER`]). Literal text is limited to characters a URI may hold unescaped
/// (RFC 3986), less `#`, so that no path can break a playlist line or quoted string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    parts: Vec<Part>,
}

impl PathTemplate {
    pub fn parse(template: &str) -> Result<Self, ManifestError> {
        let bad = |reason| ManifestError::BadPathTemplate { template: template.to_owned(), reason };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(c) = rest.chars().next() {
            if c == '{' {
                let end = rest.find('}').ok_or_else(|| bad("unclosed '{'"))?;
                let part = match &rest[1..end] {
                    "variant" => Part::Variant,
                    "rendition" => Part::Rendition,
                    "number" => Part::Number,
                    _ => {
                        return Err(bad(
                            "unknown placeholder (use {variant}, {rendition}, {number})",
                        ))
                    }
                };
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(part);
                rest = &rest[end + 1..];
            } else if c == '}' {
                return Err(bad("'}' without '{'"));
            } else if is_uri_char(c) {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            } else {
                return Err(bad("character not allowed in a URI (percent-encode it)"));
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if parts.is_empty() {
            return Err(bad("empty"));
        }
        Ok(PathTemplate { parts })
    }

    fn from_parts(parts: Vec<Part>) -> Self {
        PathTemplate { parts }
    }

    fn has(&self, part: &Part) -> bool {
        self.parts.contains(part)
    }

    /// The concrete path of one file.
    pub fn path(&self, variant: u8, rendition: &str, number: u64) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variant => out.push_str(&variant.to_string()),
                Part::Rendition => out.push_str(rendition),
                Part::Number => out.push_str(&number.to_string()),
            }
        }
        out
    }

    /// The DASH form with the variant fixed: `$RepresentationID$` and `$Number$` identifiers, and
    /// a literal `$` doubled (ISO/IEC 23009-1 5.3.9.4.4).
    pub(crate) fn dash_template(&self, variant: u8) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(&text.replace('$', "$$")),
                Part::Variant => out.push_str(&variant.to_string()),
                Part::Rendition => out.push_str("$RepresentationID$"),
                Part::Number => out.push_str("$Number$"),
            }
        }
        out
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(text) => f.write_str(text)?,
                Part::Variant => f.write_str("{variant}")?,
                Part::Rendition => f.write_str("{rendition}")?,
                Part::Number => f.write_str("{number}")?,
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for PathTemplate {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PathTemplate::parse(s)
    }
}

/// RFC 3986 unreserved, reserved and `%`, without `#` (a fragment has no place in a segment URI,
/// and a URI line starting with `#` would read as an HLS tag).
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?[]@!$&'()*+,;=%".contains(c)
}

/// The four path templates of a presentation's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathScheme {
    video_init: PathTemplate,
    video_segment: PathTemplate,
    audio_init: PathTemplate,
    audio_segment: PathTemplate,
}

impl PathScheme {
    /// Checks the templates against what each file needs: video paths name the rendition (or
    /// renditions would share files), media paths the number, init paths no number, and audio
    /// paths no variant (audio is shared by both variants).
    pub fn new(
        video_init: &str,
        video_segment: &str,
        audio_init: &str,
        audio_segment: &str,
    ) -> Result<Self, ManifestError> {
        let scheme = PathScheme {
            video_init: PathTemplate::parse(video_init)?,
            video_segment: PathTemplate::parse(video_segment)?,
            audio_init: PathTemplate::parse(audio_init)?,
            audio_segment: PathTemplate::parse(audio_segment)?,
        };
        scheme.check()?;
        Ok(scheme)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let rules: [(&PathTemplate, Part, bool, &'static str); 8] = [
            (&self.video_init, Part::Rendition, true, "a video path needs {rendition}"),
            (&self.video_segment, Part::Rendition, true, "a video path needs {rendition}"),
            (&self.video_init, Part::Number, false, "an init path cannot use {number}"),
            (&self.audio_init, Part::Number, false, "an init path cannot use {number}"),
            (&self.video_segment, Part::Number, true, "a segment path needs {number}"),
            (&self.audio_segment, Part::Number, true, "a segment path needs {number}"),
            (&self.audio_init, Part::Variant, false, "audio is shared: no {variant}"),
            (&self.audio_segment, Part::Variant, false, "audio is shared: no {variant}"),
        ];
        for (template, part, wanted, reason) in rules {
            if template.has(&part) != wanted {
                return Err(ManifestError::BadPathTemplate {
                    template: template.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// The layout `abmark variants` writes, for manifests at the output root:
    /// `{variant}/{rendition}/init.mp4`, `{variant}/{rendition}/seg-{number}.m4s`,
    /// `audio/init.mp4`, `audio/seg-{number}.m4s`.
    pub fn variant_dirs() -> Self {
        use Part::*;
        let lit = |s: &str| Literal(s.to_owned());
        PathScheme {
            video_init: PathTemplate::from_parts(vec![
                Variant,
                lit("/"),
                Rendition,
                lit("/init.mp4"),
            ]),
            video_segment: PathTemplate::from_parts(vec![
                Variant,
                lit("/"),
                Rendition,
                lit("/seg-"),
                Number,
                lit(".m4s"),
            ]),
            audio_init: PathTemplate::from_parts(vec![lit("audio/init.mp4")]),
            audio_segment: PathTemplate::from_parts(vec![lit("audio/seg-"), Number, lit(".m4s")]),
        }
    }

    /// The same scheme seen from another directory, e.g. `"../"` for playlists one level below
    /// the output root, or an absolute CDN base. The prefix is literal text (no placeholders).
    pub fn with_prefix(&self, prefix: &str) -> Result<Self, ManifestError> {
        let head = PathTemplate::parse(prefix)?;
        if head.parts.iter().any(|p| !matches!(p, Part::Literal(_))) {
            let reason = "a prefix cannot hold placeholders";
            return Err(ManifestError::BadPathTemplate { template: prefix.to_owned(), reason });
        }
        // A literal prefix changes no placeholder, so the scheme's rules still hold.
        let prefixed = |t: &PathTemplate| {
            let mut parts = head.parts.clone();
            parts.extend(t.parts.iter().cloned());
            PathTemplate { parts }
        };
        Ok(PathScheme {
            video_init: prefixed(&self.video_init),
            video_segment: prefixed(&self.video_segment),
            audio_init: prefixed(&self.audio_init),
            audio_segment: prefixed(&self.audio_segment),
        })
    }

    pub fn video_init(&self, variant: u8, rendition: &str) -> String {
        self.video_init.path(variant, rendition, FIRST_SEGMENT_NUMBER)
    }

    /// Path of the video segment at 0-based `index` (file number `index + 1`).
    pub fn video_segment(&self, variant: u8, rendition: &str, index: usize) -> String {
        self.video_segment.path(variant, rendition, segment_number(index))
    }

    pub fn audio_init(&self, rendition: &str) -> String {
        self.audio_init.path(0, rendition, FIRST_SEGMENT_NUMBER)
    }

    /// Path of the audio segment at 0-based `index` (file number `index + 1`).
    pub fn audio_segment(&self, rendition: &str, index: usize) -> String {
        self.audio_segment.path(0, rendition, segment_number(index))
    }

    pub(crate) fn video_templates(&self) -> (&PathTemplate, &PathTemplate) {
        (&self.video_init, &self.video_segment)
    }

    pub(crate) fn audio_templates(&self) -> (&PathTemplate, &PathTemplate) {
        (&self.audio_init, &self.audio_segment)
    }
}

pub(crate) fn segment_number(index: usize) -> u64 {
    FIRST_SEGMENT_NUMBER.saturating_add(index as u64)
}

/// The path of video segment `index` (0-based) of `rendition`, chosen by the caller.
pub type SegmentNamer<'a> = &'a (dyn Fn(&str, usize) -> String + Sync);

/// Which variant's copy of each video segment a manifest lists.
#[derive(Clone, Copy)]
pub enum SegmentSource<'a> {
    /// Every segment from one variant: the plain per-variant manifests.
    Variant(u8),
    /// Segment `i` (0-based) from variant `choices[i]`: mixed manifests (`mix`, tests).
    /// Exactly one choice per segment of the video timeline.
    PerSegment(&'a [u8]),
    /// Segment `i` of rendition `r` at the path `namer(r, i)`, whatever the scheme's segment
    /// template says: the edge's personal manifests, whose segment names are keyed per
    /// variant so that a viewer cannot derive the other variant's URL. Init segments still
    /// come from the scheme (variant 0's: they are the same in both).
    Named(SegmentNamer<'a>),
}

impl std::fmt::Debug for SegmentSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SegmentSource::Variant(v) => write!(f, "Variant({v})"),
            SegmentSource::PerSegment(c) => write!(f, "PerSegment({c:?})"),
            SegmentSource::Named(_) => f.write_str("Named(..)"),
        }
    }
}

impl SegmentSource<'_> {
    /// The path of video segment `index` of `rendition`.
    pub(crate) fn segment_path(
        &self,
        scheme: &PathScheme,
        rendition: &str,
        index: usize,
    ) -> String {
        match self {
            SegmentSource::Named(namer) => namer(rendition, index),
            _ => scheme.video_segment(self.variant_of(index), rendition, index),
        }
    }

    pub(crate) fn check(&self, segments: usize) -> Result<(), ManifestError> {
        match self {
            SegmentSource::PerSegment(choices) if choices.len() != segments => {
                Err(ManifestError::ChoiceCount { expected: segments, got: choices.len() })
            }
            _ => Ok(()),
        }
    }

    /// The variant of segment `index`; only meaningful after [`Self::check`].
    pub(crate) fn variant_of(&self, index: usize) -> u8 {
        match self {
            SegmentSource::Variant(v) => *v,
            SegmentSource::PerSegment(choices) => choices.get(index).copied().unwrap_or(0),
            SegmentSource::Named(_) => 0,
        }
    }

    /// The one variant every segment comes from, if there is one.
    pub(crate) fn uniform(&self) -> Option<u8> {
        match self {
            SegmentSource::Variant(v) => Some(*v),
            SegmentSource::PerSegment(choices) => {
                let first = *choices.first()?;
                choices.iter().all(|&c| c == first).then_some(first)
            }
            // Named segments are listed one by one (no template can name them).
            SegmentSource::Named(_) => None,
        }
    }

    /// Whose init segment a rendition lists. Init segments are byte-identical across variants
    /// (the mark lives only in the coded pictures), so a mixed list takes variant 0's.
    pub(crate) fn init_variant(&self) -> u8 {
        self.uniform().unwrap_or(0)
    }
}
