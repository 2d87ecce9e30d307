//! The deny-list file: the subjects the edge and the licence service refuse, as text an
//! operator can edit and `abmark analytics --suspects` writes.
//!
//! Format (UTF-8): one subject per line, exactly as tokens carry it (surrounding whitespace is
//! trimmed); empty lines and lines starting with `#` are comments (analytics writes each
//! subject's reasons as comments above it). At most [`MAX_SUBJECTS`] subjects and
//! [`MAX_SUBJECT_LEN`] bytes each, so a runaway file cannot exhaust the edge's memory.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Most subjects one file may list.
pub const MAX_SUBJECTS: usize = 1_000_000;
/// Longest subject accepted.
pub const MAX_SUBJECT_LEN: usize = 256;

/// Why a deny-list text was refused. One line, naming the line number.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DenyListError {
    #[error("line {line}: subject longer than {MAX_SUBJECT_LEN} bytes")]
    TooLong { line: usize },
    #[error("line {line}: control character in subject")]
    Control { line: usize },
    #[error("more than {MAX_SUBJECTS} subjects")]
    TooMany,
}

/// A set of denied subjects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenyList(BTreeSet<String>);

impl DenyList {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, DenyListError> {
        let mut set = BTreeSet::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.len() > MAX_SUBJECT_LEN {
                return Err(DenyListError::TooLong { line: i + 1 });
            }
            if line.chars().any(char::is_control) {
                return Err(DenyListError::Control { line: i + 1 });
            }
            set.insert(line.to_owned());
            if set.len() > MAX_SUBJECTS {
                return Err(DenyListError::TooMany);
            }
        }
        Ok(Self(set))
    }

    pub fn contains(&self, subject: &str) -> bool {
        self.0.contains(subject)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn subjects(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// One subject to write, with the reasons shown above it as comments.
pub struct DenyEntry<'a> {
    pub subject: &'a str,
    pub reasons: &'a [String],
}

/// The file's text for `entries`, under a `header` comment (each line of it prefixed `# `).
/// Subjects that could not be read back (empty, too long, control characters, a leading `#`)
/// are written as comments, so the file always parses to exactly the subjects it can deny.
pub fn render(header: &str, entries: &[DenyEntry<'_>]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    for e in entries {
        out.push('\n');
        for r in e.reasons {
            let _ = writeln!(out, "# {}", r.replace(['\n', '\r'], " "));
        }
        let subject = e.subject.trim();
        let readable = !subject.is_empty()
            && !subject.starts_with('#')
            && subject.len() <= MAX_SUBJECT_LEN
            && !subject.chars().any(char::is_control);
        if readable {
            let _ = writeln!(out, "{subject}");
        } else {
            let shown: String = subject.chars().filter(|c| !c.is_control()).take(80).collect();
            let _ = writeln!(out, "# not listed (cannot be written as a subject line): {shown}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped_and_whitespace_trimmed() {
        let list = DenyList::parse("# header\n\n alice \n#bob\ncarol\n").unwrap();
        assert_eq!(list.subjects().collect::<Vec<_>>(), ["alice", "carol"]);
        assert!(!list.contains("bob"));
    }

    #[test]
    fn bad_lines_are_named() {
        let long = "x".repeat(MAX_SUBJECT_LEN + 1);
        assert_eq!(
            DenyList::parse(&format!("a\n{long}\n")),
            Err(DenyListError::TooLong { line: 2 })
        );
        assert_eq!(DenyList::parse("a\u{7}b"), Err(DenyListError::Control { line: 1 }));
    }

    #[test]
    fn rendered_text_parses_back_to_the_listable_subjects() {
        let reasons = vec!["token used from 9 networks".to_owned(), "two\nlines".to_owned()];
        let entries = [
            DenyEntry { subject: "alice", reasons: &reasons },
            DenyEntry { subject: "#sneaky", reasons: &[] },
            DenyEntry { subject: "bob", reasons: &[] },
        ];
        let text = render("suspects of 2026-12-07\nby abmark analytics", &entries);
        let list = DenyList::parse(&text).unwrap();
        assert_eq!(list.subjects().collect::<Vec<_>>(), ["alice", "bob"]);
        assert!(text.contains("# two lines"));
    }
}
