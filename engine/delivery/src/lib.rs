//! abmark-delivery: what is delivered, as files and text, without moving a byte over the network.
//!
//! - [`layout`]: a variants output on disk (`job.json`, the output root's manifests).
//! - [`manifest`]: HLS and DASH text, neutral, per variant or personalised per segment.
//! - [`pace`]: WMPaceInfo (ETSI TS 104 002 5.5): the `wmpi` box, the sidecars, the table an
//!   edge reads them into.
//! - [`cbor`]: deterministic CBOR and base64url, shared by WMPaceInfo and the WM tokens.
//! - [`sessions`]: the session log's record (who was served which pattern).
//! - [`access`]: the access log's record (every viewer request the edge answered).
//! - [`licences`]: the licence log's record (every licence request answered after its token).
//! - [`deny`]: the deny-list file (subjects refused by the edge and the licence service).
//! - [`ids`]: the identifiers that cross the chain: key ids, content ids, session ids.
//!
//! May depend on: `abmark-bmff` (boxes), `abmark-wm` (the session code's segment positions),
//! serde, quick-xml, ciborium. Must not: link FFmpeg, open sockets or start a runtime: the encoder,
//! the packager, the edge and the detector all read and write these formats.

pub mod access;
pub mod cbor;
pub mod deny;
pub mod ids;
pub mod layout;
pub mod licences;
pub mod manifest;
pub mod pace;
pub mod sessions;
