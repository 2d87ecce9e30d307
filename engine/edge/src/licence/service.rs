//! The licence decision: from a bearer token and a ClearKey request to either a JWK set or a
//! refusal, with every step's outcome logged. Order of checks (cheapest and most final first):
//! token (signature, lifetime, content), request syntax, session type, deny list, the
//! customer's authorization backend, keys known, and last the concurrent-stream limit — last so
//! that a request refused for any other reason never takes a stream slot.
//!
//! Blocking (store, backend): the HTTP layer runs [`LicenceService::answer`] on a blocking
//! thread.

use std::sync::Arc;

use abmark_delivery::ids::{ContentId, Kid};

use crate::serve::session_log::rfc3339;

use super::backend::{AuthBackend, Verdict};
use super::clearkey::{parse_request, response, SessionType};
use super::log::{Decision, LicenceLog, LicenceRecord};
use super::sealed::Sealer;
use super::store::{Admission, Grant, LicenceStore, StreamRequest};
use super::token::{verify, LicenceKey, LicenceTokenError};

/// What the operator decided.
#[derive(Debug, Clone)]
pub struct LicencePolicy {
    /// The content id licensed here: a token must name it. `None` = any content.
    pub content: Option<ContentId>,
    /// Seconds a stream counts as active after its last licence request (a renewal with the same
    /// token extends it); also the lifetime the licence is meant for.
    pub licence_seconds: u64,
    /// Concurrent streams per subject; `None` = unlimited.
    pub max_streams: Option<u32>,
    /// Whether `persistent-license` sessions may be granted (the token must allow them too).
    pub allow_persistent: bool,
}

impl Default for LicencePolicy {
    fn default() -> Self {
        Self { content: None, licence_seconds: 600, max_streams: None, allow_persistent: false }
    }
}

/// The service's answer to one licence request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The keys asked for that this subject may have, as a ClearKey JWK set (JSON).
    Issued { jwk_set: String },
    /// Nothing issued, and why.
    Refused(Refusal),
}

/// Why a licence request was refused: one HTTP status and one reason (the log's and the
/// JSON body's) each. Reasons never quote a token or a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` token (401).
    MissingToken,
    /// The licence token does not verify, has expired or names other content (403).
    BadToken(String),
    /// The body is not a ClearKey licence request (400).
    BadRequest(String),
    /// A persistent licence asked for where the policy or the token does not allow one (403).
    PersistentNotAllowed,
    /// The subject is on the deny list (403).
    Denied,
    /// The customer's authorization backend said no (403), with its reason.
    Backend(String),
    /// None of the KIDs asked for has a key here (403).
    NoKey,
    /// The subject already has as many active streams as allowed (403).
    StreamLimit { active: u32, limit: u32 },
    /// The state store could not be reached or failed (503).
    StoreUnavailable(String),
    /// A stored key could not be unsealed with the master key (500).
    Unsealable(String),
}

impl Refusal {
    /// The HTTP status this refusal answers with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::MissingToken => 401,
            Refusal::BadRequest(_) => 400,
            Refusal::StoreUnavailable(_) => 503,
            Refusal::Unsealable(_) => 500,
            Refusal::BadToken(_)
            | Refusal::PersistentNotAllowed
            | Refusal::Denied
            | Refusal::Backend(_)
            | Refusal::NoKey
            | Refusal::StreamLimit { .. } => 403,
        }
    }

    /// The reason, as logged and as sent in the JSON body.
    pub fn reason(&self) -> String {
        match self {
            Refusal::MissingToken => LicenceTokenError::Missing.to_string(),
            Refusal::BadToken(why)
            | Refusal::BadRequest(why)
            | Refusal::Backend(why)
            | Refusal::Unsealable(why) => why.clone(),
            Refusal::PersistentNotAllowed => "persistent licences are not allowed".into(),
            Refusal::Denied => "subject is on the deny list".into(),
            Refusal::NoKey => "no key for the KIDs asked for".into(),
            Refusal::StreamLimit { active, limit } => {
                format!("concurrent stream limit: {active} of {limit} streams active")
            }
            Refusal::StoreUnavailable(why) => format!("licence store: {why}"),
        }
    }
}

impl Answer {
    /// The HTTP status: 200 when issued, the refusal's otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Issued { .. } => 200,
            Answer::Refused(r) => r.status(),
        }
    }

    /// The JSON body: the JWK set, or `{"error": reason}`.
    pub fn body(&self) -> String {
        match self {
            Answer::Issued { jwk_set } => jwk_set.clone(),
            Answer::Refused(r) => serde_json::json!({ "error": r.reason() }).to_string(),
        }
    }
}

/// Everything a licence request needs; shared by all requests.
pub struct LicenceService {
    pub(crate) key: LicenceKey,
    pub(crate) sealer: Sealer,
    pub(crate) store: Arc<dyn LicenceStore>,
    pub(crate) backend: Option<AuthBackend>,
    pub(crate) policy: LicencePolicy,
    pub(crate) log: LicenceLog,
}

/// Why setting the service up failed.
#[derive(Debug, thiserror::Error)]
pub enum LicenceError {
    #[error("licence store: {0}")]
    Store(#[from] super::store::StoreError),
    #[error("{0}")]
    Seal(#[from] super::sealed::SealError),
}

impl LicenceService {
    pub fn new(
        key: LicenceKey,
        sealer: Sealer,
        store: Arc<dyn LicenceStore>,
        backend: Option<AuthBackend>,
        policy: LicencePolicy,
        log: LicenceLog,
    ) -> Self {
        Self { key, sealer, store, backend, policy, log }
    }

    /// Seals and stores content keys (from the CPIX the packager wrote or the key service sent).
    pub fn import_keys(&self, keys: &[(Kid, [u8; 16])]) -> Result<usize, LicenceError> {
        for (kid, key) in keys {
            self.store.put_sealed_key(kid, &self.sealer.seal(kid, key)?)?;
        }
        Ok(keys.len())
    }

    /// Whether every request waits for the customer's authorization backend.
    pub fn has_backend(&self) -> bool {
        self.backend.is_some()
    }

    pub fn log(&self) -> &LicenceLog {
        &self.log
    }

    /// Answers one licence request (blocking).
    pub fn answer(&self, bearer: Option<&str>, body: &[u8], client: &str, now: u64) -> Answer {
        let mut record = LicenceRecord {
            time: rfc3339(now),
            subject: None,
            content: None,
            session: None,
            decision: Decision::Refused,
            reason: String::new(),
            kids: Vec::new(),
            client: client.to_owned(),
        };
        let answer = match self.decide(bearer, body, now, &mut record) {
            Ok(jwk_set) => {
                record.decision = Decision::Issued;
                record.reason = "ok".into();
                Answer::Issued { jwk_set }
            }
            Err(refusal) => {
                record.reason = refusal.reason();
                Answer::Refused(refusal)
            }
        };
        self.log.append(&record);
        answer
    }

    fn decide(
        &self,
        bearer: Option<&str>,
        body: &[u8],
        now: u64,
        record: &mut LicenceRecord,
    ) -> Result<String, Refusal> {
        let token = bearer.ok_or(Refusal::MissingToken)?;
        let claims = verify(&self.key, token, self.policy.content.as_ref(), now)
            .map_err(|e| Refusal::BadToken(e.to_string()))?;
        record.subject = Some(claims.sub.clone());
        record.content = Some(claims.cid.clone());
        record.session = Some(claims.sid);
        let request = parse_request(body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        record.kids = request.kids.iter().map(Kid::hex).collect();
        if request.session_type == SessionType::PersistentLicense
            && !(self.policy.allow_persistent && claims.lic == Some(SessionType::PersistentLicense))
        {
            return Err(Refusal::PersistentNotAllowed);
        }
        // With a backend to ask, the deny list is checked before the (slow) call to it; the
        // store checks it again, atomically with the admission, in `grant`.
        if let Some(backend) = &self.backend {
            match self.store.is_denied(&claims.sub) {
                Ok(false) => {}
                Ok(true) => return Err(Refusal::Denied),
                Err(e) => return Err(Refusal::StoreUnavailable(e.to_string())),
            }
            if let Verdict::Deny(reason) = backend.ask(token, &claims.cid, &claims.sub, claims.sid)
            {
                return Err(Refusal::Backend(reason));
            }
        }
        let stream = self.policy.max_streams.map(|limit| StreamRequest {
            stream: &claims.jti,
            now,
            ttl: self.policy.licence_seconds,
            limit,
        });
        let (sealed, admission) = match self.store.grant(&claims.sub, &request.kids, stream) {
            Ok(Grant::Denied) => return Err(Refusal::Denied),
            Ok(Grant::Keys { sealed, admission }) => (sealed, admission),
            Err(e) => return Err(Refusal::StoreUnavailable(e.to_string())),
        };
        let mut keys = Vec::with_capacity(request.kids.len());
        for (kid, sealed) in request.kids.iter().zip(sealed) {
            if let Some(sealed) = sealed {
                let key = self
                    .sealer
                    .open(kid, &sealed)
                    .map_err(|e| Refusal::Unsealable(e.to_string()))?;
                keys.push((*kid, key));
            }
        }
        if keys.is_empty() {
            return Err(Refusal::NoKey);
        }
        if let Some(Admission::Refused { active, limit }) = admission {
            return Err(Refusal::StreamLimit { active, limit });
        }
        Ok(response(&keys, request.session_type))
    }
}
