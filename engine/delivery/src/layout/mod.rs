//! The variants output on disk, as every later stage reads it: `OUT/job.json` ([`JobFile`]),
//! the manifests of the output root ([`manifests`]), and where the reference's fingerprints
//! live. `abmark variants` writes it; `package`, `serve`, `mix` and `detect` read it.

mod job;
pub mod manifests;

use std::path::{Path, PathBuf};

pub use job::{
    is_safe_name, EncodeEntry, JobFile, JobProtection, OutputEntry, OutputMeta, RenditionEntry,
    SegmentInfo,
};

/// The reference's frame fingerprints (`abmark_wm::register::temporal`), written with the
/// variants so that detection need not decode the whole source to place an excerpt.
pub const FINGERPRINTS_FILE: &str = "fingerprints.bin";

/// Why a variants output could not be read or its manifests written. One line each.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a usable variants output: {reason}", path.display())]
    BadOutput { path: PathBuf, reason: String },
    #[error("no rendition '{id}' (available: {available})")]
    UnknownRendition { id: String, available: String },
    #[error("WMPaceInfo: {0}")]
    Pace(String),
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
}

impl LayoutError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_owned(), source }
    }
}
