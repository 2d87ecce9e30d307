//! What a copy is compared with, found from what the user names: a variants output (its
//! `job.json` names the unmarked source; its fingerprints and WMPaceInfo positions come along)
//! or the unmarked source itself. When the source a variants output names is gone, the
//! reference is rebuilt from the variants themselves ([`ReferenceVideo::Variants`]).

use std::path::Path;

use abmark_delivery::layout::JobFile;
use abmark_delivery::pace::PaceTable;
use abmark_media::host::HostReference;
use abmark_wm::register::temporal::Timeline;

use crate::video::ReferenceVideo;
use crate::{load_fingerprints, DetectError, Positions};

/// The reference side of a detection.
pub struct ReferenceInput {
    /// The unmarked pictures: the source video, or the host rebuilt from the variants.
    pub source: ReferenceVideo,
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
            let source = ReferenceVideo::Source(source.unwrap_or(reference).to_path_buf());
            return Ok(Self { source, index: None, positions: Positions(Vec::new()) });
        }
        let job = JobFile::load(reference)?;
        let pace = PaceTable::load(reference, &job)?;
        let source = match source {
            Some(s) => ReferenceVideo::Source(s.to_path_buf()),
            None => {
                let named = Path::new(&job.source);
                let tries = [named.to_path_buf(), reference.join("..").join(named)];
                match tries.iter().find(|p| p.is_file()) {
                    Some(p) => ReferenceVideo::Source(p.clone()),
                    // The mezzanine is gone (or elsewhere): the variants are the reference.
                    None => ReferenceVideo::Variants(HostReference::open(reference, None)?),
                }
            }
        };
        let index = load_fingerprints(reference)?;
        Ok(Self { source, index, positions: Positions(pace.positions().to_vec()) })
    }

    /// From the variants output `out` alone, whether or not its source still exists: the host
    /// rebuilt from rendition `rendition` (default: the smallest on the top rendition's block
    /// grid, [`HostReference::open`]).
    pub fn from_variants(out: &Path, rendition: Option<&str>) -> Result<Self, DetectError> {
        let job = JobFile::load(out)?;
        let pace = PaceTable::load(out, &job)?;
        let source = ReferenceVideo::Variants(HostReference::open(out, rendition)?);
        let index = load_fingerprints(out)?;
        Ok(Self { source, index, positions: Positions(pace.positions().to_vec()) })
    }
}
