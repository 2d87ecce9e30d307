//! One play: a viewer (or an abuser) with one device at one place playing titles, producing its
//! log lines lazily, in its own time order, from its own seeded generator.

use std::cmp::Ordering;
use std::collections::VecDeque;

use abmark_delivery::access::{AccessRecord, RequestKind};
use abmark_delivery::ids::{ContentId, SessionId};
use abmark_delivery::licences::{Decision, LicenceRecord};
use abmark_delivery::sessions::{SessionRecord, TokenMode};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::population::{between, pick, unit, Config, Streams};
use crate::clock::{format_ms, format_s};

/// A line for one of the three logs.
pub enum Line {
    Session(SessionRecord),
    Licence(LicenceRecord),
    Access(AccessRecord),
}

/// Where a device connects from.
#[derive(Clone, Debug)]
pub enum Place {
    /// A home, office or server address (shared by everyone behind that NAT).
    Fixed(String),
    /// A mobile carrier: a new address, usually in another /24, now and then.
    Mobile,
}

/// How a play behaves.
#[derive(Clone, Debug)]
pub enum Style {
    Honest { buffer_s: f64, pause_p: f64, seek_p: f64, switch_p: f64, watch: f64, retries: u32 },
    Rip { speed: f64, ladder: bool },
    Restream { titles: Vec<(String, u64)> },
}

impl Style {
    pub fn honest(rng: &mut ChaCha8Rng, config: &Config) -> Style {
        let d = config.segment_seconds;
        Style::Honest {
            buffer_s: config.buffer_seconds * between(rng, 0.5, 1.5),
            // About one pause per 20 minutes, one seek per half hour, a switch per 5 minutes.
            pause_p: d / 1200.0,
            seek_p: d / 1800.0,
            switch_p: d / 300.0,
            watch: if unit(rng) < 0.3 { 1.0 } else { between(rng, 0.05, 1.0) },
            retries: 1,
        }
    }

    pub fn set_retries(&mut self, n: u32) {
        if let Style::Honest { retries, .. } = self {
            *retries = n;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Playing,
    Done,
}

pub struct Play {
    pub start_ms: i64,
    subject: u32,
    name: String,
    session: u32,
    title: (String, u64),
    agent: String,
    place: Place,
    style: Style,
    rng: ChaCha8Rng,
    phase: Phase,
    t: i64,
    seg: u64,
    end_seg: u64,
    pos_s: f64,
    rendition: usize,
    address: String,
    logged: Vec<String>,
    tries: u32,
    queue: VecDeque<(i64, Line)>,
}

impl Play {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        subject: u32,
        name: &str,
        session: u32,
        title: (String, u64),
        agent: String,
        place: Place,
        style: Style,
        start_ms: i64,
        seed: u64,
    ) -> Play {
        Play {
            start_ms,
            subject,
            name: name.to_owned(),
            session,
            title,
            agent,
            place,
            style,
            rng: ChaCha8Rng::seed_from_u64(seed),
            phase: Phase::Start,
            t: start_ms,
            seg: 0,
            end_seg: 0,
            pos_s: 0.0,
            rendition: 0,
            address: String::new(),
            logged: Vec::new(),
            tries: 0,
            queue: VecDeque::new(),
        }
    }

    pub fn next_time(&self) -> Option<i64> {
        self.queue.front().map(|(t, _)| *t)
    }

    /// Starts the play: its first lines.
    pub fn begin(&mut self, streams: &mut Streams, config: &Config) {
        self.address = self.new_address();
        self.step(streams, config);
    }

    /// The next line; refills from the behaviour when the queue runs dry.
    pub fn pop_line(&mut self, streams: &mut Streams, config: &Config) -> Option<Line> {
        let line = self.queue.pop_front().map(|(_, l)| l);
        while self.queue.is_empty() && self.phase != Phase::Done {
            self.step(streams, config);
        }
        line
    }

    fn new_address(&mut self) -> String {
        let port = 1024 + self.rng.next_u32() % 60000;
        let ip = match &self.place {
            Place::Fixed(a) => a.clone(),
            Place::Mobile => {
                let r = self.rng.next_u32();
                format!("37.{}.{}.{}", 40 + r % 4, (r >> 8) & 255, 1 + (r >> 16) % 254)
            }
        };
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    }

    fn push(&mut self, line: Line) {
        // Lines of one step a few milliseconds apart, in order.
        let t = self.queue.back().map_or(self.t, |(t, _)| (*t + 3).max(self.t));
        self.queue.push_back((t, line));
    }

    fn content(&self) -> Option<ContentId> {
        ContentId::new(self.title.0.clone()).ok()
    }

    fn access(&mut self, kind: RequestKind, segment: Option<u64>, status: u16, bytes: u64) {
        let rendition =
            matches!(kind, RequestKind::Playlist | RequestKind::Init | RequestKind::Segment);
        let record = AccessRecord {
            time: format_ms(self.t),
            session: Some(SessionId(self.session)),
            subject: Some(self.name.clone()),
            content: self.content(),
            kind,
            segment,
            rendition: rendition.then(|| self.rendition_name()),
            variant: segment.map(|_| (self.rng.next_u32() & 1) as u8),
            client: self.address.clone(),
            user_agent: self.agent.clone(),
            status,
            bytes,
        };
        self.push(Line::Access(record));
    }

    fn rendition_name(&self) -> String {
        format!("r{}", self.rendition)
    }

    fn licence(&mut self, decision: Decision, reason: String) {
        let record = LicenceRecord {
            time: format_s(self.t),
            subject: Some(self.name.clone()),
            content: self.content(),
            session: Some(SessionId(self.session)),
            decision,
            reason,
            kids: vec!["0123456789abcdef0123456789abcdef".into()],
            client: self.address.clone(),
        };
        self.push(Line::Licence(record));
    }

    /// A session-log line the first time this token is seen from this address.
    fn sighted(&mut self) {
        let ip =
            self.address.rsplit_once(':').map_or(self.address.clone(), |(ip, _)| ip.to_owned());
        if self.logged.contains(&ip) {
            return;
        }
        self.logged.push(ip);
        let record = SessionRecord {
            time: format_s(self.t),
            session: Some(SessionId(self.session)),
            subject: Some(self.name.clone()),
            content: self.content(),
            client: self.address.clone(),
            mode: TokenMode::Direct,
            pattern: format!(
                "{:016x}",
                u64::from(self.session).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ),
            pattern_bits: 64,
            expires_at: (self.t / 1000 + 86_400) as u64,
        };
        self.push(Line::Session(record));
    }

    fn step(&mut self, streams: &mut Streams, config: &Config) {
        let period_end = config.start_ms + (config.hours * 3.6e6) as i64;
        if self.t > period_end {
            self.finish(streams);
            return;
        }
        match self.phase {
            Phase::Start => self.start(streams, config),
            Phase::Playing => self.fetch(streams, config),
            Phase::Done => {}
        }
    }

    fn start(&mut self, streams: &mut Streams, config: &Config) {
        self.sighted();
        self.access(RequestKind::Manifest, None, 200, 1500);
        let held = streams.held(self.subject);
        if held >= config.stream_limit {
            let reason = format!(
                "concurrent stream limit: {held} of {} streams active",
                config.stream_limit
            );
            self.licence(Decision::Refused, reason);
            self.access(RequestKind::Licence, None, 403, 80);
            self.tries += 1;
            let retries = match self.style {
                Style::Honest { retries, .. } => retries,
                _ => 5,
            };
            if self.tries > retries {
                self.phase = Phase::Done;
            } else {
                self.t += (between(&mut self.rng, 20.0, 60.0) * 1000.0) as i64;
            }
            return;
        }
        streams.take(self.subject);
        self.licence(Decision::Issued, "ok".into());
        self.access(RequestKind::Licence, None, 200, 200);
        let top = config.renditions.len().saturating_sub(1);
        let segments = self.title.1.max(1);
        let (rendition, first, end) = match &self.style {
            Style::Honest { watch, .. } => {
                let first = if unit(&mut self.rng) < 0.1 {
                    (unit(&mut self.rng) * segments as f64 * 0.8) as u64
                } else {
                    0
                };
                let end = (first + (segments as f64 * watch).ceil() as u64).min(segments);
                (top / 2, first, end.max(first + 1))
            }
            Style::Rip { .. } | Style::Restream { .. } => (top, 0, segments),
        };
        self.rendition = rendition;
        self.seg = first;
        self.pos_s = first as f64 * config.segment_seconds;
        self.end_seg = end;
        self.access(RequestKind::Playlist, None, 200, 4000);
        self.access(RequestKind::Init, None, 200, 900);
        self.phase = Phase::Playing;
    }

    fn finish(&mut self, streams: &mut Streams) {
        if self.phase == Phase::Playing {
            streams.give_back(self.subject);
            self.licence(Decision::Released, "released".into());
        }
        self.phase = Phase::Done;
    }

    fn segment_bytes(&self, config: &Config) -> u64 {
        (400_000.0 * (self.rendition as f64 + 1.0) * config.segment_seconds / 8.0) as u64
    }

    fn fetch(&mut self, streams: &mut Streams, config: &Config) {
        let d = config.segment_seconds;
        let top = config.renditions.len().saturating_sub(1);
        if self.seg >= self.end_seg {
            self.end_of_title(streams, config);
            return;
        }
        match self.style.clone() {
            Style::Rip { speed, ladder } => {
                let renditions: Vec<usize> = if ladder { (0..=top).collect() } else { vec![top] };
                for r in renditions {
                    self.rendition = r;
                    self.access(
                        RequestKind::Segment,
                        Some(self.seg),
                        200,
                        self.segment_bytes(config),
                    );
                }
                self.seg += 1;
                self.t += (d * 1000.0 / speed * between(&mut self.rng, 0.8, 1.2)) as i64;
            }
            Style::Honest { buffer_s, pause_p, seek_p, switch_p, .. } => {
                self.habits(config, pause_p, seek_p, switch_p);
                self.segment_and_wait(config, buffer_s);
            }
            Style::Restream { .. } => self.segment_and_wait(config, 10.0),
        }
    }

    /// Pauses, seeks, rendition switches and mobile address changes.
    fn habits(&mut self, config: &Config, pause_p: f64, seek_p: f64, switch_p: f64) {
        let d = config.segment_seconds;
        let top = config.renditions.len().saturating_sub(1);
        if unit(&mut self.rng) < pause_p {
            self.t += (between(&mut self.rng, 10.0, 1200.0) * 1000.0) as i64;
        }
        if unit(&mut self.rng) < seek_p {
            // Mostly skipping ahead a little; sometimes back to see a scene again.
            let jump = between(&mut self.rng, 10.0, 300.0) / d;
            let to = if unit(&mut self.rng) < 0.7 {
                self.seg as f64 + jump
            } else {
                (self.seg as f64 - jump).max(0.0)
            };
            self.seg = (to as u64).min(self.end_seg);
            self.pos_s = self.seg as f64 * d;
        }
        if unit(&mut self.rng) < switch_p {
            let up = unit(&mut self.rng) < 0.5;
            let r =
                if up { (self.rendition + 1).min(top) } else { self.rendition.saturating_sub(1) };
            if r != self.rendition {
                self.rendition = r;
                self.access(RequestKind::Playlist, None, 200, 4000);
                self.access(RequestKind::Init, None, 200, 900);
            }
        }
        if matches!(self.place, Place::Mobile) && unit(&mut self.rng) < d / 900.0 {
            self.address = self.new_address();
            self.sighted();
        }
    }

    /// Fetches the next segment, then waits as a player does: at once while the buffer is
    /// below its goal, otherwise until playback has used up a segment.
    fn segment_and_wait(&mut self, config: &Config, buffer_s: f64) {
        let d = config.segment_seconds;
        self.access(RequestKind::Segment, Some(self.seg), 200, self.segment_bytes(config));
        self.seg += 1;
        let download = between(&mut self.rng, 0.1, 0.8);
        let ahead = self.seg as f64 * d - self.pos_s;
        let wait = if ahead < buffer_s { download } else { ahead - buffer_s + download };
        self.pos_s += wait;
        self.t += (wait * 1000.0) as i64;
    }

    fn end_of_title(&mut self, streams: &mut Streams, config: &Config) {
        // The player plays out its buffer before it lets the stream go.
        let ahead = (self.end_seg as f64 * config.segment_seconds - self.pos_s).max(0.0);
        self.t += (ahead * 1000.0) as i64;
        self.finish(streams);
        if let Style::Restream { titles } = &self.style {
            // Next title, next token: a restreamer runs until the period ends.
            self.title = pick(&mut self.rng, titles).clone();
            self.session = self.rng.next_u32() | 0x8000_0000;
            self.logged.clear();
            self.tries = 0;
            self.t += 5000;
            self.phase = Phase::Start;
        }
    }
}

impl PartialEq for Play {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Play {}
impl PartialOrd for Play {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Play {
    /// Reversed: the heap's top is the play with the earliest next line.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .next_time()
            .cmp(&self.next_time())
            .then(other.subject.cmp(&self.subject))
            .then(other.session.cmp(&self.session))
            .then(other.start_ms.cmp(&self.start_ms))
    }
}
