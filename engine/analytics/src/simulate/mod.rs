//! A labelled traffic simulation: the session, licence and access logs an edge would write for
//! a population of honest viewers with a few percent of abusers, and the labels file saying who
//! was who. Seeded (the same configuration and seed give the same bytes) and streamed: plays are
//! generated lazily and merged in time order, so 10^7 lines need little memory.
//!
//! Honest viewers pause, seek, switch renditions, stop early, own several devices, share NAT
//! and carrier-grade NAT addresses, and change addresses on mobile networks. Rippers fetch
//! whole titles in order, fast or across the ladder; sharers use one token (or one account)
//! from several homes at once; restreamers play non-stop from a server, several channels at
//! once. See `docs/analytics.md`.

mod play;
mod population;

use std::collections::BinaryHeap;
use std::io::Write;

use serde::Serialize;

use play::{Line, Play};
pub use population::Config;

use crate::labels::LabelRecord;

/// Where each output goes.
pub struct Outputs<'a> {
    pub sessions: &'a mut dyn Write,
    pub licences: &'a mut dyn Write,
    pub access: &'a mut dyn Write,
    pub labels: &'a mut dyn Write,
}

/// What was written.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Written {
    pub session_lines: u64,
    pub licence_lines: u64,
    pub access_lines: u64,
    pub subjects: usize,
    pub abusers: usize,
}

/// Runs the simulation of `config` into `out`; `progress` is called now and then with the
/// lines written so far.
pub fn simulate(
    config: &Config,
    out: Outputs<'_>,
    mut progress: impl FnMut(u64),
) -> std::io::Result<Written> {
    let plan = population::plan(config);
    let mut written = Written { subjects: plan.labels.len(), ..Default::default() };
    for label in &plan.labels {
        written.abusers += usize::from(label.label != crate::labels::Label::Honest);
        write_line(out.labels, label)?;
    }
    // Plays start in order; each one, once started, sits in the heap keyed by its next line.
    let mut pending = plan.plays.into_iter().peekable();
    let mut heap: BinaryHeap<Play> = BinaryHeap::new();
    let mut active = population::Streams::new(plan.labels.len());
    loop {
        let next_start = pending.peek().map(|p| p.start_ms);
        let next_line = heap.peek().and_then(Play::next_time);
        match (next_start, next_line) {
            (None, None) => break,
            (Some(s), l) if l.is_none_or(|l| s <= l) => {
                let Some(mut p) = pending.next() else { break };
                p.begin(&mut active, config);
                heap.push(p);
            }
            _ => {
                let Some(mut p) = heap.pop() else { break };
                if let Some(line) = p.pop_line(&mut active, config) {
                    match line {
                        Line::Session(r) => {
                            write_line(out.sessions, &r)?;
                            written.session_lines += 1;
                        }
                        Line::Licence(r) => {
                            write_line(out.licences, &r)?;
                            written.licence_lines += 1;
                        }
                        Line::Access(r) => {
                            write_line(out.access, &r)?;
                            written.access_lines += 1;
                            if written.access_lines.is_multiple_of(100_000) {
                                progress(written.access_lines);
                            }
                        }
                    }
                }
                if p.next_time().is_some() {
                    heap.push(p);
                }
            }
        }
    }
    Ok(written)
}

fn write_line<T: Serialize>(out: &mut dyn Write, record: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

/// The labels of a labels file's text.
pub fn parse_labels(text: &str) -> Result<Vec<LabelRecord>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}
