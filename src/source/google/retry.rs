//! What to do when a Google API call fails, following Google's guidance:
//! back off exponentially with jitter on rate limits and server errors
//! (honouring `Retry-After`), refresh the token once on 401, resync on 410,
//! and give up at once on permanent errors so nothing retries in a loop.
//! A wait longer than `Backoff::max_wait` (a long `Retry-After`, a
//! `quotaExceeded`) is not waited out inside a pass: the member is deferred
//! to a later pass so the others are not held up.
//! Pure apart from the injected random source; the clock is a parameter.

use std::time::Duration;

/// The HTTP status and `Retry-After` of a failed response, as the
/// request's delegate saw them (google-calendar3 does not keep the status).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// Rate limits, 429, 5xx, connection errors.
    Retry { after: Option<Duration> },
    /// `quotaExceeded`: the daily or project quota; wait long.
    LongBackoff,
    /// 401: the token may have expired; refresh once.
    RefreshToken,
    /// 410 `fullSyncRequired`, or a 400 that says the sync token is
    /// invalid: either way the calendar must be synced in full.
    FullSync,
    /// 412: the event changed since it was read.
    Conflict,
    /// Anything else: log and skip.
    Permanent,
}

/// Classify a failure from the status and Google's error body.
pub fn classify(seen: &Seen, body: Option<&serde_json::Value>) -> Class {
    let code = body
        .and_then(|b| b.pointer("/error/code"))
        .and_then(serde_json::Value::as_u64)
        .map(|c| c as u16)
        .or(seen.status);
    let reason = body
        .and_then(|b| b.pointer("/error/errors/0/reason"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let message = body
        .and_then(|b| b.pointer("/error/message"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    match (code, reason) {
        (Some(400), _) if refuses_sync_token(message) => Class::FullSync,
        (Some(403), "rateLimitExceeded" | "userRateLimitExceeded") | (Some(429), _) => {
            Class::Retry {
                after: seen.retry_after,
            }
        }
        (Some(403), "quotaExceeded" | "dailyLimitExceeded") => Class::LongBackoff,
        (Some(401), _) => Class::RefreshToken,
        (Some(410), _) => Class::FullSync,
        (Some(412), _) => Class::Conflict,
        (Some(500..=599), _) => Class::Retry {
            after: seen.retry_after,
        },
        (None, _) => Class::Retry { after: None },
        _ => Class::Permanent,
    }
}

/// Whether a 400's message says the sync token is invalid ("Invalid sync
/// token value.", "Sync token is no longer valid, a full sync is
/// required."): a calendar must never stay stuck on a token the server
/// refuses.
fn refuses_sync_token(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("sync token") && (m.contains("invalid") || m.contains("no longer valid"))
}

/// A `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110
/// section 10.2.3), read against `now`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with "full jitter" between half and all of the step.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
    /// How long the next pass should wait after a `quotaExceeded`: it is
    /// never waited out inside a pass.
    pub long: Duration,
    /// The longest wait (a `Retry-After`, a backoff step) a request sits
    /// out inside a pass; a longer one defers the member to a later pass.
    pub max_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(32),
            max_attempts: 6,
            long: Duration::from_secs(300),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0-based). `unit` is a random
    /// number in [0, 1) from the caller's source. `Retry-After` is a floor.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        let step = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let jittered = step.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
        retry_after.map_or(jittered, |r| r.max(jittered))
    }

    /// The wait before retry number `attempt`, or `None` when it is longer
    /// than `max_wait` and the request should be given up for this pass.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Option<Duration> {
        let wait = self.delay(attempt, retry_after, unit);
        (wait <= self.max_wait).then_some(wait)
    }
}

/// A small, seedable random source (xorshift64*): jitter needs spread, not
/// cryptographic quality, and tests need repeatable runs.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    pub fn from_time() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Jitter::seeded(nanos)
    }

    pub fn unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(code: u16, reason: &str) -> serde_json::Value {
        json!({"error": {"code": code, "message": "m", "errors": [{"domain": "usageLimits", "reason": reason, "message": "m"}]}})
    }

    #[test]
    fn classification_table() {
        let secs = |s| Some(Duration::from_secs(s));
        let cases: Vec<(Seen, Option<serde_json::Value>, Class)> = vec![
            (
                Seen::default(),
                Some(body(403, "rateLimitExceeded")),
                Class::Retry { after: None },
            ),
            (
                Seen::default(),
                Some(body(403, "userRateLimitExceeded")),
                Class::Retry { after: None },
            ),
            (
                Seen {
                    status: Some(429),
                    retry_after: secs(7),
                },
                Some(body(429, "rateLimitExceeded")),
                Class::Retry { after: secs(7) },
            ),
            (
                Seen {
                    status: Some(429),
                    retry_after: secs(3),
                },
                None,
                Class::Retry { after: secs(3) },
            ),
            (
                Seen::default(),
                Some(body(403, "quotaExceeded")),
                Class::LongBackoff,
            ),
            (
                Seen::default(),
                Some(body(403, "forbiddenForNonOrganizer")),
                Class::Permanent,
            ),
            (
                Seen::default(),
                Some(body(403, "insufficientPermissions")),
                Class::Permanent,
            ),
            (
                Seen::default(),
                Some(body(401, "authError")),
                Class::RefreshToken,
            ),
            (
                Seen::default(),
                Some(body(410, "fullSyncRequired")),
                Class::FullSync,
            ),
            (
                Seen::default(),
                Some(body(412, "conditionNotMet")),
                Class::Conflict,
            ),
            (
                Seen::default(),
                Some(body(500, "backendError")),
                Class::Retry { after: None },
            ),
            (
                Seen {
                    status: Some(503),
                    retry_after: None,
                },
                None,
                Class::Retry { after: None },
            ),
            (
                Seen::default(),
                Some(body(404, "notFound")),
                Class::Permanent,
            ),
            (
                Seen::default(),
                Some(body(400, "invalid")),
                Class::Permanent,
            ),
            // A sync token the server refuses with a 400: sync in full.
            (
                Seen::default(),
                Some(
                    json!({"error": {"code": 400, "message": "Invalid sync token value.", "errors": [{"domain": "global", "reason": "invalid", "message": "Invalid sync token value."}]}}),
                ),
                Class::FullSync,
            ),
            (
                Seen::default(),
                Some(
                    json!({"error": {"code": 400, "message": "Invalid page token value.", "errors": [{"domain": "global", "reason": "invalid", "message": "Invalid page token value."}]}}),
                ),
                Class::Permanent,
            ),
            // No status and no body: the connection failed.
            (Seen::default(), None, Class::Retry { after: None }),
        ];
        for (seen, b, expect) in cases {
            assert_eq!(classify(&seen, b.as_ref()), expect, "{seen:?} {b:?}");
        }
    }

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let b = Backoff::default();
        assert_eq!(b.delay(0, None, 1.0), Duration::from_millis(500));
        assert_eq!(b.delay(0, None, 0.0), Duration::from_millis(250));
        assert_eq!(b.delay(3, None, 1.0), Duration::from_secs(4));
        assert_eq!(b.delay(20, None, 1.0), Duration::from_secs(32));
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(10)), 1.0),
            Duration::from_secs(10)
        );
        assert_eq!(
            b.delay(8, Some(Duration::from_secs(1)), 1.0),
            Duration::from_secs(32)
        );
    }

    #[test]
    fn retry_after_in_seconds_and_as_an_http_date() {
        // Sun, 29 Nov 2026 12:00:00 GMT.
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_795_953_600);
        let check = |value: &str, expect: Option<u64>| {
            assert_eq!(
                parse_retry_after(value, now),
                expect.map(Duration::from_secs),
                "{value}"
            );
        };
        check("7", Some(7));
        check(" 120 ", Some(120));
        check("Sun, 29 Nov 2026 12:01:30 GMT", Some(90));
        // The obsolete forms an HTTP/1.1 recipient must still read.
        check("Sunday, 29-Nov-26 12:00:10 GMT", Some(10));
        check("Sun Nov 29 12:00:05 2026", Some(5));
        // A date already past: retry now.
        check("Sun, 29 Nov 2026 11:00:00 GMT", Some(0));
        check("soon", None);
        check("-3", None);
    }

    #[test]
    fn waits_past_the_cap_defer_the_request() {
        let b = Backoff::default();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(b.wait(0, secs(60), 1.0), Some(Duration::from_secs(60)));
        assert_eq!(b.wait(0, secs(61), 1.0), None);
        assert_eq!(b.wait(20, None, 1.0), Some(Duration::from_secs(32)));
        assert_eq!(b.wait(0, secs(86_400), 0.0), None);
    }

    #[test]
    fn jitter_is_repeatable_and_spread() {
        let mut a = Jitter::seeded(42);
        let mut b = Jitter::seeded(42);
        let xs: Vec<f64> = (0..1000).map(|_| a.unit()).collect();
        assert!(
            xs.iter()
                .zip((0..1000).map(|_| b.unit()))
                .all(|(x, y)| *x == y)
        );
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }
}
