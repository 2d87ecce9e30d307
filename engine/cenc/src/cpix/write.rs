//! Writing CPIX: a deterministic, indented CPIX 2.3 document with the `cpix:` and `pskc:`
//! prefixes, children in the order the CPIX 2.3 schema's sequences require, every attribute and
//! text escaped. `read_cpix(&write_cpix(d)) == d` for every document `read_cpix` can produce
//! (the tests check it); the exceptions are values XML 1.0 cannot carry (see [`write_cpix`]).

use std::fmt::Write as _;

use base64::Engine as _;

use super::{CpixDocument, B64, CPIX_NS, PSKC_NS};
use uuid::Uuid;

/// Serialize `doc` as CPIX 2.3 XML with clear keys (`pskc:PlainValue`). Empty lists are left
/// out, and so are empty payloads (CPIX has no way to say "empty" apart from "absent"). Control
/// characters that XML 1.0 cannot represent at all (U+0000..U+001F except tab, LF, CR, and
/// U+FFFE/U+FFFF) are written as U+FFFD so that the output stays well-formed.
pub fn write_cpix(doc: &CpixDocument) -> String {
    let mut w = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.push_str(&format!("<cpix:CPIX xmlns:cpix=\"{CPIX_NS}\" xmlns:pskc=\"{PSKC_NS}\""));
    if let Some(id) = &doc.content_id {
        attr(&mut w, "contentId", id);
    }
    w.push_str(" version=\"2.3\">\n");

    if !doc.keys.is_empty() {
        w.push_str("  <cpix:ContentKeyList>\n");
        for k in &doc.keys {
            w.push_str("    <cpix:ContentKey");
            attr(&mut w, "kid", &Uuid::from_bytes(k.kid).to_string());
            if let Some(iv) = &k.explicit_iv {
                attr(&mut w, "explicitIV", &B64.encode(iv));
            }
            if let Some(s) = &k.scheme {
                attr(&mut w, "commonEncryptionScheme", s);
            }
            let _ = write!(
                w,
                ">\n      <cpix:Data>\n        <pskc:Secret>\n          <pskc:PlainValue>{}\
                 </pskc:PlainValue>\n        </pskc:Secret>\n      </cpix:Data>\n    \
                 </cpix:ContentKey>\n",
                B64.encode(k.key)
            );
        }
        w.push_str("  </cpix:ContentKeyList>\n");
    }

    if !doc.drm_systems.is_empty() {
        w.push_str("  <cpix:DRMSystemList>\n");
        for d in &doc.drm_systems {
            w.push_str("    <cpix:DRMSystem");
            attr(&mut w, "kid", &Uuid::from_bytes(d.kid).to_string());
            attr(&mut w, "systemId", &Uuid::from_bytes(d.system_id).to_string());
            w.push_str(">\n");
            // Schema order: PSSH, ContentProtectionData, URIExtXKey, HLSSignalingData.
            payload(&mut w, "PSSH", "", d.pssh.as_deref());
            let cpd = d.content_protection_data.as_deref().map(str::as_bytes);
            payload(&mut w, "ContentProtectionData", "", cpd);
            payload(&mut w, "URIExtXKey", "", d.uri_ext_x_key.as_deref().map(str::as_bytes));
            for (playlist, text) in &d.hls_signaling {
                let mut a = String::new();
                attr(&mut a, "playlist", playlist);
                payload(&mut w, "HLSSignalingData", &a, Some(text.as_bytes()));
            }
            w.push_str("    </cpix:DRMSystem>\n");
        }
        w.push_str("  </cpix:DRMSystemList>\n");
    }

    if !doc.periods.is_empty() {
        w.push_str("  <cpix:ContentKeyPeriodList>\n");
        for p in &doc.periods {
            w.push_str("    <cpix:ContentKeyPeriod");
            attr(&mut w, "id", &p.id);
            if let Some(i) = p.index {
                attr(&mut w, "index", &i.to_string());
            }
            for (name, v) in [("start", &p.start), ("end", &p.end)] {
                if let Some(v) = v {
                    attr(&mut w, name, v);
                }
            }
            w.push_str("/>\n");
        }
        w.push_str("  </cpix:ContentKeyPeriodList>\n");
    }

    if !doc.usage_rules.is_empty() {
        w.push_str("  <cpix:ContentKeyUsageRuleList>\n");
        for r in &doc.usage_rules {
            w.push_str("    <cpix:ContentKeyUsageRule");
            attr(&mut w, "kid", &Uuid::from_bytes(r.kid).to_string());
            if let Some(t) = &r.intended_track_type {
                attr(&mut w, "intendedTrackKind", t);
            }
            if r.period_ids.is_empty() {
                w.push_str("/>\n");
                continue;
            }
            w.push_str(">\n");
            for id in &r.period_ids {
                w.push_str("      <cpix:KeyPeriodFilter");
                attr(&mut w, "periodId", id);
                w.push_str("/>\n");
            }
            w.push_str("    </cpix:ContentKeyUsageRule>\n");
        }
        w.push_str("  </cpix:ContentKeyUsageRuleList>\n");
    }
    w.push_str("</cpix:CPIX>\n");
    w
}

/// ` name="value"`, escaped so that a reader gets `value` back exactly: besides markup
/// characters, tab, LF and CR become character references, which attribute-value
/// normalization would otherwise turn into spaces.
fn attr(w: &mut String, name: &str, value: &str) {
    let _ = write!(w, " {name}=\"");
    for c in value.chars() {
        match c {
            '<' => w.push_str("&lt;"),
            '>' => w.push_str("&gt;"),
            '&' => w.push_str("&amp;"),
            '"' => w.push_str("&quot;"),
            '\t' => w.push_str("&#9;"),
            '\n' => w.push_str("&#10;"),
            '\r' => w.push_str("&#13;"),
            c if xml_char(c) => w.push(c),
            _ => w.push('\u{FFFD}'),
        }
    }
    w.push('"');
}

pub(super) fn xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// `<cpix:NAME ATTRS>base64</cpix:NAME>` for a non-empty payload; nothing otherwise.
fn payload(w: &mut String, name: &str, attrs: &str, bytes: Option<&[u8]>) {
    if let Some(b) = bytes.filter(|b| !b.is_empty()) {
        let _ = writeln!(w, "      <cpix:{name}{attrs}>{}</cpix:{name}>", B64.encode(b));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{read_cpix, ContentKey, DrmSystem, KeyPeriod, UsageRule};
    use super::*;
    use crate::pssh::{parse_pssh, parse_uuid, FAIRPLAY, PLAYREADY, WIDEVINE};

    /// In the style of the DASH-IF CPIX 2.3 examples and SPEKE v2 responses: comments, foreign
    /// elements and filters to skip, wrapped base64, upper-case UUIDs, a real Widevine box.
    const SPEC_STYLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX contentId="movie-1" version="2.3" xmlns:cpix="urn:dashif:org:cpix"
    xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:speke="urn:aws:amazon:com:speke">
  <cpix:ContentKeyList>
    <cpix:ContentKey kid="5E2B7A4C-1F3D-4A6B-8C9D-0E1F2A3B4C5D" explicitIV="AAECAwQFBgcICQoLDA0ODw==" commonEncryptionScheme="cbcs">
      <cpix:Data><pskc:Secret><pskc:PlainValue>
        ABEiM0RVZneImaq7
        zN3u/w==
      </pskc:PlainValue></pskc:Secret></cpix:Data>
    </cpix:ContentKey>
    <cpix:ContentKey kid="00112233-4455-6677-8899-aabbccddeeff" explicitIV="AQIDBAUGBwg=">
      <cpix:Data><pskc:Secret><pskc:PlainValue>EBESExQVFhcYGRobHB0eHw==</pskc:PlainValue></pskc:Secret></cpix:Data>
    </cpix:ContentKey>
  </cpix:ContentKeyList>
  <cpix:DRMSystemList>
    <!-- Widevine -->
    <cpix:DRMSystem kid="5e2b7a4c-1f3d-4a6b-8c9d-0e1f2a3b4c5d" systemId="EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED">
      <cpix:PSSH>AAAAOHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAABgSEF4rekwfPUprjJ0OHyo7TF1I49yVmwY=</cpix:PSSH>
      <cpix:ContentProtectionData>PGNlbmM6cHNzaCB4bWxuczpjZW5jPSJ1cm46bXBlZzpjZW5jOjIwMTMiPkFBQUE8L2NlbmM6cHNzaD4=</cpix:ContentProtectionData>
      <speke:ProtectionHeader>ignored</speke:ProtectionHeader>
    </cpix:DRMSystem>
    <cpix:DRMSystem kid="5e2b7a4c-1f3d-4a6b-8c9d-0e1f2a3b4c5d" systemId="94ce86fb-07ff-4f43-adb8-93d2fa968ca2">
      <cpix:URIExtXKey>c2tkOi8vNWUyYjdhNGM=</cpix:URIExtXKey>
      <cpix:HLSSignalingData playlist="media">I0VYVC1YLUtFWTpNRVRIT0Q9U0FNUExFLUFFUyxVUkk9InNrZDovLzVlMmI3YTRjIixLRVlGT1JNQVQ9ImNvbS5hcHBsZS5zdHJlYW1pbmdrZXlkZWxpdmVyeSIsS0VZRk9STUFUVkVSU0lPTlM9IjEi</cpix:HLSSignalingData>
      <cpix:HLSSignalingData playlist="master">I0VYVC1YLVNFU1NJT04tS0VZOk1FVEhPRD1TQU1QTEUtQUVTLFVSST0ic2tkOi8vNWUyYjdhNGMiLEtFWUZPUk1BVD0iY29tLmFwcGxlLnN0cmVhbWluZ2tleWRlbGl2ZXJ5IixLRVlGT1JNQVRWRVJTSU9OUz0iMSI=</cpix:HLSSignalingData>
    </cpix:DRMSystem>
    <cpix:DRMSystem kid="00112233-4455-6677-8899-aabbccddeeff" systemId="9a04f079-9840-4286-ab92-e65be0885f95">
      <cpix:PSSH/><cpix:ContentProtectionData></cpix:ContentProtectionData>
    </cpix:DRMSystem>
  </cpix:DRMSystemList>
  <cpix:ContentKeyPeriodList>
    <cpix:ContentKeyPeriod id="keyPeriod_0" index="0"/>
    <cpix:ContentKeyPeriod id="keyPeriod_1" start="2026-01-01T00:00:00Z" end="2026-01-01T00:01:00Z"/>
  </cpix:ContentKeyPeriodList>
  <cpix:ContentKeyUsageRuleList>
    <cpix:ContentKeyUsageRule kid="5e2b7a4c-1f3d-4a6b-8c9d-0e1f2a3b4c5d" intendedTrackKind="VIDEO">
      <cpix:KeyPeriodFilter periodId="keyPeriod_0"/>
      <cpix:KeyPeriodFilter periodId="keyPeriod_1"/>
      <cpix:VideoFilter minPixels="0" maxPixels="921600"/>
    </cpix:ContentKeyUsageRule>
    <cpix:ContentKeyUsageRule kid="00112233-4455-6677-8899-aabbccddeeff" intendedTrackKind="AUDIO"/>
  </cpix:ContentKeyUsageRuleList>
</cpix:CPIX>
"#;

    fn kid(s: &str) -> [u8; 16] {
        parse_uuid(s).unwrap()
    }

    #[test]
    fn reads_a_spec_style_document_and_links_rules_to_periods() {
        let doc = read_cpix(SPEC_STYLE).unwrap();
        let (k1, k2) =
            (kid("5e2b7a4c1f3d4a6b8c9d0e1f2a3b4c5d"), kid("00112233445566778899aabbccddeeff"));
        assert_eq!(doc.content_id.as_deref(), Some("movie-1"));
        assert_eq!(doc.keys.len(), 2);
        assert_eq!((doc.keys[0].kid, doc.keys[0].scheme.as_deref()), (k1, Some("cbcs")));
        assert_eq!(doc.keys[0].key, kid("00112233445566778899aabbccddeeff"));
        assert_eq!(doc.keys[0].explicit_iv, Some(kid("000102030405060708090a0b0c0d0e0f")));
        // The 8-byte IV is zero-extended.
        assert_eq!(doc.keys[1].explicit_iv, Some(kid("01020304050607080000000000000000")));
        let [wv, fp, pr] = &doc.drm_systems[..] else { panic!("{:?}", doc.drm_systems) };
        assert_eq!(
            (wv.kid, wv.system_id, fp.system_id, pr.system_id),
            (k1, WIDEVINE, FAIRPLAY, PLAYREADY)
        );
        assert_eq!(parse_pssh(wv.pssh.as_deref().unwrap()).unwrap().system_id, WIDEVINE);
        assert!(wv.content_protection_data.as_deref().unwrap().starts_with("<cenc:pssh"));
        assert_eq!(fp.uri_ext_x_key.as_deref(), Some("skd://5e2b7a4c"));
        assert_eq!(
            fp.hls_signaling.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["media", "master"]
        );
        assert!(fp.hls_signaling[1].1.starts_with("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES"));
        assert_eq!(*pr, DrmSystem { kid: k2, system_id: PLAYREADY, ..DrmSystem::default() });
        assert_eq!(
            doc.periods[0],
            KeyPeriod { id: "keyPeriod_0".into(), index: Some(0), start: None, end: None }
        );
        assert_eq!(doc.periods[1].end.as_deref(), Some("2026-01-01T00:01:00Z"));
        let video = &doc.usage_rules[0];
        assert_eq!((video.kid, video.intended_track_type.as_deref()), (k1, Some("VIDEO")));
        for id in &video.period_ids {
            assert!(doc.periods.iter().any(|p| &p.id == id));
        }
        assert_eq!(video.period_ids, ["keyPeriod_0", "keyPeriod_1"]);
        assert_eq!(
            doc.usage_rules[1],
            UsageRule { kid: k2, intended_track_type: Some("AUDIO".into()), period_ids: vec![] }
        );
        // Written and read back: the same document.
        assert_eq!(read_cpix(&write_cpix(&doc)).unwrap(), doc);
    }

    #[test]
    fn default_namespace_and_other_prefixes_read_the_same() {
        let doc = read_cpix(SPEC_STYLE).unwrap();
        let renamed = SPEC_STYLE
            .replace("xmlns:cpix=", "xmlns=")
            .replace("cpix:", "")
            .replace("pskc:", "k:")
            .replace("xmlns:pskc=", "xmlns:k=");
        assert!(renamed.contains("<CPIX ") && renamed.contains("xmlns:k=\"urn:ietf"));
        assert_eq!(read_cpix(&renamed).unwrap(), doc);
    }

    #[test]
    fn mangled_documents_error_without_panicking_or_leaking() {
        let bytes = SPEC_STYLE.as_bytes();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut tried = Vec::new();
        for n in (0..bytes.len()).step_by(7) {
            tried.push(bytes[..n].to_vec());
        }
        for _ in 0..3000 {
            let mut m = bytes.to_vec();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % m.len() as u64) as usize;
                let alphabet = b"<>/\"=&;: x#Z9";
                m[i] = alphabet[(seed >> 40) as usize % alphabet.len()];
            }
            tried.push(m);
        }
        for m in tried {
            if let Ok(Err(e)) = std::str::from_utf8(&m).map(read_cpix) {
                let text = format!("{e} {e:?}");
                assert!(!text.contains("ABEiM0RVZneImaq7") && !text.contains("zN3u/w"), "{text}");
            }
        }
    }

    #[test]
    fn round_trip_is_exact_and_deterministic() {
        let awkward = "a\"b'c<d>&e\tf\ng\rh é 🎬 ]]>";
        let doc = CpixDocument {
            content_id: Some(awkward.into()),
            keys: vec![
                ContentKey {
                    kid: [1; 16],
                    key: [2; 16],
                    explicit_iv: Some([3; 16]),
                    scheme: Some("cenc".into()),
                },
                ContentKey { kid: [4; 16], key: [5; 16], explicit_iv: None, scheme: None },
            ],
            drm_systems: vec![DrmSystem {
                kid: [4; 16],
                system_id: WIDEVINE,
                pssh: Some(vec![0, 1, 2, 255]),
                content_protection_data: Some("<x a=\"1\">&amp;</x>".into()),
                hls_signaling: vec![
                    ("media".into(), awkward.into()),
                    ("master".into(), "m".into()),
                ],
                uri_ext_x_key: Some("skd://x?y=1&z=2".into()),
            }],
            periods: vec![
                KeyPeriod { id: awkward.into(), index: Some(u64::MAX), start: None, end: None },
                KeyPeriod {
                    id: "p1".into(),
                    index: None,
                    start: Some("PT0S".into()),
                    end: Some("PT60S".into()),
                },
            ],
            usage_rules: vec![
                UsageRule {
                    kid: [1; 16],
                    intended_track_type: Some("VIDEO".into()),
                    period_ids: vec![awkward.into(), "p1".into()],
                },
                UsageRule { kid: [4; 16], intended_track_type: None, period_ids: vec![] },
            ],
        };
        let xml = write_cpix(&doc);
        assert_eq!(xml, write_cpix(&doc));
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\" xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\""));
        assert_eq!(read_cpix(&xml).unwrap(), doc);
        let empty = CpixDocument::default();
        assert_eq!(read_cpix(&write_cpix(&empty)).unwrap(), empty);
        // What XML 1.0 cannot carry is replaced, keeping the output well-formed.
        let ctl = CpixDocument { content_id: Some("a\u{1}b".into()), ..CpixDocument::default() };
        assert_eq!(read_cpix(&write_cpix(&ctl)).unwrap().content_id.as_deref(), Some("a\u{FFFD}b"));
    }
}
