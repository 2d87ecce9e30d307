//! Live rules (`serve --live-rules`): a session fetching video segments far faster than real
//! time is refused further segments for a while — a ripper is stopped during the rip, not found
//! afterwards in the access log.
//!
//! The rule is a token bucket in seconds of content. A session starts with [`LiveRuleOptions::
//! ahead`] seconds of credit (the start-up burst and the player's buffer), earns `speed`
//! seconds per second of wall-clock time up to that cap, and each video segment position it
//! fetches for the first time costs its duration. So over any window since its first segment a
//! session may fetch at most `ahead + speed × window` seconds of content; past that, its
//! segments get 429 (`Abmark-Refusal: too-fast`) for `block`. Positions already fetched are
//! free: a rendition switch or a seek back re-fetches positions it paid for. A seek forward
//! costs one buffer's worth, which the credit and the slack in `speed` (above 1) allow.
//!
//! The defaults leave every player we know room: hls.js may buffer up to 600 s ahead (its
//! `maxMaxBufferLength`) but stops at 60 MB (`maxBufferSize`), a little over 3 minutes of 720p;
//! shaka buffers 10 s by default, dash.js 12 to 30 s. A ripper of a two-hour title gets its first
//! five minutes.
//!
//! A session is the viewer's watermark pattern (one per issued session: the tokens of one
//! session share its budget). Memory is bounded: at most `sessions` are followed (the least
//! recently seen is forgotten first), each with a bit per segment position of the title;
//! one request is a hash, a lock of one of [`SHARDS`] shards, and O(1) work.
//!
//! May depend on: hashlink (the LRU). Nothing of HTTP.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LruCache;

/// Locks the sessions are spread over, so concurrent segment requests rarely wait on each other.
const SHARDS: usize = 16;

/// The rule's parameters (`serve --live-*`).
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRuleOptions {
    /// Seconds of content a session may be ahead of real time (start-up burst and buffer).
    pub ahead: f64,
    /// Seconds of content earned per second of wall-clock time (1 = real time).
    pub speed: f64,
    /// How long a session over the rule is refused segments.
    pub block: Duration,
    /// Sessions followed at once; the least recently seen is forgotten beyond it.
    pub sessions: usize,
}

impl Default for LiveRuleOptions {
    fn default() -> Self {
        Self { ahead: 300.0, speed: 1.5, block: Duration::from_secs(300), sessions: 100_000 }
    }
}

/// One session's pace.
struct Pace {
    /// Seconds of content it may fetch now.
    credit: f64,
    /// When `credit` was last brought up to date (seconds since the rules started).
    at: f64,
    /// Refused until then (seconds since the rules started).
    blocked_until: f64,
    /// A bit per segment position fetched (and paid for) already.
    fetched: Box<[u64]>,
}

/// What the rule says about one segment request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; `tripped` is true for the request that put the session over the rule (the one
    /// worth a log line), `retry_after` the whole seconds until it may fetch again.
    Refused {
        retry_after: u64,
        tripped: bool,
    },
}

/// The live rules of one title.
pub struct LiveRules {
    options: LiveRuleOptions,
    /// Duration of each video segment position, seconds.
    durations: Vec<f64>,
    start: Instant,
    hasher: std::hash::RandomState,
    shards: Vec<Mutex<LruCache<u64, Pace>>>,
    refused: AtomicU64,
    tripped: AtomicU64,
}

impl LiveRules {
    /// Rules for a title whose video segments last `durations` seconds each.
    pub fn new(options: LiveRuleOptions, durations: Vec<f64>) -> Self {
        let per_shard = options.sessions.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(LruCache::new(per_shard))).collect(),
            options,
            durations,
            start: Instant::now(),
            hasher: std::hash::RandomState::new(),
            refused: AtomicU64::new(0),
            tripped: AtomicU64::new(0),
        }
    }

    pub fn options(&self) -> &LiveRuleOptions {
        &self.options
    }

    /// Segment requests refused so far, and sessions put over the rule.
    pub fn counts(&self) -> (u64, u64) {
        (self.refused.load(Ordering::Relaxed), self.tripped.load(Ordering::Relaxed))
    }

    /// Judges a request of the session `session` (any hashable identity, e.g. its pattern) for
    /// video segment position `index`, now.
    pub fn check(&self, session: impl Hash, index: usize) -> Verdict {
        self.check_at(session, index, self.start.elapsed().as_secs_f64())
    }

    fn check_at(&self, session: impl Hash, index: usize, now: f64) -> Verdict {
        let Some(&cost) = self.durations.get(index) else { return Verdict::Allowed };
        let key = self.hasher.hash_one(session);
        let shard = &self.shards[(key % SHARDS as u64) as usize];
        let mut sessions = shard.lock().unwrap_or_else(|e| e.into_inner());
        let o = &self.options;
        if sessions.get_mut(&key).is_none() {
            let words = self.durations.len().div_ceil(64);
            let fresh = Pace {
                credit: o.ahead,
                at: now,
                blocked_until: 0.0,
                fetched: vec![0; words].into_boxed_slice(),
            };
            sessions.insert(key, fresh);
        }
        let Some(pace) = sessions.get_mut(&key) else { return Verdict::Allowed };
        if now < pace.blocked_until {
            self.refused.fetch_add(1, Ordering::Relaxed);
            let retry_after = (pace.blocked_until - now).ceil() as u64;
            return Verdict::Refused { retry_after, tripped: false };
        }
        pace.credit = (pace.credit + (now - pace.at) * o.speed).min(o.ahead);
        pace.at = now;
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if pace.fetched[word] & bit != 0 {
            return Verdict::Allowed;
        }
        if pace.credit >= cost {
            pace.credit -= cost;
            pace.fetched[word] |= bit;
            return Verdict::Allowed;
        }
        pace.blocked_until = now + o.block.as_secs_f64();
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.tripped.fetch_add(1, Ordering::Relaxed);
        Verdict::Refused { retry_after: o.block.as_secs().max(1), tripped: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(ahead: f64, speed: f64, segments: usize) -> LiveRules {
        let options =
            LiveRuleOptions { ahead, speed, block: Duration::from_secs(60), sessions: 1000 };
        LiveRules::new(options, vec![2.0; segments])
    }

    #[test]
    fn a_ripper_is_stopped_after_the_burst_and_stays_blocked() {
        let r = rules(10.0, 1.5, 100);
        // 5 segments of 2 s fit the 10-s credit at once; the 6th does not.
        for i in 0..5 {
            assert_eq!(r.check_at("ripper", i, 0.01 * i as f64), Verdict::Allowed, "{i}");
        }
        assert_eq!(
            r.check_at("ripper", 5, 0.06),
            Verdict::Refused { retry_after: 60, tripped: true }
        );
        // Blocked even for a position it has, until the block ends.
        assert!(matches!(r.check_at("ripper", 0, 30.0), Verdict::Refused { tripped: false, .. }));
        assert_eq!(r.check_at("ripper", 5, 61.0), Verdict::Allowed);
        assert_eq!(r.counts(), (2, 1));
    }

    #[test]
    fn real_time_switches_and_seeks_pass() {
        let r = rules(10.0, 1.5, 100);
        let mut t = 0.0;
        // A player: a start-up burst of its buffer, then one segment per 2 s...
        for i in 0..5 {
            assert_eq!(r.check_at("viewer", i, t), Verdict::Allowed);
        }
        for i in 5..40 {
            t += 2.0;
            assert_eq!(r.check_at("viewer", i, t), Verdict::Allowed, "{i}");
            // ...switching rendition re-fetches the buffered positions, free...
            if i % 10 == 0 {
                for j in i - 4..=i {
                    assert_eq!(r.check_at("viewer", j, t), Verdict::Allowed, "switch {j}");
                }
            }
        }
        // ...and a seek forward refills the buffer after a pause of playback.
        t += 10.0;
        for i in 80..85 {
            assert_eq!(r.check_at("viewer", i, t), Verdict::Allowed, "seek {i}");
        }
        // Another session has its own budget.
        assert_eq!(r.check_at("other", 0, t), Verdict::Allowed);
        assert_eq!(r.counts(), (0, 0));
    }

    #[test]
    fn memory_is_bounded_by_the_session_count() {
        let r = rules(10.0, 1.0, 10);
        for s in 0..10_000u32 {
            r.check_at(s, 0, 0.0);
        }
        let held: usize = r.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held <= 1000 + SHARDS, "{held}");
    }
}
