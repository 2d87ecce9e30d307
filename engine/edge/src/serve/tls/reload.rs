//! The certificate every handshake gets, and its replacement when the files change (a certbot
//! renewal, a deploy that writes new files and renames them into place).
//!
//! A background task stats both files every [`RELOAD_POLL`] (size, mtime and, on Unix, device
//! and inode, so a rename or a symlink switch is seen even within one mtime tick). A background
//! poll rather than a check in the handshake: rustls asks for the certificate synchronously on
//! a runtime thread, which should not touch the disk, and a renewal is picked up (and logged)
//! when it happens, not at the next connection. A change is acted on once the files have
//! stayed the same for one poll, so a renewal that replaces the chain and the key one after the
//! other is read as one new pair, not as a mismatched half. A pair that does not load leaves
//! the current one serving and logs one line (path and reason, never key material); it is not
//! retried until the files change again.
//!
//! May depend on: [`super::pair`], rustls, tokio (timer, blocking pool).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{pair, TlsError, TlsFiles};

/// How often the certificate and key files are checked for a change.
pub const RELOAD_POLL: Duration = Duration::from_secs(1);

/// What a file looked like at one poll; `None` in a [`PairStamp`] when it could not be stat'ed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    dev: u64,
    ino: u64,
}

type PairStamp = (Option<FileStamp>, Option<FileStamp>);

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt as _;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0, 0);
    Some(FileStamp { len: meta.len(), modified: meta.modified().ok(), dev, ino })
}

fn pair_stamp(files: &TlsFiles) -> PairStamp {
    (stamp(&files.cert), stamp(&files.key))
}

/// The pair handshakes get now.
struct Current(RwLock<Arc<CertifiedKey>>);

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Current(..)") // a CertifiedKey's Debug would list the chain: nothing useful
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // Writers only swap an Arc, so a poisoned lock still holds a whole pair.
        let current = self.0.read().unwrap_or_else(|e| e.into_inner());
        Some(current.clone())
    }
}

/// The poll's memory: the files as last loaded (or last refused) and as last seen.
struct Seen {
    loaded: PairStamp,
    last: PairStamp,
}

struct Inner {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Arc<Current>,
    seen: Mutex<Seen>,
}

/// Loads the pair at start and reloads it on change.
pub(super) struct Watcher(Arc<Inner>);

impl Watcher {
    /// Loads the pair once; an error here stops the start.
    pub(super) fn start(files: TlsFiles, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        // Stamp before reading: a change during the read is then seen by the first poll.
        let before = pair_stamp(&files);
        let pair = pair::load(&files, &provider)?;
        let current = Arc::new(Current(RwLock::new(Arc::new(pair))));
        let seen = Mutex::new(Seen { loaded: before, last: before });
        Ok(Watcher(Arc::new(Inner { files, provider, current, seen })))
    }

    pub(super) fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        self.0.current.clone()
    }

    pub(super) async fn run(&self) {
        let mut tick = tokio::time::interval(RELOAD_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let inner = self.0.clone();
            // stat and, on a change, read: blocking file I/O off the runtime threads.
            let _ = tokio::task::spawn_blocking(move || inner.poll()).await;
        }
    }
}

impl Inner {
    fn poll(&self) {
        let now = pair_stamp(&self.files);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let settled = now == seen.last;
        seen.last = now;
        if now == seen.loaded || !settled {
            return;
        }
        seen.loaded = now;
        match pair::load(&self.files, &self.provider) {
            Ok(pair) => {
                *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
                eprintln!("tls: serving the new certificate from {}", self.files.cert.display());
            }
            Err(e) => eprintln!("tls: {e}; still serving the previous certificate"),
        }
    }
}
