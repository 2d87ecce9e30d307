//! What `detect` answers: a verdict in one sentence, the accused session with its evidence, and
//! the per-segment scores behind it.

use serde::Serialize;

use super::evidence::{positions_needed, Fit, Readings};
use super::{DetectOptions, Positions};
use crate::symbols::{PieceSummary, SymbolReport, VideoSummary};
use abmark_delivery::ids::SessionId;
use abmark_wm::payload::pattern_bit;
use abmark_wm::register::temporal::TemporalFit;
use abmark_wm::register::Transform;
use abmark_wm::Symbol;

/// The outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A session is named: the chance that an innocent one matches as well is below `alpha`.
    Named,
    /// The copy is not of the reference's content (or too damaged to place in it).
    NoMatch,
    /// The copy is the reference's content but no segment carries a decidable watermark.
    NoWatermark,
    /// The evidence is not yet enough to name anyone: more copy is needed.
    TooShort,
    /// Enough of the code is read, but no session matches it convincingly (e.g. the copy mixes
    /// several viewers' segments, or its session is in neither the log nor the code's reach).
    NoSession,
}

/// How a session came to be accused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccusationMode {
    /// Decoded from the session code alone (any of 2^32 sessions).
    Blind,
    /// The best of the session log's sessions.
    Candidate,
}

impl std::fmt::Display for AccusationMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AccusationMode::Blind => "blind",
            AccusationMode::Candidate => "candidate",
        })
    }
}

/// A session and the evidence against it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accusation {
    pub mode: AccusationMode,
    pub session: Option<SessionId>,
    pub subject: Option<String>,
    /// Decided code positions, and how many hold the session's bit.
    pub agree: usize,
    pub decided: usize,
    /// Probability that one session that did not receive this copy agrees at least as well.
    pub false_accusation_probability: f64,
    /// Sessions it was chosen among (the log's, or 2^32 for blind decoding).
    pub candidates: f64,
    /// Bound on the probability that any of them, innocent, matches as well:
    /// `candidates × false_accusation_probability`, at most 1.
    pub any_innocent_probability: f64,
    /// Sum over segments of ±LLR by the session's bits, and the next candidate's.
    pub score: f64,
    pub runner_up_score: Option<f64>,
    #[serde(skip)]
    pub pattern: Vec<u8>,
    #[serde(skip)]
    pub pattern_bits: usize,
}

impl Accusation {
    pub fn new(
        mode: AccusationMode,
        session: Option<SessionId>,
        subject: Option<String>,
        fit: Fit,
        candidates: f64,
        pattern: Vec<u8>,
        pattern_bits: usize,
    ) -> Self {
        let p = fit.p_innocent();
        Accusation {
            mode,
            session,
            subject,
            agree: fit.agree,
            decided: fit.decided,
            false_accusation_probability: p,
            candidates,
            any_innocent_probability: (p * candidates).min(1.0),
            score: fit.soft,
            runner_up_score: None,
            pattern,
            pattern_bits,
        }
    }

    /// The symbol this session's stream carries in a segment at `position` (its pattern bit).
    pub fn symbol_at(&self, position: u16) -> Option<Symbol> {
        pattern_bit(&self.pattern, self.pattern_bits, u64::from(position))
            .and_then(Symbol::from_bit)
    }

    fn convincing(&self, alpha: f64) -> bool {
        self.any_innocent_probability <= alpha
            && self.runner_up_score.is_none_or(|r| r < self.score)
    }
}

/// One segment of the copy as the detector saw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentEvidence {
    /// Segment index in the reference (and so in every viewer's stream).
    pub index: u64,
    pub position: Option<u16>,
    pub reference_start_seconds: f64,
    pub frames: u32,
    pub z: f64,
    pub llr: f64,
    pub symbol: Option<Symbol>,
    /// The symbol the accused session's stream carries in this segment.
    pub expected: Option<Symbol>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spatial {
    pub transform: Transform,
    /// The copy is flipped left to right.
    pub mirrored: bool,
    pub correlation: f64,
}

/// Everything `detect` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetectReport {
    pub verdict: Verdict,
    /// The verdict in one sentence.
    pub message: String,
    pub accused: Option<Accusation>,
    pub blind: Option<Accusation>,
    pub candidate: Option<Accusation>,
    pub temporal: Option<TemporalFit>,
    pub spatial: Option<Spatial>,
    /// How the copy was read: one piece for an unedited copy; after a cut, an inserted scene
    /// or a re-framing, one per stretch aligned on its own (`temporal` and `spatial` are the
    /// first piece's).
    pub pieces: Vec<PieceSummary>,
    pub copy: Option<VideoSummary>,
    /// Segments scored, and the seconds of copy they span.
    pub segments_used: usize,
    pub seconds_spanned: f64,
    pub positions_decided: usize,
    /// For a too-short copy: about how many more seconds would do.
    pub more_seconds_needed: Option<f64>,
    pub segments: Vec<SegmentEvidence>,
    /// How candidate mode's sessions were chosen (which logs, filtered to which subject list);
    /// `None` in blind mode. Set by the caller that chose them ([`crate::candidates`]).
    pub candidate_set: Option<String>,
}

impl DetectReport {
    pub(super) fn no_match(temporal: Option<TemporalFit>, informative_frames: usize) -> Self {
        let message = match temporal {
            Some(t) => format!(
                "no match to the reference: the copy's pictures do not follow the reference's \
                 (best fingerprint correlation {:.2})",
                t.correlation
            ),
            None if informative_frames < 8 => {
                "no match to the reference: the start of the copy is blank or too short to place"
                    .to_owned()
            }
            None => "no match to the reference".to_owned(),
        };
        DetectReport {
            verdict: Verdict::NoMatch,
            message,
            accused: None,
            blind: None,
            candidate: None,
            temporal,
            spatial: None,
            pieces: Vec::new(),
            copy: None,
            segments_used: 0,
            seconds_spanned: 0.0,
            positions_decided: 0,
            more_seconds_needed: None,
            segments: Vec::new(),
            candidate_set: None,
        }
    }

    pub(super) fn build(
        temporal: TemporalFit,
        symbols: SymbolReport,
        readings: Readings,
        blind: Option<Accusation>,
        candidate: Option<Accusation>,
        positions: &Positions,
        options: &DetectOptions,
    ) -> Self {
        let alpha = options.alpha;
        let segment_seconds = options.symbols.params.segment_seconds;
        let decided = readings.decided();
        // The log's best session when it convinces, else the blind decode's (the leaker may be
        // missing from this log, e.g. served by another replica). Both stay reported.
        let accused = [candidate.as_ref(), blind.as_ref()]
            .into_iter()
            .flatten()
            .find(|a| a.convincing(alpha))
            .cloned();
        let preferred = accused.as_ref().or(candidate.as_ref()).or(blind.as_ref());
        let (verdict, message, more) = if decided == 0 {
            let message = format!(
                "no watermark: {} segments of the reference's content, none decided (median |z| {:.1})",
                symbols.segments.len(),
                symbols.signal_z
            );
            (Verdict::NoWatermark, message, None)
        } else if let Some(a) = &accused {
            let who = match (&a.session, &a.subject) {
                (Some(s), Some(subject)) => format!("session {s} ({subject})"),
                (Some(s), None) => format!("session {s}"),
                (None, Some(subject)) => format!("the session of {subject}"),
                (None, None) => "an unnamed session".to_owned(),
            };
            let message = format!(
                "{who}: {} of {} decided positions hold its bits; an innocent session matches \
                 this well with probability {:.1e} ({} mode, {:.0e} candidates)",
                a.agree, a.decided, a.false_accusation_probability, a.mode, a.candidates
            );
            (Verdict::Named, message, None)
        } else {
            // More copy helps only while the easier of the two modes still lacks positions.
            let missing = [candidate.as_ref(), blind.as_ref()]
                .into_iter()
                .flatten()
                .map(|a| positions_needed(decided, a.candidates, alpha))
                .min()
                .unwrap_or_else(|| positions_needed(decided, 2f64.powi(32), alpha));
            let more = (missing > 0).then_some(missing as f64 * segment_seconds);
            let message = match more {
                Some(s) => format!(
                    "too short to name a session: {decided} positions decided, about {s:.0} more \
                     seconds of copy needed"
                ),
                None => format!(
                    "no session matches convincingly: {decided} positions decided, best candidate \
                     agrees with {} of them",
                    preferred.map_or(0, |a| a.agree)
                ),
            };
            let verdict = if more.is_some() { Verdict::TooShort } else { Verdict::NoSession };
            (verdict, message, more)
        };
        let segments = symbols
            .segments
            .iter()
            .map(|s| {
                let position = positions.of(s.index);
                SegmentEvidence {
                    index: s.index,
                    position,
                    reference_start_seconds: s.start_seconds,
                    frames: s.frames,
                    z: s.z,
                    llr: s.llr,
                    symbol: s.symbol,
                    expected: preferred.zip(position).and_then(|(a, p)| a.symbol_at(p)),
                }
            })
            .collect();
        let frames: u64 = symbols.segments.iter().map(|s| u64::from(s.frames)).sum();
        DetectReport {
            verdict,
            message,
            accused,
            blind,
            candidate,
            temporal: Some(temporal),
            spatial: Some(Spatial {
                transform: symbols.transform,
                mirrored: symbols.mirrored,
                correlation: symbols.match_correlation,
            }),
            pieces: symbols.pieces,
            seconds_spanned: frames as f64 / symbols.copy.fps.max(1.0),
            copy: Some(symbols.copy),
            segments_used: symbols.segments.len(),
            positions_decided: decided,
            more_seconds_needed: more,
            segments,
            candidate_set: None,
        }
    }
}
