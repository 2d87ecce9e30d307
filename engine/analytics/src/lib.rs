//! abmark-analytics: piracy analytics over the delivery logs the edge writes (session, licence
//! and access logs), and a labelled traffic simulator to measure it with.
//!
//! - [`read`]: streaming JSONL with the bad-line policy (error naming file and line; a cut last
//!   line of a live log counted, not fatal; optional skipping).
//! - [`collect`]: one pass over the logs into bounded per-session and per-subject state.
//! - [`window`], [`robust`], [`network`], [`clock`]: the counters, the median/MAD statistics,
//!   address and network keys (/24, /48), and log times.
//! - [`score`]: features judged against their population into reasons, scores and a ranking.
//! - [`report`]: the ranking as a self-contained HTML page with charts, and as a deny list.
//! - [`simulate`]: honest viewers, rippers, token sharers and restreamers as the three logs plus
//!   a labels file; [`labels`] measures precision and recall of a ranking against it.
//!
//! May depend on: `abmark-delivery` (the record types and the deny-list format, one
//! implementation each), `abmark-charts` (the report's look), serde, time. Must not: open
//! sockets, link FFmpeg, or write files itself (the CLI writes what these functions return, all
//! at once).

pub mod clock;
pub mod collect;
pub mod labels;
pub mod network;
pub mod read;
pub mod report;
pub mod robust;
pub mod score;
pub mod simulate;
pub mod window;

pub use collect::Collector;
pub use score::{analyse, Analysis, Options};
