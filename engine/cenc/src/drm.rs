//! DRM-system signalling of a packaged track: the PSSH boxes that go into the CMAF header and
//! the manifest signalling ([`Protection`]) for DASH and HLS, per system:
//!
//! - Widevine: `pssh` with WidevinePsshData (key IDs, content id, scheme); HLS KEYFORMAT
//!   `urn:uuid:edef8ba9-…` with the box as a data URI.
//! - PlayReady: `pssh` with a PlayReady Object (WRMHEADER 4.3, KIDs, LA_URL); DASH `mspr:pro`;
//!   HLS KEYFORMAT `com.microsoft.playready`.
//! - ClearKey: in the CMAF header a version-1 W3C common `pssh` listing the KIDs (what a
//!   browser's ClearKey CDM reads from the `encrypted` event: hls.js relies on it). In the MPD
//!   the DASH-IF form, `urn:uuid:e2719d58-…` with `dashif:Laurl` and no `cenc:pssh` (keys named
//!   by `cenc:default_KID`), and no W3C `1077efec` element: dash.js (5.x) prefers that element
//!   when present and then asks the CDM for a `keyids` request with a PSSH box, which fails;
//!   shaka reads either. In HLS `KEYFORMAT="org.w3.clearkey"` with the KID in a `data:` URI
//!   and `KEYID`, what hls.js reads (docs/players.md has the whole survey).
//! - FairPlay (`cbcs` only): no PSSH; HLS `SAMPLE-AES` with KEYFORMAT
//!   `com.apple.streamingkeydelivery` and an `skd://` URI naming the KID.

use std::str::FromStr;

use abmark_delivery::manifest::protection::base64;
use abmark_delivery::manifest::{DrmSignal, HlsKey, KeyPeriod, Protection};
use uuid::Uuid;

use crate::error::CencError;
use crate::keys::Kid;
use crate::pssh::{self, playready_object, pssh_box, widevine_pssh_data, SystemId};
use crate::scheme::Scheme;

/// A DRM system abmark signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drm {
    Widevine,
    PlayReady,
    FairPlay,
    ClearKey,
}

impl FromStr for Drm {
    type Err = CencError;

    fn from_str(s: &str) -> Result<Self, CencError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "widevine" => Ok(Drm::Widevine),
            "playready" => Ok(Drm::PlayReady),
            "fairplay" => Ok(Drm::FairPlay),
            "clearkey" => Ok(Drm::ClearKey),
            other => Err(CencError::UnknownDrm(other.into())),
        }
    }
}

impl Drm {
    /// Every system the scheme can serve: FairPlay only decrypts `cbcs`.
    pub fn all_for(scheme: Scheme) -> Vec<Drm> {
        let mut all = vec![Drm::Widevine, Drm::PlayReady, Drm::ClearKey];
        if scheme == Scheme::Cbcs {
            all.push(Drm::FairPlay);
        }
        all
    }

    /// Parses `widevine,playready,...`; refuses FairPlay with `cenc`.
    pub fn parse_list(list: &str, scheme: Scheme) -> Result<Vec<Drm>, CencError> {
        let mut out = Vec::new();
        for name in list.split(',').filter(|s| !s.trim().is_empty()) {
            let drm: Drm = name.parse()?;
            if drm == Drm::FairPlay && scheme != Scheme::Cbcs {
                return Err(CencError::Usage(
                    "FairPlay decrypts cbcs only: use --scheme cbcs".into(),
                ));
            }
            if !out.contains(&drm) {
                out.push(drm);
            }
        }
        Ok(out)
    }
}

/// What the signalling depends on besides keys.
#[derive(Debug, Clone, Default)]
pub struct DrmOptions {
    pub systems: Vec<Drm>,
    /// Licence server: PlayReady LA_URL, ClearKey `dashif:laurl`.
    pub license_url: Option<String>,
    /// Widevine content id (the content's name, as key services know it).
    pub content_id: Option<String>,
    /// PSSH boxes a key service supplied (CPIX `DRMSystemList`): (system, KID, whole box).
    /// They are used as given for that system and KID instead of one abmark would write.
    pub passthrough: Vec<(SystemId, Kid, Vec<u8>)>,
}

impl DrmOptions {
    /// The key service's PSSH boxes for `system` covering `kids`, if it gave one per KID.
    fn supplied(&self, system: &SystemId, kids: &[Kid]) -> Option<Vec<Vec<u8>>> {
        let boxes: Vec<Vec<u8>> = kids
            .iter()
            .filter_map(|k| self.passthrough.iter().find(|p| &p.0 == system && &p.1 == k))
            .map(|p| p.2.clone())
            .collect();
        (!kids.is_empty() && boxes.len() == kids.len()).then_some(boxes)
    }
}

fn system_id(drm: Drm) -> SystemId {
    match drm {
        Drm::Widevine => pssh::WIDEVINE,
        Drm::PlayReady => pssh::PLAYREADY,
        Drm::ClearKey => pssh::CLEARKEY,
        Drm::FairPlay => pssh::FAIRPLAY,
    }
}

/// The `pssh` boxes of a CMAF header for `kids` (every KID the track uses, rotation included).
pub fn pssh_boxes(scheme: Scheme, kids: &[Kid], opts: &DrmOptions) -> Vec<Vec<u8>> {
    let mut boxes = Vec::new();
    for drm in &opts.systems {
        if let Some(supplied) = opts.supplied(&system_id(*drm), kids) {
            boxes.extend(supplied);
            continue;
        }
        match drm {
            Drm::Widevine => boxes.push(pssh_box(
                &pssh::WIDEVINE,
                &[],
                &widevine_pssh_data(
                    kids,
                    opts.content_id.as_deref().map(str::as_bytes),
                    scheme.fourcc(),
                ),
            )),
            Drm::PlayReady => boxes.push(pssh_box(
                &pssh::PLAYREADY,
                &[],
                &playready_object(kids, opts.license_url.as_deref(), scheme.fourcc()),
            )),
            Drm::ClearKey => boxes.push(pssh_box(&pssh::CLEARKEY, kids, &[])),
            Drm::FairPlay => {}
        }
    }
    boxes
}

/// The manifest signalling of a track whose key periods start at the given segment indices
/// (one period, from 0, when not rotated). The first period's KID is the track's `tenc` KID
/// (DASH `cenc:default_KID`), so there must be one: an empty list is an error, not a zero KID.
pub fn protection(
    scheme: Scheme,
    periods: &[(usize, Kid)],
    opts: &DrmOptions,
) -> Result<Protection, CencError> {
    let kids: Vec<Kid> = periods.iter().map(|p| p.1).collect();
    let Some(&default_kid) = kids.first() else {
        return Err(CencError::Usage("a protected track needs at least one key period".into()));
    };
    let method = match scheme {
        Scheme::Cenc => "SAMPLE-AES-CTR",
        Scheme::Cbcs => "SAMPLE-AES",
    };
    // The HLS tags of one key (a period's, or the track's first).
    let hls_for = |drm: Drm, kid: Kid| -> Option<HlsKey> {
        let kids = &[kid][..];
        let key_id = Some(format!("0x{}", kid.hex()));
        let (keyformat, uri) = match drm {
            Drm::Widevine => (
                Uuid::from_bytes(pssh::WIDEVINE).urn().to_string(),
                format!(
                    "data:text/plain;base64,{}",
                    base64(&pssh_boxes(scheme, kids, &only(opts, drm))[0])
                ),
            ),
            Drm::PlayReady => (
                "com.microsoft.playready".to_owned(),
                format!(
                    "data:text/plain;charset=UTF-16;base64,{}",
                    base64(&playready_object(kids, opts.license_url.as_deref(), scheme.fourcc()))
                ),
            ),
            Drm::ClearKey => (
                "org.w3.clearkey".to_owned(),
                format!("data:text/plain;base64,{}", base64(kid.as_bytes())),
            ),
            Drm::FairPlay => {
                ("com.apple.streamingkeydelivery".to_owned(), format!("skd://{}", kid.hex()))
            }
        };
        Some(HlsKey {
            method: method.into(),
            uri,
            keyformat,
            keyformat_versions: "1".into(),
            key_id,
        })
    };
    let systems = opts
        .systems
        .iter()
        .map(|&drm| {
            let (system_id, name) = match drm {
                Drm::Widevine => (pssh::WIDEVINE, "Widevine"),
                Drm::PlayReady => (pssh::PLAYREADY, "MSPR 2.0"),
                Drm::ClearKey => (pssh::DASHIF_CLEARKEY, "ClearKey1.0"),
                Drm::FairPlay => (pssh::FAIRPLAY, "FairPlay"),
            };
            // The DASH-IF ClearKey element carries no PSSH (see the module doc).
            let boxes = match drm {
                Drm::ClearKey => Vec::new(),
                _ => pssh_boxes(scheme, &kids, &only(opts, drm)),
            };
            // A supplied PlayReady box carries the key service's PRO: signal that one.
            let supplied_pro = boxes
                .first()
                .filter(|_| opts.supplied(&system_id, &kids).is_some())
                .and_then(|b| pssh::parse_pssh(b).ok())
                .map(|p| p.data);
            DrmSignal {
                system_id,
                name: name.into(),
                pssh: boxes.into_iter().next(),
                playready_pro: (drm == Drm::PlayReady).then(|| {
                    supplied_pro.unwrap_or_else(|| {
                        playready_object(&kids, opts.license_url.as_deref(), scheme.fourcc())
                    })
                }),
                license_url: if drm == Drm::ClearKey { opts.license_url.clone() } else { None },
                dash: drm != Drm::FairPlay,
                hls: hls_for(drm, default_kid),
            }
        })
        .collect();
    let periods = if periods.len() > 1 {
        periods
            .iter()
            .map(|&(first_segment, kid)| KeyPeriod {
                first_segment,
                kid,
                hls: opts.systems.iter().filter_map(|&d| hls_for(d, kid)).collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Protection { scheme: scheme.to_string(), default_kid, systems, periods })
}

fn only(opts: &DrmOptions, drm: Drm) -> DrmOptions {
    DrmOptions { systems: vec![drm], ..opts.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::ContentKey;
    use crate::plan::KeyPlan;
    use abmark_bmff::cmaf::TrackKind;

    const KID: Kid = Kid::from_bytes([
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
        0xef,
    ]);

    fn opts() -> DrmOptions {
        DrmOptions { systems: vec![Drm::ClearKey, Drm::FairPlay], ..DrmOptions::default() }
    }

    #[test]
    fn signals_the_first_periods_kid_in_its_text_forms() {
        let p = protection(Scheme::Cbcs, &[(0, KID)], &opts()).unwrap();
        assert_eq!(p.default_kid, KID);
        let fairplay = p.systems[1].hls.as_ref().unwrap();
        assert_eq!(fairplay.uri, "skd://0123456789abcdef0123456789abcdef");
        assert_eq!(fairplay.key_id.as_deref(), Some("0x0123456789abcdef0123456789abcdef"));
        // job.json keeps the KID as its 16 numbers.
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["default_kid"], serde_json::json!(KID.as_bytes()));
    }

    #[test]
    fn no_key_period_is_an_error_not_a_zero_kid() {
        assert!(matches!(protection(Scheme::Cenc, &[], &opts()), Err(CencError::Usage(_))));
        // A rotated track without segments still has the period its tenc KID belongs to.
        let plan = KeyPlan::from_keys(vec![ContentKey::new(KID, [7; 16], None)], Some(2)).unwrap();
        assert_eq!(plan.periods(TrackKind::Video, 0), [(0, KID)]);
    }
}
