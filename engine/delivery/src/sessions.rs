//! The session log's record: one JSON line per issued session, written by the edge
//! (`abmark serve`) and read by detection as the list of candidates to name.

use serde::{Deserialize, Serialize};

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRecord {
    /// RFC 3339 UTC.
    pub time: String,
    pub session: Option<u32>,
    pub subject: Option<String>,
    pub content: Option<String>,
    /// The peer address of the request (behind a proxy: the proxy's).
    pub client: String,
    /// `direct` or `indirect` (ETSI TS 104 002 token mode).
    pub mode: String,
    /// The WM pattern in hex and its length in bits: what this viewer's segments follow.
    pub pattern: String,
    pub pattern_bits: usize,
    pub expires_at: u64,
}
