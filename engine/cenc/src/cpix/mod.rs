//! DASH-IF CPIX 2.3 (Content Protection Information Exchange): the document model we take content
//! keys and DRM signalling from, its error type, and the shared encoding rules. `read` parses
//! untrusted CPIX XML into a checked [`CpixDocument`]; `write` serializes one deterministically.
//! The same reader and writer handle the other half of a key exchange, the encryptor's request
//! ([`CpixRequest`]: KIDs and the signalling wanted, no key values), as SPEKE v2.0 and the
//! DASH-IF CPIX request profile shape it.
//! Only clear keys (`pskc:PlainValue`) are supported: encrypted CPIX (a `DeliveryDataList` with
//! `pskc:EncryptedValue` keys) is refused rather than misread. Key bytes never reach an error
//! message or `Debug` output, because both end up in logs.

mod read;
mod write;

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

pub use read::{read_cpix, read_cpix_request};
pub use write::{write_cpix, write_cpix_request};

use uuid::Uuid;

use super::pssh::{Kid, SystemId};

/// CPIX element namespace.
pub const CPIX_NS: &str = "urn:dashif:org:cpix";
/// PSKC (RFC 6030) namespace, used by CPIX for the key value itself.
pub const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";

/// Standard base64; padding optional on input because producers differ, always written.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One CPIX document: the keys and everything that says where and how to use them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpixDocument {
    /// `CPIX@contentId`.
    pub content_id: Option<String>,
    /// `ContentKeyList`, in document order; kids are unique.
    pub keys: Vec<ContentKey>,
    /// `DRMSystemList`, in document order; every kid is one of `keys`.
    pub drm_systems: Vec<DrmSystem>,
    /// `ContentKeyPeriodList` (key rotation), in document order; ids are unique.
    pub periods: Vec<KeyPeriod>,
    /// `ContentKeyUsageRuleList`; every kid and period id resolves.
    pub usage_rules: Vec<UsageRule>,
}

/// A content key (`cpix:ContentKey`) in the clear. `Debug` shows the kid but never the key; the
/// key bytes are wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    /// `@kid`.
    pub kid: Kid,
    /// The AES-128 key from `cpix:Data/pskc:Secret/pskc:PlainValue`.
    pub key: [u8; 16],
    /// `@explicitIV`: the constant or initial IV to use. An 8-byte IV in the document is read
    /// zero-extended to 16 bytes, which ISO/IEC 23001-7 makes equivalent for both 'cenc' (the
    /// low 64 bits are the block counter, starting at 0) and 'cbcs' (8-byte IVs are padded with
    /// zeros); it is written back as 16 bytes.
    pub explicit_iv: Option<[u8; 16]>,
    /// `@commonEncryptionScheme` ('cenc', 'cbcs', ...), as given.
    pub scheme: Option<String>,
}

impl Drop for ContentKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl ContentKey {
    /// The key bytes (the `key` field), for code that handles these and `cenc::keys` keys alike.
    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentKey")
            .field("kid", &Uuid::from_bytes(*self.kid.as_bytes()))
            .field("key", &"<redacted>")
            .field("explicit_iv", &self.explicit_iv)
            .field("scheme", &self.scheme)
            .finish()
    }
}

/// Signalling for one key under one DRM system (`cpix:DRMSystem`). Base64 payloads are stored
/// decoded; an empty payload element (as in CPIX requests) reads as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrmSystem {
    /// `@kid`.
    pub kid: Kid,
    /// `@systemId`.
    pub system_id: SystemId,
    /// `cpix:PSSH`: the full 'pssh' box bytes, unparsed (see `pssh::parse_pssh`).
    pub pssh: Option<Vec<u8>>,
    /// `cpix:ContentProtectionData`: the XML to insert into the MPD `ContentProtection`.
    pub content_protection_data: Option<String>,
    /// `cpix:HLSSignalingData`: (`@playlist`, decoded text) pairs; `@playlist` defaults to
    /// "media" when absent.
    pub hls_signaling: Vec<(String, String)>,
    /// `cpix:URIExtXKey`: the `EXT-X-KEY` URI.
    pub uri_ext_x_key: Option<String>,
}

impl DrmSystem {
    /// A `cpix:DRMSystem` for `kid` under `system_id`, with no signalling data yet.
    pub fn new(kid: Kid, system_id: SystemId) -> Self {
        DrmSystem {
            kid,
            system_id,
            pssh: None,
            content_protection_data: None,
            hls_signaling: Vec::new(),
            uri_ext_x_key: None,
        }
    }
}

/// A key period (`cpix:ContentKeyPeriod`) for key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPeriod {
    /// `@id`, required here because usage rules can only refer to a period by it.
    pub id: String,
    /// `@index`.
    pub index: Option<u64>,
    /// `@start` (an xs:dateTime in CPIX 2.3), kept as text.
    pub start: Option<String>,
    /// `@end`, kept as text.
    pub end: Option<String>,
}

/// A usage rule (`cpix:ContentKeyUsageRule`): which key applies to which tracks and periods.
/// Only `KeyPeriodFilter` is kept; other filters are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRule {
    /// `@kid`.
    pub kid: Kid,
    /// `@intendedTrackType` (e.g. "VIDEO", "AUDIO", "SD"), as given. Documents written by
    /// abmark before 0.1 named it `intendedTrackKind`; the reader takes either.
    pub intended_track_type: Option<String>,
    /// `KeyPeriodFilter@periodId` of each filter, in document order.
    pub period_ids: Vec<String>,
}

/// A CPIX key request: what an encryptor sends a key service (SPEKE v2.0, DASH-IF CPIX 2.3
/// request profile). It names the KIDs the encryptor chose and, per DRM system, which
/// signalling it wants back (the empty `PSSH`, `ContentProtectionData`, `URIExtXKey` and
/// `HLSSignalingData` elements of the request); it carries no key values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpixRequest {
    /// `CPIX@contentId`.
    pub content_id: Option<String>,
    /// `CPIX@version` (SPEKE v2.0 sends "2.3").
    pub version: Option<String>,
    /// `ContentKeyList`, in document order; kids are unique.
    pub keys: Vec<KeyRequest>,
    /// `DRMSystemList`, in document order; every kid is one of `keys`.
    pub drm_systems: Vec<DrmRequest>,
    /// `ContentKeyPeriodList`.
    pub periods: Vec<KeyPeriod>,
    /// `ContentKeyUsageRuleList`; every kid and period id resolves.
    pub usage_rules: Vec<UsageRule>,
}

/// One key asked for (`cpix:ContentKey` without `cpix:Data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// `@kid`, chosen by the encryptor.
    pub kid: Kid,
    /// `@explicitIV`, if the encryptor proposed or asked for one.
    pub explicit_iv: Option<[u8; 16]>,
    /// `@commonEncryptionScheme`, as given.
    pub scheme: Option<String>,
}

/// The signalling asked for one key under one DRM system: which of the `cpix:DRMSystem`
/// children were present (empty) in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrmRequest {
    pub kid: Kid,
    pub system_id: SystemId,
    /// `cpix:PSSH`.
    pub pssh: bool,
    /// `cpix:ContentProtectionData`.
    pub content_protection_data: bool,
    /// `cpix:URIExtXKey`.
    pub uri_ext_x_key: bool,
    /// `cpix:HLSSignalingData@playlist` of each such element ("media", "master").
    pub hls_playlists: Vec<String>,
}

impl DrmRequest {
    /// A `cpix:DRMSystem` asking for nothing yet.
    pub fn new(kid: Kid, system_id: SystemId) -> Self {
        DrmRequest {
            kid,
            system_id,
            pssh: false,
            content_protection_data: false,
            uri_ext_x_key: false,
            hls_playlists: Vec::new(),
        }
    }
}

/// Why a CPIX document was refused. Messages are one line, name the element (with its usual
/// prefix, whatever prefix the document used), the attribute and the kid when known, and never
/// carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpixError {
    /// Not well-formed XML (or nested deeper than we accept).
    #[error("CPIX is not well-formed XML at byte {pos}: {msg}")]
    Xml { pos: u64, msg: String },
    /// The root element is not `cpix:CPIX` in the CPIX namespace.
    #[error("root element is not cpix:CPIX in namespace {CPIX_NS}")]
    NotCpix,
    /// The document carries encrypted keys (`DeliveryDataList`, `pskc:EncryptedValue`).
    #[error("encrypted CPIX keys are not supported (found {element}{})", kid_note(.kid))]
    Encrypted { element: &'static str, kid: Option<Kid> },
    /// A required attribute is absent.
    #[error("{element}{}: missing attribute {attribute}", kid_note(.kid))]
    MissingAttribute { element: &'static str, attribute: &'static str, kid: Option<Kid> },
    /// An attribute is present but unusable (bad UUID, base64, length, number, repeated).
    #[error("{element}{}: attribute {attribute} {problem}", kid_note(.kid))]
    BadAttribute {
        element: &'static str,
        attribute: &'static str,
        kid: Option<Kid>,
        problem: String,
    },
    /// An element's content is unusable (bad base64, wrong length, not UTF-8, repeated, missing).
    #[error("{element}{}: {problem}", kid_note(.kid))]
    BadContent { element: &'static str, kid: Option<Kid>, problem: String },
    /// Two entries that must be unique are not (kids, period ids, kid + systemId pairs).
    #[error("{element}: duplicate {what}")]
    Duplicate { element: &'static str, what: String },
    /// A reference to a kid that no `cpix:ContentKey` defines.
    #[error("{element} refers to kid {kid} which is not in the ContentKeyList")]
    UnknownKid { element: &'static str, kid: Kid },
    /// A request that carries a key value: the key service makes the keys.
    #[error("cpix:ContentKey (kid {kid}): a key request carries no key value (the key service makes the keys)")]
    KeyInRequest { kid: Kid },
    /// A `KeyPeriodFilter` naming a period that no `ContentKeyPeriod` defines.
    #[error(
        "cpix:KeyPeriodFilter (kid {kid}) refers to period {period:?} which is not in the \
             ContentKeyPeriodList"
    )]
    UnknownPeriod { kid: Kid, period: String },
}

impl CpixError {
    fn missing(element: &'static str, attribute: &'static str, kid: Option<Kid>) -> Self {
        CpixError::MissingAttribute { element, attribute, kid }
    }

    fn attr(element: &'static str, attribute: &'static str, kid: Option<Kid>, p: &str) -> Self {
        CpixError::BadAttribute { element, attribute, kid, problem: p.to_string() }
    }

    fn content(element: &'static str, kid: Option<Kid>, problem: &str) -> Self {
        CpixError::BadContent { element, kid, problem: problem.to_string() }
    }

    fn xml(pos: u64, msg: &str) -> Self {
        CpixError::Xml { pos, msg: msg.to_string() }
    }

    fn from_xml(pos: u64, e: &quick_xml::Error) -> Self {
        use quick_xml::errors::{Error as X, IllFormedError as I};
        // Only the kind of error: quick-xml's messages quote tag and entity names, and a damaged
        // document can turn key text into a tag name.
        let msg = match e {
            X::Syntax(s) => return CpixError::Xml { pos, msg: format!("syntax error: {s}") },
            X::IllFormed(I::MismatchedEndTag { .. }) => "end tag does not match its start tag",
            X::IllFormed(I::UnmatchedEndTag(_)) => "end tag without a start tag",
            X::IllFormed(I::MissingEndTag(_)) => "element not closed before the end of input",
            X::IllFormed(_) => "ill-formed declaration, comment or reference",
            X::InvalidAttr(_) => "malformed attribute",
            X::Escape(_) => "invalid character or entity reference",
            X::Namespace(_) => "invalid or too many namespace declarations",
            _ => "malformed XML",
        };
        Self::xml(pos, msg)
    }
}

/// Base64 with XML whitespace (line breaks, indentation) allowed anywhere, as xs:base64Binary.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n')).collect();
    B64.decode(compact).ok()
}

fn kid_note(kid: &Option<Kid>) -> String {
    kid.map(|k| format!(" (kid {k})")).unwrap_or_default()
}

/// Cut document-supplied text quoted in an error (ids, playlists) to a bounded length.
fn short(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key every test document uses, and the ways it could leak into a message.
    const KEY_B64: &str = "ABEiM0RVZneImaq7zN3u/w==";
    const LEAKS: [&str; 4] =
        [KEY_B64, "ABEiM0RVZneImaq7zN3u", "00112233445566778899aabbccddeeff", "[0, 17, 34, 51"];
    const KID: &str = "5e2b7a4c-1f3d-4a6b-8c9d-0e1f2a3b4c5d";

    fn cpix(body: &str) -> String {
        format!("<cpix:CPIX xmlns:cpix=\"{CPIX_NS}\" xmlns:pskc=\"{PSKC_NS}\">{body}</cpix:CPIX>")
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused_not_rewritten() {
        // Found by fuzzing: these read back as U+FFFD after a write, so the document changed.
        for doc in [
            format!("<CPIX xmlns=\"{CPIX_NS}\" contentId=\"&#1;\"/>"),
            format!("<CPIX xmlns=\"{CPIX_NS}\" contentId=\"a&#xFFFE;\"/>"),
            format!("<CPIX xmlns=\"{CPIX_NS}\" contentId=\"a\u{1}b\"/>"),
        ] {
            let e = read_cpix(&doc).unwrap_err();
            assert!(e.to_string().contains("does not allow"), "{e}");
        }
        let ok = read_cpix(&format!("<CPIX xmlns=\"{CPIX_NS}\" contentId=\"a&#9;b\"/>")).unwrap();
        assert_eq!(read_cpix(&write_cpix(&ok)).unwrap(), ok);
    }

    fn key(attrs: &str, secret: &str) -> String {
        format!(
            "<cpix:ContentKeyList><cpix:ContentKey {attrs}><cpix:Data><pskc:Secret>{secret}\
                 </pskc:Secret></cpix:Data></cpix:ContentKey></cpix:ContentKeyList>"
        )
    }

    fn good_key() -> String {
        key(&format!("kid=\"{KID}\""), &format!("<pskc:PlainValue>{KEY_B64}</pskc:PlainValue>"))
    }

    fn assert_clean(text: &str) {
        for leak in LEAKS {
            assert!(!text.contains(leak), "{leak} leaked into: {text}");
        }
        assert!(!text.contains('\n'), "not one line: {text}");
    }

    fn err(xml: &str) -> CpixError {
        let e = read_cpix(xml).expect_err(xml);
        assert_clean(&e.to_string());
        assert_clean(&format!("{e:?}"));
        e
    }

    #[test]
    fn debug_redacts_the_key() {
        let doc = read_cpix(&cpix(&good_key())).unwrap();
        assert_eq!(
            doc.keys[0].key,
            *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
        );
        let dbg = format!("{doc:?} {doc:#?}");
        assert!(dbg.contains(KID) && dbg.contains("<redacted>"));
        assert_eq!(doc.keys[0].key(), &doc.keys[0].key);
        for leak in LEAKS {
            assert!(!dbg.contains(leak));
        }
    }

    #[test]
    fn every_error_path_names_where_and_never_the_key() {
        use CpixError as E;
        let kid = Some(parse_kid());
        let k = good_key();
        let pv = format!("<pskc:PlainValue>{KEY_B64}</pskc:PlainValue>");
        let kd = format!("kid=\"{KID}\"");
        let cases: Vec<(String, E)> = vec![
            (String::new(), E::NotCpix),
            ("<CPIX xmlns=\"urn:not-cpix\"/>".into(), E::NotCpix),
            (cpix(&format!("{k}<cpix:DeliveryDataList/>")), E::Encrypted { element: "cpix:DeliveryDataList", kid: None }),
            (cpix(&key(&kd, "<pskc:EncryptedValue/>")), E::Encrypted { element: "pskc:EncryptedValue", kid }),
            (cpix(&key("", &pv)), E::missing("cpix:ContentKey", "kid", None)),
            (cpix(&key("kid=\"5e2b7a4c-1f3d\"", &pv)), E::attr("cpix:ContentKey", "kid", None, "is not a UUID (8-4-4-4-12 hex)")),
            (cpix(&key(&format!("{kd} kid=\"{KID}\""), &pv)), E::attr("cpix:ContentKey", "kid", None, "appears twice")),
            (cpix(&key(&format!("{kd} explicitIV=\"AAAA\""), &pv)), E::attr("cpix:ContentKey", "explicitIV", kid, "decodes to 3 bytes, expected 16 (or 8)")),
            (cpix(&key(&format!("{kd} explicitIV=\"!!\""), &pv)), E::attr("cpix:ContentKey", "explicitIV", kid, "is not valid base64")),
            (cpix(&key(&kd, "")), E::content("cpix:ContentKey", kid, "has no cpix:Data/pskc:Secret/pskc:PlainValue")),
            (cpix(&key(&kd, &format!("<pskc:PlainValue>{KEY_B64}!</pskc:PlainValue>"))), E::content("pskc:PlainValue", kid, "is not valid base64")),
            (cpix(&key(&kd, &format!("<pskc:PlainValue>{KEY_B64}&foo;</pskc:PlainValue>"))), E::Xml { pos: 239, msg: "unknown or invalid entity reference".into() }),
            (cpix(&key(&kd, "<pskc:PlainValue>ABEiM0RVZneImaq7zN3u/wAA</pskc:PlainValue>")), E::content("pskc:PlainValue", kid, "decodes to 18 bytes, expected 16")),
            (cpix(&key(&kd, &format!("{pv}{pv}"))), E::content("pskc:PlainValue", kid, "appears twice")),
            (cpix(&format!("{k}{k}")), E::Duplicate { element: "cpix:ContentKey", what: format!("kid {KID}") }),
            (cpix(&format!("{k}<cpix:DRMSystemList><cpix:DRMSystem kid=\"{KID}\"/></cpix:DRMSystemList>")), E::missing("cpix:DRMSystem", "systemId", kid)),
            (cpix(&format!("{k}<cpix:DRMSystemList><cpix:DRMSystem kid=\"{KID}\" systemId=\"x\"/></cpix:DRMSystemList>")), E::attr("cpix:DRMSystem", "systemId", kid, "is not a UUID (8-4-4-4-12 hex)")),
            (cpix(&format!("{k}<cpix:DRMSystemList><cpix:DRMSystem kid=\"00000000-0000-0000-0000-000000000000\" systemId=\"{KID}\"/></cpix:DRMSystemList>")), E::UnknownKid { element: "cpix:DRMSystem", kid: Kid::from_bytes([0; 16]) }),
            (cpix(&format!("{k}<cpix:DRMSystemList><cpix:DRMSystem kid=\"{KID}\" systemId=\"{KID}\"><cpix:PSSH>%%</cpix:PSSH></cpix:DRMSystem></cpix:DRMSystemList>")), E::content("cpix:PSSH", kid, "is not valid base64")),
            (cpix(&format!("{k}<cpix:DRMSystemList><cpix:DRMSystem kid=\"{KID}\" systemId=\"{KID}\"><cpix:ContentProtectionData>/w==</cpix:ContentProtectionData></cpix:DRMSystem></cpix:DRMSystemList>")), E::content("cpix:ContentProtectionData", kid, "does not decode to UTF-8")),
            (cpix(&format!("{k}<cpix:DRMSystemList><cpix:DRMSystem kid=\"{KID}\" systemId=\"{KID}\"/><cpix:DRMSystem kid=\"{KID}\" systemId=\"{KID}\"/></cpix:DRMSystemList>")), E::Duplicate { element: "cpix:DRMSystem", what: format!("kid {KID} with systemId {KID}") }),
            (cpix(&format!("{k}<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod index=\"1\"/></cpix:ContentKeyPeriodList>")), E::missing("cpix:ContentKeyPeriod", "id", None)),
            (cpix(&format!("{k}<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id=\"p\" index=\"-1\"/></cpix:ContentKeyPeriodList>")), E::attr("cpix:ContentKeyPeriod", "index", None, "of period \"p\" is not an unsigned integer")),
            (cpix(&format!("{k}<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id=\"p\"/><cpix:ContentKeyPeriod id=\"p\"/></cpix:ContentKeyPeriodList>")), E::Duplicate { element: "cpix:ContentKeyPeriod", what: "id \"p\"".into() }),
            (cpix(&format!("{k}<cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule/></cpix:ContentKeyUsageRuleList>")), E::missing("cpix:ContentKeyUsageRule", "kid", None)),
            (cpix(&format!("{k}<cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid=\"00000000000000000000000000000000\"/></cpix:ContentKeyUsageRuleList>")), E::UnknownKid { element: "cpix:ContentKeyUsageRule", kid: Kid::from_bytes([0; 16]) }),
            (cpix(&format!("{k}<cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid=\"{KID}\"><cpix:KeyPeriodFilter/></cpix:ContentKeyUsageRule></cpix:ContentKeyUsageRuleList>")), E::missing("cpix:KeyPeriodFilter", "periodId", kid)),
            (cpix(&format!("{k}<cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid=\"{KID}\"><cpix:KeyPeriodFilter periodId=\"p9\"/></cpix:ContentKeyUsageRule></cpix:ContentKeyUsageRuleList>")), E::UnknownPeriod { kid: parse_kid(), period: "p9".into() }),
        ];
        for (xml, want) in cases {
            assert_eq!(err(&xml), want, "{xml}");
        }
        // Malformed XML: the message varies with quick-xml, the variant and cleanliness do not.
        for xml in [
            cpix(&format!("{k}<cpix:Oops>")),
            format!("{}<x/>", cpix(&k)),
            cpix(&k).replace("</cpix:CPIX>", ""),
            cpix(&format!("{}{k}{}", "<a>".repeat(100), "</a>".repeat(100))),
            cpix(&k).replace("kid=\"", "kid="),
            format!("<!DOCTYPE c [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", cpix(&k)),
        ] {
            assert!(matches!(err(&xml), E::Xml { .. }), "{xml}");
        }
    }

    fn parse_kid() -> Kid {
        Kid::parse(KID).unwrap()
    }

    #[test]
    fn hostile_input_stays_linear() {
        // Many attributes (quadratic in quick-xml's duplicate check) and many keys and rules.
        let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"\"")).collect();
        let doc = read_cpix(&cpix(&key(
            &format!("kid=\"{KID}\"{attrs}"),
            &format!("<pskc:PlainValue>{KEY_B64}</pskc:PlainValue>"),
        )))
        .unwrap();
        assert_eq!(doc.keys.len(), 1);
        let n = 20_000u32;
        let keys: String = (0..n).map(|i| format!("<cpix:ContentKey kid=\"{i:032x}\"><cpix:Data><pskc:Secret><pskc:PlainValue>{KEY_B64}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>")).collect();
        let rules: String =
            (0..n).map(|i| format!("<cpix:ContentKeyUsageRule kid=\"{i:032x}\"/>")).collect();
        let xml = cpix(&format!("<cpix:ContentKeyList>{keys}</cpix:ContentKeyList><cpix:ContentKeyUsageRuleList>{rules}</cpix:ContentKeyUsageRuleList>"));
        let doc = read_cpix(&xml).unwrap();
        assert_eq!((doc.keys.len(), doc.usage_rules.len()), (n as usize, n as usize));
        // Deep nesting is cut off at the cap, not followed.
        let deep = cpix(&format!("{}{}", "<a>".repeat(1_000_000), "</a>".repeat(1_000_000)));
        assert!(matches!(read_cpix(&deep), Err(CpixError::Xml { .. })));
    }
}
