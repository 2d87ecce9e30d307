use super::*;

const KID: Kid = Kid::from_bytes(uuid::uuid!("5e2b7a4c-1f3d-4a6b-8c9d-0e1f2a3b4c5d").into_bytes());
const KID2: Kid = Kid::from_bytes(uuid::uuid!("00112233-4455-6677-8899-aabbccddeeff").into_bytes());
// Written by Shaka Packager v3.8.0 (raw key, this KID) into init.mp4 for cenc and cbcs.
const SHAKA_WV_CENC: &str = "000000387073736800000000edef8ba979d64acea3c827dcd51d21ed000000181210\
                             5e2b7a4c1f3d4a6b8c9d0e1f2a3b4c5d48e3dc959b06";
const SHAKA_WV_CBCS_TAIL: &str = "48f3c6899b06";
// Shaka's PlayReady boxes: cbcs uses a v4.3 header (ours byte for byte), cenc a v4.0 header
// with KEYLEN/ALGID/KID/CHECKSUM.
const SHAKA_PR_CBCS: &str = "AAAB3nBzc2gAAAAAmgTweZhAQoarkuZb4IhflQAAAb6+AQAAAQABALQBPABXAFIATQBIAEUAQQBEAEUAUgAgAHgAbQBsAG4AcwA9ACIAaAB0AHQAcAA6AC8ALwBzAGMAaABlAG0AYQBzAC4AbQBpAGMAcgBvAHMAbwBmAHQALgBjAG8AbQAvAEQAUgBNAC8AMgAwADAANwAvADAAMwAvAFAAbABhAHkAUgBlAGEAZAB5AEgAZQBhAGQAZQByACIAIAB2AGUAcgBzAGkAbwBuAD0AIgA0AC4AMwAuADAALgAwACIAPgA8AEQAQQBUAEEAPgA8AFAAUgBPAFQARQBDAFQASQBOAEYATwA+ADwASwBJAEQAUwA+ADwASwBJAEQAIABBAEwARwBJAEQAPQAiAEEARQBTAEMAQgBDACIAIABWAEEATABVAEUAPQAiAFQASABvAHIAWABqADAAZgBhADAAcQBNAG4AUQA0AGYASwBqAHQATQBYAFEAPQA9ACIAPgA8AC8ASwBJAEQAPgA8AC8ASwBJAEQAUwA+ADwALwBQAFIATwBUAEUAQwBUAEkATgBGAE8APgA8AC8ARABBAFQAQQA+ADwALwBXAFIATQBIAEUAQQBEAEUAUgA+AA==";
const SHAKA_PR_CENC: &str = "AAACJnBzc2gAAAAAmgTweZhAQoarkuZb4IhflQAAAgYGAgAAAQABAPwBPABXAFIATQBIAEUAQQBEAEUAUgAgAHgAbQBsAG4AcwA9ACIAaAB0AHQAcAA6AC8ALwBzAGMAaABlAG0AYQBzAC4AbQBpAGMAcgBvAHMAbwBmAHQALgBjAG8AbQAvAEQAUgBNAC8AMgAwADAANwAvADAAMwAvAFAAbABhAHkAUgBlAGEAZAB5AEgAZQBhAGQAZQByACIAIAB2AGUAcgBzAGkAbwBuAD0AIgA0AC4AMAAuADAALgAwACIAPgA8AEQAQQBUAEEAPgA8AFAAUgBPAFQARQBDAFQASQBOAEYATwA+ADwASwBFAFkATABFAE4APgAxADYAPAAvAEsARQBZAEwARQBOAD4APABBAEwARwBJAEQAPgBBAEUAUwBDAFQAUgA8AC8AQQBMAEcASQBEAD4APAAvAFAAUgBPAFQARQBDAFQASQBOAEYATwA+ADwASwBJAEQAPgBUAEgAbwByAFgAagAwAGYAYQAwAHEATQBuAFEANABmAEsAagB0AE0AWABRAD0APQA8AC8ASwBJAEQAPgA8AEMASABFAEMASwBTAFUATQA+AEkANwB1ADMAcwBzADEAZwBRAFAAawA9ADwALwBDAEgARQBDAEsAUwBVAE0APgA8AC8ARABBAFQAQQA+ADwALwBXAFIATQBIAEUAQQBEAEUAUgA+AA==";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn widevine_data_matches_shaka() {
    let shaka = parse_pssh(&unhex(SHAKA_WV_CENC)).unwrap();
    assert_eq!((shaka.version, shaka.system_id), (0, WIDEVINE));
    assert_eq!(widevine_pssh_data(&[KID], None, *b"cenc"), shaka.data);
    // Shaka writes version 0 (no KID list); the same data in a v0 box is its box exactly.
    assert_eq!(pssh_box(&WIDEVINE, &[], &shaka.data), unhex(SHAKA_WV_CENC));
    let cbcs = widevine_pssh_data(&[KID], None, *b"cbcs");
    assert!(cbcs.ends_with(&unhex(SHAKA_WV_CBCS_TAIL)));
    let wd = parse_widevine_data(&shaka.data).unwrap();
    assert_eq!(
        (wd.key_ids, wd.content_id, wd.protection_scheme),
        (vec![KID], None, Some(*b"cenc"))
    );
}

#[test]
fn playready_matches_shaka_cbcs_and_reads_v40() {
    let shaka = parse_pssh(&B64.decode(SHAKA_PR_CBCS).unwrap()).unwrap();
    assert_eq!(shaka.system_id, PLAYREADY);
    assert_eq!(playready_object(&[KID], None, *b"cbcs"), shaka.data);
    let v40 = parse_pssh(&B64.decode(SHAKA_PR_CENC).unwrap()).unwrap();
    assert_eq!(parse_playready_kids(&v40.data).unwrap(), vec![KID]);
}

#[test]
fn round_trips() {
    let data = widevine_pssh_data(&[KID, KID2], Some(b"movie-1"), *b"cbcs");
    let boxed = pssh_box(&WIDEVINE, &[KID, KID2], &data);
    let p = parse_pssh(&boxed).unwrap();
    assert_eq!(p, Pssh { version: 1, system_id: WIDEVINE, key_ids: vec![KID, KID2], data });
    let wd = parse_widevine_data(&p.data).unwrap();
    assert_eq!(wd.key_ids, vec![KID, KID2]);
    assert_eq!(wd.content_id.as_deref(), Some(&b"movie-1"[..]));
    assert_eq!(wd.protection_scheme, Some(*b"cbcs"));
    let pro = playready_object(&[KID, KID2], Some("https://lic.example/?a=1&b=<2>"), *b"cenc");
    assert_eq!(parse_playready_kids(&pro).unwrap(), vec![KID, KID2]);
    let xml = String::from_utf16(
        &pro[10..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(xml.contains("ALGID=\"AESCTR\"") && xml.contains("a=1&amp;b=&lt;2&gt;</LA_URL>"));
    // W3C common format: v1, KIDs only.
    assert_eq!(parse_pssh(&pssh_box(&CLEARKEY, &[KID], &[])).unwrap().key_ids, vec![KID]);
}

#[test]
fn uuids() {
    assert_eq!(
        uuid::Uuid::from_bytes(WIDEVINE).to_string(),
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
    );
    assert_eq!(parse_uuid("EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED").unwrap(), WIDEVINE);
    assert_eq!(parse_uuid("9a04f07998404286ab92e65be0885f95").unwrap(), PLAYREADY);
    assert_eq!(WIDEVINE, *b"\xed\xef\x8b\xa9\x79\xd6\x4a\xce\xa3\xc8\x27\xdc\xd5\x1d\x21\xed");
    assert_eq!(
        uuid::Uuid::from_bytes(FAIRPLAY).to_string(),
        "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"
    );
    assert_eq!(
        uuid::Uuid::from_bytes(CLEARKEY).to_string(),
        "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"
    );
    for bad in [
        "",
        "edef8ba979d64acea3c827dcd51d21e",
        "edef8ba9-79d64-ace-a3c8-27dcd51d21ed",
        "gdef8ba979d64acea3c827dcd51d21ed",
        "édef8ba979d64acea3c827dcd51d21e",
        " edef8ba979d64acea3c827dcd51d21ed",
    ] {
        assert!(matches!(parse_uuid(bad), Err(PsshError::BadUuid { .. })), "{bad}");
    }
}

#[test]
fn malformed_pssh_is_refused() {
    let good = pssh_box(&WIDEVINE, &[KID], b"xy");
    for n in 0..good.len() {
        assert!(parse_pssh(&good[..n]).is_err(), "prefix {n}");
    }
    let mut b = good.clone();
    b[4] = b'x';
    assert!(parse_pssh(&b).is_err());
    let mut b = good.clone();
    b[8] = 2; // version
    assert!(parse_pssh(&b).is_err());
    let mut b = good.clone();
    b[28..32].copy_from_slice(&u32::MAX.to_be_bytes()); // KID count
    assert!(parse_pssh(&b).is_err());
    let mut b = good.clone();
    b.push(0);
    b[3] += 1; // size covers a trailing byte the DataSize does not
    assert!(parse_pssh(&b).is_err());
}

#[test]
fn malformed_widevine_and_playready_are_refused() {
    let cases: [&[u8]; 6] =
        [&[0x12, 0x03, 1, 2, 3], &[0x12, 0x10], &[0x48; 11], &[0x00, 0x01], &[0x13], &[0x4a, 0x00]];
    for c in cases {
        assert!(parse_widevine_data(c).is_err(), "{c:?}");
    }
    // Unknown fields of every skippable wire type are passed over.
    let mut d = vec![0x08, 0x01, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 0x01, b'p', 0x3d, 0, 0, 0, 0];
    d.extend(widevine_pssh_data(&[KID], None, *b"cenc"));
    assert_eq!(parse_widevine_data(&d).unwrap().key_ids, vec![KID]);
    let pro = playready_object(&[KID], None, *b"cenc");
    for n in 0..pro.len() {
        assert!(parse_playready_kids(&pro[..n]).is_err(), "prefix {n}");
    }
    let mut odd = pro.clone();
    odd[0] += 1;
    odd.push(0);
    assert!(parse_playready_kids(&odd).is_err());
}
