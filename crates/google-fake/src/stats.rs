//! Request accounting: how many requests each member made per method, and
//! the busiest 60-second window per member and for the whole project, the
//! figures Google's per-minute quotas are measured in. Token requests are
//! counted per method but left out of the windows: they go to the OAuth
//! endpoint, not against the Calendar API quota.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// A snapshot of the fake's request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests per (member email, method name such as `"events.list"` or
    /// `"token"`). Requests whose member is unknown (a bad token) count under `""`.
    pub requests: BTreeMap<(String, String), u64>,
    /// The most Calendar API requests any one member made in a 60-second window.
    pub max_per_minute_by_user: BTreeMap<String, u64>,
    /// The most Calendar API requests the whole project made in a 60-second window.
    pub max_per_minute_project: u64,
    /// Answers per (method name, HTTP status): how many patches answered
    /// 200, how many 412.
    pub answers: BTreeMap<(String, u16), u64>,
    /// Push notifications per (resource state such as `sync` or `exists`,
    /// the listener's HTTP status; 0 when it did not answer).
    pub deliveries: BTreeMap<(String, u16), u64>,
}

impl Stats {
    /// Requests `user` made of `method`.
    pub fn count(&self, user: &str, method: &str) -> u64 {
        self.requests
            .get(&(user.to_string(), method.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Answers to `method` with `status`, all members together.
    pub fn answered(&self, method: &str, status: u16) -> u64 {
        self.answers
            .get(&(method.to_string(), status))
            .copied()
            .unwrap_or(0)
    }

    /// Notifications in `state` the listener answered with `status`.
    pub fn delivered(&self, state: &str, status: u16) -> u64 {
        self.deliveries
            .get(&(state.to_string(), status))
            .copied()
            .unwrap_or(0)
    }

    /// Notifications the listener refused or did not answer.
    pub fn undelivered(&self) -> u64 {
        self.deliveries
            .iter()
            .filter(|((_, status), _)| !(200..300).contains(status))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests of `method`, all members together.
    pub fn total(&self, method: &str) -> u64 {
        self.requests
            .iter()
            .filter(|((_, m), _)| m == method)
            .map(|(_, n)| n)
            .sum()
    }
}

#[derive(Default)]
pub(crate) struct Recorder {
    stats: Stats,
    user_windows: BTreeMap<String, VecDeque<Instant>>,
    project_window: VecDeque<Instant>,
}

fn slide(window: &mut VecDeque<Instant>, now: Instant) -> u64 {
    window.push_back(now);
    while window
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        window.pop_front();
    }
    window.len() as u64
}

impl Recorder {
    pub fn record(&mut self, user: &str, method: &str, now: Instant) {
        *self
            .stats
            .requests
            .entry((user.to_string(), method.to_string()))
            .or_default() += 1;
        if method == "token" {
            return;
        }
        let n = slide(self.user_windows.entry(user.to_string()).or_default(), now);
        let max = self
            .stats
            .max_per_minute_by_user
            .entry(user.to_string())
            .or_default();
        *max = (*max).max(n);
        let n = slide(&mut self.project_window, now);
        self.stats.max_per_minute_project = self.stats.max_per_minute_project.max(n);
    }

    pub fn answered(&mut self, method: &str, status: u16) {
        *self
            .stats
            .answers
            .entry((method.to_string(), status))
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> Stats {
        self.stats.clone()
    }
}
