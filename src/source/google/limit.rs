//! Client-side quota: a sliding 60-second window per user and one for the
//! whole project. A request waits until both windows have room, so no
//! 60-second span ever holds more requests than the configured rates (a
//! token bucket would let a full bucket plus its refill through).
//!
//! The server counts a request when it arrives, which is some time after
//! the client sent it; so a request holds its place in the windows from
//! the moment it is let through until a window's length after its answer
//! came back (the `Slot` marks that when dropped). Any two requests that
//! arrive within one window of each other are then both counted when the
//! later one asks, however slow the network or the machine.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub struct RateLimiter {
    per_user: usize,
    per_project: usize,
    window: Duration,
    state: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    next_id: u64,
    project: VecDeque<Place>,
    users: HashMap<String, VecDeque<Place>>,
}

/// A request's place in a window: in flight until `done`.
#[derive(Clone, Copy)]
struct Place {
    id: u64,
    done: Option<Instant>,
}

/// A request let through; dropping it (when the answer is in, or the
/// request was abandoned) starts the window's countdown for it.
pub struct Slot<'a> {
    limiter: &'a RateLimiter,
    user: String,
    id: u64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut w = self.limiter.lock();
        let mark = |q: &mut VecDeque<Place>| {
            if let Some(p) = q.iter_mut().rev().find(|p| p.id == self.id) {
                p.done = Some(now);
            }
        };
        mark(&mut w.project);
        if let Some(q) = w.users.get_mut(&self.user) {
            mark(q);
        }
    }
}

/// How long a poll waits when every place is taken by a request still in
/// flight (only when a rate is lower than the number of requests at once).
const IN_FLIGHT_POLL: Duration = Duration::from_millis(20);

impl RateLimiter {
    pub fn per_minute(per_user: u32, per_project: u32) -> RateLimiter {
        RateLimiter::new(
            per_user as usize,
            per_project as usize,
            Duration::from_secs(60),
        )
    }

    pub fn new(per_user: usize, per_project: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            per_user: per_user.max(1),
            per_project: per_project.max(1),
            window,
            state: Mutex::new(Windows::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        // The windows stay consistent whatever panicked while holding them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for room in both windows, then take a place in each; the place
    /// is held until the returned slot is dropped and a window after that.
    pub async fn acquire(&self, user: &str) -> Slot<'_> {
        loop {
            let wait = {
                let mut w = self.lock();
                let now = Instant::now();
                let window = self.window;
                let expired = |p: &Place| p.done.is_some_and(|d| now.duration_since(d) >= window);
                // Cheap in the common case (the oldest place is done and
                // past); a full sweep only when the window looks full, as a
                // slow request at the front may hold finished ones behind.
                let expire = |q: &mut VecDeque<Place>, limit: usize| {
                    while q.front().is_some_and(expired) {
                        q.pop_front();
                    }
                    if q.len() >= limit {
                        q.retain(|p| !expired(p));
                    }
                };
                // When the earliest place frees up, if any is finished.
                let frees_in = |q: &VecDeque<Place>| {
                    q.iter()
                        .filter_map(|p| p.done)
                        .min()
                        .map_or(IN_FLIGHT_POLL, |d| {
                            (d + window).saturating_duration_since(now)
                        })
                };
                expire(&mut w.project, self.per_project);
                let Windows {
                    project,
                    users,
                    next_id,
                } = &mut *w;
                let user_q = users.entry(user.to_string()).or_default();
                expire(user_q, self.per_user);
                let user_wait = (user_q.len() >= self.per_user).then(|| frees_in(user_q));
                let project_wait = (project.len() >= self.per_project).then(|| frees_in(project));
                match user_wait.max(project_wait) {
                    None => {
                        *next_id += 1;
                        let place = Place {
                            id: *next_id,
                            done: None,
                        };
                        user_q.push_back(place);
                        project.push_back(place);
                        return Slot {
                            limiter: self,
                            user: user.to_string(),
                            id: place.id,
                        };
                    }
                    Some(wait) => wait,
                }
            };
            tokio::time::sleep(wait + Duration::from_millis(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let window = Duration::from_millis(200);
            let limiter = std::sync::Arc::new(RateLimiter::new(3, 5, window));
            let mut stamps: Vec<(String, Instant)> = Vec::new();
            let start = Instant::now();
            for i in 0..12 {
                let user = if i % 2 == 0 { "a" } else { "b" };
                limiter.acquire(user).await;
                stamps.push((user.to_string(), Instant::now()));
            }
            // Every window holds at most 3 per user and 5 in all.
            for (i, (_, t)) in stamps.iter().enumerate() {
                let in_window: Vec<_> = stamps[i..]
                    .iter()
                    .filter(|(_, s)| s.duration_since(*t) < window)
                    .collect();
                assert!(in_window.len() <= 5, "project window exceeded");
                for u in ["a", "b"] {
                    assert!(
                        in_window.iter().filter(|(x, _)| x == u).count() <= 3,
                        "user window exceeded"
                    );
                }
            }
            // 12 requests at 5 per window need at least two full waits.
            assert!(Instant::now().duration_since(start) >= window * 2);
        });
    }

    #[test]
    fn a_place_is_held_while_the_request_is_in_flight() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            // A lower bound only: sleeps never end early.
            let window = Duration::from_millis(200);
            let limiter = RateLimiter::new(1, 10, window);
            let start = Instant::now();
            let slow = limiter.acquire("a").await;
            // The first request takes 100 ms to answer: the second may go
            // only a full window after that answer, not after its start.
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(slow);
            let _second = limiter.acquire("a").await;
            assert!(Instant::now().duration_since(start) >= Duration::from_millis(300));
        });
    }
}
