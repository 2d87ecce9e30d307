//! abmark-edge: the HTTP edge a CDN or origin runs in front of a variants output.
//!
//! - `jwt` (crate-private): HS256 JWTs, the one implementation behind the WM token's JWT form
//!   and the licence token.
//! - [`token`]: the ETSI TS 104 002 WM token (CWT or JWT): minted by the origin, verified here.
//! - `secret` (crate-private): the 32-byte derived key shape (redacted, wiped on drop).
//! - [`serve`]: personalised manifests with keyed variant names, the standard's edge mode, the
//!   media files, the session log, the accept loop and its limits, HTTPS (rustls) with
//!   certificate reload, the client address behind trusted proxies, the player page, metrics
//!   (axum/hyper/tokio).
//! - [`origin`]: domain restriction (`--allow-origin`, a token's sites) and the CORS layer.
//! - [`licence`]: the ClearKey licence service behind licence tokens, the customer's
//!   authorization backend, a deny list and a stream limit (SQLite or Redis).
//! - [`apikey`]: API keys (made once, stored as SHA-256, checked in constant time), shared by
//!   the key service and the detection service (`abmark-investigate`).
//! - [`deny_file`]: the deny-list file (`serve --deny-list`), re-read when it changes; the edge
//!   and the licence service both refuse its subjects.
//! - [`keyservice`]: the CPIX key service (SPEKE v2.0) that makes keys for encoders and stores
//!   them, sealed and bound to their content, where the licence service finds them.
//!
//! May depend on: the format crates (`abmark-delivery`, `abmark-bmff`), the core
//! (`abmark-wm`: session codes, key derivation), `abmark-files`, `abmark-cenc` (CPIX, PSSH: the
//! key service's answers), axum/hyper/tokio, rustls, the stores.
//! Must not: link FFmpeg (`cargo tree -p abmark-edge` shows no `ffmpeg-sys-next`; a CDN-side
//! process carries no codec stack), decode or encode media.

pub mod apikey;
pub mod deny_file;
mod jwt;
pub mod keyservice;
pub mod licence;
pub mod origin;
mod secret;
pub mod serve;
pub mod token;
