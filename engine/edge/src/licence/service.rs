//! The licence decision: from a bearer token and a ClearKey request to either a JWK set or a
//! refusal, with every step's outcome logged. Order of checks (cheapest and most final first):
//! token (signature, lifetime, content), request syntax, session type, deny list, the
//! customer's authorization backend, keys known, and last the concurrent-stream limit — last so
//! that a request refused for any other reason never takes a stream slot.
//!
//! Blocking (store, backend): the HTTP layer runs [`LicenceService::answer`] on a blocking
//! thread.

use std::sync::Arc;

use crate::serve::session_log::rfc3339;

use super::backend::{AuthBackend, Verdict};
use super::clearkey::{parse_request, response, SessionType};
use super::log::{LicenceLog, LicenceRecord};
use super::sealed::Sealer;
use super::store::{Admission, Grant, LicenceStore, StreamRequest};
use super::token::{verify, LicenceKey, LicenceTokenError};

/// What the operator decided.
#[derive(Debug, Clone)]
pub struct LicencePolicy {
    /// The content id licensed here: a token must name it. `None` = any content.
    pub content: Option<String>,
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

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
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
    pub fn import_keys(&self, keys: &[([u8; 16], [u8; 16])]) -> Result<usize, LicenceError> {
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
            decision: "refused".into(),
            reason: String::new(),
            kids: Vec::new(),
            client: client.to_owned(),
        };
        let answer = self.decide(bearer, body, now, &mut record);
        if answer.status == 200 {
            record.decision = "issued".into();
            record.reason = "ok".into();
        }
        self.log.append(&record);
        answer
    }

    fn decide(
        &self,
        bearer: Option<&str>,
        body: &[u8],
        now: u64,
        record: &mut LicenceRecord,
    ) -> Answer {
        let Some(token) = bearer else {
            return refuse(record, 401, &LicenceTokenError::Missing.to_string());
        };
        let claims = match verify(&self.key, token, self.policy.content.as_deref(), now) {
            Ok(c) => c,
            Err(e) => return refuse(record, 403, &e.to_string()),
        };
        record.subject = Some(claims.sub.clone());
        record.content = Some(claims.cid.clone());
        record.session = Some(claims.sid);
        let request = match parse_request(body) {
            Ok(r) => r,
            Err(e) => return refuse(record, 400, &e.to_string()),
        };
        record.kids = request.kids.iter().map(hex::encode).collect();
        if request.session_type == SessionType::PersistentLicense
            && !(self.policy.allow_persistent && claims.lic == Some(SessionType::PersistentLicense))
        {
            return refuse(record, 403, "persistent licences are not allowed");
        }
        // With a backend to ask, the deny list is checked before the (slow) call to it; the
        // store checks it again, atomically with the admission, in `grant`.
        if let Some(backend) = &self.backend {
            match self.store.is_denied(&claims.sub) {
                Ok(false) => {}
                Ok(true) => return refuse(record, 403, DENIED),
                Err(e) => return refuse(record, 503, &format!("licence store: {e}")),
            }
            if let Verdict::Deny(reason) = backend.ask(token, &claims.cid, &claims.sub, claims.sid)
            {
                return refuse(record, 403, &reason);
            }
        }
        let stream = self.policy.max_streams.map(|limit| StreamRequest {
            stream: &claims.jti,
            now,
            ttl: self.policy.licence_seconds,
            limit,
        });
        let (sealed, admission) = match self.store.grant(&claims.sub, &request.kids, stream) {
            Ok(Grant::Denied) => return refuse(record, 403, DENIED),
            Ok(Grant::Keys { sealed, admission }) => (sealed, admission),
            Err(e) => return refuse(record, 503, &format!("licence store: {e}")),
        };
        let mut keys = Vec::with_capacity(request.kids.len());
        for (kid, sealed) in request.kids.iter().zip(sealed) {
            if let Some(sealed) = sealed {
                match self.sealer.open(kid, &sealed) {
                    Ok(key) => keys.push((*kid, key)),
                    Err(e) => return refuse(record, 500, &e.to_string()),
                }
            }
        }
        if keys.is_empty() {
            return refuse(record, 403, "no key for the KIDs asked for");
        }
        if let Some(Admission::Refused { active, limit }) = admission {
            let why = format!("concurrent stream limit: {active} of {limit} streams active");
            return refuse(record, 403, &why);
        }
        Answer { status: 200, body: response(&keys, request.session_type) }
    }
}

const DENIED: &str = "subject is on the deny list";

fn refuse(record: &mut LicenceRecord, status: u16, reason: &str) -> Answer {
    record.reason = reason.to_owned();
    Answer { status, body: serde_json::json!({ "error": reason }).to_string() }
}
