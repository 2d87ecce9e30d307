//! Running units of the prepared matrix: a session's stream through one attack, a collusion, or
//! the copies without a session. Each unit makes its copies with the real FFmpeg CLI under its
//! own scratch directory (cells may run side by side on one shared file system), reads them
//! with the real detector, and saves its result ([`super::results`]). Nothing here draws at
//! random: the plan holds every draw.

use std::path::Path;

use abmark_detect::{Candidate, DetectOptions, ReferenceVideo};
use abmark_media::host::HostReference;
use abmark_media::mix::mix;
use anyhow::Context;

use super::cells::{self, log_with, Reference};
use super::plan::{unix_now, CellShare, Prepared, ReferenceMode, Unit};
use super::prepare::bench_key;
use super::results::{self, UnitResult};
use crate::attack::apply;
use crate::leak::candidate;

/// Suffix of the rows detected against the host rebuilt from the variants, in `both` runs.
const FROM_VARIANTS: &str = " [from variants]";

/// A clip as its units need it; built once per clip and process.
struct ClipContext {
    index: usize,
    reference: Reference,
    /// What copies are compared with, each with its row suffix.
    views: Vec<(&'static str, ReferenceVideo)>,
    others: Vec<Candidate>,
}

impl ClipContext {
    fn open(work: &Path, plan: &Prepared, index: usize) -> anyhow::Result<Self> {
        let clip = &plan.clips[index];
        let reference = Reference::open(&clip.name, &work.join(&clip.variants), &bench_key())?;
        let rebuilt = || -> anyhow::Result<ReferenceVideo> {
            Ok(ReferenceVideo::Variants(HostReference::open(&reference.out, None)?))
        };
        let views = match plan.config.reference {
            ReferenceMode::Source => vec![("", reference.video.clone())],
            ReferenceMode::Variants => vec![("", rebuilt()?)],
            ReferenceMode::Both => {
                vec![("", reference.video.clone()), (FROM_VARIANTS, rebuilt()?)]
            }
        };
        let others = clip.others.iter().map(|&s| candidate(&reference.coder, s)).collect();
        Ok(ClipContext { index, reference, views, others })
    }
}

/// Runs the units of `share` and saves each result; `done` hears each unit's number after its
/// result is saved.
pub fn run(
    work: &Path,
    plan: &Prepared,
    share: CellShare,
    done: &mut dyn FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut context: Option<ClipContext> = None;
    for (number, unit) in plan.units().into_iter().enumerate() {
        if !share.holds(number) {
            continue;
        }
        let clip = match unit {
            Unit::Session { clip, .. } | Unit::Collusion { clip, .. } | Unit::Innocent { clip } => {
                clip
            }
        };
        if context.as_ref().is_none_or(|c| c.index != clip) {
            context = Some(ClipContext::open(work, plan, clip)?);
        }
        let Some(ctx) = context.as_ref() else { continue };
        let scratch = work.join("scratch").join(format!("unit-{number:05}"));
        std::fs::create_dir_all(&scratch)
            .with_context(|| format!("creating {}", scratch.display()))?;
        let mut result = UnitResult {
            plan: plan.id.clone(),
            config: plan.config.clone(),
            number,
            unit,
            finished_unix: 0.0,
            cells: Vec::new(),
            collusion: Vec::new(),
            innocent: Vec::new(),
        };
        run_unit(plan, ctx, unit, &scratch, &mut result)
            .with_context(|| format!("unit {number} ({unit:?})"))?;
        result.finished_unix = unix_now();
        results::save(work, &result)?;
        // The copies are gigabytes over a full run; the result is what is kept.
        let _ = std::fs::remove_dir_all(&scratch);
        done(number)?;
    }
    Ok(())
}

fn run_unit(
    plan: &Prepared,
    ctx: &ClipContext,
    unit: Unit,
    scratch: &Path,
    result: &mut UnitResult,
) -> anyhow::Result<()> {
    let reference = &ctx.reference;
    let options = DetectOptions::default();
    let copy = scratch.join("copy.mp4");
    let name = &reference.clip;
    match unit {
        Unit::Session { clip, session, attack } => {
            let draw = &plan.clips[clip].sessions[session];
            let attack_spec = &plan.config.attacks[attack];
            let viewer = scratch.join("viewer.mp4");
            let choices = reference.choices(draw.session);
            mix(&reference.out, &reference.job, None, &choices, &viewer)?;
            let log = log_with(&reference.coder, &ctx.others, &[draw.session]);
            apply(attack_spec, &viewer, &copy, draw.starts[attack])?;
            for (suffix, video) in &ctx.views {
                let (r, seconds) = reference.detect_with(video, &copy, &log, &options)?;
                let row = format!("{}{suffix}", attack_spec.name);
                let cell =
                    cells::cell(reference, &row, draw.session, &r, seconds, &ctx.others, &options);
                eprintln!(
                    "bench: {name} {:>10} {:<44} {:>3}/{:<3} right, {} wrong, blind {}, candidate {}, {:.1} s",
                    draw.session, row, cell.correct, cell.segments, cell.wrong, cell.blind_named,
                    cell.candidate_named, seconds
                );
                result.cells.push(cell);
            }
        }
        Unit::Collusion { clip, collusion } => {
            let draw = &plan.clips[clip].collusions[collusion];
            let pair = draw.pair;
            let [a, b] = pair.map(|s| reference.choices(s));
            let mixed: Vec<u8> = draw
                .first
                .iter()
                .zip(a.iter().zip(&b))
                .map(|(&f, (&x, &y))| if f { x } else { y })
                .collect();
            let viewer = scratch.join("collusion.mp4");
            mix(&reference.out, &reference.job, None, &mixed, &viewer)?;
            let attack = &plan.config.attacks[0];
            apply(attack, &viewer, &copy, None)?;
            let first = &draw.first;
            let share = first.iter().filter(|&&f| f).count() as f64 / first.len().max(1) as f64;
            for (suffix, video) in &ctx.views {
                let log = log_with(&reference.coder, &ctx.others, &pair);
                let (r, _) = reference.detect_with(video, &copy, &log, &options)?;
                let row = format!("{}{suffix}", attack.name);
                let c = cells::collusion(reference, &row, pair, share, &r, &ctx.others, &options);
                eprintln!("bench: {name} collusion {pair:?}: {} named {:?}", c.verdict, c.named);
                result.collusion.push(c);
            }
        }
        // Copies without a session: the unmarked source through the first attack, and other
        // content. Nobody of the log may be named.
        Unit::Innocent { .. } => {
            let attack = &plan.config.attacks[0];
            apply(attack, &reference.source, &copy, None)?;
            let others = &ctx.others;
            for (suffix, video) in &ctx.views {
                let (r, _) = reference.detect_with(video, &copy, others, &options)?;
                let what = format!("unmarked source, {}{suffix}", attack.name);
                result.innocent.push(cells::innocent(name, &what, &r, others, &options));
                if let Some(unrelated) = &plan.config.unrelated {
                    let (r, _) = reference.detect_with(video, unrelated, others, &options)?;
                    let what = format!("unrelated clip{suffix}");
                    result.innocent.push(cells::innocent(name, &what, &r, others, &options));
                }
            }
        }
    }
    Ok(())
}
