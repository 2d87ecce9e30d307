//! The licence service's policy state: concurrent-stream admission, the subject deny list, the
//! sealed content keys, each bound to the content id it was imported for or made for, and the
//! key service's API keys (only their SHA-256 is stored, never a key).
//!
//! Two implementations of one synchronous trait, [`LicenceStore`]:
//! - [`SqliteStore`]: one file (mode 0600, WAL, `synchronous=NORMAL`), the default. Several
//!   processes on one machine may share the file: admission runs in a `BEGIN IMMEDIATE`
//!   transaction, so it is serialised by SQLite's write lock (waiting up to a busy timeout).
//! - [`RedisStore`]: for several `serve` replicas. Every key starts with `abmark:`; a whole
//!   licence request (deny list, sealed keys, admission) is one Lua script, atomic on the server
//!   and one round trip, run with `EVALSHA`.
//!
//! The calls block on I/O: async callers run them in `tokio::task::spawn_blocking`. Both
//! stores are `Send + Sync` and meant to be shared behind an `Arc`.
//!
//! Time is the caller's: `now` and `ttl` are unix seconds. A stream counts while its expiry is
//! strictly after `now`. Content keys reach this layer only sealed (AES-GCM under the master
//! key, see `licence::sealed`); errors never carry key bytes, passwords or sealed data.
//!
//! Layout in Redis (`abmark:` prefix):
//! - `abmark:streams:<subject>`: sorted set, member = stream id, score = expiry (unix s); the key
//!   itself expires one second after its last stream, so idle subjects leave nothing behind.
//! - `abmark:players:<subject>`: hash, field = stream id, value = the player holding it; expires
//!   with the streams key.
//! - `abmark:denied`: set of denied subjects.
//! - `abmark:keys:<content id>`: hash, field = KID (lower-case hex), value = sealed key bytes.
//!   A key is found only under the content it was imported for: KIDs are public (every
//!   manifest carries them), so a lookup by KID alone would hand one title's key to a viewer
//!   licensed for another.
//! - `abmark:kid:<KID hex>`: string, the content id the KID was first stored for. The key
//!   service binds a KID to one content ([`LicenceStore::bind_sealed_key`], a Lua script:
//!   check and write in one step); imports (`serve --keys`) set it only if absent.
//! - `abmark:apikey:<SHA-256 hex>`: hash with fields `name` and `content` (the scope: content
//!   id patterns, one per line) of one key service API key.
//! - `abmark:apikeys`: hash, field = API key name, value = its SHA-256 hex (names are unique).
//!
//! Layout in SQLite (`PRAGMA user_version = 3`): tables `streams(subject, stream, expires,
//! player)`, `denied(subject)`, `content_keys(content TEXT, kid BLOB(16), sealed BLOB)` (with an
//! index by KID, for the key service's binding check), `api_keys(hash BLOB(32), name TEXT
//! UNIQUE, content TEXT)`. Version 2 lacked the last two: opening it adds them. Version 1 kept
//! `sealed_keys(kid, sealed)` with no content and streams without a player: opening such a file
//! keeps the streams (held by no player: they renew for none and expire) and the deny list and
//! drops those keys (see [`SqliteStore::unbound_keys_dropped`]); they must be imported
//! again for their content.

mod redis;
mod sqlite;
#[cfg(test)]
mod tests;

pub use self::redis::RedisStore;
pub use self::sqlite::SqliteStore;

use abmark_delivery::ids::{ContentId, Kid};

/// Outcome of asking to start or renew one playback stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The stream is active; `active` counts the subject's active streams including it.
    Admitted { active: u32 },
    /// Starting the stream would exceed `limit`; `active` is the subject's current count. The
    /// refused stream was not recorded.
    Refused { active: u32, limit: u32 },
    /// The stream is active for another player: a licence token admits one player only, so the
    /// same token replayed from other clients gets no slot.
    InUse { active: u32 },
}

impl Admission {
    pub fn is_admitted(&self) -> bool {
        matches!(self, Admission::Admitted { .. })
    }
}

/// One stream admission asked for as part of a [`LicenceStore::grant`].
#[derive(Debug, Clone, Copy)]
pub struct StreamRequest<'a> {
    pub stream: &'a str,
    pub player: &'a str,
    pub now: u64,
    pub ttl: u64,
    pub limit: u32,
}

/// What [`LicenceStore::grant`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The subject is on the deny list: no key was read, no stream recorded.
    Denied,
    /// The sealed keys of the KIDs asked for, in order (`None`: unknown KID), and the admission
    /// outcome: `None` when no admission was asked for or when no KID was known (a request that
    /// would get no key never takes a stream slot).
    Keys { sealed: Vec<Option<Vec<u8>>>, admission: Option<Admission> },
}

/// What [`LicenceStore::bind_sealed_key`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The KID had no key: the one given is now stored for this content.
    Stored,
    /// This content already has a key for the KID: that one (sealed) stands.
    Existing(Vec<u8>),
    /// The KID belongs to other content: nothing was stored, and nothing is returned.
    OtherContent,
}

pub use crate::apikey::ApiKeyEntry;

/// The licence service's shared policy state. Every call is synchronous (blocking I/O).
pub trait LicenceStore: Send + Sync {
    /// Starts or renews stream `stream` (an opaque id: the licence token's `jti`) of `subject`
    /// for `player` (the id the player sent), active until `now + ttl` (unix seconds). Streams
    /// whose expiry is <= now no longer count. A stream belongs to the player that started it:
    /// the same stream asked for by another player while active is [`Admission::InUse`].
    /// Otherwise admitted iff the subject's active streams *including this one* are <= `limit`
    /// (a renewal by its own player is always admitted and extends it). Atomic across
    /// processes sharing the store (two replicas racing for the last slot: exactly one wins). A
    /// refused stream is not recorded.
    fn admit(
        &self,
        subject: &str,
        stream: &str,
        player: &str,
        now: u64,
        ttl: u64,
        limit: u32,
    ) -> Result<Admission, StoreError>;

    /// Ends a stream early (player closed or reloading): frees its slot if `player` holds it,
    /// and says whether it did. Releasing an unknown stream, or another player's, changes
    /// nothing and is not an error.
    fn release(&self, subject: &str, stream: &str, player: &str) -> Result<bool, StoreError>;

    /// Adds `subject` to (`denied`) or removes it from the deny list.
    fn set_denied(&self, subject: &str, denied: bool) -> Result<(), StoreError>;

    fn is_denied(&self, subject: &str) -> Result<bool, StoreError>;

    /// Stores (or replaces) the sealed content key of `kid` for `content`. The caller seals it
    /// (AES-GCM under the master key) first: this layer never sees a clear key.
    fn put_sealed_key(
        &self,
        content: &ContentId,
        kid: &Kid,
        sealed: &[u8],
    ) -> Result<(), StoreError>;

    /// The sealed key stored for `kid` of `content`, if any (a key of other content is none).
    fn sealed_key(&self, content: &ContentId, kid: &Kid) -> Result<Option<Vec<u8>>, StoreError>;

    /// The sealed keys of several KIDs of `content`, in order. Same as calling
    /// [`Self::sealed_key`] for each (the default), but one round trip where the store can do
    /// it (Redis: `HMGET`).
    fn sealed_keys(
        &self,
        content: &ContentId,
        kids: &[Kid],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        kids.iter().map(|kid| self.sealed_key(content, kid)).collect()
    }

    /// Everything one licence request needs from the store, in the service's order: the deny
    /// list, then the sealed keys of `content` (the content the licence token names), then (if `stream` is given and some key is known) the stream
    /// admission. The default runs the calls above one after another; Redis runs them as one
    /// server-side script, one round trip instead of three.
    fn grant(
        &self,
        subject: &str,
        content: &ContentId,
        kids: &[Kid],
        stream: Option<StreamRequest<'_>>,
    ) -> Result<Grant, StoreError> {
        if self.is_denied(subject)? {
            return Ok(Grant::Denied);
        }
        let sealed = self.sealed_keys(content, kids)?;
        let admission = match stream {
            Some(r) if sealed.iter().any(Option::is_some) => {
                Some(self.admit(subject, r.stream, r.player, r.now, r.ttl, r.limit)?)
            }
            _ => None,
        };
        Ok(Grant::Keys { sealed, admission })
    }

    /// Stores `sealed` as the key of `kid` for `content` unless the KID already has one, in one
    /// atomic step (two encoders asking at once for the same new KID both get the key that
    /// stood first): [`Binding::Existing`] if `content` has it, [`Binding::OtherContent`] if
    /// another content does (KIDs are public, so a KID names one title's key only).
    fn bind_sealed_key(
        &self,
        content: &ContentId,
        kid: &Kid,
        sealed: &[u8],
    ) -> Result<Binding, StoreError>;

    /// Adds an API key; false (nothing changed) when its name is taken.
    fn add_api_key(&self, entry: &ApiKeyEntry) -> Result<bool, StoreError>;

    /// The API key whose SHA-256 is `hash`, if any (a lookup by hash: no key is compared).
    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyEntry>, StoreError>;

    /// Revokes the API key named `name`; false when there was none.
    fn remove_api_key(&self, name: &str) -> Result<bool, StoreError>;

    /// Every API key, by name.
    fn api_keys(&self) -> Result<Vec<ApiKeyEntry>, StoreError>;

    /// Short description for logs: `sqlite /path/state.db`, `redis redis://host:port/0` (never a
    /// password).
    fn describe(&self) -> String;
}

/// A state-store failure. The message is one line naming the store (file path, or URL without
/// password) and the operation; it never contains key bytes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite file could not be created or inspected.
    #[error("sqlite {path}: {op}: {source}")]
    Io {
        path: String,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation (busy past the timeout, disk full, corrupt file...).
    #[error("sqlite {path}: {op}: {}", one_line(source))]
    Sqlite {
        path: String,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The file is an SQLite database but not one this version understands.
    #[error("sqlite {path}: schema version {found} is not {expected} (a newer abmark wrote it?)")]
    Schema { path: String, found: i64, expected: i64 },
    /// The Redis URL cannot be used.
    #[error("redis {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// Redis failed or could not be reached.
    #[error("redis {url}: {op}: {}", one_line(source))]
    Redis {
        url: String,
        op: &'static str,
        #[source]
        source: ::redis::RedisError,
    },
    /// Redis answered a script with something this version does not expect (another program
    /// wrote `abmark:` keys, or a version mismatch).
    #[error("redis {url}: {op}: unexpected reply ({what})")]
    Reply { url: String, op: &'static str, what: String },
}

impl StoreError {
    /// True when retrying later may succeed (store unreachable, timed out or busy): a caller
    /// would answer 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Redis { source, .. } => {
                source.is_io_error()
                    || source.is_timeout()
                    || source.is_connection_dropped()
                    || source.is_connection_refusal()
            }
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    if s.contains(['\n', '\r']) {
        s.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
    } else {
        s
    }
}

/// A few connections, each behind its own mutex: a caller takes a free one (`try_lock` from a
/// rotating start) or waits for the one it started from.
struct Slots<T> {
    slots: Vec<std::sync::Mutex<T>>,
    next: std::sync::atomic::AtomicUsize,
}

impl<T> Slots<T> {
    fn new(slots: Vec<T>) -> Self {
        assert!(!slots.is_empty());
        Self {
            slots: slots.into_iter().map(std::sync::Mutex::new).collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn get(&self) -> std::sync::MutexGuard<'_, T> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % n;
        for i in 0..n {
            match self.slots[(start + i) % n].try_lock() {
                Ok(guard) => return guard,
                // A panic while holding a connection leaves it usable (an open rusqlite
                // transaction rolls back on drop; a broken Redis connection is replaced).
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        self.slots[start].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
