//! The accept loop: connections from a TCP listener into the edge's router, HTTP/1.1 in the
//! clear or, with [`Tls`], HTTP/1.1 and HTTP/2 over TLS, with the limits a public server needs
//! and `axum::serve` does not set.
//!
//! - **Header-read timeout** ([`ConnectionLimits::header_timeout`]): a connection must deliver
//!   a complete request head within it, counted from when the server starts waiting for one —
//!   on a new connection and again after every response (so it is also the keep-alive idle
//!   timeout). A client that sends headers a byte a second, or opens a socket and says nothing,
//!   is closed when it runs out (hyper's `header_read_timeout`, which needs the Tokio timer that
//!   `axum::serve` does not install). The TLS handshake has the same time to complete, and an
//!   HTTP/2 connection is closed once it has moved no byte and handled no request for as long
//!   (`super::idle`).
//! - **Connection cap** ([`ConnectionLimits::max_connections`]): at most this many connections
//!   are open at once (handshakes included); further ones wait in the kernel's accept backlog
//!   until one closes. Keep it below the process's descriptor limit (`LimitNOFILE`, see
//!   docs/security.md), which also covers the state store, the logs and the files being sent.
//! - **Header size** ([`MAX_HEADER_BYTES`]): larger HTTP/1.1 request heads get 431; HTTP/2
//!   header lists are held to the same size.
//! - **HTTP/2 streams** ([`MAX_H2_STREAMS`]): requests at once on one HTTP/2 connection.
//!
//! The protocol over TLS is the one ALPN settled (`h2`, else HTTP/1.1), so nothing is sniffed.
//! Request bodies have their own bounds where a route reads one (the licence route). Accept
//! errors (out of descriptors) pause the loop briefly instead of stopping the server.
//!
//! May depend on: [`super::tls`], `super::idle`, hyper, hyper-util, tokio, axum's router.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::idle::{self, Activity, Tracked};
use super::tls::Tls;

/// Largest request head (request line and headers) accepted. Tokens travel in the query or an
/// `Authorization` header and are bounded far below this (see `crate::jwt::MAX_TOKEN_BYTES`).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Requests at once on one HTTP/2 connection. A segment answer is held in memory while it is
/// sent, so this multiplies what one connection may hold; a player asks for a few files at
/// once (video, audio, a manifest, a licence), not dozens.
pub const MAX_H2_STREAMS: u32 = 16;

/// How long an accept error (e.g. out of descriptors) pauses the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The per-connection limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to deliver a complete request head, and the keep-alive idle timeout.
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { header_timeout: Duration::from_secs(10), max_connections: 512 }
    }
}

/// The two protocol engines, configured once and cloned per connection.
#[derive(Clone)]
struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    header_timeout: Duration,
}

impl Protocols {
    fn new(limits: ConnectionLimits) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(MAX_HEADER_BYTES.max(8192))
            .max_header_size(MAX_HEADER_BYTES);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_H2_STREAMS)
            .max_header_list_size(MAX_HEADER_BYTES as u32);
        Protocols { http1, http2, header_timeout: limits.header_timeout }
    }
}

/// [`serve_connections`], with `tls`'s certificate reload polling beside it for as long as the
/// server runs (the poll never ends on its own: it stops with the server).
pub async fn serve_reloading(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let serving = serve_connections(listener, app, limits, tls.as_ref(), shutdown, drain);
    match &tls {
        Some(tls) => {
            tokio::select! {
                () = serving => {}
                () = tls.watch() => {}
            }
        }
        None => serving.await,
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their current request (up to `drain`) and returns. With `tls`, every connection is HTTPS.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<&Tls>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let protocols = Protocols::new(limits);
    let acceptor = tls.map(Tls::acceptor);
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the cap, new connections wait in the backlog, not in our memory.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        match &acceptor {
            None => {
                let service = service(app, peer, None);
                let connection = protocols.http1.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A connection error (reset, timeout, malformed request) concerns that
                    // client only.
                    let _ = connection.await;
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let tls = (acceptor.clone(), protocols.clone(), graceful.watcher());
                tokio::spawn(serve_tls(stream, peer, app, tls, permit));
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
}

/// One HTTPS connection: the handshake (within the header timeout, off the accept loop), then
/// the protocol ALPN chose.
async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    (acceptor, protocols, watcher): (TlsAcceptor, Protocols, Watcher),
    permit: OwnedSemaphorePermit,
) {
    let timeout = protocols.header_timeout;
    // A failed or slow handshake concerns that client only.
    let Ok(Ok(stream)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await else {
        return;
    };
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        let activity = Activity::new();
        let io = TokioIo::new(Tracked::new(stream, activity.clone()));
        let service = service(app, peer, Some(activity.clone()));
        let connection = watcher.watch(protocols.http2.serve_connection(io, service));
        tokio::select! {
            _ = connection => {}
            () = idle::idle(&activity, timeout) => {}
        }
    } else {
        let service = service(app, peer, None);
        let _ =
            watcher.watch(protocols.http1.serve_connection(TokioIo::new(stream), service)).await;
    }
    drop(permit);
}

/// The router for one connection from `peer`; with `activity`, each request counts as work in
/// progress until its handler has answered.
fn service(
    app: Router,
    peer: SocketAddr,
    activity: Option<Arc<Activity>>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
       + Send
       + 'static {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        let busy = activity.as_ref().map(|a| a.request());
        async move {
            let response = app.oneshot(request).await;
            drop(busy);
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    })
}
