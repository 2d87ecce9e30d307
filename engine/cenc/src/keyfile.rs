//! The CPIX document as a key file: reading the one a key service sent (`--cpix`), and writing
//! the keys a packaging run used (`--cpix-out`) — created with mode 0600 through a temporary
//! file and a rename, never inside the packaged output (which is meant for a CDN).

use std::path::Path;

use abmark_files::output::{write_private, OutputError};

use crate::cpix::{
    read_cpix, write_cpix, ContentKey as CpixKey, CpixDocument, DrmSystem, KeyPeriod, UsageRule,
};
use crate::drm::{pssh_boxes, DrmOptions};
use crate::error::CencError;
use crate::plan::KeyPlan;
use crate::scheme::Scheme;
use abmark_bmff::cmaf::TrackKind;

/// Reads a CPIX document from `path`; errors name the file (never a key).
pub fn load_cpix(path: &Path) -> Result<CpixDocument, CencError> {
    let text = std::fs::read_to_string(path).map_err(|e| CencError::io(path, e))?;
    read_cpix(&text).map_err(|e| CencError::input(path, format!("CPIX: {e}")))
}

/// The CPIX document describing a plan: every key (with its `cbcs` constant IV as
/// `explicitIV`), the PSSH of every DRM system per key, usage rules by track type, and the key
/// periods of a rotated plan.
pub fn plan_document(
    plan: &KeyPlan,
    scheme: Scheme,
    drm: &DrmOptions,
    content_id: Option<&str>,
) -> CpixDocument {
    let keys = plan.all_keys();
    let mut doc = CpixDocument {
        content_id: content_id.map(str::to_owned),
        keys: keys
            .iter()
            .map(|k| CpixKey {
                kid: k.kid,
                key: *k.key(),
                explicit_iv: k.iv,
                scheme: Some(scheme.to_string()),
            })
            .collect(),
        drm_systems: Vec::new(),
        periods: Vec::new(),
        usage_rules: Vec::new(),
    };
    for k in &keys {
        for (drm, pssh) in drm.systems.iter().zip(drm.systems.iter().map(|d| {
            pssh_boxes(scheme, &[k.kid], &DrmOptions { systems: vec![*d], ..drm.clone() })
        })) {
            let system_id = match drm {
                super::drm::Drm::Widevine => super::pssh::WIDEVINE,
                super::drm::Drm::PlayReady => super::pssh::PLAYREADY,
                super::drm::Drm::ClearKey => super::pssh::CLEARKEY,
                super::drm::Drm::FairPlay => super::pssh::FAIRPLAY,
            };
            doc.drm_systems.push(DrmSystem {
                kid: k.kid,
                system_id,
                pssh: pssh.into_iter().next(),
                content_protection_data: None,
                hls_signaling: Vec::new(),
                uri_ext_x_key: None,
            });
        }
    }
    let rotated = plan.rotate_every.is_some();
    if rotated {
        doc.periods = (0..plan.video.len())
            .map(|p| KeyPeriod {
                id: format!("keyperiod_{p}"),
                index: Some(p as u64),
                start: None,
                end: None,
            })
            .collect();
    }
    for (t, name) in [(TrackKind::Video, "VIDEO"), (TrackKind::Audio, "AUDIO")] {
        for (p, k) in plan.keys(t).iter().enumerate() {
            doc.usage_rules.push(UsageRule {
                kid: k.kid,
                intended_track_type: Some(name.to_owned()),
                period_ids: if rotated { vec![format!("keyperiod_{p}")] } else { Vec::new() },
            });
        }
    }
    doc
}

/// Writes `doc` to `path` with mode 0600 (a private temporary file, then a rename; see
/// `abmark_files::output::write_private`).
pub fn write_cpix_file(path: &Path, doc: &CpixDocument, force: bool) -> Result<(), CencError> {
    write_private(path, write_cpix(doc).as_bytes(), force).map_err(|e| match e {
        OutputError::Exists(_) => CencError::input(path, "exists (use --force to replace it)"),
        other => CencError::Output(other),
    })
}
