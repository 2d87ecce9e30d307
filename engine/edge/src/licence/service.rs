//! The licence decision: from a bearer token and a ClearKey request to either a JWK set or a
//! refusal, with every step's outcome logged. Order of checks (cheapest and most final first):
//! token (signature, lifetime, content), request syntax, session type, deny lists (the file's
//! in memory, then the store's), the
//! customer's authorization backend, keys known, and last the concurrent-stream limit — last so
//! that a request refused for any other reason never takes a stream slot.
//!
//! Blocking (store, backend): the HTTP layer runs [`LicenceService::answer`] on a blocking
//! thread.

use std::sync::Arc;

use abmark_delivery::ids::{ContentId, Kid};

use crate::deny_file::DenyListFile;
use crate::serve::session_log::rfc3339;

use super::backend::{AuthBackend, Verdict};
use super::clearkey::{parse_request, response, SessionType};
use super::log::{Decision, LicenceLog, LicenceRecord};
use super::sealed::Sealer;
use super::store::{Admission, Grant, LicenceStore, StreamRequest};
use super::token::{verify, LicenceClaims, LicenceKey, LicenceTokenError};

/// What the operator decided.
#[derive(Debug, Clone)]
pub struct LicencePolicy {
    /// The content id licensed here: a token must name it, and only this content's keys are
    /// imported and handed out. Required: a service that licensed any content would let a
    /// token for one title fetch another's key (KIDs are public).
    pub content: ContentId,
    /// Seconds a stream counts as active after its last licence request (a renewal with the same
    /// token extends it); also the lifetime the licence is meant for.
    pub licence_seconds: u64,
    /// Concurrent streams per subject; `None` = unlimited.
    pub max_streams: Option<u32>,
    /// Whether `persistent-license` sessions may be granted (the token must allow them too).
    pub allow_persistent: bool,
}

impl LicencePolicy {
    /// The defaults for `content`: 10-minute licences, no stream limit, temporary sessions only.
    pub fn new(content: ContentId) -> Self {
        Self { content, licence_seconds: 600, max_streams: None, allow_persistent: false }
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
    BadToken(LicenceTokenError),
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
    /// The licence token already admitted another player (403): one token, one player.
    StreamInUse,
    /// No active stream of this token is held by the player asking to release it (409).
    NotHeld,
    /// Streams are limited and the request names no player (`Abmark-Player`), or a malformed
    /// one (400).
    NoPlayer,
    /// The state store could not be reached or failed (503).
    StoreUnavailable(String),
    /// A stored key could not be unsealed with the master key (500).
    Unsealable(String),
    /// The page asking is on a site the edge or the token does not allow (403).
    Site(String),
}

impl Refusal {
    /// The HTTP status this refusal answers with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::MissingToken => 401,
            Refusal::BadRequest(_) | Refusal::NoPlayer => 400,
            Refusal::NotHeld => 409,
            Refusal::StoreUnavailable(_) => 503,
            Refusal::Unsealable(_) => 500,
            Refusal::BadToken(_)
            | Refusal::PersistentNotAllowed
            | Refusal::Denied
            | Refusal::Backend(_)
            | Refusal::NoKey
            | Refusal::StreamInUse
            | Refusal::Site(_)
            | Refusal::StreamLimit { .. } => 403,
        }
    }

    /// A stable name for the refusal, for players to pick the message they show (the JSON
    /// body's `code`; the `Abmark-Refusal` header).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MissingToken => "token-missing",
            Refusal::BadToken(LicenceTokenError::Expired) => "token-expired",
            Refusal::BadToken(_) => "token-invalid",
            Refusal::BadRequest(_) => "bad-request",
            Refusal::PersistentNotAllowed => "persistent-not-allowed",
            Refusal::Denied => "subject-denied",
            Refusal::Backend(_) => "backend-refused",
            Refusal::NoKey => "no-key",
            Refusal::StreamLimit { .. } | Refusal::StreamInUse => "stream-limit",
            Refusal::NotHeld => "not-held",
            Refusal::NoPlayer => "no-player",
            Refusal::StoreUnavailable(_) | Refusal::Unsealable(_) => "server-error",
            Refusal::Site(_) => "domain-not-allowed",
        }
    }

    /// The reason as sent to the client: the same as [`Self::reason`] except for server-side
    /// failures, whose detail (a store path, a Redis host) goes to the log only.
    pub fn public_reason(&self) -> String {
        match self {
            Refusal::StoreUnavailable(_) => "licence store unavailable".into(),
            Refusal::Unsealable(_) => "a stored key could not be opened".into(),
            other => other.reason(),
        }
    }

    /// The reason, as logged.
    pub fn reason(&self) -> String {
        match self {
            Refusal::MissingToken => LicenceTokenError::Missing.to_string(),
            Refusal::BadToken(why) => why.to_string(),
            Refusal::BadRequest(why)
            | Refusal::Backend(why)
            | Refusal::Site(why)
            | Refusal::Unsealable(why) => why.clone(),
            Refusal::PersistentNotAllowed => "persistent licences are not allowed".into(),
            Refusal::Denied => "subject is on the deny list".into(),
            Refusal::NoKey => "no key for the KIDs asked for".into(),
            Refusal::StreamLimit { active, limit } => {
                format!("concurrent stream limit: {active} of {limit} streams active")
            }
            Refusal::StoreUnavailable(why) => format!("licence store: {why}"),
            Refusal::StreamInUse => "this licence token is in use by another player".into(),
            Refusal::NotHeld => "no active stream of this licence token for this player".into(),
            Refusal::NoPlayer => format!(
                "streams are limited: send {PLAYER_HEADER} with the player's id (1 to \
                 {MAX_PLAYER_ID} letters, digits, '-' or '_')"
            ),
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

    /// The JSON body: the JWK set, or `{"error": reason}` (the public reason).
    pub fn body(&self) -> String {
        match self {
            Answer::Issued { jwk_set } => jwk_set.clone(),
            Answer::Refused(r) => {
                serde_json::json!({ "error": r.public_reason(), "code": r.code() }).to_string()
            }
        }
    }
}

/// The header a player sends its id in (a random id per player instance, e.g. 16 random bytes
/// in base64url): what the stream limit binds a licence token to.
pub const PLAYER_HEADER: &str = "Abmark-Player";
/// The longest player id.
pub const MAX_PLAYER_ID: usize = 64;

/// Whether `id` is a player id: 1 to [`MAX_PLAYER_ID`] of `A-Z a-z 0-9 - _`.
pub fn is_player_id(id: &str) -> bool {
    (1..=MAX_PLAYER_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Everything a licence request needs; shared by all requests.
pub struct LicenceService {
    pub(crate) key: LicenceKey,
    pub(crate) sealer: Sealer,
    pub(crate) store: Arc<dyn LicenceStore>,
    pub(crate) backend: Option<AuthBackend>,
    pub(crate) policy: LicencePolicy,
    pub(crate) log: LicenceLog,
    /// The key periods of each rotated track: a request for one of a group's KIDs is answered
    /// with the whole group (see [`Self::with_key_groups`]).
    pub(crate) key_groups: Vec<Vec<Kid>>,
    /// The deny-list file (`serve --deny-list`), checked besides the store's deny list.
    pub(crate) deny_file: Option<Arc<DenyListFile>>,
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
        Self { key, sealer, store, backend, policy, log, key_groups: Vec::new(), deny_file: None }
    }

    /// Licenses the KIDs of each group together: a key-rotated track's periods. Web players
    /// ask for the KID the manifest names and never again when a later segment switches keys
    /// (shaka and dash.js do not follow in-band PSSH; the ClearKey CDM keeps every key it is
    /// given), so the first licence carries every period's key. A viewer licensed for the
    /// content could fetch each of them anyway, KID by KID: nothing more is handed out.
    pub fn with_key_groups(mut self, groups: Vec<Vec<Kid>>) -> Self {
        self.key_groups = groups.into_iter().filter(|g| g.len() > 1).collect();
        self
    }

    /// Also refuses the subjects of a deny-list file: a subject on either list is refused,
    /// from the first request after the file was re-read.
    pub fn with_deny_file(mut self, file: Arc<DenyListFile>) -> Self {
        self.deny_file = Some(file);
        self
    }

    /// Seals and stores content keys (from the CPIX the packager wrote or the key service
    /// sent), bound to the policy's content id.
    pub fn import_keys(&self, keys: &[(Kid, [u8; 16])]) -> Result<usize, LicenceError> {
        let content = &self.policy.content;
        for (kid, key) in keys {
            self.store.put_sealed_key(content, kid, &self.sealer.seal(content, kid, key)?)?;
        }
        Ok(keys.len())
    }

    /// The content id this service licenses.
    pub fn content(&self) -> &ContentId {
        &self.policy.content
    }

    /// Whether every request waits for the customer's authorization backend.
    pub fn has_backend(&self) -> bool {
        self.backend.is_some()
    }

    pub fn log(&self) -> &LicenceLog {
        &self.log
    }

    /// The first check of every request: the licence token alone (signature, lifetime,
    /// content), cheap and without I/O, so the HTTP layer runs it before reading a byte of the
    /// body. A request refused here is not logged (the log would otherwise be anyone's to
    /// fill): the HTTP layer counts it.
    pub fn check_token(&self, bearer: Option<&str>, now: u64) -> Result<LicenceClaims, Refusal> {
        let token = bearer.ok_or(Refusal::MissingToken)?;
        verify(&self.key, token, Some(&self.policy.content), now).map_err(Refusal::BadToken)
    }

    /// Refuses, and logs, a request whose token verified but whose page is on a site it may
    /// not play on.
    pub fn refuse_site(
        &self,
        claims: &LicenceClaims,
        why: String,
        client: &str,
        now: u64,
    ) -> Answer {
        let refusal = Refusal::Site(why);
        self.log.append(&LicenceRecord {
            time: rfc3339(now),
            subject: Some(claims.sub.clone()),
            content: Some(claims.cid.clone()),
            session: Some(claims.sid),
            decision: Decision::Refused,
            reason: refusal.reason(),
            kids: Vec::new(),
            client: client.to_owned(),
        });
        Answer::Refused(refusal)
    }

    /// Answers one request whose token passed [`Self::check_token`] (blocking), and logs the
    /// outcome.
    pub fn answer(
        &self,
        token: &str,
        claims: &LicenceClaims,
        player: Option<&str>,
        body: &[u8],
        client: &str,
        now: u64,
    ) -> Answer {
        let mut record = LicenceRecord {
            time: rfc3339(now),
            subject: Some(claims.sub.clone()),
            content: Some(claims.cid.clone()),
            session: Some(claims.sid),
            decision: Decision::Refused,
            reason: String::new(),
            kids: Vec::new(),
            client: client.to_owned(),
        };
        let answer = match self.decide(token, claims, player, body, now, &mut record) {
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
        token: &str,
        claims: &LicenceClaims,
        player: Option<&str>,
        body: &[u8],
        now: u64,
        record: &mut LicenceRecord,
    ) -> Result<String, Refusal> {
        let mut request = parse_request(body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        request.kids = with_groups(&self.key_groups, &request.kids);
        // With a stream limit, a licence token admits one player: the request must say which.
        let player = match (self.policy.max_streams, player) {
            (None, _) => "",
            (Some(_), Some(id)) if is_player_id(id) => id,
            (Some(_), _) => return Err(Refusal::NoPlayer),
        };
        record.kids = request.kids.iter().map(Kid::hex).collect();
        if request.session_type == SessionType::PersistentLicense
            && !(self.policy.allow_persistent && claims.lic == Some(SessionType::PersistentLicense))
        {
            return Err(Refusal::PersistentNotAllowed);
        }
        // The file's list is in memory: checked before anything that waits.
        if self.deny_file.as_ref().is_some_and(|f| f.contains(&claims.sub)) {
            return Err(Refusal::Denied);
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
            player,
            now,
            ttl: self.policy.licence_seconds,
            limit,
        });
        // Only the licensed content's keys: the token named it (checked above), and a KID of
        // any other title is simply not found.
        let content = &self.policy.content;
        let (sealed, admission) =
            match self.store.grant(&claims.sub, content, &request.kids, stream) {
                Ok(Grant::Denied) => return Err(Refusal::Denied),
                Ok(Grant::Keys { sealed, admission }) => (sealed, admission),
                Err(e) => return Err(Refusal::StoreUnavailable(e.to_string())),
            };
        let mut keys = Vec::with_capacity(request.kids.len());
        for (kid, sealed) in request.kids.iter().zip(sealed) {
            if let Some(sealed) = sealed {
                let key = self
                    .sealer
                    .open(content, kid, &sealed)
                    .map_err(|e| Refusal::Unsealable(e.to_string()))?;
                keys.push((*kid, key));
            }
        }
        if keys.is_empty() {
            return Err(Refusal::NoKey);
        }
        match admission {
            Some(Admission::Refused { active, limit }) => {
                return Err(Refusal::StreamLimit { active, limit })
            }
            Some(Admission::InUse { .. }) => return Err(Refusal::StreamInUse),
            Some(Admission::Admitted { .. }) | None => {}
        }
        Ok(response(&keys, request.session_type))
    }

    /// Ends the stream of `claims` held by `player` (a player closing or reloading), so its
    /// slot is free at once rather than at expiry; logged as released (blocking).
    pub fn release(
        &self,
        claims: &LicenceClaims,
        player: &str,
        client: &str,
        now: u64,
    ) -> Result<(), Refusal> {
        if !is_player_id(player) {
            return Err(Refusal::NoPlayer);
        }
        let result = match self.store.release(&claims.sub, &claims.jti, player) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::NotHeld),
            Err(e) => Err(Refusal::StoreUnavailable(e.to_string())),
        };
        self.log.append(&LicenceRecord {
            time: rfc3339(now),
            subject: Some(claims.sub.clone()),
            content: Some(claims.cid.clone()),
            session: Some(claims.sid),
            decision: if result.is_ok() { Decision::Released } else { Decision::Refused },
            reason: result.as_ref().err().map_or_else(|| "released".into(), Refusal::reason),
            kids: Vec::new(),
            client: client.to_owned(),
        });
        result
    }
}

/// The KIDs asked for, followed by the rest of their groups, without repeats.
fn with_groups(groups: &[Vec<Kid>], asked: &[Kid]) -> Vec<Kid> {
    let mut kids = asked.to_vec();
    for group in groups.iter().filter(|g| g.iter().any(|k| asked.contains(k))) {
        for kid in group {
            if !kids.contains(kid) {
                kids.push(*kid);
            }
        }
    }
    kids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_tracks_periods_are_licensed_together() {
        let kid = |b: u8| Kid::from_bytes([b; 16]);
        let groups = vec![vec![kid(1), kid(2), kid(3)], vec![kid(7), kid(8)]];
        assert_eq!(with_groups(&groups, &[kid(2)]), [kid(2), kid(1), kid(3)]);
        assert_eq!(with_groups(&groups, &[kid(9)]), [kid(9)]);
        assert_eq!(with_groups(&groups, &[kid(8), kid(1)]).len(), 5);
    }

    #[test]
    fn server_side_detail_stays_in_the_log() {
        let store = Refusal::StoreUnavailable("sqlite /srv/state.db: busy".into());
        assert!(store.reason().contains("/srv/state.db"));
        let body = Answer::Refused(store).body();
        assert!(!body.contains("/srv") && body.contains("unavailable"), "{body}");
        let redis =
            Answer::Refused(Refusal::StoreUnavailable("redis redis://10.0.0.5:6379/0".into()));
        assert!(!redis.body().contains("10.0.0.5"), "{}", redis.body());
        let limit = Answer::Refused(Refusal::StreamLimit { active: 2, limit: 2 });
        assert!(limit.body().contains("2 of 2"), "{}", limit.body());
    }
}
