//! The WMPaceInfo position of every video segment, as the origin published it.
//!
//! `abmark variants` publishes a sidecar per segment at
//! `OUT/<variant>/<rendition>/WMPaceInfo/seg-<n>.m4s` (and the same data in each segment's `wmpi`
//! box). The edge reads them once at start. Positions must agree across renditions and variants
//! — a player switching rendition mid-stream must keep reading the same pattern bit — and a
//! disagreement is refused at start rather than served. An output made before WMPaceInfo was
//! published has no sidecars: personalised manifests then fall back to the session code's
//! layout (segment `i` at position `i mod 64`) and edge mode is unavailable.

use std::path::Path;

use abmark_wm::payload::position_of_segment;

use super::{parse_sidecar, Sidecar};
use crate::layout::{JobFile, LayoutError};
use crate::manifest::PathScheme;

/// Positions per video segment index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaceTable {
    positions: Vec<Option<u16>>,
    published: bool,
}

impl PaceTable {
    pub fn load(out: &Path, job: &JobFile) -> Result<Self, LayoutError> {
        let scheme = PathScheme::variant_dirs();
        let mut table: Option<Vec<Option<u16>>> = None;
        let mut missing = 0usize;
        for r in &job.renditions {
            for variant in 0..2u8 {
                let mut positions = Vec::with_capacity(job.segment_count);
                for i in 0..job.segment_count {
                    let segment = out.join(scheme.video_segment(variant, &r.id, i));
                    let sidecar = sidecar_path(&segment);
                    let bytes = match std::fs::read(&sidecar) {
                        Ok(b) => b,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            missing += 1;
                            continue;
                        }
                        Err(source) => return Err(LayoutError::Io { path: sidecar, source }),
                    };
                    let bad = |why: String| {
                        LayoutError::Pace(format!(
                            "{}: WMPaceInfo sidecar: {why}",
                            sidecar.display()
                        ))
                    };
                    match parse_sidecar(&bytes).map_err(|e| bad(e.to_string()))? {
                        Sidecar::Discrete(entries) if entries.len() == 1 => {
                            positions.push(entries[0].position)
                        }
                        _ => return Err(bad("expected one discrete segment entry".into())),
                    }
                }
                if positions.is_empty() {
                    continue;
                }
                if positions.len() != job.segment_count {
                    return Err(LayoutError::Pace(format!(
                        "{variant}/{}: WMPaceInfo published for only {} of {} segments",
                        r.id,
                        positions.len(),
                        job.segment_count
                    )));
                }
                match &table {
                    None => table = Some(positions),
                    Some(t) if *t == positions => {}
                    Some(_) => {
                        return Err(LayoutError::Pace(format!(
                            "{variant}/{}: WMPaceInfo positions differ from other renditions",
                            r.id
                        )))
                    }
                }
            }
        }
        match table {
            Some(positions) if missing == 0 => Ok(PaceTable { positions, published: true }),
            Some(_) => Err(LayoutError::Pace(format!(
                "WMPaceInfo sidecars are missing for {missing} segment files"
            ))),
            None => Ok(PaceTable::session_code_layout(job.segment_count)),
        }
    }

    /// The layout our session code assumes, for outputs without published WMPaceInfo.
    pub fn session_code_layout(segments: usize) -> Self {
        let positions =
            (0..segments).map(|i| u16::try_from(position_of_segment(i as u64)).ok()).collect();
        PaceTable { positions, published: false }
    }

    pub fn positions(&self) -> &[Option<u16>] {
        &self.positions
    }

    /// Whether the origin published WMPaceInfo (edge mode needs it).
    pub fn published(&self) -> bool {
        self.published
    }

    /// Position of 0-based segment `index`, if it exists.
    pub fn position(&self, index: usize) -> Option<Option<u16>> {
        self.positions.get(index).copied()
    }
}

/// `dir/seg-1.m4s` -> `dir/WMPaceInfo/seg-1.m4s`: the sidecar beside a segment file.
pub fn sidecar_path(segment: &Path) -> std::path::PathBuf {
    let name = segment.file_name().unwrap_or_default();
    segment.parent().unwrap_or(Path::new("")).join("WMPaceInfo").join(name)
}
