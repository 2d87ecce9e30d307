//! One pass over the three logs, keeping a small fixed-size state per session and per subject
//! (never per line): where a token was used from and when, which segments a session fetched,
//! in which renditions and how fast, and each subject's licence requests and refusals. Memory
//! grows with the number of sessions and subjects, not with the number of lines.
//!
//! Lines are expected in time order within each file (as the edge appends them); the "at once"
//! windows are measured on one log only ([`Concurrency`]).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use abmark_delivery::access::{AccessRecord, RequestKind};
use abmark_delivery::licences::{Decision, LicenceRecord};
use abmark_delivery::sessions::SessionRecord;

use crate::clock::parse_ms;
use crate::network::{fnv, keys};
use crate::read::{for_each_record, InputSummary, ReadError};
use crate::window::{AtOnce, Burst, Distinct, Fastest, Gaps};

/// Two sightings this close (ms) are "at once": a player fetches a segment every few seconds,
/// so every place a token is in use shows up within a minute.
pub const AT_ONCE_MS: i64 = 60_000;
/// The window of a licence burst (ms).
pub const LICENCE_BURST_MS: i64 = 10 * 60_000;
/// A pause longer than this (ms) ends a stretch of non-stop fetching.
pub const STRETCH_GAP_MS: i64 = 5 * 60_000;
/// Segment numbers above this are counted but not mapped (coverage, ladder): no title has a
/// million segments, and the bitmaps must stay bounded.
const MAX_MAPPED_SEGMENT: u64 = 1 << 20;
/// Renditions mapped per session (a ladder has a handful).
const MAX_RENDITIONS: usize = 16;

/// A session: one watermark session of one title.
pub type SessionKey = (u32, u32);
/// Content index for records without a content id.
pub const NO_CONTENT: u32 = u32::MAX;

/// Whether a licence refusal was the stream limit, from the reason the licence service logs
/// (`Refusal::reason` in `abmark_edge::licence::service`: "concurrent stream limit: A of L
/// streams active", or "this licence token is in use by another player"), or its code.
pub fn is_stream_limit(reason: &str) -> bool {
    reason.starts_with("concurrent stream limit")
        || reason.contains("in use by another player")
        || reason == "stream-limit"
}

/// A growable bitmap of segment numbers.
#[derive(Clone, Debug, Default)]
pub struct Bits(Vec<u64>);

impl Bits {
    /// Sets `i`; true if it was not set.
    fn insert(&mut self, i: u64) -> bool {
        let (word, bit) = ((i / 64) as usize, i % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        let was = self.0[word] & (1 << bit) != 0;
        self.0[word] |= 1 << bit;
        !was
    }
}

/// What one session did.
#[derive(Debug)]
pub struct SessionState {
    pub subject: Option<u32>,
    pub first_ms: i64,
    pub last_ms: i64,
    pub requests: u64,
    pub addresses: Distinct,
    pub networks: Distinct,
    pub agents: Distinct,
    pub at_once: AtOnce,
    pub segment_requests: u64,
    /// Distinct segment numbers fetched.
    pub new_segments: u64,
    /// Distinct (segment, rendition) pairs fetched.
    pub pairs: u64,
    /// New segments that followed the previous new one directly (n, n + 1).
    pub in_order: u64,
    pub max_segment: u64,
    pub fastest: Option<Fastest>,
    pub gaps: Gaps,
    seen: Bits,
    renditions: Vec<(u64, Bits)>,
    last_new: Option<u64>,
    last_segment_ms: Option<i64>,
}

impl SessionState {
    fn new(t: i64) -> Self {
        SessionState {
            subject: None,
            first_ms: t,
            last_ms: t,
            requests: 0,
            addresses: Distinct::default(),
            networks: Distinct::default(),
            agents: Distinct::default(),
            at_once: AtOnce::default(),
            segment_requests: 0,
            new_segments: 0,
            pairs: 0,
            in_order: 0,
            max_segment: 0,
            fastest: None,
            gaps: Gaps::default(),
            seen: Bits::default(),
            renditions: Vec::new(),
            last_new: None,
            last_segment_ms: None,
        }
    }

    fn sighting(&mut self, t: i64, client: &str, at_once: bool) {
        let (address, network) = keys(client);
        self.first_ms = self.first_ms.min(t);
        self.last_ms = self.last_ms.max(t);
        self.addresses.insert(address);
        self.networks.insert(network);
        if at_once {
            self.at_once.observe(network, t, AT_ONCE_MS);
        }
    }

    fn segment(&mut self, t: i64, segment: u64, rendition: u64) {
        self.segment_requests += 1;
        if let Some(last) = self.last_segment_ms {
            self.gaps.observe(t - last);
        }
        self.last_segment_ms = Some(t);
        if segment > MAX_MAPPED_SEGMENT {
            return;
        }
        self.max_segment = self.max_segment.max(segment);
        if self.seen.insert(segment) {
            self.new_segments += 1;
            if self.last_new.is_some_and(|p| p + 1 == segment) {
                self.in_order += 1;
            }
            self.last_new = Some(segment);
            self.fastest.get_or_insert_with(|| Fastest::new(t)).observe(t);
        }
        let slot = match self.renditions.iter().position(|(r, _)| *r == rendition) {
            Some(i) => Some(i),
            None if self.renditions.len() < MAX_RENDITIONS => {
                self.renditions.push((rendition, Bits::default()));
                Some(self.renditions.len() - 1)
            }
            None => None,
        };
        if let Some(i) = slot {
            if self.renditions[i].1.insert(segment) {
                self.pairs += 1;
            }
        }
    }
}

/// What one subject (a viewer account, as tokens name it) did across its sessions.
#[derive(Debug, Default)]
pub struct SubjectState {
    pub sessions: Distinct,
    pub sessions_at_once: AtOnce,
    pub networks_at_once: AtOnce,
    pub networks: Distinct,
    pub agents: Distinct,
    pub licence_burst: Burst,
    pub licences: u32,
    pub issued: u32,
    pub stream_refusals: u32,
    pub other_refusals: u32,
    pub segments: u64,
    pub longest_stretch_ms: i64,
    stretch: Option<(i64, i64)>,
}

impl SubjectState {
    fn sighting(&mut self, t: i64, client: &str, session: Option<SessionKey>, at_once: bool) {
        let (_, network) = keys(client);
        self.networks.insert(network);
        if at_once {
            self.networks_at_once.observe(network, t, AT_ONCE_MS);
        }
        if let Some((c, s)) = session {
            let key = (u128::from(c) << 32) | u128::from(s);
            self.sessions.insert(key);
            if at_once {
                self.sessions_at_once.observe(key, t, AT_ONCE_MS);
            }
        }
    }

    fn segment(&mut self, t: i64) {
        self.segments += 1;
        let (start, last) = match self.stretch {
            Some((start, last)) if t >= last && t - last <= STRETCH_GAP_MS => (start, t),
            // Out of order: inside the stretch already.
            Some((start, last)) if t < last => (start, last),
            _ => (t, t),
        };
        self.stretch = Some((start, last));
        self.longest_stretch_ms = self.longest_stretch_ms.max(last - start);
    }
}

/// Which log the "at once" windows are measured on. One log only, read in its own time order:
/// the session log writes one line per token and address (never two players interleaving), the
/// access log one per request, and mixing files read one after the other would compare times
/// across them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Concurrency {
    #[default]
    Access,
    Licences,
    Sessions,
}

/// The state of every session and subject seen so far.
#[derive(Debug, Default)]
pub struct Collector {
    /// Which log feeds the "at once" windows.
    pub concurrency: Concurrency,
    subject_ids: HashMap<String, u32>,
    pub subject_names: Vec<String>,
    pub subjects: Vec<SubjectState>,
    content_ids: HashMap<String, u32>,
    pub content_names: Vec<String>,
    pub sessions: HashMap<SessionKey, SessionState>,
    pub inputs: Vec<InputSummary>,
}

impl Collector {
    /// A collector measuring "at once" on `concurrency`'s log.
    pub fn new(concurrency: Concurrency) -> Self {
        Collector { concurrency, ..Collector::default() }
    }

    fn subject(&mut self, name: Option<&str>) -> Option<u32> {
        let name = name?;
        if let Some(id) = self.subject_ids.get(name) {
            return Some(*id);
        }
        let id = self.subject_names.len() as u32;
        self.subject_ids.insert(name.to_owned(), id);
        self.subject_names.push(name.to_owned());
        self.subjects.push(SubjectState::default());
        Some(id)
    }

    fn content(&mut self, name: Option<&str>) -> u32 {
        let Some(name) = name else { return NO_CONTENT };
        if let Some(id) = self.content_ids.get(name) {
            return *id;
        }
        let id = self.content_names.len() as u32;
        self.content_ids.insert(name.to_owned(), id);
        self.content_names.push(name.to_owned());
        id
    }

    fn session(&mut self, key: SessionKey, subject: Option<u32>, t: i64) -> &mut SessionState {
        let s = self.sessions.entry(key).or_insert_with(|| SessionState::new(t));
        if s.subject.is_none() {
            s.subject = subject;
        }
        s
    }

    /// Reads a session log.
    pub fn read_sessions(
        &mut self,
        path: &Path,
        input: impl BufRead,
        skip_bad: bool,
    ) -> Result<(), ReadError> {
        let at_once = self.concurrency == Concurrency::Sessions;
        let summary = for_each_record(path, input, skip_bad, |r: SessionRecord, _| {
            let t = time_of(&r.time)?;
            let subject = self.subject(r.subject.as_deref());
            let content = self.content(r.content.as_ref().map(|c| c.as_str()));
            let key = r.session.map(|s| (content, s.0));
            if let Some(key) = key {
                self.session(key, subject, t).sighting(t, &r.client, at_once);
            }
            if let Some(u) = subject {
                self.subjects[u as usize].sighting(t, &r.client, key, at_once);
            }
            Ok(())
        })?;
        self.inputs.push(summary);
        Ok(())
    }

    /// Reads a licence log.
    pub fn read_licences(
        &mut self,
        path: &Path,
        input: impl BufRead,
        skip_bad: bool,
    ) -> Result<(), ReadError> {
        let at_once = self.concurrency == Concurrency::Licences;
        let summary = for_each_record(path, input, skip_bad, |r: LicenceRecord, _| {
            let t = time_of(&r.time)?;
            let subject = self.subject(r.subject.as_deref());
            let content = self.content(r.content.as_ref().map(|c| c.as_str()));
            let key = r.session.map(|s| (content, s.0));
            if let Some(key) = key {
                self.session(key, subject, t).sighting(t, &r.client, at_once);
            }
            if let Some(u) = subject {
                let state = &mut self.subjects[u as usize];
                state.sighting(t, &r.client, key, at_once);
                match r.decision {
                    Decision::Released => {}
                    Decision::Issued => {
                        state.licences += 1;
                        state.issued += 1;
                        state.licence_burst.observe(t, LICENCE_BURST_MS);
                    }
                    Decision::Refused => {
                        state.licences += 1;
                        state.licence_burst.observe(t, LICENCE_BURST_MS);
                        if is_stream_limit(&r.reason) {
                            state.stream_refusals += 1;
                        } else {
                            state.other_refusals += 1;
                        }
                    }
                }
            }
            Ok(())
        })?;
        self.inputs.push(summary);
        Ok(())
    }

    /// Reads an access log.
    pub fn read_access(
        &mut self,
        path: &Path,
        input: impl BufRead,
        skip_bad: bool,
    ) -> Result<(), ReadError> {
        let at_once = self.concurrency == Concurrency::Access;
        let summary = for_each_record(path, input, skip_bad, |r: AccessRecord, _| {
            let t = time_of(&r.time)?;
            let subject = self.subject(r.subject.as_deref());
            let content = self.content(r.content.as_ref().map(|c| c.as_str()));
            let key = r.session.map(|s| (content, s.0));
            let agent =
                (!r.user_agent.is_empty()).then(|| u128::from(fnv(r.user_agent.as_bytes())));
            // A fetched segment: answered with media (a refusal fetched nothing).
            let segment = match (r.kind, r.segment) {
                (RequestKind::Segment, Some(n)) if r.status < 400 => Some(n),
                _ => None,
            };
            let rendition = fnv(r.rendition.as_deref().unwrap_or("").as_bytes());
            if let Some(key) = key {
                let s = self.session(key, subject, t);
                s.requests += 1;
                s.sighting(t, &r.client, at_once);
                if let Some(a) = agent {
                    s.agents.insert(a);
                }
                if let Some(n) = segment {
                    s.segment(t, n, rendition);
                }
            }
            if let Some(u) = subject {
                let state = &mut self.subjects[u as usize];
                state.sighting(t, &r.client, key, at_once);
                if let Some(a) = agent {
                    state.agents.insert(a);
                }
                if segment.is_some() {
                    state.segment(t);
                }
            }
            Ok(())
        })?;
        self.inputs.push(summary);
        Ok(())
    }
}

fn time_of(text: &str) -> Result<i64, String> {
    parse_ms(text).ok_or_else(|| "time is not RFC 3339".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_licence_services_stream_limit_reasons_are_recognised() {
        assert!(is_stream_limit("concurrent stream limit: 3 of 2 streams active"));
        assert!(is_stream_limit("this licence token is in use by another player"));
        assert!(!is_stream_limit("subject is on the deny list"));
        assert!(!is_stream_limit("ok"));
    }

    #[test]
    fn a_segment_fetched_in_two_renditions_is_one_new_segment_and_two_pairs() {
        let mut s = SessionState::new(0);
        s.segment(0, 0, 1);
        s.segment(10, 1, 1);
        s.segment(20, 1, 2);
        s.segment(30, 3, 2);
        assert_eq!((s.new_segments, s.pairs, s.in_order, s.max_segment), (3, 4, 1, 3));
    }

    #[test]
    fn stretches_end_at_long_pauses() {
        let mut u = SubjectState::default();
        for t in (0..=3_600_000).step_by(60_000) {
            u.segment(t);
        }
        u.segment(3_600_000 + STRETCH_GAP_MS + 1);
        assert_eq!(u.longest_stretch_ms, 3_600_000);
    }
}
