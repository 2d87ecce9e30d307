//! HTTPS for `serve --tls-cert FILE --tls-key FILE`: the rustls server configuration the accept
//! loop ([`super::listener`]) hands each connection to.
//!
//! - `pair`: reading and checking one certificate chain and key (RSA or ECDSA; PKCS#8,
//!   PKCS#1 or SEC1 PEM; the key file must be private to its owner).
//! - `reload`: the certificate every handshake gets, replaced when the files change.
//!
//! ALPN offers `h2` then `http/1.1`; the accept loop serves whichever the client picked. TLS 1.2
//! and 1.3 with rustls's safe defaults, on ring's provider (already in the tree under ureq).
//! No client certificates.
//!
//! May depend on: rustls, tokio-rustls, tokio (the reload poll). Must not: know about routes.

mod pair;
mod reload;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

pub use pair::MAX_PEM_BYTES;
pub use reload::RELOAD_POLL;

/// Where the certificate chain and its key live (PEM; the chain's first certificate is the
/// server's, as certbot's `fullchain.pem` has it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why a certificate or key could not be used. One line each; never key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS {what} {}: {source}", .path.display())]
    Read { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("TLS {what} {} is larger than {MAX_PEM_BYTES} bytes", .path.display())]
    TooLarge { what: &'static str, path: PathBuf },
    #[error("TLS key {} is open to other users (mode {mode:o}); run chmod 600 on it", .path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("TLS {what} {}: malformed PEM", .path.display())]
    Pem { what: &'static str, path: PathBuf },
    #[error("TLS certificate {}: no PEM certificate in it", .path.display())]
    NoCertificate { path: PathBuf },
    #[error(
        "TLS key {}: no unencrypted PEM private key in it (PKCS#8, PKCS#1 or SEC1)",
        .path.display()
    )]
    NoKey { path: PathBuf },
    #[error("TLS key {}: not an RSA, ECDSA or Ed25519 private key", .path.display())]
    UnsupportedKey { path: PathBuf },
    #[error("TLS key {} does not belong to the certificate in {}", .key.display(), .cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS certificate {}: {why}", .path.display())]
    BadCertificate { path: PathBuf, why: String },
    #[error("TLS setup: {0}")]
    Setup(rustls::Error),
}

/// A loaded certificate, the handshake configuration around it and what reloads it.
pub struct Tls {
    acceptor: TlsAcceptor,
    watcher: reload::Watcher,
}

impl Tls {
    /// Reads and checks the pair `files` names; a bad pair is an error here, before the edge
    /// serves anything.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let watcher = reload::Watcher::start(files, provider.clone())?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Setup)?
            .with_no_client_auth()
            .with_cert_resolver(watcher.resolver());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls { acceptor: TlsAcceptor::from(Arc::new(config)), watcher })
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Checks the files every [`RELOAD_POLL`] and swaps in a changed pair; runs until dropped.
    pub(crate) async fn watch(&self) {
        self.watcher.run().await;
    }
}
