//! Protection System Specific Header ('pssh') boxes (ISO/IEC 23001-7, 8.1) and the system-specific
//! data we put inside them: the Widevine `WidevinePsshData` protobuf and the PlayReady Object
//! (PRO) holding a v4.3.0.0 WRMHEADER. Also owns the DRM system ids and which UUID spellings a key
//! id may be read from ([`parse_uuid`]); writing one is `uuid::Uuid`'s `Display`. Builders trust their
//! (our own) input; parsers take untrusted bytes and never panic on them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

pub use abmark_delivery::ids::Kid;
/// A DRM system id (the `SystemID` of a 'pssh' box), big-endian UUID bytes.
pub type SystemId = [u8; 16];

/// Widevine, edef8ba9-79d6-4ace-a3c8-27dcd51d21ed.
pub const WIDEVINE: SystemId = uuid::uuid!("edef8ba9-79d6-4ace-a3c8-27dcd51d21ed").into_bytes();
/// PlayReady, 9a04f079-9840-4286-ab92-e65be0885f95.
pub const PLAYREADY: SystemId = uuid::uuid!("9a04f079-9840-4286-ab92-e65be0885f95").into_bytes();
/// W3C Common PSSH box format (ClearKey), 1077efec-c0b2-4d02-ace3-3c1e52e2fb4b: a version 1 box
/// whose KID list is the whole message and whose data is empty.
pub const CLEARKEY: SystemId = uuid::uuid!("1077efec-c0b2-4d02-ace3-3c1e52e2fb4b").into_bytes();
/// DASH-IF's ClearKey scheme (IOP 7.7.6), e2719d58-a985-b3c9-781a-b030af78d30e: how an MPD
/// signals ClearKey with a `dashif:Laurl` and the keys named by `cenc:default_KID`. No PSSH
/// uses it; it exists for `ContentProtection@schemeIdUri`.
pub const DASHIF_CLEARKEY: SystemId =
    uuid::uuid!("e2719d58-a985-b3c9-781a-b030af78d30e").into_bytes();
/// FairPlay Streaming, 94ce86fb-07ff-4f43-adb8-93d2fa968ca2. FairPlay is signalled in HLS
/// (`EXT-X-KEY`), so it needs no 'pssh' box; the id is here for CPIX `DRMSystem` matching.
pub const FAIRPLAY: SystemId = uuid::uuid!("94ce86fb-07ff-4f43-adb8-93d2fa968ca2").into_bytes();

/// Why a 'pssh' box, Widevine data, PlayReady Object or UUID could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PsshError {
    /// The input ended inside a field.
    #[error("{what}: truncated at byte {at}")]
    Truncated { what: &'static str, at: usize },
    /// A structural check failed (type, size, counts, wire types...).
    #[error("{what}: {why}")]
    Malformed { what: &'static str, why: String },
    /// A UUID was not 32 hex digits with optional 8-4-4-4-12 dashes.
    #[error(
        "not a UUID: expected 32 hex digits, optionally dashed 8-4-4-4-12 ({len} chars given)"
    )]
    BadUuid { len: usize },
}

fn bad(what: &'static str, why: impl Into<String>) -> PsshError {
    PsshError::Malformed { what, why: why.into() }
}

/// A parsed 'pssh' box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pssh {
    /// Full-box version: 0 (no KID list) or 1 (KID list present).
    pub version: u8,
    /// The DRM system the data is for.
    pub system_id: SystemId,
    /// KIDs listed in the box header (version 1 only).
    pub key_ids: Vec<Kid>,
    /// The system-specific data, opaque at this level.
    pub data: Vec<u8>,
}

/// Build a complete 'pssh' box. Version 1 (with the KID list, which players and the W3C common
/// format use to match keys without understanding `data`) when `key_ids` is non-empty, else 0.
///
/// # Panics
/// If the box would exceed the 4 GiB a 32-bit box size can express (real pssh boxes are KiB).
pub fn pssh_box(system_id: &SystemId, key_ids: &[Kid], data: &[u8]) -> Vec<u8> {
    let kid_part = if key_ids.is_empty() { 0 } else { 4 + 16 * key_ids.len() };
    let size = 8 + 4 + 16 + kid_part + 4 + data.len();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&to_u32(size).to_be_bytes());
    out.extend_from_slice(b"pssh");
    out.extend_from_slice(&[u8::from(!key_ids.is_empty()), 0, 0, 0]);
    out.extend_from_slice(system_id);
    if !key_ids.is_empty() {
        out.extend_from_slice(&to_u32(key_ids.len()).to_be_bytes());
        key_ids.iter().for_each(|k| out.extend_from_slice(k.as_bytes()));
    }
    out.extend_from_slice(&to_u32(data.len()).to_be_bytes());
    out.extend_from_slice(data);
    out
}

fn to_u32(n: usize) -> u32 {
    // Builder input is ours and tiny; a box this large is a caller bug, not a data condition.
    u32::try_from(n).unwrap_or_else(|_| panic!("pssh box field of {n} bytes exceeds 32 bits"))
}

/// Parse exactly one complete 'pssh' box (compact 32-bit size) and check every length in it.
pub fn parse_pssh(bytes: &[u8]) -> Result<Pssh, PsshError> {
    const W: &str = "pssh box";
    let mut r = Cursor { b: bytes, at: 0, what: W };
    let size = r.u32be()? as usize;
    if r.take(4)? != b"pssh" {
        return Err(bad(W, "box type is not 'pssh'"));
    }
    if size != bytes.len() {
        return Err(bad(W, format!("box size {size} but {} bytes given", bytes.len())));
    }
    let version = r.take(4)?[0];
    if version > 1 {
        return Err(bad(W, format!("unsupported version {version}")));
    }
    let system_id = r.array16()?;
    let mut key_ids = Vec::new();
    if version == 1 {
        let count = r.u32be()? as usize;
        // Check against what is left before allocating: the count is untrusted.
        if count > r.left() / 16 {
            return Err(bad(W, format!("KID count {count} exceeds the box")));
        }
        for _ in 0..count {
            key_ids.push(Kid::from_bytes(r.array16()?));
        }
    }
    let data_size = r.u32be()? as usize;
    if data_size != r.left() {
        return Err(bad(W, format!("DataSize {data_size} but {} bytes remain", r.left())));
    }
    Ok(Pssh { version, system_id, key_ids, data: r.take(data_size)?.to_vec() })
}

/// A bounds-checked reader over untrusted bytes.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.at
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], PsshError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or(PsshError::Truncated { what: self.what, at: self.at })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array16(&mut self) -> Result<[u8; 16], PsshError> {
        let mut a = [0; 16];
        a.copy_from_slice(self.take(16)?);
        Ok(a)
    }
    fn u32be(&mut self) -> Result<u32, PsshError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u16le(&mut self) -> Result<u16, PsshError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn varint(&mut self) -> Result<u64, PsshError> {
        let mut v = 0u64;
        for i in 0..10 {
            let byte = self.take(1)?[0];
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad(self.what, "varint longer than 10 bytes"))
    }
}

/// Build a `WidevinePsshData` protobuf: `key_id` (field 2, one per KID), `content_id` (field 4)
/// and `protection_scheme` (field 9, the fourcc as a big-endian uint32). Fields are in field
/// number order, as protobuf serializers emit them; deprecated fields (algorithm, provider,
/// policy) are not written. For one KID and no content id this equals Shaka Packager's output.
pub fn widevine_pssh_data(key_ids: &[Kid], content_id: Option<&[u8]>, scheme: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    for kid in key_ids {
        put_bytes_field(&mut out, 2, kid.as_bytes());
    }
    if let Some(cid) = content_id {
        put_bytes_field(&mut out, 4, cid);
    }
    out.push(9 << 3); // field 9, wire type 0 (varint)
    put_varint(&mut out, u64::from(u32::from_be_bytes(scheme)));
    out
}

fn put_bytes_field(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The fields of a `WidevinePsshData` we care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidevineData {
    /// `key_id` entries (field 2), each required to be 16 bytes.
    pub key_ids: Vec<Kid>,
    /// `content_id` (field 4), if present.
    pub content_id: Option<Vec<u8>>,
    /// `protection_scheme` (field 9) as a fourcc, if present (absent means 'cenc').
    pub protection_scheme: Option<[u8; 4]>,
}

/// Read a `WidevinePsshData` protobuf, skipping unknown fields by wire type so that boxes from
/// other packagers (with provider, policy, crypto_period_index...) still parse.
pub fn parse_widevine_data(data: &[u8]) -> Result<WidevineData, PsshError> {
    const W: &str = "Widevine pssh data";
    let mut r = Cursor { b: data, at: 0, what: W };
    let mut wd = WidevineData { key_ids: Vec::new(), content_id: None, protection_scheme: None };
    while r.left() > 0 {
        let tag = r.varint()?;
        let (field, wire) = (tag >> 3, tag & 7);
        match (field, wire) {
            (0, _) => return Err(bad(W, "field number 0")),
            (2, 2) => {
                let kid = len_delimited(&mut r)?;
                let kid = <[u8; 16]>::try_from(kid)
                    .map_err(|_| bad(W, format!("key_id of {} bytes, expected 16", kid.len())))?;
                wd.key_ids.push(Kid::from_bytes(kid));
            }
            (4, 2) => wd.content_id = Some(len_delimited(&mut r)?.to_vec()),
            (9, 0) => {
                let v = r.varint()?;
                let v =
                    u32::try_from(v).map_err(|_| bad(W, "protection_scheme exceeds 32 bits"))?;
                wd.protection_scheme = Some(v.to_be_bytes());
            }
            (2 | 4 | 9, _) => return Err(bad(W, format!("field {field} has wire type {wire}"))),
            (_, 0) => _ = r.varint()?,
            (_, 1) => _ = r.take(8)?,
            (_, 2) => _ = len_delimited(&mut r)?,
            (_, 5) => _ = r.take(4)?,
            _ => return Err(bad(W, format!("field {field} has unsupported wire type {wire}"))),
        }
    }
    Ok(wd)
}

fn len_delimited<'a>(r: &mut Cursor<'a>) -> Result<&'a [u8], PsshError> {
    let n = r.varint()?;
    let n = usize::try_from(n).map_err(|_| bad(r.what, "length overflows"))?;
    r.take(n)
}

/// Build a PlayReady Object with one WRM header record (type 1) holding a v4.3.0.0 WRMHEADER
/// that lists every KID with its ALGID: `AESCBC` for 'cbcs'/'cbc1', `AESCTR` otherwise. v4.3 is
/// the header version that can carry several KIDs and CBC; it omits the optional CHECKSUM (which
/// would need the key). `la_url` is XML-escaped into `LA_URL` when given.
///
/// # Panics
/// If the header exceeds the 64 KiB a PRO record can hold (hundreds of KIDs).
pub fn playready_object(key_ids: &[Kid], la_url: Option<&str>, scheme: [u8; 4]) -> Vec<u8> {
    let algid = if matches!(&scheme, b"cbcs" | b"cbc1") { "AESCBC" } else { "AESCTR" };
    let mut xml = String::from(
        "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" \
         version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS>",
    );
    for kid in key_ids {
        // PlayReady writes KIDs as Microsoft GUIDs: the first three fields little-endian.
        let value = B64.encode(uuid::Uuid::from_bytes(*kid.as_bytes()).to_bytes_le());
        xml.push_str(&format!("<KID ALGID=\"{algid}\" VALUE=\"{value}\"></KID>"));
    }
    xml.push_str("</KIDS></PROTECTINFO>");
    if let Some(url) = la_url {
        xml.push_str(&format!("<LA_URL>{}</LA_URL>", quick_xml::escape::escape(url)));
    }
    xml.push_str("</DATA></WRMHEADER>");
    let record: Vec<u8> = xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let record_len = u16::try_from(record.len())
        .unwrap_or_else(|_| panic!("WRMHEADER of {} bytes exceeds a PRO record", record.len()));
    let mut out = Vec::with_capacity(10 + record.len());
    out.extend_from_slice(&to_u32(10 + record.len()).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // record count
    out.extend_from_slice(&1u16.to_le_bytes()); // record type 1: rights management header
    out.extend_from_slice(&record_len.to_le_bytes());
    out.extend_from_slice(&record);
    out
}

/// The KIDs of every WRM header record in a PlayReady Object, in order. Reads both the v4.0
/// `<KID>base64</KID>` form and the v4.1+ `<KID VALUE="base64">` form; returns big-endian KIDs.
pub fn parse_playready_kids(pro: &[u8]) -> Result<Vec<Kid>, PsshError> {
    const W: &str = "PlayReady Object";
    let mut r = Cursor { b: pro, at: 0, what: W };
    let total = r.take(4)?;
    let total = u32::from_le_bytes([total[0], total[1], total[2], total[3]]) as usize;
    if total != pro.len() {
        return Err(bad(W, format!("length field {total} but {} bytes given", pro.len())));
    }
    let count = r.u16le()?;
    let mut kids = Vec::new();
    for _ in 0..count {
        let rtype = r.u16le()?;
        let len = r.u16le()? as usize;
        let value = r.take(len)?;
        if rtype == 1 {
            kids.extend(wrm_header_kids(value)?);
        }
    }
    if r.left() != 0 {
        return Err(bad(W, format!("{} bytes after the last record", r.left())));
    }
    Ok(kids)
}

fn wrm_header_kids(utf16: &[u8]) -> Result<Vec<Kid>, PsshError> {
    use quick_xml::events::Event;
    const W: &str = "WRMHEADER";
    if !utf16.len().is_multiple_of(2) {
        return Err(bad(W, "odd UTF-16 byte length"));
    }
    let units = utf16.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    let xml = char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| bad(W, "invalid UTF-16"))?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut kids, mut in_kid, mut text) = (Vec::new(), false, String::new());
    loop {
        let ev = reader.read_event().map_err(|e| bad(W, format!("XML: {e}")))?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "KID" => {
                let value = e.attributes().flatten().find(|a| a.key.as_ref() == "VALUE");
                match value {
                    Some(a) => kids.push(kid_from_b64(&a.value)?),
                    None if empty => return Err(bad(W, "empty KID element without VALUE")),
                    None => (in_kid, text) = (true, String::new()),
                }
            }
            Event::Text(t) if in_kid => text.push_str(&t),
            Event::End(e) if e.local_name().as_ref() == "KID" && in_kid => {
                kids.push(kid_from_b64(&text)?);
                in_kid = false;
            }
            Event::Eof => return Ok(kids),
            _ => {}
        }
    }
}

fn kid_from_b64(s: &str) -> Result<Kid, PsshError> {
    let raw = B64.decode(s.trim()).map_err(|_| bad("WRMHEADER", "KID is not valid base64"))?;
    let g = <[u8; 16]>::try_from(raw.as_slice())
        .map_err(|_| bad("WRMHEADER", format!("KID of {} bytes, expected 16", raw.len())))?;
    Ok(Kid::from_bytes(uuid::Uuid::from_bytes_le(g).into_bytes()))
}

/// Parse a UUID written as 32 hex digits, either plain or dashed 8-4-4-4-12, in any case (the
/// braced and `urn:uuid:` forms that `uuid` also reads are no key-id spelling CPIX uses).
pub fn parse_uuid(s: &str) -> Result<[u8; 16], PsshError> {
    let err = || PsshError::BadUuid { len: s.chars().count() };
    if !matches!(s.len(), 32 | 36) {
        return Err(err());
    }
    uuid::Uuid::try_parse(s).map(uuid::Uuid::into_bytes).map_err(|_| err())
}

#[cfg(test)]
mod tests;
