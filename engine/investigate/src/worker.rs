//! The worker pool: `--workers` tasks take queued jobs in submission order and run each
//! detection as a child process, `abmark detect COPY --ref VARIANTS --key K [--sessions ...]
//! [--candidates ...] --json --plot evidence.svg --progress-json`.
//!
//! A child process, not a library call, because the copy is hostile input: a file that
//! crashes FFmpeg or exhausts memory ends one child, which the job reports as failed, while
//! the service keeps serving; cancelling or timing out a job is a kill; the child dies with
//! the service (`PR_SET_PDEATHSIG`), so after a `kill -9` no orphan works on a job that the
//! restarted service runs again. Progress comes from the child's JSON lines on stderr.
//!
//! Also here: the retention sweep, which removes finished jobs (row and files) after the
//! configured period.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::Notify;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Job, Status, Store};

/// Largest report read from a child's stdout (a report is a few hundred KB for a film).
const MAX_REPORT_BYTES: u64 = 64 << 20;
/// How often idle workers look for work without being woken (a safety net).
const IDLE_POLL: Duration = Duration::from_secs(5);
/// How often the retention sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What the workers and the API share.
pub struct Shared {
    pub store: Arc<Store>,
    pub config: Config,
    pub state: PathBuf,
    pub detector: PathBuf,
    pub metrics: Metrics,
    /// Wakes a worker when a job is queued.
    pub(crate) wake: Notify,
    /// Running jobs' cancel signals.
    running: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Shared {
    pub fn new(store: Arc<Store>, config: Config, state: PathBuf, detector: PathBuf) -> Self {
        Self {
            store,
            config,
            state,
            detector,
            metrics: Metrics::default(),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A job's directory.
    pub fn job_dir(&self, id: &str) -> PathBuf {
        self.state.join("jobs").join(id)
    }

    /// Stops the child of running job `id`, if any.
    pub fn kill(&self, id: &str) {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cancel) = running.get(id) {
            cancel.notify_one();
        }
    }
}

/// Starts `n` workers.
pub fn start(shared: &Arc<Shared>, n: usize) {
    for _ in 0..n {
        tokio::spawn(work(shared.clone()));
    }
}

async fn work(shared: Arc<Shared>) {
    loop {
        match shared.store.claim_next() {
            Ok(Some(job)) => run(&shared, job).await,
            Ok(None) => {
                let _ = tokio::time::timeout(IDLE_POLL, shared.wake.notified()).await;
            }
            Err(e) => {
                eprintln!("investigate: {e}");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// How a child ended.
enum Outcome {
    Report(serde_json::Value),
    Failed(String),
    Cancelled,
}

async fn run(shared: &Shared, job: Job) {
    let cancel = Arc::new(Notify::new());
    shared
        .running
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(job.id.clone(), cancel.clone());
    let outcome = detect(shared, &job, &cancel).await;
    shared.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&job.id);
    let (status, reason, verdict) = match outcome {
        Outcome::Report(report) => {
            let verdict = report["verdict"].as_str().unwrap_or("unknown").to_owned();
            let message = report["message"].as_str().unwrap_or("").to_owned();
            (Status::Done, message, Some(verdict))
        }
        Outcome::Failed(reason) => (Status::Failed, reason, None),
        Outcome::Cancelled => return,
    };
    match shared.store.finish(&job.id, status, &reason, verdict.as_deref()) {
        Ok(true) => shared.metrics.finished(status),
        Ok(false) => {} // cancelled meanwhile
        Err(e) => eprintln!("investigate: job {}: {e}", job.id),
    }
}

/// Runs the detector on `job` and reads what it answered.
async fn detect(shared: &Shared, job: &Job, cancel: &Notify) -> Outcome {
    let Some(content) = shared.config.content.get(&job.content) else {
        return Outcome::Failed(format!("content {:?} is no longer in the config", job.content));
    };
    let dir = shared.job_dir(&job.id);
    let copy = dir.join("copy");
    if !copy.is_file() {
        return Outcome::Failed("the uploaded copy is missing from the state directory".into());
    }
    let mut cmd = tokio::process::Command::new(&shared.detector);
    cmd.arg("detect").arg(&copy).arg("--ref").arg(&content.variants);
    cmd.arg("--key").arg(&content.key);
    if let Some(source) = &content.source {
        cmd.arg("--source").arg(source);
    }
    for s in &content.sessions {
        cmd.arg("--sessions").arg(s);
    }
    for l in &content.licences {
        cmd.arg("--licences").arg(l);
    }
    if let Some(c) = &content.candidates {
        cmd.arg("--candidates").arg(c);
    }
    if let Some(alpha) = content.alpha {
        cmd.arg("--alpha").arg(alpha.to_string());
    }
    cmd.arg("--json").arg("--progress-json").arg("--plot").arg(dir.join("evidence.svg"));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    confine(&mut cmd, shared.config.limits.job_memory_bytes());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::Failed(format!("cannot start {}: {e}", shared.detector.display()))
        }
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Outcome::Failed("detector pipes missing".into());
    };
    let reading = async {
        let mut out = Vec::new();
        let read_out = async {
            let _ = stdout.take(MAX_REPORT_BYTES).read_to_end(&mut out).await;
        };
        let mut last_line = String::new();
        let mut out_of_memory = false;
        let read_err = async {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(p) if p.get("stage").is_some() => progress(shared, &job.id, &p),
                    _ if line.trim().is_empty() => {}
                    // Rust's allocation failure message, before the abort and its backtrace.
                    _ if line.starts_with("memory allocation of ") => out_of_memory = true,
                    _ => last_line = line,
                }
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (out, last_line, out_of_memory, status)
    };
    let timeout = Duration::from_secs_f64(shared.config.limits.job_timeout_minutes * 60.0);
    let (out, last_line, out_of_memory, status) = tokio::select! {
        r = reading => r,
        () = cancel.notified() => return Outcome::Cancelled, // the child is killed on drop
        () = tokio::time::sleep(timeout) => {
            return Outcome::Failed(format!(
                "stopped after {} minutes (job_timeout_minutes)",
                shared.config.limits.job_timeout_minutes
            ))
        }
    };
    if let Ok(report) = serde_json::from_slice::<serde_json::Value>(&out) {
        if report.get("verdict").is_some() {
            let path = dir.join("report.json");
            if let Err(e) = abmark_files::output::write_atomic(&path, &out, true) {
                return Outcome::Failed(format!("cannot keep the report: {e}"));
            }
            return Outcome::Report(report);
        }
    }
    if out_of_memory {
        return Outcome::Failed(format!(
            "the detector ran out of memory (job_memory_mb = {})",
            shared.config.limits.job_memory_mb
        ));
    }
    Outcome::Failed(failure_reason(&last_line, &copy, status))
}

/// One line saying why the detector failed, without the state directory's paths.
fn failure_reason(
    last_line: &str,
    copy: &Path,
    status: std::io::Result<std::process::ExitStatus>,
) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    let line = last_line.trim().trim_start_matches("error: ");
    let line = line.replace(&copy.display().to_string(), "the copy");
    let line: String = line.chars().take(400).collect();
    match status {
        Ok(s) if s.signal().is_some() => format!(
            "the detector stopped on signal {} (a copy that crashes the decoder?){}",
            s.signal().unwrap_or(0),
            if line.is_empty() { String::new() } else { format!(": {line}") }
        ),
        Ok(_) if !line.is_empty() => line,
        Ok(s) => format!("the detector failed ({s}) without saying why"),
        Err(e) => format!("the detector could not be waited for: {e}"),
    }
}

fn progress(shared: &Shared, id: &str, p: &serde_json::Value) {
    let stage = match p["stage"].as_str() {
        Some("reference") => "fingerprinting the reference",
        Some("copy") => "scoring the copy",
        _ => "detecting",
    };
    let fraction = match (p["frames"].as_f64(), p["total"].as_f64()) {
        (Some(f), Some(t)) if t > 0.0 => (f / t).clamp(0.0, 1.0),
        _ => 0.0,
    };
    if let Err(e) = shared.store.progress(id, stage, fraction) {
        eprintln!("investigate: job {id}: {e}");
    }
}

/// The child gets SIGKILL when the thread that started it ends (the runtime's worker threads
/// live as long as the service, so in effect when the service dies, `kill -9` included), and
/// at most `memory` bytes of address space.
fn confine(cmd: &mut tokio::process::Command, memory: u64) {
    // SAFETY: the closure runs in the forked child before exec and calls only prctl and
    // setrlimit, which are async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let limit = libc::rlimit { rlim_cur: memory, rlim_max: memory };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Removes finished jobs older than the retention period, every minute.
pub async fn retention(shared: Arc<Shared>) {
    loop {
        let keep = shared.config.limits.retention_hours * 3600.0;
        let cutoff = crate::store::now() - keep as i64;
        match shared.store.finished_before(cutoff) {
            Ok(ids) => {
                for id in ids {
                    let dir = shared.job_dir(&id);
                    let gone = match std::fs::remove_dir_all(&dir) {
                        Ok(()) => true,
                        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                    };
                    if gone {
                        if let Err(e) = shared.store.delete(&id) {
                            eprintln!("investigate: {e}");
                        }
                    }
                }
            }
            Err(e) => eprintln!("investigate: retention: {e}"),
        }
        tokio::time::sleep(SWEEP_EVERY.min(Duration::from_secs_f64(keep.max(1.0)))).await;
    }
}
