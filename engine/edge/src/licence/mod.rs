//! `licence`: the W3C ClearKey licence service behind `POST /license` of `abmark serve`.
//!
//! Owns the decision whether a content key may leave: the licence token the site hands the
//! player (`token`: HMAC-signed JWT, short-lived, bound to content, subject and watermark
//! session), the ClearKey request and JWK-set answer (`clearkey`), the customer's authorization
//! backend (`backend`, fail closed), the policy — licence duration, session types, concurrent
//! streams per subject, deny list — over a state store shared by replicas (`store`: SQLite by
//! default, Redis for several processes), content keys sealed at rest under a master key
//! (`sealed`, AES-256-GCM), and the licence log (`log`). The HTTP route itself lives in
//! [`crate::serve`].

pub mod backend;
pub mod clearkey;
pub mod log;
pub mod sealed;
pub mod service;
pub mod store;
pub mod token;

pub use service::{
    is_player_id, Answer, LicenceError, LicencePolicy, LicenceService, Refusal, PLAYER_HEADER,
};
