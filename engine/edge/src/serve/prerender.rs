//! Personal manifests by filling slots in a pre-rendered text.
//!
//! A personal manifest differs from viewer to viewer only in the path of each video segment:
//! the keyed name of the variant that viewer gets (see [`super::media`]). Rendering the whole
//! document per request (typed model, then XML or playlist text) costs most of a request's
//! time, so at start the edge renders each manifest once with a marker in place of every
//! segment path, splits the text at the markers, and keeps both possible paths of each slot. A
//! request then concatenates the pieces with its own choices. The result is checked at start
//! against full renders for several patterns; if they differ (a writer that escaped or moved a
//! marker), the edge keeps rendering in full.

use std::sync::Mutex;

use abmark_delivery::manifest::{ManifestError, SegmentNamer};

/// One video segment's place in the text: which segment, and its path in each variant.
#[derive(Clone, Debug)]
struct Slot {
    segment: usize,
    paths: [Vec<u8>; 2],
}

/// A manifest text cut at its video segment paths.
#[derive(Clone, Debug)]
pub struct Prerendered {
    /// `slots.len() + 1` literal pieces: the text before the first slot, between slots, after.
    literals: Vec<Vec<u8>>,
    slots: Vec<Slot>,
    segments: usize,
}

/// Text no writer produces by itself: URI-safe, so no writer escapes it.
fn marker(k: usize) -> String {
    format!("~abmark-slot-{k}~")
}

impl Prerendered {
    /// Builds from `render`, the full renderer (segment `i` of rendition `r` listed at
    /// `namer(r, i)`), and `path(variant, r, i)`, the path of that segment in `variant`; `None`
    /// when filling slots would not reproduce full renders.
    pub fn build(
        segments: usize,
        render: impl Fn(SegmentNamer<'_>) -> Result<String, ManifestError>,
        path: impl Fn(u8, &str, usize) -> String + Sync,
    ) -> Option<Self> {
        if segments == 0 {
            return None;
        }
        let seen: Mutex<Vec<(String, usize)>> = Mutex::default();
        let record = |rendition: &str, segment: usize| {
            let mut seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.push((rendition.to_owned(), segment));
            marker(seen.len() - 1)
        };
        let text = render(&record).ok()?;
        let seen = seen.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut literals = Vec::with_capacity(seen.len() + 1);
        let mut slots = Vec::with_capacity(seen.len());
        let mut rest = text.as_str();
        for (k, (rendition, segment)) in seen.iter().enumerate() {
            let m = marker(k);
            let at = rest.find(&m)?;
            literals.push(rest.as_bytes()[..at].to_vec());
            rest = &rest[at + m.len()..];
            let paths = [0u8, 1].map(|v| path(v, rendition, *segment).into_bytes());
            slots.push(Slot { segment: *segment, paths });
        }
        literals.push(rest.as_bytes().to_vec());
        if slots.is_empty() || slots.iter().any(|s| s.segment >= segments) {
            return None;
        }
        let prerendered = Prerendered { literals, slots, segments };
        // Self-check against full renders of patterns that are not uniform.
        for seed in 1..=4u64 {
            let choices = test_pattern(seed, segments);
            let full = render(&|r: &str, i: usize| path(choices[i], r, i)).ok()?;
            if prerendered.render(&choices)? != full.into_bytes() {
                return None;
            }
        }
        Some(prerendered)
    }

    /// The manifest for `choices` (one variant, 0 or 1, per segment).
    pub fn render(&self, choices: &[u8]) -> Option<Vec<u8>> {
        if choices.len() != self.segments || choices.iter().any(|&c| c > 1) {
            return None;
        }
        let size = self.literals.iter().map(Vec::len).sum::<usize>()
            + self.slots.iter().map(|s| s.paths[0].len().max(s.paths[1].len())).sum::<usize>();
        let mut text = Vec::with_capacity(size);
        for (literal, slot) in self.literals.iter().zip(&self.slots) {
            text.extend_from_slice(literal);
            text.extend_from_slice(&slot.paths[usize::from(choices[slot.segment])]);
        }
        text.extend_from_slice(self.literals.last()?);
        Some(text)
    }
}

/// A fixed pseudo-random 0/1 pattern that starts with 0, 1 (so never uniform).
fn test_pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i < 2 {
                i as u8
            } else {
                (x >> 63) as u8
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two "renditions", each listing every segment at its name.
    fn render(namer: SegmentNamer<'_>) -> Result<String, ManifestError> {
        let mut s = String::from("head\n");
        for r in ["720p", "360p"] {
            for i in 0..12 {
                s.push_str(&format!("{}\n", namer(r, i)));
            }
        }
        Ok(s)
    }

    /// Names of different lengths per variant, as keyed names are not (the slots do not care).
    fn path(v: u8, r: &str, i: usize) -> String {
        format!("/{}/{r}/seg-{}.m4s", if v == 0 { "a" } else { "bbb" }, i + 1)
    }

    #[test]
    fn filling_slots_reproduces_full_renders() {
        let p = Prerendered::build(12, render, path).expect("slots found");
        for seed in 10..40 {
            let c = test_pattern(seed, 12);
            let full = render(&|r: &str, i: usize| path(c[i], r, i)).unwrap();
            assert_eq!(p.render(&c).unwrap(), full.into_bytes());
        }
        let zeros = render(&|r: &str, i: usize| path(0, r, i)).unwrap();
        assert_eq!(p.render(&[0; 12]).unwrap(), zeros.into_bytes());
        assert!(p.render(&[0; 11]).is_none());
        assert!(p.render(&[2; 12]).is_none());
    }

    #[test]
    fn layouts_slots_cannot_reproduce_are_refused() {
        assert!(Prerendered::build(0, render, path).is_none());
        // A writer that escapes the marker.
        let escaping = |namer: SegmentNamer<'_>| -> Result<String, ManifestError> {
            Ok((0..4).map(|i| namer("r", i).replace('~', "%7E")).collect())
        };
        assert!(Prerendered::build(4, escaping, path).is_none());
        // A renderer that changes form for some patterns (here: any segment named "bbb").
        let sneaky = |namer: SegmentNamer<'_>| -> Result<String, ManifestError> {
            let s: String = (0..8).map(|i| namer("r", i)).collect();
            Ok(if s.contains("bbb") { format!("!{s}") } else { s })
        };
        assert!(Prerendered::build(8, sneaky, path).is_none());
    }
}
