//! One certificate chain and its private key, read from PEM files and checked against each
//! other: what `--tls-cert` and `--tls-key` name, at start and on every reload.
//!
//! The key file is refused when group or others may read or write it (as the watermark key
//! file is, `abmark_files::keyfile`). Both files are bounded ([`MAX_PEM_BYTES`]). Errors name
//! the file and never carry key material: a PEM parse error of the key file is reported
//! without the parser's text, which may quote the file.
//!
//! May depend on: rustls (its `pki_types` PEM reader and the crypto provider's key loader).

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::InconsistentKeys;
use zeroize::Zeroizing;

use super::{TlsError, TlsFiles};

/// Largest certificate chain or key file read. A chain of a few certificates is a few KiB.
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// Reads and checks the pair `files` names.
pub(super) fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| TlsError::UnsupportedKey { path: files.key.clone() })?;
    let pair = CertifiedKey::new(chain, signing);
    match pair.keys_match() {
        // Unknown: the key cannot tell its public half (no ring key does this); rustls's own
        // `CertifiedKey::from_der` accepts such a pair too.
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(pair),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch { cert: files.cert.clone(), key: files.key.clone() })
        }
        Err(e) => Err(TlsError::BadCertificate { path: files.cert.clone(), why: e.to_string() }),
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_bounded(path, "certificate", false)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::Pem { what: "certificate", path: path.to_owned() })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_owned() });
    }
    Ok(chain)
}

/// The first private key in the file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_bounded(path, "key", true)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey { path: path.to_owned() },
        _ => TlsError::Pem { what: "key", path: path.to_owned() },
    })
}

/// The file's bytes (wiped on drop: they may be a private key), at most [`MAX_PEM_BYTES`].
/// With `private`, a file open to group or others is refused before a byte is read.
fn read_bounded(
    path: &Path,
    what: &'static str,
    private: bool,
) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    let read_error = |source| TlsError::Read { what, path: path.to_owned(), source };
    let file = File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TlsError::Exposed { path: path.to_owned(), mode });
        }
    }
    #[cfg(not(unix))]
    let _ = private;
    let too_large = || TlsError::TooLarge { what, path: PathBuf::from(path) };
    if meta.len() > MAX_PEM_BYTES {
        return Err(too_large());
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}
