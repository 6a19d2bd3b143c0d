//! What the Google calls of one source have met since the daemon started:
//! failed attempts by kind and the time spent waiting (for the rate
//! limiter's slot, and in backoff before a retry). Plain atomic counters,
//! read by the metrics endpoint; no addresses or titles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::retry::{Class, Seen};

/// The kinds a failed attempt is counted under, in the order they are
/// served.
pub const KINDS: [&str; 7] = [
    "rate_limited",
    "server",
    "quota",
    "auth",
    "sync_token",
    "conflict",
    "permanent",
];

#[derive(Default)]
pub struct ApiStats {
    failures: [AtomicU64; KINDS.len()],
    limiter_wait_ms: AtomicU64,
    backoff_wait_ms: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiStatsSnapshot {
    /// Failed attempts per kind, in [`KINDS`] order.
    pub failures: [u64; KINDS.len()],
    pub limiter_wait_seconds: f64,
    pub backoff_wait_seconds: f64,
}

impl ApiStatsSnapshot {
    /// Add another source's counters.
    pub fn add(&mut self, other: &ApiStatsSnapshot) {
        for (a, b) in self.failures.iter_mut().zip(other.failures) {
            *a += b;
        }
        self.limiter_wait_seconds += other.limiter_wait_seconds;
        self.backoff_wait_seconds += other.backoff_wait_seconds;
    }
}

/// The kind a failed attempt counts under.
pub fn kind_of(class: &Class, seen: &Seen) -> &'static str {
    match class {
        Class::Retry { .. } if matches!(seen.status, Some(403 | 429)) => "rate_limited",
        Class::Retry { .. } => "server",
        Class::LongBackoff => "quota",
        Class::RefreshToken => "auth",
        Class::FullSync => "sync_token",
        Class::Conflict => "conflict",
        Class::Permanent => "permanent",
    }
}

impl ApiStats {
    pub fn failure(&self, kind: &str) {
        if let Some(i) = KINDS.iter().position(|k| *k == kind) {
            self.failures[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn limiter_wait(&self, d: Duration) {
        self.limiter_wait_ms
            .fetch_add(d.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn backoff_wait(&self, d: Duration) {
        self.backoff_wait_ms
            .fetch_add(d.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ApiStatsSnapshot {
        let mut failures = [0; KINDS.len()];
        for (f, c) in failures.iter_mut().zip(&self.failures) {
            *f = c.load(Ordering::Relaxed);
        }
        ApiStatsSnapshot {
            failures,
            limiter_wait_seconds: self.limiter_wait_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            backoff_wait_seconds: self.backoff_wait_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_table() {
        let seen = |status| Seen {
            status: Some(status),
            retry_after: None,
        };
        let retry = Class::Retry { after: None };
        let cases = [
            (retry.clone(), seen(429), "rate_limited"),
            (retry.clone(), seen(403), "rate_limited"),
            (retry.clone(), seen(503), "server"),
            (Class::LongBackoff, seen(403), "quota"),
            (Class::RefreshToken, seen(401), "auth"),
            (Class::FullSync, seen(410), "sync_token"),
            (Class::Conflict, seen(412), "conflict"),
            (Class::Permanent, seen(404), "permanent"),
        ];
        for (class, seen, want) in cases {
            assert_eq!(kind_of(&class, &seen), want, "{class:?} {seen:?}");
        }
    }

    #[test]
    fn counts_add_up_per_kind_and_across_sources() {
        let s = ApiStats::default();
        s.failure("server");
        s.failure("server");
        s.failure("quota");
        s.failure("no such kind");
        s.limiter_wait(Duration::from_millis(1500));
        s.backoff_wait(Duration::from_millis(250));
        let mut total = s.snapshot();
        assert_eq!(total.failures, [0, 2, 1, 0, 0, 0, 0]);
        total.add(&s.snapshot());
        assert_eq!(total.failures[1], 4);
        assert_eq!(total.limiter_wait_seconds, 3.0);
        assert_eq!(total.backoff_wait_seconds, 0.5);
    }
}
