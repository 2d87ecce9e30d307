//! `--tls-cert` / `--tls-key`, the one way every network service of the CLI (`serve`,
//! `key-service serve`, `investigate serve`) takes its certificate.

use std::path::PathBuf;

use abmark_edge::serve::{Tls, TlsFiles};

/// HTTPS for a service: both flags or neither.
#[derive(clap::Args)]
pub struct CertArgs {
    /// Serve HTTPS (HTTP/1.1 and HTTP/2) with this certificate chain (PEM, the server's
    /// certificate first, e.g. certbot's fullchain.pem). Both files are re-read when they
    /// change (renewals need no restart). Without it the service speaks plain HTTP, for use
    /// behind a TLS-terminating proxy.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1; RSA or ECDSA); readable by
    /// its owner only (chmod 600).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
}

impl CertArgs {
    /// The checked certificate and key, or `None` for plain HTTP.
    pub fn load(&self) -> anyhow::Result<Option<Tls>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                Ok(Some(Tls::load(TlsFiles { cert: cert.clone(), key: key.clone() })?))
            }
            _ => Ok(None), // clap requires both or neither
        }
    }
}
