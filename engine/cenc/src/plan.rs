//! Which key encrypts which segment: the key plan of one packaging run, from `--key`
//! arguments, a CPIX document or freshly generated keys, with optional rotation every N
//! segments. The plan also fixes each KID's `cbcs` constant IV (the key service's explicit IV,
//! else a random one), so every rendition and both A/B variants agree on it.

use crate::cpix::{ContentKey as CpixKey, CpixDocument, KeyPeriod};
use crate::error::CencError;
use crate::keys::{ContentKey, Kid};

use abmark_bmff::cmaf::TrackKind;

/// Keys by track type and key period.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    /// Video keys, one per key period (one without rotation).
    pub video: Vec<ContentKey>,
    /// Audio keys, likewise.
    pub audio: Vec<ContentKey>,
    /// Segments per key period; `None` = one key for the whole track.
    pub rotate_every: Option<usize>,
    /// PSSH boxes the key service supplied (CPIX `DRMSystemList`), passed through as given.
    pub supplied_pssh: Vec<(super::pssh::SystemId, Kid, Vec<u8>)>,
}

impl KeyPlan {
    /// From `--key` arguments. Without rotation: one key for every track, or two (video, then
    /// audio). With rotation every N segments: key p serves period p of every track.
    pub fn from_keys(
        keys: Vec<ContentKey>,
        rotate_every: Option<usize>,
    ) -> Result<Self, CencError> {
        check_unique(&keys)?;
        let plan = match (rotate_every, keys.len()) {
            (_, 0) => return Err(CencError::Usage("no key given".into())),
            (None, 1) => KeyPlan {
                video: keys.clone(),
                audio: keys,
                rotate_every,
                supplied_pssh: Vec::new(),
            },
            (None, 2) => KeyPlan {
                video: vec![keys[0].clone()],
                audio: vec![keys[1].clone()],
                rotate_every,
                supplied_pssh: Vec::new(),
            },
            (None, n) => {
                return Err(CencError::Usage(format!(
                "{n} keys given: give one (all tracks), two (video, audio), or use --rotate-every"
            )))
            }
            (Some(_), _) => KeyPlan {
                video: keys.clone(),
                audio: keys,
                rotate_every,
                supplied_pssh: Vec::new(),
            },
        };
        Ok(plan.with_constant_ivs())
    }

    /// Fresh random keys: one, or `periods` with rotation.
    pub fn generate(rotate_every: Option<usize>, periods: usize) -> Result<Self, CencError> {
        let n = if rotate_every.is_some() { periods.max(1) } else { 1 };
        let keys = (0..n).map(|_| ContentKey::generate()).collect::<Result<Vec<_>, _>>()?;
        Self::from_keys(keys, rotate_every)
    }

    /// From a CPIX document: usage rules pick video and audio keys (a key without rules serves
    /// both); key periods (ContentKeyPeriodList, ordered by index or start) become rotation
    /// periods of `rotate_every` segments, or of the period's start time when it has one
    /// (`segment_seconds` converts).
    pub fn from_cpix(
        doc: &CpixDocument,
        rotate_every: Option<usize>,
        segment_seconds: f64,
    ) -> Result<Self, CencError> {
        let key = |k: &CpixKey| ContentKey::new(k.kid, *k.key(), k.explicit_iv);
        if doc.keys.is_empty() {
            return Err(CencError::Usage("the CPIX document holds no content key".into()));
        }
        let for_type = |t: TrackKind| -> Vec<&CpixKey> {
            let wanted = match t {
                TrackKind::Video => "VIDEO",
                TrackKind::Audio => "AUDIO",
            };
            let ruled: Vec<&CpixKey> = doc
                .keys
                .iter()
                .filter(|k| {
                    doc.usage_rules.iter().any(|r| {
                        r.kid == k.kid
                            && r.intended_track_type.as_deref().is_none_or(|x| {
                                x.eq_ignore_ascii_case(wanted) || x.eq_ignore_ascii_case("ALL")
                            })
                    })
                })
                .collect();
            if ruled.is_empty() {
                doc.keys.iter().collect()
            } else {
                ruled
            }
        };
        if doc.periods.is_empty() {
            let (v, a) = (for_type(TrackKind::Video), for_type(TrackKind::Audio));
            let plan = KeyPlan {
                video: vec![key(v[0])],
                audio: vec![key(a[0])],
                rotate_every,
                supplied_pssh: supplied(doc),
            };
            return Ok(plan.with_constant_ivs());
        }
        // Rotation driven by the document's periods, in order.
        let mut periods: Vec<&KeyPeriod> = doc.periods.iter().collect();
        periods.sort_by(|a, b| {
            a.index.cmp(&b.index).then(start_seconds(a).total_cmp(&start_seconds(b)))
        });
        let every = match rotate_every {
            Some(n) => n,
            None => {
                let second = periods.get(1).map(|p| start_seconds(p)).unwrap_or(0.0);
                let n = (second / segment_seconds.max(1e-9)).round() as usize;
                if n == 0 {
                    return Err(CencError::Usage(
                        "the CPIX key periods have no start times: give --rotate-every N".into(),
                    ));
                }
                n
            }
        };
        let pick = |t: TrackKind| -> Result<Vec<ContentKey>, CencError> {
            let candidates = for_type(t);
            periods
                .iter()
                .map(|p| {
                    candidates
                        .iter()
                        .find(|k| {
                            doc.usage_rules
                                .iter()
                                .any(|r| r.kid == k.kid && r.period_ids.contains(&p.id))
                        })
                        .map(|k| key(k))
                        .ok_or_else(|| {
                            CencError::Usage(format!(
                                "CPIX key period '{}' has no key for {t:?}",
                                p.id
                            ))
                        })
                })
                .collect()
        };
        let plan = KeyPlan {
            video: pick(TrackKind::Video)?,
            audio: pick(TrackKind::Audio)?,
            rotate_every: Some(every),
            supplied_pssh: supplied(doc),
        };
        Ok(plan.with_constant_ivs())
    }

    /// Every `cbcs` constant IV decided once per KID: the key's own IV, else random.
    fn with_constant_ivs(mut self) -> Self {
        let mut decided: Vec<(Kid, [u8; 16])> = Vec::new();
        for k in self.video.iter_mut().chain(self.audio.iter_mut()) {
            if let Some(iv) = k.iv {
                decided.push((k.kid, iv));
                continue;
            }
            let iv = match decided.iter().find(|d| d.0 == k.kid) {
                Some(d) => d.1,
                None => {
                    let mut iv = [0u8; 16];
                    // A failed random source leaves the zero IV, which cbcs permits; it is
                    // only the tenc default and not a secret.
                    let _ = getrandom::fill(&mut iv);
                    decided.push((k.kid, iv));
                    iv
                }
            };
            k.iv = Some(iv);
        }
        self
    }

    /// The keys of a track type.
    pub fn keys(&self, t: TrackKind) -> &[ContentKey] {
        match t {
            TrackKind::Video => &self.video,
            TrackKind::Audio => &self.audio,
        }
    }

    /// The key period of 0-based segment `index`, and its key.
    pub fn key_at(&self, t: TrackKind, index: usize) -> (usize, &ContentKey) {
        let keys = self.keys(t);
        let period = match self.rotate_every {
            Some(n) if n > 0 => (index / n).min(keys.len().saturating_sub(1)),
            _ => 0,
        };
        (period, &keys[period.min(keys.len().saturating_sub(1))])
    }

    /// Number of key periods a track of `segments` segments needs.
    pub fn periods_needed(rotate_every: Option<usize>, segments: usize) -> usize {
        match rotate_every {
            Some(n) if n > 0 => segments.div_ceil(n),
            _ => 1,
        }
    }

    /// (first segment, KID) of each period a track of `segments` segments uses. Never empty:
    /// a track without segments still has the period from 0, whose KID its `tenc` carries.
    pub fn periods(&self, t: TrackKind, segments: usize) -> Vec<(usize, Kid)> {
        let n = Self::periods_needed(self.rotate_every, segments).max(1);
        (0..n)
            .map(|p| {
                (
                    p * self.rotate_every.unwrap_or(0),
                    self.key_at(t, p * self.rotate_every.unwrap_or(0)).1.kid,
                )
            })
            .collect()
    }

    /// Every key of the plan, each once (for the CPIX the packager writes).
    pub fn all_keys(&self) -> Vec<ContentKey> {
        let mut out: Vec<ContentKey> = Vec::new();
        for k in self.video.iter().chain(&self.audio) {
            if !out.iter().any(|o| o.kid == k.kid) {
                out.push(k.clone());
            }
        }
        out
    }
}

/// The PSSH boxes of the document's DRMSystemList (CPIX "PSSH passthrough").
fn supplied(doc: &CpixDocument) -> Vec<(super::pssh::SystemId, Kid, Vec<u8>)> {
    doc.drm_systems.iter().filter_map(|d| d.pssh.clone().map(|p| (d.system_id, d.kid, p))).collect()
}

fn start_seconds(p: &KeyPeriod) -> f64 {
    p.start.as_deref().and_then(iso_seconds).unwrap_or(0.0)
}

/// `PT12.5S`, `PT1M30S`, `PT1H` → seconds (the durations CPIX periods use).
fn iso_seconds(s: &str) -> Option<f64> {
    let rest = s.strip_prefix("PT")?;
    let (mut total, mut num) = (0.0, String::new());
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'H' | 'M' | 'S' => {
                let v: f64 = num.parse().ok()?;
                total += v * match c {
                    'H' => 3600.0,
                    'M' => 60.0,
                    _ => 1.0,
                };
                num.clear();
            }
            _ => return None,
        }
    }
    Some(total)
}

fn check_unique(keys: &[ContentKey]) -> Result<(), CencError> {
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].iter().any(|o| o.kid == k.kid) {
            return Err(CencError::Usage(format!("KID {} is given twice", k.kid.hex())));
        }
    }
    Ok(())
}
