//! `keyservice`: the CPIX key service (`abmark key-service serve`). Third-party encoders and
//! `abmark package --cpix-url` POST a CPIX request (SPEKE v2.0, DASH-IF CPIX 2.3) naming a
//! content id and the KIDs they chose; the service answers with the keys (made here, or the
//! ones this content already has), `explicitIV` for `cbcs`, and the PSSH and HLS signalling of
//! the DRM systems asked for. The keys are stored sealed and bound to the content id in the
//! licence service's state store, so `abmark serve --content ID` licenses them afterwards
//! without a key file ever handed around.
//!
//! - API keys are [`crate::apikey`]'s (shared with the detection service).
//! - [`service`]: the decision, from API key and request to answer or refusal.
//! - [`route`]: the HTTP route and its bounds; [`run`] serves it through the edge's accept
//!   loop ([`crate::serve::listener`]: connection cap, header timeouts).
//!
//! May depend on: `abmark-cenc` (the CPIX reader/writer, PSSH and HLS signalling),
//! [`crate::licence`] (the store and the sealing), axum/tokio. Owns no XML and no store layout.

pub mod route;
pub mod service;

pub use service::{KeyService, Refusal};

use crate::serve::listener::{serve_reloading, ConnectionLimits};
use crate::serve::Tls;

/// How long a stopping key service lets requests in flight finish.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `service` on `listener` with `limits` (HTTPS with `tls`, reloaded like the edge's:
/// the answers carry clear content keys) until ctrl-c / SIGTERM.
pub async fn run(
    service: KeyService,
    listener: tokio::net::TcpListener,
    limits: ConnectionLimits,
    tls: Option<Tls>,
) {
    let app = route::router(service);
    serve_reloading(listener, app, limits, tls, crate::serve::shutdown_signal(), DRAIN).await;
}
