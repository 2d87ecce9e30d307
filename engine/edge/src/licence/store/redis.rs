//! [`RedisStore`]: shared state for several `serve` replicas.
//!
//! A few persistent connections (each behind its own mutex, opened on first use, replaced when
//! broken); admission is one Lua script run with `EVALSHA` (loaded on `NOSCRIPT`), so its
//! read-check-write is atomic on the server whatever the number of replicas.

use std::time::Duration;

use ::redis::{
    Client, Connection, ConnectionAddr, ConnectionLike, RedisError, RedisResult, Script,
};

use abmark_delivery::ids::{ContentId, Kid};

use super::{
    Admission, ApiKeyEntry, Binding, Grant, LicenceStore, Slots, StoreError, StreamRequest,
};
use crate::apikey::sqlite::split_scope;

const PREFIX: &str = "abmark:";
const DENIED: &str = "abmark:denied";
const API_KEY_NAMES: &str = "abmark:apikeys";
/// Connections per store (measured: see the throughput test).
const DEFAULT_CONNECTIONS: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A reply slower than this fails the call (and the connection is replaced).
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Times are clamped below 2^52 s so that Lua's doubles and sorted-set scores stay exact.
const MAX_SECS: u64 = 1 << 52;

/// The admission as a Lua function, shared by the admit and grant scripts: drops expired
/// streams; if `stream` is active, renews it (never shortening it) when `player` holds it, else
/// answers in use; otherwise adds it, held by `player`, if fewer than `limit` are active. Keeps
/// both keys alive one second past the last stream. Returns admitted (1), refused (0) or in use
/// (2), and active.
macro_rules! admit_fn {
    () => {
        r#"
local function admit(key, players, stream, player, now, expires, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local old = redis.call('ZSCORE', key, stream)
  local active = redis.call('ZCARD', key)
  if old then
    if redis.call('HGET', players, stream) ~= player then
      return 2, active
    end
    if tonumber(expires) > tonumber(old) then
      redis.call('ZADD', key, expires, stream)
    end
  elseif active < tonumber(limit) then
    redis.call('ZADD', key, expires, stream)
    redis.call('HSET', players, stream, player)
    active = active + 1
  else
    return 0, active
  end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local left = math.min(math.max(tonumber(last[2]) - tonumber(now), 0) + 1, 1000000000)
  redis.call('EXPIRE', key, left)
  redis.call('EXPIRE', players, left)
  return 1, active
end
"#
    };
}

/// KEYS[1]: the subject's streams (member = stream, score = expiry), KEYS[2]: their players.
/// ARGV: stream, player, now, expiry, limit. Returns {outcome (0/1/2), active}.
const ADMIT_LUA: &str = concat!(
    admit_fn!(),
    "local ok, active = admit(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])\n",
    "return {ok, active}\n"
);

/// KEYS[1]: streams, KEYS[2]: players. ARGV: stream, player. Removes the stream if `player`
/// holds it; returns the number of streams removed (0 or 1).
const RELEASE_LUA: &str = r#"
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"#;

/// A whole licence request in one round trip. KEYS: the deny set, the content's sealed-key
/// hash, the subject's streams, their players. ARGV: subject, admit (0/1), stream, player, now,
/// expiry, limit, then the KIDs (hex). Returns {0} when denied, else {admission, active,
/// {sealed...}} where admission is -1 (not asked, or no KID known), 0 (refused), 1 (admitted)
/// or 2 (in use by another player) and unknown KIDs are nil.
const GRANT_LUA: &str = concat!(
    admit_fn!(),
    r#"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return {0}
end
local kids = {}
for i = 8, #ARGV do kids[#kids + 1] = ARGV[i] end
local sealed = {}
local known = false
if #kids > 0 then
  sealed = redis.call('HMGET', KEYS[2], unpack(kids))
  for i = 1, #kids do
    if sealed[i] then known = true end
  end
end
if ARGV[2] == '1' and known then
  local ok, active = admit(KEYS[3], KEYS[4], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
  return {1, ok, active, sealed}
end
return {1, -1, 0, sealed}
"#
);
/// KEYS[1]: the content's sealed keys, KEYS[2]: the KID's owner. ARGV: KID hex, sealed, content.
/// Returns {1, sealed} when the content has the KID, {2} when another content owns it, {0}
/// after storing it.
const BIND_LUA: &str = r#"
local s = redis.call('HGET', KEYS[1], ARGV[1])
if s then return {1, s} end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[3] then return {2} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
return {0}
"#;

/// KEYS[1]: the names hash, KEYS[2]: the key's record. ARGV: name, hash hex, scope. Returns 1
/// when added, 0 when the name is taken.
const ADD_API_KEY_LUA: &str = r#"
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'name', ARGV[1], 'content', ARGV[3])
return 1
"#;

/// Licence state in Redis, every key under `abmark:`.
pub struct RedisStore {
    client: Client,
    /// The URL as shown in logs and errors: no password, no query.
    shown: String,
    pool: Slots<Option<Connection>>,
    admit: Script,
    grant: Script,
    release: Script,
    bind: Script,
    add_api_key: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port/db`, or `redis+unix:///path?db=N`)
    /// and checks the server answers. Connection problems later are reported per call, and the
    /// broken connection is replaced on the next one.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_CONNECTIONS)
    }

    /// [`Self::connect`] with at most `connections` connections (1: one `Mutex<Connection>`).
    pub(crate) fn connect_with(url: &str, connections: usize) -> Result<Self, StoreError> {
        let client = Client::open(url)
            .map_err(|e| StoreError::BadUrl { url: redact(url), reason: super::one_line(&e) })?;
        let shown = canonical(&client).unwrap_or_else(|| redact(url));
        let mut slots: Vec<Option<Connection>> = (0..connections.max(1)).map(|_| None).collect();
        let store_err = |source| StoreError::Redis { url: shown.clone(), op: "connect", source };
        let mut first = open(&client).map_err(store_err)?;
        ::redis::cmd("PING").query::<String>(&mut first).map_err(store_err)?;
        slots[0] = Some(first);
        Ok(Self {
            client,
            shown,
            pool: Slots::new(slots),
            admit: Script::new(ADMIT_LUA),
            grant: Script::new(GRANT_LUA),
            release: Script::new(RELEASE_LUA),
            bind: Script::new(BIND_LUA),
            add_api_key: Script::new(ADD_API_KEY_LUA),
        })
    }

    /// Runs `f` on a pooled connection, opening one if the slot is empty. A connection that
    /// failed at the I/O level is dropped; if it was an old one (the server restarted, or closed
    /// it while idle) the call is retried once on a fresh connection: every operation here is
    /// idempotent (an admission retried after a lost reply finds its stream and renews it).
    fn with_conn<T>(
        &self,
        op: &'static str,
        f: impl Fn(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, StoreError> {
        let err = |source| StoreError::Redis { url: self.shown.clone(), op, source };
        let mut slot = self.pool.get();
        let reused = slot.is_some();
        if !reused {
            *slot = Some(open(&self.client).map_err(err)?);
        }
        let conn = slot.as_mut().expect("slot filled above");
        match f(conn) {
            Ok(v) => Ok(v),
            Err(e) if broken(&e, conn) => {
                *slot = None;
                if !reused || e.is_timeout() {
                    return Err(err(e));
                }
                let mut fresh = open(&self.client).map_err(err)?;
                match f(&mut fresh) {
                    Ok(v) => {
                        *slot = Some(fresh);
                        Ok(v)
                    }
                    Err(e) => {
                        if !broken(&e, &fresh) {
                            *slot = Some(fresh);
                        }
                        Err(err(e))
                    }
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Decodes the grant script's reply (see [`GRANT_LUA`]).
    fn grant_reply(
        &self,
        reply: Vec<::redis::Value>,
        kids: usize,
        limit: u32,
    ) -> Result<Grant, StoreError> {
        let bad = |what: &str| StoreError::Reply {
            url: self.shown.clone(),
            op: "grant",
            what: what.to_string(),
        };
        let decode = |v: ::redis::Value| -> Result<Grant, String> {
            let mut it = reply_items(v)?.into_iter();
            let admission: i64 = next_as(&mut it)?;
            let active: i64 = next_as(&mut it)?;
            let sealed: Vec<Option<Vec<u8>>> = next_as(&mut it)?;
            if sealed.len() != kids {
                return Err(format!("{} sealed keys for {kids} KIDs", sealed.len()));
            }
            let active = u32::try_from(active.max(0)).unwrap_or(u32::MAX);
            let admission = match admission {
                -1 => None,
                1 => Some(Admission::Admitted { active }),
                0 => Some(Admission::Refused { active, limit }),
                2 => Some(Admission::InUse { active }),
                n => return Err(format!("admission {n}")),
            };
            Ok(Grant::Keys { sealed, admission })
        };
        match reply.as_slice() {
            [::redis::Value::Int(0)] => Ok(Grant::Denied),
            [::redis::Value::Int(1), ..] => {
                decode(::redis::Value::Array(reply[1..].to_vec())).map_err(|e| bad(&e))
            }
            _ => Err(bad("no status")),
        }
    }

    #[cfg(test)]
    pub(crate) fn connections(&self) -> usize {
        self.pool.len()
    }
}

fn open(client: &Client) -> RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

/// The connection cannot be trusted for another command (closed, or a reply may still be in
/// flight after a timeout).
fn broken(e: &RedisError, conn: &Connection) -> bool {
    !conn.is_open()
        || e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
}

fn reply_items(v: ::redis::Value) -> Result<Vec<::redis::Value>, String> {
    match v {
        ::redis::Value::Array(items) => Ok(items),
        _ => Err("not an array".into()),
    }
}

/// The next reply field as `T`. The message never quotes the value: it may hold sealed keys.
fn next_as<T: ::redis::FromRedisValue>(
    it: &mut impl Iterator<Item = ::redis::Value>,
) -> Result<T, String> {
    let v = it.next().ok_or("reply too short")?;
    ::redis::from_redis_value(v)
        .map_err(|_| format!("a field is not {}", std::any::type_name::<T>()))
}

fn streams_key(subject: &str) -> String {
    format!("{PREFIX}streams:{subject}")
}

fn players_key(subject: &str) -> String {
    format!("{PREFIX}players:{subject}")
}

/// The hash of one content's sealed keys. A content id is printable ASCII without spaces, so
/// the key name is unambiguous.
fn keys_key(content: &ContentId) -> String {
    format!("{PREFIX}keys:{}", content.as_str())
}

fn kid_key(kid: &Kid) -> String {
    format!("{PREFIX}kid:{}", kid.hex())
}

fn api_key_key(hash_hex: &str) -> String {
    format!("{PREFIX}apikey:{hash_hex}")
}

impl LicenceStore for RedisStore {
    fn admit(
        &self,
        subject: &str,
        stream: &str,
        player: &str,
        now: u64,
        ttl: u64,
        limit: u32,
    ) -> Result<Admission, StoreError> {
        let now = now.min(MAX_SECS);
        let expires = now.saturating_add(ttl).min(MAX_SECS);
        let (key, players) = (streams_key(subject), players_key(subject));
        let (outcome, active): (i64, i64) = self.with_conn("admit", |conn| {
            let mut call = self.admit.key(&key);
            call.key(&players).arg(stream).arg(player).arg(now).arg(expires).arg(limit);
            call.invoke(conn)
        })?;
        let active = u32::try_from(active.max(0)).unwrap_or(u32::MAX);
        Ok(match outcome {
            1 => Admission::Admitted { active },
            2 => Admission::InUse { active },
            _ => Admission::Refused { active, limit },
        })
    }

    fn release(&self, subject: &str, stream: &str, player: &str) -> Result<bool, StoreError> {
        let (key, players) = (streams_key(subject), players_key(subject));
        self.with_conn("release", |conn| {
            self.release.key(&key).key(&players).arg(stream).arg(player).invoke::<i64>(conn)
        })
        .map(|n| n > 0)
    }

    fn set_denied(&self, subject: &str, denied: bool) -> Result<(), StoreError> {
        let cmd = if denied { "SADD" } else { "SREM" };
        self.with_conn("set denied", |conn| {
            ::redis::cmd(cmd).arg(DENIED).arg(subject).query::<i64>(conn)
        })
        .map(drop)
    }

    fn is_denied(&self, subject: &str) -> Result<bool, StoreError> {
        self.with_conn("is denied", |conn| {
            ::redis::cmd("SISMEMBER").arg(DENIED).arg(subject).query(conn)
        })
    }

    fn put_sealed_key(
        &self,
        content: &ContentId,
        kid: &Kid,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        let (key, field, owner) = (keys_key(content), kid.hex(), kid_key(kid));
        self.with_conn("put sealed key", |conn| {
            let mut pipe = ::redis::pipe();
            pipe.atomic().cmd("HSET").arg(&key).arg(&field).arg(sealed).ignore();
            // An import names the KID's content only if none did before (the key service's
            // binding check reads it).
            pipe.cmd("SET").arg(&owner).arg(content.as_str()).arg("NX").ignore();
            pipe.query::<()>(conn)
        })
    }

    fn sealed_key(&self, content: &ContentId, kid: &Kid) -> Result<Option<Vec<u8>>, StoreError> {
        let (key, field) = (keys_key(content), kid.hex());
        self.with_conn("get sealed key", |conn| {
            ::redis::cmd("HGET").arg(&key).arg(&field).query(conn)
        })
    }

    fn sealed_keys(
        &self,
        content: &ContentId,
        kids: &[Kid],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if kids.is_empty() {
            return Ok(Vec::new());
        }
        let key = keys_key(content);
        let fields: Vec<String> = kids.iter().map(Kid::hex).collect();
        self.with_conn("get sealed keys", |conn| {
            ::redis::cmd("HMGET").arg(&key).arg(&fields).query(conn)
        })
    }

    fn grant(
        &self,
        subject: &str,
        content: &ContentId,
        kids: &[Kid],
        stream: Option<StreamRequest<'_>>,
    ) -> Result<Grant, StoreError> {
        let (admit, stream_id, player, now, expires, limit) = match stream {
            Some(r) => {
                let now = r.now.min(MAX_SECS);
                (1, r.stream, r.player, now, now.saturating_add(r.ttl).min(MAX_SECS), r.limit)
            }
            None => (0, "", "", 0, 0, 0),
        };
        let fields: Vec<String> = kids.iter().map(Kid::hex).collect();
        let (streams, keys) = (streams_key(subject), keys_key(content));
        let players = players_key(subject);
        let reply: Vec<::redis::Value> = self.with_conn("grant", |conn| {
            let mut call = self.grant.key(DENIED);
            call.key(&keys).key(&streams).key(&players);
            call.arg(subject).arg(admit).arg(stream_id).arg(player);
            call.arg(now).arg(expires).arg(limit);
            call.arg(&fields).invoke(conn)
        })?;
        self.grant_reply(reply, kids.len(), limit)
    }

    fn bind_sealed_key(
        &self,
        content: &ContentId,
        kid: &Kid,
        sealed: &[u8],
    ) -> Result<Binding, StoreError> {
        let (keys, owner) = (keys_key(content), kid_key(kid));
        let reply: Vec<::redis::Value> = self.with_conn("bind sealed key", |conn| {
            let mut call = self.bind.key(&keys);
            call.key(&owner).arg(kid.hex()).arg(sealed).arg(content.as_str());
            call.invoke(conn)
        })?;
        let bad = |what: &str| StoreError::Reply {
            url: self.shown.clone(),
            op: "bind sealed key",
            what: what.into(),
        };
        let mut it = reply.into_iter();
        let status: i64 = next_as(&mut it).map_err(|e| bad(&e))?;
        match status {
            0 => Ok(Binding::Stored),
            1 => Ok(Binding::Existing(next_as(&mut it).map_err(|e| bad(&e))?)),
            2 => Ok(Binding::OtherContent),
            n => Err(bad(&format!("status {n}"))),
        }
    }

    fn add_api_key(&self, entry: &ApiKeyEntry) -> Result<bool, StoreError> {
        let hash = hex::encode(entry.hash);
        let record = api_key_key(&hash);
        let scope = entry.scope.join("\n");
        self.with_conn("add API key", |conn| {
            let mut call = self.add_api_key.key(API_KEY_NAMES);
            call.key(&record).arg(&entry.name).arg(&hash).arg(&scope);
            call.invoke::<i64>(conn)
        })
        .map(|n| n == 1)
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyEntry>, StoreError> {
        let record = api_key_key(&hex::encode(hash));
        let (name, scope): (Option<String>, Option<String>) = self
            .with_conn("get API key", |conn| {
                ::redis::cmd("HMGET").arg(&record).arg("name").arg("content").query(conn)
            })?;
        Ok(name.map(|name| ApiKeyEntry {
            name,
            hash: *hash,
            scope: split_scope(scope.as_deref().unwrap_or_default()),
        }))
    }

    fn remove_api_key(&self, name: &str) -> Result<bool, StoreError> {
        let hash: Option<String> = self.with_conn("remove API key", |conn| {
            ::redis::cmd("HGET").arg(API_KEY_NAMES).arg(name).query(conn)
        })?;
        let Some(hash) = hash else { return Ok(false) };
        self.with_conn("remove API key", |conn| {
            let mut pipe = ::redis::pipe();
            pipe.atomic().cmd("DEL").arg(api_key_key(&hash)).ignore();
            pipe.cmd("HDEL").arg(API_KEY_NAMES).arg(name).ignore();
            pipe.query::<()>(conn)
        })?;
        Ok(true)
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyEntry>, StoreError> {
        let names: Vec<(String, String)> = self.with_conn("list API keys", |conn| {
            ::redis::cmd("HGETALL").arg(API_KEY_NAMES).query(conn)
        })?;
        let mut out = Vec::new();
        for (_, hash_hex) in names {
            let mut hash = [0u8; 32];
            if hex::decode_to_slice(&hash_hex, &mut hash).is_err() {
                continue; // not written by abmark
            }
            out.extend(self.api_key(&hash)?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("redis {}", self.shown)
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisStore({})", self.shown)
    }
}

/// `redis://[user@]host:port/db` (or the unix-socket form) from the parsed URL: no password.
fn canonical(client: &Client) -> Option<String> {
    let info = client.get_connection_info();
    let redis = info.redis_settings();
    let user = redis.username().map(|u| format!("{u}@")).unwrap_or_default();
    let db = redis.db();
    Some(match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("redis://{user}{}:{port}/{db}", bracket(host)),
        ConnectionAddr::TcpTls { host, port, .. } => {
            format!("rediss://{user}{}:{port}/{db}", bracket(host))
        }
        ConnectionAddr::Unix(path) => format!("redis+unix://{}?db={db}", path.display()),
        _ => return None,
    })
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `url` with any password and the query string (which may carry `pass=`) removed: for
/// messages about URLs that did not parse.
pub(crate) fn redact(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains('@') { "<unparsable URL>".to_string() } else { url.to_string() };
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':').map_or(userinfo, |(user, _)| user)
        {
            "" => host.to_string(),
            user => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}")
}
