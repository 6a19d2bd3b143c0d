//! Client-side quota: a sliding 60-second window per user and one for the
//! whole project. A request waits until both windows have room, so no
//! 60-second span ever holds more requests than the configured rates (a
//! token bucket would let a full bucket plus its refill through).

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
    project: VecDeque<Instant>,
    users: HashMap<String, VecDeque<Instant>>,
}

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

    /// Wait for room in both windows, then take a slot in each.
    pub async fn acquire(&self, user: &str) {
        loop {
            let wait = {
                let mut w = match self.state.lock() {
                    Ok(w) => w,
                    Err(poisoned) => poisoned.into_inner(),
                };
                let now = Instant::now();
                let window = self.window;
                let expire = |q: &mut VecDeque<Instant>| {
                    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                        q.pop_front();
                    }
                };
                expire(&mut w.project);
                let Windows { project, users } = &mut *w;
                let user_q = users.entry(user.to_string()).or_default();
                expire(user_q);
                let user_wait =
                    (user_q.len() >= self.per_user).then(|| window - now.duration_since(user_q[0]));
                let project_wait = (project.len() >= self.per_project)
                    .then(|| window - now.duration_since(project[0]));
                match user_wait.max(project_wait) {
                    None => {
                        user_q.push_back(now);
                        project.push_back(now);
                        return;
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
}
