//! Both sides of a CPIX key exchange (SPEKE v2.0 over DASH-IF CPIX 2.3) that need DRM
//! knowledge: the request `abmark package --cpix-url` sends ([`key_request`]: KIDs it chose, per
//! track type and key period, a PSSH wanted per DRM system), the check of the answer it gets
//! ([`check_answer`]), and the answer a key service writes ([`answer`]: keys, `explicitIV`, and
//! per DRM system asked for the PSSH, `ContentProtectionData`, `URIExtXKey` and HLS signalling).
//!
//! Owns no XML (that is [`crate::cpix`]'s) and no HTTP (the edge serves, the CLI fetches).
//! SPEKE v2.0's rule shapes both sides: every element the request names must come back with a
//! value, or the exchange fails, so a system or scheme we cannot signal is refused, not skipped.

use std::str::FromStr;

use abmark_delivery::manifest::protection::base64;
use uuid::Uuid;

use crate::cpix::{
    ContentKey as CpixKey, CpixDocument, CpixRequest, DrmRequest, DrmSystem, KeyPeriod, KeyRequest,
    UsageRule,
};
use crate::drm::{protection, pssh_boxes, Drm, DrmOptions};
use crate::error::CencError;
use crate::keys::Kid;
use crate::pssh::{self, playready_object, SystemId};
use crate::scheme::Scheme;

/// The DRM system behind a CPIX `systemId`, if abmark signals it.
pub fn drm_of(system_id: &SystemId) -> Option<Drm> {
    match *system_id {
        pssh::WIDEVINE => Some(Drm::Widevine),
        pssh::PLAYREADY => Some(Drm::PlayReady),
        pssh::CLEARKEY => Some(Drm::ClearKey),
        pssh::FAIRPLAY => Some(Drm::FairPlay),
        _ => None,
    }
}

fn system_of(drm: Drm) -> SystemId {
    match drm {
        Drm::Widevine => pssh::WIDEVINE,
        Drm::PlayReady => pssh::PLAYREADY,
        Drm::ClearKey => pssh::CLEARKEY,
        Drm::FairPlay => pssh::FAIRPLAY,
    }
}

/// A fresh random KID (a version-4 UUID, as key services and encryptors issue them).
pub fn random_kid() -> Result<Kid, CencError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CencError::Random(e.to_string()))?;
    Ok(Kid::from_bytes(uuid::Builder::from_random_bytes(bytes).into_uuid().into_bytes()))
}

/// The request of a packaging run: one video and one audio KID (per key period when
/// `periods` is given: rotation), each for `scheme`; for every KID and every system of `systems`
/// that has one, a PSSH is asked for (the packager passes it through). FairPlay has no PSSH and
/// its HLS signalling is abmark's own, so nothing is asked for it.
pub fn key_request(
    content_id: &str,
    scheme: Scheme,
    systems: &[Drm],
    periods: Option<usize>,
) -> Result<CpixRequest, CencError> {
    let n = periods.unwrap_or(1).max(1);
    let mut request = CpixRequest {
        content_id: Some(content_id.to_owned()),
        version: Some("2.3".into()),
        ..CpixRequest::default()
    };
    if periods.is_some() {
        request.periods = (0..n)
            .map(|p| KeyPeriod {
                id: format!("keyPeriod_{p}"),
                index: Some(p as u64),
                start: None,
                end: None,
            })
            .collect();
    }
    for track in ["VIDEO", "AUDIO"] {
        for p in 0..n {
            let kid = random_kid()?;
            request.keys.push(KeyRequest {
                kid,
                explicit_iv: None,
                scheme: Some(scheme.to_string()),
            });
            for drm in systems.iter().filter(|d| **d != Drm::FairPlay) {
                let mut wanted = DrmRequest::new(kid, system_of(*drm));
                wanted.pssh = true;
                request.drm_systems.push(wanted);
            }
            let period_ids =
                if periods.is_some() { vec![format!("keyPeriod_{p}")] } else { Vec::new() };
            let intended_track_type = Some(track.to_owned());
            request.usage_rules.push(UsageRule { kid, intended_track_type, period_ids });
        }
    }
    Ok(request)
}

/// Checks a key service's answer against the request: same content id, a key for every KID
/// asked for (with the scheme asked for, when the answer names one), and a well-formed PSSH of
/// the right system wherever one was asked for. One line naming the first gap.
pub fn check_answer(request: &CpixRequest, answer: &CpixDocument) -> Result<(), CencError> {
    let bad = |what: String| CencError::Usage(format!("key service answer: {what}"));
    if request.content_id.is_some() && answer.content_id != request.content_id {
        return Err(bad(format!(
            "content id {:?}, asked for {:?}",
            answer.content_id.as_deref().unwrap_or(""),
            request.content_id.as_deref().unwrap_or("")
        )));
    }
    for asked in &request.keys {
        let Some(key) = answer.keys.iter().find(|k| k.kid == asked.kid) else {
            return Err(bad(format!("no key for KID {}", asked.kid)));
        };
        if let (Some(want), Some(got)) = (&asked.scheme, &key.scheme) {
            if want != got {
                return Err(bad(format!("KID {} is for scheme {got}, asked {want}", asked.kid)));
            }
        }
    }
    for asked in request.drm_systems.iter().filter(|d| d.pssh) {
        let system = Uuid::from_bytes(asked.system_id);
        let found = answer
            .drm_systems
            .iter()
            .find(|d| d.kid == asked.kid && d.system_id == asked.system_id)
            .and_then(|d| d.pssh.as_deref());
        match found.map(pssh::parse_pssh) {
            Some(Ok(p)) if p.system_id == asked.system_id => {}
            Some(_) => return Err(bad(format!("bad PSSH for KID {} of {system}", asked.kid))),
            None => return Err(bad(format!("no PSSH for KID {} of {system}", asked.kid))),
        }
    }
    Ok(())
}

/// Whether the answer to `key` carries an `explicitIV`: always for `cbcs` (its constant IV must
/// be the same in every encryptor that uses the key, so the key service fixes it), and whenever
/// the request named one (SPEKE v2.0: what the request names, the answer fills).
pub fn wants_iv(key: &KeyRequest) -> bool {
    key.explicit_iv.is_some() || key.scheme.as_deref() == Some("cbcs")
}

/// The scheme a requested key is for: `cenc` when the request names none; other schemes
/// (`cbc1`, `cens`, HLS methods) are refused.
pub fn scheme_of(key: &KeyRequest) -> Result<Scheme, CencError> {
    match key.scheme.as_deref() {
        None => Ok(Scheme::Cenc),
        Some(s) => Scheme::from_str(s),
    }
}

/// What the signalling in an answer depends on besides the keys.
#[derive(Debug, Clone, Default)]
pub struct AnswerOptions {
    /// Licence server URL (PlayReady LA_URL in the PRO).
    pub license_url: Option<String>,
}

/// The key service's answer to `request`: `keys` (one per requested KID, its `explicit_iv` set
/// where [`wants_iv`] says) in request order with the requested scheme, and for every
/// `DRMSystem` asked for the signalling it named. Periods and usage rules are echoed. Refuses a
/// system abmark does not signal, FairPlay with `cenc`, a PSSH or DASH data for FairPlay, an HLS
/// playlist other than `media` or `master`.
pub fn answer(
    request: &CpixRequest,
    keys: &[CpixKey],
    opts: &AnswerOptions,
) -> Result<CpixDocument, CencError> {
    let mut doc = CpixDocument {
        content_id: request.content_id.clone(),
        periods: request.periods.clone(),
        usage_rules: request.usage_rules.clone(),
        ..CpixDocument::default()
    };
    for asked in &request.keys {
        let key = keys
            .iter()
            .find(|k| k.kid == asked.kid)
            .ok_or(CencError::MissingKey { kid: asked.kid })?;
        let mut key = key.clone();
        key.scheme = Some(scheme_of(asked)?.to_string());
        doc.keys.push(key);
    }
    for wanted in &request.drm_systems {
        let asked = request.keys.iter().find(|k| k.kid == wanted.kid);
        let scheme = asked.map(scheme_of).transpose()?.unwrap_or(Scheme::Cenc);
        doc.drm_systems.push(signal(wanted, scheme, request.content_id.as_deref(), opts)?);
    }
    Ok(doc)
}

/// The `cpix:DRMSystem` answering `wanted`.
fn signal(
    wanted: &DrmRequest,
    scheme: Scheme,
    content_id: Option<&str>,
    opts: &AnswerOptions,
) -> Result<DrmSystem, CencError> {
    let system = Uuid::from_bytes(wanted.system_id);
    let refuse = |what: &str| CencError::Usage(format!("DRM system {system}: {what}"));
    let drm = drm_of(&wanted.system_id).ok_or_else(|| {
        refuse("not supported (Widevine, PlayReady, FairPlay and W3C ClearKey are)")
    })?;
    if drm == Drm::FairPlay && scheme != Scheme::Cbcs {
        return Err(refuse("FairPlay decrypts cbcs only"));
    }
    if drm == Drm::FairPlay && (wanted.pssh || wanted.content_protection_data) {
        return Err(refuse("FairPlay has no PSSH and no DASH signalling (ask for HLS only)"));
    }
    let kid = wanted.kid;
    let drm_opts = DrmOptions {
        systems: vec![drm],
        license_url: opts.license_url.clone(),
        content_id: content_id.map(str::to_owned),
        passthrough: Vec::new(),
    };
    let pssh_box = pssh_boxes(scheme, &[kid], &drm_opts).into_iter().next();
    let mut out = DrmSystem::new(kid, wanted.system_id);
    if wanted.pssh {
        out.pssh = pssh_box.clone();
    }
    if wanted.content_protection_data {
        let mut xml = format!(
            "<cenc:pssh xmlns:cenc=\"urn:mpeg:cenc:2013\">{}</cenc:pssh>",
            base64(pssh_box.as_deref().unwrap_or_default())
        );
        if drm == Drm::PlayReady {
            let pro = playready_object(&[kid], opts.license_url.as_deref(), scheme.fourcc());
            xml.push_str(&format!(
                "<mspr:pro xmlns:mspr=\"urn:microsoft:playready\">{}</mspr:pro>",
                base64(&pro)
            ));
        }
        out.content_protection_data = Some(xml);
    }
    let hls = protection(scheme, &[(0, kid)], &drm_opts)?
        .systems
        .into_iter()
        .next()
        .and_then(|s| s.hls)
        .ok_or_else(|| refuse("no HLS signalling"))?;
    if wanted.uri_ext_x_key {
        out.uri_ext_x_key = Some(hls.uri.clone());
    }
    for playlist in &wanted.hls_playlists {
        let tag = match playlist.as_str() {
            "media" => "#EXT-X-KEY",
            "master" => "#EXT-X-SESSION-KEY",
            other => {
                return Err(refuse(&format!(
                    "HLSSignalingData playlist {other:?} (media and master are known)"
                )))
            }
        };
        out.hls_signaling.push((playlist.clone(), format!("{tag}:{}", hls.attributes())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpix::{read_cpix, read_cpix_request, write_cpix, write_cpix_request};
    use crate::plan::KeyPlan;

    fn keys_for(request: &CpixRequest) -> Vec<CpixKey> {
        request
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| CpixKey {
                kid: k.kid,
                key: [i as u8 + 1; 16],
                explicit_iv: wants_iv(k).then_some([7; 16]),
                scheme: None,
            })
            .collect()
    }

    #[test]
    fn a_request_answered_and_checked_becomes_a_key_plan() {
        let all = Drm::all_for(Scheme::Cbcs);
        let request = key_request("film-1", Scheme::Cbcs, &all, Some(3)).unwrap();
        assert_eq!(request.keys.len(), 6);
        assert_eq!(request.drm_systems.len(), 6 * 3, "no FairPlay PSSH asked");
        // Over the wire and back.
        let request = read_cpix_request(&write_cpix_request(&request)).unwrap();
        let doc = answer(&request, &keys_for(&request), &AnswerOptions::default()).unwrap();
        let doc = read_cpix(&write_cpix(&doc)).unwrap();
        check_answer(&request, &doc).unwrap();
        assert!(doc.keys.iter().all(|k| k.explicit_iv == Some([7; 16])));
        let plan = KeyPlan::from_cpix(&doc, Some(2), 2.0).unwrap();
        assert_eq!((plan.video.len(), plan.audio.len()), (3, 3));
        assert_eq!(plan.video[0].kid, request.keys[0].kid);
        assert_eq!(plan.audio[2].kid, request.keys[5].kid);
        assert_eq!(plan.supplied_pssh.len(), 18);
        // Without rotation: one video key, one audio key.
        let request = key_request("film-1", Scheme::Cenc, &[Drm::ClearKey], None).unwrap();
        let doc = answer(&request, &keys_for(&request), &AnswerOptions::default()).unwrap();
        assert!(doc.keys.iter().all(|k| k.explicit_iv.is_none()), "cenc: no IV unless asked");
        let plan = KeyPlan::from_cpix(&doc, None, 2.0).unwrap();
        assert_eq!(
            (plan.video[0].kid, plan.audio[0].kid),
            (request.keys[0].kid, request.keys[1].kid)
        );
    }

    #[test]
    fn every_element_asked_for_is_filled_or_the_answer_refused() {
        let kid = Kid::from_bytes([1; 16]);
        let key = KeyRequest { kid, explicit_iv: None, scheme: Some("cbcs".into()) };
        let mut all = |system| {
            let mut d = DrmRequest::new(kid, system);
            d.pssh = system != pssh::FAIRPLAY;
            d.content_protection_data = system != pssh::FAIRPLAY;
            d.uri_ext_x_key = true;
            d.hls_playlists = vec!["media".into(), "master".into()];
            d
        };
        let request = CpixRequest {
            content_id: Some("c".into()),
            keys: vec![key.clone()],
            drm_systems: [pssh::WIDEVINE, pssh::PLAYREADY, pssh::CLEARKEY, pssh::FAIRPLAY]
                .map(&mut all)
                .to_vec(),
            ..CpixRequest::default()
        };
        let keys = [CpixKey { kid, key: [9; 16], explicit_iv: Some([3; 16]), scheme: None }];
        let doc = answer(&request, &keys, &AnswerOptions::default()).unwrap();
        let [wv, pr, ck, fp] = &doc.drm_systems[..] else { panic!() };
        for d in [wv, pr, ck] {
            assert_eq!(
                pssh::parse_pssh(d.pssh.as_deref().unwrap()).unwrap().system_id,
                d.system_id
            );
            assert!(d.content_protection_data.as_deref().unwrap().starts_with("<cenc:pssh"));
        }
        assert!(pr.content_protection_data.as_deref().unwrap().contains("<mspr:pro"));
        assert_eq!(fp.uri_ext_x_key.as_deref(), Some("skd://01010101010101010101010101010101"));
        assert!(fp.hls_signaling[0].1.starts_with("#EXT-X-KEY:METHOD=SAMPLE-AES,"));
        assert!(fp.hls_signaling[1].1.starts_with("#EXT-X-SESSION-KEY:"));
        assert_eq!(doc.keys[0].scheme.as_deref(), Some("cbcs"));
        // What cannot be filled is refused.
        let refused = |r: CpixRequest| answer(&r, &keys, &AnswerOptions::default()).unwrap_err();
        let mut fairplay_pssh = request.clone();
        fairplay_pssh.drm_systems = vec![DrmRequest { pssh: true, ..all(pssh::FAIRPLAY) }];
        assert!(refused(fairplay_pssh).to_string().contains("no PSSH"));
        let mut unknown = request.clone();
        unknown.drm_systems = vec![DrmRequest::new(kid, [5; 16])];
        assert!(refused(unknown).to_string().contains("not supported"));
        let mut cens = request.clone();
        cens.keys[0].scheme = Some("cens".into());
        assert!(refused(cens).to_string().contains("cens"));
        let mut playlist = request.clone();
        playlist.drm_systems =
            vec![DrmRequest { hls_playlists: vec!["x".into()], ..all(pssh::WIDEVINE) }];
        assert!(refused(playlist).to_string().contains("\"x\""));
        // A checked answer missing a key or a PSSH is refused, in one line.
        let mut short = doc.clone();
        short.keys.clear();
        let e = check_answer(&request, &short).unwrap_err().to_string();
        assert!(e.contains("no key for KID") && !e.contains('\n'), "{e}");
        let mut no_pssh = doc.clone();
        no_pssh.drm_systems[0].pssh = None;
        assert!(check_answer(&request, &no_pssh).unwrap_err().to_string().contains("no PSSH"));
        let mut other = doc;
        other.content_id = Some("d".into());
        assert!(check_answer(&request, &other).is_err());
    }
}
