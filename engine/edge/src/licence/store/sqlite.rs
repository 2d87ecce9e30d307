//! [`SqliteStore`]: the embedded default, one SQLite file.
//!
//! One writer connection (every write, admission included, runs on it, in `BEGIN IMMEDIATE`
//! transactions) and a few read-only connections for `is_denied` / `sealed_key`, which WAL lets
//! run while a write is in progress. Within one process the writer mutex serialises writes;
//! between processes SQLite's write lock does, waited for up to [`BUSY_TIMEOUT`].

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use abmark_delivery::ids::{ContentId, Kid};

use crate::apikey;

use super::{Admission, ApiKeyEntry, Binding, LicenceStore, Slots, StoreError};

/// How long a call waits for another process's write lock before failing with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Read-only connections beside the writer (measured: see the throughput test).
const DEFAULT_READERS: usize = 2;
/// Every this many admissions, expired streams of *all* subjects are deleted (those of the
/// admitted subject go at every call).
const SWEEP_EVERY: u64 = 4096;
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS streams (
    subject TEXT NOT NULL,
    stream TEXT NOT NULL,
    expires INTEGER NOT NULL,
    player TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (subject, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS denied (subject TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS content_keys (
    content TEXT NOT NULL,
    kid BLOB NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (content, kid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS content_keys_by_kid ON content_keys (kid);
";

/// Version 1 stored keys by KID alone (`sealed_keys`): they are dropped, since nothing says
/// which content they belong to, and version 2's table is created beside streams and denied.
const MIGRATE_V1_COUNT: &str = "SELECT count(*) FROM sealed_keys";
const MIGRATE_V1_DROP: &str =
    "DROP TABLE sealed_keys; ALTER TABLE streams ADD COLUMN player TEXT NOT NULL DEFAULT ''";

const DROP_EXPIRED: &str = "DELETE FROM streams WHERE subject = ?1 AND expires <= ?2";
/// Active streams of the subject, and the player of `stream` if it is one of them.
const COUNT: &str = "SELECT count(*), max(CASE WHEN stream = ?2 THEN player END) \
                     FROM streams WHERE subject = ?1";
const RENEW: &str =
    "UPDATE streams SET expires = max(expires, ?3) WHERE subject = ?1 AND stream = ?2";
const INSERT: &str =
    "INSERT INTO streams (subject, stream, expires, player) VALUES (?1, ?2, ?3, ?4)";
const SWEEP: &str = "DELETE FROM streams WHERE expires <= ?1";
const RELEASE: &str = "DELETE FROM streams WHERE subject = ?1 AND stream = ?2 AND player = ?3";
const DENY: &str = "INSERT OR IGNORE INTO denied (subject) VALUES (?1)";
const UNDENY: &str = "DELETE FROM denied WHERE subject = ?1";
const IS_DENIED: &str = "SELECT 1 FROM denied WHERE subject = ?1";
const PUT_KEY: &str =
    "INSERT OR REPLACE INTO content_keys (content, kid, sealed) VALUES (?1, ?2, ?3)";
const GET_KEY: &str = "SELECT sealed FROM content_keys WHERE content = ?1 AND kid = ?2";
/// The content of a KID: this content's row first, else any other's.
const KID_OWNER: &str = "SELECT content, sealed FROM content_keys WHERE kid = ?1 \
                         ORDER BY content = ?2 DESC LIMIT 1";

/// Licence state in one SQLite file (WAL, `synchronous=NORMAL`, mode 0600). Several processes
/// on one machine may open the same file.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Empty: reads go to the writer too.
    readers: Option<Slots<Connection>>,
    admits: AtomicU64,
    /// Keys without a content id found in a version-1 file and dropped on opening it.
    unbound_dropped: u64,
}

impl SqliteStore {
    /// Opens `path`, creating the file (mode 0600) and the schema when missing. The parent
    /// directory must exist.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_readers(path, DEFAULT_READERS)
    }

    /// [`Self::open`] with `readers` read-only connections beside the writer (0: one
    /// connection does everything).
    pub(crate) fn open_with_readers(path: &Path, readers: usize) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let io = |op| {
            let path = shown.clone();
            move |source| StoreError::Io { path, op, source }
        };
        let sql = |op| {
            let path = shown.clone();
            move |source| StoreError::Sqlite { path, op, source }
        };

        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            // Whatever the umask, the file holds subjects and sealed keys: owner only.
            Ok(file) => file
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io("set mode 0600"))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create")(e)),
        }

        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql("open"))?;
        writer.busy_timeout(BUSY_TIMEOUT).map_err(sql("set busy timeout"))?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql("enable WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Sqlite {
                path: shown,
                op: "enable WAL",
                source: rusqlite::Error::InvalidParameterName(format!("journal_mode is {mode}")),
            });
        }
        writer.pragma_update(None, "synchronous", "NORMAL").map_err(sql("set synchronous"))?;
        writer.set_prepared_statement_cache_capacity(32);

        let mut unbound_dropped = 0;
        {
            let tx = writer
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql("create schema"))?;
            let found: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(sql("read schema version"))?;
            match found {
                // Version 2 lacks the API keys and the KID index: the schema adds them.
                0..=2 => {
                    if found == 1 {
                        let n: i64 = tx
                            .query_row(MIGRATE_V1_COUNT, [], |r| r.get(0))
                            .map_err(sql("migrate schema 1"))?;
                        unbound_dropped = u64::try_from(n).unwrap_or(0);
                        tx.execute_batch(MIGRATE_V1_DROP).map_err(sql("migrate schema 1"))?;
                    }
                    tx.execute_batch(SCHEMA).map_err(sql("create schema"))?;
                    tx.execute_batch(apikey::sqlite::SCHEMA).map_err(sql("create schema"))?;
                    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                        .map_err(sql("create schema"))?;
                }
                SCHEMA_VERSION => {}
                found => {
                    return Err(StoreError::Schema { path: shown, found, expected: SCHEMA_VERSION })
                }
            }
            tx.commit().map_err(sql("create schema"))?;
        }

        let readers = if readers == 0 {
            None
        } else {
            let mut conns = Vec::with_capacity(readers);
            for _ in 0..readers {
                // Read-write at the file level (a WAL reader may have to write the -shm index),
                // refusing writes at the SQL level.
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(sql("open reader"))?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(sql("set busy timeout"))?;
                conn.pragma_update(None, "query_only", true).map_err(sql("open reader"))?;
                conn.set_prepared_statement_cache_capacity(16);
                conns.push(conn);
            }
            Some(Slots::new(conns))
        };

        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
            admits: AtomicU64::new(0),
            unbound_dropped,
        })
    }

    /// How many keys without a content id (schema version 1) were dropped when this file was
    /// opened: the operator imports them again for their content.
    pub fn unbound_keys_dropped(&self) -> u64 {
        self.unbound_dropped
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite { path: self.path.display().to_string(), op, source }
    }

    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn).map_err(self.err(op))
    }

    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Some(readers) => f(&readers.get()).map_err(self.err(op)),
            None => self.write(op, |conn| f(conn)),
        }
    }

    #[cfg(test)]
    pub(crate) fn readers(&self) -> usize {
        self.readers.as_ref().map_or(0, Slots::len)
    }
}

/// Unix seconds as an SQLite INTEGER (saturating: i64 reaches year 292e9).
fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

impl LicenceStore for SqliteStore {
    fn admit(
        &self,
        subject: &str,
        stream: &str,
        player: &str,
        now: u64,
        ttl: u64,
        limit: u32,
    ) -> Result<Admission, StoreError> {
        let (now, expires) = (secs(now), secs(now.saturating_add(ttl)));
        let sweep = self.admits.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
        self.write("admit", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if sweep {
                tx.prepare_cached(SWEEP)?.execute(params![now])?;
            } else {
                tx.prepare_cached(DROP_EXPIRED)?.execute(params![subject, now])?;
            }
            let (active, holder): (i64, Option<String>) = tx
                .prepare_cached(COUNT)?
                .query_row(params![subject, stream], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let active = u32::try_from(active).unwrap_or(u32::MAX);
            let outcome = if let Some(holder) = holder {
                if holder == player {
                    tx.prepare_cached(RENEW)?.execute(params![subject, stream, expires])?;
                    Admission::Admitted { active }
                } else {
                    Admission::InUse { active }
                }
            } else if active < limit {
                tx.prepare_cached(INSERT)?.execute(params![subject, stream, expires, player])?;
                Admission::Admitted { active: active + 1 }
            } else {
                // Nothing written but expired rows: committing keeps that cleanup.
                Admission::Refused { active, limit }
            };
            tx.commit()?;
            Ok(outcome)
        })
    }

    fn release(&self, subject: &str, stream: &str, player: &str) -> Result<bool, StoreError> {
        self.write("release", |conn| {
            conn.prepare_cached(RELEASE)?.execute(params![subject, stream, player]).map(|n| n > 0)
        })
    }

    fn set_denied(&self, subject: &str, denied: bool) -> Result<(), StoreError> {
        self.write("set denied", |conn| {
            conn.prepare_cached(if denied { DENY } else { UNDENY })?
                .execute(params![subject])
                .map(drop)
        })
    }

    fn is_denied(&self, subject: &str) -> Result<bool, StoreError> {
        self.read("is denied", |conn| conn.prepare_cached(IS_DENIED)?.exists(params![subject]))
    }

    fn put_sealed_key(
        &self,
        content: &ContentId,
        kid: &Kid,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        self.write("put sealed key", |conn| {
            conn.prepare_cached(PUT_KEY)?
                .execute(params![content.as_str(), &kid.as_bytes()[..], sealed])
                .map(drop)
        })
    }

    fn sealed_key(&self, content: &ContentId, kid: &Kid) -> Result<Option<Vec<u8>>, StoreError> {
        self.read("get sealed key", |conn| {
            conn.prepare_cached(GET_KEY)?
                .query_row(params![content.as_str(), &kid.as_bytes()[..]], |r| r.get(0))
                .optional()
        })
    }

    fn bind_sealed_key(
        &self,
        content: &ContentId,
        kid: &Kid,
        sealed: &[u8],
    ) -> Result<Binding, StoreError> {
        let kid = &kid.as_bytes()[..];
        self.write("bind sealed key", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let owner: Option<(String, Vec<u8>)> = tx
                .prepare_cached(KID_OWNER)?
                .query_row(params![kid, content.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let binding = match owner {
                Some((owner, sealed)) if owner == content.as_str() => Binding::Existing(sealed),
                Some(_) => Binding::OtherContent,
                None => {
                    tx.prepare_cached(PUT_KEY)?.execute(params![content.as_str(), kid, sealed])?;
                    Binding::Stored
                }
            };
            tx.commit()?;
            Ok(binding)
        })
    }

    fn add_api_key(&self, entry: &ApiKeyEntry) -> Result<bool, StoreError> {
        self.write("add API key", |conn| apikey::sqlite::add(conn, entry))
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyEntry>, StoreError> {
        self.read("get API key", |conn| apikey::sqlite::get(conn, hash))
    }

    fn remove_api_key(&self, name: &str) -> Result<bool, StoreError> {
        self.write("remove API key", |conn| apikey::sqlite::remove(conn, name))
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyEntry>, StoreError> {
        self.read("list API keys", apikey::sqlite::list)
    }

    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path.display())
    }
}
