//! [`CencError`]: why packaging or decryption failed, one line each, naming the file, box or
//! argument at fault and never a key.

use std::path::{Path, PathBuf};

use abmark_bmff::BmffError;

use crate::cpix::CpixError;
use crate::keys::Kid;
use crate::pssh::PsshError;
use crate::subsample::SubsampleError;

#[derive(Debug, thiserror::Error)]
pub enum CencError {
    #[error("unsupported protection scheme '{0}' (cenc and cbcs are)")]
    UnsupportedScheme(String),

    #[error("bad --key argument: {0}")]
    BadKeyArgument(String),

    #[error("unknown DRM system '{0}' (widevine, playready, fairplay, clearkey are known)")]
    UnknownDrm(String),

    #[error("no random source: {0}")]
    Random(String),

    #[error("subsamples cover {covered} bytes but the sample has {sample}")]
    SubsampleMismatch { covered: u64, sample: u64 },

    #[error("no key for KID {}", kid.hex())]
    MissingKey { kid: Kid },

    #[error("{path}: {what}")]
    Input { path: PathBuf, what: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: {source}")]
    Media { path: PathBuf, source: BmffError },

    #[error(transparent)]
    Cmaf(#[from] BmffError),

    #[error(transparent)]
    Subsample(#[from] SubsampleError),

    #[error(transparent)]
    Pssh(#[from] PsshError),

    #[error("CPIX: {0}")]
    Cpix(#[from] CpixError),

    #[error(transparent)]
    Output(#[from] abmark_files::output::OutputError),

    /// Reading or writing job.json or a rendition's manifests beside the encrypted segments.
    #[error(transparent)]
    Layout(#[from] abmark_delivery::layout::LayoutError),

    #[error("{0}")]
    Usage(String),
}

impl CencError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CencError::Io { path: path.to_path_buf(), source }
    }

    pub fn input(path: &Path, what: impl Into<String>) -> Self {
        CencError::Input { path: path.to_path_buf(), what: what.into() }
    }

    /// Attaches the file a media error came from.
    pub fn at(self, path: &Path) -> Self {
        match self {
            CencError::Cmaf(source) => CencError::Media { path: path.to_path_buf(), source },
            CencError::Subsample(e) => CencError::input(path, e.to_string()),
            CencError::SubsampleMismatch { .. } => CencError::input(path, self.to_string()),
            other => other,
        }
    }
}
