//! Scoring attacked copies for the benchmark: one viewer's stream (a cell of the matrix), two
//! viewers' streams mixed segment by segment (collusion), and copies that carry no session. Each
//! copy goes through the real `detect`; what it answered is then checked against what is known
//! here and `detect` is not told: the true session and its bit in every segment.

use std::path::{Path, PathBuf};
use std::time::Instant;

use abmark_delivery::layout::JobFile;
use abmark_delivery::pace::PaceTable;
use abmark_detect::{
    detect, load_fingerprints, Candidate, DetectOptions, DetectReport, Positions, ReferenceVideo,
    SegmentEvidence,
};
use abmark_media::mix::session_choices;
use abmark_wm::key::WatermarkKey;
use abmark_wm::payload::SessionCoder;
use abmark_wm::register::temporal::Timeline;
use abmark_wm::Symbol;
use anyhow::Context;

use super::model::{CellReport, CollusionReport, InnocentReport};
use crate::leak::{candidate, falsely_accused, named, readings};

/// A marked clip as the detector sees it: its variants output and the unmarked source.
pub struct Reference {
    pub clip: String,
    pub out: PathBuf,
    pub job: JobFile,
    pub source: PathBuf,
    /// What `detect` compares with: the source, or the host rebuilt from the variants.
    pub video: ReferenceVideo,
    pub positions: Positions,
    pub fingerprints: Option<(Timeline, f64)>,
    pub key: WatermarkKey,
    pub coder: SessionCoder,
}

impl Reference {
    /// The clip `name` as its variants output `out` (made with `key`) describes it; the
    /// detector compares with the source `job.json` names until told otherwise.
    pub fn open(name: &str, out: &Path, key: &WatermarkKey) -> anyhow::Result<Self> {
        let job = JobFile::load(out).with_context(|| format!("{}: job.json", out.display()))?;
        let pace = PaceTable::load(out, &job)?;
        let source = PathBuf::from(&job.source);
        Ok(Reference {
            clip: name.to_owned(),
            positions: Positions(pace.positions().to_vec()),
            fingerprints: load_fingerprints(out)?,
            video: ReferenceVideo::Source(source.clone()),
            source,
            out: out.to_owned(),
            job,
            key: key.clone(),
            coder: SessionCoder::new(key)?,
        })
    }

    /// The symbol every segment of `session`'s stream carries (what `abmark mix` serves).
    pub fn choices(&self, session: u32) -> Vec<u8> {
        session_choices(&self.positions.0, &self.coder.encode(session))
    }

    /// Runs `detect` on `copy` against `video` with a session log; returns the report and its
    /// wall time.
    pub fn detect_with(
        &self,
        video: &ReferenceVideo,
        copy: &Path,
        log: &[Candidate],
        options: &DetectOptions,
    ) -> anyhow::Result<(DetectReport, f64)> {
        let started = Instant::now();
        let report = detect(
            copy,
            video,
            self.fingerprints.clone(),
            &self.positions,
            &self.key,
            Some(log),
            options,
            &mut |_| {},
        )?;
        Ok((report, started.elapsed().as_secs_f64()))
    }
}

/// The log a viewer's copy is detected with: others plus the given sessions.
pub fn log_with(coder: &SessionCoder, others: &[Candidate], sessions: &[u32]) -> Vec<Candidate> {
    let mut log = others.to_vec();
    log.extend(sessions.iter().map(|&s| candidate(coder, s)));
    log
}

/// One attacked copy of `session`'s stream.
pub fn cell(
    reference: &Reference,
    attack: &str,
    session: u32,
    report: &DetectReport,
    detect_seconds: f64,
    others: &[Candidate],
    options: &DetectOptions,
) -> CellReport {
    let truth = reference.choices(session);
    let bit = |s: &SegmentEvidence| truth.get(s.index as usize).copied().and_then(Symbol::from_bit);
    let mut cell = CellReport {
        clip: reference.clip.clone(),
        attack: attack.to_owned(),
        session,
        copy_seconds: report.seconds_spanned,
        verdict: verdict(report),
        blind_named: named(report.blind.as_ref(), session, options.alpha),
        candidate_named: named(report.candidate.as_ref(), session, options.alpha),
        blind_p: report.blind.as_ref().map(|a| a.any_innocent_probability),
        candidate_p: report.candidate.as_ref().map(|a| a.any_innocent_probability),
        false_accusation: falsely_accused(report, others, options.alpha),
        detect_seconds,
        worst_llr_margin: f64::INFINITY,
        ..CellReport::default()
    };
    for s in &report.segments {
        let Some(truth) = bit(s) else { continue };
        cell.segments += 1;
        match s.symbol {
            Some(b) if b == truth => cell.correct += 1,
            Some(_) => cell.wrong += 1,
            None => cell.undecided += 1,
        }
        // A positive LLR favours symbol 0.
        let margin = if truth == Symbol::Zero { s.llr } else { -s.llr };
        cell.worst_llr_margin = cell.worst_llr_margin.min(margin);
    }
    if cell.segments == 0 {
        cell.worst_llr_margin = 0.0;
    }
    let mut z: Vec<f64> =
        report.segments.iter().filter(|s| bit(s).is_some()).map(|s| s.z.abs()).collect();
    z.sort_by(f64::total_cmp);
    cell.median_abs_z = z.get(z.len() / 2).copied().unwrap_or(0.0);
    let decided = cell.correct + cell.wrong;
    cell.symbol_error_rate = if decided > 0 { cell.wrong as f64 / decided as f64 } else { 0.0 };
    let log_size = others.len() as f64 + 1.0;
    let pattern = candidate(&reference.coder, session);
    cell.seconds_needed =
        seconds_needed(report, &pattern, log_size, options.alpha, reference.job.segment_seconds);
    cell
}

/// The shortest start of the copy after which the true session, alone against `log_size`
/// candidates, would be named (its chance of an innocent match below `alpha`). Measured on the
/// segments the detector scored, in the reference's time; the runner-up rule of candidate mode
/// is not applied here (the true session is the best fit in every copy that names it).
fn seconds_needed(
    report: &DetectReport,
    truth: &Candidate,
    log_size: f64,
    alpha: f64,
    segment_seconds: f64,
) -> Option<f64> {
    let mut starts: Vec<f64> = report.segments.iter().map(|s| s.reference_start_seconds).collect();
    starts.sort_by(f64::total_cmp);
    let first = *starts.first()?;
    starts.into_iter().find_map(|cutoff| {
        let fit = readings(report, |s| s.reference_start_seconds <= cutoff)
            .score(&truth.pattern, truth.bits);
        (fit.p_innocent() * log_size <= alpha).then_some(cutoff + segment_seconds - first)
    })
}

/// Two viewers' streams mixed segment by segment (`share_first` of them the first viewer's), then
/// attacked: which session is named, and how well each colluder alone matches.
pub fn collusion(
    reference: &Reference,
    attack: &str,
    sessions: [u32; 2],
    share_first: f64,
    report: &DetectReport,
    others: &[Candidate],
    options: &DetectOptions,
) -> CollusionReport {
    let accused = report.accused.as_ref().and_then(|a| a.session).map(|s| s.index());
    let readings = readings(report, |_| true);
    let log_size = others.len() as f64 + 2.0;
    let colluder_p = sessions.map(|s| {
        let c = candidate(&reference.coder, s);
        (readings.score(&c.pattern, c.bits).p_innocent() * log_size).min(1.0)
    });
    CollusionReport {
        clip: reference.clip.clone(),
        attack: attack.to_owned(),
        sessions,
        share_first,
        verdict: verdict(report),
        named: accused,
        colluder_p,
        innocent_named: accused.is_some_and(|s| !sessions.contains(&s))
            || falsely_accused(report, others, options.alpha),
    }
}

/// A copy without any session, detected with a log of sessions that never received it.
pub fn innocent(
    clip: &str,
    what: &str,
    report: &DetectReport,
    others: &[Candidate],
    options: &DetectOptions,
) -> InnocentReport {
    InnocentReport {
        clip: clip.to_owned(),
        what: what.to_owned(),
        verdict: verdict(report),
        accused: report.accused.is_some() || falsely_accused(report, others, options.alpha),
    }
}

/// The verdict as its JSON name (`named`, `too_short`, ...).
fn verdict(report: &DetectReport) -> String {
    serde_json::to_value(report.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", report.verdict))
}
