//! The session log's record: one JSON line per issued session, written by the edge
//! (`abmark serve`) and read by detection as the list of candidates to name.

use serde::{Deserialize, Serialize};

use crate::ids::{ContentId, SessionId};

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRecord {
    /// RFC 3339 UTC.
    pub time: String,
    pub session: Option<SessionId>,
    pub subject: Option<String>,
    pub content: Option<ContentId>,
    /// The peer address of the request (behind a proxy: the proxy's).
    pub client: String,
    /// How the token carried the pattern.
    pub mode: TokenMode,
    /// The WM pattern in hex and its length in bits: what this viewer's segments follow.
    pub pattern: String,
    pub pattern_bits: usize,
    pub expires_at: u64,
}

/// How a WM token carries the viewer's pattern (ETSI TS 104 002 5.4): the pattern itself,
/// encrypted (`direct`), or an id the edge turns into the pattern (`indirect`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenMode {
    Direct,
    Indirect,
}

impl TokenMode {
    pub fn name(self) -> &'static str {
        match self {
            TokenMode::Direct => "direct",
            TokenMode::Indirect => "indirect",
        }
    }
}
