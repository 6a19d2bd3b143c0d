//! Injected failures: which request fails, how, how often. The dice are a
//! seeded xorshift so a test with `probability` fails the same way every run.
//! This module picks failures; it never touches calendars or the network.

use std::time::Duration;

use super::error::{ApiError, TokenError};

/// One injected failure. `method` is a name such as `"events.list"`,
/// `"events.patch"`, `"events.watch"`, `"channels.stop"`, `"settings.get"` or
/// `"token"`; `None` matches every API method but not `"token"` (a failing
/// token endpoint must be asked for by name). `user` is the impersonated
/// member (`None`: anyone). `times` bounds how often it fires (`None`:
/// forever); `probability` makes it fire on that share of matching requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub method: Option<String>,
    pub user: Option<String>,
    pub kind: FailureKind,
    pub times: Option<u32>,
    pub probability: Option<f64>,
}

impl Failure {
    /// A failure of `kind` on every matching request, forever.
    pub fn new(kind: FailureKind) -> Failure {
        Failure {
            method: None,
            user: None,
            kind,
            times: None,
            probability: None,
        }
    }

    pub fn method(mut self, method: &str) -> Failure {
        self.method = Some(method.to_string());
        self
    }

    pub fn user(mut self, user: &str) -> Failure {
        self.user = Some(user.to_string());
        self
    }

    pub fn times(mut self, times: u32) -> Failure {
        self.times = Some(times);
        self
    }

    pub fn probability(mut self, probability: f64) -> Failure {
        self.probability = Some(probability);
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// 429 `rateLimitExceeded` with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// 403 `rateLimitExceeded`.
    RateLimitExceeded,
    /// 403 `userRateLimitExceeded`.
    UserRateLimitExceeded,
    /// 403 `quotaExceeded`.
    QuotaExceeded,
    /// 500 `backendError`.
    BackendError,
    /// 503 `backendError`.
    ServiceUnavailable,
    /// Wait, then answer normally.
    Slow(Duration),
    /// Carry the request out at once, then wait before answering: a
    /// `sync` notification of a new channel reaches the listener before
    /// the `events.watch` answer reaches the caller.
    SlowAnswer(Duration),
    /// Carry the request out, then answer 500 `backendError` anyway: the
    /// client cannot tell whether its write was applied.
    BackendErrorAfterApplying,
    /// Carry the request out, then close the connection without an answer.
    DropConnectionAfterApplying,
    /// Lose one push notification of the matching user's calendar.
    DropNotification,
}

/// What an injected failure does to one request.
pub(crate) enum Outcome {
    /// Answer with this error instead of carrying the request out.
    Fail(FailureKind),
    /// Wait, then carry the request out.
    Delay(Duration),
    /// Carry the request out, then wait before answering.
    DelayAnswer(Duration),
    /// Carry the request out, then answer with this error.
    FailAfter(FailureKind),
}

impl FailureKind {
    pub(crate) fn api_error(&self) -> Option<ApiError> {
        Some(match self {
            FailureKind::TooManyRequests { retry_after_secs } => {
                ApiError::too_many_requests(*retry_after_secs)
            }
            FailureKind::RateLimitExceeded => ApiError::rate_limit_exceeded(),
            FailureKind::UserRateLimitExceeded => ApiError::user_rate_limit_exceeded(),
            FailureKind::QuotaExceeded => ApiError::quota_exceeded(),
            FailureKind::BackendError => ApiError::backend_error(),
            FailureKind::ServiceUnavailable => ApiError::service_unavailable(),
            FailureKind::BackendErrorAfterApplying | FailureKind::DropConnectionAfterApplying => {
                ApiError::backend_error()
            }
            FailureKind::Slow(_) | FailureKind::SlowAnswer(_) | FailureKind::DropNotification => {
                return None;
            }
        })
    }

    /// The token endpoint answers in OAuth's error format, not the API's.
    pub(crate) fn token_error(&self) -> Option<TokenError> {
        let api = self.api_error()?;
        let error = match api.status {
            429 | 403 => "rate_limit_exceeded",
            503 => "temporarily_unavailable",
            _ => "internal_failure",
        };
        let mut e = TokenError::new(api.status, error, &api.message);
        e.retry_after = api.retry_after;
        Some(e)
    }
}

pub(crate) struct Failures {
    active: Vec<Failure>,
    rng: u64,
}

impl Default for Failures {
    fn default() -> Failures {
        Failures {
            active: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Failures {
    pub fn push(&mut self, f: Failure) {
        self.active.push(f);
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// xorshift64: deterministic, good enough for coin flips.
    fn next_f64(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn fires(&mut self, i: usize) -> bool {
        let p = self.active[i].probability;
        let hit = match p {
            Some(p) => self.next_f64() < p,
            None => true,
        };
        if hit && let Some(t) = self.active[i].times.as_mut() {
            *t = t.saturating_sub(1);
        }
        hit
    }

    fn retire_spent(&mut self) {
        self.active.retain(|f| f.times != Some(0));
    }

    /// The failure (if any) for a request of `method` by `user`.
    pub fn for_request(&mut self, method: &str, user: Option<&str>) -> Option<Outcome> {
        for i in 0..self.active.len() {
            let f = &self.active[i];
            if f.kind == FailureKind::DropNotification || f.times == Some(0) {
                continue;
            }
            let method_ok = match &f.method {
                Some(m) => m == method,
                None => method != "token",
            };
            let user_ok = match (&f.user, user) {
                (None, _) => true,
                (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
                (Some(_), None) => false,
            };
            if method_ok && user_ok && self.fires(i) {
                let kind = self.active[i].kind.clone();
                self.retire_spent();
                return Some(match kind {
                    FailureKind::Slow(d) => Outcome::Delay(d),
                    FailureKind::SlowAnswer(d) => Outcome::DelayAnswer(d),
                    FailureKind::BackendErrorAfterApplying
                    | FailureKind::DropConnectionAfterApplying => Outcome::FailAfter(kind),
                    other => Outcome::Fail(other),
                });
            }
        }
        None
    }

    /// Whether the next notification for `user`'s calendar is lost.
    pub fn drop_notification(&mut self, user: &str) -> bool {
        for i in 0..self.active.len() {
            let f = &self.active[i];
            if f.kind != FailureKind::DropNotification || f.times == Some(0) {
                continue;
            }
            let user_ok = f.user.as_ref().is_none_or(|u| u.eq_ignore_ascii_case(user));
            if user_ok && self.fires(i) {
                self.retire_spent();
                return true;
            }
        }
        false
    }
}
