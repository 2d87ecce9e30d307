//! abmark-investigate: the detection service (`abmark investigate serve`). An analyst or a
//! crawler submits a suspected copy over HTTP; the service queues it as a job, runs the leak
//! detector on it against the title's variants output, and answers the accused session with
//! its evidence (the JSON `abmark detect --json` prints, an HTML report, the SVG plot).
//!
//! - [`config`]: the catalogue (TOML: one `[[content]]` per title) and the service's limits.
//! - [`store`]: jobs and API keys in one SQLite file under `--state` (survives `kill -9`).
//! - [`worker`]: the bounded pool that runs jobs in submission order, each detection in a
//!   child process (`abmark detect ... --json --progress-json`): a copy that crashes FFmpeg
//!   takes down one child, not the service; cancelling is a kill.
//! - [`api`]: the HTTP API (`/v1/detections`, OpenAPI, `/healthz`, `/metrics`) and the web page.
//! - [`report`]: the HTML report of a finished job.
//!
//! May depend on: `abmark-edge` (API keys, the accept loop and its limits, the shutdown
//! signal), `abmark-delivery` (content ids, the subject-list format), `abmark-files`,
//! axum/tokio, rusqlite, toml, utoipa. Must not: link FFmpeg or the detector's crates (the
//! detector runs as a separate process, `abmark detect`, so a hostile copy cannot crash or
//! bloat the service).

pub mod api;
pub mod config;
mod metrics;
pub mod report;
pub mod store;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;

pub use config::{Config, ConfigError};
pub use store::{Store, StoreError};

/// How long a stopping service lets requests in flight finish.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// What the service is started with.
pub struct ServiceOptions {
    pub config: Config,
    /// The job store, opened on `state` before the service listens (a bad store fails the
    /// start, not the first request).
    pub store: Store,
    /// The `--state` directory: `jobs.db`, `jobs/<id>/` (the copy, the report, the plot).
    pub state: PathBuf,
    /// The `abmark` binary whose `detect` runs each job.
    pub detector: PathBuf,
    /// Jobs run at once.
    pub workers: usize,
    pub limits: abmark_edge::serve::ConnectionLimits,
    /// HTTPS (certificate re-read when it changes), or plain HTTP behind a proxy.
    pub tls: Option<abmark_edge::serve::Tls>,
}

/// Runs the service on `listener` until ctrl-c / SIGTERM: the worker pool, the retention
/// sweep and the HTTP API.
pub async fn run(
    options: ServiceOptions,
    listener: tokio::net::TcpListener,
) -> Result<(), StoreError> {
    let store = Arc::new(options.store);
    let requeued = store.requeue_interrupted()?;
    if requeued > 0 {
        eprintln!("investigate: {requeued} interrupted job(s) queued again");
    }
    remove_unrecorded_uploads(&store, &options.state);
    let shared =
        Arc::new(worker::Shared::new(store, options.config, options.state, options.detector));
    worker::start(&shared, options.workers.max(1));
    tokio::spawn(worker::retention(shared.clone()));
    let app = api::router(shared);
    abmark_edge::serve::listener::serve_reloading(
        listener,
        app,
        options.limits,
        options.tls,
        abmark_edge::serve::shutdown_signal(),
        DRAIN,
    )
    .await;
    Ok(())
}

/// Removes job directories with no job row: uploads a crash interrupted before their job was
/// recorded (the row is written after the copy is complete), so they were never answered 202.
fn remove_unrecorded_uploads(store: &Store, state: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(state.join("jobs")) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if matches!(store.get(&name), Ok(None)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
