//! Reading a copy piece by piece: where each part of the copy sits in the reference, in time
//! and in space.
//!
//! The copy's start is aligned as a whole (a 30-s fingerprint probe for the offset, then the
//! spatial registration) and read until the symbol scorer says the alignment no longer holds
//! ([`crate::symbols::LossMonitor`]): a cut, an inserted scene, a re-framed picture. From there
//! the rest is aligned afresh with a shorter probe, and so on to the end. Stretches that match
//! nothing in the reference (an advert, an intro, a black lead-in, also at the very start) are
//! stepped over. An unedited copy is one piece and costs nothing more; each further piece costs
//! a short probe and a registration.

use std::path::Path;

use super::{timeline, DetectError, DetectOptions, Stage};
use crate::copy::HeldFrames;
use crate::symbols::{score_piece, PieceRequest, ScoredPiece, SymbolOptions, SymbolReport};
use crate::video::ReferenceVideo;
use abmark_wm::detector::{candidate_times, NearestFrames, ALIGNED_CORRELATION};
use abmark_wm::key::WatermarkKey;
use abmark_wm::register::temporal::{find_offset, TemporalFit, Timeline};

/// Seconds of copy fingerprinted to place a later piece: long enough for a unique offset,
/// short enough that an edit a few seconds on does not spoil the match.
const LATER_PROBE_SECONDS: f64 = 10.0;
/// How far to step over a stretch that matches nothing in the reference.
const STEP_SECONDS: f64 = 5.0;
/// A later piece shorter than this is not a reading: step on instead.
const MIN_PIECE_SECONDS: f64 = 1.0;
/// Most pieces read from one copy (bounds the work on a copy that keeps changing).
const MAX_PIECES: usize = 64;
/// How far into a copy whose opening is not of the reference to look for where it starts.
const OPENING_SEARCH_SECONDS: f64 = 120.0;

/// What reading the copy gave.
pub(super) enum Reading {
    /// The copy's start is not of the reference's content (in time or in space).
    NoMatch { temporal: Option<TemporalFit>, informative: usize },
    /// The copy, read piece by piece; `temporal` is the first piece's offset.
    Read { temporal: TemporalFit, symbols: Box<SymbolReport> },
}

/// The offset of the copy from `from` on, by fingerprinting `seconds` of it (the better of the
/// plain and the flipped reading), with the piece's registration frames gathered on the way.
struct Probe {
    temporal: Option<TemporalFit>,
    prints: Timeline,
    frames: NearestFrames,
    /// The planes decoded, for scoring the piece without decoding them again.
    held: HeldFrames,
    /// Copy time of the last frame fingerprinted (`None`: nothing left to read).
    last: Option<f64>,
}

/// Where `prints` (copy fingerprints) sit in the reference: the better of the plain and the
/// flipped reading.
fn place(prints: &Timeline, reference: &(Timeline, f64)) -> Option<TemporalFit> {
    let plain = find_offset(prints, &reference.0, reference.1);
    let flipped = find_offset(&prints.mirrored(), &reference.0, reference.1);
    match (plain, flipped) {
        (Some(p), Some(f)) if f.correlation > p.correlation => Some(f),
        (None, f) => f,
        (p, _) => p,
    }
}

impl Probe {
    /// The registration frames and planes gathered, leaving the probe without them.
    fn take_probed(&mut self) -> (NearestFrames, HeldFrames) {
        let from = self.held.from();
        let frames = std::mem::replace(&mut self.frames, NearestFrames::new(Vec::new()));
        (frames, std::mem::replace(&mut self.held, HeldFrames::with_budget(from, 0)))
    }
}

fn probe(
    copy: &Path,
    from: f64,
    seconds: f64,
    reference: &(Timeline, f64),
    pairs: usize,
) -> Result<Probe, DetectError> {
    // The registration frames are gathered at the times an offset >= 0 needs (almost every
    // copy); the piece reads them again otherwise.
    let mut frames = NearestFrames::new(candidate_times(pairs, from, 0.0));
    let mut held = HeldFrames::new(from);
    let prints = timeline::fingerprints_from(copy, from, seconds, &mut frames, &mut held)?;
    let temporal = place(&prints, reference);
    let last = prints.last_time();
    Ok(Probe { temporal, prints, frames, held, last })
}

/// Reads `copy` against the reference (`prints`: its fingerprints and frame rate).
pub(super) fn read_copy(
    copy: &Path,
    reference: &ReferenceVideo,
    prints: &(Timeline, f64),
    key: &WatermarkKey,
    options: &DetectOptions,
    progress: &mut dyn FnMut(Stage),
) -> Result<Reading, DetectError> {
    let mut reader = Reader { copy, reference, prints, key, options, progress, frames: 0 };
    let mut first = probe(copy, 0.0, options.probe_seconds, prints, reader.pairs())?;
    // The copy's start, read only if it lines up as well as an aligned copy does; a weaker fit
    // may come from an opening that is not of the reference (the registration frames are taken
    // from the first seconds), so the search below gets its chance first.
    let mut head = None;
    let mut weak = None;
    // The probe's planes serve the first reading only; the search below holds its own.
    let probed = first.take_probed();
    if let Some(t) = first.temporal.filter(|t| reader.matched(t)) {
        let piece = reader.score(0.0, &t, probed, ALIGNED_CORRELATION)?;
        if piece.fit.correlation >= ALIGNED_CORRELATION {
            head = Some((t, piece));
        } else if piece.fit.correlation >= options.min_spatial_correlation {
            weak = Some(t);
        }
    } else {
        drop(probed);
    }
    // An opening that is not of the reference (an intro, an advert, a black lead-in): look for
    // where the reference starts, a step at a time.
    let mut from = STEP_SECONDS;
    while head.is_none() && from <= OPENING_SEARCH_SECONDS {
        // Windows inside the first probe are judged from its fingerprints, without decoding.
        let window = from + LATER_PROBE_SECONDS;
        if first.last.is_some_and(|last| window <= last) {
            let prints = first.prints.window(from, window);
            if place(&prints, reader.prints).filter(|t| reader.matched(t)).is_none() {
                from += STEP_SECONDS;
                continue;
            }
        }
        match reader.attempt(from)? {
            Attempt::Aligned(t, piece) => head = Some((t, *piece)),
            Attempt::StepTo(Some(next)) => from = next,
            Attempt::StepTo(None) => break,
        }
    }
    // Nothing lines up better: the start as it registered (a heavily degraded copy).
    if let (None, Some(t)) = (&head, weak) {
        let nothing = (NearestFrames::new(Vec::new()), HeldFrames::new(0.0));
        let piece = reader.score(0.0, &t, nothing, options.min_spatial_correlation)?;
        head = Some((t, piece));
    }
    let Some((temporal, head)) = head else {
        let informative = first.prints.informative();
        return Ok(Reading::NoMatch { temporal: first.temporal, informative });
    };

    let mut more = Vec::new();
    let mut next = head.piece.lost.then_some(head.piece.to_seconds);
    while let Some(from) = next.take() {
        if more.len() + 1 >= MAX_PIECES {
            break;
        }
        next = match reader.attempt(from)? {
            Attempt::Aligned(_, piece) => {
                let after = piece.piece.lost.then_some(piece.piece.to_seconds);
                more.push(*piece);
                after
            }
            Attempt::StepTo(next) => next,
        };
    }
    let symbols = head.report(&reader.symbol_options(&temporal), more);
    Ok(Reading::Read { temporal, symbols: Box::new(symbols) })
}

/// What placing the copy from some time on gave.
enum Attempt {
    /// A piece that lines up, read until its alignment was lost or the copy ended.
    Aligned(TemporalFit, Box<ScoredPiece>),
    /// Nothing lines up here: try again from this time (`None`: the copy ends first).
    StepTo(Option<f64>),
}

/// The copy, the reference and the work done so far.
struct Reader<'a> {
    copy: &'a Path,
    reference: &'a ReferenceVideo,
    prints: &'a (Timeline, f64),
    key: &'a WatermarkKey,
    options: &'a DetectOptions,
    progress: &'a mut dyn FnMut(Stage),
    /// Copy frames scored by the pieces so far (for progress).
    frames: u64,
}

impl Reader<'_> {
    fn pairs(&self) -> usize {
        self.options.symbols.registration_frames
    }

    fn matched(&self, t: &TemporalFit) -> bool {
        t.correlation >= self.options.min_temporal_correlation
    }

    fn symbol_options(&self, t: &TemporalFit) -> SymbolOptions {
        SymbolOptions { time_offset: t.offset_seconds, ..self.options.symbols.clone() }
    }

    /// Reads the copy from `from` at offset `t` until the alignment is lost, if it registers
    /// in space at least `min_fit`. `probed`: the registration frames and planes a probe
    /// gathered from `from` on.
    fn score(
        &mut self,
        from: f64,
        t: &TemporalFit,
        probed: (NearestFrames, HeldFrames),
        min_fit: f64,
    ) -> Result<ScoredPiece, DetectError> {
        let (frames, held) = probed;
        let request = PieceRequest {
            from,
            copy_frames: Some(frames),
            held: Some(held),
            stop_when_lost: true,
            min_fit,
        };
        let options = self.symbol_options(t);
        let progress = &mut *self.progress;
        let piece = score_piece(
            self.copy,
            self.reference,
            self.key,
            &options,
            request,
            self.frames,
            &mut |p| progress(Stage::Copy(p)),
        )?;
        self.frames += piece.frames;
        Ok(piece)
    }

    /// Places the copy from `from` with a short probe and reads it there if it lines up as well
    /// as an aligned copy does (a near miss would read the wrong reference frames).
    fn attempt(&mut self, from: f64) -> Result<Attempt, DetectError> {
        let p = probe(self.copy, from, LATER_PROBE_SECONDS, self.prints, self.pairs())?;
        let Some(last) = p.last else { return Ok(Attempt::StepTo(None)) };
        let step_on = Attempt::StepTo((from + STEP_SECONDS <= last).then_some(from + STEP_SECONDS));
        let Some(t) = p.temporal.filter(|t| self.matched(t)) else { return Ok(step_on) };
        let piece = self.score(from, &t, (p.frames, p.held), ALIGNED_CORRELATION)?;
        if piece.fit.correlation < ALIGNED_CORRELATION
            || piece.piece.to_seconds < from + MIN_PIECE_SECONDS
        {
            return Ok(step_on);
        }
        Ok(Attempt::Aligned(t, Box::new(piece)))
    }
}
