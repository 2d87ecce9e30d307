//! Streaming a JSONL log one line at a time, so memory does not grow with the file: each line is
//! parsed into its record type (the one in `abmark_delivery`) and handed on.
//!
//! Bad lines: a line that does not parse is an error naming the file and the line, unless it is
//! the last line and has no newline (a live log caught mid-write: counted as `truncated`) or
//! the caller asked to skip bad lines (counted as `skipped`, the first one's place kept for the
//! report). Lines longer than [`MAX_LINE`] are bad lines: a record is a few hundred bytes, and a
//! runaway line must not be buffered whole.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Longest line read, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}, line {line}: {reason}", path.display())]
    BadLine { path: PathBuf, line: u64, reason: String },
}

/// What reading one log found.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct InputSummary {
    pub path: String,
    pub lines: u64,
    pub records: u64,
    /// Bad lines skipped (only with skipping asked for).
    pub skipped: u64,
    /// 1 if the last line was cut short (no newline, does not parse), else 0.
    pub truncated: u64,
    /// The first skipped line: `line N: reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_skipped: Option<String>,
}

/// Reads `input` (named `path` in errors) line by line, calling `each` with every record and
/// its 1-based line number. A record `each` refuses (a time that is not RFC 3339) is a bad line
/// with `each`'s reason.
pub fn for_each_record<T: DeserializeOwned>(
    path: &Path,
    input: impl BufRead,
    skip_bad: bool,
    mut each: impl FnMut(T, u64) -> Result<(), String>,
) -> Result<InputSummary, ReadError> {
    let mut summary = InputSummary { path: path.display().to_string(), ..Default::default() };
    let mut reader = input;
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| ReadError::Io { path: path.to_owned(), source })?;
        if n == 0 {
            break;
        }
        summary.lines += 1;
        let line_no = summary.lines;
        let complete = buf.last() == Some(&b'\n');
        let mut reason = None;
        if !complete && buf.len() > MAX_LINE {
            reason = Some(format!("line longer than {MAX_LINE} bytes"));
            // Skip the rest of the runaway line.
            skip_to_newline(&mut reader)
                .map_err(|source| ReadError::Io { path: path.to_owned(), source })?;
        }
        if reason.is_none() {
            let text = trim_ascii(&buf);
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<T>(text) {
                Ok(record) => match each(record, line_no) {
                    Ok(()) => {
                        summary.records += 1;
                        continue;
                    }
                    Err(why) => reason = Some(why),
                },
                Err(e) if !complete => {
                    // Only the last line can lack its newline: a writer caught mid-line.
                    let _ = e;
                    summary.truncated = 1;
                    continue;
                }
                Err(e) => reason = Some(e.to_string()),
            }
        }
        let reason = reason.unwrap_or_default();
        if !skip_bad {
            return Err(ReadError::BadLine { path: path.to_owned(), line: line_no, reason });
        }
        summary.skipped += 1;
        summary.first_skipped.get_or_insert_with(|| format!("line {line_no}: {reason}"));
    }
    Ok(summary)
}

fn skip_to_newline(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let (found, used) = {
            let available = reader.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            match available.iter().position(|b| *b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, available.len()),
            }
        };
        reader.consume(used);
        if found {
            return Ok(());
        }
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct N {
        n: u32,
    }

    fn read(text: &str, skip: bool) -> Result<(Vec<(u32, u64)>, InputSummary), ReadError> {
        let mut got = Vec::new();
        let s = for_each_record::<N>(Path::new("log"), text.as_bytes(), skip, |r, l| {
            got.push((r.n, l));
            Ok(())
        })?;
        Ok((got, s))
    }

    #[test]
    fn records_come_with_their_line_numbers_and_blank_lines_are_skipped() {
        let (got, s) = read("{\"n\":1}\n\n{\"n\":2}\n", false).unwrap();
        assert_eq!(got, [(1, 1), (2, 3)]);
        assert_eq!((s.lines, s.records, s.skipped, s.truncated), (3, 2, 0, 0));
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let err = read("{\"n\":1}\nnot json\n{\"n\":2}\n", false).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("log, line 2: "), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn a_cut_last_line_is_counted_not_fatal() {
        let (got, s) = read("{\"n\":1}\n{\"n\":", false).unwrap();
        assert_eq!(got, [(1, 1)]);
        assert_eq!(s.truncated, 1);
    }

    #[test]
    fn skipping_counts_and_remembers_the_first() {
        let (got, s) = read("x\n{\"n\":1}\ny\n", true).unwrap();
        assert_eq!(got, [(1, 2)]);
        assert_eq!(s.skipped, 2);
        assert!(s.first_skipped.unwrap().starts_with("line 1: "));
    }

    #[test]
    fn runaway_lines_are_bad_lines_and_reading_goes_on() {
        let long = format!("{{\"n\":{}}}\n{{\"n\":3}}\n", "1".repeat(MAX_LINE + 10));
        let err = read(&long, false).unwrap_err().to_string();
        assert!(err.contains("longer than"), "{err}");
        let (got, s) = read(&long, true).unwrap();
        assert_eq!(got, [(3, 2)]);
        assert_eq!(s.skipped, 1);
    }
}
