//! API keys, shared by the services that take them (the CPIX key service, `keyservice`, and
//! the detection service, `abmark-investigate`): how one is made (32 random bytes, shown once),
//! how it is stored (its SHA-256 only: a stolen state store yields no usable key, and a key of
//! 256 random bits needs no slow hash), where a request carries it, how a presented key is
//! checked ([`authenticate`]: looked up by hash, the hash compared in constant time), and which
//! content ids it covers (its scope: exact ids and `prefix*` patterns).
//!
//! - [`sqlite`]: the `api_keys` table both services' SQLite stores hold, and its queries.
//!
//! May depend on: `abmark-delivery` (content ids), RustCrypto (SHA-256, `subtle`), rusqlite.

pub mod sqlite;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use abmark_delivery::ids::ContentId;

/// One API key as stored: never the key, only its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyEntry {
    /// The customer's name (unique).
    pub name: String,
    /// SHA-256 of the key's text.
    pub hash: [u8; 32],
    /// Content id patterns the key covers: exact ids and `prefix*`.
    pub scope: Vec<String>,
}

impl std::fmt::Debug for ApiKeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyEntry").field("name", &self.name).field("scope", &self.scope).finish()
    }
}

/// Why a request's key was not accepted. Neither variant carries the key.
#[derive(Debug, thiserror::Error)]
pub enum AuthError<E> {
    #[error("no API key (Authorization: Bearer KEY)")]
    Missing,
    #[error("unknown API key")]
    Unknown,
    #[error("API key store: {0}")]
    Store(E),
}

/// The entry of the key `presented`, found with `lookup` (by SHA-256). Over-long keys are
/// refused unhashed; the found entry's hash is compared with the presented key's in constant
/// time, so no comparison of secret bytes depends on where they first differ (the store's
/// index lookup works on a hash, which tells an attacker nothing about the key).
pub fn authenticate<E>(
    presented: Option<&str>,
    lookup: impl FnOnce(&[u8; 32]) -> Result<Option<ApiKeyEntry>, E>,
) -> Result<ApiKeyEntry, AuthError<E>> {
    let text = presented.ok_or(AuthError::Missing)?;
    if text.len() > MAX_KEY_LEN {
        return Err(AuthError::Unknown);
    }
    let digest = hash(text);
    match lookup(&digest).map_err(AuthError::Store)? {
        Some(entry) if bool::from(entry.hash.ct_eq(&digest)) => Ok(entry),
        _ => Err(AuthError::Unknown),
    }
}

/// The prefix of every API key: recognisable in a leaked file or a secret scanner's rule.
pub const KEY_PREFIX: &str = "abk_";
/// Longest API key text looked at; anything longer is wrong without being hashed.
pub const MAX_KEY_LEN: usize = 128;

/// A new API key: its text (to print once) and the entry to store.
pub struct NewApiKey {
    pub text: zeroize::Zeroizing<String>,
    pub entry: ApiKeyEntry,
}

/// Why an API key or its scope cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("API key name {0:?}: 1 to 64 letters, digits, '.', '-', '_' or '@'")]
    Name(String),
    #[error(
        "content pattern {0:?}: a content id, or a prefix of one followed by '*' ('*' alone: any)"
    )]
    Pattern(String),
    #[error("an API key needs at least one --content pattern")]
    NoScope,
    #[error("no random source: {0}")]
    Random(String),
}

/// Makes a key for customer `name` that may ask for the content ids `patterns` match.
pub fn new_api_key(name: &str, patterns: &[String]) -> Result<NewApiKey, ApiKeyError> {
    let name_ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if !name_ok {
        return Err(ApiKeyError::Name(name.chars().take(80).collect()));
    }
    if patterns.is_empty() {
        return Err(ApiKeyError::NoScope);
    }
    for p in patterns {
        let prefix = p.strip_suffix('*').unwrap_or(p);
        let valid = (p == "*") || (!prefix.contains('*') && ContentId::new(prefix).is_ok());
        if !valid {
            return Err(ApiKeyError::Pattern(p.chars().take(160).collect()));
        }
    }
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *bytes).map_err(|e| ApiKeyError::Random(e.to_string()))?;
    let text = zeroize::Zeroizing::new(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*bytes)
    ));
    let entry = ApiKeyEntry { name: name.to_owned(), hash: hash(&text), scope: patterns.to_vec() };
    Ok(NewApiKey { text, entry })
}

/// SHA-256 of a key's text: what is stored and looked up.
pub fn hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The API key of a request: `Authorization: Bearer KEY` (scheme without case), else
/// `X-Api-Key: KEY`.
pub fn presented(headers: &axum::http::HeaderMap) -> Option<&str> {
    crate::serve::bearer(headers).or_else(|| {
        let v = headers.get("x-api-key")?.to_str().ok()?.trim();
        (!v.is_empty()).then_some(v)
    })
}

/// Whether `entry`'s scope covers `content`.
pub fn allows(entry: &ApiKeyEntry, content: &ContentId) -> bool {
    let id = content.as_str();
    entry.scope.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => p == id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_stored_as_hashes_and_scoped() {
        let scope = vec!["film-1".to_owned(), "series-a/*".to_owned()];
        let a = new_api_key("acme", &scope).unwrap();
        let b = new_api_key("acme", &scope).unwrap();
        assert_ne!(*a.text, *b.text);
        assert!(a.text.starts_with(KEY_PREFIX) && a.text.len() == 4 + 43, "{}", a.text.len());
        assert_eq!(a.entry.hash, hash(&a.text));
        let id = |s: &str| ContentId::new(s).unwrap();
        assert!(allows(&a.entry, &id("film-1")));
        assert!(!allows(&a.entry, &id("film-10")), "exact ids are exact");
        assert!(allows(&a.entry, &id("series-a/ep-2")));
        assert!(!allows(&a.entry, &id("series-b/ep-2")));
        let any = new_api_key("ops", &["*".to_owned()]).unwrap();
        assert!(allows(&any.entry, &id("anything")));
        assert!(matches!(new_api_key("a b", &scope), Err(ApiKeyError::Name(_))));
        assert!(matches!(new_api_key("a", &[]), Err(ApiKeyError::NoScope)));
        for bad in ["", "a b*", "**"] {
            assert!(
                matches!(new_api_key("a", &[bad.into()]), Err(ApiKeyError::Pattern(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn authentication_finds_the_entry_by_hash_and_refuses_the_rest() {
        let key = new_api_key("acme", &["*".to_owned()]).unwrap();
        let entry = key.entry.clone();
        let lookup = |h: &[u8; 32]| Ok::<_, ()>((*h == entry.hash).then(|| entry.clone()));
        assert_eq!(authenticate(Some(&key.text), lookup).unwrap().name, "acme");
        assert!(matches!(authenticate(None, lookup), Err(AuthError::Missing)));
        assert!(matches!(authenticate(Some("abk_wrong"), lookup), Err(AuthError::Unknown)));
        let long = "k".repeat(MAX_KEY_LEN + 1);
        let never = |_: &[u8; 32]| -> Result<Option<ApiKeyEntry>, ()> { panic!("not hashed") };
        assert!(matches!(authenticate(Some(&long), never), Err(AuthError::Unknown)));
        let failing = |_: &[u8; 32]| Err::<Option<ApiKeyEntry>, _>("down");
        assert!(matches!(authenticate(Some(&key.text), failing), Err(AuthError::Store("down"))));
    }

    #[test]
    fn the_key_comes_from_either_header() {
        use axum::http::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert("x-api-key", HeaderValue::from_static(" k2 "));
        assert_eq!(presented(&h), Some("k2"));
        h.insert("authorization", HeaderValue::from_static("bearer k1"));
        assert_eq!(presented(&h), Some("k1"));
    }
}
