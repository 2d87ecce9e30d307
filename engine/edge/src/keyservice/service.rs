//! The key service's decision: from an API key and a CPIX request to a CPIX answer or a
//! refusal. Order: the API key (before the body is read, by the HTTP layer), the request's
//! syntax and bounds, the content id against the key's scope, what can be signalled, and only
//! then the keys: for each requested KID the key this content already has, or a new random one,
//! sealed under the master key and bound to the content (the same sealing and binding as
//! `serve --keys` imports, so `serve --content ID` licenses them with no key file).
//!
//! `cbcs` IVs are not stored: each is derived from the master key, the content id and the KID
//! (HMAC-SHA-256), so a repeat request or a restarted service answers the same IV, and every
//! encryptor that uses the key writes the same constant IV.
//!
//! Blocking (store): the HTTP layer runs these on a blocking thread.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use abmark_cenc::cpix::{read_cpix_request, write_cpix, ContentKey, CpixRequest};
use abmark_cenc::exchange::{self, AnswerOptions};
use abmark_delivery::ids::{ContentId, Kid};
use abmark_wm::key::WatermarkKey;

use crate::apikey::{self, allows, AuthError};
use crate::licence::sealed::Sealer;
use crate::licence::store::{ApiKeyEntry, Binding, LicenceStore};

/// Label of the key `cbcs` IVs are derived from (under the master key).
const IV_LABEL: &str = "abmark/keyservice/explicit-iv/v1";
/// Most keys one request may ask for (a title with per-minute rotation for two hours, video
/// and audio, is 240): bounds the store work an API key holder can cause per request.
pub const MAX_KEYS: usize = 256;
/// Most `DRMSystem` entries (four systems per key).
pub const MAX_DRM_SYSTEMS: usize = 4 * MAX_KEYS;
/// Most key periods.
pub const MAX_PERIODS: usize = MAX_KEYS;

/// Why a key request was refused: one HTTP status and one line each; never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No API key (401).
    MissingKey,
    /// An API key that is not (or no longer) known (401).
    BadKey,
    /// The body is not a CPIX request abmark can answer (400).
    BadRequest(String),
    /// The content id is outside the API key's scope (403).
    OutOfScope(String),
    /// A KID asked for belongs to other content (409).
    KidTaken(Kid),
    /// The state store failed (503); the detail is for the operator's log only.
    Store(String),
    /// A stored key does not open with this master key (500).
    Unsealable(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::MissingKey | Refusal::BadKey => 401,
            Refusal::BadRequest(_) => 400,
            Refusal::OutOfScope(_) => 403,
            Refusal::KidTaken(_) => 409,
            Refusal::Store(_) => 503,
            Refusal::Unsealable(_) => 500,
        }
    }

    /// The reason as the client sees it (server-side detail stays in the log).
    pub fn public_reason(&self) -> String {
        match self {
            Refusal::Store(_) => "key store unavailable".into(),
            Refusal::Unsealable(_) => "a stored key could not be opened".into(),
            other => other.reason(),
        }
    }

    /// The reason, as logged.
    pub fn reason(&self) -> String {
        match self {
            Refusal::MissingKey => {
                "no API key (send Authorization: Bearer KEY or X-Api-Key: KEY)".into()
            }
            Refusal::BadKey => "unknown API key".into(),
            Refusal::BadRequest(why) => why.clone(),
            Refusal::OutOfScope(id) => {
                format!("content id {id:?} is not among this API key's content")
            }
            Refusal::KidTaken(kid) => format!("KID {kid} belongs to other content"),
            Refusal::Store(why) => format!("key store: {why}"),
            Refusal::Unsealable(why) => why.clone(),
        }
    }
}

/// An answered request: the CPIX document, and what to log about it.
#[derive(Debug)]
pub struct Answered {
    pub xml: String,
    pub content: ContentId,
    pub keys: usize,
    pub new_keys: usize,
}

/// Everything a key request needs; shared by all requests.
pub struct KeyService {
    sealer: Sealer,
    iv_key: zeroize::Zeroizing<[u8; 32]>,
    store: Arc<dyn LicenceStore>,
    options: AnswerOptions,
}

impl KeyService {
    /// Derives what it needs from `master` (which the caller then drops).
    pub fn new(
        master: &WatermarkKey,
        store: Arc<dyn LicenceStore>,
        options: AnswerOptions,
    ) -> Self {
        let iv_key = zeroize::Zeroizing::new(master.derive(IV_LABEL, &[]));
        Self { sealer: Sealer::new(master), iv_key, store, options }
    }

    /// The API key's entry, or why there is none (blocking: one store lookup by hash).
    pub fn authenticate(&self, presented: Option<&str>) -> Result<ApiKeyEntry, Refusal> {
        apikey::authenticate(presented, |hash| self.store.api_key(hash)).map_err(|e| match e {
            AuthError::Missing => Refusal::MissingKey,
            AuthError::Unknown => Refusal::BadKey,
            AuthError::Store(e) => Refusal::Store(e.to_string()),
        })
    }

    /// Answers one authenticated request (blocking).
    pub fn answer(&self, customer: &ApiKeyEntry, body: &[u8]) -> Result<Answered, Refusal> {
        let bad = |why: String| Refusal::BadRequest(why);
        let text = std::str::from_utf8(body).map_err(|_| bad("body is not UTF-8 text".into()))?;
        let request = read_cpix_request(text).map_err(|e| bad(format!("CPIX: {e}")))?;
        let content = checked(&request)?;
        if !allows(customer, &content) {
            return Err(Refusal::OutOfScope(content.as_str().to_owned()));
        }
        // Everything the answer must signal is checked before a key is made or stored.
        let placeholders: Vec<ContentKey> = request
            .keys
            .iter()
            .map(|k| ContentKey { kid: k.kid, key: [0; 16], explicit_iv: None, scheme: None })
            .collect();
        exchange::answer(&request, &placeholders, &self.options).map_err(|e| bad(e.to_string()))?;
        let mut keys = Vec::with_capacity(request.keys.len());
        let mut new_keys = 0;
        for asked in &request.keys {
            let (key, new) = self.key_for(&content, &asked.kid)?;
            new_keys += usize::from(new);
            let explicit_iv = exchange::wants_iv(asked).then(|| self.iv(&content, &asked.kid));
            keys.push(ContentKey { kid: asked.kid, key, explicit_iv, scheme: None });
        }
        let doc =
            exchange::answer(&request, &keys, &self.options).map_err(|e| bad(e.to_string()))?;
        Ok(Answered { xml: write_cpix(&doc), content, keys: keys.len(), new_keys })
    }

    /// The key of `kid` for `content`: the stored one, or a new one bound now (true).
    fn key_for(&self, content: &ContentId, kid: &Kid) -> Result<([u8; 16], bool), Refusal> {
        let mut fresh = zeroize::Zeroizing::new([0u8; 16]);
        getrandom::fill(&mut *fresh).map_err(|e| Refusal::Store(format!("no random: {e}")))?;
        let sealed =
            self.sealer.seal(content, kid, &fresh).map_err(|e| Refusal::Store(e.to_string()))?;
        match self.store.bind_sealed_key(content, kid, &sealed) {
            Ok(Binding::Stored) => Ok((*fresh, true)),
            Ok(Binding::Existing(stored)) => self
                .sealer
                .open(content, kid, &stored)
                .map(|key| (key, false))
                .map_err(|e| Refusal::Unsealable(e.to_string())),
            Ok(Binding::OtherContent) => Err(Refusal::KidTaken(*kid)),
            Err(e) => Err(Refusal::Store(e.to_string())),
        }
    }

    /// The `explicitIV` of `kid` for `content`: HMAC-SHA-256 under the IV key, first 16 bytes.
    fn iv(&self, content: &ContentId, kid: &Kid) -> [u8; 16] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.iv_key)
            .expect("HMAC accepts keys of any length");
        let id = content.as_str().as_bytes();
        mac.update(&(id.len() as u64).to_be_bytes());
        mac.update(id);
        mac.update(kid.as_bytes());
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        iv
    }
}

/// The request's content id, once its version and sizes are within bounds.
fn checked(request: &CpixRequest) -> Result<ContentId, Refusal> {
    let bad = |why: String| Refusal::BadRequest(why);
    if let Some(v) = request.version.as_deref().filter(|v| *v != "2.3") {
        return Err(bad(format!(
            "CPIX version {:?} (2.3 is supported)",
            v.chars().take(16).collect::<String>()
        )));
    }
    let content =
        request.content_id.as_deref().ok_or_else(|| bad("cpix:CPIX has no contentId".into()))?;
    let content = ContentId::new(content).map_err(|e| bad(format!("cpix:CPIX contentId: {e}")))?;
    if request.keys.is_empty() {
        return Err(bad("no cpix:ContentKey asked for".into()));
    }
    for (what, n, max) in [
        ("cpix:ContentKey", request.keys.len(), MAX_KEYS),
        ("cpix:DRMSystem", request.drm_systems.len(), MAX_DRM_SYSTEMS),
        ("cpix:ContentKeyPeriod", request.periods.len(), MAX_PERIODS),
        ("cpix:ContentKeyUsageRule", request.usage_rules.len(), MAX_KEYS),
    ] {
        if n > max {
            return Err(bad(format!("{n} {what} elements (at most {max})")));
        }
    }
    Ok(content)
}
