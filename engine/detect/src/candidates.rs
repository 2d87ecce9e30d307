//! The candidate set of candidate-mode decoding: the sessions of the edge's session logs and of
//! its licence logs (a licence record names a session; the key gives its code), optionally
//! limited to subjects chosen before the copy was seen (`abmark detect --candidates FILE`, in
//! the deny-list format of [`abmark_delivery::deny`]), and the sentence that says how the set
//! was chosen, which the report carries: fewer candidates make a named session's evidence
//! stronger, so the reader must be able to check the set was not picked after the fact.
//!
//! May depend on: [`crate::load_session_log`], `abmark-delivery` (the licence record, the
//! subject-list format), the session coder.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use abmark_delivery::deny::DenyList;
use abmark_delivery::licences::LicenceRecord;
use abmark_wm::payload::{SessionCoder, CODE_BITS};

use crate::{load_session_log, Candidate, DetectError};

/// Where candidates come from, and the subject list that limits them.
#[derive(Clone, Debug, Default)]
pub struct CandidateSources<'a> {
    pub sessions: &'a [PathBuf],
    pub licences: &'a [PathBuf],
    /// The subject list's file and its parsed subjects.
    pub subjects: Option<(&'a Path, &'a DenyList)>,
}

/// The candidates and how they were chosen (one sentence for the report).
#[derive(Clone, Debug)]
pub struct CandidateSet {
    pub list: Vec<Candidate>,
    pub description: String,
}

/// Reads every log of `sources` (the same pattern twice counts once) and keeps the sessions of
/// the listed subjects, if a list is given. `None` when there is no log at all (blind mode).
pub fn gather(
    sources: &CandidateSources<'_>,
    coder: &SessionCoder,
) -> Result<Option<CandidateSet>, DetectError> {
    if sources.sessions.is_empty() && sources.licences.is_empty() {
        return Ok(None);
    }
    let mut seen = HashSet::new();
    let mut list = Vec::new();
    let mut parts = Vec::new();
    for path in sources.sessions {
        let found = load_session_log(path)?;
        parts.push(format!("session log {} ({} sessions)", name(path), found.len()));
        list.extend(found.into_iter().filter(|c| seen.insert((c.pattern.clone(), c.bits))));
    }
    for path in sources.licences {
        let found = load_licence_log(path, coder)?;
        parts.push(format!("licence log {} ({} sessions)", name(path), found.len()));
        list.extend(found.into_iter().filter(|c| seen.insert((c.pattern.clone(), c.bits))));
    }
    let mut description = parts.join(" and ");
    if let Some((path, subjects)) = sources.subjects {
        let before = list.len();
        list.retain(|c| c.subject.as_deref().is_some_and(|s| subjects.contains(s)));
        description = format!(
            "{description}: {before} sessions filtered to the {} of the {} subjects listed in {} \
             (a list chosen before the copy was seen)",
            list.len(),
            subjects.len(),
            name(path)
        );
    } else {
        description = format!("{description}: every logged session ({})", list.len());
    }
    Ok(Some(CandidateSet { list, description }))
}

/// The sessions a licence log names (any decision: a token for the session existed), each with
/// the code the key gives it.
pub fn load_licence_log(path: &Path, coder: &SessionCoder) -> Result<Vec<Candidate>, DetectError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| DetectError::Io { path: path.to_owned(), source })?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let r: LicenceRecord = serde_json::from_str(line).map_err(|e| DetectError::SessionLog {
            path: path.to_owned(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        if let Some(session) = r.session.filter(|s| seen.insert(*s)) {
            out.push(Candidate {
                session: Some(session),
                subject: r.subject,
                pattern: coder.encode(session.0).to_bytes().to_vec(),
                bits: CODE_BITS,
            });
        }
    }
    Ok(out)
}

/// A file's name for the report (its directory says nothing to the reader of a report).
fn name(path: &Path) -> String {
    path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use abmark_delivery::ids::SessionId;
    use abmark_delivery::sessions::{SessionRecord, TokenMode};
    use std::io::Write;

    #[test]
    fn logs_are_merged_and_filtered_to_the_listed_subjects() {
        let key = abmark_wm::key::WatermarkKey::from_bytes([7; 32]);
        let coder = SessionCoder::new(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sessions = dir.path().join("sessions.jsonl");
        let mut f = std::fs::File::create(&sessions).unwrap();
        for s in [1u32, 2, 3] {
            let r = SessionRecord {
                time: "2026-12-07T00:00:00Z".into(),
                session: Some(SessionId(s)),
                subject: Some(format!("user-{s}")),
                content: None,
                client: "192.0.2.1:1".into(),
                mode: TokenMode::Direct,
                pattern: hex::encode(coder.encode(s).to_bytes()),
                pattern_bits: 64,
                expires_at: 0,
            };
            writeln!(f, "{}", serde_json::to_string(&r).unwrap()).unwrap();
        }
        let licences = dir.path().join("licences.jsonl");
        std::fs::write(
            &licences,
            "{\"time\":\"t\",\"subject\":\"user-3\",\"content\":null,\"session\":3,\
             \"decision\":\"issued\",\"reason\":\"ok\",\"kids\":[],\"client\":\"c\"}\n\
             {\"time\":\"t\",\"subject\":\"user-4\",\"content\":null,\"session\":4,\
             \"decision\":\"refused\",\"reason\":\"limit\",\"kids\":[],\"client\":\"c\"}\n",
        )
        .unwrap();
        let subjects = DenyList::parse("# suspects\nuser-2\nuser-4\nnobody\n").unwrap();
        let list_path = dir.path().join("suspects.txt");
        let all = [sessions.clone()];
        let lic = [licences];
        let sources = CandidateSources { sessions: &all, licences: &lic, subjects: None };
        let set = gather(&sources, &coder).unwrap().unwrap();
        assert_eq!(set.list.len(), 4, "session 3 is in both logs and counts once");
        let sources = CandidateSources { subjects: Some((&list_path, &subjects)), ..sources };
        let set = gather(&sources, &coder).unwrap().unwrap();
        let names: Vec<_> = set.list.iter().map(|c| c.subject.clone().unwrap()).collect();
        assert_eq!(names, ["user-2", "user-4"]);
        assert!(set
            .description
            .contains("filtered to the 2 of the 3 subjects listed in suspects.txt"));
        assert!(set.description.contains("session log sessions.jsonl (3 sessions)"));
        let none = CandidateSources::default();
        assert!(gather(&none, &coder).unwrap().is_none());
    }
}
