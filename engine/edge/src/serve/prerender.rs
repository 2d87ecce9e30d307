//! Personal manifests by patching one digit per segment into a pre-rendered text.
//!
//! A personalised manifest differs from viewer to viewer only in the variant digit of each
//! segment URL (`/0/...` or `/1/...`). Rendering the whole document per request (typed model,
//! then XML or playlist text) costs most of a request's time, so at start the edge renders each
//! manifest twice with opposite alternating patterns (0101... and 1010...): the bytes where the
//! two differ are exactly the variant digits, in document order. A request then copies the
//! text and writes its own digits. The result is checked at start against a full render for
//! several patterns; if the layout is not the expected one (e.g. a single segment), the edge
//! keeps rendering in full. A viewer whose every segment has the same variant gets the same
//! per-segment form as everybody else, which is equally valid.

use abmark_delivery::manifest::ManifestError;

/// A manifest text with the byte offsets of its segment-variant digits.
#[derive(Clone, Debug)]
pub struct Prerendered {
    text: Vec<u8>,
    /// Offset of the digit of segment `k % segments`, repeated once per rendition listed.
    digits: Vec<usize>,
    segments: usize,
}

impl Prerendered {
    /// Builds from `render(choices)`, the full renderer; `None` when patching would not
    /// reproduce it.
    pub fn build(
        segments: usize,
        render: impl Fn(&[u8]) -> Result<String, ManifestError>,
    ) -> Option<Self> {
        if segments < 2 {
            return None;
        }
        let a: Vec<u8> = (0..segments).map(|i| (i % 2) as u8).collect();
        let b: Vec<u8> = a.iter().map(|x| 1 - x).collect();
        let (ta, tb) = (render(&a).ok()?.into_bytes(), render(&b).ok()?.into_bytes());
        if ta.len() != tb.len() {
            return None;
        }
        let digits: Vec<usize> = (0..ta.len()).filter(|&i| ta[i] != tb[i]).collect();
        if digits.is_empty() || !digits.len().is_multiple_of(segments) {
            return None;
        }
        let prerendered = Prerendered { text: ta, digits, segments };
        // Self-check against full renders of patterns that are not uniform.
        for seed in 1..=4u64 {
            let choices = test_pattern(seed, segments);
            if prerendered.render(&choices)? != render(&choices).ok()?.into_bytes() {
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
        let mut text = self.text.clone();
        for (k, &at) in self.digits.iter().enumerate() {
            text[at] = b'0' + choices[k % self.segments];
        }
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

    fn render(choices: &[u8]) -> Result<String, ManifestError> {
        // Two "renditions", each listing every segment with its variant digit.
        let mut s = String::from("head\n");
        for r in ["720p", "360p"] {
            for (i, c) in choices.iter().enumerate() {
                s.push_str(&format!("/{c}/{r}/seg-{}.m4s\n", i + 1));
            }
        }
        Ok(s)
    }

    #[test]
    fn patching_reproduces_full_renders() {
        let p = Prerendered::build(12, render).expect("patchable");
        for seed in 10..40 {
            let c = test_pattern(seed, 12);
            assert_eq!(p.render(&c).unwrap(), render(&c).unwrap().into_bytes());
        }
        assert_eq!(p.render(&[0; 12]).unwrap(), render(&[0; 12]).unwrap().into_bytes());
        assert!(p.render(&[0; 11]).is_none());
        assert!(p.render(&[2; 12]).is_none());
    }

    #[test]
    fn layouts_patching_cannot_reproduce_are_refused() {
        assert!(Prerendered::build(1, render).is_none());
        // A renderer whose length depends on the choices.
        let uneven = |c: &[u8]| -> Result<String, ManifestError> {
            Ok(c.iter().map(|&x| if x == 1 { "one," } else { "0," }).collect())
        };
        assert!(Prerendered::build(8, uneven).is_none());
        // A renderer that changes form for patterns other than the two alternating ones.
        let sneaky = |c: &[u8]| -> Result<String, ManifestError> {
            let mut s: String = c.iter().map(|x| char::from(b'0' + x)).collect();
            if c.windows(2).any(|w| w[0] == w[1]) {
                s.insert(0, '!');
            }
            Ok(s)
        };
        assert!(Prerendered::build(8, sneaky).is_none());
    }
}
