//! The daemon: syncs every configured source, screens new and changed
//! invites, acts, logs, and keeps watching until asked to stop.
//!
//! `screen` holds the pure rules for who owns a response and what to write;
//! `engine` does the I/O around them; the team's policies come from
//! `crate::team`.

pub mod engine;
pub mod screen;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use engine::{Engine, RunReport};

/// The events the daemon loop reacts to. The loop is a `match` over this
/// closed set rather than a web of callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonEvent {
    /// Time to look at every source again.
    SyncDue,
    /// A policy file changed on disk.
    PolicyChanged,
    /// Google said a member's calendar changed.
    CalendarChanged(webhook::Notification),
    /// The weekly report's scheduled time has come (see
    /// `report::schedule`).
    ReportDue,
    /// SIGINT or SIGTERM.
    Shutdown,
}

/// Where "now" comes from: the wall clock in production, a fixed or stepped
/// time in demos and tests.
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a given time and moves with the wall clock.
pub struct OffsetClock {
    offset: chrono::Duration,
}

impl OffsetClock {
    pub fn starting_at(t: DateTime<Utc>) -> OffsetClock {
        OffsetClock {
            offset: t - Utc::now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// Install SIGINT/SIGTERM handlers that raise a flag.
pub fn shutdown_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&flag))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&flag))?;
    Ok(flag)
}

/// Wait for the next event: shutdown, a policy change, a report coming
/// due (`report_in`: how long until it is, if one is scheduled), or the
/// next sync. Checks often so a signal is honoured within a fraction of a
/// second, and looks at the policy files once a second whatever the poll
/// interval.
pub fn next_event(
    shutdown: &AtomicBool,
    policy_changed: &mut dyn FnMut() -> bool,
    poll: Duration,
    notifications: &std::sync::mpsc::Receiver<webhook::Notification>,
    report_in: Option<Duration>,
) -> DaemonEvent {
    let tick = Duration::from_millis(100);
    let policy_every = Duration::from_secs(1);
    let mut waited = Duration::ZERO;
    let mut next_policy_check = Duration::ZERO;
    loop {
        if shutdown.load(Ordering::Relaxed) {
            return DaemonEvent::Shutdown;
        }
        if waited >= next_policy_check {
            next_policy_check += policy_every;
            if policy_changed() {
                return DaemonEvent::PolicyChanged;
            }
        }
        if report_in.is_some_and(|d| waited >= d) {
            return DaemonEvent::ReportDue;
        }
        if waited >= poll {
            return DaemonEvent::SyncDue;
        }
        // Wait for a push notification, at most one tick.
        if let Ok(n) = notifications.recv_timeout(tick) {
            return DaemonEvent::CalendarChanged(n);
        }
        waited += tick;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_changes_are_noticed_even_when_polling_fast() {
        let flag = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut calls = 0;
        let mut changed = || {
            calls += 1;
            calls == 2
        };
        // The first check sees no change, the sync comes due, and the next
        // wait notices the change before anything else.
        assert_eq!(
            next_event(&flag, &mut changed, Duration::from_millis(100), &rx, None),
            DaemonEvent::SyncDue
        );
        assert_eq!(
            next_event(&flag, &mut changed, Duration::from_millis(100), &rx, None),
            DaemonEvent::PolicyChanged
        );
        let n = webhook::Notification {
            source: "g".into(),
            member: "a@x".into(),
        };
        tx.send(n.clone()).unwrap();
        assert_eq!(
            next_event(&flag, &mut || false, Duration::from_secs(60), &rx, None),
            DaemonEvent::CalendarChanged(n)
        );
        assert_eq!(
            next_event(
                &flag,
                &mut || false,
                Duration::from_secs(60),
                &rx,
                Some(Duration::ZERO)
            ),
            DaemonEvent::ReportDue
        );
        flag.store(true, Ordering::Relaxed);
        assert_eq!(
            next_event(&flag, &mut || false, Duration::from_secs(60), &rx, None),
            DaemonEvent::Shutdown
        );
    }
}
