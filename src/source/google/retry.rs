//! What to do when a Google API call fails, following Google's guidance:
//! back off exponentially with jitter on rate limits and server errors
//! (honouring `Retry-After`), refresh the token once on 401, resync on 410,
//! and give up at once on permanent errors so nothing retries in a loop.
//! Pure apart from the injected random source.

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
    /// 410 `fullSyncRequired`.
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
    match (code, reason) {
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

/// Exponential backoff with "full jitter" between half and all of the step.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
    /// Waits for `quotaExceeded`.
    pub long: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(32),
            max_attempts: 6,
            long: Duration::from_secs(300),
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
