//! From the collected state to a ranking: each feature is compared with its population
//! (median and MAD, [`crate::robust`]), and a reason is raised when a subject or session stands
//! far out (robust z ≥ [`Z_RAISE`]) *and* its value is beyond what honest use can produce at
//! all (the rule's evidence floor: three networks within one minute, three times real time over
//! ten minutes of media). The z-score adapts to the service (a sports service watches longer
//! than a film service); the floor keeps a quiet population from making small numbers look
//! significant.

use std::collections::HashMap;

use serde::Serialize;

use crate::collect::{Collector, SessionKey, SessionState, SubjectState, NO_CONTENT};
use crate::read::InputSummary;
use crate::robust::Population;
use crate::window::RUNS;

/// Robust z-score from which a reason is raised.
pub const Z_RAISE: f64 = 4.0;
/// Media (seconds) a speed is measured over: more than any player buffers ahead.
pub const MIN_MEDIA_S: f64 = 600.0;
/// New segments a session needs before its renditions per segment count.
const MIN_LADDER_SEGMENTS: u64 = 30;
/// Each z-score counts at most this much in a score, so one absurd number cannot hide the rest.
const Z_CAP: f64 = 50.0;

/// The kinds of evidence.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// A session's token in use from several networks within a minute.
    TokenSharing,
    /// A session's token used by several different players (user agents).
    TokenPlayers,
    /// A session fetching new segments far faster than real time.
    FastFetch,
    /// A session fetching each segment in several renditions.
    LadderFetch,
    /// A subject active from several networks within a minute (over all its sessions).
    SubjectNetworks,
    /// A subject with several sessions active within a minute.
    SubjectSessions,
    /// Licence requests refused at the concurrent stream limit.
    StreamLimit,
    /// Licence requests within ten minutes.
    LicenceBurst,
    /// Different players (user agents) of one subject.
    Devices,
    /// Hours of segment fetching without a pause.
    NonStop,
}

/// How one feature is judged.
struct Rule {
    code: Code,
    /// The spread used when the population's MAD is smaller (see [`Population::z`]).
    min_spread: f64,
    /// The value below which no rarity counts.
    floor: f64,
}

const SESSION_RULES: [Rule; 4] = [
    Rule { code: Code::TokenSharing, min_spread: 0.5, floor: 3.0 },
    Rule { code: Code::TokenPlayers, min_spread: 0.5, floor: 3.0 },
    Rule { code: Code::FastFetch, min_spread: 0.25, floor: 3.0 },
    Rule { code: Code::LadderFetch, min_spread: 0.1, floor: 1.8 },
];

const SUBJECT_RULES: [Rule; 6] = [
    Rule { code: Code::SubjectNetworks, min_spread: 0.5, floor: 4.0 },
    Rule { code: Code::SubjectSessions, min_spread: 0.5, floor: 4.0 },
    Rule { code: Code::StreamLimit, min_spread: 0.5, floor: 3.0 },
    Rule { code: Code::LicenceBurst, min_spread: 1.0, floor: 8.0 },
    Rule { code: Code::Devices, min_spread: 1.0, floor: 6.0 },
    Rule { code: Code::NonStop, min_spread: 1.0, floor: 10.0 },
];

/// One piece of evidence, with its numbers.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Reason {
    pub code: Code,
    pub value: f64,
    pub median: f64,
    pub mad: f64,
    pub z: f64,
    pub raised: bool,
    /// The evidence in words, with its numbers.
    pub text: String,
}

/// A session's rank.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RankedSession {
    pub content: Option<String>,
    pub session: u32,
    pub subject: Option<String>,
    pub score: f64,
    pub flagged: bool,
    pub reasons: Vec<Reason>,
}

/// A subject's rank: its own evidence and the strongest of each kind among its sessions.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RankedSubject {
    pub subject: String,
    pub score: f64,
    pub flagged: bool,
    pub sessions: usize,
    pub reasons: Vec<Reason>,
}

/// A feature's population.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Feature {
    pub code: Code,
    #[serde(flatten)]
    pub population: Population,
    pub floor: f64,
}

/// The segment duration used for a title's speeds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SegmentDuration {
    pub content: Option<String>,
    pub seconds: f64,
    /// `estimated` (the population's typical gap between segment fetches), `given`, or
    /// `assumed` (no session had enough fetches to tell).
    pub source: &'static str,
}

/// The whole result.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Analysis {
    pub inputs: Vec<InputSummary>,
    pub subjects_seen: usize,
    pub sessions_seen: usize,
    pub subjects_flagged: usize,
    pub sessions_flagged: usize,
    pub segment_durations: Vec<SegmentDuration>,
    pub features: Vec<Feature>,
    /// Flagged subjects first, by score; then the rest down to the ranking's length.
    pub subjects: Vec<RankedSubject>,
    pub sessions: Vec<RankedSession>,
}

/// How to rank.
#[derive(Clone, Debug)]
pub struct Options {
    /// Segment duration, when known; otherwise estimated per title.
    pub segment_seconds: Option<f64>,
    /// Unflagged subjects and sessions listed after the flagged ones.
    pub top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { segment_seconds: None, top: 20 }
    }
}

/// The measured features of one session (`None`: not enough data for that feature).
struct SessionFeatures {
    values: [Option<f64>; 4],
    /// For the speed's text: K new segments and the time they took.
    speed_run: Option<(usize, f64, f64)>,
}

fn session_features(s: &SessionState, d: f64) -> SessionFeatures {
    let sharing = (!s.networks.is_empty()).then_some(f64::from(s.at_once.max));
    let players = (!s.agents.is_empty()).then_some(s.agents.len() as f64);
    let k_index = RUNS.iter().position(|k| *k as f64 * d >= MIN_MEDIA_S).unwrap_or(RUNS.len() - 1);
    let speed_run = s
        .fastest
        .as_ref()
        .and_then(|f| f.best[k_index])
        .map(|ms| (RUNS[k_index], f64::from(ms) / 1000.0, d))
        .filter(|(k, _, d)| *k as f64 * d >= MIN_MEDIA_S);
    let speed = speed_run.map(|(k, secs, d)| k as f64 * d / (secs + d));
    let ladder =
        (s.new_segments >= MIN_LADDER_SEGMENTS).then(|| s.pairs as f64 / s.new_segments as f64);
    SessionFeatures { values: [sharing, players, speed, ladder], speed_run }
}

fn subject_features(u: &SubjectState) -> [Option<f64>; 6] {
    [
        (!u.networks.is_empty()).then_some(f64::from(u.networks_at_once.max)),
        (!u.sessions.is_empty()).then_some(f64::from(u.sessions_at_once.max)),
        Some(f64::from(u.stream_refusals)),
        Some(f64::from(u.licence_burst.max)),
        Some(u.agents.len() as f64),
        (u.segments > 0).then_some(u.longest_stretch_ms as f64 / 3.6e6),
    ]
}

/// Ranks what `collector` read.
pub fn analyse(collector: Collector, options: &Options) -> Analysis {
    let durations = segment_durations(&collector, options.segment_seconds);
    let duration_of = |content: u32| {
        durations.iter().find(|(c, _)| *c == content).map_or(2.0, |(_, d)| d.seconds)
    };
    let mut keys: Vec<&SessionKey> = collector.sessions.keys().collect();
    keys.sort();
    let session_values: Vec<(SessionKey, SessionFeatures)> = keys
        .iter()
        .map(|k| (**k, session_features(&collector.sessions[*k], duration_of(k.0))))
        .collect();
    let subject_values: Vec<[Option<f64>; 6]> =
        collector.subjects.iter().map(subject_features).collect();

    let session_pop: Vec<Population> = (0..SESSION_RULES.len())
        .map(|i| Population::of(session_values.iter().filter_map(|(_, f)| f.values[i])))
        .collect();
    let subject_pop: Vec<Population> = (0..SUBJECT_RULES.len())
        .map(|i| Population::of(subject_values.iter().filter_map(|v| v[i])))
        .collect();

    let content_name =
        |c: u32| (c != NO_CONTENT).then(|| collector.content_names[c as usize].clone());
    let subject_name = |u: Option<u32>| u.map(|u| collector.subject_names[u as usize].clone());

    let mut sessions: Vec<RankedSession> = session_values
        .iter()
        .map(|(key, f)| {
            let s = &collector.sessions[key];
            let reasons: Vec<Reason> = SESSION_RULES
                .iter()
                .zip(&session_pop)
                .zip(f.values)
                .filter_map(|((rule, pop), v)| {
                    v.map(|v| judge(rule, pop, v, session_text(rule.code, v, pop, s, f)))
                })
                .collect();
            ranked_session(content_name(key.0), key.1, subject_name(s.subject), reasons)
        })
        .collect();

    let mut by_subject: HashMap<u32, Vec<usize>> = HashMap::new();
    for (j, (key, _)) in session_values.iter().enumerate() {
        if let Some(u) = collector.sessions[key].subject {
            by_subject.entry(u).or_default().push(j);
        }
    }
    // Each subject: its own reasons, then the strongest session reason of each kind.
    let mut subjects: Vec<RankedSubject> = collector
        .subjects
        .iter()
        .zip(&subject_values)
        .enumerate()
        .map(|(i, (u, values))| {
            let mut reasons: Vec<Reason> = SUBJECT_RULES
                .iter()
                .zip(&subject_pop)
                .zip(values)
                .filter_map(|((rule, pop), v)| {
                    v.map(|v| judge(rule, pop, v, subject_text(rule.code, v, pop, u)))
                })
                .collect();
            let name = &collector.subject_names[i];
            let own = by_subject.get(&(i as u32)).map_or(&[][..], Vec::as_slice);
            for rule in &SESSION_RULES {
                let best = own
                    .iter()
                    .flat_map(|j| sessions[*j].reasons.iter().filter(|r| r.code == rule.code))
                    .max_by(|a, b| a.z.total_cmp(&b.z));
                if let Some(best) = best {
                    reasons.push(best.clone());
                }
            }
            ranked_subject(name.clone(), u.sessions.len(), reasons)
        })
        .collect();
    sort_by_score(&mut subjects, |s| (s.flagged, s.score, max_z(&s.reasons)));
    sort_by_score(&mut sessions, |s| (s.flagged, s.score, max_z(&s.reasons)));
    let subjects_flagged = subjects.iter().filter(|s| s.flagged).count();
    let sessions_flagged = sessions.iter().filter(|s| s.flagged).count();
    subjects.truncate(subjects_flagged + options.top);
    sessions.truncate(sessions_flagged + options.top);
    for s in &mut subjects {
        keep_notable(&mut s.reasons);
    }
    for s in &mut sessions {
        keep_notable(&mut s.reasons);
    }

    let features = SESSION_RULES
        .iter()
        .zip(session_pop)
        .chain(SUBJECT_RULES.iter().zip(subject_pop))
        .map(|(rule, population)| Feature { code: rule.code, population, floor: rule.floor })
        .collect();
    Analysis {
        inputs: collector.inputs.clone(),
        subjects_seen: collector.subjects.len(),
        sessions_seen: collector.sessions.len(),
        subjects_flagged,
        sessions_flagged,
        segment_durations: durations.into_iter().map(|(_, d)| d).collect(),
        features,
        subjects,
        sessions,
    }
}

/// Reasons worth showing: raised ones, and ones at least 2 robust deviations out.
fn keep_notable(reasons: &mut Vec<Reason>) {
    reasons.retain(|r| r.raised || r.z >= 2.0);
    reasons.sort_by(|a, b| b.raised.cmp(&a.raised).then(b.z.total_cmp(&a.z)));
}

fn max_z(reasons: &[Reason]) -> f64 {
    reasons.iter().map(|r| r.z).fold(f64::NEG_INFINITY, f64::max)
}

fn sort_by_score<T>(items: &mut [T], key: impl Fn(&T) -> (bool, f64, f64)) {
    items.sort_by(|a, b| {
        let (fa, sa, za) = key(a);
        let (fb, sb, zb) = key(b);
        fb.cmp(&fa).then(sb.total_cmp(&sa)).then(zb.total_cmp(&za))
    });
}

fn judge(rule: &Rule, pop: &Population, value: f64, text: String) -> Reason {
    let z = pop.z(value, rule.min_spread);
    Reason {
        code: rule.code,
        value,
        median: pop.median,
        mad: pop.mad,
        z,
        raised: z >= Z_RAISE && value >= rule.floor,
        text,
    }
}

/// Score: the sum of the raised reasons' z-scores (each capped); 0 when nothing is raised.
fn score(reasons: &[Reason]) -> f64 {
    reasons.iter().filter(|r| r.raised).map(|r| r.z.min(Z_CAP)).sum()
}

fn ranked_session(
    content: Option<String>,
    session: u32,
    subject: Option<String>,
    reasons: Vec<Reason>,
) -> RankedSession {
    let flagged = reasons.iter().any(|r| r.raised);
    RankedSession { content, session, subject, score: score(&reasons), flagged, reasons }
}

fn ranked_subject(subject: String, sessions: usize, reasons: Vec<Reason>) -> RankedSubject {
    let flagged = reasons.iter().any(|r| r.raised);
    RankedSubject { subject, score: score(&reasons), flagged, sessions, reasons }
}

fn session_text(
    code: Code,
    v: f64,
    pop: &Population,
    s: &SessionState,
    f: &SessionFeatures,
) -> String {
    let m = pop.median;
    match code {
        Code::TokenSharing => format!(
            "token in use from {v} networks within {}s (median {m}); {} addresses and {} \
             networks in all",
            crate::collect::AT_ONCE_MS / 1000,
            s.addresses.len(),
            s.networks.len()
        ),
        Code::TokenPlayers => format!("token used by {v} different players (median {m})"),
        Code::FastFetch => {
            let (k, secs, d) = f.speed_run.unwrap_or_default();
            let in_order = if s.new_segments > 1 {
                100.0 * s.in_order as f64 / (s.new_segments - 1) as f64
            } else {
                0.0
            };
            format!(
                "fetched {k} new segments ({:.0} s of media at {d:.2} s each) in {secs:.1} s: \
                 {v:.1}x real time (median {m:.2}x); {} segments up to #{}, {in_order:.0}% in order",
                k as f64 * d,
                s.new_segments,
                s.max_segment
            )
        }
        Code::LadderFetch => format!(
            "fetched each segment in {v:.2} renditions on average over {} segments (median {m:.2})",
            s.new_segments
        ),
        _ => String::new(),
    }
}

fn subject_text(code: Code, v: f64, pop: &Population, u: &SubjectState) -> String {
    let m = pop.median;
    match code {
        Code::SubjectNetworks => format!(
            "active from {v} networks within {}s (median {m}); {} networks in all",
            crate::collect::AT_ONCE_MS / 1000,
            u.networks.len()
        ),
        Code::SubjectSessions => format!(
            "{v} sessions active within {}s (median {m}); {} sessions in all",
            crate::collect::AT_ONCE_MS / 1000,
            u.sessions.len()
        ),
        Code::StreamLimit => format!(
            "{v} licence requests refused at the stream limit (median {m}); {} issued, {} refused \
             otherwise",
            u.issued, u.other_refusals
        ),
        Code::LicenceBurst => format!(
            "{v} licence requests within {} min (median {m}); {} in all",
            crate::collect::LICENCE_BURST_MS / 60_000,
            u.licences
        ),
        Code::Devices => format!("{v} different players (user agents) (median {m})"),
        Code::NonStop => format!(
            "fetched segments for {v:.1} h without a pause over {} min (median {m:.1} h)",
            crate::collect::STRETCH_GAP_MS / 60_000
        ),
        _ => String::new(),
    }
}

/// Each title's segment duration: given, or the median over its sessions of each session's
/// typical gap between segment fetches (a player in steady state fetches one segment per
/// segment duration; a few percent of rippers do not move a median).
fn segment_durations(c: &Collector, given: Option<f64>) -> Vec<(u32, SegmentDuration)> {
    let mut contents: Vec<u32> = c.sessions.keys().map(|k| k.0).collect();
    contents.sort_unstable();
    contents.dedup();
    contents
        .into_iter()
        .map(|content| {
            let name = (content != NO_CONTENT).then(|| c.content_names[content as usize].clone());
            if let Some(seconds) = given {
                return (content, SegmentDuration { content: name, seconds, source: "given" });
            }
            let typical = c
                .sessions
                .iter()
                .filter(|(k, s)| k.0 == content && s.gaps.count() >= 8)
                .filter_map(|(_, s)| s.gaps.median_ms());
            let pop = Population::of(typical);
            let d = if pop.n > 0 {
                SegmentDuration { content: name, seconds: pop.median / 1000.0, source: "estimated" }
            } else {
                SegmentDuration { content: name, seconds: 2.0, source: "assumed" }
            };
            (content, d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::format_ms;
    use crate::collect::Concurrency;
    use std::path::Path;

    const T0: i64 = 1_796_601_600_000;

    /// An access-log line of a segment fetch.
    fn fetch(
        t: i64,
        subject: &str,
        session: u32,
        seg: u64,
        rendition: &str,
        client: &str,
    ) -> String {
        format!(
            "{{\"time\":\"{}\",\"session\":{session},\"subject\":\"{subject}\",\"content\":\"film\",\
             \"kind\":\"segment\",\"segment\":{seg},\"rendition\":\"{rendition}\",\"variant\":0,\
             \"client\":\"{client}\",\"user_agent\":\"ua-{subject}\",\"status\":200,\"bytes\":1000}}\n",
            format_ms(t)
        )
    }

    /// `n` honest viewers: 30 s of buffer at once, then one 2-s segment every 2 s, 20 minutes.
    fn honest(n: u32) -> Vec<(i64, String)> {
        let mut lines = Vec::new();
        for v in 0..n {
            let start = T0 + i64::from(v) * 7_000;
            let client = format!("198.51.{}.{}:4000", v % 200, 1 + v % 250);
            for seg in 0..600u64 {
                let t = if seg < 15 {
                    start + seg as i64 * 300
                } else {
                    start + (seg as i64 - 15) * 2_000 + 5_000
                };
                lines.push((t, fetch(t, &format!("honest-{v}"), v, seg, "720p", &client)));
            }
        }
        lines
    }

    fn analyse_lines(mut lines: Vec<(i64, String)>) -> Analysis {
        lines.sort_by_key(|(t, _)| *t);
        let text: String = lines.into_iter().map(|(_, l)| l).collect();
        let mut c = Collector::new(Concurrency::Access);
        c.read_access(Path::new("access.jsonl"), text.as_bytes(), false).unwrap();
        analyse(c, &Options::default())
    }

    fn reasons_of<'a>(a: &'a Analysis, subject: &str) -> Vec<&'a Reason> {
        let s = a.subjects.iter().find(|s| s.subject == subject).unwrap();
        s.reasons.iter().filter(|r| r.raised).collect()
    }

    #[test]
    fn an_honest_population_flags_nobody() {
        let a = analyse_lines(honest(40));
        assert_eq!(a.subjects_flagged, 0, "{:#?}", a.subjects.first());
        let d = &a.segment_durations[0];
        assert!((d.seconds / 2.0 - 1.0).abs() < 0.1, "estimated {d:?}");
    }

    #[test]
    fn a_token_used_from_three_networks_at_once_is_sharing() {
        let mut lines = honest(40);
        for seg in 0..300u64 {
            for (i, net) in ["203.0.113.5:1", "192.0.2.9:2", "198.18.7.1:3"].iter().enumerate() {
                let t = T0 + seg as i64 * 2_000 + i as i64 * 500;
                lines.push((t, fetch(t, "sharer", 999, seg, "720p", net)));
            }
        }
        let a = analyse_lines(lines);
        let reasons = reasons_of(&a, "sharer");
        let sharing =
            reasons.iter().find(|r| r.code == Code::TokenSharing).expect("sharing raised");
        assert_eq!(sharing.value, 3.0);
        assert!(sharing.text.contains("3 networks"), "{}", sharing.text);
        assert_eq!(a.subjects[0].subject, "sharer");
        assert_eq!(a.subjects_flagged, 1);
    }

    #[test]
    fn a_title_fetched_at_ten_times_real_time_is_ripping() {
        let mut lines = honest(40);
        for seg in 0..1200u64 {
            let t = T0 + seg as i64 * 200;
            lines.push((t, fetch(t, "ripper", 777, seg, "1080p", "203.0.113.80:9")));
        }
        let a = analyse_lines(lines);
        let fast = reasons_of(&a, "ripper")
            .into_iter()
            .find(|r| r.code == Code::FastFetch)
            .expect("fast fetch raised");
        assert!((8.0..12.0).contains(&fast.value), "{}", fast.text);
        assert_eq!(a.subjects_flagged, 1);
    }

    #[test]
    fn every_segment_in_every_rendition_is_ladder_ripping_even_at_real_time() {
        let mut lines = honest(40);
        for seg in 0..600u64 {
            for (i, r) in ["360p", "540p", "720p", "1080p"].iter().enumerate() {
                let t = T0 + seg as i64 * 2_000 + i as i64 * 100;
                lines.push((t, fetch(t, "ladder", 555, seg, r, "203.0.113.81:9")));
            }
        }
        let a = analyse_lines(lines);
        let ladder = reasons_of(&a, "ladder")
            .into_iter()
            .find(|r| r.code == Code::LadderFetch)
            .expect("ladder raised");
        assert_eq!(ladder.value, 4.0);
        assert!(reasons_of(&a, "ladder").iter().all(|r| r.code != Code::FastFetch));
    }

    #[test]
    fn stream_limit_refusals_are_counted_from_the_licence_log() {
        let mut text = String::new();
        for v in 0..30 {
            text += &format!(
                "{{\"time\":\"2026-12-07T10:00:{v:02}Z\",\"subject\":\"u{v}\",\"content\":\"film\",\
                 \"session\":{v},\"decision\":\"issued\",\"reason\":\"ok\",\"kids\":[],\"client\":\"192.0.2.{v}\"}}\n"
            );
        }
        for i in 0..6 {
            text += &format!(
                "{{\"time\":\"2026-12-07T11:0{i}:00Z\",\"subject\":\"greedy\",\"content\":\"film\",\
                 \"session\":{},\"decision\":\"refused\",\"reason\":\"concurrent stream limit: 2 of 2 \
                 streams active\",\"kids\":[],\"client\":\"192.0.2.200\"}}\n",
                100 + i
            );
        }
        let mut c = Collector::new(Concurrency::Licences);
        c.read_licences(Path::new("licences.jsonl"), text.as_bytes(), false).unwrap();
        let a = analyse(c, &Options::default());
        let r = reasons_of(&a, "greedy");
        assert!(r.iter().any(|r| r.code == Code::StreamLimit && r.value == 6.0), "{r:#?}");
        assert_eq!(a.subjects_flagged, 1);
    }
}
