//! Append-only JSON Lines files written from a background thread: the session log and the
//! licence log. Files are opened for appending and created with mode 0600 (they name viewers);
//! requests hand a line to a channel and never wait on the disk; [`JsonlAppender::flush`] waits
//! until everything sent so far is written (shutdown, tests).
//!
//! The channel is bounded ([`QUEUE_LINES`]): if the disk falls that far behind, further lines are
//! dropped and counted ([`JsonlAppender::dropped`]) rather than held in memory without limit.
//! The writer takes lines in bursts, at most every [`LINGER`], so a busy server does not wake it
//! for every line; a line is on disk within about that time (a `kill -9` loses at most those).
//! Rotation: the file is opened with `O_APPEND` and never reopened, so rotate it by copying and
//! truncating (logrotate's `copytruncate`); writes after the truncation land at the new end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

/// Lines queued for the writer thread at most (about 20 MB of typical lines).
pub const QUEUE_LINES: usize = 65_536;
/// How long the writer waits after a burst before taking the next one: lines reach the disk at
/// most this much later, and a full queue takes thousands of times longer to fill.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(20);
/// The writer's buffer: a burst goes to the file in few `write` calls.
const WRITE_BUFFER: usize = 256 << 10;

enum Message {
    Line(String),
    Flush(mpsc::Sender<()>),
}

/// A JSONL file fed from any thread.
#[derive(Clone)]
pub struct JsonlAppender {
    tx: mpsc::SyncSender<Message>,
    path: PathBuf,
    dropped: Arc<AtomicU64>,
}

impl JsonlAppender {
    /// Opens (creating with mode 0600) `path` for appending and starts its writer thread.
    pub fn open(path: &Path, thread_name: &str) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let (tx, rx) = mpsc::sync_channel::<Message>(QUEUE_LINES);
        std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || write_lines(file, rx))?;
        Ok(JsonlAppender { tx, path: path.to_owned(), dropped: Arc::default() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues one record as a line; never blocks (a full queue drops the line and counts it).
    pub fn append<T: serde::Serialize>(&self, record: &T) {
        if let Ok(line) = serde_json::to_string(record) {
            // The writer thread only stops when every sender is gone, so only a full queue fails.
            if self.tx.try_send(Message::Line(line)).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every line sent so far is on disk.
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn write_lines(file: std::fs::File, rx: mpsc::Receiver<Message>) {
    let mut w = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Drain whatever queued up, then flush once: one write per burst, not per line.
        while let Some(message) = next {
            match message {
                Message::Line(line) => {
                    let _ = writeln!(w, "{line}");
                }
                Message::Flush(done) => {
                    let _ = w.flush();
                    let _ = done.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        let _ = w.flush();
        // Let the next burst gather before looking again. A writer blocked in `recv` must be
        // woken by each sender (a futex call and a context switch per line when it keeps up);
        // a sleeping one costs the senders nothing, and then writes their lines in one go.
        // Under load that was a third of the edge's throughput with the access log on (2 cores).
        // When idle, the writer blocks in `recv` again and costs nothing.
        std::thread::sleep(LINGER);
    }
}
