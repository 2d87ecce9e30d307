//! The `api_keys` table of an SQLite store, one implementation for every store that keeps API
//! keys (the licence service's [`crate::licence::store::SqliteStore`], the detection service's
//! job store): the table, and add / look up / revoke / list on a connection the store owns
//! (its own locking and transactions stay the store's).

use rusqlite::{params, Connection, OptionalExtension};

use super::ApiKeyEntry;

/// The table; `CREATE ... IF NOT EXISTS`, so a store runs it in its schema set-up.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_keys (
    hash BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    content TEXT NOT NULL
) WITHOUT ROWID;
";

const ADD: &str = "INSERT OR IGNORE INTO api_keys (hash, name, content) VALUES (?1, ?2, ?3)";
const GET: &str = "SELECT name, content FROM api_keys WHERE hash = ?1";
const REMOVE: &str = "DELETE FROM api_keys WHERE name = ?1";
const LIST: &str = "SELECT hash, name, content FROM api_keys ORDER BY name";

/// Stores `entry`; false when its name (or hash) is taken.
pub fn add(conn: &Connection, entry: &ApiKeyEntry) -> rusqlite::Result<bool> {
    let scope = entry.scope.join("\n");
    conn.prepare_cached(ADD)?.execute(params![&entry.hash[..], entry.name, scope]).map(|n| n == 1)
}

/// The entry whose SHA-256 is `hash`.
pub fn get(conn: &Connection, hash: &[u8; 32]) -> rusqlite::Result<Option<ApiKeyEntry>> {
    conn.prepare_cached(GET)?
        .query_row(params![&hash[..]], |r| {
            let (name, scope): (String, String) = (r.get(0)?, r.get(1)?);
            Ok(ApiKeyEntry { name, hash: *hash, scope: split_scope(&scope) })
        })
        .optional()
}

/// Revokes the key named `name`; false when there was none.
pub fn remove(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(REMOVE)?.execute(params![name]).map(|n| n > 0)
}

/// Every entry, by name.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<ApiKeyEntry>> {
    let mut stmt = conn.prepare_cached(LIST)?;
    let rows = stmt.query_map([], |r| {
        let hash: Vec<u8> = r.get(0)?;
        let (name, scope): (String, String) = (r.get(1)?, r.get(2)?);
        Ok((hash, name, scope))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (hash, name, scope) = row?;
        // A hash of another length was not written by abmark: skipped, not trusted.
        if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
            out.push(ApiKeyEntry { name, hash, scope: split_scope(&scope) });
        }
    }
    Ok(out)
}

/// The stored scope (one pattern per line) as patterns.
pub fn split_scope(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}
