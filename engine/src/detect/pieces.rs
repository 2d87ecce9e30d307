//! Reading a copy piece by piece: where each part of the copy sits in the reference, in time
//! and in space.
//!
//! The copy's start is aligned as a whole (a 30-s fingerprint probe for the offset, then the
//! spatial registration) and read until the symbol scorer says the alignment no longer holds
//! ([`crate::symbols::LossMonitor`]): a cut, an inserted scene, a re-framed picture. From there
//! the rest is aligned afresh with a shorter probe, and so on to the end. Stretches that match
//! nothing in the reference (an advert, an intro) are stepped over. An unedited copy is one
//! piece and costs nothing more; each further piece costs a short probe and a registration.

use std::path::Path;

use super::{timeline, DetectError, DetectOptions, Stage};
use crate::key::WatermarkKey;
use crate::register::temporal::{find_offset, TemporalFit, Timeline};
use crate::symbols::{
    candidate_times, score_piece, NearestFrames, PieceRequest, SymbolOptions, SymbolReport,
    ALIGNED_CORRELATION,
};

/// Seconds of copy fingerprinted to place a later piece: long enough for a unique offset,
/// short enough that an edit a few seconds on does not spoil the match.
const LATER_PROBE_SECONDS: f64 = 10.0;
/// How far to step over a stretch that matches nothing in the reference.
const STEP_SECONDS: f64 = 5.0;
/// A later piece shorter than this is not a reading: step on instead.
const MIN_PIECE_SECONDS: f64 = 1.0;
/// Most pieces read from one copy (bounds the work on a copy that keeps changing).
const MAX_PIECES: usize = 64;

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
    informative: usize,
    frames: NearestFrames,
    /// Copy time of the last frame fingerprinted (`None`: nothing left to read).
    last: Option<f64>,
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
    let prints = timeline::fingerprints_from(copy, from, seconds, &mut frames)?;
    let plain = find_offset(&prints, &reference.0, reference.1);
    let flipped = find_offset(&prints.mirrored(), &reference.0, reference.1);
    let temporal = match (plain, flipped) {
        (Some(p), Some(f)) if f.correlation > p.correlation => Some(f),
        (None, f) => f,
        (p, _) => p,
    };
    Ok(Probe { temporal, informative: prints.informative(), frames, last: prints.last_time() })
}

/// Reads `copy` against the reference (`prints`: its fingerprints and frame rate).
pub(super) fn read_copy(
    copy: &Path,
    reference: &Path,
    prints: &(Timeline, f64),
    key: &WatermarkKey,
    options: &DetectOptions,
    progress: &mut dyn FnMut(Stage),
) -> Result<Reading, DetectError> {
    let pairs = options.symbols.registration_frames;
    let matched = |t: &TemporalFit| t.correlation >= options.min_temporal_correlation;
    let first = probe(copy, 0.0, options.probe_seconds, prints, pairs)?;
    let Some(temporal) = first.temporal.filter(matched) else {
        return Ok(Reading::NoMatch { temporal: first.temporal, informative: first.informative });
    };
    let symbol_options = |t: &TemporalFit| SymbolOptions {
        time_offset: t.offset_seconds,
        ..options.symbols.clone()
    };
    let request = PieceRequest { from: 0.0, copy_frames: Some(first.frames), stop_when_lost: true };
    let mut report = |p| progress(Stage::Copy(p));
    let head =
        score_piece(copy, reference, key, &symbol_options(&temporal), request, 0, &mut report)?;
    if head.fit.correlation < options.min_spatial_correlation {
        return Ok(Reading::NoMatch { temporal: Some(temporal), informative: first.informative });
    }

    let mut frames = head.frames;
    let mut more = Vec::new();
    let mut next = head.piece.lost.then_some(head.piece.to_seconds);
    while let Some(from) = next.take() {
        if more.len() + 1 >= MAX_PIECES {
            break;
        }
        let p = probe(copy, from, LATER_PROBE_SECONDS, prints, pairs)?;
        let Some(last) = p.last else { break };
        let step_on = (from + STEP_SECONDS <= last).then_some(from + STEP_SECONDS);
        let Some(t) = p.temporal.filter(matched) else {
            next = step_on;
            continue;
        };
        let request = PieceRequest { from, copy_frames: Some(p.frames), stop_when_lost: true };
        let piece =
            score_piece(copy, reference, key, &symbol_options(&t), request, frames, &mut report)?;
        // A later piece must line up as well as an aligned copy does: a near miss would read
        // the wrong reference frames.
        if piece.fit.correlation < ALIGNED_CORRELATION
            || piece.piece.to_seconds < from + MIN_PIECE_SECONDS
        {
            next = step_on;
            continue;
        }
        frames += piece.frames;
        next = piece.piece.lost.then_some(piece.piece.to_seconds);
        more.push(piece);
    }
    let symbols = head.report(&symbol_options(&temporal), more);
    Ok(Reading::Read { temporal, symbols: Box::new(symbols) })
}
