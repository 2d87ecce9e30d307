//! The licence log: one JSON line per licence request, issued or refused (time, subject,
//! content, watermark session, decision, reason, KIDs, client), next to the session log and,
//! like it, created with mode 0600 and written off the request path. Tokens and keys are never
//! written.

use serde::Serialize;

use abmark_delivery::ids::{ContentId, SessionId};
use abmark_files::jsonl::JsonlAppender;

/// One line of the licence log.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
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

pub type LicenceLog = JsonlAppender;

/// What became of a licence request.
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Issued,
    Refused,
    /// A player ended its stream (`POST /license/release`).
    Released,
}
