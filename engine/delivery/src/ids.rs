//! The identifiers that cross the delivery chain, as types: a content key id ([`Kid`]), a title
//! ([`ContentId`]) and a viewer's watermark session ([`SessionId`]). The packager, the
//! manifests, the edge, the licence service and detection all pass these around; a type each
//! keeps a KID from being taken for a key or an IV, and a session index for a segment count.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A content key id (KID): 16 public bytes, written into `tenc`, PSSH boxes, manifests and
/// licence requests. Shown as an RFC 4122 UUID; stored in job files as its 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kid([u8; 16]);

impl Kid {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Kid(bytes)
    }

    /// The 16 bytes, big-endian UUID order.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Lowercase hex without dashes (CPIX, logs).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The RFC 4122 spelling, 8-4-4-4-12 lowercase hex.
    pub fn uuid(&self) -> String {
        uuid::Uuid::from_bytes(self.0).to_string()
    }

    /// A KID from 32 hex digits, with or without the 8-4-4-4-12 dashes; `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let plain = text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
        let dashed = text.len() == 36 && text.parse::<uuid::Uuid>().is_ok();
        if !(plain || dashed) {
            return None;
        }
        text.parse::<uuid::Uuid>().ok().map(|u| Kid(u.into_bytes()))
    }
}

impl From<[u8; 16]> for Kid {
    fn from(bytes: [u8; 16]) -> Self {
        Kid(bytes)
    }
}

impl AsRef<[u8]> for Kid {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uuid())
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({self})")
    }
}

/// A title's id as the operator names it (`serve --content`, the tokens' content claim, the
/// logs). Checked when made: 1 to [`ContentId::MAX_LEN`] bytes of printable ASCII without
/// spaces, so it can go into a log line, a URL or a header unescaped.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentId(String);

impl ContentId {
    /// Longest content id accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(IdError::ContentLength(id.len()));
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(IdError::ContentCharacters);
        }
        Ok(ContentId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContentId {
    type Error = IdError;
    fn try_from(id: String) -> Result<Self, IdError> {
        ContentId::new(id)
    }
}

impl From<ContentId> for String {
    fn from(id: ContentId) -> String {
        id.0
    }
}

impl std::str::FromStr for ContentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        ContentId::new(s)
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({})", self.0)
    }
}

/// A viewer's watermark session: the index the session code (`abmark_wm::payload`) turns into
/// the viewer's 64-bit A/B pattern. Written as the plain number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u32);

impl SessionId {
    pub const fn index(self) -> u32 {
        self.0
    }
}

impl From<u32> for SessionId {
    fn from(index: u32) -> Self {
        SessionId(index)
    }
}

impl std::str::FromStr for SessionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        s.trim().parse::<u32>().map(SessionId).map_err(|_| IdError::Session)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

/// Why an id was refused. The message does not repeat the value (it may be hostile input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a content id is 1 to {max} bytes; this one has {0}", max = ContentId::MAX_LEN)]
    ContentLength(usize),
    #[error("a content id is printable ASCII without spaces")]
    ContentCharacters,
    #[error("a session id is a number from 0 to 4294967295")]
    Session,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_read_both_spellings_and_show_as_uuids() {
        let k = Kid::parse("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(Kid::parse("00112233445566778899AABBCCDDEEFF"), Some(k));
        assert_eq!(k.to_string(), "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(k.hex(), "00112233445566778899aabbccddeeff");
        assert_eq!(k.as_bytes()[15], 0xff);
        for bad in
            ["", "0011", "00112233-4455-6677-8899-aabbccddeef", "g0112233445566778899aabbccddeeff"]
        {
            assert_eq!(Kid::parse(bad), None, "{bad}");
        }
        // Stored as the 16 bytes, as job.json always had them.
        let json = serde_json::to_string(&Kid::from_bytes([1; 16])).unwrap();
        assert_eq!(json, format!("[{}]", ["1"; 16].join(",")));
    }

    #[test]
    fn content_ids_are_bounded_and_printable() {
        assert_eq!(ContentId::new("film-1").unwrap().as_str(), "film-1");
        assert!(ContentId::new("").is_err());
        assert!(ContentId::new("a".repeat(ContentId::MAX_LEN + 1)).is_err());
        assert!(ContentId::new("two words").is_err());
        assert!(ContentId::new("line\nbreak").is_err());
        assert!(serde_json::from_str::<ContentId>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&ContentId::new("x").unwrap()).unwrap(), "\"x\"");
    }

    #[test]
    fn session_ids_are_u32_numbers() {
        assert_eq!("424242".parse::<SessionId>(), Ok(SessionId(424242)));
        assert!("-1".parse::<SessionId>().is_err());
        assert!("4294967296".parse::<SessionId>().is_err());
        assert_eq!(serde_json::to_string(&SessionId(7)).unwrap(), "7");
    }
}
