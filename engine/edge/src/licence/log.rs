//! The licence log: one JSON line per licence request, issued or refused (time, subject,
//! content, watermark session, decision, reason, KIDs, client), next to the session log and,
//! like it, created with mode 0600 and written off the request path. Tokens and keys are never
//! written.

pub use abmark_delivery::licences::{Decision, LicenceRecord};
use abmark_files::jsonl::JsonlAppender;

pub type LicenceLog = JsonlAppender;
