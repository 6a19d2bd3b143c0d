//! The daemon: syncs every configured source, screens new and changed
//! invites, acts, logs, and keeps watching until asked to stop.
//!
//! `screen` holds the pure rules for who owns a response and what to write;
//! `engine` does the I/O around them; `team` loads policies and keeps the
//! last good one when a file breaks.

pub mod engine;
pub mod screen;
pub mod team;

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

/// Wait for the next event: shutdown, a policy change, or the next sync.
/// Checks often so a signal is honoured within a fraction of a second.
pub fn next_event(
    shutdown: &AtomicBool,
    policy_changed: &mut dyn FnMut() -> bool,
    poll: Duration,
) -> DaemonEvent {
    let tick = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    loop {
        if shutdown.load(Ordering::Relaxed) {
            return DaemonEvent::Shutdown;
        }
        if waited >= poll {
            return DaemonEvent::SyncDue;
        }
        // Policy files are checked once a second: a stat per file is cheap.
        if waited.as_millis() % 1000 == 0 && !waited.is_zero() && policy_changed() {
            return DaemonEvent::PolicyChanged;
        }
        std::thread::sleep(tick);
        waited += tick;
    }
}
