//! What a copy is compared with, found from what the user names: a variants output (its
//! `job.json` names the unmarked source; its fingerprints and WMPaceInfo positions come along)
//! or the unmarked source itself.

use std::path::{Path, PathBuf};

use abmark_delivery::layout::JobFile;
use abmark_delivery::pace::PaceTable;
use abmark_wm::register::temporal::Timeline;

use crate::{load_fingerprints, DetectError, Positions};

/// The reference side of a detection.
pub struct ReferenceInput {
    /// The unmarked source video.
    pub source: PathBuf,
    /// Its frame fingerprints and frame rate, when the variants output published them.
    pub index: Option<(Timeline, f64)>,
    /// Where each segment's bit sits (empty: the session code's own layout).
    pub positions: Positions,
}

impl ReferenceInput {
    /// From `reference` (a variants output directory or a video file); `source` overrides the
    /// source that a variants output's `job.json` names.
    pub fn open(reference: &Path, source: Option<&Path>) -> Result<Self, DetectError> {
        if !reference.is_dir() {
            let source = source.unwrap_or(reference).to_path_buf();
            return Ok(Self { source, index: None, positions: Positions(Vec::new()) });
        }
        let job = JobFile::load(reference)?;
        let pace = PaceTable::load(reference, &job)?;
        let source = match source {
            Some(s) => s.to_path_buf(),
            None => {
                let named = Path::new(&job.source);
                let tries = [named.to_path_buf(), reference.join("..").join(named)];
                match tries.iter().find(|p| p.is_file()) {
                    Some(p) => p.clone(),
                    None => {
                        return Err(DetectError::Io {
                            path: reference.to_path_buf(),
                            source: std::io::Error::new(
                                std::io::ErrorKind::NotFound,
                                format!(
                                    "the source named in job.json ({}) is not found; pass --source FILE",
                                    job.source
                                ),
                            ),
                        })
                    }
                }
            }
        };
        let index = load_fingerprints(reference)?;
        Ok(Self { source, index, positions: Positions(pace.positions().to_vec()) })
    }
}
