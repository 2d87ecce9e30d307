//! Counters of the detection service, served with the jobs per status (from the store) as
//! Prometheus text at `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::{Status, Store};

#[derive(Debug, Default)]
pub struct Metrics {
    submissions: AtomicU64,
    upload_bytes: AtomicU64,
    refused_auth: AtomicU64,
    refused_size: AtomicU64,
    refused_queue_full: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    pub fn submitted(&self, bytes: u64) {
        bump(&self.submissions, 1);
        bump(&self.upload_bytes, bytes);
    }
    pub fn refused_auth(&self) {
        bump(&self.refused_auth, 1);
    }
    pub fn refused_size(&self) {
        bump(&self.refused_size, 1);
    }
    pub fn refused_queue_full(&self) {
        bump(&self.refused_queue_full, 1);
    }
    pub fn finished(&self, status: Status) {
        match status {
            Status::Done => bump(&self.done, 1),
            Status::Failed => bump(&self.failed, 1),
            _ => {}
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, store: &Store) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        counter(
            "abmark_investigate_submissions_total",
            "Copies accepted as jobs.",
            &[("", get(&self.submissions))],
        );
        counter(
            "abmark_investigate_upload_bytes_total",
            "Bytes of accepted copies.",
            &[("", get(&self.upload_bytes))],
        );
        counter(
            "abmark_investigate_refused_total",
            "Requests refused before a job was made.",
            &[
                ("{reason=\"auth\"}", get(&self.refused_auth)),
                ("{reason=\"too_large\"}", get(&self.refused_size)),
                ("{reason=\"queue_full\"}", get(&self.refused_queue_full)),
            ],
        );
        counter(
            "abmark_investigate_detections_total",
            "Detections finished since start, by outcome.",
            &[("{status=\"done\"}", get(&self.done)), ("{status=\"failed\"}", get(&self.failed))],
        );
        let _ = writeln!(
            out,
            "# HELP abmark_investigate_jobs Jobs in the store, by status.\n\
             # TYPE abmark_investigate_jobs gauge"
        );
        if let Ok(counts) = store.counts() {
            for (status, n) in counts {
                let _ =
                    writeln!(out, "abmark_investigate_jobs{{status=\"{}\"}} {n}", status.as_str());
            }
        }
        out
    }
}
