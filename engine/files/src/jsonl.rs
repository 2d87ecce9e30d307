//! Append-only JSON Lines files written from a background thread: the session log and the
//! licence log. Files are opened for appending and created with mode 0600 (they name viewers);
//! requests hand a line to a channel and never wait on the disk; [`JsonlAppender::flush`] waits
//! until everything sent so far is written (shutdown, tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

enum Message {
    Line(String),
    Flush(mpsc::Sender<()>),
}

/// A JSONL file fed from any thread.
#[derive(Clone)]
pub struct JsonlAppender {
    tx: mpsc::Sender<Message>,
    path: PathBuf,
}

impl JsonlAppender {
    /// Opens (creating with mode 0600) `path` for appending and starts its writer thread.
    pub fn open(path: &Path, thread_name: &str) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let (tx, rx) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || write_lines(file, rx))?;
        Ok(JsonlAppender { tx, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues one record as a line.
    pub fn append<T: serde::Serialize>(&self, record: &T) {
        if let Ok(line) = serde_json::to_string(record) {
            // The writer thread only stops when every sender is gone.
            let _ = self.tx.send(Message::Line(line));
        }
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
    let mut w = std::io::BufWriter::new(file);
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
    }
}
