//! The accept loop: HTTP/1.1 connections from a TCP listener into the edge's router, with the
//! limits a public server needs and `axum::serve` does not set.
//!
//! - **Header-read timeout** ([`ConnectionLimits::header_timeout`]): a connection must deliver
//!   a complete request head within it, counted from when the server starts waiting for one —
//!   on a new connection and again after every response (so it is also the keep-alive idle
//!   timeout). A client that sends headers a byte a second, or opens a socket and says nothing,
//!   is closed when it runs out (hyper's `header_read_timeout`, which needs the Tokio timer that
//!   `axum::serve` does not install).
//! - **Connection cap** ([`ConnectionLimits::max_connections`]): at most this many connections
//!   are open at once; further ones wait in the kernel's accept backlog until one closes. Keep
//!   it below the process's descriptor limit (`LimitNOFILE`, see docs/security.md), which also
//!   covers the state store, the logs and the files being sent.
//! - **Header size** ([`MAX_HEADER_BYTES`]): larger request heads get 431.
//!
//! Request bodies have their own bounds where a route reads one (the licence route). Accept
//! errors (out of descriptors) pause the loop briefly instead of stopping the server.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Largest request head (request line and headers) accepted. Tokens travel in the query or an
/// `Authorization` header and are bounded far below this (see `crate::jwt::MAX_TOKEN_BYTES`).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

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

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their current request (up to `drain`) and returns.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES.max(8192))
        .max_header_size(MAX_HEADER_BYTES);
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
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection error (reset, timeout, malformed request) concerns that client only.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
}
