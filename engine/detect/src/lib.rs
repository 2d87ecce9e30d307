//! abmark-detect: leak detection, from a pirated copy to the session that leaked it, with
//! evidence.
//!
//! This crate owns the whole path after a leak: temporal registration (where in the reference
//! the copy starts, [`abmark_wm::register::temporal`]), the per-segment symbol detector at that
//! offset ([`crate::symbols`], which does the spatial registration), both again for each later
//! piece of an edited or re-framed copy ([`pieces`]), reading the session code
//! off the decided segments, naming a session — blind (Reed-Solomon list decoding of the code,
//! [`abmark_wm::payload`]) and against the session log (maximum likelihood over the issued
//! sessions) — and the evidence: agreements, the probability that an innocent session would
//! match this well ([`evidence`]), and what is missing when the copy is too short or is not of
//! this content at all.
//!
//! May depend on: `abmark-media` (decoding the copy and the reference), the core (`abmark-wm`),
//! `abmark-delivery` (the variants output, the session log), `abmark-files`. Must not: serve
//! HTTP or write anything but its report and plot.

pub mod candidates;
pub mod copy;
pub mod evidence;
mod pieces;
pub mod plot;
pub mod reference;
mod report;
pub mod symbols;
mod timeline;
pub mod video;

pub use candidates::{CandidateSet, CandidateSources};
pub use evidence::{Fit, PositionReading, Readings};
pub use reference::ReferenceInput;
pub use report::{Accusation, AccusationMode, DetectReport, SegmentEvidence, Verdict};
pub use video::ReferenceVideo;

use std::path::{Path, PathBuf};

use crate::symbols::{Progress, SymbolOptions, SymbolsError};
use abmark_delivery::ids::SessionId;
use abmark_delivery::sessions::SessionRecord;
use abmark_media::MediaError;
use abmark_wm::key::WatermarkKey;
use abmark_wm::payload::{PayloadError, SessionCoder, CODE_BITS};
use abmark_wm::register::temporal::Timeline;
use pieces::Reading;

/// Knobs of the leak detector.
#[derive(Clone, Debug)]
pub struct DetectOptions {
    pub symbols: SymbolOptions,
    /// Seconds from the start of the copy used to find its place in the reference.
    pub probe_seconds: f64,
    /// A session is named only when the chance that any innocent candidate matches as well is
    /// below this.
    pub alpha: f64,
    /// Below this mean fingerprint correlation the copy is not of the reference's content.
    pub min_temporal_correlation: f64,
    /// Below this block correlation after spatial registration, likewise.
    pub min_spatial_correlation: f64,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            symbols: SymbolOptions::default(),
            probe_seconds: 30.0,
            alpha: 1e-3,
            min_temporal_correlation: 0.5,
            min_spatial_correlation: 0.3,
        }
    }
}

/// Why detection could not run (as opposed to running and finding nothing). One line each.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Symbols(#[from] SymbolsError),
    #[error(transparent)]
    Layout(#[from] abmark_delivery::layout::LayoutError),
    #[error("session code: {0}")]
    Payload(#[from] PayloadError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: not a session log record ({reason})", path.display())]
    SessionLog { path: PathBuf, line: usize, reason: String },
}

/// One issued session a copy can be matched against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub session: Option<SessionId>,
    pub subject: Option<String>,
    pub pattern: Vec<u8>,
    pub bits: usize,
}

/// Reads a session log (JSONL of [`SessionRecord`]); the same pattern logged twice counts once.
pub fn load_session_log(path: &Path) -> Result<Vec<Candidate>, DetectError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| DetectError::Io { path: path.to_owned(), source })?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad =
            |reason: String| DetectError::SessionLog { path: path.to_owned(), line: i + 1, reason };
        let r: SessionRecord = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let pattern = hex::decode(&r.pattern).map_err(|e| bad(format!("pattern: {e}")))?;
        if r.pattern_bits == 0 || r.pattern_bits > pattern.len() * 8 {
            return Err(bad("pattern_bits does not fit the pattern".into()));
        }
        if seen.insert((pattern.clone(), r.pattern_bits)) {
            out.push(Candidate {
                session: r.session,
                subject: r.subject,
                pattern,
                bits: r.pattern_bits,
            });
        }
    }
    Ok(out)
}

/// Where each segment's bit sits: the published WMPaceInfo positions, or the session code's
/// own layout (`i mod 64`) beyond them.
pub struct Positions(pub Vec<Option<u16>>);

impl Positions {
    pub fn of(&self, segment: u64) -> Option<u16> {
        match usize::try_from(segment).ok().and_then(|i| self.0.get(i)) {
            Some(p) => *p,
            None => u16::try_from(abmark_wm::payload::position_of_segment(segment)).ok(),
        }
    }
}

/// Stages of a detection, for progress display.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// Fingerprinting the reference (frames done).
    Reference(Progress),
    /// Scoring the copy's frames.
    Copy(Progress),
}

/// The reference's frame fingerprints and frame rate: from the variants output's
/// `fingerprints.bin` when there is one, else `None` (detection then fingerprints the source).
pub fn load_fingerprints(out: &Path) -> Result<Option<(Timeline, f64)>, DetectError> {
    let path = out.join(abmark_delivery::layout::FINGERPRINTS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Timeline::from_bytes(&bytes).map(Some).map_err(|reason| DetectError::Io {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(DetectError::Io { path, source }),
    }
}

/// Examines `copy` against `reference` (the unmarked source of the variants, or the host
/// rebuilt from the variants). `index`: the reference's fingerprints if already known
/// ([`load_fingerprints`]).
#[allow(clippy::too_many_arguments)]
pub fn detect(
    copy: &Path,
    reference: &ReferenceVideo,
    index: Option<(Timeline, f64)>,
    positions: &Positions,
    key: &WatermarkKey,
    sessions: Option<&[Candidate]>,
    options: &DetectOptions,
    progress: &mut dyn FnMut(Stage),
) -> Result<DetectReport, DetectError> {
    let coder = SessionCoder::new(key)?;
    let (reference_prints, ref_fps) = match index {
        Some(index) => index,
        None => timeline::fingerprints(reference, &mut |p| progress(Stage::Reference(p)))?,
    };
    let prints = (reference_prints, ref_fps);
    let (temporal, symbols) =
        match pieces::read_copy(copy, reference, &prints, key, options, progress)? {
            Reading::NoMatch { temporal, informative } => {
                return Ok(DetectReport::no_match(temporal, informative))
            }
            Reading::Read { temporal, symbols } => (temporal, *symbols),
        };
    let readings = Readings::new(&symbols.segments, |i| positions.of(i));
    let blind = evidence::blind(&readings, &coder).map(|(session, bytes, fit)| {
        Accusation::new(
            AccusationMode::Blind,
            Some(SessionId(session)),
            None,
            fit,
            2f64.powi(32),
            bytes.to_vec(),
            CODE_BITS,
        )
    });
    let candidate = sessions.and_then(|list| best_candidate(&readings, list));
    Ok(DetectReport::build(temporal, symbols, readings, blind, candidate, positions, options))
}

/// The log session with the best soft score, with the runner-up's score for the margin.
fn best_candidate(readings: &Readings, list: &[Candidate]) -> Option<Accusation> {
    let mut scored: Vec<(f64, &Candidate, Fit)> = list
        .iter()
        .map(|c| {
            let fit = readings.score(&c.pattern, c.bits);
            (fit.soft, c, fit)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (_, best, fit) = scored.first()?;
    let mut accusation = Accusation::new(
        AccusationMode::Candidate,
        best.session,
        best.subject.clone(),
        *fit,
        list.len() as f64,
        best.pattern.clone(),
        best.bits,
    );
    accusation.runner_up_score = scored.get(1).map(|s| s.0);
    Some(accusation)
}
