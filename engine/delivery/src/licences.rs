//! The licence log's record: one JSON line per licence request the licence service answered
//! (issued, refused after the token verified, or released), written by `abmark serve` and read
//! by `abmark analytics`. Tokens and keys are never written.

use serde::{Deserialize, Serialize};

use crate::ids::{ContentId, SessionId};

/// One line of the licence log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LicenceRecord {
    /// RFC 3339 UTC.
    pub time: String,
    pub subject: Option<String>,
    pub content: Option<ContentId>,
    pub session: Option<SessionId>,
    pub decision: Decision,
    /// Why (for refusals: the check that failed; for issues: `ok`).
    pub reason: String,
    /// KIDs asked for (hex).
    pub kids: Vec<String>,
    pub client: String,
}

/// What became of a licence request.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Issued,
    Refused,
    /// A player ended its stream (`POST /license/release`).
    Released,
}
