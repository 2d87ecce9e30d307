//! The copy's frames, decoded once where memory allows.
//!
//! A piece is first probed (a few seconds fingerprinted to place it in time, its registration
//! frames gathered) and then scored from its start. The probe keeps the luma planes it decoded
//! ([`HeldFrames`], up to [`HELD_BYTES`]) and its decoder, so that the scorer reads the held
//! planes, then the frame the probe stopped at, then carries on with the same decoder: the
//! opening of the copy is decoded once instead of twice. When the window does not fit in the
//! budget (a long probe of a large picture), the scorer decodes again only from the last
//! held frame on (through the container's index: from the keyframe before it).
//!
//! The frames handed out are the same, in the same order, as a fresh decode from the piece's
//! start would give (IDR keyframes: decoding after a jump gives the same pictures), so the
//! reports do not change. May depend on `abmark-media` (the decoder) and the core's frame
//! types; knows nothing about scoring.

use std::path::Path;

use abmark_media::{DecodedFrame, MediaError, VideoDecoder, VideoInfo};
use abmark_wm::frame::{Luma, OwnedLuma};

use crate::symbols::open_at;

/// Most luma bytes a probe keeps for the scorer: the whole 30-s opening probe of a 640x360
/// copy (173 MB), about 9 s of a 1280x720 one. Bounds the memory a detection adds for reading
/// the opening once.
pub const HELD_BYTES: usize = 192 << 20;

/// What a probe decoded of a piece, kept for scoring it.
pub struct HeldFrames {
    /// Copy time of the piece's start (frames before it were skipped).
    from: f64,
    /// The planes from `from` on, in presentation order.
    frames: Vec<(f64, OwnedLuma)>,
    bytes: usize,
    budget: usize,
    /// The budget ran out: frames after the last one held must be decoded again.
    full: bool,
    /// The probe's decoder, right after its window, and the first frame past the window (when
    /// the window was held whole; `None` inside: the stream ended).
    rest: Option<(VideoDecoder, Option<DecodedFrame>)>,
}

impl HeldFrames {
    /// Keeps up to [`HELD_BYTES`] of the piece that starts at copy time `from`.
    pub fn new(from: f64) -> Self {
        Self::with_budget(from, HELD_BYTES)
    }

    /// Keeps up to `budget` luma bytes.
    pub fn with_budget(from: f64, budget: usize) -> Self {
        Self { from, frames: Vec::new(), bytes: 0, budget, full: false, rest: None }
    }

    /// Copy time of the piece's start.
    pub fn from(&self) -> f64 {
        self.from
    }

    /// Keeps a copy of the plane shown at `pts`, while the budget lasts.
    pub fn hold(&mut self, pts: f64, luma: &Luma<'_>) {
        let size = luma.width * luma.height;
        if self.full || self.bytes + size > self.budget {
            self.full = true;
            return;
        }
        // Filled row by row, never zeroed first: a probe that does not line up holds planes
        // for nothing, and they should cost no more than a copy.
        let mut data = Vec::with_capacity(size);
        for y in 0..luma.height {
            data.extend_from_slice(&luma.row(y)[..luma.width]);
        }
        self.bytes += size;
        self.frames.push((pts, OwnedLuma { data, width: luma.width, height: luma.height }));
    }

    /// The probe's window ended here: `decoder` continues after it, `next` is the frame that
    /// ended the window (`None`: the stream ended). Kept only if every frame was held.
    pub fn finish(&mut self, decoder: VideoDecoder, next: Option<DecodedFrame>) {
        if !self.full {
            self.rest = Some((decoder, next));
        }
    }
}

/// One copy frame: held by the probe, or decoded now.
pub enum CopyFrame {
    Held(f64, OwnedLuma),
    Decoded(DecodedFrame),
}

impl CopyFrame {
    pub fn pts(&self) -> f64 {
        match self {
            Self::Held(pts, _) => *pts,
            Self::Decoded(f) => f.pts_seconds,
        }
    }

    pub fn luma(&self) -> Luma<'_> {
        match self {
            Self::Held(_, plane) => plane.view(),
            Self::Decoded(f) => f.luma(),
        }
    }
}

/// The copy from a piece's start on: the probe's held frames first, then the decoder.
pub struct CopyFrames {
    held: std::vec::IntoIter<(f64, OwnedLuma)>,
    pending: Option<DecodedFrame>,
    decoder: VideoDecoder,
    /// Decoded frames at or before this time were held already (a decoder reopened after the
    /// last held frame lands on the keyframe before it).
    skip_until: Option<f64>,
}

impl CopyFrames {
    /// Reads `path` from copy time `from`, starting with what `held` kept of it when it was
    /// taken from the same start.
    pub fn open(path: &Path, from: f64, held: Option<HeldFrames>) -> Result<Self, MediaError> {
        let held = held.filter(|h| h.from == from);
        let Some(held) = held else {
            let decoder = open_at(path, from)?;
            return Ok(Self::from_decoder(decoder, Vec::new(), None, None));
        };
        match held.rest {
            Some((decoder, pending)) => Ok(Self::from_decoder(decoder, held.frames, pending, None)),
            None => {
                let last = held.frames.last().map(|f| f.0);
                let decoder = open_at(path, last.unwrap_or(from))?;
                Ok(Self::from_decoder(decoder, held.frames, None, last))
            }
        }
    }

    fn from_decoder(
        decoder: VideoDecoder,
        held: Vec<(f64, OwnedLuma)>,
        pending: Option<DecodedFrame>,
        skip_until: Option<f64>,
    ) -> Self {
        Self { held: held.into_iter(), pending, decoder, skip_until }
    }

    pub fn info(&self) -> &VideoInfo {
        self.decoder.info()
    }

    /// The next frame, `None` at the end of the copy.
    pub fn next_frame(&mut self) -> Result<Option<CopyFrame>, MediaError> {
        if let Some((pts, plane)) = self.held.next() {
            return Ok(Some(CopyFrame::Held(pts, plane)));
        }
        if let Some(frame) = self.pending.take() {
            return Ok(Some(CopyFrame::Decoded(frame)));
        }
        loop {
            let Some(frame) = self.decoder.next_frame()? else { return Ok(None) };
            if self.skip_until.is_some_and(|t| frame.pts_seconds <= t) {
                continue;
            }
            self.skip_until = None;
            return Ok(Some(CopyFrame::Decoded(frame)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abmark_wm::detector::NearestFrames;

    fn clip() -> std::path::PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cache");
        let path = dir.join("abmark-720p-short.mp4");
        assert!(path.exists(), "{} missing: run datasets/fetch.sh first", path.display());
        path
    }

    /// Every frame from `from` on as (time, FNV-1a hash of the luma plane).
    fn digest(pts: f64, luma: &Luma<'_>) -> (u64, u64) {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for y in 0..luma.height {
            for &b in &luma.row(y)[..luma.width] {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        (pts.to_bits(), h)
    }

    fn fresh(path: &Path, from: f64) -> Vec<(u64, u64)> {
        let mut decoder = open_at(path, from).expect("open");
        let mut out = Vec::new();
        while let Some(f) = decoder.next_frame().expect("decode") {
            if f.pts_seconds >= from || from <= 0.0 {
                out.push(digest(f.pts_seconds, &f.luma()));
            }
        }
        out
    }

    #[test]
    fn the_probed_opening_is_read_once_and_gives_the_frames_a_fresh_decode_gives() {
        let path = clip();
        let plane = 1280 * 720;
        // Whole window held; a budget that runs out after 40 frames (decoded again from the
        // keyframe before the last held one); nothing held; and a piece that starts mid-clip.
        for (from, budget) in [(0.0, HELD_BYTES), (0.0, 40 * plane), (0.0, 0), (7.3, HELD_BYTES)] {
            let mut collect = NearestFrames::new(Vec::new());
            let mut held = HeldFrames::with_budget(from, budget);
            crate::timeline::fingerprints_from(&path, from, 5.0, &mut collect, &mut held)
                .expect("probe");
            let kept = held.frames.len();
            assert_eq!(kept, (budget / plane).min(kept), "held within the budget");
            assert_eq!(held.rest.is_some(), budget == HELD_BYTES, "whole window held");
            let mut frames = CopyFrames::open(&path, from, Some(held)).expect("open");
            let mut read = Vec::new();
            while let Some(f) = frames.next_frame().expect("read") {
                read.push(digest(f.pts(), &f.luma()));
            }
            let want = fresh(&path, from);
            assert!(want.len() > 400, "{} frames", want.len());
            assert_eq!(read, want, "from {from} s, budget {budget}");
        }
    }
}
