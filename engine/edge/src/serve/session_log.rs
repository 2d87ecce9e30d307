//! The session log: one JSON line per issued session, the registry detection names viewers from.
//!
//! A line is written the first time this process sees a token from a client address (a manifest
//! request in personalised mode, a segment request in edge mode); repeats of the same token from
//! the same address are not logged again, so a player polling its manifest or a load test does
//! not flood the file, while a token shared with other people shows up once per address. Several
//! `serve` processes may each log the same session once: the log is a registry, not a counter.
//! Lines go through [`JsonlAppender`]'s writer thread, so no request waits on the disk; the file
//! is created with mode 0600 (it names subjects). The token itself is never written.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::client::ClientAddr;
use super::viewer::Viewer;
use super::ServeError;
use abmark_delivery::sessions::SessionRecord;
use abmark_files::jsonl::JsonlAppender;

/// Tokens remembered as logged; past this the memory is cleared and a token may be logged again.
const REMEMBERED: usize = 1 << 20;

/// Appends [`SessionRecord`]s to a JSONL file from a background thread.
#[derive(Clone)]
pub struct SessionLog {
    file: JsonlAppender,
    seen: Arc<Mutex<HashSet<[u8; 32]>>>,
}

impl SessionLog {
    pub fn open(path: &Path) -> Result<Self, ServeError> {
        let file = JsonlAppender::open(path, "session-log")
            .map_err(|source| ServeError::Io { path: path.to_owned(), source })?;
        Ok(SessionLog { file, seen: Arc::default() })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Logs `viewer` unless this token was logged already from `client`'s address.
    pub fn record(&self, token: &str, viewer: &Viewer, client: ClientAddr) {
        let mut hash = Sha256::new();
        hash.update(token.as_bytes());
        hash.update([0]);
        hash.update(client.ip.to_string().as_bytes());
        let digest: [u8; 32] = hash.finalize().into();
        {
            let Ok(mut seen) = self.seen.lock() else { return };
            if seen.len() >= REMEMBERED {
                seen.clear();
            }
            if !seen.insert(digest) {
                return;
            }
        }
        let record = SessionRecord {
            time: rfc3339(super::viewer::now_unix()),
            session: viewer.session,
            subject: viewer.claims.subject.clone(),
            content: viewer.claims.content.clone(),
            client: client.to_string(),
            mode: viewer.mode,
            pattern: hex::encode(&viewer.pattern),
            pattern_bits: viewer.bits,
            expires_at: viewer.claims.expires_at,
        };
        self.file.append(&record);
    }

    /// Waits until every line sent so far is on disk.
    pub fn flush(&self) {
        self.file.flush();
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.file.dropped()
    }
}

/// Unix seconds as RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ` (whole seconds give no fraction).
/// An instant past year 9999, which `time` cannot represent, is written as the bare number.
pub fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_435_199), "2026-11-23T11:59:59Z");
        assert_eq!(rfc3339(4_107_542_400), "2100-03-01T00:00:00Z");
    }
}
