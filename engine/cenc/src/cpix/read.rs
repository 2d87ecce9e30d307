//! Reading CPIX: one streaming pass over untrusted XML into a [`CpixDocument`], then the
//! cross-reference checks (kids, periods). Elements are matched by namespace URI and local name,
//! whatever prefix the producer chose; unknown elements and attributes are skipped. The work is
//! linear in the input: nesting is capped, attributes are scanned once (quick-xml's duplicate
//! check is quadratic), lookups go through hash sets, and entities are never expanded beyond
//! the predefined ones and character references (a DTD is refused, so no entity blowup and no
//! external entity).

use std::collections::HashSet;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::XmlVersion;

use super::{decode_b64, CPIX_NS, PSKC_NS};
use super::{short, ContentKey, CpixDocument, CpixError, DrmSystem, KeyPeriod, UsageRule};
use super::{CpixRequest, DrmRequest, KeyRequest};
use uuid::Uuid;

use crate::pssh::{parse_uuid, Kid, SystemId};

/// Deeper than any real CPIX (about 6 levels) but far from recursion or memory trouble.
const MAX_DEPTH: usize = 64;

/// Parse and check a CPIX document with clear keys.
///
/// Refuses: encrypted keys; a `ContentKey` without a 16-byte `PlainValue` (CPIX requests carry
/// none, so this reads responses only); duplicate kids, period ids or kid+systemId pairs; a
/// `DRMSystem` or usage rule naming an unknown kid; a `KeyPeriodFilter` naming an unknown
/// period; bad UUIDs, base64 or numbers; a `ContentKeyPeriod` without `@id`.
pub fn read_cpix(xml: &str) -> Result<CpixDocument, CpixError> {
    parse(xml, false).map(|p| p.doc)
}

/// Parse and check a CPIX key request: `ContentKey`s without values, `DRMSystem`s whose empty
/// children say which signalling is wanted. The same checks as [`read_cpix`] otherwise; a
/// `ContentKey` that carries a value is refused ([`CpixError::KeyInRequest`]).
pub fn read_cpix_request(xml: &str) -> Result<CpixRequest, CpixError> {
    let p = parse(xml, true)?;
    Ok(CpixRequest {
        content_id: p.doc.content_id,
        version: p.version,
        keys: p.requested_keys,
        drm_systems: p.requested_drm,
        periods: p.doc.periods,
        usage_rules: p.doc.usage_rules,
    })
}

fn parse(xml: &str, request: bool) -> Result<Parser, CpixError> {
    let mut p = Parser { request, ..Parser::default() };
    let mut reader = NsReader::from_str(xml);
    loop {
        let pos = reader.buffer_position();
        let (ns, event) = reader.read_resolved_event().map_err(|e| CpixError::from_xml(pos, &e))?;
        let ns = match ns {
            ResolveResult::Bound(n) if n.0 == CPIX_NS => Ns::Cpix,
            ResolveResult::Bound(n) if n.0 == PSKC_NS => Ns::Pskc,
            ResolveResult::Unknown(_) => {
                // Not quoted: a damaged document can make key text look like a prefix.
                return Err(CpixError::xml(pos, "undeclared namespace prefix"));
            }
            _ => Ns::Other,
        };
        match event {
            Event::Start(e) => p.open(ns, &e, pos)?,
            Event::Empty(e) => {
                p.open(ns, &e, pos)?;
                p.close()?;
            }
            Event::End(_) => p.close()?,
            Event::Text(t) if p.collecting() => p.text.push_str(&t),
            Event::CData(t) if p.collecting() => p.text.push_str(&t),
            Event::GeneralRef(r) if p.collecting() => p.text.push(resolve_ref(&r, pos)?),
            // CPIX has no DTD; one could only declare entities (which are never expanded) or
            // point at external ones, so it is refused outright.
            Event::DocType(_) => return Err(CpixError::xml(pos, "a DTD (DOCTYPE) is not allowed")),
            Event::Eof => break,
            _ => {}
        }
    }
    if !p.stack.is_empty() {
        let msg = "document ends before its elements are closed";
        return Err(CpixError::xml(xml.len() as u64, msg));
    }
    if !p.seen_root {
        return Err(CpixError::NotCpix);
    }
    p.check_references()?;
    Ok(p)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Cpix,
    Pskc,
    Other,
}

/// Where we are; the element under construction lives in `Parser`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Node {
    Root,
    KeyList,
    Key,
    KeyData,
    Secret,
    PlainValue,
    DrmList,
    Drm,
    DrmText(Field),
    PeriodList,
    RuleList,
    Rule,
    /// An element we know but whose content we ignore, or one we do not know.
    Skip,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Pssh,
    ContentProtectionData,
    Hls,
    UriExtXKey,
}

impl Field {
    fn element(self) -> &'static str {
        match self {
            Field::Pssh => "cpix:PSSH",
            Field::ContentProtectionData => "cpix:ContentProtectionData",
            Field::Hls => "cpix:HLSSignalingData",
            Field::UriExtXKey => "cpix:URIExtXKey",
        }
    }
}

struct PendingKey {
    kid: Kid,
    key: Option<[u8; 16]>,
    explicit_iv: Option<[u8; 16]>,
    scheme: Option<String>,
}

#[derive(Default)]
struct Parser {
    doc: CpixDocument,
    stack: Vec<Node>,
    seen_root: bool,
    /// Text of the element being collected (a `PlainValue` or a `DRMSystem` payload).
    text: String,
    /// The `ContentKey` being read; its key is `None` until the `PlainValue` closes.
    key: Option<PendingKey>,
    drm: Option<DrmSystem>,
    /// `@playlist` of the `HLSSignalingData` being read.
    playlist: String,
    rule: Option<UsageRule>,
    /// Reading a request: keys without values, DRM systems as lists of what is wanted.
    request: bool,
    version: Option<String>,
    requested_keys: Vec<KeyRequest>,
    requested_drm: Vec<DrmRequest>,
    /// The `DRMSystem` being read, as a request.
    drm_request: Option<DrmRequest>,
    kids: HashSet<Kid>,
    period_ids: HashSet<String>,
    drm_pairs: HashSet<(Kid, SystemId)>,
}

impl Parser {
    fn collecting(&self) -> bool {
        matches!(self.stack.last(), Some(Node::PlainValue | Node::DrmText(_)))
    }

    fn current_kid(&self) -> Option<Kid> {
        match self.stack.last() {
            Some(Node::Key | Node::KeyData | Node::Secret | Node::PlainValue) => {
                self.key.as_ref().map(|k| k.kid)
            }
            _ => self.drm.as_ref().map(|d| d.kid).or(self.rule.as_ref().map(|r| r.kid)),
        }
    }

    fn open(&mut self, ns: Ns, e: &BytesStart, pos: u64) -> Result<(), CpixError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(CpixError::xml(pos, &format!("elements nested deeper than {MAX_DEPTH}")));
        }
        let local = e.local_name();
        let node = match (self.stack.last(), ns, local.as_ref()) {
            (None, Ns::Cpix, "CPIX") if !self.seen_root => {
                self.seen_root = true;
                let [content_id, version] =
                    attrs(e, "cpix:CPIX", None, ["contentId", "version"], pos)?;
                self.doc.content_id = content_id;
                self.version = version;
                Node::Root
            }
            (None, ..) if self.seen_root => {
                return Err(CpixError::xml(pos, "content after the root element"))
            }
            (None, ..) => return Err(CpixError::NotCpix),
            (Some(Node::Root), Ns::Cpix, "DeliveryDataList") => {
                return Err(CpixError::Encrypted { element: "cpix:DeliveryDataList", kid: None })
            }
            (Some(Node::Root), Ns::Cpix, "ContentKeyList") => Node::KeyList,
            (Some(Node::Root), Ns::Cpix, "DRMSystemList") => Node::DrmList,
            (Some(Node::Root), Ns::Cpix, "ContentKeyPeriodList") => Node::PeriodList,
            (Some(Node::Root), Ns::Cpix, "ContentKeyUsageRuleList") => Node::RuleList,
            (Some(Node::KeyList), Ns::Cpix, "ContentKey") => self.open_key(e, pos)?,
            (Some(Node::Key), Ns::Cpix, "Data") => Node::KeyData,
            (Some(Node::KeyData), Ns::Pskc, "Secret") => Node::Secret,
            (Some(Node::Secret), Ns::Pskc, "PlainValue") => {
                self.text.clear();
                Node::PlainValue
            }
            (Some(Node::Secret), Ns::Pskc, "EncryptedValue") => {
                let kid = self.current_kid();
                return Err(CpixError::Encrypted { element: "pskc:EncryptedValue", kid });
            }
            (Some(Node::DrmList), Ns::Cpix, "DRMSystem") => {
                const EL: &str = "cpix:DRMSystem";
                let [kid, sys] = attrs(e, EL, None, ["kid", "systemId"], pos)?;
                let kid = Kid::from_bytes(uuid_attr(kid, EL, "kid", None)?);
                let system_id = uuid_attr(sys, EL, "systemId", Some(kid))?;
                self.drm = Some(DrmSystem::new(kid, system_id));
                self.drm_request = Some(DrmRequest::new(kid, system_id));
                Node::Drm
            }
            (Some(Node::Drm), Ns::Cpix, name) => {
                let field = match name {
                    "PSSH" => Field::Pssh,
                    "ContentProtectionData" => Field::ContentProtectionData,
                    "URIExtXKey" => Field::UriExtXKey,
                    "HLSSignalingData" => Field::Hls,
                    _ => {
                        self.stack.push(Node::Skip);
                        return Ok(());
                    }
                };
                if field == Field::Hls {
                    let kid = self.current_kid();
                    let [pl] = attrs(e, field.element(), kid, ["playlist"], pos)?;
                    self.playlist = pl.unwrap_or_else(|| "media".to_string());
                }
                self.asked(field)?;
                self.text.clear();
                Node::DrmText(field)
            }
            (Some(Node::PeriodList), Ns::Cpix, "ContentKeyPeriod") => {
                self.read_period(e, pos)?;
                Node::Skip
            }
            (Some(Node::RuleList), Ns::Cpix, "ContentKeyUsageRule") => {
                const EL: &str = "cpix:ContentKeyUsageRule";
                // CPIX 2.3 says intendedTrackType; abmark's writer once said intendedTrackKind.
                let [kid, track, legacy] =
                    attrs(e, EL, None, ["kid", "intendedTrackType", "intendedTrackKind"], pos)?;
                let kid = Kid::from_bytes(uuid_attr(kid, EL, "kid", None)?);
                let track = track.or(legacy);
                let period_ids = Vec::new();
                self.rule = Some(UsageRule { kid, intended_track_type: track, period_ids });
                Node::Rule
            }
            (Some(Node::Rule), Ns::Cpix, "KeyPeriodFilter") => {
                const EL: &str = "cpix:KeyPeriodFilter";
                let kid = self.current_kid();
                let [id] = attrs(e, EL, kid, ["periodId"], pos)?;
                let id = id.ok_or(CpixError::missing(EL, "periodId", kid))?;
                if let Some(rule) = self.rule.as_mut() {
                    rule.period_ids.push(id);
                }
                Node::Skip
            }
            _ => Node::Skip,
        };
        self.stack.push(node);
        Ok(())
    }

    /// Notes that the request asks for `field` of the `DRMSystem` being read.
    fn asked(&mut self, field: Field) -> Result<(), CpixError> {
        let kid = self.current_kid();
        let Some(r) = self.drm_request.as_mut() else { return Ok(()) };
        match field {
            Field::Pssh => r.pssh = true,
            Field::ContentProtectionData => r.content_protection_data = true,
            Field::UriExtXKey => r.uri_ext_x_key = true,
            Field::Hls => {
                if r.hls_playlists.contains(&self.playlist) {
                    let problem = format!("playlist {:?} appears twice", short(&self.playlist));
                    return Err(CpixError::content(field.element(), kid, &problem));
                }
                r.hls_playlists.push(self.playlist.clone());
            }
        }
        Ok(())
    }

    fn open_key(&mut self, e: &BytesStart, pos: u64) -> Result<Node, CpixError> {
        const EL: &str = "cpix:ContentKey";
        let [kid, iv, scheme] =
            attrs(e, EL, None, ["kid", "explicitIV", "commonEncryptionScheme"], pos)?;
        let kid = Kid::from_bytes(uuid_attr(kid, EL, "kid", None)?);
        if !self.kids.insert(kid) {
            let what = format!("kid {kid}");
            return Err(CpixError::Duplicate { element: EL, what });
        }
        let explicit_iv = match iv {
            None => None,
            Some(text) => {
                let bad = |problem: &str| CpixError::attr(EL, "explicitIV", Some(kid), problem);
                let raw = decode_b64(&text).ok_or_else(|| bad("is not valid base64"))?;
                let mut iv = [0u8; 16];
                match raw.len() {
                    8 | 16 => iv[..raw.len()].copy_from_slice(&raw),
                    n => return Err(bad(&format!("decodes to {n} bytes, expected 16 (or 8)"))),
                }
                Some(iv)
            }
        };
        self.key = Some(PendingKey { kid, key: None, explicit_iv, scheme });
        Ok(Node::Key)
    }

    fn read_period(&mut self, e: &BytesStart, pos: u64) -> Result<(), CpixError> {
        const EL: &str = "cpix:ContentKeyPeriod";
        let [id, index, start, end] = attrs(e, EL, None, ["id", "index", "start", "end"], pos)?;
        let id = id.ok_or(CpixError::missing(EL, "id", None))?;
        let bad_index = || {
            let problem = format!("of period {:?} is not an unsigned integer", short(&id));
            CpixError::attr(EL, "index", None, &problem)
        };
        let index = index.map(|s| s.trim().parse::<u64>().map_err(|_| bad_index())).transpose()?;
        if !self.period_ids.insert(id.clone()) {
            return Err(CpixError::Duplicate { element: EL, what: format!("id {:?}", short(&id)) });
        }
        self.doc.periods.push(KeyPeriod { id, index, start, end });
        Ok(())
    }

    fn close(&mut self) -> Result<(), CpixError> {
        let kid = self.current_kid();
        match self.stack.pop() {
            Some(Node::PlainValue) => {
                const EL: &str = "pskc:PlainValue";
                let bad = |problem: &str| CpixError::content(EL, kid, problem);
                // Deliberately no detail from the decoder: it would quote key characters.
                let raw = decode_b64(&self.text).ok_or_else(|| bad("is not valid base64"))?;
                let key = <[u8; 16]>::try_from(raw.as_slice())
                    .map_err(|_| bad(&format!("decodes to {} bytes, expected 16", raw.len())))?;
                self.text.clear();
                if let Some(k) = self.key.as_mut() {
                    if k.key.replace(key).is_some() {
                        return Err(bad("appears twice"));
                    }
                }
            }
            Some(Node::Key) if self.request => {
                if let Some(PendingKey { kid, key, explicit_iv, scheme }) = self.key.take() {
                    if key.is_some() {
                        return Err(CpixError::KeyInRequest { kid });
                    }
                    self.requested_keys.push(KeyRequest { kid, explicit_iv, scheme });
                }
            }
            Some(Node::Key) => {
                if let Some(PendingKey { kid, key, explicit_iv, scheme }) = self.key.take() {
                    let problem = "has no cpix:Data/pskc:Secret/pskc:PlainValue";
                    let key =
                        key.ok_or(CpixError::content("cpix:ContentKey", Some(kid), problem))?;
                    self.doc.keys.push(ContentKey { kid, key, explicit_iv, scheme });
                }
            }
            Some(Node::DrmText(field)) => self.close_drm_text(field, kid)?,
            Some(Node::Drm) => {
                if let Some(d) = self.drm.take() {
                    if !self.drm_pairs.insert((d.kid, d.system_id)) {
                        let what = format!(
                            "kid {} with systemId {}",
                            d.kid,
                            Uuid::from_bytes(d.system_id)
                        );
                        return Err(CpixError::Duplicate { element: "cpix:DRMSystem", what });
                    }
                    if self.request {
                        self.requested_drm.extend(self.drm_request.take());
                    } else {
                        self.doc.drm_systems.push(d);
                    }
                }
            }
            Some(Node::Rule) => self.doc.usage_rules.extend(self.rule.take()),
            _ => {}
        }
        Ok(())
    }

    fn close_drm_text(&mut self, field: Field, kid: Option<Kid>) -> Result<(), CpixError> {
        let bad = |problem: &str| CpixError::content(field.element(), kid, problem);
        let raw = decode_b64(&self.text).ok_or_else(|| bad("is not valid base64"))?;
        self.text.clear();
        let Some(drm) = self.drm.as_mut() else { return Ok(()) };
        if raw.is_empty() {
            return Ok(()); // an empty payload element means "none" (CPIX requests use them)
        }
        let utf8 = |raw| String::from_utf8(raw).map_err(|_| bad("does not decode to UTF-8"));
        let dup = || bad("appears twice");
        match field {
            Field::Pssh => set_once(&mut drm.pssh, raw, dup),
            Field::ContentProtectionData => {
                set_once(&mut drm.content_protection_data, utf8(raw)?, dup)
            }
            Field::UriExtXKey => set_once(&mut drm.uri_ext_x_key, utf8(raw)?, dup),
            Field::Hls => {
                let playlist = std::mem::take(&mut self.playlist);
                if drm.hls_signaling.iter().any(|(p, _)| *p == playlist) {
                    return Err(bad(&format!("playlist {:?} appears twice", short(&playlist))));
                }
                drm.hls_signaling.push((playlist, utf8(raw)?));
                Ok(())
            }
        }
    }

    fn check_references(&self) -> Result<(), CpixError> {
        let drm_kids = self.doc.drm_systems.iter().map(|d| d.kid);
        for kid in drm_kids.chain(self.requested_drm.iter().map(|d| d.kid)) {
            if !self.kids.contains(&kid) {
                return Err(CpixError::UnknownKid { element: "cpix:DRMSystem", kid });
            }
        }
        for r in &self.doc.usage_rules {
            if !self.kids.contains(&r.kid) {
                let element = "cpix:ContentKeyUsageRule";
                return Err(CpixError::UnknownKid { element, kid: r.kid });
            }
            if let Some(p) = r.period_ids.iter().find(|p| !self.period_ids.contains(*p)) {
                return Err(CpixError::UnknownPeriod { kid: r.kid, period: short(p) });
            }
        }
        Ok(())
    }
}

fn set_once<T>(slot: &mut Option<T>, v: T, dup: impl Fn() -> CpixError) -> Result<(), CpixError> {
    slot.replace(v).map_or(Ok(()), |_| Err(dup()))
}

/// The values of the unprefixed attributes `names` of `e`, in that order, in one pass.
fn attrs<const N: usize>(
    e: &BytesStart,
    element: &'static str,
    kid: Option<Kid>,
    names: [&'static str; N],
    pos: u64,
) -> Result<[Option<String>; N], CpixError> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| CpixError::from_xml(pos, &err.into()))?;
        let Some(i) = names.iter().position(|n| *n == a.key.as_ref()) else { continue };
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| CpixError::from_xml(pos, &err))?;
        // XML 1.0 cannot carry these characters at all (a character reference to them is not
        // well-formed either), and the writer could not write them back.
        if !value.chars().all(super::write::xml_char) {
            return Err(CpixError::attr(
                element,
                names[i],
                kid,
                "holds a character XML 1.0 does not allow",
            ));
        }
        if out[i].replace(value.into_owned()).is_some() {
            return Err(CpixError::attr(element, names[i], kid, "appears twice"));
        }
    }
    Ok(out)
}

fn uuid_attr(
    v: Option<String>,
    element: &'static str,
    attribute: &'static str,
    kid: Option<Kid>,
) -> Result<[u8; 16], CpixError> {
    let v = v.ok_or(CpixError::missing(element, attribute, kid))?;
    let problem = "is not a UUID (8-4-4-4-12 hex)";
    parse_uuid(v.trim()).map_err(|_| CpixError::attr(element, attribute, kid, problem))
}

fn resolve_ref(r: &BytesRef, pos: u64) -> Result<char, CpixError> {
    let bad = || CpixError::xml(pos, "unknown or invalid entity reference");
    if let Some(c) = r.resolve_char_ref().map_err(|_| bad())? {
        return Ok(c);
    }
    // The five predefined entities only: there is no DTD, so nothing else can be declared.
    let s = resolve_predefined_entity(r).ok_or_else(bad)?;
    s.chars().next().ok_or_else(bad)
}
