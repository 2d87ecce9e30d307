//! Who the simulated viewers are (labels, homes, devices) and when they play what: the plan the
//! simulation then plays out. Every draw comes from one seeded generator, in a fixed order.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::play::{Place, Play, Style};
use crate::labels::{Label, LabelRecord};

/// The simulation's knobs. [`Config::standard`] is the configuration analytics was developed
/// on; [`Config::other`] differs in every habit and proportion, for checking that nothing is
/// tuned to the first.
#[derive(Clone, Debug)]
pub struct Config {
    pub viewers: usize,
    pub seed: u64,
    /// Simulated period.
    pub hours: f64,
    /// Unix ms of the period's start.
    pub start_ms: i64,
    pub segment_seconds: f64,
    pub renditions: Vec<String>,
    pub titles: usize,
    /// Title lengths, minutes (uniform between).
    pub title_minutes: (f64, f64),
    pub ripper_share: f64,
    pub sharer_share: f64,
    pub restreamer_share: f64,
    /// Viewers per public address on average (CGNAT pools are large).
    pub nat_size: f64,
    /// Share of devices on mobile networks (addresses change during a play).
    pub mobile_share: f64,
    /// Plays per honest viewer per day.
    pub plays_per_day: f64,
    /// How far a player buffers ahead, seconds.
    pub buffer_seconds: f64,
    /// Concurrent streams a subject may hold.
    pub stream_limit: u32,
}

impl Config {
    pub fn standard(viewers: usize, seed: u64) -> Config {
        Config {
            viewers,
            seed,
            hours: 24.0,
            start_ms: 1_796_601_600_000, // 2026-12-07T00:00:00Z
            segment_seconds: 2.0,
            renditions: ["360p", "540p", "720p", "1080p"].map(String::from).to_vec(),
            titles: 20,
            title_minutes: (20.0, 120.0),
            ripper_share: 0.02,
            sharer_share: 0.02,
            restreamer_share: 0.01,
            nat_size: 2.0,
            mobile_share: 0.3,
            plays_per_day: 2.0,
            buffer_seconds: 30.0,
            stream_limit: 2,
        }
    }

    /// A different service: 6-second segments, three renditions, long buffers, big CGNAT
    /// pools, mostly mobile viewers, short titles, more sharers and fewer rippers.
    pub fn other(viewers: usize, seed: u64) -> Config {
        Config {
            segment_seconds: 6.0,
            renditions: ["low", "mid", "high"].map(String::from).to_vec(),
            titles: 60,
            title_minutes: (10.0, 60.0),
            ripper_share: 0.01,
            sharer_share: 0.05,
            restreamer_share: 0.005,
            nat_size: 20.0,
            mobile_share: 0.6,
            plays_per_day: 4.0,
            buffer_seconds: 120.0,
            stream_limit: 3,
            ..Config::standard(viewers, seed)
        }
    }
}

/// What to play.
pub struct Plan {
    pub labels: Vec<LabelRecord>,
    /// By start time.
    pub plays: Vec<Play>,
}

/// Streams each subject holds now (the licence service's stream limit).
pub struct Streams(Vec<u32>);

impl Streams {
    pub fn new(subjects: usize) -> Self {
        Streams(vec![0; subjects])
    }
    pub fn held(&self, subject: u32) -> u32 {
        self.0[subject as usize]
    }
    pub fn take(&mut self, subject: u32) {
        self.0[subject as usize] += 1;
    }
    pub fn give_back(&mut self, subject: u32) {
        let n = &mut self.0[subject as usize];
        *n = n.saturating_sub(1);
    }
}

/// Browsers, TVs and phones as they name themselves.
const AGENTS: [&str; 12] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-A546B) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 SamsungBrowser/5.0 TV Safari/537.36",
    "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 Chrome/94.0 Safari/537.36 WebAppManager",
    "AppleCoreMedia/1.0.0.22A3354 (Apple TV; U; CPU OS 18_0 like Mac OS X; en_us)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0",
    "ExoPlayerLib/2.19.1 (Linux; Android 12) AndroidTV",
];
const TOOLS: [&str; 4] =
    ["Lavf/60.16.100", "python-requests/2.32.3", "curl/8.5.0", "yt-dlp/2024.12.06"];

/// Uniform in [0, 1).
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

pub fn between(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

pub fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[(rng.next_u64() % items.len() as u64) as usize]
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    let (l, mut k, mut p) = ((-mean).exp(), 0u32, 1.0);
    loop {
        p *= unit(rng);
        if p <= l || k > 1000 {
            return k;
        }
        k += 1;
    }
}

/// A public-looking address: IPv4 mostly, IPv6 for a fifth of homes.
fn address(rng: &mut ChaCha8Rng) -> String {
    if unit(rng) < 0.2 {
        let w: Vec<String> = (0..4).map(|_| format!("{:x}", rng.next_u32() & 0xffff)).collect();
        format!("2a0{}:{}:{}::{}", rng.next_u32() % 10, w[0], w[1], w[3])
    } else {
        let b = rng.next_u32();
        format!("{}.{}.{}.{}", 20 + b % 200, (b >> 8) & 255, (b >> 16) & 255, 1 + (b >> 24) % 254)
    }
}

/// A datacenter block for servers (restreamers, some rippers).
fn server_address(rng: &mut ChaCha8Rng) -> String {
    format!("203.0.{}.{}", rng.next_u32() % 256, 1 + rng.next_u32() % 254)
}

struct Viewer {
    homes: Vec<String>,
    devices: Vec<(String, bool)>,
}

/// The plan of `config`.
pub fn plan(config: &Config) -> Plan {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let n = config.viewers.max(1);
    let period_ms = (config.hours * 3.6e6) as i64;
    let titles: Vec<(String, u64)> = (0..config.titles.max(1))
        .map(|i| {
            let minutes = between(&mut rng, config.title_minutes.0, config.title_minutes.1);
            (format!("title-{i:03}"), (minutes * 60.0 / config.segment_seconds).ceil() as u64)
        })
        .collect();
    let homes: Vec<String> = (0..((n as f64 / config.nat_size).ceil() as usize).max(1))
        .map(|_| address(&mut rng))
        .collect();
    // Labels: abusers at their shares, placed at random.
    let mut kinds = vec![Label::Honest; n];
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let mut next = order.into_iter();
    for (share, label) in [
        (config.ripper_share, Label::Ripper),
        (config.sharer_share, Label::Sharer),
        (config.restreamer_share, Label::Restreamer),
    ] {
        for i in next.by_ref().take((n as f64 * share).round() as usize) {
            kinds[i] = label;
        }
    }
    let mut plays = Vec::new();
    let mut labels = Vec::with_capacity(n);
    let mut session = 0u32;
    let mut new_session = || {
        session += 1;
        session
    };
    for (i, kind) in kinds.iter().enumerate() {
        let name = format!("viewer-{i:06}");
        let viewer = Viewer {
            homes: vec![pick(&mut rng, &homes).clone()],
            devices: (0..1 + poisson(&mut rng, 1.0).min(3))
                .map(|_| {
                    (pick(&mut rng, &AGENTS).to_string(), unit(&mut rng) < config.mobile_share)
                })
                .collect(),
        };
        let subject = i as u32;
        let mut detail = String::new();
        let honest_plays = |rng: &mut ChaCha8Rng,
                            plays: &mut Vec<Play>,
                            session: &mut dyn FnMut() -> u32,
                            per_day: f64| {
            for _ in 0..poisson(rng, per_day * config.hours / 24.0) {
                let (ua, mobile) = pick(rng, &viewer.devices).clone();
                let place =
                    if mobile { Place::Mobile } else { Place::Fixed(viewer.homes[0].clone()) };
                let title = pick(rng, &titles).clone();
                let start = config.start_ms + (unit(rng) * period_ms as f64) as i64;
                plays.push(Play::new(
                    subject,
                    &name,
                    session(),
                    title,
                    ua,
                    place,
                    Style::honest(rng, config),
                    start,
                    rng.next_u64(),
                ));
            }
        };
        match kind {
            Label::Honest => {
                honest_plays(&mut rng, &mut plays, &mut new_session, config.plays_per_day)
            }
            Label::Ripper => {
                honest_plays(&mut rng, &mut plays, &mut new_session, config.plays_per_day / 2.0);
                let r = unit(&mut rng);
                let (speed, ladder) = if r < 0.4 {
                    (between(&mut rng, 4.0, 40.0), false)
                } else if r < 0.75 {
                    (between(&mut rng, 4.0, 40.0), true)
                } else {
                    (between(&mut rng, 1.0, 1.5), true)
                };
                detail = format!("{}{speed:.1}x", if ladder { "ladder " } else { "" });
                let place = if unit(&mut rng) < 0.5 {
                    Place::Fixed(server_address(&mut rng))
                } else {
                    Place::Fixed(viewer.homes[0].clone())
                };
                let ua = if unit(&mut rng) < 0.5 {
                    pick(&mut rng, &TOOLS)
                } else {
                    pick(&mut rng, &AGENTS)
                }
                .to_string();
                for _ in 0..1 + rng.next_u32() % 4 {
                    let title = pick(&mut rng, &titles).clone();
                    let start = config.start_ms + (unit(&mut rng) * 0.8 * period_ms as f64) as i64;
                    let style = Style::Rip { speed, ladder };
                    plays.push(Play::new(
                        subject,
                        &name,
                        new_session(),
                        title,
                        ua.clone(),
                        place.clone(),
                        style,
                        start,
                        rng.next_u64(),
                    ));
                }
            }
            Label::Sharer => {
                honest_plays(&mut rng, &mut plays, &mut new_session, config.plays_per_day);
                let token = unit(&mut rng) < 0.5;
                let people = 3 + rng.next_u32() % 10;
                detail =
                    format!("{} shared with {people}", if token { "token" } else { "account" });
                for _ in 0..1 + rng.next_u32() % 3 {
                    let title = pick(&mut rng, &titles).clone();
                    let start = config.start_ms + (unit(&mut rng) * 0.8 * period_ms as f64) as i64;
                    let shared = new_session();
                    for _ in 0..people {
                        let place = if unit(&mut rng) < config.mobile_share {
                            Place::Mobile
                        } else {
                            Place::Fixed(pick(&mut rng, &homes).clone())
                        };
                        let ua = pick(&mut rng, &AGENTS).to_string();
                        let at = start + (unit(&mut rng) * 600_000.0) as i64;
                        let s = if token { shared } else { new_session() };
                        let mut style = Style::honest(&mut rng, config);
                        style.set_retries(3);
                        plays.push(Play::new(
                            subject,
                            &name,
                            s,
                            title.clone(),
                            ua,
                            place,
                            style,
                            at,
                            rng.next_u64(),
                        ));
                    }
                }
            }
            Label::Restreamer => {
                let channels = 1 + rng.next_u32() % 3;
                detail = format!("{channels} channels");
                let place = Place::Fixed(server_address(&mut rng));
                let ua = if unit(&mut rng) < 0.5 {
                    pick(&mut rng, &TOOLS)
                } else {
                    pick(&mut rng, &AGENTS)
                }
                .to_string();
                for _ in 0..channels {
                    let title = pick(&mut rng, &titles).clone();
                    let start = config.start_ms + (unit(&mut rng) * 2.0 * 3.6e6) as i64;
                    let style = Style::Restream { titles: titles.clone() };
                    plays.push(Play::new(
                        subject,
                        &name,
                        new_session(),
                        title,
                        ua.clone(),
                        place.clone(),
                        style,
                        start,
                        rng.next_u64(),
                    ));
                }
            }
        }
        labels.push(LabelRecord { subject: name, label: *kind, detail });
    }
    plays.sort_by_key(|p| p.start_ms);
    Plan { labels, plays }
}
