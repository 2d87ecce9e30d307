//! Jobs and API keys in one SQLite file, `STATE/jobs.db` (mode 0600, WAL): every change is a
//! committed transaction before it is answered, so `kill -9` loses nothing that was answered.
//! The API keys are the shared `api_keys` table of [`abmark_edge::apikey::sqlite`].
//!
//! A job's files live in `STATE/jobs/<id>/` (`copy`, `report.json`, `evidence.svg`); its row
//! says where it is in its life: queued → running → done / failed / cancelled. Order of
//! submission is the row's `seq`; `claim_next` takes the oldest queued job.

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use abmark_edge::apikey::{self, ApiKeyEntry};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;

const SCHEMA_VERSION: i64 = 1;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    content TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT,
    progress REAL NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    started INTEGER,
    finished INTEGER,
    reason TEXT,
    verdict TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    upload_bytes INTEGER NOT NULL DEFAULT 0,
    submitted_by TEXT NOT NULL,
    idempotency_key TEXT,
    UNIQUE (submitted_by, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
";

const COLUMNS: &str = "seq, id, content, status, stage, progress, created, started, finished, \
                       reason, verdict, attempts, upload_bytes";

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] =
        [Status::Queued, Status::Running, Status::Done, Status::Failed, Status::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Status {
        Status::ALL.into_iter().find(|v| v.as_str() == s).unwrap_or(Status::Failed)
    }

    pub fn finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub seq: i64,
    pub id: String,
    pub content: String,
    pub status: Status,
    pub stage: Option<String>,
    pub progress: f64,
    /// Unix seconds.
    pub created: i64,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    /// One line: why it failed, or the detector's verdict sentence.
    pub reason: Option<String>,
    pub verdict: Option<String>,
    pub attempts: i64,
    pub upload_bytes: i64,
}

impl Job {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
        Ok(Job {
            seq: r.get(0)?,
            id: r.get(1)?,
            content: r.get(2)?,
            status: Status::parse(&r.get::<_, String>(3)?),
            stage: r.get(4)?,
            progress: r.get(5)?,
            created: r.get(6)?,
            started: r.get(7)?,
            finished: r.get(8)?,
            reason: r.get(9)?,
            verdict: r.get(10)?,
            attempts: r.get(11)?,
            upload_bytes: r.get(12)?,
        })
    }
}

/// A job to record.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub content: &'a str,
    pub submitted_by: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub upload_bytes: u64,
    /// `Some(reason)`: recorded as failed at once (nothing to run).
    pub failed: Option<&'a str>,
}

/// The outcome of [`Store::insert`].
pub enum Inserted {
    New(Job),
    /// The same submitter already sent this `Idempotency-Key`: that job.
    Existing(Job),
}

/// Why the store failed. One line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {op}: {source}")]
    Sqlite { path: String, op: &'static str, source: rusqlite::Error },
    #[error("{path}: {op}: {source}")]
    Io { path: String, op: &'static str, source: std::io::Error },
    #[error("{path}: schema version {found}, this abmark reads {SCHEMA_VERSION}")]
    Schema { path: String, found: i64 },
}

/// The job store.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Store {
    /// Opens (creating) `STATE/jobs.db`; `state` is created (0700) when missing.
    pub fn open(state: &Path) -> Result<Self, StoreError> {
        let path = state.join("jobs.db");
        let shown = path.display().to_string();
        let io = |op| {
            let path = shown.clone();
            move |source| StoreError::Io { path, op, source }
        };
        let sql = |op| {
            let path = shown.clone();
            move |source| StoreError::Sqlite { path, op, source }
        };
        std::fs::create_dir_all(state.join("jobs")).map_err(io("create the state directory"))?;
        std::fs::set_permissions(state, std::fs::Permissions::from_mode(0o700))
            .map_err(io("set mode 0700"))?;
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(file) => file
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io("set mode 0600"))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create")(e)),
        }
        let mut conn = Connection::open(&path).map_err(sql("open"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql("set busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql("enable WAL"))?;
        // NORMAL in WAL mode: a committed transaction survives the process being killed (it
        // is in the WAL file); only a power cut may lose the last ones.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql("set synchronous"))?;
        {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql("create schema"))?;
            let found: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(sql("read schema version"))?;
            match found {
                0 => {
                    tx.execute_batch(SCHEMA).map_err(sql("create schema"))?;
                    tx.execute_batch(apikey::sqlite::SCHEMA).map_err(sql("create schema"))?;
                    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                        .map_err(sql("create schema"))?;
                }
                SCHEMA_VERSION => {}
                found => return Err(StoreError::Schema { path: shown, found }),
            }
            tx.commit().map_err(sql("create schema"))?;
        }
        Ok(Self { path, conn: Mutex::new(conn) })
    }

    fn with<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn).map_err(|source| StoreError::Sqlite {
            path: self.path.display().to_string(),
            op,
            source,
        })
    }

    /// Adds an API key; false when its name is taken.
    pub fn add_api_key(&self, entry: &ApiKeyEntry) -> Result<bool, StoreError> {
        self.with("add API key", |c| apikey::sqlite::add(c, entry))
    }

    pub fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyEntry>, StoreError> {
        self.with("get API key", |c| apikey::sqlite::get(c, hash))
    }

    pub fn remove_api_key(&self, name: &str) -> Result<bool, StoreError> {
        self.with("remove API key", |c| apikey::sqlite::remove(c, name))
    }

    pub fn api_keys(&self) -> Result<Vec<ApiKeyEntry>, StoreError> {
        self.with("list API keys", |c| apikey::sqlite::list(c))
    }

    /// The job `submitted_by` sent with `idempotency_key`.
    pub fn by_idempotency_key(
        &self,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<Job>, StoreError> {
        self.with("find job", |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE submitted_by = ?1 AND idempotency_key = ?2"
            ))?
            .query_row(params![submitted_by, idempotency_key], Job::from_row)
            .optional()
        })
    }

    /// Records a job (queued, or failed with its reason).
    pub fn insert(&self, job: &NewJob<'_>) -> Result<Inserted, StoreError> {
        let t = now();
        let (status, finished) = match job.failed {
            Some(_) => (Status::Failed, Some(t)),
            None => (Status::Queued, None),
        };
        let inserted = self.with("add job", |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO jobs (id, content, status, created, finished, reason, \
                 upload_bytes, submitted_by, idempotency_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                job.id,
                job.content,
                status.as_str(),
                t,
                finished,
                job.failed,
                i64::try_from(job.upload_bytes).unwrap_or(i64::MAX),
                job.submitted_by,
                job.idempotency_key
            ])
        })?;
        if inserted == 0 {
            if let Some(key) = job.idempotency_key {
                if let Some(existing) = self.by_idempotency_key(job.submitted_by, key)? {
                    return Ok(Inserted::Existing(existing));
                }
            }
        }
        let new = self.get(job.id)?.ok_or_else(|| StoreError::Sqlite {
            path: self.path.display().to_string(),
            op: "add job",
            source: rusqlite::Error::QueryReturnedNoRows,
        })?;
        Ok(Inserted::New(new))
    }

    pub fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.with("get job", |c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))?
                .query_row(params![id], Job::from_row)
                .optional()
        })
    }

    /// Up to `limit` jobs, newest first, older than `before` (a `seq`) if given.
    pub fn list(&self, limit: u32, before: Option<i64>) -> Result<Vec<Job>, StoreError> {
        self.with("list jobs", |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], Job::from_row)?;
            rows.collect()
        })
    }

    /// Jobs queued or running: what counts against the queue limit.
    pub fn active(&self) -> Result<u64, StoreError> {
        self.with("count jobs", |c| {
            c.query_row(
                "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Jobs per status, for the metrics.
    pub fn counts(&self) -> Result<Vec<(Status, u64)>, StoreError> {
        self.with("count jobs", |c| {
            let mut stmt = c.prepare_cached("SELECT status, count(*) FROM jobs GROUP BY status")?;
            let rows = stmt.query_map([], |r| {
                Ok((Status::parse(&r.get::<_, String>(0)?), r.get::<_, i64>(1)?))
            })?;
            let mut out: Vec<(Status, u64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
            for row in rows {
                let (s, n) = row?;
                if let Some(slot) = out.iter_mut().find(|(k, _)| *k == s) {
                    slot.1 += u64::try_from(n).unwrap_or(0);
                }
            }
            Ok(out)
        })
    }

    /// Takes the oldest queued job and marks it running.
    pub fn claim_next(&self) -> Result<Option<Job>, StoreError> {
        let t = now();
        self.with("claim job", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id: Option<String> = tx
                .query_row(
                    "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE jobs SET status = 'running', started = ?2, stage = 'starting', \
                 progress = 0, attempts = attempts + 1 WHERE id = ?1",
                params![id, t],
            )?;
            let job = tx
                .query_row(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"), [&id], |r| {
                    Job::from_row(r)
                })
                .optional()?;
            tx.commit()?;
            Ok(job)
        })
    }

    /// A running job's stage and progress (0 to 1).
    pub fn progress(&self, id: &str, stage: &str, progress: f64) -> Result<(), StoreError> {
        self.with("update progress", |c| {
            c.prepare_cached(
                "UPDATE jobs SET stage = ?2, progress = ?3 WHERE id = ?1 AND status = 'running'",
            )?
            .execute(params![id, stage, progress])
            .map(drop)
        })
    }

    /// Ends a running job (a cancelled one stays cancelled). False when it was not running.
    pub fn finish(
        &self,
        id: &str,
        status: Status,
        reason: &str,
        verdict: Option<&str>,
    ) -> Result<bool, StoreError> {
        let t = now();
        let stage = if status == Status::Done { Some("done") } else { None };
        self.with("finish job", |c| {
            c.prepare_cached(
                "UPDATE jobs SET status = ?2, finished = ?3, reason = ?4, verdict = ?5, \
                 stage = coalesce(?6, stage), progress = CASE WHEN ?6 IS NULL THEN progress \
                 ELSE 1 END WHERE id = ?1 AND status = 'running'",
            )?
            .execute(params![id, status.as_str(), t, reason, verdict, stage])
            .map(|n| n == 1)
        })
    }

    /// Cancels a queued or running job: the job as it was before (None: no such job).
    pub fn cancel(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let before = self.get(id)?;
        if let Some(job) = &before {
            if !job.status.finished() {
                let t = now();
                self.with("cancel job", |c| {
                    c.execute(
                        "UPDATE jobs SET status = 'cancelled', finished = ?2, \
                         reason = 'cancelled by request' \
                         WHERE id = ?1 AND status IN ('queued', 'running')",
                        params![id, t],
                    )
                })?;
            }
        }
        Ok(before)
    }

    /// After a restart: jobs that were running when the service stopped are queued again
    /// (they keep their place: `seq` is the order of submission).
    pub fn requeue_interrupted(&self) -> Result<usize, StoreError> {
        self.with("requeue jobs", |c| {
            c.execute(
                "UPDATE jobs SET status = 'queued', stage = NULL, progress = 0 \
                 WHERE status = 'running'",
                [],
            )
        })
    }

    /// Ids of jobs finished before `cutoff` (unix seconds).
    pub fn finished_before(&self, cutoff: i64) -> Result<Vec<String>, StoreError> {
        self.with("find expired jobs", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM jobs WHERE finished IS NOT NULL AND finished < ?1",
            )?;
            let rows = stmt.query_map([cutoff], |r| r.get(0))?;
            rows.collect()
        })
    }

    pub fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.with("delete job", |c| c.execute("DELETE FROM jobs WHERE id = ?1", [id]).map(drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job<'a>(id: &'a str, idem: Option<&'a str>) -> NewJob<'a> {
        NewJob {
            id,
            content: "film-1",
            submitted_by: "acme",
            idempotency_key: idem,
            upload_bytes: 10,
            failed: None,
        }
    }

    #[test]
    fn jobs_run_in_order_survive_reopening_and_keep_their_idempotency_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(matches!(store.insert(&job("a", Some("k1"))).unwrap(), Inserted::New(_)));
        assert!(matches!(store.insert(&job("b", None)).unwrap(), Inserted::New(_)));
        match store.insert(&job("c", Some("k1"))).unwrap() {
            Inserted::Existing(j) => assert_eq!(j.id, "a"),
            Inserted::New(_) => panic!("same idempotency key, new job"),
        }
        assert_eq!(store.active().unwrap(), 2);
        assert_eq!(store.claim_next().unwrap().unwrap().id, "a");
        drop(store);
        // As after kill -9: the running job is queued again, first in line.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.requeue_interrupted().unwrap(), 1);
        let a = store.claim_next().unwrap().unwrap();
        assert_eq!((a.id.as_str(), a.attempts), ("a", 2));
        assert!(store.finish("a", Status::Done, "named", Some("named")).unwrap());
        assert_eq!(store.cancel("b").unwrap().unwrap().status, Status::Queued);
        assert_eq!(store.get("b").unwrap().unwrap().status, Status::Cancelled);
        assert!(store.claim_next().unwrap().is_none());
        let page = store.list(1, None).unwrap();
        assert_eq!(page[0].id, "b");
        assert_eq!(store.list(5, Some(page[0].seq)).unwrap()[0].id, "a");
        assert_eq!(store.finished_before(now() + 1).unwrap().len(), 2);
        let mode = std::fs::metadata(dir.path().join("jobs.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
